"""Keras 3's ``model.metrics`` for a model with steps of its own: the objects a ``train_step`` or
``test_step`` loops over, as keras.io's guide "Customizing what happens in fit()" does::

    for metric in self.metrics:
        if metric.name == "loss":
            metric.update_state(loss)
        else:
            metric.update_state(y, y_pred, sample_weight=sample_weight)
    return {m.name: m.result() for m in self.metrics}

Once compiled, Keras 3.15's ``Trainer.metrics`` is ``[Mean(name="loss"), CompileMetrics]`` (the
second only when metrics were compiled), then the Metric objects the model holds as attributes
(``own_steps.held_metrics``). ``CompileMetrics`` (``name="compile_metrics"``) updates every compiled
metric from ``(y, y_pred)``, ``sample_weight`` reaching ``weighted_metrics`` alone, and its
``result()`` is a dict ``{"mae": ...}``, which fit and evaluate flatten into the logs
(``own_steps.step_logs``, Keras' ``pythonify_logs``). Keras' default steps update the same two
objects (glassnet.default_steps), so a step mixing ``super().train_step`` and the loop sees one state.

Plain compiled models (no step of their own) keep ``model.metrics`` as compile's ``(name, metric)``
pairs; glassnet's loops read those pairs from ``model._compiled_metrics`` for every model.
"""
import numpy as np

from .metrics.base import Metric, MetricTally
from .metrics.means import Mean
from .metrics.result_value import metric_result


def lists_own_metrics(model):
    """Whether the class of ``model`` defines ``metrics`` itself (Keras' ``@property``, as its GAN
    and the guide's lower-level example do): then its list, not Keras' trackers, is
    ``model.metrics``."""
    from .model import Sequential
    return getattr(type(model), "metrics", None) is not Sequential.metrics


class CompileMetrics(Metric):
    """Keras' ``CompileMetrics``: compile's metrics of ``model`` as one Metric named
    ``"compile_metrics"``. ``update_state(y_true, y_pred, sample_weight=None)`` counts one batch:
    ``y_true`` and ``y_pred`` of the model's output shape, (n, k) (or (n,)); ``sample_weight`` (n,)
    or (n, 1), for ``weighted_metrics`` only, as in Keras. ``result()``: ``{log name: value}``;
    ``metrics``: one object per compiled metric, with its ``name`` and ``result()``.

    The counts are glassnet's ``MetricTally`` (as ordinary fit counts a batch: glassnet's own
    functions by samples, masked rows left out), made again by ``reset_state``."""

    default_name = "compile_metrics"
    built = False

    def __init__(self, model):
        self._model = model
        super().__init__(name="compile_metrics")

    def reset_state(self):
        self.source = self._model._compiled_metrics     # (a new compile gives a new list: trackers())
        self.tally = MetricTally(self.source)

    def _scored(self):
        """The indices of the compiled metrics proper: not the outputs' own losses (``a_loss``) a
        model of several outputs tallies beside them, which are Keras' ``CompileLoss`` trackers
        (``keras_metrics`` lists them after this object)."""
        return [i for i, metric in enumerate(self.tally.metrics) if not getattr(metric, "own_loss", False)]

    def names_scored(self):
        return [self.tally.names[i] for i in self._scored()]

    @property
    def metrics(self):
        # a model of several outputs: each metric under its own name ("mae"), as Keras' sub-metrics
        # are named, while result() keys them by output ("a_mae"); so Keras' evaluate list, which
        # looks these names up in the logs, lists the outputs' losses first and these after, sorted
        several = self._model._heads is not None
        return [_Tallied(self, i, self.tally.metrics[i].base if several else self.tally.names[i])
                for i in self._scored()]

    def update_state(self, y_true, y_pred, sample_weight=None):
        from ._tape_values import _plain
        self.built = True       # (Keras builds its metrics here: metrics_variables lists them from now on)
        model, names = self._model, self.names_scored()
        if not names:
            return
        what = f"{type(model).__name__}.metrics['compile_metrics']"
        if y_true is None:
            raise ValueError(f"{what}: y_true: the compiled metrics {names} compare the outputs with targets, "
                             f"got None (fit without y)")
        if model._heads is not None:        # each output's metrics with its own targets and weights
            from .default_steps import _output_metrics
            _output_metrics(model, self.tally, y_true, y_pred, sample_weight)
            return
        y_pred = _plain(y_pred)
        if not isinstance(y_pred, np.ndarray):      # Keras' forms of one output: {key: out}, [out]
            from ._tape_losses import _one_output_forms
            y_pred, y_true, sample_weight = _one_output_forms(model, y_pred, y_true, sample_weight)
            y_pred = _plain(y_pred)
        y_true = np.asarray(_plain(y_true))
        w = None if sample_weight is None else np.asarray(_plain(sample_weight))
        if w is not None and w.ndim == 2 and w.shape[1] == 1:
            w = w[:, 0]         # (n, 1), as Keras' guide makes them: one weight per sample
        if model.loss is None:
            self.tally.update(y_true, y_pred, None, w)
        else:       # scored as ordinary fit scores them (one number per sample, masked rows: _tally)
            model._tally(self.tally, y_true, y_pred, w)

    def result(self):
        results = self.tally.results()
        return {self.tally.names[i]: results[i] for i in self._scored()}

    def get_config(self):
        raise NotImplementedError("CompileMetrics is made by compile, not from a config (as in Keras)")

    def __repr__(self):
        return f"<CompileMetrics name='compile_metrics' metrics={self.tally.names}>"


class _Tallied:
    """One compiled metric inside ``CompileMetrics.metrics``: its log ``name`` and ``result()``."""

    def __init__(self, owner, index, name):
        self._owner, self._index, self.name = owner, index, name

    def result(self):
        return metric_result(self._owner.tally.results()[self._index])

    def __repr__(self):
        return f"<compiled metric {self.name!r}>"


class _Trackers:
    """Keras' ``_loss_tracker`` and ``_compile_metrics`` of one compile of a model."""

    def __init__(self, model):
        self.loss = Mean(name="loss")
        self.compiled = CompileMetrics(model)


def trackers(model):
    """The model's ``_Trackers``, made again on first use after each compile."""
    held = model.__dict__.get("_step_trackers")
    if held is None or held.compiled.source is not model._compiled_metrics:
        held = model.__dict__["_step_trackers"] = _Trackers(model)
    return held


def keras_metrics(model):
    """Keras 3.15's ``model.metrics`` of a model with steps of its own (see the module docstring):
    nothing compiled, the Metric objects it holds alone."""
    from .own_steps import held_metrics
    listed = []
    if model.optimizer is not None:         # compiled (compile always sets an optimizer)
        held = trackers(model)
        listed.append(held.loss)
        if held.compiled.names_scored():
            listed.append(held.compiled)
        # then Keras' CompileLoss trackers of a model of several outputs, each output's loss, once
        # compute_loss has called the compiled loss (default_steps.track_output_loss)
        if getattr(model.loss, "tracked", False):
            listed += [_Tallied(held.compiled, i, name) for i, (metric, name) in
                       enumerate(zip(held.compiled.tally.metrics, held.compiled.tally.names))
                       if getattr(metric, "own_loss", False)]
    return listed + held_metrics(model)
