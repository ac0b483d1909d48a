"""The TensorBoard callback and the event files it writes (glassnet._tfevents).

The files are read three ways: by a protocol-buffer decoder written here from the wire format's
specification (independent of the writer's encoder); by TensorBoard's own readers, where the
``tensorboard`` package is installed; and against the files Keras 3's callback writes for the
same training, where Keras is installed too.
"""
import glob
import json
import os
import struct

import numpy as np
import pytest

import glassnet as gn
from glassnet import _tfevents
from glassnet.callbacks import TensorBoard, tensorboard as tensorboard_module


# -- a reader from the specification --------------------------------------------------------------
def _fields(data):
    """A protocol buffer message as [(field number, value)]: ints for varints and fixed64 as the
    raw 8 bytes, bytes for length-delimited fields."""
    out, i = [], 0

    def varint():
        nonlocal i
        shift = value = 0
        while True:
            byte = data[i]
            i += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value
    while i < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            out.append((number, varint()))
        elif wire == 1:
            out.append((number, data[i:i + 8]))
            i += 8
        elif wire == 2:
            n = varint()
            out.append((number, data[i:i + n]))
            i += n
        else:
            raise AssertionError(f"unexpected wire type {wire}")
    return out


def _records(path):
    """The TFRecords of a file, checking both CRCs of each."""
    with open(path, "rb") as f:
        data = f.read()
    i, out = 0, []
    while i < len(data):
        (length,) = struct.unpack("<Q", data[i:i + 8])
        assert struct.unpack("<I", data[i + 8:i + 12])[0] == _tfevents.masked_crc32c(data[i:i + 8])
        body = data[i + 12:i + 12 + length]
        assert len(body) == length
        assert struct.unpack("<I", data[i + 12 + length:i + 16 + length])[0] == _tfevents.masked_crc32c(body)
        out.append(body)
        i += 16 + length
    return out


def _decode_value(value):
    fields = dict(_fields(value))
    tensor = dict(_fields(fields[8]))
    dims = [dict(_fields(d)).get(1, 0) for n, d in _fields(tensor[2]) if n == 2]
    plugin = dict(_fields(dict(_fields(fields[9]))[1]))
    dtype = {1: "<f4", 2: "<f8"}.get(tensor[1])
    array = (np.frombuffer(tensor[4], dtype).reshape(dims) if dtype
             else [s for n, s in _fields(fields[8]) if n == 8])
    return fields[1].decode(), array, plugin[1].decode()


def _series(folder):
    """{tag: [(step, value)]} of every event file in ``folder``, files in name order."""
    series = {}
    for path in sorted(glob.glob(os.path.join(folder, "events.out.tfevents.*"))):
        records = _records(path)
        first = dict(_fields(records[0]))
        assert first[3] == b"brain.Event:2"
        for body in records[1:]:
            event = dict(_fields(body))
            step = event.get(2, 0)
            for n, value in _fields(event[5]):
                tag, array, plugin = _decode_value(value)
                series.setdefault(tag, []).append((step, array, plugin))
    return series


# -- the format ----------------------------------------------------------------------------------
def test_crc32c_check_values():
    # the standard check value, and RFC 3720's (iSCSI) test vectors
    assert _tfevents.crc32c(b"123456789") == 0xE3069283
    assert _tfevents.crc32c(b"") == 0
    assert _tfevents.crc32c(bytes(32)) == 0x8A9136AA
    assert _tfevents.crc32c(b"\xff" * 32) == 0x62A8AB43
    assert _tfevents.crc32c(bytes(range(32))) == 0x46DD794E


def test_histogram_buckets_follow_tensorboards_rule():
    rng = np.random.default_rng(0)
    data = rng.standard_normal((7, 5)).astype(np.float32)
    buckets = _tfevents.histogram_buckets(data)
    assert buckets.shape == (30, 3) and buckets[:, 2].sum() == 35
    assert buckets[0, 0] == data.min() and buckets[-1, 1] == data.max()
    np.testing.assert_allclose(buckets[1:, 0], buckets[:-1, 1])
    # the last bucket holds the maximum; each value lies in its bucket
    counts = [np.sum((data >= lo) & ((data < hi) if k < 29 else (data <= hi)))
              for k, (lo, hi, _) in enumerate(buckets)]
    assert counts == buckets[:, 2].tolist()
    single = _tfevents.histogram_buckets(np.full(4, 2.5), 3)
    assert single.tolist() == [[2.5, 2.5, 0], [2.5, 2.5, 0], [2.5, 2.5, 4]]
    assert _tfevents.histogram_buckets(np.zeros(0), 3).tolist() == [[0, 0, 0]] * 3


def test_histogram_buckets_equal_tensorboards_own():
    summary_v2 = pytest.importorskip("tensorboard.plugins.histogram.summary_v2",
                                     reason="tensorboard not installed")
    from tensorboard.util import tensor_util
    rng = np.random.default_rng(1)
    for data in (rng.standard_normal(100), rng.random((3, 4)) * 1e-3, np.full(5, -1.0), np.zeros(0)):
        theirs = tensor_util.make_ndarray(summary_v2.histogram_pb("h", data).value[0].tensor)
        np.testing.assert_allclose(_tfevents.histogram_buckets(data), theirs, rtol=1e-12)


# -- the callback ----------------------------------------------------------------------------------
def _model(seed=0):
    model = gn.Sequential([gn.layers.Dense(4, activation="relu", input_shape=(3,), seed=seed),
                           gn.layers.Dense(2, activation="softmax", seed=seed + 1)], name="sequential")
    model.compile(loss="sparse_categorical_crossentropy", optimizer=gn.optimizers.SGD(0.1), metrics=["accuracy"])
    return model


def _data(n=20):
    rng = np.random.default_rng(0)
    return rng.random((n, 3)).astype(np.float32), rng.integers(0, 2, n)


def test_fit_logs_keras_series(tmp_path):
    x, y = _data()
    model = _model()
    history = model.fit(x, y, epochs=3, batch_size=8, validation_split=0.2, shuffle=False, verbose=0,
                        callbacks=[TensorBoard(tmp_path, histogram_freq=2)])
    train, val = _series(tmp_path / "train"), _series(tmp_path / "validation")
    assert set(train) == {"keras", "epoch_loss", "epoch_accuracy", "epoch_learning_rate",
                          "sequential/dense/kernel/histogram", "sequential/dense/bias/histogram",
                          "sequential/dense_1/kernel/histogram", "sequential/dense_1/bias/histogram"}
    for key in ("loss", "accuracy"):
        assert [s for s, _, _ in train[f"epoch_{key}"]] == [0, 1, 2]
        np.testing.assert_array_equal([v for _, v, _ in train[f"epoch_{key}"]],
                                      np.float32(history.history[key]))
        np.testing.assert_array_equal([v for _, v, _ in val[f"epoch_{key}"]],
                                      np.float32(history.history[f"val_{key}"]))
        # the optimizer's updates so far: 2 batches of 16 training samples per epoch
        assert [s for s, _, _ in val[f"evaluation_{key}_vs_iterations"]] == [2, 4, 6]
        assert train[f"epoch_{key}"][0][2] == "scalars"
    assert [v for _, v, _ in train["epoch_learning_rate"]] == [np.float32(0.1)] * 3
    assert [s for s, _, _ in train["sequential/dense/kernel/histogram"]] == [0, 2]      # every 2nd epoch
    last = train["sequential/dense/kernel/histogram"][-1]
    np.testing.assert_array_equal(last[1], _tfevents.histogram_buckets(model.layers[0].params["kernel"]))
    assert last[2] == "histograms"
    (description,) = train["keras"][0][1]
    assert json.loads(description) == {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"class_name": "Dense", "config": {"name": "dense"}}, {"class_name": "Dense", "config": {"name": "dense_1"}}]}}
    assert not glob.glob(str(tmp_path / "*" / ".*.tmp"))


def test_batches_every_update_freq_and_steps_per_second(tmp_path):
    x, y = _data(40)
    model = _model()
    seen = []
    record = gn.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(dict(logs)))
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, shuffle=False,
              callbacks=[record, TensorBoard(tmp_path, update_freq=3, write_steps_per_second=True,
                                             write_graph=False)])
    train = _series(tmp_path / "train")
    assert not os.path.exists(tmp_path / "validation") and "keras" not in train
    # batches numbered from 1 over the whole fit (5 a epoch): every 3rd
    assert [s for s, _, _ in train["batch_loss"]] == [3, 6, 9]
    np.testing.assert_array_equal([v for _, v, _ in train["batch_loss"]],
                                  np.float32([seen[k - 1]["loss"] for k in (3, 6, 9)]))
    assert [s for s, _, _ in train["batch_steps_per_second"]] == [3, 6, 9]
    assert all(v > 0 for _, v, _ in train["epoch_steps_per_second"])
    # "batch" is every batch; a second fit writes new files, its batches from 1 again
    callback = TensorBoard(tmp_path / "again", update_freq="batch")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[callback])
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[callback])
    assert len(glob.glob(str(tmp_path / "again" / "train" / "events.out.tfevents.*"))) == 2
    assert [s for s, _, _ in _series(tmp_path / "again" / "train")["batch_loss"]] == [1, 2, 3, 4, 5] * 2


def test_files_are_written_whole_and_read_as_one_series(tmp_path, monkeypatch):
    monkeypatch.setattr(tensorboard_module, "FLUSH_SECONDS", 0.0)      # a file at every epoch's end
    x, y = _data()
    history = _model().fit(x, y, epochs=4, batch_size=8, verbose=0, callbacks=[TensorBoard(tmp_path)])
    paths = sorted(glob.glob(str(tmp_path / "train" / "events.out.tfevents.*")))
    assert len(paths) == 4 and paths == sorted(paths, key=os.path.getmtime)
    assert [s for s, _, _ in _series(tmp_path / "train")["epoch_loss"]] == [0, 1, 2, 3]
    ea = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator",
                             reason="tensorboard not installed")
    from tensorboard.util import tensor_util
    accumulator = ea.EventAccumulator(str(tmp_path / "train"), size_guidance={"tensors": 0})
    accumulator.Reload()
    events = accumulator.Tensors("epoch_loss")
    assert [e.step for e in events] == [0, 1, 2, 3]
    np.testing.assert_array_equal([tensor_util.make_ndarray(e.tensor_proto) for e in events],
                                  np.float32(history.history["loss"]))


def test_tensorboard_draws_a_functional_models_graph(tmp_path):
    keras_util = pytest.importorskip("tensorboard.plugins.graph.keras_util", reason="tensorboard not installed")
    inputs = gn.Input((3,), name="features")
    left, right = gn.layers.Dense(4, name="left")(inputs), gn.layers.Dense(4, name="right")(inputs)
    shared = gn.layers.Dense(4, name="shared")
    merged = gn.layers.Add(name="sum")([shared(left), shared(right)])
    model = gn.Model(inputs, gn.layers.Dense(2, name="out")(merged), name="branches")
    model.compile(loss="mse", optimizer="sgd")
    model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0, callbacks=[TensorBoard(tmp_path)])
    (description,) = _series(tmp_path / "train")["keras"][0][1]
    graph = keras_util.keras_model_to_graph_def(json.loads(description))
    inputs_of = {node.name: list(node.input) for node in graph.node}
    assert inputs_of == {"branches/features": [], "branches/left": ["branches/features"],
                         "branches/right": ["branches/features"],
                         "branches/shared": ["branches/left", "branches/right"],
                         "branches/sum": ["branches/shared", "branches/shared"],
                         "branches/out": ["branches/sum"]}


def test_matches_keras_callbacks_files(tmp_path):
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    pytest.importorskip("tensorboard", reason="tensorboard not installed (Keras' callback needs it)")
    x, y = _data(24)
    ours = _model()
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu", name="dense"),
                               keras.layers.Dense(2, activation="softmax", name="dense_1")], name="sequential")
    theirs.set_weights(ours.get_weights())
    theirs.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(0.1),
                   metrics=["accuracy"])
    kwargs = dict(epochs=3, batch_size=8, validation_split=0.25, shuffle=False, verbose=0)
    # every batch: with update_freq=n, Keras 3.15 drops an epoch's values too unless its last batch's
    # number is a multiple of n (its record_if still holds the batch's step); glassnet writes them
    ours.fit(x, y, callbacks=[TensorBoard(tmp_path / "ours", histogram_freq=1, update_freq="batch")], **kwargs)
    theirs.fit(x, y, callbacks=[keras.callbacks.TensorBoard(str(tmp_path / "keras"), histogram_freq=1,
                                                            update_freq="batch")], **kwargs)
    for folder in ("train", "validation"):
        mine, keras_series = _series(tmp_path / "ours" / folder), _series(tmp_path / "keras" / folder)
        assert set(mine) == set(keras_series), folder
        for tag in mine:
            if tag == "keras":          # each library's own model JSON
                continue
            assert [s for s, _, _ in mine[tag]] == [s for s, _, _ in keras_series[tag]], tag
            assert [p for _, _, p in mine[tag]] == [p for _, _, p in keras_series[tag]], tag
            for (_, a, _), (_, b, _) in zip(mine[tag], keras_series[tag]):
                if tag.endswith("histogram"):      # edges from the trained weights; counts alike
                    np.testing.assert_allclose(a[:, :2], b[:, :2], rtol=1e-5, atol=1e-6, err_msg=tag)
                    assert a[:, 2].sum() == b[:, 2].sum()
                else:
                    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=tag)


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(log_dir=3), TypeError, "log_dir"),
    (dict(histogram_freq=-1), ValueError, "histogram_freq"),
    (dict(histogram_freq=1.5), ValueError, "histogram_freq"),
    (dict(update_freq="epochs"), ValueError, "update_freq"),
    (dict(update_freq=0), ValueError, "update_freq"),
    (dict(write_graph="yes"), TypeError, "write_graph"),
    (dict(write_images=True), NotImplementedError, "write_images"),
    (dict(profile_batch=2), ValueError, "profile_batch"),
    (dict(embeddings_freq=1), NotImplementedError, "embeddings_freq"),
])
def test_bad_arguments_are_refused_by_name(kwargs, error, words):
    with pytest.raises(error, match=words):
        TensorBoard(**kwargs)


def test_a_log_dir_that_cannot_be_made_fails_when_training_begins(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    x, y = _data()
    model = _model()
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(OSError):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[TensorBoard(blocker / "logs")])
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_a_sequential_with_a_lambda_is_drawn(tmp_path):
    keras_util = pytest.importorskip("tensorboard.plugins.graph.keras_util", reason="tensorboard not installed")
    model = gn.Sequential([gn.layers.Input((3,)), gn.layers.Lambda(np.tanh, name="squash"),
                           gn.layers.Dense(2, name="out", seed=0)], name="net")
    model.compile(loss="mse", optimizer="sgd")
    model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0, callbacks=[TensorBoard(tmp_path)])
    (description,) = _series(tmp_path / "train")["keras"][0][1]
    graph = keras_util.keras_model_to_graph_def(json.loads(description))
    assert {node.name: list(node.input) for node in graph.node} == {"net/squash": [], "net/out": ["net/squash"]}


def test_an_error_leaving_fit_still_writes_the_curves_up_to_it(tmp_path):
    x, y = _data()
    stop = gn.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: (_ for _ in ()).throw(
        RuntimeError("boom")) if epoch == 2 else None)
    with pytest.raises(RuntimeError, match="boom"):
        _model().fit(x, y, epochs=6, batch_size=8, verbose=0, callbacks=[TensorBoard(tmp_path), stop])
    # TensorBoard's epoch 2 ran before the failing callback's
    assert [s for s, _, _ in _series(tmp_path / "train")["epoch_loss"]] == [0, 1, 2]


def test_the_temporary_file_is_not_named_as_an_event_file(tmp_path, monkeypatch):
    import glassnet._atomic as atomic
    names = []
    real = atomic.os.replace

    def replace(src, dst):
        names.append(os.path.basename(src))
        return real(src, dst)
    monkeypatch.setattr(atomic.os, "replace", replace)
    x, y = _data()
    _model().fit(x, y, epochs=1, verbose=0, callbacks=[TensorBoard(tmp_path)])
    assert names and not any("tfevents" in name for name in names)
    io_wrapper = pytest.importorskip("tensorboard.backend.event_processing.io_wrapper",
                                     reason="tensorboard not installed")
    assert not any(io_wrapper.IsTensorFlowEventsFile(name) for name in names)


def test_functional_histogram_tags_and_an_input_named_like_a_layer(tmp_path):
    inputs = gn.Input((3,), name="dense")           # the name a Dense takes by default
    model = gn.Model(inputs, gn.layers.Dense(2, seed=0)(inputs), name="clash")
    model.compile(loss="mse", optimizer="sgd")
    model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0, callbacks=[TensorBoard(tmp_path, histogram_freq=1)])
    train = _series(tmp_path / "train")
    # Keras tags a functional model's weights by layer alone
    assert {"dense/kernel/histogram", "dense/bias/histogram"} <= set(train)
    description = json.loads(train["keras"][0][1][0])
    keras_util = pytest.importorskip("tensorboard.plugins.graph.keras_util", reason="tensorboard not installed")
    graph = keras_util.keras_model_to_graph_def(description)
    assert {node.name: list(node.input) for node in graph.node} == {"clash/dense_input": [],
                                                                    "clash/dense": ["clash/dense_input"]}


def test_histograms_leave_non_finite_values_out(tmp_path):
    buckets = _tfevents.histogram_buckets(np.array([1.0, np.inf, 3.0, np.nan]), 2)
    assert buckets.tolist() == [[1.0, 2.0, 1.0], [2.0, 3.0, 1.0]]
    model = gn.Sequential([gn.layers.Input((2,), dtype="int64"), gn.layers.Embedding(3, 2, seed=0),
                           gn.layers.Flatten(), gn.layers.Dense(1, seed=1)], name="sequential")
    model.layers[0].trainable = False
    model.layers[0].params["embeddings"][2] = np.inf       # a row no sample uses
    model.compile(loss="mse", optimizer="sgd")
    model.fit(np.array([[0, 1]] * 4), np.ones((4, 1)), verbose=0, callbacks=[TensorBoard(tmp_path, histogram_freq=1)])
    (_, counts, _), = _series(tmp_path / "train")["sequential/embedding/embeddings/histogram"]
    assert counts[:, 2].sum() == 4


def test_bytes_log_dir_is_refused():
    with pytest.raises(TypeError, match="log_dir"):
        TensorBoard(b"logs")
