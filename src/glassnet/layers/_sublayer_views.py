"""Keras 3.15's sub-layers of the built-in layers whose weights glassnet's layer holds itself:
``mha.query_dense``, ``.key_dense``, ``.value_dense``, ``.output_dense`` (Keras' EinsumDense
layers ``query``, ``key``, ``value``, ``attention_output`` inside its MultiHeadAttention; its
GroupQueryAttention keeps them as ``_query_dense``, ...), as ``SublayerView`` objects (the
properties that give them: glassnet.layers._keras_attributes' ``KERAS_SUBLAYERS``): their
``kernel`` and ``bias`` are the ``gn.Variable`` views of glassnet.layers._keras_attributes onto
the layer's live arrays, under Keras' paths (``"mha/query/kernel"``). Nothing is copied.

The wrappers' layers (``TimeDistributed.layer``, ``Bidirectional.forward_layer``) are glassnet
layers already (glassnet.layers.wrappers), and an ``RNN``'s cell reads its weights from the layer
the RNN made of it (glassnet.layers.rnn): neither needs a view.
"""

class SublayerView:
    """Keras' sub-layer ``name`` of ``layer`` (an EinsumDense of MultiHeadAttention's): ``kernel``
    and ``bias`` (``gn.Variable`` views onto ``layer``'s weights; ``bias`` None without one, as
    Keras'), ``name``, ``path``, ``weights`` (and Keras' other lists of them), ``get_weights()``,
    ``set_weights(weights)`` (in place), ``count_params()``, ``built``, ``trainable`` and
    ``dtype`` (the layer's). Not a layer: it cannot be called, and ``trainable`` cannot be set
    (glassnet freezes whole layers)."""

    def __init__(self, layer, name):
        self._layer, self._name = layer, name

    def _read(self, weight):
        from ._keras_attributes import _weight
        return _weight(self._layer, type(self._layer).__name__, weight, f"{self._name}/{weight}")

    @property
    def kernel(self):
        """The kernel, a view: MultiHeadAttention's ``query`` (query features, heads, key_dim)."""
        return self._read("kernel")

    @property
    def bias(self):
        """The bias, a view; None where the layer was made with ``use_bias=False``."""
        return self._read("bias")

    @property
    def name(self):
        return self._name

    @property
    def path(self):
        """Keras' path of the sub-layer: the layer's path, then its name (``"mha/query"``)."""
        from ..variables import layer_path
        return "/".join([*layer_path(self._layer), self._name])

    @property
    def built(self):
        return bool(self._layer.built)

    @property
    def trainable(self):
        return bool(self._layer.trainable)

    @trainable.setter
    def trainable(self, value):
        raise TypeError(f"{self.path}: trainable: glassnet freezes whole layers: set "
                        f"{type(self._layer).__name__}.trainable (layer.trainable = False)")

    @property
    def dtype(self):
        """The dtype's name, ``"float32"``, as Keras gives it."""
        kernel = self.kernel
        return kernel.dtype if kernel is not None else None

    @property
    def weights(self):
        """``[kernel, bias]`` (no bias without one), views: Keras' order."""
        return [w for w in (self.kernel, self.bias) if w is not None]

    variables = trainable_variables = weights

    @property
    def trainable_weights(self):
        return self.weights if self.trainable else []

    @property
    def non_trainable_weights(self):
        return [] if self.trainable else self.weights

    non_trainable_variables = non_trainable_weights

    def get_weights(self):
        """Copies of ``weights``' values."""
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights):
        """Write ``weights`` (a list, ``get_weights``' order and shapes) in place; refused whole,
        before any write, on another count or shape."""
        mine = self.weights
        if not isinstance(weights, (list, tuple)) or len(weights) != len(mine):
            raise ValueError(f"{self.path}: set_weights: expected a list of {len(mine)} arrays (kernel"
                             f"{', bias' if len(mine) == 2 else ''}), got {weights!r:.80}")
        import numpy as np
        for w, value in zip(mine, weights):
            if np.shape(value) != w.shape:
                raise ValueError(f"{w.path}: set_weights: expected shape {w.shape}, got {np.shape(value)}")
        for w, value in zip(mine, weights):
            w.assign(value)

    def count_params(self):
        import math
        return sum(math.prod(w.shape) for w in self.weights)

    def __repr__(self):
        return f"<EinsumDense view {self._name!r} of {self._layer.name!r}>"


__all__ = ["SublayerView"]
