"""Keras' cell API, RNN(cell) and StackedRNNCells: values against Keras 3.15 (one cell and stacks,
masks, go_backwards, states in and out, Keras' own configs), one cell against the matching layer
(the same weights, gradients, training and files), a stack's gradients against the cells written
step by step in PyTorch (float64), and the refusals."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import GRU, LSTM, RNN, GRUCell, LSTMCell, SimpleRNN, SimpleRNNCell, StackedRNNCells

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

L = gn.layers
KINDS = ["LSTM", "GRU", "SimpleRNN"]
SETTINGS = [{}, {"return_sequences": True, "go_backwards": True}]


def _cell(lib, kind, units, **kwargs):
    return getattr(lib.layers, f"{kind}Cell")(units, **kwargs)


def _stack(lib):
    return [lib.layers.LSTMCell(5), lib.layers.GRUCell(3), lib.layers.SimpleRNNCell(2)]


def _flat(keras_states):
    """Keras' stacked states, one list per cell, flat as glassnet returns them."""
    return [s for part in keras_states for s in (part if isinstance(part, (list, tuple)) else [part])]


def _mask():
    mask = np.ones((4, 6), dtype=bool)
    mask[1, 4:], mask[2, :2], mask[3, 1:] = False, False, False
    return mask


# -- one cell: Keras' RNN(cell), and glassnet's own layer ------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("settings", SETTINGS, ids=str)
def test_one_cell_matches_keras_rnn_of_the_cell(kind, settings, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.standard_normal((4, 6, 3)).astype(np.float32)
    ours = RNN(_cell(gn, kind, 5, bias_initializer="random_normal"), return_state=True, seed=0, **settings)
    ours.build((6, 3))
    theirs = keras.layers.RNN(_cell(keras, kind, 5), return_state=True, **settings)
    theirs(x)
    # Keras' weights in Keras' order: kernel, recurrent_kernel, bias, of the same shapes
    assert [w.shape for w in theirs.get_weights()] == [w.shape for w in ours.get_weights()]
    assert [w.path.split("/")[-1] for w in theirs.weights] == list(ours.params)
    theirs.set_weights(ours.get_weights())
    count = 2 if kind == "LSTM" else 1
    start = [rng.standard_normal((4, 5)).astype(np.float32) for _ in range(count)]
    for call in ({}, {"mask": _mask(), "initial_state": start}):
        mine, expected = ours(x, **call), theirs(x, **call)
        assert len(mine) == len(expected) == 1 + count
        for a, b in zip(mine, expected):
            np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("settings", SETTINGS + [{"dropout": 0.3, "recurrent_dropout": 0.2}], ids=str)
def test_one_cell_computes_and_trains_as_the_layer(kind, settings, rng):
    x = rng.standard_normal((8, 6, 3))
    y = rng.standard_normal((8, 4))
    cell_args = {k: v for k, v in settings.items() if k in ("dropout", "recurrent_dropout")}
    layer_args = {k: v for k, v in settings.items() if k not in cell_args}

    def model(recurrent):
        m = gn.Sequential([gn.Input((6, 3)), recurrent, L.Flatten(), L.Dense(4)], seed=3, dtype="float64")
        m.compile("mse", gn.optimizers.SGD(0.05))
        return m
    ours = model(RNN(_cell(gn, kind, 5, **cell_args), **layer_args))
    layer = model(getattr(L, kind)(5, **cell_args, **layer_args))
    # the same seed draws the same weights, in the same order
    for a, b in zip(ours.get_weights(), layer.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ours.predict(x, verbose=0), layer.predict(x, verbose=0))
    # the same gradients, dropout masks included (one generator, drawn the same way)
    ours.layers[0].forward(x, training=True)
    layer.layers[0].forward(x, training=True)
    grad = rng.standard_normal(ours.layers[0].output_shape((6, 3)))[None].repeat(8, 0)
    np.testing.assert_array_equal(ours.layers[0].backward(grad), layer.layers[0].backward(grad))
    for key in layer.layers[0].grads:
        np.testing.assert_array_equal(ours.layers[0].grads[key], layer.layers[0].grads[key])
    history = ours.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0).history["loss"]
    assert history == layer.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0).history["loss"]


def test_a_model_file_of_rnn_cells_round_trips(rng, tmp_path):
    x = rng.standard_normal((5, 6, 3)).astype(np.float32)
    model = gn.Sequential([gn.Input((6, 3)), RNN(LSTMCell(4, recurrent_dropout=0.1), return_sequences=True),
                           RNN([GRUCell(3, reset_after=True), SimpleRNNCell(2, activation="relu")], go_backwards=True),
                           L.Dense(1)], seed=0)
    model.compile("mse", gn.optimizers.Adam(0.01))
    model.fit(x, np.ones((5, 1)), epochs=2, verbose=0)
    model.save(tmp_path / "cells.npz")
    again = gn.load_model(tmp_path / "cells.npz")
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    assert again.layers[1].get_config() == model.layers[1].get_config()
    assert list(again.layers[1].params) == [f"cell_{k}_{name}" for k in range(2)
                                            for name in ("kernel", "recurrent_kernel", "bias")]
    assert gn.model_from_json(model.to_json()).layers[0].cell_layers[0].recurrent_dropout == 0.1


@pytest.mark.parametrize("cells", [lambda lib: lib.layers.LSTMCell(4, kernel_initializer="he_uniform",
                                                                   unit_forget_bias=False, dropout=0.1),
                                   _stack], ids=["LSTMCell", "stacked"])
def test_a_keras_config_of_rnn_loads(cells, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    theirs = keras.layers.RNN(cells(keras), return_sequences=True, go_backwards=True, unroll=True)
    x = rng.standard_normal((2, 6, 3)).astype(np.float32)
    theirs(x)
    ours = RNN.from_config(theirs.get_config())         # as Keras writes it: module, dtype policy, seed None...
    ours.build((6, 3))
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), rtol=1e-5, atol=2e-6)
    assert ours.unroll and ours.name == theirs.name
    if not isinstance(ours.cell, StackedRNNCells):
        assert ours.cell.dropout == 0.1 and not ours.cell.unit_forget_bias
    assert RNN.from_config(ours.get_config()).get_config() == ours.get_config()


# -- stacked cells ----------------------------------------------------------------------------------
@pytest.mark.parametrize("settings", [{}, {"return_sequences": True}, {"go_backwards": True},
                                      {"go_backwards": True, "return_sequences": True, "zero_output_for_mask": True}],
                         ids=str)
def test_stacked_cells_match_keras(settings, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.standard_normal((4, 6, 3)).astype(np.float32)
    ours = RNN(_stack(gn), return_state=True, seed=0, **settings)
    ours.build((6, 3))
    theirs = keras.layers.RNN(keras.layers.StackedRNNCells(_stack(keras)), return_state=True, **settings)
    theirs(x)
    assert [w.shape for w in theirs.get_weights()] == [w.shape for w in ours.get_weights()]
    theirs.set_weights(ours.get_weights())
    start = [rng.standard_normal((4, units)).astype(np.float32) for units in (5, 5, 3, 2)]
    nested = [start[:2], [start[2]], [start[3]]]          # Keras' form: one list per cell
    for call in ({}, {"mask": _mask()}, {"mask": _mask(), "initial_state": nested}):
        mine = ours(x, **call)
        output, *states = theirs(x, **call)
        expected = [output, *_flat(states)]
        assert len(mine) == len(expected) == 5                # out, h0, c0, h1, h2
        for a, b in zip(mine, expected):
            np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=2e-6)
    np.testing.assert_array_equal(ours(x, initial_state=start)[0], ours(x, initial_state=nested)[0])


def _torch_stack(torch, layer, x, start, mask):
    """Keras' StackedRNNCells written step by step in torch ops from the layer's weights: at each
    step every cell in turn, each reading the cell before it's new output; at a masked step every
    state stays as it was and the output repeats the last one. Returns (outputs, last states)."""
    p = {k: torch.tensor(v, requires_grad=True) for k, v in layer.params.items()}
    states = [torch.tensor(s, requires_grad=True) for s in start]
    carried = list(states)
    steps = range(x.shape[1])[::-1] if layer.go_backwards else range(x.shape[1])
    outputs, out = [], torch.zeros((x.shape[0], layer.cell_layers[-1].units))
    for t in steps:
        inp, new, k = x[:, t], [], 0
        for c, inner in enumerate(layer.cell_layers):
            w = {name: p[f"cell_{c}_{name}"] for name in ("kernel", "recurrent_kernel", "bias")}
            h, u = carried[k], inner.units
            if isinstance(inner, LSTM):
                z = inp @ w["kernel"] + h @ w["recurrent_kernel"] + w["bias"]
                i, f, g, o = (torch.sigmoid(z[:, :u]), torch.sigmoid(z[:, u:2 * u]), torch.tanh(z[:, 2 * u:3 * u]),
                              torch.sigmoid(z[:, 3 * u:]))
                cell_c = f * carried[k + 1] + i * g
                inp = o * torch.tanh(cell_c)
                new += [inp, cell_c]
                k += 2
                continue
            if isinstance(inner, GRU):
                xz, hz = inp @ w["kernel"] + w["bias"][0], h @ w["recurrent_kernel"] + w["bias"][1]
                zg, r = torch.sigmoid(xz[:, :u] + hz[:, :u]), torch.sigmoid(xz[:, u:2 * u] + hz[:, u:2 * u])
                inp = zg * h + (1 - zg) * torch.tanh(xz[:, 2 * u:] + r * hz[:, 2 * u:])
            else:
                inp = torch.tanh(inp @ w["kernel"] + h @ w["recurrent_kernel"] + w["bias"])
            new.append(inp)
            k += 1
        real = torch.tensor(mask[:, t, None].astype(np.float64))
        carried = [real * a + (1 - real) * b for a, b in zip(new, carried)]
        out = real * inp + (1 - real) * out          # Keras: the last output again, zeros before any
        outputs.append(out)
    return torch.stack(outputs, 1), carried, p, states


@pytest.mark.parametrize("go_backwards", [False, True])
def test_stacked_gradients_match_the_cells_step_by_step_in_torch(go_backwards, rng, torch):
    x = rng.normal(size=(3, 5, 4))
    mask = np.ones((3, 5), dtype=bool)
    mask[0, 3:], mask[1, :1] = False, False
    layer = RNN(_stack(gn), return_sequences=True, return_state=True, go_backwards=go_backwards, dtype="float64",
                seed=1)
    layer.build((5, 4))
    for key in layer.params:
        if key.endswith("bias"):
            layer.params[key][...] = rng.normal(size=layer.params[key].shape)
    start = [rng.normal(size=(3, units)) for units in (5, 5, 3, 2)]
    out, *last = layer(x, mask=mask, initial_state=start)
    grad_out, grad_last = rng.normal(size=out.shape), [rng.normal(size=s.shape) for s in last]
    layer._state_grads = grad_last                        # what a model's LastState calls hand it
    grad_x, *grad_start = layer.backward(grad_out)
    tx = torch.tensor(x, requires_grad=True)
    outputs, t_last, p, t_start = _torch_stack(torch, layer, tx, start, mask)
    np.testing.assert_allclose(out, outputs.detach().numpy(), rtol=1e-12, atol=1e-12)
    for a, b in zip(last, t_last):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-12, atol=1e-12)
    loss = (outputs * torch.tensor(grad_out)).sum() + sum((s * torch.tensor(g)).sum() for s, g in zip(t_last, grad_last))
    loss.backward()
    np.testing.assert_allclose(grad_x, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for a, b in zip(grad_start, t_start):
        np.testing.assert_allclose(a, b.grad.numpy(), rtol=1e-10, atol=1e-12)
    for key, value in p.items():
        np.testing.assert_allclose(layer.grads[key], value.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=key)


def test_a_masked_model_of_cells_trains_as_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    from keras_twins import train_both, twins
    ids = rng.integers(1, 9, (6, 7))
    ids[0, 4:], ids[2, 5:] = 0, 0                      # padding, which Embedding(mask_zero=True) masks

    def build(lib):
        inputs = lib.Input((7,))
        x = lib.layers.Embedding(9, 3, mask_zero=True, name="embedding")(inputs)
        x = lib.layers.RNN([lib.layers.LSTMCell(4), lib.layers.GRUCell(3)], return_sequences=True, name="stack")(x)
        return inputs, lib.layers.RNN(lib.layers.SimpleRNNCell(2), go_backwards=True, name="last")(x)
    ours, theirs = twins(build, keras)
    np.testing.assert_allclose(ours.predict(ids, verbose=0), theirs.predict(ids, verbose=0), rtol=1e-5, atol=2e-6)
    mine, their = train_both(ours, theirs, ids, rng.standard_normal((6, 2)).astype(np.float32), "mse", 0.1, 3)
    np.testing.assert_allclose(mine, their, rtol=1e-5)


def test_stacked_states_in_a_functional_model(rng):
    x = rng.standard_normal((4, 6, 3))
    inputs = gn.Input((6, 3))
    h_in = gn.Input((2,))
    out, h0, c0, h1 = RNN([LSTMCell(5), SimpleRNNCell(2)], return_state=True)(inputs)
    decoded = RNN(GRUCell(2), return_sequences=True)(inputs, initial_state=[h1])
    model = gn.Model([inputs, h_in], [L.Concatenate()([out, h_in]), h0, c0, decoded], seed=0, dtype="float64")
    got = model.predict([x, np.zeros((4, 2))], verbose=0)
    stacked = next(layer for layer in model.layers if isinstance(layer, RNN) and layer.return_state)
    eager = stacked(x)                               # the stacked RNN called alone: [out, h0, c0, h1]
    np.testing.assert_allclose(got[0][:, :2], eager[0])
    np.testing.assert_allclose(got[1], eager[1])
    np.testing.assert_allclose(got[2], eager[2])
    model.compile("mse", gn.optimizers.SGD(0.01))
    report = gn.gradcheck.check_model(model, [x, np.zeros((4, 2))], [np.ones((4, 4)), np.ones((4, 5)),
                                                                     np.ones((4, 5)), np.ones((4, 6, 2))])
    assert report["max_error"] < 1e-6


def test_stateful_stacked_cells_carry_every_cell_s_states(rng):
    x = rng.standard_normal((3, 8, 2))
    layer = RNN([LSTMCell(4), GRUCell(3)], return_sequences=True, stateful=True, seed=0, dtype="float64")
    whole = RNN([LSTMCell(4), GRUCell(3)], return_sequences=True, seed=0, dtype="float64")
    whole.build((8, 2))
    layer.build((5, 2))
    layer.set_weights(whole.get_weights())
    halves = np.concatenate([layer(x[:, :5]), layer(x[:, 5:])], axis=1)
    np.testing.assert_allclose(halves, whole(x), rtol=1e-12)
    layer.reset_state()
    np.testing.assert_allclose(layer(x[:, :5]), whole(x[:, :5]), rtol=1e-12)
    assert layer.get_config()["stateful"] and all(inner.stateful for inner in layer.cell_layers)
    # in a model: predict carries the states on, and model.reset_states() reaches every cell's layer
    model = gn.Sequential([gn.Input((5, 2)), RNN([LSTMCell(4), GRUCell(3)], stateful=True)], seed=0, dtype="float64")
    first = model.predict(x[:, :5], batch_size=3, verbose=0)
    assert not np.allclose(model.predict(x[:, :5], batch_size=3, verbose=0), first)
    model.reset_states()
    np.testing.assert_array_equal(model.predict(x[:, :5], batch_size=3, verbose=0), first)


def test_a_cell_takes_a_callable_initializer_as_the_layer_does(rng):
    def halves(shape, rng, dtype):
        return np.full(shape, 0.5, dtype)
    layer = RNN(GRUCell(2, kernel_initializer=halves), seed=0)
    layer.build((3, 4))
    np.testing.assert_array_equal(layer.params["kernel"], 0.5)


def test_unroll_is_accepted_and_changes_nothing(rng):
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    np.testing.assert_array_equal(RNN(GRUCell(3), unroll=True, seed=0)(x), RNN(GRUCell(3), seed=0)(x))


def test_cells_keep_keras_settings_and_sizes():
    cell = LSTMCell(4, "relu", "hard_sigmoid", False, dropout=0.25, name="mine")
    assert (cell.state_size, cell.output_size, cell.activation.name, cell.use_bias) == ([4, 4], 4, "relu", False)
    assert cell.get_config()["recurrent_activation"] == "hard_sigmoid" and cell.get_config()["name"] == "mine"
    assert LSTMCell.from_config(cell.get_config()).get_config() == cell.get_config()
    assert GRUCell(3).state_size == SimpleRNNCell(3).state_size == 3
    assert StackedRNNCells([cell, GRUCell(3)]).state_size == [[4, 4], 3]
    assert StackedRNNCells([cell, GRUCell(3)]).output_size == 3
    assert RNN([cell, GRUCell(3)]).get_config()["cell"]["class_name"] == "StackedRNNCells"
    assert RNN(cell).cell_layers[0].name == "mine" and RNN(SimpleRNNCell(2)).cell_layers[0].name == "simple_rnn_cell"


# -- refusals -------------------------------------------------------------------------------------
class MinimalRNNCell:          # Keras' docstring's cell of your own, not a glassnet Cell
    state_size = 4

    def call(self, inputs, states):
        return inputs, states


@pytest.mark.parametrize("make,error,message", [
    (lambda: RNN(MinimalRNNCell()), TypeError,
     r"^RNN: cell must be a SimpleRNNCell, LSTMCell or GRUCell, a cell of your own \(a glassnet.layers.Cell\), a list "
     r"of them, or StackedRNNCells, got .*a cell of your own subclasses glassnet.layers.Cell"),
    (lambda: RNN([LSTMCell(2), "gru"]), TypeError, r"^StackedRNNCells: cells must be a SimpleRNNCell, LSTMCell, GRUCell or a cell of your own"),
    (lambda: RNN([LSTMCell(2), StackedRNNCells([GRUCell(2)])]), TypeError, r"^StackedRNNCells: cells must be"),
    (lambda: StackedRNNCells([]), TypeError, r"^StackedRNNCells: cells must be a non-empty list"),
    (lambda: RNN(LSTM(3)), TypeError, r"^RNN: cell must be .* got <LSTM"),
    (lambda: RNN({"class_name": "ConvLSTMCell", "config": {}}), ValueError, r"^RNN: cell: class_name must name"),
    (lambda: RNN(GRUCell(2), time_major=True), TypeError, r"^RNN: time_major is not supported"),
    (lambda: RNN(GRUCell(2), unroll="yes"), TypeError, r"^RNN: unroll: expected True or False"),
    (lambda: LSTMCell(3, return_sequences=True), TypeError,
     r"^LSTMCell: unexpected keyword argument 'return_sequences'; LSTMCell takes units, .*\(return_sequences: "
     r"give it to the RNN layer\)"),
    (lambda: LSTMCell(0), ValueError, r"^LSTMCell: units"),
    (lambda: SimpleRNNCell(3, activation="nope"), ValueError, r"^SimpleRNNCell: activation"),
    (lambda: GRUCell(3, reset_after=False), ValueError, r"^GRUCell: reset_after=False .* is not supported"),
    (lambda: GRUCell(3, dropout=1.0), ValueError, r"^GRUCell: dropout"),
    (lambda: GRUCell(3, seed=1), ValueError, r"^GRUCell: seed is taken by the RNN layer"),
    (lambda: SimpleRNNCell(*range(16)), TypeError, r"^SimpleRNNCell: takes at most 15 positional arguments"),
    (lambda: SimpleRNNCell(), TypeError, r"^SimpleRNNCell: missing the argument 'units'"),
], ids=lambda v: getattr(v, "__name__", None) if isinstance(v, type) else None)
def test_refusals_name_the_cell_or_layer(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_keras_cells_and_bidirectional_of_an_rnn_are_refused():
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    with pytest.raises(TypeError, match=r"^RNN: cell must be .*got <LSTMCell"):
        RNN(keras.layers.LSTMCell(3))
    with pytest.raises(TypeError, match=r"^Bidirectional: layer must be a SimpleRNN, LSTM, GRU, ConvLSTM1D, ConvLSTM2D or ConvLSTM3D"):
        L.Bidirectional(RNN(LSTMCell(3)))


def test_initial_state_of_the_wrong_count_names_every_cell_s_states(rng):
    layer = RNN([LSTMCell(3), GRUCell(2)], seed=0)
    with pytest.raises(ValueError, match=r"initial_state takes 3 state\(s\) \(cell 0's h and c, then cell 1's h: "
                                         r"\(batch, 3\), \(batch, 3\), \(batch, 2\)\), got 2"):
        layer(rng.standard_normal((2, 4, 3)), initial_state=[np.zeros((2, 3))] * 2)


def test_same_layers_as_rnn_kinds():
    # the cells' layers are glassnet's own recurrent layers, one per cell
    layer = RNN([SimpleRNNCell(2), LSTMCell(3), GRUCell(4)])
    assert [type(inner) for inner in layer.cell_layers] == [SimpleRNN, LSTM, GRU]


# -- a cell of your own (glassnet.layers.Cell) ------------------------------------------------------
class NumpyMinimalCell(L.Cell):
    """Keras' docstring's MinimalRNNCell in NumPy: h_t = x_t K + h_(t-1) R, the output h_t."""

    def __init__(self, units):
        self.units = self.state_size = units

    def build(self, input_dim, add_weight):
        add_weight("kernel", (input_dim, self.units), "glorot_uniform")
        add_weight("recurrent_kernel", (self.units, self.units), "orthogonal")

    def step(self, params, x, states, training):
        h = x @ params["kernel"] + states[0] @ params["recurrent_kernel"]
        return h, [h], (x, states[0])

    def step_backward(self, params, cache, grad_output, grad_states, grads):
        x, h_prev = cache
        dh = grad_output + grad_states[0]
        grads["kernel"] += x.T @ dh
        grads["recurrent_kernel"] += h_prev.T @ dh
        return dh @ params["kernel"].T, [dh @ params["recurrent_kernel"].T]

    def get_config(self):
        return {"units": self.units}


class TwoStateCell(L.Cell):
    """Two states and an output of its own: s_t = s_(t-1) + x_t K, h_t = tanh(h_(t-1) R + s_t),
    output 2 h_t * s_t (wider paths for the gradients than one state that is the output)."""

    def __init__(self, units):
        self.units, self.state_size = units, [units, units]

    def build(self, input_dim, add_weight):
        add_weight("kernel", (input_dim, self.units), "glorot_uniform")
        add_weight("recurrent_kernel", (self.units, self.units), "orthogonal")

    def step(self, params, x, states, training):
        h_prev, s_prev = states
        s = s_prev + x @ params["kernel"]
        h = np.tanh(h_prev @ params["recurrent_kernel"] + s)
        return 2 * h * s, [h, s], (x, h_prev, h, s)

    def step_backward(self, params, cache, grad_output, grad_states, grads):
        x, h_prev, h, s = cache
        dh = grad_states[0] + 2 * grad_output * s
        ds = grad_states[1] + 2 * grad_output * h
        dz = dh * (1 - h * h)
        ds = ds + dz
        grads["recurrent_kernel"] += h_prev.T @ dz
        grads["kernel"] += x.T @ ds
        return ds @ params["kernel"].T, [dz @ params["recurrent_kernel"].T, ds]

    def get_config(self):
        return {"units": self.units}


def test_a_numpy_cell_matches_keras_rnn_of_the_same_cell(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    from keras import ops

    class MinimalRNNCell(keras.layers.Layer):         # Keras' docstring's, verbatim
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), name="recurrent_kernel")

        def call(self, inputs, states):
            output = ops.matmul(inputs, self.kernel) + ops.matmul(states[0], self.recurrent_kernel)
            return output, [output]
    x = rng.standard_normal((4, 6, 3)).astype(np.float32)
    for settings in SETTINGS:
        ours = RNN(NumpyMinimalCell(5), return_state=True, seed=0, **settings)
        ours.build((6, 3))
        theirs = keras.layers.RNN(MinimalRNNCell(5), return_state=True, **settings)
        theirs(x)
        theirs.set_weights(ours.get_weights())
        for a, b in zip(ours(x, mask=_mask()), theirs(x, mask=_mask())):
            np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("settings", [{}, {"return_sequences": True, "go_backwards": True},
                                      {"return_sequences": True, "zero_output_for_mask": True}], ids=str)
def test_a_numpy_cell_runs_as_the_built_in_cell_of_the_same_maths(settings, rng):
    # a linear SimpleRNNCell without bias is the minimal cell: the loop of yours gives its numbers
    x, mask = rng.standard_normal((4, 6, 3)), _mask()
    start = [rng.standard_normal((4, 5))]
    mine = RNN(NumpyMinimalCell(5), return_state=True, dtype="float64", seed=0, **settings)
    built_in = RNN(SimpleRNNCell(5, activation="linear", use_bias=False), return_state=True, dtype="float64", seed=0,
                   **settings)
    mine.build((6, 3))
    built_in.build((6, 3))
    built_in.set_weights(mine.get_weights())
    for a, b in zip(mine(x, mask=mask, initial_state=start), built_in(x, mask=mask, initial_state=start)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    grad_out = rng.standard_normal(mine.output_shape((6, 3)))[None].repeat(4, 0)
    grad_last = [rng.standard_normal((4, 5))]
    mine._state_grads, built_in._state_grads = grad_last, grad_last
    for a, b in zip(mine.backward(grad_out), built_in.backward(grad_out)):       # dx and dL/d the initial state
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    for key in mine.grads:
        np.testing.assert_allclose(mine.grads[key], built_in.grads[key], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("make", [lambda: RNN(TwoStateCell(3), return_sequences=True, dtype="float64", seed=0),
                                  lambda: RNN([TwoStateCell(3), LSTMCell(2)], go_backwards=True, dtype="float64", seed=0)],
                         ids=["alone", "stacked"])
def test_a_numpy_cell_s_gradients_agree_with_finite_differences(make, rng):
    report = gn.gradcheck.check_layer(make(), rng.standard_normal((3, 4, 2)) * 0.5)
    assert report["max_error"] < 1e-6 and "input" in report["errors"]
    # and the check fails on a wrong gradient (a step's kernel gradient halved)
    layer = make()
    step_backward = TwoStateCell.step_backward

    def wrong(self, params, cache, grad_output, grad_states, grads):
        out = step_backward(self, params, cache, grad_output, grad_states, grads)
        grads["kernel"] *= 0.5
        return out
    layer.cell_layers[0].cell.step_backward = wrong.__get__(layer.cell_layers[0].cell)
    with pytest.raises(AssertionError):
        gn.gradcheck.check_layer(layer, rng.standard_normal((3, 4, 2)) * 0.5)


def test_a_model_with_a_numpy_cell_trains_saves_and_loads(rng, tmp_path):
    x, y = rng.standard_normal((6, 5, 2)).astype(np.float32), rng.standard_normal((6, 1)).astype(np.float32)
    model = gn.Sequential([gn.Input((5, 2)), RNN([TwoStateCell(3), GRUCell(2)], return_sequences=True),
                           RNN(NumpyMinimalCell(2)), L.Dense(1)], seed=0)
    model.compile("mse", gn.optimizers.Adam(0.01))
    losses = model.fit(x, y, epochs=20, verbose=0).history["loss"]
    assert losses[-1] < losses[0] and model.predict(x, verbose=0).dtype == np.float32
    model.save(tmp_path / "mine.npz")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "mine.npz").predict(x, verbose=0), model.predict(x, verbose=0))
    # stateful: two halves carry the cell's two states as one whole sequence does
    whole = RNN(TwoStateCell(3), return_sequences=True, dtype="float64", seed=0)
    halves = RNN(TwoStateCell(3), return_sequences=True, stateful=True, dtype="float64", seed=0)
    xs = x.astype(np.float64)
    np.testing.assert_allclose(np.concatenate([halves(xs[:, :2]), halves(xs[:, 2:])], axis=1), whole(xs), rtol=1e-12)


def test_a_numpy_cell_s_wrong_step_is_named():
    class Wrong(NumpyMinimalCell):
        def step(self, params, x, states, training):
            return x, [states[0]], None
    with pytest.raises(ValueError, match=r"Wrong.step's output must have shape \(2, 4\), got \(2, 3\)"):
        RNN(Wrong(4), seed=0)(np.ones((2, 5, 3)))
    with pytest.raises(ValueError, match=r"^RNN: cell: class_name must name .*'Unknown' \(define or import"):
        RNN.from_config({"cell": {"class_name": "Unknown", "config": {}}})


def test_an_rnn_in_a_wrapper_names_the_layer_to_wrap():
    with pytest.raises(TypeError, match=r"wrap the matching layer instead \(LSTM\(units\) for RNN\(LSTMCell\(units\)\)"):
        gn.layers.TimeDistributed(gn.layers.RNN(gn.layers.LSTMCell(3)))
