"""Review of add_loss (glassnet.added_losses) against Keras 3.15: terms of a model drawn before and
called again inside another, and terms of a nested call whose outputs the model does not use (terms in a
Sequential's blocks: tests/test_add_loss_saving.py)."""
import numpy as np

import glassnet as gn
from glassnet import ops


def _penalized(base, L, o):
    """A subclass model adding a term on its hidden layer."""
    class Net(base):
        def __init__(self):
            super().__init__()
            self.hidden = L.Dense(4, activation="tanh")
            self.out = L.Dense(2)

        def call(self, x):
            h = self.hidden(x)
            self.add_loss(0.5 * o.mean(o.square(h)) + o.sum(h) / 20.0)
            return self.out(h)
    return Net()


def _fit_as_keras(keras, theirs, ours, x, y):
    theirs(x)
    ours(x)
    ours.set_weights(theirs.get_weights())
    theirs(x)
    ours(x)
    k, g = [np.asarray(v) for v in theirs.losses], ours.losses
    assert len(g) == len(k)
    for a, b in zip(g, k):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    ours.compile(optimizer=gn.optimizers.SGD(learning_rate=0.1), loss="mse")
    np.testing.assert_allclose(ours.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0), rtol=1e-5)
    k = theirs.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    g = ours.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(g, k, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_drawn_model_called_again_in_another_keeps_its_terms(keras, rng):
    """base(x) of a drawn model replays its calls: its terms come along (they were dropped)."""
    x = rng.normal(size=(10, 3)).astype(np.float32)
    y = rng.normal(size=(10, 1)).astype(np.float32)
    keras.utils.set_random_seed(0)
    models = []
    for base, L, o, Input, Model in [(keras.Model, keras.layers, keras.ops, keras.Input, keras.Model),
                                     (gn.Model, gn.layers, ops, gn.Input, gn.Model)]:
        inner = _penalized(base, L, o)
        inner(x)                            # drawn (and built) before it is called again
        inputs = Input((3,))
        models.append(Model(inputs, L.Dense(1)(inner(inputs))))
    _fit_as_keras(keras, *models, x, y)


def test_nested_call_whose_output_is_unused_keeps_its_terms(keras, rng):
    """A layer called in a subclass' call for its terms alone (its output unused): Keras counts its
    losses and trains its weights through them; glassnet dropped both, the layer's weights too."""
    def make(base, L, o):
        class Aux(base):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.dense = L.Dense(2)

            def call(self, x):
                h = self.dense(x)
                self.add_loss(o.mean(o.square(h)))
                return h

        class Net(base):
            def __init__(self):
                super().__init__()
                self.hidden = L.Dense(4, activation="tanh")
                self.aux = Aux()
                self.out = L.Dense(1)

            def call(self, x):
                h = self.hidden(x)
                self.aux(h)             # its output unused, its term kept
                return self.out(h)
        return Net()
    x = rng.normal(size=(10, 3)).astype(np.float32)
    y = rng.normal(size=(10, 1)).astype(np.float32)
    keras.utils.set_random_seed(0)
    theirs = make(keras.Model, keras.layers, keras.ops)
    ours = make(gn.Model, gn.layers, ops)
    _fit_as_keras(keras, theirs, ours, x, y)
