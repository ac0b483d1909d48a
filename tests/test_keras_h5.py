"""Keras' HDF5 files: ``.weights.h5`` both ways (glassnet._keras_h5) and legacy ``.h5`` models read
(glassnet._keras_legacy), compared with Keras 3.15 on test_keras_files' catalogue; crafted files refused.

No new maths here (weights are copied, not computed), so no finite differences: every comparison is
of predictions from the same weights, Keras' against glassnet's.
"""
import json

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import ModelFileError

h5py = pytest.importorskip("h5py", reason="Keras' HDF5 files need h5py")


def _catalogue(keras):
    from test_keras_files import _catalogue as catalogue
    return catalogue(keras)


def _predict(model, xs):
    out = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    return [np.asarray(o) for o in (out if isinstance(out, list) else [out])]


def _close(a, b, tol=1e-5):
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, atol=tol, rtol=tol)


def _shifted(weights, seed):
    rng = np.random.default_rng(seed)
    return [w + (0.2 * rng.normal(size=w.shape)).astype(w.dtype) if w.dtype.kind == "f" else w for w in weights]


NAMES = ["mlp", "cnn", "lstm", "gru", "bidirectional", "residual", "two_in_two_out", "attention", "conv1d_text"]


@pytest.mark.parametrize("name", NAMES)
def test_weights_h5_both_ways(keras, tmp_path, name):
    model, xs = _catalogue(keras)[name]
    model.save(tmp_path / "m.keras")
    twin = gn.load_model(tmp_path / "m.keras")
    # Keras' save_weights -> glassnet's load_weights: new weights, matched by Keras' layout
    model.set_weights(_shifted(model.get_weights(), 1))
    model.save_weights(tmp_path / "k.weights.h5")
    twin.load_weights(tmp_path / "k.weights.h5")
    _close(_predict(twin, xs), _predict(model, xs))
    # glassnet's save_weights(.weights.h5) -> Keras' load_weights
    twin.set_weights(_shifted(twin.get_weights(), 2))
    twin.save_weights(tmp_path / "g.weights.h5")
    with h5py.File(tmp_path / "g.weights.h5") as f:       # Keras' HDF5, not glassnet's zip
        assert "layers" in f
    model.load_weights(tmp_path / "g.weights.h5")
    _close(_predict(model, xs), _predict(twin, xs))


def _nested_pair(keras):
    """The same nested model drawn in Keras and in glassnet (a Sequential inside a functional model)."""
    L = keras.layers
    inner = keras.Sequential([L.Dense(5, activation="relu"), L.BatchNormalization(), L.Dense(3)], name="head")
    x = keras.Input((4,))
    k = keras.Model(x, L.Dense(2)(inner(L.Dense(4)(x))))
    g_inner = gn.Sequential([gn.layers.Dense(5, activation="relu"), gn.layers.BatchNormalization(),
                             gn.layers.Dense(3)], name="head")
    gx = gn.Input((4,))
    g = gn.Model(gx, gn.layers.Dense(2)(g_inner(gn.layers.Dense(4)(gx))))
    return k, g


def test_weights_h5_nested_both_ways(keras, tmp_path):
    k, g = _nested_pair(keras)
    x = np.random.default_rng(0).normal(size=(6, 4)).astype("float32")
    k.set_weights(_shifted(k.get_weights(), 3))
    k.save_weights(tmp_path / "k.weights.h5")
    g.load_weights(tmp_path / "k.weights.h5")
    _close(_predict(g, [x]), _predict(k, [x]))
    g.set_weights(_shifted(g.get_weights(), 4))
    g.save_weights(tmp_path / "g.weights.h5")
    k.load_weights(tmp_path / "g.weights.h5")
    _close(_predict(k, [x]), _predict(g, [x]))


def _legacy(keras, model, path, **compile_args):
    model.compile(**compile_args)
    keras.saving.save_model(model, str(path))       # .h5: Keras 3.15's legacy saver
    return path


@pytest.mark.parametrize("name", NAMES + ["nested"])
def test_legacy_h5_model(keras, tmp_path, name):
    model, xs = _catalogue(keras)[name]
    model.set_weights(_shifted(model.get_weights(), 5))
    metrics = [["mae"], ["accuracy"]] if name == "two_in_two_out" else ["mae"]
    path = _legacy(keras, model, tmp_path / "m.h5", optimizer=keras.optimizers.Adam(0.005), loss="mse",
                   metrics=metrics)
    loaded = gn.load_model(path)
    _close(_predict(loaded, xs), _predict(model, xs))
    assert type(loaded.optimizer).__name__ == "Adam"
    assert float(loaded.optimizer.learning_rate) == pytest.approx(0.005)
    assert float(loaded.optimizer.epsilon) == pytest.approx(1e-7)
    assert gn.load_model(path, compile=False).optimizer is None
    # its weights into a model drawn again: load_weights reads the legacy .h5 too
    twin = gn.load_model(path, compile=False)
    twin.set_weights([np.zeros_like(w) for w in twin.get_weights()])
    twin.load_weights(path)
    _close(_predict(twin, xs), _predict(model, xs))


def _keras2(spec):
    """Keras 3's legacy model_config rewritten in Keras 2's form (tf.keras 2.x's get_config)."""
    spec = json.loads(json.dumps(spec))
    if spec["class_name"] == "Functional":
        spec["class_name"] = "Model"
    config = spec["config"]
    for entry in config["layers"]:
        inner = entry["config"]
        if entry["class_name"] == "InputLayer":
            inner["batch_input_shape"] = inner.pop("batch_shape")
        if isinstance(inner.get("dtype"), dict):
            inner["dtype"] = inner["dtype"]["config"]["name"]
        nodes = entry.get("inbound_nodes")
        if nodes:
            new = []
            for node in nodes:
                args = node["args"][0]
                tensors = args if isinstance(args, list) else [args]
                new.append([[*t["config"]["keras_history"], {}] for t in tensors])
            entry["inbound_nodes"] = new
    if spec["class_name"] == "Sequential" and config["layers"][0]["class_name"] == "InputLayer":
        first = config["layers"].pop(0)         # the older form: batch_input_shape on the first layer
        config["layers"][0]["config"]["batch_input_shape"] = first["config"]["batch_input_shape"]
    for key in ("input_layers", "output_layers"):
        if key in config and isinstance(config[key][0], str):
            config[key] = [config[key]]
    return spec


@pytest.mark.parametrize("name", ["mlp", "cnn", "residual", "two_in_two_out"])
def test_legacy_h5_keras2_config(keras, tmp_path, name):
    model, xs = _catalogue(keras)[name]
    model.set_weights(_shifted(model.get_weights(), 6))
    path = _legacy(keras, model, tmp_path / "m.h5", optimizer="sgd", loss="mse")
    with h5py.File(path, "r+") as f:
        f.attrs["model_config"] = json.dumps(_keras2(json.loads(f.attrs["model_config"])))
        f.attrs["training_config"] = json.dumps({"loss": "mse", "metrics": None, "loss_weights": None,
                                                 "optimizer_config": {"class_name": "Custom>SGD", "config": {
                                                     "name": "SGD", "learning_rate": 0.01, "decay": 0.0,
                                                     "momentum": 0.5, "nesterov": False}}})
    loaded = gn.load_model(path)
    _close(_predict(loaded, xs), _predict(model, xs))
    assert type(loaded.optimizer).__name__ == "SGD" and float(loaded.optimizer.momentum) == 0.5


def test_legacy_lambda_refused(keras, tmp_path):
    L = keras.layers
    model = keras.Sequential([keras.Input((3,)), L.Lambda(lambda t: t * 2), L.Dense(2)])
    path = _legacy(keras, model, tmp_path / "m.h5", optimizer="sgd", loss="mse")
    with pytest.raises(ModelFileError, match="Lambda"):
        gn.load_model(path)


# -- without Keras: glassnet's own round trip and crafted files --------------------------------------
def _mlp(seed=0):
    return gn.Sequential([gn.Input((4,)), gn.layers.Dense(3, activation="relu"), gn.layers.Dense(2)], seed=seed)


def test_glassnet_round_trip(tmp_path):
    a, b = _mlp(0), _mlp(1)
    a.save_weights(tmp_path / "w.weights.h5")
    b.load_weights(str(tmp_path / "w.weights.h5"))
    for x, y in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(x, y)
    with pytest.raises(ValueError, match="not built"):
        gn.Sequential([gn.layers.Dense(2)]).save_weights(tmp_path / "n.weights.h5")


def _written(tmp_path, edit):
    path = tmp_path / "w.weights.h5"
    _mlp().save_weights(path)
    with h5py.File(path, "r+") as f:
        edit(f)
    return path


@pytest.mark.parametrize("edit, message", [
    (lambda f: (f.__delitem__("layers/dense_1/vars/0"),
                f.__setitem__("layers/dense_1/vars/0", h5py.SoftLink("/layers/dense/vars/0"))), "SoftLink"),
    (lambda f: (f.__delitem__("layers/dense/vars/1"),
                f.__setitem__("layers/dense/vars/1", h5py.ExternalLink("/etc/passwd", "/x"))), "ExternalLink"),
    (lambda f: (f.__delitem__("layers/dense/vars/0"),
                f.create_dataset("layers/dense/vars/0", data=np.zeros((4, 3), "f4"), compression="gzip")),
     "compressed"),
    (lambda f: (f.__delitem__("layers/dense/vars/0"), f.create_dataset("layers/dense/vars/0", data=np.zeros((5, 3)))),
     r"expected shape \(4, 3\), the file has \(5, 3\)"),
    (lambda f: f.create_dataset("layers/dense_2/vars/0", data=np.zeros(3)), "does not have"),
    (lambda f: f.__delitem__("layers/dense_1/vars/1"), "has 2 weights in glassnet, the file 1"),
    (lambda f: f.create_dataset("stray", data=np.zeros(3)), "not Keras 3's .weights.h5 layout"),
    (lambda f: (f.__delitem__("layers/dense/vars/0"),
                f.create_dataset("layers/dense/vars/0", data=np.array([[b"a"] * 3] * 4))), "dtype"),
])
def test_crafted_weights_refused(tmp_path, edit, message):
    path = _written(tmp_path, edit)
    model = _mlp(3)
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ModelFileError, match=message):
        model.load_weights(path)
    for x, y in zip(before, model.get_weights()):       # nothing set
        np.testing.assert_array_equal(x, y)


def _legacy_file(path, config, layers=None, attrs=None, libver=None):
    with h5py.File(path, "w", libver=libver) as f:
        if config is not None:
            f.attrs["model_config"] = json.dumps(config)
        weights = f.create_group("model_weights")
        weights.attrs["layer_names"] = np.array([n.encode() for n in (layers or {})])
        for name, arrays in (layers or {}).items():
            group = weights.create_group(name)
            group.attrs["weight_names"] = np.array([f"{name}/{k}:0".encode() for k in arrays])
            for k, a in arrays.items():
                group.create_dataset(f"{name}/{k}:0", data=a)
        for key, value in (attrs or {}).items():
            f.attrs[key] = value
    return path


_KERAS2_MLP = {"class_name": "Sequential", "config": {"name": "s", "layers": [
    {"class_name": "Dense", "config": {"name": "dense", "units": 2, "activation": "linear",
                                       "batch_input_shape": [None, 3], "dtype": "float32"}}]}}


def test_crafted_legacy_refused(tmp_path):
    good = {"dense": {"kernel": np.ones((3, 2), "f4"), "bias": np.zeros(2, "f4")}}
    model = gn.load_model(_legacy_file(tmp_path / "ok.h5", _KERAS2_MLP, good))     # Keras 2's form, no Keras
    np.testing.assert_allclose(model.predict(np.ones((1, 3), "f4"), verbose=0), [[3.0, 3.0]])
    with pytest.raises(ModelFileError, match="no 'model_config' attribute: a weights file"):
        gn.load_model(_legacy_file(tmp_path / "w.h5", None, good))
    bad = {"dense": {"kernel": np.ones((4, 2), "f4"), "bias": np.zeros(2, "f4")}}
    with pytest.raises(ModelFileError, match=r"expected shape \(3, 2\), the file has \(4, 2\)"):
        gn.load_model(_legacy_file(tmp_path / "s.h5", _KERAS2_MLP, bad))
    with pytest.raises(ModelFileError, match="model_config: not JSON"):
        gn.load_model(_legacy_file(tmp_path / "j.h5", None, good, {"model_config": "{nope"}))
    path = _legacy_file(tmp_path / "l.h5", _KERAS2_MLP, good)
    with h5py.File(path, "r+") as f:
        del f["model_weights/dense/dense/bias:0"]
        f["model_weights/dense/dense/bias:0"] = h5py.ExternalLink("/etc/passwd", "/x")
    with pytest.raises(ModelFileError, match="ExternalLink"):
        gn.load_model(path)
    path = _legacy_file(tmp_path / "n.h5", _KERAS2_MLP, good, libver="latest")  # (attributes past 64 KiB)
    with h5py.File(path, "r+") as f:
        f["model_weights"].attrs["layer_names"] = np.array([b"x"] * 200_000)
    with pytest.raises(ModelFileError, match="layer_names"):
        gn.load_model(path)


def test_legacy_chunked_names(tmp_path):
    # Keras 2 splits an attribute past HDF5's 64 KiB into layer_names0, layer_names1, ...
    good = {"dense": {"kernel": np.ones((3, 2), "f4"), "bias": np.zeros(2, "f4")}}
    path = _legacy_file(tmp_path / "c.h5", _KERAS2_MLP, good)
    with h5py.File(path, "r+") as f:
        group = f["model_weights/dense"]
        names = group.attrs["weight_names"]
        del group.attrs["weight_names"]
        group.attrs["weight_names0"], group.attrs["weight_names1"] = names[:1], names[1:]
    model = gn.load_model(path)
    np.testing.assert_allclose(model.predict(np.ones((1, 3), "f4"), verbose=0), [[3.0, 3.0]])
