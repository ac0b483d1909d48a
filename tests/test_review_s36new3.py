"""Review s36new3: Keras 3.15's order of layers and weights (glassnet._layer_order) and operators on
symbolic tensors (layers/tensor_ops.py)."""
import os
import sys

import numpy as np

import glassnet as gn

L = gn.layers
DATA = os.path.join(os.path.dirname(__file__), "data", "weight_order")
sys.path.insert(0, DATA)
from make_sequential_file import build as build_sequential  # noqa: E402


def _x(shape=(6, 4), seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# -- a Sequential nesting a functional Model whose Keras order is not its calls' order -----------
def test_sequential_nesting_functional_model_saves_loads_and_clones(tmp_path):
    model = build_sequential(gn)
    assert [layer.name for layer in model.layers] == ["o1", "f1", "f2", "s1", "s2", "fadd", "o2"]   # Keras'
    x = _x()
    model.compile(loss="mse", optimizer="adam")
    model.fit(x, np.zeros((6, 2), np.float32), epochs=1, verbose=0)
    path = str(tmp_path / "m.npz")
    model.save(path)            # wrote a graph whose calls are f2 (listed third) before f1
    loaded = gn.load_model(path)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    clone = gn.models.clone_model(model)
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))


def test_old_sequential_file_loads_and_its_weights_go_to_their_layers():
    """sequential.npz, written by f00902c (make_sequential_file.py), lists f2 before f1."""
    expected = np.load(os.path.join(DATA, "sequential_expected.npz"))
    path = os.path.join(DATA, "sequential.npz")
    loaded = gn.load_model(path)
    np.testing.assert_allclose(loaded.predict(expected["x"], verbose=0), expected["predicted"], rtol=1e-6, atol=1e-6)
    loaded.fit(expected["x"], expected["y"], epochs=1, batch_size=8, verbose=0, shuffle=False)
    np.testing.assert_allclose(loaded.predict(expected["x"], verbose=0), expected["trained"], rtol=1e-5, atol=1e-6)
    # load_weights into the model drawn again (Keras' order, f1 before f2): each layer its own
    fresh = build_sequential(gn)
    fresh.load_weights(path)
    np.testing.assert_allclose(fresh.predict(expected["x"], verbose=0), expected["predicted"], rtol=1e-6, atol=1e-6)
