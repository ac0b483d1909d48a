"""Bidirectional: a recurrent layer read both ways, Keras' wrapper."""
from .. import backend
from .base import LAYERS, Layer
from .recurrent import _Recurrent

MERGE_MODES = ("concat", "sum", "mul", "ave")


class Bidirectional(Layer):
    """Run a recurrent layer over the sequence from its start and a copy of it from its end, and
    merge the two outputs (Keras' ``Bidirectional``): every step's output then knows what comes
    after it too. ``Bidirectional(LSTM(32))`` -> (batch, 64).

    Parameters
    ----------
    layer : SimpleRNN, LSTM or GRU
        The forward reader (``go_backwards=False``); the backward one is a copy of its settings
        with ``go_backwards=True``, with weights of its own. With ``return_sequences`` the backward outputs are put
        back in the sequence's order before merging, as Keras does.
    merge_mode : "concat" (default), "sum", "mul" or "ave"
        How the two outputs become one: side by side on the last axis (twice the units), or
        element by element. Keras' ``None`` (two outputs) is refused: a Sequential passes one array.

    The weights are the two layers', forward then backward (Keras' order):
    ``forward_kernel``, ``forward_recurrent_kernel``, ``forward_bias``, ``backward_kernel``, ...
    The wrapped layers live in ``forward_layer`` and ``backward_layer``, reading the wrapper's
    weights; their dropout draws come from the wrapper's generator (the model's seed).

    Example
    -------
    >>> import numpy as np
    >>> from glassnet.layers import LSTM
    >>> Bidirectional(LSTM(4), seed=0)(np.ones((2, 5, 3))).shape
    (2, 8)
    """

    # its inner layers' weights are its own params (see _link): a model may hold it
    wraps_layers = True

    def __init__(self, layer, merge_mode="concat", backward_layer=None, **kwargs):
        if isinstance(layer, dict):                      # from a config: {"class_name", "config"}
            layer = _from_entry(layer)
        if not isinstance(layer, _Recurrent):
            raise TypeError(f"Bidirectional: layer must be a SimpleRNN, LSTM or GRU, got {layer!r:.80}")
        if layer.built:
            raise ValueError("Bidirectional: give it a layer that is not built yet (the wrapper builds both "
                             "directions with weights of their own)")
        if layer.activity_regularizer is not None:
            raise ValueError("Bidirectional: the wrapped layer's activity_regularizer would never be applied; "
                             "give it to the Bidirectional layer instead")
        if layer.go_backwards:              # Keras 3.15 fails on it too
            raise ValueError("Bidirectional: wrap a layer that reads forwards (go_backwards=False); the wrapper "
                             "adds the copy that reads from the end")
        if backward_layer is not None:
            raise ValueError("Bidirectional: backward_layer is not supported; the backward reader is a copy of "
                             "layer's settings reading from the end")
        if merge_mode not in MERGE_MODES:
            raise ValueError(f"Bidirectional: merge_mode must be one of {list(MERGE_MODES)}, got {merge_mode!r:.40} "
                             f"(Keras' None returns two arrays, which a Sequential cannot pass on)")
        if layer.input_shape is not None and kwargs.get("input_shape") is None and kwargs.get("input_dim") is None:
            kwargs["input_shape"] = layer.input_shape          # LSTM(32, input_shape=...) inside: the wrapper's
        super().__init__(**kwargs)
        self.merge_mode = merge_mode
        config = layer.get_config()
        config.pop("input_shape", None)
        name = config.pop("name", None) or type(layer).__name__.lower()
        self.forward_layer = type(layer).from_config({**config, "name": f"forward_{name}"})
        self.backward_layer = type(layer).from_config({**config, "name": f"backward_{name}", "go_backwards": True})
        self.return_sequences = layer.return_sequences

    def _directions(self):
        return (("forward_", self.forward_layer), ("backward_", self.backward_layer))

    def build(self, input_shape):
        generator = self._generator()
        for prefix, inner in self._directions():
            inner.dtype, inner.rng = self.dtype, generator    # the model's seed draws both directions' weights
            inner.build(input_shape)
            for key in inner.params:
                self.params[prefix + key], self.grads[prefix + key] = inner.params[key], inner.grads[key]
            if inner.regularizers:
                self.regularizers = {**self.regularizers, **{prefix + k: r for k, r in inner.regularizers.items()}}
            if inner.constraints:
                self.constraints = {**self.constraints, **{prefix + k: c for k, c in inner.constraints.items()}}
        super().build(input_shape)

    def _link(self):
        """Point the inner layers at the wrapper's weights and gradients, which a model moves into
        its flat buffers, and at its generator, which the model seeds and saves."""
        for prefix, inner in self._directions():
            for key in inner.params:
                inner.params[key], inner.grads[key] = self.params[prefix + key], self.grads[prefix + key]
            inner.rng, inner.needs_input_gradient = self._generator(), self.needs_input_gradient

    def output_shape(self, input_shape):
        shape = self.forward_layer.output_shape(input_shape)
        return (*shape[:-1], 2 * shape[-1]) if self.merge_mode == "concat" else shape

    def numbers_per_sample(self, input_shape):
        return 2 * self.forward_layer.numbers_per_sample(input_shape)

    def matmul_flops(self, batch_size):
        return self.forward_layer.matmul_flops(batch_size)

    def forward(self, x, training=False):
        self._link()
        xp = backend.get_array_module(x)
        ahead = self.forward_layer.forward(x, training)
        behind = self.backward_layer.forward(x, training)
        if self.return_sequences:           # the backward states in the sequence's order
            behind = behind[:, ::-1]
        self._outputs = (ahead, behind)
        if self.merge_mode == "concat":
            return xp.concatenate([ahead, behind], axis=-1)
        if self.merge_mode == "sum":
            return ahead + behind
        if self.merge_mode == "ave":
            return (ahead + behind) / 2
        return ahead * behind

    def backward(self, grad_output):
        self._link()
        units = self.forward_layer.units
        if self.merge_mode == "concat":
            grad_ahead, grad_behind = grad_output[..., :units], grad_output[..., units:]
        elif self.merge_mode == "sum":
            grad_ahead = grad_behind = grad_output
        elif self.merge_mode == "ave":
            grad_ahead = grad_behind = grad_output / 2
        else:
            ahead, behind = self._outputs
            grad_ahead, grad_behind = grad_output * behind, grad_output * ahead
        if self.return_sequences:
            grad_behind = grad_behind[:, ::-1]
        xp = backend.get_array_module(grad_output)
        grad_ahead = self.forward_layer.backward(xp.ascontiguousarray(grad_ahead))
        grad_behind = self.backward_layer.backward(xp.ascontiguousarray(grad_behind))
        if grad_ahead is None:
            return None
        return grad_ahead + grad_behind

    def get_config(self):
        config = self.forward_layer.get_config()
        config["name"] = config["name"].removeprefix("forward_")
        return {**super().get_config(), "layer": {"class_name": type(self.forward_layer).__name__, "config": config},
                "merge_mode": self.merge_mode}


def _from_entry(entry):
    """The recurrent layer a config's ``{"class_name", "config"}`` names (one of glassnet's)."""
    if not (isinstance(entry, dict) and set(entry) == {"class_name", "config"} and isinstance(entry["config"], dict)):
        raise ValueError(f"Bidirectional: layer must be a layer or {{'class_name': ..., 'config': {{...}}}}, "
                         f"got {entry!r:.100}")
    cls = LAYERS.get(entry["class_name"])
    if not (isinstance(cls, type) and issubclass(cls, _Recurrent)):
        raise ValueError(f"Bidirectional: layer's class_name must be SimpleRNN, LSTM or GRU, got "
                         f"{entry['class_name']!r:.60}")
    return cls.from_config(entry["config"])
