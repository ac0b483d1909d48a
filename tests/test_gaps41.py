"""Three Keras 3.15 gaps: BatchNormalization's batch renormalization (``renorm``,
``renorm_clipping``, ``renorm_momentum``), a sum of a masked and an unmasked tensor (Keras drops the
mask), and ``Sequential.build`` reading the batch axis first. Keras 3.15 is the oracle throughout;
gradients are checked against float64 central differences."""
import json
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet._block_masks import carries_mask
from glassnet.gradcheck import check_model
from keras_twins import train_both, twins

L = gn.layers
CLIP = {"rmax": 1.4, "rmin": 0.8, "dmax": 0.3}


# -- batch renormalization ---------------------------------------------------------------------------
def _bn_models(keras, dtype="float32", optimizer="sgd", axis=-1, shape=(4,), **bn):
    """The same Dense -> BatchNormalization(renorm) -> Dense network in Keras and glassnet, glassnet's
    weights given Keras' (the renorm states included: the lists' order is Keras')."""
    keras.utils.set_random_seed(0)      # the same starting weights at every run
    # no bias before the normalisation: its gradient is 0 up to rounding, which Adam would blow up
    theirs = keras.Sequential([keras.Input(shape, dtype=dtype), keras.layers.Dense(3, use_bias=False, dtype=dtype),
                               keras.layers.BatchNormalization(axis=axis, dtype=dtype, **bn),
                               keras.layers.Dense(2, dtype=dtype)])
    ours = gn.Sequential([gn.Input(shape), L.Dense(3, use_bias=False), L.BatchNormalization(axis=axis, **bn), L.Dense(2)],
                         dtype=dtype)
    names = [v.name for v in theirs.layers[1].weights]
    assert [w for w in ours.layers[1].params] + list(ours.layers[1].state) == names
    ours.set_weights([np.asarray(w) for w in theirs.get_weights()])
    if optimizer == "sgd":
        theirs.compile(optimizer=keras.optimizers.SGD(0.03125), loss="mse")
        ours.compile(optimizer=gn.optimizers.SGD(learning_rate=0.03125), loss="mse")
    else:
        theirs.compile(optimizer=keras.optimizers.Adam(0.0078125, epsilon=1e-7), loss="mse")
        ours.compile(optimizer=gn.optimizers.Adam(learning_rate=0.0078125, epsilon=1e-7), loss="mse")
    return ours, theirs


@pytest.mark.parametrize("dtype, optimizer, bn", [
    ("float32", "sgd", dict(renorm=True, renorm_clipping=CLIP, renorm_momentum=0.9, momentum=0.8)),
    ("float32", "adam", dict(renorm=True, renorm_momentum=0.7, momentum=0.9)),
    ("float32", "sgd", dict(renorm=True, renorm_clipping={"rmax": 1.2}, center=False)),
    ("float32", "adam", dict(renorm=True, renorm_clipping={"dmax": 0.1, "rmin": 0.9}, scale=False, epsilon=0.1)),
    ("float64", "sgd", dict(renorm=True, renorm_clipping=CLIP, renorm_momentum=0.9, momentum=0.8)),
    ("float64", "adam", dict(renorm=True, renorm_clipping={"rmin": 0.95, "dmax": 0.05})),
])
def test_renorm_forward_and_training_match_keras(keras, rng, dtype, optimizer, bn):
    # float64: forward and the first training call's statistics 1e-9; after fit 1e-5: Keras 3.15's
    # float64 fit drifts from glassnet's by ~1e-8 (SGD) to ~4e-6 (Adam) with renorm=False as with
    # renorm=True (measured on this network), a drift of its fit loop, not of the renormalization
    tol = 1e-5 if dtype == "float32" else 1e-9
    fit_tol = 1e-5
    x = rng.normal(2, 3, (32, 4)).astype(dtype)
    y = rng.normal(size=(32, 2)).astype(dtype)
    ours, theirs = _bn_models(keras, dtype, optimizer, **bn)
    np.testing.assert_allclose(ours(x, training=True), np.asarray(theirs(x, training=True)), rtol=tol, atol=tol)
    # that call updated both layers' statistics: the weights (renorm states too) agree still
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=tol, atol=tol)
    theirs.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    ours.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=fit_tol, atol=fit_tol)
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x, verbose=0), rtol=fit_tol, atol=fit_tol)
    np.testing.assert_allclose(ours(x, training=True), np.asarray(theirs(x, training=True)), rtol=fit_tol,
                               atol=fit_tol)


def test_renorm_corrections_are_clipped_and_change_the_training_output(keras, rng):
    # the clipping bites: r and d away from 1 and 0, so renorm's training output differs from plain BN's
    x = rng.normal(5, 4, (16, 4)).astype(np.float32)
    plain = L.BatchNormalization()
    renormed = L.BatchNormalization(renorm=True, renorm_clipping=CLIP)
    out_plain, out_renorm = plain(x, training=True), renormed(x, training=True)
    r, d = renormed._correction
    assert np.allclose(r, 1.4) and np.allclose(np.abs(d), 0.3)
    assert not np.allclose(out_plain, out_renorm)
    theirs = keras.layers.BatchNormalization(renorm=True, renorm_clipping=CLIP)
    np.testing.assert_allclose(out_renorm, np.asarray(theirs(x, training=True)), rtol=1e-5, atol=1e-5)
    # inference: the moving statistics only (moving_variance from moving_stddev), as Keras'
    np.testing.assert_allclose(renormed(x), np.asarray(theirs(x, training=False)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layer_kwargs, shape", [
    (dict(axis=1), (3, 4, 4)),            # channels first
    (dict(axis=-1), (3, 5)),              # sequences
    (dict(axis=[1, 2]), (3, 4, 2)),       # a list of axes (tf.keras 2's): per-position statistics
])
def test_renorm_with_other_axes_matches_keras_and_plain_axis(keras, rng, layer_kwargs, shape):
    x = rng.normal(1, 2, (6, *shape)).astype(np.float32)
    ours = L.BatchNormalization(renorm=True, renorm_clipping=CLIP, momentum=0.5, renorm_momentum=0.6, **layer_kwargs)
    axis = layer_kwargs["axis"]
    if isinstance(axis, list):
        # Keras 3.15 takes one int: a list of axes is compared with a flattened channels-last layer
        flat = x.reshape(6, -1, shape[-1]).transpose(0, 2, 1).reshape(6 * shape[-1], -1)
        theirs = keras.layers.BatchNormalization(renorm=True, renorm_clipping=CLIP, momentum=0.5, renorm_momentum=0.6)
    else:
        theirs = keras.layers.BatchNormalization(renorm=True, renorm_clipping=CLIP, momentum=0.5, renorm_momentum=0.6,
                                                 **layer_kwargs)
    for _ in range(2):          # the second pass reads the renorm statistics the first updated
        out = ours(x, training=True)
        expected = np.asarray(theirs(flat if isinstance(axis, list) else x, training=True))
        if isinstance(axis, list):
            expected = expected.reshape(6, shape[-1], -1).transpose(0, 2, 1).reshape(x.shape)
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a.reshape(-1), np.asarray(b), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bn", [dict(renorm_clipping=CLIP), dict(renorm_clipping=CLIP, center=False),
                                dict(renorm_clipping=CLIP, scale=False), dict(renorm_clipping=CLIP, axis=1)])
def test_renorm_gradients_against_float64_finite_differences(rng, bn):
    # r and d are constants of the backward pass (Keras' stop_gradient), not of the function: the
    # finite differences agree where the clipping holds them (r at rmax, d at +-dmax, set up below);
    # unclipped, test_renorm_gradient_holds_r_and_d_constant checks the stop-gradient form
    shape = (3, 4) if bn.get("axis") == 1 else (4,)
    model = gn.Sequential([gn.Input(shape), L.Dense(3), L.BatchNormalization(renorm=True, **bn), L.Flatten(),
                           L.Dense(2)], seed=0, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    x, y = rng.normal(1, 2, (8, *shape)), rng.normal(size=(8, 2))
    bn_layer = model.layers[1]
    # renorm statistics away from the batch's: r and d not 1 and 0 (and clipped where asked)
    bn_layer.state["renorm_mean"][...] = 0.7
    bn_layer.state["renorm_stddev"][...] = 0.4
    assert check_model(model, x, y)["max_error"] < 1e-6


def test_renorm_gradient_holds_r_and_d_constant(rng):
    # against the gradient through the formula with r and d differentiated: they differ, ours is the
    # one with r, d constant (Keras' stop_gradient), equal to a plain BN's times r
    x = rng.normal(1, 2, (8, 3))
    layer = L.BatchNormalization(renorm=True, dtype="float64")
    layer.build((3,))
    layer.state["renorm_stddev"][...] = 2.0
    g = rng.normal(size=(8, 3))
    layer.forward(x, training=True)
    r, _ = layer._correction
    dx = layer.backward(g)
    plain = L.BatchNormalization(dtype="float64")
    plain.build((3,))
    plain.forward(x, training=True)
    np.testing.assert_allclose(dx, plain.backward(g) * r, rtol=1e-12)


def test_renorm_frozen_layer_runs_inference_as_keras(keras, rng):
    x = rng.normal(2, 3, (16, 4)).astype(np.float32)
    y = rng.normal(size=(16, 2)).astype(np.float32)
    ours, theirs = _bn_models(keras, renorm=True, renorm_clipping=CLIP)
    ours.layers[1].trainable = False
    theirs.layers[1].trainable = False
    ours.compile(optimizer=gn.optimizers.SGD(learning_rate=0.1), loss="mse")
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = [w.copy() for w in ours.layers[1].get_weights()]
    theirs.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    ours.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(before, ours.layers[1].get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-5)


def test_renorm_second_order_gradient_is_refused_by_name():
    model = gn.Sequential([L.Input((4,)), L.Dense(3), L.BatchNormalization(renorm=True), L.Dense(1)], seed=0)
    x = np.ones((2, 4), np.float32)
    with gn.GradientTape():
        with gn.GradientTape() as tape:
            tape.watch(x)
            pred = model(x, training=True)
        with pytest.raises(NotImplementedError, match="BatchNormalization.*second-order gradient is not built"):
            tape.gradient(pred, x)


def test_renorm_config_files_and_keras_config(keras, rng, tmp_path):
    layer = L.BatchNormalization(renorm=True, renorm_clipping={"rmax": 2.0, "dmax": 1}, renorm_momentum=0.9)
    config = layer.get_config()
    assert config["renorm"] is True and config["renorm_clipping"] == {"rmax": 2.0, "dmax": 1.0}
    assert config["renorm_momentum"] == 0.9
    assert "renorm" not in L.BatchNormalization().get_config()      # a default layer's config as before
    assert L.BatchNormalization.from_config(json.loads(json.dumps(config))).get_config() == config
    # Keras' dict read by glassnet's reader, and its weights taken: the same outputs
    theirs = keras.layers.BatchNormalization(renorm=True, renorm_clipping={"rmin": 0.5, "dmax": 0.2},
                                             renorm_momentum=0.8, momentum=0.7)
    x = rng.normal(1, 2, (8, 3)).astype(np.float32)
    theirs(x, training=True)
    ours = L.deserialize(json.loads(json.dumps(keras.layers.serialize(theirs))))
    assert ours.renorm and ours.renorm_clipping == {"rmin": 0.5, "dmax": 0.2} and ours.renorm_momentum == 0.8
    ours.build((3,))
    ours.set_weights([np.asarray(w) for w in theirs.get_weights()])
    np.testing.assert_allclose(ours(x, training=True), np.asarray(theirs(x, training=True)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), rtol=1e-5, atol=1e-5)
    # a model file keeps the three renorm states and the settings
    model = gn.Sequential([gn.Input((3,)), ours, L.Dense(1)], seed=0)
    path = tmp_path / "renorm.npz"
    model.save(path)
    back = gn.load_model(path)
    assert back.layers[0].get_config() == model.layers[0].get_config()
    for a, b in zip(back.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(back(x, training=True), model(x, training=True))


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(renorm=True, renorm_clipping={"rmax": 1, "r": 2}), ValueError, r"renorm_clipping: expected the keys.*'r'"),
    (dict(renorm=True, renorm_clipping={"rmax": 0.5, "rmin": 0.9}), ValueError, r"rmax >= rmin, got rmax=0.5"),
    (dict(renorm=True, renorm_clipping={"dmax": -1}), ValueError, r"dmax >= 0, got dmax=-1"),
    (dict(renorm=True, renorm_clipping=[1, 2]), TypeError, r"renorm_clipping: expected a dict.*got list"),
    (dict(renorm=True, renorm_clipping={"rmax": "2"}), TypeError, r"renorm_clipping\['rmax'\]: expected a number"),
    (dict(renorm="yes"), TypeError, r"renorm"),
    (dict(renorm=True, renorm_momentum=1.5), ValueError, r"renorm_momentum"),
])
def test_renorm_bad_settings_are_refused_by_name(keras, kwargs, error, words):
    with pytest.raises(error, match=words):
        L.BatchNormalization(**kwargs)
    if error is ValueError and "renorm_momentum" not in kwargs:     # Keras refuses them too
        with pytest.raises(ValueError):
            keras.layers.BatchNormalization(**kwargs)


# -- a sum of a masked and an unmasked tensor ----------------------------------------------------------
STEPS, VOCAB = 6, 9


def _ids(rng, n=10):
    ids = rng.integers(1, VOCAB, (n, STEPS))
    ids[np.arange(STEPS) >= rng.integers(1, STEPS + 1, n)[:, None]] = 0
    return ids


def _sum_model(lib, how):
    """Token embeddings (mask_zero) and position embeddings (no mask) summed, keras.io's
    TokenAndPositionEmbedding drawn in a functional model; an LSTM tags each step."""
    ids = lib.Input((STEPS,), dtype="int32", name="ids") if lib is not gn else gn.Input((STEPS,), name="ids")
    tokens = lib.layers.Embedding(VOCAB, 4, mask_zero=True, name="tok")(ids)
    positions = lib.layers.Embedding(STEPS, 4, name="pos")(ids * 0 + lib.ops.arange(0, STEPS, 1))
    merged = {"operator": lambda: tokens + positions,
              "operator_reversed": lambda: positions + tokens,
              "ops_add": lambda: lib.ops.add(tokens, positions),
              "subtract": lambda: tokens - positions,
              "add_layer": lambda: lib.layers.Add(name="m")([tokens, positions]),
              "concatenate": lambda: lib.layers.Concatenate(name="m")([positions, tokens]),
              "average": lambda: lib.layers.Average(name="m")([tokens, positions])}[how]()
    seq = lib.layers.LSTM(3, return_sequences=True, name="lstm")(merged)
    return ids, lib.layers.Dense(3, activation="softmax", name="tag")(seq)


SUMS = ["operator", "operator_reversed", "ops_add", "subtract", "add_layer", "concatenate", "average"]


@pytest.mark.parametrize("how", SUMS)
def test_a_masked_plus_an_unmasked_tensor_masks_predicts_and_trains_as_keras(how, keras, rng):
    theirs_in, theirs_out = _sum_model(keras, how)
    # Keras 3.15: the operations and the merges of one unmasked input give no mask; Concatenate an all-real one
    keras_mask = getattr(theirs_out, "_keras_mask", None)
    assert (keras_mask is not None) == (how == "concatenate")
    ours, theirs = twins(lambda lib: _sum_model(lib, how), keras)
    # Concatenate's is all-real (an unmasked input: Keras' any over the features), glassnet's None
    assert ours._output_mask is None
    x, y = _ids(rng), rng.integers(0, 3, (10, STEPS))
    x[0, 3:] = 0                    # padding somewhere for certain
    np.testing.assert_allclose(ours.predict(x), np.asarray(theirs.predict(x, verbose=0)), rtol=1e-5, atol=1e-6)
    theirs.compile(loss="sparse_categorical_crossentropy")
    ours.compile(loss="sparse_categorical_crossentropy")
    np.testing.assert_allclose(ours.evaluate(x, y), theirs.evaluate(x, y, verbose=0), rtol=1e-5)
    mine, their = train_both(ours, theirs, x, y, "sparse_categorical_crossentropy", 0.3, 4)
    np.testing.assert_allclose(mine, their, rtol=1e-5)
    np.testing.assert_allclose(ours.predict(x), np.asarray(theirs.predict(x, verbose=0)), rtol=1e-4, atol=1e-5)


def test_the_layers_after_the_sum_read_the_padding(rng):
    model = gn.Model(*_sum_model(gn, "operator"), seed=0)
    assert not carries_mask(model.get_layer("lstm").input) if hasattr(model.get_layer("lstm"), "input") else True
    ids = np.array([[1, 2, 0, 0, 0, 0]])
    out = model.predict(ids)[0]
    # the padded steps move the LSTM's state: their outputs differ from step to step
    assert not np.allclose(out[2], out[3])


def test_gradients_through_a_masked_plus_unmasked_sum(rng):
    model = gn.Model(*_sum_model(gn, "operator"), seed=0, dtype="float64")
    model.compile(loss="sparse_categorical_crossentropy")
    assert check_model(model, _ids(rng, 5), rng.integers(0, 3, (5, STEPS)))["max_error"] < 1e-6


def test_two_tensors_of_one_mask_still_pass_it_and_of_two_masks_are_refused():
    ids = gn.Input((STEPS,))
    a = L.Embedding(VOCAB, 4, mask_zero=True)(ids)
    b = L.Embedding(VOCAB, 4, mask_zero=True)(ids)
    assert carries_mask(a + L.Dense(4)(a))
    with pytest.raises(ValueError, match="masks are not combined by arithmetic"):
        gn.Model(ids, L.LSTM(2)(a + b))


# -- Sequential.build reads Keras' batch axis ----------------------------------------------------------
def _shape_forms():
    import tensorflow as tf
    return [(16, 5), (None, 5), [16, 5], [None, 5], tf.TensorShape([16, 5]), tf.TensorShape([None, 5]), (8, 4, 5)]


def test_sequential_build_reads_the_batch_axis_first_as_keras(keras):
    for shape in _shape_forms():
        theirs = keras.Sequential([keras.layers.Dense(3)])
        theirs.build(shape)
        ours = gn.Sequential([L.Dense(3)], seed=0)
        ours.build(shape)
        assert ours.input_shape == theirs.input_shape, shape
        assert ours.output_shape == theirs.output_shape, shape
        assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
        # any batch size still runs, as in Keras
        x = np.ones((3, *theirs.input_shape[1:]), np.float32)
        assert ours.predict(x).shape == theirs.predict(x, verbose=0).shape
    ours = gn.Sequential([L.Dense(3)])
    ours.build(input_shape=(None, 5))
    assert ours.input_shape == (None, 5)


def test_model_build_takes_a_batch_size_as_keras(keras):
    theirs_in = keras.Input((5,))
    theirs = keras.Model(theirs_in, keras.layers.Dense(3)(theirs_in))
    theirs.build((16, 5))
    inputs = gn.Input((5,))
    ours = gn.Model(inputs, L.Dense(3)(inputs))
    ours.build((16, 5))
    ours.build((None, 5))
    assert ours.input_shape == theirs.input_shape == (None, 5)
    with pytest.raises(ValueError, match="build: this Model was built for its Inputs"):
        ours.build((16, 6))


def test_the_older_sample_reading_is_refused_naming_the_fix():
    # glassnet read build((16, 5)) as samples of (16, 5): such data now fail by name, not silently
    model = gn.Sequential([L.Dense(3)])
    model.build((16, 5))
    with pytest.raises(ValueError, match=r"build\(\(16, 5\)\) read 16 as the batch axis.*build\(\(None, 16, 5\)\)"):
        model.predict(np.ones((2, 16, 5)))
    with pytest.raises(ValueError, match=r"reads 28 as the batch axis.*build\(\(None, 28, 28, 1\)\)"):
        gn.Sequential([L.Conv2D(2, 3)]).build((28, 28, 1))
    # one entry alone stays one sample's shape (Keras' reading, a batch of scalars, fails for Dense)
    model = gn.Sequential([L.Dense(3)])
    model.build((5,))
    assert model.input_shape == (None, 5)
    with pytest.raises(ValueError, match="first entry is the batch axis.*got -2"):
        gn.Sequential([L.Dense(3)]).build((-2, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gn.Sequential([L.Dense(3)]).build((None, 5))
