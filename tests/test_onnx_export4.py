"""``model.export(path, format="onnx")`` for what was refused before: masks (``Embedding(mask_zero=True)``,
``Masking``) read by SimpleRNN/LSTM/GRU/Bidirectional and GlobalAveragePooling1D, written as an
explicit Scan (glassnet._onnx_scan) with Keras' rule at a masked step, on masks with holes, left and
right padding and rows with no real step; the same Scan for float64 recurrent layers, activations
ONNX's recurrent nodes lack, ``return_state`` and ``initial_state``. Each file is read by onnx's
checker (full_check) and run by onnxruntime on batches of 1 and 7: equal to glassnet's ``predict``
within 1e-5 relative (float32) and 1e-10 (float64); several against Keras 3.15's ``predict`` of the
same model (its .keras file); refusals by name before anything is written."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops

L = gn.layers
onnx = pytest.importorskip("onnx", reason="onnx (test oracle) not installed")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime (test oracle) not installed")
from onnx_checks import TOLERANCES, check as _check, exported as _exported, jitter as _jitter, \
    masked_ids as _ids, refused as _refused   # noqa: E402

STEPS = 6


def _embedded(layers, dtype="float32", seed=0):
    return gn.Sequential([gn.Input((STEPS,), dtype="int32"), L.Embedding(10, 4, mask_zero=True), *layers],
                         seed=seed, dtype=dtype)


MASKED = {
    "simple_rnn_sequences": lambda: [L.SimpleRNN(3, return_sequences=True)],
    "simple_rnn_last_backwards": lambda: [L.SimpleRNN(3, go_backwards=True)],
    "lstm_sequences_backwards": lambda: [L.LSTM(3, return_sequences=True, go_backwards=True)],
    "lstm_last": lambda: [L.LSTM(3)],
    "gru_sequences": lambda: [L.GRU(3, return_sequences=True)],
    "gru_last_backwards_no_bias": lambda: [L.GRU(3, go_backwards=True, use_bias=False)],
    "zero_output_for_mask": lambda: [L.LSTM(3, return_sequences=True, zero_output_for_mask=True),
                                     L.GRU(2, zero_output_for_mask=True, go_backwards=True)],
    "stacked_dense_between": lambda: [L.LSTM(4, return_sequences=True), L.Dense(3, activation="tanh"),
                                      L.GRU(3, return_sequences=True), L.TimeDistributed(L.Dense(2))],
    "lstm_average_pool": lambda: [L.LSTM(3, return_sequences=True), L.GlobalAveragePooling1D()],
    "average_pool_keepdims": lambda: [L.GlobalAveragePooling1D(keepdims=True)],
    "bidirectional_concat_sequences": lambda: [L.Bidirectional(L.LSTM(3, return_sequences=True))],
    "bidirectional_sum_last": lambda: [L.Bidirectional(L.GRU(3), merge_mode="sum")],
    "bidirectional_mul_sequences": lambda: [L.Bidirectional(L.SimpleRNN(3, return_sequences=True),
                                                            merge_mode="mul")],
    "bidirectional_ave_last": lambda: [L.Bidirectional(L.LSTM(3), merge_mode="ave")],
    "activations": lambda: [L.LSTM(3, activation="relu", recurrent_activation="hard_sigmoid",
                                   return_sequences=True), L.SimpleRNN(2, activation="elu")],
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(MASKED))
def test_masked_embedding_readers(name, dtype, rng, tmp_path):
    model = _jitter(_embedded(MASKED[name](), dtype), rng)
    ids = _ids(rng)
    assert model._mask_plan, "the model hands a mask on"
    _check(model, ids, tmp_path, dtype)
    ops = {n.op_type for n in onnx.load(str(tmp_path / "model.onnx")).graph.node}
    assert not ops & {"LSTM", "GRU", "RNN"}, ops            # the Scan, not ONNX's nodes (no sequence_lens)


def _masked_steps(rng, value, dtype="float32"):
    """7 sequences (6 steps, 3 features) with the ids' mask pattern: the padding steps all
    ``value``, and a real step with one feature equal to it (still real)."""
    x = rng.normal(size=(7, STEPS, 3))
    x[_ids(rng) == 0] = value
    x[5, 2, 0] = value
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_masking_layer(dtype, rng, tmp_path):
    """Masking(-1.0): the output has the padding set to 0 and the mask reaches the readers."""
    model = _jitter(gn.Sequential([gn.Input((STEPS, 3)), L.Masking(-1.0), L.GRU(4, return_sequences=True),
                                   L.Bidirectional(L.LSTM(2)), L.Dense(2)], dtype=dtype), rng)
    _check(model, _masked_steps(rng, -1.0, dtype), tmp_path, dtype)
    alone = gn.Sequential([gn.Input((STEPS, 3)), L.Masking(-1.0)], dtype=dtype)
    x = _masked_steps(rng, -1.0, dtype)
    _, session = _exported(alone, tmp_path, "alone.onnx")
    (got,) = session.run(None, {session.get_inputs()[0].name: x})
    want = np.where((x != -1.0).any(axis=-1, keepdims=True), x, 0)      # by hand
    np.testing.assert_array_equal(got, want)


def test_masked_any_length(rng, tmp_path):
    """A mask over Input((None,)): one file runs 6 and 9 steps."""
    model = _jitter(gn.Sequential([gn.Input((None,), dtype="int32"), L.Embedding(10, 4, mask_zero=True),
                                   L.Bidirectional(L.GRU(3, return_sequences=True)), L.LSTM(2)]), rng)
    session = _check(model, _ids(rng), tmp_path)
    longer = rng.integers(0, 10, size=(3, 9))
    longer[0, :4] = 0
    (got,) = session.run(None, {session.get_inputs()[0].name: longer})
    np.testing.assert_allclose(got, model.predict(longer, verbose=0), **TOLERANCES["float32"])


def test_functional_masked_branches(rng, tmp_path):
    """One Embedding's mask read by two readers on two branches, a return_state LSTM among them."""
    ids = gn.Input((STEPS,), dtype="int32", name="ids")
    e = L.Embedding(10, 4, mask_zero=True)(ids)
    seq, h, c = L.LSTM(3, return_sequences=True, return_state=True)(e)
    pooled = L.GlobalAveragePooling1D()(seq)
    last = L.GRU(2, go_backwards=True)(e)
    model = _jitter(gn.Model(ids, [pooled, last, h, c]), rng)
    _check(model, _ids(rng), tmp_path)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_states_in_and_out(dtype, rng, tmp_path):
    """return_state (LSTM's h and c, Bidirectional's four) and initial_state, unmasked."""
    x, h0, c0 = gn.Input((5, 3)), gn.Input((2,)), gn.Input((2,))
    seq, h, c = L.LSTM(2, return_sequences=True, return_state=True)(x, initial_state=[h0, c0])
    both = L.Bidirectional(L.GRU(2, return_state=True))(seq)
    model = _jitter(gn.Model([x, h0, c0], [seq, h, c, *both], dtype=dtype), rng)
    data = [rng.normal(size=(7, *shape)).astype(dtype) for shape in ((5, 3), (2,), (2,))]
    _check(model, data, tmp_path, dtype)


def test_initial_state_after_masking(rng, tmp_path):
    """A call with initial_state reads no mask (glassnet's plan, Keras' rule), after a Masking too."""
    x = gn.Input((STEPS, 3))
    start = L.Dense(2)(L.Flatten()(x))
    model = _jitter(gn.Model(x, L.GRU(2, return_sequences=True)(L.Masking(-1.0)(x), initial_state=[start])), rng)
    _check(model, _masked_steps(rng, -1.0), tmp_path)


@pytest.mark.parametrize("make", [
    lambda: [L.LSTM(3, return_sequences=True), L.GRU(2, go_backwards=True)],
    lambda: [L.Bidirectional(L.SimpleRNN(3, return_sequences=True), merge_mode="concat")],
])
def test_float64_recurrent(make, rng, tmp_path):
    """float64 recurrent layers (refused before: onnxruntime has no float64 RNN/LSTM/GRU kernel)."""
    model = _jitter(gn.Sequential([gn.Input((5, 3)), *make()], dtype="float64"), rng)
    _check(model, rng.normal(size=(7, 5, 3)), tmp_path, "float64")


def test_activations_onnx_nodes_lack(rng, tmp_path):
    """gelu and a softmax gate (per gate block, as glassnet applies it): no ONNX RNN form, a Scan."""
    model = _jitter(gn.Sequential([gn.Input((5, 3)), L.SimpleRNN(3, activation="gelu", return_sequences=True),
                                   L.GRU(2, recurrent_activation="softmax", return_sequences=True),
                                   L.LSTM(2, recurrent_activation="softmax")]), rng)
    _check(model, rng.normal(size=(7, 5, 3)).astype("float32"), tmp_path)


KERAS_MASKED = ["bidirectional_concat_sequences", "bidirectional_sum_last", "lstm_sequences_backwards",
                "gru_last_backwards_no_bias", "stacked_dense_between", "lstm_average_pool"]


@pytest.mark.parametrize("name", KERAS_MASKED)
def test_masked_against_keras(name, keras, rng, tmp_path):
    """Keras 3.15 reads the same model (glassnet's .keras file): its masked predict equals
    onnxruntime's (the row with no real step left out of the averages: Keras' mean there is 0/0)."""
    model = _jitter(_embedded(MASKED[name]()), rng)
    ids = _ids(rng)
    if "pool" in name:
        ids = ids[[0, 1, 2, 4, 5, 6]]
    model.save(tmp_path / "m.keras", save_format="keras")
    want = keras.models.load_model(tmp_path / "m.keras").predict(ids, verbose=0)
    _, session = _exported(model, tmp_path)
    (got,) = session.run(None, {session.get_inputs()[0].name: ids})
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-5, atol=1e-5)


def test_masking_against_keras(keras, rng, tmp_path):
    model = _jitter(gn.Sequential([gn.Input((STEPS, 3)), L.Masking(-1.0), L.Bidirectional(L.GRU(3), merge_mode="ave"),
                                   L.Dense(2)]), rng)
    x = _masked_steps(rng, -1.0)
    model.save(tmp_path / "m.keras", save_format="keras")
    want = keras.models.load_model(tmp_path / "m.keras").predict(x, verbose=0)
    _, session = _exported(model, tmp_path)
    (got,) = session.run(None, {session.get_inputs()[0].name: x})
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("make, words", [
    # (a stateful reader inside Bidirectional is exported since session 47: tests/test_onnx_four.py)
    # (masks read by GroupedQueryAttention, a call's mask= and masks joined at a merge are
    # exported since session 45: tests/test_onnx_more.py)
    (lambda: gn.Sequential([gn.Input((3, 4), dtype="int32"), L.Embedding(5, 2, mask_zero=True),
                            L.TimeDistributed(L.LSTM(2))]), "axes within the steps"),
])
def test_refused_before_writing(make, words, tmp_path):
    _refused(make(), tmp_path, words)


def test_scan_body_attribute():
    """The writer's graph attribute (a Scan's body), parsed by onnx's own classes."""
    from glassnet import _onnx_proto as proto
    body = proto.graph("g", [proto.node("Identity", ["a"], ["b"], "n")], [],
                       [proto.value_info("a", proto.BOOL, ["batch", 1])], [proto.value_info("b", proto.BOOL, [None])])
    attr = onnx.AttributeProto.FromString(proto.attribute("body", proto.Subgraph(body)))
    assert attr.type == onnx.AttributeProto.GRAPH and attr.g.node[0].op_type == "Identity"
    assert attr.g.input[0].type.tensor_type.elem_type == onnx.TensorProto.BOOL


SAME_OPEN = {
    "conv2d_pools": ((None, None, 3), lambda: [L.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
                                               L.MaxPooling2D(3, strides=2, padding="same"),
                                               L.AveragePooling2D(2, padding="same")],
                     [(11, 13), (16, 9), (3, 1)]),
    "depthwise_separable": ((None, None, 3), lambda: [L.DepthwiseConv2D(3, strides=(2, 1), padding="same"),
                                                      L.SeparableConv2D(2, 2, strides=2, padding="same")],
                            [(9, 8), (12, 5)]),
    "conv1d_pools": ((None, 2), lambda: [L.Conv1D(3, 4, strides=3, padding="same"),
                                         L.AveragePooling1D(2, padding="same"), L.MaxPooling1D(1, strides=1)],
                     [(17,), (12,), (2,)]),
    "one_open_axis": ((None, 7, 2), lambda: [L.Conv2D(2, (2, 3), strides=(3, 2), padding="same")], [(10, 7), (4, 7)]),
}


@pytest.mark.parametrize("name", sorted(SAME_OPEN))
def test_same_strides_over_open_sizes(name, rng, tmp_path):
    """"same" with strides over Input(None) sizes: ONNX's auto_pad SAME_UPPER (the odd pixel after,
    TensorFlow's rule); one file run at several sizes, odd and even, equal to predict."""
    shape, make, sizes = SAME_OPEN[name]
    model = _jitter(gn.Sequential([gn.Input(shape), *make()]), rng)
    _, session = _exported(model, tmp_path)
    for size in sizes:
        x = rng.normal(size=(3, *size, shape[-1])).astype("float32")
        (got,) = session.run(None, {session.get_inputs()[0].name: x})
        want = model.predict(x, verbose=0)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, **TOLERANCES["float32"])


def test_same_strides_open_against_keras(keras, rng, tmp_path):
    model = _jitter(gn.Sequential([gn.Input((None, None, 2)), L.Conv2D(3, 3, strides=2, padding="same"),
                                   L.AveragePooling2D(3, strides=2, padding="same")]), rng)
    model.save(tmp_path / "m.keras", save_format="keras")
    oracle = keras.models.load_model(tmp_path / "m.keras")
    _, session = _exported(model, tmp_path)
    for size in ((9, 14), (7, 7)):
        x = rng.normal(size=(2, *size, 2)).astype("float32")
        (got,) = session.run(None, {session.get_inputs()[0].name: x})
        np.testing.assert_allclose(got, np.asarray(oracle.predict(x, verbose=0)), rtol=1e-5, atol=1e-5)


def test_same_strides_open_float64_refused(tmp_path):
    model = gn.Sequential([gn.Input((None, 2)), L.Conv1D(3, 3, strides=2, padding="same")], dtype="float64")
    _refused(model, tmp_path, "fixed sizes only")


def _attention_mask_model(dtype, dropout=0.0):
    q, v, allowed = gn.Input((5, 4)), gn.Input((6, 3)), gn.Input((5, 6))
    out = L.MultiHeadAttention(2, 3, dropout=dropout)(q, v, attention_mask=allowed)
    return gn.Model([q, v, allowed], out, dtype=dtype)


def _allowed(rng, dtype):
    """0/1 (and a 2.5: nonzero allows) of shape (7, 5, 6), query step 2 of sample 0 allowing nothing."""
    allowed = rng.integers(0, 2, size=(7, 5, 6)).astype(dtype)
    allowed[0, 2], allowed[1, 0, 0] = 0, 2.5
    return allowed


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_attention_mask_input(dropout, dtype, rng, tmp_path):
    """MultiHeadAttention's attention_mask input; a row allowing nothing weighs evenly, or gets
    zeros with dropout (Keras' masked softmax), as glassnet's predict."""
    model = _jitter(_attention_mask_model(dtype, dropout), rng)
    data = [rng.normal(size=(7, 5, 4)).astype(dtype), rng.normal(size=(7, 6, 3)).astype(dtype), _allowed(rng, dtype)]
    _check(model, data, tmp_path, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_causal_any_length(dtype, rng, tmp_path):
    """use_causal_mask over Input((None, 4)): the band built from the steps' sizes; 6 and 9 steps."""
    x = gn.Input((None, 4))
    model = _jitter(gn.Model(x, L.MultiHeadAttention(2, 3)(x, x, use_causal_mask=True), dtype=dtype), rng)
    session = _check(model, rng.normal(size=(7, 6, 4)).astype(dtype), tmp_path, dtype)
    longer = rng.normal(size=(2, 9, 4)).astype(dtype)
    (got,) = session.run(None, {session.get_inputs()[0].name: longer})
    np.testing.assert_allclose(got, model.predict(longer, verbose=0), **TOLERANCES[dtype])


def _masked_attention(dtype="float32", causal=True):
    ids = gn.Input((STEPS,), dtype="int32", name="ids")
    e = L.Embedding(10, 4, mask_zero=True)(ids)
    attended = L.MultiHeadAttention(2, 3)(e, e, use_causal_mask=causal)
    return gn.Model(ids, L.GRU(2)(L.Add()([e, attended])), dtype=dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_attention_reads_input_masks(dtype, rng, tmp_path):
    """An Embedding's mask on the query and value of MultiHeadAttention (ANDed with the causal
    band), and carried on past it (the query's, Keras' rule) to a GRU."""
    model = _jitter(_masked_attention(dtype), rng)
    _check(model, _ids(rng), tmp_path, dtype)


@pytest.mark.parametrize("causal", [False, True])
def test_attention_masks_against_keras(causal, keras, rng, tmp_path):
    model = _jitter(_masked_attention(causal=causal), rng)
    ids = _ids(rng)
    model.save(tmp_path / "m.keras", save_format="keras")
    want = keras.models.load_model(tmp_path / "m.keras").predict(ids, verbose=0)
    _, session = _exported(model, tmp_path)
    (got,) = session.run(None, {"ids": ids})
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-5, atol=1e-5)


def test_attention_mask_input_against_keras(keras, rng, tmp_path):
    """The same attention_mask model drawn in Keras 3.15 with glassnet's weights."""
    model = _jitter(_attention_mask_model("float32"), rng)
    q, v, allowed = keras.Input((5, 4)), keras.Input((6, 3)), keras.Input((5, 6))
    oracle = keras.Model([q, v, allowed], keras.layers.MultiHeadAttention(2, 3)(q, v, attention_mask=allowed))
    oracle.set_weights(model.get_weights())
    data = [rng.normal(size=(7, 5, 4)).astype("float32"), rng.normal(size=(7, 6, 3)).astype("float32"),
            _allowed(rng, "float32")]
    _, session = _exported(model, tmp_path)
    got = session.run(None, {i.name: x for i, x in zip(session.get_inputs(), data)})[0]
    np.testing.assert_allclose(got, np.asarray(oracle.predict(data, verbose=0)), rtol=1e-5, atol=1e-5)


def _ops_model(make, dtype):
    x, ids = gn.Input((3, 5), name="x"), gn.Input((3, 5), dtype="int32", name="ids")
    return gn.Model([x, ids], make(x, ids), dtype=dtype)


OPS = {
    "cumsum": lambda x, ids: ops.cumsum(x, axis=-1),
    "cumprod": lambda x, ids: ops.cumprod(x, axis=1),
    "sort_last": lambda x, ids: ops.sort(x),
    "sort_steps": lambda x, ids: ops.sort(x, axis=1),
    "argsort": lambda x, ids: ops.argsort(x, axis=1),
    "top_k_values": lambda x, ids: ops.top_k(x, 2)[0],
    "top_k_indices": lambda x, ids: ops.top_k(x, 3, sorted=False)[1],
    "one_hot": lambda x, ids: ops.one_hot(ids, 4),
    "one_hot_axis": lambda x, ids: ops.one_hot(ids, 4, axis=1),
    "take_constant_indices": lambda x, ids: ops.take(x, [[0, 2], [-1, 1]], axis=2),
    "take_from_table": lambda x, ids: ops.take(np.arange(12.0).reshape(6, 2), ids, axis=0),
    "take_along_axis": lambda x, ids: ops.take_along_axis(x, ids, axis=2),
    "take_along_constant": lambda x, ids: ops.take_along_axis(x, np.array([[[0], [1], [4]]]), axis=2),
    "take_along_broadcast": lambda x, ids: ops.take_along_axis(x, ops.take(ids, [1], axis=2), axis=2),
    "sorted_sum": lambda x, ids: ops.cumsum(ops.sort(x, axis=-1), axis=1) + ops.one_hot(ids[:, :, 0], 5),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(OPS))
def test_ops_functions(name, dtype, rng, tmp_path):
    """ops functions refused before: the file equals predict (ids of -1 and 4: outside one_hot's
    classes, all zeros; a negative index reads from the end, as NumPy's)."""
    model = _ops_model(OPS[name], dtype)
    x = rng.normal(size=(7, 3, 5)).astype(dtype)
    low = 0 if name.startswith(("take", "sorted")) else -1
    ids = rng.integers(low, 5, size=(7, 3, 5)).astype(np.int64)
    _check(model, [x, ids], tmp_path, dtype)


def test_ops_sort_ties(rng, tmp_path):
    """Ties keep their order (lower index first), as glassnet's stable argsort and TensorFlow's top_k."""
    model = _ops_model(lambda x, ids: ops.argsort(x, axis=-1) * 10 + ops.top_k(x, 5)[1], "float32")
    x = rng.integers(0, 3, size=(7, 3, 5)).astype("float32")
    _check(model, [x, np.zeros((7, 3, 5), np.int64)], tmp_path)


def test_ops_any_length(rng, tmp_path):
    """sort and cumprod over an open axis (Input((None, 4))): 5 and 8 steps from one file."""
    x = gn.Input((None, 4))
    model = gn.Model(x, ops.cumprod(ops.sort(x, axis=1), axis=1))
    session = _check(model, rng.normal(size=(7, 5, 4)).astype("float32"), tmp_path)
    longer = rng.normal(size=(2, 8, 4)).astype("float32")
    (got,) = session.run(None, {session.get_inputs()[0].name: longer})
    np.testing.assert_allclose(got, model.predict(longer, verbose=0), **TOLERANCES["float32"])


def _frames_model():
    inner = gn.Sequential([gn.Input((8, 8, 1)), L.Conv2D(3, 3, padding="same", activation="relu"),
                           L.MaxPooling2D(2), L.Flatten(), L.Dense(4)])
    return gn.Sequential([gn.Input((5, 8, 8, 1)), L.TimeDistributed(inner), L.LSTM(3)])


def test_time_distributed_sequential(rng, tmp_path):
    """TimeDistributed around a Sequential CNN (the frames of a clip), then an LSTM."""
    model = _jitter(_frames_model(), rng)
    _check(model, rng.normal(size=(7, 5, 8, 8, 1)).astype("float32"), tmp_path)


def test_time_distributed_functional_float64(rng, tmp_path):
    a = gn.Input((6,))
    inner = gn.Model(a, L.Add()([L.Dense(4, activation="tanh")(a), L.Dense(4)(a)]), dtype="float64")
    model = _jitter(gn.Sequential([gn.Input((3, 6)), L.TimeDistributed(inner), L.Dense(2)], dtype="float64"), rng)
    _check(model, rng.normal(size=(7, 3, 6)), tmp_path, "float64")


def test_time_distributed_model_with_mask(rng, tmp_path):
    """A wrapped model whose own Embedding mask is read by its GRU, on every step's ids."""
    ids = gn.Input((4,), dtype="int32")
    sentence = gn.Model(ids, L.GRU(2)(L.Embedding(9, 3, mask_zero=True)(ids)))
    model = _jitter(gn.Sequential([gn.Input((5, 4), dtype="int32"), L.TimeDistributed(sentence), L.Dense(1)]), rng)
    words = rng.integers(1, 9, size=(7, 5, 4))
    words[:, :, 2:] = 0
    words[0, 1] = 0
    words[1, :, 0] = 0
    _check(model, words, tmp_path)


def test_time_distributed_model_against_keras(keras, rng, tmp_path):
    """The same model drawn in Keras 3.15 with glassnet's weights (glassnet writes no .keras file
    of a wrapped Sequential)."""
    model = _jitter(_frames_model(), rng)
    k = keras.layers
    inner = keras.Sequential([keras.Input((8, 8, 1)), k.Conv2D(3, 3, padding="same", activation="relu"),
                              k.MaxPooling2D(2), k.Flatten(), k.Dense(4)])
    oracle = keras.Sequential([keras.Input((5, 8, 8, 1)), k.TimeDistributed(inner), k.LSTM(3)])
    oracle.set_weights(model.get_weights())
    x = rng.normal(size=(7, 5, 8, 8, 1)).astype("float32")
    want = oracle.predict(x, verbose=0)
    _, session = _exported(model, tmp_path)
    (got,) = session.run(None, {session.get_inputs()[0].name: x})
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-5, atol=1e-5)
