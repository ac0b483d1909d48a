"""Found porting Keras 3's guides "Making new layers and models via subclassing" and "Working with
preprocessing layers" to glassnet: what a Keras user writes there, and what glassnet must answer."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import CategoryEncoding, Dense, Input


@pytest.mark.parametrize("name", ["relu", "softmax", "log_softmax", "elu", "selu", "leaky_relu", "glu"])
def test_activation_function_on_a_symbolic_tensor_draws_it(name):
    # the guide's MLPBlock calls keras.activations.relu(x) in call: once refused by name (it was
    # "'SymbolicTensor' object has no attribute 'size'"), now drawn as glassnet.ops' function, as
    # Keras draws it on a KerasTensor, with the activation's own defaults
    inputs = Input((4,))
    data = np.array([[-2.0, -0.5, 0.5, 3.0]], dtype=np.float32)
    model = gn.Model(inputs, getattr(gn.activations, name)(inputs))
    np.testing.assert_allclose(model.predict(data, verbose=0), getattr(gn.activations, name)(data), rtol=1e-6)


def test_symbolic_tensor_keeps_hasattr_and_getattr_defaults():
    h = Dense(4)(Input((4,)))
    assert not hasattr(h, "size") and getattr(h, "nbytes", 0) == 0
    assert h.ndim == 2          # Keras' KerasTensor.ndim, the batch axis counted (an attribute since stop 46)


class _AddsLoss(gn.Layer):
    def forward(self, x, training=False):
        self.add_loss(1e-2 * x.mean())
        return x

    def backward(self, grad_output):
        return grad_output


def test_add_loss_is_refused_by_name_saying_what_to_use():
    # the guide's ActivityRegularizationLayer: an AttributeError on add_loss said nothing
    with pytest.raises(NotImplementedError, match="add_loss.*activity_regularizer"):
        _AddsLoss()(np.zeros((1, 1)))
    with pytest.raises(NotImplementedError, match="add_loss.*activity_regularizer"):
        gn.Sequential([Input((2,)), Dense(1)]).add_loss(0.0)


def test_category_encoding_takes_a_one_dimensional_array_as_keras():
    # Keras 3.15's docstring example: one_hot([3, 2, 0, 1]) is four one-hot rows (4, 4); the
    # other modes read a 1-D array as one sample (one vector), and a scalar as one value
    one_hot = CategoryEncoding(num_tokens=4, output_mode="one_hot")
    np.testing.assert_array_equal(one_hot([3, 2, 0, 1]), np.eye(4)[[3, 2, 0, 1]])
    np.testing.assert_array_equal(CategoryEncoding(4, output_mode="one_hot")(np.array(2)), [[0, 0, 1, 0]])
    np.testing.assert_array_equal(CategoryEncoding(4, output_mode="multi_hot")(np.array([0, 1, 1, 3])), [1, 1, 0, 1])
    np.testing.assert_array_equal(CategoryEncoding(4, output_mode="count")(np.array([0, 1, 1, 3])), [1, 2, 0, 1])
    np.testing.assert_array_equal(CategoryEncoding(4, output_mode="count")(np.array(2)), [0, 0, 1, 0])
    # (batch, k) as before
    np.testing.assert_array_equal(CategoryEncoding(4, output_mode="count")(np.array([[0, 1], [3, 3]])),
                                  [[1, 1, 0, 0], [0, 0, 0, 2]])
