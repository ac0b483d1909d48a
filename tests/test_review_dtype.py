"""Review of the dtype contract (float32 by default, no silent float64 on the training step's hot
path): one training step of a configuration, watched by a tracer that records every float64 array
held by a glassnet frame (a local or a return value), or the dtype of the gradient a layer receives."""
import os
import sys

import numpy as np

import glassnet as gn
from glassnet import layers as L

SRC = os.path.dirname(os.path.abspath(gn.__file__))


def float64_arrays(step, min_size):
    """Run ``step()`` and return ``{(file, function, name): shape}`` of the float64 arrays of at
    least ``min_size`` numbers that any glassnet function held in a local or returned."""
    found = {}

    def local(frame, event, arg):
        if event in ("line", "return"):
            values = list(frame.f_locals.items()) + ([("<return>", arg)] if event == "return" else [])
            for name, value in values:
                if isinstance(value, np.ndarray) and value.dtype == np.float64 and value.size >= min_size:
                    found[(os.path.relpath(frame.f_code.co_filename, SRC), frame.f_code.co_name, name)] = value.shape
        return local

    def calls(frame, event, arg):
        return local if frame.f_code.co_filename.startswith(SRC) else None

    previous = sys.gettrace()
    sys.settrace(calls)
    try:
        step()
    finally:
        sys.settrace(previous)
    return found


def test_equalization_in_fit_makes_no_image_sized_float64(rng):
    # the lookup read a float64 table, so each batch's equalized images were float64 (n, c, h*w),
    # then cast back: an image-sized float64 array per batch of a float32 model
    x = rng.uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    y = np.array([0, 1])
    model = gn.Sequential([gn.Input((32, 32, 3)), L.Equalization(), L.Rescaling(1 / 255), L.Flatten(),
                           L.Dense(2, activation="softmax")], seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    model.train_on_batch(x, y)
    found = float64_arrays(lambda: model.train_on_batch(x, y), min_size=x.size // 2)
    assert found == {}
    # the values are Keras' whole levels as before (the table holds integers 0..255)
    out = model.layers[0].forward(x, training=True)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.round(out))
    x64 = x.astype(np.float64)
    np.testing.assert_array_equal(L.Equalization(dtype="float64").forward(x64, training=True), out)


class _Recorder(gn.Layer):
    """The identity, recording the dtype of the gradient it is handed."""

    seen = []

    def forward(self, x, training=False):
        return x

    def backward(self, grad_output):
        self.seen.append(grad_output.dtype)
        return grad_output


class _Float64GradientLoss(gn.Loss):
    """Mean squared error whose gradient divides by a np.float64 count: float64 under NumPy 2."""

    name = "float64_gradient_mse"

    def __call__(self, y_pred, y_true):
        return float(np.mean((y_pred - y_true) ** 2))

    def gradient(self, y_pred, y_true):
        return 2 * (y_pred - y_true) / np.float64(y_pred.size)


def test_a_float64_loss_gradient_does_not_run_the_backward_pass_in_float64(rng):
    x = rng.normal(size=(8, 6, 6, 2)).astype(np.float32)
    y = rng.normal(size=(8, 2)).astype(np.float32)
    recorder = _Recorder()
    recorder.seen = []
    model = gn.Sequential([gn.Input((6, 6, 2)), L.Conv2D(3, 3), recorder, L.BatchNormalization(), L.Flatten(),
                           L.Dense(2)], seed=0)
    model.compile(loss=_Float64GradientLoss(), optimizer="sgd")
    before = model.get_weights()
    model.train_on_batch(x, y)
    assert recorder.seen == [np.float32]
    assert all(g.dtype == np.float32 for layer in model.layers for g in layer.grads.values())
    # the same step as the float32 mse gives (2 (p - y) / size, up to rounding)
    twin = gn.Sequential([gn.Input((6, 6, 2)), L.Conv2D(3, 3), L.BatchNormalization(), L.Flatten(), L.Dense(2)],
                         seed=0)
    twin.compile(loss="mse", optimizer="sgd")
    twin.set_weights(before)
    twin.train_on_batch(x, y)
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_float64_model_keeps_float64_gradients(rng):
    # the cast is to the model's dtype: a float64 model's custom gradient stays float64
    x = rng.normal(size=(8, 4))
    y = rng.normal(size=(8, 2))
    recorder = _Recorder()
    recorder.seen = []
    model = gn.Sequential([gn.Input((4,)), L.Dense(3), recorder, L.Dense(2)], seed=0, dtype="float64")
    model.compile(loss=_Float64GradientLoss(), optimizer="sgd")
    model.train_on_batch(x, y)
    assert recorder.seen == [np.float64]
