"""glassnet.layers.Wrapper, the base class of a user's own wrapper: a residual wrapper written in a
few lines trains, its gradients agree with finite differences and with PyTorch autograd, it saves,
loads and rebuilds from its config, and it computes what a Keras 3.15 subclass of
``keras.layers.Wrapper`` with the same maths and weights computes."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_layer
from glassnet.layers import LAYERS, BatchNormalization, Dense, Dropout, TimeDistributed, Wrapper

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


class Residual(Wrapper):
    """x + layer(x)."""

    def forward(self, x, training=False):
        return x + self.layer.forward(x, training)

    def backward(self, grad_output):
        return grad_output + self.layer.backward(grad_output)


class GatedResidual(Wrapper):
    """x + gate * layer(x), with a weight of the wrapper's own (``gate``, one per feature) and an
    argument of its own (``gate_initializer``)."""

    def __init__(self, layer, gate_initializer="zeros", **kwargs):
        super().__init__(layer, **kwargs)
        self.gate_initializer = gate_initializer

    def build(self, input_shape):
        super().build(input_shape)
        self.add_weight("gate", (input_shape[-1],), self.gate_initializer)

    def forward(self, x, training=False):
        self.inner = self.layer.forward(x, training)
        return x + self.params["gate"] * self.inner

    def backward(self, grad_output):
        self.grads["gate"][...] = (grad_output * self.inner).reshape(-1, grad_output.shape[-1]).sum(axis=0)
        return grad_output + self.layer.backward(grad_output * self.params["gate"])

    def get_config(self):
        return {**super().get_config(), "gate_initializer": self.gate_initializer}


@pytest.fixture(autouse=True)
def _registered():
    """These classes under their names in the registry while a test runs: other test files
    define a ``Residual`` of their own (a test's local class registers when it runs, later than
    this module's), and a model file finds its classes by name."""
    saved = {name: LAYERS.get(name) for name in ("Residual", "GatedResidual")}
    LAYERS.update(Residual=Residual, GatedResidual=GatedResidual)
    yield
    for name, cls in saved.items():
        if cls is None:
            LAYERS.pop(name, None)
        else:
            LAYERS[name] = cls


def _data(rng, n=64, features=4):
    x = rng.normal(size=(n, features)).astype(np.float32)
    return x, (np.sin(x).sum(axis=1, keepdims=True)).astype(np.float32)


# -- what it computes ----------------------------------------------------------------------------
def test_contract_shapes_dtype_and_inputs_left_alone(rng):
    layer = Residual(Dense(4, activation="tanh"), seed=0)
    x = rng.normal(size=(3, 4)).astype(np.float32)
    x_before = x.copy()
    out = layer(x)
    assert out.dtype == np.float32 and out.shape == (3, *layer.output_shape((4,))) == (3, 4)
    np.testing.assert_allclose(out, x + np.tanh(x @ layer.params["kernel"] + layer.params["bias"]), rtol=1e-6)
    grad = rng.normal(size=out.shape).astype(np.float32)
    grad_before = grad.copy()
    dx = layer.backward(grad)
    np.testing.assert_array_equal(grad, grad_before)
    np.testing.assert_array_equal(x, x_before)
    assert dx.dtype == np.float32 and dx.shape == x.shape
    assert set(layer.grads) == set(layer.params) == {"kernel", "bias"}
    assert all(g.dtype == np.float32 for g in layer.grads.values())


@pytest.mark.parametrize("make", [
    lambda: Residual(Dense(4, activation="tanh"), dtype="float64", seed=0),
    lambda: GatedResidual(Dense(4, activation="elu"), gate_initializer="random_normal", dtype="float64", seed=1),
    # a wrapped layer over sequences (its own input shape), inside a wrapper that keeps it
    lambda: Residual(gn.layers.Conv1D(4, 3, padding="same", activation="tanh"), dtype="float64", seed=2),
], ids=["Residual(Dense)", "GatedResidual(Dense)", "Residual(Conv1D)"])
def test_gradients_agree_with_finite_differences(rng, make):
    layer = make()
    x = rng.normal(size=(3, 5, 4) if "Conv1D" in type(layer.layer).__name__ else (3, 4))
    report = check_layer(layer, x)
    assert report["max_error"] < 1e-6 and "input" in report["errors"]
    assert set(report["errors"]) >= {"input", *layer.params}


def test_gradients_match_torch_autograd(rng):
    torch = pytest.importorskip("torch")
    layer = GatedResidual(Dense(3, activation="tanh"), gate_initializer="random_normal", dtype="float64", seed=0)
    x = rng.normal(size=(5, 3))
    out = layer(x)
    upstream = rng.normal(size=out.shape)
    dx = layer.backward(upstream)
    tx = torch.tensor(x, requires_grad=True)
    kernel, bias, gate = (torch.tensor(layer.params[k], requires_grad=True) for k in ("kernel", "bias", "gate"))
    t_out = tx + gate * torch.tanh(tx @ kernel + bias)
    t_out.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    for name, tensor in (("kernel", kernel), ("bias", bias), ("gate", gate)):
        np.testing.assert_allclose(layer.grads[name], tensor.grad.numpy(), rtol=1e-12, atol=1e-12, err_msg=name)


def test_the_wrapped_layer_is_built_with_the_wrappers_dtype_and_seed(rng):
    wrapped = Residual(Dense(3), dtype="float64", seed=7)
    wrapped.build((3,))
    alone = Dense(3, dtype="float64", seed=7)
    alone.build((3,))
    assert wrapped.layer.dtype == np.float64 and wrapped.params["kernel"].dtype == np.float64
    np.testing.assert_array_equal(wrapped.params["kernel"], alone.params["kernel"])     # the same draws
    assert wrapped.layer.params["kernel"] is wrapped.params["kernel"]                    # read live
    assert wrapped.get_weights()[0].shape == (3, 3) and wrapped.count_params() == 12


# -- in models -------------------------------------------------------------------------------------
def test_a_residual_wrapper_trains_in_a_sequential(rng):
    x, y = _data(rng)
    model = gn.Sequential([gn.layers.Input((4,)), Residual(Dense(4, activation="tanh")), Dense(1)], seed=0)
    model.compile(loss="mse", optimizer=gn.optimizers.Adam(0.05))
    kernel_before = model.layers[0].params["kernel"].copy()
    history = model.fit(x, y, epochs=30, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.3 * history.history["loss"][0]
    assert not np.array_equal(model.layers[0].layer.params["kernel"], kernel_before)    # the wrapped weights train
    assert [w.shape for w in model.get_weights()] == [(4, 4), (4,), (4, 1), (1,)]


def test_a_frozen_wrapper_leaves_its_layers_weights(rng):
    x, y = _data(rng)
    model = gn.Sequential([gn.layers.Input((4,)), Residual(Dense(4, activation="tanh"), trainable=False), Dense(1)],
                          seed=0)
    model.compile(loss="mse", optimizer="sgd")
    before = model.layers[0].get_weights()
    model.fit(x, y, epochs=2, verbose=0)
    for a, b in zip(before, model.layers[0].get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not model.layers[0].layer.trainable


def test_dropout_inside_draws_from_the_models_seed(rng):
    x, y = _data(rng)

    def trained():
        model = gn.Sequential([gn.layers.Input((4,)), Residual(Dropout(0.5)), Dense(1)], seed=3)
        model.compile(loss="mse", optimizer="sgd")
        model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        assert model.layers[0].layer.rng is model.layers[0].rng
        return model.get_weights()
    for a, b in zip(trained(), trained()):
        np.testing.assert_array_equal(a, b)


def test_saves_and_loads_in_a_sequential_and_resumes_the_same(rng, tmp_path):
    x, y = _data(rng)
    model = gn.Sequential([gn.layers.Input((4,)), GatedResidual(Dense(4, activation="tanh"), gate_initializer="ones"),
                           Dense(1)], seed=0)
    model.compile(loss="mse", optimizer=gn.optimizers.Adam(0.01))
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    model.save(tmp_path / "model.npz")
    loaded = gn.load_model(tmp_path / "model.npz")
    assert type(loaded.layers[0]) is GatedResidual and loaded.layers[0].gate_initializer == "ones"
    assert sorted(loaded.layers[0].params) == ["bias", "gate", "kernel"]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    loaded.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_works_and_saves_in_a_functional_model(rng, tmp_path):
    x, y = _data(rng)
    inputs = gn.layers.Input((4,))
    hidden = Residual(Dense(4, activation="tanh"))(inputs)
    outputs = Dense(1)(Residual(Dense(4, activation="relu"))(hidden))
    model = gn.Model(inputs, outputs, seed=0)
    model.compile(loss="mse", optimizer=gn.optimizers.Adam(0.05))
    history = model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.save(tmp_path / "functional.npz")
    loaded = gn.load_model(tmp_path / "functional.npz")
    assert [type(layer).__name__ for layer in loaded.layers if isinstance(layer, Wrapper)] == ["Residual", "Residual"]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_rebuilds_from_its_config(rng):
    layer = GatedResidual(Dense(3, activation="tanh", name="inner"), gate_initializer="random_normal", seed=4,
                          name="gated")
    x = rng.normal(size=(2, 3)).astype(np.float32)
    out = layer(x)
    config = layer.get_config()
    assert config["layer"] == {"class_name": "Dense", "config": Dense(3, activation="tanh", name="inner").get_config()}
    assert config["seed"] == 4 and config["gate_initializer"] == "random_normal"
    copy = GatedResidual.from_config(config)
    assert copy.get_config() == config and type(copy.layer) is Dense
    np.testing.assert_array_equal(copy(x), out)          # the same seed: the same initial weights
    assert LAYERS["GatedResidual"] is GatedResidual and LAYERS["Residual"] is Residual
    assert "Wrapper" not in LAYERS          # a base class, as Layer is, which no config names


# -- against Keras ---------------------------------------------------------------------------------
def _keras_residual(keras):
    class KerasResidual(keras.layers.Wrapper):
        def call(self, inputs):
            return inputs + self.layer(inputs)
    return KerasResidual


def test_outputs_match_a_keras_wrapper_subclass(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(6, 5)).astype(np.float32)
    ours = Residual(Dense(5, activation="tanh"), seed=0)
    out = ours(x)
    theirs = _keras_residual(keras)(keras.layers.Dense(5, activation="tanh"))
    theirs.build((None, 5))
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(out, np.asarray(theirs(x)), rtol=1e-5, atol=1e-6)


def test_a_model_trains_as_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x, y = _data(rng, n=32)
    ours = gn.Sequential([gn.layers.Input((4,)), Residual(Dense(4, activation="tanh")), Dense(1)], seed=0)
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(0.05))
    theirs = keras.Sequential([keras.Input((4,)), _keras_residual(keras)(keras.layers.Dense(4, activation="tanh")),
                               keras.layers.Dense(1)])
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.05))
    theirs.set_weights(ours.get_weights())
    ours.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    theirs.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


# -- refusals --------------------------------------------------------------------------------------
def test_the_base_class_and_a_subclass_without_forward_or_backward_are_refused():
    with pytest.raises(TypeError, match=r"^Wrapper: a base class, not a layer: subclass it and define forward"):
        Wrapper(Dense(2))
    saved = dict(LAYERS)
    try:
        class ForwardOnly(Wrapper):
            def forward(self, x, training=False):
                return self.layer.forward(x, training)

        class Empty(Wrapper):
            pass
    finally:
        LAYERS.clear()
        LAYERS.update(saved)
    with pytest.raises(TypeError, match=r"^ForwardOnly: a Wrapper subclass must define forward\(self, x, "
                                        r"training=False\) and backward\(self, grad_output\); ForwardOnly defines "
                                        r"no backward$"):
        ForwardOnly(Dense(2))
    with pytest.raises(TypeError, match=r"Empty defines no forward and no backward$"):
        Empty(Dense(2))


@pytest.mark.parametrize("make,error,message", [
    (lambda: Residual("dense"), TypeError, r"^Residual: layer must be a glassnet Layer that is not a wrapper, got 'dense'"),
    (lambda: Residual(Residual(Dense(2))), TypeError, r"^Residual: layer must be a glassnet Layer that is not a wrapper"),
    (lambda: Residual(Dense(2, seed=1)), ValueError, r"^Residual: the wrapped layer's seed would not reach"),
    (lambda: Residual(Dense(2, input_dim=2)), ValueError, r"^Residual: give input_shape to the wrapper"),
    (lambda: Residual(BatchNormalization()), ValueError, r"^Residual: .*keeps state besides its trained weights"),
    (lambda: TimeDistributed(Residual(Dense(2))), TypeError, r"^TimeDistributed: layer must be a glassnet Layer that "
                                                             r"is not a wrapper"),
], ids=["not-a-layer", "a-wrapper", "seeded", "input-shape", "batchnorm", "inside-timedistributed"])
def test_what_it_cannot_hold_is_refused_by_name(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_a_layer_already_wrapped_or_built_is_refused():
    dense = Dense(2)
    Residual(dense)
    with pytest.raises(ValueError, match=r"^Residual: .* is already wrapped"):
        Residual(dense)
    built = Dense(2)
    built.build((2,))
    with pytest.raises(ValueError, match=r"^Residual: give it a layer that is not built yet"):
        Residual(built)


def test_a_weight_of_its_own_named_as_the_layers_is_refused():
    saved = dict(LAYERS)
    try:
        class Clash(Residual):
            def build(self, input_shape):
                super().build(input_shape)
                self.add_weight("kernel", (2,), "ones")
    finally:
        LAYERS.clear()
        LAYERS.update(saved)
    with pytest.raises(ValueError, match=r"^layer clash \(Clash\): add_weight: the wrapped layer dense \(Dense\) has "
                                         r"a weight named 'kernel' already; give yours another name$"):
        Clash(Dense(2), name="clash").build((2,))
