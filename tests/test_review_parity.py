"""Review of parity: the same network written as a ``Sequential``, a functional ``Model`` and a
subclass of ``Model`` trains, predicts and saves the same, bit for bit, given the same weights and
the same seed."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import Dense, Dropout, GaussianDropout


def _three(base, head, shape, seed=0):
    """``base()`` (a model) then ``head()`` (layers), drawn the three ways."""
    seq = gn.Sequential([gn.Input(shape), base(), *head()], seed=seed)
    inputs = gn.Input(shape)
    h = base()(inputs)
    for layer in head():
        h = layer(h)
    func = gn.Model(inputs, h, seed=seed)

    class Sub(gn.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.base, self.head = base(), head()

        def call(self, x):
            x = self.base(x)
            for layer in self.head:
                x = layer(x)
            return x
    sub = Sub(seed=seed)
    sub.build((None, *shape))
    return seq, func, sub


@pytest.mark.parametrize("built", [False, True], ids=["unbuilt", "built"])
def test_a_seeded_nested_model_keeps_its_generators_drawn_any_of_the_three_ways(built):
    # a seeded Sequential without an Input, nested: the Sequential nesting it kept its layers'
    # generators (README: "each layer keeps the random generator the inner model's seed gave
    # it"), a functional Model calling it and a subclass holding it gave them the outer model's
    # stream instead, so the same network's Dropout drew other masks and trained otherwise
    def base():
        return gn.Sequential([*([gn.Input((6,))] if built else []), Dense(8, activation="relu"), Dropout(0.5),
                              Dense(8, activation="relu"), GaussianDropout(0.3)], seed=3)

    def head():
        return [Dropout(0.3), Dense(3, activation="softmax")]
    models = _three(base, head, (6,))
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 6)).astype(np.float32), rng.integers(0, 3, 32)
    for model in models[1:]:
        model.set_weights(models[0].get_weights())
    histories, weights = [], []
    for model in models:
        model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
        histories.append(model.fit(x, y, epochs=2, batch_size=8, verbose=0).history)
        weights.append(model.get_weights())
    for history, trained in zip(histories[1:], weights[1:]):
        assert history == histories[0]
        for got, want in zip(trained, weights[0]):
            np.testing.assert_array_equal(got, want)
    # and Monte Carlo dropout draws the same masks after it
    outputs = [model(x[:4], training=True) for model in models]
    for got in outputs[1:]:
        np.testing.assert_array_equal(got, outputs[0])
