"""glassnet.ops' constructors and the structural functions of _ops_fill.py: zeros, ones, full, eye,
identity, tri, linspace, meshgrid (NumPy constants), tril, triu, unstack, tensordot (arrays and
tensors), and CallWeight.value (Keras' ``variable.value``, a property). On arrays against keras.ops
(values and dtypes); as graph nodes against float64 finite differences and PyTorch autograd; a
functional model of them and a subclass reading ``self.w.value`` predicting and training beside
Keras 3.15; files; the refusals."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops
from glassnet.gradcheck import check_layer, check_model
from glassnet.layers.tensor_functions import TensorFunction


@pytest.fixture(autouse=True)
def _fresh_names(request):
    if "keras" in request.fixturenames:
        request.getfixturevalue("keras").backend.clear_session()
    yield
    gn.utils.clear_session()


def _same(ours, theirs, keras, rtol=1e-6):
    ours = list(ours) if isinstance(ours, (list, tuple)) else [ours]
    theirs = list(theirs) if isinstance(theirs, (list, tuple)) else [theirs]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        b = keras.ops.convert_to_numpy(b)
        assert isinstance(a, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-7)


# name -> call on a module of ops
CONSTRUCTORS = {
    "zeros": lambda o: o.zeros((2, 3)), "zeros int": lambda o: o.zeros((4,), dtype="int32"),
    "zeros empty": lambda o: o.zeros((2, 0)), "ones": lambda o: o.ones((3, 1, 2)),
    "ones bool": lambda o: o.ones(3, dtype="bool"), "ones float64": lambda o: o.ones((2,), dtype="float64"),
    "ones python float": lambda o: o.ones((2,), dtype=float),
    "full int fill": lambda o: o.full((2, 3), 3), "full float": lambda o: o.full((2,), -1.5),
    "full bool fill": lambda o: o.full((2,), True), "full float64 fill": lambda o: o.full((2,), np.float64(0.1)),
    "full row": lambda o: o.full((2, 3), np.array([1, 2, 3])),
    "full truncates": lambda o: o.full((2,), 2.7, dtype="int32"),
    "full negative truncates": lambda o: o.full((2,), -2.7, dtype="int32"),
    "full list int": lambda o: o.full((2, 3), [1, 2, 3], dtype="int32"),
    "eye": lambda o: o.eye(3), "eye wide": lambda o: o.eye(3, 5), "eye k": lambda o: o.eye(3, 4, k=1),
    "eye k negative": lambda o: o.eye(4, 3, k=-1), "eye int": lambda o: o.eye(2, dtype="int32"),
    "identity": lambda o: o.identity(3), "identity int8": lambda o: o.identity(2, dtype="int8"),
    "tri": lambda o: o.tri(4), "tri wide": lambda o: o.tri(3, 5), "tri k": lambda o: o.tri(3, 4, k=1),
    "tri k negative": lambda o: o.tri(4, 3, k=-2), "tri int": lambda o: o.tri(3, 4, k=-1, dtype="int32"),
    "tri k beyond": lambda o: o.tri(2, 3, k=5),
    "linspace": lambda o: o.linspace(0, 1, 7), "linspace default num": lambda o: o.linspace(-2.0, 3.0),
    "linspace no end": lambda o: o.linspace(0, 1, 5, endpoint=False),
    "linspace retstep": lambda o: o.linspace(2.0, 3.0, 5, retstep=True),
    "linspace no end retstep": lambda o: o.linspace(0, 1, 5, endpoint=False, retstep=True),
    "linspace int": lambda o: o.linspace(-1, 10, 4, dtype="int32"),
    "linspace int retstep": lambda o: o.linspace(0, 10, 4, dtype="int32", retstep=True),
    "linspace float64": lambda o: o.linspace(np.float64(0), 1, 5),
    "linspace int64 start": lambda o: o.linspace(np.int64(0), 5, 3),
    "linspace arrays": lambda o: o.linspace(np.array([0.0, 1.0]), np.array([1.0, 3.0]), 3, axis=1),
    "linspace arrays axis 0": lambda o: o.linspace(np.array([0, 1], "int32"), 5, 3),
    "linspace one": lambda o: o.linspace(0, 1, 1), "linspace none": lambda o: o.linspace(0, 1, 0),
    "meshgrid": lambda o: o.meshgrid([1, 2, 3], [4, 5]),
    "meshgrid ij": lambda o: o.meshgrid(np.array([1.0, 2.0], "float32"), np.array([1, 2, 3], "float32"), indexing="ij"),
    "meshgrid three": lambda o: o.meshgrid(np.arange(2.0), np.arange(3.0), np.arange(4.0)),
    "meshgrid one": lambda o: o.meshgrid(np.arange(3, dtype="int32")),
}


@pytest.mark.parametrize("name", sorted(CONSTRUCTORS))
def test_constructors_are_keras(name, keras):
    _same(CONSTRUCTORS[name](ops), CONSTRUCTORS[name](keras.ops), keras)


def test_linspace_retstep_nan_and_one_value(keras):
    values, step = ops.linspace(0, 1, 1, retstep=True)
    theirs, their_step = keras.ops.linspace(0, 1, 1, retstep=True)
    _same(values, theirs, keras)
    assert np.isnan(step) and np.isnan(keras.ops.convert_to_numpy(their_step))


def _data(dtype, shape=(2, 3, 4), seed=0):
    rng = np.random.default_rng(seed)
    if dtype == "int32":
        return rng.integers(-9, 9, shape).astype(np.int32)
    return rng.standard_normal(shape).astype(dtype)


W = np.linspace(-1, 1, 20).reshape(4, 5)

# name -> call on a module of ops (x: (2, 3, 4) of the dtype tested)
EAGER = {
    "tril": lambda o, x: o.tril(x), "tril k": lambda o, x: o.tril(x, 1), "tril k negative": lambda o, x: o.tril(x, -1),
    "tril matrix": lambda o, x: o.tril(x[0], -2), "triu": lambda o, x: o.triu(x), "triu k": lambda o, x: o.triu(x, 2),
    "triu k negative": lambda o, x: o.triu(x, -1), "triu matrix": lambda o, x: o.triu(x[1], 1),
    "unstack": lambda o, x: o.unstack(x), "unstack axis": lambda o, x: o.unstack(x, axis=2),
    "unstack axis negative": lambda o, x: o.unstack(x, num=3, axis=-2),
    "tensordot": lambda o, x: o.tensordot(x, W.astype(x.dtype), axes=1),
    "tensordot default": lambda o, x: o.tensordot(x, x[0].astype(x.dtype)),
    "tensordot pairs": lambda o, x: o.tensordot(x, np.ones((4, 3), x.dtype), axes=[[2, 1], [0, 1]]),
    "tensordot ints": lambda o, x: o.tensordot(x, x, axes=(0, 0)),
    "tensordot outer": lambda o, x: o.tensordot(x[0, 0], x[1], axes=0),
}


@pytest.mark.parametrize("name", sorted(EAGER))
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_eager_values_and_dtypes_are_keras(name, dtype, keras):
    x = _data(dtype)
    _same(EAGER[name](ops, x), EAGER[name](keras.ops, x), keras, rtol=1e-5)


def test_tensordot_narrow_integers_as_keras(keras):
    for dtype in ("uint8", "int8", "int16"):
        a, b = np.arange(6).reshape(2, 3).astype(dtype), np.arange(3).astype(dtype)
        _same(ops.tensordot(a, b, axes=1), keras.ops.tensordot(a, b, axes=1), keras)
    a = np.array([[1, 2], [3, 4]], "int32")
    _same(ops.tensordot(a, np.array([0.5, 1.0], "float32"), 1), keras.ops.tensordot(a, np.array([0.5, 1.0], "float32"), 1),
          keras)


def test_unstack_of_a_list_and_python_numbers(keras):
    _same(ops.unstack([[1, 2], [3, 4]]), keras.ops.unstack([[1, 2], [3, 4]]), keras)


# -- symbolic: tril/triu nodes against finite differences and torch --------------------------------
SYMBOLIC = {
    "tril": ({"k": 0}, lambda t, x: t.tril(x)), "tril k": ({"k": 1}, lambda t, x: t.tril(x, 1)),
    "tril k negative": ({"k": -2}, lambda t, x: t.tril(x, -2)), "triu": ({"k": 0}, lambda t, x: t.triu(x)),
    "triu k": ({"k": 2}, lambda t, x: t.triu(x, 2)), "triu k negative": ({"k": -1}, lambda t, x: t.triu(x, -1)),
}


def _case(name, rng, dtype="float64"):
    layer = TensorFunction(name.split()[0], SYMBOLIC[name][0], dtype=dtype)
    return layer, rng.standard_normal((3, 2, 4, 5)).astype(dtype)


@pytest.mark.parametrize("name", sorted(SYMBOLIC))
def test_triangles_agree_with_finite_differences_and_torch(name, rng, torch):
    layer, x = _case(name, rng)
    report = check_layer(layer, x)
    assert report["max_error"] < 1e-6
    out = layer(x)
    upstream = rng.standard_normal(out.shape)
    grad = layer.backward(upstream)
    t = torch.tensor(x, requires_grad=True)
    theirs = SYMBOLIC[name][1](torch, t)
    theirs.backward(torch.tensor(upstream))
    np.testing.assert_array_equal(out, theirs.detach().numpy())
    np.testing.assert_array_equal(grad, t.grad.numpy())


def test_the_gradient_check_catches_a_wrong_triangle(rng):
    class Wrong(TensorFunction):
        def backward(self, grad_output):
            return grad_output.copy()           # the zeroed entries given a gradient
    with pytest.raises(Exception, match="input"):
        check_layer(Wrong("tril", {"k": 0}, dtype="float64"), rng.standard_normal((2, 3, 3)))


def test_float32_stays_float32(rng):
    for name in SYMBOLIC:
        layer, x = _case(name, rng, "float32")
        out = layer(x)
        assert out.dtype == layer.backward(np.ones_like(out)).dtype == np.float32


# -- drawing: shapes as Keras', models beside Keras, files, refusals --------------------------------
def _drawn(lib, o):
    x = lib.Input((5, 4))
    return [o.tril(x), o.triu(x, 1), o.tril(x, -2), *o.unstack(x, axis=1), *o.unstack(x, axis=-1),
            o.tensordot(x, W.astype("float32"), axes=1), o.tensordot(x, np.ones((5, 4, 3), "float32"), axes=[[1, 2], [0, 1]]),
            o.tensordot(np.ones((4, 5), "float32"), x, axes=[[0, 1], [2, 1]]),
            o.tensordot(x, np.ones((4,), "float32"), axes=[[2], [0]]), x * o.tri(5, 4), o.matmul(x, o.eye(4))]


def test_symbolic_shapes_are_keras(keras):
    ours, theirs = _drawn(gn, ops), _drawn(keras, keras.ops)
    assert len(ours) == len(theirs)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        assert a.shape == tuple(b.shape) and a.dtype == b.dtype, (k, a.shape, b.shape)


def _filled(lib, o):
    """A model of the constructors beside tensors, tril/triu, unstack and tensordot."""
    x = lib.Input((5, 4))
    h = lib.layers.Dense(5, name="d")(x)                                   # (None, 5, 5)
    scores = o.tensordot(h, W.T.astype("float32"), axes=[[2], [0]])         # (None, 5, 4)
    square = o.matmul(scores, o.transpose(scores, (0, 2, 1)))              # (None, 5, 5)
    lower = o.tril(square, -1) + o.triu(square, 1) * 0.5 + square * o.eye(5) * 2.0
    masked = lower * o.tri(5, 5) + o.full((5,), 0.25)                      # a causal mask
    rows = o.unstack(masked, axis=1)                                       # 5 of (None, 5)
    picked = o.concatenate([rows[0], rows[2] * rows[4], o.tensordot(masked, o.linspace(0, 1, 5), axes=1)], axis=-1)
    return x, lib.layers.Dense(2, name="out")(o.tanh(picked))


def test_a_model_of_them_predicts_and_trains_as_keras(rng, keras):
    ours = gn.Model(*_filled(gn, ops), seed=0)
    theirs = keras.Model(*_filled(keras, keras.ops))
    for name in ("d", "out"):
        theirs.get_layer(name).set_weights(ours.get_layer(name).get_weights())
    x = rng.standard_normal((32, 5, 4)).astype(np.float32)
    y = rng.standard_normal((32, 2)).astype(np.float32)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(0.05))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.05))
    ours_loss = ours.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    their_loss = theirs.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    assert ours_loss[-1] < ours_loss[0]
    np.testing.assert_allclose(ours_loss, their_loss, rtol=1e-5)
    for name in ("d", "out"):
        for a, b in zip(ours.get_layer(name).get_weights(), theirs.get_layer(name).get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_a_float64_model_agrees_with_finite_differences(rng):
    model = gn.Model(*_filled(gn, ops), seed=0, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    check_model(model, rng.standard_normal((3, 5, 4)), rng.standard_normal((3, 2)))


def test_save_load_and_clone_round_trip(rng, tmp_path):
    model = gn.Model(*_filled(gn, ops), seed=0)
    x = rng.standard_normal((4, 5, 4)).astype(np.float32)
    model.save(tmp_path / "filled.npz")
    loaded = gn.load_model(tmp_path / "filled.npz")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    for copy in (gn.models.model_from_json(model.to_json()), gn.models.clone_model(model)):
        copy.set_weights(model.get_weights())
        np.testing.assert_array_equal(copy.predict(x, verbose=0), model.predict(x, verbose=0))


# -- CallWeight.value: Keras' variable.value, a property -------------------------------------------
def _linear(module, kops):
    class Linear(module.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], 3), initializer="random_normal", name="w")
            self.b = self.add_weight(shape=(3,), initializer="zeros", name="b")
            self.g = self.add_weight(shape=(3,), initializer="ones", name="g")

        def call(self, inputs):
            h = kops.matmul(inputs, self.w.value) + self.b.value
            return kops.maximum(h * self.g.value, 0.1 * h)

    inputs = module.Input((4,))
    block = Linear(name="lin")
    return inputs, module.layers.Dense(1, name="out")(block(inputs)), block


def test_weight_value_is_an_operand_as_keras(rng, keras):
    inputs, outputs, block = _linear(gn, ops)
    ours = gn.Model(inputs, outputs, seed=0)
    theirs = keras.Model(*_linear(keras, keras.ops)[:2])
    theirs.set_weights(ours.get_weights())
    x = rng.standard_normal((24, 4)).astype(np.float32)
    y = rng.standard_normal((24, 1)).astype(np.float32)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(0.1))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.1))
    ours_loss = ours.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]
    their_loss = theirs.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(ours_loss, their_loss, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_weight_value_trains_by_finite_differences(rng):
    inputs, outputs, lin = _linear(gn, ops)
    model = gn.Model(inputs, outputs, seed=0, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    check_model(model, rng.standard_normal((3, 4)), rng.standard_normal((3, 1)))
    assert lin.w.value is lin.w and lin.w[:2].value.shape == (2, 3)
    np.testing.assert_array_equal(lin.w.numpy(), model.get_weights()[0])


@pytest.mark.parametrize("make, error, message", [
    (lambda x: ops.tril(x[:, 0]), ValueError, "it needs two sample axes"),
    (lambda x: ops.triu(x, 1.5), TypeError, "k must be an integer"),
    (lambda x: ops.unstack(x), ValueError, "axis 0 is the batch axis"),
    (lambda x: ops.unstack(x, num=3, axis=1), ValueError, "num=3 but axis 1 of tensors .* has size 5"),
    (lambda x: ops.unstack(x, axis=3), ValueError, "axis 3 is outside"),
    (lambda x: ops.unstack(gn.Input((None, 4)), axis=1), ValueError, "has no size yet; give num"),
    (lambda x: ops.tensordot(x, x), TypeError, "both tensors"),
    (lambda x: ops.tensordot(x, np.ones((3, 5)), axes=[[0], [0]]), ValueError, "contract the batch axis"),
    (lambda x: ops.tensordot(np.ones((2, 5)), x, axes=[[1], [1]]), ValueError, "would come before the batch axis"),
    (lambda x: ops.tensordot(x, np.ones((3, 2)), axes=[[2], [0]]), ValueError, "index .* has sizes 4 and 3"),
    (lambda x: ops.tensordot(x, np.ones(4), axes="last"), TypeError, "axes must be an integer or a pair"),
    (lambda x: ops.zeros(ops.shape(x)), TypeError, "ops.shape\\(x\\) gives None for the batch size"),
    (lambda x: ops.full((2,), x), TypeError, "fill_value is a tensor"),
    (lambda x: ops.linspace(0, x, 3), TypeError, "stop is a tensor"),
    (lambda x: ops.eye(x), TypeError, "N is a tensor"),
    (lambda x: ops.meshgrid(x), TypeError, "x\\[0\\] is a tensor"),
])
def test_refusals_name_what_was_wrong(make, error, message):
    with pytest.raises(error, match=message):
        make(gn.Input((5, 4)))


@pytest.mark.parametrize("make, error, message", [
    (lambda: ops.zeros((2, -1)), TypeError, "shape\\[1\\] must be an integer 0 or more"),
    (lambda: ops.ones("3"), TypeError, "shape must be a tuple of sizes"),
    (lambda: ops.full((2, 3), [1, 2]), ValueError, "fill_value of shape \\(2,\\) does not broadcast to shape \\(2, 3\\)"),
    (lambda: ops.eye(3, k=0.5), TypeError, "k must be an integer"),
    (lambda: ops.tri(2.0), TypeError, "N must be an integer"),
    (lambda: ops.zeros(2, dtype="floaty"), TypeError, "dtype must name a dtype"),
    (lambda: ops.linspace(0, 1, -1), TypeError, "num must be an integer 0 or more"),
    (lambda: ops.meshgrid(np.ones((2, 2))), ValueError, "x\\[0\\] must have one axis"),
    (lambda: ops.meshgrid([1], indexing="xyz"), ValueError, "indexing must be 'xy' or 'ij'"),
    (lambda: ops.tril(np.ones(3)), ValueError, "x must have two axes or more"),
    (lambda: ops.unstack(np.ones((2, 3)), num=2, axis=1), ValueError, "num=2 but axis 1 of x has size 3"),
    (lambda: ops.tensordot(np.ones((2, 3)), np.ones((2, 3)), axes=1), ValueError, "are paired but differ"),
    (lambda: ops.tensordot(np.ones((2, 3)), np.ones(3), axes=3), ValueError, "axes=3 must be from 0"),
    (lambda: ops.tensordot(np.ones((2, 3)), np.ones(3), axes=([1, 0], [0])), ValueError, "must pair as many axes"),
])
def test_eager_refusals(make, error, message):
    with pytest.raises(error, match=message):
        make()
