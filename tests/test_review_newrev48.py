"""Review of session 48's first merged features (guides4, optstate4): bugs found by fuzzing them
against Keras 3.15, twin runs and files of the start tree, each with its regression test."""
import numpy as np
import pytest

import glassnet as gn


def _ln_model(layer):
    return gn.Sequential([gn.Input((3, 4, 5)), layer, gn.layers.Flatten(), gn.layers.Dense(2)], seed=1)


@pytest.mark.parametrize("make", [lambda: gn.layers.LayerNormalization(axis=[1, -2]),
                                  lambda: gn.layers.RMSNormalization(axis=[-1, 1])])
def test_older_weights_h5_of_an_axis_list_normalization_loads(tmp_path, make):
    # A glassnet before session 48 shaped such a layer's weights in the axes' positive order ((3, 4)
    # for axis=[1, -2]; Keras' is (4, 3)), the same values in C order: its .weights.h5 files were
    # refused ("expected shape (4, 3), the file has (3, 4)") while its model files loaded.
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 3, 4, 5)).astype("float32")
    model = _ln_model(make())
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    path = str(tmp_path / "old.weights.h5")
    model.save_weights(path)
    older = vars(model.layers[0])["_older_shape"]
    with h5py.File(path, "r+") as f:        # the file as the older glassnet wrote it
        name = next(n for n in _datasets(f) if "normalization" in n)
        values = f[name][()]
        assert values.shape != older
        del f[name]
        f[name] = values.reshape(older)
    twin = _ln_model(make())
    twin.load_weights(path)
    np.testing.assert_array_equal(twin.predict(x, verbose=0), model.predict(x, verbose=0))


def _datasets(f):
    found = []
    f.visititems(lambda name, obj: found.append(name) if hasattr(obj, "shape") else None)
    return found
