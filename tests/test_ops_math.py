"""glassnet.ops' element-wise maths, comparisons, where, reductions, cumsum and one_hot (_ops_math.py,
layers/tensor_math.py): on arrays against keras.ops (values and dtypes), as nodes against float64
finite differences and PyTorch autograd, a model of them trained beside Keras 3.15, files, refusals."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops
from glassnet.gradcheck import check_layer, check_model
from glassnet.layers.tensor_functions import TensorFunction


def _data(dtype, shape=(2, 3, 4), seed=0):
    rng = np.random.default_rng(seed)
    if dtype == "int32":
        return rng.integers(-3, 4, shape).astype(np.int32)
    if dtype == "bool":
        return rng.random(shape) > 0.5
    return (rng.standard_normal(shape) * 1.5).astype(dtype)


def _positive(x):
    return np.abs(x) + 0.5 if x.dtype.kind == "f" else np.abs(x) + 1


# name -> call on a module of ops, number of arrays
EAGER = {
    "log1p": (lambda o, x: o.log1p(_positive(x)), 1), "expm1": (lambda o, x: o.expm1(x), 1),
    "sin": (lambda o, x: o.sin(x), 1), "cos": (lambda o, x: o.cos(x), 1), "erf": (lambda o, x: o.erf(x), 1),
    "reciprocal": (lambda o, x: o.reciprocal(_positive(x)), 1), "rsqrt": (lambda o, x: o.rsqrt(_positive(x)), 1),
    "floor": (lambda o, x: o.floor(x), 1), "sign": (lambda o, x: o.sign(x), 1), "round": (lambda o, x: o.round(x), 1),
    "round decimals": (lambda o, x: o.round(x, 1), 1),
    "power": (lambda o, x, y: o.power(_positive(x), abs(y)), 2), "power number": (lambda o, x: o.power(x, 2), 1),
    "power float": (lambda o, x: o.power(_positive(x), 0.5), 1), "power base": (lambda o, x: o.power(2.0, x), 1),
    "equal": (lambda o, x, y: o.equal(x, y), 2), "not_equal": (lambda o, x: o.not_equal(x, 1), 1),
    "greater": (lambda o, x, y: o.greater(x, y), 2), "greater_equal": (lambda o, x: o.greater_equal(x, 0.5), 1),
    "less": (lambda o, x, y: o.less(x, y[:, :1]), 2), "less_equal": (lambda o, x: o.less_equal(x, 0), 1),
    "logical_and": (lambda o, x, y: o.logical_and(x, y), 2), "logical_or": (lambda o, x, y: o.logical_or(x, y), 2),
    "logical_not": (lambda o, x: o.logical_not(x), 1),
    "where": (lambda o, c, x, y: o.where(c, x, y), 3), "where number": (lambda o, c, x: o.where(c, x, 0), 2),
    "where float": (lambda o, c, x: o.where(c, 1.5, x), 2),
    "where indices": (lambda o, c: tuple(np.asarray(i) for i in o.where(c)), 1),
    "prod": (lambda o, x: o.prod(x), 1), "prod axis": (lambda o, x: o.prod(x, axis=(1, 2), keepdims=True), 1),
    "std": (lambda o, x: o.std(x), 1), "std axis": (lambda o, x: o.std(x, axis=-1), 1),
    "var": (lambda o, x: o.var(x, axis=(0, 2), keepdims=True), 1),
    "logsumexp": (lambda o, x: o.logsumexp(x, axis=1), 1), "logsumexp all": (lambda o, x: o.logsumexp(x), 1),
    "norm": (lambda o, x: o.norm(x, axis=-1), 1), "norm 1": (lambda o, x: o.norm(x, ord=1, axis=1), 1),
    "norm inf": (lambda o, x: o.norm(x, ord=np.inf, axis=-1, keepdims=True), 1),
    "norm 3": (lambda o, x: o.norm(x, ord=3, axis=-1), 1), "norm 0": (lambda o, x: o.norm(x, ord=0, axis=-1), 1),
    "norm matrix": (lambda o, x: o.norm(x, axis=(1, 2)), 1), "norm 2d": (lambda o, x: o.norm(x[0]), 1),
    "argmax": (lambda o, x: o.argmax(x), 1), "argmax axis": (lambda o, x: o.argmax(x, axis=1, keepdims=True), 1),
    "argmin": (lambda o, x: o.argmin(x, axis=-1), 1),
    "any": (lambda o, x: o.any(x, axis=1), 1), "all": (lambda o, x: o.all(x), 1),
    "cumsum": (lambda o, x: o.cumsum(x), 1), "cumsum axis": (lambda o, x: o.cumsum(x, axis=1), 1),
    "cumsum dtype": (lambda o, x: o.cumsum(x, axis=-1, dtype="float64"), 1),
    "cumprod": (lambda o, x: o.cumprod(x, axis=2), 1),
    "one_hot": (lambda o, x: o.one_hot(np.abs(x), 4), 1),
    "one_hot axis": (lambda o, x: o.one_hot(np.abs(x), 3, axis=1), 1),
    "one_hot dtype": (lambda o, x: o.one_hot(np.abs(x), 4, dtype="int32"), 1),
}
# Keras 3.15 on TensorFlow fails on integers (booleans) for these; glassnet gives float32
# (test_integer_inputs_keras_refuses pins them)
KERAS_REFUSES_INTEGERS = ("erf", "reciprocal", "rsqrt", "logsumexp", "logsumexp all")
CONDITIONS = ("where", "where number", "where float", "where indices")
INTEGER_IDS = ("one_hot", "one_hot axis", "one_hot dtype")


@pytest.mark.parametrize("name", sorted(EAGER))
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_eager_values_and_dtypes_are_keras(name, dtype, keras):
    call, count = EAGER[name]
    if name in INTEGER_IDS and dtype != "int32":
        dtype = "int32"
    args = [_data(dtype, seed=k) for k in range(count)]
    if name in CONDITIONS:
        args[0] = _data("bool", seed=7) if dtype != "int32" else _data("int32", seed=7)
    if dtype == "int32" and name in KERAS_REFUSES_INTEGERS:
        with pytest.raises(Exception):
            call(keras.ops, *args)
        assert call(ops, *args).dtype == np.float32
        return
    ours, theirs = call(ops, *args), call(keras.ops, *args)
    if name == "where indices":
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert a.dtype == b.dtype and np.array_equal(a, b)
        return
    theirs = np.asarray(theirs)
    assert isinstance(ours, np.ndarray) and ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    assert ours.shape == theirs.shape
    tight = dtype == "float64" or ours.dtype.kind in "iub"
    np.testing.assert_allclose(ours, theirs, rtol=1e-12 if tight else 4e-6, atol=1e-15 if tight else 1e-6)


def test_integer_inputs_keras_refuses():
    i = _data("int32")
    for function in (ops.erf, ops.reciprocal, ops.rsqrt, ops.logsumexp):
        assert function(np.abs(i) + 1).dtype == np.float32
    np.testing.assert_allclose(ops.erf(i), ops.erf(i.astype(np.float32)))
    for function in (ops.sign, ops.round):          # booleans: Keras (TensorFlow) refuses, so does glassnet
        with pytest.raises(TypeError, match="not booleans"):
            function(np.array([True, False]))


def test_booleans_and_narrow_integers_as_keras(keras):
    b, i8, u8 = _data("bool"), _data("int32").astype(np.int8), np.abs(_data("int32")).astype(np.uint8)
    cases = [lambda o: o.cumsum(b), lambda o: o.cumprod(b), lambda o: o.cumsum(i8), lambda o: o.prod(i8),
             lambda o: o.prod(u8), lambda o: o.prod(b), lambda o: o.std(b), lambda o: o.log1p(b), lambda o: o.floor(b),
             lambda o: o.sign(u8), lambda o: o.argmax(b), lambda o: o.any(b), lambda o: o.norm(b[0]),
             lambda o: o.where(b, 1, 0), lambda o: o.where(b, i8, 1.5), lambda o: o.greater(i8, 0.5),
             lambda o: o.power(i8, 2), lambda o: o.power(i8, 2.0), lambda o: o.logical_and(b, 0),
             lambda o: o.round(np.array([0.5, 1.5, 2.5, -0.5], "float32")), lambda o: o.one_hot([0.0, 2.7, -1, 3], 3),
             lambda o: o.sin(np.float64(2.0)), lambda o: o.expm1(np.float16([1e-3, 1.0]))]
    for k, case in enumerate(cases):
        ours, theirs = case(ops), np.asarray(case(keras.ops))
        assert ours.dtype == theirs.dtype, (k, ours.dtype, theirs.dtype)
        np.testing.assert_allclose(ours.astype(float), theirs.astype(float), rtol=2e-6, err_msg=str(k))


def test_prod_honours_dtype_where_keras_ignores_it(keras):
    i = _data("int32")
    assert np.asarray(keras.ops.prod(i, dtype="float32")).dtype == np.int32      # Keras 3.15 on TensorFlow
    assert ops.prod(i, dtype="float32").dtype == np.float32
    assert ops.prod(i, dtype="float32") == np.float32(np.prod(i))


# -- symbolic: each op as a node, against finite differences and torch -----------------------------
def _inputs(rng, *shapes, batch=3, positive=False):
    # off the kinks and ties: |x| >= 0.2, distinct values
    xs = [rng.standard_normal((batch, *s)) for s in shapes]
    xs = [np.where(np.abs(x) < 0.2, 0.3 + 0.37 * j + 0.001 * np.arange(x.size).reshape(x.shape), x)
          for j, x in enumerate(xs)]
    return [np.abs(x) + 0.5 for x in xs] if positive else xs


def _f(op, arguments=None, **kw):
    return lambda **more: TensorFunction(op, arguments, **kw, **more)


C = np.linspace(0.5, 2.0, 4)        # a constant operand (4,)
MASK = np.array([True, False, True, True])
# name -> (layer factory, input sample shapes, positive inputs, the op in torch)
SYMBOLIC = {
    "log1p": (_f("log1p"), [(3, 4)], True, lambda t, x: t.log1p(x)),
    "expm1": (_f("expm1"), [(3, 4)], False, lambda t, x: t.expm1(x)),
    "sin": (_f("sin"), [(3, 4)], False, lambda t, x: t.sin(x)),
    "cos": (_f("cos"), [(3, 4)], False, lambda t, x: t.cos(x)),
    "erf": (_f("erf"), [(3, 4)], False, lambda t, x: t.erf(x)),
    "reciprocal": (_f("reciprocal"), [(3, 4)], True, lambda t, x: t.reciprocal(x)),
    "rsqrt": (_f("rsqrt"), [(3, 4)], True, lambda t, x: t.rsqrt(x)),
    "power constant": (_f("power", constant=C), [(3, 4)], True, lambda t, x: x ** t.tensor(C)),
    "power base": (_f("power", constant=C, reverse=True), [(3, 4)], False, lambda t, x: t.tensor(C) ** x),
    "power": (_f("power"), [(3, 4), (1, 4)], True, lambda t, a, b: a ** b),
    "where": (_f("where", {"constants": {}}), [(3, 4), (3, 4), (1, 4)], False,
              lambda t, c, a, b: t.where(c != 0, a, b)),
    "where constant": (_f("where", {"constants": {"condition": MASK}}), [(3, 4), (3, 1)], False,
                       lambda t, a, b: t.where(t.tensor(MASK), a, b)),
    "where number": (_f("where", {"constants": {"x2": 0.25}}), [(3, 4), (3, 4)], False,
                     lambda t, c, a: t.where(c != 0, a, t.tensor(0.25))),
    "prod": (_f("prod", {"axis": [1, 2]}), [(3, 4)], False, lambda t, x: x.prod(dim=2).prod(dim=1)),
    "std": (_f("std", {"axis": -1}), [(3, 4)], False, lambda t, x: x.std(dim=-1, unbiased=False)),
    "var keepdims": (_f("var", {"axis": [1, 2], "keepdims": True}), [(3, 4)], False,
                     lambda t, x: x.var(dim=(1, 2), unbiased=False, keepdim=True)),
    "logsumexp": (_f("logsumexp", {"axis": 1}), [(3, 4)], False, lambda t, x: t.logsumexp(x, dim=1)),
    "norm": (_f("norm", {"axis": -1}), [(3, 4)], False, lambda t, x: t.linalg.vector_norm(x, dim=-1)),
    "norm 1": (_f("norm", {"ord": 1, "axis": 1, "keepdims": True}), [(3, 4)], False,
               lambda t, x: t.linalg.vector_norm(x, ord=1, dim=1, keepdim=True)),
    "norm 3": (_f("norm", {"ord": 3, "axis": -1}), [(3, 4)], False,
               lambda t, x: t.linalg.vector_norm(x, ord=3, dim=-1)),
    "norm inf": (_f("norm", {"ord": float("inf"), "axis": -1}), [(3, 4)], False,
                 lambda t, x: t.linalg.vector_norm(x, ord=float("inf"), dim=-1)),
    "norm fro": (_f("norm", {"axis": [1, 2]}), [(3, 4)], False, lambda t, x: t.linalg.matrix_norm(x)),
    "cumsum": (_f("cumsum", {"axis": 1}), [(3, 4)], False, lambda t, x: t.cumsum(x, dim=1)),
    "cumprod": (_f("cumprod", {"axis": -1}), [(3, 4)], False, lambda t, x: t.cumprod(x, dim=-1)),
}


def _case(name, rng):
    factory, shapes, positive, _ = SYMBOLIC[name]
    xs = _inputs(rng, *shapes, positive=positive)
    layer = factory(dtype="float64")
    return layer, (xs if layer.merges else xs[0])


@pytest.mark.parametrize("name", sorted(SYMBOLIC))
def test_symbolic_ops_agree_with_finite_differences(name, rng):
    layer, x = _case(name, rng)
    report = check_layer(layer, x)
    assert report["max_error"] < 1e-6


@pytest.mark.parametrize("name", sorted(SYMBOLIC))
def test_symbolic_ops_match_pytorch_autograd(name, rng, torch):
    layer, x = _case(name, rng)
    if name in ("where", "where number"):        # a condition of 0s and 1s (a comparison's): both branches
        x[0] = (x[0] > 0).astype(float)
    xs = x if layer.merges else [x]
    out = layer(x)
    upstream = rng.standard_normal(out.shape)
    grads = layer.backward(upstream)
    grads = grads if layer.merges else [grads]
    ts = [torch.tensor(v, requires_grad=True) for v in xs]
    theirs = SYMBOLIC[name][3](torch, *ts)
    theirs.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out, theirs.detach().numpy(), rtol=1e-12, atol=1e-14)
    for g, t in zip(grads, ts):
        assert g.shape == t.shape
        expected = t.grad.numpy() if t.grad is not None else np.zeros(t.shape)
        np.testing.assert_allclose(g, expected, rtol=1e-11, atol=1e-14)


def test_zeros_take_the_gradient_as_torch(torch):
    # prod and cumprod with zeros among the entries: no 0 / 0; norm at 0: 0 (torch's subgradient)
    x = np.array([[2.0, 0.0, 3.0, 0.5], [0.0, 0.0, 1.0, 2.0]])
    for op, arguments, torch_op in [("prod", {"axis": -1}, lambda t: t.prod(dim=-1)),
                                    ("cumprod", {"axis": 1}, lambda t: t.cumprod(dim=1))]:
        layer = TensorFunction(op, arguments, dtype="float64")
        g = np.ones(layer(x).shape)
        t = torch.tensor(x, requires_grad=True)
        torch_op(t).backward(torch.tensor(g))
        np.testing.assert_allclose(layer.backward(g), t.grad.numpy(), rtol=1e-12)
    norm = TensorFunction("norm", {"axis": -1}, dtype="float64")
    norm(np.zeros((1, 3)))
    np.testing.assert_array_equal(norm.backward(np.ones(1)), np.zeros((1, 3)))


def test_results_without_gradient(rng):
    # comparisons, logic, argmax, any, floor, round, sign, one_hot: 0/1 (or index) floats, zero gradients
    x, y = _inputs(rng, (3, 4), (3, 4))
    cases = [(TensorFunction("greater"), [x, y], x > y), (TensorFunction("less_equal", constant=0.1), x, x <= 0.1),
             (TensorFunction("equal", constant=x[0, 0, 0]), x, x == x[0, 0, 0]),
             (TensorFunction("logical_and"), [x > 0, y], (x > 0) & (y != 0)),
             (TensorFunction("logical_not"), x > 0, x <= 0),
             (TensorFunction("argmax", {"axis": -1}), x, x.argmax(-1)),
             (TensorFunction("argmin", {"axis": 1, "keepdims": True}), x, x.argmin(1)[:, None]),
             (TensorFunction("any", {"axis": -1}), x > 1, (x > 1).any(-1)),
             (TensorFunction("all", {"axis": [1, 2]}), x > -3, (x > -3).all((1, 2))),
             (TensorFunction("floor"), x, np.floor(x)), (TensorFunction("round", {"decimals": 1}), x, np.round(x, 1)),
             (TensorFunction("sign"), x, np.sign(x)),
             (TensorFunction("one_hot", {"num_classes": 3}), np.abs(x) * 2,
              np.floor(np.abs(x) * 2)[..., None] == np.arange(3))]
    for layer, inputs, expected in cases:
        layer.dtype = "float64"
        out = layer(inputs)
        assert out.dtype == np.float64, layer.op
        np.testing.assert_array_equal(out, np.asarray(expected, float), err_msg=layer.op)
        grads = layer.backward(np.ones_like(out))
        for g in (grads if isinstance(grads, list) else [grads]):
            assert not g.any(), layer.op


def test_float32_stays_float32(rng):
    for name in sorted(SYMBOLIC):
        factory, shapes, positive, _ = SYMBOLIC[name]
        xs = [x.astype(np.float32) for x in _inputs(rng, *shapes, positive=True)]
        layer = factory()
        out = layer(xs if layer.merges else xs[0])
        grads = layer.backward(np.ones_like(out))
        assert out.dtype == np.float32, name
        assert all(g.dtype == np.float32 for g in (grads if layer.merges else [grads])), name


# -- drawing: shapes as Keras', the refusals -----------------------------------------------------------
def _keras_shapes(lib, o):
    x = lib.Input((5, 4))
    y = lib.layers.Dense(4)(x)
    return [o.log1p(x), o.erf(x), o.power(x, y), o.power(x, 2.0), o.power(2.0, x), o.where(o.greater(x, 0.0), x, y),
            o.where(np.ones((5, 4), bool), x, 0.0), o.equal(x, y), o.logical_not(x), o.prod(x, axis=1),
            o.std(x, axis=(1, 2)), o.var(x, axis=-1, keepdims=True), o.logsumexp(x, axis=1), o.norm(x, axis=-1),
            o.norm(x, axis=(1, 2)), o.argmax(x, axis=-1), o.any(x, axis=1), o.cumsum(x, axis=1),
            o.cumprod(x, axis=-1), o.one_hot(x, 3), o.one_hot(x, 3, axis=1), o.round(x), o.sign(x)]


def test_symbolic_shapes_are_keras(keras):
    ours, theirs = _keras_shapes(gn, ops), _keras_shapes(keras, keras.ops)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        assert a.shape == tuple(b.shape), (k, a.shape, b.shape)
        # values travel as the model's floats: Keras' bool and int32 results are float32 here
        assert a.dtype == "float32" and (b.dtype == "float32" or b.dtype in ("bool", "int32")), (k, b.dtype)
    assert [t.layer.name_base for t in ours[:3]] == ["log1p", "erf", "power"]


def test_power_operator_of_tensors():
    x, y = gn.Input((3,)), gn.Input((3,))
    assert (x ** y).layer.op == "power" and (x ** y).layer.merges
    assert (2.0 ** x).layer.reverse and (x ** np.arange(3.0)).layer.constant.tolist() == [0, 1, 2]
    assert type((x ** 2).layer).__name__ == "TensorOp"          # a number exponent: the operator's node
    model = gn.Model([x, y], [x ** y, 2.0 ** x], dtype="float64")
    a, b = np.array([[1.5, 2.0, 0.5]]), np.array([[2.0, -1.0, 3.0]])
    out = model.predict([a, b], verbose=0)
    np.testing.assert_allclose(out[0], a ** b, rtol=1e-14)
    np.testing.assert_allclose(out[1], 2.0 ** a, rtol=1e-14)


@pytest.mark.parametrize("make, error, message", [
    (lambda x: ops.argmax(x), ValueError, "axis=None reduces over the batch axis"),
    (lambda x: ops.argmax(x, axis=(1, 2)), TypeError, "argmax's axis must be one integer"),
    (lambda x: ops.std(x, axis=0), ValueError, "names the batch axis 0"),
    (lambda x: ops.cumsum(x), ValueError, "cumsum with axis=None runs over the flattened tensor"),
    (lambda x: ops.cumprod(x, axis=0), ValueError, "names the batch axis 0"),
    (lambda x: ops.cumsum(x, axis=1, dtype="int32"), ValueError, "dtype must be None on tensors"),
    (lambda x: ops.prod(x, axis=1, dtype="float64"), ValueError, "dtype must be None on tensors"),
    (lambda x: ops.one_hot(x, 3, axis=0), ValueError, "names the batch axis 0"),
    (lambda x: ops.one_hot(x, 0), TypeError, "num_classes must be a positive integer"),
    (lambda x: ops.one_hot(x, 3, dtype="int32"), ValueError, "dtype must be None on tensors"),
    (lambda x: ops.one_hot(x, 3, sparse=True), ValueError, "sparse must be False"),
    (lambda x: ops.norm(x, ord="fro", axis=-1), ValueError, "ord='fro' is a matrix norm"),
    (lambda x: ops.norm(x, ord=3, axis=(1, 2)), ValueError, "a matrix norm. takes ord None, 'fro', 'nuc'"),
    (lambda x: ops.norm(x, ord="nuc", axis=-1), ValueError, "ord='nuc' is a matrix norm: give two axes"),
    (lambda x: ops.norm(x, ord="max", axis=-1), TypeError, "ord must be None, a number"),
    (lambda x: ops.round(x, 1.5), TypeError, "decimals must be an integer"),
    (lambda x: ops.where(x), ValueError, "on tensors give x1 and x2"),
    (lambda x: ops.where(x, x), ValueError, "give x1 and x2 both or neither"),
    (lambda x: ops.where(x, x, "a"), TypeError, "x2 must hold numbers"),
    (lambda x: ops.where(x, x, np.ones((3, 5, 4))), ValueError, "would change the batch axis"),
    (lambda x: ops.where(x, x[:, :3], 0.0), ValueError, "sizes 5 and 3 do not broadcast"),
    (lambda x: ops.greater(x, np.ones(3)), ValueError, "sizes 4 and 3 do not broadcast"),
    (lambda x: ops.power(x, x[:, 0]), ValueError, "one number of axes"),
])
def test_refusals_name_what_was_wrong(make, error, message):
    with pytest.raises(error, match=message):
        make(gn.Input((5, 4)))


def test_eager_refusals():
    for make, error, message in [(lambda: ops.argmax(np.ones(3), axis=(0,)), TypeError, "axis must be one integer"),
                                 (lambda: ops.one_hot([1], 2.5), TypeError, "num_classes"),
                                 (lambda: ops.one_hot([1], 2, axis=3), ValueError, "axis must be an integer in"),
                                 (lambda: ops.where([1], None, 2), ValueError, "x1 and x2 both"),
                                 (lambda: ops.std(np.ones(3), keepdims=1), TypeError, "keepdims must be True"),
                                 (lambda: ops.cumsum(np.ones(3), axis=1.0), TypeError, "axis must be one integer"),
                                 (lambda: ops.log1p("a"), TypeError, "must hold numbers")]:
        with pytest.raises(error, match=message):
            make()


# -- a model of them, trained beside Keras ------------------------------------------------------------
def _model(lib, o):
    inputs = lib.Input((6, 4))
    h = lib.layers.Dense(5, name="a")(inputs)                                   # (None, 6, 5)
    leaky = o.where(o.greater(h, 0.0), h, o.multiply(h, 0.1))
    gate = o.where(o.logical_and(o.less(h, 1.0), o.greater_equal(h, -1.0)), o.sin(h), o.cos(h))
    soft = o.erf(leaky) + o.log1p(o.square(gate)) + o.expm1(o.multiply(h, 0.2)) + o.power(o.sigmoid(h), 1.5)
    pooled = o.concatenate([o.logsumexp(soft, axis=1), o.std(soft, axis=1), o.var(soft, axis=1),
                            o.norm(soft, axis=1), o.norm(soft, ord=1, axis=1),
                            o.prod(o.sigmoid(soft), axis=1), o.cumsum(soft, axis=1)[:, -1]], axis=-1)   # (None, 35)
    picked = o.one_hot(o.argmax(h, axis=-1), 5)                                 # (None, 6, 5): no gradient
    counted = o.sum(picked * o.rsqrt(o.square(h) + 1.0), axis=1)               # (None, 5)
    return inputs, lib.layers.Dense(1, name="out")(o.concatenate([pooled, counted], axis=-1))


def test_a_model_of_the_new_ops_trains_as_keras(rng, keras):
    ours = gn.Model(*_model(gn, ops), seed=0)
    theirs = keras.Model(*_model(keras, keras.ops))
    for name in ("a", "out"):
        theirs.get_layer(name).set_weights(ours.get_layer(name).get_weights())
    x = rng.standard_normal((32, 6, 4)).astype(np.float32)
    y = rng.standard_normal((32, 1)).astype(np.float32)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(0.0005))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.0005))
    ours_loss = ours.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0).history["loss"]
    their_loss = theirs.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0).history["loss"]
    assert ours_loss[-1] < ours_loss[0]
    np.testing.assert_allclose(ours_loss, their_loss, rtol=2e-5)
    for name in ("a", "out"):
        for a, b in zip(ours.get_layer(name).get_weights(), theirs.get_layer(name).get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_a_float64_model_agrees_with_finite_differences(rng):
    model = gn.Model(*_model(gn, ops), seed=0, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    x = rng.standard_normal((4, 6, 4))
    check_model(model, x, rng.standard_normal((4, 1)))


def test_save_load_and_clone_round_trip(rng, tmp_path):
    x = gn.Input((4,))
    mask = np.array([True, False, True, False])
    out = ops.where(mask, ops.cumprod(x, axis=-1), ops.power(2.0, x)) + ops.one_hot(ops.argmin(x, axis=-1), 4)
    model = gn.Model(x, gn.layers.Dense(2)(out), seed=0)
    data = rng.standard_normal((5, 4)).astype(np.float32)
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.predict(data, verbose=0), model.predict(data, verbose=0))
    assert loaded.get_layer("where").get_config()["arguments"] == {"constants": {"condition": mask.tolist()}}
    for copy in (gn.models.model_from_json(model.to_json()), gn.models.clone_model(model)):
        copy.set_weights(model.get_weights())
        np.testing.assert_array_equal(copy.predict(data, verbose=0), model.predict(data, verbose=0))


def test_a_mask_passes_the_elementwise_ops(rng):
    ids = gn.Input((None,))
    h = ops.erf(ops.power(L_embedding(ids), 2.0))
    h = ops.where(ops.greater(h, 0.5), h, 0.0)          # where of several tensors: refuses a mask
    with pytest.raises(ValueError, match="masks are not combined"):
        gn.Model(ids, gn.layers.LSTM(2)(h))
    h = ops.greater(ops.sin(L_embedding(ids)), 0.1)
    model = gn.Model(ids, gn.layers.LSTM(2)(h), seed=0)
    padded, short = model.predict(np.array([[1, 2, 0, 0]]), verbose=0), model.predict(np.array([[1, 2]]), verbose=0)
    np.testing.assert_allclose(padded, short, rtol=1e-6)


def L_embedding(ids):
    return gn.layers.Embedding(10, 3, mask_zero=True)(ids)
