"""One model's passes, one at a time: a lock per model around the calls that run its layers.

A layer keeps what its forward pass computed on itself (its input, ``z``, ``a``, a recurrent
layer's per-step caches) for the backward pass, and returns some of it (Dense returns ``self.a``).
Two threads running the same model at once (a web server answering requests with one trained
model) would overwrite each other's caches mid-pass: wrong outputs handed to the wrong caller, or
errors from arrays of the other call's batch size. So ``fit``, ``train_on_batch``, ``evaluate``,
``test_on_batch``, ``predict``, ``predict_on_batch``, ``model(x)``, ``trace`` (the method and
``glassnet.trace.trace``) and ``glassnet.gradcheck.check_model`` each hold the model's lock while
they run: calls on one model from several threads are safe and take turns (a
``predict`` waits for a ``fit`` running in another thread to end). Different models run in
parallel as before (NumPy releases the GIL in its matrix products). The lock is re-entrant: a
callback may call ``model.predict`` from inside ``fit``.

Not covered: two models that share layer objects (a model drawn from another's layers, an encoder
and the autoencoder it is part of) have a lock each, so running both at once from two threads is
not safe; nor is calling a layer directly (``layer(x)``) while a model using it runs.

A callback of ``fit`` must not wait for another thread that runs the same model (a
``ThreadPoolExecutor`` asked for ``model.predict`` and its ``result()`` awaited): that thread waits
for the ``fit`` to end, and the ``fit`` for it. Call ``model.predict`` in the callback itself.

The locks are kept outside the models, so that pickling and ``copy.deepcopy`` see no lock, and a
copy gets a lock of its own. They are keyed by ``id(model)``, not by the model, so that a subclass
that defines ``__eq__`` (and so has no ``__hash__``) runs as before, and two models that compare
equal still have a lock each; each is dropped when its model is.
"""
import functools
import threading
import weakref

_locks = {}                   # id(model) -> its threading.RLock, dropped with the model (weakref.finalize)
_making = threading.Lock()    # two threads asking for a new model's lock get the same one


def lock_of(model):
    """The re-entrant lock of ``model``'s passes (made on first use)."""
    lock = _locks.get(id(model))
    if lock is None:
        with _making:
            lock = _locks.get(id(model))
            if lock is None:
                lock = _locks[id(model)] = threading.RLock()
                # runs as the model is freed, before its id can be another object's
                weakref.finalize(model, _locks.pop, id(model), None).atexit = False
    return lock


def serialized(method):
    """``method`` of a model, run while holding the model's lock (see the module docstring)."""
    @functools.wraps(method)
    def run(self, *args, **kwargs):
        with lock_of(self):
            return method(self, *args, **kwargs)
    return run
