"""Small parity fixes, each measured against Keras 3.15 on TensorFlow (the ``keras`` fixture):
ops.power's negative integer exponents, ops.top_k(x, 0), argmax/argmin with NaN and -0.0, 0-d
results of ops on Python numbers, sample_weight of shape (n, 1), weighted accuracy on an output of
one number per sample, and a functools.partial of a glassnet.ops activation as a layer's activation.
Gradients of the new paths against float64 central finite differences (glassnet.gradcheck)."""
import functools
import inspect

import numpy as np
import pytest

import glassnet as gn
from glassnet import activations, gradcheck, ops

NAN, INF = np.nan, np.inf


# -- 1. power: integers to negative integer powers -------------------------------------------------------
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "uint32", "int8", "int16", "int32", "int64"])
@pytest.mark.parametrize("exponent", [-1, np.array([1, -2], "int32"), -3])
def test_power_negative_integer_exponent_refused_as_keras(keras, dtype, exponent):
    base = np.array([2, 3], dtype)
    with pytest.raises(Exception, match="negative integer powers are not allowed"):
        keras.ops.power(base, exponent)
    with pytest.raises(ValueError, match=r"ops\.power: x2 .*negative .*not allowed"):
        ops.power(base, exponent)


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int32"])
@pytest.mark.parametrize("exponent", [0, 2, np.array([0, 3], "int32"), -1.0, 0.5])
def test_power_other_exponents_as_keras(keras, dtype, exponent):
    base = np.array([2, 3], dtype)
    want = keras.ops.convert_to_numpy(keras.ops.power(base, exponent))
    got = ops.power(base, exponent)
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_power_python_numbers_refused_as_keras(keras):
    with pytest.raises(Exception, match="negative integer powers"):
        keras.ops.power(2, -1)
    with pytest.raises(ValueError, match="x2"):
        ops.power(2, -1)
    assert ops.power(2.0, -1) == keras.ops.convert_to_numpy(keras.ops.power(2.0, -1))


# -- 2. top_k with k = 0 ---------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3,), (2, 4), (2, 0)])
def test_top_k_zero_on_arrays_as_keras(keras, shape):
    x = np.arange(int(np.prod(shape)), dtype="float32").reshape(shape)
    kv, ki = (keras.ops.convert_to_numpy(a) for a in keras.ops.top_k(x, 0))
    v, i = ops.top_k(x, 0)
    assert (v.shape, v.dtype, i.shape, i.dtype) == (kv.shape, kv.dtype, ki.shape, ki.dtype)


@pytest.mark.parametrize("x, k", [(np.array([1.0, 2.0, 3.0], "float32"), -1), (np.array([1.0, 2.0], "float32"), 3),
                                  (np.array(3.0, "float32"), 0)])
def test_top_k_out_of_range_refused_as_keras(keras, x, k):
    with pytest.raises(Exception):
        keras.ops.top_k(x, k)
    with pytest.raises(ValueError, match=r"ops\.top_k: (k|x)"):
        ops.top_k(x, k)


def test_top_k_zero_on_tensors_as_keras(keras):
    x = np.arange(6, dtype="float32").reshape(2, 3)
    ki = keras.Input((3,))
    kmodel = keras.Model(ki, list(keras.ops.top_k(ki, 0)))
    gi = gn.Input((3,))
    values, indices = ops.top_k(gi, 0)
    model = gn.Model(gi, [values, indices])
    want = kmodel.predict(x, verbose=0)
    got = model.predict(x)
    assert [a.shape for a in got] == [a.shape for a in want] == [(2, 0), (2, 0)]


def test_top_k_zero_in_a_model_gradient_against_finite_differences():
    # beside the tensor it was taken from, the empty piece adds nothing to the output or the gradient
    gi = gn.Input((3,))
    h = gn.layers.Dense(3, activation="tanh")(gi)
    values, _ = ops.top_k(h, 0)
    model = gn.Model(gi, ops.concatenate([h, values], axis=1), dtype="float64", seed=0)
    x = np.random.default_rng(0).normal(size=(4, 3))
    assert model.predict(x).shape == (4, 3)
    model.compile(loss="mse", optimizer="sgd")
    report = gradcheck.check_model(model, x, np.random.default_rng(1).normal(size=(4, 3)))
    assert report["max_error"] < 1e-6


# -- 3. argmax / argmin with NaN, -0.0, infinities ------------------------------------------------------
_ROWS = [[NAN, 1, 0], [1, NAN, 0], [0, NAN, 5], [NAN, NAN, NAN], [-INF, NAN, 2], [INF, NAN, 2], [NAN, -INF, 1],
         [NAN, INF, -1], [1, 1, NAN], [-0.0, 0.0, -1], [0.0, -0.0, 1], [-INF, -INF, NAN], [NAN, -3.4028235e38, NAN],
         [-3.4028235e38, -INF, NAN], [3.4028235e38, INF, NAN]]


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_arg_with_nan_as_keras_on_arrays(keras, op, dtype):
    with np.errstate(over="ignore"):
        x = np.array(_ROWS, dtype)
    rng = np.random.default_rng(0)
    wide = rng.normal(size=(6, 7)).astype(dtype)
    wide[rng.random(wide.shape) < 0.3] = NAN
    wide[rng.random(wide.shape) < 0.1] = -0.0
    for a in (x, x.T.copy(), wide):
        for axis, keepdims in ((None, False), (0, False), (1, False), (-1, True)):
            want = keras.ops.convert_to_numpy(getattr(keras.ops, op)(a, axis=axis, keepdims=keepdims))
            got = getattr(ops, op)(a, axis=axis, keepdims=keepdims)
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_array_equal(got, want, err_msg=f"{op} axis={axis}\n{a}")


@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_arg_with_nan_as_keras_on_tensors(keras, op):
    # inputs are finite (predict refuses NaN): log makes NaN of -1, -inf of 0 inside the model
    e = float(np.e)
    v = np.array([[-1, e, 1], [e, -1, 1], [1, -1, e ** 5], [-1, -1, -1], [0, -1, e], [-1, 0, e], [1, 1, -1],
                  [0, 0, -1], [-1, 0, 0], [e, e, -1]], "float32")
    ki = keras.Input((3,))
    want = keras.Model(ki, getattr(keras.ops, op)(keras.ops.log(ki), axis=-1)).predict(v, verbose=0)
    gi = gn.Input((3,))
    with np.errstate(invalid="ignore", divide="ignore"):
        got = gn.Model(gi, getattr(ops, op)(ops.log(gi), axis=-1)).predict(v)
    np.testing.assert_array_equal(got, want.astype("float32"))


def test_arg_integers_unchanged(keras):
    x = np.array([[3, 1, 3], [0, -5, 7]], "int32")
    for op in ("argmax", "argmin"):
        np.testing.assert_array_equal(getattr(ops, op)(x, axis=1),
                                      keras.ops.convert_to_numpy(getattr(keras.ops, op)(x, axis=1)))


# -- 4. Python numbers in, 0-d arrays out ----------------------------------------------------------------
_NOT_ON_NUMBERS = {"shape", "arange", "split", "top_k", "slice", "slice_update", "einsum", "concatenate", "stack",
                   "take", "take_along_axis", "pad", "tile", "repeat", "broadcast_to", "expand_dims", "squeeze",
                   "reshape", "transpose", "matmul", "sort", "argsort", "convert_to_numpy",
                   # results that are no array (a pair, a flag, a Python int, a complex number), indexing,
                   # and windows of a length that is no integer (Keras 3.15's bartlett(2.5) has 3 points)
                   "histogram", "is_tensor", "ndim", "polar", "get_item", "bartlett", "blackman", "hamming",
                   "hanning", "kaiser"}


def _number_calls():
    for name in ops.__all__:
        if name in _NOT_ON_NUMBERS:
            continue
        n = sum(p.default is inspect.Parameter.empty for p in inspect.signature(getattr(ops, name)).parameters.values())
        for values in ([2] * n, [2.5] * n, [0.5, 3][:n], [3, 0.5][:n], [True] * n):
            args = {"clip": [values[0], 0, 3], "cast": [values[0], "float32"], "one_hot": [1, 3],
                    "where": [values[0], 1, 2.0]}.get(name, values)
            yield name, args


def test_every_function_on_python_numbers_gives_a_0d_array_as_keras(keras):
    checked = 0
    for name, args in _number_calls():
        try:
            with np.errstate(all="ignore"):         # (arcsin(2) is NaN, as Keras')
                got = getattr(ops, name)(*args)
        except (TypeError, ValueError):
            continue                    # refused by name (booleans into sign, round, negative, ...)
        assert type(got) is np.ndarray, f"ops.{name}{tuple(args)} gave {type(got).__name__}"
        try:
            want = keras.ops.convert_to_numpy(getattr(keras.ops, name)(*args))
        except Exception:
            continue                    # Keras on TensorFlow refuses it (integers into float functions)
        assert got.shape == want.shape, f"ops.{name}{tuple(args)}"       # () but cumsum's (1,)
        if name not in ("power", "floor_divide", "mod") or type(args[0]) is not bool:
            # (booleans into power, floor_divide and mod: int8 here, where Keras refuses or gives int32)
            assert got.dtype == want.dtype, f"ops.{name}{tuple(args)}: {got.dtype} vs {want.dtype}"
        np.testing.assert_allclose(got.astype(float), want.astype(float), rtol=2e-6, err_msg=f"ops.{name}{tuple(args)}")
        checked += 1
    assert checked > 100


def test_numpy_zero_d_operands_give_a_0d_array():
    for a, b in ((np.float32(7), np.float32(3)), (np.array(7.0), np.array(3.0)), (7, 3)):
        for f in (ops.add, ops.subtract, ops.multiply, ops.divide, ops.maximum, ops.minimum, ops.power, ops.mod):
            assert type(f(a, b)) is np.ndarray and f(a, b).shape == ()
    assert type(ops.abs(-2)) is np.ndarray and type(ops.negative(2.0)) is np.ndarray
    assert ops.add(7, 3).tolist() == 10 and ops.add(7, 3).dtype == np.int32


# -- 5. sample_weight of shape (n, 1) ---------------------------------------------------------------------
_RNG = np.random.default_rng(0)
_X = _RNG.normal(size=(12, 3)).astype("float32")
_W = _RNG.uniform(0.1, 2.0, size=12).astype("float32")
_CASES = {
    "bce": (1, "sigmoid", "binary_crossentropy", (_RNG.random((12, 1)) > 0.5).astype("float32"), ["accuracy"]),
    "cce": (4, "softmax", "categorical_crossentropy", np.eye(4, dtype="float32")[_RNG.integers(0, 4, 12)],
            ["accuracy", "auc"]),
    "scce": (4, "softmax", "sparse_categorical_crossentropy", _RNG.integers(0, 4, 12), ["accuracy"]),
    "mse2": (2, None, "mse", _RNG.normal(size=(12, 2)).astype("float32"), ["mae"]),
}


@pytest.mark.parametrize("case", sorted(_CASES))
def test_sample_weight_column_as_keras(keras, case):
    units, act, loss, y, metrics = _CASES[case]
    keras.utils.set_random_seed(0)
    kmodel = keras.Sequential([keras.Input((3,)), keras.layers.Dense(units, activation=act)])
    kmodel.compile(loss=loss, optimizer=keras.optimizers.SGD(0.1), weighted_metrics=metrics)
    model = gn.Sequential([gn.Input((3,)), gn.layers.Dense(units, activation=act)], seed=0)
    model.build((3,))
    model.set_weights(kmodel.get_weights())
    model.compile(loss=loss, optimizer=gn.optimizers.SGD(0.1), weighted_metrics=metrics)
    column = _W[:, None]
    kev = kmodel.evaluate(_X, y, sample_weight=column, verbose=0, return_dict=True)
    gev = model.evaluate(_X, y, sample_weight=column, verbose=0, return_dict=True)
    assert gev == model.evaluate(_X, y, sample_weight=_W, verbose=0, return_dict=True)      # the same as (n,)
    for key in gev:
        np.testing.assert_allclose(gev[key], kev[key], rtol=2e-6, atol=1e-7, err_msg=key)
    kh = kmodel.fit(_X, y, sample_weight=column, batch_size=4, epochs=2, verbose=0, shuffle=False).history
    gh = model.fit(_X, y, sample_weight=column, batch_size=4, epochs=2, verbose=0, shuffle=False).history
    np.testing.assert_allclose(gh["loss"], kh["loss"], rtol=2e-6)
    for a, b in zip(model.get_weights(), kmodel.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("column_targets", [False, True], ids=["y(n,)", "y(n,1)"])
def test_sample_weight_column_on_one_number_per_sample_as_keras(keras, column_targets):
    y = _CASES["mse2"][3][:, 0]
    y = y[:, None] if column_targets else y
    keras.utils.set_random_seed(0)
    ki = keras.Input((3,))
    kmodel = keras.Model(ki, keras.layers.Dense(2)(ki)[:, 0])
    gi = gn.Input((3,))
    model = gn.Model(gi, gn.layers.Dense(2)(gi)[:, 0], seed=0)
    model.build((3,))
    model.set_weights(kmodel.get_weights())
    kmodel.compile(loss="mse", optimizer=keras.optimizers.SGD(0.1))
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(0.1))
    kh = kmodel.fit(_X, y, sample_weight=_W[:, None], batch_size=4, epochs=2, verbose=0, shuffle=False).history
    gh = model.fit(_X, y, sample_weight=_W[:, None], batch_size=4, epochs=2, verbose=0, shuffle=False).history
    np.testing.assert_allclose(gh["loss"], kh["loss"], rtol=2e-6)
    np.testing.assert_allclose(model.evaluate(_X, y, sample_weight=_W[:, None], batch_size=4),
                               kmodel.evaluate(_X, y, sample_weight=_W[:, None], batch_size=4, verbose=0), rtol=2e-6)


def test_sample_weight_column_gradient_against_finite_differences():
    model = gn.Sequential([gn.Input((3,)), gn.layers.Dense(2, activation="tanh")], seed=0, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    y = _CASES["mse2"][3].astype("float64")
    report = gradcheck.check_model(model, _X.astype("float64"), y, sample_weight=_W[:, None].astype("float64"))
    assert report["max_error"] < 1e-6


def test_sample_weight_other_shapes_still_refused():
    model = gn.Sequential([gn.Input((3,)), gn.layers.Dense(2)], seed=0)
    model.compile(loss="mse")
    y = _CASES["mse2"][3]
    for bad in (np.ones((12, 2)), np.ones((12, 1, 1)), np.ones((6, 1))):
        with pytest.raises(ValueError, match="sample_weight: expected one weight per sample"):
            model.evaluate(_X, y, sample_weight=bad)
    with pytest.raises(ValueError, match="sample_weight"):
        model.evaluate(_X, y, sample_weight=-_W[:, None])
    seq = gn.Sequential([gn.Input((5, 3)), gn.layers.Dense(2)], seed=0)       # an output with positions
    seq.compile(loss="mse")
    with pytest.raises(ValueError, match="sample_weight"):
        seq.evaluate(np.ones((4, 5, 3)), np.ones((4, 5, 2)), sample_weight=np.ones((4, 1)))


# -- 6. weighted accuracy on an output of one number per sample ------------------------------------------
@pytest.mark.parametrize("compiled", [{"weighted_metrics": ["accuracy"]}, {"weighted_metrics": ["acc"]},
                                      {"metrics": ["accuracy"], "weighted_metrics": ["accuracy"]}])
def test_weighted_accuracy_on_one_number_per_sample_refused_as_keras(keras, compiled):
    y = (_CASES["mse2"][3][:, :1] > 0).astype("float32")
    ki = keras.Input((3,))
    kmodel = keras.Model(ki, keras.layers.Dense(2)(ki)[:, 0])
    kmodel.compile(loss="mse", optimizer="sgd", **compiled)
    with pytest.raises(TypeError):
        kmodel.evaluate(_X, y, sample_weight=_W, verbose=0)
    gi = gn.Input((3,))
    model = gn.Model(gi, gn.layers.Dense(2)(gi)[:, 0], seed=0)
    model.compile(loss="mse", optimizer="sgd", **compiled)
    name = compiled["weighted_metrics"][0]
    with pytest.raises(ValueError, match=f"the metric '(weighted_)?{name}' on an output of one number per sample"):
        model.evaluate(_X, y, sample_weight=_W)
    with pytest.raises(ValueError, match="one number per sample"):
        model.fit(_X, y, sample_weight=_W, verbose=0)


def test_weighted_binary_accuracy_on_one_number_per_sample_as_keras(keras):
    y = (_CASES["mse2"][3][:, :1] > 0).astype("float32")
    keras.utils.set_random_seed(0)
    ki = keras.Input((3,))
    kmodel = keras.Model(ki, keras.layers.Dense(2)(ki)[:, 0])
    kmodel.compile(loss="mse", optimizer="sgd", weighted_metrics=["binary_accuracy"])
    gi = gn.Input((3,))
    model = gn.Model(gi, gn.layers.Dense(2)(gi)[:, 0], seed=0)
    model.build((3,))
    model.set_weights(kmodel.get_weights())
    model.compile(loss="mse", optimizer="sgd", weighted_metrics=["binary_accuracy"])
    np.testing.assert_allclose(model.evaluate(_X, y, sample_weight=_W),
                               kmodel.evaluate(_X, y, sample_weight=_W, verbose=0), rtol=2e-6)


# -- 7. functools.partial of a glassnet.ops activation ------------------------------------------------------
_PARTIALS = [("gelu", {"approximate": False}), ("gelu", {"approximate": True}), ("elu", {"alpha": 2.0}),
             ("leaky_relu", {"negative_slope": 0.3}), ("celu", {"alpha": 0.5}), ("soft_shrink", {"threshold": 0.2}),
             ("squareplus", {"b": 2.0})]


@pytest.mark.parametrize("op, settings", _PARTIALS, ids=[f"{op}{s}" for op, s in _PARTIALS])
def test_partial_activation_trains_as_keras(keras, op, settings, tmp_path):
    y = _CASES["mse2"][3]
    keras.utils.set_random_seed(0)
    kmodel = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation=functools.partial(
        getattr(keras.ops, op), **settings)), keras.layers.Dense(2)])
    model = gn.Sequential([gn.Input((3,)), gn.layers.Dense(4, activation=functools.partial(getattr(ops, op), **settings)),
                           gn.layers.Dense(2)], seed=0)
    model.build((3,))
    model.set_weights(kmodel.get_weights())
    np.testing.assert_allclose(model.predict(_X), kmodel.predict(_X, verbose=0), rtol=1e-5, atol=1e-6)
    kmodel.compile(loss="mse", optimizer=keras.optimizers.SGD(0.1))
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(0.1))
    kh = kmodel.fit(_X, y, batch_size=4, epochs=2, verbose=0, shuffle=False).history
    gh = model.fit(_X, y, batch_size=4, epochs=2, verbose=0, shuffle=False).history
    np.testing.assert_allclose(gh["loss"], kh["loss"], rtol=2e-5)
    model.save(tmp_path / "m.npz")
    again = gn.load_model(tmp_path / "m.npz")
    assert again.layers[0].activation.name == model.layers[0].activation.name
    np.testing.assert_array_equal(again.predict(_X), model.predict(_X))


@pytest.mark.parametrize("op, settings", _PARTIALS, ids=[f"{op}{s}" for op, s in _PARTIALS])
def test_partial_activation_gradient_against_finite_differences(op, settings):
    layer = gn.layers.Dense(4, activation=functools.partial(getattr(ops, op), **settings), dtype="float64")
    x = np.random.default_rng(1).normal(size=(5, 3)) * 1.5
    report = gradcheck.check_layer(layer, x)
    assert report["max_error"] < 1e-6


def test_partial_activation_names():
    assert activations.get(functools.partial(ops.gelu, approximate=False)) is activations.get("gelu")
    assert activations.get(functools.partial(ops.leaky_relu, negative_slope=0.01)) is activations.get("leaky_relu")
    assert activations.get(functools.partial(ops.gelu, approximate=True)) is activations.get(ops.gelu)
    elu2 = activations.get(functools.partial(ops.elu, alpha=2.0))
    assert elu2.name == "elu(alpha=2.0)" and activations.get("elu(alpha=2.0)") is elu2
    assert activations.serialize(elu2) == "elu(alpha=2.0)"


@pytest.mark.parametrize("bad, message", [
    (functools.partial(ops.elu, 2.0), "binds x"),
    (functools.partial(ops.elu, beta=2.0), "elu has no setting 'beta'"),
    (functools.partial(ops.relu, x=1.0), "ops.relu has no settings"),
    (functools.partial(ops.squareplus, b=-1.0), "b must be"),
    (functools.partial(activations.elu, alpha=2.0), r"Activation\('elu_custom'"),
    ("elu(alpha=__import__('os'))", "no setting=number"),
])
def test_partial_activation_refused_by_name(bad, message):
    with pytest.raises(ValueError, match=message):
        gn.layers.Dense(2, activation=bad)
