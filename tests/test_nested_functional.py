"""A functional Model nested in a Sequential (Keras' transfer-learning pattern,
``Sequential([base, Dense(1)])``): its calls join the Sequential's with their graph, the same layer
objects, so that training the Sequential trains ``base``'s weights."""
import copy
import json

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L


def _residual_base(dtype="float64", seed=0):
    """A base that is no chain: a residual Add, and a Dense called twice (shared weights)."""
    inp = gn.Input((6,))
    a = L.Dense(6, activation="tanh", name="a")(inp)
    shared = L.Dense(6, name="shared")
    b = shared(a)
    c = shared(L.Add(name="add")([a, b]))
    out = L.Add(name="skip")([c, inp])
    return gn.Model(inp, out, name="base", seed=seed, dtype=dtype)


def _base_by_hand(h0, w):
    """``_residual_base`` in NumPy, from the weights ``w`` (a dict by layer name)."""
    a = np.tanh(h0 @ w["a"]["kernel"] + w["a"]["bias"])
    b = a @ w["shared"]["kernel"] + w["shared"]["bias"]
    c = (a + b) @ w["shared"]["kernel"] + w["shared"]["bias"]
    return c + h0


def _by_hand(x, w):
    """The residual base between Dense(6, tanh) in front and Dense(2) behind, in NumPy."""
    h0 = np.tanh(x @ w["front"]["kernel"] + w["front"]["bias"])
    return _base_by_hand(h0, w) @ w["head"]["kernel"] + w["head"]["bias"]


def _weights(model):
    return {layer.name: {k: v.copy() for k, v in layer.params.items()} for layer in model.layers}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_predictions_are_the_base_then_the_head_by_hand(rng, dtype):
    inp = gn.Input((4,))
    base = gn.Model(inp, L.Dense(8, activation="relu")(inp), seed=0, dtype=dtype)
    model = gn.Sequential([base, L.Dense(1)], seed=1, dtype=dtype)
    assert model.built and model.input_shape == (None, 4) and model.output_shape == (None, 1)
    assert model.layers[0] is base.layers[0]            # the same objects: the weights are shared
    x = rng.normal(size=(10, 4)).astype(dtype)
    head = model.layers[-1].params
    expected = base.predict(x) @ head["kernel"] + head["bias"]
    out = model.predict(x)
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_allclose(out, expected, rtol=1e-6 if dtype == "float32" else 1e-12, atol=1e-6)
    # and model.add(base) as well
    other = gn.Sequential(seed=1, dtype=dtype)
    other.add(_residual_base(dtype))
    other.add(L.Dense(2))
    assert other.predict(rng.normal(size=(3, 6)).astype(dtype)).shape == (3, 2)


def _sandwich(seed=0):
    """Dense(6, tanh) -> the residual base -> Dense(2), as a Sequential, float64."""
    base = _residual_base()
    model = gn.Sequential([L.Dense(6, activation="tanh", input_dim=5, name="front"), base, L.Dense(2, name="head")],
                          seed=seed, dtype="float64")
    return model, base


def test_a_graph_between_layers_predicts_and_trains_as_torch_autograd(rng, torch):
    model, base = _sandwich()
    assert [layer.name for layer in model.layers] == ["front", "a", "shared", "add", "skip", "head"]
    assert [layer.name for layer in model._node_layers] == ["front", "a", "shared", "add", "shared", "skip", "head"]
    x, y = rng.normal(size=(16, 5)), rng.normal(size=(16, 2))
    w = _weights(model)
    np.testing.assert_allclose(model.predict(x), _by_hand(x, w), rtol=1e-12, atol=1e-12)

    # the same network in torch ops, float64: its autograd gradients of the mse loss
    t = {name: {k: torch.tensor(v, requires_grad=True) for k, v in p.items()} for name, p in w.items()}
    tx = torch.tensor(x)
    h0 = torch.tanh(tx @ t["front"]["kernel"] + t["front"]["bias"])
    a = torch.tanh(h0 @ t["a"]["kernel"] + t["a"]["bias"])
    b = a @ t["shared"]["kernel"] + t["shared"]["bias"]
    c = (a + b) @ t["shared"]["kernel"] + t["shared"]["bias"]
    out = (c + h0) @ t["head"]["kernel"] + t["head"]["bias"]
    loss = ((out - torch.tensor(y)) ** 2).mean()
    loss.backward()

    # one SGD step of learning rate 1 moves every weight by minus its gradient
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(learning_rate=1.0))
    value = model.train_on_batch(x, y)
    assert value == pytest.approx(loss.item(), rel=1e-12)
    for name, params in w.items():
        for key, before in params.items():
            grad = before - model.get_layer(name).params[key]
            np.testing.assert_allclose(grad, t[name][key].grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=f"{name}/{key}")
    # the base computes alone with the weights the Sequential trained (its layers are the same objects)
    trained = _weights(model)
    assert not np.allclose(trained["a"]["kernel"], w["a"]["kernel"])
    h0 = np.tanh(x @ trained["front"]["kernel"] + trained["front"]["bias"])
    np.testing.assert_allclose(base.predict(h0), _base_by_hand(h0, trained), rtol=1e-12, atol=1e-12)


def test_gradients_equal_the_same_network_drawn_as_a_functional_model(rng):
    model, _ = _sandwich()
    inp = gn.Input((5,))
    h = L.Dense(6, activation="tanh", name="front")(inp)
    same = gn.Model(inp, L.Dense(2, name="head")(_residual_base()(h)), dtype="float64")
    same.set_weights(model.get_weights())
    x, y = rng.normal(size=(12, 5)), rng.normal(size=(12, 2))
    for m in (model, same):
        m.compile(loss="mse", optimizer=gn.optimizers.SGD(learning_rate=0.1))
        m.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), same.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_a_frozen_base_does_not_change_in_fit(rng):
    base = _residual_base()
    model = gn.Sequential([base, L.Dense(1)], seed=0, dtype="float64")
    base.trainable = False
    assert not any(layer.trainable for layer in base.layers)
    frozen, head = base.get_weights(), model.layers[-1].get_weights()
    model.compile(loss="mse", optimizer="adam")
    x, y = rng.normal(size=(32, 6)), rng.normal(size=(32, 1))
    model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    for a, b in zip(base.get_weights(), frozen):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(model.layers[-1].get_weights()[0], head[0])
    assert len(model.trainable_weights) == 2                # the head's kernel and bias
    lines = []
    model.summary(print_fn=lines.append)
    assert "Trainable params: 7" in lines[0] and "Non-trainable params: 84" in lines[0]
    # unfrozen: the base trains again
    base.trainable = True
    model.fit(x, y, epochs=1, verbose=0)
    assert not np.allclose(base.get_weights()[0], frozen[0])


def test_save_load_and_configs_round_trip(rng, tmp_path):
    model, _ = _sandwich()
    model.layers[1].trainable = False           # the base's first layer frozen: kept in the file
    model.compile(loss="mse", optimizer="adam", metrics=["mae"])
    x, y = rng.normal(size=(20, 5)), rng.normal(size=(20, 2))
    model.fit(x, y, epochs=2, verbose=0)
    model.save(tmp_path / "nested.npz")
    with open(tmp_path / "nested.npz", "rb") as f:
        assert b"pickle" not in f.read()
    loaded = gn.load_model(tmp_path / "nested.npz")
    assert type(loaded) is gn.Sequential
    assert [layer.name for layer in loaded._node_layers] == [layer.name for layer in model._node_layers]
    assert [layer.trainable for layer in loaded.layers] == [layer.trainable for layer in model.layers]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    # trains on as the model does (the optimizer's state came back)
    model.fit(x, y, epochs=1, shuffle=False, verbose=0)
    loaded.fit(x, y, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-12)
    # get_config / from_config and to_json / model_from_json: the same graph, new weights
    config = model.get_config()
    assert config["graph"] == {"calls": [0, 1, 2, 3, 2, 4, 5], "inbound": [[-1], [0], [1], [1, 2], [3], [4, 0], [5]]}
    again = gn.Sequential.from_config(json.loads(json.dumps(config)))
    again.set_weights(model.get_weights())
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    assert gn.model_from_json(model.to_json())._nested_calls is not None
    # a copy (pickle, deepcopy) keeps which layer is called twice
    twin = copy.deepcopy(model)
    np.testing.assert_array_equal(twin.predict(x), model.predict(x))
    twin.fit(x, y, epochs=1, shuffle=False, verbose=0)
    model.fit(x, y, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(twin.predict(x), model.predict(x), rtol=1e-12)


def test_a_crafted_graph_config_is_refused(edit_model_file, tmp_path):
    model, _ = _sandwich()
    model.save(tmp_path / "nested.npz")
    for change, message in [
            (lambda c: c["model"]["graph"].update(calls=[0, 1, 2, 3, 2, 4, 9]), "'calls' must name"),
            (lambda c: c["model"]["graph"].update(inbound=[[-1], [0], [1], [1, 2], [3], [4, 0], [7]]),
             "'inbound' of call 6"),
            (lambda c: c["model"]["graph"].update(inbound=[[-1], [0], [1], [1, 2], [3], [3, 0], [5]]),
             "every call but the last must be read"),
            # (a merging layer of yours may be drawn on a list of one; Add refuses it when built)
            (lambda c: c["model"]["graph"].update(inbound=[[-1], [0], [1], [2], [3], [4, 0], [5]]),
             r"layer add \(Add\): Add merges at least 2 inputs, got 1")]:
        edit_model_file(tmp_path / "nested.npz", change, tmp_path / "bad.npz")
        with pytest.raises(gn.ModelFileError, match=message):
            gn.load_model(tmp_path / "bad.npz")


def test_masks_go_through_the_nested_graph(rng):
    inp = gn.Input((None,))
    base = gn.Model(inp, L.LSTM(3)(L.Embedding(10, 4, mask_zero=True)(inp)), seed=0)
    model = gn.Sequential([base, L.Dense(1)], seed=1)
    x = rng.integers(1, 10, size=(6, 5))
    x[:, 3:] = 0                        # padding: the LSTM stops at step 3
    head = model.layers[-1].params
    np.testing.assert_allclose(model.predict(x), base.predict(x) @ head["kernel"] + head["bias"], rtol=1e-6)
    np.testing.assert_allclose(model.predict(x), model.predict(x[:, :3]), rtol=1e-6)
    # a mask that reaches the output: the loss scores the real steps alone, as the same functional model's
    inp = gn.Input((5,))
    base = gn.Model(inp, L.Dense(3)(L.Embedding(10, 4, mask_zero=True)(inp)), seed=0)
    model = gn.Sequential([base, L.Dense(1)], seed=1)
    inp = gn.Input((5,))
    same = gn.Model(inp, L.Dense(1)(L.Dense(3)(L.Embedding(10, 4, mask_zero=True)(inp))))
    same.set_weights(model.get_weights())
    y = rng.normal(size=(6, 5, 1))
    for m in (model, same):
        m.compile(loss="mse", optimizer="sgd")
    assert model.evaluate(x, y, verbose=0) == pytest.approx(same.evaluate(x, y, verbose=0), rel=1e-6)
    assert model._output_mask is not None


def test_nesting_composes_with_add_pop_and_symbolic_calls(rng):
    base = _residual_base()
    model = gn.Sequential([base], dtype="float64", seed=0)
    model.add(L.Dense(2, name="head"))
    x = rng.normal(size=(4, 6))
    assert model.pop().name == "head"
    np.testing.assert_array_equal(model.predict(x), base.predict(x))
    # popping the Add leaves the shared Dense's second call as the output, which a functional
    # Model may have (Sequential._output_layer): the model is that graph (another base: this one stays)
    popped = gn.Sequential([_residual_base()], dtype="float64", seed=0)
    assert popped.pop().name == "skip" and popped._output_layer is popped.get_layer("shared")
    # the Sequential nesting a graph nests in another, and is called as a layer in a functional Model
    model.add(L.Dense(2, name="head"))
    outer = gn.Sequential([model, L.Dense(1, name="top")], dtype="float64")
    assert outer._nested_calls is not None and len(outer._node_layers) == 7
    inp = gn.Input((6,))
    drawn = gn.Model(inp, model(inp), dtype="float64")
    np.testing.assert_allclose(drawn.predict(x), model.predict(x), rtol=1e-12)
    # a chain nesting only chains stays a chain
    chain = gn.Sequential([gn.Sequential([L.Dense(3, input_dim=2)]), L.Dense(1)])
    assert chain._nested_calls is None
    # a functional model whose graph is a chain pops back to a chain
    inp = gn.Input((2,))
    small = gn.Sequential([gn.Model(inp, L.Dense(3)(inp)), L.Dense(1)])
    small.pop()
    assert small._nested_calls is None and small.get_config().get("graph") is None


def test_bad_nestings_are_refused_by_name():
    a, b = gn.Input((3,), name="a"), gn.Input((3,), name="b")
    two_in = gn.Model([a, b], L.Dense(1)(L.Add()([a, b])), name="pair")
    with pytest.raises(ValueError, match="add: functional Model 'pair' has 2 inputs; a Sequential .* one input only"):
        gn.Sequential([two_in, L.Dense(1)])
    two_out = gn.Model(a, [L.Dense(1)(a), L.Dense(2)(a)], name="heads")
    with pytest.raises(ValueError, match=r"add: the model's last layer makes 2 outputs \(dense, dense_1\), and a "
                                         r"layer after it would read one array"):
        gn.Sequential([two_out, L.Dense(1)])
    base = _residual_base("float32")
    with pytest.raises(ValueError, match="has dtype float32, the model float64"):
        gn.Sequential([base], dtype="float64")
    assert base.layers[0].name == "a"             # refused whole: the base is as it was

    class Sub(gn.Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(2)

        def call(self, inputs):
            return self.dense(inputs)
    # (a subclass not drawn yet was refused here; it now waits for the input's shape, as Keras
    # builds it lazily: tests/test_lazy_blocks.py)
    waiting = gn.Sequential([Sub()])
    waiting.build((None, 3))
    assert waiting.output_shape == (None, 2)
    seq = gn.Input((4, 2))
    out, state, _ = L.LSTM(3, return_state=True)(seq)
    with pytest.raises(NotImplementedError, match=r"add: layer lstm \(LSTM\) returns its states or reads another "
                                                  r"layer's.*not support yet"):
        gn.Sequential([gn.Model(seq, L.Concatenate()([out, state]))])
    model = gn.Sequential([base, L.Dense(1)])
    with pytest.raises(ValueError, match=r"model 'base' holds layer a \(Dense\), which is already in this model"):
        model.add(base)
    with pytest.raises(ValueError, match=r"expects input samples|takes input samples|input samples of shape"):
        gn.Sequential([L.Dense(4, input_dim=2), base])


def test_the_nesting_trains_as_keras_with_the_same_weights_in_the_same_order(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")

    def draw(lib):
        inp = lib.Input((6,))
        a = lib.layers.Dense(6, activation="tanh", name="a")(inp)
        shared = lib.layers.Dense(6, name="shared")
        c = shared(lib.layers.Add(name="add")([a, shared(a)]))
        base = lib.Model(inp, lib.layers.Add(name="skip")([c, inp]))
        return base, lib.Sequential([base, lib.layers.Dense(2, name="head")])
    (base, ours), (their_base, theirs) = draw(gn), draw(keras)
    # Keras' weights are its nested model's then the head's: glassnet's order, so set_weights pairs them
    theirs.set_weights(ours.get_weights())
    x, y = rng.normal(size=(24, 6)).astype(np.float32), rng.normal(size=(24, 2)).astype(np.float32)
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    # the base frozen: the head alone trains, on the same batches, to the same losses and weights
    base.trainable = their_base.trainable = False
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(0.1))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.1))
    assert len(ours.trainable_weights) == len(theirs.trainable_weights) == 2
    mine = ours.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    their = theirs.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(mine, their, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # unfrozen: the base trains too, as Keras'
    base.trainable = their_base.trainable = True
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(0.1))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.1))
    mine = ours.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]
    their = theirs.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(mine, their, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
