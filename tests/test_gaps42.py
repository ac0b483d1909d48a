"""Small Keras 3.15 names glassnet lacked: layers.InputSpec and its checks, callbacks.ProgbarLogger
and RemoteMonitor, backend's dtype helpers (result_type, ...), utils.Config, version().
Each is compared with Keras 3.15 where Keras is installed."""
import http.server
import io
import itertools
import json
import threading
import warnings
from contextlib import redirect_stdout

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import InputSpec, Layer


# -- InputSpec -------------------------------------------------------------------------------------
class Summed(Layer):
    """Sums over axis 1 (a layer of the user's own declaring its inputs)."""

    def __init__(self, spec=None, **kwargs):
        super().__init__(**kwargs)
        self.input_spec = spec

    def forward(self, x, training=False):
        self.shape = x.shape
        return x.sum(axis=1)

    def backward(self, grad_output):
        return np.broadcast_to(np.expand_dims(grad_output, 1), self.shape).copy()

    def output_shape(self, input_shape):
        return tuple(input_shape[1:])


SPECS = [dict(ndim=3), dict(min_ndim=3), dict(max_ndim=2), dict(axes={-1: 4}), dict(axes={1: 3}),
         dict(shape=(None, 3, 4)), dict(shape=(None, 3, 1), allow_last_axis_squeeze=True),
         dict(ndim=3, axes={2: 5}), dict(dtype="float64"), dict(dtype="int32")]
SHAPES = [(2, 3, 4), (2, 4), (2, 3, 5), (2, 3), (2, 3, 4, 1), (2, 3, 1)]
DTYPES = ["float32", "float64"]


def _keras_message(keras, spec_kwargs, shape, dtype):
    # a Keras layer's call (not assert_input_compatibility alone): it casts floating inputs to the
    # layer's dtype before its check, so float64 arrays meet dtype="float32" and never "float64"
    layer = keras.layers.Identity(name="summed")
    layer.input_spec = keras.InputSpec(**spec_kwargs)
    try:
        layer(np.zeros(shape, dtype))
    except ValueError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("spec_kwargs", SPECS)
def test_input_spec_refuses_what_keras_refuses_eagerly(keras, spec_kwargs):
    """Each spec against arrays of several shapes and dtypes: glassnet's call refuses exactly
    those Keras' assert_input_compatibility refuses, with Keras' message."""
    for shape, dtype in itertools.product(SHAPES, DTYPES):
        expected = _keras_message(keras, spec_kwargs, shape, dtype)
        layer = Summed(InputSpec(**spec_kwargs), name="summed")
        if expected is None:
            try:
                layer(np.zeros(shape, dtype))
            except ValueError as exc:       # the layer's own checks may refuse later: not the spec's words
                assert "is incompatible with the layer" not in str(exc)
        else:
            with pytest.raises(ValueError) as info:
                layer(np.zeros(shape, dtype))
            assert str(info.value) == expected, (spec_kwargs, shape, dtype)


def test_input_spec_checked_while_a_model_is_drawn(keras):
    """Drawn on a symbolic Input (the batch axis None), the same refusal and words as Keras'."""
    for spec_kwargs in (dict(ndim=3), dict(axes={-1: 4}), dict(shape=(None, 3, 4)), dict(min_ndim=4)):
        for shape in ((3, 4), (3, 5), (5,)):
            k_layer = keras.layers.Identity(name="summed")
            k_layer.input_spec = keras.InputSpec(**spec_kwargs)
            try:
                k_layer(keras.Input(shape))
                expected = None
            except ValueError as exc:
                expected = str(exc)
            ours = Summed(InputSpec(**spec_kwargs), name="summed")
            if expected is None:
                gn.Model(x := gn.Input(shape), ours(x))
            else:
                with pytest.raises(ValueError) as info:
                    ours(gn.Input(shape))
                assert str(info.value) == expected
                with pytest.raises(ValueError, match="is incompatible with the layer"):
                    gn.Sequential([gn.Input(shape), Summed(InputSpec(**spec_kwargs), name="summed")])


def test_input_spec_list_for_several_inputs(keras):
    class Pair(Layer):
        merges = True

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.input_spec = [InputSpec(ndim=2), InputSpec(axes={-1: 3})]

        def forward(self, xs, training=False):
            return xs[0] + xs[1]

        def output_shape(self, shapes):
            return shapes[0]

    pair = Pair(name="pair")
    np.testing.assert_array_equal(pair([np.ones((2, 3)), np.ones((2, 3))]), 2 * np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"^Input 1 with name 'None' of layer 'pair' .* axis -1 .* value 3"):
        Pair(name="pair")([np.ones((2, 3)), np.ones((2, 4))])
    with pytest.raises(ValueError, match=r"^Input 0 .* expected ndim=2, found ndim=3"):
        Pair(name="pair")([gn.Input((3, 3)), gn.Input((3,))])
    from keras.src.layers.input_spec import assert_input_compatibility
    with pytest.raises(ValueError) as theirs:
        assert_input_compatibility([keras.InputSpec(ndim=2)] * 2, [np.ones((2, 3))] * 3, "pair")
    from glassnet.layers.input_spec import assert_input_compatibility as ours_check
    with pytest.raises(ValueError) as ours:
        ours_check([InputSpec(ndim=2)] * 2, [np.ones((2, 3))] * 3, "pair")
    assert str(ours.value).split(" Inputs received")[0] == str(theirs.value).split(" Inputs received")[0]


def test_input_spec_config_repr_and_construction_errors_match_keras(keras):
    cases = [dict(ndim=3), dict(shape=(None, 3, 4)), dict(min_ndim=2, max_ndim=4, axes={-1: 8}),
             dict(dtype="float64", optional=True), dict(dtype=np.int32, axes={"1": 3}, ndim=2),
             dict(shape=[None, 28, 28, 1], allow_last_axis_squeeze=True, name="image")]
    for kwargs in cases:
        ours, theirs = InputSpec(**kwargs), keras.InputSpec(**kwargs)
        assert ours.get_config() == theirs.get_config()
        assert repr(ours) == repr(theirs)
        again = InputSpec.from_config(json.loads(json.dumps(ours.get_config())))
        assert repr(again) == repr(theirs)
        for name in ("ndim", "max_ndim", "min_ndim", "axes", "name", "optional", "allow_last_axis_squeeze", "dtype"):
            assert getattr(ours, name) == getattr(theirs, name), name
    with pytest.raises(ValueError, match="Axis 3 is greater than the maximum allowed value: 2"):
        keras.InputSpec(ndim=3, axes={3: 2})
    with pytest.raises(ValueError, match="axes: axis 3 is greater than the maximum allowed value: 2"):
        InputSpec(ndim=3, axes={3: 2})


def test_input_spec_bad_arguments_named():
    with pytest.raises(TypeError, match="InputSpec: axes: expected a dict with integer keys"):
        InputSpec(axes={"x": 2})
    with pytest.raises(TypeError, match="InputSpec: ndim: expected an int or None, got str"):
        InputSpec(ndim="3")
    with pytest.raises(ValueError, match=r"InputSpec: shape: expected ints >= 0 and Nones, got \(None, -1\)"):
        InputSpec(shape=(None, -1))
    with pytest.raises(ValueError, match="standardize_dtype: dtype"):
        InputSpec(dtype="float")


def test_input_spec_layer_trains_and_its_gradient_is_checked():
    """A spec changes nothing in a layer it accepts: Summed's backward against finite differences
    inside a model, and fit runs."""
    rng = np.random.default_rng(0)
    layer = Summed(InputSpec(ndim=3, axes={-1: 4}))
    gn.gradcheck.check_layer(layer, rng.normal(size=(2, 3, 4)))
    model = gn.Sequential([gn.Input((3, 4)), Summed(InputSpec(ndim=3)), gn.layers.Dense(1)], seed=0, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    x = rng.normal(size=(8, 3, 4))
    model.fit(x, rng.normal(size=(8, 1)), epochs=1, verbose=0)
    dense = model.layers[-1]
    w = dense.params["kernel"]

    def loss():
        return 0.5 * float(np.sum(model.predict(x, verbose=0) ** 2))
    out = model.predict(x, verbose=0)
    analytic = x.sum(axis=1).T @ out            # d(0.5 sum(out^2))/d kernel
    numeric = np.zeros_like(w)
    for i in np.ndindex(w.shape):
        keep = w[i]
        w[i] = keep + 1e-6
        up = loss()
        w[i] = keep - 1e-6
        down = loss()
        w[i] = keep
        numeric[i] = (up - down) / 2e-6
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_einsum_dense_keeps_its_own_input_spec_attribute():
    layer = gn.layers.EinsumDense("ab,bc->ac", output_shape=3)
    assert layer.input_spec == "ab"
    assert layer(np.ones((2, 4), "float32")).shape == (2, 3)


# -- backend ---------------------------------------------------------------------------------------
ALL_DTYPES = ["bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "bfloat16",
              "float16", "float32", "float64", "complex64", "complex128", int, float, None]


def _outcome(function, *args):
    try:
        return function(*args)
    except ValueError:
        return ValueError


def test_result_type_matches_keras_over_dtype_pairs_and_triples(keras):
    from glassnet import backend as ours
    pairs = list(itertools.product(ALL_DTYPES, repeat=2))
    triples = [("int8", "uint8", int), ("uint8", float, "int16"), ("bool", int, float), (int, int, float),
               ("bfloat16", "float16", int), ("uint64", "int64", "int8"), ("complex64", float, "float64")]
    for dtypes in [*((d,) for d in ALL_DTYPES), *pairs, *triples, ()]:
        assert _outcome(ours.result_type, *dtypes) == _outcome(keras.backend.result_type, *dtypes), dtypes
    assert len(pairs) == 324
    # the examples the brief names, against Keras' own rules, not NumPy's
    assert ours.result_type("int8", "uint8") == "int16"
    assert ours.result_type("int64", "float16") == "float16" != np.result_type("int64", "float16").name
    with pytest.raises(ValueError, match="float8"):
        ours.result_type("float8_e4m3fn", "float32")


def test_result_type_follows_floatx(keras):
    from glassnet import backend as ours
    ours.set_floatx("float64")
    keras.config.set_floatx("float64")
    try:
        for dtypes in [(int,), (float,), (int, float), ("bool", float), (None, "int8"), ()]:
            assert ours.result_type(*dtypes) == keras.backend.result_type(*dtypes), dtypes
    finally:
        ours.set_floatx("float32")
        keras.config.set_floatx("float32")


def test_dtype_predicates_standardize_and_backend_match_keras(keras):
    from glassnet import backend as ours
    given = [*ALL_DTYPES, np.float64, np.dtype("int16"), "float8_e5m2", "string", bool, str, complex]
    for dtype in given:
        for name in ("standardize_dtype", "is_float_dtype", "is_int_dtype"):
            assert _outcome(getattr(ours, name), dtype) == _outcome(getattr(keras.backend, name), dtype), (name, dtype)
    for bad in ("float", "f4", "double"):
        assert _outcome(ours.is_float_dtype, bad) is ValueError is _outcome(keras.backend.is_float_dtype, bad)
    assert ours.backend() == gn.get_backend() == gn.config.backend() == "numpy"
    x = gn.Input((3,))
    assert ours.is_keras_tensor(x) and ours.is_keras_tensor(gn.layers.Dense(2)(x))
    assert not ours.is_keras_tensor(np.ones(3)) and not keras.backend.is_keras_tensor(np.ones(3))


def test_get_uid_counts_per_prefix_and_restarts_with_clear_session(keras):
    from glassnet import backend as ours
    for backend in (ours, keras.backend):
        backend.clear_session()
        assert [backend.get_uid("gaps42"), backend.get_uid("gaps42"), backend.get_uid("other")] == [1, 2, 1]
        backend.clear_session()
        assert backend.get_uid("gaps42") == 1
    ours.clear_session()
    gn.Sequential([gn.layers.Dense(1)])
    assert ours.get_uid("sequential") == 2          # counted with the default model names, as Keras'
    assert gn.Sequential([gn.layers.Dense(1)]).name == "sequential_2"
    with pytest.raises(TypeError, match="get_uid: prefix: expected a str"):
        ours.get_uid(3)
    ours.clear_session()


# -- utils.Config, logging aliases, version ------------------------------------------------------
def _config_story(Config):
    """The same steps on Keras' Config and glassnet's: what each returns or raises."""
    seen = []

    def record(step):
        try:
            seen.append(step())
        except (ValueError, AttributeError, KeyError) as exc:
            seen.append((type(exc).__name__, str(exc)))
    config = Config(learning_rate=0.1, momentum=0.9)
    config.use_ema = True
    config["seed"] = 123
    record(lambda: (config.seed, config["learning_rate"], config.get("nope", 7), len(config), "seed" in config))
    record(lambda: (list(config), list(config.keys()), list(config.values()), config.to_json(), repr(config)))
    record(lambda: config.learning_rat)
    record(lambda: config.zzz)
    record(lambda: config.pop("momentum"))
    record(lambda: config.update(extra=[1, 2]))
    record(lambda: config.as_dict())
    config.freeze()
    record(lambda: config.frozen)
    record(lambda: setattr(config, "seed", 1))
    record(lambda: config.__setitem__("seed", 1))
    record(lambda: config.pop("seed"))
    record(lambda: config.__delitem__("seed"))
    record(lambda: config.update(a=1))
    config.unfreeze()
    del config["seed"]
    record(lambda: (config.frozen, config.as_dict(), config["missing"]))
    return seen


def test_config_behaves_as_keras_config(keras):
    assert _config_story(gn.utils.Config) == _config_story(keras.utils.Config)


def test_config_without_keras():
    config = gn.utils.Config(a=1)
    config.b = 2
    assert config.as_dict() == {"a": 1, "b": 2} and json.loads(config.to_json()) == {"a": 1, "b": 2}
    config.freeze()
    with pytest.raises(ValueError, match="frozen"):
        config.c = 3
    config.unfreeze()
    config.alpha = 3
    with pytest.raises(AttributeError, match="Unknown attribute: 'alpah'. Did you mean 'alpha'"):
        config.alpah


def test_interactive_logging_aliases_and_version(keras):
    utils = gn.utils
    for name in ("enable_interactive_logging", "disable_interactive_logging", "is_interactive_logging_enabled"):
        assert getattr(utils, name) is getattr(gn.config, name) and hasattr(keras.utils, name)
    utils.disable_interactive_logging()
    assert gn.config.is_interactive_logging_enabled() is False
    utils.enable_interactive_logging()
    assert utils.is_interactive_logging_enabled() is True
    assert gn.version() == gn.__version__ and keras.version() == keras.__version__


# -- callbacks -------------------------------------------------------------------------------------
def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(16, 3)).astype("float32"), rng.normal(size=(16, 1)).astype("float32")


def _fit_output(verbose, callbacks, epochs=2):
    x, y = _data()
    model = gn.Sequential([gn.Input((3,)), gn.layers.Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    out = io.StringIO()
    with redirect_stdout(out):
        model.fit(x, y, epochs=epochs, batch_size=8, verbose=verbose, callbacks=callbacks)
    return out.getvalue()


def test_progbar_logger_is_fits_progress_once():
    plain = _fit_output(1, None)
    given = _fit_output(1, [gn.callbacks.ProgbarLogger()])
    assert plain.count("Epoch 1/2") == given.count("Epoch 1/2") == 1
    assert given.count("\n") == plain.count("\n") == 2
    assert _fit_output(2, [gn.callbacks.ProgbarLogger()]).count("Epoch 2/2") == 1
    assert _fit_output(0, [gn.callbacks.ProgbarLogger()]) == ""
    assert _fit_output("auto", [gn.callbacks.ProgbarLogger()]).count("Epoch") == 2
    with pytest.raises(TypeError):
        gn.callbacks.ProgbarLogger(count_mode="samples")       # Keras 3.15 takes no arguments either


def test_progbar_logger_signature_is_keras(keras):
    import inspect
    assert list(inspect.signature(gn.callbacks.ProgbarLogger).parameters) == \
        list(inspect.signature(keras.callbacks.ProgbarLogger).parameters) == []
    assert list(inspect.signature(gn.callbacks.RemoteMonitor).parameters.items()) == \
        list(inspect.signature(keras.callbacks.RemoteMonitor).parameters.items())


class _Recorder(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts.append((self.path, self.headers.get("Content-Type"), self.headers.get("X-Run"), body))
        self.send_response(404 if self.path.startswith("/missing") else 200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    httpd.posts = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _post_epochs(monitor):
    logs = [{"loss": np.float32(0.5), "val_loss": 0.25, "accuracy": np.array(0.75)},
            {"loss": 0.125, "learning_rate": np.float64(0.01)}]
    for epoch, epoch_logs in enumerate(logs):
        monitor.on_epoch_end(epoch, epoch_logs)


def test_remote_monitor_posts_what_keras_posts(keras, server):
    pytest.importorskip("requests", reason="Keras' RemoteMonitor needs requests")
    root = f"http://127.0.0.1:{server.server_address[1]}"
    for kwargs in (dict(), dict(send_as_json=True), dict(field="payload", path="/other/", headers={"X-Run": "7"}),
                   dict(path="/missing/")):
        server.posts.clear()
        _post_epochs(keras.callbacks.RemoteMonitor(root=root, **kwargs))
        theirs = list(server.posts)
        server.posts.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("error")          # a 404 is no warning, as in Keras
            _post_epochs(gn.callbacks.RemoteMonitor(root=root, **kwargs))
        assert server.posts == theirs and len(theirs) == 2, kwargs


def test_remote_monitor_in_fit_and_unreachable_server_warns(server):
    root = f"http://127.0.0.1:{server.server_address[1]}"
    x, y = _data()
    model = gn.Sequential([gn.Input((3,)), gn.layers.Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    history = model.fit(x, y, epochs=2, verbose=0, callbacks=[gn.callbacks.RemoteMonitor(root=root,
                                                                                        send_as_json=True)])
    sent = [json.loads(body) for *_, body in server.posts]
    assert [s["epoch"] for s in sent] == [0, 1]
    np.testing.assert_allclose([s["loss"] for s in sent], history.history["loss"], rtol=1e-6)
    # a port nothing listens on: a warning in Keras' words, training goes on
    with socket_closed() as port:
        with pytest.warns(UserWarning, match=f"Could not reach RemoteMonitor root server at http://127.0.0.1:{port}"):
            gn.callbacks.RemoteMonitor(root=f"http://127.0.0.1:{port}").on_epoch_end(0, {"loss": 1.0})
    with pytest.warns(UserWarning, match="not sent"):
        gn.callbacks.RemoteMonitor(root=root, send_as_json=True).on_epoch_end(0, {"loss": float("nan")})
    with pytest.raises(TypeError, match="RemoteMonitor: headers: expected a dict"):
        gn.callbacks.RemoteMonitor(headers=["X: 1"])
    with pytest.raises(TypeError, match="RemoteMonitor: root: expected a str"):
        gn.callbacks.RemoteMonitor(root=9000)


class socket_closed:
    """A local port that was free a moment ago (bound, then closed)."""

    def __enter__(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        return port

    def __exit__(self, *exc):
        return False


def test_new_names_keep_import_lean():
    import subprocess
    import sys
    code = ("import sys, glassnet; print(any(m in sys.modules for m in ('glassnet._dtypes', 'glassnet._attr_config', "
            "'glassnet.layers.input_spec', 'urllib.request', 'glassnet.config')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
