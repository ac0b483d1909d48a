"""Hyper-parameter sweeps on Dask: every combination of a grid is trained as one Dask task.

Dask schedules and distributes the tasks -- over threads, processes, or the workers of a
``dask.distributed`` cluster; glassnet does not implement a scheduler of its own. Each task builds a
fresh model with ``build_fn(**params)``, trains it, evaluates it, and sends back plain data only
(numbers, the history and the weights as arrays): no model object crosses processes. Rebuild a model
with ``result.model()`` or ``best_model(results)``.

>>> def build(units, lr):
...     model = gn.Sequential([gn.layers.Dense(units, activation="relu", input_dim=2),
...                            gn.layers.Dense(1, activation="sigmoid")], seed=0)
...     model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(lr), metrics=["accuracy"])
...     return model
>>> results = sweep(build, {"units": [8, 32], "lr": [0.01, 0.1]}, X, y, validation_data=(Xv, yv),
...                 fit_kwargs={"epochs": 50})                 # doctest: +SKIP
>>> results[0]["params"], results[0]["metrics"]["val_loss"]    # doctest: +SKIP
>>> model = best_model(results)                                # doctest: +SKIP

Needs Dask: ``pip install 'glassnet[dask]'``.
"""
import copy
import itertools
import math
import os
import time

try:
    import dask
    import dask.base                              # named_schedulers: the scheduler names sweep takes
except ImportError as exc:                        # glassnet's core needs NumPy only
    raise ImportError("glassnet.dask needs Dask: pip install 'glassnet[dask]'") from exc

from ._validation import check_flag
from .callbacks import BackupAndRestore, CSVLogger, ModelCheckpoint, TensorBoard, TerminateOnNaN
from .callbacks.base import metric_mode, resolve_mode
from .errors import NonFiniteError
from .model import Sequential
from .outputs import target_list, weight_list
from .training import hold_out
from .weighting import combine

FIT_PREFIX = "fit__"        # grid keys with this prefix go to model.fit, the others to build_fn
OWN_ARGUMENTS = ("x", "y", "validation_data")    # sweep's arguments: not in fit_kwargs or the grid


class SweepResult(dict):
    """One combination's outcome: a plain dict, cheap to send between processes.

    Keys: ``params`` (the combination), ``metrics`` (``loss``, compiled metrics and ``val_*`` of the
    trained weights, evaluated after training), ``history`` (per-epoch lists from ``fit``),
    ``weights`` (list of arrays), ``config`` (``model.get_config()``, the graph's; its ``"compile"`` is
    None when no config can name the compile settings), ``fit_seconds``, and
    ``error`` (None, or the message when training stopped on NaN/inf; metrics are then NaN).
    """

    def model(self, build_fn=None):
        """Rebuild the trained model with its weights (compiled, ready to predict).

        From the stored config by default; a model with parts a config cannot name (a metric
        function of your own) is rebuilt by ``build_fn``, the function given to ``sweep``, called
        with this combination's parameters: ``result.model(build)``."""
        if self.get("error"):
            raise ValueError(f"the combination {self['params']} has no model: {self['error']}")
        if build_fn is not None:
            model = _build(build_fn, self["params"])
        elif self["config"].get("compile") is None:       # see _graph_config
            raise ValueError("the model cannot be rebuilt from its config (it has no compile settings: "
                             "an optimizer with a learning-rate schedule of your own has no config); pass "
                             "the sweep's build_fn: result.model(build_fn)")
        else:
            try:
                model = Sequential.from_config(self["config"])
            except ValueError as exc:
                raise ValueError(f"the model cannot be rebuilt from its config ({exc}); pass the sweep's "
                                 f"build_fn: result.model(build_fn)") from None
        if not model.built and self["config"].get("inputs"):       # a subclass of Model, drawn as the sweep's was
            shapes = [(None, *spec["shape"]) for spec in self["config"]["inputs"]]
            model.build(shapes if len(shapes) > 1 else shapes[0])
        model.set_weights(self["weights"])
        return model


def best_model(results, build_fn=None):
    """The model of the first (best) result that ``sweep`` returned, rebuilt with its weights
    (``build_fn``: see ``SweepResult.model``)."""
    if not results:
        raise ValueError("results: expected the non-empty list that sweep returned")
    return results[0].model(build_fn)


def _combinations(param_grid):
    """Every combination of ``param_grid`` (a dict of lists, or a list of such dicts), in order."""
    try:
        from sklearn.model_selection import ParameterGrid
    except ImportError:                           # the same rules without scikit-learn
        ParameterGrid = None
    grids = [param_grid] if isinstance(param_grid, dict) else param_grid
    if not isinstance(grids, (list, tuple)) or not grids or not all(isinstance(g, dict) for g in grids):
        raise TypeError(f"param_grid: expected a dict of lists (or a list of such dicts), got {param_grid!r}")
    if any(not g for g in grids):
        raise ValueError("param_grid: is empty; give at least one parameter with a list of values")
    for grid in grids:
        for key, values in grid.items():
            if isinstance(values, str) or not hasattr(values, "__len__"):
                raise TypeError(f"param_grid[{key!r}]: expected a list of values, got {values!r}")
            if not len(values):
                raise ValueError(f"param_grid[{key!r}]: has no values, so the grid has no combinations")
    if ParameterGrid is not None:
        combos = list(ParameterGrid(grids))
    else:
        combos = [dict(zip(sorted(g), values)) for g in grids
                  for values in itertools.product(*(g[k] for k in sorted(g)))]
    return combos


def _split_params(params):
    build = {k: v for k, v in params.items() if not k.startswith(FIT_PREFIX)}
    fit = {k[len(FIT_PREFIX):]: v for k, v in params.items() if k.startswith(FIT_PREFIX)}
    return build, fit


def _build(build_fn, params):
    build_params, _ = _split_params(params)
    model = build_fn(**build_params)
    if not isinstance(model, Sequential):
        raise TypeError(f"build_fn({build_params}) returned {type(model).__name__}; expected a compiled "
                        f"glassnet.Sequential")
    if model._own_steps:
        # (checked first: compiled by super().compile(), such a model has no loss, and "not
        # compiled" would be untrue) a sweep scores its compiled loss and metrics, by name
        raise ValueError(f"build_fn({build_params}) returned {type(model).__name__}, whose own train_step "
                         f"trains it; sweep scores a model's compiled loss and metrics and rebuilds it from "
                         f"its config, which such a model has not: sweep it in a loop of your own")
    if model.loss is None and getattr(model, "_deferred_compile", None) is None:     # (a subclass compiled before its draw)
        raise ValueError(f"build_fn({build_params}) returned a model that is not compiled; call "
                         f"model.compile(loss=..., optimizer=...) before returning it")
    return model


def _graph_config(model):
    """``model.get_config()`` as glassnet writes it, the network's (what ``from_config`` rebuilds): a
    subclass of Model may override ``get_config`` with its constructor's arguments (Keras' idiom),
    which no Sequential.from_config can read back.

    Compile settings no config can name (an optimizer with a learning-rate schedule of one's own)
    leave ``"compile": None``: the model trains, and ``result.model(build_fn)`` rebuilds it. A
    network that cannot be described (a custom initializer function) still raises here."""
    try:
        return model._config(with_compile=True)
    except ValueError:
        return model._config(with_compile=False)


def _metric_names(model, with_validation):
    names = ["loss", *(name for name, _ in model._compiled_metrics)]
    return names + [f"val_{n}" for n in names] if with_validation else names


def _fit_arguments(params, fit_kwargs):
    """``fit_kwargs`` with the combination's own ``fit__`` values on top, ``verbose=0`` unless given.

    A deep copy per task: under the threaded scheduler, callbacks such as EarlyStopping (given in
    fit_kwargs or in the grid, where every combination holds the same object) would otherwise be
    shared, and their state mixed, between models training at the same time."""
    return {"verbose": 0, **copy.deepcopy({**fit_kwargs, **_split_params(params)[1]})}


# the callbacks that write files, and the attribute naming where: by class, so that a subclass of
# one (a CSVLogger of your own writing more columns) writes where its base does and is checked too;
# a callback of your own writing files some other way cannot be told apart
_WRITERS = {ModelCheckpoint: "filepath", CSVLogger: "filename", TensorBoard: "log_dir"}


def _check_files_apart(combos, fit_kwargs):
    """Refuse a file-writing callback whose path two combinations share: each would overwrite the
    other's file (or mix both runs' events in one TensorBoard folder), silently, whichever
    finished last winning. A callback in ``fit_kwargs`` is every combination's, unless the grid's
    ``fit__callbacks`` gives a combination its own list, which fit then takes instead (as
    ``_fit_arguments`` merges them)."""
    seen = {}
    for params in combos:
        callbacks = {**fit_kwargs, **_split_params(params)[1]}.get("callbacks") or []   # a tuple too, as fit takes one
        for callback in callbacks:
            writer = next((cls for cls in _WRITERS if isinstance(callback, cls)), None)
            if writer is None:
                continue
            attribute = _WRITERS[writer]
            path = os.path.abspath(os.fspath(getattr(callback, attribute)))
            first = seen.setdefault(path, params)
            if first is not params:
                raise ValueError(f"sweep: {type(callback).__name__}'s {attribute} {getattr(callback, attribute)!r} "
                                 f"would be written by several combinations ({first} and {params}), each "
                                 f"overwriting the other's; give each combination its own through the grid "
                                 f"(fit__callbacks), or leave it out: each SweepResult holds its history")


def _validates(kwargs, validation_data):
    """Whether fit, called with ``kwargs``, reports val_* metrics."""
    return validation_data is not None or bool(kwargs.get("validation_split"))


def _evaluate(model, x, y, prefix, sample_weight=None):
    values = model.evaluate(x, y, sample_weight=sample_weight)
    values = values if isinstance(values, list) else [values]
    return {f"{prefix}{name}": float(v) for name, v in zip(_metric_names(model, False), values)}


def _final_metrics(model, x, y, validation_data, kwargs):
    """The trained weights evaluated as fit saw the data: the loss on the samples it trained on,
    weighted as it weighted them (``sample_weight``, ``class_weight``), and the val_* metrics on the
    validation data (``validation_data``, with its weights, or fit's ``validation_split``)."""
    w = kwargs.get("sample_weight")
    if kwargs.get("validation_split"):            # the parts fit trained and validated on
        several, given = getattr(model, "_input_shapes", None) is not None, x
        outputs = model._heads
        # a list of inputs or of targets (or a dict): split as fit splits them, packed, then as lists
        # again; the weights as fit checks them (one column per output; Keras' [w] / {name: w} for
        # one output as (n,)), and x as an array (a list of rows, Keras' [x] / {name: x} for one input)
        if outputs is not None:
            x, y = model._prepare_xy(x, y, cast=False)
            w = model._check_weights(w, x)
        elif not model._takes_text():     # (texts stay texts: evaluate turns them into ids itself)
            # the targets as fit checks them too: Keras' [y] and {name: y} of the one output (a
            # dict of one output, glassnet._dictoutputs) as the array, whose samples hold_out cuts
            x, y = model._prepare_xy(x, y, cast=False)
            w = model._check_weights(w, x)
        (x, y, w), validation_data = hold_out(x, y, w, kwargs["validation_split"])
        if several:
            x, validation_data = model._sources(x), (model._sources(validation_data[0]), *validation_data[1:])
            readers = model._text_readers
            if readers:     # an Input of texts: its texts as given (evaluate encodes them), not the ids packed here
                columns = [given[name] for name in model._feed_keys()] if isinstance(given, dict) else list(given)
                cut = len(x[0])
                x = [columns[j][:cut] if j in readers else part for j, part in enumerate(x)]
                validation_data = ([columns[j][cut:] if j in readers else part
                                    for j, part in enumerate(validation_data[0])], *validation_data[1:])
        if outputs is not None:
            xv, yv, wv = validation_data
            w, wv = weight_list(w), weight_list(wv)
            y, validation_data = target_list(y, outputs), (xv, target_list(yv, outputs), wv)
    if kwargs.get("class_weight") is not None:    # fit refuses it beside sample_weight: w is None
        _, targets = model._prepare_xy(x, y, cast=False)
        w = combine(model._class_weight_targets(targets), None, model._class_weight_table(kwargs["class_weight"]))
    metrics = _evaluate(model, x, y, "", w)
    if validation_data is not None:
        xv, yv, *wv = validation_data
        metrics.update(_evaluate(model, xv, yv, "val_", wv[0] if wv else None))
    return metrics


def _fit_one(build_fn, params, data, fit_kwargs):
    """One Dask task: build, train and evaluate one combination; return plain data only."""
    x, y, validation_data = data
    try:
        model = _build(build_fn, params)
        kwargs = _fit_arguments(params, fit_kwargs)
        start = time.perf_counter()
        try:
            history = model.fit(x, y, validation_data=validation_data, **kwargs).history
            # a TerminateOnNaN among the callbacks stopped it instead of raising: the same failure
            stopped = next((c.error for c in kwargs.get("callbacks") or ()
                            if isinstance(c, TerminateOnNaN) and c.error is not None), None)
            if stopped is not None:
                raise stopped
        except NonFiniteError as exc:             # one diverging learning rate must not sink the sweep
            names = _metric_names(model, _validates(kwargs, validation_data))
            return SweepResult(params=dict(params), metrics=dict.fromkeys(names, math.nan), history={},
                               weights=None, config=_graph_config(model),
                               fit_seconds=time.perf_counter() - start, error=str(exc))
        seconds = time.perf_counter() - start
        metrics = _final_metrics(model, x, y, validation_data, kwargs)
    except Exception as exc:        # any other error stops the sweep: say which combination it was
        exc.add_note(f"in the sweep's combination {params}")
        raise
    return SweepResult(params=dict(params), metrics=metrics, history=history, weights=model.get_weights(),
                       config=_graph_config(model), fit_seconds=seconds, error=None)


def sweep(build_fn, param_grid, X, y, validation_data=None, fit_kwargs=None, client=None, scheduler=None,
          sort_by=None, ascending=None):
    """Train one model per combination of ``param_grid`` as Dask tasks; return the results, best first.

    Parameters
    ----------
    build_fn : callable
        ``build_fn(**params) -> compiled glassnet.Sequential``; called inside each task, so it must
        build a new model (and optimizer) every time. Fix its ``seed`` for reproducible sweeps.
    param_grid : dict of str to list, or list of such dicts
        As scikit-learn's ``ParameterGrid``. Keys starting with ``"fit__"`` go to ``model.fit``
        (``{"fit__batch_size": [16, 64]}``), the others to ``build_fn``.
    X : array of shape (n_samples, *input_shape); y : targets as ``model.fit`` takes them.
    validation_data : tuple (X_val, y_val) or (X_val, y_val, sample_weight_val), optional
        Passed to ``fit`` (so the history has ``val_*`` curves) and evaluated after training.
    fit_kwargs : dict, optional
        Other ``model.fit`` arguments (``epochs``, ``batch_size``, ``callbacks``...); ``verbose=0``
        unless given. Each task gets its own deep copy, of these and of the grid's ``fit__`` values.
        The reported ``loss`` is the trained weights' on the samples fit trained on, weighted as fit
        weighted them (``sample_weight``, ``class_weight``); with ``validation_split`` the held-out
        samples give the ``val_*`` metrics, as they do in the history.
    client : dask.distributed.Client, optional
        Run on this cluster (``client.compute`` + ``client.gather``); otherwise ``dask.compute``.
    scheduler : str, optional
        Dask's local scheduler for ``dask.compute``: "threads", "processes", "synchronous"
        (None: Dask's default, or the active distributed client).
    sort_by : str, optional
        A metric key: "val_loss" when validation data is given, else "loss". Names containing
        "acc", "auc", "precision", "recall", "f1_score", "fbeta_score", "r2_score" and any metric whose
        ``direction`` is "up" (an ``AUC(name="roc_auc")``) sort descending, others (and a metric
        whose ``direction`` is "down") ascending, unless ``ascending`` says otherwise.

    Returns
    -------
    list of SweepResult, best first; failed (non-finite) combinations last. Any other error in a
    task stops the sweep and is raised, with a note naming its combination.
    """
    if not callable(build_fn) or getattr(build_fn, "is_model", False):
        raise TypeError(f"build_fn: expected a function returning a compiled model, got {build_fn!r}")
    combos = _combinations(param_grid)
    fit_kwargs = dict(fit_kwargs or {})
    clash = set(OWN_ARGUMENTS) & set(fit_kwargs)
    if clash:
        raise ValueError(f"fit_kwargs: {sorted(clash)} are sweep's own arguments; pass them to sweep")
    clash = {FIT_PREFIX + name for name in OWN_ARGUMENTS} & {key for params in combos for key in params}
    if clash:
        raise ValueError(f"param_grid: {sorted(clash)} name sweep's own arguments; pass them to sweep")
    for params in combos:
        if any(isinstance(c, BackupAndRestore) for c in _fit_arguments(params, fit_kwargs).get("callbacks") or []):
            # every combination would read, train over and delete the same backup
            raise ValueError("sweep: BackupAndRestore would share one backup folder among the combinations "
                             "(each would resume from another's backup); leave it out of a sweep")
    _check_files_apart(combos, fit_kwargs)
    validating = {_validates(_fit_arguments(params, fit_kwargs), validation_data) for params in combos}
    if len(validating) > 1:
        raise ValueError("param_grid: some combinations hold out validation data (fit__validation_split) "
                         "and others do not; their results could not be sorted on one metric")
    if client is not None and scheduler is not None:
        raise ValueError("give client or scheduler, not both")
    if isinstance(scheduler, str) and scheduler not in dask.base.named_schedulers:
        # (Dask's own error comes only after the first model is built, and names no argument)
        raise ValueError(f"scheduler: expected one of Dask's local schedulers {sorted(dask.base.named_schedulers)} "
                         f"or None, got {scheduler!r:.60}")
    # build one model here, before any task runs: a wrong build_fn or sort key fails at once; and
    # get its config as every task will after training (a custom initializer cannot be described)
    first = _build(build_fn, combos[0])
    if not first.built and callable(getattr(first, "call", None)):
        first._draw_from(X)         # a subclass of Model: drawn as fit will draw it (its metrics' names, its config)
    _graph_config(first)
    with_validation = validating.pop()
    names = _metric_names(first, with_validation)
    sort_by = sort_by or ("val_loss" if with_validation else "loss")
    if sort_by not in names:
        raise ValueError(f"sort_by: {sort_by!r} is not among the metrics this sweep reports: {names}")
    if ascending is not None:
        # any non-empty string is truthy: ascending="no" would quietly sort the best last
        ascending = check_flag(ascending, "ascending")
    else:
        # a compiled metric that says which way is better (AUC(name="roc_auc") goes up), else the
        # callbacks' rule by name: accuracy-like names, "auc", "precision", "recall" go up
        ascending = (metric_mode(first, sort_by) or resolve_mode("auto", sort_by, "sweep")) == "min"

    # the data is one graph node that every task depends on, shipped once rather than per task;
    # pure=False: no hashing of the arrays to name it
    data = dask.delayed((X, y, validation_data), traverse=False, pure=False)
    tasks = [dask.delayed(_fit_one, pure=False)(build_fn, params, data, fit_kwargs) for params in combos]
    if client is not None:
        results = client.gather(client.compute(tasks))
    else:
        results = list(dask.compute(*tasks, scheduler=scheduler))

    def key(result):
        value = result["metrics"][sort_by]
        if math.isnan(value):
            return (1, 0.0)                       # failed runs last, whatever the direction
        return (0, value if ascending else -value)
    return sorted(results, key=key)
