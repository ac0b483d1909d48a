"""OrthogonalRegularizer: Keras 3.15's penalty values, PyTorch autograd's gradient, finite
differences (float64), training as Keras trains, model files, and the weights it refuses."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet.regularizers import OrthogonalRegularizer, get


def _weights(rng, shape, dtype=np.float64):
    w = rng.standard_normal(shape).astype(dtype)
    w[1] = 0            # a zero row: its length is clipped at Keras' epsilon
    return w


@pytest.mark.parametrize("mode", ["rows", "columns"])
def test_penalty_equals_keras(keras, rng, mode):
    # float32 (Keras' regularizer multiplies by a float32 factor, so it refuses float64 weights)
    w = _weights(rng, (6, 4), np.float32)
    ours = OrthogonalRegularizer(0.3, mode=mode)(w)
    theirs = float(keras.regularizers.OrthogonalRegularizer(0.3, mode=mode)(keras.ops.convert_to_tensor(w)))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def _torch_penalty(torch, w, factor, mode):
    """Keras' formula in torch ops, for autograd."""
    v = w if mode == "rows" else w.T
    inv = torch.clamp(torch.rsqrt((v * v).sum(dim=1, keepdim=True)), max=1 / 1e-7)
    u = v * inv
    product = (u @ u.T) * (1 - torch.eye(v.shape[0], dtype=w.dtype))
    size = v.shape[0]
    return factor * 0.5 * product.abs().sum() / (size * (size - 1) / 2)


@pytest.mark.parametrize("mode", ["rows", "columns"])
def test_gradient_equals_torch_autograd(torch, rng, mode):
    w = rng.standard_normal((5, 7))
    reference = torch.tensor(w, requires_grad=True)
    value = _torch_penalty(torch, reference, 0.2, mode)
    value.backward()
    regularizer = OrthogonalRegularizer(0.2, mode=mode)
    np.testing.assert_allclose(regularizer(w), value.item(), rtol=1e-12)
    grad = np.zeros_like(w)
    regularizer.add_gradient(w, grad)
    np.testing.assert_allclose(grad, reference.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", ["rows", "columns"])
def test_gradient_equals_finite_differences(rng, mode):
    w = rng.standard_normal((4, 5))
    regularizer = OrthogonalRegularizer(0.5, mode=mode)
    grad = np.zeros_like(w)
    regularizer.add_gradient(w, grad)
    numeric, eps = np.zeros_like(w), 1e-6
    for index in np.ndindex(w.shape):
        up, down = w.copy(), w.copy()
        up[index] += eps
        down[index] -= eps
        numeric[index] = (regularizer(up) - regularizer(down)) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


def test_a_zero_vector_gets_a_zero_gradient(rng):
    # its unit vector is 0, so its cosines are 0 and |c|' = sign(0) = 0 (autograd of Keras' rsqrt
    # gives NaN there: 0 * inf)
    w = _weights(rng, (4, 3))
    grad = np.zeros_like(w)
    OrthogonalRegularizer(1.0).add_gradient(w, grad)
    assert np.isfinite(grad).all() and not grad[1].any() and grad[0].any()


def test_orthogonal_vectors_cost_nothing():
    assert OrthogonalRegularizer(1.0)(np.eye(3)) == 0
    assert OrthogonalRegularizer(1.0)(np.ones((3, 2))) == pytest.approx(1.0)      # parallel rows: mean |cos| 1


def test_a_dense_model_trains_as_keras_does(keras, rng):
    x = rng.standard_normal((16, 4)).astype(np.float32)
    y = rng.standard_normal((16, 3)).astype(np.float32)
    model = gn.Sequential([L.Dense(5, activation="tanh", input_shape=(4,),
                                   kernel_regularizer=OrthogonalRegularizer(0.5, mode="columns")),
                           L.Dense(3, kernel_regularizer=OrthogonalRegularizer(0.2))], seed=0)
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(0.1))
    reference = keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(5, activation="tanh", kernel_regularizer=keras.regularizers.OrthogonalRegularizer(0.5, "columns")),
        keras.layers.Dense(3, kernel_regularizer=keras.regularizers.OrthogonalRegularizer(0.2))])
    reference.set_weights(model.get_weights())
    reference.compile(loss="mse", optimizer=keras.optimizers.SGD(0.1))
    ours = model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    theirs = reference.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_names_files_and_configs_keep_it(tmp_path, rng):
    assert get("orthogonal_regularizer") == OrthogonalRegularizer()
    assert get("OrthogonalRegularizer") == OrthogonalRegularizer(0.01, "rows")
    assert gn.regularizers.orthogonal_regularizer is OrthogonalRegularizer
    model = gn.Sequential([L.Dense(3, input_shape=(4,), kernel_regularizer=OrthogonalRegularizer(0.1, "columns"))],
                          seed=0)
    model.compile(loss="mse", optimizer="sgd")
    x = rng.standard_normal((6, 4)).astype(np.float32)
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = gn.load_model(path)
    assert loaded.layers[0].kernel_regularizer == OrthogonalRegularizer(0.1, "columns")
    assert loaded.evaluate(x, x[:, :3], verbose=0) == pytest.approx(model.evaluate(x, x[:, :3], verbose=0), rel=1e-6)


@pytest.mark.parametrize("make, error, match", [
    (lambda: OrthogonalRegularizer(mode="diagonal"), ValueError, "mode must be 'rows' or 'columns'"),
    (lambda: OrthogonalRegularizer(factor=-1), ValueError, "OrthogonalRegularizer: factor"),
    # a conv kernel is 4-D: Keras refuses it at the first call, glassnet when the layer is built
    (lambda: gn.Sequential([L.Conv2D(2, 3, input_shape=(5, 5, 1), kernel_regularizer=OrthogonalRegularizer())]),
     ValueError, r"Conv2D .*kernel: OrthogonalRegularizer needs a 2-D weight .*got shape \(3, 3, 1, 2\)"),
    # one unit: no pair of columns to compare (Keras' mean over no pairs is NaN)
    (lambda: gn.Sequential([L.Dense(1, input_shape=(3,), kernel_regularizer=OrthogonalRegularizer(mode="columns"))]),
     ValueError, r"Dense .*kernel: OrthogonalRegularizer needs a 2-D weight with at least two columns"),
])
def test_refused_by_name(make, error, match):
    with pytest.raises(error, match=match):
        make()
