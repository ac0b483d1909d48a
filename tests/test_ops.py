"""glassnet.ops (ops.py, layers/tensor_functions.py, layers/tensor_shapes.py): each function on
arrays against keras.ops (values and dtypes), each symbolic op against float64 finite differences
and PyTorch autograd, a hand-written attention model trained beside Keras 3.15, files, clones,
subclassed models, masks, the refusals and the lazy import."""
import subprocess
import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet import ops
from glassnet.gradcheck import check_layer, check_model
from glassnet.layers.tensor_functions import TensorFunction

L = gn.layers
W = np.linspace(-1, 1, 12).reshape(4, 3)        # a constant matrix (k=4, m=3)


# -- eager: arrays in, NumPy out, Keras' values and dtypes -------------------------------------------
def _data(dtype, shape=(2, 3, 4), seed=0):
    rng = np.random.default_rng(seed)
    if dtype == "int32":
        return rng.integers(1, 9, shape).astype(np.int32)
    return (np.abs(rng.standard_normal(shape)) + 0.1).astype(dtype)      # positive: log and sqrt


# name -> (call on a module of ops, the argument arrays made from a dtype)
EAGER = {
    "exp": (lambda o, x: o.exp(x), 1), "log": (lambda o, x: o.log(x), 1), "sqrt": (lambda o, x: o.sqrt(x), 1),
    "square": (lambda o, x: o.square(x), 1), "abs": (lambda o, x: o.abs(-x), 1),
    "negative": (lambda o, x: o.negative(x), 1), "tanh": (lambda o, x: o.tanh(x), 1),
    "sigmoid": (lambda o, x: o.sigmoid(x - 1), 1), "relu": (lambda o, x: o.relu(x - 1), 1),
    "softplus": (lambda o, x: o.softplus(x - 1), 1),
    "maximum": (lambda o, x, y: o.maximum(x, y), 2), "maximum number": (lambda o, x: o.maximum(x, 2), 1),
    "minimum": (lambda o, x, y: o.minimum(x, y), 2), "minimum float": (lambda o, x: o.minimum(x, 0.5), 1),
    "clip": (lambda o, x: o.clip(x, 1, 3), 1),
    "add": (lambda o, x, y: o.add(x, y), 2), "subtract": (lambda o, x: o.subtract(x, 1), 1),
    "multiply": (lambda o, x, y: o.multiply(x, y[:, :1]), 2), "divide": (lambda o, x, y: o.divide(x, y), 2),
    "divide number": (lambda o, x: o.divide(x, 4), 1),
    "sum": (lambda o, x: o.sum(x), 1), "sum axes": (lambda o, x: o.sum(x, axis=(1, 2), keepdims=True), 1),
    "mean": (lambda o, x: o.mean(x, axis=-1), 1), "max": (lambda o, x: o.max(x, axis=1), 1),
    "min keepdims": (lambda o, x: o.min(x, axis=0, keepdims=True), 1),
    "softmax": (lambda o, x: o.softmax(x), 1), "softmax axis 1": (lambda o, x: o.softmax(x, axis=1), 1),
    "log_softmax": (lambda o, x: o.log_softmax(x, axis=-2), 1),
    "expand_dims": (lambda o, x: o.expand_dims(x, -1), 1), "squeeze": (lambda o, x: o.squeeze(x[:, :1]), 1),
    "reshape": (lambda o, x: o.reshape(x, (-1, 12)), 1), "transpose": (lambda o, x: o.transpose(x), 1),
    "transpose axes": (lambda o, x: o.transpose(x, (0, 2, 1)), 1),
    "concatenate": (lambda o, x, y: o.concatenate([x, y], axis=1), 2),
    "stack": (lambda o, x, y: o.stack([x, y]), 2),
    "matmul": (lambda o, x, y: o.matmul(x, o.transpose(y, (0, 2, 1))), 2),
    "cast float64": (lambda o, x: o.cast(x, "float64"), 1), "cast int32": (lambda o, x: o.cast(x * 3, "int32"), 1),
}
# Keras 3.15 on TensorFlow fails on integers for these (its nn functions take floats); glassnet
# gives float32 (pinned in test_integer_inputs_of_float_functions)
KERAS_REFUSES_INTEGERS = ("sigmoid", "softplus", "softmax", "softmax axis 1", "log_softmax")


@pytest.mark.parametrize("name", sorted(EAGER))
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_eager_values_and_dtypes_are_keras(name, dtype, keras):
    call, count = EAGER[name]
    args = [_data(dtype, seed=k) for k in range(count)]
    if dtype == "int32" and name in KERAS_REFUSES_INTEGERS:
        with pytest.raises(Exception, match="int32"):
            call(keras.ops, *args)
        assert call(ops, *args).dtype == np.float32
        return
    ours, theirs = call(ops, *args), np.asarray(call(keras.ops, *args))
    assert isinstance(ours, np.ndarray) and ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    assert ours.shape == theirs.shape
    tight = dtype == "float64" or ours.dtype.kind in "iu"
    np.testing.assert_allclose(ours, theirs, rtol=1e-12 if tight else 2e-6, atol=0 if tight else 1e-7)


def test_mixed_dtypes_and_python_numbers_as_keras(keras):
    i, f, d = _data("int32"), _data("float32"), _data("float64")
    cases = [lambda o: o.add(i, 1.5), lambda o: o.maximum(f, 2), lambda o: o.multiply(f, d),
             lambda o: o.concatenate([i, f], axis=0), lambda o: o.matmul(f, o.transpose(d, (0, 2, 1))),
             lambda o: o.exp([1.0, 2.0]), lambda o: o.sum([1, 2]), lambda o: o.divide(i, i),
             lambda o: o.mean(np.array([True, False])), lambda o: o.sum(np.array([True, True])),
             lambda o: o.maximum(i, 2), lambda o: o.add(f, np.float64(2.0))]
    for k, case in enumerate(cases):
        ours, theirs = case(ops), np.asarray(case(keras.ops))
        assert ours.dtype == theirs.dtype, (k, ours.dtype, theirs.dtype)
        np.testing.assert_allclose(ours, theirs, rtol=2e-6)
    assert ops.shape(f) == keras.ops.shape(f) == (2, 3, 4)


def test_integer_inputs_of_float_functions():
    x = np.array([[1, 2, 3]], dtype=np.int32)
    for function in (ops.sigmoid, ops.softplus, ops.softmax, ops.log_softmax, ops.exp, ops.mean):
        assert function(x).dtype == np.float32
    np.testing.assert_allclose(ops.softmax(x), ops.softmax(x.astype(np.float32)))


# -- symbolic: each op as a layer, against finite differences and torch ----------------------------
def _inputs(rng, *shapes, batch=3):
    # off the kinks and ties: |x| >= 0.2, distinct values (max, relu, clip's bounds at +-1.5)
    xs = [rng.standard_normal((batch, *s)) for s in shapes]
    return [np.where(np.abs(x) < 0.2, 0.3 + 0.37 * j + 0.001 * np.arange(x.size).reshape(x.shape), x)
            for j, x in enumerate(xs)]


# name -> (layer factory, input sample shapes, positive inputs, the op in torch)
SYMBOLIC = {
    "exp": (lambda **kw: TensorFunction("exp", **kw), [(3, 4)], False, lambda t, x: t.exp(x)),
    "log": (lambda **kw: TensorFunction("log", **kw), [(3, 4)], True, lambda t, x: t.log(x)),
    "sqrt": (lambda **kw: TensorFunction("sqrt", **kw), [(3, 4)], True, lambda t, x: t.sqrt(x)),
    "square": (lambda **kw: TensorFunction("square", **kw), [(3, 4)], False, lambda t, x: t.square(x)),
    "tanh": (lambda **kw: TensorFunction("tanh", **kw), [(3, 4)], False, lambda t, x: t.tanh(x)),
    "sigmoid": (lambda **kw: TensorFunction("sigmoid", **kw), [(3, 4)], False, lambda t, x: t.sigmoid(x)),
    "relu": (lambda **kw: TensorFunction("relu", **kw), [(3, 4)], False, lambda t, x: t.relu(x)),
    "softplus": (lambda **kw: TensorFunction("softplus", **kw), [(3, 4)], False,
                 lambda t, x: t.nn.functional.softplus(x)),
    "clip": (lambda **kw: TensorFunction("clip", {"x_min": -0.5, "x_max": 1.5}, **kw), [(3, 4)], False,
             lambda t, x: t.clamp(x, -0.5, 1.5)),
    "cast": (lambda **kw: TensorFunction("cast", {"dtype": "float64"}, **kw), [(3, 4)], False, lambda t, x: x * 1),
    "sum": (lambda **kw: TensorFunction("sum", {"axis": [1, -1]}, **kw), [(3, 4)], False,
            lambda t, x: x.sum(dim=(1, 2))),
    "mean keepdims": (lambda **kw: TensorFunction("mean", {"axis": 1, "keepdims": True}, **kw), [(3, 4)], False,
                      lambda t, x: x.mean(dim=1, keepdim=True)),
    "max": (lambda **kw: TensorFunction("max", {"axis": -1}, **kw), [(3, 4)], False, lambda t, x: x.amax(dim=-1)),
    "min": (lambda **kw: TensorFunction("min", {"axis": [1, 2]}, **kw), [(3, 4)], False,
            lambda t, x: x.amin(dim=(1, 2))),
    "softmax": (lambda **kw: TensorFunction("softmax", {"axis": 1}, **kw), [(3, 4)], False,
                lambda t, x: t.softmax(x, dim=1)),
    "log_softmax": (lambda **kw: TensorFunction("log_softmax", **kw), [(3, 4)], False,
                    lambda t, x: t.log_softmax(x, dim=-1)),
    "expand_dims": (lambda **kw: TensorFunction("expand_dims", {"axis": 2}, **kw), [(3, 4)], False,
                    lambda t, x: x.unsqueeze(2)),
    "squeeze": (lambda **kw: TensorFunction("squeeze", **kw), [(3, 1)], False, lambda t, x: x.squeeze(-1)),
    "reshape": (lambda **kw: TensorFunction("reshape", {"newshape": [-1, 2, 6]}, **kw), [(3, 4)], False,
                lambda t, x: x.reshape(-1, 2, 6)),
    "transpose": (lambda **kw: TensorFunction("transpose", {"axes": [0, 2, 1]}, **kw), [(3, 4)], False,
                  lambda t, x: x.transpose(1, 2)),
    "maximum constant": (lambda **kw: TensorFunction("maximum", constant=np.linspace(-1, 1, 4), **kw), [(3, 4)],
                         False, lambda t, x: t.maximum(x, t.tensor(np.linspace(-1, 1, 4)))),
    "minimum number": (lambda **kw: TensorFunction("minimum", constant=0.5, **kw), [(3, 4)], False,
                       lambda t, x: t.clamp(x, max=0.5)),
    "matmul constant": (lambda **kw: TensorFunction("matmul", constant=W, **kw), [(3, 4)], False,
                        lambda t, x: x @ t.tensor(W)),
    "matmul constant left": (lambda **kw: TensorFunction("matmul", constant=W.T, reverse=True, **kw), [(4, 2)],
                             False, lambda t, x: t.tensor(W.T) @ x),
    # two tensors or more
    "maximum": (lambda **kw: TensorFunction("maximum", **kw), [(3, 4), (1, 4)], False, lambda t, a, b: t.maximum(a, b)),
    "minimum": (lambda **kw: TensorFunction("minimum", **kw), [(3, 4), (3, 4)], False, lambda t, a, b: t.minimum(a, b)),
    "matmul": (lambda **kw: TensorFunction("matmul", **kw), [(3, 4), (4, 2)], False, lambda t, a, b: a @ b),
    "matmul broadcast": (lambda **kw: TensorFunction("matmul", **kw), [(2, 3, 4), (1, 4, 2)], False,
                         lambda t, a, b: a @ b),
    "concatenate": (lambda **kw: TensorFunction("concatenate", {"axis": -1}, **kw), [(3, 4), (3, 2), (3, 1)], False,
                    lambda t, *xs: t.cat(xs, dim=-1)),
    "stack": (lambda **kw: TensorFunction("stack", {"axis": 2}, **kw), [(3, 4), (3, 4)], False,
              lambda t, *xs: t.stack(xs, dim=2)),
}


def _case(name, rng):
    factory, shapes, positive, _ = SYMBOLIC[name]
    xs = _inputs(rng, *shapes)
    xs = [np.abs(x) + 0.5 for x in xs] if positive else xs
    layer = factory(dtype="float64")
    return layer, (xs if layer.merges else xs[0])


@pytest.mark.parametrize("name", sorted(SYMBOLIC))
def test_symbolic_ops_agree_with_finite_differences(name, rng):
    layer, x = _case(name, rng)
    report = check_layer(layer, x)
    assert report["max_error"] < 1e-6
    assert ({f"input {k}" for k in range(len(x))} if layer.merges else {"input"}) <= set(report["errors"])


def test_the_gradient_check_catches_a_wrong_gradient(rng):
    class Wrong(TensorFunction):
        def backward(self, grad_output):
            return super().backward(grad_output) * 1.01
    with pytest.raises(Exception, match="input"):
        check_layer(Wrong("mean", {"axis": 1}, dtype="float64"), _inputs(rng, (3, 4))[0])


@pytest.mark.parametrize("name", sorted(SYMBOLIC))
def test_symbolic_ops_match_pytorch_autograd(name, rng, torch):
    layer, x = _case(name, rng)
    xs = x if layer.merges else [x]
    out = layer(x)
    upstream = rng.standard_normal(out.shape)
    grads = layer.backward(upstream)
    grads = grads if layer.merges else [grads]
    ts = [torch.tensor(v, requires_grad=True) for v in xs]
    theirs = SYMBOLIC[name][3](torch, *ts)
    theirs.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out, theirs.detach().numpy(), rtol=1e-12, atol=1e-15)
    for g, t in zip(grads, ts):
        assert g.shape == t.shape
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_ties_share_the_gradient_as_tensorflow():
    # max: equal maxima share it; maximum: the first operand takes a tie; clip: bounds pass it
    layer = TensorFunction("max", {"axis": -1}, dtype="float64")
    layer(np.array([[1.0, 3.0, 3.0]]))
    np.testing.assert_array_equal(layer.backward(np.array([1.0])), [[0, 0.5, 0.5]])
    pair = TensorFunction("maximum", dtype="float64")
    pair([np.array([[1.0, 2.0]]), np.array([[1.0, 0.0]])])
    np.testing.assert_array_equal(pair.backward(np.ones((1, 2))), [[[1, 1]], [[0, 0]]])
    clip = TensorFunction("clip", {"x_min": 0.0, "x_max": 1.0}, dtype="float64")
    clip(np.array([[0.0, 1.0, 2.0]]))
    np.testing.assert_array_equal(clip.backward(np.ones((1, 3))), [[1, 1, 0]])


def test_float32_stays_float32(rng):
    for name in sorted(SYMBOLIC):
        factory, shapes, positive, _ = SYMBOLIC[name]
        if name == "cast":
            continue
        xs = [np.abs(x).astype(np.float32) + 0.5 for x in _inputs(rng, *shapes)]
        layer = factory()
        out = layer(xs if layer.merges else xs[0])
        grads = layer.backward(np.ones_like(out))
        assert out.dtype == np.float32, name
        assert all(g.dtype == np.float32 for g in (grads if layer.merges else [grads])), name
    cast = TensorFunction("cast", {"dtype": "float16"})
    x = np.array([[1 / 3]], dtype=np.float32)
    assert cast(x).dtype == np.float32 and cast(x)[0, 0] == np.float32(np.float16(1 / 3))


# -- drawing: shapes as Keras', the refusals -----------------------------------------------------------
def _keras_shapes(lib, o):
    x = lib.Input((5, 4))
    y = lib.layers.Dense(4)(x)
    return [o.exp(x), o.mean(x, axis=1), o.sum(x, axis=(1, 2), keepdims=True), o.max(x, axis=-1),
            o.softmax(x), o.log_softmax(x, axis=1), o.expand_dims(x, 1), o.squeeze(o.expand_dims(x, -1), -1),
            o.reshape(x, (-1, 20)), o.reshape(x, (None, 2, 10)), o.transpose(x, (0, 2, 1)),
            o.concatenate([x, y], axis=-1), o.stack([x, y], axis=1), o.matmul(x, o.transpose(y, (0, 2, 1))),
            o.matmul(x, np.ones((4, 3), "float32")), o.maximum(x, y), o.minimum(x, 0.0), o.clip(x, -1, 1),
            o.cast(x, "float32"), o.relu(x), o.softplus(x), o.sigmoid(x), o.tanh(x), o.square(x), o.sqrt(x),
            o.log(x), o.abs(x), o.negative(x), o.add(x, y), o.subtract(1.0, x), o.multiply(x, 2.0), o.divide(x, y)]


def test_symbolic_shapes_and_dtypes_are_keras(keras):
    ours, theirs = _keras_shapes(gn, ops), _keras_shapes(keras, keras.ops)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        assert a.shape == tuple(b.shape) and a.dtype == b.dtype, (k, a.shape, b.shape)
    assert ops.shape(ours[1]) == (None, 4) == keras.ops.shape(theirs[1])
    assert ops.shape(gn.Input((5, 4))) == (None, 5, 4)
    assert [t.layer.name_base for t in ours[:3]] == ["exp", "mean", "sum"]


@pytest.mark.parametrize("make, error, message", [
    # (ops.sum(x) itself is a term for add_loss: glassnet.added_losses; used anywhere else, refused)
    (lambda x: ops.sum(x) + x, TypeError, r"axis=None on a tensor reduces the batch axis too.*add_loss"),
    # (ops.mean(x, axis=0) is a batch vector for add_loss terms: glassnet._batch_vectors; beside x, refused)
    (lambda x: ops.mean(x, axis=0) + x, TypeError, "batch vector.*per-sample tensor"),
    (lambda x: ops.max(x, axis=(0, 1)), ValueError, "names the batch axis 0"),
    (lambda x: ops.mean(x, axis=3), ValueError, "axis 3 is outside tensors of 3 axes"),
    (lambda x: ops.softmax(x, axis=0), ValueError, "softmax's axis=0 names the batch axis"),
    (lambda x: ops.stack([x, x]), ValueError, "stack's axis=0 names the batch axis"),
    (lambda x: ops.concatenate([x, x]), ValueError, "concatenate's axis=0 names the batch axis"),
    (lambda x: ops.concatenate([x, np.ones((2, 5, 4))], axis=1), ValueError, "constant of shape .* batch axis of size 1"),
    (lambda x: ops.concatenate([x, ops.expand_dims(x, 1)], axis=1), ValueError, "one number of axes"),
    (lambda x: ops.concatenate([x, x[:, :2, :3]], axis=1), ValueError, "must match on every axis but axis=1"),
    (lambda x: ops.transpose(x), ValueError, r"axes=None reverses every axis.*\(0, 2, 1\)"),
    (lambda x: ops.transpose(x, (1, 0, 2)), ValueError, "move the batch axis"),
    (lambda x: ops.transpose(x, (0, 1, 1)), ValueError, "order every axis"),
    (lambda x: ops.expand_dims(x, 0), ValueError, "names the batch axis 0"),
    (lambda x: ops.squeeze(x, 1), ValueError, "axis 1 has size 5"),
    (lambda x: ops.reshape(x, (2, 10)), ValueError, "must be -1 or None"),
    (lambda x: ops.reshape(x, (-1, 3, 7)), ValueError, r"does not hold samples of shape \(5, 4\)"),
    (lambda x: ops.reshape(x, (-1, -1, -1)), ValueError, "at most one -1"),
    (lambda x: ops.reshape(x, 20), TypeError, "newshape must be a tuple"),
    (lambda x: ops.cast(x, "int32"), ValueError, "cast to a float dtype.*not int32"),
    (lambda x: ops.cast(x, "nonsense"), TypeError, "dtype must name a dtype"),
    (lambda x: ops.clip(x, None, 1.0), TypeError, "clip needs x_min and x_max"),
    (lambda x: ops.clip(x, np.zeros(4), 1.0), TypeError, "x_min must be a number"),
    (lambda x: ops.mean(x, axis=1.5), TypeError, "axis: expected an integer"),
    (lambda x: ops.mean(x, axis=1, keepdims="yes"), TypeError, "keepdims must be True or False"),
    (lambda x: ops.matmul(x, np.ones((3, 2))), ValueError, "inner sizes 4 and 3 differ"),
    (lambda x: ops.matmul(x, np.ones((4, 2, 2))), ValueError, "constant must be a matrix"),
    (lambda x: ops.matmul(x, x), ValueError, "inner sizes 4 and 5 differ"),
    (lambda x: ops.matmul(x[:, 0], x[:, 1]), ValueError, "two sample axes or more"),
    (lambda x: ops.matmul(np.ones((2, 5)), x[:, 0]), ValueError, "tensor needs two sample axes"),
    (lambda x: ops.maximum(x, np.ones((3, 5, 4))), ValueError, "would change the batch axis"),
    (lambda x: ops.maximum(x, np.array([1.0, np.nan, 0, 0])), ValueError, "finite"),
    (lambda x: ops.maximum(x, "a"), TypeError, "array of numbers"),
    (lambda x: ops.minimum(x, x[:, :3]), ValueError, "sizes 5 and 3 do not broadcast"),
    (lambda x: ops.exp("a"), TypeError, "must hold numbers"),
])
def test_refusals_name_what_was_wrong(make, error, message):
    with pytest.raises(error, match=message):
        make(gn.Input((5, 4)))


def test_refused_constructor_arguments():
    for args, kwargs, message in [(("cot",), {}, "op must be one of"), (("exp", {"axis": 1}), {}, "unexpected argument 'axis'"),
                                  (("sum", {"axis": 1}), {"constant": 2.0}, "sum takes no constant"),
                                  (("concatenate",), {"input_shape": (3,)}, "takes no input_shape"),
                                  (("expand_dims",), {}, "expand_dims needs axis"),
                                  (("mean", [1]), {}, "arguments must be a dict")]:
        with pytest.raises((TypeError, ValueError), match=message):
            TensorFunction(*args, **kwargs)


# -- models ------------------------------------------------------------------------------------------
def _attention(lib, o):
    """Self-attention written by hand with ops (keras.io's idiom), pooled several ways."""
    inputs = lib.Input((6, 4))
    q = lib.layers.Dense(8, name="q")(inputs)
    k = lib.layers.Dense(8, name="k")(inputs)
    v = lib.layers.Dense(8, name="v")(inputs)
    scores = o.divide(o.matmul(q, o.transpose(k, (0, 2, 1))), o.sqrt(8.0))
    h = o.matmul(o.softmax(scores, axis=-1), v)                                     # (None, 6, 8)
    pooled = o.concatenate([o.mean(h, axis=1), o.max(h, axis=1),
                            o.squeeze(o.expand_dims(o.sum(h, axis=-1), -1), -1)], axis=-1)   # (None, 22)
    two = o.stack([o.relu(pooled), o.softplus(o.negative(pooled))], axis=1)        # (None, 2, 22)
    mixed = o.reshape(o.log_softmax(two, axis=1), (-1, 44))
    gated = o.multiply(o.tanh(mixed), o.sigmoid(o.clip(mixed, -2.0, 0.0)))
    shrunk = o.maximum(o.minimum(gated, 0.9), o.square(o.exp(o.mean(gated, axis=-1, keepdims=True))) - 2.0)
    return inputs, lib.layers.Dense(1, name="out")(o.matmul(shrunk, np.eye(44, 5, dtype="float32")))


def test_an_attention_model_of_ops_trains_as_keras(rng, keras):
    ours = gn.Model(*_attention(gn, ops), seed=0)
    theirs = keras.Model(*_attention(keras, keras.ops))
    for name in ("q", "k", "v", "out"):
        theirs.get_layer(name).set_weights(ours.get_layer(name).get_weights())
    x = rng.standard_normal((32, 6, 4)).astype(np.float32)
    y = rng.standard_normal((32, 1)).astype(np.float32)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(0.05))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.05))
    ours_loss = ours.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0).history["loss"]
    their_loss = theirs.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0).history["loss"]
    assert ours_loss[-1] < ours_loss[0]
    np.testing.assert_allclose(ours_loss, their_loss, rtol=2e-6)
    for name in ("q", "k", "v", "out"):
        for a, b in zip(ours.get_layer(name).get_weights(), theirs.get_layer(name).get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_float64_attention_model_agrees_with_finite_differences(rng):
    model = gn.Model(*_attention(gn, ops), seed=0, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    x = rng.standard_normal((4, 6, 4))
    check_model(model, x, rng.standard_normal((4, 1)))
    assert model.predict(x, verbose=0).dtype == np.float64


def test_save_load_json_config_and_clone_round_trip(rng, tmp_path):
    model = gn.Model(*_attention(gn, ops), seed=0)
    model.compile(loss="mse", optimizer="adam")
    x = rng.standard_normal((16, 6, 4)).astype(np.float32)
    model.fit(x, rng.standard_normal((16, 1)).astype(np.float32), epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "attention.npz")
    loaded = gn.load_model(tmp_path / "attention.npz")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert len(loaded.get_weights()) == len(model.get_weights()) == 8         # constants are no weights
    assert loaded.get_layer("reshape").get_config()["arguments"] == {"newshape": [-1, 44]}
    np.testing.assert_array_equal(loaded.get_layer("matmul_2").get_config()["constant"], np.eye(44, 5))
    for copy in (gn.models.model_from_json(model.to_json()), gn.Model.from_config(model.get_config()),
                 gn.models.clone_model(model)):
        copy.set_weights(model.get_weights())
        np.testing.assert_array_equal(copy.predict(x, verbose=0), model.predict(x, verbose=0))
        assert [layer.get_config() for layer in copy.layers] == [layer.get_config() for layer in model.layers]
    # an op of one tensor is a layer of one input: a Sequential takes it too
    chain = gn.Sequential([gn.Input((3,)), TensorFunction("softmax"), L.Dense(1)], seed=0)
    chain.save(tmp_path / "chain.npz")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "chain.npz").predict(x[:2, 0, :3], verbose=0),
                                  chain.predict(x[:2, 0, :3], verbose=0))


def test_a_subclassed_model_computes_with_ops_in_call(rng):
    class Pooled(gn.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = L.Dense(3)
            self.head = L.Dense(1)

        def call(self, inputs):
            h = ops.tanh(self.dense(inputs))                # (batch, 5, 3)
            return self.head(ops.concatenate([ops.mean(h, axis=1), ops.max(h, axis=1)], axis=-1))

    model = Pooled(seed=0, dtype="float64")
    x = rng.standard_normal((4, 5, 2))
    out = model.predict(x, verbose=0)
    h = np.tanh(x @ model.dense.params["kernel"] + model.dense.params["bias"])
    expected = np.concatenate([h.mean(1), h.max(1)], -1) @ model.head.params["kernel"] + model.head.params["bias"]
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    model.compile(loss="mse", optimizer="sgd")
    check_model(model, x, rng.standard_normal((4, 1)))


def test_a_batch_of_one_keeps_its_batch_axis():
    # squeeze and matmul on a batch of a single sample: the batch axis is never squeezed away
    x = gn.Input((1, 3))
    model = gn.Model(x, ops.squeeze(ops.matmul(x, np.ones((3, 2), "float32"))))
    assert model.predict(np.ones((1, 1, 3), "float32"), verbose=0).shape == (1, 2)


# -- masks -------------------------------------------------------------------------------------------
def test_a_mask_passes_an_elementwise_op(rng):
    ids = gn.Input((None,))
    h = ops.tanh(ops.clip(L.Embedding(10, 3, mask_zero=True)(ids), -0.5, 0.5))
    model = gn.Model(ids, L.LSTM(2)(h), seed=0)
    padded, short = model.predict(np.array([[1, 2, 0, 0]]), verbose=0), model.predict(np.array([[1, 2]]), verbose=0)
    np.testing.assert_allclose(padded, short, rtol=1e-6)


@pytest.mark.parametrize("make, message", [
    (lambda h: ops.softmax(h, axis=1), "softmax may move, join or drop the steps"),
    (lambda h: ops.maximum(h, h), "masks are not combined by ops functions"),
])
def test_a_mask_reaching_an_op_that_cannot_pass_it_is_refused(make, message):
    ids = gn.Input((2,))
    h = L.Embedding(10, 3, mask_zero=True)(ids)
    with pytest.raises(ValueError, match=message):
        gn.Model(ids, L.LSTM(2)(make(h)))


def test_import_glassnet_leaves_ops_until_used():
    code = ("import sys, glassnet\nprint('glassnet.ops' in sys.modules, 'glassnet.layers.tensor_functions' in sys.modules)\n"
            "glassnet.ops.exp(1.0)\nprint('glassnet.ops' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "True"]


def test_a_constant_too_large_for_the_model_dtype_is_refused_by_name():
    # cast to float32 it was inf, and the model's outputs with it, silently (TensorOp refused it)
    x = gn.Input((2,))
    with pytest.raises(ValueError, match="maximum.*does not fit in float32"):
        gn.Model(x, gn.ops.maximum(x, np.array([1e39, 1.0])))
    model = gn.Model(x, gn.ops.maximum(x, np.array([1e39, 1.0])), dtype="float64")
    assert model.predict(np.zeros((1, 2)))[0, 0] == 1e39


@pytest.mark.parametrize("dtype", [float, int, "float32", "int32", np.float64, "float16"])
def test_dtypes_are_read_as_keras_reads_them(dtype):
    # NumPy reads Python's float as float64; Keras' standardize_dtype as float32, its floatx
    keras = pytest.importorskip("keras")
    expected = keras.ops.convert_to_numpy(keras.ops.arange(5, dtype=dtype))
    assert ops.arange(5, dtype=dtype).dtype == expected.dtype
    x = np.array([1.5, -2.5])
    assert ops.cast(x, dtype).dtype == keras.ops.convert_to_numpy(keras.ops.cast(x, dtype)).dtype
    with pytest.raises(TypeError, match="ops.arange: dtype"):
        ops.arange(3, dtype="float")           # Keras refuses NumPy's spelling too


def test_a_symbolic_cast_to_pythons_float_is_float32():
    x = gn.Input((2,))
    model = gn.Model(x, ops.cast(x, float))
    assert model.layers[0].arguments["dtype"] == "float32"
