"""glassnet: the task's Sequential, trained with ``fit`` exactly as a user would call it.

Per-epoch time: a callback stamps the clock when training starts and at the end of every epoch, so
the time of epoch e is everything ``fit`` did between the ends of epochs e-1 and e (shuffle, batches,
loss bookkeeping, callbacks). Categorical tasks use ``categorical_crossentropy`` with one-hot targets
(made once, before ``fit``); no metrics are compiled, so nothing but the loss is computed per batch.
"""
import os
import sys
import time

from common import accuracy, epoch_seconds, one_hot, rss_mib, shared_orders

try:
    import glassnet as gn
except ImportError:     # running from a checkout without `pip install -e .`
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "src"))
    import glassnet as gn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from tasks import build_glassnet, compile_glassnet  # noqa: E402


class _EpochClock(gn.Callback):
    def on_train_begin(self, logs=None):
        self.stamps = [time.perf_counter()]

    def on_epoch_end(self, epoch, logs=None):
        self.stamps.append(time.perf_counter())


def run(task, X, y, Xt, yt, weights):
    model = build_glassnet(task, seed=task["train_seed"])
    model.set_weights(weights)
    orders = shared_orders(task)
    if orders is not None:          # fit draws one permutation per epoch from this generator
        model.shuffle_rng = orders
    compile_glassnet(model, task)
    targets = one_hot(y, task["n_classes"]) if task["loss"] == "categorical_crossentropy" else y
    rss_before = rss_mib()
    clock = _EpochClock()
    model.fit(X, targets, epochs=task["epochs"], batch_size=task["batch_size"], shuffle=True,
              verbose=0, callbacks=[clock])
    return {"epoch_seconds": epoch_seconds(clock.stamps),
            "test_accuracy": accuracy(model.predict(Xt), yt),
            "rss_after_import_mib": rss_before,
            "versions": {"glassnet": gn.__version__}, "threads": None,
            "notes": ""}
