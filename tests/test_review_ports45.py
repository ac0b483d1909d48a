"""keras.io examples ported to glassnet beside Keras 3.15, the same weights and data (review ports45):
"Customizing the convolution operation of a Conv2D layer" (StandardizedConv2D), "Trainer pattern",
"Standalone Mixture-of-Experts (MoE) Layers" (DenseMoE, Conv2DMoE), "Memory-efficient embeddings
for recommendation systems" (QREmbedding, MDEmbedding): what the ports met."""
import warnings

import numpy as np
import pytest

import glassnet as gn


# -- Customizing the convolution operation of a Conv2D layer ------------------------------------------

def test_a_convolution_op_override_is_refused_rather_than_silently_ignored():
    # keras.io's StandardizedConv2DWithOverride overrides Conv2D.convolution_op; glassnet's Conv2D
    # computes in forward and never called it, so the layer convolved with the raw kernel, silently
    with pytest.raises(TypeError, match=r"(?s)convolution_op\(\).*Conv2D's forward does not call.*forward\(x"):
        class StandardizedConv2DWithOverride(gn.layers.Conv2D):
            def convolution_op(self, inputs, kernel):
                return gn.ops.conv(inputs, kernel)
    with pytest.raises(TypeError, match=r"convolution_op\(\).*Conv1D's forward"):
        class Conv1DWithOverride(gn.layers.Conv1D):
            def convolution_op(self, inputs, kernel):
                return gn.ops.conv(inputs, kernel)

    class OwnForward(gn.layers.Conv2D):          # a forward of its own may keep any helper
        def convolution_op(self, inputs, kernel):
            return gn.ops.conv(inputs, kernel)

        def forward(self, x, training=False):
            return super().forward(x, training)
    assert OwnForward(2, 3)(np.zeros((1, 4, 4, 1))).shape == (1, 2, 2, 2)


class StandardizedConv2D(gn.layers.Conv2D):
    """keras.io's StandardizedConv2D as docs/layers.md ports it: each filter's kernel standardized
    (mean 0, variance 1 over its window and channels) before Conv2D's own forward and backward, the
    kernel's gradient then taken back through the standardization."""

    def forward(self, x, training=False):
        kernel = self.params["kernel"]
        mean = kernel.mean(axis=(0, 1, 2), keepdims=True)
        self.inv_std = 1.0 / np.sqrt(kernel.var(axis=(0, 1, 2), keepdims=True) + 1e-10)
        self.standardized = (kernel - mean) * self.inv_std
        self.params["kernel"] = self.standardized
        try:
            return super().forward(x, training)
        finally:
            self.params["kernel"] = kernel

    def backward(self, grad_output):
        kernel, w = self.params["kernel"], self.standardized
        self.params["kernel"] = w
        try:
            grad_input = super().backward(grad_output)
        finally:
            self.params["kernel"] = kernel
        g, axes = self.grads["kernel"], (0, 1, 2)
        g[...] = self.inv_std * (g - g.mean(axis=axes, keepdims=True) - w * (g * w).mean(axis=axes, keepdims=True))
        return grad_input


def test_the_standardized_conv_port_passes_gradcheck():
    layer = StandardizedConv2D(3, 2, activation="tanh", dtype="float64")
    report = gn.gradcheck.check_layer(layer, np.random.default_rng(1).normal(size=(2, 5, 5, 2)))
    assert report["max_error"] < 1e-6


def test_the_standardized_conv_example_trains_as_keras(keras):
    layers, ops = keras.layers, keras.ops

    class StandardizedConv2DWithOverride(layers.Conv2D):
        def convolution_op(self, inputs, kernel):
            mean, var = ops.moments(kernel, axes=[0, 1, 2], keepdims=True)
            return ops.conv(inputs, (kernel - mean) / ops.sqrt(var + 1e-10), padding="valid",
                            strides=list(self.strides))

    class StandardizedConv2DWithCall(layers.Conv2D):
        def call(self, inputs):
            mean, var = ops.moments(self.kernel, axes=[0, 1, 2], keepdims=True)
            result = self.convolution_op(inputs, (self.kernel - mean) / ops.sqrt(var + 1e-10))
            if self.use_bias:
                result = result + self.bias
            return result

    with pytest.warns(UserWarning, match="input_shape"):
        keras_model = keras.Sequential([
            layers.InputLayer(input_shape=(12, 12, 1)),
            StandardizedConv2DWithCall(6, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            StandardizedConv2DWithOverride(8, kernel_size=(3, 3), activation="relu"),
            layers.Flatten(), layers.Dense(10, activation="softmax")])
    with pytest.warns(UserWarning, match="input_shape"):
        model = gn.Sequential([
            gn.layers.InputLayer(input_shape=(12, 12, 1)),
            StandardizedConv2D(6, kernel_size=(3, 3)),     # the example's call applies no activation
            gn.layers.MaxPooling2D(pool_size=(2, 2)),
            StandardizedConv2D(8, kernel_size=(3, 3), activation="relu"),
            gn.layers.Flatten(), gn.layers.Dense(10, activation="softmax")])
    model.set_weights(keras_model.get_weights())
    rng = np.random.default_rng(0)
    x = rng.random((48, 12, 12, 1)).astype("float32")
    y = keras.utils.to_categorical(rng.integers(0, 10, 48), 10)
    np.testing.assert_allclose(model.predict(x, verbose=0), keras_model.predict(x, verbose=0), atol=2e-6)
    keras_model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.Adam(), metrics=["accuracy"],
                        run_eagerly=True)
    model.compile(loss="categorical_crossentropy", optimizer=gn.optimizers.Adam(rule="keras"), metrics=["accuracy"])
    expected = keras_model.fit(x, y, batch_size=16, epochs=2, validation_split=0.25, shuffle=False, verbose=0).history
    history = model.fit(x, y, batch_size=16, epochs=2, validation_split=0.25, shuffle=False, verbose=0).history
    for key in ("loss", "val_loss", "accuracy"):
        np.testing.assert_allclose(history[key], expected[key], rtol=1e-5, err_msg=key)
    for ours, theirs in zip(model.get_weights(), keras_model.get_weights()):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_an_input_layer_takes_keras_2_input_shape_as_keras_3_does(keras):
    # the example's keras.layers.InputLayer(input_shape=input_shape): Keras 3.15 takes it with a
    # warning, glassnet failed with "unexpected keyword argument 'input_shape'"
    with pytest.warns(UserWarning, match="`input_shape` is deprecated"):
        layer = gn.layers.InputLayer(input_shape=(28, 28, 1))
    assert layer.shape == (None, 28, 28, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert keras.layers.InputLayer(input_shape=(28, 28, 1)).batch_shape == layer.shape
    assert gn.layers.InputLayer(batch_input_shape=(4, 3)).batch_shape == (4, 3)
    with pytest.raises(TypeError, match="shape or Keras 2's input_shape, not both"):
        gn.layers.InputLayer((3,), input_shape=(3,))
    with pytest.raises(TypeError, match="unexpected keyword argument 'sparse_shape'"):
        gn.layers.InputLayer((3,), sparse_shape=(3,))
