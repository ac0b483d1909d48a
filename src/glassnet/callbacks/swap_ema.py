"""SwapEMAWeights: evaluate (and, on request, checkpoint) with the optimizer's moving average of
the weights, as Keras' callback does."""
from .. import backend
from .._validation import check_flag
from .base import Callback


class SwapEMAWeights(Callback):
    """Put the optimizer's moving average of the weights (``use_ema=True``: Polyak averaging) in
    the model while it is evaluated or predicts, and the trained weights back after (Keras 3's
    callback). ``fit``'s validation, and ``evaluate``/``predict`` given this callback, then score
    the averaged weights that ``fit`` ends on.

    Parameters
    ----------
    swap_on_epoch : bool, default False
        Also swap at each epoch's end and back at the next one's beginning, so that the callbacks
        after this one in the list (``ModelCheckpoint``) see the averaged weights; ``fit`` still
        ends on the average (after the last epoch, or one a callback stopped training at).

    The swap is in place (no copy of the model is kept). Before the first update there is no
    average yet, and nothing is swapped. Unlike Keras 3.15, whose ``on_predict_end`` leaves the
    averaged weights in the model, ``predict`` puts the trained ones back.

    Example
    -------
    >>> model.compile(loss="mse", optimizer=gn.optimizers.SGD(use_ema=True))      # doctest: +SKIP
    >>> model.fit(X, y, validation_split=0.1, callbacks=[SwapEMAWeights()])       # doctest: +SKIP
    """

    logs_added = ()

    def __init__(self, swap_on_epoch=False):
        super().__init__()
        self.swap_on_epoch = check_flag(swap_on_epoch, "SwapEMAWeights: swap_on_epoch")
        self._ema_in_model = False

    def _swap(self):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None or not optimizer.use_ema:
            raise ValueError(f"SwapEMAWeights must be used with an optimizer of use_ema=True, got "
                             f"{type(optimizer).__name__} with use_ema={getattr(optimizer, 'use_ema', None)}")
        for param, average in self._averages():
            trained = backend.get_array_module(param).array(param)
            param[...] = average
            average[...] = trained
        self._ema_in_model = not self._ema_in_model
        # BackupAndRestore saves the trained weights, whatever the callbacks' order (backup.py)
        self.model._ema_swapped = self if self._ema_in_model else None

    def _on_error(self):
        # an error or Ctrl-C left fit, evaluate or predict with the average in the model
        if self._ema_in_model:
            self._swap()

    def on_train_begin(self, logs=None):
        self._on_error()            # (put back, had a call been left swapped)
        if not getattr(self.model.optimizer, "use_ema", False):
            self._swap()            # its refusal, before training

    def on_epoch_begin(self, epoch, logs=None):
        if self.swap_on_epoch and self._ema_in_model:
            self._swap()

    def on_epoch_end(self, epoch, logs=None):
        if self.swap_on_epoch and not self._ema_in_model:
            self._swap()

    def _before_finalize(self):
        # fit ends by setting the weights to the average; with the average in the model (swapped
        # at the last epoch's end) the average holds the trained weights: make it the average
        # again first (Keras' rule for the last epoch; here also when training stopped early)
        if self._ema_in_model:
            for param, average in self._averages():
                average[...] = param

    def _averages(self):
        """(trained weights, their average) for each of the model's parameter arrays that has an
        average (none before the first update: the weights are their own average then)."""
        slots = self.model.optimizer.slots
        return [(param, slots[key]["average"]) for key, param, _ in self.model._triples
                if "average" in slots.get(key, {})]

    def on_test_begin(self, logs=None):
        if not self._ema_in_model:
            self._swap()

    def on_test_end(self, logs=None):
        if self._ema_in_model:
            self._swap()

    on_predict_begin = on_test_begin
    on_predict_end = on_test_end
