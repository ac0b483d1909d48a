"""timeseries_dataset_from_array: Keras' windows, targets and batches (Keras 3.15 as the oracle),
its shuffling, its refusals, and a forecaster trained on it as on the same windows in arrays."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.utils import timeseries_dataset_from_array

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SETTINGS = [dict(sequence_length=5), dict(sequence_length=4, sequence_stride=3, sampling_rate=2, batch_size=7),
            dict(sequence_length=6, start_index=5, end_index=40, batch_size=4),
            dict(sequence_length=3, sequence_stride=2, batch_size=10, no_targets=True)]


def _batches(dataset):
    return [dataset[i] if isinstance(dataset[i], tuple) else (dataset[i],) for i in range(len(dataset))]


@pytest.mark.parametrize("settings", SETTINGS, ids=str)
def test_the_windows_targets_and_batches_are_keras(settings, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    settings = dict(settings)
    targets = None if settings.pop("no_targets", False) else rng.normal(size=50).astype(np.float32)
    data = rng.normal(size=(50, 3)).astype(np.float32)
    theirs = [tuple(np.asarray(a) for a in batch) if isinstance(batch, tuple) else (np.asarray(batch),)
              for batch in keras.utils.timeseries_dataset_from_array(data, targets, **settings)]
    ours = _batches(timeseries_dataset_from_array(data, targets, **settings))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


def test_windows_by_hand():
    series = np.arange(20.0)
    dataset = timeseries_dataset_from_array(series[:, None], series[4:], sequence_length=4, sampling_rate=2,
                                            sequence_stride=5, batch_size=2)
    x, y = dataset[0]
    np.testing.assert_array_equal(x[:, :, 0], [[0, 2, 4, 6], [5, 7, 9, 11]])
    np.testing.assert_array_equal(y, [4, 9])            # targets[start]: here series[start + 4]
    assert len(dataset) == 2 and dataset[1][0].shape == (1, 4, 1)   # starts 0, 5, 10 (10 + 6 = 16 < 20)
    # targets that end before the data past start_index: the windows without one are left out
    late = timeseries_dataset_from_array(series, series[5:], sequence_length=5, batch_size=8, start_index=14)
    assert late.starts.tolist() == [0] and late[0][1].tolist() == [19.0]


def test_shuffling_orders_the_windows_as_keras_first_does_once():
    series = np.arange(40.0)
    dataset = timeseries_dataset_from_array(series, series, sequence_length=3, batch_size=8, shuffle=True, seed=7)
    expected = np.arange(38)
    np.random.RandomState(7).shuffle(expected)
    np.testing.assert_array_equal(dataset.starts, expected)
    first = np.concatenate([y for _, y in _batches(dataset)])
    dataset.on_epoch_end()           # nothing of its own to draw: fit shuffles the batches (resumable)
    np.testing.assert_array_equal(np.concatenate([y for _, y in _batches(dataset)]), first)
    assert sorted(first) == list(range(38))
    again = timeseries_dataset_from_array(series, series, sequence_length=3, batch_size=8, shuffle=True, seed=7)
    np.testing.assert_array_equal(again.starts, expected)


def test_a_forecaster_trains_on_the_windows_as_on_the_same_windows_in_arrays():
    t = np.arange(400, dtype=np.float32)
    series = np.sin(t / 8.0)[:, None]                    # (steps, 1 feature)
    length = 16
    dataset = timeseries_dataset_from_array(series, series[length:, 0], sequence_length=length, batch_size=32)
    x = np.stack([series[s:s + length] for s in range(len(series) - length)])
    y = series[length:, 0]

    def model():
        m = gn.Sequential([gn.layers.LSTM(8, input_shape=(length, 1)), gn.layers.Dense(1)], seed=0)
        m.compile("mse", gn.optimizers.Adam(0.01))
        return m

    streamed, arrays = model(), model()
    history = streamed.fit(dataset, epochs=4, shuffle=False, verbose=0).history
    assert history == arrays.fit(x, y, epochs=4, batch_size=32, shuffle=False, verbose=0).history
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    inputs = timeseries_dataset_from_array(series, None, sequence_length=length, batch_size=50)
    np.testing.assert_array_equal(streamed.predict(inputs)[:len(x)], arrays.predict(np.concatenate(
        [x, series[None, -length:]]), batch_size=50)[:len(x)])


@pytest.mark.parametrize("kwargs, message", [
    (dict(sequence_length=0), "sequence_length must be an integer >= 1, got 0"),
    (dict(sequence_length=3, sampling_rate=10), r"sampling_rate \(10\) and sequence_stride \(1\) must be lower"),
    (dict(sequence_length=3, batch_size=None), "batch_size must be an integer >= 1"),
    (dict(sequence_length=3, start_index=6, end_index=4), "expected 0 <= start_index < end_index <= 10"),
    (dict(sequence_length=11), "no window fits: 10 steps"),
    (dict(sequence_length=2.5), "sequence_length must be an integer"),
])
def test_bad_settings_are_refused_naming_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        timeseries_dataset_from_array(np.arange(10.0), None, **kwargs)
    with pytest.raises(ValueError, match="data must be an array of numbers"):
        timeseries_dataset_from_array(np.array(["a", "b"]), None, 1)
