"""Losses: a value and its gradient with respect to the predictions, side by side.

Conventions (n = number of samples, k = number of outputs):

=============================== ================================== ==============================
name                            value                              gradient dL/dy_hat
=============================== ================================== ==============================
mse                             mean((y_hat - y)^2) over n*k       2 (y_hat - y) / (n k)
squared_error                   sum((y_hat - y)^2) / (2 n)         (y_hat - y) / n
mae                             mean(|y_hat - y|)                  sign(y_hat - y) / (n k)
huber                           mean(d^2/2 if |d| <= 1, else       clip(d, -1, 1) / (n k)
                                |d| - 1/2), d = y_hat - y
log_cosh                        mean(log(cosh(y_hat - y)))         tanh(y_hat - y) / (n k)
poisson                         mean(y_hat - y log(y_hat + eps))   (1 - y / (y_hat + eps)) / (n k)
msle                            mean((log1p(y_hat) - log1p(y))^2)  2 (log1p(y_hat) - log1p(y))
                                                                   / ((1 + y_hat) n k)
hinge                           mean(max(1 - y y_hat, 0)), y +-1   -y where y y_hat < 1, / (n k)
squared_hinge                   mean(max(1 - y y_hat, 0)^2)        -2 y max(1 - y y_hat, 0) / (n k)
mape                            100 mean(|y_hat - y| / |y|)        100 sign(y_hat - y) / (|y| n k)
kl_divergence                   sum(y log(y / y_hat)) / n          -y / (y_hat n)
categorical_hinge               mean(max(neg - pos + 1, 0)),       ((1 - y) at the argmax of the
                                pos = sum(y y_hat), neg = max of   others, - y) / n where the
                                (1 - y) y_hat                      margin is violated
cosine_similarity               -mean(sum(y/|y| * y_hat/|y_hat|))  -(t - (t.p) p) / (|y_hat| n),
                                                                   t, p the unit vectors
binary_crossentropy             -mean(y log p + (1-y) log(1-p))    (p - y) / (p (1 - p) n k)
binary_focal_crossentropy       mean((1 - p_t)^g bce), p_t = the   the product rule, / (n k)
                                probability of the right answer
categorical_crossentropy        -sum(y log p) / n                  -y / (p n)
categorical_focal_crossentropy  -sum(a (1 - p)^g y log p) / n      the product rule, / n
sparse_categorical_crossentropy same as categorical, y as integer  same
                                labels
dice                            1 - 2 sum(y p) / (sum(y) + sum(p)) (2 I - 2 y S) / S^2 per ratio
                                over ``axis`` (None: all)          (see glassnet.losses.overlap)
tversky                         1 - I / (I + a sum(y (1 - p))      see glassnet.losses.overlap
                                + b sum((1 - y) p)), I = sum(y p)
categorical_generalized_cross_  mean((1 - p^q) / q), p the output  -p^(q - 1) / n at the label;
entropy                         at the integer label               fused: p^q (a - onehot) / n
circle                          softplus(lse(pos) + lse(neg)) per  see glassnet.losses.similarity
                                sample, embeddings (n, d), labels
ctc                             -mean(log P(labels | logits)) over (softmax - posterior) / n, see
                                alignments, logits (n, T, C)       glassnet.losses.connectionist
=============================== ================================== ==============================

In the cross-entropies p is the prediction clipped to [EPSILON, 1 - EPSILON] (Keras), so that an
output that is not a probability (a tanh or linear output below 0 or above 1) gives a finite value;
the value does not change where a prediction was clipped, so the gradient is 0 there. The
categorical cross-entropies (the categorical focal one and the sparse one too) first divide each row
of predictions by its sum, as Keras does, then clip, and their gradient goes back through the clip and
that division, to every output of the row (tests/test_cce_rescaling.py, tests/test_sparse_ce_rescaling.py):
the sparse loss on integer labels is the categorical loss on their one-hot rows, value and gradient.
A softmax output sums to 1 already, and there the fused form (which divides nothing) trains.

With a sigmoid (binary) or softmax (categorical) output the model uses the *fused* form: the loss is
computed from the logits z without ever taking log(0), and dL/dz = (y_hat - y) / N directly, which
is both cheaper and exact (scikit-learn's and every framework's trick). N is n for the categorical
losses and n*k for binary cross-entropy, whose value is a mean over all outputs (Keras).

Sample weights (``fit(..., sample_weight=w)``) have methods of their own -- ``weighted``,
``weighted_gradient``, ``weighted_from_logits``, ``weighted_gradient_from_logits`` -- so that the
unweighted ones, which training calls on every batch, stay exactly as they are. Keras semantics
(``reduction="sum_over_batch_size"``): each sample's loss is multiplied by its weight w_i and the sum
is divided by the number of samples n, *not* by the sum of the weights; every gradient above is
multiplied row by row by w_i. Each weighted method computes the same terms as its unweighted
twin, scaled by w before the same reduction, so weights of exactly 1 give bit-identical results.

Every loss takes Keras' ``reduction=`` and ``name=``. The table above is ``"sum_over_batch_size"``
(and ``"mean"``, the same), the default; ``"sum"`` is it times the number of per-sample values;
``"mean_with_sample_weight"`` divides the weighted sum by the weights' sum instead of n; ``"none"``
(or None) returns ``per_sample`` values, Keras' (n,) (or (n, *positions)), and has no gradient, so
``compile`` refuses it. ``SparseCategoricalCrossentropy(ignore_class=c)`` drops the samples
labelled c: their loss and gradient are 0, and the default reduction divides by the others' count.
A loss with either is built, once, as a subclass of its class that rescales the class's methods
(glassnet.losses.base), so the default path is untouched.

``ctc_decode(inputs, sequence_lengths, strategy="greedy", ...)`` reads the label sequences a model
trained with ``"ctc"`` predicts, greedy or by beam search (Keras' ``ops.ctc_decode``; see
glassnet.losses.decoding).

Keras' per-sample functions (``mean_squared_error(y_true, y_pred)``, ..., in Keras' order, one loss
per sample and position) are in glassnet.losses.functions, exported here; ``get`` takes them.
"""
import inspect
import sys

from .. import _settings, saving
from ._numerics import EPSILON
from .base import DEFAULT_REDUCTION, REDUCTIONS, Loss, aligned_targets, per_sample_mean, plain_type, settings_changed
from .crossentropy import BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy
from . import connectionist
from .connectionist import CTC
from .decoding import ctc_decode
from .focal import BinaryFocalCrossentropy, CategoricalFocalCrossentropy
from .generalized import CategoricalGeneralizedCrossEntropy
from .overlap import Dice, Tversky
from .picked import PendingCrossentropy, names_pending
from .persample import CategoricalHinge, CosineSimilarity
from .similarity import Circle
from .taped import FunctionLoss
from .wrapper import LossFunctionWrapper
from . import functions
from .functions import (binary_crossentropy, binary_focal_crossentropy, categorical_crossentropy,
                        categorical_focal_crossentropy, categorical_generalized_cross_entropy, categorical_hinge,
                        circle, cosine_similarity, ctc, dice, hinge, huber, kl_divergence, log_cosh,
                        mean_absolute_error, mean_absolute_percentage_error, mean_squared_error,
                        mean_squared_logarithmic_error, poisson, sparse_categorical_crossentropy, squared_hinge,
                        tversky)
from .regression import (Hinge, Huber, KLDivergence, LogCosh, MeanAbsoluteError, MeanAbsolutePercentageError,
                         MeanSquaredError, MeanSquaredLogarithmicError, Poisson, SquaredError, SquaredHinge)

__all__ = ["EPSILON", "REDUCTIONS", "Loss", "aligned_targets", "plain_type", "per_sample_mean", "check_trainable", "MeanSquaredError", "SquaredError", "MeanAbsoluteError",
           "Huber", "LogCosh", "Poisson", "MeanSquaredLogarithmicError", "Hinge", "SquaredHinge", "MeanAbsolutePercentageError",
           "KLDivergence", "CategoricalHinge", "CosineSimilarity", "BinaryFocalCrossentropy",
           "CategoricalFocalCrossentropy", "Dice", "Tversky", "CategoricalGeneralizedCrossEntropy", "Circle", "CTC",
           "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "ctc_decode", "FunctionLoss", "LossFunctionWrapper", "LOSSES",
           "ALIASES", "CLASS_NAMES", "get", "for_compile", "PendingCrossentropy", "serialize", "deserialize",
           # Keras' per-sample functions (glassnet.losses.functions) and their Keras 2 names
           "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
           "mean_squared_logarithmic_error", "huber", "log_cosh", "poisson", "kl_divergence", "hinge",
           "squared_hinge", "categorical_hinge", "cosine_similarity", "binary_crossentropy",
           "categorical_crossentropy", "sparse_categorical_crossentropy", "binary_focal_crossentropy",
           "categorical_focal_crossentropy", "categorical_generalized_cross_entropy", "dice", "tversky", "ctc",
           "circle", "mse", "mae", "mape", "msle", "kld", "logcosh", "MSE", "MAE", "MAPE", "MSLE", "KLD"]

# Keras 2's short names of the functions (Keras 3 keeps them in keras._legacy.losses; its
# losses.get("mse") gives the function). As strings they name the losses in compile(loss="mse").
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kl_divergence
logcosh = log_cosh

LOSSES = {cls.name: cls for cls in (MeanSquaredError, SquaredError, MeanAbsoluteError, Huber, LogCosh,
                                    Poisson, MeanSquaredLogarithmicError, MeanAbsolutePercentageError, Hinge,
                                    SquaredHinge, KLDivergence, CategoricalHinge, CosineSimilarity,
                                    BinaryCrossentropy, CategoricalCrossentropy,
                                    SparseCategoricalCrossentropy, BinaryFocalCrossentropy,
                                    CategoricalFocalCrossentropy, Dice, Tversky,
                                    CategoricalGeneralizedCrossEntropy, Circle, CTC)}
ALIASES = {"mean_squared_error": "mse", "mean_absolute_error": "mae",
           "mean_squared_logarithmic_error": "msle", "mean_absolute_percentage_error": "mape",
           "kld": "kl_divergence", "bce": "binary_crossentropy",
           # Keras' upper-case names (keras.losses.MSE is mean_squared_error, ...)
           "MSE": "mse", "MAE": "mae", "MSLE": "msle", "MAPE": "mape", "KLD": "kl_divergence",
           "BCE": "binary_crossentropy"}


# Keras also takes a loss by its class's name, compile(loss="BinaryCrossentropy")
CLASS_NAMES = {cls.__name__: name for name, cls in LOSSES.items()}


def get(identifier):
    """Return a ``Loss`` for a name in ``LOSSES``, an alias, a class name (``"BinaryCrossentropy"``,
    as Keras takes it), a ``Loss`` instance (returned as it is), one of this module's functions
    (``mean_squared_error``: its class at the defaults, see ``_from_function``), Keras' ``serialize``
    of its function of that name (``{"class_name": "function", "config": "huber", ...}``), a model file's entry for a
    registered loss of your own (``glassnet.saving``), or Keras' ``{"class_name": ..., "config":
    {...}}`` (what ``keras.losses.serialize`` writes, its ``"module"`` and ``"registered_name"`` too)."""
    if isinstance(identifier, Loss):
        return identifier
    if callable(identifier) and not isinstance(identifier, type):
        return _from_function(identifier)
    if isinstance(identifier, dict) and identifier.get("class_name") == "function" \
            and identifier.get("config") in functions.__all__:
        # Keras' serialize() of its function (a compile config of compile(loss=keras.losses.huber))
        return _from_function(getattr(functions, identifier["config"]))
    identifier = _settings.keras_entry(identifier, "loss")
    if isinstance(identifier, dict) and identifier.get("class_name") == "LossFunctionWrapper" and \
            set(identifier) == {"class_name", "config"}:
        # Keras' (and a model file's) entry of a function with its keyword arguments
        return LossFunctionWrapper.from_config(identifier["config"])
    if isinstance(identifier, dict) and set(identifier) == {"class_name", "config"}:
        return _from_class_config(identifier)
    if saving.is_entry(identifier):
        if "config" not in identifier:      # a function of yours, by the name the file gives it (FunctionLoss)
            return _from_function(saving.deserialize(identifier, "loss", (Loss,), functions=True))
        return saving.deserialize(identifier, "loss", (Loss,))
    if isinstance(identifier, str):
        name = ALIASES.get(identifier) or CLASS_NAMES.get(identifier) or identifier
        if name in LOSSES:
            return LOSSES[name]()
        if names_pending(identifier):       # compile's alone, as in Keras: it needs the data to pick
            raise ValueError(f"loss: {identifier!r} names the cross-entropy a model picks from its first batch, "
                             f"which compile(loss={identifier!r}) takes and get does not (Keras' losses.get "
                             f"neither); name the loss: 'binary_crossentropy', 'categorical_crossentropy' or "
                             f"'sparse_categorical_crossentropy'")
    raise ValueError(f"loss: expected one of {sorted(LOSSES) + sorted(ALIASES)} (or a class name such as "
                     f"'BinaryCrossentropy') or a Loss instance, got {identifier!r}")


def for_compile(identifier):
    """The loss ``compile(loss=identifier)`` takes: what ``get`` gives, and also Keras' compile-only
    names ``"crossentropy"`` and ``"ce"`` (any case), a ``PendingCrossentropy`` that the model's
    first batch replaces with the cross-entropy the targets and outputs pick (glassnet.losses.picked).
    ``get`` refuses those names, as ``keras.losses.get`` does: only a model has the data to pick by."""
    if names_pending(identifier):
        return PendingCrossentropy(identifier)
    return get(identifier)


def _from_function(fn):
    """The loss ``compile(loss=fn)`` trains on: for one of this module's functions (Keras'
    ``keras.losses.mean_squared_error``), its class at the defaults, as Keras trains on the mean of
    the function's values (the name ``"mean_squared_error"`` gives the same loss). Any other
    function ``fn(y_true, y_pred)`` is Keras' custom loss, written with glassnet.ops: a
    ``FunctionLoss``, differentiated by a GradientTape (glassnet.losses.taped)."""
    name = functions.TRAINS_AS.get(fn)
    if name == "categorical_generalized_cross_entropy":
        raise ValueError("loss: categorical_generalized_cross_entropy takes q, which has no default (Keras' compile "
                         "fails on the function too); compile with CategoricalGeneralizedCrossEntropy(q=...)")
    if name is not None:
        return LOSSES[name]()
    label = getattr(fn, "__name__", type(fn).__name__)
    if str(getattr(fn, "__module__", "")).split(".")[0] == "keras":
        # Keras' own functions compute with its backend, which no glassnet tape records
        hint = (f"compile(loss={label!r}) trains on glassnet's {label}" if label in functions.__all__ else
                "pass a loss's name ('mse', ...) or a function of yours written with glassnet.ops")
        raise ValueError(f"loss: got Keras' function {label!r:.60}, which computes with Keras' backend, not "
                         f"glassnet.ops, so glassnet cannot train on it; {hint}")
    return FunctionLoss(fn)


def deserialize(config, custom_objects=None):
    """The loss ``config`` names (Keras' ``deserialize``): what ``get`` takes, a name, glassnet's
    entry or Keras' ``{"class_name", "config"}``; ``custom_objects``, ``{registered name: class}``,
    for a loss of yours not registered."""
    with saving.scope_of(custom_objects, "losses.deserialize"):
        return get(config)


def _from_class_config(entry):
    """The built-in loss Keras' ``{"class_name": "Huber", "config": {...}}`` describes. Its config's
    ``"name"`` is Keras' default name of the loss ("huber_loss"), which glassnet's names differ
    from, so it is dropped, as is ``axis=-1`` (the class axis is the last one in glassnet); every
    other setting goes to the constructor, which checks it."""
    name = CLASS_NAMES.get(entry["class_name"]) if isinstance(entry["class_name"], str) else None
    if name is None or not isinstance(entry["config"], dict):
        raise ValueError(f"loss: expected {{'class_name': one of {sorted(CLASS_NAMES)}, 'config': {{...}}}}, "
                         f"got {entry!r:.200}")
    settings = {key: value for key, value in entry["config"].items() if key != "name"}
    # Keras' cross-entropies take the class axis, -1 by default, the only one glassnet's read
    if settings.get("axis") == -1 and "axis" not in inspect.signature(LOSSES[name]).parameters:
        del settings["axis"]
    try:
        return LOSSES[name](**settings)
    except TypeError as exc:
        raise ValueError(f"loss: {entry['class_name']}: {exc}") from None


def serialize(loss):
    """How a config names ``loss``: a function of yours (``FunctionLoss``) by its registered name or
    its ``__name__`` (Keras'), ``{"registered_name": name}``; a built-in loss by its name (its settings go beside it:
    ``changed_settings``), a loss of your own registered with ``glassnet.saving`` by its entry
    ``{"registered_name", "config"}`` (its ``get_config()``, when that returns a dict, else no
    settings, and the base's ``reduction`` and ``name`` where its constructor takes them:
    ``_base_config``), any other by its ``get_config()`` (which ``save_model`` refuses)."""
    if isinstance(loss, FunctionLoss):      # by the function's name: loading finds it registered or in custom_objects
        return saving.serialize(loss.fn, "loss") or {"registered_name": getattr(loss.fn, "__name__", loss.name)}
    if type(loss) is LossFunctionWrapper:   # Keras' entry: the function's, its keyword arguments beside
        return {"class_name": "LossFunctionWrapper", "config": loss.get_config()}
    if isinstance(loss, Loss) and plain_type(loss) not in LOSSES.values() and saving.is_registered(loss):
        own = plain_type(loss).get_config is not Loss.get_config
        config = loss.get_config() if own else {}
        return saving.serialize(loss, "loss", config={**_base_config(loss), **config} if isinstance(config, dict) else config)
    return loss.get_config()


def _base_config(loss):
    """The base's arguments, ``reduction`` and ``name`` (Keras' ``Loss.get_config``), of a registered
    loss of yours, where its constructor takes them: by name (every built-in's does, so a subclass
    of one inherits them), or through ``**kwargs`` when they differ from the defaults. Without
    them the file would load the loss with the default reduction, or refuse to save it."""
    try:
        parameters = inspect.signature(plain_type(loss)).parameters
    except (TypeError, ValueError):
        return {}
    anything = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    base = {"reduction": (loss.reduction, DEFAULT_REDUCTION), "name": (vars(loss).get("name"), None)}
    return {key: value for key, (value, default) in base.items()
            if key in parameters or anything and value != default}


def changed_settings(loss):
    """The settings (attributes) of a built-in loss that differ from its defaults, as a dict (empty
    for a loss without settings, at its defaults, or not built in): ``Huber(delta=2.0)`` gives
    ``{"delta": 2.0}``. A model file records them beside the loss's name."""
    name = loss.get_config()        # (a model of several outputs' loss gives a list: glassnet.outputs)
    return settings_changed(loss) if isinstance(name, str) and plain_type(loss) is LOSSES.get(name) else {}


def check_trainable(loss):
    """Refuse, by name, a loss that gives no single number to train on: ``reduction="none"`` (or
    None), one value per sample. Keras' TensorFlow backend trains on their sum then, silently,
    while logging their mean; its PyTorch backend fails ("grad can be implicitly created only for
    scalar outputs"). ``loss`` may be a model of several outputs' (each output's is checked)."""
    # (an output of several compiled without a loss, None, has none to check)
    for each in [head.loss for head in loss.heads if head.loss is not None] if hasattr(loss, "heads") else [loss]:
        if getattr(each, "reduction", None) in (None, "none"):
            raise ValueError(f"loss: {each!r:.80} has reduction={each.reduction!r}, one loss per sample, which "
                             f"gives no single number to train on; compile with reduction='sum_over_batch_size' "
                             f"(the default), 'sum', 'mean' or 'mean_with_sample_weight', and call the loss "
                             f"itself for per-sample values")

# the module was glassnet.losses.ctc until the name became Keras' function: a pickle made before
# names the CTC class there, and unpickling finds modules through sys.modules
sys.modules.setdefault(__name__ + ".ctc", connectionist)
