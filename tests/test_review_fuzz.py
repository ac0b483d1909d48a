"""Constructor arguments fuzzed one at a time (fuzz_harness.py): the bad values that failed in
words naming another argument, in NumPy's or Python's words, or were taken silently. Each error
must name the argument it is about."""
import io

import numpy as np
import pytest

import glassnet as gn
from glassnet import callbacks, layers, metrics


@pytest.mark.parametrize("cls", ["ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"])
@pytest.mark.parametrize("value", ["bogus", 0, [1, 2, 3]])
def test_conv_lstm_names_recurrent_activation_not_activation(cls, value):
    # the error said "activation: expected one of ...", the argument that was valid
    with pytest.raises(ValueError, match=rf"^{cls}: recurrent_activation: expected one of"):
        getattr(layers, cls)(2, 2, recurrent_activation=value)


@pytest.mark.parametrize("make", [
    lambda name: metrics.PearsonCorrelation(name=name),
    lambda name: metrics.ConcordanceCorrelation(name=name),
    lambda name: metrics.MeanMetricWrapper(lambda y, p: y, name=name),
], ids=["PearsonCorrelation", "ConcordanceCorrelation", "MeanMetricWrapper"])
@pytest.mark.parametrize("name", [0, [], "", np.array([1, 2])], ids=["0", "[]", "''", "array"])
def test_a_falsy_metric_name_is_refused_not_replaced(make, name):
    # "name or default" took 0, [] and "" as no name, and an array failed in NumPy's words
    with pytest.raises(ValueError, match=r": name: expected a non-empty string"):
        make(name)


def test_metric_default_names_are_kept():
    assert metrics.PearsonCorrelation().name == "pearson_correlation"
    assert metrics.ConcordanceCorrelation(name="ccc").name == "ccc"

    def mse(y, p):
        return (y - p) ** 2
    assert metrics.MeanMetricWrapper(mse).name == "mse"


@pytest.mark.parametrize("kwargs,error,match", [
    ({"verbose": "bogus"}, ValueError, r"^verbose: expected 0, 1, 2 or 'auto'"),
    ({"verbose": np.array([1, 2])}, ValueError, r"^verbose: expected"),
    ({"verbose": 0}, ValueError, r"^ProgressBar: verbose: expected 1 .* or 2"),
    ({"width": 1.5}, ValueError, r"^ProgressBar: width: expected a positive integer, got 1.5"),
    ({"width": 0}, ValueError, r"^ProgressBar: width: expected a positive integer"),
    ({"stream": "log.txt"}, TypeError, r"^ProgressBar: stream: expected a file-like object .* got str"),
], ids=["verbose-str", "verbose-array", "verbose-0", "width-1.5", "width-0", "stream-str"])
def test_progress_bar_checks_its_arguments(kwargs, error, match):
    # each was taken, and failed at the first epoch's end in Python's words or drew nothing
    with pytest.raises(error, match=match):
        callbacks.ProgressBar(**kwargs)


def test_progress_bar_with_good_arguments_still_draws():
    stream = io.StringIO()
    model = gn.Sequential([layers.Dense(1, input_dim=2)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    model.fit(np.ones((4, 2), "float32"), np.ones((4, 1), "float32"), epochs=1, verbose=0,
              callbacks=[callbacks.ProgressBar(np.int64(2), stream=stream, width=np.int64(10))])
    assert stream.getvalue().startswith("Epoch 1/1 - ")


def test_fit_verbose_array_is_named():
    # check_verbose compared the array with "auto" first: NumPy's "truth value ... is ambiguous"
    model = gn.Sequential([layers.Dense(1, input_dim=2)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(ValueError, match=r"^verbose: expected 0, 1, 2 or 'auto', got array"):
        model.fit(np.ones((4, 2), "float32"), np.ones((4, 1), "float32"), verbose=np.array([1, 2]))


@pytest.mark.parametrize("vocabulary", [-1, 0, 5, np.int64(3)], ids=["-1", "0", "5", "np.int64"])
def test_integer_lookup_refuses_a_lone_value_as_vocabulary(vocabulary):
    # taken as a vocabulary of one value (-1, the OOV token, as one of none)
    with pytest.raises(ValueError, match=r"^IntegerLookup: vocabulary must be a list of integers or a path"):
        layers.IntegerLookup(vocabulary=vocabulary)


def test_integer_lookup_still_takes_lists_and_arrays():
    assert layers.IntegerLookup(vocabulary=np.array([4, 5])).get_vocabulary() == [-1, 4, 5]
    assert layers.IntegerLookup(vocabulary=[3]).get_vocabulary() == [-1, 3]


@pytest.mark.parametrize("sampling_rate", [1, 1.5, 30])
def test_mel_spectrogram_says_max_freq_came_from_sampling_rate(sampling_rate):
    # "max_freq must be a finite number > 0, got 0" named an argument that was not given
    with pytest.raises(ValueError, match=rf"^MelSpectrogram: max_freq \(int\(sampling_rate / 2\) for "
                                         rf"sampling_rate={sampling_rate}, as max_freq=None gives\) must be"):
        layers.MelSpectrogram(fft_length=16, sampling_rate=sampling_rate)


def test_mel_spectrogram_given_max_freq_keeps_its_message():
    with pytest.raises(ValueError, match=r"^MelSpectrogram: max_freq must be above min_freq=20.0, got 5.0"):
        layers.MelSpectrogram(fft_length=16, sampling_rate=100, max_freq=5)
