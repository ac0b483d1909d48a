"""Windows of a time series as batches for sequence models: Keras'
``timeseries_dataset_from_array``, as a ``PyDataset`` that cuts each batch's windows from the
series when the batch is read, so the windows (each step of the series copied into many of them)
are never all in memory at once.

Window ``i`` starts at step ``start_index + s`` for the i-th start ``s`` in ``0, stride, 2 stride,
...`` and holds ``sequence_length`` steps ``sampling_rate`` apart; its target is ``targets[start_index
+ s]`` (Keras' convention: to forecast ``k`` steps ahead, pass the targets shifted, e.g.
``targets=series[sequence_length + k - 1:]``).
"""
import numbers

import numpy as np

from ._validation import check_shuffle_seed
from .feeding import PyDataset


def _count(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"timeseries_dataset_from_array: {name} must be an integer >= {minimum}, got {value!r:.40}")
    return int(value)


class TimeseriesDataset(PyDataset):
    """The batches of ``timeseries_dataset_from_array``: ``(windows, targets)`` with windows of shape
    (batch, sequence_length, *data.shape[1:]), or the windows alone without targets. ``starts``
    holds each window's first step (relative to ``start_index``), in the order they are served."""

    def __init__(self, data, targets, sequence_length, sequence_stride=1, sampling_rate=1, batch_size=128,
                 shuffle=False, seed=None, start_index=None, end_index=None):
        super().__init__()
        data = np.asarray(data)
        if data.ndim < 1 or data.dtype.kind not in "biuf":
            raise ValueError(f"timeseries_dataset_from_array: data must be an array of numbers with the time "
                             f"steps first, got dtype {data.dtype} and shape {data.shape}")
        n = len(data)
        self.sequence_length = _count(sequence_length, "sequence_length")
        self.sampling_rate = _count(sampling_rate, "sampling_rate")
        stride = _count(sequence_stride, "sequence_stride")
        if batch_size is None:
            raise ValueError("timeseries_dataset_from_array: batch_size must be an integer >= 1 (glassnet serves "
                             "batches; Keras' None, one window at a time, is batch_size=1)")
        self.batch_size = _count(batch_size, "batch_size")
        if self.sampling_rate >= n or stride >= n:
            raise ValueError(f"timeseries_dataset_from_array: sampling_rate ({self.sampling_rate}) and "
                             f"sequence_stride ({stride}) must be lower than the length of the data ({n})")
        start = 0 if start_index is None else _count(start_index, "start_index", 0)
        end = n if end_index is None else _count(end_index, "end_index", 0)
        if not start < end <= n:
            raise ValueError(f"timeseries_dataset_from_array: expected 0 <= start_index < end_index <= {n} (the "
                             f"length of the data), got start_index={start_index}, end_index={end_index}")
        windows = end - start - (self.sequence_length - 1) * self.sampling_rate
        if targets is not None:
            targets = np.asarray(targets)
            if targets.ndim < 1:
                raise ValueError("timeseries_dataset_from_array: targets must be an array with one target per "
                                 "time step, got a scalar")
            windows = min(windows, len(targets) - start)
        if windows <= 0:
            raise ValueError(f"timeseries_dataset_from_array: no window fits: {end - start} steps (from "
                             f"start_index {start} to end_index {end}) hold no window of sequence_length "
                             f"{self.sequence_length} at sampling_rate {self.sampling_rate}"
                             + (" with a target" if targets is not None else ""))
        self.data = data[start:end]
        self.targets = None if targets is None else targets[start:end]
        self.starts = np.arange(0, windows, stride)
        if shuffle:     # Keras' first shuffle, the same order (see timeseries_dataset_from_array)
            seed = check_shuffle_seed(seed, "timeseries_dataset_from_array")
            np.random.RandomState(np.random.randint(1e6) if seed is None else seed).shuffle(self.starts)
        self._offsets = np.arange(self.sequence_length) * self.sampling_rate
        # made without shuffle=True, fit reads the batches in order, as Keras' fit reads the
        # tf.data Dataset Keras returns (glassnet.feeding)
        self.served_in_order = not shuffle

    def __len__(self):
        return -(-len(self.starts) // self.batch_size)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"TimeseriesDataset: batch {index} of {len(self)}")
        starts = self.starts[index * self.batch_size:(index + 1) * self.batch_size]
        windows = self.data[starts[:, None] + self._offsets]         # (batch, sequence_length, ...)
        return windows if self.targets is None else (windows, self.targets[starts])


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1, sampling_rate=1,
                                  batch_size=128, shuffle=False, seed=None, start_index=None, end_index=None):
    """Keras' ``timeseries_dataset_from_array``: sliding windows over ``data`` (steps first, (n,)
    or (n, features)) as a ``TimeseriesDataset`` for ``fit``, ``evaluate`` and ``predict``; the
    same windows, targets and batches as Keras' without shuffling, which ``fit`` reads in that order
    whatever its ``shuffle``, as Keras' fit reads the tf.data Dataset Keras returns (where ``targets`` are shorter
    than the data past ``start_index``, the windows without a target are left out; Keras fails
    while reading them). ``shuffle=True`` orders the
    windows as Keras first does (``numpy.random.RandomState(seed)``), once: which windows share a
    batch is then fixed, and ``fit(shuffle=True)`` shuffles the order of the batches each epoch
    with the model's seed, so that ``BackupAndRestore`` resumes a run exactly. (Keras shuffles the
    windows again inside TensorFlow at every epoch, draws NumPy cannot reproduce.)

    >>> import numpy as np
    >>> series = np.arange(10.0)
    >>> batches = timeseries_dataset_from_array(series, series[3:], sequence_length=3, batch_size=4)
    >>> x, y = batches[0]
    >>> x.tolist(), y.tolist(), len(batches)
    ([[0.0, 1.0, 2.0], [1.0, 2.0, 3.0], [2.0, 3.0, 4.0], [3.0, 4.0, 5.0]], [3.0, 4.0, 5.0, 6.0], 2)
    """
    return TimeseriesDataset(data, targets, sequence_length, sequence_stride, sampling_rate, batch_size,
                             shuffle, seed, start_index, end_index)
