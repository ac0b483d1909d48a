"""Weight penalties (Keras' ``kernel_regularizer=`` / ``bias_regularizer=``): L1, L2 and both.

A regularizer adds a penalty on a weight ``w`` to the loss that training minimises::

    L2(l2):        l2 * sum(w ** 2)            gradient  2 * l2 * w
    L1(l1):        l1 * sum(|w|)               gradient  l1 * sign(w)
    L1L2(l1, l2):  both terms

These are Keras' formulas (no 1/2 in L2), so ``L2(a)`` is PyTorch's ``weight_decay=2 * a`` on that
weight with SGD or Adam. As in Keras, the penalty of every trained weight is added once per batch,
whatever the batch size, and is not scaled by sample weights; the loss that ``fit`` logs and
``evaluate`` returns includes it. A frozen layer's weights are not penalised.

>>> from glassnet.layers import Dense
>>> layer = Dense(4, kernel_regularizer=L2(1e-4))
>>> get("l2")
L2(l2=0.01)
"""
from . import _settings, backend, saving
from ._validation import check_choice, check_number


class Regularizer(_settings.Setting):
    """A penalty on one weight. Subclasses define ``__call__(w) -> float`` (the penalty) and
    ``add_gradient(w, grad)`` (``grad += d penalty / dw``, in place). A model file stores the
    built-in ones, and yours registered with ``glassnet.saving.register_serializable``, by their
    ``get_config()`` (the constructor's arguments)."""

    def __call__(self, w):
        raise NotImplementedError

    def add_gradient(self, w, grad):
        raise NotImplementedError

    def check_shape(self, shape, where):
        """Refuse (ValueError starting with ``where``) a weight of ``shape`` this penalty cannot
        weigh; called when a layer makes the weight. Any shape by default."""


class L1L2(Regularizer):
    """``l1 * sum(|w|) + l2 * sum(w ** 2)``; both factors 0 by default, as in Keras."""

    def __init__(self, l1=0.0, l2=0.0):
        # a penalty factor is a finite number >= 0, as Keras checks it
        self.l1 = check_number(l1, f"{type(self).__name__}: l1", ">= 0")
        self.l2 = check_number(l2, f"{type(self).__name__}: l2", ">= 0")

    def __call__(self, w):
        total = 0.0
        if self.l1:
            total += self.l1 * float(abs(w).sum())
        if self.l2:
            flat = w.reshape(-1)
            total += self.l2 * float(backend.get_array_module(w).vdot(flat, flat))
        return total

    def add_gradient(self, w, grad):
        if self.l1:
            grad += backend.get_array_module(w).sign(w) * self.l1
        if self.l2:
            grad += w * (2.0 * self.l2)

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """``l1 * sum(|w|)``, l1 = 0.01 by default (Keras). Its gradient at w = 0 is 0, as in Keras
    and PyTorch (the derivative of |w| taken as sign(w))."""

    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """``l2 * sum(w ** 2)``, l2 = 0.01 by default (Keras): PyTorch's ``weight_decay = 2 * l2``."""

    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Keras' penalty for vectors that are not orthogonal: the rows of a 2-D weight
    (``mode="rows"``; a ``Dense`` kernel (inputs, units): one vector per input feature) or its
    columns (``mode="columns"``: one per unit), each scaled to unit length, and the mean absolute
    cosine between two of them times ``factor``::

        U = the vectors / their lengths       (a length below 1e-7 counts as 1e-7, Keras' epsilon)
        penalty = factor * mean over pairs i < j of |U_i . U_j|

    Its gradient goes back through the scaling, as PyTorch autograd takes it (|c|' = sign(c), 0 at
    0). Keras' formula and defaults (``factor=0.01``); a weight that is not 2-D, or has fewer than two
    vectors (no pair: Keras' mean is then NaN), is refused when the layer makes it.
    """


    def __init__(self, factor=0.01, mode="rows"):
        self.factor = check_number(factor, "OrthogonalRegularizer: factor", ">= 0")
        check_choice(mode, "OrthogonalRegularizer: mode", ("rows", "columns"), expected="'rows' or 'columns'")
        self.mode = mode

    def check_shape(self, shape, where):
        count = shape[0 if self.mode == "rows" else 1] if len(shape) == 2 else None
        if len(shape) != 2 or count < 2:
            raise ValueError(f"{where}: OrthogonalRegularizer needs a 2-D weight with at least two {self.mode} "
                             f"(pairs of vectors to compare), got shape {tuple(shape)}")

    def _cosines(self, w):
        """(U, lengths, cosines with a zero diagonal, scale): the vectors of w as rows, made unit."""
        xp = backend.get_array_module(w)
        count = w.shape[0 if self.mode == "rows" else 1] if w.ndim == 2 else None
        if w.ndim != 2 or count < 2:
            # a weight is checked when its layer makes it; what comes here unchecked is a layer's
            # output (activity_regularizer), whose rows are the batch's samples: a last batch of one
            raise ValueError(f"OrthogonalRegularizer: needs a 2-D array with at least two {self.mode} (pairs of "
                             f"vectors to compare), got shape {tuple(w.shape)}; as an activity_regularizer it "
                             f"takes a layer's (batch, features) output, and mode='rows' compares the batch's "
                             f"samples, so every batch needs two (mode='columns' compares the features)")
        vectors = w if self.mode == "rows" else w.T
        lengths = xp.maximum(xp.sqrt((vectors * vectors).sum(axis=1, keepdims=True)), w.dtype.type(backend.epsilon()))
        unit = vectors / lengths
        cosines = unit @ unit.T
        xp.fill_diagonal(cosines, 0)
        size = vectors.shape[0]
        return unit, lengths, cosines, self.factor / (size * (size - 1))   # sum over i != j: each pair twice

    def __call__(self, w):
        _, _, cosines, scale = self._cosines(w)
        return scale * float(abs(cosines).sum())

    def add_gradient(self, w, grad):
        xp = backend.get_array_module(w)
        unit, lengths, cosines, scale = self._cosines(w)
        d_unit = (xp.sign(cosines) @ unit) * (2 * scale)       # the cosines are symmetric
        # back through U = v / length: the part along U drops out, unless the length was clipped
        along = (d_unit * unit).sum(axis=1, keepdims=True)
        clipped = lengths <= backend.epsilon()
        d_vectors = xp.where(clipped, d_unit, d_unit - unit * along) / lengths
        grad += d_vectors if self.mode == "rows" else d_vectors.T

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


# Keras' lower-case aliases are the classes themselves (keras.regularizers.l2 is L2)
l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer

REGULARIZERS = {"L1": L1, "L2": L2, "L1L2": L1L2, "OrthogonalRegularizer": OrthogonalRegularizer}


def get(identifier, name="regularizer"):
    """A ``Regularizer`` from None (none), an instance, a name (``"l1"``, ``"l2"``: Keras' default
    factor 0.01) or a model file's ``{"class_name": ..., "config": {...}}``.

    ``"l1_l2"`` by name is refused: L1L2's factors default to 0, so it would penalise nothing
    (Keras builds that silently from ``"l1l2"``); write ``L1L2(l1=..., l2=...)``. Errors start
    with ``name`` (the argument, e.g. "Dense: kernel_regularizer").
    """
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str):
        cls = {"l1": L1, "l2": L2, "orthogonal_regularizer": OrthogonalRegularizer,
               "orthogonalregularizer": OrthogonalRegularizer}.get(identifier.lower())
        if cls is not None:
            return cls()
        if identifier.lower().replace("_", "") == "l1l2":
            raise ValueError(f"{name}: {identifier!r} by name would penalise nothing (L1L2's "
                             f"factors default to 0); write L1L2(l1=..., l2=...)")
    elif (regularizer := _settings.from_file_entry(identifier, REGULARIZERS, name, Regularizer)) is not None:
        return regularizer
    raise ValueError(f"{name}: expected None, a Regularizer (L1, L2, L1L2, OrthogonalRegularizer), 'l1', "
                     f"'l2' or 'orthogonal_regularizer', "
                     f"got {identifier!r:.100}")


def deserialize(config, custom_objects=None):
    """The regularizer ``config`` describes (Keras' ``deserialize``): what ``get`` takes, glassnet's
    ``{"class_name", "config"}`` or Keras' ``serialize()`` form; ``custom_objects``,
    ``{registered name: class}``, for a Regularizer of yours not registered."""
    with saving.scope_of(custom_objects, "regularizers.deserialize"):
        return get(config)


def serialize(regularizer):
    """A built-in regularizer as a model file stores it; ValueError for any other."""
    return _settings.serialize(regularizer, REGULARIZERS, "regularizer", Regularizer)


def config_entries(layer, keys=("kernel_regularizer", "bias_regularizer")):
    """A layer's ``kernel_regularizer`` / ``bias_regularizer`` (or ``keys``) config entries, only those set."""
    return _settings.config_entries(layer, keys, REGULARIZERS, "regularizer", Regularizer)
