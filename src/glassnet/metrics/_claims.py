"""Which run of batches counts on a compiled ``Metric`` object: the object ``compile`` was given.

Keras 3.15 updates the Metric objects given to ``compile`` themselves: fit resets them at each
epoch's start, evaluate (fit's validation too) before its batches, ``train_on_batch`` and
``test_on_batch`` before their batch, so ``m.result()`` afterwards is the last run's value (after
fit: the last epoch's validation value when it validated, else its training value). A
``MetricTally`` does the same when its first batch comes (``claim``), with one guard Keras lacks:
a run that starts while another still counts on the object (an ``evaluate`` inside a callback in
the middle of an epoch, one object compiled into two models trained at once) takes the object
over, and the earlier run goes on counting on a copy of the counts it had, so its logs stay its
own (Keras mixes the two runs' counts there).
"""
import copy
import weakref

# id(user's object) -> the tally counting on it; an entry goes when its tally does
_owners = weakref.WeakValueDictionary()


def innermost(metric):
    """The object the user compiled inside glassnet's wrappers (an output's ``OutputMetric``,
    ``weighted_metrics``' ``Weighted``): what two wrappers, or two models, may share."""
    from .base import Metric
    while isinstance(getattr(metric, "metric", None), Metric):
        metric = metric.metric
    return metric


def claim(tally, slots):
    """Make ``tally`` the run counting on the Metric objects in ``tally.metrics[slots]``: each
    taken from a run still counting on it (which gets a copy with its counts), then reset."""
    for i in slots:
        entry = tally.metrics[i]
        key = id(innermost(entry))
        owner = _owners.get(key)
        if owner is not None and owner is not tally:
            detach(owner, innermost(entry))
        _owners[key] = tally
        entry.reset_state()


def release(tally):
    """Forget that ``tally`` counts on its objects (its values are read: a later run may take
    them without copying the counts)."""
    for i in list(tally.claimed):
        key = id(innermost(tally.metrics[i]))
        if _owners.get(key) is tally:
            del _owners[key]


def detach(owner, obj):
    """Let ``owner`` go on counting on a copy of ``obj`` (as it stands) wherever it holds it."""
    for i, held in enumerate(owner.metrics):
        if i in owner.claimed and innermost(held) is obj:
            try:
                owner.metrics[i] = copy.deepcopy(held)
                owner.claimed.discard(i)
            except Exception as exc:        # a lock, an open file: whatever deepcopy cannot copy
                name = owner.names[i]
                raise TypeError(f"metric {name!r}: a run of batches started while another still counted on this "
                                f"object (an evaluate inside fit's epoch), which then counts on a copy, and "
                                f"copy.deepcopy failed ({type(exc).__name__}: {exc})") from exc
