"""keras.ops' further reductions, NaN and segment reductions, counting, integer, window and complex
functions (glassnet._ops_reduce, _ops_count, _ops_signal): values and dtypes against Keras 3.15 on
TensorFlow, gradients against float64 finite differences and tf.GradientTape, nodes in models."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops

R = np.random.default_rng(0)
F = R.standard_normal((3, 4, 5)).astype(np.float32)
NAN = F.copy()
NAN[0, 1, :] = np.nan
NAN[1, :, 2] = np.nan
NAN[2, 0, 0] = np.nan
I = R.integers(-5, 9, (4, 6)).astype(np.int32)
D = R.standard_normal((6, 3))

CASES = [
    ("amax", (F,), {"axis": 1}), ("amax", (I,), {}), ("amin", (F,), {"axis": (0, 2), "keepdims": True}),
    ("amin", (I,), {"axis": -1}), ("ptp", (F,), {"axis": -1}), ("ptp", (I,), {}),
    ("average", (F,), {"axis": 1}), ("average", (I,), {}),
    ("average", (F,), {"axis": 1, "weights": np.arange(1, 5, dtype=np.float32)}),
    ("average", (F,), {"axis": 2, "weights": np.abs(F) + 1}), ("average", (D,), {"axis": 0, "weights": np.arange(6.0)}),
    ("percentile", (F,), {"q": 30.0, "axis": 1}), ("percentile", (I.astype(np.float32),), {"q": [10, 50, 95]}),
    ("percentile", (F,), {"q": 75, "axis": -1, "method": "nearest", "keepdims": True}),
    ("nansum", (NAN,), {"axis": 1}), ("nansum", (I,), {}), ("nanmean", (NAN,), {"axis": 1}),
    ("nanmean", (NAN,), {"axis": -1, "keepdims": True}), ("nanmean", (I,), {}),
    ("nanmax", (NAN,), {"axis": 1}), ("nanmin", (NAN,), {"axis": 1}), ("nanmax", (I,), {"axis": 0}),
    ("nanprod", (NAN,), {"axis": 2}), ("nanstd", (NAN,), {"axis": 1}), ("nanvar", (NAN,), {"axis": (0, 2)}),
    ("nanvar", (NAN.astype(np.float64),), {}), ("nancumsum", (NAN,), {"axis": 1}), ("nancumprod", (NAN,), {"axis": -1}),
    ("nanargmax", (NAN,), {"axis": 1}), ("nanargmin", (NAN,), {"axis": 2}), ("nanargmax", (I,), {}),
    ("nanmedian", (NAN,), {"axis": 1}), ("nanpercentile", (NAN,), {"q": 40.0, "axis": 2}),
    ("nanquantile", (NAN,), {"q": 0.3, "axis": 1}), ("nanquantile", (I,), {"q": 0.5}),
    ("segment_sum", (D, np.array([0, 0, 1, 3, 3, 3])), {"num_segments": 4}),
    ("segment_sum", (D, np.array([0, 0, 1, 2, 2, 2])), {}),
    ("segment_sum", (D, np.array([0, 0, 1, 2, 2, 2])), {"sorted": True}),
    ("segment_max", (D, np.array([0, 0, 1, 3, 3, 3])), {}), ("segment_min", (D, np.array([2, 0, 1, 2, 0, 0])), {}),
    ("segment_max", (D, np.array([0, 0, 2, 2, 3, 3])), {"sorted": True}),
    ("segment_prod", (D, np.array([0, 0, 1, 3, 3, 3])), {"num_segments": 5}),
    ("segment_max", (I[0], np.array([0, 1, 1, 0, 3, 3])), {}),
    ("histogram", (F.reshape(-1),), {}), ("histogram", (F.reshape(-1),), {"bins": 4, "range": (-1.0, 1.0)}),
    ("bincount", (np.array([0, 3, 3, 1, 7]),), {}), ("bincount", (np.array([0, 3, 3, 1]),), {"minlength": 6}),
    ("bincount", (np.array([0, 3, 3, 1]),), {"weights": np.array([0.5, 1, 2, 3], np.float32)}),
    ("bincount", (np.array([[0, 3, 3], [1, 1, 0]]),), {}),
    ("unique", (np.array([3, 1, 3, 2, 1]),), {}), ("unique", (np.array([3, 1, 3, 2, 1]),), {"sorted": False}),
    ("unique", (np.array([3, 1, 3, 2, 1]),), {"return_index": True, "return_inverse": True, "return_counts": True}),
    ("unique", (np.array([3, 1, 3, 2, 1]),), {"sorted": False, "return_inverse": True, "return_counts": True}),
    ("unique", (np.array([3, 1, 3, 2, 1]),), {"size": 5, "fill_value": -1, "return_counts": True}),
    ("unique", (np.array([[1, 2], [0, 5], [1, 2]]),), {"axis": 0}),
    ("searchsorted", (np.array([1.0, 2, 2, 5], np.float32), np.array([0.0, 2, 3, 9], np.float32)), {}),
    ("searchsorted", (np.array([1.0, 2, 2, 5], np.float32), np.array([0.0, 2, 3, 9], np.float32)), {"side": "right"}),
    ("digitize", (F,), {"bins": [-1.0, 0.0, 0.5]}), ("digitize", (I,), {"bins": [0, 2, 4]}),
    ("argpartition", (np.array([5, 1, 4, 2, 8, 0]),), {"kth": 2}),
    ("in_top_k", (np.array([0, 3, 1]), np.array([[0.1, 0.5, 0.2, 0.2], [1, 2, 3, 4.0], [3, 1, 1, 0.0]], np.float32)),
     {"k": 2}),
    ("isin", (I, np.array([1, 2, 3])), {}), ("isin", (I, np.array([1, 2, 3])), {"invert": True}),
    ("isclose", (np.array([1.0, 1.00001, np.nan, 2]), np.array([1.0, 1.0, np.nan, 2.1])), {}),
    ("isclose", (np.array([1.0, np.nan]), np.array([1.0, np.nan])), {"equal_nan": True}),
    ("allclose", (F, F + 1e-7), {}), ("allclose", (F, F + 1e-2), {}),
    ("isneginf", (np.array([-np.inf, np.inf, 0.0, np.nan], np.float32),), {}),
    ("isposinf", (np.array([-np.inf, np.inf, 0.0, np.nan], np.float32),), {}), ("isposinf", (I,), {}),
    ("isreal", (F,), {}), ("signbit", (np.array([-0.0, 0.0, -2, 3], np.float32),), {}), ("signbit", (I,), {}),
    ("nextafter", (F, np.float32(0.0)), {}), ("nextafter", (np.array([1.0, 2.0]), np.array([2.0, 0.0])), {}),
    ("unravel_index", (np.array([0, 5, 11]), (3, 4)), {}),
    ("bitwise_and", (I, np.int32(6)), {}), ("bitwise_or", (I, I[::-1]), {}), ("bitwise_xor", (I, 5), {}),
    ("bitwise_not", (I,), {}), ("bitwise_invert", (I.astype(np.uint8),), {}),
    ("bitwise_left_shift", (np.abs(I), 2), {}), ("left_shift", (np.abs(I), np.int32(1)), {}),
    ("bitwise_right_shift", (I, 1), {}), ("right_shift", (I, np.full_like(I, 2)), {}),
    ("gcd", (I, np.int32(6)), {}), ("lcm", (np.abs(I), np.int32(4)), {}),
    ("bartlett", (7,), {}), ("blackman", (6,), {}), ("hamming", (5,), {}), ("hanning", (8,), {}),
    ("kaiser", (9, 2.5), {}), ("geomspace", (1.0, 1000.0), {"num": 4}), ("geomspace", (-1.0, -16.0, 5), {}),
    ("logspace", (0.0, 3.0), {"num": 7}), ("logspace", (1.0, 2.0, 4), {"base": 2, "endpoint": False}),
    ("extract_sequences", (F, 2, 2), {}), ("extract_sequences", (R.standard_normal((2, 17)), 5, 3), {}),
    ("cdist", (F, F[:, :3]), {}), ("cdist", (D[:4], D), {}),
    ("real", (F,), {}), ("imag", (F,), {}), ("conj", (F,), {}), ("conjugate", (I,), {}), ("angle", (F,), {}),
    ("angle", (I,), {}),
]


def _compare(ours, theirs, name):
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(theirs), name
        for a, b in zip(ours, theirs):
            _compare(a, b, name)
        return
    theirs = np.asarray(theirs)
    ours = np.asarray(ours)
    assert ours.shape == theirs.shape, (name, ours.shape, theirs.shape)
    assert ours.dtype == theirs.dtype, (name, ours.dtype, theirs.dtype)
    if ours.dtype.kind == "f":
        np.testing.assert_allclose(ours, theirs, rtol=2e-6, atol=1e-6, err_msg=name)
    else:
        np.testing.assert_array_equal(ours, theirs, err_msg=name)


@pytest.mark.parametrize("name, args, kwargs", CASES, ids=[f"{c[0]}-{k}" for k, c in enumerate(CASES)])
def test_values_and_dtypes_as_keras(keras, name, args, kwargs):
    theirs = getattr(keras.ops, name)(*args, **kwargs)
    theirs = [keras.ops.convert_to_numpy(t) for t in theirs] if isinstance(theirs, (tuple, list)) else \
        keras.ops.convert_to_numpy(theirs)
    _compare(getattr(ops, name)(*args, **kwargs), theirs, name)


def test_complex_helpers_as_keras(keras):
    z = (F + 1j * F[::-1]).astype(np.complex64)
    for name in ("real", "imag", "conj", "angle"):
        _compare(getattr(ops, name)(z), keras.ops.convert_to_numpy(getattr(keras.ops, name)(z)), name)
    _compare(ops.isreal(np.array([1 + 0j, 1 + 1j])), keras.ops.convert_to_numpy(keras.ops.isreal(np.array([1 + 0j, 1 + 1j]))), "isreal")
    pairs = F[..., :2]
    np.testing.assert_array_equal(ops.view_as_real(ops.view_as_complex(pairs)), pairs)
    np.testing.assert_allclose(ops.view_as_complex(pairs), pairs[..., 0] + 1j * pairs[..., 1])


# -- gradients: tape against float64 finite differences and tf.GradientTape -------------------------
X = R.standard_normal((3, 5))
X[0, 2] = np.nan
X[2, :] = [np.nan, 0.3, np.nan, -1.2, 0.7]
CLEAN = R.permutation(np.linspace(-2, 2, 15)).reshape(3, 5)       # no ties: the derivatives exist
WEIGHTS = R.random((3, 5)) + 0.5
SEGMENT_IDS = np.array([0, 2, 0])       # segment 1 empty
FULL_IDS = np.array([0, 1, 0])
GRADS = [
    ("amax", CLEAN, {"axis": 1}), ("amin", CLEAN, {}), ("ptp", CLEAN, {"axis": 0}),
    ("average", CLEAN, {"axis": 1, "weights": WEIGHTS}), ("average", CLEAN, {"axis": 0, "weights": np.arange(1.0, 4.0)}),
    ("average", CLEAN, {}), ("percentile", CLEAN, {"q": 37.0, "axis": 1}), ("percentile", CLEAN, {"q": [20, 80]}),
    ("nansum", X, {"axis": 1}), ("nanmean", X, {"axis": 1}), ("nanmax", X, {"axis": 1}), ("nanmin", X, {}),
    ("nanprod", X, {"axis": 0}), ("nanstd", X, {"axis": 1}), ("nanvar", X, {}), ("nancumsum", X, {"axis": 1}),
    ("nancumprod", X, {"axis": 1}),
    ("segment_sum", CLEAN, {"segment_ids": SEGMENT_IDS, "num_segments": 3}),
    ("segment_max", CLEAN, {"segment_ids": FULL_IDS}), ("segment_min", CLEAN, {"segment_ids": FULL_IDS}),
    ("segment_prod", CLEAN, {"segment_ids": SEGMENT_IDS}),
    ("extract_sequences", CLEAN, {"sequence_length": 3, "sequence_stride": 1}),
    ("cdist", CLEAN, {"y": CLEAN[:2, ::-1] * 0.5}),
]


def _call(name, x, kwargs, module):
    kwargs = dict(kwargs)
    if name.startswith("segment_"):
        return getattr(module, name)(x, kwargs.pop("segment_ids"), **kwargs)
    if name == "cdist":
        return module.cdist(x, kwargs["y"])
    return getattr(module, name)(x, **kwargs)


def _loss(y):
    y = np.asarray(y)
    return float(np.sum(np.where(np.isfinite(y), y, 0) * np.cos(np.arange(y.size)).reshape(y.shape)))


@pytest.mark.parametrize("name, x, kwargs", GRADS, ids=[f"{g[0]}-{k}" for k, g in enumerate(GRADS)])
def test_tape_gradients_against_finite_differences_and_tensorflow(keras, name, x, kwargs):
    import tensorflow as tf
    y0 = np.asarray(_call(name, x, kwargs, ops))
    weights = np.cos(np.arange(y0.size)).reshape(y0.shape) * np.isfinite(y0)
    with gn.GradientTape() as tape:
        tape.watch(x)
        y = _call(name, x, kwargs, ops)
        loss = ops.sum(ops.multiply(ops.where(np.isfinite(np.asarray(y)), y, 0.0), weights))
    analytic = np.asarray(tape.gradient(loss, x))
    numeric = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        if np.isnan(x[index]):
            continue
        e = np.zeros_like(x)
        e[index] = 1e-6
        numeric[index] = (_loss(_call(name, x + e, kwargs, ops)) - _loss(_call(name, x - e, kwargs, ops))) / 2e-6
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-6, err_msg=name)
    assert np.all(analytic[np.isnan(x)] == 0)
    variable = tf.Variable(x)
    with tf.GradientTape() as tf_tape:
        theirs = _call(name, variable, kwargs, keras.ops)
        tf_loss = tf.reduce_sum(tf.where(tf.math.is_finite(theirs), theirs, 0) * weights)
    tf_grad = tf_tape.gradient(tf_loss, variable)
    tf_grad = np.zeros_like(x) if tf_grad is None else tf.convert_to_tensor(tf_grad).numpy()
    np.testing.assert_allclose(analytic, tf_grad, rtol=1e-6, atol=1e-8, err_msg=name)


def test_amax_ties_share_the_gradient_as_tensorflow(keras):
    import tensorflow as tf
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    with gn.GradientTape() as tape:
        tape.watch(x)
        loss = ops.sum(ops.amax(x, axis=1))
    variable = tf.Variable(x)
    with tf.GradientTape() as tf_tape:
        tf_loss = tf.reduce_sum(keras.ops.amax(variable, axis=1))
    np.testing.assert_allclose(np.asarray(tape.gradient(loss, x)), tf_tape.gradient(tf_loss, variable).numpy())


def test_a_second_order_gradient_is_refused_by_name_or_right():
    x = np.array([0.5, -1.0, 2.0])
    with gn.GradientTape() as outer:
        outer.watch(x)
        with gn.GradientTape() as inner:
            inner.watch(x)
            y = ops.sum(ops.nanprod(x * x, axis=0))
        try:
            g = inner.gradient(y, x)
            second = outer.gradient(ops.sum(g), x)
        except TypeError as error:
            assert "ops." in str(error) or "second" in str(error)
            return
    # d/dx sum(2x * prod_others(x^2)): checked against float64 finite differences
    def first(v):
        return np.array([2 * v[i] * np.prod(np.delete(v, i) ** 2) for i in range(3)]).sum()
    numeric = [(first(x + e) - first(x - e)) / 2e-6 for e in np.eye(3) * 1e-6]
    np.testing.assert_allclose(np.asarray(second), numeric, rtol=1e-5)


# -- tensors: nodes in functional models ------------------------------------------------------------
def _keras_twin(keras, build, shape, weights):
    inputs = keras.Input(shape)
    dense = keras.layers.Dense(4)
    model = keras.Model(inputs, build(keras.ops, dense(inputs) if build.__name__ != "framed" else inputs, dense))
    model.set_weights(weights)
    return model


def _build_reduce(o, h, dense):
    h = o.reshape(h, (-1, 3, 4))
    return o.concatenate([o.amax(h, axis=1), o.ptp(h, axis=-1), o.nanmean(h, axis=1), o.nanstd(h, axis=2),
                          o.average(h, axis=1, weights=np.array([1.0, 2.0, 3.0], np.float32)),
                          o.percentile(h, 40.0, axis=1), o.nanmax(h, axis=-1), o.nansum(h, axis=1)], axis=-1)


def framed(o, x, dense):
    return dense(o.extract_sequences(x, 4, 2))


@pytest.mark.parametrize("build, shape", [(_build_reduce, (5,)), (framed, (10,))])
def test_models_predict_train_and_load_as_keras(keras, tmp_path, build, shape):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8,) + shape).astype(np.float32)
    inputs = gn.Input(shape)
    dense = gn.layers.Dense(4 if build is framed else 12)
    if build is framed:
        model = gn.Model(inputs, build(ops, inputs, dense))
    else:
        model = gn.Model(inputs, build(ops, dense(inputs), dense))
    out_shape = model.predict(x).shape
    k_in = keras.Input(shape)
    k_dense = keras.layers.Dense(4 if build is framed else 12)
    k_model = keras.Model(k_in, build(keras.ops, k_in, k_dense) if build is framed else build(keras.ops, k_dense(k_in), k_dense))
    k_model.set_weights(model.get_weights())
    np.testing.assert_allclose(model.predict(x), k_model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    y = rng.standard_normal(out_shape).astype(np.float32)
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(learning_rate=0.1))
    k_model.compile(loss="mse", optimizer=keras.optimizers.SGD(learning_rate=0.1))
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    k_model.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    for ours, theirs in zip(model.get_weights(), k_model.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    model.save(tmp_path / "m.npz")
    np.testing.assert_allclose(gn.load_model(tmp_path / "m.npz").predict(x), model.predict(x), rtol=1e-6)


@pytest.mark.parametrize("name, args", [
    ("segment_sum", lambda t: (t, np.array([0, 1]))), ("nanargmax", lambda t: (t,)), ("nanmedian", lambda t: (t,)),
    ("bincount", lambda t: (t,)), ("unique", lambda t: (t,)), ("isin", lambda t: (t, np.array([1.0]))),
    ("bitwise_and", lambda t: (t, 1)), ("histogram", lambda t: (t,)), ("in_top_k", lambda t: (np.array([0]), t, 1)),
    ("cdist", lambda t: (t, np.ones((2, 3)))), ("real", lambda t: (t,))])
def test_tensors_refused_by_name(name, args):
    with pytest.raises(TypeError, match=f"ops.{name}"):
        getattr(ops, name)(*args(gn.Input((2, 3))))


@pytest.mark.parametrize("call, error, words", [
    (lambda: ops.percentile(F, 120), ValueError, "q must be numbers in \\[0, 100\\]"),
    (lambda: ops.percentile(F, 50, method="cubic"), ValueError, "method must be one of"),
    (lambda: ops.segment_sum(D, np.array([0.0, 1, 1, 2, 2, 2])), TypeError, "segment_ids must be integers"),
    (lambda: ops.segment_max(D, np.array([0, 1])), ValueError, "one id per row"),
    (lambda: ops.segment_max(D, np.arange(6), num_segments=6, sorted=True), ValueError, "num_segments cannot"),
    (lambda: ops.bincount(np.array([1.5])), ValueError, "x must be non-negative integers"),
    (lambda: ops.bincount(np.array([1]), sparse=True), ValueError, "sparse=True"),
    (lambda: ops.searchsorted(np.ones((2, 2)), 1.0), ValueError, "sorted_sequence must have one axis"),
    (lambda: ops.searchsorted(np.ones(2), 1.0, side="middle"), ValueError, "side must be"),
    (lambda: ops.gcd(F, F), TypeError, "x1 and x2 must be integers"),
    (lambda: ops.bitwise_and(F, 1), TypeError, "x must hold integers"),
    (lambda: ops.kaiser(5, "a"), TypeError, "beta must be a number"),
    (lambda: ops.hamming(-1), ValueError, "x must be a length"),
    (lambda: ops.extract_sequences(F, 0, 1), ValueError, "sequence_length must be a positive integer"),
    (lambda: ops.cdist(F[0, 0], F), ValueError, "x and y must have 2 axes"),
    (lambda: ops.average(F, axis=1, weights=np.ones(3)), ValueError, "weights' length"),
    (lambda: ops.unravel_index(np.array([1.0]), (2, 2)), TypeError, "indices must be integers"),
    (lambda: ops.view_as_real(F), ValueError, "x must be complex"),
])
def test_bad_arguments_named(call, error, words):
    with pytest.raises(error, match=words):
        call()
