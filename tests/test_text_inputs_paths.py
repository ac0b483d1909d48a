"""Texts beside other inputs, the paths around the model (a dask sweep holding part out, a file, a
model nested in another, a padded vectorizer drawn before adapt), and a Cell of one's own that sets
its output_size (Keras idiom): each found by a review, each test failing on the code before."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers

COLOURS = np.array(["red", "green", "blue", "cyan"])


class _WideOut(layers.Cell):
    """A cell whose output is wider than its state, set as Keras cells do: ``self.output_size = n``."""

    def __init__(self, units, out):
        self.state_size, self.output_size = units, out

    def build(self, input_dim, add_weight):
        add_weight("kernel", (input_dim, self.state_size), "glorot_uniform")
        add_weight("out", (self.state_size, self.output_size), "glorot_uniform")

    def step(self, params, x, states, training):
        h = np.tanh(x @ params["kernel"] + states[0])
        return h @ params["out"], [h], (x, h)

    def step_backward(self, params, cache, grad_output, grad_states, grads):
        x, h = cache
        grads["out"] += h.T @ grad_output
        dz = (grad_output @ params["out"].T + grad_states[0]) * (1 - h * h)
        grads["kernel"] += x.T @ dz
        return dz @ params["kernel"].T, [dz]

    def get_config(self):
        return {"units": self.state_size, "out": self.output_size}


def test_a_cell_may_set_its_output_size(rng):
    layer = layers.RNN([_WideOut(3, 5), layers.LSTMCell(2)], return_sequences=True, go_backwards=True, dtype="float64")
    assert layers.RNN(_WideOut(3, 5), seed=0)(np.ones((2, 4, 3))).shape == (2, 5)
    assert gn.gradcheck.check_layer(layer, rng.normal(size=(2, 4, 3)))["max_error"] < 1e-6


def _mixed(seed=0):
    colour, age = gn.Input((1,), dtype="string", name="colour"), gn.Input((1,), name="age")
    features = layers.Concatenate()([layers.StringLookup(vocabulary=list(COLOURS), output_mode="one_hot")(colour), age])
    model = gn.Model([colour, age], layers.Dense(1, activation="sigmoid")(features), seed=seed)
    model.compile(loss="binary_crossentropy", optimizer="sgd", metrics=["accuracy"])
    return model


def test_a_sweep_holds_out_texts_beside_numbers(rng):
    pytest.importorskip("dask")
    from glassnet.dask import sweep
    colour, age = COLOURS[rng.integers(0, 4, 40)], rng.normal(size=(40, 1))
    y = (colour == "red").astype(np.float32)
    result = sweep(lambda units: _mixed(), {"units": [1]}, {"colour": colour, "age": age}, y,
                   fit_kwargs={"epochs": 1, "validation_split": 0.25, "shuffle": False}, scheduler="synchronous")[0]
    model = result.model(lambda units: _mixed())
    train = model.evaluate({"colour": colour[:30], "age": age[:30]}, y[:30], verbose=0)
    held = model.evaluate({"colour": colour[30:], "age": age[30:]}, y[30:], verbose=0)
    np.testing.assert_allclose([result["metrics"]["loss"], result["metrics"]["val_loss"]], [train[0], held[0]], rtol=1e-6)


def test_save_refuses_a_vocabulary_changed_beside_other_inputs(tmp_path):
    texts = np.array(["good movie", "bad film", "great"])
    vec = layers.TextVectorization(output_mode="multi_hot")
    vec.adapt(texts)
    words, numbers = gn.Input((1,), dtype="string", name="w"), gn.Input((2,), name="n")
    model = gn.Model([words, numbers], layers.Dense(1)(layers.Concatenate()([vec(words), numbers])))
    vec.adapt(np.array(["x y"]))
    with pytest.raises(ValueError, match="save_model: .*vocabulary changed"):
        model.save(tmp_path / "m.npz")


def test_a_model_of_texts_beside_numbers_nests_in_another(rng):
    model = _mixed()
    colour, age = COLOURS[rng.integers(0, 4, 8)], rng.normal(size=(8, 1))
    inputs = [gn.Input((1,), dtype="string", name="c2"), gn.Input((1,), name="a2")]
    outer = gn.Model(inputs, model(inputs))
    np.testing.assert_array_equal(outer.predict([colour, age], verbose=0), model.predict([colour, age], verbose=0))
    with pytest.raises(ValueError, match="takes texts"):
        model([gn.Input((1,)), gn.Input((1,))])


def test_a_padded_multi_hot_vectorizer_draws_before_adapt():
    vec = layers.TextVectorization(max_tokens=10, output_mode="multi_hot", pad_to_max_tokens=True)
    words, numbers = gn.Input((1,), dtype="string"), gn.Input((2,))
    model = gn.Model([words, numbers], layers.Dense(1)(layers.Concatenate()([vec(words), numbers])), seed=0)
    vec.adapt(np.array(["good movie", "bad film"]))
    assert model.predict([np.array(["good film"]), np.ones((1, 2))], verbose=0).shape == (1, 1)
