"""``compile(weighted_metrics=[...])``: metrics that weigh each sample as the loss does, by
``sample_weight`` (or ``class_weight``) in ``fit`` and ``evaluate``, Keras' weighted metrics.

A metric of ``metrics=`` scores every sample alike, whatever the weights. One named in
``weighted_metrics`` is compiled as a ``Weighted``: it hands each batch's sample weights to a metric
that takes them, made from what was named as Keras makes it:

- a ``Metric`` (``Precision()``, ``AUC()``, one of your own whose ``update_state`` takes
  ``sample_weight``) as it is;
- a built-in function by its class (``"accuracy"`` the binary or categorical accuracy of the
  output, ``"mae"`` ``MeanAbsoluteError``, ...), a loss by the mean of its per-sample values;
- a function of your own ``f(y_true, y_pred)`` returning one value per sample, by
  ``MeanMetricWrapper`` (the weighted mean of its values).

Without weights (a ``fit`` given none) each gives the value of its unweighted twin. The logs name it
as ``metrics=`` would, or ``weighted_<name>`` when a metric of ``metrics=`` (or an earlier weighted
one) already logs under that name, as Keras 3 names them. Two metrics of ``metrics=`` under one name
log as Keras 3.15 logs them too, the later one numbered ("mse", "mse_1": ``log_names``).
"""
import inspect

from .base import Metric
from .from_losses import LossMean
from .functions import (LossMetric, accuracy, binary_accuracy, binary_hits, categorical_accuracy, categorical_hits,
                        mean_absolute_error, mean_squared_error, sparse_categorical_accuracy,
                        sparse_top_k_categorical_accuracy, top_k_categorical_accuracy)
from .means import (BinaryAccuracy, CategoricalAccuracy, MeanAbsoluteError, MeanMetricWrapper, MeanSquaredError,
                    SparseCategoricalAccuracy, SparseTopKCategoricalAccuracy, TopKCategoricalAccuracy, _Mean)


class _Accuracy(_Mean):
    """``accuracy`` by sample: binary for one output unit, categorical for several (as the
    function decides per batch)."""
    default_name, direction = "accuracy", "up"
    function = staticmethod(accuracy)

    @staticmethod
    def values(y_true, y_pred):
        if y_pred.shape[-1] == 1:
            return binary_hits(y_true, y_pred)[..., 0]
        return categorical_hits(y_true, y_pred)


# the built-in functions, by the class that weighs their samples
_CLASSES = {accuracy: _Accuracy, binary_accuracy: BinaryAccuracy, categorical_accuracy: CategoricalAccuracy,
            sparse_categorical_accuracy: SparseCategoricalAccuracy, top_k_categorical_accuracy: TopKCategoricalAccuracy,
            sparse_top_k_categorical_accuracy: SparseTopKCategoricalAccuracy, mean_absolute_error: MeanAbsoluteError,
            mean_squared_error: MeanSquaredError}


def takes_sample_weight(metric):
    """Whether ``metric.update_state`` takes ``sample_weight`` (by that name, or ``**kwargs``)."""
    try:
        parameters = inspect.signature(metric.update_state).parameters
    except (TypeError, ValueError):
        return False
    return "sample_weight" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def weighing(name, metric):
    """The metric that weighs samples for ``(name, metric)`` as ``metrics.get`` gives it (see the
    module docstring); a TypeError naming it for a ``Metric`` whose ``update_state`` takes no
    ``sample_weight``."""
    if isinstance(metric, Metric):
        if not takes_sample_weight(metric):
            raise TypeError(f"weighted_metrics: {name!r}: {type(metric).__name__}.update_state takes no "
                            f"sample_weight, so it cannot weigh samples; give it update_state(y_true, y_pred, "
                            f"sample_weight=None), or compile it in metrics=")
        return metric
    if isinstance(metric, LossMetric):
        return LossMean(metric.loss, name=name)
    if metric in _CLASSES:
        return _CLASSES[metric](name=name)
    return MeanMetricWrapper(metric, name=name)


class Weighted(Metric):
    """A compiled metric of ``weighted_metrics``: ``metric`` (named ``base`` in compile; ``named``
    is what ``metrics.get`` gave for it, kept for the model's config and file) is given each
    batch's sample weights; logged as ``name``."""

    takes_sample_weight = True          # see metrics.base._update

    def __init__(self, base, named, name, position=0):
        # position: its place in the weighted_metrics given, which a config keeps (the logs' order
        # may be sorted, and the weighted_ names are given in this order)
        self.base, self.named, self.position = base, named, position
        self.metric = weighing(base, named)
        self.name = name
        self.direction = getattr(self.metric, "direction", None)
        self.averages_samples = getattr(self.metric, "averages_samples", False)
        self.reset_state()

    def reset_state(self):
        self.metric.reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.metric.update_state(y_true, y_pred, sample_weight=sample_weight)

    def result(self):
        return self.metric.result()

    def get_config(self):
        return {"name": self.name}

    def __repr__(self):
        return f"Weighted({self.metric!r})"


def log_names(names):
    """Keras 3.15's log names for metrics compiled under ``names`` (its ``CompileMetrics.result``):
    the first of a name as it is, each later one numbered, so that none replaces another.

    >>> log_names(["mse", "mae", "mse", "mse"])
    ['mse', 'mae', 'mse_1', 'mse_2']
    """
    seen, logged = {}, []
    for name in names:
        k = seen.get(name, 0)
        seen[name] = k + 1
        logged.append(f"{name}_{k}" if k else name)
    return logged


def compiled(plain, weighted, given=None):
    """``metrics=`` and ``weighted_metrics=`` as compiled, ``[(log name, metric)]``: the plain ones
    as ``get`` gave them (``plain``: ``[(name, metric)]``), a later one of a name numbered
    (``log_names``: "mse", "mse_1"), then each weighted one as a ``Weighted``, ``weighted_<name>``
    where its name is taken (then numbered, ``_1``), as Keras 3 logs them. ``given``: a dict that,
    when passed, receives ``{log name: name given}`` for each plain metric renamed, so that a
    config records what compile was given ("mse" twice), not the log names."""
    logged = log_names([name for name, _ in plain])
    if given is not None:
        given.update({log: name for log, (name, _) in zip(logged, plain) if log != name})
    result = [(log, metric) for log, (_, metric) in zip(logged, plain)]
    taken = set(logged)
    for position, (base, metric) in enumerate(weighted):
        name = base
        if name in taken:
            name = f"weighted_{base}"
            k = 0
            while name in taken:
                k += 1
                name = f"weighted_{base}_{k}"
        taken.add(name)
        result.append((name, Weighted(base, metric, name, position)))
    return result
