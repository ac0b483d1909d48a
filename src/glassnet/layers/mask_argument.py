"""Keras' ``mask=`` argument on a drawn call: ``LSTM(8)(x, mask=m)``, ``self.rnn(x, mask=mask)``
inside a block's ``call``, ``GlobalAveragePooling1D()(x, mask=ops.not_equal(ids, 0))``.

Keras 3.15 (``Layer.__call__``, keras/src/layers/layer.py) hands a layer whose ``call`` takes
``mask`` the mask given, and fills it from the tensor's own ``_keras_mask`` only where the argument
is None (so ``mask=None`` is the same as no argument); the output's mask is then
``compute_mask(x, mask given)``: the given mask goes on past a layer returning sequences. A layer
whose ``call`` takes no ``mask`` (Dense, Dropout, GlobalMaxPooling1D, Embedding) refuses it with a
TypeError.

A glassnet mask is no tensor: the layer making it hands it on, each pass, to the layers reading
it (layers/masking.py). So ``layer(x, mask=m)`` is drawn as the layer on ``SetMask()([x, m])``
(layers/block_masks.py): the one node whose output is x with m as its mask, whatever computed m
(an Input of booleans, ``ops.not_equal(ids, 0)``, a comparison, a cast, a block's ``CallMask``).
The layer reads m in place of x's own mask, as Keras' does, and passes it on where Keras' would.
"""
from .symbolic import InputLayer, is_symbolic, sample_shape_of


def drawn_with_mask(layer, x, mask):
    """The tensor ``layer`` is drawn on for ``layer(x, mask=mask)`` in a model being drawn: ``x``
    itself when ``mask`` is None (Keras then reads x's own mask), else ``SetMask()([x, mask])``.

    x : symbolic tensor of samples (steps, ...)
    mask : symbolic tensor of samples (steps,), booleans or 0 and 1 (True / 1: a real step)

    Refused, naming ``mask``: a layer that reads no mask (TypeError, as Keras' call taking no
    ``mask``), a mask that is no tensor of the model (an array: its batch would be fixed), a list
    of masks, a mask of other steps than x's or with axes within the steps (batch, steps, ...)
    (ValueError). A mask of another batch than x's is refused by the pass (``SetMask``)."""
    if mask is None:
        return x
    who = layer.describe()
    if not layer.reads_mask:
        raise TypeError(f"{who}: takes no mask= (nor does Keras' {type(layer).__name__}, whose call has no mask "
                        f"argument); the layers that read one: SimpleRNN, LSTM, GRU, RNN, ConvLSTM1D/2D/3D, "
                        f"Bidirectional, TimeDistributed, GlobalAveragePooling1D, layers of your own whose forward "
                        f"takes mask")
    if isinstance(mask, (list, tuple)):
        raise TypeError(f"{who}: mask= takes one tensor (batch, steps), got a {type(mask).__name__} of {len(mask)}")
    if not is_symbolic(mask):
        raise TypeError(f"{who}: in a model drawn, mask= takes one of its tensors (batch, steps): an Input of "
                        f"booleans, a comparison such as ops.not_equal(ids, 0), the mask a block's call got; "
                        f"got {type(mask).__name__}")
    if isinstance(mask, InputLayer) and mask.dtype == "string":
        raise TypeError(f"{who}: mask= takes booleans or 0 and 1 (batch, steps), got an Input of texts")
    steps, shape = sample_shape_of(x), tuple(sample_shape_of(mask))
    if len(steps) < 2:
        raise ValueError(f"{who}: mask= masks the steps of sequences (batch, steps, ...); the input has samples "
                         f"of shape {tuple(steps)}")
    if len(shape) != 1:
        raise ValueError(f"{who}: mask= must be a mask of the steps, (batch, steps) = (None, {steps[0]}); got "
                         f"samples of shape {shape} (masks with axes within the steps, (batch, steps, ...), are not "
                         f"supported as mask=)")
    if shape[0] is not None and steps[0] is not None and shape[0] != steps[0]:
        raise ValueError(f"{who}: mask= must have the input's steps, (batch, steps) = (None, {steps[0]}); got "
                         f"(None, {shape[0]})")
    from .block_masks import SetMask
    return SetMask()([x, mask])
