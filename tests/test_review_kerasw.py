"""Every layer class glassnet and Keras 3.15 both have, written to Keras' files (``.keras`` and the
legacy ``.h5``) and read back by the other side (review kerasw).

Found by the sweep (each layer class in a small functional model, typical and non-default
arguments, predictions compared to 1e-5 both ways and after a re-save): ``RNN(cell)``'s cells were
written as glassnet's bare ``{"class_name", "config"}`` ("Could not locate class 'LSTMCell'"); the
weights of ``ConvLSTM1D/2D/3D`` and ``RNN(cell)`` were the layer's own, where Keras keeps them in its
cell ("expected 0 variables, received 3"); ``GroupedQueryAttention`` was refused as a class Keras
lacks (Keras exports it as ``GroupQueryAttention``, and its ``.h5`` files say
``GroupedQueryAttention``) and Keras' files of it were refused (its ``_query_dense``, ... groups);
Keras' files of stacked cells were refused (the ``cells`` groups' order); a recurrent layer's
``return_state`` was refused ("Keras 3.15 has no LastState layer") and its ``initial_state`` written as
positional arguments (Keras read the second as the mask); ``Pipeline`` was refused
("a list of layers") and Keras' files of one with weights were refused; ``HashedCrossing`` was
written called on two tensors (Keras calls it on one tuple) after Inputs said float32 (glassnet
read Keras' int64 Inputs as floats); ``SpectralNormalization``
was written with its three weights in one group, where Keras holds its kernel twice (its own vars
and its inner layer's), and Keras' files of it were refused; an ``.h5`` of ``Attention()`` did not
load in Keras (its legacy loader turns ``score_mode="dot"`` into its ``dot`` function).
"""
import io
import json
import warnings
import zipfile

import numpy as np
import pytest

import glassnet as gn

h5py = pytest.importorskip("h5py", reason="Keras' files need h5py")

L = gn.layers


def _gqa(lib, x, kv=2, **kwargs):
    cls = getattr(lib, "GroupQueryAttention", None) or lib.GroupedQueryAttention
    return cls(head_dim=3, num_query_heads=4, num_key_value_heads=kv, **kwargs)(x, x)


# (id, input shape, build(layers module, input tensor) -> output tensor)
CASES = [
    ("rnn_lstm_cell", (4, 2), lambda lib, x: lib.RNN(lib.LSTMCell(3))(x)),
    ("rnn_gru_cell_seq", (4, 2), lambda lib, x: lib.RNN(lib.GRUCell(3), return_sequences=True)(x)),
    ("rnn_simple_cell_backwards", (4, 2), lambda lib, x: lib.RNN(lib.SimpleRNNCell(3), go_backwards=True)(x)),
    ("rnn_stacked_mixed", (4, 2), lambda lib, x: lib.RNN(lib.StackedRNNCells([lib.LSTMCell(3), lib.GRUCell(2)]))(x)),
    ("rnn_cell_list", (4, 2), lambda lib, x: lib.RNN([lib.SimpleRNNCell(3), lib.SimpleRNNCell(2),
                                                      lib.LSTMCell(2)])(x)),
    ("conv_lstm1d", (3, 5, 2), lambda lib, x: lib.ConvLSTM1D(2, 3)(x)),
    ("conv_lstm2d_same_seq", (3, 5, 5, 2), lambda lib, x: lib.ConvLSTM2D(2, 3, padding="same",
                                                                          return_sequences=True)(x)),
    ("conv_lstm3d", (2, 4, 4, 4, 1), lambda lib, x: lib.ConvLSTM3D(2, 2)(x)),
    ("bidirectional_conv_lstm1d", (3, 5, 2), lambda lib, x: lib.Bidirectional(lib.ConvLSTM1D(2, 3))(x)),
    ("gqa", (4, 6), lambda lib, x: _gqa(lib, x)),
    ("gqa_one_kv_no_bias", (4, 6), lambda lib, x: _gqa(lib, x, kv=1, use_bias=False)),
    ("spectral_dense", (5,), lambda lib, x: lib.SpectralNormalization(lib.Dense(3))(x)),
    ("spectral_conv", (5, 2), lambda lib, x: lib.SpectralNormalization(lib.Conv1D(3, 2), power_iterations=2)(x)),
    ("pipeline", (5,), lambda lib, x: lib.Dense(2)(lib.Pipeline([lib.Rescaling(2.0), lib.Dense(3), lib.Dense(2),
                                                                 lib.Dropout(0.2)])(lib.Dense(5)(x)))),
    # return_state: glassnet's LastState calls are the recurrent call's outputs 1.. in Keras' file
    # (refused as "Keras 3.15 has no LastState layer" before), initial_state that call's keyword
    ("lstm_return_state", (4, 2), lambda lib, x: list(lib.LSTM(3, return_state=True)(x))),
    ("seq2seq_initial_state", (4, 2), lambda lib, x: lib.Dense(2)(
        lib.LSTM(3)(x, initial_state=lib.LSTM(3, return_state=True)(x)[1:]))),
    ("rnn_stacked_return_state", (4, 2), lambda lib, x: (lambda r: lib.Concatenate()([r[0], r[-1]]))(
        lib.RNN([lib.LSTMCell(3), lib.GRUCell(2)], return_state=True)(x))),
    ("bidirectional_return_state", (4, 2), lambda lib, x: lib.Concatenate()(
        list(lib.Bidirectional(lib.GRU(3, return_state=True))(x)))),
    ("conv_lstm2d_return_state", (3, 5, 5, 2), lambda lib, x: list(lib.ConvLSTM2D(2, 3, return_state=True)(x))),
    ("attention_dot", (4, 6), lambda lib, x: lib.Attention()([x, x])),
]
IDS = [case[0] for case in CASES]
FORMATS = [("keras", "m.keras"), ("h5", "m.h5")]


def _outputs(out):
    return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


def _close(got, want, tol=1e-5):
    got, want = _outputs(got), _outputs(want)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def _random_weights(model, seed=1):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(0.3, 1.0, size=w.shape).astype(w.dtype) for w in model.get_weights()])


def _glassnet_model(build, shape):
    x = gn.Input(shape)
    model = gn.Model(x, build(L, x), seed=0)
    _random_weights(model)
    return model


def _data(shape):
    return np.random.default_rng(2).normal(size=(3, *shape)).astype("float32")


def _keras_load(keras, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return keras.saving.load_model(path) if str(path).endswith(".keras") else keras.models.load_model(path)


# -- without Keras: what the files hold ------------------------------------------------------------
def _archive(model, tmp_path):
    path = tmp_path / "m.keras"
    model.save(path, save_format="keras")
    archive = zipfile.ZipFile(path)
    config = json.loads(archive.read("config.json"))
    h5 = h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r")
    datasets = []
    h5.visititems(lambda name, obj: datasets.append(name) if isinstance(obj, h5py.Dataset) else None)
    return config["config"]["layers"][1], sorted(datasets)


def test_rnn_cells_are_keras_layer_entries(tmp_path):
    entry, datasets = _archive(_glassnet_model(CASES[3][2], (4, 2)), tmp_path)
    cell = entry["config"]["cell"]
    assert cell["module"] == "keras.layers" and cell["class_name"] == "StackedRNNCells"
    assert [(c["module"], c["class_name"], c["config"]["name"]) for c in cell["config"]["cells"]] == [
        ("keras.layers", "LSTMCell", "lstm_cell"), ("keras.layers", "GRUCell", "gru_cell")]
    assert all(c["config"]["dtype"]["class_name"] == "DTypePolicy" for c in cell["config"]["cells"])
    # each cell's weights in Keras' group of it: its class, counted within the stack
    entry, _ = _archive(_glassnet_model(CASES[4][2], (4, 2)), tmp_path)
    assert [c["config"]["name"] for c in entry["config"]["cell"]["config"]["cells"]] == [
        "simple_rnn_cell", "simple_rnn_cell_1", "lstm_cell"]
    assert datasets == [f"layers/rnn/cell/cells/{g}/vars/{k}" for g in ("gru_cell", "lstm_cell") for k in range(3)]


def test_conv_lstm_weights_are_in_its_cell_group(tmp_path):
    _, datasets = _archive(_glassnet_model(CASES[6][2], (3, 5, 5, 2)), tmp_path)
    assert datasets == [f"layers/conv_lstm2d/cell/vars/{k}" for k in range(3)]


def test_gqa_is_written_under_keras_name(tmp_path):
    entry, datasets = _archive(_glassnet_model(CASES[9][2], (4, 6)), tmp_path)
    assert entry["class_name"] == "GroupQueryAttention"
    assert [d.split("/")[2] for d in datasets] == ["_key_dense"] * 2 + ["_output_dense"] * 2 + \
        ["_query_dense"] * 2 + ["_value_dense"] * 2


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_glassnet_reads_its_keras_file_back(tmp_path, case):
    _, shape, build = case
    model = _glassnet_model(build, shape)
    x = _data(shape)
    for fmt, name in FORMATS:
        path = tmp_path / name
        model.save(path, save_format=fmt)
        again = gn.load_model(path)
        _close(again.predict(x), model.predict(x), 1e-6)


def test_a_cell_of_yours_is_refused_by_name(tmp_path):
    class Twice(L.Cell):
        state_size = 2
        output_size = 2

        def step(self, x, states):
            return x[:, :2] * 2, [x[:, :2]]

    x = gn.Input((4, 2))
    model = gn.Model(x, L.RNN(Twice())(x))
    with pytest.raises(ValueError, match="cell of yours|layer class of yours|Keras 3.15 has no"):
        model.save(tmp_path / "m.keras", save_format="keras")
    assert not (tmp_path / "m.keras").exists()


# -- with Keras 3.15 ---------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt, name", FORMATS, ids=["keras", "h5"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_glassnet_file_loads_in_keras(keras, tmp_path, case, fmt, name):
    _, shape, build = case
    model = _glassnet_model(build, shape)
    x = _data(shape)
    path = tmp_path / name
    model.save(path, save_format=fmt)
    loaded = _keras_load(keras, path)
    _close(loaded.predict(x, verbose=0), model.predict(x))


@pytest.mark.parametrize("case", CASES[:-1], ids=IDS[:-1])
def test_keras_file_loads_in_glassnet_and_saves_back(keras, tmp_path, case):
    _, shape, build = case
    x = keras.Input(shape)
    theirs = keras.Model(x, build(keras.layers, x))
    _random_weights(theirs)
    data = _data(shape)
    path = tmp_path / "k.keras"
    theirs.save(path)
    ours = gn.load_model(path)
    # (Keras' model as its own file has it: a SpectralNormalization's kernel is one variable there)
    want = _keras_load(keras, path).predict(data, verbose=0)
    _close(ours.predict(data), want)
    again = tmp_path / "g.keras"
    ours.save(again, save_format="keras")
    _close(_keras_load(keras, again).predict(data, verbose=0), want)


def test_pipeline_weights_files_both_ways(keras, tmp_path):
    build = dict((c[0], c[2]) for c in CASES)["pipeline"]
    model = _glassnet_model(build, (5,))
    x = _data((5,))
    model.save(tmp_path / "m.keras", save_format="keras")
    model.save_weights(tmp_path / "g.weights.h5")
    theirs = _keras_load(keras, tmp_path / "m.keras")
    theirs.set_weights([w * 0 for w in theirs.get_weights()])
    theirs.load_weights(tmp_path / "g.weights.h5")
    np.testing.assert_allclose(np.asarray(theirs.predict(x, verbose=0)), model.predict(x), rtol=1e-5, atol=1e-5)
    theirs.save_weights(tmp_path / "k.weights.h5")
    again = gn.load_model(tmp_path / "m.keras")
    again.set_weights([w * 0 for w in again.get_weights()])
    again.load_weights(tmp_path / "k.weights.h5")
    np.testing.assert_allclose(again.predict(x), model.predict(x), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("mode", ["int", "one_hot"])
def test_hashed_crossing_of_integer_inputs_both_ways(keras, tmp_path, mode):
    data = [np.array([[1], [2], [5]]), np.array([[3], [4], [3]])]
    a, b = gn.Input((1,), dtype="int64"), gn.Input((1,), dtype="int64")
    ours = gn.Model([a, b], L.HashedCrossing(num_bins=7, output_mode=mode)((a, b)))
    ours.save(tmp_path / "g.keras", save_format="keras")
    entry = json.loads(zipfile.ZipFile(tmp_path / "g.keras").read("config.json"))["config"]["layers"]
    assert [e["config"]["dtype"] for e in entry[:2]] == ["int64", "int64"]
    want = np.asarray(_keras_load(keras, tmp_path / "g.keras").predict(data, verbose=0))
    np.testing.assert_array_equal(ours.predict(data), want)
    ka, kb = keras.Input((1,), dtype="int64"), keras.Input((1,), dtype="int64")
    crossed = keras.layers.HashedCrossing(num_bins=7, output_mode=mode)((ka, kb))
    keras.Model([ka, kb], crossed).save(tmp_path / "k.keras")
    loaded = gn.load_model(tmp_path / "k.keras")
    assert [t.dtype for t in loaded.inputs] == ["int64", "int64"]
    np.testing.assert_array_equal(loaded.predict(data), want)
    loaded.save(tmp_path / "kg.keras", save_format="keras")
    np.testing.assert_array_equal(np.asarray(_keras_load(keras, tmp_path / "kg.keras").predict(data, verbose=0)), want)


@pytest.mark.parametrize("value, build", [
    (0.0, lambda lib, x: lib.RNN(lib.GRUCell(3))(lib.Masking()(x))),
    (0.5, lambda lib, x: lib.LSTM(3, return_sequences=True)(lib.Masking(mask_value=0.5)(x))),
    (0.0, lambda lib, x: lib.Bidirectional(lib.LSTM(3))(lib.Masking()(x))),
], ids=["rnn_cell", "lstm_value", "bidirectional"])
def test_keras_masking_mask_reads_as_the_masking_layers(keras, tmp_path, value, build):
    """Keras records a Masking layer's mask as Any(NotEqual(x, mask_value), axis=-1) ops passed as
    mask= (its functional model's file); glassnet's Masking carries the mask itself: those ops are
    read as that mask (they were refused: "unknown layer class 'Any'")."""
    data = _data((4, 2))
    data[0, 2:] = value         # masked steps
    data[1, :1] = value
    x = keras.Input((4, 2))
    theirs = keras.Model(x, build(keras.layers, x))
    _random_weights(theirs)
    path = tmp_path / "k.keras"
    theirs.save(path)
    want = theirs.predict(data, verbose=0)
    ours = gn.load_model(path)
    _close(ours.predict(data), want)
    ours.save(tmp_path / "g.keras", save_format="keras")
    _close(_keras_load(keras, tmp_path / "g.keras").predict(data, verbose=0), want)


def test_a_not_equal_of_other_tensors_is_still_refused(keras, tmp_path):
    x = keras.Input((4, 2))
    theirs = keras.Model(x, keras.layers.LSTM(3)(keras.layers.Masking()(x)))
    theirs.save(tmp_path / "k.keras")
    archive = zipfile.ZipFile(tmp_path / "k.keras")
    config = json.loads(archive.read("config.json"))
    for entry in config["config"]["layers"]:
        if entry["class_name"] == "NotEqual":
            entry["inbound_nodes"][0]["args"][1] = 7.0      # not the Masking's value
    with zipfile.ZipFile(tmp_path / "bad.keras", "w") as out:
        for name in archive.namelist():
            out.writestr(name, json.dumps(config) if name == "config.json" else archive.read(name))
    with pytest.raises(gn.errors.ModelFileError, match="NotEqual"):
        gn.load_model(tmp_path / "bad.keras")
