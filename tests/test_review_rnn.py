"""Review of the recurrent layers: SimpleRNN's arguments by position land where Keras 3.15 puts
them, and sequences of no steps are refused by name."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import GRU, LSTM, RNN, Bidirectional, GRUCell, LSTMCell, SimpleRNN

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Keras 3.15's SimpleRNN by position: ..., bias_regularizer, activity_regularizer, kernel_constraint, ...
POSITIONAL = (4, "tanh", True, "glorot_uniform", "orthogonal", "zeros", None, None, None, None, "non_neg", None,
              "max_norm", 0.25, 0.5, True, True, True)


def test_simple_rnn_arguments_by_position_are_keras():
    layer = SimpleRNN(*POSITIONAL)
    assert type(layer.kernel_constraint).__name__ == "NonNeg"        # was the recurrent kernel's
    assert layer.recurrent_constraint is None
    assert type(layer.bias_constraint).__name__ == "MaxNorm"
    assert (layer.dropout, layer.recurrent_dropout) == (0.25, 0.5)
    assert layer.return_sequences and layer.return_state and layer.go_backwards and not layer.stateful
    assert type(SimpleRNN(4, "tanh", True, "glorot_uniform", "orthogonal", "zeros", None, None, None,
                          "l2").activity_regularizer).__name__ == "L2"
    # and the same settings, by keyword, as Keras reads them by position
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    theirs = keras.layers.SimpleRNN(*POSITIONAL)
    assert type(theirs.cell.kernel_constraint).__name__ == "NonNeg" and theirs.cell.recurrent_constraint is None
    assert (theirs.cell.dropout, theirs.cell.recurrent_dropout) == (layer.dropout, layer.recurrent_dropout)
    assert (theirs.return_sequences, theirs.return_state, theirs.go_backwards) == (True, True, True)


def test_a_sequence_of_no_steps_is_refused_by_name():
    x = np.ones((2, 0, 3))
    for make in (lambda: SimpleRNN(3), lambda: LSTM(3), lambda: GRU(3, return_sequences=True),
                 lambda: Bidirectional(LSTM(3)), lambda: RNN(LSTMCell(3)), lambda: RNN([GRUCell(2), LSTMCell(3)])):
        with pytest.raises(ValueError, match="at least one step"):
            make()(x)
    built = LSTM(3)
    built(np.ones((2, 4, 3)))
    with pytest.raises(ValueError, match=r"at least one step, got samples of shape \(0, 3\)"):
        built(x)


def test_bidirectional_arguments_by_position_are_keras():
    # Keras 3.15: Bidirectional(layer, merge_mode, weights, backward_layer): initial weights third
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    import inspect
    assert list(inspect.signature(keras.layers.Bidirectional).parameters)[:4] == \
        ["layer", "merge_mode", "weights", "backward_layer"]
    # the third, initial weights, is taken since session 47 (set once built: tests/test_keras_args47.py)
    weights = [np.full(shape, k, dtype="float32") for k, shape in enumerate([(2, 12), (3, 12), (12,)] * 2)]
    model = gn.Sequential([gn.Input((5, 2)), Bidirectional(LSTM(3), "concat", weights)])
    for got, want in zip(model.layers[0].get_weights(), weights):
        np.testing.assert_array_equal(got, want)
    # the fourth is backward_layer, taken since session 46 (tests/test_keras_args46.py)
    assert Bidirectional(LSTM(3), "concat", None, LSTM(3, go_backwards=True)).own_backward_layer
    assert Bidirectional(LSTM(3), "sum", None, None).merge_mode == "sum"
