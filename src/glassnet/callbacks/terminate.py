"""``TerminateOnNaN``: end training, instead of raising, when it produces NaN or infinity."""
from .base import Callback


class TerminateOnNaN(Callback):
    """Stop training when the loss (or a weight) becomes NaN or infinite: Keras' ``TerminateOnNaN``.

    Without it, ``fit`` raises ``NonFiniteError`` there, naming the layer where the non-finite values
    start. With it, ``fit`` prints Keras' line ``Batch {b}: Invalid loss, terminating training``
    (``b`` 0-based, as Keras counts), calls ``on_train_end`` and returns the ``History`` of the epochs
    it completed; the error is kept as ``callback.error`` (its ``epoch``, ``batch``, ``layer`` and
    message). The weights are those before the failed update: glassnet checks each batch's loss
    before its update, so they are the last finite ones (Keras applies that update first and leaves
    NaN weights). An update that itself overflowed the weights, found at the end of its epoch,
    leaves them non-finite, as in Keras.

    >>> history = model.fit(X, y, epochs=100, callbacks=[TerminateOnNaN()])   # doctest: +SKIP
    Batch 3: Invalid loss, terminating training
    """

    def __init__(self):
        super().__init__()
        self.error = None

    def on_train_begin(self, logs=None):
        self.error = None

    def terminate(self, error):
        """Called by ``fit`` with the ``NonFiniteError`` it would have raised."""
        self.error = error
        batch = "?" if error.batch is None else error.batch - 1
        print(f"Batch {batch}: Invalid loss, terminating training")
