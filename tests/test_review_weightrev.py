"""Review of add_weight in drawn calls (glassnet._call_weights) against Keras 3.15."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops


@pytest.fixture(autouse=True)
def _fresh_names():
    yield
    gn.utils.clear_session()


def _two_input_block(module, kops):
    """A block of two inputs whose weights are read on the second only: the first feeds a branch
    that call discards (and the model's output does not depend on it)."""

    class Gate(module.layers.Layer):
        def build(self, input_shape):
            self.scale = self.add_weight(shape=(input_shape[1][-1],), initializer="random_normal", name="scale")
            self.mix = self.add_weight(shape=(input_shape[1][-1], 2), initializer="glorot_uniform", name="mix")

        def call(self, inputs):
            a, b = inputs
            a * 2.0                         # a branch leading nowhere
            return kops.matmul(b * self.scale, self.mix)

    return Gate


def _model(module, kops):
    a, b = module.layers.Input((3,)), module.layers.Input((4,))
    out = module.layers.Dense(1)(_two_input_block(module, kops)()([a, b]))
    return module.Model([a, b], out)


def test_weights_read_on_a_second_input_only_are_made_and_train_as_keras(keras, tmp_path):
    # the CallWeights node was put on the first input alone: with that input leading nowhere, the
    # graph dropped it, so set_weights(keras' weights) was refused (2 arrays expected, 4 given) and
    # the model failed at its first batch, "its weight 'scale' is not made yet"
    kmodel, gmodel = _model(keras, keras.ops), _model(gn, ops)
    assert [w.shape for w in gmodel.get_weights()] == [tuple(w.shape) for w in kmodel.get_weights()]
    assert gmodel.count_params() == kmodel.count_params()
    gmodel.set_weights(kmodel.get_weights())
    rng = np.random.default_rng(0)
    x = [rng.standard_normal((16, 3)).astype(np.float32), rng.standard_normal((16, 4)).astype(np.float32)]
    y = rng.standard_normal((16, 1)).astype(np.float32)
    np.testing.assert_allclose(gmodel.predict(x, verbose=0), kmodel.predict(x, verbose=0), atol=1e-5)
    kmodel.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    gmodel.compile(optimizer=gn.optimizers.SGD(0.1), loss="mse")
    fit = dict(batch_size=8, epochs=2, shuffle=False, verbose=0)
    expected, got = kmodel.fit(x, y, **fit).history["loss"], gmodel.fit(x, y, **fit).history["loss"]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    for g, k in zip(gmodel.get_weights(), kmodel.get_weights()):
        np.testing.assert_allclose(g, k, atol=1e-5)
    gmodel.save(tmp_path / "m.npz")
    np.testing.assert_allclose(gn.load_model(tmp_path / "m.npz").predict(x, verbose=0), gmodel.predict(x, verbose=0))
