"""Review of model.trace: it must treat the caller's data and the optimizer as train_on_batch does."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import Dense, Input, Layer


class _CentreInPlace(Layer):
    """A port of Keras' ``inputs -= mean``: changes its input in place (harmless on Keras' tensors)."""

    def forward(self, x, training=False):
        x -= x.mean(axis=0)
        return x

    def backward(self, grad_output):
        return grad_output

    def output_shape(self, input_shape):
        return input_shape


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(8, 6)).astype("float32"), (rng.random((8, 1)) > 0.5).astype("float32")


def test_trace_does_not_change_the_callers_data():
    X, y = _data()
    kept = X.copy()
    model = gn.Sequential([Input((6,)), _CentreInPlace(), Dense(1, activation="sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    with pytest.raises(ValueError, match="read-only"):     # as train_on_batch refuses it
        model.trace(X, y)
    np.testing.assert_array_equal(X, kept)


def test_trace_refuses_an_optimizer_compiled_into_another_model_by_name():
    X, y = _data()
    optimizer = gn.optimizers.SGD(0.1, momentum=0.9)
    first = gn.Sequential([Dense(3, input_dim=6), Dense(1, activation="sigmoid")], seed=0)
    first.compile(loss="binary_crossentropy", optimizer=optimizer)
    first.train_on_batch(X, y)
    # the same layout: the other model's momentum would silently give first's trace a wrong update
    second = gn.Sequential([Dense(3, input_dim=6), Dense(1, activation="sigmoid")], seed=1)
    second.compile(loss="binary_crossentropy", optimizer=optimizer)
    second.train_on_batch(X, y)
    with pytest.raises(ValueError, match="optimizer: this SGD instance was compiled into another model"):
        first.trace(X, y)
    with pytest.raises(ValueError, match="optimizer: this SGD instance was compiled into another model"):
        first.train_on_batch(X, y)


def test_trace_still_matches_train_on_batch():
    X, y = _data()
    model = gn.Sequential([Dense(4, activation="relu", input_dim=6), gn.layers.Dropout(0.3),
                           Dense(1, activation="sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", optimizer="adam")
    model.train_on_batch(X, y)
    before = [w.copy() for w in model.get_weights()]
    trace = model.trace(X, y)
    assert trace.loss == pytest.approx(float(model.train_on_batch(X, y)), abs=0)
    updates = [step for record in trace for step in record["update"].values()]
    for w, step, after in zip(before, updates, model.get_weights()):
        np.testing.assert_allclose(w + step, after, rtol=0, atol=1e-7)
