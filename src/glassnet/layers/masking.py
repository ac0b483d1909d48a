"""Masks: which steps of a padded sequence are real (Keras' masking).

Sequences of different lengths are padded to one length (``utils.pad_sequences``). A mask, a
boolean array (batch, steps), says which steps are real: ``Embedding(mask_zero=True)`` makes one
from its input (``ids != 0``), ``Masking(mask_value)`` from its input's vectors (any value other
than ``mask_value``). The layers that read it skip the padding: a recurrent layer carries its
state unchanged across a masked step, ``GlobalAveragePooling1D`` averages the real steps only.
Between the layer that makes a mask and the one that reads it, the layers that treat each step on
its own (``supports_masking``: Dense, Dropout, the activations, the normalizations that look at
one step at a time) pass it on, as in Keras.

How the mask travels here: Keras attaches it to the tensor; a NumPy array has no room for it. So
``Sequential`` plans it when it builds (``plan_masks``): which layers after each mask's maker read
that mask. During each of the model's passes (``planned``), the maker hands the batch's mask to its
readers (``hand_on``), and each reader takes it in its forward (``take``). The plan is the model's:
a layer shared with another model hands nothing on in that model's passes, and outside a pass (a
layer called alone) nothing is handed on at all: a reader used alone takes ``mask=`` from its
caller. The model's loop itself never sees masks, and a model without them pays nothing.
"""
import os
import sys
import warnings
from contextlib import contextmanager

import numpy as np

from .. import backend
from .base import Layer


def plan_masks(layers, output_reader=None, warn_for=None):
    """Where masks go in a model's ``layers`` (in order): a tuple of ``(maker, readers)``, the
    layers after each maker that read its mask. ``output_reader`` (the model's ``OutputMask``)
    joins the readers of a mask that reaches the output.

    A mask goes on past the layers whose ``supports_masking`` is true (a recurrent layer with
    ``return_sequences``, a Dense; ``Layer.passes_mask``: TimeDistributed passes a mask of the
    steps, and one with axes within the steps only when the layer it wraps does); any other layer
    ends it. A layer that Keras would feed the mask
    to, but glassnet's does not read it, is refused (ValueError). ``warn_for``: a layer (the one
    being added) that neither uses nor passes on a mask it receives gets Keras' warning (a
    Flatten: the padding then counts as data, as in Keras; a TimeDistributed(Flatten()) given a
    mask within the steps, which Keras would hand on to fail later).
    """
    plan, maker, readers = [], None, []
    for layer in layers:
        if maker is not None:
            within = maker.mask_within_steps()
            passes = layer.passes_mask(within)
            if layer.mask_refusal is not None:
                raise ValueError(f"{layer.describe()}: receives the mask that {maker.describe()} makes, and "
                                 f"{layer.mask_refusal}; place it where no mask reaches it")
            if layer.reads_mask:
                readers.append(layer)
            if layer is warn_for and not passes and not layer.makes_mask and not layer.uses_mask(within):
                what = ("does not support masking" if not within or not layer.supports_masking else
                        "cannot hand on a mask within the steps past the layer it wraps")
                warnings.warn(f"{layer.describe()} receives the mask that {maker.describe()} makes, but {what}: "
                              f"the layers after it will not see the mask, and it treats the masked steps as "
                              f"data (as Keras does)", UserWarning, stacklevel=_outside_glassnet())
        if layer.makes_mask or (maker is not None and not passes):
            if readers:
                plan.append((maker, tuple(readers)))
            maker, readers = (layer if layer.makes_mask else None), []
    if maker is not None and output_reader is not None:
        readers.append(output_reader)
    if readers:
        plan.append((maker, tuple(readers)))
    return tuple(plan)


def plan_graph_masks(calls, graph, output_calls, output_reader=None, shared=frozenset()):
    """``plan_masks`` for a functional Model: ``calls`` (each call's layer, in order), ``graph``
    (each call's sources: earlier calls' indices, negative for the model's inputs) and
    ``output_calls`` (the calls making the outputs). A mask goes along the graph's edges: from its
    maker to each layer reading the maker's output, on past those that pass masks, as in a chain.
    Not supported yet, and refused by name: a merge layer reaching a mask (Keras combines the
    masks of its inputs), a layer reached by two masks, and a shared layer making a mask that is
    read or reading one (masks are handed on layer by layer: two calls would take each other's);
    a shared layer passing one on is fine."""
    maker_of, readers = [None] * len(calls), {}         # the call whose mask is on each call's output
    for k, (layer, parents) in enumerate(zip(calls, graph)):
        incoming = {maker_of[p] for p in parents if p >= 0} - {None}
        if incoming:
            if getattr(layer, "merges", False) or len(incoming) > 1:
                raise NotImplementedError(f"{layer.describe()}: receives the mask that {calls[min(incoming)].describe()} "
                                          f"makes; merging masked sequences is not supported yet (Keras combines "
                                          f"their masks): pool or read them (an LSTM) before they meet")
            maker = incoming.pop()
            if layer.mask_refusal is not None:
                raise ValueError(f"{layer.describe()}: receives the mask that {calls[maker].describe()} makes, and "
                                 f"{layer.mask_refusal}; place it where no mask reaches it")
            if layer.reads_mask:
                # (a layer passing a mask on may be shared: masks go from makers to readers directly)
                if id(layer) in shared or id(calls[maker]) in shared:
                    raise NotImplementedError(f"{layer.describe()}: reads the mask {calls[maker].describe()} makes, and "
                                              f"a layer called more than once cannot make or read a mask that is read "
                                              f"yet; give each call a layer of its own")
                readers.setdefault(maker, []).append(layer)
            maker_of[k] = maker if layer.passes_mask(calls[maker].mask_within_steps()) else None
        if layer.makes_mask:
            maker_of[k] = k
    reaching = {maker_of[k] for k in output_calls} - {None}
    if reaching and output_reader is not None:
        if any(id(calls[maker]) in shared for maker in reaching):
            raise NotImplementedError(f"{calls[min(reaching)].describe()}: is called more than once and its mask "
                                      f"reaches the output; give each call a layer of its own")
        if len(output_calls) > 1:
            raise NotImplementedError(f"{calls[min(reaching)].describe()}: its mask reaches an output of a model of "
                                      f"several outputs, whose losses cannot score real steps alone yet")
        readers.setdefault(reaching.pop(), []).append(output_reader)
    return tuple((calls[maker], tuple(found)) for maker, found in readers.items())


def _outside_glassnet():
    """The ``stacklevel`` of the first caller outside the glassnet package, for a warning that
    ``plan_masks`` gives: it names the user's line (``add``, ``Sequential([...])``), not glassnet's."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame, level = sys._getframe(2), 2           # 1 is plan_masks, which calls warn
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package + os.sep):
        frame, level = frame.f_back, level + 1
    return level


@contextmanager
def planned(plan):
    """One pass of a model with its ``plan`` (``plan_masks``) in force: the makers hand their
    masks to their readers during it; afterwards they hand on nothing, and the layers' unused
    masks are dropped (a mask belongs to the pass that made it). The model's ``OutputMask`` keeps
    the last one, for the loss and the metrics of that pass's output."""
    for maker, readers in plan:
        maker.mask_readers = readers
    try:
        yield
    finally:
        for maker, readers in plan:
            maker.mask_readers = ()
            for reader in readers:
                if isinstance(reader, Layer):
                    reader.pending_mask = None


def hand_on(layer, mask):
    """Called by a layer that makes masks in its forward: give the batch's ``mask`` to the layers
    that read it (none outside a model's pass, or when nothing after it reads it)."""
    for reader in layer.mask_readers:
        reader.pending_mask = mask


def take(layer, mask, x, any_rank=False):
    """The mask for ``layer``'s forward on ``x`` (batch, steps, ...): ``mask`` when its caller gave
    one, else the one handed on to it in this pass (used once), else None. Returns a boolean array
    (batch, steps) or None; refuses a mask of another shape. ``any_rank``: (batch, steps, ...) masks
    too (TimeDistributed, whose wrapped layer may read the steps within each step)."""
    pending, layer.pending_mask = layer.pending_mask, None
    if mask is None:
        mask = pending
        if mask is None:
            return None
    xp = backend.get_array_module(x)
    mask = xp.asarray(mask)
    if mask.shape != x.shape[:max(mask.ndim if any_rank else 2, 2)]:
        expected = "(batch, steps, ...)" if any_rank else f"(batch, steps) = {tuple(x.shape[:2])}"
        raise ValueError(f"{layer.describe()}: mask must have shape {expected} of the input {tuple(x.shape)}, "
                         f"got shape {mask.shape}")
    if mask.dtype != bool:
        if mask.dtype.kind not in "biuf" or ((mask != 0) & (mask != 1)).any():
            raise ValueError(f"{layer.describe()}: mask must hold booleans (or 0 and 1): True where a step is real, "
                             f"got {mask.dtype} values")
        mask = mask != 0
    return mask


class OutputMask:
    """A model's own reader of the mask that reaches its output: the loss and the metrics score
    the real steps alone (``glassnet.scoring``). ``pending_mask`` is the last batch's."""

    pending_mask = None


class Masking(Layer):
    """Mask the steps whose every feature equals ``mask_value`` (Keras' ``Masking``): the layers
    after it that read masks (SimpleRNN, LSTM, GRU, Bidirectional, GlobalAveragePooling1D) skip
    them. Its output is its input with those steps set to 0.

    Parameters
    ----------
    mask_value : float, default 0.0
        A step is padding when all its features equal it (a NaN feature never does).

    Shapes: (batch, steps, features) -> the same; the mask is (batch, steps).

    Example
    -------
    >>> import numpy as np
    >>> x = np.array([[[1.0, 2.0], [0.0, 0.0], [3.0, 0.0]]])
    >>> Masking().compute_mask(x).tolist()
    [[True, False, True]]
    """

    makes_mask = True
    supports_masking = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mask_value, bool) or not isinstance(mask_value, (int, float, np.integer, np.floating)):
            raise TypeError(f"Masking: mask_value must be a number, got {mask_value!r:.60}")
        self.mask_value = float(mask_value)

    def check_input_shape(self, sample_shape):
        if len(sample_shape) != 2:
            raise ValueError(f"{self.describe()}: expected sequences of shape (steps, features), got samples of "
                             f"shape {tuple(sample_shape)}")
        super().check_input_shape(sample_shape)

    def build(self, input_shape):
        self.check_input_shape(input_shape)
        super().build(input_shape)

    def compute_mask(self, x):
        """(batch, steps) booleans: True where a step has some feature other than ``mask_value``."""
        return (x != self.mask_value).any(axis=-1)

    def forward(self, x, training=False):
        if x.ndim != 3:
            self.check_input_shape(x.shape[1:])
        mask = self.compute_mask(x)
        hand_on(self, mask)
        self._keep = mask[:, :, None]
        # where, not a product: an infinite mask_value times 0 would be NaN (Keras' where too)
        return backend.get_array_module(x).where(self._keep, x, 0)

    def backward(self, grad_output):
        if not self.needs_input_gradient:
            return None
        return backend.get_array_module(grad_output).where(self._keep, grad_output, 0)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
