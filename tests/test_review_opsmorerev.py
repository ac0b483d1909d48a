"""Review (keras.ops activations, operators on tensors, more ops) by a seeded differential fuzz
against Keras 3.15: floor_divide of floats is TensorFlow's floor(x1 / x2), `x != 0` is Keras'
not_equal node (it was identity: True), mod reads Python numbers as Keras' mod, convert_to_numpy
keeps NumPy's reading of Python values."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops
from glassnet.gradcheck import check_model


def _same(ours, theirs, what):
    theirs = np.asarray(theirs)
    ours = np.asarray(ours)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape, (what, ours.dtype, theirs.dtype, ours.shape,
                                                                       theirs.shape)
    tight = ours.dtype == np.float64 or ours.dtype.kind in "biu"
    np.testing.assert_allclose(ours, theirs, rtol=1e-12 if tight else 4e-6, atol=1e-14 if tight else 1e-6,
                               equal_nan=True, err_msg=str(what))


# -- eager fuzz: values and dtypes of ints, bools, Python numbers, 0-d and empty arrays -------------
_UNARY = ["gelu", "silu", "elu", "selu", "leaky_relu", "relu6", "hard_sigmoid", "hard_silu", "softsign", "log_sigmoid",
          "celu", "hard_tanh", "tanh_shrink", "sparse_plus", "sparse_sigmoid", "tan", "arctan", "sinh", "cosh",
          "arcsinh", "log2", "ceil", "trunc", "isnan", "isinf", "isfinite", "sort", "argsort"]


def _operands(rng):
    return {"f32": (rng.standard_normal((3, 4)) * 3).astype(np.float32),
            "f64": rng.standard_normal((2, 5)) * 3,
            # no infinities: silu(-inf) is 0 here, Keras' -inf * 0 NaN (floor_divide takes them below)
            "big": np.array([-800.0, -40, -1e-8, 0, 1e-8, 40, 800, np.nan]),
            "near": np.array([9.0, -8.0, 0.3, 7.0, 1.0, 0.7], np.float32),
            "i32": rng.integers(-8, 9, (3, 4)).astype(np.int32), "bool": rng.random((2, 3)) > 0.5,
            "0-d": np.float32(-0.7), "empty": np.zeros((0, 3), np.float32), "float": 1.5, "int": 3}


def _call(module, name, *args):
    try:
        with np.errstate(all="ignore"):
            return np.asarray(module.convert_to_numpy(getattr(module, name)(*args)))
    except Exception as error:      # noqa: BLE001 - compared: where Keras fails, glassnet may compute
        return error


def test_fuzz_ops_on_arrays_are_keras(keras):
    rng = np.random.default_rng(20)
    values = _operands(rng)
    for name in _UNARY:
        for key, x in values.items():
            theirs = _call(keras.ops, name, x)
            if isinstance(theirs, Exception):
                continue                 # Keras on TensorFlow refuses most of these on integers
            ours = getattr(ops, name)(x)
            loose = name in ("gelu", "leaky_relu") and theirs.dtype == np.float64   # Keras' float32 constants
            if loose:
                np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-12, err_msg=f"{name}({key})")
            else:
                _same(ours, theirs, f"{name}({key})")
    divisors = {"f32": np.float32([0.1, -0.1, 0.7, -2.5, 1.0, 0.0]), "py": -0.3, "pyint": 2, "one": 1.0}
    for name in ("floor_divide", "mod", "logical_xor"):
        for key, a in (("near", values["near"]), ("inf", np.array([np.inf, -np.inf, 5.0, -3.0, 0.0, np.nan])),
                       ("f64", values["f64"][0])):
            for kb, b in divisors.items():
                if np.ndim(b) and np.ndim(a) and np.shape(a)[-1] != np.shape(b)[-1]:
                    b = np.resize(b, np.shape(a)[-1]).astype(np.asarray(b).dtype)
                for args in ((a, b), (b, a)):
                    theirs = _call(keras.ops, name, *args)
                    with np.errstate(all="ignore"):
                        _same(getattr(ops, name)(*args), theirs, f"{name}({key}, {kb})")


def test_floor_divide_of_floats_is_tensorflows(keras):
    # TensorFlow's floordiv of floats is floor(x1 / x2): 9.0 / 0.1 rounds to 90.0, where NumPy's
    # (Python's) exact floor of the quotient is 89.0; inf // 1 is inf, not nan
    x1 = np.array([9.0, -8.0, 1.0, np.inf, -3.0, 0.7 * 3], np.float32)
    x2 = np.array([0.1, -0.1, 0.1, 1.0, np.inf, 0.7], np.float32)
    for dtype in ("float32", "float64"):
        a, b = x1.astype(dtype), x2.astype(dtype)
        _same(ops.floor_divide(a, b), keras.ops.floor_divide(a, b), dtype)
    _same(ops.floor_divide(1.0, 0.1), keras.ops.floor_divide(1.0, 0.1), "numbers")
    # integers stay Python's (TensorFlow's too)
    i = np.array([-7, 7, -7, 7], np.int32)
    _same(ops.floor_divide(i, np.int32([2, -2, -2, 2])), keras.ops.floor_divide(i, np.int32([2, -2, -2, 2])), "int32")


def test_a_python_float_beside_float64_keeps_its_value(keras):
    # it went through float32 first: add(x, 0.1) of float64 was 1.5e-9 off, -3.0 // -0.3 gave 9.0
    x = np.array([1.0, -3.0, 0.7])
    for name in ("add", "subtract", "multiply", "divide", "minimum", "floor_divide"):
        for args in ((x, 0.1), (0.3, x), (x, -0.3)):
            _same(getattr(ops, name)(*args), getattr(keras.ops, name)(*args), (name, args))


def test_floor_divide_and_mod_nodes_are_keras(keras):
    def build(lib, o):
        x = lib.Input((6,))
        return x, [x // 0.1, 0.9 // x, x % 0.1, o.floor_divide(x, x * 0.5 + 0.05)]
    ours, theirs = gn.Model(*build(gn, ops)), keras.Model(*build(keras, keras.ops))
    data = np.array([[0.9, 0.8, -0.7, 0.3, 0.1, 2.1]], np.float32)
    for a, b in zip(ours.predict(data, verbose=0), theirs.predict(data, verbose=0)):
        np.testing.assert_array_equal(a, np.asarray(b))


def test_not_equal_operator_with_a_constant_is_keras(keras):
    # Keras' KerasTensor makes x != 0 a not_equal node; identity gave True, so where(ids != 0, x, c)
    # passed x whole and cast(x != 0) was the constant 1.0
    def build(lib, o):
        x = lib.Input((4,))
        return x, [o.where(x != 0, x, -1.0), o.cast(0 != x, "float32"),
                   o.cast(x != np.array([0, 1, 0, 1], np.float32), "float32")]
    ours, theirs = gn.Model(*build(gn, ops)), keras.Model(*build(keras, keras.ops))
    data = np.array([[0, 1, 2, 0], [3, 0, 1, 1]], np.float32)
    for a, b in zip(ours.predict(data, verbose=0), theirs.predict(data, verbose=0)):
        np.testing.assert_array_equal(a, np.asarray(b))


def test_not_equal_between_tensors_stays_identity():
    x = gn.Input((3,))
    y = x * 2.0
    assert (x != x) is False and (x != y) is True and (y != None) is True     # noqa: E711
    assert [x, y].index(y) == 1 and {x: 1, y: 2}[y] == 2
    assert (x != 0.5).layer.op == "not_equal" and (np.ones(3) != x).layer.op == "not_equal"


def test_mod_reads_python_numbers_as_keras(keras):
    for x1, x2 in [(np.array([7, 3], np.uint8), 3), (np.array([1.5, -2.5], np.float16), 2.5),
                   (2.5, np.array([1.5, -2.5], np.float16)), (np.array([3, -4], np.int8), 2), (True, True),
                   (np.array([-7.5, 2.0], np.float32), -2), (np.array([5, -5], np.int32), 3.0)]:
        _same(ops.mod(x1, x2), keras.ops.mod(x1, x2), (x1, x2))


def test_convert_to_numpy_of_python_values_is_keras(keras):
    for value in (1.5, 3, True, [0.1, 0.2], [1, -2], np.float32(0.1), np.arange(3, dtype=np.int8)):
        _same(ops.convert_to_numpy(value), keras.ops.convert_to_numpy(value), value)


# -- random small functional models: predictions, SGD, float64 gradients, files -------------------
_PIECES = [
    lambda o, h: o.gelu(h), lambda o, h: o.silu(h) // 0.25, lambda o, h: o.selu(h) % 0.7, lambda o, h: 2.0 % (h * h + 1.0),
    lambda o, h: o.leaky_relu(h) + o.cast(h > 0.3, "float32"), lambda o, h: o.hard_silu(h) * o.cast(h != 0.5, "float32"),
    lambda o, h: o.log_sigmoid(h * 4.0), lambda o, h: o.where((h > -0.2) & (h < 0.8), o.celu(h), o.softsign(h)),
    lambda o, h: o.arctan(h) + o.sinh(0.5 * h), lambda o, h: o.sort(h, axis=-1) + round(h * 2.0) * 0.1,
    lambda o, h: h @ np.linspace(-1, 1, 16).reshape(4, 4).astype("float32"),
]


def _fuzz_model(lib, o, picks, activation):
    x = lib.Input((4,))
    h = lib.layers.Dense(4, activation=getattr(o, activation), name="a")(x)
    h = o.concatenate([_PIECES[k](o, h) for k in picks], axis=-1)
    return x, lib.layers.Dense(1, name="out")(h)


@pytest.mark.parametrize("seed", [0, 1])
def test_fuzz_models_train_as_keras(seed, keras, tmp_path):
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(_PIECES), 4, replace=False).tolist()
    activation = ["gelu", "leaky_relu", "hard_sigmoid", "relu6", "selu"][rng.integers(5)]
    ours = gn.Model(*_fuzz_model(gn, ops, picks, activation), seed=seed)
    theirs = keras.Model(*_fuzz_model(keras, keras.ops, picks, activation))
    for name in ("a", "out"):
        theirs.get_layer(name).set_weights(ours.get_layer(name).get_weights())
    x = rng.standard_normal((16, 4)).astype(np.float32)
    y = rng.standard_normal((16, 1)).astype(np.float32)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(0.01))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.01))
    ours_loss = ours.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    their_loss = theirs.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(ours_loss, their_loss, rtol=1e-4)
    expected = ours.predict(x, verbose=0)
    ours.save(tmp_path / "m.npz")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "m.npz").predict(x, verbose=0), expected)
    for copy in (gn.models.clone_model(ours), gn.models.model_from_json(ours.to_json())):
        copy.set_weights(ours.get_weights())
        np.testing.assert_array_equal(copy.predict(x, verbose=0), expected)
    # float64: gradients against finite differences, small inputs keeping off the jumps of // and %
    model = gn.Model(*_fuzz_model(gn, ops, picks, activation), seed=seed, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    check_model(model, rng.standard_normal((3, 4)) * 0.05, rng.standard_normal((3, 1)))
