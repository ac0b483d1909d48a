"""Session 48's regression differential (the start tree 47541f56 against the merged end, some
hundreds of random programs run on both and compared bit for bit, and files the start tree wrote
loaded by the end tree) and what it found.

1. LayerNormalization/RMSNormalization of an axis list took Keras 3.15's weight layout this session
   (layers/_norm_layout.py); glassnet's own ``.npz`` files of the older layout were reshaped on load,
   but the Keras-format files an older glassnet wrote (``save_format="keras"``, ``"h5"``,
   ``.weights.h5``: the weights and the optimizer's slots) no longer loaded ("expected shape (3, 4),
   the file has (4, 3)")."""
import numpy as np
import pytest

import glassnet as gn
import glassnet.layers.normalization as normalization

L = gn.layers


def _older_weight_shape(layer, input_shape, axes):
    """What a glassnet before session 48 shaped the weights: the axes' positive order."""
    layer.__dict__["_older_shape"] = None
    return tuple(input_shape[a - 1] for a in axes)


def _norm_model(cls):
    gn.utils.set_random_seed(0)
    inputs = gn.Input((4, 3))
    h = L.Flatten()(getattr(L, cls)(axis=[-1, 1])(inputs))      # Keras: (3, 4); glassnet before: (4, 3)
    model = gn.Model(inputs, L.Dense(2)(h))
    # (rule="keras": the rule a Keras-format file's optimizer loads with, docs/optimizers.md)
    model.compile(gn.optimizers.Adam(0.01, rule="keras"), "mse")
    return model


@pytest.mark.parametrize("cls", ["LayerNormalization", "RMSNormalization"])
@pytest.mark.parametrize("fmt", ["keras", "h5", "weights.h5"])
def test_older_keras_format_files_of_a_normalization_axis_list_load(monkeypatch, tmp_path, cls, fmt):
    pytest.importorskip("h5py")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 4, 3)).astype("float32")
    y = rng.standard_normal((8, 2)).astype("float32")
    path = str(tmp_path / f"m.{fmt}")
    with monkeypatch.context() as m:
        m.setattr(normalization, "weight_shape", _older_weight_shape)
        older = _norm_model(cls)
        older.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
        assert older.get_weights()[0].shape == (4, 3)
        if fmt == "weights.h5":
            older.save_weights(path)
        else:
            older.save(path, save_format=fmt)
    expected = older.predict(x, verbose=0)
    if fmt == "weights.h5":
        model = _norm_model(cls)
        model.load_weights(path)
    else:
        model = gn.load_model(path)
    assert model.get_weights()[0].shape == (3, 4)
    for a, b in zip(model.get_weights(), older.get_weights()):
        np.testing.assert_array_equal(a.ravel(), b.ravel())
    np.testing.assert_array_equal(model.predict(x, verbose=0), expected)
    if fmt == "keras":          # the optimizer's slots came with it: both go on alike
        older.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
        model.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
        for a, b in zip(model.get_weights(), older.get_weights()):
            np.testing.assert_array_equal(a.ravel(), b.ravel())


def test_a_keras_format_file_of_another_shape_is_still_refused(tmp_path):
    """Only the older layout's shape is read reshaped: a file of other sizes is refused as before."""
    pytest.importorskip("h5py")
    path = str(tmp_path / "m.weights.h5")
    gn.utils.set_random_seed(0)
    inputs = gn.Input((5, 3))
    other = gn.Model(inputs, L.Dense(2)(L.Flatten()(L.LayerNormalization(axis=[-1, 1])(inputs))))
    other.save_weights(path)
    with pytest.raises(gn.errors.ModelFileError, match="expected shape"):
        _norm_model("LayerNormalization").load_weights(path)
