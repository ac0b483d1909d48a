"""Review of the per-model lock (glassnet._serial), seed_origin in configs and model_to_dot."""
import gc

import numpy as np
import pytest

import glassnet as gn
from glassnet import _serial
from glassnet.layers import Dense, Input


class _EqualByName(gn.Sequential):
    """A subclass comparing models by name: defining __eq__ leaves it without __hash__."""

    def __eq__(self, other):
        return isinstance(other, _EqualByName) and other.name == self.name


class _Unhashable(gn.Model):
    __hash__ = None

    def __init__(self):
        super().__init__()
        self.dense = Dense(2)

    def call(self, x):
        return self.dense(x)


def test_models_without_a_hash_still_predict_and_train():
    x, y = np.ones((4, 3), "float32"), np.ones((4, 2), "float32")
    model = _EqualByName([Input((3,)), Dense(2)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    assert model.predict(x).shape == (4, 2)
    model.train_on_batch(x, y)
    model.fit(x, y, epochs=1, verbose=0)
    assert _Unhashable()(x).shape == (4, 2)


def test_models_that_compare_equal_have_a_lock_each_dropped_with_them():
    a = _EqualByName([Input((3,)), Dense(2)], name="same")
    b = _EqualByName([Input((3,)), Dense(2)], name="same")
    locks = [_serial.lock_of(a), _serial.lock_of(b)]
    assert a == b and locks[0] is not locks[1]
    del a, b
    gc.collect()
    # both locks gone (counting all the locks would also count other tests' models gc frees here)
    assert not any(lock is held for lock in locks for held in _serial._locks.values())


# -- model_to_dot: names Graphviz's record labels would split ------------------------------------
_ODD_NAMES = ["a|b", "{x}", "<&>", 'say "hi"', "ünï©ødé"]


def _odd_model():
    return gn.Sequential([Input((3,))] + [Dense(2, name=name) for name in _ODD_NAMES])


def test_dot_labels_hold_no_character_a_record_label_splits_on():
    import html
    import re
    text = gn.utils.model_to_dot(_odd_model(), show_shapes=True)
    labels = re.findall(r"\[label=<(.*)>, fontname", text)
    assert len(labels) == len(_ODD_NAMES)
    for label, name in zip(labels, _ODD_NAMES):
        assert not set("{}|") & set(label)
        assert html.unescape(re.search(r"<b>(.*?)</b>", label).group(1)) == name


@pytest.mark.skipif(__import__("shutil").which("dot") is None, reason="Graphviz's dot is not installed")
def test_graphviz_reads_the_dot_text_of_odd_names():
    import json
    import subprocess
    text = gn.utils.model_to_dot(_odd_model(), show_shapes=True)
    done = subprocess.run(["dot", "-Tjson"], input=text.encode(), capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    assert len(json.loads(done.stdout)["objects"]) == len(_ODD_NAMES)


@pytest.mark.parametrize("name", ["x$\\frac$", "cost_$^$", "a$b$c"])
def test_plot_model_draws_dollar_signs_in_names_as_written(name, tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib
    inner = gn.Sequential([Input((3,)), Dense(2, name=name)], name="in$" + name)
    model = gn.Sequential([Input((3,)), inner, Dense(1)])
    path = tmp_path / "m.svg"
    with matplotlib.rc_context({"svg.fonttype": "none"}):       # the texts kept as text in the SVG
        gn.utils.plot_model(model, path, show_layer_names=True, expand_nested=True)
    import re
    svg = re.sub(r"<!--.*?-->", "", path.read_text(), flags=re.S)     # (the comments hold each text as given)
    assert f"{name} (Dense)" in svg and f"in${name}" in svg


def test_a_nested_model_of_dict_outputs_shows_them_by_key_as_keras():
    # Keras 3.15's label of the nested model: "Output shape: <b>p: (None, 1), q: (None, 2)</b>"
    x = Input((4,), name="xin")
    inner = gn.Model(x, {"p": Dense(1, name="p")(x), "q": Dense(2, name="q")(x)}, name="inner")
    y = Input((4,), name="y")
    out = inner(y)
    model = gn.Model(y, gn.layers.Concatenate(name="cat")([out["p"], out["q"]]))
    text = gn.utils.model_to_dot(model, show_shapes=True)
    line = next(line for line in text.splitlines() if line.startswith('"inner"'))
    assert "Output shape: <b>p: (None, 1), q: (None, 2)</b>" in line


# -- session 45: differential fuzzing of nested configs, dict models in Keras files, trainable flags
# and custom losses against Keras 3.15 (one regression test per finding) --------------------------


def _s45_keras():
    import os
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    return pytest.importorskip("keras")


def _s45_partly_frozen():
    i = gn.Input((4,))
    base = gn.Model(i, gn.layers.Dense(4, name="bd2")(gn.layers.Dense(4, name="bd")(i)), name="base")
    j = gn.Input((4,))
    model = gn.Model(j, gn.layers.Dense(2, name="head")(base(j)))
    base.get_layer("bd").trainable = False
    return model


@pytest.mark.parametrize("fmt", ["keras", "h5"])
def test_a_partly_frozen_model_is_written_trainable_for_keras(tmp_path, fmt):
    """One frozen layer made glassnet's ``model.trainable`` read False, which the Keras writers put
    in the model's entry: Keras then froze every layer of the model it loaded (0 trainable weights
    where glassnet had 4). Written True, as Keras writes it, with the layer's own flag False."""
    import json
    import zipfile
    model = _s45_partly_frozen()
    path = tmp_path / f"m.{fmt}"
    model.save(path, save_format=fmt)
    if fmt == "keras":
        config = json.loads(zipfile.ZipFile(path).read("config.json"))["config"]
    else:
        import h5py
        with h5py.File(path, "r") as f:
            config = json.loads(f.attrs["model_config"])["config"]
    assert config["trainable"] is True
    base = [entry for entry in config["layers"] if entry["config"]["name"] == "base"][0]
    assert base["config"]["trainable"] is True
    flags = {e["config"]["name"]: e["config"].get("trainable") for e in base["config"]["layers"]}
    assert flags["bd"] is False and flags["bd2"] is True
    # every layer frozen (model.trainable = False) is still written as Keras writes it
    model.trainable = False
    model.save(path, save_format=fmt)
    if fmt == "keras":
        assert json.loads(zipfile.ZipFile(path).read("config.json"))["config"]["trainable"] is False


def test_a_partly_frozen_model_loads_in_keras_with_its_trainable_weights(tmp_path):
    keras = _s45_keras()
    model = _s45_partly_frozen()
    model.save(tmp_path / "m.keras", save_format="keras")
    theirs = keras.saving.load_model(tmp_path / "m.keras", compile=False)
    assert len(theirs.trainable_weights) == len(model.trainable_weights) == 4
    assert len(theirs.non_trainable_weights) == 2


@pytest.mark.parametrize("what", ["metrics", "weighted_metrics"])
def test_an_empty_metrics_dict_compiles_a_model_of_one_output(what):
    """``metrics={}`` (a dict by output name naming none, as a model of several outputs takes it) was
    refused for a model of one output ("got the keys []"); Keras 3.15 compiles it without metrics."""
    i = gn.Input((3,), name="a")
    model = gn.Model({"a": i}, {"y": gn.layers.Dense(2, name="y")(i)})
    model.compile("sgd", loss={"y": "mse"}, **{what: {}})
    x, y = np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32)
    assert list(model.evaluate({"a": x}, {"y": y}, verbose=0, return_dict=True)) == ["loss"]


def test_class_weight_with_labels_and_a_loss_of_ones_own_is_keras():
    """Integer labels (n,) reach a loss of your own in the output's float dtype, as Keras hands them
    over; ``class_weight`` then indexed its table with those floats and ``fit`` failed with NumPy's
    IndexError. Rounded, as Keras' class_weight_to_sample_weights rounds them: the weights are
    Keras' (checked against the table looked up by hand)."""
    from glassnet import ops
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 5)).astype(np.float32)
    labels = rng.integers(0, 3, 16)

    def sparse_loss(y_true, y_pred):
        return gn.losses.sparse_categorical_crossentropy(y_true, y_pred) + 0.0 * ops.mean(y_pred, axis=-1)

    def make(loss):
        model = gn.Sequential([gn.Input((5,)), gn.layers.Dense(3, activation="softmax")], seed=0)
        model.compile(gn.optimizers.SGD(0.1), loss=loss)
        return model
    table = {0: 1.0, 1: 2.0, 2: 0.5}
    ours, plain = make(sparse_loss), make("sparse_categorical_crossentropy")
    h1 = ours.fit(x, labels, class_weight=table, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    h2 = plain.fit(x, labels, class_weight=table, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-6)
    for a, b in zip(ours.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    from glassnet.weighting import class_labels
    assert class_labels(np.array([0.0, 2.0, 1.0], np.float32)).tolist() == [0, 2, 1]
    assert class_labels(np.array([True, False])).tolist() == [1, 0]


def _s45_tape_after_relayout(lib, keras=None):
    """Adam of a loop of one's own over model.trainable_variables, a layer frozen, a
    train_on_batch (the compiled SGD: glassnet lays its buffer out anew), the loop again."""
    rng = np.random.default_rng(0)
    x = rng.random((24, 4)).astype(np.float32)
    y = x.sum(1, keepdims=True).astype(np.float32)
    if lib == "keras":
        import tensorflow as tf
        kl = keras.layers
        model = keras.Sequential([keras.Input((4,)), kl.Dense(3, name="d0"), kl.Dense(3, name="d1"), kl.Dense(1, name="d2")])
        model.compile(keras.optimizers.SGD(0.05), "mse")
        adam, Tape, mean, square = keras.optimizers.Adam(0.01), tf.GradientTape, keras.ops.mean, keras.ops.square
    else:
        from glassnet import ops
        model = gn.Sequential([gn.Input((4,)), gn.layers.Dense(3, name="d0"), gn.layers.Dense(3, name="d1"),
                               gn.layers.Dense(1, name="d2")], seed=0)
        model.compile(gn.optimizers.SGD(0.05), "mse")
        adam, Tape, mean, square = gn.optimizers.Adam(0.01, rule="keras"), gn.GradientTape, ops.mean, ops.square
    return model, adam, Tape, mean, square, x, y


def _s45_run_loop(model, adam, Tape, mean, square, x, y, start=None, keras=None):
    if start is not None:
        model.set_weights(start)

    def loop(steps):
        for _ in range(steps):
            with Tape() as tape:
                loss = mean(square(model(x, training=True) - y))
            weights = model.trainable_variables
            adam.apply_gradients(zip(tape.gradient(loss, weights), weights))
    loop(3)
    model.get_layer("d2").trainable = False
    if keras is not None:
        model.make_train_function(force=True)
    model.train_on_batch(x, y)
    loop(3)
    return model.get_weights()


def test_a_loop_optimizer_goes_on_after_the_model_lays_its_buffer_out_anew():
    """A GradientTape loop's own Adam over ``model.trainable_variables``, then a layer frozen and a
    ``train_on_batch`` (the model's buffer laid out anew, its compiled optimizer's state carried),
    then the loop again: the loop's Adam kept slots of the old buffer's size and its update failed
    with NumPy's broadcast error (31 against 27 numbers). Its slots now follow, as the compiled
    optimizer's do (the frozen layer's dropped, the others' kept)."""
    model, *rest = _s45_tape_after_relayout("glassnet")
    before = model.get_weights()
    after = _s45_run_loop(model, *rest)
    assert not np.array_equal(after[0], before[0])
    adam = rest[0]
    assert [a.size for a in adam.slots[f"{model.name}/params"].values()] == [27, 27]


def test_a_loop_optimizer_after_the_buffer_laid_out_anew_is_keras():
    keras = _s45_keras()
    theirs, *krest = _s45_tape_after_relayout("keras", keras)
    ours, *grest = _s45_tape_after_relayout("glassnet")
    start = theirs.get_weights()
    expected = _s45_run_loop(theirs, *krest, keras=keras)
    got = _s45_run_loop(ours, *grest, start=start)
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _s45_scaled_mse(y_true, y_pred, scale=1.0):
    from glassnet import ops
    return scale * ops.mean(ops.square(y_true - y_pred), axis=-1)


@pytest.mark.parametrize("form", ["list", "dict"])
def test_a_loss_function_wrapper_among_several_losses_is_written_to_keras(tmp_path, form):
    """``LossFunctionWrapper`` in a list or dict of losses (a model of several outputs) was refused by
    the .keras writer as "a loss or metric of yours, which Keras cannot rebuild": the list's entries
    pass its Keras form twice, and the second pass did not know its own form of the wrapper. Alone
    it was written; now in a list or dict too, as Keras writes it."""
    import json
    import zipfile
    i = gn.Input((3,), name="a")
    h = gn.layers.Dense(4, name="t")(i)
    model = gn.Model({"a": i}, {"yz": gn.layers.Dense(2, name="yz")(h), "yy": gn.layers.Dense(1, name="yy")(h)})
    wrapped = gn.losses.LossFunctionWrapper(_s45_scaled_mse, name="wrapped", scale=2.0)
    model.compile("adam", loss=[wrapped, "mse"] if form == "list" else {"yz": wrapped, "yy": "mse"})
    model.save(tmp_path / "m.keras", save_format="keras")
    loss = json.loads(zipfile.ZipFile(tmp_path / "m.keras").read("config.json"))["compile_config"]["loss"]
    entry = loss[0] if form == "list" else loss["yz"]
    assert entry["module"] == "keras.src.losses.losses" and entry["class_name"] == "LossFunctionWrapper"
    assert entry["config"]["scale"] == 2.0 and entry["config"]["name"] == "wrapped"
