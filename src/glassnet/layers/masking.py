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
from contextlib import contextmanager

import numpy as np

from .. import backend
from .._warnings import warn
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
    being added; True: every layer, those the Sequential constructor joined) that neither uses nor
    passes on a mask it receives gets Keras' warning (a
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
                _refuse_within(layer, maker, within)
                readers.append(layer)
            # (once per layer: a chain drawn on an Input warned in Keras' words already, glassnet._block_masks)
            if (warn_for is True or layer is warn_for) and not passes and not layer.makes_mask and \
                    not layer.uses_mask(within) and not layer.__dict__.get("_warned_mask_dropped"):
                layer.__dict__["_warned_mask_dropped"] = True
                what = ("does not support masking" if not within or not layer.supports_masking else
                        "cannot hand on a mask within the steps past the layer it wraps")
                warn(f"{layer.describe()} receives the mask that {maker.describe()} makes, but {what}: "
                     f"the layers after it will not see the mask, and it treats the masked steps as "
                     f"data (as Keras does)")
        if layer.makes_mask or (maker is not None and not passes):
            if readers:
                plan.append((maker, tuple(readers)))
            maker, readers = (layer if layer.makes_mask else None), []
    if maker is not None and output_reader is not None:
        readers.append(output_reader)
    if readers:
        plan.append((maker, tuple(readers)))
    return tuple(plan)


def _refuse_within(layer, maker, within):
    """A reader of (batch, steps) masks alone (``steps_mask_only``: a ConvLSTM, which takes frames
    with axes of their own) refuses, when the model is built, a mask with axes within the steps
    (an Embedding's of ids (steps, length)), which its forward could not take."""
    if within and getattr(layer, "steps_mask_only", False):
        raise ValueError(f"{layer.describe()}: receives the mask that {maker.describe()} makes, which has axes "
                         f"within the steps (batch, steps, ...); it reads masks of the steps (batch, steps) only: "
                         f"place a layer that ends the mask between them, or give it ids of shape (steps,)")


def plan_graph_masks(calls, graph, output_calls, output_reader=None, shared=frozenset()):
    """``plan_masks`` for a functional Model: ``calls`` (each call's layer, in order), ``graph``
    (each call's sources: earlier calls' indices, negative for the model's inputs) and
    ``output_calls`` (the calls making the outputs). A mask goes along the graph's edges: from its
    maker to each layer reading the maker's output, on past those that pass masks, as in a chain.

    Layers of several inputs follow Keras' ``compute_mask`` (their ``mask_rule``): a merge's mask
    is the OR of its inputs' masks, none when one input has none (Concatenate's along the steps:
    the masks joined); Dot's output has none; an attention layer passes the query's on. The layers
    whose values depend on the masks (``reads_input_masks``: the attention layers, and Maximum,
    Minimum and Multiply, which leave masked steps out as Keras' do) are handed each input's mask
    (``InputMaskSlots``). Masks from different makers meeting at a merge are combined during
    the pass by a ``MaskCombiner``, which then hands the merge's mask on as a maker does.

    Refused by name: a shared layer making a mask that is read or reading one (masks are handed on
    layer by layer: two calls would take each other's; a shared layer passing one on is fine),
    and the merges whose masks Keras' rules do not make (Concatenate of masked samples that are
    not (steps, features); a mask with axes within the steps)."""
    maker_of, readers = [None] * len(calls), {}         # the call whose mask is on each call's output
    combiners = {}                                      # call -> its MaskCombiner
    for k, (layer, parents) in enumerate(zip(calls, graph)):
        if getattr(layer, "merges", False):
            incoming = [maker_of[p] if p >= 0 else None for p in parents]
            if any(m is not None for m in incoming):
                maker_of[k] = _plan_merge(k, layer, incoming, calls, readers, combiners, shared)
        else:
            maker = maker_of[parents[0]] if parents[0] >= 0 else None
            if maker is not None:
                if layer.mask_refusal is not None:
                    raise ValueError(f"{layer.describe()}: receives the mask that {calls[maker].describe()} makes, "
                                     f"and {layer.mask_refusal}; place it where no mask reaches it")
                # a recurrent layer's call with initial_state (several inputs) does not read the mask:
                # Keras hands it to calls of one tensor alone; its output still carries it, as Keras'
                if layer.reads_mask and len(parents) == 1:
                    source = _maker(maker, calls, combiners)
                    _refuse_within(layer, source, source.mask_within_steps())
                    # (a layer passing a mask on may be shared: masks go from makers to readers directly)
                    _refuse_shared(layer, _maker(maker, calls, combiners), shared)
                    readers.setdefault(maker, []).append(layer)
                maker_of[k] = maker if layer.passes_mask(_maker(maker, calls, combiners).mask_within_steps()) \
                    else None
        if layer.makes_mask:
            maker_of[k] = k
    reaching = {maker_of[k] for k in output_calls} - {None}
    if reaching and output_reader is not None:
        if any(id(_maker(maker, calls, combiners)) in shared for maker in reaching):
            raise NotImplementedError(f"{calls[min(reaching)].describe()}: is called more than once and its mask "
                                      f"reaches the output; give each call a layer of its own")
        if len(output_calls) > 1:
            # predict needs no mask at an output; a loss does: compile refuses, by this message
            output_reader.unscored = (f"{calls[min(reaching)].describe()}: its mask reaches an output of a model of "
                                      f"several outputs, whose losses cannot score real steps alone yet")
        else:
            readers.setdefault(reaching.pop(), []).append(output_reader)
    # a combiner whose mask nobody reads need not combine: its slots are dropped from the plan
    idle = [id(combiner) for k, combiner in combiners.items() if k not in readers]
    for k, combiner in combiners.items():
        if k in readers and combiner.shared_makers:
            raise _shared_refusal(combiner, combiner.shared_makers[0])
    plan = []
    for maker, found in readers.items():
        found = tuple(r for r in found if not (isinstance(r, InputMaskSlots) and id(r.owner) in idle))
        if found:
            plan.append((_maker(maker, calls, combiners), found))
    return tuple(plan)


def _maker(k, calls, combiners):
    """What hands on the mask of call ``k``: its combiner (one per call: a shared merge's calls
    each combine their own), or its layer."""
    return combiners.get(k) or calls[k]


def _refuse_shared(reader, maker, shared):
    if id(reader) in shared or id(maker) in shared:
        raise _shared_refusal(reader, maker)


def _shared_refusal(reader, maker):
    return NotImplementedError(f"{reader.describe()}: reads the mask {maker.describe()} makes, and a layer called "
                               f"more than once cannot make or read a mask that is read yet; give each call a "
                               f"layer of its own")


def _read_masks(owner, makers, incoming, readers):
    """``owner`` (a layer of several inputs, or a MaskCombiner) reads the mask of each of
    ``makers`` at the inputs that mask reaches (``incoming``: each input's maker)."""
    for m in makers:
        readers.setdefault(m, []).append(InputMaskSlots(owner, [i for i, mi in enumerate(incoming) if mi == m]))


def _plan_merge(k, layer, incoming, calls, readers, combiners, shared):
    """Plan call ``k`` of ``layer``, a layer of several inputs, whose inputs carry the masks of the
    calls ``incoming`` (None: no mask). Returns the call whose mask its output carries (None)."""
    makers = sorted({m for m in incoming if m is not None})
    rule = layer.mask_rule(incoming)
    # a merge that neither reads its inputs' masks nor keeps one (SetMask, whose mask is its
    # own: Keras' explicit mask= replacing the tensor's) leaves a mask within the steps unmerged
    for m in makers if layer.reads_input_masks or rule is not None else ():
        if _maker(m, calls, combiners).mask_within_steps():
            raise NotImplementedError(f"{layer.describe()}: receives the mask that {calls[m].describe()} makes, "
                                      f"which has axes within the steps; merging it is not supported")
    if layer.reads_input_masks:       # its values depend on the masks (attention; Keras' Maximum, Multiply)
        for m in makers:
            _refuse_shared(layer, _maker(m, calls, combiners), shared)
        _read_masks(layer, makers, incoming, readers)
    if rule is None or rule == "first":
        return None if rule is None else incoming[0]
    if rule == "or" and len(makers) == 1 and None not in incoming:
        return makers[0]                # the OR of one mask with itself: that mask, as it is
    combiner = combiners[k] = MaskCombiner(layer, incoming, rule, call=k)
    # the combiner reads each maker's mask: a shared maker would hand it on twice (refused once it is
    # known that the combined mask is read, in plan_graph_masks)
    combiner.shared_makers = [maker for maker in (_maker(m, calls, combiners) for m in makers) if id(maker) in shared]
    _read_masks(combiner, makers, incoming, readers)
    return k


class InputMaskSlots:
    """A reader of a mask for some inputs (``positions``) of a layer of several inputs: handed a
    mask during a pass, it gives it to ``owner`` (an attention layer, or a ``MaskCombiner``) for
    those inputs (``owner.receive_mask``). ``planned`` clears the owner's masks after the pass."""

    def __init__(self, owner, positions):
        self.owner, self.positions = owner, tuple(positions)

    @property
    def pending_mask(self):
        return None

    @pending_mask.setter
    def pending_mask(self, mask):
        if mask is None:
            self.owner.clear_masks()
        else:
            self.owner.receive_mask(self.positions, mask)


class MaskCombiner:
    """The mask of one call of a merge layer whose inputs bring masks from different makers:
    ``rule`` "or" (Keras' merges, Concatenate along the features) or "join" (Concatenate along
    the steps: the masks side by side, all real for an input without one). It reads its inputs'
    masks (``InputMaskSlots``) and, once it holds them all, hands the merge's mask to its own
    readers, as a maker does (``mask_readers``, set by ``planned``)."""
    mask_readers = ()
    shared_makers = ()          # makers called more than once: refused if the combined mask is read

    def __init__(self, layer, incoming, rule, call=None):
        # call: the index of the model's call it combines for (a merge called twice has one per
        # call; ONNX export writes each after its own call)
        self.layer, self.rule, self.call = layer, rule, call
        self.masked = [m is not None for m in incoming]
        self.masks = {}

    def describe(self):
        return self.layer.describe()

    def mask_within_steps(self):
        return False

    def clear_masks(self):
        self.masks = {}

    def receive_mask(self, positions, mask):
        for i in positions:
            self.masks[i] = mask
        if len(self.masks) < sum(self.masked):
            return
        masks, self.masks = [self.masks.get(i) for i in range(len(self.masked))], {}
        first = next(m for m in masks if m is not None)
        xp = backend.get_array_module(first)
        if self.rule == "or":
            combined = masks[0]
            for m in masks[1:]:
                combined = xp.logical_or(combined, m)
        else:
            n = first.shape[0]
            steps = [shape[0] for shape in self.layer.input_shape]
            combined = xp.concatenate([xp.ones((n, t), dtype=bool) if m is None else m
                                       for m, t in zip(masks, steps)], axis=1)
        hand_on(self, combined)


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
                if isinstance(reader, (Layer, InputMaskSlots)):
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
    return checked_mask(layer, mask, x, any_rank)


def checked_mask(layer, mask, x, any_rank=False, what="mask"):
    """``mask`` for ``layer``'s input ``x`` as a boolean array (batch, steps) (``any_rank``:
    (batch, steps, ...)); refuses, naming ``what``, a mask of another shape or one holding other
    values than booleans or 0 and 1."""
    xp = backend.get_array_module(x)
    mask = xp.asarray(mask)
    if mask.shape != x.shape[:max(mask.ndim if any_rank else 2, 2)]:
        expected = "(batch, steps, ...)" if any_rank else f"(batch, steps) = {tuple(x.shape[:2])}"
        raise ValueError(f"{layer.describe()}: {what} must have shape {expected} of the input {tuple(x.shape)}, "
                         f"got shape {mask.shape}")
    if mask.dtype != bool:
        if mask.dtype.kind not in "biuf" or ((mask != 0) & (mask != 1)).any():
            raise ValueError(f"{layer.describe()}: {what} must hold booleans (or 0 and 1): True where a step is "
                             f"real, got {mask.dtype} values")
        mask = mask != 0
    return mask


class OutputMask:
    """A model's own reader of the mask that reaches its output: the loss and the metrics score
    the real steps alone (``glassnet.scoring``). ``pending_mask`` is the last batch's.
    ``unscored``: why a mask reaching an output cannot be scored (an output of several), which
    ``compile`` raises; such a model still predicts."""

    pending_mask = None
    unscored = None


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
    built_when_made = True      # (as Keras': see Layer.built_when_made)

    makes_mask = True
    supports_masking = True
    stacks_lists = True          # called alone on a list of arrays: one array, as Keras' (layers/base.py)

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
        """(batch, steps) booleans: True where a step has some feature other than ``mask_value``.
        None on a symbolic tensor: in a drawn model the mask travels on its own (see Embedding's)."""
        from .symbolic import is_symbolic
        if is_symbolic(x):
            return None
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
