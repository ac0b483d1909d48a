"""``BackwardOutput``: the second output of ``Bidirectional(layer, merge_mode=None)`` in a
functional Model.

Keras' ``merge_mode=None`` returns the two readers' outputs unmerged, ``(forward, backward)`` (then
the states, with ``return_state``). A call in glassnet's graph has one output (layers/readers.py),
so the wrapper's call gives the forward reader's output and a ``BackwardOutput`` call, reading it,
gives the backward reader's: with ``return_sequences`` flipped into the sequence's order, as
Keras flips it. Its backward hands the gradient to the wrapper, which runs its backward reader
back from it.
"""
from .readers import CallReader


class BackwardOutput(CallReader):
    """The backward reader's output of a ``Bidirectional(merge_mode=None)`` call in a functional
    Model: ``ahead, behind = Bidirectional(LSTM(8), merge_mode=None)(x)`` makes one, called on the
    wrapper's output (``ahead``), giving ``behind``.

    Shapes: reads the wrapper's output (batch, units) or (batch, steps, units) -> the same shape,
    with the backward reader's units.
    """
    reads = "the backward reader's output of a Bidirectional called with merge_mode=None"
    returns = "its backward reader's output"
    index = -1          # before the states (LastState's 0, 1, ...): the place of Keras' second output

    def bind_call(self, parent):
        source = getattr(parent, "layer", parent)
        if type(source).__name__ != "Bidirectional" or source.merge_mode is not None:
            raise ValueError(f"{self.describe()}: reads the output of a Bidirectional with merge_mode=None, got "
                             f"{source.describe() if hasattr(source, 'describe') else source!r:.80}")
        self._bound = (source,)

    def output_shape(self, input_shape):
        # the forward reader's shape, but for the backward reader's units (a backward_layer of its own)
        # (known before the wrapper is built: its units or filters; channels first, the two agree on it)
        source = self.source
        reader = None if source is None or not source.own_backward_layer else source.backward_layer
        if reader is None or getattr(reader, "data_format", None) == "channels_first":
            return tuple(input_shape)
        return (*input_shape[:-1], getattr(reader, "units", None) or reader.filters)

    def passes_mask(self, within_steps):
        """Keras' unmerged wrapper returning sequences gives both outputs its mask
        (``compute_mask``: ``[mask, mask]``, the backward output back in the steps' order), so a
        reader after ``behind`` skips the masked steps as one after ``ahead`` does."""
        source = self.source
        return bool(source is not None and source.return_sequences)

    def _has_values(self, source):
        return source.unmerged_behind is not None

    def _values(self, source):
        return source.unmerged_behind

    def _hand_back(self, source, grad_output):
        given = source._behind_grad
        source._behind_grad = grad_output if given is None else given + grad_output

