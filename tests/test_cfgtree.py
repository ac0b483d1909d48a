"""glassnet.config and glassnet.tree against Keras 3.15's keras.config and keras.tree, live.

Every test leaves the global settings as it found them (the ``settings`` fixture resets both
libraries' settings after it), so that other tests are unaffected."""
import collections
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet import backend, config, tree
from glassnet.gradcheck import check_loss

P = collections.namedtuple("P", "b a")


@pytest.fixture
def settings():
    yield
    backend.set_floatx("float32"), backend.set_epsilon(1e-7), backend.set_image_data_format("channels_last")
    config.set_max_epochs(None), config.set_max_steps_per_epoch(None)
    backend.clear_session()


@pytest.fixture
def kconfig(keras, settings):
    yield keras.config
    c = keras.config
    c.set_floatx("float32"), c.set_epsilon(1e-7), c.set_image_data_format("channels_last")
    c.set_max_epochs(None), c.set_max_steps_per_epoch(None)
    keras.backend.clear_session()


def test_import_glassnet_does_not_import_config_or_tree():
    import subprocess
    import sys
    code = "import glassnet, sys; print('glassnet.config' in sys.modules, 'glassnet.tree' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_same_names_as_keras(keras):
    theirs = {n for n in dir(keras.config) if not n.startswith("_")}
    assert theirs <= set(config.__all__)
    assert {n for n in dir(keras.tree) if not n.startswith("_")} <= set(tree.__all__)
    for name in ("set_floatx", "set_epsilon", "image_data_format", "set_image_data_format", "floatx", "epsilon"):
        assert hasattr(keras.backend, name) and callable(getattr(backend, name))


def test_defaults_and_getters_match_keras(kconfig):
    for name in ("floatx", "epsilon", "image_data_format", "max_epochs", "max_steps_per_epoch",
                 "is_interactive_logging_enabled", "is_traceback_filtering_enabled", "is_flash_attention_enabled",
                 "is_nnx_enabled"):
        assert getattr(config, name)() == getattr(kconfig, name)(), name
    assert repr(config.dtype_policy()) == repr(kconfig.dtype_policy())
    assert config.backend() == "numpy"


def test_setters_return_none_and_set(kconfig):
    for setter, getter, value in [("set_floatx", "floatx", "float64"), ("set_epsilon", "epsilon", 1e-5),
                                  ("set_image_data_format", "image_data_format", "channels_first"),
                                  ("set_max_epochs", "max_epochs", 3), ("set_max_steps_per_epoch", "max_steps_per_epoch", 2)]:
        assert getattr(config, setter)(value) is None and getattr(kconfig, setter)(value) is None
        assert getattr(config, getter)() == getattr(kconfig, getter)() == value
    for flag in ("interactive_logging", "traceback_filtering", "flash_attention"):
        for verb in ("disable", "enable"):
            assert getattr(config, f"{verb}_{flag}")() is None
            getattr(kconfig, f"{verb}_{flag}")()
            assert getattr(config, f"is_{flag}_enabled")() == getattr(kconfig, f"is_{flag}_enabled")()
    config.set_dtype_policy("float64"), kconfig.set_dtype_policy("float64")
    assert repr(config.dtype_policy()) == repr(kconfig.dtype_policy())


def test_clear_session_resets_what_keras_resets(keras, kconfig):
    config.set_floatx("float64"), kconfig.set_floatx("float64")
    config.set_epsilon(1e-4), kconfig.set_epsilon(1e-4)
    config.set_image_data_format("channels_first"), kconfig.set_image_data_format("channels_first")
    config.set_max_epochs(2), kconfig.set_max_epochs(2)
    config.set_max_steps_per_epoch(2), kconfig.set_max_steps_per_epoch(2)
    config.disable_interactive_logging(), kconfig.disable_interactive_logging()
    config.disable_traceback_filtering(), kconfig.disable_traceback_filtering()
    config.enable_flash_attention(), kconfig.enable_flash_attention()
    config.set_dtype_policy("float64"), kconfig.set_dtype_policy("float64")
    backend.clear_session(), keras.backend.clear_session()
    for name in ("floatx", "epsilon", "image_data_format", "max_epochs", "max_steps_per_epoch",
                 "is_interactive_logging_enabled", "is_traceback_filtering_enabled", "is_flash_attention_enabled"):
        assert getattr(config, name)() == getattr(kconfig, name)(), name
    assert repr(config.dtype_policy()) == repr(kconfig.dtype_policy())


@pytest.mark.parametrize("call, error, words", [
    (lambda: config.set_floatx("float16"), ValueError, "half precision"),
    (lambda: config.set_floatx("bfloat16"), ValueError, "half precision"),
    (lambda: config.set_floatx("float17"), ValueError, "value: expected 'float32' or 'float64'"),
    (lambda: config.set_floatx(np.float64), TypeError, "value"),
    (lambda: config.set_epsilon(0), ValueError, "value: expected a positive finite"),
    (lambda: config.set_epsilon("1e-7"), TypeError, "value"),
    (lambda: config.set_epsilon(float("nan")), ValueError, "value"),
    (lambda: config.set_image_data_format("channels_middle"), ValueError, "data_format"),
    (lambda: config.set_max_epochs(0), ValueError, "max_epochs"),
    (lambda: config.set_max_epochs(1.5), TypeError, "max_epochs"),
    (lambda: config.set_max_steps_per_epoch(True), TypeError, "max_steps_per_epoch"),
    (lambda: config.set_dtype_policy("mixed_float16"), ValueError, "mixed"),
    (lambda: config.set_dtype_policy("int8"), ValueError, "policy"),
])
def test_bad_values_refused_by_name(settings, call, error, words):
    with pytest.raises(error, match=words):
        call()
    assert config.floatx() == "float32" and config.epsilon() == 1e-7


def test_model_dtype_float16_refused_as_set_floatx_is():
    with pytest.raises(ValueError, match="float32"):
        gn.Sequential(dtype="float16")


def test_floatx_float64_defaults_like_keras(keras, kconfig):
    config.set_floatx("float64"), kconfig.set_floatx("float64")
    model = gn.Sequential([gn.Input((3,)), gn.layers.Dense(2)])
    kmodel = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    assert model.dtype.name == kmodel.layers[0].kernel.dtype == "float64"
    assert model.get_weights()[0].dtype == np.float64
    assert gn.Input((2,)).dtype == keras.Input((2,)).dtype == "float64"
    inp = gn.Input((2,))
    assert gn.Model(inp, gn.layers.Dense(1)(inp)).dtype == np.float64
    assert gn.Sequential(dtype="float32").dtype == np.float32          # a given dtype still wins
    layer = gn.layers.Dense(2)
    assert layer(np.ones((1, 3))).dtype == np.float64                 # a standalone layer too
    ops = gn.ops
    assert ops.zeros(2).dtype == np.asarray(keras.ops.zeros(2)).dtype == np.float64
    assert ops.one_hot(np.array([1]), 3).dtype == np.asarray(keras.ops.one_hot(np.array([1]), 3)).dtype
    assert gn.random.normal((2,)).dtype == np.asarray(keras.random.normal((2,))).dtype
    # the predictions are float64 too, as Keras'
    assert model.predict(np.ones((2, 3), np.float32)).dtype == np.float64
    config.set_floatx("float32")
    assert gn.Sequential().dtype == np.float32 and model.dtype == np.float64     # made before: kept


def test_model_file_saved_under_float64_loads_as_float64(settings, tmp_path):
    config.set_floatx("float64")
    model = gn.Sequential([gn.layers.Dense(2, input_dim=3)], seed=0)
    model.save(tmp_path / "m.npz")
    config.set_floatx("float32")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert loaded.dtype == np.float64
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])


def test_dtype_policy_float64_makes_models_float64_but_not_inputs(keras, kconfig):
    config.set_dtype_policy("float64"), kconfig.set_dtype_policy("float64")
    assert gn.Sequential().dtype == np.float64
    assert gn.Input((2,)).dtype == keras.Input((2,)).dtype == "float32"


def _bce(y, p):
    return gn.losses.BinaryCrossentropy()(y, p)


@pytest.mark.parametrize("eps", [1e-3, 1e-5])
def test_set_epsilon_read_at_call_time_by_losses_and_metrics(keras, kconfig, eps):
    y = np.array([[1.0, 0.0, 1.0, 0.0]])
    p = np.array([[1.0, 0.0, 0.9995, 0.3]])
    loss = gn.losses.BinaryCrossentropy()          # made before set_epsilon: reads it at each call
    kloss = keras.losses.BinaryCrossentropy()
    config.set_epsilon(eps), kconfig.set_epsilon(eps)
    # glassnet's losses take (y_pred, y_true), Keras' (y_true, y_pred)
    np.testing.assert_allclose(loss(p, y), float(kloss(y, p)), rtol=1e-6)
    for name in ("CategoricalCrossentropy", "Poisson", "MeanAbsolutePercentageError",
                 "MeanSquaredLogarithmicError", "KLDivergence", "Dice"):
        a = np.array([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])
        b = np.array([[0.0, 0.2, 0.8], [1.0, 0.0, 0.0]])
        ours, theirs = getattr(gn.losses, name)()(b, a), float(getattr(keras.losses, name)()(a, b))
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, err_msg=name)
    f1, kf1 = gn.metrics.F1Score(average="macro", threshold=0.5), keras.metrics.F1Score(average="macro", threshold=0.5)
    yt, yp = np.array([[1, 0], [0, 0]], np.float32), np.array([[0.9, 0.2], [0.1, 0.1]], np.float32)
    f1.update_state(yt, yp), kf1.update_state(yt, yp)
    np.testing.assert_allclose(f1.result(), float(kf1.result()), rtol=1e-6)
    w = np.array([[3.0, 0.0], [4.0, 0.5]], np.float32)
    np.testing.assert_allclose(gn.constraints.UnitNorm()(w), np.asarray(keras.constraints.UnitNorm()(w)), rtol=1e-6)


def test_set_epsilon_gradient_matches_finite_differences(settings):
    config.set_epsilon(1e-3)
    loss = gn.losses.BinaryCrossentropy()
    y = np.array([[1.0, 0.0, 1.0]])
    p = np.array([[0.9995, 0.3, 0.5]])          # the first is clipped at 1 - 1e-3: gradient 0 there
    check_loss(loss, p, y)
    assert loss.gradient(p, y)[0, 0] == 0


def test_optimizer_epsilon_does_not_follow_set_epsilon(keras, kconfig):
    config.set_epsilon(1e-3), kconfig.set_epsilon(1e-3)
    assert gn.optimizers.Adam().epsilon == keras.optimizers.Adam().epsilon == 1e-7


def test_image_data_format_resolves_data_format_none(keras, kconfig):
    config.set_image_data_format("channels_first"), kconfig.set_image_data_format("channels_first")
    assert gn.layers.GlobalAveragePooling2D().data_format == keras.layers.GlobalAveragePooling2D().data_format
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    np.testing.assert_allclose(gn.layers.GlobalAveragePooling2D()(x),
                               np.asarray(keras.layers.GlobalAveragePooling2D()(x)), rtol=1e-6)
    # the image layers and convolutions take it too (channels_first since this stop's data_format work)
    for name in ("RandomPerspective", "MaxPooling2D", "Resizing"):
        args = (4, 4) if name == "Resizing" else ()
        assert getattr(gn.layers, name)(*args).data_format == getattr(keras.layers, name)(*args).data_format
    assert gn.layers.Conv2D(2, 3).data_format == keras.layers.Conv2D(2, 3).data_format == "channels_first"
    config.set_image_data_format("channels_last")
    assert gn.layers.GlobalAveragePooling2D().data_format == "channels_last"


def _fit(model_epochs, data, **kw):
    model = gn.Sequential([gn.layers.Dense(1, input_dim=2)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    return model.fit(*data, epochs=model_epochs, verbose=0, **kw)


def test_max_epochs_and_steps_cap_fit_as_keras(keras, kconfig):
    x, y = np.ones((10, 2), np.float32), np.ones((10, 1), np.float32)
    config.set_max_epochs(2), kconfig.set_max_epochs(2)
    config.set_max_steps_per_epoch(3), kconfig.set_max_steps_per_epoch(3)
    steps, ksteps = [], []

    class Count(gn.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            steps.append(batch)

    class KCount(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            ksteps.append(batch)

    with pytest.warns(UserWarning, match="Limiting epochs to 2"):
        history = _fit(5, (x, y), batch_size=2, callbacks=[Count()])
    kmodel = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    kmodel.compile(loss="mse", optimizer="sgd")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        khistory = kmodel.fit(x, y, epochs=5, batch_size=2, verbose=0, callbacks=[KCount()])
    assert len(history.history["loss"]) == len(khistory.history["loss"]) == 2
    # Keras 3.15 goes on through the same pass in the next epoch (its iterator is kept: 5 batches,
    # 3 then the 2 left); glassnet starts each capped epoch with a new shuffled pass
    assert ksteps == [0, 1, 2, 0, 1]
    assert steps == [0, 1, 2, 0, 1, 2]
    config.set_max_epochs(None)
    assert len(_fit(3, (x, y)).history["loss"]) == 3


def test_interactive_logging_off_gives_plain_lines(settings, capsys, monkeypatch):
    import glassnet.callbacks.progress as progress
    monkeypatch.setattr(progress, "is_terminal", lambda stream: True)
    x, y = np.ones((8, 2), np.float32), np.ones((8, 1), np.float32)
    config.disable_interactive_logging()
    model = gn.Sequential([gn.layers.Dense(1, input_dim=2)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    model.fit(x, y, epochs=2, verbose=1, batch_size=2)
    out = capsys.readouterr().out
    assert "\r" not in out and out.count("Epoch") == 2


def test_unsafe_deserialization_changes_nothing(settings, tmp_path):
    assert config.enable_unsafe_deserialization() is None
    assert config.is_unsafe_deserialization_enabled()
    backend.clear_session()
    assert not config.is_unsafe_deserialization_enabled()


# ---------------------------------------------------------------- tree

STRUCTURES = [
    {"b": [1, (2, None)], "a": P(3, {"z": 4, "y": 5})},
    [1, [2, [3, [4]]], (5,)],
    (None, {"k": None}),
    collections.OrderedDict([("b", 1), ("a", [2, 3])]),
    7,
    {},
    [],
]


def _same(a, b):
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            _same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    else:
        assert a == b


@pytest.mark.parametrize("s", STRUCTURES)
def test_tree_walks_as_keras(keras, s):
    kt = keras.tree
    assert tree.flatten(s) == kt.flatten(s)
    assert tree.flatten_with_path(s) == kt.flatten_with_path(s)
    assert tree.is_nested(s) == kt.is_nested(s)
    fn = lambda x: None if x is None else x * 10          # noqa: E731
    _same(tree.map_structure(fn, s), kt.map_structure(fn, s))
    flat = list(range(len(kt.flatten(s))))
    _same(tree.pack_sequence_as(s, flat), kt.pack_sequence_as(s, flat))
    _same(tree.lists_to_tuples(s), kt.lists_to_tuples(s))
    _same(tree.map_structure(lambda a, b: (a, b), s, s), kt.map_structure(lambda a, b: (a, b), s, s))
    for top_down in (True, False):
        f = lambda x: tree.MAP_TO_NONE if isinstance(x, list) and len(x) == 1 else None     # noqa: E731
        kf = lambda x: kt.MAP_TO_NONE if isinstance(x, list) and len(x) == 1 else None     # noqa: E731
        _same(tree.traverse(f, s, top_down=top_down), kt.traverse(kf, s, top_down=top_down))


def test_tree_up_to_shapes_and_errors_as_keras(keras):
    kt = keras.tree
    shallow, deep = [1, (2, 3)], [[1, 2], ({"a": 1}, [3])]
    name = lambda a: type(a).__name__        # noqa: E731
    _same(tree.map_structure_up_to(shallow, name, deep), kt.map_structure_up_to(shallow, name, deep))
    shapes = {"a": (1, 2), "b": [(3,), (None, 4)]}
    _same(tree.map_shape_structure(lambda s: s, shapes), kt.map_shape_structure(lambda s: s, shapes))
    for a, b in [([1, 2], [1, (2,)]), ([1, 2], (1, 2)), ({"a": 1}, {"b": 1}), ([1], [1, 2])]:
        with pytest.raises(ValueError):
            kt.assert_same_structure(a, b)
        with pytest.raises(ValueError):
            tree.assert_same_structure(a, b)
    tree.assert_same_structure({"a": [1]}, {"a": [5]}), kt.assert_same_structure({"a": [1]}, {"a": [5]})
    with pytest.raises(ValueError, match="same paths"):
        tree.assert_same_paths({"a": 1}, {"b": 1})
    tree.assert_same_paths([1], (1,)), kt.assert_same_paths([1], (1,))
    with pytest.raises(ValueError, match="flat_sequence"):
        tree.pack_sequence_as([1, 2], [1])
    with pytest.raises(ValueError):
        tree.map_structure(lambda a, b: a, [1], [1, 2])
    with pytest.raises(TypeError, match="func"):
        tree.map_structure(None, [1])


def test_internal_tree_keeps_dict_order():
    from glassnet import _tree
    assert _tree.flatten({"b": 1, "a": 2}) == [1, 2]
    assert tree.flatten({"b": 1, "a": 2}) == [2, 1]
    assert _tree.map_structure(lambda a, b: a + b, P(1, 2), P(10, 20)) == P(11, 22)
