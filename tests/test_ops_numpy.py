"""glassnet.ops' NumPy-like functions (docs/ops_numpy.md) against Keras 3.15 on TensorFlow: values and
dtypes on arrays, GradientTape gradients against float64 central differences and tf.GradientTape,
tensor nodes in a functional model (prediction, a training step, a model file), refusals by name."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops

R = np.random.default_rng(0)
F = R.normal(size=(3, 4)).astype(np.float32)
G = R.normal(size=(3, 4)).astype(np.float32)
I = np.array([[3, -2, 0, 5], [1, 7, -4, 2], [0, 1, 2, -3]], np.int32)
V = R.normal(size=4).astype(np.float32)
W = R.normal(size=(4, 3)).astype(np.float32)

UNARY = ["absolute", "fabs", "cbrt", "deg2rad", "rad2deg", "exp2", "sinc", "i0", "ravel", "fliplr", "flipud",
         "nan_to_num"]
BINARY = ["fmax", "fmin", "fmod", "heaviside", "hypot", "logaddexp", "logaddexp2", "true_divide", "divide_no_nan",
          "inner", "outer", "vdot", "kron", "append"]


def _same(ours, theirs, keras, rtol=2e-6, atol=1e-6):
    theirs = keras.ops.convert_to_numpy(theirs)
    ours = np.asarray(ours)
    assert ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours.astype(np.float64), theirs.astype(np.float64), rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("x", [F, I, F.astype(np.float64), I.astype(np.int64), I > 0], ids=["f32", "i32", "f64", "i64", "b"])
def test_unary_values_and_dtypes(keras, name, x):
    if name == "nan_to_num" and x.dtype.kind == "f":
        x = x.copy()
        x[0, :3] = [np.nan, np.inf, -np.inf]
    _same(getattr(ops, name)(x), getattr(keras.ops, name)(x), keras, rtol=1e-5)


@pytest.mark.parametrize("name", ["erfc", "erfinv"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_erfc_erfinv(keras, name, dtype):
    x = np.linspace(-0.999, 0.999, 41).astype(dtype) if name == "erfinv" else np.linspace(-5, 9, 57).astype(dtype)
    _same(getattr(ops, name)(x), getattr(keras.ops, name)(x), keras, rtol=2e-5 if dtype == np.float32 else 1e-10, atol=0)


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("pair", [(F, G), (I, I + 1), (F, I), (F.astype(np.float64), G), (F, 2.0)],
                         ids=["ff", "ii", "fi", "df", "f-number"])
def test_binary_values_and_dtypes(keras, name, pair):
    a, b = pair
    if name in ("fmod", "divide_no_nan") and not np.isscalar(b):
        b = np.where(np.arange(b.size).reshape(np.shape(b)) % 5 == 0, 0, b).astype(np.asarray(b).dtype)
    if name == "fmod" and np.asarray(b).dtype.kind == "i":
        b = np.where(b == 0, 3, b).astype(b.dtype)
    if name == "vdot" and np.ndim(b) == 0:      # (12 entries against 1: NumPy and Keras 3.15 refuse it too)
        b = np.full(a.shape, b, np.float32)
    if name == "heaviside":
        a = np.where(np.arange(a.size).reshape(a.shape) % 3 == 0, 0, a).astype(a.dtype)
    _same(getattr(ops, name)(a, b), getattr(keras.ops, name)(a, b), keras, rtol=1e-5)


@pytest.mark.parametrize("call", [
    lambda o, x: o.moveaxis(x, 0, -1), lambda o, x: o.moveaxis(x, [0, 1], [2, 0]), lambda o, x: o.swapaxes(x, 0, 2),
    lambda o, x: o.roll(x, 2), lambda o, x: o.roll(x, -1, axis=1), lambda o, x: o.roll(x, [1, 2], axis=[0, 2]),
    lambda o, x: o.rot90(x), lambda o, x: o.rot90(x, 3, (1, 2)), lambda o, x: o.rot90(x[:, :2], 2),
    lambda o, x: o.diff(x), lambda o, x: o.diff(x, n=2, axis=1), lambda o, x: o.diff(x, n=0),
    lambda o, x: o.diagonal(x), lambda o, x: o.diagonal(x, 1, 1, 2), lambda o, x: o.diagonal(x, -1, -1, 0),
    lambda o, x: o.trace(x), lambda o, x: o.trace(x, 1, 1, 2), lambda o, x: o.diag(x[0]), lambda o, x: o.diag(x[0], -1),
    lambda o, x: o.diag(x[:, 0, :2], 1), lambda o, x: o.diagflat(x[0], 1),
    lambda o, x: o.dot(x, x[0].T), lambda o, x: o.dot(x[0, 0], x[1].T), lambda o, x: o.dot(x, 2),
    lambda o, x: o.inner(x, x[0]), lambda o, x: o.cross(x[..., :3], x[::-1, ..., :3]),
    lambda o, x: o.cross(x[0, :, :2], x[1, :, :2]), lambda o, x: o.cross(x[:, :3, 0], x[:, :3, 1], axisc=0),
    lambda o, x: o.cross(x[0, :, :2], x[1, :, :3]), lambda o, x: o.cross(x[:, :2], x[:, 1:], axisa=1, axisb=1, axisc=1),
    lambda o, x: o.hstack([x, x]), lambda o, x: o.vstack([x[0, 0], x[1, 1]]), lambda o, x: o.dstack([x, x]),
    lambda o, x: o.hsplit(x, 3)[1], lambda o, x: o.vsplit(x, [1])[1], lambda o, x: o.dsplit(x, 2)[0],
    lambda o, x: o.array_split(x, 2, axis=1)[1], lambda o, x: o.append(x, x[:1], axis=0),
    lambda o, x: o.select([x > 0, x < -1], [x, -x], 5), lambda o, x: o.rearrange(x, "a b c -> c (a b)"),
    lambda o, x: o.rearrange(x, "a (h w) c -> a h w c", h=3), lambda o, x: o.vander(x[0, 0]),
    lambda o, x: o.vander(x[0, 0], N=3, increasing=True), lambda o, x: o.trapezoid(x), lambda o, x: o.trapezoid(x, dx=0.5, axis=1),
    lambda o, x: o.trapezoid(x[0, 0], x=np.arange(4.0) ** 2), lambda o, x: o.correlate(x[0, 0], x[1, 1, :3], "full"),
    lambda o, x: o.correlate(x[0, 0], x[1, 1, :2], "same"), lambda o, x: o.correlate(x[0, 0], x[1, 1, :3]),
    lambda o, x: o.corrcoef(x[0]),
])
@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_structural_values_and_dtypes(keras, call, dtype):
    x = (np.arange(24).reshape(2, 3, 4) % 7 - 3) * (np.arange(24).reshape(2, 3, 4) % 3 + 1)
    x = x.astype(dtype) + (R.normal(size=(2, 3, 4)).astype(dtype) if dtype == "float32" else 0)
    _same(call(ops, x), call(keras.ops, x), keras, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("k", [2, -2, 6, 1, 3])
@pytest.mark.parametrize("axes", [(0, 1), (1, 2), (2, 0)])
def test_rot90_against_torch(torch, k, axes):
    """Keras 3.15 on TensorFlow scrambles k = 2 (mod 4) in a plane that is not square (it reshapes the
    once-rotated (w, h) planes as (h, w)): NumPy's and torch.rot90's rotation is the one kept."""
    x = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    expected = torch.rot90(torch.from_numpy(x), k, list(axes)).numpy()
    np.testing.assert_array_equal(ops.rot90(x, k, axes), expected)
    with gn.GradientTape() as tape:
        tape.watch(x)
        y = ops.rot90(ops.convert_to_tensor(x), k, axes)
    np.testing.assert_array_equal(np.asarray(y), expected)
    weights = np.arange(expected.size, dtype=np.float32).reshape(expected.shape)
    with gn.GradientTape() as tape:
        tape.watch(x)
        out = ops.sum(ops.multiply(ops.rot90(ops.convert_to_tensor(x), k, axes), weights))
    t = torch.from_numpy(x.astype(np.float64)).requires_grad_()
    (torch.rot90(t, k, list(axes)) * torch.from_numpy(weights.astype(np.float64))).sum().backward()
    np.testing.assert_array_equal(tape.gradient(out, x), t.grad.numpy())


def test_divide_no_nan_and_fmod_edges(keras):
    _same(ops.divide_no_nan(np.float32([0, 1, -1, 0]), np.float32([0, 0, 2, 3])),
          keras.ops.divide_no_nan(np.float32([0, 1, -1, 0]), np.float32([0, 0, 2, 3])), keras)
    _same(ops.fmod(np.float32([-3, 3, -3, 3.5]), np.float32([2, -2, -2, 1.5])),
          keras.ops.fmod(np.float32([-3, 3, -3, 3.5]), np.float32([2, -2, -2, 1.5])), keras)
    _same(ops.fmax(np.float32([np.nan, 1, np.nan]), np.float32([2, np.nan, np.nan])),
          keras.ops.fmax(np.float32([np.nan, 1, np.nan]), np.float32([2, np.nan, np.nan])), keras)
    _same(ops.ldexp(np.float32([1, 3]), np.int32([2, -1])), keras.ops.ldexp(np.float32([1, 3]), np.int32([2, -1])), keras)


# -- GradientTape gradients -----------------------------------------------------------------------------
TAPED = {
    "cbrt": (lambda o, a, b: o.cbrt(a), None), "deg2rad": (lambda o, a, b: o.deg2rad(a), None),
    "exp2": (lambda o, a, b: o.exp2(a), None), "sinc": (lambda o, a, b: o.sinc(a), None),
    "erfc": (lambda o, a, b: o.erfc(a), None), "erfinv": (lambda o, a, b: o.erfinv(o.tanh(a)), None),
    "i0": (lambda o, a, b: o.i0(a), None), "fabs": (lambda o, a, b: o.fabs(a), None),
    "fmax": (lambda o, a, b: o.fmax(a, b), None), "fmin": (lambda o, a, b: o.fmin(a, b), None),
    "fmod": (lambda o, a, b: o.fmod(a, b), None), "heaviside": (lambda o, a, b: o.heaviside(a, b), None),
    "hypot": (lambda o, a, b: o.hypot(a, b), None), "logaddexp": (lambda o, a, b: o.logaddexp(a, b), None),
    "logaddexp2": (lambda o, a, b: o.logaddexp2(a, b), None), "divide_no_nan": (lambda o, a, b: o.divide_no_nan(a, b), None),
    "nan_to_num": (lambda o, a, b: o.nan_to_num(a), None), "moveaxis": (lambda o, a, b: o.moveaxis(a, 0, 1), None),
    "roll": (lambda o, a, b: o.roll(a, 1, axis=1), None), "rot90": (lambda o, a, b: o.rot90(a), None),
    "diff": (lambda o, a, b: o.diff(a, 2), None), "diagonal": (lambda o, a, b: o.diagonal(a, 1), None),
    "trace": (lambda o, a, b: o.trace(a), None), "diag": (lambda o, a, b: o.diag(a[0], 1), None),
    "dot": (lambda o, a, b: o.dot(a, o.transpose(b)), None), "inner": (lambda o, a, b: o.inner(a, b), None),
    "outer": (lambda o, a, b: o.outer(a, b), None), "vdot": (lambda o, a, b: o.vdot(a, b), None),
    "kron": (lambda o, a, b: o.kron(a, b), None), "cross": (lambda o, a, b: o.cross(a[:, :3], b[:, 1:]), None),
    "hstack": (lambda o, a, b: o.hstack([a, b]), None), "select": (lambda o, a, b: o.select([a > 0], [b], 0.5), None),
    "rearrange": (lambda o, a, b: o.rearrange(a, "a b -> b a"), None), "vander": (lambda o, a, b: o.vander(a[0]), None),
    "trapezoid": (lambda o, a, b: o.trapezoid(a, axis=0), None), "correlate": (lambda o, a, b: o.correlate(a[0], b[1, :3], "full"), None),
    "corrcoef": (lambda o, a, b: o.corrcoef(a), None),
    "ldexp": (lambda o, a, b: o.ldexp(a, np.int32([[1, -1, 2, 0]])), None),
}


@pytest.mark.parametrize("name", sorted(TAPED))
def test_tape_gradients_against_differences_and_tensorflow(keras, name):
    import tensorflow as tf
    f = TAPED[name][0]
    a = R.uniform(0.3, 1.5, size=(3, 4)) * np.where(R.random((3, 4)) < 0.5, -1, 1)
    b = R.uniform(0.3, 1.5, size=(3, 4)) * np.where(R.random((3, 4)) < 0.5, -1, 1)
    weights = R.normal(size=np.shape(np.asarray(f(ops, a, b)))) if np.ndim(f(ops, a, b)) else 1.0

    def loss(x, y):
        return float(np.sum(np.asarray(f(ops, x, y)) * weights))

    with gn.GradientTape() as tape:
        tape.watch([a, b])
        # recorded values (README: a watched array takes Python's operators, a[0], after convert_to_tensor)
        out = ops.sum(ops.multiply(f(ops, ops.convert_to_tensor(a), ops.convert_to_tensor(b)), weights))
    ga, gb = tape.gradient(out, [a, b])
    ga = np.zeros_like(a) if ga is None else np.asarray(ga)
    gb = np.zeros_like(b) if gb is None else np.asarray(gb)
    h = 1e-6
    for grad, which in ((ga, 0), (gb, 1)):
        numeric = np.zeros_like(a)
        for k in np.ndindex(a.shape):
            plus, minus = [a.copy(), b.copy()], [a.copy(), b.copy()]
            plus[which][k] += h
            minus[which][k] -= h
            numeric[k] = (loss(*plus) - loss(*minus)) / (2 * h)
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-6)
    if name in ("i0", "erfc", "erfinv"):        # (no tf gradient needed: the others' formulas)
        return
    ta, tb = tf.constant(a), tf.constant(b)      # (constants watched: Keras' TF moveaxis reads .ndim, a Variable lacks it)
    with tf.GradientTape() as t:
        t.watch([ta, tb])
        tout = tf.reduce_sum(f(keras.ops, ta, tb) * weights)
    tga, tgb = t.gradient(tout, [ta, tb])
    for ours, theirs in ((ga, tga), (gb, tgb)):
        np.testing.assert_allclose(ours, np.zeros_like(a) if theirs is None else theirs.numpy(), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name, call", [
    ("ops.erfinv", lambda x: ops.erfinv(x)), ("ops.erfc", lambda x: ops.erfc(x)), ("ops.i0", lambda x: ops.i0(x)),
    (r"ops.mod \(in ops.fmod\)", lambda x: ops.fmod(x, 0.4)),
])
def test_second_order_refused_by_name(name, call):
    """A nested tape's gradient recorded by the outer tape (a gradient penalty) through an op whose
    second-order gradient is not built is refused naming it, and the function it was drawn in."""
    x = np.array([[0.3, -0.7], [0.2, 0.5]])
    with gn.GradientTape() as outer:
        outer.watch(x)
        with gn.GradientTape() as inner_tape:
            inner_tape.watch(x)
            y = ops.sum(call(ops.convert_to_tensor(x)))
        with pytest.raises(NotImplementedError, match=name):
            inner_tape.gradient(y, x)
    with gn.GradientTape() as tape:         # taken outside the outer tape: a first-order gradient
        tape.watch(x)
        y = ops.sum(call(ops.convert_to_tensor(x)))
    assert np.all(np.isfinite(tape.gradient(y, x)))


@pytest.mark.parametrize("name, ours, theirs", [
    ("hypot", lambda o, x, c: o.hypot(x, c), lambda t, x, c: t.hypot(x, c)),
    ("logaddexp", lambda o, x, c: o.logaddexp(x, c), lambda t, x, c: t.logaddexp(x, c)),
    ("moveaxis", lambda o, x, c: o.moveaxis(x, 0, 1) * c.T, lambda t, x, c: t.movedim(x, 0, 1) * c.T),
    ("diagonal", lambda o, x, c: o.diagonal(x * x), lambda t, x, c: t.diagonal(x * x)),
    ("kron", lambda o, x, c: o.kron(x, x), lambda t, x, c: t.kron(x, x)),
    ("cross", lambda o, x, c: o.cross(x, x * c), lambda t, x, c: t.linalg.cross(x, x * c)),
    ("sinc", lambda o, x, c: o.sinc(x), lambda t, x, c: t.sinc(x)),
    ("exp2", lambda o, x, c: o.exp2(x), lambda t, x, c: t.exp2(x)),
])
def test_second_order_through_composed_functions_as_torch(torch, name, ours, theirs):
    """Drawn from ops the nested tape differentiates twice, these take a gradient penalty's gradient:
    equal to torch's create_graph double backward (float64)."""
    rng = np.random.default_rng(3)
    x = rng.uniform(0.3, 1.5, size=(3, 3)) * np.where(rng.random((3, 3)) < 0.5, -1, 1)
    c = rng.uniform(0.5, 1.5, size=(3, 3))
    with gn.GradientTape() as outer:
        outer.watch(x)
        with gn.GradientTape() as inner_tape:
            inner_tape.watch(x)
            y = ops.sum(ops.square(ours(ops, ops.convert_to_tensor(x), c)))
        g = inner_tape.gradient(y, x)
        penalty = ops.sum(ops.square(g))
    got = outer.gradient(penalty, x)
    t = torch.tensor(x, requires_grad=True)
    (tg,) = torch.autograd.grad((theirs(torch, t, torch.tensor(c)) ** 2).sum(), t, create_graph=True)
    (expected,) = torch.autograd.grad((tg ** 2).sum(), t)
    np.testing.assert_allclose(np.asarray(g), tg.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(got), expected.numpy(), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("name, call", [
    ("cbrt", lambda o, a, b: o.cbrt(a)), ("sinc", lambda o, a, b: o.sinc(a)), ("hypot", lambda o, a, b: o.hypot(a, b)),
    ("fmax", lambda o, a, b: o.fmax(a, b)), ("fmin", lambda o, a, b: o.fmin(a, b)), ("fmod", lambda o, a, b: o.fmod(a, b)),
    ("heaviside", lambda o, a, b: o.heaviside(a, b)), ("divide_no_nan", lambda o, a, b: o.divide_no_nan(a, b)),
    ("logaddexp", lambda o, a, b: o.logaddexp(a, b)), ("nan_to_num", lambda o, a, b: o.nan_to_num(a / b)),
])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")     # (0 / 0 and 0 ** -2/3 on purpose)
def test_tape_gradients_at_kinks_as_tensorflow(keras, name, call):
    """At zeros, ties and NaN the gradients are TensorFlow's (NaN where TF's are NaN)."""
    import tensorflow as tf
    a = np.array([0.0, 0.0, 1.5, -2.0, 0.0, 3.0])
    b = np.array([0.0, 2.0, 1.5, 0.5, -1.0, 0.0])
    with gn.GradientTape() as tape:
        tape.watch([a, b])
        out = ops.sum(call(ops, ops.convert_to_tensor(a), ops.convert_to_tensor(b)))
    ours = [np.zeros_like(a) if g is None else np.asarray(g) for g in tape.gradient(out, [a, b])]
    ta, tb = tf.constant(a), tf.constant(b)
    with tf.GradientTape() as t:
        t.watch([ta, tb])
        tout = tf.reduce_sum(call(keras.ops, ta, tb))
    theirs = [np.zeros_like(a) if g is None else g.numpy() for g in t.gradient(tout, [ta, tb])]
    for x, y in zip(ours, theirs):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=0)        # (NaN where TF's is NaN)


# -- tensors ---------------------------------------------------------------------------------------------
def _model_pair(keras, build, shape=(3, 4), units=2, batch_size=None):
    ins = gn.Input(shape)
    hidden = gn.layers.Dense(4)(ins)
    out = gn.layers.Dense(units)(gn.layers.Flatten()(build(ops, hidden)))
    ours = gn.Model(ins, out)
    kin = keras.Input(shape, batch_size=batch_size)
    kh = keras.layers.Dense(4)(kin)
    kout = keras.layers.Dense(units)(keras.layers.Flatten()(build(keras.ops, kh)))
    theirs = keras.Model(kin, kout)
    theirs.set_weights([np.asarray(w, np.float32) for w in ours.get_weights()])
    return ours, theirs


@pytest.mark.parametrize("build", [
    # (NumPy scalars beside tensors: Keras 3.15's symbolic hypot and heaviside read a Python float's .dtype and fail)
    lambda o, x: o.logaddexp(o.hypot(x, np.float32(1.0)), o.fmax(x, -x)), lambda o, x: o.sinc(o.cbrt(o.exp2(x))),
    lambda o, x: o.erfc(o.divide_no_nan(x, o.heaviside(x, np.float32(0.5)))), lambda o, x: o.fmod(x, 0.7) + o.nan_to_num(o.rad2deg(x)),
    lambda o, x: o.erfinv(o.tanh(x)), lambda o, x: o.i0(x), lambda o, x: o.moveaxis(x, 1, 2), lambda o, x: o.swapaxes(x, -1, 1),
    lambda o, x: o.roll(x, 1, axis=2), lambda o, x: o.rot90(x, 1, (1, 2)), lambda o, x: o.diff(x, 2),
    lambda o, x: o.diagonal(x, 0, 1, 2), lambda o, x: o.trace(x, 1, 1, 2)[:, None], lambda o, x: o.fliplr(x),
    lambda o, x: o.dot(x, np.arange(8.0, dtype="float32").reshape(4, 2)),
    # (Keras 3.15's TF inner fails inside a model: its tf.cond traces the scalar branch x1 * x2 too; its own
    # N-D formula, tensordot over the last axes, stands in for it)
    lambda o, x: (o.inner if o is ops else lambda a, b: o.tensordot(a, b, [[-1], [-1]]))(
        x, np.arange(8.0, dtype="float32").reshape(2, 4) - 3),
    lambda o, x: o.hstack([x, x * 2]), lambda o, x: o.dstack([x[:, :, :, None], x[:, :, :, None]]),
    lambda o, x: o.select([x > 0], [x], -x), lambda o, x: o.rearrange(x, "b h w -> b w h"),
    lambda o, x: o.append(x, x, axis=1), lambda o, x: o.hsplit(x, [1])[1], lambda o, x: o.trapezoid(x, axis=1)[:, None],
    lambda o, x: o.cross(x[:, :, :3], x[:, :, 1:]), lambda o, x: o.cross(x[:, :, :2], x[:, :, 2:])[:, :, None],
    lambda o, x: o.cross(x[:, :, :3], x[:, :, 1:], axisa=1, axisb=1, axisc=1),
])
def test_tensor_nodes_predict_train_and_save_like_keras(keras, build, tmp_path):
    # (Keras 3.15's rearrange fails on a batch axis of unknown size: its Input gets the batch's 5)
    ours, theirs = _model_pair(keras, build, batch_size=5 if "rearrange" in build.__code__.co_names else None)
    x = R.normal(size=(5, 3, 4)).astype(np.float32)
    y = R.normal(size=(5, 2)).astype(np.float32)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(learning_rate=0.1))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(learning_rate=0.1))
    ours.train_on_batch(x, y)
    theirs.train_on_batch(x, y)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    ours.save(tmp_path / "m.npz")
    np.testing.assert_allclose(gn.load_model(tmp_path / "m.npz").predict(x, verbose=0), ours.predict(x, verbose=0),
                               rtol=1e-6)


@pytest.mark.parametrize("call, word", [
    (lambda x: ops.moveaxis(x, 0, 1), "moveaxis"), (lambda x: ops.swapaxes(x, 0, 2), "swapaxes"),
    (lambda x: ops.ravel(x), "ravel"), (lambda x: ops.flipud(x), "flipud"), (lambda x: ops.roll(x, 1), "roll"),
    (lambda x: ops.roll(x, 1, axis=0), "roll"), (lambda x: ops.diff(x, axis=0), "diff"),
    (lambda x: ops.diagonal(x), "diagonal"), (lambda x: ops.vstack([x, x]), "vstack"), (lambda x: ops.outer(x, x), "outer"),
    (lambda x: ops.rearrange(x, "b h w -> h b w"), "rearrange"), (lambda x: ops.ldexp(x, 2), "ldexp"),
    (lambda x: ops.append(x, x), "append"), (lambda x: ops.corrcoef(x), "corrcoef"),
])
def test_tensors_refused_by_name(call, word):
    with pytest.raises((TypeError, ValueError), match=word):
        call(gn.Input((3, 4)))


@pytest.mark.parametrize("call, word", [
    (lambda: ops.ldexp(np.float32([1]), np.float32([2])), "x2"), (lambda: ops.diff(np.ones(3), n=-1), "n"),
    (lambda: ops.correlate(np.ones(3), np.ones(2), mode="bad"), "mode"), (lambda: ops.rot90(np.ones((2, 2)), k=1.5), "k"),
    (lambda: ops.select([np.ones(2) > 0], []), "condlist"), (lambda: ops.nan_to_num(np.ones(2), nan="x"), "nan"),
    (lambda: ops.rearrange(np.ones((2, 3)), "a b c -> c"), "pattern"), (lambda: ops.erfc(np.array([True])), "x"),
    (lambda: ops.hstack(np.ones(3)), "xs"), (lambda: ops.heaviside(np.array([True]), np.array([False])), "x1"),
    (lambda: ops.vdot(np.ones((3, 4)), 2.0), "x2"), (lambda: ops.dot(np.ones(4), np.ones((3, 4))), "x2"),
    (lambda: ops.dot(np.ones((2, 3)), np.ones(4)), "x2"), (lambda: ops.inner(np.ones(3), np.ones(4)), "x2"),
    (lambda: ops.cross(np.ones((2, 4)), np.ones((2, 3))), "x1"), (lambda: ops.cross(np.ones(3), np.ones(3), axisb=1), "x2"),
])
def test_bad_arguments_named(call, word):
    with pytest.raises((TypeError, ValueError), match=word):
        call()
