"""Keras' example programs ported to glassnet, round 3f (keras.io: imbalanced classification of
credit-card fraud, its metrics with sample weights, the gated residual and variable selection
networks, speaker recognition): what the ports met.

The variable selection network is a layer holding layers whose ``call`` takes Keras' dict of
structured-data features by name; ported as a subclass of ``gn.Model`` called inside a functional
Model on its dict of Inputs, it was refused ("takes the keys [], got ['a', 'b']"): a subclass not
drawn yet is now drawn there on the dict, as it already was on a tensor or a list of them."""
import numpy as np

import glassnet as gn

L = gn.layers


class _SelectPorts3f(gn.Model):
    """A call on a dict of features by name, as the variable selection network's: each feature
    projected alone, then the projections joined and mixed."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.proj = {"a": L.Dense(3), "b": L.Dense(3)}
        self.mix = L.Dense(2, activation="tanh")

    def call(self, inputs):
        return self.mix(L.concatenate([self.proj[key](inputs[key]) for key in sorted(inputs)]))


def _data(rng):
    return {"a": rng.normal(size=(6, 2)).astype("float32"), "b": rng.normal(size=(6, 1)).astype("float32")}


def test_a_subclass_called_on_a_dict_of_tensors_is_drawn_as_keras_layer_is(keras, rng):
    inputs = {"a": gn.Input((2,), name="a"), "b": gn.Input((1,), name="b")}
    select, head = _SelectPorts3f(), L.Dense(1)
    model = gn.Model(inputs, head(select(inputs)), seed=0)

    class KSelect(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.proj = {"a": keras.layers.Dense(3), "b": keras.layers.Dense(3)}
            self.mix = keras.layers.Dense(2, activation="tanh")

        def call(self, inputs):
            return self.mix(keras.layers.concatenate([self.proj[key](inputs[key]) for key in sorted(inputs)]))

    kinputs = {"a": keras.Input((2,), name="a"), "b": keras.Input((1,), name="b")}
    kselect, khead = KSelect(), keras.layers.Dense(1)
    kmodel = keras.Model(kinputs, khead(kselect(kinputs)))
    for ours, theirs in [(select.proj["a"], kselect.proj["a"]), (select.proj["b"], kselect.proj["b"]),
                         (select.mix, kselect.mix), (head, khead)]:
        ours.set_weights(theirs.get_weights())
    x, y = _data(rng), rng.normal(size=(6, 1)).astype("float32")
    np.testing.assert_allclose(model.predict(x), kmodel.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(0.1))
    kmodel.compile(loss="mse", optimizer=keras.optimizers.SGD(0.1))
    ours = model.fit(x, y, batch_size=3, epochs=2, shuffle=False, verbose=0).history["loss"]
    theirs = kmodel.fit(x, y, batch_size=3, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)


def test_a_subclass_drawn_on_a_dict_of_tensors_saves_and_loads(tmp_path, rng):
    inputs = {"a": gn.Input((2,), name="a"), "b": gn.Input((1,), name="b")}
    model = gn.Model(inputs, L.Dense(1)(_SelectPorts3f()(inputs)), seed=0)
    x = _data(rng)
    model.save(tmp_path / "m.npz")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "m.npz").predict(x), model.predict(x))
