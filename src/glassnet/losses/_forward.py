"""One forward pass of a loss of your own recorded by a GradientTape (glassnet.losses.taped): the
value a training step logs and the record its gradient is taken from, so that ``call`` runs once a
step; and the check that a later call is that same call (``fits``)."""
import numpy as np


class _Forward:
    """One recorded forward pass of a taped loss: ``call``'s ``values`` on ``watched`` (``y_pred``,
    which the ``tape`` watches), their reduced ``value`` and its derivative ``seed``, and copies of
    the arrays, which ``fits`` compares a later call's with."""

    def __init__(self, loss, y_pred, y_true, sample_weight):
        from .._tape_values import _paused, _wrap, watched_node
        from ..tape import GradientTape
        # the tape watches an array by identity: y_pred itself, so that call computes on the array as
        # it lies (a model of several outputs gives column views, whose sums round as plain calls' do)
        self.watched = y_pred if type(y_pred) is np.ndarray else np.array(y_pred, copy=True)
        # what fits compares later calls with, by value (a buffer may be refilled in place)
        self.y_pred, self.y_true = np.array(y_pred, copy=True), np.array(y_true, copy=True)
        # and the loss's settings, by identity: loss.delta = 2.0 after a call is another call
        self.settings = self._settings(loss)
        self.sample_weight = None if sample_weight is None else np.array(sample_weight, copy=True)
        self.spent = False          # True once the tape gave its gradient (the value is kept)
        # outer tapes paused: this record is the loss's own, never part of a step of yours being recorded
        with _paused(), GradientTape() as self.tape:
            self.tape.watch(self.watched)
            # the watched array as a recorded value, so that Python operators on it are recorded too
            self.values = loss._values(_wrap(self.watched, watched_node(self.watched)), y_true)
        self.value, self.seed = loss._reduce(loss._checked(np.asarray(self.values)), sample_weight)

    def spend(self):
        """The tape has given its gradient: let go of it and of the recorded values."""
        self.spent, self.tape, self.values, self.watched = True, None, None, None

    @staticmethod
    def _settings(loss):
        return [(key, value) for key, value in vars(loss).items() if key not in ("_forward", "_record_values")]

    def fits(self, loss, y_pred, y_true, sample_weight):
        """Whether ``loss`` asked of ``(y_pred, y_true, sample_weight)`` is this record's call."""
        if (sample_weight is None) != (self.sample_weight is None):
            return False
        settings = self._settings(loss)
        if len(settings) != len(self.settings) or any(a[0] != b[0] or a[1] is not b[1]
                                                      for a, b in zip(settings, self.settings)):
            return False
        pairs = [(self.y_pred, y_pred), (self.y_true, y_true)]
        if sample_weight is not None:
            pairs.append((self.sample_weight, sample_weight))
        for kept, given in pairs:
            given = np.asarray(given)
            if kept.shape != given.shape or kept.dtype != given.dtype or not np.array_equal(kept, given):
                return False
        return True
