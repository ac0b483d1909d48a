"""``TerminateOnNaN``: end training, instead of raising, when it produces NaN or infinity."""
import numpy as np

from .base import Callback


class TerminateOnNaN(Callback):
    """Stop training when the loss (or a weight) becomes NaN or infinite: Keras' ``TerminateOnNaN``.

    Without it, ``fit`` raises ``NonFiniteError`` there, naming the layer where the non-finite values
    start. With it, ``fit`` prints Keras' line ``Batch {b}: Invalid loss, terminating training``
    (``b`` 0-based, as Keras counts), calls ``on_train_end`` and returns the ``History`` of the epochs
    it completed; the error is kept as ``callback.error`` (its ``epoch``, ``batch``, ``layer``,
    ``what`` and message). When the weights (an update that overflowed them) or a layer's values
    went non-finite with a finite loss, the line says "Invalid weights" or "Invalid values".
    Keras' History also holds the failed epoch (its loss NaN); glassnet's ends with the last
    completed one. The weights are those before the failed update: glassnet checks each batch's loss
    before its update, so they are the last finite ones (Keras applies that update first and leaves
    NaN weights). An update that itself overflowed the weights, found at the end of its epoch,
    leaves them non-finite, as in Keras.

    ``raise_error=True`` (Keras 3.15's option) makes ``fit`` raise instead, as Keras does, a
    ``RuntimeError`` that starts with Keras' "NaN or Inf loss encountered at batch {b}", holds the
    ``NonFiniteError``'s message and is raised from it, without ``on_train_end`` (the error is kept
    in ``callback.error`` too).

    >>> history = model.fit(X, y, epochs=100, callbacks=[TerminateOnNaN()])   # doctest: +SKIP
    Batch 3: Invalid loss, terminating training
    """

    def __init__(self, raise_error=False):
        super().__init__()
        if not isinstance(raise_error, (bool, np.bool_)):
            raise TypeError(f"TerminateOnNaN: raise_error must be True or False, got {raise_error!r:.60}")
        self.raise_error = bool(raise_error)
        self.error = None

    def on_train_begin(self, logs=None):
        self.error = None

    def terminate(self, error):
        """Called by ``fit`` with the ``NonFiniteError`` it would have raised."""
        # without its traceback (and the errors it was raised from): their frames would keep fit's
        # shuffled copy of the training data alive as long as the callback
        self.error = error.with_traceback(None)
        self.error.__cause__ = self.error.__context__ = None
        batch = "?" if error.batch is None else error.batch - 1
        what = getattr(error, "what", "loss")
        if self.raise_error:        # Keras' RuntimeError, with glassnet's account of where it happened
            raise RuntimeError(f"NaN or Inf {what} encountered at batch {batch}. Terminating training "
                               f"immediately. {error}") from error
        # Keras' line for a non-finite loss; the other cases say what it was
        print(f"Batch {batch}: Invalid {what}, terminating training")
