"""glassnet's own exceptions, so callers can catch exactly what the library raises."""


class NonFiniteError(FloatingPointError):
    """Training produced NaN or infinity (seed 002's "weights are all NaNs").

    Attributes ``epoch``, ``batch`` (both 1-based) and ``layer`` (the name of the first layer whose
    output or parameters stopped being finite, or None) say where it happened; ``what`` says what
    stopped being finite: "loss" (a batch's loss), "weights" (an update overflowed them, the loss
    before it finite) or "values" (a layer's own computation, e.g. a batch variance).
    """

    def __init__(self, message, epoch=None, batch=None, layer=None, what="loss"):
        super().__init__(message)
        self.epoch, self.batch, self.layer, self.what = epoch, batch, layer, what


class ModelFileError(ValueError):
    """A file given to ``load_model`` is not a glassnet model file this version can read."""
