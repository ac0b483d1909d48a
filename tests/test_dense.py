"""Dense and Activation layers, initializers, and the gradcheck that guards them."""
import numpy as np
import pytest

from glassnet import initializers
from glassnet.gradcheck import GradientCheckError, check_layer
from glassnet.layers import Activation, Conv2D, Dense, Layer

ACTIVATIONS = ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softmax"]


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dense_gradients(activation, rng):
    x = rng.standard_normal((5, 4))
    report = check_layer(Dense(3, activation=activation, dtype="float64", seed=1), x)
    assert report["max_error"] < 1e-6 and set(report["errors"]) == {"input", "kernel", "bias"}


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_layer_gradients(activation, rng):
    x = rng.standard_normal((4, 6))
    x = np.where(np.abs(x) < 0.05, 0.1, x)
    check_layer(Activation(activation, dtype="float64"), x)


def test_gradcheck_fails_on_a_wrong_gradient(rng):
    class Broken(Dense):
        def backward(self, grad_output):
            dx = super().backward(grad_output)
            self.grads["kernel"] *= 1.001                 # a 0.1% error must be caught
            return dx
    with pytest.raises(GradientCheckError, match="kernel"):
        check_layer(Broken(3, dtype="float64", seed=0), rng.standard_normal((4, 2)))

    class BrokenInput(Dense):
        def backward(self, grad_output):
            return super().backward(grad_output)[:, ::-1]
    with pytest.raises(GradientCheckError, match="input"):
        check_layer(BrokenInput(3, dtype="float64", seed=0), rng.standard_normal((4, 2)))


@pytest.mark.parametrize("shape", [(5, 4), (2, 4, 6, 5)])     # more axes: Linear acts on the last
def test_dense_matches_torch_linear(shape, rng, torch):
    layer = Dense(3, activation="tanh", dtype="float64", seed=0)
    x = rng.standard_normal(shape)
    out = layer(x)
    upstream = rng.standard_normal(out.shape)
    dx = layer.backward(upstream)
    tx = torch.tensor(x, requires_grad=True)
    w = torch.tensor(layer.params["kernel"].T.copy(), requires_grad=True)   # torch keeps (out, in)
    b = torch.tensor(layer.params["bias"].copy(), requires_grad=True)
    tout = torch.tanh(torch.nn.functional.linear(tx, w, b))
    tout.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["kernel"], w.grad.numpy().T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["bias"], b.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("activation", ["linear", "tanh", "softmax"])
def test_dense_on_more_axes_acts_on_the_last(activation, rng):
    # (batch, steps, features), as Keras' Dense and PyTorch's Linear take it: one kernel at every step
    x = rng.standard_normal((3, 5, 4))
    check_layer(Dense(2, activation=activation, dtype="float64", seed=1), x)
    layer = Dense(2, activation=activation, dtype="float64", seed=1)
    out = layer(x)
    assert out.shape == (3, 5, 2) and layer.output_shape((5, 4)) == (5, 2)
    rows = Dense(2, activation=activation, dtype="float64", seed=1)
    np.testing.assert_allclose(out.reshape(15, 2), rows(x.reshape(15, 4)), rtol=1e-12)
    upstream = rng.standard_normal(out.shape)
    dx = layer.backward(upstream)
    rows_dx = rows.backward(upstream.reshape(15, 2))
    np.testing.assert_allclose(dx, rows_dx.reshape(3, 5, 4), rtol=1e-12)
    for name in ("kernel", "bias"):
        np.testing.assert_allclose(layer.grads[name], rows.grads[name], rtol=1e-12)


@pytest.mark.parametrize("n_in,units", [(3, 4), (80, 64)])      # 12 and 5,120 kernel entries
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_one_sample_kernel_gradient_is_the_outer_product(n_in, units, dtype, rng):
    """Batch size 1 takes a special path (a broadcast multiply for small kernels, einsum for big
    ones): both must give exactly x^T g, and the same as a batch of two identical samples / 2."""
    layer = Dense(units, activation="tanh", dtype=dtype, seed=0)
    x = rng.standard_normal((1, n_in)).astype(dtype)
    layer(x)
    g = rng.standard_normal((1, units)).astype(dtype)
    layer.backward(g)
    assert layer.grads["kernel"].dtype == np.dtype(dtype)
    dz = g * (1 - layer.a ** 2)
    np.testing.assert_array_equal(layer.grads["kernel"], x.T * dz)
    np.testing.assert_allclose(layer.grads["kernel"], x.T.astype(np.float64) @ dz.astype(np.float64),
                               rtol=1e-6 if dtype == "float32" else 1e-14)
    kernel_one = layer.grads["kernel"].copy()
    layer(np.repeat(x, 2, axis=0))
    layer.backward(np.repeat(g, 2, axis=0))
    # (float32: the two-row forward product rounds differently from the one-row one)
    np.testing.assert_allclose(layer.grads["kernel"], 2 * kernel_one, rtol=2e-5 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize("n,n_in,units", [(8, 5, 7), (64, 70, 60)])   # np.dot's and matmul's routes
def test_products_on_both_routes(n, n_in, units, rng):
    from glassnet.layers.dense import _DOT_MAX_MACS
    assert (n * n_in * units < _DOT_MAX_MACS) == (n == 8)
    layer = Dense(units, seed=0)
    x = rng.standard_normal((n, n_in)).astype(np.float32)
    z = layer(x)
    g = rng.standard_normal((n, units)).astype(np.float32)
    dx = layer.backward(g)
    k, b = (layer.params[name].astype(np.float64) for name in ("kernel", "bias"))
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    for got, want in ((z, x64 @ k + b), (layer.grads["kernel"], x64.T @ g64),
                      (layer.grads["bias"], g64.sum(axis=0)), (dx, g64 @ k.T)):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_float32_layer_takes_a_float64_upstream_gradient(rng):
    """The products write into the float32 gradient buffers even when the upstream gradient is
    float64 (np.dot refuses such an ``out``; the layer falls back to matmul, which casts)."""
    layer = Dense(4, seed=0)          # linear: dL/dz is the float64 upstream gradient itself
    x = rng.standard_normal((5, 3)).astype(np.float32)
    layer(x)
    dz = rng.standard_normal((5, 4))
    dx = layer.backward(dz)
    assert layer.grads["kernel"].dtype == layer.grads["bias"].dtype == np.float32
    np.testing.assert_allclose(layer.grads["kernel"], x.T.astype(np.float64) @ dz, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(layer.grads["bias"], dz.sum(axis=0), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(dx, dz @ layer.params["kernel"].T.astype(np.float64), rtol=1e-6, atol=1e-7)


def test_dense_shapes_and_dtype():
    layer = Dense(7, activation="relu", seed=0)
    out = layer(np.ones((3, 5)))
    assert out.shape == (3, 7) and out.dtype == np.float32
    assert layer.params["kernel"].shape == (5, 7) and layer.params["bias"].shape == (7,)
    assert layer.output_shape((5,)) == (7,)
    assert layer.count_params() == 5 * 7 + 7
    dx = layer.backward(np.ones((3, 7), dtype=np.float32))
    assert dx.dtype == np.float32 and all(g.dtype == np.float32 for g in layer.grads.values())


def test_backward_does_not_modify_grad_output(rng):
    for layer in (Dense(3, activation="sigmoid", dtype="float64", seed=0), Activation("softmax", dtype="float64")):
        out = layer(rng.standard_normal((4, 3)))
        upstream = rng.standard_normal(out.shape)
        saved = upstream.copy()
        layer.backward(upstream)
        np.testing.assert_array_equal(upstream, saved)


def test_dense_rejects_bad_arguments():
    for units in (0, -1, 2.5, "3", True):
        with pytest.raises(ValueError, match="units"):
            Dense(units)
    with pytest.raises(ValueError, match="activation"):
        Dense(3, activation="relux")
    with pytest.raises(ValueError, match="initializer"):
        Dense(3, kernel_initializer="glorot")
    layer = Dense(3, seed=0)
    layer(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"expected input samples of shape \(4,\), got \(5,\)"):
        layer(np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"\(batch, \.\.\.\)"):
        Dense(3)(np.ones(4))
    with pytest.raises(ValueError, match=r"expected input samples of shape \(4, 4\), got \(4, 5\)"):
        built = Dense(3, seed=0)
        built(np.ones((2, 4, 4)))
        built(np.ones((2, 4, 5)))
    # built for 4 steps, it takes 1 or 9 (Keras checks the features alone), not another rank
    assert built(np.ones((2, 1, 4))).shape == (2, 1, 3) and built(np.ones((2, 9, 4))).shape == (2, 9, 3)
    np.testing.assert_array_equal(built(np.ones((2, 9, 4)))[:, :1], built(np.ones((2, 1, 4))))
    with pytest.raises(ValueError, match=r"expected input samples of shape \(4, 4\), got \(4,\)"):
        built(np.ones((2, 4)))


def test_config_round_trip():
    layer = Dense(4, activation="elu", kernel_initializer="he_normal", input_dim=3, name="d")
    clone = Dense.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_custom_layer_follows_the_contract(rng):
    class Scale(Layer):
        def build(self, input_shape):
            self.add_weight("gamma", input_shape, "ones")
            super().build(input_shape)

        def forward(self, x, training=False):
            self.x = x
            return x * self.params["gamma"]

        def backward(self, grad_output):
            self.grads["gamma"][...] = (grad_output * self.x).sum(axis=0)
            return grad_output * self.params["gamma"]
    check_layer(Scale(dtype="float64"), rng.standard_normal((3, 4)))


@pytest.mark.parametrize("name", sorted(initializers.INITIALIZERS))
def test_initializers_shape_dtype_and_seed(name):
    init = initializers.get(name)
    shape = (200, 1, 300) if name == "stft" else (200, 300)        # a Conv1D kernel of one input channel
    a = init(shape, np.random.default_rng(0), np.float32)
    b = init(shape, np.random.default_rng(0), np.float32)
    assert a.shape == shape and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name,std", [
    ("plain", 0.01), ("glorot_uniform", np.sqrt(2 / 500)), ("glorot_normal", np.sqrt(2 / 500)),
    ("xavier", np.sqrt(2 / 500)), ("he_uniform", np.sqrt(2 / 200)), ("he_normal", np.sqrt(2 / 200)),
    ("he", np.sqrt(2 / 200)), ("lecun_normal", np.sqrt(1 / 200)), ("zeros", 0.0)])
def test_initializer_scales(name, std):
    w = initializers.get(name)((200, 300), np.random.default_rng(0), np.float64)
    assert w.std() == pytest.approx(std, rel=0.03, abs=1e-12)
    assert abs(w.mean()) < 0.05 * max(std, 1e-9) + 1e-12 or name == "zeros"


@pytest.mark.parametrize("shape", [(5, 4), (1, 4), (64, 70), (2, 3, 4)])   # both product routes, one sample, more axes
def test_dense_without_bias_matches_torch(shape, rng, torch):
    layer = Dense(60 if shape == (64, 70) else 3, activation="tanh", use_bias=False, dtype="float64", seed=0)
    x = rng.standard_normal(shape)
    out = layer(x)
    assert set(layer.params) == set(layer.grads) == {"kernel"} and layer.count_params() == layer.params["kernel"].size
    upstream = rng.standard_normal(out.shape)
    dx = layer.backward(upstream)
    tx = torch.tensor(x, requires_grad=True)
    w = torch.tensor(layer.params["kernel"].T.copy(), requires_grad=True)
    tout = torch.tanh(torch.nn.functional.linear(tx, w))
    tout.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["kernel"], w.grad.numpy().T, rtol=1e-10, atol=1e-12)
    report = check_layer(Dense(3, use_bias=False, activation="sigmoid", dtype="float64", seed=1), x)
    assert report["max_error"] < 1e-6 and set(report["errors"]) == {"input", "kernel"}


def test_use_bias_in_config_and_checked():
    assert "use_bias" not in Dense(2).get_config()      # files of networks with biases stay as they were
    config = Dense(2, use_bias=False, input_dim=3).get_config()
    assert config["use_bias"] is False and Dense.from_config(config).get_config() == config
    with pytest.raises(TypeError, match=r"Dense: use_bias: expected True or False, got 'False'"):
        Dense(2, use_bias="False")
    with pytest.raises(TypeError, match=r"Conv2D: use_bias: expected True or False, got 1"):
        Conv2D(2, 3, use_bias=1)


def test_a_model_without_biases_trains_saves_and_loads(tmp_path, rng):
    import glassnet as gn
    model = gn.Sequential([Dense(4, activation="relu", use_bias=False, input_dim=3),
                           gn.layers.BatchNormalization(), Dense(1, activation="sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", optimizer="adam")
    x, y = rng.standard_normal((16, 3)), rng.integers(0, 2, 16)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert [w.shape for w in model.get_weights()][:1] == [(3, 4)]
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert loaded.layers[0].use_bias is False
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))



def test_leaky_relu_layer_matches_torch_and_keras_defaults(rng, torch):
    from glassnet.layers import LeakyReLU
    assert LeakyReLU().negative_slope == 0.3 and LeakyReLU(alpha=0.2).negative_slope == 0.2   # Keras 3, Keras 2
    x = rng.standard_normal((4, 5))
    x = np.where(np.abs(x) < 0.05, 0.1, x)
    layer = LeakyReLU(0.2, dtype="float64")
    check_layer(layer, x)
    out = layer(x)
    upstream = rng.standard_normal(out.shape)
    dx = layer.backward(upstream)
    tx = torch.tensor(x, requires_grad=True)
    tout = torch.nn.functional.leaky_relu(tx, 0.2)
    tout.backward(torch.tensor(upstream))
    np.testing.assert_array_equal(out, tout.detach().numpy())
    np.testing.assert_array_equal(dx, tx.grad.numpy())
    x32 = x.astype(np.float32)
    assert LeakyReLU()(x32).dtype == np.float32
    assert LeakyReLU.from_config(LeakyReLU(0.1, name="lr").get_config()).negative_slope == 0.1
    for bad in (-0.1, float("nan"), "0.2", True):
        with pytest.raises(ValueError, match="LeakyReLU: negative_slope must be a finite number >= 0"):
            LeakyReLU(bad)
    with pytest.raises(ValueError, match="not both"):
        LeakyReLU(0.1, alpha=0.2)


def test_a_layer_given_input_shape_checks_its_first_call_against_it():
    # it used to build from the data instead, silently changing the shape it was made for
    layer = Dense(2, input_shape=(4,))
    with pytest.raises(ValueError, match=r"layer Dense: expected input samples of shape \(4,\), got \(5,\)"):
        layer(np.ones((2, 5)))
    assert layer(np.ones((2, 4))).shape == (2, 2)
