"""Dicts of targets and outputs on a Sequential, as Keras 3.15 has them.

* A Sequential of plain layers: Keras 3.15 fails on ``fit(x, {name: y})``, ``sample_weight={name:
  w}`` and ``validation_data=(x, {name: y})`` (it turns the dict's keys into numbers), so glassnet
  refuses them by name (tested below that Keras does fail).
* A Sequential whose last layer is a functional Model of one output given as a dict
  (``Model(inputs, {"s": o})``): Keras 3.15's ``predict`` gives ``{"s": array}`` and ``fit``,
  ``evaluate`` and ``compile`` take dicts by ``"s"``; glassnet's does the same, with Keras'
  numbers from the same weights.
* A last layer of two or more outputs (a dict or a list): Keras 3.15's ``predict`` gives the dict
  or list, and ``fit``/``evaluate``/``compile`` take them per output; glassnet's does the same, with
  Keras' numbers from the same weights (a list's logs are named by the output layers: Keras 3.15
  names them by the losses). A layer after them, which Keras 3.15 fails on, is refused at ``add``.
"""
import functools
import warnings

import numpy as np
import pytest

import glassnet as gn
from keras_twins import assert_same_logs, xyw

L = gn.layers


@pytest.fixture
def data(rng):
    return xyw(rng)


_same = functools.partial(assert_same_logs, atol=1e-6)


def _close_weights(ours, theirs):
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def _head(lib):
    """A functional Model of one output given as a dict, {"s": Dense(2)}."""
    inputs = lib.Input((4,), name="h_in")
    return lib.Model(inputs, {"s": lib.layers.Dense(2, name="score")(inputs)}, name="head")


def _ours(**compile_kw):
    model = gn.Sequential([gn.Input((3,)), L.Dense(4, activation="tanh"), _head(gn)], seed=0)
    model.compile(**{"loss": "mse", "optimizer": gn.optimizers.SGD(0.1), **compile_kw})
    return model


def _theirs(keras, ours, **compile_kw):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), _head(keras)])
    model.set_weights(ours.get_weights())
    model.compile(**{"loss": "mse", "optimizer": keras.optimizers.SGD(0.1), **compile_kw})
    return model


# -- a Sequential of plain layers: no dict of targets ----------------------------------------------

def test_keras_fails_on_a_dict_of_targets_for_a_plain_sequential_and_glassnet_refuses_it_by_name(data):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x, y, w = data
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="out")])
    theirs.compile(loss="mse", optimizer="sgd")
    # Keras 3.15 converts the dict's keys to a tensor: "Expected float32, but got out of type 'str'"
    for call in (lambda: theirs.evaluate(x, {"out": y}, verbose=0),
                 lambda: theirs.evaluate(x, y, sample_weight={"out": w}, verbose=0),
                 lambda: theirs.fit(x, y, validation_data=(x, {"out": y}), verbose=0)):
        with pytest.raises((TypeError, ValueError)):
            call()
    ours = gn.Sequential([gn.Input((3,)), L.Dense(2, name="out")], seed=0)
    ours.compile(loss="mse")
    plain = r"a dict of {0} by output name is Keras' form for outputs given as a dict .* this model's one " \
            r"output \('out'\) takes its {0} themselves, or a list of them alone \(Keras 3.15 fails on the dict " \
            r"here too\); got the keys \['out'\]"
    for call, name, what in ((lambda: ours.evaluate(x, {"out": y}), "y", "targets"),
                             (lambda: ours.fit(x, {"out": y}, verbose=0), "y", "targets"),
                             (lambda: ours.train_on_batch(x, {"out": y}), "y", "targets"),
                             (lambda: ours.test_on_batch(x, {"out": y}), "y", "targets"),
                             (lambda: ours.evaluate(x, y, sample_weight={"out": w}), "sample_weight", "weights"),
                             (lambda: ours.fit(x, y, validation_data=(x, {"out": y}), verbose=0),
                              r"validation_data\[1\]", "targets"),
                             (lambda: ours.fit(x, y, validation_data=(x, y, {"out": w}), verbose=0),
                              r"validation_data\[2\]", "weights")):
        with pytest.raises(ValueError, match="^" + name + ": " + plain.format(what)):
            call()


def test_a_functional_model_of_one_output_names_the_key_it_takes(data):
    x, y, w = data
    inputs = gn.Input((3,))
    model = gn.Model(inputs, L.Dense(2, name="out")(inputs), seed=0)
    model.compile(loss="mse")
    # its own output's name, as before (glassnet's; Keras 3.15 fails on it for a plain output)
    assert model.evaluate(x, {"out": y}, sample_weight={"out": w}) == model.evaluate(x, y, sample_weight=w)
    with pytest.raises(ValueError, match=r"^y: a dict of targets by output name takes the model's one output, "
                                         r"'out'; got the keys \['other'\]"):
        model.evaluate(x, {"other": y})
    with pytest.raises(ValueError, match=r"^sample_weight: a dict of weights .* one output, 'out'; got the keys "
                                         r"\['out', 'z'\]"):
        model.evaluate(x, y, sample_weight={"out": w, "z": w})


# -- last layer: a functional Model of one dict output ---------------------------------------------

def test_predict_gives_keras_dict(data):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x, _, _ = data
    ours = _ours()
    theirs = _theirs(keras, ours)
    their = theirs.predict(x, verbose=0)
    assert isinstance(their, dict) and list(their) == ["s"]
    for mine in (ours.predict(x), ours.predict(x, batch_size=5), ours.predict_on_batch(x), ours(x)):
        assert isinstance(mine, dict) and list(mine) == ["s"]
        np.testing.assert_allclose(mine["s"], their["s"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.predict_on_batch(x)["s"], np.asarray(theirs.predict_on_batch(x)["s"]),
                               rtol=1e-5, atol=1e-6)
    # the predict callbacks' outputs are the dict too, as Keras'
    seen = []
    hook = gn.callbacks.LambdaCallback(on_predict_batch_end=lambda batch, logs: seen.append(logs["outputs"]))
    ours.predict(x, batch_size=10, callbacks=[hook])
    assert [list(o) for o in seen] == [["s"]] * 3


@pytest.mark.parametrize("settings", [
    dict(),
    dict(loss={"s": "mse"}, metrics={"s": ["mae"]}),
    dict(loss=["mse"], metrics=[["mae"]], loss_weights={"s": 2.0}),
    dict(metrics=["mae"], weighted_metrics={"s": ["mse"]}, loss_weights=0.5),
])
def test_evaluate_and_fit_on_dicts_follow_keras(data, settings):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x, y, w = data
    ours, plain = _ours(**settings), _ours(**settings)
    plain.set_weights(ours.get_weights())          # (the nested model, unseeded, drew its own)
    theirs = _theirs(keras, ours, **settings)
    for yy, ww in (({"s": y}, {"s": w}), ({"s": y}, w), (y, {"s": w}), (y, w)):
        _same(ours.evaluate(x, yy, sample_weight=ww, return_dict=True),
              theirs.evaluate(x, yy, sample_weight=ww, return_dict=True, verbose=0))
    # {"s": None}: no weights
    _same(ours.evaluate(x, {"s": y}, sample_weight={"s": None}, return_dict=True),
          theirs.evaluate(x, {"s": y}, return_dict=True, verbose=0))
    xv, yv, wv = x[:8] * 2, y[:8] + 1, w[:8][::-1].copy()
    run = dict(epochs=3, batch_size=8, shuffle=False, verbose=0)
    their = theirs.fit(x, {"s": y}, sample_weight={"s": w}, validation_data=(xv, {"s": yv}, {"s": wv}),
                       **run).history
    got = ours.fit(x, {"s": y}, sample_weight={"s": w}, validation_data=(xv, {"s": yv}, {"s": wv}), **run).history
    assert got == plain.fit(x, y, sample_weight=w, validation_data=(xv, yv, wv), **run).history
    _same(got, their)
    assert ours.train_on_batch(x[:8], {"s": y[:8]}, sample_weight={"s": w[:8]}) == pytest.approx(
        theirs.train_on_batch(x[:8], {"s": y[:8]}, sample_weight={"s": w[:8]}), rel=1e-5)
    assert ours.test_on_batch(x, {"s": y}) == pytest.approx(theirs.test_on_batch(x, {"s": y}), rel=1e-5)
    _close_weights(ours, theirs)


def test_the_dict_s_key_is_the_output_s_name(data):
    x, y, w = data
    model = _ours()
    with pytest.raises(ValueError, match=r"^y: a dict of targets by output name takes the model's one output, "
                                         r"'s'; got the keys \['score'\]"):
        model.evaluate(x, {"score": y})
    with pytest.raises(ValueError, match=r"^y: .* one output, 's'; got the keys \['o', 's'\]"):
        model.fit(x, {"s": y, "o": y}, verbose=0)
    with pytest.raises(ValueError, match=r"^sample_weight: a dict of weights .* 's'; got the keys \['q'\]"):
        model.evaluate(x, y, sample_weight={"q": w})
    with pytest.raises(ValueError, match=r"^validation_data\[1\]: .* 's'; got the keys \['score'\]"):
        model.fit(x, y, validation_data=(x, {"score": y}), verbose=0)
    # compile's dicts by the key, not by the output layer's name (Keras 3.15: KeyError for the loss)
    with pytest.raises(ValueError, match=r"^loss: a dict by output name takes the model's one output, 's'; got "
                                         r"the keys \['score'\]"):
        model.compile(loss={"score": "mse"})
    with pytest.raises(ValueError, match=r"^metrics: a dict by output name takes the model's one output, 's'"):
        model.compile(loss="mse", metrics={"score": ["mae"]})
    # the array under the key is checked as y['s']
    with pytest.raises(ValueError, match=r"^y\['s'\]: expected targets of shape \(n_samples, 2\)"):
        model.evaluate(x, {"s": y[:, :1].repeat(3, axis=1)})


def test_a_layer_after_the_model_takes_its_array_and_pop_gives_the_dict_back(data):
    x, y, _ = data
    model = _ours()
    model.add(L.Dense(1, name="after"))        # (Keras 3.15 fails to build this: Dense reads a dict)
    assert isinstance(model.predict(x), np.ndarray) and model.predict(x).shape == (24, 1)
    model.compile(loss="mse")
    with pytest.raises(ValueError, match=r"this model's one output \('after'\) takes its targets themselves"):
        model.evaluate(x, {"s": y[:, :1]})
    model.pop()
    assert list(model.predict(x)) == ["s"]
    model.pop()                                 # the nested model's output layer: no dict any more
    assert isinstance(model.predict(x), np.ndarray)


def test_configs_files_clones_and_nesting_keep_the_dict(data, tmp_path):
    x, y, _ = data
    model = _ours()
    expected = model.predict(x)["s"]
    assert model.get_config()["output_key"] == "s"
    model.save(tmp_path / "m.npz")
    for again in (gn.load_model(tmp_path / "m.npz"), gn.models.clone_model(model),
                  gn.Sequential.from_config(model.get_config()), gn.model_from_json(model.to_json())):
        assert list(again.predict(x)) == ["s"]
    np.testing.assert_array_equal(gn.load_model(tmp_path / "m.npz").predict(x)["s"], expected)
    assert gn.load_model(tmp_path / "m.npz").evaluate(x, {"s": y}) == model.evaluate(x, {"s": y})
    assert "output_key" not in gn.Sequential([L.Dense(2, input_dim=3)]).get_config()
    # a Sequential nesting it hands the dict on; called on a tensor, it gives a dict of one tensor
    outer = gn.Sequential([model], seed=0)
    np.testing.assert_array_equal(outer.predict(x)["s"], expected)
    inputs = gn.Input((3,))
    drawn = gn.Model(inputs, model(inputs))
    assert list(drawn.output) == ["s"]
    np.testing.assert_allclose(drawn.predict(x)["s"], expected, rtol=1e-6)
    bad = model.get_config()
    bad["output_key"] = 3
    with pytest.raises(ValueError, match="config: 'output_key' must name the dict output"):
        gn.Sequential.from_config(bad)


# -- last layer: a functional Model of two dict outputs --------------------------------------------

def _two_heads(lib):
    inputs = lib.Input((4,))
    return lib.Model(inputs, {"score": lib.layers.Dense(2, name="score")(inputs),
                              "cls": lib.layers.Dense(3, activation="softmax", name="cls")(inputs)}, name="heads")


def _two_list_heads(lib):
    inputs = lib.Input((4,))
    return lib.Model(inputs, [lib.layers.Dense(2, name="score")(inputs),
                              lib.layers.Dense(3, activation="softmax", name="cls")(inputs)], name="heads")


def _twin_sequentials(keras, heads):
    ours = gn.Sequential([gn.Input((3,)), L.Dense(4, activation="tanh"), heads(gn)], seed=0)
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), heads(keras)])
    theirs.set_weights(ours.get_weights())
    return ours, theirs


def test_a_last_layer_of_two_dict_outputs_gives_keras_sequential_s_dicts_and_numbers(data, rng, keras):
    x, y, w = data
    labels = rng.integers(0, 3, 24)
    ours, theirs = _twin_sequentials(keras, _two_heads)
    mine, their = ours.predict(x), theirs.predict(x, verbose=0)
    assert list(mine) == list(their) == ["score", "cls"]        # the dict's order as given, as Keras'
    for key in their:
        np.testing.assert_allclose(mine[key], their[key], rtol=1e-5, atol=1e-6)
    shapes = theirs.compute_output_shape((None, 3))     # a dict, Keras' and glassnet's (since session 48)
    assert ours.compute_output_shape((None, 3)) == {key: tuple(shapes[key]) for key in shapes}
    assert [tuple(t.shape) for t in ours.outputs] == [(None, 3), (None, 2)]     # Keras' flat order: sorted keys
    assert sorted(ours.output) == ["cls", "score"] and isinstance(ours(x[:2]), dict)
    settings = dict(loss={"score": "mse", "cls": "sparse_categorical_crossentropy"}, metrics={"cls": ["accuracy"]},
                    loss_weights={"score": 0.5, "cls": 1.0})
    ours.compile(optimizer=gn.optimizers.SGD(0.1), **settings)
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), **settings)
    targets, weights = {"score": y, "cls": labels}, {"score": w, "cls": w[::-1].copy()}
    mine = ours.evaluate(x, targets, sample_weight=weights, return_dict=True)
    _same(mine, theirs.evaluate(x, targets, sample_weight=weights, return_dict=True, verbose=0))
    assert list(mine) == ["loss", "score_loss", "cls_loss", "cls_accuracy"]
    np.testing.assert_allclose(ours.evaluate(x, targets), theirs.evaluate(x, targets, verbose=0), rtol=2e-5)
    run = dict(epochs=3, batch_size=8, shuffle=False, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        their_history = theirs.fit(x, targets, validation_data=(x[:8], {"score": y[:8], "cls": labels[:8]}),
                                   **run).history
    _same(ours.fit(x, targets, validation_data=(x[:8], {"score": y[:8], "cls": labels[:8]}), **run).history,
          their_history)
    _close_weights(ours, theirs)
    # a list of targets in the flat order (sorted keys), as Keras takes it
    _same(ours.evaluate(x, [labels, y], return_dict=True),
          theirs.evaluate(x, [labels, y], return_dict=True, verbose=0))


def test_a_last_layer_of_two_list_outputs_gives_keras_sequential_s_lists_and_numbers(data, rng, keras):
    """Keras 3.15's Sequential has no output names: it logs each output's loss under its loss's
    name ("mse_loss"; two outputs of one loss share one log) and the metrics unprefixed; glassnet
    names them by the output layers, as a functional Model does ("score_loss")."""
    x, y, w = data
    labels = rng.integers(0, 3, 24)
    ours, theirs = _twin_sequentials(keras, _two_list_heads)
    mine, their = ours.predict(x), theirs.predict(x, verbose=0)
    assert isinstance(mine, list) and isinstance(their, list) and len(mine) == len(their) == 2
    for a, b in zip(mine, their):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    settings = dict(loss=["mse", "sparse_categorical_crossentropy"], metrics=[["mae"], ["accuracy"]])
    ours.compile(optimizer=gn.optimizers.SGD(0.1), **settings)
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), **settings)
    names = {"loss": "loss", "mse_loss": "score_loss", "sparse_categorical_crossentropy_loss": "cls_loss",
             "mae": "score_mae", "accuracy": "cls_accuracy"}
    mine = ours.evaluate(x, [y, labels], sample_weight=[w, None], return_dict=True)
    their = theirs.evaluate(x, [y, labels], sample_weight=[w, None], return_dict=True, verbose=0)
    _same(mine, {names[key]: value for key, value in their.items()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        their = theirs.fit(x, [y, labels], epochs=2, batch_size=8, shuffle=False, verbose=0).history
    mine = ours.fit(x, [y, labels], epochs=2, batch_size=8, shuffle=False, verbose=0).history
    _same(mine, {names[key]: value for key, value in their.items()})
    _close_weights(ours, theirs)


@pytest.mark.parametrize("heads", [_two_heads, _two_list_heads])
def test_a_sequential_of_several_outputs_round_trips_through_json_files_and_clones(data, rng, tmp_path, heads):
    x, y, _ = data
    labels = rng.integers(0, 3, 24)
    model = gn.Sequential([gn.Input((3,)), L.Dense(4, activation="tanh"), heads(gn)], seed=0)
    model.compile(optimizer=gn.optimizers.SGD(0.1), loss=["mse", "sparse_categorical_crossentropy"]
                  if heads is _two_list_heads else {"score": "mse", "cls": "sparse_categorical_crossentropy"})
    targets = [y, labels] if heads is _two_list_heads else {"score": y, "cls": labels}
    model.fit(x, targets, epochs=2, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    from_json = gn.models.model_from_json(model.to_json())
    clone = gn.models.clone_model(model)
    for copy in (from_json, clone):
        copy.set_weights(model.get_weights())
    for copy in (loaded, from_json, clone):
        assert type(copy) is gn.Sequential
        mine, theirs = model.predict(x), copy.predict(x)
        assert type(mine) is type(theirs)
        pairs = zip(mine, theirs) if isinstance(mine, list) else ((mine[k], theirs[k]) for k in mine)
        assert list(mine) == list(theirs) if isinstance(mine, dict) else True
        for a, b in pairs:
            np.testing.assert_array_equal(a, b)
    assert loaded.evaluate(x, targets, return_dict=True) == model.evaluate(x, targets, return_dict=True)


def test_a_sequential_of_several_outputs_refuses_a_layer_after_them_pop_and_a_bad_config():
    model = gn.Sequential([gn.Input((3,)), L.Dense(4, activation="tanh"), _two_heads(gn)], seed=0)
    # (Keras 3.15 hands the Dense the list of outputs and fails: "expects 1 input(s), but it received 2")
    with pytest.raises(ValueError, match=r"^add: the model's last layer makes 2 outputs \(cls, score\), .* draw the "
                                         r"network as a functional Model instead"):
        model.add(L.Dense(2))
    with pytest.raises(ValueError, match=r"^pop: the model's last layer is a model of 2 outputs"):
        model.pop()
    assert [layer.name for layer in model.layers] == ["dense", "cls", "score"]
    config = model.get_config()
    assert config["graph"]["outputs"] == {"score": 2, "cls": 1}
    config["graph"]["outputs"] = {"score": 0, "cls": 1}       # not the last call, which leads nowhere then
    with pytest.raises(ValueError, match=r"'outputs' must name two or more distinct calls, the last call among"):
        gn.Sequential.from_config(config)
    config["graph"]["outputs"] = {"score": 2, "cls": 1}
    config["graph"]["output_shapes"] = [[3]]
    with pytest.raises(ValueError, match=r"'output_shapes' must give each of the 2 outputs"):
        gn.Sequential.from_config(config)
