"""``Sequential.pop()`` of a block written with ``call``: the whole block goes, as in Keras.

Keras keeps a block (``class Block(keras.layers.Layer)`` with ``call``) as one layer of a Sequential,
so ``Sequential([Dense(4), Block()]).pop()`` returns the block and leaves ``[Dense(4)]``. glassnet
draws the block into the Sequential: its layers (and the operator and ops layers its ``call``
made) join the Sequential's, and its calls its graph (glassnet._lazy_blocks, ``Sequential._add_model``).
Popping its last layer alone would leave the block's other calls leading nowhere.

So each block joining a Sequential leaves a ``Mark`` there: the block, its summary record, where
its layers start, the layers it brought, and the Sequential's graph and add_loss terms before it
joined. While those layers are the Sequential's last, ``pop`` takes them all out, puts the graph
and the terms back as they were (the block's add_loss terms go with it, as Keras' do) and returns
the block, whose weights are then its layers' own arrays again. A model read from a file holds the
drawn layers and no marks: there ``pop`` removes one layer, as before (refused where that would
leave a call leading nowhere: a residual block's).
"""


class Mark:
    """A block that joined a Sequential (see the module docstring)."""
    __slots__ = ("block", "record", "start", "ids", "state", "terms")

    def __init__(self, block, record, start, ids, state, terms):
        self.block, self.record, self.start, self.ids, self.state, self.terms = block, record, start, ids, state, terms


def note(seq, block, record, start, state, terms):
    """``block`` joined ``seq``: its layers are ``seq.layers[start:]``; ``state`` and ``terms``,
    ``seq``'s graph state and add_loss terms before it joined."""
    ids = [id(layer) for layer in seq.layers[start:]]
    kept = [mark for mark in seq._block_marks if mark.start + len(mark.ids) <= start]
    seq._block_marks = [*kept, Mark(block, record, start, ids, state, terms)]


def last_block(seq):
    """The ``Mark`` of the block whose layers are ``seq``'s last ones, or None."""
    marks = seq._block_marks
    if not marks:
        return None
    mark = marks[-1]
    tail = seq.layers[mark.start:]
    return mark if mark.ids and [id(layer) for layer in tail] == mark.ids else None


def pop_block(seq, mark):
    """Take ``mark``'s block out of ``seq`` (its layers, calls, summary row and add_loss terms).
    Returns the popped layers, last first (``Sequential.pop`` detaches and rebuilds)."""
    popped = seq.layers[mark.start:]
    del seq.layers[mark.start:]
    seq._set_graph_state(mark.state)
    seq._loss_terms = mark.terms
    seq._nesting = [nested for nested in seq._nesting if nested is not mark.record]
    seq._block_marks = seq._block_marks[:-1]
    return popped[::-1]
