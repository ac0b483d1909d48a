"""Keras' model subclassing: a subclass of ``gn.Model`` with layers made in ``__init__`` and used in
``call``, drawn as a functional model on its first data (graph.Model._draw)."""
import pickle

import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_model

L = gn.layers


class Residual(gn.Model):
    """dense -> [dense + shortcut] -> dropout -> softmax: a graph, not a chain."""

    def __init__(self, units=8, classes=3, **kwargs):
        super().__init__(**kwargs)
        self.first = L.Dense(units, activation="tanh")
        self.second = L.Dense(units, activation="tanh")
        self.drop = L.Dropout(0.2)
        self.head = L.Dense(classes, activation="softmax")

    def call(self, inputs, training=None):
        h = self.first(inputs)
        return self.head(self.drop(L.Add()([h, self.second(h)])))


def _functional(units=8, classes=3, **kwargs):
    inputs = gn.Input((5,))
    h = L.Dense(units, activation="tanh")(inputs)
    out = L.Dense(classes, activation="softmax")(L.Dropout(0.2)(L.Add()([h, L.Dense(units, activation="tanh")(h)])))
    return gn.Model(inputs, out, **kwargs)


def test_drawn_on_first_data_it_trains_as_the_same_functional_model(rng):
    x, y = rng.standard_normal((40, 5)).astype(np.float32), rng.integers(0, 3, 40)
    mine, same = Residual(seed=3), _functional(seed=3)
    assert mine.name == "residual" and not mine.built and mine.layers == []
    mine.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])   # before drawn
    same.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    history = mine.fit(x, y, epochs=3, batch_size=8, verbose=0).history
    assert mine.built and [type(layer).__name__ for layer in mine.layers] == ["Dense", "Dense", "Add", "Dropout", "Dense"]
    assert mine.layers[0] is mine.first and mine.input_shape == (5,)
    np.testing.assert_array_equal(history["loss"], same.fit(x, y, epochs=3, batch_size=8, verbose=0).history["loss"])
    np.testing.assert_array_equal(mine.predict(x), same.predict(x))


def test_gradients_files_copies_and_the_functional_model_it_loads_as(rng, tmp_path):
    x, y = rng.standard_normal((10, 5)), rng.integers(0, 3, 10)
    model = Residual(seed=0, dtype="float64")
    model.build((None, 5))                  # Keras' form, as a functional model's
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    assert check_model(model, x, y)["max_error"] < 1e-7
    model.save(str(tmp_path / "m.npz"))
    loaded = gn.load_model(str(tmp_path / "m.npz"))
    assert type(loaded) is gn.Model        # no code in a file: the same graph and weights, as a Model
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert type(Residual.from_config(model.get_config())) is gn.Model
    copied = pickle.loads(pickle.dumps(model))
    assert type(copied) is Residual and copied.layers[0] is copied.first
    np.testing.assert_array_equal(copied.predict(x), model.predict(x))


def test_several_inputs_and_outputs_and_nesting(rng):
    class TwoWays(gn.Model):
        def __init__(self):
            super().__init__(seed=0)
            self.a, self.b = L.Dense(4), L.Dense(4)
            self.score, self.value = L.Dense(1, activation="sigmoid", name="score"), L.Dense(2, name="value")

        def call(self, inputs):
            left, right = inputs
            h = L.Add()([self.a(left), self.b(right)])
            return [self.score(h), self.value(h)]

    model = TwoWays()
    assert model.name == "two_ways"
    model.compile(loss=["binary_crossentropy", "mse"], loss_weights=[1, 0.5], optimizer="adam", metrics={"score": "accuracy"})
    xa, xb = rng.standard_normal((16, 3)), rng.standard_normal((16, 2))
    history = model.fit([xa, xb], [rng.integers(0, 2, 16), rng.standard_normal((16, 2))], epochs=2, verbose=0).history
    assert model.input_shapes == [(3,), (2,)] and {"score_accuracy", "value_loss"} <= set(history)
    # a subclassed model called on tensors, inside a functional one
    inner = Residual(seed=1)
    inputs = gn.Input((5,))
    outer = gn.Model(inputs, L.Dense(1)(inner(inputs)))
    assert inner.built and outer.layers[0] is inner.first


def test_what_call_cannot_do_is_refused_by_name(rng):
    class Doubles(gn.Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(2)

        def call(self, inputs):
            return self.dense(inputs) * 2

    with pytest.raises(TypeError, match="holds no values yet.*merge layers"):
        Doubles().predict(rng.standard_normal((3, 4)))

    class Numbers(gn.Model):
        def call(self, inputs):
            return np.zeros(3)

    with pytest.raises(TypeError, match="must return what its layers returned"):
        Numbers().build((4,))
    with pytest.raises(TypeError, match="subclass Model and define call"):
        gn.Model()
    with pytest.raises(TypeError, match="give both inputs and outputs"):
        gn.Model(gn.Input((3,)))
    with pytest.raises(ValueError, match="loss: expected one of"):
        Residual().compile(loss="nope")
    with pytest.raises(ValueError, match="an optimizer's name"):
        Residual().compile("adam")
    model = Residual()
    with pytest.raises(ValueError, match="compile"):
        model.fit(rng.standard_normal((4, 5)), [0, 1, 2, 0])
    with pytest.raises(TypeError, match="a dict does not say the order"):
        model.predict({"a": rng.standard_normal((4, 5))})
    assert not model.built and model.layers == []       # a refused draw leaves nothing behind


def test_the_readme_example_trains_on_digits():
    import re
    from pathlib import Path
    pytest.importorskip("sklearn", reason="the digits dataset comes with scikit-learn")
    readme = Path(__file__).resolve().parents[1] / "README.md"
    if not readme.exists():
        pytest.skip("README.md is not next to the tests")
    text = readme.read_text(encoding="utf-8")
    section = text[text.index("Keras' model subclassing works too"):]
    (x, labels), (x_test, labels_test) = gn.datasets.digits()
    namespace = {"gn": gn, "x": x, "labels": labels}
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1).replace("epochs=5)", "epochs=5, verbose=0)")
    exec(compile(code, str(readme), "exec"), namespace)
    model = namespace["model"]
    assert model.name == "residual" and model.layers[0] is model.first
    assert np.mean(model.predict(x_test).argmax(axis=1) == labels_test) > 0.9
