"""The layer registry (``glassnet.layers.LAYERS``) that load_model rebuilds layers from, by class name."""
import warnings

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
