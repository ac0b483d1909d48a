"""Review of today's later docs, read and run as a Keras user would (docs38): the Keras guide
"Making new layers and models via subclassing" written with ``gn.Layer`` blocks: a block whose
``call`` returns its input unchanged (the guide's ActivityRegularizationLayer), and a weight
updated in ``call`` (the guide's ComputeSum)."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops
from test_review_guides import _activity_regularization     # the guide's two classes


class _PassThrough(gn.Layer):
    """Keras' identity block: ``call`` returns its input as it came."""
    def call(self, inputs):
        return inputs


def test_a_block_returning_its_input_trains_as_keras_in_a_sequential(keras):
    """A block whose call returns its input, first in a model, was refused ("got InputLayer; call
    only layers in call"): an Input is no layer's output. Keras 3.15 takes it as an identity."""
    rng = np.random.default_rng(0)
    x, y = rng.random((10, 3)).astype("float32"), rng.random((10, 2)).astype("float32")

    class KPassThrough(keras.layers.Layer):
        def call(self, inputs):
            return inputs

    theirs = keras.Sequential([keras.Input((3,)), KPassThrough(), keras.layers.Dense(2)])
    ours = gn.Sequential([gn.Input((3,)), _PassThrough(), gn.layers.Dense(2)])
    ours.set_weights(theirs.get_weights())
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    ours.compile(optimizer=gn.optimizers.SGD(0.1), loss="mse")
    expected = theirs.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
    got = ours.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    np.testing.assert_allclose(_PassThrough()(x), x)     # called alone, on arrays: x back


def test_the_guides_activity_regularization_layer_on_an_input_adds_its_term():
    """The guide's ActivityRegularizationLayer (add_loss of the input's mean, then ``return inputs``)
    called on an Input: its term reads the Input itself, which no weight changes. It was refused
    here; Keras lists it in ``losses`` and adds it to the loss, as glassnet now does (compared with
    Keras 3.15 in tests/test_review_guides.py)."""
    ActivityRegularizationLayer, OuterLayer = _activity_regularization(gn, ops)
    layer = OuterLayer()
    np.testing.assert_array_equal(layer(np.zeros((1, 1), "float32")), [[0.0]])
    assert [float(v) for v in layer.losses] == [0.0]
    inputs = gn.Input((3,))
    model = gn.Model(inputs, ActivityRegularizationLayer()(inputs))
    model(np.ones((2, 3), "float32"))
    np.testing.assert_allclose(model.losses, [0.01], rtol=1e-6)


@pytest.mark.parametrize("method", ["assign", "assign_add", "assign_sub"])
def test_a_weight_updated_in_call_is_refused_by_name_in_a_model(method):
    """The guide's ComputeSum updates its non-trainable weight in call
    (``self.total.assign_add(...)``), which a call drawn once cannot repeat: in a model refused by
    name, pointing to a Layer with forward (it was Python's "'CallWeight' object has no attribute").
    Called alone on arrays it runs eagerly, as Keras runs it (tests/test_review_guides.py)."""
    class ComputeSum(gn.Layer):
        def __init__(self, input_dim):
            super().__init__()
            self.total = self.add_weight(initializer="zeros", shape=(input_dim,), trainable=False)

        def call(self, inputs):
            getattr(self.total, method)(ops.sum(inputs, axis=-1))
            return inputs * self.total

    with pytest.raises(NotImplementedError, match=rf"\.{method}: .*draws a call once.*forward"):
        gn.Sequential([gn.Input((2,)), ComputeSum(2)]).predict(np.ones((2, 2), "float32"), verbose=0)
    expected = {"assign": 2.0, "assign_add": 2.0, "assign_sub": -2.0}[method]
    np.testing.assert_array_equal(ComputeSum(2)(np.ones((2, 2), "float32")), np.full((2, 2), expected))
