"""Review of the Keras rule and nested output names (krulerev): a functional model with nested
models written to a .keras file (flattened then, nested since: tests/test_keras_nested_func.py),
Keras loading it with the outputs and moments in place; and a Keras file whose nested model has an
output the outer model leaves unread (refused then, an xfail; loaded since)."""
import numpy as np
import pytest

import glassnet as gn


def _two(mod, units=2, name="two"):
    i = mod.Input((4,))
    return mod.Model(i, [mod.layers.Dense(3, name=name + "_a")(i), mod.layers.Dense(units, name=name + "_b")(i)],
                     name=name)


def test_keras_file_nested_model_output_partly_used_loads(keras, tmp_path):
    x = keras.Input((4,))
    theirs = keras.Model(x, [_two(keras)(x)[0], keras.layers.Dense(1, name="plain")(x)])
    path = str(tmp_path / "m.keras")
    theirs.save(path)
    ours = gn.load_model(path)
    data = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    assert ours.output_names == theirs.output_names
    for a, b in zip(ours.predict(data), theirs.predict(data, verbose=0)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


@pytest.mark.parametrize("units", [2, 3])
def test_keras_file_written_for_reordered_nested_outputs_loads_in_keras(keras, tmp_path, units):
    """A .keras file flattens the nested models into the functional model's graph; Keras names the
    weights' groups (``layers/dense_1``) and orders the optimizer's slots by that flat graph's
    order, here the reverse of ``two``'s own: the file's weights did not fit Keras' layers (units
    2: its load_model failed) or, of one shape, loaded into each other's layer (units 3: silently
    other outputs), and the moments went to the other weights."""
    x = gn.Input((4,))
    two = _two(gn, units)(x)
    ours = gn.Model(x, [two[1], two[0]])
    ours.compile(optimizer=gn.optimizers.Adam(0.01, rule="keras"), loss="mse")
    rng = np.random.default_rng(0)
    data = rng.normal(size=(16, 4)).astype("float32")
    targets = [rng.normal(size=(16, units)).astype("float32"), rng.normal(size=(16, 3)).astype("float32")]
    ours.fit(data, targets, batch_size=8, epochs=1, shuffle=False, verbose=0)
    path = str(tmp_path / "m.keras")
    ours.save(path, save_format="keras")
    theirs = keras.saving.load_model(path)
    for a, b in zip(ours.predict(data), theirs.predict(data, verbose=0)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    # the optimizer's moments are each weight's own: training continues as here
    ours.fit(data, targets, batch_size=8, epochs=1, shuffle=False, verbose=0)
    theirs.fit(data, targets, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(ours.predict(data), theirs.predict(data, verbose=0)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
