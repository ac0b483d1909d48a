"""The layer registry (``glassnet.layers.LAYERS``) that load_model rebuilds layers from, by class name."""
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import LAYERS, Layer


@pytest.fixture
def registry():
    """LAYERS as it was before the test: the classes a test defines must not outlive it."""
    saved = dict(LAYERS)
    yield LAYERS
    LAYERS.clear()
    LAYERS.update(saved)


def _layer_class(name, module):
    """What ``class <name>(Layer): ...`` does when it runs in ``module``."""
    return type(name, (Layer,), {"__module__": module})


def test_redefining_a_layer_in_the_same_module_is_silent(registry):
    first = _layer_class("Shift", "notebook")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = _layer_class("Shift", "notebook")          # the notebook cell, run again
    assert registry["Shift"] is second and second is not first


def test_a_same_named_layer_from_another_module_warns_and_wins(registry, tmp_path):
    first = _layer_class("Shift", "package_a.layers")
    model = gn.Sequential([gn.layers.Dense(2, input_dim=2), first()])
    model.save(tmp_path / "model.npz")
    with pytest.warns(UserWarning) as record:
        second = _layer_class("Shift", "package_b.extra")
    message = str(record[0].message)
    assert len(record) == 1 and record[0].filename == __file__      # points at the class statement
    assert "package_a.layers.Shift" in message
    assert "load_model will now build package_b.extra.Shift" in message
    assert registry["Shift"] is second
    assert type(gn.load_model(tmp_path / "model.npz").layers[1]) is second


def test_shadowing_a_built_in_layer_warns(registry):
    with pytest.warns(UserWarning, match=r"'Dense' is already registered by glassnet\.layers\.dense\.Dense"):
        _layer_class("Dense", "my_layers")


def test_keras_other_names_load_as_their_classes(registry):
    """Keras' loader takes its other class names (``MaxPool2D``, ``Convolution2D``, ...): so do
    model_from_json, from_config and a wrapper's config. The rebuilt model writes the canonical name."""
    import json
    from glassnet import layers
    assert layers.ALIASES["MaxPool2D"] == "MaxPooling2D" and layers.ALIASES["GroupQueryAttention"] == "GroupedQueryAttention"
    for alias, canonical in layers.ALIASES.items():      # every alias is the class it names
        assert getattr(layers, alias) is LAYERS[canonical] and alias not in LAYERS
    model = gn.Sequential([gn.layers.Input((6, 6, 1)), gn.layers.Conv2D(2, 3), gn.layers.MaxPooling2D(),
                           gn.layers.TimeDistributed(gn.layers.Dense(2))])
    config = json.loads(model.to_json())
    names = [spec["class_name"] for spec in config["config"]["layers"]]
    assert names[-3:] == ["Conv2D", "MaxPooling2D", "TimeDistributed"]
    config["config"]["layers"][-3]["class_name"] = "Convolution2D"
    config["config"]["layers"][-2]["class_name"] = "MaxPool2D"
    config["config"]["layers"][-1]["config"]["layer"]["class_name"] = "Convolution1D"
    config["config"]["layers"][-1]["config"]["layer"]["config"] = gn.layers.Conv1D(2, 1).get_config()
    rebuilt = gn.model_from_json(json.dumps(config))
    kinds = [type(layer) for layer in rebuilt.layers]
    assert kinds[-3:-1] == [gn.layers.Conv2D, gn.layers.MaxPooling2D]
    assert type(rebuilt.layers[-1].layer) is gn.layers.Conv1D
    assert [spec["class_name"] for spec in json.loads(rebuilt.to_json())["config"]["layers"]][-3:] == names[-3:]
    assert gn.layers.get("AvgPool1D") is gn.layers.AveragePooling1D
    with pytest.raises(ValueError, match="unknown class 'MaxPool4D'"):
        gn.layers.get("MaxPool4D")


def test_a_user_class_named_like_an_alias_wins_over_it(registry):
    """An alias is only looked at when no class is registered under the name itself."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # not a registered name: nothing shadowed, no warning
        mine = _layer_class("MaxPool2D", "package_c.layers")
    assert gn.layers.get("MaxPool2D") is mine


@pytest.mark.parametrize("make", [
    lambda: gn.layers.TimeDistributed(gn.layers.Dropout(0.5), seed=7),
    lambda: gn.layers.Bidirectional(gn.layers.LSTM(2, dropout=0.5, return_sequences=True), seed=7),
    lambda: gn.layers.RNN(gn.layers.GRUCell(2, dropout=0.5), return_sequences=True, seed=7),
    lambda: gn.layers.Pipeline([gn.layers.GaussianNoise(1.0)], seed=7),
], ids=["TimeDistributed", "Bidirectional", "RNN", "Pipeline"])
def test_a_wrapper_rebuilt_from_its_config_draws_as_the_original(make):
    """The wrapped layers draw from the wrapper's generator (their own seeds are refused): its
    seed goes into its config, as a Dropout's does, so a file or JSON rebuilds the same draws."""
    import numpy as np
    layer = make()
    copy = type(layer).from_config(layer.get_config())
    assert layer.get_config()["seed"] == 7 and copy.seed == 7
    x = np.ones((3, 4, 2), dtype=np.float32)
    # the same seed: the same initial weights, then the same dropout masks or noise
    np.testing.assert_array_equal(copy(x, training=True), layer(x, training=True))


def _fresh(code):
    """What ``code`` prints in a new interpreter (where no layer module has been imported yet)."""
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_import_glassnet_imports_only_the_layer_modules_it_needs():
    """The other layer modules are imported on a layer's first use (catalog.py says why)."""
    loaded = _fresh("import sys, glassnet\n"
                    "print(*sorted(m for m in sys.modules if m.startswith('glassnet.layers.')))")
    assert set(loaded) <= {"glassnet.layers.base", "glassnet.layers.catalog", "glassnet.layers.dense",
                           "glassnet.layers.input", "glassnet.layers.masking",
                           "glassnet.layers.keras_surface",                # (a part of Layer)
                           "glassnet.layers.keras_state",                  # (a part of Layer too)
                           "glassnet.layers.lora",                         # (Dense's LoraTarget, small)
                           "glassnet.layers._keras_attributes"}, loaded   # (Keras' weight attributes' table)
    first_use = _fresh("import sys, glassnet\n"
                       "model = glassnet.Sequential([glassnet.layers.Input((6, 6, 1)), glassnet.layers.Conv2D(2, 3)])\n"
                       "print('glassnet.layers.conv' in sys.modules, 'glassnet.layers.attention' in sys.modules)")
    assert first_use == ["True", "False"]


def test_a_name_from_a_config_finds_a_layer_not_imported_yet(tmp_path):
    """lookup, get, from_config and load_model import the layer modules when a name is not
    registered yet: a model file names MelSpectrogram before anything in the program used it."""
    model = gn.Sequential([gn.layers.Input((64,)), gn.layers.MelSpectrogram(num_mel_bins=4, fft_length=16,
                                                                              sequence_stride=8, sequence_length=16),
                           gn.layers.Flatten(), gn.layers.Dense(1)], seed=0)
    model.save(tmp_path / "mel.npz")
    code = ("import sys, numpy as np, glassnet\n"
            "print('glassnet.layers.spectrogram' in sys.modules)\n"
            f"model = glassnet.load_model({str(tmp_path / 'mel.npz')!r})\n"
            "print(type(model.layers[0]).__name__, model.predict(np.ones((1, 64), 'f'), verbose=0).round(5).item())\n"
            "from glassnet.layers.base import lookup\n"
            "print(lookup('MaxPool2D').__name__, glassnet.layers.get('GroupQueryAttention').__name__)")
    assert _fresh(code) == ["False", "MelSpectrogram",
                            str(model.predict(np.ones((1, 64), "f"), verbose=0).round(5).item()),
                            "MaxPooling2D", "GroupedQueryAttention"]


def test_the_catalog_names_every_built_in_layer_where_it_lives():
    """catalog.HOMES is written by hand: each name there is its module's, and every class a
    glassnet.layers module registers is there (a new layer missing from it could not be loaded
    from a file in a program that had not used it yet)."""
    import importlib
    from glassnet.layers import catalog
    for module, names in catalog.HOMES.items():
        for name in names:
            value = getattr(importlib.import_module(f"glassnet.layers.{module}"), name)
            assert value.__module__ == f"glassnet.layers.{module}", (module, name)
    built_in = {name: cls.__module__.rsplit(".", 1)[1] for name, cls in LAYERS.items()
                if cls.__module__.startswith("glassnet.layers.")}
    assert all(catalog.HOME_OF.get(name) == module for name, module in built_in.items()), built_in
    assert set(catalog.ALIASES.values()) <= set(built_in)


def test_a_user_class_named_like_a_built_in_not_imported_yet_warns_and_keeps_the_name():
    """Defined before glassnet.layers.attention is imported, a user's Attention warns as it would
    after, and the built-in module imported later leaves it in the registry."""
    code = ("import warnings, glassnet\n"
            "from glassnet.layers import Layer\n"
            "from glassnet.layers.base import LAYERS\n"
            "with warnings.catch_warnings(record=True) as record:\n"
            "    warnings.simplefilter('always')\n"
            "    class Attention(Layer):\n"
            "        pass\n"
            "print(len(record), 'glassnet.layers.attention.Attention' in str(record[0].message))\n"
            "built_in = glassnet.layers.Attention\n"
            "print(LAYERS['Attention'] is Attention, built_in is not Attention, built_in.__module__)")
    assert _fresh(code) == ["1", "True", "True", "True", "glassnet.layers.attention"]
