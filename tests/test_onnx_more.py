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
from onnx_checks import check as _check, exported as _exported, jitter as _jitter, refused as _refused  # noqa: E402

STEPS = 6


def _ids(rng, vocabulary=10, rows=7):
    """Rows of ids (0 the padding): right padding, left padding, holes, no real step, every other
    step, all real, one real step at the end."""
    ids = rng.integers(1, vocabulary, size=(rows, STEPS))
    ids[0, 3:] = 0
    ids[1, :2] = 0
    ids[2, [1, 3]] = 0
    ids[3] = 0
    ids[4, ::2] = 0
    ids[6, :-1] = 0
    return ids


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
    theirs.set_weights(model.get_weights())
    ids = _ids(rng)
    _, session = _exported(model, tmp_path)
    (got,) = session.run(None, {session.get_inputs()[0].name: ids})
    np.testing.assert_allclose(got, np.asarray(theirs.predict(ids, verbose=0)), rtol=1e-5, atol=1e-5)


def test_rnn_refusals(tmp_path):
    class OnnxMoreDoubling(L.Cell):
        def __init__(self, units):
            self.units = self.state_size = units

        def build(self, input_dim, add_weight):
            pass

        def step(self, params, x, states, training):
            return 2 * states[0], [2 * states[0]], None

        def step_backward(self, params, cache, grad_output, grad_states, grads):
            return grad_output, [grad_output]

    _refused(gn.Sequential([gn.Input((4, 3)), L.RNN(OnnxMoreDoubling(2))]), tmp_path,
             "a cell of your own (OnnxMoreDoubling)")
    _refused(gn.Sequential([gn.Input((4, 3), batch_size=2), L.RNN(L.LSTMCell(2), stateful=True)]), tmp_path,
             "stateful=True")
