"""Five small Keras 3.15 gaps: ConvLSTM1D/2D/3D with ``data_format="channels_first"``, compile's
positional order (Keras' ``compile("adam", "mse")`` too), get_file's download progress, InputSpec
checked at every call (each batch, under a GradientTape), and to_categorical's dtype.

Channels first is checked against the channels-last layer on moved axes (exactly: the same
computation), against float64 finite differences, and against Keras 3.15: ConvLSTM3D channels
first as it is (TensorFlow's CPU runs it), ConvLSTM1D/2D as Keras' channels last on moved data
(TensorFlow's CPU Conv2D refuses NCHW: "The Conv2D op currently only supports the NHWC tensor
format on the CPU")."""
import cProfile
import hashlib
import http.server
import os
import pstats
import re
import threading

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet.gradcheck import check_layer, check_model

RANKS = {1: "ConvLSTM1D", 2: "ConvLSTM2D", 3: "ConvLSTM3D"}
SIZES = {1: (7,), 2: (5, 4), 3: (4, 3, 4)}


def _first(x, axis):
    """A channels-last array with its channels moved to ``axis``."""
    return np.ascontiguousarray(np.moveaxis(x, -1, axis))


def _pair(rank, **settings):
    """The same layer (same seed: same weights) channels last and channels first."""
    make = getattr(L, RANKS[rank])
    return (make(3, 3, seed=0, bias_initializer="random_normal", **settings),
            make(3, 3, seed=0, bias_initializer="random_normal", data_format="channels_first", **settings))


def _same(a, b):
    """Equal but for the last bits: the two layouts run the same operations on arrays copied into
    other places in memory, which BLAS may split differently (one run of the builder's first
    check differed in the last bit of one ConvLSTM1D output)."""
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------------ ConvLSTM channels first
@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("settings", [dict(padding="same", return_sequences=True),
                                      dict(strides=2, go_backwards=True, return_state=True),
                                      dict(padding="same", return_sequences=True, return_state=True)], ids=str)
def test_channels_first_is_channels_last_with_the_axes_moved(rank, settings, rng):
    last, first = _pair(rank, **settings)
    x = rng.normal(size=(2, 3, *SIZES[rank], 2)).astype(np.float32)
    out_last, out_first = last(x), first(_first(x, 2))
    seq_axis = 2 if settings.get("return_sequences") else 1
    if settings.get("return_state"):
        (out_last, *states_last), (out_first, *states_first) = out_last, out_first
        for a, b in zip(states_last, states_first):
            _same(_first(a, 1), b)
        assert first.state_shapes() == [tuple(np.moveaxis(np.empty(last.state_shapes()[0]), -1, 0).shape)] * 2
    _same(_first(out_last, seq_axis), out_first)
    assert out_first.shape == (2, *first.output_shape(_first(x, 2).shape[1:])) and out_first.dtype == np.float32
    # the backward: the input's gradient moved, the weights' the same (Keras' kernel shapes in both)
    g = rng.normal(size=out_last.shape).astype(np.float32)
    dx_last, dx_first = last.backward(g), first.backward(_first(g, seq_axis))
    _same(_first(dx_last, 2), dx_first)
    for key in last.params:
        _same(last.grads[key], first.grads[key])


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_channels_first_initial_states_mask_dropout_and_stateful(rank, rng):
    x = rng.normal(size=(2, 4, *SIZES[rank], 2)).astype(np.float32)
    last, first = _pair(rank, padding="same", return_sequences=True, dropout=0.3, recurrent_dropout=0.2)
    state = (2, *SIZES[rank], 3)
    h, c = rng.normal(size=state).astype(np.float32), rng.normal(size=state).astype(np.float32)
    mask = np.array([[True, True, False, True], [False, True, True, True]])
    # the same seed draws the same dropout masks (of the channels-last shapes) in both formats
    out_last = last(x, training=True, mask=mask, initial_state=[h, c])
    out_first = first(_first(x, 2), training=True, mask=mask, initial_state=[_first(h, 1), _first(c, 1)])
    _same(_first(out_last, 2), out_first)
    g = rng.normal(size=out_last.shape).astype(np.float32)
    (dx, dh, dc), (dx_f, dh_f, dc_f) = last.backward(g), first.backward(_first(g, 2))
    _same(_first(dx, 2), dx_f)
    _same(_first(dh, 1), dh_f)
    _same(_first(dc, 1), dc_f)
    with pytest.raises(ValueError, match=r"initial_state\[0\] must have shape .* = \(2, 3, "):
        first(_first(x, 2), initial_state=[h, c])       # states channels last given to a channels-first layer
    # stateful: each batch starts from the last one's states, kept channels first as the layer shows them
    last, first = _pair(rank, padding="same", stateful=True)
    for batch in (x, x[:, ::-1]):
        _same(_first(last(batch), 1), first(_first(batch, 2)))
        _same(_first(last.states[0], 1), first.states[0])
    first.reset_state()
    last.reset_state()
    _same(_first(last(x), 1), first(_first(x, 2)))


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_channels_first_gradients_against_finite_differences(rank, rng):
    settings = dict(padding="same", return_sequences=True) if rank < 3 else dict(strides=(1, 2, 1))
    layer = getattr(L, RANKS[rank])(2, 2, data_format="channels_first", seed=0, dtype="float64",
                                    bias_initializer="random_normal", **settings)
    x = rng.normal(size=(2, 3, 2, *SIZES[rank]))
    report = check_layer(layer, x)
    assert report["max_error"] < 1e-6, report
    # a model's loss, through the last states' gradients too (return_state in a functional model)
    inputs = gn.Input((3, 1, 4, 4))
    out, h, c = L.ConvLSTM2D(2, 3, padding="same", return_state=True, data_format="channels_first")(inputs)
    model = gn.Model(inputs, L.Dense(1)(L.Flatten()(L.Concatenate(axis=1)([out, c]))), seed=0, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    assert check_model(model, rng.normal(size=(3, 3, 1, 4, 4)), rng.normal(size=(3, 1)))["max_error"] < 1e-6


def test_channels_first_configs_and_model_files_keep_it(rng, tmp_path):
    layer = L.ConvLSTM2D(2, 3, data_format="channels_first")
    assert layer.get_config()["data_format"] == "channels_first"
    assert "data_format" not in L.ConvLSTM2D(2, 3).get_config()     # channels last: the bytes configs had
    assert L.ConvLSTM2D.from_config(layer.get_config()).data_format == "channels_first"
    config = L.ConvLSTM2D(2, 3).get_config()
    gn.config.set_image_data_format("channels_first")
    try:
        assert L.ConvLSTM2D(2, 3).data_format == "channels_first"      # None reads the global format, as Keras
        assert L.ConvLSTM2D.from_config(config).data_format == "channels_last"     # a config without it
    finally:
        gn.config.set_image_data_format("channels_last")
    model = gn.Sequential([gn.Input((4, 1, 6, 6)),
                           L.ConvLSTM2D(3, 3, padding="same", return_sequences=True, data_format="channels_first"),
                           L.ConvLSTM2D(2, 3, data_format="channels_first"), L.Flatten(), L.Dense(1)], seed=0)
    assert model.output_shape == (None, 1) and model.layers[0].output_shape((4, 1, 6, 6)) == (4, 3, 6, 6)
    x = rng.normal(size=(5, 4, 1, 6, 6)).astype(np.float32)
    model.compile(loss="mse", optimizer="adam")
    model.fit(x, rng.normal(size=(5, 1)), epochs=1, verbose=0)
    model.save(tmp_path / "cf.npz")
    loaded = gn.load_model(tmp_path / "cf.npz")
    assert [lay.data_format for lay in loaded.layers[:2]] == ["channels_first"] * 2
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, steps, channels, height, width\), got "
                                         r"shape \(batch, 4, 6, 6\)"):
        L.ConvLSTM2D(2, 3, data_format="channels_first")(np.ones((1, 4, 6, 6), np.float32))
    with pytest.raises(ValueError, match=r"ConvLSTM2D: data_format must be one of"):
        L.ConvLSTM2D(2, 3, data_format="NCHW")


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_channels_first_against_keras(rank, rng, keras):
    name = RANKS[rank]
    settings = dict(filters=3, kernel_size=3, padding="same", return_sequences=True)
    x = rng.normal(size=(2, 3, *SIZES[rank], 2)).astype(np.float32)
    ours = getattr(L, name)(seed=0, bias_initializer="random_normal", data_format="channels_first", **settings)
    out = ours(_first(x, 2))
    if rank == 3:           # TensorFlow's CPU runs Conv3D channels first: Keras' layer as it is
        theirs = getattr(keras.layers, name)(data_format="channels_first", **settings)
        theirs(_first(x, 2))
        theirs.set_weights(ours.get_weights())
        expected = np.asarray(theirs(_first(x, 2)))
    else:                   # its Conv1D/2D refuse NCHW on the CPU: Keras channels last on the moved data
        theirs = getattr(keras.layers, name)(**settings)
        theirs(x)
        theirs.set_weights(ours.get_weights())
        expected = _first(np.asarray(theirs(x)), 2)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    # Keras' config of a channels-first layer reads as one (it was refused by name)
    config = keras.layers.serialize(getattr(keras.layers, name)(data_format="channels_first", **settings))
    assert L.deserialize(config).data_format == "channels_first"


# ------------------------------------------------------------------ compile's positional order
def test_compile_takes_both_positional_orders_and_refuses_two_optimizers():
    model = gn.Sequential([gn.Input((3,)), L.Dense(1)], seed=0)
    for args in [("adam", "mse"), ("Adam", "mse"), ("mse", "adam"), (gn.optimizers.Adam(), "mse"),
                 ("mse", gn.optimizers.Adam())]:
        model.compile(*args)
        assert type(model.optimizer) is gn.optimizers.Adam and model.loss.name == "mse", args
    model.compile("adam", gn.losses.Huber(), metrics=["mae"])       # a Loss second: Keras' order
    assert model.loss.name == "huber" and type(model.optimizer) is gn.optimizers.Adam
    model.compile(loss="mse", optimizer="rmsprop")                   # keywords, as ever
    assert type(model.optimizer) is gn.optimizers.RMSprop
    for args, words in [(("adam", "sgd"), "got 'adam', an optimizer, with optimizer='sgd'"),
                        (("adam",), "got 'adam', an optimizer, with optimizer='sgd'"),
                        ((gn.optimizers.SGD(), gn.optimizers.Adam()), "got an optimizer \\(SGD\\), an optimizer, "
                                                                       "with optimizer=an optimizer \\(Adam\\)")]:
        with pytest.raises(ValueError, match=f"compile: loss: expected a loss, {words}"):
            model.compile(*args)
    with pytest.raises(ValueError, match="loss: expected one of"):      # Keras' order with a wrong loss: named
        model.compile("adam", "msee")
    inputs = gn.Input((3,))
    functional = gn.Model(inputs, L.Dense(1)(inputs))
    functional.compile("sgd", "mae")
    assert type(functional.optimizer) is gn.optimizers.SGD and functional.loss.name == "mae"


def test_keras_positional_compile_trains_as_keras(rng, keras):
    # keras.io's IMDB example's compile: model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    x = rng.normal(size=(32, 4)).astype(np.float32)
    y = (x[:, :1] + x[:, 1:2] > 0).astype(np.float32)
    ours = gn.Sequential([gn.Input((4,)), L.Dense(8, activation="relu"), L.Dense(1, activation="sigmoid")], seed=0)
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                               keras.layers.Dense(1, activation="sigmoid")])
    theirs.set_weights(ours.get_weights())
    ours.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    theirs.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    got = ours.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    expected = theirs.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    np.testing.assert_allclose(got["loss"], expected["loss"], rtol=1e-5)
    np.testing.assert_allclose(got["accuracy"], expected["accuracy"])


# ------------------------------------------------------------------ get_file's progress
class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/unsized/"):       # no Content-Length: the size is not known
            data = open(os.path.join(self.directory, self.path.split("/")[-1]), "rb").read()
            self.send_response(200)
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "blob.bin").write_bytes(bytes(range(256)) * 1200)        # 307,200 bytes: several chunks
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            lambda *a, **k: _Handler(*a, directory=str(root), **k))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def _lines(text):
    """What a reader sees: each line's last redraw ("\\r" starts one over), Keras' colour codes and
    backspaces left out."""
    text = re.sub("\x1b\\[[0-9;]*m|\x08", "", text)
    return [line.split("\r")[-1] for line in text.split("\n") if line.split("\r")[-1].strip()]


def _download_output(get_file, url, cache, capsys, **kwargs):
    os.makedirs(cache, exist_ok=True)       # (Keras falls back to /tmp/.keras for a folder not there)
    capsys.readouterr()
    path = get_file("blob.bin", url, cache_dir=cache, **kwargs)
    assert hashlib.md5(open(path, "rb").read()).hexdigest() == hashlib.md5(bytes(range(256)) * 1200).hexdigest()
    return _lines(capsys.readouterr().out)


def test_get_file_says_it_downloads_and_shows_the_bytes(server, tmp_path, capsys):
    url = server + "blob.bin"
    lines = _download_output(gn.utils.get_file, url, str(tmp_path / "a"), capsys)
    assert lines[0] == f"Downloading data from {url}"
    # the bar of the bytes, ended at the size (captured output is no terminal: its last line only)
    assert len(lines) == 2 and re.match(r"307200/307200 \[=+\] \d+s", lines[1]), lines
    assert _download_output(gn.utils.get_file, url, str(tmp_path / "a"), capsys) == []     # cached: quiet
    # no Content-Length: a count of bytes that never ends, which a file or pipe does not show (Keras' too)
    unsized = server + "unsized/blob.bin"
    assert _download_output(gn.utils.get_file, unsized, str(tmp_path / "b"), capsys) == [
        f"Downloading data from {unsized}"]


def test_get_file_prints_what_keras_prints(server, tmp_path, capsys, keras):
    from keras.utils import get_file as keras_get_file
    for name, kwargs in [("blob.bin", {}), ("unsized/blob.bin", {})]:
        url = server + name
        for where, kw in [("first", {}), ("cached", {}), ("forced", {"force_download": True})]:
            ours = _download_output(gn.utils.get_file, url, str(tmp_path / f"ours{len(name)}"), capsys, **kw)
            theirs = _download_output(keras_get_file, url, str(tmp_path / f"keras{len(name)}"), capsys, **kw)
            assert ours[:1] == theirs[:1], (name, where, ours, theirs)
            if name == "blob.bin" or where == "cached":
                # the bar's count and time per unit as Keras' (their bar is drawn in other characters)
                assert len(ours) == len(theirs), (name, where, ours, theirs)
                for a, b in zip(ours[1:], theirs[1:]):
                    assert a.split()[0] == b.split()[0] and a.endswith("/step") and b.endswith("/step"), (a, b)
            else:
                # of an unknown size, Keras redraws its count into files and pipes too ("posix" in
                # sys.modules makes its display dynamic), never ending the line; glassnet's bar
                # writes such a count on a terminal only (docs/datasets.md)
                assert len(ours) == 1 and re.match(r"\s*\d+/Unknown", theirs[1]), theirs


# ------------------------------------------------------------------ InputSpec at every call
def _spec_layer(lib):
    """A layer of one's own taking (batch, steps, 4) only: its spec, as Keras' guides declare one."""
    class SumSteps(lib.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.input_spec = lib.layers.InputSpec(ndim=3, axes={-1: 4})

        # glassnet's forward/backward; Keras' call
        def forward(self, x, training=False):
            self.steps = x.shape[1]
            return x.sum(axis=1)

        def backward(self, grad_output):
            return np.repeat(grad_output[:, None], self.steps, axis=1)

        def output_shape(self, input_shape):
            return (input_shape[-1],)

        def call(self, x):
            return lib.ops.sum(x, axis=1)

    return SumSteps()


def _spec_models(lib):
    inputs = lib.Input((None, None))
    functional = lib.Model(inputs, lib.layers.Activation("relu")(_spec_layer(lib)(inputs)))
    sequential = lib.Sequential([lib.Input((None, None)), _spec_layer(lib), lib.layers.Activation("relu")])
    return functional, sequential


SPEC_ERROR = r"expected axis -1 of input shape to have value 4, but received input with shape \(2, 3, 5\)"


@pytest.mark.filterwarnings("ignore:train_on_batch. the model")
def test_input_spec_is_checked_at_every_batch_and_under_a_tape():
    functional, sequential = _spec_models(gn)
    good, bad = np.ones((2, 3, 4), np.float32), np.ones((2, 3, 5), np.float32)
    for model in (functional, sequential):
        model.compile(loss="mse", optimizer="sgd")
        model.train_on_batch(good, np.ones((2, 4)))
        assert model.predict(good, verbose=0).shape == (2, 4)
        # the model's Input takes any size on those axes; the layer's spec does not
        with pytest.raises(ValueError, match=SPEC_ERROR):
            model.train_on_batch(bad, np.ones((2, 5)))
        with pytest.raises(ValueError, match=SPEC_ERROR):
            model.predict(bad, verbose=0)
        with pytest.raises(ValueError, match=SPEC_ERROR):
            model(bad)
        with gn.GradientTape():
            with pytest.raises(ValueError, match=SPEC_ERROR):
                model(bad, training=True)

        def batches():          # fit's batches one by one: the third breaks the spec
            for data in (good, good, bad):
                yield data, np.ones((2, data.shape[-1]))
        with pytest.raises(ValueError, match=SPEC_ERROR):
            model.fit(batches(), epochs=1, steps_per_epoch=3, verbose=0)


def test_input_spec_checks_keras_rejects_too(keras):
    bad = np.ones((2, 3, 5), np.float32)
    for model in _spec_models(keras):
        with pytest.raises(ValueError, match=SPEC_ERROR):
            model.predict(bad, verbose=0)
        with pytest.raises(ValueError, match=SPEC_ERROR):
            model(bad)


@pytest.mark.filterwarnings("ignore:train_on_batch. the model")      # (the spec models have no weights)
def test_layers_without_a_spec_cost_no_call(monkeypatch, rng):
    # cProfile's count of Python calls per train_on_batch of a Dense model is the same with the
    # check as before it (297.85 per step both, measured at this commit): no call for a layer without a spec
    from glassnet.layers import base
    calls = []
    checked = base._check_spec
    monkeypatch.setattr(base, "_check_spec", lambda layer, x, **kw: calls.append(layer) or checked(layer, x, **kw))
    model = gn.Sequential([gn.Input((8,)), L.Dense(16, activation="relu"), L.Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="adam")
    x = rng.normal(size=(32, 8)).astype(np.float32)
    for _ in range(3):
        model.train_on_batch(x, x[:, :1])
    profile = cProfile.Profile()
    profile.enable()
    model.train_on_batch(x, x[:, :1])
    profile.disable()
    names = {func[2] for func in pstats.Stats(profile).stats}
    assert calls == [] and "_check_spec" not in names and "<lambda>" not in names
    _, sequential = _spec_models(gn)
    sequential.compile(loss="mse", optimizer="sgd")
    sequential.train_on_batch(np.ones((2, 3, 4)), np.ones((2, 4)))
    assert calls and {type(layer).__name__ for layer in calls} == {"SumSteps"}


# ------------------------------------------------------------------ to_categorical's dtype
def test_to_categorical_values_as_keras_in_float32(rng, keras):
    y = rng.integers(0, 5, size=(6, 1))
    ours, theirs = gn.utils.to_categorical(y), keras.utils.to_categorical(y)
    np.testing.assert_array_equal(ours, theirs)
    # Keras 3.15 gives NumPy's float64 (and takes no dtype); glassnet float32, its default
    # everywhere (Keras 2's to_categorical too): docs/keras_parity.md
    assert theirs.dtype == np.float64 and ours.dtype == np.float32
    assert gn.utils.to_categorical(y, 5, dtype="float64").dtype == np.float64
    np.testing.assert_array_equal(gn.utils.to_categorical([[0, 2], [1, 1]], 3),
                                  keras.utils.to_categorical(np.array([[0, 2], [1, 1]]), 3))
