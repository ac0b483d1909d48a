"""The batch a model's first layer receives is read-only where it may be the caller's own array
(predict, evaluate and model(x) slice it without a copy; so do fit without shuffling, and
train_on_batch), and a layer of one's own that changes its input in place (a verbatim port of Keras'
``inputs -= mean``, harmless on Keras' immutable tensors) would change the caller's data."""
import numpy as np
import pytest

import glassnet as gn


class CentreInPlace(gn.layers.Layer):
    def forward(self, x, training=False):
        x -= x.mean(axis=1, keepdims=True)
        return x

    def backward(self, grad_output):
        return grad_output


class Centre(CentreInPlace):
    def forward(self, x, training=False):
        return x - x.mean(axis=1, keepdims=True)


def _model(layer):
    model = gn.Sequential([gn.Input((3,)), layer, gn.layers.Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    return model


@pytest.mark.parametrize("call", [lambda m, x, y: m.predict(x, verbose=0), lambda m, x, y: m.evaluate(x, y, verbose=0),
                                  lambda m, x, y: m.fit(x, y, shuffle=False, verbose=0),
                                  lambda m, x, y: m.fit(x, y, batch_size=4, verbose=0),         # full batch: no shuffle
                                  lambda m, x, y: m.train_on_batch(x, y), lambda m, x, y: m(x)])
def test_a_layer_writing_into_its_input_fails_and_the_callers_data_stays(call):
    x, y = np.arange(12, dtype=np.float32).reshape(4, 3), np.zeros((4, 1), np.float32)
    kept = x.copy()
    with pytest.raises(ValueError, match="read-only"):
        call(_model(CentreInPlace()), x, y)
    np.testing.assert_array_equal(x, kept)
    # written without the in-place step, the same layer runs; the caller's array stays writeable
    call(_model(Centre()), x, y)
    assert x.flags.writeable
