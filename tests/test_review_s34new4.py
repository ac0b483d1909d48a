"""Review s34new4: merging layers of your own (one input or several) in a model's backward walk."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L


class _ForgetsOne(gn.Layer):
    """[a, b] (batch, d) each -> a * b; its backward wrongly returns a's gradient alone."""
    merges = True

    def output_shape(self, input_shape):
        return tuple(input_shape[0])

    def forward(self, xs, training=False):
        self.a, self.b = xs
        return self.a * self.b

    def backward(self, grad_output):
        return [grad_output * self.b]


class _ArrayNotList(gn.Layer):
    """[x] (batch, d) -> x ** 2; its backward wrongly returns the array, not a list of one."""
    merges = True

    def output_shape(self, input_shape):
        return tuple(input_shape[0])

    def forward(self, xs, training=False):
        self.x = xs[0]
        return self.x ** 2

    def backward(self, grad_output):
        return 2 * self.x * grad_output


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(8, 3)), rng.normal(size=(8, 1))


def test_merge_returning_too_few_gradients_is_refused_not_silently_untrained():
    # zip(parents, grads) dropped b's branch: its Dense never learned, with no error
    x = gn.Input((3,))
    merged = _ForgetsOne(name="forgets")([L.Dense(3)(x), L.Dense(3)(x)])
    model = gn.Model(x, L.Dense(1)(merged), seed=0, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(TypeError, match=r"forgets\.backward must return a list of 2 .*got a list of 1"):
        model.fit(*_data(), epochs=1, verbose=0)


def test_merge_of_one_returning_an_array_names_the_layer():
    # the array's rows were taken for the inputs' gradients: a NumPy shape error far from the cause
    x = gn.Input((3,))
    model = gn.Model(x, L.Dense(1)(_ArrayNotList(name="squares")([L.Dense(3)(x)])), seed=0, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(TypeError, match=r"squares\.backward must return a list of 1 .*got a ndarray of shape"):
        model.fit(*_data(), epochs=1, verbose=0)
