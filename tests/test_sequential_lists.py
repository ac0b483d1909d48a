"""Keras' list forms for a model of one input and one output (glassnet._listforms): a Sequential
takes ``[x]``, ``[y]``, ``[w]``, ``[loss]``, ``{name: loss}``, ``[[metrics]]`` and
``{name: [metrics]}`` as Keras 3.15's Sequential does, with the results of the plain forms; a list
of numbers, or of one array per sample, stays data; lists of several are refused by name."""
import warnings

import numpy as np
import pytest

import glassnet as gn
from keras_twins import assert_same_logs, xyw

L = gn.layers


def _ours(**compile_kw):
    model = gn.Sequential([L.Dense(5, activation="tanh", input_dim=3), L.Dense(2, name="out")], seed=0)
    model.compile(**{"loss": "mse", "optimizer": gn.optimizers.SGD(0.1), **compile_kw})
    return model


def _theirs(keras, ours, **compile_kw):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5, activation="tanh"),
                              keras.layers.Dense(2, name="out")])
    model.set_weights(ours.get_weights())
    model.compile(**{"loss": "mse", "optimizer": keras.optimizers.SGD(0.1), **compile_kw})
    return model


@pytest.fixture
def data(rng):
    return xyw(rng)


def test_list_forms_give_keras_results_and_the_plain_forms(data):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x, y, w = data
    ours = _ours()
    theirs = _theirs(keras, ours)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # Keras warns that a list reached a model of one input
        keras_predict = theirs.predict([x], verbose=0)
        keras_batch = np.asarray(theirs.predict_on_batch([x]))
        keras_eval = theirs.evaluate([x], [y], sample_weight=[w], verbose=0)
        keras_test = theirs.test_on_batch([x], [y], sample_weight=[w])
    plain = ours.predict(x)
    np.testing.assert_array_equal(ours.predict([x]), plain)
    np.testing.assert_array_equal(ours.predict((x,)), plain)
    np.testing.assert_array_equal(ours.predict_on_batch([x]), plain)
    np.testing.assert_array_equal(ours([x]), ours(x))
    np.testing.assert_allclose(ours.predict([x]), keras_predict, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.predict_on_batch([x]), keras_batch, rtol=1e-5, atol=1e-6)
    assert ours.evaluate([x], [y], sample_weight=[w]) == ours.evaluate(x, y, sample_weight=w) \
        == pytest.approx(keras_eval, rel=1e-5)
    assert ours.evaluate(x, [y]) == ours.evaluate(x, y) != ours.evaluate(x, y, sample_weight=w)
    assert ours.test_on_batch([x], [y], sample_weight=[w]) == ours.test_on_batch(x, y, sample_weight=w) \
        == pytest.approx(keras_test, rel=1e-5)


def test_training_on_list_forms_follows_keras_step_for_step(data):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x, y, w = data
    xv, yv, wv = x[:8] * 2, y[:8] + 1, w[:8][::-1].copy()
    mine, plain = _ours(), _ours()
    theirs = _theirs(keras, mine)
    settings = dict(epochs=3, batch_size=8, shuffle=False, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        their = theirs.fit([x], [y], sample_weight=[w], validation_data=([xv], [yv], [wv]), **settings).history
        their_step = theirs.train_on_batch([x[:8]], [y[:8]], sample_weight=[w[:8]])
    got = mine.fit([x], [y], sample_weight=[w], validation_data=([xv], [yv], [wv]), **settings).history
    expected = plain.fit(x, y, sample_weight=w, validation_data=(xv, yv, wv), **settings).history
    assert got == expected              # the same arrays: the same run, bit for bit
    assert_same_logs(got, their)
    assert mine.train_on_batch([x[:8]], [y[:8]], sample_weight=[w[:8]]) == \
        plain.train_on_batch(x[:8], y[:8], sample_weight=w[:8]) == pytest.approx(their_step, rel=1e-5)
    for a, b in zip(mine.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    # validation_split cuts the list's array as it cuts the array
    split = dict(validation_split=0.25, **settings)
    assert _ours().fit([x], [y], **split).history == _ours().fit(x, y, **split).history


@pytest.mark.parametrize("given", [
    dict(loss=["mse"], metrics={"out": ["mae"]}),
    dict(loss=("mse",), metrics=[["mae"]], weighted_metrics={"out": "mse"}),
    dict(loss={"out": "mse"}, metrics={"out": "mae"}, weighted_metrics=[["mse"]]),
])
def test_compile_s_per_output_forms_name_the_one_output(data, given):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x, y, w = data
    plain = dict(loss="mse", metrics=["mae"], weighted_metrics=["mse"] if "weighted_metrics" in given else None)
    settings = dict(epochs=2, batch_size=8, shuffle=False, verbose=0)
    got = _ours(**given).fit(x, y, sample_weight=w, **settings).history
    assert got == _ours(**plain).fit(x, y, sample_weight=w, **settings).history
    # Keras 3.15's Sequential fails on a loss dict (a TypeError of its own): compared on the rest
    keras_given = {**given, "loss": "mse"} if isinstance(given["loss"], dict) else given
    their = _theirs(keras, _ours(), **keras_given).fit(x, y, sample_weight=w, **settings).history
    assert_same_logs(got, their)


def test_a_list_of_numbers_or_of_one_array_per_sample_stays_data(data):
    x, y, _ = data
    model = _ours()
    # (Keras 3.15 refuses nested Python lists, and reads a list of arrays as a list of inputs)
    np.testing.assert_array_equal(model.predict([[1.0, 2.0, 3.0]]), model.predict(np.array([[1.0, 2.0, 3.0]])))
    np.testing.assert_array_equal(model.predict(x.tolist()), model.predict(x))
    np.testing.assert_array_equal(model.predict([x[0]]), model.predict(x[:1]))
    np.testing.assert_array_equal(model.predict(list(x[:3])), model.predict(x[:3]))
    assert model.evaluate(x[:2], [y[0], y[1]]) == model.evaluate(x[:2], y[:2])
    assert model.evaluate(x[:1], [y[0]]) == model.evaluate(x[:1], y[:1])        # one sample's row
    assert model.evaluate(x[:1], [y[:1]]) == model.evaluate(x[:1], y[:1])       # a list of its one batch
    assert model.evaluate(x, y.tolist(), sample_weight=list(np.ones(24))) == model.evaluate(x, y)


def test_an_unbuilt_sequential_is_built_from_the_list_s_array(data):
    x, y, _ = data
    model = gn.Sequential([L.Dense(2)], seed=0)
    model.compile(loss=["mse"])
    model.fit([x], [y], epochs=1, verbose=0)
    assert model.input_shape == (None, 3)
    # before it is built no sample shape tells a batch from a sample: several arrays are samples
    images, labels = np.arange(48.0).reshape(4, 3, 4), np.arange(4.0)[:, None]
    stacked, listed = (gn.Sequential([L.Flatten(), L.Dense(1)], seed=0) for _ in range(2))
    for each in (stacked, listed):
        each.compile(loss="mse")
    assert listed.fit(list(images), labels, verbose=0).history == stacked.fit(images, labels, verbose=0).history
    assert listed.input_shape == (None, 3, 4)


def test_texts_in_a_list_of_their_array(rng):
    texts = np.array(["a b c", "b c", "c a a", "d"])
    vectorize = L.TextVectorization(output_mode="count")
    vectorize.adapt(texts)
    model = gn.Sequential([vectorize, L.Dense(1)], seed=0)
    np.testing.assert_array_equal(model.predict([texts]), model.predict(texts))
    np.testing.assert_array_equal(model.predict(list(texts)), model.predict(texts))


def test_lists_of_several_are_refused_by_name(data):
    x, y, w = data
    model = _ours()
    one_input = r"the model has one input; got a list of 2 arrays \(\(24, 3\), \(24, 3\)\)"
    cases = [
        (lambda: model.predict([x, x]), "^x: " + one_input),
        (lambda: model.predict_on_batch((x, x)), r"^x: the model has one input; got a tuple of 2"),
        (lambda: model([x, x]), "^x: " + one_input),
        (lambda: model.evaluate([x, x], y), "^x: " + one_input),
        (lambda: model.evaluate(x, [y, y]), r"^y: the model has one output \('out'\); got a list of 2 arrays"),
        (lambda: model.fit(x, y, sample_weight=[w, w], verbose=0),
         r"^sample_weight: the model has one output \('out'\); got a list of 2 arrays \(\(24,\), \(24,\)\)"),
        (lambda: model.train_on_batch([x], [y, y, y]), r"^y: the model has one output \('out'\); got a list of 3"),
        (lambda: model.test_on_batch([x, x], [y]), "^x: " + one_input),
        (lambda: model.fit(x, y, validation_data=([x, x], y), verbose=0), "^validation_data\\[0\\]: " + one_input),
        (lambda: model.fit(x, y, validation_data=(x, [y, y]), verbose=0), r"^validation_data\[1\]: the model has one"),
        # the one array, of the wrong shape: named as the list's item
        (lambda: model.predict([x[:, :2]]), r"^x\[0\]: the model expects samples of shape \(3,\), got samples "
                                            r"of shape \(2,\)"),
        (lambda: model.evaluate(x, [y[:5]]), r"x and y\[0\] must have the same number of samples, got 24 and 5"),
        (lambda: model.compile(loss=["mse", "mae"]), r"^loss: the model has one output \('out'\); got a list of 2"),
        (lambda: model.compile(loss=[]), r"^loss: the model has one output \('out'\); got a list of 0"),
        (lambda: model.compile(loss={"nope": "mse"}), r"^loss: a dict by output name takes the model's one output, "
                                                      r"'out'; got the keys \['nope'\]"),
        (lambda: model.compile(loss="mse", metrics=[["mae"], ["mse"]]),
         r"^metrics: the model has one output \('out'\); got a list of 2 items"),
        (lambda: model.compile(loss="mse", weighted_metrics={"out": ["mae"], "x": []}),
         r"^weighted_metrics: a dict by output name takes the model's one output"),
        (lambda: gn.Sequential().compile(loss={"out": "mse"}), r"^loss: a dict by output name, but the model has "
                                                              r"no layers yet"),
    ]
    before = model.get_weights()
    for call, match in cases:
        with pytest.raises(ValueError, match=match):
            call()
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert model.loss.name == "mse" and [name for name, _ in model.metrics] == []    # refused compiles changed nothing


def test_a_functional_model_of_one_input_refuses_the_same_lists(data):
    x, y, w = data
    inputs = gn.Input((3,))
    model = gn.Model(inputs, L.Dense(2, name="o")(inputs), seed=0)
    model.compile(loss={"o": "mse"}, metrics=[["mae"]])
    assert model.evaluate([x], [y], sample_weight=[w]) == model.evaluate(x, {"o": y}, sample_weight={"o": w})
    np.testing.assert_array_equal(model.predict([x[0]]), model.predict(x[:1]))     # a row, as Sequential's
    with pytest.raises(ValueError, match=r"^x: the model has one input; got a list of 2"):
        model.predict([x, x])
    with pytest.raises(ValueError, match=r"^y: the model has one output \('o'\); got a list of 2"):
        model.fit(x, [y, y], verbose=0)


def test_a_model_compiled_with_list_forms_saves_its_loss_and_metrics(data, tmp_path):
    x, y, _ = data
    model = _ours(loss=["mse"], metrics={"out": ["mae"]})
    model.save(tmp_path / "m.npz")
    again = gn.load_model(tmp_path / "m.npz")
    assert again.evaluate([x], [y], return_dict=True) == model.evaluate(x, y, return_dict=True)
