"""keras.ops' linear algebra in glassnet.ops: values and dtypes against Keras 3.15 on TensorFlow,
tape gradients against float64 central finite differences, torch.linalg autograd and TensorFlow's
tape, ops.norm for every ord, nodes of a model training as Keras' (and a model file), refusals."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops

INF = np.inf


def _spd(shape, seed=0, dtype="float64"):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    return (a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])).astype(dtype)


def _general(shape, seed=0, dtype="float64"):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if len(shape) > 1 and shape[-1] == shape[-2]:
        a = a + 3 * np.eye(shape[-1])          # well conditioned
    return a.astype(dtype)


def _close(ours, theirs, dtype):
    theirs = np.asarray(theirs)
    assert ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    tol = 1e-9 if np.dtype(dtype) == np.float64 else 2e-4
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol)


SHAPES = [(3, 3), (2, 4, 4), (2, 3, 2, 2)]


# -- arrays against Keras 3.15 ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES)
def test_square_functions_are_keras(dtype, shape, keras):
    k = keras.ops
    spd, a = _spd(shape, 1, dtype), _general(shape, 2, dtype)
    b = _general(shape[:-1] + (2,), 3, dtype)
    low = np.tril(a)
    for ours, theirs in [
            (ops.inv(a), k.inv(a)), (ops.det(a), k.det(a)), (ops.logdet(spd), k.logdet(spd)),
            (ops.cholesky(spd), k.cholesky(spd)), (ops.cholesky(spd, upper=True), k.cholesky(spd, upper=True)),
            (ops.cholesky_inverse(np.linalg.cholesky(spd).astype(dtype)),
             k.cholesky_inverse(np.linalg.cholesky(spd).astype(dtype))),
            (ops.cholesky_inverse(a, upper=True), k.cholesky_inverse(a, upper=True)),
            (ops.solve(a, b), k.solve(a, b)), (ops.solve(a, b[..., 0]), k.solve(a, b[..., 0])),
            (ops.solve_triangular(a, b), k.solve_triangular(a, b)),
            (ops.solve_triangular(low + np.triu(a, 1), b[..., 1], lower=True),
             k.solve_triangular(low + np.triu(a, 1), b[..., 1], lower=True)),
            (ops.pinv(a), k.pinv(a)), (ops.eigh(spd)[0], k.eigh(spd)[0]),
            (ops.matrix_rank(a), k.matrix_rank(a))]:
        _close(ours, theirs, dtype)
    for ours, theirs in zip(ops.slogdet(a), k.slogdet(a)):
        _close(ours, theirs, dtype)
    # eigenvectors up to each column's sign
    v, theirs = ops.eigh(spd)[1], np.asarray(k.eigh(spd)[1])
    _close(np.abs(v), np.abs(theirs), dtype)


def test_logdet_reads_the_lower_triangle_and_gives_nan_when_not_positive_definite(keras):
    for x in (np.array([[2.0, 5.0], [1.0, 3.0]], np.float32), np.diag([-1.0, -1.0]).astype(np.float32),
              np.array([[1.0, 2.0], [2.0, 1.0]], np.float32)):
        np.testing.assert_array_equal(np.isnan(ops.logdet(x)), np.isnan(np.asarray(keras.ops.logdet(x))))
        if not np.isnan(ops.logdet(x)):
            _close(ops.logdet(x), keras.ops.logdet(x), "float32")


def test_singular_and_not_positive_definite_inputs_behave_as_keras(keras):
    singular = np.array([[1.0, 2.0], [2.0, 4.0]], np.float32)
    for f, name in ((lambda o: o.inv(singular), "inv"), (lambda o: o.solve(singular, np.ones(2, np.float32)), "solve"),
                    (lambda o: o.cholesky(np.array([[1.0, 2.0], [2.0, 1.0]], np.float32)), "cholesky")):
        with pytest.raises(Exception):
            f(keras.ops)
        with pytest.raises(ValueError, match=f"ops.{name}"):
            f(ops)
    assert ops.det(singular) == 0 and float(keras.ops.det(singular)) == 0
    sign, logabs = ops.slogdet(singular)
    assert sign == 0 and logabs == -np.inf and float(keras.ops.slogdet(singular)[1]) == -np.inf
    assert ops.matrix_rank(singular) == 1 == int(keras.ops.matrix_rank(singular))
    _close(ops.pinv(singular), keras.ops.pinv(singular), "float32")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 4), (2, 6, 2)])
def test_rectangular_functions_are_keras(dtype, shape, keras):
    k = keras.ops
    x = _general(shape, 4, dtype)
    for full in (True, False):
        u, s, vh = ops.svd(x, full_matrices=full)
        tu, ts, tvh = (np.asarray(t) for t in k.svd(x, full_matrices=full))
        _close(s, ts, dtype)
        assert u.shape == tu.shape and vh.shape == tvh.shape and u.dtype == tu.dtype
        n = s.shape[-1]
        _close(np.abs(u[..., :n]), np.abs(tu[..., :n]), dtype)      # up to each pair's sign
        _close((u[..., :n] * s[..., None, :]) @ vh[..., :n, :], x, dtype)
    _close(ops.svd(x, compute_uv=False), k.svd(x, compute_uv=False), dtype)
    for mode in ("reduced", "complete"):
        q, r = ops.qr(x, mode=mode)
        tq, tr = (np.asarray(t) for t in k.qr(x, mode=mode))
        assert q.shape == tq.shape and r.shape == tr.shape and q.dtype == tq.dtype
        _close(np.abs(r), np.abs(tr), dtype)
        _close(q @ r, x, dtype)
    _close(ops.pinv(x), k.pinv(x), dtype)
    _close(ops.pinv(x, rcond=0.5), k.pinv(x, rcond=0.5), dtype)
    _close(ops.matrix_rank(x), k.matrix_rank(x), dtype)
    _close(ops.matrix_rank(x, tol=1.5), k.matrix_rank(x, tol=1.5), dtype)
    if len(shape) == 2:
        b = _general((shape[0], 2), 5, dtype)
        for rcond in (None, 0.3):
            _close(ops.lstsq(x, b, rcond=rcond), k.lstsq(x, b, rcond=rcond), dtype)
            _close(ops.lstsq(x, b[:, 0], rcond=rcond), k.lstsq(x, b[:, 0], rcond=rcond), dtype)


@pytest.mark.parametrize("seed", range(4))
def test_lu_factor_and_eig_are_keras(seed, keras):
    x = np.random.default_rng(seed).standard_normal((5, 5)).astype(np.float32)
    lu, pivots = ops.lu_factor(x)
    tlu, tp = (np.asarray(t) for t in keras.ops.lu_factor(x))
    _close(lu, tlu, "float32")
    np.testing.assert_array_equal(pivots, tp)
    assert pivots.dtype == np.int32
    w, v = ops.eig(x)
    tw, tv = (np.asarray(t) for t in keras.ops.eig(x))
    assert w.dtype == tw.dtype == np.complex64 and v.dtype == tv.dtype
    np.testing.assert_allclose(np.sort_complex(w), np.sort_complex(tw), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(x @ v, v * w[None, :], atol=1e-4)
    assert ops.eig(x.astype(np.float64))[0].dtype == np.complex128


def test_integers_are_refused_as_keras_refuses_them(keras):
    x = np.array([[4, 1], [1, 3]])
    for name in ("inv", "det", "cholesky", "eigh", "svd", "qr", "slogdet", "logdet", "pinv", "matrix_rank",
                 "lu_factor", "cholesky_inverse"):
        with pytest.raises(Exception):
            getattr(keras.ops, name)(x)
        with pytest.raises(TypeError, match=f"ops.{name}: x must hold floats"):
            getattr(ops, name)(x)


@pytest.mark.parametrize("make, error, message", [
    (lambda: ops.inv(np.ones((2, 3), np.float32)), ValueError, "square"),
    (lambda: ops.det(np.ones(3, np.float32)), ValueError, "matrices"),
    (lambda: ops.solve(np.eye(3), np.ones((2, 1))), ValueError, "b must be"),
    (lambda: ops.qr(np.eye(3), mode="r"), ValueError, "mode must be one of reduced, complete"),
    (lambda: ops.svd(np.eye(3), full_matrices=1), TypeError, "full_matrices must be True or False"),
    (lambda: ops.cholesky(np.eye(3), upper="yes"), TypeError, "upper must be True or False"),
    (lambda: ops.lstsq(np.ones((2, 3, 3)), np.ones((3,))), ValueError, "a must be a matrix"),
    (lambda: ops.lstsq(np.ones((4, 3)), np.ones((3,))), ValueError, "b must be floats of shape"),
    (lambda: ops.pinv(np.eye(2), rcond="x"), TypeError, "rcond must be None or a number"),
    (lambda: ops.matrix_rank(np.eye(2), tol=[1]), TypeError, "tol must be None or a number"),
])
def test_bad_arguments_name_the_argument(make, error, message):
    with pytest.raises(error, match=message):
        make()


# -- norm against Keras 3.15 ------------------------------------------------------------------------
NORM_CASES = [(o, ax, kd) for o in (None, "fro", "nuc", INF, -INF, 1, -1, 2, -2)
              for ax in ((1, 2), (-1, 0), (2, 1)) for kd in (False, True)
              if not (kd and o in ("nuc", 2, -2) and ax == (2, 1))]      # Keras 3.15 fails there (below)
NORM_CASES += [(o, ax, False) for o in (None, INF, -INF, 1, -1, 2, -2, 0, 3, 0.5) for ax in (0, -1, (1,))]


@pytest.mark.parametrize("ord, axis, keepdims", NORM_CASES)
def test_norm_is_keras_for_every_ord(ord, axis, keepdims, keras):
    x = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32)
    _close(ops.norm(x, ord=ord, axis=axis, keepdims=keepdims),
           keras.ops.norm(x, ord=ord, axis=axis, keepdims=keepdims), "float32")


def test_norm_keeps_dims_where_keras_fails():
    # Keras 3.15 on TensorFlow expands dims at the pair's axes in the order given and fails for (2, 1)
    x = np.random.default_rng(0).standard_normal((3, 4, 5))
    for ord in ("nuc", 2, -2):
        np.testing.assert_allclose(ops.norm(x, ord=ord, axis=(2, 1), keepdims=True),
                                   ops.norm(x, ord=ord, axis=(1, 2), keepdims=True))


# -- tape gradients --------------------------------------------------------------------------------
def _tape_gradient(f, inputs, weights):
    inputs = [np.array(v) for v in inputs]
    with gn.GradientTape() as tape:
        for v in inputs:
            tape.watch(v)
        outs = f(*inputs)
        outs = outs if isinstance(outs, tuple) else (outs,)
        loss = ops.sum(outs[0] * weights[0])
        for out, w in zip(outs[1:], weights[1:]):
            loss = loss + ops.sum(out * w)
    return [np.asarray(g) for g in tape.gradient(loss, inputs)]


def _finite_differences(f, inputs, weights, eps=1e-6):
    def loss(values):
        outs = f(*values)
        outs = outs if isinstance(outs, tuple) else (outs,)
        return sum(float(np.sum(np.asarray(o) * w)) for o, w in zip(outs, weights))
    grads = []
    for k, v in enumerate(inputs):
        grad = np.zeros_like(v)
        for i in np.ndindex(v.shape):
            up, down = [np.array(u) for u in inputs], [np.array(u) for u in inputs]
            up[k][i] += eps
            down[k][i] -= eps
            grad[i] = (loss(up) - loss(down)) / (2 * eps)
        grads.append(grad)
    return grads


def _weights(f, inputs, seed=7):
    outs = f(*[np.array(v) for v in inputs])
    outs = outs if isinstance(outs, tuple) else (outs,)
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(np.shape(o)) for o in outs]


def _svd_products(x):
    u, _, vh = ops.svd(x, full_matrices=False)
    return ops.matmul(u * np.array([1.0, 2.0, 3.0]), vh), ops.square(u), ops.square(vh)


A3, B32 = _general((2, 3, 3), 11), _general((2, 3, 2), 12)
S3 = _spd((2, 3, 3), 13)
RECT = _general((4, 3), 14)
GRADIENT_CASES = {
    "inv": (ops.inv, [A3]), "det": (ops.det, [A3]), "slogdet": (lambda x: ops.slogdet(x)[1], [A3]),
    "logdet": (ops.logdet, [S3]), "cholesky": (ops.cholesky, [S3]),
    "cholesky_upper": (lambda x: ops.cholesky(x, upper=True), [S3]),
    "cholesky_inverse": (ops.cholesky_inverse, [np.linalg.cholesky(S3)]),
    "cholesky_inverse_upper": (lambda x: ops.cholesky_inverse(x, upper=True), [A3]),
    "solve": (ops.solve, [A3, B32]), "solve_vector": (ops.solve, [A3, B32[..., 0]]),
    "solve_triangular": (ops.solve_triangular, [A3, B32]),
    "solve_triangular_lower": (lambda a, b: ops.solve_triangular(a, b, lower=True), [A3, B32[..., 1]]),
    "eigh": (ops.eigh, [S3]), "svd_values": (lambda x: ops.svd(x, compute_uv=False), [RECT]),
    # the vectors through sign-invariant products: u_k v_kᵀ and u²
    "svd_vectors": (lambda x: _svd_products(x), [RECT]),
    "svd_wide": (lambda x: ops.square(ops.svd(x, full_matrices=False)[0]), [RECT.T.copy()]),
    "qr": (ops.qr, [RECT]), "qr_square": (ops.qr, [A3]), "pinv": (ops.pinv, [RECT]),
    "lstsq": (ops.lstsq, [RECT, _general((4, 2), 15)]), "lstsq_vector": (ops.lstsq, [RECT, _general((4,), 16)]),
}


@pytest.mark.parametrize("name", sorted(GRADIENT_CASES))
def test_tape_gradients_are_finite_differences(name):
    f, inputs = GRADIENT_CASES[name]
    weights = _weights(f, inputs)
    for ours, numeric in zip(_tape_gradient(f, inputs, weights), _finite_differences(f, inputs, weights)):
        if name in SYMMETRISED:
            ours = _folded(ours)
        np.testing.assert_allclose(ours, numeric, rtol=1e-6, atol=1e-6)


# cholesky and logdet read the lower triangle, and their gradient (TensorFlow's) is symmetric: an
# entry below the diagonal moves both halves of the matrix they factor, so its finite difference
# is the gradient's two halves summed
SYMMETRISED = ("cholesky", "cholesky_upper", "logdet")


def _folded(grad):
    low = np.tril(grad, -1)
    return low + np.swapaxes(np.triu(grad, 1), -1, -2) + grad * np.eye(grad.shape[-1])


def test_eigh_vectors_gradient_is_finite_differences():
    def f(x):       # sign-invariant: v² weighted, and w
        w, v = ops.eigh(x)
        return w, ops.square(v)
    weights = _weights(f, [S3])
    for ours, numeric in zip(_tape_gradient(f, [S3], weights), _finite_differences(f, [S3], weights)):
        np.testing.assert_allclose(ours, numeric, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("ord, axis", [(o, (0, 1)) for o in ("fro", "nuc", INF, -INF, 1, -1, 2, -2)]
                         + [(o, (1, 0)) for o in (1, INF, 2)] + [(o, 1) for o in (None, 1, INF, -INF, 3, 0.5)])
def test_norm_tape_gradients_are_finite_differences_and_tensorflow(ord, axis, keras):
    import tensorflow as tf
    x = _general((4, 3), 21)
    f = lambda v: ops.norm(v, ord=ord, axis=axis)   # noqa: E731
    weights = _weights(f, [x])
    ours = _tape_gradient(f, [x], weights)[0]
    np.testing.assert_allclose(ours, _finite_differences(f, [x], weights)[0], rtol=1e-6, atol=1e-6)
    tx = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(tx)
        loss = tf.reduce_sum(keras.ops.norm(tx, ord=ord, axis=axis) * weights[0])
    np.testing.assert_allclose(ours, tape.gradient(loss, tx).numpy(), rtol=1e-6, atol=1e-8)


TORCH = {"inv": lambda t, x: t.linalg.inv(x), "det": lambda t, x: t.linalg.det(x),
         "slogdet": lambda t, x: t.linalg.slogdet(x)[1], "solve": lambda t, a, b: t.linalg.solve(a, b),
         "svd_values": lambda t, x: t.linalg.svdvals(x), "pinv": lambda t, x: t.linalg.pinv(x),
         "qr": lambda t, x: t.linalg.qr(x), "qr_square": lambda t, x: t.linalg.qr(x),
         "solve_triangular": lambda t, a, b: t.linalg.solve_triangular(t.triu(a), b, upper=True),
         "lstsq": lambda t, a, b: t.linalg.pinv(a) @ b}


@pytest.mark.parametrize("name", sorted(TORCH))
def test_tape_gradients_are_torch_autograd(name, torch):
    f, inputs = GRADIENT_CASES[name]
    weights = _weights(f, inputs)
    tensors = [torch.tensor(v, requires_grad=True) for v in inputs]
    outs = TORCH[name](torch, *tensors)
    outs = outs if isinstance(outs, tuple) else (outs,)
    sum(torch.sum(o * torch.tensor(w)) for o, w in zip(outs, weights)).backward()
    for ours, t in zip(_tape_gradient(f, inputs, weights), tensors):
        np.testing.assert_allclose(ours, t.grad.numpy(), rtol=1e-7, atol=1e-9)


TF = {"cholesky": "cholesky", "logdet": "logdet", "cholesky_inverse": "cholesky_inverse", "eigh": "eigh",
      "solve_triangular_lower": "solve_triangular", "cholesky_upper": "cholesky", "inv": "inv", "det": "det"}


@pytest.mark.parametrize("name", sorted(TF))
def test_tape_gradients_are_tensorflows_where_a_triangle_is_read(name, keras):
    import tensorflow as tf
    f, inputs = GRADIENT_CASES[name]
    if name == "eigh":
        f = lambda x: (lambda w, v: (w, ops.square(v)))(*ops.eigh(x))     # noqa: E731
    weights = _weights(f, inputs)
    variables = [tf.constant(v) for v in inputs]
    kwargs = {"upper": True} if name == "cholesky_upper" else {"lower": True} if name.endswith("lower") else {}
    with tf.GradientTape() as tape:
        for v in variables:
            tape.watch(v)
        outs = getattr(keras.ops, TF[name])(*variables, **kwargs)
        outs = outs if isinstance(outs, (tuple, list)) else (outs,)
        if name == "eigh":          # the vectors' signs are LAPACK's choice: their squares
            outs = (outs[0], outs[1] ** 2)
        loss = sum(tf.reduce_sum(o * w) for o, w in zip(outs, weights))
    for ours, theirs in zip(_tape_gradient(f, inputs, weights), tape.gradient(loss, variables)):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-7, atol=1e-9)


def test_float32_stays_float32_on_the_tape():
    x = _spd((3, 3), 3, "float32")
    grads = _tape_gradient(lambda v: ops.logdet(v) + ops.det(ops.inv(v)), [x], [np.float32(1.0)])
    assert grads[0].dtype == np.float32


def test_second_order_gradients_are_refused_by_name():
    x = _spd((3, 3), 3)
    with gn.GradientTape() as outer:
        outer.watch(x)
        with gn.GradientTape() as inner:
            inner.watch(x)
            y = ops.sum(ops.inv(x))
        with pytest.raises(NotImplementedError, match="ops.inv on the inner tape is not among them"):
            inner.gradient(y, x)


def test_values_without_gradient_on_the_tape():
    x = _general((3, 3), 5)
    with gn.GradientTape() as tape:
        tape.watch(x)
        rank, (lu, pivots) = ops.matrix_rank(x), ops.lu_factor(x)
    assert rank == 3 and pivots.dtype == np.int32 and type(lu) is np.ndarray
    with pytest.raises(ValueError, match="full_matrices=False"):
        _tape_gradient(lambda v: ops.svd(v)[0], [RECT], [np.ones((4, 4))])


# -- tensors: nodes in a model, as Keras' -------------------------------------------------------------
B_CONST = np.random.default_rng(9).standard_normal((3, 2)).astype(np.float32)


def _model(lib, o):
    inputs = lib.Input((3, 3))
    h = lib.layers.Dense(3, name="mix")(inputs)                      # (None, 3, 3)
    spd = o.matmul(h, o.transpose(h, (0, 2, 1))) + o.eye(3) * 3.0
    low = o.cholesky(spd)
    parts = [o.logdet(spd)[:, None], o.det(spd)[:, None] * 0.01, o.slogdet(h + o.eye(3) * 4.0)[1][:, None],
             o.reshape(o.inv(spd), (-1, 9)), o.reshape(low, (-1, 9)),
             o.reshape(o.solve(spd, h[:, :, :2]), (-1, 6)),
             o.reshape(o.solve_triangular(low, h, lower=True), (-1, 9)),
             o.solve(spd, h[:, :, 0])]
    out = lib.layers.Dense(1, name="out")(o.concatenate(parts, axis=-1))
    return (gn.Model(inputs, out, seed=0) if lib is gn else lib.Model(inputs, out))


def test_a_model_of_linalg_nodes_predicts_and_trains_as_keras(rng, keras, tmp_path):
    ours, theirs = _model(gn, ops), _model(keras, keras.ops)
    for name in ("mix", "out"):
        theirs.get_layer(name).set_weights(ours.get_layer(name).get_weights())
    x = rng.standard_normal((32, 3, 3)).astype(np.float32)
    y = rng.standard_normal((32, 1)).astype(np.float32)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(0.01))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.01))
    mine = ours.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    other = theirs.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    assert mine[-1] < mine[0]
    np.testing.assert_allclose(mine, other, rtol=1e-5)
    ours.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), ours.predict(x, verbose=0))


def test_nodes_agree_with_finite_differences(rng):
    from glassnet.gradcheck import check_layer
    from glassnet.layers.tensor_functions import TensorFunction
    # (cholesky's and logdet's symmetric gradient: against TensorFlow's and folded finite differences above)
    for op, args in (("inv", {}), ("det", {}), ("slogdet", {"output": "logabsdet"}), ("solve", {"b": B_CONST.tolist()}),
                     ("solve_triangular", {"a": np.triu(A3[0]).tolist()})):
        x = _spd((4, 3, 3), 3) if op != "solve_triangular" else rng.standard_normal((4, 3, 2))
        assert check_layer(TensorFunction(op, args), x, seed=0), op
    # matrix norms of each sample, every ord (ties and repeated singular values away)
    x = rng.standard_normal((4, 3, 5))
    for ord in ("nuc", 1, -1, 2, -2, np.inf, -np.inf):
        for axis in ([1, 2], [2, 1]):
            assert check_layer(TensorFunction("norm", {"ord": ord, "axis": axis}), x, seed=0), (ord, axis)


@pytest.mark.parametrize("make, error, message", [
    (lambda x: ops.svd(x), TypeError, "ops.svd takes arrays, not tensors"),
    (lambda x: ops.eigh(x), TypeError, "ops.eigh takes arrays"),
    (lambda x: ops.qr(x), TypeError, "ops.qr takes arrays"),
    (lambda x: ops.lstsq(x, np.ones(3)), TypeError, "ops.lstsq takes arrays"),
    (lambda x: ops.inv(gn.Input((3,))), ValueError, "two axes or more"),
    (lambda x: ops.det(gn.Input((3, 4))), ValueError, "square"),
    (lambda x: ops.solve(x, gn.Input((4, 2))), ValueError, "b must be"),
    (lambda x: ops.solve(x, np.ones((4, 2))), ValueError, "constant b must have 3 rows"),
])
def test_tensor_refusals_name_what_was_wrong(make, error, message):
    with pytest.raises(error, match=message):
        make(gn.Input((3, 3)))
