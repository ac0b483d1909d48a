"""Which models are inside one of their own steps (Keras' ``train_step``, ``test_step``): there
``self.train_on_batch`` is glassnet's compiled step on the batch, while a call from outside runs
``train_step`` itself, as Keras 3's ``train_on_batch`` does (glassnet._own_batch). No imports of
glassnet's own: training.py and inference.py read it, own_steps and _own_batch mark the steps."""
import contextlib

_STEPPING = set()       # id() of each model whose train_step or test_step is running now


@contextlib.contextmanager
def inside_step(model):
    """Mark ``model`` as running one of its own steps for the ``with`` block: its
    ``train_on_batch`` and ``test_on_batch`` then run glassnet's compiled step (what a step calls
    them for) instead of the model's own step, which would call itself again. Kept outside the
    model (by id, as the model's lock is) so that a copy or a pickle made inside a step is
    unmarked; nested use leaves the mark to the outermost block."""
    outer = id(model) in _STEPPING
    _STEPPING.add(id(model))
    try:
        yield
    finally:
        if not outer:
            _STEPPING.discard(id(model))


def in_own_step(model):
    """Whether ``model`` is inside one of its own steps (``inside_step``)."""
    return id(model) in _STEPPING
