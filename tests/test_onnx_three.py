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
from onnx_checks import check as _check, exported as _exported, jitter as _jitter, masked_ids as _ids, \
    refused as _refused  # noqa: E402

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


def _carried(session, batches, dtype):
    """The file run on each batch in turn, from zero states, each run's last states fed to the next."""
    inputs = session.get_inputs()
    states = [np.zeros((7, *i.shape[1:]), dtype) for i in inputs[1:]]
    results = []
    for batch in batches:
        out, *states = session.run(None, {inputs[0].name: batch, **{i.name: s for i, s in zip(inputs[1:], states)}})
        results.append(out)
    return results, states


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


def test_stateful_refusals(tmp_path):
    _refused(gn.Sequential([gn.Input((4, 3), batch_size=2), L.Bidirectional(L.LSTM(2, stateful=True))]), tmp_path,
             "stateful=True inside Bidirectional is not exported")
    inner = gn.Sequential([gn.Input((4, 3), batch_size=2), L.GRU(2, stateful=True)])
    _refused(gn.Sequential([gn.Input((5, 4, 3), batch_size=2), L.TimeDistributed(inner)]), tmp_path,
             "the stateful layer gru")


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
