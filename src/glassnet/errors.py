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

    def prefixed(self, prefix):
        """The same error, of the same class, its message after ``prefix`` (where it was read)."""
        return ModelFileError(prefix + str(self))


class UnknownObjectError(ModelFileError):
    """A model file names a class or function of the user's own (a layer, loss, metric...) that is
    neither built in nor registered in this process. ``name`` is the name the file gives it.

    It is a ``ModelFileError``: the file cannot be read as things stand, but it may be fine. Define
    or import the class before loading (or pass ``custom_objects=``); the ``glassnet`` command's
    ``--import`` imports the module that defines it.
    """

    def __init__(self, message, name):
        super().__init__(message)
        self.name = name

    def prefixed(self, prefix):
        return UnknownObjectError(prefix + str(self), self.name)

    def __reduce__(self):
        # pickled with its name (a Dask worker's error travels to the client so): the default
        # rebuilds from the message alone, which __init__ refuses
        return UnknownObjectError, (str(self), self.name)
