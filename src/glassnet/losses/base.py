"""The loss protocol: ``Loss`` (a value and its gradient, side by side) and ``aligned_targets``,
the one check of targets against predictions that every loss and metric starts with."""
from .. import backend
from ._numerics import _per_sample

_CLASSIFICATION = frozenset({"binary_crossentropy", "categorical_crossentropy", "binary_focal_crossentropy",
                             "categorical_focal_crossentropy", "categorical_hinge", "accuracy",
                             "binary_accuracy", "categorical_accuracy", "Precision", "Recall", "AUC",
                             "F1Score", "FBetaScore"})


def aligned_targets(y_pred, y_true, caller):
    """``y_true`` in the shape of ``y_pred`` (n, k). Targets of shape (n,) for a single output
    unit (n, 1) are reshaped, as Keras does; any other shape is refused, because broadcasting
    would turn (n, 1) against (n,) into an (n, n) matrix and a plausible but wrong number.

    >>> import numpy as np
    >>> aligned_targets(np.zeros((3, 1)), np.array([0, 1, 1]), "mse").shape
    (3, 1)
    """
    y_true = backend.get_array_module(y_pred).asarray(y_true)
    if y_true.shape == y_pred.shape:
        return y_true
    if y_pred.shape[-1] == 1 and y_true.shape == y_pred.shape[:-1]:
        return y_true.reshape(y_pred.shape)
    hint = ""
    if y_true.ndim == y_pred.ndim - 1:
        # one dimension short: class labels for a classifier, one target per sample for a
        # regression model with several outputs; only the first is about labels
        if caller in _CLASSIFICATION:
            hint = ("; it takes targets shaped like the output, not class labels (those go with "
                    "'sparse_categorical_crossentropy' and 'accuracy', or one-hot encode them with "
                    "glassnet.utils.to_categorical)")
        else:
            shape = "(n, " + ", ".join(str(d) for d in y_pred.shape[1:]) + ")"
            hint = (f"; it takes targets shaped like the output, {shape}: one value for each of its "
                    f"{y_pred.shape[-1]} output units")
    raise ValueError(f"{caller}: expected targets of the output's shape {tuple(y_pred.shape)}, got "
                     f"shape {tuple(y_true.shape)}{hint}")


class Loss:
    """Base class. ``fuses`` names the output activation whose gradient this loss can fuse.

    A model compiled with a subclass of your own trains and evaluates; a model file records a loss
    by its name, never code, so ``save_model`` refuses it unless it is registered with
    ``@glassnet.saving.register_serializable()``: the file then records its registered name and its
    ``get_config()``, a dict of its constructor's arguments (the base's, its name, counts as none),
    and ``load_model`` builds it again from them."""
    name = None
    fuses = None
    sparse = False          # targets are integer labels rather than arrays shaped like the output
    # False: it reads each sample's whole sequence output (CTC), never row by row, and its targets are
    # one row per sample of their own length, (n, L) (a model of several outputs packs them so)
    per_position = True

    def __call__(self, y_pred, y_true):
        """The loss value (a float) for predictions ``y_pred`` (n, k) and targets ``y_true``."""
        raise NotImplementedError

    def _targets(self, y_pred, y_true):
        """``y_true`` checked against ``y_pred`` (see ``aligned_targets``): each public method of a
        loss starts with it, so a call with mismatched shapes fails instead of broadcasting."""
        return aligned_targets(y_pred, y_true, self.name)

    def gradient(self, y_pred, y_true):
        """dL/d(y_pred), shape (n, k): a new array (the weighted methods scale it in place)."""
        raise NotImplementedError

    def weighted(self, y_pred, y_true, sample_weight):
        """The loss with sample ``i``'s loss multiplied by ``sample_weight[i]`` (shape (n,)), summed and
        divided by n (Keras' ``sum_over_batch_size``); equals ``__call__`` for weights of ones.

        >>> import numpy as np
        >>> from glassnet.losses import get
        >>> get("mse").weighted(np.array([[1.0], [3.0]]), np.zeros((2, 1)), np.array([1.0, 0.0]))
        0.5
        """
        raise NotImplementedError(f"{type(self).__name__} does not support sample weights: implement "
                                  f"weighted(y_pred, y_true, sample_weight)")

    def weighted_gradient(self, y_pred, y_true, sample_weight):
        """d(weighted)/d(y_pred), shape (n, k): the unweighted gradient with row i times w_i, which
        holds for every loss that is a sum of per-sample terms."""
        g = self.gradient(y_pred, y_true)
        g *= _per_sample(sample_weight, g)
        return g

    def from_logits_and_gradient(self, z, a, y_true):
        """``(from_logits(z, a, y_true), gradient_from_logits(a, y_true))``, the training step's
        pair for losses that fuse; a loss may override it to share work between the two.

        z, a : the logits and the output activation's values, (n, k); y_true : the targets as
        the loss takes them. Returns (the loss value, a float; dL/dz, an array of z's shape).
        """
        return self.value_from_logits(z, a, y_true), self.gradient_from_logits(a, y_true)

    def weighted_gradient_from_logits(self, a, y_true, sample_weight):
        """The fused dL/dz of ``gradient_from_logits`` with row i times w_i (losses that fuse)."""
        g = self.gradient_from_logits(a, y_true)
        g *= _per_sample(sample_weight, g)
        return g

    def fused_activation(self):
        """The output activation this loss fuses with (``fuses``), or None when it must not.

        A subclass that overrides the value or the gradient of a loss that fuses (a focal or
        re-weighted cross-entropy) but inherits its fused methods would train on the parent's
        maths whenever the model ends in that activation: it does not fuse. A class that sets
        ``fuses`` in its own body says its fused methods match its value and gradient.
        """
        if self.fuses is None:
            return None
        owner = next(cls for cls in type(self).__mro__ if "fuses" in vars(cls))
        unfused = ("__call__", "gradient", "weighted", "weighted_gradient")
        if any(getattr(type(self), m) is not getattr(owner, m) for m in unfused):
            return None
        return self.fuses

    def prepare_targets(self, y, n_outputs, dtype, name="y"):
        """Validate ``y`` (already a finite numeric array) against an output of ``n_outputs``
        units and return it in the form ``__call__`` expects."""
        if y.ndim == 1 and n_outputs == 1:
            y = y[:, None]                          # (n,) labels for one output unit
        if y.ndim != 2 or y.shape[1] != n_outputs:
            hint = ""
            # labels for a classifier, (n,) or a column (n, 1) (see aligned_targets)
            if (y.ndim == 1 or y.shape[1:] == (1,)) and n_outputs > 1:
                hint = ("; for integer class labels use loss='sparse_categorical_crossentropy' "
                        "or one-hot encode them with glassnet.utils.to_categorical"
                        if self.name in _CLASSIFICATION else
                        f"; a model with {n_outputs} output units takes {n_outputs} target values per sample")
            raise ValueError(f"{name}: expected targets of shape (n_samples, {n_outputs}) to match "
                             f"the model's output, got shape {y.shape}{hint}")
        return y.astype(dtype, copy=False)

    def prepare_output_targets(self, y, shape, dtype, name, output="the model's output"):
        """Targets ``y`` for an output of sample ``shape`` when the loss reads the whole output at once
        (CTC's label sequences against (steps, classes) logits); None, the default: the targets
        are checked position by position through ``prepare_targets`` (glassnet.preparing)."""
        return None

    def invalid_output(self, y_pred):
        """Why outputs ``y_pred`` lie outside what this loss is defined on (a message), or None.
        ``fit`` says it when the loss becomes NaN with every output finite."""
        return None

    def get_config(self):
        return self.name

    def __repr__(self):
        return f"<loss {self.name}>"


def settings_changed(loss):
    """The attributes of ``loss`` that differ from those of its class built with no arguments (the
    defaults): ``Huber(delta=2.0)`` gives ``{"delta": 2.0}``."""
    try:
        defaults = vars(type(loss)())
    except TypeError:           # a subclass of yours whose constructor needs arguments: no defaults to compare
        return {}
    # settings are plain numbers, flags and names, and tuples of integers (Dice's axis, as a list:
    # what JSON keeps); anything else (an array of yours) is not one
    plain = (bool, int, float, str, type(None))
    settings = {key: list(value) if isinstance(value, tuple) else value for key, value in vars(loss).items()
                if (isinstance(value, plain) or isinstance(value, tuple) and all(type(v) is int for v in value))
                and not (type(defaults.get(key)) is type(value) and defaults.get(key) == value)}
    return settings


class WithSettings:
    """For a built-in loss with settings (Huber, the focal cross-entropies): its ``repr`` names the
    settings that differ from the defaults, ``<loss huber delta=2.0>``."""

    def __repr__(self):
        return f"<loss {self.name}{''.join(f' {k}={v}' for k, v in settings_changed(self).items())}>"
