"""Keras' dict form of x and compile's ``loss_weights`` for a model of one input and one output
(glassnet._listforms): a Sequential takes ``{input name: x}`` wherever it takes ``x`` and
``loss_weights`` as ``w``, ``[w]`` or ``{output name: w}``, with Keras 3.15's results; a dict
without the input's name, and weights of another length or name, are refused by name."""

import numpy as np
import pytest

import glassnet as gn
from keras_twins import assert_same_logs, xyw

L = gn.layers


def _ours(input_name="feat", **compile_kw):
    model = gn.Sequential([gn.Input((3,), name=input_name), L.Dense(5, activation="tanh"),
                           L.Dense(2, name="out")], seed=0)
    model.compile(**{"loss": "mse", "optimizer": gn.optimizers.SGD(0.1), **compile_kw})
    return model


def _theirs(keras, ours, input_name="feat", **compile_kw):
    model = keras.Sequential([keras.Input((3,), name=input_name), keras.layers.Dense(5, activation="tanh"),
                              keras.layers.Dense(2, name="out")])
    model.set_weights(ours.get_weights())
    model.compile(**{"loss": "mse", "optimizer": keras.optimizers.SGD(0.1), **compile_kw})
    return model


@pytest.fixture
def data(rng):
    return xyw(rng)


def _close_weights(ours, theirs):
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


# -- x as {input name: x} -------------------------------------------------------------------------

def test_a_dict_by_the_input_s_name_gives_keras_results_and_the_plain_forms(data):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x, y, w = data
    ours = _ours()
    theirs = _theirs(keras, ours)
    given = {"feat": x}
    keras_predict = theirs.predict(given, verbose=0)
    keras_batch = np.asarray(theirs.predict_on_batch(given))
    keras_eval = theirs.evaluate(given, y, sample_weight=w, verbose=0)
    keras_test = theirs.test_on_batch(given, y, sample_weight=w)
    plain = ours.predict(x)
    np.testing.assert_array_equal(ours.predict(given), plain)
    np.testing.assert_array_equal(ours.predict_on_batch(given), plain)
    np.testing.assert_allclose(ours.predict(given), keras_predict, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.predict_on_batch(given), keras_batch, rtol=1e-5, atol=1e-6)
    assert ours.evaluate(given, y, sample_weight=w) == ours.evaluate(x, y, sample_weight=w) \
        == pytest.approx(keras_eval, rel=1e-5)
    assert ours.test_on_batch(given, y, sample_weight=w) == ours.test_on_batch(x, y, sample_weight=w) \
        == pytest.approx(keras_test, rel=1e-5)
    # other keys beside the input's are left alone, as Keras 3.15 leaves them (dict(df) of more columns)
    wider = {"other": x[:, :2], "feat": x}
    np.testing.assert_array_equal(ours.predict(wider), plain)
    assert ours.evaluate(wider, y) == ours.evaluate(x, y) == pytest.approx(theirs.evaluate(wider, y, verbose=0),
                                                                             rel=1e-5)


def test_training_on_the_dict_follows_keras_step_for_step(data):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x, y, w = data
    xv, yv = x[:8] * 2, y[:8] + 1
    mine, plain = _ours(), _ours()
    theirs = _theirs(keras, mine)
    settings = dict(epochs=3, batch_size=8, shuffle=False, verbose=0)
    their = theirs.fit({"feat": x}, y, sample_weight=w, validation_data=({"feat": xv}, yv), **settings).history
    their_step = theirs.train_on_batch({"feat": x[:8]}, y[:8])
    got = mine.fit({"feat": x}, y, sample_weight=w, validation_data=({"feat": xv}, yv), **settings).history
    expected = plain.fit(x, y, sample_weight=w, validation_data=(xv, yv), **settings).history
    assert got == expected              # the same arrays: the same run, bit for bit
    assert_same_logs(got, their)
    assert mine.train_on_batch({"feat": x[:8]}, y[:8]) == plain.train_on_batch(x[:8], y[:8]) \
        == pytest.approx(their_step, rel=1e-5)
    _close_weights(mine, theirs)
    split = dict(validation_split=0.25, **settings)
    assert _ours().fit({"feat": x}, y, **split).history == _ours().fit(x, y, **split).history


def test_which_name_the_input_has(data):
    x, y, _ = data
    # an Input without a name: Keras' InputLayer's name (Keras keys its tensor keras_tensor_<n>)
    unnamed = gn.Sequential([gn.Input((3,)), L.Dense(2)], seed=0)
    np.testing.assert_array_equal(unnamed.predict({"input_layer": x}), unnamed.predict(x))
    # no Input: the same name, and the dict builds the model as its array would
    later, plain = (gn.Sequential([L.Dense(2)], seed=0) for _ in range(2))
    for each in (later, plain):
        each.compile(loss="mse")
    assert later.evaluate({"input_layer": x}, y) == plain.evaluate(x, y) and later.input_shape == (None, 3)
    # a functional Model of one Input: its Input's; a Sequential nesting it first takes that name
    inputs = gn.Input((3,), name="feat")
    base = gn.Model(inputs, L.Dense(4, activation="relu")(inputs), seed=0)
    np.testing.assert_array_equal(base.predict({"feat": x}), base.predict(x))
    outer = gn.Sequential([base, L.Dense(2)], seed=0)
    np.testing.assert_array_equal(outer.predict({"feat": x}), outer.predict(x))
    # kept by get_config, model files and clones
    model = _ours("feat")
    assert gn.Sequential.from_config(model.get_config()).predict({"feat": x}).shape == (24, 2)
    assert gn.models.clone_model(model).predict({"feat": x}).shape == (24, 2)


def test_the_name_survives_a_model_file(data, tmp_path):
    x, y, _ = data
    model = _ours("feat")
    model.save(tmp_path / "m.npz")
    again = gn.load_model(tmp_path / "m.npz")
    np.testing.assert_array_equal(again.predict({"feat": x}), model.predict(x))
    with pytest.raises(ValueError, match="'input_layer'"):
        gn.load_model(tmp_path / "m.npz").predict({"input_layer": x})


def test_a_dict_without_the_input_s_name_is_refused_by_name(data):
    x, y, _ = data
    model = _ours()
    with pytest.raises(ValueError, match=r"x: a dict by input name takes the model's one input, 'feat'; "
                                         r"got the keys \['other'\]"):
        model.predict({"other": x})
    with pytest.raises(ValueError, match=r"got the keys \['a', 'b'\]"):
        model.evaluate({"a": x, "b": x}, y)
    with pytest.raises(ValueError, match=r"validation_data\[0\]: a dict by input name .* 'feat'"):
        model.fit(x, y, validation_data=({"input_layer": x}, y), verbose=0)
    with pytest.raises(ValueError, match=r"x: a dict by input name takes the model's one input, 'input_layer'"):
        gn.Sequential([L.Dense(2)]).predict({"feat": x})
    # the array under the name is checked as x['feat']
    with pytest.raises(ValueError, match=r"x\['feat'\]: the model expects samples of shape \(3,\)"):
        model.predict({"feat": x[:, :2]})
    inputs = gn.Input((3,), name="feat")
    functional = gn.Model(inputs, L.Dense(1)(inputs))
    with pytest.raises(ValueError, match=r"x: a dict by input name .* 'feat'; got the keys \['other'\]"):
        functional.predict({"other": x})


# -- compile(loss_weights=...) --------------------------------------------------------------------

@pytest.mark.parametrize("weights", [2.5, [2.5], (2.5,), {"out": 2.5}])
def test_loss_weights_scale_the_loss_as_keras_does(data, weights):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x, y, w = data
    settings = dict(epochs=3, batch_size=8, shuffle=False, verbose=0)
    mine = _ours(loss_weights=weights, metrics=["mae"], weighted_metrics=["mse"])
    theirs = _theirs(keras, mine, loss_weights=weights, metrics=["mae"], weighted_metrics=["mse"])
    xv, yv = x[:8] * 2, y[:8] + 1
    ours_eval = mine.evaluate(x, y, sample_weight=w, return_dict=True)
    assert_same_logs(ours_eval, theirs.evaluate(x, y, sample_weight=w, return_dict=True, verbose=0))
    # the loss is 2.5 times the model's without loss_weights; the metrics are not weighed
    unweighed = _ours(metrics=["mae"], weighted_metrics=["mse"]).evaluate(x, y, sample_weight=w, return_dict=True)
    assert ours_eval["loss"] == pytest.approx(2.5 * unweighed["loss"], rel=1e-6)
    assert (ours_eval["mae"], ours_eval["mse"]) == (unweighed["mae"], unweighed["mse"])
    got = mine.fit(x, y, sample_weight=w, validation_data=(xv, yv), **settings).history
    assert_same_logs(got, theirs.fit(x, y, sample_weight=w, validation_data=(xv, yv), **settings).history)
    assert mine.train_on_batch(x[:8], y[:8]) == pytest.approx(theirs.train_on_batch(x[:8], y[:8]), rel=1e-5)
    assert mine.test_on_batch(x[:8], y[:8]) == pytest.approx(theirs.test_on_batch(x[:8], y[:8]), rel=1e-5)
    _close_weights(mine, theirs)


def test_loss_weights_on_a_fused_output_and_beside_regularizers_follow_keras(data, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x, _, w = data
    labels = rng.integers(0, 3, 24)

    def build(lib):
        inputs = lib.Input((3,))
        hidden = lib.layers.Dense(6, activation="tanh", kernel_regularizer=lib.regularizers.L2(0.01),
                                  activity_regularizer=lib.regularizers.L1(0.001), name="hidden")(inputs)
        return inputs, lib.layers.Dense(3, activation="softmax", name="out")(hidden)
    from keras_twins import twins
    ours, theirs = twins(build, keras)
    ours.compile(loss="sparse_categorical_crossentropy", optimizer=gn.optimizers.SGD(0.2), loss_weights={"out": 0.5},
                 metrics=["accuracy"])
    theirs.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(0.2),
                   loss_weights={"out": 0.5}, metrics=["accuracy"])
    settings = dict(epochs=3, batch_size=6, shuffle=False, verbose=0)
    # (the softmax and the crossentropy fused: dL/dz weighed; the penalties are added unweighed)
    assert_same_logs(ours.fit(x, labels, **settings).history, theirs.fit(x, labels, **settings).history, rtol=5e-5)
    assert_same_logs(ours.fit(x, labels, sample_weight=w, **settings).history,
          theirs.fit(x, labels, sample_weight=w, **settings).history, rtol=5e-5)
    _close_weights(ours, theirs)
    assert ours.evaluate(x, labels) == pytest.approx(theirs.evaluate(x, labels, verbose=0), rel=1e-5)


def test_loss_weights_gradients_match_finite_differences(rng):
    model = gn.Sequential([L.Dense(4, activation="tanh", input_dim=3), L.Dense(2, activation="softmax")],
                          seed=0, dtype="float64")
    x, y = rng.standard_normal((6, 3)), np.eye(2)[rng.integers(0, 2, 6)]
    for loss in ("categorical_crossentropy", "mse"):          # the fused path and the plain one
        model.compile(loss=loss, loss_weights=3.0)
        gn.gradcheck.check_model(model, x, y)
        gn.gradcheck.check_model(model, x, y, sample_weight=rng.uniform(0.5, 2, 6))
        weighed = model.evaluate(x, y)
        model.compile(loss=loss)
        assert weighed == pytest.approx(3.0 * model.evaluate(x, y), rel=1e-12)


def test_a_zero_weight_trains_nothing_as_in_keras(data):
    x, y, _ = data
    model = _ours(loss_weights=0.0, metrics=["mse"])
    before = model.get_weights()
    history = model.fit(x, y, epochs=2, verbose=0).history
    assert history["loss"] == [0.0, 0.0] and history["mse"][0] > 0
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_loss_weights_in_compile_configs_and_model_files(data, tmp_path):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x, y, _ = data
    model = _ours(loss_weights=[2.0])
    config = model.get_compile_config()
    assert config["loss_weights"] == 2.0
    assert "loss_weights" not in _ours().get_compile_config()
    twin = gn.models.clone_model(model)
    twin.compile_from_config(config)
    twin.set_weights(model.get_weights())
    assert twin.evaluate(x, y) == model.evaluate(x, y)
    # Keras' own compile config, its loss_weights as given ({"out": 2.0})
    theirs = _theirs(keras, model, loss_weights={"out": 2.0})
    twin.compile_from_config(theirs.get_compile_config())
    assert twin.evaluate(x, y) == pytest.approx(theirs.evaluate(x, y, verbose=0), rel=1e-5)
    model.save(tmp_path / "m.npz")
    again = gn.load_model(tmp_path / "m.npz")
    assert again.evaluate(x, y) == model.evaluate(x, y)
    # compile again without them: 1
    again.compile(loss="mse")
    assert again.evaluate(x, y) == pytest.approx(model.evaluate(x, y) / 2, rel=1e-6)


def test_loss_weights_refused_by_name():
    model = _ours()
    with pytest.raises(ValueError, match=r"loss_weights: a dict by output name takes the model's one output, "
                                         r"'out'; got the keys \['other'\]"):
        model.compile(loss="mse", loss_weights={"other": 2.0})
    with pytest.raises(ValueError, match=r"loss_weights: the model has one output \('out'\); got a list of 2"):
        model.compile(loss="mse", loss_weights=[1.0, 2.0])
    with pytest.raises(TypeError, match="loss_weights: expected a number"):
        model.compile(loss="mse", loss_weights="2")
    with pytest.raises(TypeError, match="loss_weights: expected a number"):
        model.compile(loss="mse", loss_weights=True)
    # (Keras 3.15 takes these two, and trains towards a larger loss or nan)
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="loss_weights: the weight of the loss must be a finite number >= 0"):
            model.compile(loss="mse", loss_weights=bad)
    with pytest.raises(ValueError, match="loss_weights: a dict by output name, but the model has no layers"):
        gn.Sequential().compile(loss="mse", loss_weights={"out": 1.0})
    # a refused compile leaves the model as it was compiled
    assert model._loss_weight == 1.0
