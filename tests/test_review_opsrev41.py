"""Review opsrev41: a seeded differential fuzzer of the new keras.ops functions against Keras 3.15
(TensorFlow), and the bugs it found (tape gradients at axis=None and at a zero norm, floatx,
argpartition's last kth)."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops


def _numpy(value):
    import keras
    if isinstance(value, (tuple, list)):
        return tuple(_numpy(v) for v in value)
    return keras.ops.convert_to_numpy(value)


def _same(ours, theirs, what):
    if isinstance(theirs, tuple):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(theirs), what
        for a, b in zip(ours, theirs):
            _same(a, b, what)
        return
    ours = np.asarray(ours)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype, (what, ours.shape, theirs.shape, ours.dtype,
                                                                         theirs.dtype)
    np.testing.assert_allclose(ours.astype(np.float64), theirs.astype(np.float64), rtol=1e-5, atol=1e-6,
                               err_msg=what)


def test_fuzz_new_ops_against_keras(keras):
    """Random shapes (size-0 axes, 0-d), dtypes, axes (negative, tuples, None) and keywords: where
    Keras 3.15 gives a result glassnet gives the same values, dtype, shape and structure."""
    rng = np.random.default_rng(41)

    def make(shape, dtype, nan=False):
        x = rng.normal(size=shape) * 3
        if dtype == "bool":
            return x > 0
        if dtype.startswith("int"):
            return np.round(x).astype(dtype)
        x = x.astype(dtype)
        if nan and x.size:
            x.ravel()[rng.integers(0, x.size, max(1, x.size // 3))] = np.nan
        return x

    calls = []
    for shape in [(), (3,), (2, 3), (2, 0, 3), (2, 3, 4)]:
        for dtype in ["float32", "float64", "int32", "bool"]:
            nd = len(shape)
            axes = [None] + list(range(-nd, nd)) + ([(0, -1)] if nd >= 2 else [])
            for name in ["amax", "amin", "nansum", "nanmean", "nanprod", "nanstd", "nanvar", "nancumsum"]:
                x = make(shape, dtype, nan=True)
                ax = axes[rng.integers(len(axes))]
                if name == "nancumsum" and isinstance(ax, tuple):
                    ax = None
                kw = {} if name == "nancumsum" else {"keepdims": bool(rng.integers(2))}
                calls.append((name, (x,), dict(axis=ax, **kw)))
            if dtype != "bool" and 0 not in shape:
                x = make(shape, dtype)
                calls.append(("percentile", (x, [10.0, 50.0]), dict(axis=axes[rng.integers(len(axes))])))
                calls.append(("average", (x,), dict(axis=axes[rng.integers(len(axes))])))
            for name in ["isneginf", "isposinf", "signbit"]:
                calls.append((name, (make(shape, dtype),), {}))
    for n in [0, 1, 5]:
        calls += [(w, (n,), {}) for w in ("bartlett", "blackman", "hamming", "hanning")]
    calls += [("geomspace", (1.0, 1000.0), dict(num=5)), ("logspace", (0.0, 3.0), dict(num=4, endpoint=False)),
              ("logspace", (np.array([0.0, 1.0]), np.array([2.0, 3.0])), dict(num=3)),
              ("argpartition", (make((7,), "float32"), 6), {})]     # (other kth: Keras 3.15 repeats indices)
    x = make((2, 3, 4), "float32")
    for axis in (-1, 0, 1):
        calls += [("layer_normalization", (x,), dict(axis=axis)), ("rms_normalization", (x,), dict(axis=axis)),
                  ("normalize", (x,), dict(axis=axis, order=int(rng.integers(1, 4)))),
                  ("moments", (x,), dict(axes=[axis], keepdims=True))]
    a = make((2, 3, 3), "float64")
    calls += [(f, (a,), {}) for f in ("det", "inv", "slogdet", "pinv", "matrix_rank")]
    calls += [("solve", (a, make((2, 3, 2), "float64")), {}), ("svd", (a,), dict(compute_uv=False))]
    for name, args, kwargs in calls:
        what = f"{name} {[getattr(v, 'shape', v) for v in args]} {[getattr(v, 'dtype', '') for v in args]} {kwargs}"
        try:
            theirs = _numpy(getattr(keras.ops, name)(*args, **kwargs))
        except Exception:       # Keras refuses it: glassnet may give a result or refuse
            continue
        _same(getattr(ops, name)(*args, **kwargs), theirs, what)


def _tape_and_tf(keras, function, x):
    import tensorflow as tf
    with gn.GradientTape() as tape:
        tape.watch(x)
        y = function(ops, x)
        weights = np.cos(np.arange(np.size(np.asarray(y)))).reshape(np.shape(np.asarray(y))) + 2
        loss = ops.sum(ops.multiply(y, weights))
    ours = tape.gradient(loss, x)
    variable = tf.Variable(x)
    with tf.GradientTape() as tf_tape:
        tf_loss = tf.reduce_sum(function(keras.ops, variable) * weights)
    return np.asarray(ours), tf_tape.gradient(tf_loss, variable).numpy()


@pytest.mark.parametrize("name", ["nancumsum", "nancumprod", "cumsum", "cumprod"])
def test_running_sums_default_axis_tape_gradient_as_tensorflow(keras, name):
    """axis=None (nancumsum/nancumprod's default) runs over the flattened x: the tape gave cumsum a
    flat gradient and failed for cumprod, nancumsum and nancumprod."""
    x = np.array([[1.0, 3.0, np.nan], [2.0, -0.5, 2.0]])
    if not name.startswith("nan"):
        x = np.nan_to_num(x, nan=1.5)
    ours, theirs = _tape_and_tf(keras, lambda o, v: getattr(o, name)(v), x)
    assert ours.shape == x.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-7, atol=1e-9)


def test_normalize_of_a_zero_row_has_keras_gradient(keras):
    """order 2 is x * minimum(rsqrt(sum(x^2)), 1/epsilon): at a zero row the rsqrt branch is not
    taken; TensorFlow's rsqrt gradient gives 0 there, glassnet's gave 0 * inf = NaN for the row."""
    x = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]])
    ours, theirs = _tape_and_tf(keras, lambda o, v: o.normalize(v, axis=-1), x)
    assert np.all(np.isfinite(ours))
    np.testing.assert_allclose(ours, theirs, rtol=1e-7)


def test_windows_and_spaces_follow_floatx_as_keras(keras):
    import keras as keras_module
    calls = [("bartlett", (5,), {}), ("blackman", (5,), {}), ("hamming", (5,), {}), ("hanning", (5,), {}),
             ("kaiser", (5, 2.0), {}), ("geomspace", (1.0, 100.0), dict(num=4)), ("logspace", (0.0, 2.0), dict(num=4)),
             ("logspace", (0, 2), dict(num=4)), ("logspace", (np.float32(0), np.float32(2)), dict(num=4)),
             ("geomspace", (np.array([1.0, 2.0]), np.array([10.0, 20.0])), dict(num=3))]
    try:
        for floatx in ("float64", "float32"):
            keras_module.config.set_floatx(floatx)
            gn.config.set_floatx(floatx)
            for name, args, kwargs in calls:
                _same(getattr(ops, name)(*args, **kwargs), _numpy(getattr(keras.ops, name)(*args, **kwargs)),
                      f"{name} {args} floatx {floatx}")
    finally:
        keras_module.config.set_floatx("float32")
        gn.config.set_floatx("float32")


def test_logspace_of_float64_arrays_is_float64(keras):
    start, stop = np.array([0.0, 1.0]), np.array([2.0, 3.0])
    _same(ops.logspace(start, stop, num=5), _numpy(keras.ops.logspace(start, stop, num=5)), "logspace float64")


def test_argpartition_around_the_last_entry(keras):
    x = np.array([[3.0, 1.0, 2.0, 5.0], [0.0, 4.0, -1.0, 2.0]], np.float32)
    for kth in (3, -1):
        ours = ops.argpartition(x, kth)
        assert ours.dtype == np.int32 and ours.shape == x.shape
        np.testing.assert_array_equal(np.sort(ours, -1), np.tile(np.arange(4), (2, 1)))
    np.testing.assert_array_equal(ops.argpartition(x[0], 3), _numpy(keras.ops.argpartition(x[0], 3)))
