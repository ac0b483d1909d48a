"""glassnet.ops' structural functions (ops.py, layers/tensor_structure.py): einsum, take,
take_along_axis, pad, split, tile, repeat, flip, broadcast_to, zeros_like, ones_like, top_k,
constants in concatenate/stack and softmax over a tuple of axes. On arrays against keras.ops
(values and dtypes); as graph nodes against float64 finite differences and PyTorch autograd; a
functional model of them predicting and training beside Keras 3.15; files; the refusals."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops
from glassnet.gradcheck import check_layer, check_model
from glassnet.layers.tensor_functions import TensorFunction

W = np.linspace(-1, 1, 12).reshape(4, 3)


def _data(dtype, shape=(2, 3, 4), seed=0):
    rng = np.random.default_rng(seed)
    if dtype == "int32":
        return rng.integers(-9, 9, shape).astype(np.int32)
    return rng.standard_normal(shape).astype(dtype)


# name -> call on a module of ops (x: (2, 3, 4) of the dtype tested)
EAGER = {
    "einsum": lambda o, x: o.einsum("bij,bkj->bik", x, x),
    "einsum constant": lambda o, x: o.einsum("...j,jk", x, W.astype(x.dtype)),
    "einsum int and float": lambda o, x: o.einsum("bij,j->bi", x, np.ones(4, "float32")),
    "take axis": lambda o, x: o.take(x, np.array([0, 2, -1, 0]), axis=1),
    "take flat": lambda o, x: o.take(x, np.array([[0, 23], [5, 7]])),
    "take_along_axis": lambda o, x: o.take_along_axis(x, np.array([[[0, 2, 1, 1], [2, 2, 0, 1]]]), axis=1),
    "pad constant": lambda o, x: o.pad(x, ((0, 0), (1, 2), (0, 3))),
    "pad value": lambda o, x: o.pad(x, ((1, 0), (0, 1), (2, 0)), constant_values=3),
    "pad reflect": lambda o, x: o.pad(x, ((0, 0), (2, 1), (1, 3)), mode="reflect"),
    "pad symmetric": lambda o, x: o.pad(x, ((0, 1), (3, 0), (0, 4)), mode="symmetric"),
    "split sections": lambda o, x: o.split(x, 2, axis=2),
    "split indices": lambda o, x: o.split(x, [1, 2], axis=1),
    "tile": lambda o, x: o.tile(x, (1, 2, 3)), "tile short": lambda o, x: o.tile(x, 2),
    "repeat": lambda o, x: o.repeat(x, 2, axis=1), "repeat counts": lambda o, x: o.repeat(x, [1, 0, 3, 2], axis=-1),
    "repeat flat": lambda o, x: o.repeat(x, 2),
    "flip": lambda o, x: o.flip(x), "flip axis": lambda o, x: o.flip(x, axis=(1, 2)),
    "broadcast_to": lambda o, x: o.broadcast_to(x[:, :1], (2, 3, 4)),
    "zeros_like": lambda o, x: o.zeros_like(x), "ones_like": lambda o, x: o.ones_like(x),
    "ones_like dtype": lambda o, x: o.ones_like(x, dtype="float64"),
    "top_k": lambda o, x: o.top_k(x, 3),
    "softmax axes": lambda o, x: o.softmax(x, axis=(1, 2)), "log_softmax axes": lambda o, x: o.log_softmax(x, axis=(0, 2)),
}


@pytest.mark.parametrize("name", sorted(EAGER))
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_eager_values_and_dtypes_are_keras(name, dtype, keras):
    if dtype == "int32" and name in ("softmax axes", "log_softmax axes"):
        pytest.skip("Keras on TensorFlow takes floats only here")
    x = _data(dtype)
    ours, theirs = EAGER[name](ops, x), EAGER[name](keras.ops, x)
    ours = list(ours) if isinstance(ours, (list, tuple)) else [ours]
    theirs = list(theirs) if isinstance(theirs, (list, tuple)) else [theirs]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        b = keras.ops.convert_to_numpy(b)
        assert isinstance(a, np.ndarray) and a.dtype == b.dtype, (a.dtype, b.dtype)
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_top_k_ties_go_to_the_lower_index_as_tensorflow(keras):
    x = np.array([[1.0, 3.0, 3.0, 0.0, 3.0]], "float32")
    ours, theirs = ops.top_k(x, 3), keras.ops.top_k(x, 3)
    np.testing.assert_array_equal(ours[1], keras.ops.convert_to_numpy(theirs[1]))


# -- symbolic: each op as a layer, against finite differences and torch ----------------------------
def _inputs(rng, *shapes, batch=3):
    # distinct values well apart (top_k without ties)
    return [rng.permutation(np.prod((batch, *s))).reshape((batch, *s)) * 0.1 + 0.01 * rng.standard_normal((batch, *s))
            for s in shapes]


IDS = np.array([[2, 0, 3], [1, 1, 0], [3, 2, 2]], float)          # a tensor of indices (batch 3, 3)
# name -> (layer factory, input sample shapes (None: IDS), the op in torch on the inputs)
SYMBOLIC = {
    "einsum two tensors": (lambda **kw: TensorFunction("einsum", {"subscripts": "bij,bkj->bik", "constants": [None, None]}, **kw),
                           [(3, 4), (2, 4)], lambda t, a, b: t.einsum("bij,bkj->bik", a, b)),
    "einsum constant": (lambda **kw: TensorFunction("einsum", {"subscripts": "...j,jk->...k", "constants": [None, W]}, **kw),
                        [(2, 4)], lambda t, x: t.einsum("bij,jk->bik", x, t.tensor(W))),
    "einsum summed index": (lambda **kw: TensorFunction("einsum", {"subscripts": "bij,bk->bk", "constants": [None, None]},
                                                        **kw), [(3, 4), (2,)], lambda t, a, b: a.sum((1, 2))[:, None] * b),
    "einsum three": (lambda **kw: TensorFunction("einsum", {"subscripts": "bi,ij,bj->bj", "constants": [None, W, None]},
                                                 **kw), [(4,), (3,)], lambda t, a, b: (a @ t.tensor(W)) * b),
    "take": (lambda **kw: TensorFunction("take", {"indices": [[0, 3], [3, 3]], "axis": -1}, **kw), [(2, 4)],
             lambda t, x: x[..., t.tensor([[0, 3], [3, 3]])]),
    "take table": (lambda **kw: TensorFunction("take", {"x": W.tolist(), "axis": 0}, **kw), [None],
                   lambda t, i: t.tensor(W)[i.long()] + 0 * i.sum()),
    "take_along_axis": (lambda **kw: TensorFunction("take_along_axis", {"indices": [[[1], [0], [1]]], "axis": 2}, **kw),
                        [(3, 2)], lambda t, x: t.take_along_dim(x, t.tensor([[[1], [0], [1]]]).expand(3, 3, 1), 2)),
    "take_along_axis tensor": (lambda **kw: TensorFunction("take_along_axis", {"axis": 1}, **kw), [(4,), None],
                               lambda t, x, i: t.take_along_dim(x, i.long(), 1) + 0 * i.sum()),
    "pad constant": (lambda **kw: TensorFunction("pad", {"pad_width": [[0, 0], [1, 2], [0, 1]], "constant_values": 2.0},
                                                 **kw), [(3, 4)],
                     lambda t, x: t.nn.functional.pad(x, (0, 1, 1, 2), value=2.0)),
    "pad reflect": (lambda **kw: TensorFunction("pad", {"pad_width": [[0, 0], [2, 1], [3, 0]], "mode": "reflect"}, **kw),
                    [(3, 4)], lambda t, x: t.nn.functional.pad(x[:, None], (3, 0, 2, 1), mode="reflect")[:, 0]),
    "pad symmetric": (lambda **kw: TensorFunction("pad", {"pad_width": [[0, 0], [3, 2], [0, 4]], "mode": "symmetric"},
                                                  **kw), [(3, 4)], None),
    "split": (lambda **kw: TensorFunction("split", {"indices_or_sections": [1, 3], "axis": 2, "index": 1}, **kw),
              [(3, 4)], lambda t, x: x[:, :, 1:3]),
    "tile": (lambda **kw: TensorFunction("tile", {"repeats": [2, 3]}, **kw), [(3, 2)], lambda t, x: x.tile(1, 2, 3)),
    "repeat": (lambda **kw: TensorFunction("repeat", {"repeats": [2, 0, 1], "axis": 1}, **kw), [(3, 2)],
               lambda t, x: x.repeat_interleave(t.tensor([2, 0, 1]), dim=1)),
    "flip": (lambda **kw: TensorFunction("flip", {"axis": [1, -1]}, **kw), [(3, 2)], lambda t, x: x.flip((1, 2))),
    "broadcast_to": (lambda **kw: TensorFunction("broadcast_to", {"shape": [None, 3, 4]}, **kw), [(1, 4)],
                     lambda t, x: x.expand(3, 3, 4)),
    "top_k values": (lambda **kw: TensorFunction("top_k", {"k": 2}, **kw), [(3, 4)], lambda t, x: x.topk(2).values),
    "softmax axes": (lambda **kw: TensorFunction("softmax", {"axis": [1, 2]}, **kw), [(3, 4)],
                     lambda t, x: t.softmax(x.reshape(3, -1), -1).reshape(3, 3, 4)),
    "log_softmax axes": (lambda **kw: TensorFunction("log_softmax", {"axis": [2, 1]}, **kw), [(3, 4)],
                         lambda t, x: t.log_softmax(x.reshape(3, -1), -1).reshape(3, 3, 4)),
    "concatenate constant": (lambda **kw: TensorFunction("concatenate", {"axis": 1, "constants": [None, W[:2], None]},
                                                         **kw), [(3, 3), (1, 3)],
                             lambda t, a, b: t.cat([a, t.tensor(W[:2]).expand(3, 2, 3), b], 1)),
    "stack constant": (lambda **kw: TensorFunction("stack", {"axis": -1, "constants": [W[None, :3], None]}, **kw),
                       [(3, 3)], lambda t, x: t.stack([t.tensor(W[:3]).expand(3, 3, 3), x], -1)),
}


def _case(name, rng):
    factory, shapes, _ = SYMBOLIC[name]
    xs = [IDS if s is None else x for s, x in zip(shapes, _inputs(rng, *[(1,) if s is None else s for s in shapes]))]
    layer = factory(dtype="float64")
    return layer, (xs if layer.merges else xs[0])


@pytest.mark.parametrize("name", sorted(SYMBOLIC))
def test_symbolic_ops_agree_with_finite_differences(name, rng):
    layer, x = _case(name, rng)
    report = check_layer(layer, x)
    assert report["max_error"] < 1e-6
    assert ({f"input {k}" for k in range(len(x))} if layer.merges else {"input"}) <= set(report["errors"])


def test_the_gradient_check_catches_a_wrong_scatter(rng):
    class Wrong(TensorFunction):
        def backward(self, grad_output):
            return super().backward(grad_output)[:, ::-1]
    with pytest.raises(Exception, match="input"):
        check_layer(Wrong("take", {"indices": [0, 0, 2], "axis": 1}, dtype="float64"), _inputs(rng, (3, 2))[0])


@pytest.mark.parametrize("name", sorted(n for n in SYMBOLIC if SYMBOLIC[n][2] is not None))
def test_symbolic_ops_match_pytorch_autograd(name, rng, torch):
    layer, x = _case(name, rng)
    xs = x if layer.merges else [x]
    out = layer(x)
    upstream = rng.standard_normal(out.shape)
    grads = layer.backward(upstream)
    grads = grads if layer.merges else [grads]
    ts = [torch.tensor(v, requires_grad=True) for v in xs]
    theirs = SYMBOLIC[name][2](torch, *ts)
    theirs.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out, theirs.detach().numpy(), rtol=1e-12, atol=1e-15)
    for g, t in zip(grads, ts):
        assert g.shape == t.shape
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_float32_stays_float32_and_indices_take_no_gradient(rng):
    for name in sorted(SYMBOLIC):
        layer, x = _case(name, rng)
        layer = SYMBOLIC[name][0]()
        x = [v.astype(np.float32) for v in x] if isinstance(x, list) else x.astype(np.float32)
        out = layer(x)
        grads = layer.backward(np.ones_like(out))
        assert out.dtype == np.float32, name
        assert all(g.dtype == np.float32 for g in (grads if layer.merges else [grads])), name
    indices = TensorFunction("top_k", {"k": 2, "output": "indices"})
    out = indices(np.array([[0.5, 2.0, 1.0]], "float32"))
    assert out.tolist() == [[1.0, 2.0]] and not indices.backward(np.ones_like(out)).any()
    for op in ("zeros_like", "ones_like"):
        layer = TensorFunction(op)
        assert (layer(np.ones((2, 3), "float32")) == (op == "ones_like")).all()
        assert not layer.backward(np.ones((2, 3), "float32")).any()


# -- drawing: shapes as Keras', a model beside Keras, files, refusals ----------------------------------
def _drawn(lib, o):
    x = lib.Input((5, 4))
    ids = lib.Input((6,), dtype="int32")
    return [o.einsum("bij,bkj->bik", x, x), o.einsum("bij,jk->bik", x, W.astype("float32")),
            o.einsum("...ij,jk->...ik", x, W.astype("float32")), o.take(x, np.array([0, 2]), axis=1),
            o.take(np.ones((10, 3), "float32"), ids, axis=0), o.take_along_axis(x, np.zeros((1, 2, 4), "int32"), axis=1),
            o.pad(x, ((0, 0), (1, 2), (0, 1))), *o.split(x, 2, axis=2), *o.split(x, [1, 3], axis=1),
            o.tile(x, (1, 2, 3)), o.tile(x, (2, 3)), o.repeat(x, 2, axis=1), o.repeat(x, [1, 2, 1, 0], axis=2),
            o.flip(x, axis=1), o.broadcast_to(x[:, :1], (None, 5, 4)), o.zeros_like(x), o.ones_like(x),
            o.top_k(x, 2)[0], o.softmax(x, axis=(1, 2)), o.log_softmax(x, axis=(1, 2))]


def test_symbolic_shapes_are_keras(keras):
    ours, theirs = _drawn(gn, ops), _drawn(keras, keras.ops)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        assert a.shape == tuple(b.shape) and a.dtype == b.dtype, (k, a.shape, b.shape)
    values, indices = ops.top_k(gn.Input((5, 4)), 3)
    assert values.shape == indices.shape == (None, 5, 3)


TABLE = np.linspace(-2, 2, 20).reshape(5, 4).astype("float32")
EXTRA = np.linspace(0, 1, 12).reshape(2, 6).astype("float32")


def _structured(lib, o, keras_side=False):
    """A model of the structural ops, einsum-attention scores, gathers, pads and joins."""
    x = lib.Input((6, 4))
    ids = lib.Input((3,), dtype="int32")
    h = lib.layers.Dense(4, name="d")(x)                                            # (None, 6, 4)
    scores = o.einsum("bik,bjk->bij", o.einsum("bij,jk->bik", h, W.astype("float32")),
                      o.einsum("bij,jk->bik", h, W[::-1].astype("float32")))    # (None, 6, 6)
    top, where = o.top_k(o.softmax(scores, axis=-1), 2)                              # (None, 6, 2) each
    chosen = o.take_along_axis(scores, where, axis=-1)                             # tensor indices: (None, 6, 2)
    picked = o.take_along_axis(h, np.array([[[1, 0, 3, 2]]]), axis=1)               # (None, 1, 4)
    gathered = o.take(h, np.array([0, 2, 2, 5]), axis=1)                            # (None, 4, 4)
    emb = o.take(TABLE, ids, axis=0)                                                # (None, 3, 4)
    padded = o.pad(gathered, ((0, 0), (1, 0), (0, 2)), mode="reflect")             # (None, 5, 6)
    a, b = o.split(padded, [2], axis=1)                                             # (None, 2, 6), (None, 3, 6)
    extra = o.zeros_like(a[:, :, :1]) + EXTRA if keras_side else EXTRA              # Keras: a constant via a tensor
    joined = o.concatenate([o.repeat(a, 2, axis=1), o.flip(b, axis=2), extra], axis=1)   # (None, 9, 6)
    tiled = o.tile(o.pad(emb, ((0, 0), (0, 0), (1, 1))), (1, 3))                  # (None, 3, 18)
    # (Keras on TensorFlow draws broadcast_to(x, (None, ...)) but fails to run it: a join there)
    twice = o.concatenate([picked, picked], axis=1) if keras_side else o.broadcast_to(picked, (None, 2, 4))
    flat = o.concatenate([o.reshape(top, (-1, 12)), o.reshape(chosen, (-1, 12)), o.reshape(picked, (-1, 4)), o.reshape(joined, (-1, 54)),
                          o.reshape(tiled, (-1, 54)), o.reshape(twice, (-1, 8))],
                         axis=-1)
    return [x, ids], lib.layers.Dense(2, name="out")(o.tanh(flat))


def test_a_model_of_structural_ops_predicts_and_trains_as_keras(rng, keras):
    ours = gn.Model(*_structured(gn, ops), seed=0)
    theirs = keras.Model(*_structured(keras, keras.ops, keras_side=True))
    for name in ("d", "out"):
        theirs.get_layer(name).set_weights(ours.get_layer(name).get_weights())
    x = rng.standard_normal((32, 6, 4)).astype(np.float32)
    ids = rng.integers(0, 5, (32, 3)).astype(np.int32)
    y = rng.standard_normal((32, 2)).astype(np.float32)
    np.testing.assert_allclose(ours.predict([x, ids], verbose=0), theirs.predict([x, ids], verbose=0),
                               rtol=1e-5, atol=1e-6)
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(0.05))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.05))
    ours_loss = ours.fit([x, ids], y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    their_loss = theirs.fit([x, ids], y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    assert ours_loss[-1] < ours_loss[0]
    np.testing.assert_allclose(ours_loss, their_loss, rtol=1e-5)
    for name in ("d", "out"):
        for a, b in zip(ours.get_layer(name).get_weights(), theirs.get_layer(name).get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_a_float64_model_agrees_with_finite_differences(rng):
    model = gn.Model(*_structured(gn, ops), seed=0, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    check_model(model, [rng.standard_normal((3, 6, 4)), rng.integers(0, 5, (3, 3))], rng.standard_normal((3, 2)))


def test_save_load_and_clone_round_trip(rng, tmp_path):
    model = gn.Model(*_structured(gn, ops), seed=0)
    x = [rng.standard_normal((4, 6, 4)).astype(np.float32), rng.integers(0, 5, (4, 3))]
    model.save(tmp_path / "structure.npz")
    loaded = gn.load_model(tmp_path / "structure.npz")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    for copy in (gn.models.model_from_json(model.to_json()), gn.models.clone_model(model)):
        copy.set_weights(model.get_weights())
        np.testing.assert_array_equal(copy.predict(x, verbose=0), model.predict(x, verbose=0))
        assert [layer.get_config() for layer in copy.layers] == [layer.get_config() for layer in model.layers]


@pytest.mark.parametrize("make, error, message", [
    (lambda x: ops.einsum("bij,bkj->ik", x, x), ValueError, "must be the output's first index"),
    (lambda x: ops.einsum("bij,bj->bi", x, np.ones((1, 4))), ValueError, "in no constant"),
    (lambda x: ops.einsum("bij,cj->bi", x, x[:, 0]), ValueError, "first indices .* differ"),
    (lambda x: ops.einsum("bii->bi", x[:, :4]), ValueError, "a diagonal"),
    (lambda x: ops.einsum("bij,jk->bik", x, np.ones((3, 2))), ValueError, "index 'j' has sizes 4 and 3"),
    (lambda x: ops.einsum("bij,jk->bik", x), ValueError, "names 2 operands, got 1"),
    (lambda x: ops.einsum(3, x), TypeError, "subscripts must be a string"),
    (lambda x: ops.take(x, np.array([0, 1])), ValueError, "axis=None reads the flattened tensor"),
    (lambda x: ops.take(x, np.array([0, 1]), axis=0), ValueError, "names the batch axis 0"),
    (lambda x: ops.take(x, np.array([0, 5]), axis=1), ValueError, r"indices 0\.\.5 are outside an axis of size 5"),
    (lambda x: ops.take(x, np.array([0.5]), axis=1), TypeError, "indices must be integers"),
    (lambda x: ops.take(x, x, axis=1), TypeError, "both tensors"),
    (lambda x: ops.take(np.ones((3, 2)), x, axis=1), ValueError, "give axis=0"),
    (lambda x: ops.take_along_axis(x, np.zeros((2, 1, 4), int), axis=1), ValueError, "would change the batch axis"),
    (lambda x: ops.take_along_axis(x, np.zeros((1, 4), int), axis=1), ValueError, "need the 3 axes"),
    (lambda x: ops.pad(x, ((1, 1), (0, 0), (0, 0))), ValueError, "pads the batch axis"),
    (lambda x: ops.pad(x, 1), ValueError, "one \\(before, after\\) pair"),
    (lambda x: ops.pad(x, ((0, 0), (0, 0))), ValueError, "2 pairs for tensors of 3 axes"),
    (lambda x: ops.pad(x, ((0, 0), (5, 0), (0, 0)), mode="reflect"), ValueError, "at most 4"),
    (lambda x: ops.pad(x, ((0, 0), (1, 0), (0, 0)), mode="mean"), ValueError, "mode must be one of"),
    (lambda x: ops.pad(x, ((0, 0), (1, 0), (0, 0)), mode="reflect", constant_values=1), ValueError, "constant_values"),
    (lambda x: ops.split(x, 2), ValueError, "names the batch axis 0"),
    (lambda x: ops.split(x, 2, axis=1), ValueError, "5 is not a multiple of 2"),
    (lambda x: ops.tile(x, (2, 1, 1)), ValueError, "would repeat the batch axis"),
    (lambda x: ops.repeat(x, 2), ValueError, "axis=None flattens"),
    (lambda x: ops.repeat(x, [1, 2], axis=2), ValueError, "2 counts for an axis of size 4"),
    (lambda x: ops.flip(x), ValueError, "axis=None reverses every axis"),
    (lambda x: ops.broadcast_to(x, (3, 5, 4)), ValueError, "the batch's entry None"),
    (lambda x: ops.broadcast_to(x, (None, 5, 8)), ValueError, "do not broadcast"),
    (lambda x: ops.zeros_like(x, dtype="int32"), ValueError, "must be a float dtype"),
    (lambda x: ops.top_k(x, 5), ValueError, "k=5 needs a last sample axis of 5 or more"),
    (lambda x: ops.top_k(x, -1), ValueError, "k must be 0 or more"),      # (k=0: empty, as Keras; test_parity_fixsmall.py)
    (lambda x: ops.concatenate([x, np.ones((3, 5, 4))], axis=1), ValueError, "a batch axis of size 1"),
    (lambda x: ops.concatenate([x, np.ones((5, 3))], axis=1), ValueError, "must match on every axis but axis=1"),
    (lambda x: ops.softmax(x, axis=(0, 1)), ValueError, "names the batch axis"),
])
def test_refusals_name_what_was_wrong(make, error, message):
    with pytest.raises(error, match=message):
        make(gn.Input((5, 4)))


def test_eager_refusals():
    with pytest.raises(ValueError, match="k must be an integer from 0"):
        ops.top_k(np.ones((2, 3)), 4)
    with pytest.raises(ValueError, match="mode must be one of"):
        ops.pad(np.ones(3), 1, mode="median")
    with pytest.raises(TypeError, match="subscripts must be a string"):
        ops.einsum(np.ones(3))
    with pytest.raises(ValueError, match="softmax: axis: names an axis twice"):
        ops.softmax(np.ones((2, 3)), axis=(1, -1))
