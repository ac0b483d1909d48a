"""A model's ``input_shape`` and ``output_shape`` in Keras' form: the batch axis first.

Keras 3.15 gives ``keras.Sequential([keras.Input((5, 3)), Dense(2)]).input_shape == (None, 5, 3)``
and ``output_shape == (None, 5, 2)``; a functional model of several inputs (outputs) gives a list
of such tuples, in the order of ``model.inputs`` (``outputs``), a dict's sorted by key as Keras
flattens it; a model not built yet has none (AttributeError). Code ported as written reads them
so (``keras.Input(shape=base.input_shape[1:])``, ``model.output_shape[1]``).

Inside glassnet a model keeps one sample's shapes, as its layers do (``layer.input_shape`` is a
sample's, the layer contract's): ``_sample_input_shape`` (the packed row of a model of several
inputs) and ``_sample_output_shape`` (the packed row of its outputs). The properties here only
add Keras' batch axis to the per-input and per-output shapes (``input_shapes``,
``output_shapes``, which stay one sample's); nothing in glassnet reads them.

>>> import glassnet as gn
>>> model = gn.Sequential([gn.Input((5, 3)), gn.layers.Dense(2)])
>>> model.input_shape, model.output_shape
((None, 5, 3), (None, 5, 2))
"""


def _batched(shapes, batch_sizes):
    """``[(5, 3)]`` -> ``(None, 5, 3)``; several -> a list of them (Keras' form). ``batch_sizes``:
    each one's first axis (None for any)."""
    batched = [(batch, *shape) for shape, batch in zip(shapes, batch_sizes)]
    return batched[0] if len(batched) == 1 else batched


class ModelShapesMixin:
    """``input_shape`` / ``output_shape`` of a built model, batch axis first (Keras 3.15's)."""

    _sample_input_shape = None      # one sample's input (the packed row with several inputs)
    _sample_output_shape = None     # one sample's output (the packed row with several outputs)
    _build_batch_size = None        # the batch size given to Sequential.build((32, 5)), kept as Keras'

    def _no_shape_yet(self, which):
        # Keras 3.15: AttributeError "Sequential model 'sequential' has no defined input shape yet."
        return AttributeError(
            f"{which}: model {self.name!r} has no defined {which.replace('_', ' ')} yet: it is known once the model "
            f"is built (an Input first, a first layer's input_shape=..., model.build((None, *sample_shape)), or "
            f"its first data)")

    @property
    def input_shape(self):
        """The input's shape with Keras' batch axis first, ``(None, *sample)`` (an Input's fixed
        ``batch_size`` in place of None, as Keras'): a tuple for one
        input, a list of tuples for several (in the order of ``inputs``). AttributeError while
        the model is not built (Keras')."""
        if not self.built or self._sample_input_shape is None:
            raise self._no_shape_yet("input_shape")
        shapes = self._public_input_samples()
        sizes = self._input_batch_sizes()
        return _batched(shapes, sizes if len(sizes) == len(shapes) else [None] * len(shapes))

    @property
    def output_shape(self):
        """The output's shape with Keras' batch axis first, ``(None, *sample)`` (the batch size
        every Input fixes, if they fix one, in place of None): a tuple for one
        output, a list of tuples for several (in the order of ``outputs``). AttributeError while
        the model is not built (Keras')."""
        if not self.built or self._sample_output_shape is None:
            raise self._no_shape_yet("output_shape")
        shapes = [tuple(shape) for shape in self.output_shapes]
        # the batch size the Inputs fix, when they all fix one (Keras carries it through the layers:
        # Input(batch_shape=(32, 10, 1)) of a stateful RNN gives an output_shape of (32, ...))
        sizes = set(self._input_batch_sizes())
        return _batched(shapes, [sizes.pop() if len(sizes) == 1 else None] * len(shapes))

    def _input_batch_sizes(self):
        """Each Input's fixed batch size (``Input((5,), batch_size=32)``, ``batch_shape=(32, 5)``),
        None for any: Keras' first axis of ``input_shape``. A functional Model's Inputs, a
        Sequential's Input given first (one built from a shape has none)."""
        inputs = self.__dict__.get("inputs")
        if inputs is None:
            declared = getattr(self, "_declared_input_layer", None)
            if declared is None:        # Sequential.build((32, 5)): Keras keeps that batch size
                return [self._build_batch_size]
            inputs = [declared]
        return [getattr(tensor, "batch_size", None) for tensor in inputs]

    def _public_input_samples(self):
        """Each input's sample shape as the user declared it: a text reader first (TextVectorization
        after ``Input((1,), dtype="string")``) takes the declared strings, not the ids it makes
        (``_sample_input_shape``, what the layers after it run on); without an Input, one string
        per sample, Keras' ``Input((1,), dtype="string")``."""
        if self._takes_text():
            return [tuple(self._declared_input) if self._declared_input is not None else (1,)]
        return [tuple(self._sample_input_shape)]
