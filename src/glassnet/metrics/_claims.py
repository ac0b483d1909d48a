"""Which run of batches counts on a compiled ``Metric`` object: the object ``compile`` was given.

Keras 3.15 updates the Metric objects given to ``compile`` themselves: fit resets them at each
epoch's start, evaluate (fit's validation too) before its batches, ``train_on_batch`` and
``test_on_batch`` before their batch, so ``m.result()`` afterwards is the last run's value (after
fit: the last epoch's validation value when it validated, else its training value). A
``MetricTally`` does the same when its first batch comes (``claim``), with one guard Keras lacks:
a run that starts while another still counts on the object (an ``evaluate`` inside a callback in
the middle of an epoch, one object compiled into two models trained at once) takes the object
over, and the earlier run goes on counting on a copy of the counts it had, so its logs stay its
own (Keras mixes the two runs' counts there). A run in another thread that still counts on the
object (a Dask sweep on threads whose build function compiles one object into each model) is not
taken over: the new run counts on a fresh copy instead, as every run did before, since neither
could otherwise know the other's batches (resets and updates interleave between threads).
"""
import threading
import weakref

# id(user's object) -> the tally counting on it; an entry goes when its tally does
_owners = weakref.WeakValueDictionary()
_lock = threading.Lock()        # one thread at a time looks up and sets an object's owner


def innermost(metric):
    """The object the user compiled inside glassnet's wrappers (an output's ``OutputMetric``,
    ``weighted_metrics``' ``Weighted``): what two wrappers, or two models, may share."""
    from .base import Metric
    while isinstance(getattr(metric, "metric", None), Metric):
        metric = metric.metric
    return metric


def claim(tally, slots):
    """Make ``tally`` the run counting on the Metric objects in ``tally.metrics[slots]``: each
    taken from a run still counting on it (which gets a copy with its counts), then reset; one
    that a run in another live thread counts on is left to it (``tally`` counts on a fresh copy)."""
    from .base import _fresh
    here = threading.current_thread()
    with _lock:
        tally.thread = here
        for i in slots:
            entry = tally.metrics[i]
            key = id(innermost(entry))
            owner = _owners.get(key)
            if owner is not None and owner is not tally and owner.thread is not here and owner.thread.is_alive():
                # (resetting or copying it here would cut into the other thread's batches)
                tally.metrics[i] = _fresh(entry, tally.names[i])
                tally.claimed.discard(i)
                continue
            if owner is not None and owner is not tally:
                detach(owner, innermost(entry))
            _owners[key] = tally
            entry.reset_state()


def release(tally):
    """Forget that ``tally`` counts on its objects (its values are read: a later run may take
    them without copying the counts)."""
    with _lock:
        for i in list(tally.claimed):
            key = id(innermost(tally.metrics[i]))
            if _owners.get(key) is tally:
                del _owners[key]


def detach(owner, obj):
    """Let ``owner`` go on counting on a copy of ``obj`` (as it stands) wherever it holds it."""
    from .base import copied
    for i, held in enumerate(owner.metrics):
        if i in owner.claimed and innermost(held) is obj:
            owner.metrics[i] = copied(held, owner.names[i], "a run of batches started while another still counted "
                                      "on this object (an evaluate inside fit's epoch), which then counts on a copy")
            owner.claimed.discard(i)
