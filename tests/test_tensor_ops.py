"""Arithmetic and indexing on symbolic tensors (layers/tensor_ops.py): each op against float64
finite differences and PyTorch autograd, a model using them trained beside Keras 3, files,
configs, clones, subclassed models, masks and the refusals."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_layer, check_model
from glassnet.layers.tensor_ops import TensorOp

L = gn.layers
POSITIONS = np.linspace(-1, 1, 12).reshape(3, 4)

# name -> (the layer, sample shape of its input, the op on a torch tensor or a NumPy array)
ONE_INPUT = {
    "add number": (lambda **kw: TensorOp("add", 2.5, **kw), (3, 4), lambda x: x + 2.5),
    "add sample-shaped": (lambda **kw: TensorOp("add", POSITIONS, **kw), (3, 4), lambda x: x + POSITIONS),
    "subtract per channel": (lambda **kw: TensorOp("subtract", [1.0, 2.0, 3.0, 4.0], **kw), (3, 4),
                             lambda x: x - np.array([1.0, 2.0, 3.0, 4.0])),
    "subtract reversed": (lambda **kw: TensorOp("subtract", 1.5, reverse=True, **kw), (3, 4), lambda x: 1.5 - x),
    "multiply batch axis of 1": (lambda **kw: TensorOp("multiply", POSITIONS[None], **kw), (3, 4),
                                 lambda x: x * POSITIONS[None]),
    # a constant that grows a sample axis: (batch, 1, 4) * (3, 1) -> (batch, 3, 4); summed back
    "multiply growing": (lambda **kw: TensorOp("multiply", [[1.0], [-2.0], [0.5]], **kw), (1, 4),
                         lambda x: x * np.array([[1.0], [-2.0], [0.5]])),
    "true_divide number": (lambda **kw: TensorOp("true_divide", 255.0, **kw), (3, 4), lambda x: x / 255.0),
    "true_divide array": (lambda **kw: TensorOp("true_divide", POSITIONS + 2, **kw), (3, 4), lambda x: x / (POSITIONS + 2)),
    "true_divide reversed": (lambda **kw: TensorOp("true_divide", 3.0, reverse=True, **kw), (3, 4), lambda x: 3.0 / x),
    "power 2": (lambda **kw: TensorOp("power", 2, **kw), (3, 4), lambda x: x ** 2),
    "power 3": (lambda **kw: TensorOp("power", 3.0, **kw), (3, 4), lambda x: x ** 3.0),
    "power 0.5": (lambda **kw: TensorOp("power", 0.5, **kw), (3, 4), lambda x: x ** 0.5),
    "negative": (lambda **kw: TensorOp("negative", **kw), (3, 4), lambda x: -x),
    "absolute": (lambda **kw: TensorOp("absolute", **kw), (3, 4), lambda x: abs(x)),
    "get_item [:, 0]": (lambda **kw: TensorOp("get_item", index=(slice(None), 0), **kw), (3, 4), lambda x: x[:, 0]),
    "get_item [..., :3]": (lambda **kw: TensorOp("get_item", index=(Ellipsis, slice(None, 3)), **kw), (3, 4),
                           lambda x: x[..., :3]),
    "get_item steps": (lambda **kw: TensorOp("get_item", index=(slice(None), slice(None, None, -2), slice(1, 4, 2)), **kw),
                       (3, 4), lambda x: x[:, ::-2, 1:4:2] if isinstance(x, np.ndarray) else x.flip(1)[:, ::2, 1:4:2]),
    "get_item None and -1": (lambda **kw: TensorOp("get_item", index=(slice(None), None, -1), **kw), (3, 4),
                             lambda x: x[:, None, -1]),
}
# two tensors: (sample shapes of a and b, the op)
TWO_INPUTS = {
    "add": ([(3, 4), (3, 4)], lambda a, b: a + b),
    "subtract": ([(3, 1), (1, 4)], lambda a, b: a - b),
    "multiply": ([(3, 4), (1, 4)], lambda a, b: a * b),
    "true_divide": ([(1, 4), (3, 4)], lambda a, b: a / b),
}


def _input(shape, rng, positive=False, batch=5):
    x = rng.standard_normal((batch, *shape))
    # off the kinks and poles: abs at 0, 1 / x near 0, x ** 0.5 of negatives
    return np.abs(x) + 0.5 if positive else np.where(np.abs(x) < 0.2, 0.5, x)


def _positive(name):
    return name in ("power 0.5", "true_divide reversed")


@pytest.mark.parametrize("name", sorted(ONE_INPUT))
def test_one_input_ops_agree_with_finite_differences(name, rng):
    factory, shape, _ = ONE_INPUT[name]
    report = check_layer(factory(dtype="float64"), _input(shape, rng, _positive(name)))
    assert report["max_error"] < 1e-6 and "input" in report["errors"]


@pytest.mark.parametrize("name", sorted(TWO_INPUTS))
def test_two_tensor_ops_agree_with_finite_differences(name, rng):
    shapes, _ = TWO_INPUTS[name]
    xs = [_input(shapes[0], rng), _input(shapes[1], rng, positive=name == "true_divide")]
    report = check_layer(TensorOp(name, dtype="float64"), xs)
    assert report["max_error"] < 1e-6 and {"input 0", "input 1"} <= set(report["errors"])


def test_the_gradient_check_catches_a_wrong_gradient(rng):
    class Wrong(TensorOp):
        def backward(self, grad_output):
            return super().backward(grad_output) * 1.01
    with pytest.raises(Exception, match="input"):
        check_layer(Wrong("multiply", 3.0, dtype="float64"), _input((3, 4), rng))


@pytest.mark.parametrize("name", sorted(ONE_INPUT))
def test_one_input_ops_match_pytorch_autograd(name, rng, torch):
    factory, shape, function = ONE_INPUT[name]
    x = _input(shape, rng, _positive(name))
    layer = factory(dtype="float64")
    out = layer(x)
    upstream = rng.standard_normal(out.shape)
    grad = layer.backward(upstream)
    t = torch.tensor(x, requires_grad=True)
    with_torch = {"add sample-shaped": lambda x: x + torch.tensor(POSITIONS),
                  "subtract per channel": lambda x: x - torch.tensor([1.0, 2.0, 3.0, 4.0]),
                  "multiply batch axis of 1": lambda x: x * torch.tensor(POSITIONS[None]),
                  "multiply growing": lambda x: x * torch.tensor([[1.0], [-2.0], [0.5]]),
                  "true_divide array": lambda x: x / torch.tensor(POSITIONS + 2)}.get(name, function)
    theirs = with_torch(t)
    theirs.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out, theirs.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", sorted(TWO_INPUTS))
def test_two_tensor_ops_match_pytorch_autograd(name, rng, torch):
    shapes, function = TWO_INPUTS[name]
    xs = [_input(shapes[0], rng), _input(shapes[1], rng, positive=name == "true_divide")]
    layer = TensorOp(name, dtype="float64")
    out = layer(xs)
    upstream = rng.standard_normal(out.shape)
    grads = layer.backward(upstream)
    ts = [torch.tensor(x, requires_grad=True) for x in xs]
    theirs = function(*ts)
    theirs.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out, theirs.detach().numpy(), rtol=1e-12)
    for k in range(2):      # the broadcast operand's gradient summed over the axes it grew on
        assert grads[k].shape == xs[k].shape
        np.testing.assert_allclose(grads[k], ts[k].grad.numpy(), rtol=1e-12, atol=1e-15)


def test_float32_stays_float32(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    for name, (factory, _, _) in ONE_INPUT.items():
        layer = factory()
        if name == "multiply growing":
            continue
        out = layer(np.abs(x) + 0.5)
        assert out.dtype == np.float32 and layer.backward(np.ones_like(out)).dtype == np.float32, name
    a = TensorOp("true_divide")([x, x[:, :1] + 2])
    assert a.dtype == np.float32


# -- drawing: the operators on Inputs and drawn tensors ----------------------------------------------
def test_operators_make_tensor_op_calls_with_keras_shapes():
    inputs = gn.Input((5, 4))
    other = L.Dense(4)(inputs)
    cases = {
        "inputs / 255.0": (inputs / 255.0, (None, 5, 4), "true_divide"),
        "255.0 / inputs": (255.0 / inputs, (None, 5, 4), "true_divide"),
        "x + positions": (inputs + np.ones((5, 4)), (None, 5, 4), "add"),
        "positions + x (NumPy on the left)": (np.ones((5, 4)) + inputs, (None, 5, 4), "add"),
        "batch axis of 1": (inputs * np.ones((1, 5, 4)), (None, 5, 4), "multiply"),
        "1 - x": (1 - other, (None, 5, 4), "subtract"),
        "-x": (-other, (None, 5, 4), "negative"),
        "abs": (abs(other), (None, 5, 4), "absolute"),
        "x ** 2": (other ** 2, (None, 5, 4), "power"),
        "np.power(x, 2)": (np.power(other, 2), (None, 5, 4), "power"),
        "x[:, 0]": (other[:, 0], (None, 4), "get_item"),
        "x[..., :3]": (other[..., :3], (None, 5, 3), "get_item"),
        "x[:, ::2, None]": (other[:, ::2, None], (None, 3, 1, 4), "get_item"),
        "a * b": (inputs * other, (None, 5, 4), "multiply"),
        "a - b broadcast": (inputs - other[:, :1], (None, 5, 4), "subtract"),
        "grows a sample axis": (other[:, :1] * np.ones((3, 1)), (None, 3, 4), "multiply"),
    }
    for label, (tensor, shape, op) in cases.items():
        assert tensor.shape == shape and isinstance(tensor.layer, TensorOp) and tensor.layer.op == op, label
        assert tensor.dtype == "float32"


def test_an_open_axis_takes_an_index_and_broadcasts():
    sequence = gn.Input((None, 3))
    assert sequence[:, -1].shape == (None, 3) and sequence[:, 1:].shape == (None, None, 3)
    assert (sequence * np.ones(3)).shape == (None, None, 3)
    model = gn.Model(sequence, sequence[:, -1] * 2.0)
    x = np.arange(24, dtype=np.float32).reshape(2, 4, 3)
    np.testing.assert_array_equal(model.predict(x, verbose=0), x[:, -1] * 2)


@pytest.mark.parametrize("make, error, message", [
    (lambda x: x[0], ValueError, r"indexes the batch axis.*':' alone"),
    (lambda x: x[1:], ValueError, "batch axis"),
    (lambda x: x[None], ValueError, "adds an axis before the batch axis"),
    (lambda x: x[:, 7], ValueError, "out of range for an axis of size 5"),
    (lambda x: x[:, 5:], ValueError, "leaves no entries"),
    (lambda x: x[:, :, :, 0], ValueError, "an index of 4 axes for tensors of 3"),
    (lambda x: x[:, [0, 1]], TypeError, "basic indexing"),
    (lambda x: x[[0, 1]], TypeError, "basic indexing"),
    (lambda x: x[:, 1.5], TypeError, "ints, slices, None and"),
    (lambda x: x[:, ::0], ValueError, "step cannot be zero"),
    (lambda x: x + np.ones((3, 5, 4)), ValueError, "would change the batch axis"),
    (lambda x: x + np.ones((2, 1, 5, 4)), ValueError, "would change the batch axis"),
    (lambda x: x * np.ones((3, 4)), ValueError, "sizes 5 and 3 do not broadcast"),
    (lambda x: x + np.array([1.0, np.inf, 0, 0]), ValueError, "finite"),
    (lambda x: x + "a", TypeError, "unsupported operand"),
    (lambda x: x + {"a": 1}, TypeError, "unsupported operand"),
    (lambda x: x + np.array(["a"] * 4), TypeError, "array of numbers"),
    # x ** y, 2 ** x and x ** array make ops.power's node (tests/test_ops_math.py); its shapes are checked
    (lambda x: x ** x[:, 0], ValueError, "one number of axes"),
    (lambda x: x ** np.ones((3, 5, 4)), ValueError, "would change the batch axis"),
    (lambda x: x * L.Dense(4)(gn.Input((4,))), ValueError, "one number of axes"),
    (lambda x: x * L.Dense(3)(x), ValueError, "sizes 4 and 3 do not broadcast"),
    # comparisons, @, // are glassnet.ops' nodes (tests/test_ops_more.py): their operands are checked
    (lambda x: x > "a", TypeError, "not supported between"),
    (lambda x: x // {"a": 1}, TypeError, "unsupported operand"),
    (lambda x: x @ np.ones((3, 3)), ValueError, "inner sizes 4 and 3 differ"),
    # the rest keep the refusal they had: NumPy's functions, truth
    (lambda x: np.tanh(x), TypeError, "holds no values"),
    (lambda x: np.maximum(x, 0), TypeError, "holds no values"),
    (lambda x: bool(L.Dense(2)(x)), TypeError, "holds no values"),
    (lambda x: list(x), TypeError, "holds no values"),
])
def test_refusals_name_what_was_wrong(make, error, message):
    with pytest.raises(error, match=message):
        make(gn.Input((5, 4)))


def test_refused_constructor_arguments():
    for args, kwargs, message in [(("mod",), {}, "op must be one of"), (("power",), {}, "number exponent"),
                                  (("negative", 2.0), {}, "takes no constant"), (("get_item",), {}, "needs an index"),
                                  (("add", 1.0), {"reverse": True}, "reverse .* subtract and true_divide"),
                                  (("add",), {"input_shape": (3,)}, "takes no input_shape"),
                                  (("add", 1.0), {"index": (0,)}, "index is get_item's")]:
        with pytest.raises((TypeError, ValueError), match=message):
            TensorOp(*args, **kwargs)


def test_eager_arrays_are_unchanged(rng):
    x = rng.standard_normal((2, 3)).astype(np.float32)
    assert np.array_equal(x / 255.0, np.divide(x, 255.0)) and (x[:, 0] * 2).dtype == np.float32


# -- models ----------------------------------------------------------------------------------------
def _vit_like(lib, positions):
    """keras.io's idioms: pixels scaled, positions added, a class token read, two branches multiplied."""
    inputs = lib.Input((6, 4))
    x = inputs / 255.0
    x = lib.layers.Dense(8, name="embed")(x)
    x = x + positions
    cls = x[:, 0]
    gate = lib.layers.Dense(8, activation="sigmoid", name="gate")(x[:, -1])
    h = cls * gate
    # (minus, not plus: Keras 3.15's TensorFlow add takes (8, 8) + (8, 1) for a bias along the
    # last axis when the batch has 8 rows, not NumPy's broadcast; see test_add_broadcasts_as_numpy)
    h = (h - 0.5) ** 2 - abs(-x[..., 1:3][:, 2, :1])
    return inputs, lib.layers.Dense(1, name="out")(h)


def test_a_model_of_tensor_ops_trains_as_keras(rng, keras):
    positions = rng.standard_normal((6, 8)).astype(np.float32) * 0.1
    ours = gn.Model(*_vit_like(gn, positions), seed=0)
    keras.utils.clear_session()     # Keras' name counters run over the session: start them again
    theirs = keras.Model(*_vit_like(keras, positions))
    for name in ("embed", "gate", "out"):
        theirs.get_layer(name).set_weights(ours.get_layer(name).get_weights())
    x = rng.uniform(0, 255, (32, 6, 4)).astype(np.float32)
    y = rng.standard_normal((32, 1)).astype(np.float32)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(0.05))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.05))
    ours_loss = ours.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0).history["loss"]
    their_loss = theirs.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0).history["loss"]
    assert ours_loss[-1] < ours_loss[0]
    np.testing.assert_allclose(ours_loss, their_loss, rtol=2e-6)
    for name in ("embed", "gate", "out"):
        for a, b in zip(ours.get_layer(name).get_weights(), theirs.get_layer(name).get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # Keras' summary names the same ops, in the same order (its operations, the Inputs aside)
    assert [layer.name for layer in ours.layers] == [
        op.name for op in theirs.operations if not isinstance(op, keras.layers.InputLayer)]


def test_add_broadcasts_as_numpy(rng):
    # Keras 3.15.1's TensorFlow backend gives keras.ops.add(a, b) of shapes (8, 8) and (8, 1) as
    # tf.nn.bias_add (b added along the last axis), which NumPy, PyTorch and glassnet do not
    a, b = gn.Input((8,)), gn.Input((1,))
    model = gn.Model([a, b], a + b)
    xa, xb = rng.standard_normal((8, 8)).astype(np.float32), rng.standard_normal((8, 1)).astype(np.float32)
    np.testing.assert_array_equal(model.predict([xa, xb], verbose=0), xa + xb)


def test_a_float64_model_of_tensor_ops_agrees_with_finite_differences(rng):
    positions = rng.standard_normal((6, 8)) * 0.1
    model = gn.Model(*_vit_like(gn, positions), seed=0, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    x = rng.uniform(0, 255, (4, 6, 4))
    check_model(model, x, rng.standard_normal((4, 1)))
    assert model.predict(x, verbose=0).dtype == np.float64


def test_save_load_json_config_and_clone_round_trip(rng, tmp_path, capsys):
    positions = rng.standard_normal((6, 8)).astype(np.float32)
    model = gn.Model(*_vit_like(gn, positions), seed=0)
    model.compile(loss="mse", optimizer="adam")
    x = rng.uniform(0, 255, (16, 6, 4)).astype(np.float32)
    y = rng.standard_normal((16, 1)).astype(np.float32)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "ops.npz")
    loaded = gn.load_model(tmp_path / "ops.npz")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert len(loaded.get_weights()) == len(model.get_weights()) == 6      # the constant is no weight
    add = loaded.get_layer("add")
    np.testing.assert_array_equal(np.asarray(add.get_config()["constant"], np.float32), positions)
    assert loaded.get_layer("get_item").get_config()["index"] == [{"slice": [None, None, None]}, 0]
    assert loaded.get_layer("get_item_1").get_config()["index"] == [{"slice": [None, None, None]}, -1]
    for copy in (gn.models.model_from_json(model.to_json()), gn.Model.from_config(model.get_config()),
                 gn.models.clone_model(model)):
        copy.set_weights(model.get_weights())
        np.testing.assert_array_equal(copy.predict(x, verbose=0), model.predict(x, verbose=0))
        assert [layer.get_config() for layer in copy.layers] == [layer.get_config() for layer in model.layers]
    model.summary()
    assert "true_divide (TensorOp)" in capsys.readouterr().out
    # a TensorOp with a constant is a layer of one input: a Sequential takes it too
    chain = gn.Sequential([gn.Input((3,)), TensorOp("multiply", [1.0, 2.0, 3.0]), L.Dense(1)], seed=0)
    chain.save(tmp_path / "chain.npz")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "chain.npz").predict(x[:2, 0, :3], verbose=0),
                                  chain.predict(x[:2, 0, :3], verbose=0))


def test_a_subclassed_model_computes_on_its_tensors_in_call(rng):
    class Block(gn.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = L.Dense(3)
            self.head = L.Dense(1)

        def call(self, inputs):
            h = self.dense(inputs / 10.0)
            return self.head(h * h[:, :1] - 1.0)

    for dtype in ("float32", "float64"):
        model = Block(seed=0, dtype=dtype)
        x = rng.standard_normal((8, 4)).astype(dtype)
        out = model.predict(x, verbose=0)
        dense, head = model.dense, model.head
        h = (x / 10.0) @ dense.params["kernel"] + dense.params["bias"]
        expected = (h * h[:, :1] - 1.0) @ head.params["kernel"] + head.params["bias"]
        assert out.dtype == dtype
        np.testing.assert_allclose(out, expected, rtol=1e-5 if dtype == "float32" else 1e-12)
        model.compile(loss="mse", optimizer="sgd")
        if dtype == "float64":
            check_model(model, x, rng.standard_normal((8, 1)))


def test_a_shared_tensor_on_both_sides_gets_both_gradients(rng):
    inputs = gn.Input((3,))
    h = L.Dense(3)(inputs)
    model = gn.Model(inputs, L.Dense(1)(h * h), seed=0, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    check_model(model, rng.standard_normal((4, 3)), rng.standard_normal((4, 1)))


# -- masks -----------------------------------------------------------------------------------------
def test_a_mask_passes_an_op_with_a_constant(rng):
    # Keras 3.15 drops the mask at an op (its LSTM then reads the padding); glassnet hands it on:
    # [1, 2, 0, 0] gives what [1, 2] gives
    ids = gn.Input((None,))
    h = L.Embedding(10, 3, mask_zero=True)(ids) * 2.0 + np.ones(3)
    model = gn.Model(ids, L.LSTM(2)(h), seed=0)
    padded, short = model.predict(np.array([[1, 2, 0, 0]]), verbose=0), model.predict(np.array([[1, 2]]), verbose=0)
    np.testing.assert_allclose(padded, short, rtol=1e-6)


@pytest.mark.parametrize("make, message", [
    (lambda h: h[:, :1], "an index may move or drop the steps"),
    (lambda h: h * np.ones((2, 1)), "grows the tensor's shape"),          # one step made two
])
def test_a_mask_reaching_an_op_that_cannot_pass_it_is_refused(make, message):
    ids = gn.Input((1,))
    h = L.Embedding(10, 3, mask_zero=True)(ids)
    with pytest.raises(ValueError, match=message):
        gn.Model(ids, L.LSTM(2)(make(h)))
