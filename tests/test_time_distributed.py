"""TimeDistributed: one layer applied to every step, against Keras 3.15; weights, seeds, files, and
the refused settings. The layer contract (finite differences included) is in test_layer_contract.py."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import (LSTM, Bidirectional, Conv2D, Dense, Dropout, Flatten, MaxPooling2D,
                             TimeDistributed)

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def test_outputs_match_keras_on_frames(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(2, 3, 6, 5, 2)).astype(np.float32)          # 2 clips of 3 frames
    ours = TimeDistributed(Conv2D(4, 3, activation="relu"), seed=0)
    out = ours(x)
    theirs = keras.layers.TimeDistributed(keras.layers.Conv2D(4, 3, activation="relu"))
    theirs.build((None, 3, 6, 5, 2))
    theirs.set_weights(ours.get_weights())
    assert out.shape == (2, 3, 4, 3, 4)
    np.testing.assert_allclose(out, np.asarray(theirs(x)), rtol=1e-5, atol=1e-6)


def test_every_step_gets_the_same_layer(rng):
    x = rng.normal(size=(4, 5, 3))
    wrapped = TimeDistributed(Dense(2), dtype="float64", seed=0)
    out = wrapped(x)
    for t in range(5):
        np.testing.assert_allclose(out[:, t], x[:, t] @ wrapped.params["kernel"] + wrapped.params["bias"], rtol=1e-13)
    np.testing.assert_array_equal(wrapped.layer.get_weights()[0], wrapped.params["kernel"])    # read live


def test_a_video_model_trains_as_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(16, 3, 8, 8, 1)).astype(np.float32)
    y = (x[:, 0].mean(axis=(1, 2, 3)) > x[:, -1].mean(axis=(1, 2, 3))).astype(np.float32)
    ours = gn.Sequential([TimeDistributed(Conv2D(3, 3, activation="relu"), input_shape=(3, 8, 8, 1)),
                          TimeDistributed(MaxPooling2D(2)), TimeDistributed(Flatten()), LSTM(4),
                          Dense(1, activation="sigmoid")], seed=0)
    ours.compile("binary_crossentropy", gn.optimizers.SGD(0.2))
    theirs = keras.Sequential([keras.Input((3, 8, 8, 1)),
                               keras.layers.TimeDistributed(keras.layers.Conv2D(3, 3, activation="relu")),
                               keras.layers.TimeDistributed(keras.layers.MaxPooling2D(2)),
                               keras.layers.TimeDistributed(keras.layers.Flatten()), keras.layers.LSTM(4),
                               keras.layers.Dense(1, activation="sigmoid")])
    theirs.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(0.2))
    theirs.set_weights(ours.get_weights())
    ours.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    theirs.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_seeded_dropout_inside_saves_and_resumes(rng, tmp_path):
    x, y = rng.normal(size=(12, 4, 3)).astype(np.float32), rng.normal(size=(12, 4, 2)).astype(np.float32)

    def model():
        m = gn.Sequential([TimeDistributed(Dense(5, activation="relu"), input_shape=(4, 3)),
                           TimeDistributed(Dropout(0.3)), TimeDistributed(Dense(2))], seed=1)
        m.compile("mse", "adam")
        return m

    a, b = model(), model()
    for m in (a, b):
        m.fit(x, y, epochs=2, batch_size=4, verbose=0)
    np.testing.assert_array_equal(a.predict(x), b.predict(x))
    a.save(tmp_path / "td.npz")
    loaded = gn.load_model(tmp_path / "td.npz")
    for m in (a, loaded):
        m.fit(x, y, epochs=1, batch_size=4, verbose=0)
    np.testing.assert_array_equal(a.predict(x), loaded.predict(x))


@pytest.mark.parametrize("make, error, message", [
    (lambda: TimeDistributed("dense"), TypeError, "layer must be a glassnet Layer that is not a wrapper"),
    (lambda: TimeDistributed(Bidirectional(LSTM(2))), TypeError, "not a wrapper"),
    (lambda: TimeDistributed(Dense(2, input_shape=(3,))), ValueError, "give input_shape to the wrapper"),
    (lambda: TimeDistributed(Dense(2, seed=1)), ValueError, "wrapped layer's seed would not reach"),
    (lambda: TimeDistributed({"class_name": "TimeDistributed", "config": {}}), ValueError,
     "class_name must be a layer that is not a wrapper"),
    # (BatchNormalization is taken since session 48, step by step as Keras: tests/test_keras_args48.py)
    (lambda: gn.Sequential([TimeDistributed(gn.layers.Normalization(), input_shape=(3, 2))]), ValueError,
     "keeps state besides its trained weights"),
    (lambda: gn.Sequential([TimeDistributed(Dense(2), input_shape=(3,))]), ValueError,
     r"expected samples of shape \(steps, ...\), got \(3,\)"),
])
def test_refused_settings(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_a_wrapped_custom_layer_must_keep_its_arguments_in_its_config(tmp_path):
    class Scaled(gn.layers.Layer):                  # takes an argument, keeps Layer's get_config
        def __init__(self, factor=1.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def forward(self, x, training=False):
            return x * self.factor

        def backward(self, grad_output):
            return grad_output * self.factor

    model = gn.Sequential([TimeDistributed(Scaled(3.0), input_shape=(3, 4))])
    model.compile("mse", "sgd")
    with pytest.raises(TypeError, match=r"takes the arguments \['factor'\] but keeps Layer's get_config"):
        model.save(tmp_path / "m.npz")


def test_a_wrapped_layer_holding_a_layer_is_refused():
    class Block(gn.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = Dense(2)

    with pytest.raises(TypeError, match=r"holds the layer\(s\) \['inner'\] as attributes"):
        gn.Sequential([TimeDistributed(Block(), input_shape=(3, 4))])


def test_one_layer_cannot_serve_two_wrappers_or_a_wrapper_and_the_model():
    dense = Dense(2)
    TimeDistributed(dense)
    with pytest.raises(ValueError, match="is already wrapped, and uses that wrapper's weights"):
        TimeDistributed(dense)
    with pytest.raises(ValueError, match="is held by a wrapper"):
        gn.Sequential([dense])


def test_freezing_the_wrapped_layer_freezes_the_wrapper(rng):
    x, y = rng.normal(size=(8, 3, 4)).astype(np.float32), rng.normal(size=(8, 3, 2)).astype(np.float32)
    model = gn.Sequential([TimeDistributed(Dense(2), input_shape=(3, 4))], seed=0)
    model.compile("mse", "sgd")
    model.layers[0].layer.trainable = False
    before = model.get_weights()
    model.fit(x, y, epochs=1, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    model.layers[0].trainable = True                   # the wrapper's flag unfreezes its layer too
    assert model.layers[0].layer.trainable
    model.fit(x, y, epochs=1, verbose=0)
    assert not np.array_equal(before[0], model.get_weights()[0])


def test_sizes_and_checks_pass_through_the_steps(rng):
    from glassnet.layers import Embedding
    wrapped = TimeDistributed(Dense(6), input_shape=(5, 4))
    wrapped.build((5, 4))
    assert wrapped.matmul_flops(8) == wrapped.layer.matmul_flops(8 * 5) == 2 * 8 * 5 * 4 * 6
    assert wrapped.numbers_per_sample((5, 4)) == 5 * wrapped.layer.numbers_per_sample((4,))
    model = gn.Sequential([TimeDistributed(Embedding(10, 3), input_shape=(2, 4))], seed=0)
    with pytest.raises(ValueError, match=r"^x: indices must be in \[0, 10\)"):
        model.predict(np.full((1, 2, 4), 10))
    model.predict(np.ones((1, 2, 4)))
    assert model.layers[0].layer.needs_input_gradient is False        # a first layer's, passed on
