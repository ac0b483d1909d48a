"""Review of glassnet.layers.Wrapper (a user's own wrapper): bugs found, each a test that fails on
the code as reviewed."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_layer
from glassnet.layers import LAYERS, Conv2D, Dense, Embedding, GlobalAveragePooling1D, Input, LSTM, Wrapper

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture
def registry():
    """LAYERS as it was before the test: the classes a test defines must not outlive it."""
    saved = dict(LAYERS)
    yield
    LAYERS.clear()
    LAYERS.update(saved)


def _scale_shift():
    class ReviewScaleShift(Wrapper):
        """layer(x) * scale + bias, per channel: two weights of the wrapper's own."""

        def build(self, input_shape):
            super().build(input_shape)
            channels = self.output_shape(input_shape)[-1]
            self.add_weight("scale", (channels,), "ones")
            self.add_weight("bias", (channels,), "ones")

        def forward(self, x, training=False):
            self.inner = self.layer.forward(x, training)
            return self.inner * self.params["scale"] + self.params["bias"]

        def backward(self, grad_output):
            axes = tuple(range(grad_output.ndim - 1))
            self.grads["scale"][...] = (grad_output * self.inner).sum(axis=axes)
            self.grads["bias"][...] = grad_output.sum(axis=axes)
            return self.layer.backward(grad_output * self.params["scale"])
    return ReviewScaleShift


class _Plain(Wrapper):
    def forward(self, x, training=False):
        return self.layer.forward(x, training)

    def backward(self, grad_output):
        return self.layer.backward(grad_output)


# 1. the wrapped layer sees the wrapper's own weights as its own --------------------------------
def test_a_conv_without_bias_does_not_read_the_wrappers_own_bias(rng, registry):
    x = rng.normal(size=(2, 5, 5, 3))
    layer = _scale_shift()(Conv2D(4, 3, use_bias=False), dtype="float64", seed=0)
    out = layer(x)
    alone = Conv2D(4, 3, use_bias=False, dtype="float64", seed=0)
    expected = alone(x) * 1.0 + 1.0         # scale 1, bias 1: added once (reviewed code: twice)
    np.testing.assert_array_equal(layer.params["kernel"], alone.params["kernel"])
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_the_wrapped_layers_weights_are_its_own_only(rng, registry):
    layer = _scale_shift()(Dense(3, use_bias=False), seed=0)
    layer(rng.normal(size=(2, 4)))
    # reviewed code: ['bias', 'kernel', 'scale'] (the wrapper's scale and bias as the Dense's)
    assert sorted(layer.layer.params) == sorted(layer.layer.grads) == ["kernel"]
    assert layer.layer.count_params() == 12
    # and it takes its own weights back, as Keras' layer.layer.set_weights([kernel])
    layer.layer.set_weights([np.ones((4, 3))])
    np.testing.assert_array_equal(layer.params["kernel"], np.ones((4, 3)))


def test_the_wrapper_own_bias_gradient_is_not_overwritten_by_the_layer(rng, registry):
    layer = _scale_shift()(Conv2D(2, 3, use_bias=False), dtype="float64", seed=0)
    report = check_layer(layer, rng.normal(size=(2, 5, 5, 3)))
    assert report["max_error"] < 1e-6


# 2. save_model does not refuse a Wrapper subclass with arguments but no get_config -------------
def test_save_refuses_a_wrapper_whose_arguments_its_config_leaves_out(rng, registry, tmp_path):
    class ReviewTimes(Wrapper):
        def __init__(self, layer, factor=2.0, **kwargs):
            super().__init__(layer, **kwargs)
            self.factor = factor

        def forward(self, x, training=False):
            return self.factor * self.layer.forward(x, training)

        def backward(self, grad_output):
            return self.layer.backward(self.factor * grad_output)

    model = gn.Sequential([Input((4,)), ReviewTimes(Dense(4), factor=3.0), Dense(1)], seed=0)
    with pytest.raises(TypeError, match=r"takes the arguments \['factor'\] but keeps Wrapper's get_config"):
        model.save(tmp_path / "m.npz")      # reviewed code: saves, and loads with factor=2.0


# 3. gradcheck.check_layer on a wrapper of an Embedding (the docs' check) -----------------------
def test_check_layer_takes_a_wrapper_of_an_embedding(rng):
    layer = _Plain(Embedding(10, 4), dtype="float64", seed=0)
    report = check_layer(layer, rng.integers(0, 10, size=(3, 5)).astype(np.float64))
    assert report["max_error"] < 1e-6


# 4. a mask reaches the wrapped recurrent layer in Keras, not here ------------------------------
def test_a_wrapped_lstm_reads_the_mask_as_in_keras(rng):
    """Keras 3.15: Embedding(mask_zero=True) -> (subclass of keras.layers.Wrapper whose call is
    self.layer(x)) around an LSTM gives the LSTM's own masked output (the mask rides on the
    tensor into the wrapped layer's call); here the wrapper drops it and the LSTM reads the
    padding as data, with a warning that says Keras does the same."""
    x = np.array([[1, 2, 3, 0, 0], [4, 5, 0, 0, 0]])
    wrapped = gn.Sequential([Input((5,)), Embedding(10, 4, mask_zero=True), _Plain(LSTM(3)), Dense(1)], seed=0)
    direct = gn.Sequential([Input((5,)), Embedding(10, 4, mask_zero=True), LSTM(3), Dense(1)], seed=0)
    direct.set_weights(wrapped.get_weights())
    np.testing.assert_allclose(wrapped.predict(x, verbose=0), direct.predict(x, verbose=0), rtol=1e-6)


def test_a_residual_lstm_after_a_masking_embedding_trains_as_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")

    class KerasResidual(keras.layers.Wrapper):
        def call(self, inputs):
            return inputs + self.layer(inputs)

    class Residual(_Plain):
        def forward(self, x, training=False):
            return x + self.layer.forward(x, training)

        def backward(self, grad_output):
            return grad_output + self.layer.backward(grad_output)

    x = np.array([[1, 2, 3, 0, 0], [4, 5, 0, 0, 0], [7, 0, 0, 0, 0]])
    y = np.array([[0.5], [-0.2], [1.0]], dtype=np.float32)
    ours = gn.Sequential([Input((5,)), Embedding(10, 4, mask_zero=True), Residual(LSTM(4, return_sequences=True)),
                          GlobalAveragePooling1D(), Dense(1)], seed=0)
    theirs = keras.Sequential([keras.Input((5,)), keras.layers.Embedding(10, 4, mask_zero=True),
                               KerasResidual(keras.layers.LSTM(4, return_sequences=True)),
                               keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1)])
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(0.1))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.1))
    ours.fit(x, y, epochs=3, batch_size=3, shuffle=False, verbose=0)
    theirs.fit(x, y, epochs=3, batch_size=3, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_a_wrapper_called_with_a_mask_hands_it_to_its_recurrent_layer(rng):
    x = rng.normal(size=(3, 5, 4)).astype(np.float32)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]], dtype=bool)
    layer = _Plain(LSTM(3), seed=0)
    out = layer(x, mask=mask)           # reviewed code: TypeError "takes no mask"
    alone = LSTM(3, seed=0)
    np.testing.assert_allclose(out, alone(x, mask=mask), rtol=1e-6)


# 5. the clash message blames the wrapped layer for the wrapper's own weight ----------------------
def test_a_weight_of_its_own_made_twice_is_not_blamed_on_the_wrapped_layer(registry):
    class ReviewTwice(_Plain):
        def build(self, input_shape):
            super().build(input_shape)
            self.add_weight("gate", (2,), "ones")
            self.add_weight("gate", (2,), "ones")
    # reviewed code: "the wrapped layer dense (Dense) has a weight named 'gate' already"
    with pytest.raises(ValueError, match=r"^layer twice \(ReviewTwice\): add_weight: the wrapper has a weight named "
                                         r"'gate' already"):
        ReviewTwice(Dense(2), name="twice").build((2,))


def test_weights_made_before_the_layer_s_come_first_as_keras_lists_them():
    """Keras lists a wrapper's own weights before the wrapped layer's; glassnet lists them in
    the order they are made, so the documented build (own weights, then super().build) gives
    Keras' order."""
    class Gated(gn.layers.Wrapper):
        def build(self, input_shape):
            self.add_weight("gate", (input_shape[-1],), "ones")
            super().build(input_shape)

        def forward(self, x, training=False):
            self.inner = self.layer.forward(x, training)
            return x + self.params["gate"] * self.inner

        def backward(self, grad_output):
            self.grads["gate"][...] = (grad_output * self.inner).sum(axis=0)
            return grad_output + self.layer.backward(grad_output * self.params["gate"])

    layer = Gated(gn.layers.Dense(3), seed=0)
    layer.build((3,))
    assert list(layer.params) == ["gate", "kernel", "bias"]
    assert [w.shape for w in layer.get_weights()] == [(3,), (3, 3), (3,)]
    assert list(layer.layer.params) == ["kernel", "bias"]
    x = np.random.default_rng(0).standard_normal((4, 3))
    assert check_layer(Gated(gn.layers.Dense(3), dtype="float64", seed=0), x)["max_error"] < 1e-6
