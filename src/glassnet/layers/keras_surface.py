"""What Keras 3 users read off a layer besides ``get_weights``: ``weights``, ``trainable_weights``,
``non_trainable_weights`` (the layer's live arrays, Keras' lists) and ``compute_output_shape``
(Keras' batch shapes, around glassnet's ``output_shape`` of one sample). ``Layer`` inherits them,
and the state and dtype attributes of ``keras_state.KerasState`` (``variables``, ``path``, ...).
"""
import numpy as np

from .keras_state import KerasState


def _several(shapes):
    """Whether ``shapes`` is a list of shapes (a merge's, an attention's) rather than one shape."""
    return isinstance(shapes, (list, tuple)) and len(shapes) > 0 and \
        all(isinstance(s, (list, tuple)) for s in shapes)


class KerasSurface(KerasState):

    # Keras' quantization surface: None until ``quantize`` (layers/quantized.py) sets the
    # instance's own, with its ``quantization_config`` and quantized ``dtype_policy``
    quantization_mode = quantization_config = None

    @property
    def dtype_policy(self):
        """Keras' ``layer.dtype_policy``: ``<DTypePolicy "float32">`` (the layer's dtype, the global
        policy's before it has one); a quantized layer's ``<QuantizedDTypePolicy "int8_from_float32">``."""
        from .. import dtype_policies
        quantized = self.__dict__.get("_quantized_policy")
        if quantized is not None:
            return quantized
        return dtype_policies.get(None if self.dtype is None else np.dtype(self.dtype).name)

    def quantize(self, mode=None, type_check=True, config=None):
        """Keras' ``layer.quantize(mode, config=None)``: Dense and Embedding to "int8" or "int4",
        EinsumDense to "int8" (glassnet.layers.quantized); NotImplementedError for other layers, as Keras'."""
        from .quantized import quantize_layer
        quantize_layer(self, mode, config, type_check)

    @property
    def weights(self):
        """Every weight, live (the arrays the layer computes with, not copies), in Keras' order
        and ``get_weights``' : ``params`` (trained: Dense's ``[kernel (in, units), bias (units,)]``),
        then ``state`` (BatchNormalization's moving statistics, ``add_weight(trainable=False)``).
        ``[]`` before the layer is built. Inside a model a parameter lives in the model's flat
        buffer, and these are views into it: ask again after ``compile`` or ``fit`` rather than
        keep the list (freezing or unfreezing a layer makes the model lay the buffer out anew)."""
        return [a for _, a in self._weight_items()]

    @property
    def trainable_weights(self):
        """The weights training updates, live: the ``params`` while ``trainable`` (Keras reads the
        flag now, and so do a model's lists; its training takes it up at ``compile`` and ``fit``); ``[]`` for a frozen layer."""
        return list(self.params.values()) if self.trainable else []

    @property
    def non_trainable_weights(self):
        """The weights training never updates, live: the ``state`` (moving statistics, adapted
        values, ``add_weight(trainable=False)``), and every weight of a frozen layer (``trainable``
        False: Keras' list is then ``weights``)."""
        if not self.trainable:
            return self.weights
        state = getattr(self, "state", None)
        return list(state.values()) if isinstance(state, dict) else []

    def compute_output_shape(self, input_shape, *more_shapes):
        """The output's shape for an input of ``input_shape``, batch axis first (Keras' form:
        ``Dense(3).compute_output_shape((None, 5))`` -> ``(None, 3)``; the batch size given, None
        or a number, is the one returned). A layer of several inputs takes a list of shapes
        (``Concatenate``, ``Attention``) or, as Keras' ``MultiHeadAttention``, them one after the
        other (query, value, key). With ``return_state=True`` a recurrent layer gives Keras' tuple
        ``(output, *states)``. Nothing is built or changed; a built layer checks that it takes
        the input. ``output_shape`` is the same without the batch axis."""
        from .base import _sample_shape, sized_axes_needed      # (base imports this module)
        caller = f"{self.describe()}: compute_output_shape"
        shapes = [input_shape, *more_shapes] if more_shapes else input_shape
        several = _several(shapes)
        listed = list(shapes) if several else [shapes]
        for shape in listed:
            if not isinstance(shape, (tuple, list)) or len(shape) < 2:
                raise ValueError(f"{caller}: expected a shape with the batch axis first, (None, *sample) (a list "
                                 f"of them for a layer of several inputs), got {shape!r:.80}")
            batch = shape[0]
            if batch is not None and (isinstance(batch, (bool, np.bool_)) or not isinstance(batch, (int, np.integer))
                                      or batch < 1):
                raise ValueError(f"{caller}: the batch axis (first) must be None or a positive integer, got "
                                 f"{batch!r:.40} in {shape!r:.80}")
        samples = [_sample_shape(tuple(shape[1:]), caller, input_dim_hint=False, argument="input_shape")
                   for shape in listed]
        merges = getattr(self, "merges", False)
        if several != bool(merges):
            raise ValueError(f"{caller}: takes " + (f"a list of its inputs' shapes, got one: {shapes!r:.80}" if merges
                                                    else f"one input's shape, got {len(listed)} shapes"))
        given = samples if merges else samples[0]
        batch = listed[0][0]
        batch = None if batch is None else int(batch)
        # output_shape may note the shape it was asked about (ConvLSTM's states follow it): put
        # every attribute back, so that asking changes nothing
        before = dict(vars(self))
        try:
            if self.built:
                self.check_input_shape(given)
            with sized_axes_needed(self, () if merges else given):
                out = (batch, *self.output_shape(given))
                states = self.state_shapes_for(given) if getattr(self, "return_state", False) and \
                    hasattr(self, "state_shapes_for") else None
        finally:
            for key in [key for key in vars(self) if key not in before]:
                del vars(self)[key]
            vars(self).update(before)
        if states is None:
            return out
        return (out, *((batch, *state) for state in states))
