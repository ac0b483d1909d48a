"""Review of the last three merges: weight attributes (self.w = add_weight(...)) of a layer shared
by two models."""
import numpy as np
import pytest

import glassnet as gn
from test_review_ports import AttributeLinear, ParamsLinear, _data


def test_a_weight_attribute_of_a_layer_shared_by_two_models_follows_the_model_training_it():
    # the second model's flatten pointed self.w at its buffer; the first model's training
    # re-attached params["w"] to its own buffer but left self.w on the other one, so forward
    # read weights that never moved (loss 0.70, 0.70, 0.69 where params-reading gives 0.59, 0.39, 0.30)
    x, y = _data()

    def history(cls):
        shared = cls(4)
        first = gn.Sequential([gn.Input((3,)), shared, gn.layers.Dense(1, activation="sigmoid")], seed=0)
        first.compile(loss="binary_crossentropy", optimizer=gn.optimizers.SGD(learning_rate=0.5))
        second = gn.Sequential([gn.Input((3,)), shared, gn.layers.Dense(1, activation="sigmoid")], seed=1)
        second.compile(loss="binary_crossentropy", optimizer=gn.optimizers.SGD(learning_rate=0.5))
        losses = first.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0).history["loss"]
        return losses, shared, first

    ported, layer, model = history(AttributeLinear)
    expected, _, reference = history(ParamsLinear)
    np.testing.assert_allclose(ported, expected, rtol=1e-5)
    np.testing.assert_allclose(model.predict(x, verbose=0), reference.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert layer.w is layer.params["w"] and layer.b is layer.params["b"]


def test_compute_output_shape_without_the_batch_axis_is_refused_naming_the_layer():
    # (units,) for (None, 3) read as batch 4 and sample shape (): the Dense after it then refused
    # "expected input samples of shape (features,) ..., got ()", naming the Dense
    class NoBatch(AttributeLinear):
        output_shape = gn.Layer.output_shape

        def compute_output_shape(self, input_shape):
            return (self.units,)

    with pytest.raises(TypeError, match=r"no_batch.*compute_output_shape returned \(4,\)"):
        gn.Sequential([gn.Input((3,)), NoBatch(4, name="no_batch"), gn.layers.Dense(1)])
