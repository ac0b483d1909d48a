"""A Keras ``Layer`` subclass written with ``call`` (and no ``forward``): drawn as a ``glassnet.Model``
subclass is.

keras.io's custom layers are mostly blocks of layers and ops::

    class TransformerBlock(keras.layers.Layer):
        def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
            super().__init__()
            self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            ...
        def call(self, inputs):
            attn_output = self.att(inputs, inputs)
            ...

glassnet does not differentiate NumPy code: a ``Layer`` computes on arrays (``forward``) and says its
gradient itself (``backward``), which fit and a GradientTape (glassnet.tape) chain. A block of layers needs neither: its ``call``, run once on symbolic
tensors, draws its layers, Python operators (``TensorOp``) and ``glassnet.ops`` (``TensorFunction``)
into a graph whose nodes have their backward. That is what a subclass of ``glassnet.Model`` with a
``call`` is (graph.Model: ``_draw``, ``_call_symbolic``). So a class written ``(gn.Layer)`` that
defines ``call`` and no ``forward`` is made a subclass of ``CallLayer`` (a ``glassnet.Model``) when
the class statement runs (``Layer.__init_subclass__`` -> ``draw_as_model``): the same machinery,
in functional models, Sequentials (drawn lazily), other subclasses, nested; its layers are the
model's, trained, saved, counted, listed in Keras' order. ``issubclass(TransformerBlock, gn.Model)``
is then True, and ``issubclass(TransformerBlock, gn.Layer)`` False.

Weights of the block's own (``self.add_weight`` in its ``build``, used in ``call`` through ops or
operators: the guide's ``Linear``) are ``Model.add_weight``'s: handles the operator and ops nodes
read and train (glassnet._call_weights).

Masks as Keras hands them: ``call(self, inputs, mask=None)`` gets its input's mask and
``compute_mask(self, inputs, mask=None)`` gives the output's (glassnet._block_masks).
"""
from .graph import Model


# Keras 3.15's Layer.__init__ keywords besides name, dtype and trainable: refused by name if given
_KERAS_ONLY = ("autocast", "input_shape", "input_dim", "batch_size", "activity_regularizer")


class CallLayer(Model):
    """The base a ``glassnet.Layer`` subclass defining ``call`` and no ``forward`` takes instead of
    ``Layer`` (see the module docstring): a ``glassnet.Model`` drawn from its ``call``, made with
    Keras' ``Layer.__init__`` keywords, ``super().__init__(name=None, dtype=None, trainable=True)``
    (and glassnet's ``seed``).

    Its sample shapes follow ``Model``'s: ``call`` gets tensors of shape (batch, *sample shape).
    """

    def __init__(self, name=None, dtype=None, trainable=True, seed=None, **kwargs):
        unknown = sorted(kwargs)
        if unknown:
            keras = [key for key in unknown if key in _KERAS_ONLY]
            hint = (f" ({', '.join(keras)}: Keras' Layer takes them; a block drawn from call gets its shapes "
                    f"from what it is called on)" if keras else "")
            raise TypeError(f"{type(self).__name__}: Layer.__init__ got unexpected keyword argument(s) "
                            f"{unknown}; it takes name, dtype, trainable and seed{hint}")
        super().__init__(name=name, seed=seed, dtype=dtype)     # None: floatx (backend.resolve_dtype)
        # no dtype given: drawn on its own after its layers were built in a model of another dtype
        # (a float64 one), it takes theirs (_draw), as a Keras block computes in its layers' dtype
        self._dtype_from_layers = dtype is None
        if trainable is not True:
            self.trainable = trainable          # (checked there; kept for its layers once drawn)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "forward" in vars(cls):      # a layer on arrays made on a block: refused (glassnet._call_bases)
            from ._call_bases import refuse_forward_under_drawn
            refuse_forward_under_drawn(cls)

    def _draw(self, input_shape):
        if self._dtype_from_layers:
            from ._call_bases import layers_dtype
            self.dtype = layers_dtype(self._nested_layers, self.dtype)
        return super()._draw(input_shape)

    def get_config(self):
        """Keras' ``Layer.get_config``: ``{"name", "trainable", "dtype"}``, which a subclass extends
        with its constructor's arguments (``{**super().get_config(), "units": self.units}``) and
        ``from_config`` gives back to the constructor, ``cls(**config)``. (A model file holds the
        layers the block's call drew, not this: ``save`` and ``load_model`` need neither.)"""
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype.name}


def draw_as_model(cls, layer_base):
    """Make ``cls``, a class just made with ``layer_base`` (``glassnet.Layer``) among its bases,
    defining ``call`` and no ``forward``, a subclass of ``CallLayer`` in its place, and run the
    class hooks a subclass of ``Model`` runs (``Model.__init_subclass__``). Returns ``cls``."""
    cls.__bases__ = tuple(CallLayer if base is layer_base else base for base in cls.__bases__)
    super(cls, cls).__init_subclass__()
    return cls
