"""ops.jvp (glassnet._ops_jvp: forward mode on the second-order tape's tangent pass) against
keras.ops.jvp on TensorFlow, torch.func.jvp in float64 and central differences; the dtypes of the
control-flow functions' results (glassnet._ops_flow) against Keras 3.15 on TensorFlow."""
import subprocess
import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet import ops


def _np(v):
    return np.asarray(v.numpy() if hasattr(v, "numpy") else v)


def _directional(fun, primals, tangents, eps=1e-6):
    """(fun(p + eps t) - fun(p - eps t)) / 2 eps of a function of float64 arrays (one output)."""
    up = fun(*[p + eps * t for p, t in zip(primals, tangents)])
    down = fun(*[p - eps * t for p, t in zip(primals, tangents)])
    return (np.asarray(up) - np.asarray(down)) / (2 * eps)


def _chain(x, w, b):
    h = ops.tanh(ops.matmul(x, w) + b)
    s = ops.softmax(h * 2.0, axis=-1)
    return ops.sum(ops.log1p(ops.square(s)) * ops.exp(-h), axis=1) + ops.max(h, axis=-1) - ops.mean(x * x, axis=-1)


def _torch_chain(torch):
    def f(x, w, b):
        h = torch.tanh(x @ w + b)
        s = torch.softmax(h * 2.0, dim=-1)
        return (torch.log1p(s ** 2) * torch.exp(-h)).sum(1) + h.max(-1).values - (x * x).mean(-1)
    return f


# -- jvp against torch.func.jvp (float64) and finite differences --------------------------------------------
def test_jvp_of_an_ops_chain_of_several_primals_as_torch(torch, rng):
    x, w, b = rng.normal(size=(5, 4)), rng.normal(size=(4, 3)), rng.normal(size=(3,))
    tx, tw, tb = rng.normal(size=x.shape), rng.normal(size=w.shape), rng.normal(size=b.shape)
    y, ty = ops.jvp(_chain, (x, w, b), (tx, tw, tb))
    T = torch.tensor
    want_y, want_t = torch.func.jvp(_torch_chain(torch), (T(x), T(w), T(b)), (T(tx), T(tw), T(tb)))
    assert type(y) is np.ndarray and y.dtype == ty.dtype == np.float64 and ty.shape == (5,)
    np.testing.assert_allclose(y, want_y.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ty, want_t.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ty, _directional(_chain, (x, w, b), (tx, tw, tb)), rtol=1e-6, atol=1e-8)
    # the sum over primals: a tangent on one primal alone is that primal's column of the Jacobian
    parts = [ops.jvp(_chain, (x, w, b), tuple(t if k == j else np.zeros_like(t) for k, t in enumerate((tx, tw, tb))))[1]
             for j in range(3)]
    np.testing.assert_allclose(sum(parts), ty, rtol=1e-12, atol=1e-12)


def test_jvp_nested_primals_several_outputs_and_aux_as_torch(torch, rng):
    a, c = rng.normal(size=(3, 2)), rng.normal(size=(2,))
    ta, tc = rng.normal(size=a.shape), rng.normal(size=c.shape)

    def fun(d, scale):
        y = ops.sigmoid(d["a"] * d["c"]) * scale
        return (y, {"z": ops.concatenate([ops.sin(d["a"]), y], axis=1)}), ops.shape(y)

    scale = np.float64(1.5)
    (y, z), (ty, tz), aux = ops.jvp(fun, ({"a": a, "c": c}, scale), ({"a": ta, "c": tc}, np.float64(0.0)),
                                    has_aux=True)
    assert aux == (3, 2) and isinstance(tz, dict)
    T = torch.tensor

    def tfun(a, c):
        y = torch.sigmoid(a * c) * 1.5
        return y, torch.cat([torch.sin(a), y], 1)
    (wy, wz), (wty, wtz) = torch.func.jvp(tfun, (T(a), T(c)), (T(ta), T(tc)))
    for got, want in ((y, wy), (z["z"], wz), (ty, wty), (tz["z"], wtz)):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-10, atol=1e-12)
    # a list of primals as a tuple; the same array given twice: its tangents add (torch's; TF refuses it)
    y1, t1 = ops.jvp(lambda p, q: p * q, [a, a], [ta, ta])
    np.testing.assert_allclose(t1, 2 * a * ta, rtol=1e-12)


def test_jvp_of_model_calls_as_torch_and_finite_differences(torch, rng):
    model = gn.Sequential([gn.layers.Dense(6, activation="tanh", input_dim=4), gn.layers.Dense(3, activation="softplus"),
                           gn.layers.Dense(2)], seed=3, dtype="float64")
    x, tx = rng.normal(size=(7, 4)), rng.normal(size=(7, 4))
    y, ty = ops.jvp(lambda v: ops.sum(ops.square(model(v)), axis=-1), (x,), (tx,))
    W = [torch.tensor(w) for w in model.get_weights()]
    F = torch.nn.functional

    def tmodel(v):
        h = F.softplus(torch.tanh(v @ W[0] + W[1]) @ W[2] + W[3]) @ W[4] + W[5]
        return (h ** 2).sum(-1)
    want_y, want_t = torch.func.jvp(tmodel, (torch.tensor(x),), (torch.tensor(tx),))
    np.testing.assert_allclose(y, want_y.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ty, want_t.numpy(), rtol=1e-10, atol=1e-12)
    fd = _directional(lambda v: np.sum(np.square(model.predict(v, verbose=0)), axis=-1), (x,), (tx,))
    np.testing.assert_allclose(ty, fd, rtol=1e-6, atol=1e-8)


def test_jvp_of_a_conv_model_as_keras_and_finite_differences(keras, rng):
    layers = [gn.layers.Conv2D(3, 3, activation="relu", input_shape=(6, 6, 2)), gn.layers.Flatten(),
              gn.layers.Dense(4, activation="sigmoid")]
    model = gn.Sequential(layers, seed=0)
    kmodel = keras.Sequential([keras.Input((6, 6, 2)), keras.layers.Conv2D(3, 3, activation="relu"),
                               keras.layers.Flatten(), keras.layers.Dense(4, activation="sigmoid")])
    kmodel.set_weights(model.get_weights())
    x, tx = rng.normal(size=(2, 6, 6, 2)).astype(np.float32), rng.normal(size=(2, 6, 6, 2)).astype(np.float32)
    y, ty = ops.jvp(model, (x,), (tx,))
    k = keras.ops
    want_y, want_t = k.jvp(kmodel, (k.convert_to_tensor(x),), (k.convert_to_tensor(tx),))
    assert ty.dtype == np.float32
    np.testing.assert_allclose(y, _np(want_y), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ty, _np(want_t), rtol=1e-4, atol=1e-5)
    # float64 copy: central differences
    m64 = gn.Sequential([gn.layers.Conv2D(3, 3, activation="tanh", input_shape=(6, 6, 2)), gn.layers.Flatten(),
                         gn.layers.Dense(4, activation="sigmoid")], seed=0, dtype="float64")
    x64, t64 = x.astype(np.float64), tx.astype(np.float64)
    fd = _directional(lambda v: m64.predict(v, verbose=0), (x64,), (t64,))
    np.testing.assert_allclose(ops.jvp(m64, (x64,), (t64,))[1], fd, rtol=1e-6, atol=1e-8)


# -- jvp against keras.ops.jvp on TensorFlow (float32) ------------------------------------------------------
def test_jvp_values_structure_and_dtypes_as_keras(keras, rng):
    k = keras.ops
    C = k.convert_to_tensor
    x, w, b = (rng.normal(size=s).astype(np.float32) for s in ((4, 3), (3, 2), (2,)))
    tx, tw, tb = (rng.normal(size=s).astype(np.float32) for s in ((4, 3), (3, 2), (2,)))
    cases = [
        (lambda a: ops.sin(a), lambda a: k.sin(a), (x,), (tx,)),
        (lambda a: a, lambda a: a, (x,), (tx,)),                          # the primal itself
        (_chain, lambda a, v, c: (k.sum(k.log1p(k.square(k.softmax(k.tanh(k.matmul(a, v) + c) * 2.0, axis=-1)))
                                         * k.exp(-k.tanh(k.matmul(a, v) + c)), axis=1)
                                  + k.max(k.tanh(k.matmul(a, v) + c), axis=-1) - k.mean(a * a, axis=-1)),
         (x, w, b), (tx, tw, tb)),
        (lambda a, v: (ops.logsumexp(a, axis=0), ops.where(a > 0, a, 0.1 * a) @ v),
         lambda a, v: (k.logsumexp(a, axis=0), k.where(a > 0, a, 0.1 * a) @ v), (x, w), (tx, tw)),
    ]
    for fun, kfun, primals, tangents in cases:
        y, ty = ops.jvp(fun, primals, tangents)
        want_y, want_t = k.jvp(kfun, tuple(map(C, primals)), tuple(map(C, tangents)))
        assert type(ty) is type(want_t) or isinstance(ty, np.ndarray)
        for got, want in zip(gn.tree.flatten((y, ty)), keras.tree.flatten((want_y, want_t))):
            assert got.dtype == np.dtype(want.dtype.name)
            np.testing.assert_allclose(got, _np(want), rtol=2e-5, atol=2e-6)
    # a float64 tangent is cast to its float32 primal (TF's cast)
    _, ty = ops.jvp(ops.sin, (x,), (tx.astype(np.float64),))
    _, want = k.jvp(k.sin, (C(x),), (C(tx.astype(np.float64)),))
    assert ty.dtype == np.float32 and want.dtype.name == "float32"
    np.testing.assert_allclose(ty, _np(want), rtol=1e-6)


def test_jvp_unconnected_and_integer_outputs_are_none_as_keras(keras, rng):
    k = keras.ops
    C = k.convert_to_tensor
    x, tx = rng.normal(size=(3,)).astype(np.float32), rng.normal(size=(3,)).astype(np.float32)
    x2 = x + 1
    got = ops.jvp(lambda a, b: (ops.sin(a), ops.ones(2), ops.cast(a, "int32")), (x, x2), (tx, tx))
    want = k.jvp(lambda a, b: (k.sin(a), k.ones(2), k.cast(a, "int32")), (C(x), C(x2)), (C(tx), C(tx)))
    assert [t is None for t in got[1]] == [t is None for t in want[1]] == [False, True, True]
    assert got[0][2].dtype == np.int32 == np.dtype(want[0][2].dtype.name)
    n, tn = np.array([1, 2], np.int32), np.array([1, 1], np.int32)
    got, want = ops.jvp(lambda a: a * 2, (n,), (tn,)), k.jvp(lambda a: a * 2, (C(n),), (C(tn),))
    assert got[1] is None and want[1] is None
    np.testing.assert_array_equal(got[0], _np(want[0]))


def test_jvp_refuses_what_the_second_order_tape_refuses_by_name(rng):
    x, t = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    with pytest.raises(NotImplementedError, match=r"ops\.jvp: .*ops\.sort .*has none"):
        ops.jvp(lambda a: ops.sort(a), (x,), (t,))

    @ops.custom_gradient
    def double(v):
        return v * 2.0, (lambda upstream: upstream * 2.0)
    with pytest.raises(NotImplementedError, match=r"ops\.jvp: "):
        ops.jvp(double, (x,), (t,))
    with pytest.raises(NotImplementedError, match=r"ops\.jvp: called while a GradientTape records"):
        with gn.GradientTape():
            ops.jvp(ops.sin, (x,), (t,))


def test_jvp_bad_arguments_name_the_argument(rng):
    x, t = rng.normal(size=(3,)), rng.normal(size=(3,))
    with pytest.raises(TypeError, match="ops.jvp: fun must be a callable, got int"):
        ops.jvp(3, (x,), (t,))
    with pytest.raises(TypeError, match="ops.jvp: primals must be a tuple or list of fun's arguments, got ndarray"):
        ops.jvp(ops.sin, x, (t,))
    with pytest.raises(TypeError, match="ops.jvp: tangents must be a tuple or list"):
        ops.jvp(ops.sin, (x,), t)
    with pytest.raises(ValueError, match=r"ops.jvp: tangents must hold 1 entries as primals do, got 2"):
        ops.jvp(ops.sin, (x,), (t, t))
    with pytest.raises(ValueError, match=r"tangent 0 has shape \(2,\), its primal \(3,\)"):
        ops.jvp(ops.sin, (x,), (t[:2],))
    with pytest.raises(ValueError, match=r"tangents\[0\] must have primals' keys"):
        ops.jvp(lambda d: d["a"], ({"a": x},), ({"b": t},))
    with pytest.raises(ValueError, match="with has_aux=True fun must return a pair"):
        ops.jvp(ops.sin, (x,), (t,), has_aux=True)
    with pytest.raises(TypeError, match="has_aux must be True or False"):
        ops.jvp(ops.sin, (x,), (t,), has_aux="yes")


def test_jvp_is_keras_linalg_name_and_not_imported_with_glassnet(keras):
    assert "jvp" in dir(keras.ops.linalg)
    assert ops.linalg.jvp is ops.jvp and "jvp" in ops.linalg.__all__ and "jvp" in ops.__all__
    from glassnet.ops.linalg import jvp
    assert jvp is ops.jvp
    code = "import sys, glassnet, glassnet.ops; print('glassnet._ops_jvp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# -- control flow: the dtypes of the results, as Keras 3.15 on TensorFlow ----------------------------------
def _loop_cases(o, cast):
    """(name, thunk) pairs written once for glassnet.ops and keras.ops (``cast(i)``: the counter as
    the body uses it)."""
    f32 = np.arange(3, dtype=np.float32)
    return [
        ("fori float", lambda: o.fori_loop(0, 3, lambda i, v: v + i, 0.0)),
        ("fori int", lambda: o.fori_loop(0, 3, lambda i, v: v + i, 0)),
        ("fori float32 array", lambda: o.fori_loop(1, 4, lambda i, v: v * 2 + i, f32)),
        ("fori float64 scalar", lambda: o.fori_loop(0, 3, lambda i, v: v + 1, np.float64(0.5))),
        ("fori int32 lower", lambda: o.fori_loop(np.int32(0), 3, lambda i, v: v + i, 0.0)),
        ("fori bool", lambda: o.fori_loop(0, 2, lambda i, v: v, True)),
        ("fori tuple", lambda: o.fori_loop(0, 3, lambda i, v: (v[0] + 1, v[1] * 2.0), (0, 1.0))),
        ("fori none run", lambda: o.fori_loop(2, 0, lambda i, v: v + 1, 0.0)),
        ("fori big int", lambda: o.fori_loop(0, 2, lambda i, v: v + i, 2 ** 40)),
        ("while tuple", lambda: o.while_loop(lambda a, b: a < 3, lambda a, b: (a + 1, b * 2), (0, 1))),
        ("while list", lambda: o.while_loop(lambda a, b: a < 3, lambda a, b: [a + 1, b * 2.0], [0, 1.0])),
        ("while single", lambda: o.while_loop(lambda a: a < 3, lambda a: a + 1, 0)),
        ("while float", lambda: o.while_loop(lambda a: a < 3, lambda a: a + 1, 0.5)),
        ("while bounded", lambda: o.while_loop(lambda a: a < 30, lambda a: a + 1.5, 0.5, maximum_iterations=4)),
        ("while dict", lambda: o.while_loop(lambda s: s["a"] < 3, lambda s: {"a": s["a"] + 1}, {"a": 0})),
        ("while nested", lambda: o.while_loop(lambda a, b: a < 3, lambda a, b: (a + 1, (b[0] + 1.0,)), (0, (1.0,)))),
        ("while int64", lambda: o.while_loop(lambda a: a < 3, lambda a: a + 1, np.int64(0))),
        ("scan float", lambda: o.scan(lambda c, x: (c + x, c), 0.0, f32)),
        ("scan int", lambda: o.scan(lambda c, x: (c + 1, c), 0, None, length=3)),
        ("scan python y", lambda: o.scan(lambda c, x: (c + 1.0, c * 2.0), 0.0, None, length=3)),
        ("scan empty", lambda: o.scan(lambda c, x: (c + 1.0, c), np.zeros(2, np.float32), None, length=0)),
        ("scan empty tuple", lambda: o.scan(lambda c, x: (c, c), (0, np.zeros(2)), None, length=0)),
        ("scan int64", lambda: o.scan(lambda c, x: (c + 1, c), np.int64(0), None, length=2)),
        ("map float64", lambda: o.map(lambda x: x * 2, np.arange(3.0))),
        ("vectorized_map python", lambda: o.vectorized_map(lambda x: 2.0, np.arange(3.0))),
        ("associative_scan", lambda: o.associative_scan(lambda a, b: a + b, np.arange(4.0))),
        ("associative_scan int32", lambda: o.associative_scan(lambda a, b: a * b, np.arange(1, 5, dtype=np.int32))),
        ("cond python", lambda: o.cond(True, lambda: 1.0, lambda: 2.0)),
        ("cond tuple", lambda: o.cond(False, lambda: (1, 2.0), lambda: (3, 4.0))),
        ("cond numpy", lambda: o.cond(True, lambda: np.float64(1), lambda: np.float64(2))),
        ("cond none", lambda: o.cond(True, lambda: None, lambda: None)),
        ("switch python", lambda: o.switch(1, [lambda: 1.0, lambda: 2]))]


def _describe(value):
    """The structure of a result with each leaf's kind (Python number, array) and dtype, and its values."""
    if isinstance(value, (tuple, list)):
        return type(value).__name__, [_describe(v) for v in value]
    if isinstance(value, dict):
        return "dict", {key: _describe(v) for key, v in value.items()}
    if value is None or type(value) in (int, float, bool):
        return type(value).__name__, value
    array = _np(value)
    dtype = value.dtype.name if hasattr(value.dtype, "name") else str(value.dtype)
    return "array", str(np.dtype(dtype)), array.shape, array.tolist()


def test_control_flow_results_have_keras_dtypes(keras):
    ours = dict(_loop_cases(ops, int))
    theirs = dict(_loop_cases(keras.ops, int))
    for name, run in ours.items():
        got, want = _describe(run()), _describe(theirs[name]())
        assert got == want, name


def test_fori_loop_counter_is_keras_type(keras):
    """Keras' eager tf.while_loop counts with lower + 1: a Python int for a Python lower (so a
    float32 carry plus i stays float32), else lower's NumPy type."""
    for lower in (0, np.int32(0), np.int64(0)):
        seen, theirs = [], []
        ops.fori_loop(lower, 2, lambda i, v: seen.append(type(i)) or v, 0.0)
        keras.ops.fori_loop(lower, 2, lambda i, v: theirs.append(type(i)) or v, 0.0)
        assert seen == theirs, lower


def test_loop_results_keep_recorded_values_and_gradients(rng):
    """A recorded carry stays recorded (the tape's value), so gradients still flow; finite differences."""
    x = rng.normal(size=(3,))

    def f(v):
        return ops.sum(ops.fori_loop(0, 3, lambda i, c: ops.sin(c) * 1.5 + i, v))

    with gn.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
        assert ops.is_tensor(y)
    g = tape.gradient(y, x)
    eps = 1e-6
    fd = np.array([(float(f(x + eps * e)) - float(f(x - eps * e))) / (2 * eps) for e in np.eye(3)])
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


def test_convert_to_tensor_of_big_python_ints_is_int64_as_keras(keras):
    for value in (2 ** 40, -2 ** 31 - 1, [1, 2 ** 33], 2 ** 31 - 1, -2 ** 31, [1, 2]):
        got, want = ops.convert_to_tensor(value), keras.ops.convert_to_tensor(value)
        assert got.dtype == np.dtype(want.dtype.name), value
        np.testing.assert_array_equal(got, _np(want))
