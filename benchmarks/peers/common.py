"""Helpers shared by the runners; NumPy only (the Keras runner may live in another venv)."""
import resource
import sys

import numpy as np


def rss_mib():
    """Peak resident set size of this process so far, MiB.

    On Linux this is VmHWM from /proc/self/status: the high-water mark of this process's own memory
    map. Not ``ru_maxrss``: Linux carries the parent's RSS over an exec into the child's
    ``ru_maxrss`` (the parent's pages at fork time count as the child's peak), so a worker started
    by a big parent would report the parent's size. Elsewhere ``ru_maxrss`` (KiB; bytes on macOS).
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def shared_orders(task):
    """The generator of the per-epoch sample orders every framework uses when ``task["order_seed"]``
    is set (None otherwise): ``numpy.random.default_rng(order_seed)``, whose ``permutation(n)`` is
    called once per epoch, as glassnet's ``fit`` does with ``model.shuffle_rng``. With it two
    frameworks see the same batches in the same order, so what differs between them is arithmetic,
    not the shuffle. (``benchmarks/seeds.py --same-order`` sets it; the timed runs never do.)"""
    seed = task.get("order_seed")
    return None if seed is None else np.random.default_rng(seed)


def epoch_seconds(stamps):
    """Per-epoch seconds from timestamps taken before training and at the end of every epoch, so that
    everything a framework does between epochs counts too."""
    return np.diff(np.asarray(stamps, dtype=np.float64)).tolist()


def accuracy(output, y_test, logits=False):
    """Test accuracy (percent) of outputs (n, k): probabilities or logits; k = 1 thresholds at
    ``threshold`` (0.5 for probabilities, 0 for logits), k > 1 takes the arg max."""
    output = np.asarray(output)
    if output.ndim == 1 or output.shape[1] == 1:
        threshold = 0.0 if logits else 0.5
        pred = (output.reshape(-1) > threshold).astype(np.int64)
    else:
        pred = output.argmax(axis=1)
    return float(100.0 * np.mean(pred == y_test))


def one_hot(y, k, dtype=np.float32):
    out = np.zeros((y.shape[0], k), dtype=dtype)
    out[np.arange(y.shape[0]), y] = 1
    return out
