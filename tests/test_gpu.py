"""The CuPy backend (``glassnet.set_backend("cupy")``): the same code computing on a GPU.

Every test runs twice:

- on ``fakecupy`` (tests/fakecupy), a NumPy-backed stand-in that refuses what CuPy refuses: a NumPy
  array mixed into a device computation, or a device array read as NumPy without ``.get()``. It runs
  everywhere (CI too) and proves that the code keeps host and device apart; its results are NumPy's,
  so they must equal the host's bit for bit.
- on real CuPy, where one is installed with a GPU (skipped otherwise). Its float32 arithmetic
  (cuBLAS, its own kernels) rounds differently from NumPy's, so results are compared within
  tolerances that a float32 network's rounding stays inside, never bit for bit.
"""
import importlib
import os
import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet import backend, layers

from test_layer_contract import BATCH, TABLE

FAKE = os.path.join(os.path.dirname(__file__), "fakecupy")


def _real_cupy():
    """CuPy, if it is installed and sees a GPU; else None."""
    try:
        cupy = importlib.import_module("cupy")
        return cupy if cupy.cuda.runtime.getDeviceCount() > 0 else None
    except Exception:           # not installed, no driver, no device
        return None


@pytest.fixture(params=["fake", "gpu"])
def cupy(request):
    """The module ``set_backend("cupy")`` uses during the test, with that backend in force."""
    saved = {name: mod for name, mod in sys.modules.items() if name == "cupy" or name.startswith("cupy.")}
    if request.param == "gpu":
        module = _real_cupy()
        if module is None:
            pytest.skip("no CuPy with a GPU here: the backend is checked on fakecupy alone")
    else:
        for name in saved:
            del sys.modules[name]
        sys.path.insert(0, FAKE)
        try:
            module = importlib.import_module("cupy")
        finally:
            sys.path.remove(FAKE)
    module.exact = request.param == "fake"       # the fake computes with NumPy: bit for bit
    gn.set_backend("cupy")
    try:
        yield module
    finally:
        gn.set_backend("numpy")
        for name in [n for n in sys.modules if n == "cupy" or n.startswith("cupy.")]:
            del sys.modules[name]
        sys.modules.update(saved)


def assert_close(device, host, cupy, rtol=1e-4, atol=1e-5, what=""):
    """``device`` (a CuPy array, or NumPy) against the host's NumPy result ``host``."""
    got = backend.to_numpy(device)
    assert isinstance(got, np.ndarray) and got.dtype == np.asarray(host).dtype, what
    if cupy.exact:
        np.testing.assert_array_equal(got, host, err_msg=what)
    else:
        np.testing.assert_allclose(got, host, rtol=rtol, atol=atol, err_msg=what)


def assert_same_history(history, host_history, cupy):
    """Every per-epoch value of a device run's History equal to the host run's (within a float32
    network's rounding after a few epochs, on a GPU)."""
    assert set(history) == set(host_history)
    for key, values in host_history.items():
        np.testing.assert_allclose(history[key], values, rtol=0 if cupy.exact else 1e-3,
                                   atol=0 if cupy.exact else 1e-4, err_msg=key)


def on_host(make):
    """``make()`` run with the NumPy backend, whatever the backend in force."""
    previous = backend.get_backend()
    gn.set_backend("numpy")
    try:
        return make()
    finally:
        gn.set_backend(previous)


# -- every layer -------------------------------------------------------------------------------
def _layer_and_input(name, seed=0):
    factory, shape, training = TABLE[name]
    layer = factory(dtype="float32", seed=seed)
    layer.build(shape)
    if getattr(layer, "discrete_input", False):      # Embedding: indices into its table
        x = np.random.default_rng(seed).integers(0, getattr(layer, "input_dim", 8), (BATCH, *shape)).astype(np.float32)
    else:
        x = np.random.default_rng(seed).standard_normal((BATCH, *shape)).astype(np.float32)
    return layer, x, training


@pytest.mark.parametrize("name", sorted(TABLE))
def test_every_layer_computes_on_the_device_what_it_computes_on_the_host(name, cupy):
    host, x, training = on_host(lambda: _layer_and_input(name))
    device, _, _ = _layer_and_input(name)
    for key, value in device.params.items():
        assert isinstance(value, cupy.ndarray), f"{name}.{key} was allocated on the host"
        assert_close(value, host.params[key], cupy, what=f"initial {key}")
    out = host.forward(x, training=training)
    out_device = device.forward(cupy.asarray(x), training=training)
    assert isinstance(out_device, cupy.ndarray)
    assert_close(out_device, out, cupy, what="forward")
    grad = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)
    back = host.backward(grad)
    back_device = device.backward(cupy.asarray(grad))
    assert_close(back_device, back, cupy, what="input gradient")
    for key in host.grads:
        assert_close(device.grads[key], host.grads[key], cupy, what=f"gradient of {key}")


@pytest.mark.parametrize("name", sorted(gn.activations.ACTIVATIONS))
def test_every_activation_computes_on_the_device_what_it_computes_on_the_host(name, cupy):
    act = gn.activations.get(name, reshaping=True)          # glu too: it halves the last axis
    z = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32) * 4
    a = act.forward(z)
    grad = np.random.default_rng(1).standard_normal(a.shape).astype(np.float32)
    a_device = act.forward(cupy.asarray(z))
    assert isinstance(a_device, cupy.ndarray)
    assert_close(a_device, a, cupy, what="forward")
    assert_close(act.backward(cupy.asarray(grad), cupy.asarray(z), a_device), act.backward(grad, z, a), cupy,
                 what="backward")


# -- whole models --------------------------------------------------------------------------------
def _moons(n=400, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    return x, y


def _dense_model(optimizer):
    model = gn.Sequential([layers.Dense(16, activation="relu", input_dim=2),
                           layers.Dropout(0.2),
                           layers.Dense(16, activation="tanh"),
                           layers.Dense(1, activation="sigmoid")], seed=3)
    model.compile(loss="binary_crossentropy", optimizer=optimizer, metrics=["accuracy", "auc"])
    return model


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop", "adamw", "nadam", "adagrad"])
def test_a_dense_classifier_trains_on_the_device_as_on_the_host(optimizer, cupy):
    x, y = _moons()
    w = np.linspace(0.5, 1.5, len(x)).astype(np.float32)

    def train():
        model = _dense_model(optimizer)
        history = model.fit(x, y, epochs=3, batch_size=32, validation_split=0.25, sample_weight=w, verbose=0)
        return model, history.history

    host, host_history = on_host(train)
    device, history = train()
    assert device.layers[0].params["kernel"].__class__ is cupy.ndarray
    assert all(isinstance(v, float) for values in history.values() for v in values)
    assert_same_history(history, host_history, cupy)
    for (name, a), (_, b) in zip(device._weight_items(), host._weight_items()):
        assert_close(a, b, cupy, rtol=1e-3, atol=1e-4, what=name)
    # predict gives NumPy (Keras' contract), evaluate floats; model(x) keeps its outputs on the device
    predicted = device.predict(x, batch_size=64)
    assert isinstance(predicted, np.ndarray)
    assert_close(predicted, host.predict(x, batch_size=64), cupy, rtol=1e-4, atol=1e-5)
    values = device.evaluate(x, y, sample_weight=w)
    assert all(isinstance(v, float) for v in values)
    np.testing.assert_allclose(values, host.evaluate(x, y, sample_weight=w), rtol=0 if cupy.exact else 1e-4,
                               atol=0 if cupy.exact else 1e-5)
    assert isinstance(device(x[:5]), cupy.ndarray)
    # CuPy inputs are taken as they are
    assert_close(device.predict(cupy.asarray(x)), host.predict(x), cupy, rtol=1e-4, atol=1e-5)


def test_a_cnn_with_batch_normalization_trains_on_the_device_as_on_the_host(cupy):
    rng = np.random.default_rng(0)
    x = rng.random((96, 10, 10, 1), dtype=np.float32)
    y = rng.integers(0, 3, 96)

    def train():
        model = gn.Sequential([layers.Conv2D(4, 3, padding="same", activation="relu", input_shape=(10, 10, 1)),
                               layers.BatchNormalization(),
                               layers.MaxPooling2D(2),
                               layers.Conv2D(6, 3, activation="relu"),
                               layers.GlobalAveragePooling2D(),
                               layers.Dense(3, activation="softmax")], seed=1)
        model.compile(loss="sparse_categorical_crossentropy",
                      optimizer=gn.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
                      metrics=["accuracy"])
        history = model.fit(x, y, epochs=2, batch_size=16, validation_data=(x[:32], y[:32]),
                            class_weight={0: 1.0, 1: 2.0, 2: 0.5}, verbose=0)
        return model, history.history

    host, host_history = on_host(train)
    device, history = train()
    assert_same_history(history, host_history, cupy)
    assert_close(device.predict(x), host.predict(x), cupy, rtol=1e-3, atol=1e-4)


def test_a_functional_model_with_every_merge_layer_trains_on_the_device_as_on_the_host(cupy):
    rng = np.random.default_rng(0)
    x = rng.random((48, 8, 8, 2), dtype=np.float32)
    y = rng.integers(0, 3, 48)

    def train():
        inputs = gn.Input((8, 8, 2))
        a = layers.Conv2D(3, 3, padding="same", activation="relu")(inputs)
        b = layers.Conv2D(3, 3, padding="same", activation="tanh")(a)
        merged = [layers.Add()([a, b]), layers.Subtract()([a, b]), layers.Multiply()([a, b]),
                  layers.Average()([a, b]), layers.Maximum()([a, b]), layers.Minimum()([a, b])]
        x_ = layers.Concatenate()([*merged, inputs])
        outputs = layers.Dense(3, activation="softmax")(layers.GlobalAveragePooling2D()(x_))
        model = gn.Model(inputs, outputs, seed=1)
        model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
        history = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
        return model, history.history

    host, host_history = on_host(train)
    device, history = train()
    assert_same_history(history, host_history, cupy)
    assert_close(device.predict(x), host.predict(x), cupy, rtol=1e-3, atol=1e-4)
    assert len(device.trace(x[:2], y[:2])[2]["input"]) == 2


def test_a_model_of_two_inputs_takes_host_and_device_arrays_in_any_order(cupy):
    rng = np.random.default_rng(0)
    xa, xb = rng.random((12, 3), dtype=np.float32), rng.random((12, 2, 2), dtype=np.float32)

    def draw():
        wide, grid = gn.Input((3,)), gn.Input((2, 2))
        joined = layers.Concatenate()([wide, layers.Dense(2)(layers.Flatten()(grid))])
        return gn.Model([wide, grid], layers.Dense(1)(joined), seed=0)
    host = on_host(draw)
    device = draw()
    expected = host.predict([xa, xb])
    for pair in ([xa, cupy.asarray(xb)], [cupy.asarray(xa), xb], [cupy.asarray(xa), cupy.asarray(xb)]):
        assert_close(device.predict(pair), expected, cupy, rtol=1e-5, atol=1e-6)


def test_a_model_of_several_outputs_trains_on_the_device_as_on_the_host(cupy):
    rng = np.random.default_rng(0)
    x, labels, values = rng.random((48, 6), dtype=np.float32), rng.integers(0, 3, 48), rng.random((48, 2))

    def train():
        inputs = gn.Input((6,))
        h = layers.Dense(8, activation="tanh")(inputs)
        flag = layers.Dense(1, activation="sigmoid", name="flag")(h)
        outputs = [layers.Dense(3, activation="softmax", name="cls")(h), flag,
                   layers.Dense(2, name="reg")(layers.Concatenate()([h, flag]))]
        model = gn.Model(inputs, outputs, seed=1)
        model.compile(loss=["sparse_categorical_crossentropy", "binary_crossentropy", "mse"], loss_weights=[1, 0.5, 2],
                      optimizer="adam", metrics={"cls": "accuracy"})
        history = model.fit(x, {"cls": labels, "flag": labels == 1, "reg": values}, epochs=2, batch_size=16,
                            validation_split=0.25, verbose=0)
        return model, history.history

    host, host_history = on_host(train)
    device, history = train()
    assert_same_history(history, host_history, cupy)
    for mine, theirs in zip(device.predict(x), host.predict(x)):
        assert_close(mine, theirs, cupy, rtol=1e-3, atol=1e-4)
    assert all(not isinstance(o, np.ndarray) for o in device(cupy.asarray(x)))     # model(x): on the device
    trace = device.trace(x[:2], [labels[:2], labels[:2] == 1, values[:2]])
    assert np.isfinite(trace.loss)


def test_a_self_attention_block_trains_on_the_device_as_on_the_host(cupy):
    rng = np.random.default_rng(0)
    x, y = rng.random((32, 6, 4), dtype=np.float32), rng.integers(0, 3, 32)

    def train():
        inputs = gn.Input((6, 4))
        attended = layers.MultiHeadAttention(num_heads=2, key_dim=3, dropout=0.1)(inputs, inputs, use_causal_mask=True)
        h = layers.LayerNormalization()(layers.Add()([inputs, attended]))
        model = gn.Model(inputs, layers.Dense(3, activation="softmax")(layers.GlobalAveragePooling1D()(h)), seed=1)
        model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
        history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        return model, history.history

    host, host_history = on_host(train)
    device, history = train()
    assert_same_history(history, host_history, cupy)
    assert_close(device.predict(x), host.predict(x), cupy, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("attention", ["Attention", "AdditiveAttention"])
def test_an_attention_reader_trains_on_the_device_as_on_the_host(cupy, attention):
    rng = np.random.default_rng(0)
    source, target, y = rng.random((16, 6, 4), dtype=np.float32), rng.random((16, 5, 4), dtype=np.float32), \
        rng.integers(0, 3, 16)

    def train():
        a, b = gn.Input((6, 4)), gn.Input((5, 4))
        scores = getattr(layers, attention)(use_scale=True, dropout=0.1)
        context = scores([b, a], use_causal_mask=False)
        pooled = layers.GlobalAveragePooling1D()(layers.Concatenate()([b, context]))
        model = gn.Model([a, b], layers.Dense(3, activation="softmax")(pooled), seed=1)
        model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
        history = model.fit([source, target], y, epochs=2, batch_size=8, verbose=0)
        return model, history.history

    host, host_history = on_host(train)
    device, history = train()
    assert_same_history(history, host_history, cupy)
    assert_close(device.predict([source, target]), host.predict([source, target]), cupy, rtol=1e-3, atol=1e-4)


def test_masks_through_attention_and_merges_train_on_the_device_as_on_the_host(cupy):
    rng = np.random.default_rng(0)
    ids, other = rng.integers(1, 12, (24, 6)).astype(np.float32), rng.integers(1, 12, (24, 6)).astype(np.float32)
    ids[::3, 3:], other[1::4, 2:] = 0, 0         # padding, masked by the Embeddings
    y = rng.integers(0, 3, 24)

    def train():
        a, b = gn.Input((6,)), gn.Input((6,))
        x = layers.Embedding(12, 4, mask_zero=True)(a)
        z = layers.Embedding(12, 4, mask_zero=True)(b)
        x = layers.LayerNormalization()(layers.Add()([x, layers.MultiHeadAttention(2, 3)(x, z)]))
        joined = layers.Concatenate(axis=1)([layers.Maximum()([x, z]), layers.Multiply()([x, z])])   # combined masks
        model = gn.Model([a, b], layers.Dense(3, activation="softmax")(layers.LSTM(5)(joined)), seed=1)
        model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
        history = model.fit([ids, other], y, epochs=2, batch_size=8, verbose=0)
        return model, history.history

    host, host_history = on_host(train)
    device, history = train()
    assert_same_history(history, host_history, cupy)
    assert_close(device.predict([ids, other]), host.predict([ids, other]), cupy, rtol=1e-3, atol=1e-4)


def test_an_encoder_starting_a_decoder_trains_on_the_device_as_on_the_host(cupy):
    rng = np.random.default_rng(0)
    x = [rng.random((16, 5, 3), dtype=np.float32), rng.random((16, 4, 2), dtype=np.float32)]
    y = rng.integers(0, 3, (16, 4))

    def train():
        a, b = gn.Input((5, 3)), gn.Input((4, 2))
        _, h, c = layers.LSTM(6, return_state=True)(a)
        decoded = layers.GRU(6, return_sequences=True)(b, initial_state=[layers.Add()([h, c])])
        # and a bidirectional reader of the decoder's output, started from the encoder's states
        _, fh, bh = layers.Bidirectional(layers.GRU(6, return_state=True))(decoded, initial_state=[h, c])
        decoded = layers.Add()([decoded, layers.RepeatVector(4)(layers.Add()([fh, bh]))])
        model = gn.Model([a, b], layers.Dense(3, activation="softmax")(decoded), seed=1)
        model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
        history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        return model, history.history

    host, host_history = on_host(train)
    device, history = train()
    assert_same_history(history, host_history, cupy)
    assert_close(device.predict(x), host.predict(x), cupy, rtol=1e-3, atol=1e-4)


def test_a_masked_recurrent_tagger_trains_on_the_device_as_on_the_host(cupy):
    rng = np.random.default_rng(0)
    x = rng.integers(1, 20, (64, 7)).astype(np.float32)
    x[::3, 5:] = 0                  # padding, masked by the Embedding
    y = rng.integers(0, 4, (64, 7))

    def train():
        model = gn.Sequential([layers.Embedding(20, 8, mask_zero=True, input_length=7),
                               layers.LSTM(8, return_sequences=True),
                               layers.GRU(6, return_sequences=True),
                               layers.TimeDistributed(layers.Dense(4, activation="softmax"))], seed=2)
        model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
        history = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
        return model, history.history

    host, host_history = on_host(train)
    device, history = train()
    assert_same_history(history, host_history, cupy)
    assert_close(device.predict(x), host.predict(x), cupy, rtol=1e-3, atol=1e-4)


def test_a_model_file_moves_between_the_device_and_the_host(cupy, tmp_path):
    x, y = _moons(200)
    model = _dense_model("adam")
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    path = tmp_path / "model.npz"
    model.save(path)
    on_cpu = on_host(lambda: gn.load_model(path))
    assert isinstance(on_cpu.layers[0].params["kernel"], np.ndarray)
    again = gn.load_model(path)         # under the CuPy backend: weights and Adam's state on the device
    assert isinstance(again.layers[0].params["kernel"], cupy.ndarray)
    expected = model.predict(x)
    assert_close(again.predict(x), expected, cupy, rtol=0, atol=0)
    np.testing.assert_allclose(on_cpu.predict(x), expected, rtol=1e-4, atol=1e-5)
    # training goes on from the file, on the device as on the host
    again.fit(x, y, epochs=1, batch_size=32, verbose=0)
    on_cpu.fit(x, y, epochs=1, batch_size=32, verbose=0)
    assert_close(again.predict(x), on_cpu.predict(x), cupy, rtol=1e-3, atol=1e-4)
    assert all(isinstance(w, np.ndarray) for w in again.get_weights())


def test_a_pydataset_feeds_a_model_on_the_device(cupy):
    x, y = _moons(256)

    class Batches(gn.utils.PyDataset):
        def __len__(self):
            return 8

        def __getitem__(self, i):
            return x[i * 32:(i + 1) * 32], y[i * 32:(i + 1) * 32]

    def train():
        model = _dense_model("adam")
        history = model.fit(Batches(), epochs=2, validation_data=Batches(), verbose=0)
        return model, history.history, model.predict(Batches()), model.evaluate(Batches())

    host, host_history, host_out, host_values = on_host(train)
    device, history, out, values = train()
    assert_same_history(history, host_history, cupy)
    assert isinstance(out, np.ndarray)
    assert_close(out, host_out, cupy, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(values, host_values, rtol=0 if cupy.exact else 1e-3, atol=0 if cupy.exact else 1e-4)


def test_train_on_batch_and_test_on_batch_on_the_device(cupy):
    x, y = _moons(64)

    def steps():
        model = _dense_model("sgd")
        first = model.train_on_batch(x, y, class_weight={0: 2.0, 1: 1.0})
        return first, model.test_on_batch(x, y), model.predict_on_batch(x[:3])

    host = on_host(steps)
    device = steps()
    np.testing.assert_allclose(device[0], host[0], rtol=0 if cupy.exact else 1e-4, atol=0 if cupy.exact else 1e-5)
    np.testing.assert_allclose(device[1], host[1], rtol=0 if cupy.exact else 1e-4, atol=0 if cupy.exact else 1e-5)
    # Keras' backends convert predict_on_batch's outputs to NumPy (convert_to_numpy), as predict does
    assert type(device[2]) is np.ndarray
    assert_close(device[2], host[2], cupy, rtol=1e-4, atol=1e-5)


def test_a_device_model_stays_on_the_device_when_the_backend_changes(cupy):
    x, y = _moons(128)
    model = _dense_model("adam")
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    weights = model.get_weights()
    gn.set_backend("numpy")             # models built from now on compute on the host; this one does not
    model.layers[0].trainable = False   # a new layout of the flat buffers: on the device still
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    assert all(isinstance(p, cupy.ndarray) for layer in model.layers for p in layer.params.values())
    np.testing.assert_array_equal(model.get_weights()[0], weights[0])       # frozen
    model.set_weights(weights)
    assert isinstance(model.layers[0].params["kernel"], cupy.ndarray)
    assert isinstance(model.predict(x), np.ndarray)
    gn.set_backend("cupy")


def test_the_command_line_trains_on_the_device(cupy, tmp_path):
    pytest.importorskip("matplotlib", reason="glassnet train writes plots: pip install '.[plot]'")
    from glassnet import cli, datasets
    pytest.importorskip("sklearn", reason="the moons data: pip install '.[datasets]'")
    args = ["train", "moons", "--epochs", "3", "--verbose", "0"]
    assert cli.main([*args, "--backend", "cupy", "--out", str(tmp_path / "gpu")]) == 0
    assert backend.get_backend() == "cupy"          # the backend in force before the command, again
    assert on_host(lambda: cli.main([*args, "--out", str(tmp_path / "cpu")])) == 0
    (X, _), _ = datasets.moons()
    gpu, cpu = on_host(lambda: (gn.load_model(tmp_path / "gpu" / "model.npz"),
                                gn.load_model(tmp_path / "cpu" / "model.npz")))
    np.testing.assert_allclose(gpu.predict(X), cpu.predict(X), rtol=0 if cupy.exact else 1e-3,
                               atol=0 if cupy.exact else 1e-4)


def test_trace_inspects_a_step_on_the_device(cupy):
    x, y = _moons(32)

    def traced():
        model = _dense_model("adam")
        model.fit(x, y, epochs=1, batch_size=16, verbose=0)
        return model.trace(x, y)

    host, device = on_host(traced), traced()
    np.testing.assert_allclose(device.loss, host.loss, rtol=0 if cupy.exact else 1e-4)
    for got, expected in zip(device, host):
        for key in ("input", "A", "dA"):
            assert_close(got[key], expected[key], cupy, rtol=1e-3, atol=1e-4, what=f"{got['layer']} {key}")
        for name, grad in expected["grads"].items():
            assert_close(got["grads"][name], grad, cupy, rtol=1e-3, atol=1e-4, what=f"{got['layer']} {name}")
        if expected["update"] is not None:
            for name, update in expected["update"].items():
                assert_close(got["update"][name], update, cupy, rtol=1e-3, atol=1e-5, what=f"{got['layer']} update")
    str(device)                 # prints the device's arrays, copied to the host


@pytest.mark.parametrize("pool, padding", [(2, "valid"), (3, "same"), ((2, 3), "valid")])
def test_max_pooling_on_the_device_picks_the_host_s_winner_among_ties(pool, padding, cupy):
    # small integers: many windows hold their maximum twice; the first in row-major order wins on
    # both (the device takes its own path where windows tile the input: pooling._tiled_max)
    x = np.random.default_rng(0).integers(0, 3, (3, 7, 8, 2)).astype(np.float32)
    host = on_host(lambda: layers.MaxPooling2D(pool, padding=padding, input_shape=x.shape[1:]))
    device = layers.MaxPooling2D(pool, padding=padding, input_shape=x.shape[1:])
    host.build(x.shape[1:])
    device.build(x.shape[1:])
    out = host.forward(x)
    grad = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)
    np.testing.assert_array_equal(backend.to_numpy(device.forward(cupy.asarray(x))), out)
    np.testing.assert_array_equal(backend.to_numpy(device.backward(cupy.asarray(grad))), host.backward(grad))


def test_host_state_and_data_reach_a_device_model(cupy, tmp_path):
    """What the host hands a device model is moved where its weights are: an optimizer state from a
    host model, a backup read after set_backend("numpy"), an adapt under that backend, trace's data."""
    x, y = _moons(64)
    host = on_host(lambda: _dense_model("adam"))
    on_host(lambda: host.fit(x, y, epochs=1, verbose=0))
    model = _dense_model("adam")
    model.fit(x, y, epochs=1, verbose=0)
    model.optimizer.set_state(host.optimizer.get_state())
    model.fit(x, y, epochs=1, verbose=0)
    assert all(isinstance(a, cupy.ndarray) for slots in model.optimizer.slots.values() for a in slots.values())
    model.trace(cupy.asarray(x), y)                  # x on the device, y on the host

    class Crash(gn.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        _dense_model("adam").fit(x, y, epochs=4, batch_size=16, verbose=0,
                                 callbacks=[gn.callbacks.BackupAndRestore(str(tmp_path)), Crash()])
    resumed = _dense_model("adam")
    on_host(lambda: resumed.fit(x, y, epochs=4, batch_size=16, verbose=0,
                                callbacks=[gn.callbacks.BackupAndRestore(str(tmp_path))]))
    assert len(resumed.history.history["loss"]) == 2            # epochs 3 and 4, from the backup
    norm = layers.Normalization(input_shape=(2,))
    gn.Sequential([norm, layers.Dense(1)], seed=0)
    on_host(lambda: norm.adapt(x))
    assert_close(norm.state["mean"], x.mean(axis=0), cupy, rtol=1e-5, atol=1e-6)


def test_the_focal_loss_and_resizing_of_non_finite_images_on_the_device(cupy):
    x, y = _moons(64)

    def train():
        model = gn.Sequential([layers.Dense(8, activation="relu", input_dim=2),
                               layers.Dense(1, activation="sigmoid")], seed=0)
        model.compile(loss="binary_focal_crossentropy", optimizer="sgd")
        return model.fit(x, y, epochs=2, batch_size=16, verbose=0).history["loss"]

    np.testing.assert_allclose(train(), on_host(train), rtol=0 if cupy.exact else 1e-4)
    image = np.ones((1, 2, 2, 1), np.float32)
    image[0, 0, 0, 0] = np.inf

    def resized():
        layer = layers.Resizing(3, 3)
        layer.build((2, 2, 1))
        return layer

    expected = on_host(lambda: resized().forward(image))
    np.testing.assert_array_equal(backend.to_numpy(resized().forward(cupy.asarray(image))), expected)


@pytest.mark.parametrize("way", ["banded", "dense"])
def test_banded_resize_on_the_device(cupy, monkeypatch, way):
    # the bands (start indices and weights, made on the host) go where the images are, forward and
    # backward, finite images and ones holding inf, both ways of applying them
    from glassnet.layers import banded
    from glassnet.layers.resizing import resize, resize_backward
    monkeypatch.setattr(banded, "DENSE_RATIO", 0 if way == "banded" else 10 ** 9)
    monkeypatch.setattr(banded, "DENSE_WORK", 10 ** 18)
    x = np.random.default_rng(0).normal(size=(2, 40, 30, 3)).astype(np.float32)
    bad = x.copy()
    bad[0, 3, 4, 1] = np.inf
    for interpolation, antialias in (("bilinear", True), ("lanczos3", False), ("area", False)):
        for image in (x, bad):
            out, cache = resize(cupy.asarray(image), 17, 45, interpolation, antialias=antialias)
            host, host_cache = on_host(lambda: resize(image, 17, 45, interpolation, antialias=antialias))
            assert_close(out, host, cupy, what=f"{interpolation} {antialias}")
            g = np.ones_like(host)
            assert_close(resize_backward(cupy.asarray(g), cache, image.shape),
                         on_host(lambda: resize_backward(g, host_cache, image.shape)), cupy)


def test_validation_split_is_copied_to_the_device_once(cupy, monkeypatch):
    x, y = _moons(64)
    model = _dense_model("adam")
    seen = []
    original = type(model)._evaluate_arrays
    monkeypatch.setattr(type(model), "_evaluate_arrays",
                        lambda self, x, *a: (seen.append(type(x)), original(self, x, *a))[1])
    model.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=0)
    assert len(seen) == 2 and all(t is cupy.ndarray for t in seen)


def test_gradient_checks_refuse_a_device_model(cupy):
    model = gn.Sequential([layers.Dense(3, activation="tanh", input_dim=2),
                           layers.Dense(1, activation="sigmoid")], seed=0, dtype="float64")
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    x, y = _moons(8)
    with pytest.raises(TypeError, match="on the host"):
        gn.gradcheck.check_model(model, x.astype(np.float64), y)
    layer = layers.Dense(2, dtype="float64")
    layer.build((2,))
    with pytest.raises(TypeError, match="on the host"):
        gn.gradcheck.check_layer(layer, x.astype(np.float64))


def test_a_stateful_recurrent_model_carries_its_states_on_the_device(cupy):
    x = np.random.default_rng(0).standard_normal((16, 6, 3)).astype(np.float32)
    y = (x.sum(axis=(1, 2)) > 0).astype(np.float32)

    def train():
        model = gn.Sequential([layers.LSTM(5, stateful=True, input_shape=(6, 3)),
                               layers.Dense(1, activation="sigmoid")], seed=0)
        model.compile(loss="binary_crossentropy", optimizer="sgd")
        history = model.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history
        return model, history, model.predict(x, batch_size=4)

    host, host_history, host_out = on_host(train)
    device, history, out = train()
    assert all(isinstance(s, cupy.ndarray) for s in device.layers[0].states)
    assert_same_history(history, host_history, cupy)
    assert_close(out, host_out, cupy, rtol=1e-3, atol=1e-4)


def test_a_model_for_any_length_reads_batches_of_several_lengths_on_the_device(cupy):
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((4, n, 3)).astype(np.float32) for n in (5, 8, 6)]
    ys = [(x.mean(axis=(1, 2)) > 0).astype(np.float32) for x in xs]

    class ByLength(gn.utils.PyDataset):
        def __len__(self):
            return len(xs)

        def __getitem__(self, i):
            return xs[i], ys[i]

    def train():
        model = gn.Sequential([gn.Input((None, 3)), layers.GRU(4, return_sequences=True),
                               layers.Conv1D(3, 2, padding="same"), layers.GlobalMaxPooling1D(),
                               layers.Dense(1, activation="sigmoid")], seed=0)
        model.compile(loss="binary_crossentropy", optimizer="adam")
        history = model.fit(ByLength(), epochs=2, verbose=0).history
        return history, model.predict(rng_longer)

    rng_longer = np.random.default_rng(1).standard_normal((3, 11, 3)).astype(np.float32)
    host_history, host_out = on_host(train)
    history, out = train()
    assert_same_history(history, host_history, cupy)
    assert_close(out, host_out, cupy, rtol=1e-3, atol=1e-4)
