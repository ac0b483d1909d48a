"""``model.export(path, format="onnx")`` for what session 45 added: the generic ``RNN(cell)`` layer
(stacked cells too), masks joined at merge layers and read by Maximum/Minimum/Multiply, a call's
explicit ``mask=``, the masks of GroupedQueryAttention, Attention and AdditiveAttention,
ConvLSTM1D/2D/3D and the ops ``flip``, ``argmax`` and ``argmin``. Each file is read by onnx's
checker (full_check) and run by onnxruntime on batches of 1 and 7: equal to glassnet's
``predict`` within 1e-5 relative (float32) and 1e-10 (float64), on masks with holes, left and
right padding and rows with no real step; several against Keras 3.15's ``predict`` of the same
model (its .keras file)."""
import numpy as np
import pytest

import glassnet as gn

L = gn.layers
onnx = pytest.importorskip("onnx", reason="onnx (test oracle) not installed")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime (test oracle) not installed")
from onnx_checks import check as _check, exported as _exported, jitter as _jitter, masked_ids as _ids, \
    refused as _refused  # noqa: E402

STEPS = 6


def _masked_steps(rng, value, dtype="float32", features=3):
    """7 sequences with another mask pattern than ``_ids``' (the padding steps all ``value``)."""
    x = rng.normal(size=(7, STEPS, features))
    x[_ids(rng)[::-1] == 0] = value
    return x.astype(dtype)


def _ops_of(tmp_path):
    return {n.op_type for n in onnx.load(str(tmp_path / "model.onnx")).graph.node}


def _against_keras(keras, model, xs, tmp_path, atol=1e-5):
    """onnxruntime's outputs against Keras 3.15's predict of the same model (its .keras file)."""
    model.save(tmp_path / "m.keras", save_format="keras")
    want = keras.models.load_model(tmp_path / "m.keras").predict(xs, verbose=0)
    _, session = _exported(model, tmp_path)
    names = [i.name for i in session.get_inputs()]
    got = session.run(None, dict(zip(names, xs if isinstance(xs, list) else [xs])))
    want = want if isinstance(want, list) else [want]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, np.asarray(w), rtol=1e-5, atol=atol)


def _against_keras_weights(model, theirs, data, tmp_path):
    """onnxruntime's outputs against a Keras 3.15 model of the same layers given glassnet's weights
    (where Keras' loader does not read glassnet's .keras file of them: RNN's cells, ConvLSTM's)."""
    theirs.set_weights(model.get_weights())
    _, session = _exported(model, tmp_path)
    got = session.run(None, dict(zip([i.name for i in session.get_inputs()], data)))[0]
    np.testing.assert_allclose(got, np.asarray(theirs.predict(data, verbose=0)), rtol=1e-5, atol=1e-5)


# -- RNN(cell) ------------------------------------------------------------------------------
RNNS = {
    "lstm_cell": lambda: [L.RNN(L.LSTMCell(3))],
    "gru_cell_sequences": lambda: [L.RNN(L.GRUCell(3), return_sequences=True)],
    "simple_cell_backwards": lambda: [L.RNN(L.SimpleRNNCell(3, activation="relu"), go_backwards=True)],
    "stacked": lambda: [L.RNN([L.LSTMCell(4), L.GRUCell(3), L.SimpleRNNCell(2)])],
    "stacked_sequences_backwards": lambda: [L.RNN([L.GRUCell(3), L.LSTMCell(2)], return_sequences=True,
                                                  go_backwards=True)],
    "stacked_cells_object": lambda: [L.RNN(L.StackedRNNCells([L.SimpleRNNCell(3), L.LSTMCell(2)]),
                                           return_sequences=True, zero_output_for_mask=True), L.GRU(2)],
    "swish_cell": lambda: [L.RNN([L.SimpleRNNCell(3, activation="swish"), L.GRUCell(2)])],
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(RNNS))
def test_rnn_of_cells(name, dtype, rng, tmp_path):
    model = _jitter(gn.Sequential([gn.Input((STEPS, 3)), *RNNS[name]()], dtype=dtype), rng)
    _check(model, rng.normal(size=(7, STEPS, 3)).astype(dtype), tmp_path, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(RNNS))
def test_rnn_of_cells_masked(name, dtype, rng, tmp_path):
    """Embedding(mask_zero=True)'s mask reaches every cell (reversed after the first with
    go_backwards, as RNN.forward reverses it)."""
    model = _jitter(gn.Sequential([gn.Input((STEPS,), dtype="int32"), L.Embedding(10, 3, mask_zero=True),
                                   *RNNS[name]()], dtype=dtype), rng)
    _check(model, _ids(rng), tmp_path, dtype)
    assert not _ops_of(tmp_path) & {"LSTM", "GRU", "RNN"}


def test_rnn_open_length_and_onnx_nodes(rng, tmp_path):
    """Unmasked float32 cells with ONNX's activations are its own LSTM/GRU nodes; any length."""
    model = _jitter(gn.Sequential([gn.Input((None, 3)), L.RNN([L.LSTMCell(4), L.GRUCell(3)])]), rng)
    session = _check(model, rng.normal(size=(7, STEPS, 3)).astype("float32"), tmp_path)
    assert {"LSTM", "GRU"} <= _ops_of(tmp_path)
    longer = rng.normal(size=(2, 11, 3)).astype("float32")
    (got,) = session.run(None, {session.get_inputs()[0].name: longer})
    np.testing.assert_allclose(got, model.predict(longer, verbose=0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rnn_states_in_and_out(dtype, rng, tmp_path):
    """initial_state (flat, cell by cell) and return_state (every cell's last states)."""
    x, h0, c0, g0 = gn.Input((5, 3)), gn.Input((4,)), gn.Input((4,)), gn.Input((2,))
    out, *states = L.RNN([L.LSTMCell(4), L.GRUCell(2)], return_sequences=True, return_state=True)(
        x, initial_state=[h0, c0, g0])
    model = _jitter(gn.Model([x, h0, c0, g0], [out, *states], dtype=dtype), rng)
    data = [rng.normal(size=(7, *shape)).astype(dtype) for shape in ((5, 3), (4,), (4,), (2,))]
    _check(model, data, tmp_path, dtype)


def test_rnn_masked_return_state(rng, tmp_path):
    ids = gn.Input((STEPS,), dtype="int32")
    out, *states = L.RNN([L.GRUCell(3), L.LSTMCell(2)], return_state=True, go_backwards=True)(
        L.Embedding(10, 3, mask_zero=True)(ids))
    model = _jitter(gn.Model(ids, [out, *states]), rng)
    _check(model, _ids(rng), tmp_path)


@pytest.mark.parametrize("name, cells, options", [
    ("lstm_cell", lambda k: k.LSTMCell(3), {}),
    ("simple_cell_backwards", lambda k: k.SimpleRNNCell(3, activation="relu"), dict(go_backwards=True)),
    ("stacked", lambda k: [k.LSTMCell(4), k.GRUCell(3), k.SimpleRNNCell(2)], {}),
    ("stacked_sequences_backwards", lambda k: [k.GRUCell(3), k.LSTMCell(2)],
     dict(return_sequences=True, go_backwards=True)),
])
def test_rnn_against_keras(name, cells, options, keras, rng, tmp_path):
    """Keras' RNN of the same cells given glassnet's weights, masked (Keras 3.15's loader does not
    read the cells in glassnet's .keras file of an RNN: no module names them)."""
    model = _jitter(gn.Sequential([gn.Input((STEPS,), dtype="int32"), L.Embedding(10, 3, mask_zero=True),
                                   *RNNS[name]()]), rng)
    k = keras.layers
    theirs = keras.Sequential([keras.Input((STEPS,), dtype="int32"), k.Embedding(10, 3, mask_zero=True),
                               k.RNN(cells(k), **options)])
    _against_keras_weights(model, theirs, [_ids(rng)], tmp_path)


def test_rnn_refusals(tmp_path):
    class OnnxMoreDoubling(L.Cell):
        def __init__(self, units):
            self.units = self.state_size = units

        def build(self, input_dim, add_weight):
            pass

        def step(self, params, x, states, training):
            # (a step of operators and glassnet.ops is drawn and exported since session 46:
            # tests/test_onnx_three.py; np.dot takes no symbolic tensor)
            doubled = np.dot(states[0], 2 * np.eye(self.units))
            return doubled, [doubled], None

        def step_backward(self, params, cache, grad_output, grad_states, grads):
            return grad_output, [grad_output]

    _refused(gn.Sequential([gn.Input((4, 3)), L.RNN(OnnxMoreDoubling(2))]), tmp_path,
             "the step of the cell of your own OnnxMoreDoubling could not be drawn")
    # (a stateful RNN is exported since session 46: tests/test_onnx_three.py)


# -- masks joined at merges, read by merges, given by a call's mask= --------------------------
def _two_masked(merge, dtype="float32", reader=None):
    """ids -> Embedding(mask_zero) and x -> Masking(-1.0), merged, read by ``reader``."""
    ids, x = gn.Input((STEPS,), dtype="int32", name="ids"), gn.Input((STEPS, 3), name="x")
    merged = merge([L.Embedding(10, 3, mask_zero=True)(ids), L.Masking(-1.0)(x)])
    out = (reader or (lambda: L.LSTM(2, return_sequences=True)))()(merged)
    return gn.Model([ids, x], out, dtype=dtype)


MERGES = {
    "add": lambda: L.Add(),
    "subtract": lambda: L.Subtract(),
    "average": lambda: L.Average(),
    "concatenate_features": lambda: L.Concatenate(),
    "concatenate_steps": lambda: L.Concatenate(axis=1, name="joined"),   # (Keras 3.15 loads a masked
    # "concatenate" along the steps as two operations of that name)
    "maximum": lambda: L.Maximum(),
    "minimum": lambda: L.Minimum(),
    "multiply": lambda: L.Multiply(),
}


def _two_inputs(rng, dtype="float32"):
    return [_ids(rng), _masked_steps(rng, -1.0, dtype)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(MERGES))
def test_masks_joined_at_a_merge(name, dtype, rng, tmp_path):
    """Two makers' masks meet at a merge (glassnet's MaskCombiner: OR, or joined along the steps);
    the merged mask reaches an LSTM; Maximum, Minimum and Multiply read their inputs' masks."""
    model = _jitter(_two_masked(MERGES[name](), dtype), rng)
    _check(model, _two_inputs(rng, dtype), tmp_path, dtype)


@pytest.mark.parametrize("name", ["maximum", "minimum", "multiply"])
def test_merge_reading_masks_alone(name, rng, tmp_path):
    """The merge's masked values reach the output (a GlobalAveragePooling1D reads the merged mask),
    with one input unmasked: only the masked one is left out."""
    ids, x = gn.Input((STEPS,), dtype="int32"), gn.Input((STEPS, 3))
    e = L.Embedding(10, 3, mask_zero=True)(ids)
    merged = MERGES[name]()([x, e, L.Dense(3)(e)])
    model = _jitter(gn.Model([ids, x], [merged, L.GlobalAveragePooling1D()(L.Masking(-1.0)(merged))]), rng)
    _check(model, _two_inputs(rng), tmp_path)


@pytest.mark.parametrize("name", ["add", "concatenate_steps", "maximum", "multiply"])
def test_merged_masks_against_keras(name, keras, rng, tmp_path):
    model = _jitter(_two_masked(MERGES[name](), reader=lambda: L.GRU(2)), rng)
    _against_keras(keras, model, _two_inputs(rng), tmp_path)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_call_mask_argument(dtype, rng, tmp_path):
    """A call's mask=: an Input of 0/1, and a comparison (ops.not_equal) of the ids."""
    x, given, ids = gn.Input((STEPS, 3)), gn.Input((STEPS,)), gn.Input((STEPS,), dtype="int32")
    seq = L.LSTM(3, return_sequences=True)(x, mask=given)
    pooled = L.GlobalAveragePooling1D()(seq, mask=gn.ops.not_equal(ids, 0))
    last = L.RNN([L.GRUCell(2), L.SimpleRNNCell(2)], go_backwards=True)(x, mask=gn.ops.not_equal(ids, 0))
    model = _jitter(gn.Model([x, given, ids], [seq, pooled, last], dtype=dtype), rng)
    data = [rng.normal(size=(7, STEPS, 3)).astype(dtype), (_ids(rng)[::-1] != 0).astype(dtype), _ids(rng)]
    _check(model, data, tmp_path, dtype)


def test_call_mask_argument_against_keras(keras, rng, tmp_path):
    x, given = gn.Input((STEPS, 3)), gn.Input((STEPS,))
    model = _jitter(gn.Model([x, given], L.GRU(3, go_backwards=True)(x, mask=given)), rng)
    k = keras.layers
    kx, kgiven = keras.Input((STEPS, 3)), keras.Input((STEPS,))
    theirs = keras.Model([kx, kgiven], k.GRU(3, go_backwards=True)(kx, mask=keras.ops.cast(kgiven, "bool")))
    data = [rng.normal(size=(7, STEPS, 3)).astype("float32"), (_ids(rng) != 0).astype("float32")]
    _against_keras_weights(model, theirs, data, tmp_path)


def test_shared_merge_joining_masks_exported(rng, tmp_path):
    """One merge layer called twice, each call joining masks that are read: refused by name until
    session 46 (the plan did not say which call each joined mask belongs to); each combiner now
    knows its call (tests/test_onnx_three.py has more)."""
    ids, x = gn.Input((STEPS,), dtype="int32"), gn.Input((STEPS, 3))
    pairs = [[L.Embedding(10, 3, mask_zero=True)(ids), L.Masking(-1.0)(x)] for _ in range(2)]
    add = L.Add(name="shared_add")
    model = _jitter(gn.Model([ids, x], [L.LSTM(2)(add(pairs[0])), L.GRU(2)(add(pairs[1]))]), rng)
    _check(model, [_ids(rng), _masked_steps(rng, -1.0)], tmp_path)


# -- attention layers' masks --------------------------------------------------------------------
def _attention(make, dtype="float32", key=False):
    """query ids (Embedding mask), value x (Masking), the attention layer on them."""
    ids, x = gn.Input((STEPS,), dtype="int32", name="ids"), gn.Input((STEPS + 1, 4), name="x")
    query = L.Embedding(10, 4, mask_zero=True)(ids)
    value = L.Masking(-1.0)(x)
    inputs = [query, value, L.Dense(4)(value)] if key else [query, value]
    return gn.Model([ids, x], make(inputs), dtype=dtype)


def _value(rng, dtype="float32"):
    x = rng.normal(size=(7, STEPS + 1, 4))
    pattern = np.ones((7, STEPS + 1), bool)
    pattern[0, 4:] = pattern[1, :3] = pattern[2, [0, 2, 5]] = pattern[4] = False     # row 4: all padding
    x[~pattern] = -1.0
    return x.astype(dtype)


ATTENTIONS = {
    "gqa": lambda xs: L.GroupedQueryAttention(3, 4, 2)(*xs),
    "gqa_causal_key": lambda xs: L.GroupedQueryAttention(2, 2, 1)(xs[0], xs[1], xs[2], use_causal_mask=True),
    "gqa_window": lambda xs: L.GroupedQueryAttention(2, 2, 2, sliding_window=2)(*xs),
    "gqa_dropout": lambda xs: L.GroupedQueryAttention(2, 2, 1, dropout=0.2)(*xs),
    "attention_dot": lambda xs: L.Attention()(xs),
    "attention_concat_scale_causal": lambda xs: L.Attention(use_scale=True, score_mode="concat")(
        xs, use_causal_mask=True),
    "attention_key": lambda xs: L.Attention(use_scale=True)(xs),
    "additive": lambda xs: L.AdditiveAttention()(xs),
    "additive_no_scale_key": lambda xs: L.AdditiveAttention(use_scale=False)(xs),
    "mha_key": lambda xs: L.MultiHeadAttention(2, 3)(xs[0], xs[1], xs[2]),
    "mha_window_causal": lambda xs: L.MultiHeadAttention(2, 3, sliding_window=3)(xs[0], xs[1], use_causal_mask=True),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(ATTENTIONS))
def test_attention_masks(name, dtype, rng, tmp_path):
    model = _jitter(_attention(ATTENTIONS[name], dtype, key="key" in name), rng)
    _check(model, [_ids(rng), _value(rng, dtype)], tmp_path, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gqa_attention_mask_and_window_any_length(dtype, rng, tmp_path):
    x, m = gn.Input((None, 6)), gn.Input((None, None))
    out = L.GroupedQueryAttention(3, 4, 2, sliding_window=3)(x, x, attention_mask=m, use_causal_mask=True)
    model = _jitter(gn.Model([x, m], out, dtype=dtype), rng)
    allowed = (rng.random((7, 5, 5)) > 0.3).astype(dtype)
    allowed[2] = 0
    session = _check(model, [rng.normal(size=(7, 5, 6)).astype(dtype), allowed], tmp_path, dtype)
    longer = [rng.normal(size=(2, 9, 6)).astype(dtype), (rng.random((2, 9, 9)) > 0.3).astype(dtype)]
    got = session.run(None, dict(zip([i.name for i in session.get_inputs()], longer)))[0]
    np.testing.assert_allclose(got, model.predict(longer, verbose=0), rtol=1e-5 if dtype == "float32" else 1e-10,
                               atol=1e-6 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize("name", ["attention_dot", "additive", "attention_concat_scale_causal"])
def test_attention_masks_against_keras(name, keras, rng, tmp_path):
    model = _jitter(_attention(ATTENTIONS[name]), rng)
    # (Keras' Attention sets masked scores to -1e9, glassnet to -inf: the same weights in float32)
    _against_keras(keras, model, [_ids(rng), _value(rng)], tmp_path)


@pytest.mark.parametrize("options", [{}, dict(sliding_window=2), dict(dropout=0.2)])
def test_gqa_masks_against_keras(options, keras, rng, tmp_path):
    """Keras' GroupedQueryAttention given glassnet's weights (glassnet's .keras writer does not
    write that layer): the query's and the value's masks, a sliding window, dropout (Keras' masked
    softmax: a row with nothing allowed gets zeros)."""
    model = _jitter(_attention(lambda xs: L.GroupedQueryAttention(3, 4, 2, **options)(*xs)), rng)
    k = keras.layers
    ids, x = keras.Input((STEPS,), dtype="int32"), keras.Input((STEPS + 1, 4))
    query, value = k.Embedding(10, 4, mask_zero=True)(ids), k.Masking(-1.0)(x)
    theirs = keras.Model([ids, x], k.GroupQueryAttention(3, 4, 2, **options)(query, value))
    _against_keras_weights(model, theirs, [_ids(rng), _value(rng)], tmp_path)


# -- ConvLSTM1D/2D/3D ------------------------------------------------------------------------
CONV_LSTMS = {
    "1d_valid": ((5, 9, 2), lambda: [L.ConvLSTM1D(3, 3)]),
    "1d_same_strides_sequences": ((5, 9, 2), lambda: [L.ConvLSTM1D(2, 3, strides=2, padding="same",
                                                                   return_sequences=True)]),
    "2d_same_dilation": ((4, 6, 5, 2), lambda: [L.ConvLSTM2D(3, 3, padding="same", dilation_rate=2)]),
    "2d_backwards_sequences_no_bias": ((4, 6, 5, 2), lambda: [L.ConvLSTM2D(2, (2, 3), go_backwards=True,
                                                                           use_bias=False, return_sequences=True)]),
    "2d_activations": ((4, 5, 5, 1), lambda: [L.ConvLSTM2D(2, 2, activation="relu", recurrent_activation="hard_sigmoid",
                                                           return_sequences=True), L.ConvLSTM2D(2, 2)]),
    "3d": ((3, 4, 4, 3, 2), lambda: [L.ConvLSTM3D(2, 2, padding="same", strides=(2, 1, 1))]),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(CONV_LSTMS))
def test_conv_lstm(name, dtype, rng, tmp_path):
    shape, make = CONV_LSTMS[name]
    model = _jitter(gn.Sequential([gn.Input(shape), *make()], dtype=dtype), rng)
    _check(model, rng.normal(size=(7, *shape)).astype(dtype), tmp_path, dtype)


def _masked_frames(rng, shape, dtype="float32"):
    """Frames and a mask of their steps (holes, left padding, a row with none real), 0/1 numbers."""
    return [rng.normal(size=(7, *shape)).astype(dtype), (_ids(rng)[:, :shape[0]] != 0).astype(dtype)]


def _masked_conv_lstm(shape, dtype="float32", **options):
    """A ConvLSTM2D called with mask= (Masking takes sequences of vectors only)."""
    x, m = gn.Input(shape), gn.Input(shape[:1])
    return gn.Model([x, m], L.ConvLSTM2D(2, 3, padding="same", **options)(x, mask=m), dtype=dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("options", [{}, dict(return_sequences=True), dict(go_backwards=True, return_sequences=True),
                                     dict(zero_output_for_mask=True, return_sequences=True),
                                     dict(zero_output_for_mask=True, go_backwards=True)])
def test_conv_lstm_masked(options, dtype, rng, tmp_path):
    shape = (STEPS, 5, 4, 2)
    model = _jitter(_masked_conv_lstm(shape, dtype, **options), rng)
    _check(model, _masked_frames(rng, shape, dtype), tmp_path, dtype)


def test_conv_lstm_states_and_open_steps(rng, tmp_path):
    """initial_state and return_state; Input((None, ...)): one file runs 4 and 7 steps."""
    x, h0, c0 = gn.Input((None, 6, 2)), gn.Input((4, 3)), gn.Input((4, 3))
    out, h, c = L.ConvLSTM1D(3, 3, return_sequences=True, return_state=True)(x, initial_state=[h0, c0])
    model = _jitter(gn.Model([x, h0, c0], [out, h, c]), rng)
    data = [rng.normal(size=(7, *shape)).astype("float32") for shape in ((4, 6, 2), (4, 3), (4, 3))]
    session = _check(model, data, tmp_path)
    longer = [rng.normal(size=(2, *shape)).astype("float32") for shape in ((7, 6, 2), (4, 3), (4, 3))]
    got = session.run(None, dict(zip([i.name for i in session.get_inputs()], longer)))
    for g, w in zip(got, model.predict(longer, verbose=0)):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_conv_lstm_against_keras(keras, rng, tmp_path):
    shape = (4, 6, 5, 2)
    model = _jitter(gn.Sequential([gn.Input(shape), L.ConvLSTM2D(2, 3, padding="same", return_sequences=True),
                                   L.ConvLSTM2D(3, 2, strides=2, go_backwards=True)]), rng)
    k = keras.layers
    theirs = keras.Sequential([keras.Input(shape), k.ConvLSTM2D(2, 3, padding="same", return_sequences=True),
                               k.ConvLSTM2D(3, 2, strides=2, go_backwards=True)])
    _against_keras_weights(model, theirs, [rng.normal(size=(7, *shape)).astype("float32")], tmp_path)


@pytest.mark.parametrize("options", [dict(return_sequences=True), dict(go_backwards=True)])
def test_conv_lstm_masked_against_keras(options, keras, rng, tmp_path):
    shape = (STEPS, 5, 4, 2)
    model = _jitter(_masked_conv_lstm(shape, **options), rng)
    k = keras.layers
    x, m = keras.Input(shape), keras.Input(shape[:1])
    theirs = keras.Model([x, m], k.ConvLSTM2D(2, 3, padding="same", **options)(x, mask=keras.ops.cast(m, "bool")))
    _against_keras_weights(model, theirs, _masked_frames(rng, shape), tmp_path)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv_lstm_channels_first(dtype, rng, tmp_path):
    """Channels first: frames (batch, steps, channels, *spatial), states and outputs (batch,
    filters, *spatial), masked, with given and returned states."""
    x, m, h0, c0 = gn.Input((STEPS, 2, 5, 4)), gn.Input((STEPS,)), gn.Input((3, 5, 4)), gn.Input((3, 5, 4))
    seq, h, c = L.ConvLSTM2D(3, 3, padding="same", data_format="channels_first", return_sequences=True,
                             return_state=True)(x, initial_state=[h0, c0])
    last = L.ConvLSTM1D(2, 2, data_format="channels_first", go_backwards=True)(L.Reshape((STEPS, 2, 20))(x), mask=m)
    model = _jitter(gn.Model([x, m, h0, c0], [seq, h, c, last], dtype=dtype), rng)
    data = [rng.normal(size=(7, *shape)).astype(dtype) for shape in ((STEPS, 2, 5, 4), (STEPS,), (3, 5, 4), (3, 5, 4))]
    data[1] = (_ids(rng) != 0).astype(dtype)
    _check(model, data, tmp_path, dtype)


def test_bidirectional_conv_lstm_channels_first(rng, tmp_path):
    """Channels first inside a Bidirectional (concatenated on the last axis, as glassnet and Keras do)."""
    x = gn.Input((STEPS, 2, 5, 4))
    out = L.Bidirectional(L.ConvLSTM2D(2, 2, data_format="channels_first", return_sequences=True))(x)
    model = _jitter(gn.Model(x, [out, L.Bidirectional(L.ConvLSTM2D(3, 2, data_format="channels_first"),
                                                      merge_mode="sum")(x)]), rng)
    _check(model, rng.normal(size=(7, STEPS, 2, 5, 4)).astype("float32"), tmp_path)


# (a stateful ConvLSTM of its own is exported since session 46: tests/test_onnx_three.py; inside a
# Bidirectional it is exported since session 47: tests/test_onnx_four.py)


# -- ops: flip, argmax, argmin -------------------------------------------------------------------
def _awkward(rng, shape, dtype="float32"):
    """Numbers with ties, NaN, infinities, -0.0 and 0.0, and rows of NaN only."""
    x = rng.integers(-2, 3, size=(7, *shape)).astype(dtype)
    x[0, 0, :2] = np.nan
    x[1, 1] = np.nan
    x[2, 0, 0], x[2, 0, 1], x[2, 1, 2] = np.inf, -np.inf, -np.inf
    x[3] = 0.0
    x[3, 0, [1, 3]] = -0.0
    x[3, 1] = -0.0
    x[4, 2, :] = -np.inf
    return x


OPS = {
    "flip_steps": lambda x: gn.ops.flip(x, axis=1),
    "flip_both": lambda x: gn.ops.flip(x, axis=[-1, 1]),
    "argmax_last": lambda x: gn.ops.argmax(x, axis=-1),
    "argmax_steps_keepdims": lambda x: gn.ops.argmax(x, axis=1, keepdims=True),
    "argmin_last": lambda x: gn.ops.argmin(x, axis=2),
    "argmin_steps_keepdims": lambda x: gn.ops.argmin(x, axis=-2, keepdims=True),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(OPS))
def test_ops(name, dtype, rng, tmp_path):
    """Against predict on finite numbers (ties, -0.0), and against the same glassnet.ops on arrays
    where predict refuses the data (NaN, infinities)."""
    x = gn.Input((3, 4))
    model = gn.Model(x, OPS[name](L.Dense(4)(x) if "flip" in name else x), dtype=dtype)
    awkward = _awkward(rng, (3, 4), dtype)
    finite = np.where(np.isfinite(awkward), awkward, 1.0).astype(dtype)
    _, session = _exported(model, tmp_path)
    name_in = session.get_inputs()[0].name
    for rows in (slice(0, 1), slice(0, 7)):
        (got,) = session.run(None, {name_in: finite[rows]})
        want = model.predict(finite[rows], verbose=0)
        assert got.dtype == np.dtype(dtype) and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == "float32" else 1e-10)
    if "arg" in name:
        (got,) = session.run(None, {name_in: awkward})
        np.testing.assert_array_equal(got, np.asarray(OPS[name](awkward)).astype(dtype))


@pytest.mark.parametrize("name", ["argmax_last", "argmin_steps_keepdims", "flip_both"])
def test_ops_against_keras(name, keras, rng, tmp_path):
    """Keras 3.15's ops on TensorFlow (NaN passed over, -0.0 below 0.0), by hand-made Keras model."""
    data = _awkward(rng, (3, 4))
    x = gn.Input((3, 4))
    _, session = _exported(gn.Model(x, OPS[name](x)), tmp_path)
    (got,) = session.run(None, {session.get_inputs()[0].name: data})
    k = keras.Input((3, 4))
    theirs = keras.Model(k, {"argmax_last": lambda t: keras.ops.argmax(t, axis=-1),
                             "argmin_steps_keepdims": lambda t: keras.ops.argmin(t, axis=-2, keepdims=True),
                             "flip_both": lambda t: keras.ops.flip(t, axis=[-1, 1])}[name](k))
    np.testing.assert_array_equal(got, np.asarray(theirs.predict(data, verbose=0)).astype("float32"))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("merge_mode, sequences", [("concat", True), ("sum", False), ("mul", True), ("ave", False)])
def test_bidirectional_conv_lstm_masked(merge_mode, sequences, dtype, rng, tmp_path):
    """Bidirectional around ConvLSTM2D: two Scans, the backward one's outputs in the sequence's order."""
    shape = (STEPS, 5, 4, 2)
    x, m = gn.Input(shape), gn.Input(shape[:1])
    out = L.Bidirectional(L.ConvLSTM2D(2, 3, padding="same", return_sequences=sequences), merge_mode=merge_mode)(
        x, mask=m)
    model = _jitter(gn.Model([x, m], out, dtype=dtype), rng)
    _check(model, _masked_frames(rng, shape, dtype), tmp_path, dtype)


def test_bidirectional_conv_lstm_states(rng, tmp_path):
    x = gn.Input((4, 7, 2))
    out, *states = L.Bidirectional(L.ConvLSTM1D(3, 2, return_state=True))(x)
    model = _jitter(gn.Model(x, [out, *states]), rng)
    _check(model, rng.normal(size=(7, 4, 7, 2)).astype("float32"), tmp_path)


def test_bidirectional_conv_lstm_against_keras(keras, rng, tmp_path):
    shape = (STEPS, 5, 4, 2)
    model = _jitter(gn.Sequential([gn.Input(shape), L.Bidirectional(L.ConvLSTM2D(2, 3, padding="same",
                                                                                 return_sequences=True))]), rng)
    theirs = keras.Sequential([keras.Input(shape), keras.layers.Bidirectional(
        keras.layers.ConvLSTM2D(2, 3, padding="same", return_sequences=True))])
    _against_keras_weights(model, theirs, [rng.normal(size=(7, *shape)).astype("float32")], tmp_path)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("op, k", [("tril", 0), ("tril", -1), ("triu", 1), ("triu", -2)])
def test_tril_triu(op, k, dtype, rng, tmp_path):
    """Against predict, and one file on matrices of another size (Input((None, None)))."""
    x = gn.Input((None, None))
    model = gn.Model(x, getattr(gn.ops, op)(x, k=k), dtype=dtype)
    session = _check(model, rng.normal(size=(7, 3, 5)).astype(dtype), tmp_path, dtype)
    other = rng.normal(size=(2, 6, 4)).astype(dtype)
    (got,) = session.run(None, {session.get_inputs()[0].name: other})
    np.testing.assert_array_equal(got, getattr(np, op)(other, k))       # NumPy's on each matrix


def test_det(keras, rng, tmp_path):
    x = gn.Input((2, 4, 4))
    model = _jitter(gn.Model(x, gn.ops.det(L.Dense(4)(x))), rng)
    data = rng.normal(size=(7, 2, 4, 4)).astype("float32")
    _check(model, data, tmp_path)
    # (a float64 model's det, refused until session 46, is an LU here: tests/test_onnx_three.py)
    k = keras.Input((2, 4, 4))
    _, session = _exported(gn.Model(x, gn.ops.det(x)), tmp_path)
    (got,) = session.run(None, {session.get_inputs()[0].name: data})
    np.testing.assert_allclose(got, np.asarray(keras.Model(k, keras.ops.det(k)).predict(data, verbose=0)),
                               rtol=1e-5, atol=1e-6)
