"""Metrics with a state, and the running values of a model's compiled metrics.

A metric function gives one number per batch, and the batches' numbers averaged by their sizes are
the epoch's value: right for accuracy or a mean error, wrong for a ratio of counts. Precision over an
epoch is all true positives over all predicted positives, not the mean of each batch's precision
(a batch with no predicted positive would count as 0). Such a metric is a ``Metric``: Keras'
protocol of ``reset_state()``, ``update_state(y_true, y_pred)`` per batch and ``result()``.

``MetricTally`` runs a model's compiled metrics, of either kind, over the batches of one epoch or one
evaluation. It updates the compiled ``Metric`` objects themselves, as Keras 3.15 does (so
``m.result()`` after ``evaluate`` is its value), reset at its first batch; a run that starts while
another still counts on them (an ``evaluate`` inside a callback) leaves the other a copy of its
counts (``_claims``), so that neither mixes its counts into the other's.
"""
import copy
import functools
import numbers

import numpy as np

from .. import backend
from .._validation import check_name
from . import _claims
from .functions import BATCH_MEANS, LossMetric


class Metric:
    """The base of metrics that accumulate over batches (``Precision``, ``Recall``, ``AUC``,
    ``F1Score``, ``BinaryAccuracy``, ``RootMeanSquaredError``, ...: see ``glassnet.metrics``).

    A subclass sets ``default_name`` and writes ``reset_state``, ``update_state`` and ``result``;
    ``get_config`` returns its constructor's arguments (with ``name``), so that a model file or a
    Dask sweep can build it again. Calling a metric updates it and returns the result so far, as
    Keras' ``metric(y_true, y_pred)`` does.

    >>> from glassnet.metrics import Precision
    >>> m = Precision()
    >>> m.update_state(np.array([[1], [0]]), np.array([[0.9], [0.8]]))    # one right of two predicted
    >>> m.update_state(np.array([[1], [0]]), np.array([[0.7], [0.1]]))    # one right of one
    >>> m.result()                 # 2 true positives of 3 predicted positives (batch means: 0.75)
    0.6666666666666666
    """

    default_name = "metric"
    # "up" when higher is better, "down" when lower is: a monitoring callback left on mode="auto"
    # refuses to go the other way (callbacks.base.check_auto_mode), and a Dask sweep sorts by it;
    # None says nothing
    direction = None

    def __init__(self, name=None, dtype=None):
        self.name = check_name(name, f"{type(self).__name__}: name") or self.default_name
        check_dtype(dtype, type(self).__name__)
        self._dtype = None if dtype is None else np.dtype(dtype).name
        try:
            self.reset_state()
        except AttributeError:
            # Keras' Metric.__init__ resets nothing: a metric of yours written for Keras makes its
            # variables after super().__init__() (add_variable, the training guide's
            # CategoricalTruePositives) and its reset_state assigns them; they start as made
            if type(self).__module__.startswith("glassnet."):
                raise

    @property
    def dtype(self):
        """Keras' ``Metric.dtype``: the dtype given, else ``floatx()`` ("float32"), the dtype a
        metric of yours casts its values to (keras.io's ``F1Score``: ``ops.cast(y_true & y_pred,
        self.dtype)``). glassnet's own metrics keep their totals in float64 whatever it names."""
        return self.__dict__.get("_dtype") or backend.floatx()

    def add_variable(self, shape=(), initializer="zeros", dtype=None, aggregation="sum", name=None):
        """Keras' ``Metric.add_variable``: a ``glassnet.Variable`` of ``shape`` made by ``initializer``
        (not trainable), which ``update_state`` changes with ``assign``/``assign_add`` and
        ``result`` reads (``.value``, ``.numpy()``). ``aggregation`` (Keras' across devices): ignored."""
        from ..variables import Variable
        return Variable(initializer, shape=shape, dtype=dtype, trainable=False, name=name)

    def add_weight(self, shape=(), initializer="zeros", dtype=None, aggregation="sum", name=None):
        """Keras' ``Metric.add_weight``: ``add_variable``."""
        return self.add_variable(shape, initializer, dtype, aggregation, name)

    @property
    def __name__(self):          # read where a metric function's name would be (compile, logs)
        return self.name

    def reset_state(self):
        """Forget every batch seen."""
        raise NotImplementedError(f"{type(self).__name__} must define reset_state")

    def update_state(self, y_true, y_pred):
        """Add one batch: targets and outputs of the model's output shape, (n, k). The built-in
        metrics also take Keras' ``sample_weight=``, (n,) or per value (see ``value_weights``);
        one of your own needs it only to be named in ``compile(weighted_metrics=...)``."""
        raise NotImplementedError(f"{type(self).__name__} must define update_state")

    def result(self):
        """The metric over every batch since the last reset, as a Python float."""
        raise NotImplementedError(f"{type(self).__name__} must define result")

    def __call__(self, *args, **kwargs):
        """``update_state`` with these arguments (``(y_true, y_pred)``, with Keras'
        ``sample_weight=`` for the built-in metrics), then the result so far."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Average(Metric):
    """What the metrics that are a (weighted) mean share: a total and a count over every batch,
    and their ratio as the result (0 before any batch). ``averages_samples``: rows that are a
    tagger's steps come weighted 1 / steps (see ``_update``)."""

    averages_samples = True

    def reset_state(self):
        self.total, self.count = 0.0, 0.0

    def result(self):
        return self.total / self.count if self.count else 0.0

    def _add_weighted(self, terms, sample_weight):
        """Add per-sample (or per-position) ``terms`` (n, ...) weighted by ``sample_weight``. A
        sample's positions share its count of 1, so that weighted and unweighted batches mix as
        samples (weights of ones give the unweighted mean). One number w for the batch counts the
        batch's mean w times, as Keras reduces values to the rank of the weights (not w per sample)."""
        xp = backend.get_array_module(terms)
        if np.ndim(sample_weight) == 0:
            weight = float(value_weights(sample_weight, (1,), self.name, xp)[0])
            if terms.size:
                self.total += weight * float(terms.mean())
                self.count += weight
            return
        weights = value_weights(sample_weight, terms.shape, self.name, xp)
        per_sample = terms.size // terms.shape[0] if terms.shape[0] else 1
        self.total += float((weights * terms).sum()) / per_sample
        self.count += float(weights.sum()) / per_sample


def check_dtype(dtype, caller):
    """Keras' ``dtype`` argument of a metric (the dtype of its running totals), taken so that Keras'
    positional calls mean here what they mean there (``BinaryCrossentropy("bce", None, True)``: from
    logits). None or a float dtype; glassnet's totals stay float64 and results Python floats
    whatever it names (float32 totals would drift over a long epoch), as a Keras config's
    ``"dtype"`` is read (``metrics.get``). Anything else is refused by name."""
    if dtype is None:
        return
    try:
        kind = np.dtype(dtype).kind
    except TypeError:
        kind = None
    if kind != "f" or isinstance(dtype, bool):
        raise TypeError(f"{caller}: dtype: expected None or a float dtype such as 'float32' (Keras' dtype of "
                        f"the running totals; glassnet keeps them in float64), got {dtype!r:.60}")


def value_weights(sample_weight, shape, caller, xp=np):
    """``sample_weight`` as float64 weights of the metric's per-value ``shape`` (e.g. a confusion
    count's (n, k) outputs, a mean's (n,) per-sample values), or None for none.

    As Keras broadcasts them: a number weighs everything; an array of fewer axes is read with axes
    of size 1 added at its end ((n,) weights against (n, k) values weigh each sample's row), then
    broadcast; one axis more than the values, of size 1 ((n, 1) weights for (n,) values), is
    squeezed, as Keras' ``squeeze_or_expand_to_same_rank``. Anything else, a non-numeric, non-finite or negative weight is refused by name:
    broadcasting (n,) against (n, 1) from the left would silently make an (n, n) table.

    >>> value_weights([1, 0], (2, 3), "m").tolist()
    [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]
    """
    if sample_weight is None:
        return None
    weights = xp.asarray(sample_weight)
    if weights.dtype.kind not in "biuf":
        raise TypeError(f"{caller}: sample_weight: expected numbers, got an array of dtype {weights.dtype}")
    weights = weights.astype(np.float64)
    if weights.ndim == len(shape) + 1 and weights.ndim > 1 and weights.shape[-1] == 1:
        # Keras' squeeze_or_expand_to_same_rank: (n, 1) weights for (n,) values (a mean's per-sample
        # values, an (n,) output) are one per sample, the column form keras.io's examples use
        weights = weights[..., 0]
    fits = weights.ndim <= len(shape) and all(w in (1, s) for w, s in zip(weights.shape, shape))
    if weights.ndim and weights.shape[0] != shape[0] and weights.size > 1:
        fits = False
    if not fits:
        raise ValueError(f"{caller}: sample_weight: expected one weight per sample ({shape[0]},) or an array of "
                         f"the values' shape {tuple(shape)}, got shape {tuple(weights.shape)}")
    if not bool(xp.isfinite(weights).all()) or bool((weights < 0).any()):
        raise ValueError(f"{caller}: sample_weight: expected finite, non-negative weights")
    return xp.broadcast_to(weights.reshape(weights.shape + (1,) * (len(shape) - weights.ndim)), shape)


def metric_number(value, name):
    """A metric function's result as a number: a number as it is; an array of per-sample values
    averaged, as Keras averages what a metric function returns; anything else a TypeError naming
    the metric (None, a string: it failed later as "unsupported operand type(s) for *")."""
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        # a Python float: a NumPy float32 would keep the epoch's sum in float32
        return float(value)
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    if kind is not None and kind in "biuf" and hasattr(value, "mean") and value.size:
        return float(value.mean())             # booleans (right/wrong per sample) as 0 and 1
    raise TypeError(f"metric {name!r}: expected a number, or an array of per-sample values (averaged, as "
                    f"Keras does), got {type(value).__name__} {value!r:.80}")


class MetricTally:
    """The compiled metrics (``[(name, metric)]``) over a run of batches: ``update(y, out)`` per
    batch, ``results()`` for the values so far, in the compiled order.

    A function's value is the mean of its per-batch values, each counted as Keras 3.15's
    ``MeanMetricWrapper`` counts it (``batch_share``): glassnet's own functions, whose batch value
    is a mean over samples, and per-sample arrays by the batch's samples; one number from a
    function of your own once. A ``Metric`` gives its own ``result()``. The tally updates the
    compiled ``Metric`` objects themselves, as Keras does: it resets them when its first batch
    comes (``claim``), and a later tally taking them over leaves this one a copy of its counts
    (``_claims``), so two tallies never share counts. One object compiled twice (for two outputs)
    counts its second place on a copy, so each logs its own (Keras shares the counts there)."""

    def __init__(self, compiled):
        self.names = [name for name, _ in compiled]
        self.metrics, self.claimed, seen = [], set(), set()
        for i, (name, fn) in enumerate(compiled):
            if isinstance(fn, Metric) and id(_claims.innermost(fn)) in seen:
                fn = _fresh(fn, name)
            elif isinstance(fn, Metric):
                seen.add(id(_claims.innermost(fn)))
                self.claimed.add(i)
            self.metrics.append(fn)
        self._waiting = bool(self.claimed)      # objects to reset and take at the first batch
        # each function's own total and count: a batch counts for its samples in one, once in another
        self.sums, self.counts = [0.0] * len(compiled), [0.0] * len(compiled)

    def claim(self):
        """Reset the compiled Metric objects and count on them from now on (Keras resets them as
        a run starts); ``update`` calls it at the first batch, so that a tally made and never fed
        (``CompileMetrics`` before its step runs) leaves the objects as they are."""
        self._waiting = False
        _claims.claim(self, sorted(self.claimed))

    def release(self):
        """The values are read (fit's epoch before its validation): the objects keep them, and a
        later tally takes them without copying this one's counts."""
        _claims.release(self)

    @staticmethod
    def one_batch(compiled, y_true, y_pred, sample_weight=None, own=None, objects=False):
        """The compiled metrics' values on one batch (``train_on_batch``, ``test_on_batch``): a
        function's own value, not a mean that could change its last bit. ``sample_weight`` (n,)
        or None reaches only the metrics that weigh samples (see ``_update``); ``own``: the output
        as the model gives it, for functions of your own (see ``update``). ``objects``: the
        compiled Metric objects are reset and updated, as Keras' batch calls do; else (a trial
        run) copies are."""
        values = []
        if objects:
            tally = MetricTally(compiled)
            tally.claim()
            held = tally.metrics
        for i, (name, fn) in enumerate(compiled):
            pred = own if own is not None and sees_output_as_given(fn) else y_pred
            if isinstance(fn, Metric):
                fresh = held[i] if objects else _fresh(fn, name)
                if y_pred.shape[0]:
                    _update(fresh, y_true, pred, sample_weight)
                values.append(_number(fresh, name))
            else:
                # no row (a batch of padding alone): 0, as Keras' mean of nothing
                values.append(metric_number(fn(y_true, pred), name) if y_pred.shape[0] else 0.0)
        return values

    def update(self, y_true, y_pred, weight=None, sample_weight=None, positions=None, own=None):
        """Count one batch: the ``Metric`` objects update their counts, and each function's value
        joins the epoch's mean as ``batch_share`` counts it: by ``weight``, the batch's samples (by
        default its rows; for rows that are positions, a tagger's real steps, the caller gives
        rows / ``positions``, the positions per sample, as Keras reduces a metric per sample before
        averaging), or once for one number from a function of your own.
        ``sample_weight``: the batch's sample weights (one per row) or None, for the metrics that
        weigh samples (see ``_update``). ``own``: the output as the model gives it where the rows
        reshape it (one number per sample, (n,), scored as (n, 1) rows), which a function of your
        own is given instead, as Keras 3.15 gives it (``sees_output_as_given``)."""
        if self._waiting:       # the run's first batch: Keras reset the objects as the run began
            self.claim()
        m = y_pred.shape[0]
        if m == 0:      # a batch of padding alone has no row to count (Keras weighs it 0)
            return
        weight = m if weight is None else weight
        for i, (name, fn) in enumerate(zip(self.names, self.metrics)):
            pred = own if own is not None and sees_output_as_given(fn) else y_pred
            if isinstance(fn, Metric):
                _update(fn, y_true, pred, sample_weight, positions)
            else:
                total, count = batch_share(fn, fn(y_true, pred), name, m, weight)
                self.sums[i] += total
                self.counts[i] += count

    def results(self):
        return [_number(fn, name) if isinstance(fn, Metric) else float(self.sums[i] / self.counts[i] if self.counts[i]
                                                                         else 0.0)
                for i, (name, fn) in enumerate(zip(self.names, self.metrics))]


def sees_output_as_given(fn):
    """Whether the compiled metric ``fn`` is a function of your own (alone, in a ``functools.partial``,
    a ``MeanMetricWrapper`` or ``weighted_metrics``' wrapper), which Keras 3.15 calls on the output
    as the model gives it: an output of one number per sample reaches it as (n,) beside targets
    (n, 1), so that ``mean(abs(y_true - y_pred))`` broadcasts to (n, n) there. glassnet's own
    functions and metrics score such an output as (n, 1) rows, Keras' values for theirs (Keras'
    built-ins bring the two to one rank first: ``squeeze_or_expand_to_same_rank``)."""
    while True:
        if isinstance(fn, functools.partial):
            fn = fn.func
        elif isinstance(fn, Metric) and callable(getattr(fn, "fn", None)):        # MeanMetricWrapper
            fn = fn.fn
        elif isinstance(fn, Metric) and getattr(fn, "metric", None) is not None:  # weighted_metrics'
            fn = fn.metric
        else:
            break
    return not isinstance(fn, (Metric, LossMetric)) and not str(getattr(fn, "__module__", "")).startswith("glassnet")


def batch_share(fn, value, name, rows, weight=None):
    """``(total, count)``: what the batch value ``value`` of the compiled function ``fn`` adds to
    the epoch's sum and count, the epoch's value being their ratio. ``rows``: the batch's rows
    (the samples, or a tagger's real steps); ``weight``: what a row-wise value counts for (its
    samples, ``rows`` by default; rows / positions for a tagger's steps).

    Keras 3.15 compiles a function by ``MeanMetricWrapper``, whose ``Mean`` reduces the returned
    values to one per sample and counts their first axis: per-sample values (n,) or (n, T) count n,
    one number counts once (a PSNR of the batch's mean error: batches of 4 and 2 samples weigh
    alike). glassnet's own functions (``functions.BATCH_MEANS``, a ``LossMetric``, and a
    ``functools.partial`` of one) return a mean over the batch's samples of what Keras returns per
    sample, so they count by samples, as Keras' per-sample functions of those names do."""
    number = metric_number(value, name)
    weight = rows if weight is None else weight
    if _batch_mean(fn):
        return number * weight, weight
    shape = getattr(value, "shape", ())
    if not shape:                       # one number for the batch: counted once (Keras' num_samples = 1)
        return number, 1.0
    if shape[0] != rows:                # values of another first axis (one per class): Keras counts that axis
        return number * shape[0], float(shape[0])
    return number * weight, weight


def _batch_mean(fn):
    """Whether ``fn`` is one of glassnet's functions that return a mean over the batch's samples
    (``functools.partial(top_k_categorical_accuracy, k=3)`` included: the docs' way to set k)."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    return isinstance(fn, LossMetric) or any(fn is f for f in BATCH_MEANS)


def _update(metric, y_true, y_pred, sample_weight, positions=None):
    """``metric.update_state`` on one batch; with ``sample_weight`` for a metric that weighs
    samples (``takes_sample_weight``: one of ``weighted_metrics``, or an output's own loss in a
    model of several, which Keras logs weighted as the loss is). The others stay unweighted, as
    Keras' ``metrics=``. Rows that are a tagger's real steps (``positions`` per sample, the
    batch's padded length): a metric that averages samples (``averages_samples``) weighs each
    row 1 / positions, as Keras averages a sample's steps over the padded length, so that
    batches of several lengths weigh as Keras weighs them (their samples, not their steps)."""
    takes = getattr(metric, "takes_sample_weight", False)
    weights = sample_weight if takes else None
    if positions is not None and getattr(metric, "averages_samples", False):
        xp = backend.get_array_module(y_pred)
        weights = (xp.ones(y_pred.shape[0]) if weights is None else weights) / positions
    if weights is None and not takes:
        metric.update_state(y_true, y_pred)
    else:
        metric.update_state(y_true, y_pred, sample_weight=weights)


def _number(metric, name):
    """``metric.result()`` as a float; a TypeError naming the metric when it is not one number (an
    F1Score with average=None on several classes gives one per class, which a log cannot hold)."""
    value = metric.result()
    array = np.asarray(value) if not isinstance(value, (str, bytes)) else None
    if array is None or array.dtype.kind not in "iuf" or array.size != 1 or isinstance(value, (bool, np.bool_)):
        several = array is not None and array.dtype.kind in "iuf" and array.size > 1
        raise TypeError(f"metric {name!r}: result() must give one number, got {value!r:.80}"
                        + ("; a log holds one number per metric: give it average='macro', 'micro' or "
                           "'weighted'" if several and hasattr(metric, "average") else ""))
    return float(array.reshape(-1)[0])


def copied(metric, name, why):
    """A deep copy of ``metric`` (logged as ``name``), its counts as they stand; a metric deepcopy
    cannot copy is refused naming ``why`` a copy was needed."""
    try:
        return copy.deepcopy(metric)
    except Exception as exc:        # a lock, an open file: whatever deepcopy cannot copy
        raise TypeError(f"metric {name!r}: {why}, and copy.deepcopy failed ({type(exc).__name__}: {exc})") from exc


def _fresh(metric, name):
    """A copy of ``metric`` (logged as ``name``) with no batches seen."""
    fresh = copied(metric, name, "the check on two samples before a run (or a second place of one object in "
                                 "compile) counts on a copy of the compiled metric")
    fresh.reset_state()
    return fresh
