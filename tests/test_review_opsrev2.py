"""Review of the new glassnet.ops functions by a seeded differential fuzz against keras.ops 3.15 (arrays:
values and dtypes; tensors: small models beside Keras, float64 finite differences, file round trips),
and the silent mismatches it found: comparisons with a Python int outside a narrow integer dtype, top_k of
unsigned and narrow integers, einsum of int8, logsumexp over no entries."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops
from glassnet.gradcheck import check_model


def _k(keras, value):
    return [np.asarray(keras.ops.convert_to_numpy(v)) for v in value] if isinstance(value, (list, tuple)) \
        else np.asarray(keras.ops.convert_to_numpy(value))


@pytest.mark.parametrize("op", ["less", "less_equal", "greater", "greater_equal", "equal", "not_equal"])
@pytest.mark.parametrize("x, number", [(np.array([0, 3, 255], np.uint8), -1), (np.array([-56, 0, 100], np.int8), 200)])
def test_comparing_with_a_python_int_outside_the_dtype_as_keras(op, x, number, keras):
    # Keras converts the int to an int32 tensor first; a weak int wrapped into x's dtype (-1 -> 255)
    ours = getattr(ops, op)(x, number)
    theirs = _k(keras, getattr(keras.ops, op)(x, number))
    assert ours.dtype == theirs.dtype == np.bool_
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(getattr(ops, op)(number, x), _k(keras, getattr(keras.ops, op)(number, x)))


@pytest.mark.parametrize("x", [np.array([[0, 5, 255, 5], [7, 0, 0, 1]], np.uint8),
                               np.array([[-128, 5, 127, 5], [0, -1, -128, 3]], np.int8),
                               np.array([[-2 ** 31, 5, 2 ** 31 - 1, 5]], np.int32)])
def test_top_k_of_unsigned_and_narrow_integers_as_keras(x, keras):
    # (top_k sorted by -x: uint8's -0 = 0 ranked 0 above 255)
    for k in (1, 3, 4):
        ours, theirs = ops.top_k(x, k), _k(keras, keras.ops.top_k(x, k))
        for a, b in zip(ours, theirs):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)


def test_einsum_of_int8_counts_in_int32_as_keras(keras):
    a, b = np.full((2, 3), 100, np.int8), np.full((3, 2), 2, np.int8)
    for subscripts, operands in [("ij,jk->ik", (a, b)), ("ij->", (a,)), ("ij,ij->i", (a, a))]:
        ours, theirs = ops.einsum(subscripts, *operands), _k(keras, keras.ops.einsum(subscripts, *operands))
        assert ours.dtype == theirs.dtype == np.int32
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("shape, axis", [((0, 3), 0), ((2, 0), -1), ((1, 1, 0), (1, 2)), ((0,), None)])
def test_logsumexp_over_no_entries_is_minus_inf_as_keras(shape, axis, keras):
    x = np.zeros(shape, np.float32)
    for keepdims in (False, True):
        ours = ops.logsumexp(x, axis=axis, keepdims=keepdims)
        theirs = _k(keras, keras.ops.logsumexp(x, axis=axis, keepdims=keepdims))
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        np.testing.assert_array_equal(ours, theirs)


# -- the fuzz on arrays ----------------------------------------------------------------------------
DTYPES = ["float32", "float64", "int32", "int8", "uint8", "bool"]


def _draw(rng, shape, dtype):
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if dtype.startswith("float"):
        x = rng.standard_normal(shape) * 2
        if rng.random() < 0.3:
            x = np.round(x)         # ties
        return x.astype(dtype) + 0      # (no -0.0: Keras' argmin ranks it below 0.0, a deliberate difference)
    return rng.integers(0 if dtype == "uint8" else -3, 4, shape).astype(dtype)


def _shape(rng):
    return tuple(int(rng.choice([0, 1, 2, 3])) if rng.random() < 0.2 else int(rng.integers(1, 4))
                 for _ in range(rng.integers(0, 4)))


def _axis(rng, shape, tuples=True):
    r = len(shape)
    if r == 0 or rng.random() < 0.2:
        return None
    if tuples and r >= 2 and rng.random() < 0.3:
        return tuple(int(a - r if rng.random() < 0.5 else a) for a in rng.choice(r, rng.integers(1, r + 1), replace=False))
    a = int(rng.integers(0, r))
    return a - r if rng.random() < 0.5 else a


def _cases(rng):
    s, dtype = _shape(rng), str(rng.choice(DTYPES))
    x = _draw(rng, s, dtype)
    r, kd = len(s), bool(rng.random() < 0.5)
    ax, ax1 = _axis(rng, s), _axis(rng, s, tuples=False)
    s2 = tuple(1 if rng.random() < 0.3 else n for n in s[int(rng.integers(0, r + 1)):])
    y, cond = _draw(rng, s2, str(rng.choice(DTYPES))), _draw(rng, s2, str(rng.choice(DTYPES)))
    number = [2, 0.5, -1, 200, True][int(rng.integers(0, 5))]
    yield from ((f"{op}", lambda o, op=op: getattr(o, op)(x)) for op in
                ("log1p", "expm1", "sin", "cos", "floor", "sign", "round", "logical_not"))
    yield "round decimals", lambda o, d=int(rng.integers(-1, 3)): o.round(x, d)
    for op in ("prod", "std", "var", "logsumexp", "any", "all"):
        yield f"{op} {ax} {kd}", lambda o, op=op: getattr(o, op)(x, axis=ax, keepdims=kd)
    for op in ("argmax", "argmin"):
        yield f"{op} {ax1} {kd}", lambda o, op=op: getattr(o, op)(x, axis=ax1, keepdims=kd)
    for op in ("cumsum", "cumprod"):
        yield f"{op} {ax1}", lambda o, op=op: getattr(o, op)(x, axis=ax1)
    if x.size:      # (Keras 3.15 gives -inf for norms over no entries)
        ordv = [None, 1, 2, np.inf, -np.inf, 0, 3][int(rng.integers(0, 7))]
        axn = ax1 if not isinstance(ax, tuple) else tuple(sorted(a % r for a in ax[:2]))
        if isinstance(axn, tuple) and ordv not in (None, 1, np.inf, -np.inf):
            ordv = "fro"
        yield f"norm {ordv} {axn} {kd}", lambda o: o.norm(x, ord=ordv, axis=axn, keepdims=kd)
    for op in ("equal", "not_equal", "greater", "greater_equal", "less", "less_equal", "logical_and", "logical_or"):
        yield f"{op} {s2}", lambda o, op=op: getattr(o, op)(x, y)
        yield f"{op} {number!r}", lambda o, op=op: getattr(o, op)(x, number)
    yield f"power {s2}", lambda o: o.power(x, y)
    yield f"where {s2}", lambda o: o.where(cond, x, y)
    yield "where numbers", lambda o: o.where(x, 1.5, 0)
    yield "where alone", lambda o: o.where(x)
    yield "one_hot", lambda o, n=int(rng.integers(1, 5)), a=int(rng.choice([-1, 0, r])): o.one_hot(x, n, axis=a)
    size = x.size if ax1 is None else s[ax1]
    if size:
        idx = rng.integers(-size, size, tuple(rng.integers(0, 3, rng.integers(0, 3))))
        yield f"take {idx.tolist()} {ax1}", lambda o: o.take(x, idx, axis=ax1)
        if ax1 is not None:
            along = list(s)
            along[ax1] = int(rng.integers(0, 3))
            ia = rng.integers(-size, size, along)
            yield f"take_along_axis {ax1}", lambda o: o.take_along_axis(x, ia, axis=ax1)
    if r:
        width, mode = rng.integers(0, 3, (r, 2)), str(rng.choice(["constant", "reflect", "symmetric"]))
        if mode == "constant" or all(max(w) <= n - (mode == "reflect") for w, n in zip(width.tolist(), s)):
            yield f"pad {width.tolist()} {mode}", lambda o: o.pad(x, width, mode=mode)
        a = int(rng.integers(-r, r))
        if s[a] % 2 == 0:
            yield f"split 2 {a}", lambda o: o.split(x, 2, axis=a)
        yield f"split at {a}", lambda o, at=int(rng.integers(0, s[a] + 1)): o.split(x, [at], axis=a)
        yield "tile", lambda o, reps=tuple(rng.integers(0, 3, rng.integers(1, r + 2)).tolist()): o.tile(x, reps)
        yield f"repeat {ax1}", lambda o, reps=int(rng.integers(0, 3)): o.repeat(x, reps, axis=ax1)
        yield f"flip {ax}", lambda o: o.flip(x, axis=ax)
        if s[-1] and dtype != "bool":
            yield "top_k", lambda o, k=int(rng.integers(1, s[-1] + 1)): o.top_k(x, k)
        letters = "abc"[:r]
        other = _draw(rng, s[::-1], str(rng.choice([dtype, "float32"])))
        if dtype != "bool":
            out = "".join(rng.permutation(list(letters))[:int(rng.integers(0, r + 1))])
            yield f"einsum {letters},{letters[::-1]}->{out}", lambda o, e=f"{letters},{letters[::-1]}->{out}": o.einsum(e, x, other)
    target = tuple(int(rng.integers(1, 3)) for _ in range(rng.integers(0, 2))) + s
    yield f"broadcast_to {target}", lambda o: o.broadcast_to(x, target)
    for op in ("zeros_like", "ones_like"):
        yield op, lambda o, op=op, d=[None, "float32", "int32"][int(rng.integers(0, 3))]: getattr(o, op)(x, dtype=d)


def test_fuzz_arrays_against_keras(keras):
    """Where both compute, values and dtypes are Keras'; where Keras computes, so does glassnet (the
    cases Keras refuses, where glassnet computes NumPy's answer, are the extensions the docs name)."""
    rng = np.random.default_rng(20240601)
    checked = 0
    for _ in range(60):
        for name, f in _cases(rng):
            try:
                theirs = _k(keras, f(keras.ops))
            except Exception:
                continue
            ours = f(ops)
            where = f"{name}"
            for a, b in (zip(ours, theirs) if isinstance(theirs, list) else [(ours, theirs)]):
                a = np.asarray(a)
                assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{a.shape}, Keras {b.dtype}{b.shape}"
                tol = 1e-5 if a.dtype == np.float32 else 1e-12
                np.testing.assert_allclose(a.astype(float), b.astype(float), rtol=10 * tol, atol=tol, equal_nan=True,
                                           err_msg=where)
            checked += 1
    assert checked > 2000


# -- the fuzz on tensors ---------------------------------------------------------------------------
def _node(rng):
    """One random op on h (None, 3, 4): (name, f(o, h))."""
    ax, kd = int(rng.choice([1, 2, -1, -2])), bool(rng.random() < 0.5)
    axes = [ax, (1, 2), (-1, 1)][int(rng.integers(0, 3))]
    order = [None, 1, 2, np.inf, -np.inf, 3][int(rng.integers(0, 6))]
    idx = rng.integers(-4, 4, int(rng.integers(1, 4)))
    width, mode = rng.integers(0, 3, (2, 2)).tolist(), str(rng.choice(["constant", "reflect", "symmetric"]))
    cond, c = rng.random((3, 4)) > 0.5, rng.standard_normal((1, 4)).astype(np.float32)
    k, W = int(rng.integers(1, 5)), rng.standard_normal((4, 2)).astype(np.float32)
    nodes = [
        ("maths", lambda o, h: o.log1p(o.square(h)) + o.expm1(h) * o.erf(h) + o.rsqrt(o.square(h) + 1.0)),
        ("prod", lambda o, h: o.prod(h, axis=axes, keepdims=kd)), ("std", lambda o, h: o.std(h, axis=axes, keepdims=kd)),
        ("var", lambda o, h: o.var(h, axis=axes, keepdims=kd)),
        ("logsumexp", lambda o, h: o.logsumexp(h, axis=axes, keepdims=kd)),
        ("norm", lambda o, h: o.norm(h, ord=order, axis=ax, keepdims=kd)),
        ("cumsum cumprod", lambda o, h: o.cumsum(h, axis=ax) + o.cumprod(h, axis=ax)),
        ("where", lambda o, h: o.where(cond, h, c) + o.where(o.less(h, 0.0), o.sin(h), o.cos(h))),
        ("power", lambda o, h: o.power(o.sigmoid(h) + 0.5, o.tanh(h)) + o.power(2.0, o.tanh(h))),
        ("take", lambda o, h: o.take(h, idx, axis=2)),
        ("pad", lambda o, h: o.pad(h, [[0, 0]] + width, mode=mode)),
        ("split", lambda o, h: o.concatenate(o.split(h, [1, 3], axis=2)[::-1], axis=-1)),
        ("tile repeat flip", lambda o, h: o.flip(o.repeat(o.tile(h, (2, 1)), [1, 2, 0, 1, 1, 1], axis=1), axis=axes)),
        ("top_k", lambda o, h: o.top_k(h, k)[0]),
        ("einsum", lambda o, h: o.einsum("bij,jk->bik", h, W) + 0.1 * o.einsum("bij,bij->bi", h, h)[..., None]),
    ]
    return nodes[int(rng.integers(0, len(nodes)))]


def _model(lib, o, f):
    inputs = lib.Input((3, 4))
    y = f(o, lib.layers.Dense(4, name="d")(inputs))
    y = lib.layers.Flatten()(y) if len(y.shape) > 2 else y if len(y.shape) == 2 else o.expand_dims(y, -1)
    return inputs, lib.layers.Dense(2, name="out")(y)


def test_fuzz_models_against_keras(keras, tmp_path):
    rng = np.random.default_rng(7)
    for case in range(8):
        name, f = _node(rng)
        ours, theirs = gn.Model(*_model(gn, ops, f), seed=case), keras.Model(*_model(keras, keras.ops, f))
        for layer in ("d", "out"):
            theirs.get_layer(layer).set_weights(ours.get_layer(layer).get_weights())
        x, y = rng.standard_normal((8, 3, 4)).astype(np.float32), rng.standard_normal((8, 2)).astype(np.float32)
        batch = int(rng.choice([1, 4]))
        np.testing.assert_allclose(ours.predict(x, batch_size=batch, verbose=0),
                                   theirs.predict(x, batch_size=batch, verbose=0), rtol=1e-4, atol=1e-5, err_msg=name)
        ours.compile(loss="mse", optimizer=gn.optimizers.SGD(0.002))
        theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.002))
        losses = [m.fit(x, y, epochs=2, batch_size=batch, shuffle=False, verbose=0).history["loss"] for m in (ours, theirs)]
        np.testing.assert_allclose(*losses, rtol=1e-4, err_msg=name)
        for a, b in zip(ours.get_weights(), theirs.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5, err_msg=name)
        model64 = gn.Model(*_model(gn, ops, f), seed=case, dtype="float64")
        model64.compile(loss="mse", optimizer="sgd")
        check_model(model64, x[:3].astype(np.float64), y[:3].astype(np.float64))
        ours.save(tmp_path / "m.npz")
        expected = ours.predict(x, verbose=0)
        for copy in (gn.load_model(tmp_path / "m.npz"), gn.models.clone_model(ours),
                     gn.models.model_from_json(ours.to_json())):
            copy.set_weights(ours.get_weights())
            np.testing.assert_array_equal(copy.predict(x, verbose=0), expected, err_msg=name)
