"""Metrics: the names ``compile`` takes, whose functions ``f(y_true, y_pred) -> float``
(``metrics.functions``), in Keras' and scikit-learn's order, are computed on the targets the loss
prepared, their epoch value the mean of their batches' values (by samples: metrics.base.batch_share);
Keras' per-sample functions under its names (``binary_accuracy``, ..., ``metrics.per_sample``, and the loss functions Keras lists here,
``binary_crossentropy``, ``mean_squared_error``, ..., which are glassnet.losses' own), one value per
sample, that compile takes by the name they share; and ``Metric`` objects (``metrics.base``) that count over every batch:
``Precision``, ``Recall``, ``AUC`` (``metrics.confusion``), ``F1Score``, ``FBetaScore``
(``metrics.fscore``) and Keras' classes for the functions, ``BinaryAccuracy(threshold=0.5)``, ...
(``metrics.means``), and ``R2Score`` (``metrics.r2``). This module holds the names ``compile`` takes and how files name them. (The losses take ``(y_pred, y_true)``, as PyTorch's loss functions and the
seeds' cost functions do; a loss named as a metric is called the metrics' way, see ``LossMetric``.)

``accuracy`` picks its meaning from the output, as Keras does: one output unit means binary
(threshold 0.5); several units mean categorical (argmax), with targets one-hot or integer labels.
``mae`` and ``mse`` are the regression metrics, logged under the name given to ``compile``
(``metrics=["mae"]`` gives "mae" and "val_mae"; "mean_absolute_error" is logged as such, as in Keras).
"""
import inspect

from .. import _settings, losses, saving
from .base import Metric
from .confusion import (AUC, FalseNegatives, FalsePositives, Precision, Recall, TrueNegatives,
                        TruePositives)
from .correlation import ConcordanceCorrelation, PearsonCorrelation, concordance_correlation, pearson_correlation
from .constrained import PrecisionAtRecall, RecallAtPrecision, SensitivityAtSpecificity, SpecificityAtSensitivity
from .from_losses import (BinaryCrossentropy, CategoricalCrossentropy, CategoricalHinge, CosineSimilarity,
                          Hinge, KLDivergence, LogCoshError, MeanAbsolutePercentageError,
                          MeanSquaredLogarithmicError, Poisson, SparseCategoricalCrossentropy, SquaredHinge)
from .fscore import F1Score, FBetaScore
from . import functions
from .functions import LossMetric, accuracy
# Keras' keras.metrics functions, one value per sample: the accuracies (metrics.per_sample) and
# glassnet.losses' per-sample functions themselves (Keras' keras.metrics.mean_squared_error is
# keras.losses.mean_squared_error too)
from . import per_sample
from .per_sample import (binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
                         sparse_top_k_categorical_accuracy, top_k_categorical_accuracy)
from ..losses.functions import (binary_crossentropy, binary_focal_crossentropy, categorical_crossentropy,
                                categorical_focal_crossentropy, categorical_hinge, hinge, huber, kl_divergence,
                                log_cosh, mean_absolute_error, mean_absolute_percentage_error, mean_squared_error,
                                mean_squared_logarithmic_error, poisson, sparse_categorical_crossentropy,
                                squared_hinge)
from .iou import BinaryIoU, IoU, MeanIoU, OneHotIoU, OneHotMeanIoU
from .means import (Accuracy, BinaryAccuracy, CategoricalAccuracy, Mean, MeanAbsoluteError, MeanMetricWrapper,
                    MeanSquaredError, RootMeanSquaredError, SparseCategoricalAccuracy, SparseTopKCategoricalAccuracy,
                    Sum, TopKCategoricalAccuracy)
from .r2 import R2Score
from . import weighted  # noqa: E402  (compile's weighted_metrics; imports the classes above)

# the public names: the functions, the classes of METRIC_CLASSES (added below) and the tallies
# for your own loops, Mean, Sum, MeanMetricWrapper, which a model file cannot name
__all__ = ["METRICS", "METRIC_CLASSES", "Metric", "LossMetric", "Mean", "Sum", "MeanMetricWrapper",
           "check_log_names", "get", "serialize", "accuracy", "binary_accuracy", "categorical_accuracy",
           "mean_absolute_error", "mean_squared_error", "sparse_categorical_accuracy",
           "sparse_top_k_categorical_accuracy", "top_k_categorical_accuracy", "weighted", "pearson_correlation",
           "concordance_correlation", "binary_crossentropy", "categorical_crossentropy",
           "sparse_categorical_crossentropy", "binary_focal_crossentropy", "categorical_focal_crossentropy", "hinge",
           "squared_hinge", "categorical_hinge", "poisson", "kl_divergence", "log_cosh",
           "mean_absolute_percentage_error", "mean_squared_logarithmic_error", "huber"]

# compile's names: each function gives a batch's mean as a float (metrics.functions), which fit
# averages over the epoch; Keras' per-sample functions of these names are compiled as these
METRICS = {
    "accuracy": accuracy, "acc": accuracy, "binary_accuracy": functions.binary_accuracy,
    "categorical_accuracy": functions.categorical_accuracy,
    "sparse_categorical_accuracy": functions.sparse_categorical_accuracy,
    "mae": functions.mean_absolute_error, "mean_absolute_error": functions.mean_absolute_error,
    "mse": functions.mean_squared_error, "mean_squared_error": functions.mean_squared_error,
    "top_k_categorical_accuracy": functions.top_k_categorical_accuracy,
    "sparse_top_k_categorical_accuracy": functions.sparse_top_k_categorical_accuracy,
}

# the metrics with a state, by class name: a model file or a config names one with settings other
# than its defaults as {"class_name": "Precision", "config": {...}}, and only these classes can be
# named there (a file cannot make an arbitrary class)
METRIC_CLASSES = {cls.__name__: cls for cls in (
    Precision, Recall, AUC, F1Score, FBetaScore, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
    TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, MeanSquaredError, MeanAbsoluteError,
    RootMeanSquaredError, R2Score, Accuracy, TruePositives, FalsePositives, TrueNegatives, FalseNegatives,
    SensitivityAtSpecificity, SpecificityAtSensitivity, PrecisionAtRecall, RecallAtPrecision,
    BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy, KLDivergence, Poisson,
    MeanAbsolutePercentageError, MeanSquaredLogarithmicError, LogCoshError, CosineSimilarity, Hinge,
    SquaredHinge, CategoricalHinge, IoU, MeanIoU, BinaryIoU, OneHotIoU, OneHotMeanIoU, PearsonCorrelation,
    ConcordanceCorrelation)}
# their names in compile(metrics=[...]): Keras' logged names and its class names; each lookup
# makes a new metric with the default settings. A class that needs an argument (MeanIoU's
# num_classes, PrecisionAtRecall's recall) is named by its class only, to say what it needs.
__all__ += sorted(METRIC_CLASSES)
_METRIC_CLASS_NAMES = {**{cls.default_name: cls for cls in METRIC_CLASSES.values()}, **METRIC_CLASSES,
                       # Keras also takes each class by its name in snake case; these two differ from
                       # the names the classes log under ("fbeta_score", "logcosh")
                       "f_beta_score": FBetaScore, "log_cosh_error": LogCoshError}
# a loss's name as a metric is that loss's value (LossMetric), the same number as the class of
# that name but for "cosine_similarity": Keras' metric is the cosine, its loss the negative
_METRIC_NOT_LOSS = {"cosine_similarity"}


def check_log_names(names):
    """Refuse metric names that would share a key in logs and History with each other or with the
    loss (a function called ``loss``, or "val_acc" beside "acc"): one value would silently replace
    the other, and callbacks monitoring that key would watch the wrong number. ``names`` are the
    log names, a second "mse" numbered already, "mse_1", as Keras 3.15 numbers it
    (``weighted.log_names``); what numbering leaves sharing a key (a function named "mse_1"
    beside two "mse"), Keras 3.15 logs once, dropping a value: refused here."""
    logged = ["loss", *names]
    keys = logged + [f"val_{name}" for name in logged]
    shared = sorted({key for key in keys if keys.count(key) > 1})
    if shared:
        raise ValueError(f"metrics: the names {names} would log several values under {shared}; "
                         f"give each metric a distinct name (a function is logged under its __name__, "
                         f"the loss as 'loss', a second metric of one name as '<name>_1')")


def get(identifier):
    """Return ``(name, metric)`` for a metric name, a ``Metric`` (``Precision()``, logged under its
    ``name``), a loss name or ``Loss`` instance (its value as a metric, see ``LossMetric``), a
    callable ``f(y_true, y_pred) -> float`` (named after the function, as Keras names it), or what
    ``serialize`` gives for a metric with settings, ``{"class_name": ..., "config": {...}}``, or for
    one of your own registered with ``glassnet.saving``, ``{"registered_name": ..., ...}``."""
    if isinstance(identifier, Metric):
        if getattr(identifier, "takes_values", False):
            raise TypeError(f"metric: {type(identifier).__name__} averages values given to it, "
                            f"update_state(values), not targets and outputs; for the mean of a function of "
                            f"them, compile with MeanMetricWrapper(fn) or the function itself")
        return identifier.name, identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):     # the class: Keras makes one
        return get(_made(identifier))
    if isinstance(identifier, losses.Loss):
        return identifier.name, LossMetric(identifier)
    if identifier is pearson_correlation or identifier is concordance_correlation:
        # Keras' functions give a coefficient per sample: compiled, they are their classes' means
        return get(identifier.__name__)
    if any(identifier is fn for fn in per_sample.COMPILED_AS):
        # Keras' per-sample accuracies: compiled, the mean of their values, which their names give
        return get(per_sample.COMPILED_AS[identifier])
    if any(identifier is fn for fn in losses.functions.TRAINS_AS) \
            and identifier is not losses.categorical_generalized_cross_entropy:     # (a dict has no hash)
        # glassnet.losses' per-sample functions (Keras'): compiled, the mean of their values, which
        # their names give (a file records a metric by name; the function itself it would refuse).
        # The generalized cross-entropy's q has no default: called, the function says so, as Keras'
        return get(identifier.__name__)
    if callable(identifier) and not isinstance(identifier, str) and not getattr(identifier, "is_model", False):
        return getattr(identifier, "__name__", "metric"), identifier
    # keras.metrics.serialize()'s form; its "dtype" is the dtype of Keras' running totals, which
    # glassnet's metrics keep in float64 whatever the model's. The cross-entropy metric's
    # ignore_class, which glassnet's lacks, is read at None only (the IoU classes take ignore_class:
    # it goes to them); AUC's label_weights come as Keras' tensor entry, read as their values
    identifier = _keras_tensor_settings(identifier)
    lacking = ("num_labels", "label_weights", "ignore_class")
    if isinstance(identifier, dict) and isinstance(identifier.get("class_name"), str) \
            and identifier["class_name"] in METRIC_CLASSES:
        lacking = tuple(key for key in lacking
                        if key not in inspect.signature(METRIC_CLASSES[identifier["class_name"]]).parameters)
    identifier = _settings.keras_entry(identifier, "metric", lacking, ignored=("dtype",))
    if saving.is_entry(identifier):     # one of yours, registered: a Metric's or a Loss's instance, or a function
        return get(saving.deserialize(identifier, "metric", (Metric, losses.Loss), functions=True))
    if isinstance(identifier, dict):
        config = identifier.get("config")
        if isinstance(identifier.get("class_name"), str) and identifier["class_name"] in losses.CLASS_NAMES \
                and (identifier.get("loss") is True or not (isinstance(config, dict) and "name" in config)):
            # a loss with settings, as a metric (a metric class's config always holds its name;
            # a loss's settings never do)
            return get(_loss_from_config(identifier))
        return get(_from_config(identifier))
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            # Keras' compile matches these in any case ("Accuracy", "ACC"), before its class names:
            # the accuracy the output's shape picks, logged as given. The class Accuracy (outputs
            # equal to their targets) would score probabilities 0, silently
            return identifier, accuracy
        if identifier in METRICS:
            return identifier, METRICS[identifier]
        if (identifier in losses.LOSSES or identifier in losses.ALIASES) and identifier not in _METRIC_NOT_LOSS:
            return identifier, LossMetric(losses.get(identifier))
        if identifier in _METRIC_CLASS_NAMES:
            metric = _made(_METRIC_CLASS_NAMES[identifier])
            metric.name = identifier        # logged under the name given, "AUC" as "AUC" (Keras 3's rule)
            return get(metric)
    raise ValueError(f"metric: expected one of {sorted({*METRICS, *_METRIC_CLASS_NAMES})}, a loss name, "
                     f"a Metric or a callable, got {identifier!r:.100}")


def _keras_tensor_settings(identifier):
    """Keras' serialized metric with its settings' tensors, ``{"class_name": "__tensor__", "config":
    {"value": [...], "dtype": ...}}`` (AUC's ``label_weights``), given as their values (lists)."""
    config = identifier.get("config") if isinstance(identifier, dict) and "module" in identifier else None
    if not isinstance(config, dict):
        return identifier
    settings = {key: value["config"]["value"] for key, value in config.items()
                if isinstance(value, dict) and value.get("class_name") == "__tensor__"
                and isinstance(value.get("config"), dict) and "value" in value["config"]}
    return dict(identifier, config={**config, **settings}) if settings else identifier


def deserialize(config, custom_objects=None):
    """The metric ``config`` names (Keras' ``deserialize``): the metric object of what ``get``
    takes (``get`` gives ``(name, metric)``), Keras' ``serialize()`` form included;
    ``custom_objects``, ``{registered name: class or function}``, for one of yours not registered."""
    with saving.scope_of(custom_objects, "metrics.deserialize"):
        return get(config)[1]


def _made(cls):
    """``cls()``, or a TypeError saying which argument Keras' class needs (MeanIoU's num_classes)."""
    try:
        return cls()
    except TypeError as exc:
        raise TypeError(f"metric: {cls.__name__} needs arguments ({exc}); compile with "
                        f"{cls.__name__}(...) itself") from None


def serialize(name, metric):
    """How a model's config and its file name the compiled metric ``(name, metric)``: ``name`` when
    ``get(name)`` gives that metric back (a function, a loss, ``Precision()`` as "precision"), else,
    for a ``Metric``, ``{"class_name": ..., "config": metric.get_config()}`` (JSON), which ``get``
    turns back into it for the classes of ``METRIC_CLASSES`` and refuses, loudly, for any other (a
    subclass of one would otherwise come back as its parent, with the parent's settings). A function
    or ``Metric`` of your own registered with ``glassnet.saving`` (or a ``Loss`` of yours as a
    metric) is stored as its entry, ``{"registered_name": ..., "config": ...}``."""
    own = metric.loss if type(metric) is LossMetric else metric
    kind = losses.plain_type(own) if isinstance(own, losses.Loss) else type(own)
    if kind not in (*METRIC_CLASSES.values(), *losses.LOSSES.values()) and saving.is_registered(own):
        return losses.serialize(own) if isinstance(own, losses.Loss) else saving.serialize(own, "metric")
    if isinstance(metric, LossMetric) and losses.changed_settings(metric.loss):
        settings = losses.changed_settings(metric.loss)          # BinaryCrossentropy(from_logits=True)
        # a loss given a name= is marked as a loss ("loss": true): a metric class's config holds a name
        return {"class_name": losses.plain_type(metric.loss).__name__, "config": settings,
                **({"loss": True} if "name" in settings else {})}
    if isinstance(metric, Metric):
        # the name alone only when it gives this very metric back ("binary_accuracy" names the
        # function, not BinaryAccuracy(); "precision" names Precision() with its defaults)
        try:
            _, named = get(name)
        except (ValueError, TypeError):     # not a name; a class that needs arguments (MeanIoU)
            named = None
        if type(named) is not type(metric) or named.get_config() != metric.get_config():
            return {"class_name": type(metric).__name__, "config": metric.get_config()}
    return name


def _loss_from_config(spec):
    """The built-in loss ``{"class_name": "BinaryCrossentropy", "config": {"from_logits": true}}``
    describes: its settings numbers and flags only (and lists of numbers: Dice's axis, a focal loss's per-class alpha), checked by
    its constructor."""
    config = spec.get("config")
    if set(spec) - {"loss"} != {"class_name", "config"} or not isinstance(config, dict) or not all(
            isinstance(k, str) and (isinstance(v, (bool, int, float, type(None))) or isinstance(v, str) and len(v) <= 200
                                    or isinstance(v, list) and all(type(a) in (int, float) for a in v)) for k, v in config.items()):
        raise ValueError(f"metric: expected {{'class_name': a loss class, 'config': {{name: number, flag or name}}}}, "
                         f"got {spec!r:.200}")
    try:
        return type(losses.get(spec["class_name"]))(**config)
    except TypeError as exc:
        raise ValueError(f"metric: {exc}") from None


# the most classes an IoU metric's config (a model file's compile settings) may give: see _from_config
MAX_CONFIG_CLASSES = 10_000


def _from_config(spec):
    """The metric object ``{"class_name": ..., "config": {...}}`` describes; only the classes of
    ``METRIC_CLASSES``, whose constructors check every setting (read as regularizers, constraints
    and schedules are: ``_settings.from_file_entry``)."""
    cls = METRIC_CLASSES.get(spec.get("class_name")) if isinstance(spec, dict) and isinstance(
        spec.get("class_name"), str) else None
    classes = spec["config"].get("num_classes") if cls is not None and issubclass(cls, IoU) and isinstance(
        spec.get("config"), dict) else None
    if isinstance(classes, int) and classes > MAX_CONFIG_CLASSES:
        # the constructor makes the (num_classes, num_classes) float64 confusion matrix (and
        # MeanIoU a list of every class id): a model file's few bytes of compile settings saying
        # num_classes=10**5 would ask for 80 GB. A metric made in code takes any number
        raise ValueError(f"metric: {spec['class_name']}: num_classes: a config may give at most "
                         f"{MAX_CONFIG_CLASSES} (a confusion matrix of {8 * MAX_CONFIG_CLASSES ** 2 // 2 ** 20} MiB), "
                         f"got {classes}")
    metric = _settings.from_file_entry(spec, METRIC_CLASSES, "metric")
    if metric is None:
        raise ValueError(f"metric: expected {{'class_name': one of {sorted(METRIC_CLASSES)}, 'config': {{...}}}}, "
                         f"got {spec!r:.200}")
    return metric
