"""Porting the Keras 3 developer guides (Sequential model, callbacks, training, RNNs, saving)."""
import numpy as np
import pytest

import glassnet as gn


class _ProjectWithoutShape(gn.Layer):
    """A Keras layer ported as-is: (n, d) -> (n, units), but no output_shape override (the guide's
    CustomLayer; Keras infers the shape by running call)."""
    def __init__(self, units=2, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal")

    def forward(self, x, training=False):
        self.x = x
        return x @ self.w

    def backward(self, g):
        self.grads["variable"][...] = self.x.T @ g
        return g @ self.w.T


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_fit_names_the_layer_whose_forward_changes_the_declared_shape(kind):
    # predict named the layer (its output_shape() says (5,), forward gives (2,)); fit and evaluate
    # said "y: expected targets of shape (n_samples, 5)" for targets matching the real output
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 5)).astype("float32")
    y = rng.normal(size=(16, 2)).astype("float32")
    if kind == "sequential":
        model = gn.Sequential([gn.Input((5,)), _ProjectWithoutShape(2, name="proj")])
    else:
        inputs = gn.Input((5,))
        model = gn.Model(inputs, _ProjectWithoutShape(2, name="proj")(inputs))
    model.compile(loss="mse", optimizer="sgd")
    for call in (lambda: model.fit(x, y, epochs=1, verbose=0), lambda: model.evaluate(x, y)):
        with pytest.raises(ValueError, match=r"proj.*forward returned samples of shape \(2,\).*output_shape"):
            call()


def test_fit_target_error_unchanged_when_shapes_are_declared():
    # the targets really are wrong: the loss's own message stays
    model = gn.Sequential([gn.Input((5,)), gn.layers.Dense(3)])
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(ValueError, match=r"y: expected targets of shape \(n_samples, 3\)"):
        model.fit(np.ones((4, 5)), np.ones((4, 2)), epochs=1, verbose=0)


@pytest.mark.parametrize("attribute", ["weights", "trainable_weights", "non_trainable_weights"])
def test_unbuilt_model_weights_error_names_the_attribute(attribute):
    # the guide's "model.weights" on a Sequential without an input shape: the error named get_weights
    # (and non_trainable_weights' named trainable_weights)
    model = gn.Sequential([gn.layers.Dense(2), gn.layers.Dense(3)])
    with pytest.raises(ValueError, match=rf"^{attribute}: the model is not built yet"):
        getattr(model, attribute)


def test_fit_of_two_outputs_names_the_layer_whose_forward_changes_the_declared_shape():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 5)).astype("float32")
    inputs = gn.Input((5,))
    model = gn.Model(inputs, [_ProjectWithoutShape(2, name="proj")(inputs), gn.layers.Dense(1, name="d")(inputs)])
    model.compile(loss=["mse", "mse"], optimizer="sgd")
    with pytest.raises(ValueError, match=r"proj.*forward returned samples of shape \(2,\).*output_shape"):
        model.fit(x, [np.ones((16, 2)), np.ones((16, 1))], epochs=1, verbose=0)
