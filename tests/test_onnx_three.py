"""``model.export(path, format="onnx")`` for what session 46 added: attention layers called with
``return_attention_scores=True`` (MultiHeadAttention, GroupedQueryAttention, Attention,
AdditiveAttention). Each file is read by onnx's checker (full_check) and run by onnxruntime on
batches of 1 and 7: equal to glassnet's ``predict`` within 1e-5 relative (float32) and 1e-10
(float64), on masks with holes, left and right padding and rows with no real step; where Keras
3.15 has the same model, against Keras' ``predict`` too (given glassnet's weights)."""
import numpy as np
import pytest

import glassnet as gn

L = gn.layers
onnx = pytest.importorskip("onnx", reason="onnx (test oracle) not installed")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime (test oracle) not installed")
from onnx_checks import carried as _carried, check as _check, exported as _exported, jitter as _jitter, \
    masked_ids as _ids, refused as _refused  # noqa: E402

STEPS = 6


def _run(session, xs):
    xs = xs if isinstance(xs, list) else [xs]
    return session.run(None, dict(zip([i.name for i in session.get_inputs()], xs)))


def _value(rng, dtype="float32"):
    """7 value sequences of STEPS + 1 steps for Masking(-1.0): holes, left and right padding, a
    row all padding (row 4)."""
    x = rng.normal(size=(7, STEPS + 1, 4))
    pattern = np.ones((7, STEPS + 1), bool)
    pattern[0, 4:] = pattern[1, :3] = pattern[2, [0, 2, 5]] = pattern[4] = False
    x[~pattern] = -1.0
    return x.astype(dtype)


# -- return_attention_scores=True ----------------------------------------------------------------
# each maker takes the layers module (glassnet's or Keras') and [query, value]; returns (out, scores)
SCORES = {
    "mha": lambda k, xs: k.MultiHeadAttention(2, 3)(xs[0], xs[1], return_attention_scores=True),
    "mha_causal_dropout": lambda k, xs: k.MultiHeadAttention(2, 3, value_dim=2, dropout=0.3)(
        xs[0], xs[1], return_attention_scores=True, use_causal_mask=True),
    "gqa": lambda k, xs: k.GroupQueryAttention(3, 4, 2)(xs[0], xs[1], return_attention_scores=True),
    "gqa_window_causal": lambda k, xs: k.GroupQueryAttention(3, 2, 1, sliding_window=2)(
        xs[0], xs[1], return_attention_scores=True, use_causal_mask=True),
    "attention_dot_scale": lambda k, xs: k.Attention(use_scale=True)(xs, return_attention_scores=True),
    "attention_concat_causal": lambda k, xs: k.Attention(score_mode="concat", use_scale=True)(
        xs, return_attention_scores=True, use_causal_mask=True),
    "additive": lambda k, xs: k.AdditiveAttention()(xs, return_attention_scores=True),
}
L.GroupQueryAttention = getattr(L, "GroupQueryAttention", L.GroupedQueryAttention)


def _scores_model(k, make, masked, dtype=None, keras_model=None):
    """The attention call on a query and a value: plain (batch, STEPS, 4) and (batch, STEPS + 1,
    4) inputs, or (``masked``) an Embedding(mask_zero=True) query and a Masking(-1.0) value;
    outputs [output, scores]."""
    Input, Model = (keras_model.Input, keras_model.Model) if keras_model else (gn.Input, gn.Model)
    if masked:
        ids, x = Input((STEPS,), dtype="int32"), Input((STEPS + 1, 4))
        inputs, xs = [ids, x], [k.Embedding(10, 4, mask_zero=True)(ids), k.Masking(-1.0)(x)]
    else:
        inputs = xs = [Input((STEPS, 4)), Input((STEPS + 1, 4))]
    out, scores = make(k, xs)
    return Model(inputs, [out, scores], **({"dtype": dtype} if dtype else {}))


def _data(rng, masked, dtype="float32"):
    query = _ids(rng) if masked else rng.normal(size=(7, STEPS, 4)).astype(dtype)
    return [query, _value(rng, dtype)]


@pytest.mark.parametrize("masked", [False, True], ids=["plain", "masked"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(SCORES))
def test_returned_scores(name, dtype, masked, rng, tmp_path):
    model = _jitter(_scores_model(L, SCORES[name], masked, dtype), rng)
    session = _check(model, _data(rng, masked, dtype), tmp_path, dtype)
    out_shape, scores_shape = (o.shape for o in session.get_outputs())
    heads = {"mha": 2, "gqa": 4, "gqa_window_causal": 2}.get(name, 2 if name.startswith("mha") else None)
    assert scores_shape[1:] == ([heads] if heads else []) + [STEPS, STEPS + 1]


def test_returned_scores_any_length(rng, tmp_path):
    """Self-attention over Input((None, 4)), causal: one file runs 5 and 9 steps."""
    x = gn.Input((None, 4))
    out, scores = L.MultiHeadAttention(2, 2)(x, x, return_attention_scores=True, use_causal_mask=True)
    model = _jitter(gn.Model(x, [scores, out]), rng)
    _, session = _exported(model, tmp_path)
    for steps in (5, 9):
        data = rng.normal(size=(3, steps, 4)).astype("float32")
        for got, want in zip(_run(session, data), model.predict(data, verbose=0)):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        assert np.all(np.triu(_run(session, data)[0], k=1) == 0)      # causal: no weight on later steps


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("steps", [STEPS, STEPS + 1])
def test_sliding_window_without_masks(causal, steps, rng, tmp_path):
    """A sliding window with no mask in the model: its band (T, S) was unsqueezed onto the heads'
    axis, a file onnxruntime refused to load (session 46 found it); now (1, T, S)."""
    q, v = gn.Input((STEPS, 4)), gn.Input((steps, 4))
    out = L.GroupedQueryAttention(3, 2, 1, sliding_window=2)(q, v, use_causal_mask=causal)
    mha = L.MultiHeadAttention(2, 3, sliding_window=3)(q, v, use_causal_mask=causal)
    model = _jitter(gn.Model([q, v], [out, mha]), rng)
    _check(model, [rng.normal(size=(7, STEPS, 4)).astype("float32"), rng.normal(size=(7, steps, 4)).astype("float32")],
           tmp_path)


@pytest.mark.parametrize("masked", [False, True], ids=["plain", "masked"])
@pytest.mark.parametrize("name", sorted(SCORES))
def test_returned_scores_against_keras(name, masked, keras, rng, tmp_path):
    """Keras 3.15's model of the same layers given glassnet's weights: its output and scores."""
    model = _jitter(_scores_model(L, SCORES[name], masked), rng)
    theirs = _scores_model(keras.layers, SCORES[name], masked, keras_model=keras)
    theirs.set_weights(model.get_weights())
    data = _data(rng, masked)
    _, session = _exported(model, tmp_path)
    for got, want in zip(_run(session, data), theirs.predict(data, verbose=0)):
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-5, atol=1e-5)


# -- stateful=True: the states in and out of the file ---------------------------------------------
STATEFUL = {
    "lstm_sequences": ((STEPS, 3), lambda: L.LSTM(4, stateful=True, return_sequences=True)),
    "gru_backwards": ((STEPS, 3), lambda: L.GRU(3, stateful=True, go_backwards=True)),
    "simple_rnn": ((STEPS, 3), lambda: L.SimpleRNN(3, stateful=True, activation="relu")),
    "rnn_stacked_cells": ((STEPS, 3), lambda: L.RNN([L.LSTMCell(3), L.GRUCell(2)], stateful=True,
                                                    return_sequences=True)),
    "conv_lstm2d": ((4, 5, 5, 2), lambda: L.ConvLSTM2D(2, 3, padding="same", stateful=True)),
}


def _stateful_model(name, dtype, masked):
    shape, make = STATEFUL[name]
    if masked:
        ids = gn.Input((STEPS,), dtype="int32", batch_size=7)
        return gn.Model(ids, make()(L.Embedding(10, shape[-1], mask_zero=True)(ids)), dtype=dtype)
    x = gn.Input(shape, batch_size=7)
    return gn.Model(x, make()(x), dtype=dtype)


def _batches(rng, name, masked, dtype):
    """Three batches of 7: the states carried from each to the next (masked: rows with no real
    step, after real ones, so a carried state meets a masked start)."""
    if masked:
        return [_ids(rng), _ids(rng)[::-1].copy(), _ids(rng)]
    return [rng.normal(size=(7, *STATEFUL[name][0])).astype(dtype) for _ in range(3)]


# (ConvLSTM reads sequences of frames, which an Embedding does not make: not masked here)
MASKED_OR_NOT = [(name, masked) for name in sorted(STATEFUL) for masked in (False, True)
                 if not (masked and name == "conv_lstm2d")]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, masked", MASKED_OR_NOT)
def test_stateful_states_in_and_out(name, dtype, masked, rng, tmp_path):
    model = _jitter(_stateful_model(name, dtype, masked), rng)
    layer = model.layers[-1]
    _, session = _exported(model, tmp_path)
    count = len(layer.state_shapes())
    assert [i.name for i in session.get_inputs()[1:]] == [f"{layer.name}/state_{k}" for k in range(count)]
    assert [o.name for o in session.get_outputs()[1:]] == [f"{layer.name}/state_{k}_last" for k in range(count)]
    batches = _batches(rng, name, masked, dtype)
    got, states = _carried(session, batches, dtype)
    tolerance = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
    model.reset_states()
    for g, batch in zip(got, batches):          # predict carries the states from batch to batch
        np.testing.assert_allclose(g, model.predict(batch, batch_size=7, verbose=0), **tolerance)
    carried = layer.states if hasattr(layer, "states") else [s for inner in layer.cell_layers for s in inner.states]
    for g, w in zip(states, carried):
        np.testing.assert_allclose(g, w, **tolerance)


@pytest.mark.parametrize("name, masked", [case for case in MASKED_OR_NOT if case[0] != "rnn_stacked_cells"])
def test_stateful_against_keras(name, masked, keras, rng, tmp_path):
    """Keras 3.15's stateful layer (batch_size=7) given glassnet's weights, predicting the batches
    in turn (its states carried, as the file's are by hand)."""
    model = _jitter(_stateful_model(name, "float32", masked), rng)
    config = model.layers[-1].get_config()
    shape = STATEFUL[name][0]
    kind = getattr(keras.layers, type(model.layers[-1]).__name__)
    options = {key: config[key] for key in ("units", "filters", "kernel_size", "padding", "return_sequences",
                                            "go_backwards", "activation") if key in config}
    if masked:
        ids = keras.Input((STEPS,), dtype="int32", batch_size=7)
        theirs = keras.Model(ids, kind(stateful=True, **options)(keras.layers.Embedding(10, shape[-1],
                                                                                        mask_zero=True)(ids)))
    else:
        x = keras.Input(shape, batch_size=7)
        theirs = keras.Model(x, kind(stateful=True, **options)(x))
    theirs.set_weights(model.get_weights())
    batches = _batches(rng, name, masked, "float32")
    _, session = _exported(model, tmp_path)
    got, _ = _carried(session, batches, "float32")
    for g, batch in zip(got, batches):
        np.testing.assert_allclose(g, np.asarray(theirs.predict(batch, batch_size=7, verbose=0)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("sequences", [False, True])
def test_stateful_conv_lstm_masked_backwards_and_channels_first(sequences, rng, tmp_path):
    """A stateful ConvLSTM2D given a call's mask= (rows with no real step), reading backwards, and
    a channels-first one: its states (batch, filters, rows, columns) in and out as the layer keeps them."""
    x, m = gn.Input((4, 5, 6, 2), batch_size=7), gn.Input((4,), batch_size=7)
    masked = L.ConvLSTM2D(3, 3, padding="same", stateful=True, return_sequences=sequences, go_backwards=True)(x, mask=m)
    first = gn.Input((4, 2, 5, 6), batch_size=7)
    channels_first = L.ConvLSTM2D(2, 3, data_format="channels_first", stateful=True, return_sequences=sequences)(first)
    model = _jitter(gn.Model([x, m, first], [masked, channels_first]), rng)
    _, session = _exported(model, tmp_path)
    names = [i.name for i in session.get_inputs()]
    states = [np.zeros((7, *i.shape[1:]), "float32") for i in session.get_inputs()[3:]]
    assert [tuple(i.shape[1:]) for i in session.get_inputs()[3:]] == [(5, 6, 3)] * 2 + [(2, 3, 4)] * 2
    model.reset_states()
    for _ in range(3):
        real = (rng.random((7, 4)) > 0.4).astype("float32")
        real[2] = 0
        data = [rng.normal(size=(7, 4, 5, 6, 2)).astype("float32"), real,
                rng.normal(size=(7, 4, 2, 5, 6)).astype("float32")]
        outs = session.run(None, dict(zip(names, data + states)))
        outs, states = outs[:2], outs[2:]
        for got, want in zip(outs, model.predict(data, batch_size=7, verbose=0)):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


# (a stateful layer inside Bidirectional or inside a model a TimeDistributed wraps is exported since session 47: tests/test_onnx_four.py)


# -- a merge layer called twice, the mask each call joins read ------------------------------------
def _twice_merged(k, Input, Model, merge, dtype=None):
    """Two calls of one ``merge`` layer, each joining the masks of two makers (Embedding's and
    Masking's), each call's mask read by a recurrent layer (``k``: glassnet's or Keras' layers)."""
    ids_a, ids_b = Input((STEPS,), dtype="int32"), Input((STEPS,), dtype="int32")
    x_a, x_b = Input((STEPS, 3)), Input((STEPS, 3))
    first = merge([k.Embedding(10, 3, mask_zero=True)(ids_a), k.Masking(-1.0)(x_a)])
    second = merge([k.Masking(-1.0)(x_b), k.Embedding(10, 3, mask_zero=True)(ids_b)])
    outputs = [k.LSTM(3)(first), k.GRU(2, return_sequences=True)(second)]
    return Model([ids_a, ids_b, x_a, x_b], outputs, **({"dtype": dtype} if dtype else {}))


def _twice_data(rng, dtype="float32"):
    def steps():
        x = rng.normal(size=(7, STEPS, 3))
        x[_ids(rng)[::-1] == 0] = -1.0                  # another pattern of padding than the ids'
        return x.astype(dtype)
    ids_b = _ids(rng)
    ids_b[5, 1:4] = 0
    return [_ids(rng), ids_b, steps(), steps()]


MERGES = {"add": lambda k: k.Add(), "average": lambda k: k.Average(), "subtract": lambda k: k.Subtract(),
          "concatenate_features": lambda k: k.Concatenate(),
          "concatenate_steps": lambda k: k.Concatenate(axis=1)}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(MERGES))
def test_merge_called_twice_masks_read(name, dtype, rng, tmp_path):
    model = _jitter(_twice_merged(L, gn.Input, gn.Model, MERGES[name](L), dtype), rng)
    _check(model, _twice_data(rng, dtype), tmp_path, dtype)


@pytest.mark.parametrize("name", ["add", "concatenate_steps"])
def test_merge_called_twice_against_keras(name, keras, rng, tmp_path):
    model = _jitter(_twice_merged(L, gn.Input, gn.Model, MERGES[name](L)), rng)
    theirs = _twice_merged(keras.layers, keras.Input, keras.Model, MERGES[name](keras.layers))
    theirs.set_weights(model.get_weights())
    data = _twice_data(rng)
    _, session = _exported(model, tmp_path)
    for got, want in zip(_run(session, data), theirs.predict(data, verbose=0)):
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-5, atol=1e-5)


# -- linear algebra of fixed sizes ----------------------------------------------------------------
def _general(rng, lead, n):
    """Well-conditioned matrices (float32 results then agree to ~1e-6) that need pivoting: a
    diagonally dominant matrix of mixed signs with its rows shuffled (the largest entry of a
    column off the diagonal), which keeps its condition number."""
    m = rng.normal(scale=0.5, size=(*lead, n, n)) + 3 * np.eye(n) * rng.choice([-1, 1], size=(*lead, 1, n))
    return np.take_along_axis(m, np.argsort(rng.random((*lead, n, 1)), axis=-2), axis=-2)


def _spd(rng, lead, n):
    m = rng.normal(size=(*lead, n, n))
    return m @ np.swapaxes(m, -1, -2) + n * np.eye(n)


# name -> (the ops call on the inputs, the inputs' sample shapes, the data given rng and lead axes)
LINALG = {
    "inv": (lambda g, xs: g.inv(xs[0]), [(4, 4)], lambda r, lead: [_general(r, lead, 4)]),
    "inv_stack": (lambda g, xs: g.inv(xs[0]), [(2, 3, 3)], lambda r, lead: [_general(r, (*lead, 2), 3)]),
    "inv_1x1": (lambda g, xs: g.inv(xs[0]), [(1, 1)], lambda r, lead: [_general(r, lead, 1)]),
    "solve_matrix": (lambda g, xs: g.solve(xs[0], xs[1]), [(4, 4), (4, 2)],
                     lambda r, lead: [_general(r, lead, 4), r.normal(size=(*lead, 4, 2))]),
    "solve_vector": (lambda g, xs: g.solve(xs[0], xs[1]), [(5, 5), (5,)],
                     lambda r, lead: [_general(r, lead, 5), r.normal(size=(*lead, 5))]),
    "solve_constant_a": (lambda g, xs: g.solve(np.array([[2.0, 1, 0], [1, -3, 1], [4, 1, 4]]), xs[0]), [(3,)],
                         lambda r, lead: [r.normal(size=(*lead, 3))]),
    "solve_constant_b": (lambda g, xs: g.solve(xs[0], np.array([[1.0, 2], [3, 4], [5, 6]])), [(3, 3)],
                         lambda r, lead: [_general(r, lead, 3)]),
    "solve_triangular_lower": (lambda g, xs: g.solve_triangular(xs[0], xs[1], lower=True), [(4, 4), (4, 3)],
                               lambda r, lead: [_general(r, lead, 4) + 3 * np.eye(4), r.normal(size=(*lead, 4, 3))]),
    "solve_triangular_upper": (lambda g, xs: g.solve_triangular(xs[0], xs[1]), [(4, 4), (4,)],
                               lambda r, lead: [_general(r, lead, 4) + 3 * np.eye(4), r.normal(size=(*lead, 4))]),
    "cholesky": (lambda g, xs: g.cholesky(xs[0]), [(5, 5)], lambda r, lead: [_spd(r, lead, 5)]),
    "cholesky_upper": (lambda g, xs: g.cholesky(xs[0], upper=True), [(2, 3, 3)],
                       lambda r, lead: [_spd(r, (*lead, 2), 3)]),
    "logdet": (lambda g, xs: g.logdet(xs[0]), [(4, 4)], lambda r, lead: [_spd(r, lead, 4)]),
    "slogdet_sign": (lambda g, xs: g.slogdet(xs[0])[0], [(4, 4)], lambda r, lead: [_general(r, lead, 4)]),
    "slogdet_logabsdet": (lambda g, xs: g.slogdet(xs[0])[1], [(4, 4)], lambda r, lead: [_general(r, lead, 4)]),
    "det": (lambda g, xs: g.det(xs[0]), [(2, 4, 4)], lambda r, lead: [_general(r, (*lead, 2), 4)]),
}


def _linalg_model(name, dtype):
    make, shapes, _ = LINALG[name]
    inputs = [gn.Input(shape) for shape in shapes]
    return gn.Model(inputs, make(gn.ops, inputs), dtype=dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(LINALG))
def test_linalg(name, dtype, rng, tmp_path):
    data = [x.astype(dtype) for x in LINALG[name][2](rng, (7,))]
    _check(_linalg_model(name, dtype), data, tmp_path, dtype)


def test_linalg_pivots_and_reads_one_triangle(rng, tmp_path):
    """Matrices needing every row swap (a permuted diagonal) and ties between candidate pivots
    (the first wins, as LAPACK's); cholesky and solve_triangular given values in the triangle
    they do not read."""
    x = gn.Input((4, 4))
    pivoted = gn.Model(x, [gn.ops.inv(x), gn.ops.slogdet(x)[0], gn.ops.slogdet(x)[1], gn.ops.det(x)], dtype="float64")
    permuted = np.eye(4)[[3, 0, 2, 1]] * np.array([2.0, -3, 1.5, 4])
    tied = np.array([[1.0, 2, 0, 1], [-1, 1, 1, 0], [1, 0, 3, 1], [0, 1, 1, 2]])          # |1| = |-1| = |1|
    (tmp_path / "pivoted").mkdir()
    _check(pivoted, np.stack([permuted, tied, -tied, permuted[::-1], _general(rng, (), 4), tied.T, permuted.T]),
           tmp_path / "pivoted", "float64")
    triangles = gn.Model(x, [gn.ops.cholesky(x), gn.ops.solve_triangular(x, x, lower=True)], dtype="float64")
    data = _spd(rng, (7,), 4) + np.triu(rng.normal(scale=5.0, size=(7, 4, 4)), 1)    # the upper triangle unread
    _check(triangles, data, tmp_path, "float64")


@pytest.mark.parametrize("name", ["inv", "solve_matrix", "solve_vector", "solve_triangular_lower", "cholesky_upper",
                                  "slogdet_logabsdet", "logdet", "det"])
def test_linalg_against_keras(name, keras, rng, tmp_path):
    """Keras 3.15's keras.ops of the same call, drawn on Keras' Inputs."""
    make, shapes, data = LINALG[name]
    data = [x.astype("float32") for x in data(rng, (7,))]
    inputs = [keras.Input(shape) for shape in shapes]
    theirs = keras.Model(inputs, make(keras.ops, inputs))
    _, session = _exported(_linalg_model(name, "float32"), tmp_path)
    np.testing.assert_allclose(_run(session, data)[0], np.asarray(theirs.predict(data, verbose=0)),
                               rtol=1e-5, atol=1e-5)


# (matrices of a size left open or over 64 rows are exported since session 47, as a Loop:
# tests/test_onnx_four.py)


# -- RNN of a cell of your own: its step drawn once, the Scan's body ------------------------------
class OnnxThreeMinimalCell(L.Cell):
    """Keras' docstring's MinimalRNNCell, with a tanh: h = tanh(x K + h_prev R); its step in
    operators and glassnet.ops (drawn once for ONNX)."""

    def __init__(self, units):
        self.units = self.state_size = units

    def build(self, input_dim, add_weight):
        add_weight("kernel", (input_dim, self.units), "glorot_uniform")
        add_weight("recurrent_kernel", (self.units, self.units), "orthogonal")

    def step(self, params, x, states, training):
        h = gn.ops.tanh(x @ params["kernel"] + states[0] @ params["recurrent_kernel"])
        return h, [h], None

    def step_backward(self, params, cache, grad_output, grad_states, grads):
        raise NotImplementedError("inference only here (tests/test_rnn_cells.py trains cells of your own)")


class OnnxThreeTwoStateCell(L.Cell):
    """Two states of other widths, an output of a third width, a state handed on unchanged every
    other unit (its second state is the first's input, kept), indexing and a relu: what a step
    may draw."""
    state_size = [3, 2]

    def __init__(self):
        self.output_size = 4

    def build(self, input_dim, add_weight):
        add_weight("kernel", (input_dim, 3), "glorot_uniform")
        add_weight("mix", (5, 4), "glorot_uniform")

    def step(self, params, x, states, training):
        h = gn.ops.relu(x @ params["kernel"] + states[0] * 0.5) - states[1][:, :1]
        out = gn.ops.concatenate([h, states[1]], axis=-1) @ params["mix"]
        return out, [h, states[1] * 0.9 + h[:, 1:]], None

    def step_backward(self, params, cache, grad_output, grad_states, grads):
        raise NotImplementedError("inference only here")


class OnnxThreeNumpyCell(L.Cell):
    """A step in NumPy's own functions, which take no symbolic tensor: refused by name."""
    state_size = 2

    def build(self, input_dim, add_weight):
        add_weight("kernel", (input_dim, 2), "glorot_uniform")

    def step(self, params, x, states, training):
        h = np.tanh(x @ params["kernel"] + states[0])
        return h, [h], None

    def step_backward(self, params, cache, grad_output, grad_states, grads):
        raise NotImplementedError


CELLS = {
    "minimal": lambda: L.RNN(OnnxThreeMinimalCell(4)),
    "minimal_sequences_backwards": lambda: L.RNN(OnnxThreeMinimalCell(3), return_sequences=True, go_backwards=True),
    "minimal_zeros_for_mask": lambda: L.RNN(OnnxThreeMinimalCell(3), return_sequences=True, zero_output_for_mask=True),
    "two_states": lambda: L.RNN(OnnxThreeTwoStateCell(), return_sequences=True),
    "stacked_with_built_in": lambda: L.RNN([L.LSTMCell(3), OnnxThreeMinimalCell(2), L.GRUCell(2)],
                                           return_sequences=True),
}


def _cell_model(name, dtype, masked, stateful=False):
    layer = CELLS[name]()
    if stateful:
        layer = L.RNN(layer.cell, stateful=True, return_sequences=layer.return_sequences)
    batch = {"batch_size": 7} if stateful else {}
    if masked:
        ids = gn.Input((STEPS,), dtype="int32", **batch)
        return gn.Model(ids, layer(L.Embedding(10, 3, mask_zero=True)(ids)), dtype=dtype)
    x = gn.Input((STEPS, 3), **batch)
    return gn.Model(x, layer(x), dtype=dtype)


def _cell_data(rng, masked, dtype):
    return _ids(rng) if masked else rng.normal(size=(7, STEPS, 3)).astype(dtype)


@pytest.mark.parametrize("masked", [False, True], ids=["plain", "masked"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(CELLS))
def test_rnn_of_a_cell_of_your_own(name, dtype, masked, rng, tmp_path):
    _check(_jitter(_cell_model(name, dtype, masked), rng), _cell_data(rng, masked, dtype), tmp_path, dtype)


def test_rnn_of_a_cell_of_your_own_states_and_any_length(rng, tmp_path):
    """initial_state in, return_state out, over Input((None, 3)) run at 5 and 9 steps."""
    x, h0, c0, k0 = gn.Input((None, 3)), gn.Input((3,)), gn.Input((3,)), gn.Input((2,))
    out, *states = L.RNN([L.LSTMCell(3), OnnxThreeMinimalCell(2)], return_state=True)(x, initial_state=[h0, c0, k0])
    model = _jitter(gn.Model([x, h0, c0, k0], [out, *states]), rng)
    _, session = _exported(model, tmp_path)
    for steps in (5, 9):
        data = [rng.normal(size=(4, steps, 3)).astype("float32")] + [rng.normal(size=(4, n)).astype("float32")
                                                                    for n in (3, 3, 2)]
        for got, want in zip(_run(session, data), model.predict(data, verbose=0)):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("masked", [False, True], ids=["plain", "masked"])
def test_rnn_of_a_cell_of_your_own_stateful(masked, rng, tmp_path):
    model = _jitter(_cell_model("two_states", "float64", masked, stateful=True), rng)
    _, session = _exported(model, tmp_path)
    batches = [_cell_data(rng, masked, "float64") for _ in range(3)]
    if masked:
        batches[1] = batches[1][::-1].copy()
    got, _ = _carried(session, batches, "float64")
    model.reset_states()
    for g, batch in zip(got, batches):
        np.testing.assert_allclose(g, model.predict(batch, batch_size=7, verbose=0), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("masked", [False, True], ids=["plain", "masked"])
def test_rnn_of_a_cell_of_your_own_against_keras(masked, keras, rng, tmp_path):
    """Keras' own MinimalRNNCell (its RNN docstring's, a keras.layers.Layer with state_size and a
    call of keras.ops, plus the tanh), given glassnet's weights."""

    class MinimalRNNCell(keras.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), name="recurrent_kernel")

        def call(self, inputs, states):
            h = keras.ops.tanh(keras.ops.matmul(inputs, self.kernel) +
                               keras.ops.matmul(states[0], self.recurrent_kernel))
            return h, [h]

    model = _jitter(_cell_model("minimal_sequences_backwards", "float32", masked), rng)
    if masked:
        ids = keras.Input((STEPS,), dtype="int32")
        inputs, x = ids, keras.layers.Embedding(10, 3, mask_zero=True)(ids)
    else:
        inputs = x = keras.Input((STEPS, 3))
    theirs = keras.Model(inputs, keras.layers.RNN(MinimalRNNCell(3), return_sequences=True, go_backwards=True)(x))
    theirs.set_weights(model.get_weights())
    data = _cell_data(rng, masked, "float32")
    _, session = _exported(model, tmp_path)
    np.testing.assert_allclose(_run(session, data)[0], np.asarray(theirs.predict(data, verbose=0)),
                               rtol=1e-5, atol=1e-5)


def test_rnn_of_a_cell_in_numpy_refused(tmp_path):
    model = gn.Sequential([gn.Input((4, 3)), L.RNN(OnnxThreeNumpyCell(), name="numpy_rnn")])
    _refused(model, tmp_path, "layer numpy_rnn (RNN): the step of the cell of your own OnnxThreeNumpyCell could "
                              "not be drawn on symbolic tensors")
