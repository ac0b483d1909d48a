"""keras.ops' control flow, custom_gradient and core helpers (glassnet._ops_flow, _ops_custom_gradient,
_ops_core) against Keras 3.15 (TensorFlow) and torch; gradients through loop bodies against float64
central differences."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops


def _np(v):
    return np.asarray(v.numpy() if hasattr(v, "numpy") else v)


def _fd(fun, x, eps=1e-6):
    """Central differences of the scalar fun at float64 x."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        g[i] = (fun(up) - fun(down)) / (2 * eps)
    return g


def _tape_grad(fun, x):
    with gn.GradientTape() as tape:
        tape.watch(x)
        y = fun(x)
    return tape.gradient(y, x)


# -- control flow: values against Keras ----------------------------------------------------------------
def test_cond_switch_against_keras(keras):
    k = keras.ops
    for pred in (True, False, np.array(True), np.array(False)):
        assert float(ops.cond(pred, lambda: np.float32(1), lambda: np.float32(2))) == \
            float(_np(k.cond(k.convert_to_tensor(pred), lambda: 1.0, lambda: 2.0)))
    branches = [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b]
    a, b = np.float32(2.0), np.float32(0.5)
    for index in (-3, 0, 1, 2, 9):
        np.testing.assert_allclose(ops.switch(index, branches, a, b), _np(k.switch(index, branches, a, b)))


def test_while_and_fori_against_keras(keras):
    k = keras.ops
    cond, body = (lambda x, y: x < 10), (lambda x, y: (x + 1, y * 2.0))
    ours, theirs = ops.while_loop(cond, body, (0, np.float32(1.0))), k.while_loop(cond, body, (0, 1.0))
    assert isinstance(ours, tuple) and [float(v) for v in ours] == [float(_np(v)) for v in theirs]
    ours = ops.while_loop(cond, body, (0, np.float32(1.0)), maximum_iterations=3)
    theirs = k.while_loop(cond, body, (0, 1.0), maximum_iterations=3)
    assert [float(v) for v in ours] == [float(_np(v)) for v in theirs]
    assert ops.while_loop(lambda i: i < 5, lambda i: i + 2, 0) == int(_np(k.while_loop(lambda i: i < 5, lambda i: i + 2, 0)))
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_allclose(ops.fori_loop(1, 4, lambda i, v: v * 2 + i, x),
                               _np(k.fori_loop(1, 4, lambda i, v: v * 2 + keras.ops.cast(i, "float32"), x)))
    np.testing.assert_array_equal(ops.fori_loop(3, 1, lambda i, v: v + 1, x), x)       # no step


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_against_keras(keras, rng, reverse):
    xs = rng.normal(size=(5, 3)).astype(np.float32)

    def f(c, x):
        return c * 0.5 + x, c + 1.0
    ours = ops.scan(f, np.zeros(3, np.float32), xs, reverse=reverse)
    theirs = keras.ops.scan(f, np.zeros(3, np.float32), xs, reverse=reverse)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o, _np(t), rtol=1e-6)
        assert o.dtype == _np(t).dtype
    # xs None: length steps; nested carry and xs
    carry, ys = ops.scan(lambda c, _: (c + 1.0, c), np.float32(0.0), length=4)
    kc, kys = keras.ops.scan(lambda c, _: (c + 1.0, c), np.float32(0.0), length=4)
    np.testing.assert_allclose(ys, _np(kys))
    nested = {"a": xs, "b": xs[:, :1]}
    g = (lambda c, x: ((c[0] + x["a"], c[1] * x["b"]), (c[0] - 1.0, c[1])))      # (TF: y shaped as the carry)
    init = (np.zeros(3, np.float32), np.ones(1, np.float32))
    ours, theirs = ops.scan(g, init, nested, reverse=reverse), keras.ops.scan(g, init, nested, reverse=reverse)
    for o, t in zip([*ours[0], *ours[1]], [*theirs[0], *theirs[1]]):
        np.testing.assert_allclose(o, _np(t), rtol=1e-6)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_associative_scan_against_keras(keras, rng, reverse, axis):
    x = rng.uniform(0.5, 1.5, size=(4, 5)).astype(np.float32)
    for f in (lambda a, b: a + b, lambda a, b: a * b, lambda a, b: ops.maximum(a, b) if not hasattr(a, "device")
              else keras.ops.maximum(a, b)):
        ours = ops.associative_scan(f, x, reverse=reverse, axis=axis)
        theirs = keras.ops.associative_scan(f, x, reverse=reverse, axis=axis)
        np.testing.assert_allclose(ours, _np(theirs), rtol=1e-5)
    # a non-commutative pair: the linear recurrence h = a * h + b
    a, b = rng.uniform(0.2, 0.9, size=(6, 2)), rng.normal(size=(6, 2))

    def affine(p, q):
        return (p[0] * q[0], q[0] * p[1] + q[1])
    ours = ops.associative_scan(affine, (a, b), reverse=reverse, axis=axis)
    theirs = keras.ops.associative_scan(affine, (a, b), reverse=reverse, axis=axis)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o, _np(t), rtol=1e-6)


def test_map_vectorized_map_vectorize_against_keras(keras, rng):
    x = rng.normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_allclose(ops.map(lambda v: v * v + 1.0, x), _np(keras.ops.map(lambda v: v * v + 1.0, x)))
    pair = {"p": x, "q": x[:, :2]}
    f = (lambda d: d["p"][:2] * d["q"])
    np.testing.assert_allclose(ops.map(f, pair), _np(keras.ops.map(f, pair)))
    np.testing.assert_allclose(ops.vectorized_map(lambda v: v[::-1] * 2.0, x),
                               _np(keras.ops.vectorized_map(lambda v: v[::-1] * 2.0, x)))
    # (Keras 3.15's vectorize on TensorFlow refuses these calls: NumPy's vectorize is the oracle)
    mul = ops.vectorize(lambda a, b: a * b + 1.0)
    np.testing.assert_allclose(mul(x, x[0]), np.vectorize(lambda a, b: a * b + 1.0)(x, x[0]), rtol=1e-6)
    dot = ops.vectorize(lambda a, b: ops.sum(a * b), signature="(n),(n)->()")
    ndot = np.vectorize(lambda a, b: np.sum(a * b), signature="(n),(n)->()")
    np.testing.assert_allclose(dot(x, x[:1]), ndot(x, x[:1]), rtol=1e-6)


# -- gradients through the bodies ----------------------------------------------------------------------
def test_scan_rnn_gradients_against_torch_and_differences(torch, rng):
    W = rng.normal(size=(3, 3)) * 0.5
    xs = rng.normal(size=(5, 2, 3))
    h0 = np.zeros((2, 3))

    def loss_of(W_, xs_=xs):
        _, ys = ops.scan(lambda h, xt: (ops.tanh(ops.matmul(h, W_) + xt),) * 2, h0, xs_)
        return ops.sum(ops.square(ys))
    with gn.GradientTape() as tape:
        tape.watch(W)
        tape.watch(xs)
        loss = loss_of(W)
    gW, gx = tape.gradient(loss, [W, xs])
    np.testing.assert_allclose(gW, _fd(lambda w: float(loss_of(w)), W), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gx, _fd(lambda v: float(loss_of(W, v)), xs), rtol=1e-6, atol=1e-8)
    tW, tx = torch.tensor(W, requires_grad=True), torch.tensor(xs, requires_grad=True)
    h, total = torch.tensor(h0), 0
    for t in range(5):
        h = torch.tanh(h @ tW + tx[t])
        total = total + (h ** 2).sum()
    total.backward()
    np.testing.assert_allclose(gW, tW.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-10)


def test_fori_while_cond_map_gradients(rng, keras):
    import tensorflow as tf
    A = rng.normal(size=(3, 3))
    v0 = rng.normal(size=(3, 1))      # (a column: the tape's matmul node takes matrices)

    def power(A_):        # a power iteration
        v = ops.fori_loop(0, 4, lambda i, v: ops.matmul(A_, v) / ops.sqrt(ops.sum(ops.square(ops.matmul(A_, v)))), v0)
        return ops.sum(v * ops.matmul(A_, v))
    np.testing.assert_allclose(_tape_grad(power, A), _fd(lambda a: float(power(a)), A), rtol=1e-6, atol=1e-8)
    tA = tf.Variable(A)
    with tf.GradientTape() as t:
        v = keras.ops.fori_loop(0, 4, lambda i, v: keras.ops.matmul(tA, v) / keras.ops.norm(keras.ops.matmul(tA, v)), v0)
        y = keras.ops.sum(v * keras.ops.matmul(tA, v))
    np.testing.assert_allclose(_tape_grad(power, A), t.gradient(y, tA).numpy(), rtol=1e-9)

    x = rng.uniform(0.5, 1.0, size=(4,))

    def grow(x_):        # a while loop whose condition is a recorded value
        # (convert_to_tensor: a watched array as a recorded value, so that Python's operators are recorded)
        out = ops.while_loop(lambda y: ops.sum(y) < 40.0, lambda y: y * 1.5 + 0.1, ops.convert_to_tensor(x_))
        return ops.sum(ops.sin(out))
    np.testing.assert_allclose(_tape_grad(grow, x), _fd(lambda v: float(grow(v)), x), rtol=1e-6, atol=1e-8)

    def branch(x_):
        return ops.cond(ops.sum(x_) > 0, lambda: ops.sum(ops.exp(x_)), lambda: ops.sum(ops.square(x_)))
    for sign in (1.0, -1.0):
        np.testing.assert_allclose(_tape_grad(branch, sign * x), _fd(lambda v: float(branch(v)), sign * x), rtol=1e-6)
    m = rng.normal(size=(3, 4))
    for fn in (ops.map, ops.vectorized_map):
        g = _tape_grad(lambda m_: ops.sum(fn(lambda r: ops.tanh(r) * r[0], m_)), m)
        np.testing.assert_allclose(g, _fd(lambda v: float(ops.sum(fn(lambda r: ops.tanh(r) * r[0], v))), m), rtol=1e-6)
    g = _tape_grad(lambda m_: ops.sum(ops.associative_scan(lambda a, b: a * b, m_, axis=1) ** 2), m)
    np.testing.assert_allclose(g, _fd(lambda v: float(np.sum(np.cumprod(v, axis=1) ** 2)), m), rtol=1e-6, atol=1e-9)
    dot = ops.vectorize(lambda a, b: ops.sum(a * b), signature="(n),(n)->()")
    np.testing.assert_allclose(_tape_grad(lambda m_: ops.sum(dot(m_, ops.get_item(m_, 0))), m),
                               _fd(lambda v: float(np.sum(v @ v[0])), m), rtol=1e-6)


# -- custom_gradient -----------------------------------------------------------------------------------
def test_custom_gradient_against_tf(keras, rng):
    import tensorflow as tf

    def make(o):
        @o.custom_gradient
        def log1pexp(x):
            e = o.exp(x)

            def grad(*args, upstream=None):
                if upstream is None:
                    (upstream,) = args
                return o.multiply(upstream, 1.0 - 1.0 / o.add(1, e))
            return o.log(1 + e), grad

        @o.custom_gradient
        def clip_grad(x, y):
            return x * y, lambda up: (o.clip(up * y, -0.1, 0.1), up * x * 2.0)
        return log1pexp, clip_grad
    ours, theirs = make(ops), make(keras.ops)
    x = rng.normal(size=(5,)).astype(np.float32) * 3
    y = rng.normal(size=(5,)).astype(np.float32)
    np.testing.assert_allclose(ours[0](x), _np(theirs[0](x)), rtol=1e-6)        # no tape: the value
    with gn.GradientTape() as tape:
        tape.watch(x)
        tape.watch(y)
        loss = ops.sum(ours[0](x) * 3.0) + ops.sum(ours[1](x, y) ** 2)
    gx, gy = tape.gradient(loss, [x, y])
    tx, ty = tf.Variable(x), tf.Variable(y)
    with tf.GradientTape() as t:
        tl = tf.reduce_sum(theirs[0](tx) * 3.0) + tf.reduce_sum(theirs[1](tx, ty) ** 2)
    kx, ky = t.gradient(tl, [tx, ty])
    np.testing.assert_allclose(gx, kx.numpy(), rtol=1e-5)
    np.testing.assert_allclose(gy, ky.numpy(), rtol=1e-5)
    assert gx.dtype == np.float32


def test_gradient_reversal_in_a_custom_training_loop_against_keras(keras, rng):
    """keras.io's DANN idea: a reversal between two Dense layers, trained by apply_gradients."""
    @ops.custom_gradient
    def reverse(x):
        return x, lambda up: -up

    @keras.ops.custom_gradient
    def kreverse(x):
        return x, lambda up: -up
    import tensorflow as tf
    x = rng.normal(size=(8, 4)).astype(np.float32)
    y = rng.normal(size=(8, 1)).astype(np.float32)
    a, b = gn.layers.Dense(3, input_dim=4), gn.layers.Dense(1, input_dim=3)
    model_a, model_b = gn.Sequential([a], seed=0), gn.Sequential([b], seed=1)
    ka, kb = keras.layers.Dense(3), keras.layers.Dense(1)
    ka.build((None, 4))
    kb.build((None, 3))
    ka.set_weights(model_a.get_weights())
    kb.set_weights(model_b.get_weights())
    opt, kopt = gn.optimizers.SGD(learning_rate=0.1), keras.optimizers.SGD(learning_rate=0.1)
    for _ in range(3):
        with gn.GradientTape() as tape:
            loss = ops.mean(ops.square(model_b(reverse(model_a(x, training=True)), training=True) - y))
        weights = model_a.trainable_weights + model_b.trainable_weights
        opt.apply_gradients(zip(tape.gradient(loss, weights), weights))
        with tf.GradientTape() as t:
            kl = keras.ops.mean(keras.ops.square(kb(kreverse(ka(x))) - y))
        kw = ka.trainable_weights + kb.trainable_weights
        kopt.apply_gradients(zip(t.gradient(kl, kw), kw))
        np.testing.assert_allclose(float(loss), float(kl), rtol=1e-5)
    for ours, theirs in zip(model_a.get_weights() + model_b.get_weights(), ka.get_weights() + kb.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_custom_gradient_second_order_refused_by_name(rng):
    @ops.custom_gradient
    def square(x):
        return x * x, lambda up: 2 * x * up
    x = rng.normal(size=(3,))
    with gn.GradientTape() as outer:
        outer.watch(x)
        with gn.GradientTape() as inner:
            inner.watch(x)
            y = ops.sum(square(x))
        with pytest.raises((TypeError, NotImplementedError), match="custom_gradient"):
            g = inner.gradient(y, x)
            outer.gradient(ops.sum(g), x)


# -- core helpers against Keras ------------------------------------------------------------------------
def test_core_helpers_against_keras(keras, rng):
    k = keras.ops
    x = rng.normal(size=(2, 3)).astype(np.float32)
    for value in (x, x.astype(np.float64), np.arange(5, dtype=np.int16), np.zeros((0, 2), np.int32)):
        assert ops.dtype(value) == k.dtype(value)
        assert ops.ndim(value) == k.ndim(value)
        assert int(ops.size(value)) == int(k.size(value)) and ops.size(value).dtype == np.int32
        np.testing.assert_array_equal(ops.copy(value), _np(k.copy(value)))
        assert ops.copy(value).dtype == _np(k.copy(value)).dtype
        for dtype in (None, "int32", "float64"):
            for ours, theirs in ((ops.empty_like(value, dtype), k.empty_like(value, dtype)),
                                 (ops.full_like(value, 2.5, dtype), k.full_like(value, 2.5, dtype)),
                                 (ops.array(value, dtype), k.array(value, dtype))):
                np.testing.assert_array_equal(ours, _np(theirs))
                assert ours.dtype == _np(theirs).dtype
    assert ops.is_tensor(x) is False and bool(k.is_tensor(x)) is False
    assert ops.is_tensor(gn.Input((3,))) == bool(k.is_tensor(keras.Input((3,))))
    for value in ([1, 2], [1.0, 2.0], 3, 2.5):
        assert ops.array(value).dtype == _np(k.array(value)).dtype
    for shape, dtype in (((2, 3), None), ((4,), "int32"), ((), "float64"), ((0, 2), None)):
        ours, theirs = ops.empty(shape, dtype), _np(k.empty(shape, dtype))
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    for key in (1, (slice(None), 2), (Ellipsis, None, slice(0, 2)), np.array([1, 0, 1])):
        np.testing.assert_array_equal(ops.get_item(x, key), _np(k.get_item(x, key)))
    for value, dtype in ((np.array([1.0, -2.0], np.float32), "int32"), (np.array([1, 2, 3, 4], np.int16), "int8"),
                         (np.arange(4, dtype=np.int8), "int16"), (np.ones((2, 2), np.float64), "float32")):
        ours, theirs = ops.view(value, dtype), _np(k.view(value, dtype))
        np.testing.assert_array_equal(ours, theirs)
        assert ours.dtype == theirs.dtype


@pytest.mark.parametrize("source,target", [("float32", "uint8"), ("float64", "int32"), ("float32", "int32"),
                                           ("int32", "uint8"), ("int64", "int16"), ("float64", "float32"),
                                           ("int32", "float16"), ("float32", "int8")])
def test_saturate_cast_against_keras(keras, source, target):
    values = np.array([-1e12, -3e9, -300.7, -128.5, -1.5, -0.5, 0, 0.5, 1.5, 127.5, 255.7, 300, 3e9, 1e12])
    if np.dtype(source).kind != "f":
        info = np.iinfo(source)
        values = np.clip(np.trunc(values), info.min, info.max)
    x = values.astype(source)
    ours, theirs = ops.saturate_cast(x, target), _np(keras.ops.saturate_cast(x, target))
    if (source, target) == ("float32", "int32"):
        # TF's bound 2**31 - 1 rounds to 2**31 in float32 and its cast wraps to -2**31: glassnet saturates
        over = values >= 2 ** 31
        assert (ours[over] == 2 ** 31 - 1).all() and (theirs[over] == -2 ** 31).all()
        ours, theirs = ours[~over], theirs[~over]
    np.testing.assert_array_equal(ours, theirs)
    assert ours.dtype == theirs.dtype


def test_tape_core_helpers(rng):
    x = rng.normal(size=(3, 4)) * 3
    for fun, ref in ((lambda v: ops.sum(ops.get_item(v, (slice(None), 1)) ** 2), lambda v: np.sum(v[:, 1] ** 2)),
                     (lambda v: ops.sum(ops.copy(v) ** 2), lambda v: np.sum(v ** 2)),
                     (lambda v: ops.sum(ops.saturate_cast(v, "float16") * 2.0), lambda v: np.sum(v * 2.0))):
        np.testing.assert_allclose(_tape_grad(fun, x), _fd(ref, x), rtol=1e-6)
    with gn.GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(ops.multiply(x, 1.0))
        assert ops.is_tensor(y) and ops.dtype(y) == "float64" and ops.ndim(y) == 0 and int(ops.size(x)) == 12


# -- symbolic tensors ----------------------------------------------------------------------------------
def test_tensors_refused_by_name_or_drawn(rng):
    inp = gn.Input((4,))
    for call, match in ((lambda: ops.cond(ops.sum(inp, axis=1) > 0, lambda: inp, lambda: -inp), "cond: pred"),
                        (lambda: ops.switch(inp, [lambda: inp]), "switch: index"),
                        (lambda: ops.while_loop(lambda v: ops.max(v, axis=1) < 1, lambda v: v * 2.0, inp), "while_loop"),
                        (lambda: ops.fori_loop(0, inp, lambda i, v: v, inp), "fori_loop: upper"),
                        (lambda: ops.map(lambda r: r, inp), "map: xs"),
                        (lambda: ops.scan(lambda c, r: (c, r), 0.0, inp), "scan: xs"),
                        (lambda: ops.associative_scan(lambda a, b: a + b, inp), "associative_scan"),
                        (lambda: ops.scan(lambda c, _: (c * 2.0, c), inp, length=2), "scan: the function returned"),
                        (lambda: ops.custom_gradient(lambda v: (v, lambda g: g))(inp), "custom_gradient"),
                        (lambda: ops.size(inp), "size"), (lambda: ops.view(inp, "int32"), "view")):
        with pytest.raises(TypeError, match=match):
            call()
    # a Python count or branch draws its body's nodes: a model that trains and survives save/load
    h = ops.fori_loop(0, 3, lambda i, v: ops.tanh(v) * 0.9, gn.layers.Dense(4)(inp))
    h, _ = ops.scan(lambda c, _: (c + ops.sigmoid(c), None), h, length=2)
    h = ops.associative_scan(lambda a, b: a + b, ops.cond(True, lambda: h, lambda: -h), axis=1)
    out = gn.layers.Dense(1)(ops.full_like(h, 0.5) + h)
    model = gn.Model(inp, out)
    model.compile(loss="mse", optimizer="sgd")
    x, y = rng.normal(size=(8, 4)).astype(np.float32), rng.normal(size=(8, 1)).astype(np.float32)
    model.fit(x, y, epochs=1, verbose=0)
    z = model(x).numpy() if hasattr(model(x), "numpy") else model.predict(x, verbose=0)
    w1, b1, w2, b2 = model.get_weights()
    v = x @ w1 + b1
    for _ in range(3):
        v = np.tanh(v) * 0.9
    for _ in range(2):
        v = v + 1 / (1 + np.exp(-v))
    v = np.cumsum(v, axis=1)
    np.testing.assert_allclose(z, (v + 0.5) @ w2 + b2, rtol=1e-5, atol=1e-6)


def test_bad_arguments_named():
    x = np.ones(3, np.float32)
    cases = ((lambda: ops.cond(x, lambda: 1, lambda: 2), ValueError, "pred"),
             (lambda: ops.cond(True, 1, lambda: 2), TypeError, "true_fn"),
             (lambda: ops.switch(0, [], x), TypeError, "branches"),
             (lambda: ops.switch(1.5, [lambda v: v], x), TypeError, "index"),
             (lambda: ops.while_loop(lambda v: True, lambda v: v, x, maximum_iterations=-1), ValueError,
              "maximum_iterations"),
             (lambda: ops.scan(lambda c, v: (c, v), 0.0), ValueError, "length"),
             (lambda: ops.scan(lambda c, v: (c, v), 0.0, x, length=2), ValueError, "length"),
             (lambda: ops.scan(lambda c, v: (c, v), 0.0, x, unroll=0), ValueError, "unroll"),
             (lambda: ops.associative_scan(lambda a, b: a, x, axis=3), ValueError, "axis"),
             (lambda: ops.map(lambda v: v, {"a": x, "b": np.ones(2)}), ValueError, "axis 0"),
             (lambda: ops.vectorize(lambda a: a, signature="(n)")(x), ValueError, "signature"),
             (lambda: ops.custom_gradient(3), TypeError, "f must be"),
             (lambda: ops.custom_gradient(lambda v: v)(x), TypeError, "pair"),
             (lambda: ops.dtype(1.0), TypeError, "x must"),
             (lambda: ops.empty(("a",)), TypeError, "shape"),
             (lambda: ops.view(np.ones(3, np.int8), "int16"), ValueError, "view"),
             (lambda: ops.saturate_cast(x, "nope"), TypeError, "dtype"))
    for call, error, match in cases:
        with pytest.raises(error, match=match):
            call()
