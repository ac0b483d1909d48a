"""A functional Model with an Input that no layer reads: Keras 3.15 takes it (a model's signature
may list data it ignores), and so does glassnet: ``fit``, ``evaluate`` and ``predict`` take its
array and leave it unread, ``summary`` lists its InputLayer row, files and clones keep it. An
Input of texts that nothing reads is refused by name (no layer would turn its texts into numbers;
Keras 3.15 fails converting them)."""
import os

import numpy as np
import pytest

import glassnet as gn
from test_summary import _ours, _theirs

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
L = gn.layers


def _model(lib):
    a, b = lib.Input((3,), name="a"), lib.Input((2,), name="b")
    return lib.Model([a, b], lib.layers.Dense(1, name="d")(a), name="m")


def _data(n=16):
    rng = np.random.default_rng(0)
    return ([rng.normal(size=(n, 3)).astype("float32"), rng.normal(size=(n, 2)).astype("float32")],
            rng.normal(size=(n, 1)).astype("float32"))


def test_fit_evaluate_predict_leave_the_unused_input_unread():
    x, y = _data()
    model = _model(gn)
    model.compile(loss="mse", optimizer="sgd")
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    out = model.predict(x, verbose=0)
    # its values change nothing: the model reads a alone
    np.testing.assert_array_equal(model.predict([x[0], x[1] * 0 + 100], verbose=0), out)
    np.testing.assert_allclose(out, x[0] @ model.get_weights()[0] + model.get_weights()[1], rtol=1e-6)
    assert np.isclose(model.evaluate(x, y, verbose=0), np.mean((out - y) ** 2), rtol=1e-6)
    # its array is still checked: the model's inputs are the model's signature
    with pytest.raises(ValueError, match=r"x\[1\].*'b' takes samples of shape \(2,\)"):
        model.predict([x[0], np.ones((16, 5), "float32")], verbose=0)
    with pytest.raises(TypeError, match="the model has 2 inputs"):
        model.predict(x[0], verbose=0)


def test_it_trains_as_keras():
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x, y = _data()
    theirs, ours = _model(keras), _model(gn)
    ours.set_weights([np.asarray(w) for w in theirs.get_weights()])
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.1))
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(0.1))
    h_theirs = theirs.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0).history["loss"]
    h_ours = ours.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(h_ours, h_theirs, rtol=1e-5)
    for w_ours, w_theirs in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(w_ours, np.asarray(w_theirs), rtol=1e-5, atol=1e-6)


def test_summary_lists_its_input_row_as_keras():
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    assert _ours(_model(gn)) == _theirs(_model(keras))
    text = []
    _model(gn).summary(print_fn=text.append)
    assert "b (InputLayer)" in text[0]


def test_an_unused_input_is_listed_where_keras_lists_it():
    a, b, c = gn.Input((3,), name="a"), gn.Input((2,), name="b"), gn.Input((4,), name="c")
    model = gn.Model([a, b, c], L.Add()([L.Dense(1, name="da")(a), L.Dense(1, name="dc")(c)]))
    names = [row[1] for row in _ours(model)[0]]
    # Keras 3.15's rows are its model.layers: an Input nothing reads has depth 0, before the
    # output's layer there (glassnet._layer_order)
    assert names == ["a (InputLayer)", "c (InputLayer)", "da (Dense)", "dc (Dense)", "b (InputLayer)", "add (Add)"]
    first_unused = gn.Model([b, a], L.Dense(1, name="d")(a))
    assert [row[1] for row in _ours(first_unused)[0]] == ["a (InputLayer)", "b (InputLayer)", "d (Dense)"]


def test_files_clones_and_configs_keep_it(tmp_path):
    x, y = _data()
    model = _model(gn)
    model.compile(loss="mse", optimizer="adam")
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.npz")
    for copy in (gn.load_model(tmp_path / "m.npz"), gn.models.clone_model(model),
                 gn.Model.from_config(model.get_config())):
        assert copy.input_shapes == [(3,), (2,)]
        if copy.get_weights()[0].shape == model.get_weights()[0].shape:
            copy.set_weights(model.get_weights())
        np.testing.assert_array_equal(copy.predict(x, verbose=0), model.predict(x, verbose=0))


def test_dict_inputs_and_a_nested_call_take_it():
    x, y = _data()
    a, b = gn.Input((3,), name="a"), gn.Input((2,), name="b")
    model = gn.Model({"a": a, "b": b}, L.Dense(1)(a))
    model.compile(loss="mse")
    model.fit({"a": x[0], "b": x[1]}, y, epochs=1, verbose=0)
    outer_a, outer_b = gn.Input((3,)), gn.Input((2,))
    outer = gn.Model([outer_a, outer_b], _model(gn)([outer_a, outer_b]))
    assert outer.predict(x, verbose=0).shape == (16, 1)


def test_an_unused_input_of_texts_is_refused_by_name():
    a, texts = gn.Input((3,)), gn.Input((1,), dtype="string", name="notes")
    with pytest.raises(ValueError, match=r"inputs\[1\] .*name 'notes'.* Input of texts that does not lead to the outputs"):
        gn.Model([a, texts], L.Dense(1)(a))
