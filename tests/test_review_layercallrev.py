"""Review of Keras-style gn.Layer subclasses with call (drawn as models), against Keras 3.15."""
import numpy as np

import glassnet as gn
from glassnet import layers, ops


class ResBlockLCRev(gn.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.dense = layers.Dense(units, activation="tanh")
        self.norm = layers.LayerNormalization()

    def call(self, inputs):
        return self.norm(inputs + ops.sigmoid(self.dense(inputs)) * 0.5)


def _keras_resblock(keras):
    class KResBlock(keras.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.dense = keras.layers.Dense(units, activation="tanh")
            self.norm = keras.layers.LayerNormalization()

        def call(self, inputs):
            return self.norm(inputs + keras.ops.sigmoid(self.dense(inputs)) * 0.5)
    return KResBlock


def test_a_block_inside_a_built_model_has_its_weights_as_keras(keras):
    # Keras' block has its weights once the model holding it is built: block.get_weights(),
    # set_weights, count_params, weights lists. It was refused here, "not built yet"
    kblock = _keras_resblock(keras)(4, name="blk")
    kmodel = keras.Sequential([keras.Input((4,)), kblock, keras.layers.Dense(1)])
    block = ResBlockLCRev(4, name="blk")
    gmodel = gn.Sequential([gn.Input((4,)), block, layers.Dense(1)])
    gmodel.set_weights(kmodel.get_weights())
    assert block.count_params() == kblock.count_params() == 28
    assert [w.shape for w in block.get_weights()] == [tuple(w.shape) for w in kblock.get_weights()]
    for a, b in zip(block.get_weights(), kblock.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert len(block.weights) == len(kblock.weights) == 4
    # set_weights on the block reaches the model it is in, as in Keras
    new = [w + 0.25 for w in kblock.get_weights()]
    kblock.set_weights(new)
    block.set_weights(new)
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(gmodel.predict(x, verbose=0), kmodel.predict(x, verbose=0), atol=1e-5)
    kblock.dense.trainable = block.dense.trainable = False
    assert len(block.trainable_weights) == len(kblock.trainable_weights) == 2
    assert len(block.non_trainable_weights) == len(kblock.non_trainable_weights) == 2
    assert block.non_trainable_weights[0] is block.dense.params["kernel"]


def test_time_distributed_wraps_a_block_and_other_wrappers_refusing_it_say_why():
    # Keras' TimeDistributed wraps a Layer subclass with call (a model here): it runs it on every
    # step (tests/test_timedistributed_model.py); a wrapper of one layer still says why it refuses
    import numpy as np
    import pytest
    model = gn.Sequential([gn.Input((3, 4)), layers.TimeDistributed(ResBlockLCRev(4))], seed=0)
    assert model.predict(np.ones((2, 3, 4), "float32")).shape == (2, 3, 4)
    with pytest.raises(TypeError, match=r"ResBlockLCRev is a model \(a gn.Layer with call and no forward is drawn as "
                                        r"one\), which SpectralNormalization does not wrap"):
        layers.SpectralNormalization(ResBlockLCRev(4))
