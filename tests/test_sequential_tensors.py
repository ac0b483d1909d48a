"""A built Sequential's symbolic tensors (glassnet._sequential_tensors): the Keras guide's feature
extraction with a Sequential model, drawn as Keras 3.15 draws it and computing its values from the
same weights; the sub-models share the Sequential's layers (training one changes the other)."""
import os
import pickle

import numpy as np
import pytest

import glassnet as gn

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
L = gn.layers


def _guide_model(lib, **kwargs):
    """The guide's model (smaller images: the same three convolutions)."""
    return lib.Sequential([lib.Input(shape=(25, 25, 3)),
                           lib.layers.Conv2D(8, 5, strides=2, activation="relu", name="first"),
                           lib.layers.Conv2D(8, 3, activation="relu", name="my_intermediate_layer"),
                           # named: Keras numbers unnamed layers across the process ("conv2d_7" after
                           # other tests), and the weights are copied by name
                           lib.layers.Conv2D(8, 3, activation="relu", name="last")], **kwargs)


def test_the_guides_feature_extractors_compute_what_keras_computes(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours, theirs = _guide_model(gn, seed=0), _guide_model(keras)
    # layer by layer in order, not by name: Keras numbers unnamed layers across the process
    # ("conv2d_3" after other tests made Keras convolutions), so its names are not ours
    for mine, its in zip(ours.layers, theirs.layers):
        its.set_weights(mine.get_weights())
    x = rng.random((3, 25, 25, 3)).astype(np.float32)
    one = gn.Model(inputs=ours.inputs, outputs=ours.get_layer(name="my_intermediate_layer").output)
    their_one = keras.Model(inputs=theirs.inputs, outputs=theirs.get_layer(name="my_intermediate_layer").output)
    assert [layer.name for layer in one.layers] == ["first", "my_intermediate_layer"]
    assert all(a is b for a, b in zip(one.layers, ours.layers))         # the Sequential's own layers
    assert one.output_shape == tuple(their_one.output_shape) == (None, 9, 9, 8)
    np.testing.assert_allclose(one.predict(x), their_one.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    every = gn.Model(inputs=ours.inputs, outputs=[layer.output for layer in ours.layers])
    their_every = keras.Model(inputs=theirs.inputs, outputs=[layer.output for layer in theirs.layers])
    mine, their = every.predict(x), their_every.predict(x, verbose=0)
    assert [m.shape for m in mine] == [t.shape for t in their] == [(3, 11, 11, 8), (3, 9, 9, 8), (3, 7, 7, 8)]
    for m, t in zip(mine, their):
        np.testing.assert_allclose(m, t, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mine[-1], ours.predict(x), rtol=1e-6)
    # Keras' shapes of the tensors themselves, batch axis first
    assert ours.inputs[0].shape == theirs.inputs[0].shape and ours.outputs[0].shape == theirs.outputs[0].shape
    assert [layer.output.shape for layer in ours.layers] == [tuple(layer.output.shape) for layer in theirs.layers]


def test_every_way_of_building_draws_the_tensors_as_keras_does():
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    built = []
    for lib in (gn, keras):
        given = lib.Sequential([lib.layers.Dense(3, input_shape=(5,)), lib.layers.Dense(2)])
        by_build = lib.Sequential([lib.layers.Dense(3), lib.layers.Dense(2)])
        by_build.build((None, 5))
        by_data = lib.Sequential([lib.layers.Dense(3), lib.layers.Dense(2)])
        by_data(np.zeros((4, 5), np.float32))
        built.append([given, by_build, by_data])
    for ours, theirs in zip(*built):
        assert len(ours.inputs) == len(theirs.inputs) == len(ours.outputs) == len(theirs.outputs) == 1
        # (Keras' built by its first data keeps that batch's size, (4, 5); glassnet's batch axis stays None)
        assert ours.inputs[0].shape == (None, *theirs.inputs[0].shape[1:]) == (None, 5)
        assert ours.outputs[0].shape == (None, 2)
        assert ours.layers[1].input is ours.layers[0].output and ours.layers[0].input is ours.inputs[0]
        assert gn.Model(ours.inputs, ours.layers[0].output).output_shape == (None, 3)
    # Keras' Input given first is the model's input itself
    given = gn.Input((4,), name="features")
    model = gn.Sequential([given, L.Dense(2)])
    assert model.inputs == [given] and model.input is given and model.output is model.outputs[0]


def test_an_unbuilt_sequential_says_how_to_build_it():
    model = gn.Sequential([L.Dense(3), L.Dense(2)])
    for what in ("input", "inputs", "output", "outputs"):
        with pytest.raises(AttributeError, match=f"no defined {what} yet.*gn.Input.*build"):
            getattr(model, what)
    with pytest.raises(AttributeError, match="a layer of a Sequential is, when the model is built"):
        model.layers[0].output
    assert not hasattr(gn.Sequential(), "inputs")
    model.build((None, 4))
    assert model.inputs[0].shape == (None, 4)
    model.pop()
    model.pop()
    with pytest.raises(AttributeError, match="no defined outputs yet"):     # no layers left: Keras' too
        model.outputs


def test_the_input_stays_through_add_and_pop_so_earlier_outputs_still_lead_to_it(rng):
    model = gn.Sequential([gn.Input((4,)), L.Dense(3, name="a")], seed=0)
    first = model.inputs[0]
    model.add(L.Dense(2, name="b"))
    assert model.inputs[0] is first and model.outputs[0].layer.name == "b"
    features = gn.Model(model.inputs, model.get_layer("a").output)       # drawn at the first build
    x = rng.standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(features.predict(x), model.get_layer("a")(x), rtol=1e-6)
    # each layer's output is its one call: a layer with a penalty per call is not drawn twice
    model.add(L.Dense(2, activity_regularizer="l2", name="c"))
    every = gn.Model(model.inputs, [layer.output for layer in model.layers])
    assert len(every._calls) == 3 and model.get_layer("c").input is model.get_layer("b").output
    model.pop()
    model.pop()
    assert model.inputs[0] is first and model.outputs[0] is model.get_layer("a").output


def test_a_sub_model_shares_the_weights_both_ways(rng):
    model = gn.Sequential([gn.Input((4,)), L.Dense(3, activation="tanh", name="a"), L.Dense(1, name="b")], seed=0)
    features = gn.Model(model.inputs, model.get_layer("a").output)
    x, y = rng.standard_normal((16, 4)).astype(np.float32), rng.standard_normal((16, 3)).astype(np.float32)
    before = model.predict(x)
    features.compile(loss="mse", optimizer=gn.optimizers.SGD(0.5))
    features.fit(x, y, epochs=3, verbose=0)
    # the Sequential computes with what the sub-model trained
    np.testing.assert_allclose(model.get_layer("a")(x), features.predict(x), rtol=1e-6)
    assert not np.allclose(model.predict(x), before)
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(0.5))
    trained = features.predict(x)
    model.fit(x, y[:, :1], epochs=3, verbose=0)
    # and the sub-model with what the Sequential trained
    assert not np.allclose(features.predict(x), trained)
    np.testing.assert_allclose(features.predict(x), model.get_layer("a")(x), rtol=1e-6)


def test_a_sequential_nesting_a_functional_model_and_a_copy_draw_theirs(rng):
    inputs = gn.Input((4,))
    base = gn.Model(inputs, L.Add()([inputs, L.Dense(4, name="inner")(inputs)]))
    model = gn.Sequential([base, L.Dense(2, name="top")], seed=0)
    whole = gn.Model(model.inputs, model.outputs)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_allclose(whole.predict(x), model.predict(x), rtol=1e-6)
    copied = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(gn.Model(copied.inputs, copied.outputs).predict(x), model.predict(x), rtol=1e-6)
    loaded = gn.Sequential.from_config(model.get_config())
    assert loaded.outputs[0].shape == (None, 2)


def test_the_readme_feature_extraction_runs_as_written(rng):
    import re
    from pathlib import Path
    readme = Path(__file__).resolve().parents[1] / "docs" / "guide" / "functional.md"
    if not readme.exists():
        pytest.skip("docs/guide/functional.md is not next to the tests")
    text = readme.read_text(encoding="utf-8")
    section = text[text.index("as the Keras guide's feature extraction uses them"):]
    namespace = {"gn": gn}
    exec(compile(re.search(r"```python\n(.*?)```", section, re.S).group(1), str(readme), "exec"), namespace)
    initial, features, every = namespace["initial"], namespace["features"], namespace["every"]
    x = rng.random((1, 250, 250, 3)).astype(np.float32)
    maps = every.predict(x)
    assert [m.shape for m in maps] == [(1, 123, 123, 32), (1, 121, 121, 32), (1, 119, 119, 32)]
    np.testing.assert_allclose(features.predict(x), maps[1], rtol=1e-6)
    np.testing.assert_allclose(initial.predict(x), maps[2], rtol=1e-6)
