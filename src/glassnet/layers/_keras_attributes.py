"""Keras 3.15's weight attributes of the built-in layers (``dense.kernel``, ``conv.kernel``,
``bn.moving_mean``, ``embedding.embeddings``, ``lstm.cell.kernel``), as ``WeightVariable`` views
onto the layer's ``params`` and ``state`` (glassnet.variables); and Keras' build shape, batch axis
first, read as one sample's.

``KERAS_ATTRIBUTES`` was generated from Keras 3.15 (tests/test_kvars.py generates it again and
compares): each of Keras' layer classes glassnet has, built, and every attribute of it (and of its
``cell``) holding a ``keras.Variable``, with that variable's path below the layer's name. The
weight an attribute names is found by that path, ``Layer.keras_weight_path``, so no second table
of glassnet's keys is kept. ``KERAS_SUBLAYERS`` names Keras' sub-layers whose weights glassnet's
layer holds itself (``mha.query_dense``: glassnet.layers._sublayer_views).
"""
from .base import drawing_kind

# class -> {attribute ("cell." for the RNN's cell): the variable's Keras path below the layer's name}
_KERNEL_BIAS = {"kernel": "kernel", "bias": "bias"}
_CELL = {"cell.kernel": "{cell}/kernel", "cell.recurrent_kernel": "{cell}/recurrent_kernel", "cell.bias": "{cell}/bias"}
_SEPARABLE = {"depthwise_kernel": "depthwise_kernel", "pointwise_kernel": "pointwise_kernel", "bias": "bias"}
_AFFINE = {"gamma": "gamma", "beta": "beta"}
KERAS_ATTRIBUTES = {
    **{name: _KERNEL_BIAS for name in ("Dense", "EinsumDense", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose",
                                       "Conv2DTranspose", "Conv3DTranspose", "DepthwiseConv1D", "DepthwiseConv2D")},
    "SeparableConv1D": _SEPARABLE, "SeparableConv2D": _SEPARABLE,
    **{name: {k: v.format(cell="conv_lstm_cell") for k, v in _CELL.items()}
       for name in ("ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D")},
    "SimpleRNN": {k: v.format(cell="simple_rnn_cell") for k, v in _CELL.items()},
    "GRU": {k: v.format(cell="gru_cell") for k, v in _CELL.items()},
    "LSTM": {k: v.format(cell="lstm_cell") for k, v in _CELL.items()},
    "Embedding": {"embeddings": "embeddings"}, "ReversibleEmbedding": {"embeddings": "embeddings"},
    "BatchNormalization": {**_AFFINE, "moving_mean": "moving_mean", "moving_variance": "moving_variance"},
    "LayerNormalization": _AFFINE, "GroupNormalization": _AFFINE,
    "RMSNormalization": {"scale": "scale"},
    "Normalization": {"adapt_mean": "mean", "adapt_variance": "variance", "count": "count"},
    "PReLU": {"alpha": "alpha"},
    "Attention": {"scale": "scale"}, "AdditiveAttention": {"scale": "scale"},
}
# Keras' sub-layers whose weights glassnet's layer holds itself: class -> {attribute: the sub-layer's
# name, its weights' path below the layer's} (glassnet.layers._sublayer_views); Keras' MultiHeadAttention
# has the properties and the attributes behind them, its GroupQueryAttention the latter only
_PROJECTIONS = {"query_dense": "query", "key_dense": "key", "value_dense": "value", "output_dense": "attention_output"}
# (and the gate's, Keras 3.15's _gate_dense, only on a layer made with use_gate=True)
KERAS_SUBLAYERS = {"MultiHeadAttention": {**_PROJECTIONS, **{"_" + name: sub for name, sub in _PROJECTIONS.items()},
                                          "_gate_dense": "gate"}}
# weights Keras keeps that glassnet's layer never has (an AttributeError saying so, not None)
_NEVER = {("Normalization", "count"): "glassnet's Normalization adapts without a running count"}


def install_weight_attributes(cls):
    """Keras' weight attributes of the table's row for ``cls`` (a built-in class of that name) as
    properties on it, which its subclasses inherit: ``Dense.kernel``, ``LSTM.cell``. Called when
    the class is made (Layer.__init_subclass__)."""
    row = KERAS_ATTRIBUTES.get(cls.__name__)
    for name in sorted({key.split(".")[0] for key in row or ()}):
        if name in vars(cls):
            raise TypeError(f"{cls.__name__}.{name}: Keras' weight attribute would replace what the class defines")
        setattr(cls, name, view_property(
            name, lambda layer, name=name: weight_attribute(layer, name), "weight attribute", f"{name}.assign(value)",
            f"Keras' ``{name}``: a ``gn.Variable`` view onto this layer's weight (None where the layer was made "
            f"without it; glassnet.layers._keras_attributes)"))


def install_sublayer_attributes(cls):
    """The sub-layer attributes of ``cls``'s row of ``KERAS_SUBLAYERS`` (``mha.query_dense``) as
    properties on it, which its subclasses (GroupedQueryAttention) inherit. Called when the class
    is made."""
    for name, sublayer in sorted((KERAS_SUBLAYERS.get(cls.__name__) or {}).items()):
        if name in vars(cls):
            raise TypeError(f"{cls.__name__}.{name}: Keras' sub-layer attribute would replace what the class defines")
        setattr(cls, name, view_property(
            name, lambda layer, sublayer=sublayer: _sublayer(layer, sublayer), "sub-layer",
            f"{name}.kernel.assign(value)", f"Keras' ``{name}``, the EinsumDense {sublayer!r}: a ``SublayerView`` "
                                            f"onto this layer's weights (glassnet.layers._sublayer_views)"))


def _sublayer(layer, name):
    from ._sublayer_views import SublayerView       # (imported on a first read: not at import glassnet)
    if name == "gate" and not layer.use_gate:       # Keras' layer has no _gate_dense then either
        raise AttributeError(f"{layer.describe()}: has no '_gate_dense': it was made without use_gate=True")
    return SublayerView(layer, name)


def view_property(name, read, what, change, doc):
    """A property ``name`` on a layer class that gives ``read(layer)``, a view onto the layer's
    weights (Keras' ``what``), and refuses an assignment, saying how to ``change`` the weight."""
    def refuse(layer, value):
        raise AttributeError(f"{layer.describe()}: {name} is Keras' {what}, a view onto the layer's weights: "
                             f"change them with layer.{change}")
    return property(read, refuse, doc=doc)


def _table_of(cls):
    """The built-in class ``cls`` is or derives from that has a row, and its row; (None, None)."""
    for base in cls.__mro__:
        if base.__name__ in KERAS_ATTRIBUTES and (base.__module__ or "").startswith("glassnet."):
            return base.__name__, KERAS_ATTRIBUTES[base.__name__]
    return None, None


def _no_attribute(layer, name):
    return AttributeError(f"{type(layer).__name__!r} object has no attribute {name!r}")


def weight_attribute(layer, name):
    """``layer.<name>`` for Keras' weight attribute ``name`` (Layer.__getattr__): a WeightVariable,
    the cell's view for ``"cell"``, None for a weight the layer was made without (Keras' too:
    ``Dense(use_bias=False).bias``); an AttributeError for any other name."""
    owner, row = _table_of(type(layer))
    if row is None:
        raise _no_attribute(layer, name)
    if name == "cell" and any(key.startswith("cell.") for key in row):
        return _CellView(layer, owner, {key[5:]: path for key, path in row.items() if key.startswith("cell.")})
    if name not in row:
        raise _no_attribute(layer, name)
    if "_lora" in layer.__dict__:        # LoRA on: Keras' kernel is the merged one (layers/lora.py)
        from .lora import merged_attribute
        merged = merged_attribute(layer, name)
        if merged is not None:
            return merged
    return _weight(layer, owner, name, row[name])


def _weight(layer, owner, name, path):
    from ..variables import WeightVariable
    if drawing_kind() == "draw":
        from .base import drawn_call
        raise TypeError(
            f"{layer.describe()}: .{name} read while {drawn_call()}.call is drawn; glassnet runs call once, so "
            f"a weight read there would be a constant that never trains (Keras reads it at every batch, as in "
            f"keras.io's PixelCNN `self.conv.kernel.assign(self.conv.kernel * self.mask)`). Call the layer "
            f"instead (self.conv(x)); change the weight in build (mask it once there: "
            f"self.conv.kernel.assign(self.conv.kernel * mask)) and keep it so while training with a "
            f"kernel_constraint, a gn.constraints.Constraint whose __call__(w) returns w * mask, set before "
            f"self.conv.build (docs/layers.md, Weights as attributes)")
    if (owner, name) in _NEVER:
        raise AttributeError(f"{layer.describe()}: has no {name!r}: {_NEVER[owner, name]}")
    if not layer.built:
        raise AttributeError(f"{layer.describe()}: you must build the layer before accessing `{name}` (as Keras "
                             f"says): call it on data, or build it, layer.build(input_shape)")
    keys = [*layer.params, *(getattr(layer, "state", None) or {})]
    key = next((key for key in keys if "/".join(layer.keras_weight_path(key)) == path), None)
    return None if key is None else WeightVariable(layer, key)


class _CellView:
    """Keras' ``rnn.cell`` (``lstm.cell.kernel``, ``.recurrent_kernel``, ``.bias``): glassnet's
    recurrent layers hold their weights themselves; this reads them under the cell's names."""

    def __init__(self, layer, owner, row):
        self._layer, self._owner, self._row = layer, owner, row

    @property
    def units(self):
        return self._layer.units

    def __getattr__(self, name):
        if name.startswith("_") or name not in self._row:
            raise AttributeError(f"{self._owner} cell: has no attribute {name!r} (glassnet gives the cell's "
                                 f"{', '.join(sorted(self._row))}, and units)")
        return _weight(self._layer, self._owner, name, self._row[name])

    @property
    def weights(self):
        return [w for w in (self.kernel, self.recurrent_kernel, self.bias) if w is not None]

    def __repr__(self):
        return f"<{self._owner} cell of {self._layer.name!r}: {', '.join(sorted(self._row))}>"


def _sample_rank(layer):
    """The number of axes of one sample ``layer`` takes, where its class fixes it (a convolution's,
    a recurrent layer's), else None."""
    from .conv import RankOneAsTwo
    from .recurrent import CarriesStates
    rank = getattr(layer, "rank", None)
    if isinstance(layer, RankOneAsTwo) and isinstance(rank, int):
        return rank + 1 + isinstance(layer, CarriesStates)     # ConvLSTM: the steps too
    if isinstance(layer, CarriesStates) and getattr(layer, "merges", False) is False:
        return 2                                        # (steps, features)
    return None


def _one_keras_shape(layer, shape, rank):
    """``shape`` without its batch axis when it is Keras' form: one axis more than a sample of
    ``rank`` axes, the first None or a positive int; where ``rank`` is not fixed, a leading None
    before sized axes only. Else as given: glassnet's one-sample form."""
    if callable(getattr(shape, "as_list", None)):       # TensorFlow's TensorShape
        shape = shape.as_list()
    if hasattr(shape, "tolist") and getattr(shape, "ndim", None) == 1:
        shape = shape.tolist()
    if not isinstance(shape, (tuple, list)) or len(shape) < 2:
        return shape
    first = shape[0]
    if rank is not None:
        batch = first is None or (isinstance(first, int) and not isinstance(first, bool) and first > 0)
        return tuple(shape[1:]) if len(shape) == rank + 1 and batch else shape
    # (None, None, 8): a sample of unknown height and width in glassnet's form (DepthToSpace's), or
    # Keras' batch of sequences: ambiguous, so glassnet's form as before
    return tuple(shape[1:]) if first is None and None not in shape[1:] else shape


def sample_shape_of_keras(layer, shape):
    """What a built-in layer's ``build`` takes for ``shape``, given by code of yours: Keras' form,
    batch axis first, ``(None, 8, 8, 1)``, becomes one sample's, ``(8, 8, 1)``, where that reading
    is unambiguous (see ``_one_keras_shape``); glassnet's one-sample form stays as it is. A layer
    of several inputs (``merges``) takes a list of such shapes."""
    if getattr(layer, "merges", False) and isinstance(shape, (list, tuple)) and shape \
            and all(isinstance(s, (list, tuple)) for s in shape):
        return [_one_keras_shape(layer, s, None) for s in shape]
    return _one_keras_shape(layer, shape, _sample_rank(layer))


__all__ = ["KERAS_ATTRIBUTES", "KERAS_SUBLAYERS", "weight_attribute", "sample_shape_of_keras"]
