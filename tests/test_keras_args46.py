"""Keras 3.15 constructor arguments glassnet refused before session 46, taken now, each against
Keras 3.15 as the oracle: LayerNormalization's and GroupNormalization's ``beta_initializer``,
``gamma_initializer``, ``beta_regularizer``, ``gamma_regularizer``, ``beta_constraint`` and
``gamma_constraint`` (the initial weights, the forward values and two SGD steps with the
penalties and projections against Keras; the penalty's gradient by hand in float64; float64
finite differences with non-default weights; configs; ``.keras`` files written by glassnet and
read by Keras, and the other way). The table of what glassnet still refuses is in
docs/keras_parity.md; the refusals kept have their messages checked at the end."""
import functools

import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_layer

# (glassnet's class, Keras' of the same name, with these extra arguments, on samples of this shape)
NORMS = {
    "LayerNormalization": (gn.layers.LayerNormalization, {}, (6,)),
    "LayerNormalization_axes": (gn.layers.LayerNormalization, {"axis": [1, 2]}, (3, 4)),
    "GroupNormalization": (gn.layers.GroupNormalization, {"groups": 2}, (3, 4)),
}


def _keras_layer(keras, case, **options):
    cls, extra, _ = NORMS[case]
    return getattr(keras.layers, cls.__name__)(**extra, **options)


def _ours(case, **options):
    cls, extra, _ = NORMS[case]
    return cls(**extra, **options)


def _max_norm_axes(case):
    # MaxNorm over the whole of beta: axis 0 of a 1-D beta, axes [0, 1] of LayerNormalization([1, 2])'s (3, 4)
    return [0, 1] if case == "LayerNormalization_axes" else 0


def _six(module, case):
    return dict(gamma_initializer=module.initializers.Constant(0.5), beta_initializer="ones",
                gamma_regularizer=module.regularizers.L2(0.1), beta_regularizer=module.regularizers.L1(0.05),
                gamma_constraint=module.constraints.NonNeg(),
                beta_constraint=module.constraints.MaxNorm(max_value=1.0, axis=_max_norm_axes(case)))


# -- the initial weights and the forward values ---------------------------------------------------
@pytest.mark.parametrize("case", sorted(NORMS))
def test_initial_weights_and_outputs_match_keras(case, keras, rng):
    sample = NORMS[case][2]
    options = dict(gamma_initializer="zeros", beta_initializer="ones")
    theirs = _keras_layer(keras, case, **options)
    ours = _ours(case, **options)
    x = rng.normal(size=(5, *sample)).astype(np.float32)
    expected = np.asarray(theirs(x))
    got = ours(x)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, b)
    # gamma 0, beta 1: every output is 1, whatever the input
    np.testing.assert_array_equal(got, np.ones_like(x))
    np.testing.assert_array_equal(got, expected)
    # a constant and Keras' class names (what its configs hold)
    for initializer in ("Ones", {"class_name": "Constant", "config": {"value": 0.5}}):
        layer = _ours(case, gamma_initializer=initializer)
        layer.build(sample)
        assert np.unique(layer.params["gamma"]).tolist() == [1.0 if initializer == "Ones" else 0.5]


@pytest.mark.parametrize("case", sorted(NORMS))
def test_regularizers_and_constraints_train_as_keras(case, keras, rng):
    sample = NORMS[case][2]
    x = rng.normal(size=(8, *sample)).astype(np.float32)
    y = rng.normal(size=(8, 2)).astype(np.float32)
    ours = gn.Sequential([gn.Input(sample), gn.layers.Dense(4), _ours(case, **_six(gn, case)), gn.layers.Flatten(),
                          gn.layers.Dense(2)], seed=0, dtype="float32")
    ours.compile("mse", gn.optimizers.SGD(0.5))
    theirs = keras.Sequential([keras.Input(sample), keras.layers.Dense(4), _keras_layer(keras, case, **_six(keras, case)),
                               keras.layers.Flatten(), keras.layers.Dense(2)])
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.5))
    start = ours.get_weights()
    # gamma partly negative and beta of norm > 1: both constraints act after the step
    start[2] = rng.normal(size=start[2].shape).astype(np.float32)
    start[3] = rng.normal(size=start[3].shape).astype(np.float32) + 1
    ours.set_weights(start)
    theirs.set_weights(start)
    gamma, beta = start[2].astype(np.float64), start[3].astype(np.float64)
    penalty = 0.1 * (gamma ** 2).sum() + 0.05 * np.abs(beta).sum()
    assert sum(float(np.asarray(t)) for t in theirs.losses) == pytest.approx(penalty, rel=1e-6)
    assert ours.evaluate(x, y, verbose=0) == pytest.approx(float(theirs.evaluate(x, y, verbose=0)), rel=1e-6)
    norm = ours.layers[1]
    assert set(norm.regularizers) == set(norm.constraints) == {"gamma", "beta"}
    for _ in range(2):          # the penalties' gradients, then the projections, as Keras'
        ours.train_on_batch(x, y)
        theirs.train_on_batch(x, y)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    gamma, beta = ours.get_weights()[2:4]
    assert (gamma >= 0).all() and (gamma == 0).any() and np.linalg.norm(beta) == pytest.approx(1.0, rel=1e-6)


# the three layers taking the six arguments (layers/_affine_arguments.py): (factory, a sample's shape)
PENALISED = {**{case: (functools.partial(_ours, case), NORMS[case][2]) for case in NORMS},
             "BatchNormalization_axis1": (functools.partial(gn.layers.BatchNormalization, axis=1), (3, 4))}


@pytest.mark.parametrize("case", sorted(PENALISED))
def test_the_penalty_is_in_the_loss_and_its_gradient(case, rng):
    # float64, by hand: the loss with the penalty minus the loss without it is the penalty; one SGD
    # step of learning rate 1 moves gamma by 2 * 0.1 * gamma more, beta by 0.05 * sign(beta) more
    make, sample = PENALISED[case]
    x = rng.normal(size=(6, *sample))
    y = rng.normal(size=(6, 2))

    def model(**options):
        made = gn.Sequential([gn.Input(sample), make(**options), gn.layers.Flatten(), gn.layers.Dense(2)],
                             seed=0, dtype="float64")
        made.compile("mse", gn.optimizers.SGD(1.0))
        return made
    with_penalty = model(gamma_regularizer=gn.regularizers.L2(0.1), beta_regularizer=gn.regularizers.L1(0.05))
    without = model()
    start = [rng.normal(size=w.shape) if k < 2 else w for k, w in enumerate(without.get_weights())]
    with_penalty.set_weights(start)
    without.set_weights(start)
    gamma, beta = start[0], start[1]
    penalty = 0.1 * (gamma ** 2).sum() + 0.05 * np.abs(beta).sum()
    assert with_penalty.evaluate(x, y, verbose=0) == pytest.approx(without.evaluate(x, y, verbose=0) + penalty,
                                                                    rel=1e-12)
    with_penalty.train_on_batch(x, y)
    without.train_on_batch(x, y)
    np.testing.assert_allclose(without.get_weights()[0] - with_penalty.get_weights()[0], 0.2 * gamma, atol=1e-12)
    np.testing.assert_allclose(without.get_weights()[1] - with_penalty.get_weights()[1], 0.05 * np.sign(beta),
                               atol=1e-12)


@pytest.mark.parametrize("case", sorted(NORMS))
def test_gradcheck_with_initial_weights_off_the_defaults(case, rng):
    sample = NORMS[case][2]
    layer = _ours(case, dtype="float64", gamma_initializer=gn.initializers.RandomNormal(seed=3),
                  beta_initializer=gn.initializers.RandomUniform(-1, 1, seed=4))
    x = rng.normal(size=(4, *sample))
    layer.build(sample)
    assert not np.allclose(layer.params["gamma"], 1) and not np.allclose(layer.params["beta"], 0)
    report = check_layer(layer, x)
    assert report["max_error"] < 1e-6 and "input" in report["errors"]


# -- configs and files ------------------------------------------------------------------------------
@pytest.mark.parametrize("case", sorted(NORMS))
def test_config_round_trip(case):
    cls = NORMS[case][0]
    plain = _ours(case).get_config()
    # a default layer's config is the one of before these arguments: files load in an older glassnet
    assert not {"beta_initializer", "gamma_initializer", "gamma_regularizer", "beta_constraint"} & set(plain)
    assert _ours(case, gamma_initializer="Ones", beta_initializer="zeros").get_config() == plain
    layer = _ours(case, **_six(gn, case))
    config = layer.get_config()
    assert config["gamma_initializer"] == {"class_name": "Constant", "config": {"value": 0.5}}
    assert config["beta_initializer"] == "ones"
    assert config["gamma_regularizer"] == {"class_name": "L2", "config": {"l2": 0.1}}
    assert config["gamma_constraint"] == {"class_name": "NonNeg", "config": {}}
    assert cls.from_config(config).get_config() == config
    assert gn.layers.deserialize(gn.layers.serialize(layer)).get_config() == config


@pytest.mark.parametrize("case", sorted(NORMS))
def test_keras_config_is_read(case, keras, rng):
    sample = NORMS[case][2]
    theirs = _keras_layer(keras, case, **_six(keras, case))
    theirs.build((None, *sample))
    ours = gn.layers.deserialize(keras.layers.serialize(theirs))
    config = ours.get_config()
    assert config["gamma_initializer"] == {"class_name": "Constant", "config": {"value": 0.5}}
    assert config["beta_initializer"] == {"class_name": "Ones", "config": {}}
    # (Keras' GroupNormalization writes the factor as float32 read back: 0.05000000074505806)
    assert config["beta_regularizer"]["class_name"] == "L1"
    assert config["beta_regularizer"]["config"]["l1"] == pytest.approx(0.05, rel=1e-7)
    assert config["gamma_constraint"] == {"class_name": "NonNeg", "config": {}}
    ours.build(sample)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("case", sorted(NORMS))
def test_keras_files_both_ways(case, keras, rng, tmp_path):
    sample = NORMS[case][2]
    x = rng.normal(size=(8, *sample)).astype(np.float32)
    y = rng.normal(size=(8, 2)).astype(np.float32)
    ours = gn.Sequential([gn.Input(sample), _ours(case, **_six(gn, case)), gn.layers.Flatten(), gn.layers.Dense(2)],
                         seed=0, dtype="float32")
    ours.compile("mse", gn.optimizers.SGD(0.1))
    ours.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in ours.get_weights()])
    path = str(tmp_path / "ours.keras")
    ours.save(path, save_format="keras")
    theirs = keras.models.load_model(path)
    norm = theirs.layers[0]
    assert type(norm).__name__ == NORMS[case][0].__name__
    assert type(norm.gamma_initializer).__name__ == "Constant" and type(norm.beta_regularizer).__name__ == "L1"
    assert type(norm.beta_constraint).__name__ == "MaxNorm"
    # (float32 outputs of size ~6 from sums of 12 terms: a few ulps apart)
    np.testing.assert_allclose(np.asarray(theirs.predict(x, verbose=0)), ours.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)
    # Keras' penalties and projections came with the file: a step there is a step here
    ours.train_on_batch(x, y)
    theirs.train_on_batch(x, y)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # and back: Keras' file read by glassnet
    back_path = str(tmp_path / "theirs.keras")
    theirs.save(back_path)
    back = gn.load_model(back_path)
    read, wrote = back.layers[0].get_config(), ours.layers[0].get_config()
    # (Keras' GroupNormalization writes the L1 factor as float32: 0.05000000074505806)
    assert read.pop("beta_regularizer")["config"]["l1"] == pytest.approx(wrote.pop("beta_regularizer")["config"]["l1"])
    # (Keras' LayerNormalization writes axis=-1 as [-1], the same axes)
    assert np.atleast_1d(read.pop("axis")).tolist() == np.atleast_1d(wrote.pop("axis")).tolist()
    assert read == {**wrote, "beta_initializer": {"class_name": "Ones", "config": {}}}
    np.testing.assert_allclose(back.predict(x, verbose=0), np.asarray(theirs.predict(x, verbose=0)),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("key,value,words", [
    ("gamma_initializer", "onez", "gamma_initializer"),
    ("beta_regularizer", "l3", "beta_regularizer"),
    ("gamma_constraint", 3, "gamma_constraint"),
])
@pytest.mark.parametrize("cls", [gn.layers.LayerNormalization, gn.layers.GroupNormalization])
def test_bad_values_name_the_layer_and_the_argument(cls, key, value, words):
    with pytest.raises((ValueError, TypeError), match=rf"^{cls.__name__}: {words}"):
        cls(**{key: value})


# -- Bidirectional(layer, backward_layer=...) ------------------------------------------------------
# Keras 3.15 takes a backward_layer reading the other way from layer (go_backwards differs): the
# common form reads forwards in layer and backwards in backward_layer, with settings of its own
# (keras.io's example: activation="relu"); a layer with go_backwards=True is taken only so, the
# backward_layer then reading forwards. Either way Keras flips backward_layer's sequence, and so
# does glassnet's.
def _pair(module, forwards_first, return_sequences, **options):
    return dict(layer=module.layers.LSTM(3, return_sequences=return_sequences, go_backwards=not forwards_first),
                backward_layer=module.layers.LSTM(3, activation="relu", return_sequences=return_sequences,
                                                  go_backwards=forwards_first, **options))


BIDIRECTIONAL = [(True, True), (True, False), (False, True), (False, False)]


@pytest.mark.parametrize("forwards_first,return_sequences", BIDIRECTIONAL)
def test_backward_layer_computes_and_trains_as_keras(forwards_first, return_sequences, keras, rng):
    x = rng.normal(size=(6, 5, 4)).astype(np.float32)
    y = rng.normal(size=(6, 5 if return_sequences else 1, 2)).astype(np.float32).reshape(6, -1)
    tail_ours = [gn.layers.Flatten()] if return_sequences else []
    ours = gn.Sequential([gn.Input((5, 4)), gn.layers.Bidirectional(**_pair(gn, forwards_first, return_sequences)),
                          *tail_ours, gn.layers.Dense(y.shape[1])], seed=0, dtype="float32")
    tail = [keras.layers.Flatten()] if return_sequences else []
    theirs = keras.Sequential([keras.Input((5, 4)),
                               keras.layers.Bidirectional(**_pair(keras, forwards_first, return_sequences)),
                               *tail, keras.layers.Dense(y.shape[1])])
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(ours.predict(x, verbose=0), np.asarray(theirs.predict(x, verbose=0)),
                               rtol=1e-5, atol=1e-6)
    ours.compile("mse", gn.optimizers.SGD(0.1))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.1))
    ours.train_on_batch(x, y)
    theirs.train_on_batch(x, y)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # the relu reader is the backward_layer: its weights come second, as Keras'
    assert ours.layers[0].get_config()["backward_layer"]["config"]["activation"] == "relu"


@pytest.mark.parametrize("forwards_first,return_sequences", BIDIRECTIONAL)
def test_backward_layer_gradcheck(forwards_first, return_sequences, rng):
    layer = gn.layers.Bidirectional(**_pair(gn, forwards_first, return_sequences, recurrent_activation="tanh"),
                                    merge_mode="mul", dtype="float64", seed=0)
    x = rng.normal(size=(3, 4, 2))
    layer.build(x.shape[1:])
    # weights of size 1: the relu reader's pre-activations off its kink
    layer.set_weights([rng.normal(size=w.shape) for w in layer.get_weights()])
    report = check_layer(layer, x)
    assert report["max_error"] < 1e-6 and "input" in report["errors"]


def test_backward_layer_config_and_files_both_ways(keras, rng, tmp_path):
    x = rng.normal(size=(4, 5, 4)).astype(np.float32)
    wrapper = gn.layers.Bidirectional(**_pair(gn, False, True), merge_mode="sum")
    config = wrapper.get_config()
    assert config["backward_layer"]["config"]["go_backwards"] is False
    assert config["layer"]["config"]["go_backwards"] is True
    again = gn.layers.Bidirectional.from_config(config)
    assert again.get_config() == config and again.own_backward_layer
    assert gn.layers.deserialize(gn.layers.serialize(wrapper)).get_config() == config
    # a default wrapper's config has no backward_layer, as before
    assert "backward_layer" not in gn.layers.Bidirectional(gn.layers.LSTM(3)).get_config()
    ours = gn.Sequential([gn.Input((5, 4)), wrapper], seed=0, dtype="float32")
    path = str(tmp_path / "ours.keras")
    ours.save(path, save_format="keras")
    theirs = keras.models.load_model(path)
    keras_wrapper = theirs.layers[0]
    assert keras_wrapper.forward_layer.go_backwards and not keras_wrapper.backward_layer.go_backwards
    assert keras_wrapper.backward_layer.activation.__name__ == "relu"
    np.testing.assert_allclose(np.asarray(theirs.predict(x, verbose=0)), ours.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    back_path = str(tmp_path / "theirs.keras")
    theirs.save(back_path)
    back = gn.load_model(back_path)
    assert back.layers[0].own_backward_layer
    assert back.layers[0].get_config()["backward_layer"]["config"]["activation"] == "relu"
    np.testing.assert_allclose(back.predict(x, verbose=0), ours.predict(x, verbose=0), rtol=1e-6, atol=1e-6)
    # Keras' file of a default wrapper (its backward_layer the mirrored copy) reads as glassnet's default
    plain = keras.Sequential([keras.Input((5, 4)), keras.layers.Bidirectional(keras.layers.GRU(2))])
    plain.save(str(tmp_path / "plain.keras"))
    assert not gn.load_model(str(tmp_path / "plain.keras")).layers[0].own_backward_layer


# (a backward_layer of its own is exported since session 47: tests/test_onnx_four.py)


@pytest.mark.parametrize("make,words", [
    (lambda: gn.layers.Bidirectional(gn.layers.LSTM(3), backward_layer=gn.layers.LSTM(3)),
     r"opposite directions .* both have go_backwards=False"),
    (lambda: gn.layers.Bidirectional(gn.layers.LSTM(3, go_backwards=True)), r"or give the other reader as "
                                                                              r"backward_layer"),
    (lambda: gn.layers.Bidirectional(gn.layers.LSTM(3), backward_layer=gn.layers.LSTM(3, go_backwards=True,
                                                                                      return_sequences=True)),
     r"agree on return_sequences"),
    # (another class or number of units is taken since session 48: tests/test_keras_args48.py)
    (lambda: gn.layers.Bidirectional(gn.layers.LSTM(3), backward_layer=gn.layers.ConvLSTM1D(3, 2, go_backwards=True)),
     r"both read sequences of vectors"),
    (lambda: gn.layers.Bidirectional(gn.layers.LSTM(3), backward_layer=gn.layers.Dense(3)),
     r"backward_layer must be a SimpleRNN, LSTM"),
])
def test_bad_backward_layers_are_named(make, words):
    with pytest.raises((ValueError, TypeError), match=rf"^Bidirectional: .*{words}"):
        make()


# -- losses.CosineSimilarity(axis=...) --------------------------------------------------------------
@pytest.mark.parametrize("shape,axis", [((5, 4), 1), ((5, 4), -1), ((5, 3, 4), 1), ((5, 3, 4), -2),
                                        ((5, 2, 3, 4), 2), ((5, 2, 3, 4), -1)])
def test_cosine_similarity_axis_value_and_gradient_match_keras(shape, axis, keras, rng):
    import tensorflow as tf
    y_true = rng.normal(size=shape).astype(np.float32)
    y_pred = rng.normal(size=shape).astype(np.float32)
    weights = rng.uniform(0.5, 2, size=shape[0]).astype(np.float32)
    ours = gn.losses.CosineSimilarity(axis=axis)
    theirs = keras.losses.CosineSimilarity(axis=axis)
    assert ours(y_pred, y_true) == pytest.approx(float(theirs(y_true, y_pred)), abs=1e-6)
    if len(shape) == 2:         # (Keras 3.15 fails to broadcast (n,) weights over values (n, ...))
        assert ours(y_pred, y_true, sample_weight=weights) == pytest.approx(
            float(theirs(y_true, y_pred, sample_weight=weights)), abs=1e-6)
    prediction = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        value = theirs(y_true, prediction)
    np.testing.assert_allclose(ours.gradient(y_pred, y_true), tape.gradient(value, prediction).numpy(),
                               rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("shape,axis", [((5, 3, 4), 1), ((5, 2, 3, 4), -2)])
def test_cosine_similarity_axis_matches_torch(shape, axis, rng, torch):
    # torch's cosine_similarity divides by max(|t| |p|, eps): Keras' guard differs only for vectors
    # shorter than 1e-7, which these are not
    y_true, y_pred = rng.normal(size=shape), rng.normal(size=shape)
    prediction = torch.tensor(y_pred, requires_grad=True)
    value = -torch.nn.functional.cosine_similarity(prediction, torch.tensor(y_true), dim=axis).mean()
    value.backward()
    loss = gn.losses.CosineSimilarity(axis=axis)
    assert loss(y_pred, y_true) == pytest.approx(value.item(), abs=1e-12)
    np.testing.assert_allclose(loss.gradient(y_pred, y_true), prediction.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_cosine_similarity_axis_gradient_by_finite_differences(rng):
    y_true = rng.normal(size=(4, 3, 5))
    y_pred = rng.normal(size=(4, 3, 5))
    loss = gn.losses.CosineSimilarity(axis=1)
    grad = loss.gradient(y_pred, y_true)
    numeric = np.zeros_like(y_pred)
    h = 1e-6
    for index in np.ndindex(y_pred.shape):
        up, down = y_pred.copy(), y_pred.copy()
        up[index] += h
        down[index] -= h
        numeric[index] = (loss(up, y_true) - loss(down, y_true)) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)
    # and not the last axis's: the check can fail
    assert not np.allclose(gn.losses.CosineSimilarity().gradient(y_pred, y_true), numeric, atol=1e-3)


def test_cosine_similarity_axis_trains_as_keras_and_saves(keras, rng, tmp_path):
    x = rng.normal(size=(8, 3, 4)).astype(np.float32)
    y = rng.normal(size=(8, 3, 2)).astype(np.float32)
    ours = gn.Sequential([gn.Input((3, 4)), gn.layers.Dense(2)], seed=0, dtype="float32")
    ours.compile(gn.losses.CosineSimilarity(axis=1), gn.optimizers.SGD(0.5))
    theirs = keras.Sequential([keras.Input((3, 4)), keras.layers.Dense(2)])
    theirs.compile(loss=keras.losses.CosineSimilarity(axis=1), optimizer=keras.optimizers.SGD(0.5))
    theirs.set_weights(ours.get_weights())
    for _ in range(2):
        ours.train_on_batch(x, y)
        theirs.train_on_batch(x, y)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert repr(ours.loss) == "<loss cosine_similarity axis=1>"
    ours.save(str(tmp_path / "ours.glassnet"))
    assert gn.load_model(str(tmp_path / "ours.glassnet")).loss.axis == 1
    path = str(tmp_path / "ours.keras")
    ours.save(path, save_format="keras")
    # Keras reads glassnet's file with the axis (its loss then gives glassnet's value, not axis -1's)
    loaded = keras.models.load_model(path)
    assert float(loaded.evaluate(x, y, verbose=0)) == pytest.approx(ours.evaluate(x, y, verbose=0), rel=1e-6)
    assert ours.evaluate(x, y, verbose=0) != pytest.approx(
        float(keras.losses.CosineSimilarity()(y, np.asarray(loaded.predict(x, verbose=0)))), rel=1e-3)
    # Keras 3.15's CosineSimilarity.get_config leaves its axis out: the file Keras writes has none,
    # and glassnet reads it as Keras itself does, at axis -1
    assert "axis" not in keras.losses.CosineSimilarity(axis=1).get_config()
    loaded.save(str(tmp_path / "theirs.keras"))
    back = gn.load_model(str(tmp_path / "theirs.keras"))
    again = keras.models.load_model(str(tmp_path / "theirs.keras"))
    assert back.loss.axis == -1
    assert back.evaluate(x, y, verbose=0) == pytest.approx(float(again.evaluate(x, y, verbose=0)), rel=1e-6)


@pytest.mark.parametrize("axis,words", [(0, "other than the batch axis 0"), (1.0, "must be an integer"),
                                        (True, "must be an integer")])
def test_cosine_similarity_bad_axes_are_named(axis, words):
    with pytest.raises(ValueError, match=rf"^CosineSimilarity: axis .*{words}"):
        gn.losses.CosineSimilarity(axis=axis)


def test_cosine_similarity_an_axis_the_outputs_lack_is_named_at_call():
    with pytest.raises(ValueError, match=r"CosineSimilarity: axis=2 does not name a non-batch axis of outputs of "
                                         r"shape \(3, 4\)"):
        gn.losses.CosineSimilarity(axis=2)(np.ones((3, 4)), np.ones((3, 4)))
    with pytest.raises(ValueError, match="axis=-2 does not name"):
        gn.losses.CosineSimilarity(axis=-2)(np.ones((3, 4)), np.ones((3, 4)))


# -- activations.relu(threshold < 0) ----------------------------------------------------------------
# Keras' ReLU layer refuses a negative threshold (and glassnet's still does); Keras' function takes it
RELU_BELOW_ZERO = [dict(threshold=-1.0), dict(threshold=-1.0, negative_slope=0.1),
                   dict(threshold=-0.5, max_value=1.0), dict(threshold=-1.5, negative_slope=0.2, max_value=2.0)]


@pytest.mark.parametrize("options", RELU_BELOW_ZERO, ids=repr)
def test_relu_below_zero_value_and_gradient_match_keras(options, keras, rng):
    import tensorflow as tf
    # off the kinks (the threshold, 0 and the ceiling), where the derivative is defined
    z = rng.uniform(-3, 3, size=(64, 5)).astype(np.float32)
    for kink in (options["threshold"], 0.0, options.get("max_value", 0.0)):
        z[np.abs(z - kink) < 1e-3] += 2e-3
    expected = np.asarray(keras.activations.relu(z, **options))
    np.testing.assert_allclose(gn.activations.relu(z, **options), expected, rtol=1e-6, atol=1e-7)
    g = rng.normal(size=z.shape).astype(np.float32)
    variable = tf.Variable(z)
    with tf.GradientTape() as tape:
        out = keras.activations.relu(variable, **options)
    theirs = tape.gradient(out, variable, output_gradients=tf.constant(g)).numpy()
    ours = gn.activations.backprop_relu(g, z, gn.activations.relu(z, **options), **options)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)
    # the inputs between the threshold and 0 pass through (0 under a ceiling): not the layer's rule
    between = (z > options["threshold"]) & (z < 0)
    assert between.any()
    expected_between = 0 if "max_value" in options else z[between]
    np.testing.assert_array_equal(gn.activations.relu(z, **options)[between], expected_between)


@pytest.mark.parametrize("options", RELU_BELOW_ZERO, ids=repr)
def test_relu_below_zero_finite_differences(options, rng):
    z = rng.uniform(-3, 3, size=(40,))
    for kink in (options["threshold"], 0.0, options.get("max_value", 0.0)):
        z[np.abs(z - kink) < 1e-3] += 2e-3
    g = rng.normal(size=z.shape)
    h = 1e-6
    numeric = g * (gn.activations.relu(z + h, **options) - gn.activations.relu(z - h, **options)) / (2 * h)
    got = gn.activations.backprop_relu(g, z, gn.activations.relu(z, **options), **options)
    np.testing.assert_allclose(got, numeric, rtol=1e-7, atol=1e-9)
    assert gn.activations.relu(z, **options).dtype == np.float64


def test_relu_layer_still_refuses_a_negative_threshold_as_keras():
    with pytest.raises(ValueError, match=r"^ReLU: threshold"):
        gn.layers.ReLU(threshold=-1.0)
    with pytest.raises(ValueError, match=r"^relu: max_value"):
        gn.activations.relu(np.ones(3), threshold=-1.0, max_value=-2.0)


# -- refusals kept, with messages saying what to write ----------------------------------------------
@pytest.mark.parametrize("make", [lambda **kw: gn.layers.SimpleRNNCell(2, **kw), lambda **kw: gn.layers.LSTMCell(2, **kw),
                                  lambda **kw: gn.layers.GRUCell(2, **kw),
                                  lambda **kw: gn.layers.StackedRNNCells([gn.layers.GRUCell(2)], **kw)],
                         ids=["SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells"])
# (dtype and trainable are taken since session 47, where the RNN honours them: tests/test_keras_args47.py)
@pytest.mark.parametrize("key,value", [("activity_regularizer", "l2")])
def test_a_cell_s_layer_arguments_point_to_the_rnn_layer(make, key, value):
    # Keras' cells are layers and take them; a glassnet cell is not, its RNN layer is
    # (since session 48 the message goes on to say what Keras 3.15 does with a cell's penalty)
    with pytest.raises(TypeError, match=rf"unexpected keyword argument '{key}'; .*\({key}: give it to the RNN layer[;)]"):
        make(**{key: value})
    layer = gn.layers.RNN(make(), **{key: value})
    assert getattr(layer, key) is not None


# -- MultiHeadAttention / GroupQueryAttention: kernel_/bias_ regularizer and constraint ------------------
def _attention(module, kind, **options):
    rules = dict(kernel_regularizer=module.regularizers.L2(0.05), bias_regularizer=module.regularizers.L1(0.02),
                 kernel_constraint=module.constraints.MaxNorm(0.8), bias_constraint=module.constraints.NonNeg())
    if kind == "MultiHeadAttention":
        return module.layers.MultiHeadAttention(num_heads=2, key_dim=3, **rules, **options)
    return module.layers.GroupQueryAttention(head_dim=3, num_query_heads=2, num_key_value_heads=1, **rules, **options)


def _attention_model(module, kind):
    inputs = module.Input((4, 5))
    mixed = _attention(module, kind)(inputs, inputs)
    return module.Model(inputs, module.layers.Dense(2)(module.layers.Flatten()(mixed)))


@pytest.mark.parametrize("kind", ["MultiHeadAttention", "GroupQueryAttention"])
def test_attention_regularizers_and_constraints_train_as_keras(kind, keras, rng, tmp_path):
    x = rng.normal(size=(6, 4, 5)).astype(np.float32)
    y = rng.normal(size=(6, 2)).astype(np.float32)
    ours, theirs = _attention_model(gn, kind), _attention_model(keras, kind)
    # biases off zero and partly negative: NonNeg acts on them (weights of 0.5 standard deviation: the
    # softmax not saturated, where float32 rounding grows to 1e-5)
    theirs.set_weights([0.5 * rng.normal(size=w.shape).astype(np.float32) for w in ours.get_weights()])
    ours.set_weights(theirs.get_weights())
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(0.1))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.1))
    assert ours.evaluate(x, y, verbose=0) == pytest.approx(float(theirs.evaluate(x, y, verbose=0)), rel=1e-5)
    for _ in range(2):
        ours.train_on_batch(x, y)
        theirs.train_on_batch(x, y)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    layer = next(layer for layer in ours.layers if "attention" in type(layer).__name__.lower())
    assert len(layer.regularizers) == len(layer.constraints) == 8
    config = layer.get_config()
    assert config["kernel_regularizer"] == {"class_name": "L2", "config": {"l2": 0.05}}
    assert type(layer).from_config(config).get_config() == config
    path = str(tmp_path / "ours.keras")
    ours.save(path, save_format="keras")
    loaded = keras.models.load_model(path)
    inner = next(layer for layer in loaded.layers if "attention" in type(layer).__name__.lower())
    assert inner.get_config()["kernel_regularizer"]["class_name"] == "L2"
    assert inner.get_config()["bias_constraint"]["class_name"] == "NonNeg"
    np.testing.assert_allclose(np.asarray(loaded.predict(x, verbose=0)), ours.predict(x, verbose=0), rtol=1e-5,
                               atol=1e-5)
    loaded.save(str(tmp_path / "theirs.keras"))
    back = gn.load_model(str(tmp_path / "theirs.keras"))
    inner = next(layer for layer in back.layers if "attention" in type(layer).__name__.lower())
    assert inner.get_config()["bias_constraint"] == {"class_name": "NonNeg", "config": {}}
    assert inner.get_config()["kernel_regularizer"]["class_name"] == "L2"
