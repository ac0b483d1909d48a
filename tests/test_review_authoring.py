"""Writing a layer of your own (review): the base class's errors for Keras habits, add_weight's
checks, gradcheck's contract check and a replaced gradient of the wrong shape in training."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import gradcheck
from glassnet.gradcheck import GradientCheckError


class _Square(gn.Layer):
    def forward(self, x, training=False):
        self.x = x
        return x ** 2

    def backward(self, grad_output):
        return 2 * self.x * grad_output


def test_a_backward_that_modifies_grad_output_fails_check_layer():
    # the design contract says backward must not modify grad_output (a branch point of a functional
    # model hands the same array to several layers); check_layer passed it, as it hands a copy
    class InPlace(_Square):
        def backward(self, grad_output):
            grad_output *= 2 * self.x
            return grad_output

    x = np.random.default_rng(0).standard_normal((3, 4))
    assert gradcheck.check_layer(_Square(dtype="float64"), x)["max_error"] < 1e-7
    with pytest.raises(GradientCheckError, match=r"layer InPlace: backward modified grad_output in place"):
        gradcheck.check_layer(InPlace(dtype="float64"), x)


def test_a_replaced_gradient_of_the_wrong_shape_is_refused_in_training():
    # self.grads["b"] = g.sum() (for g.sum(axis=0)) was broadcast into the bias's flat view: every
    # entry stepped by the same total, training silently wrong
    class Bias(gn.Layer):
        def build(self, input_shape):
            self.add_weight("b", input_shape, "zeros")
            super().build(input_shape)

        def forward(self, x, training=False):
            return x + self.params["b"]

        def backward(self, grad_output):
            self.grads["b"] = grad_output.sum()
            return grad_output

    model = gn.Sequential([gn.layers.Input((3,)), Bias(name="bias")], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    x, y = np.zeros((4, 3), "float32"), np.tile(np.float32([1, 2, 3]), (4, 1))
    with pytest.raises(ValueError, match=r"layer bias \(Bias\): its gradient 'b' was replaced by an array of "
                                         r"shape \(\), expected the weight's shape \(3,\)"):
        model.fit(x, y, epochs=1, batch_size=4, verbose=0)


def test_a_replaced_gradient_of_the_right_shape_still_trains():
    class GoodBias(gn.Layer):
        def build(self, input_shape):
            self.add_weight("b", input_shape, "zeros")
            super().build(input_shape)

        def forward(self, x, training=False):
            return x + self.params["b"]

        def backward(self, grad_output):
            self.grads["b"] = grad_output.sum(axis=0)
            return grad_output

    model = gn.Sequential([gn.layers.Input((3,)), GoodBias()], seed=0)
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(learning_rate=0.1))
    x, y = np.zeros((4, 3), "float32"), np.tile(np.float32([1, 2, 3]), (4, 1))
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    # mse's gradient at 0: -2 y / 3 per sample, averaged over the batch
    np.testing.assert_allclose(model.layers[0].params["b"], 0.1 * 2 / 3 * np.float32([1, 2, 3]), rtol=1e-6)


def test_add_weight_refuses_a_name_it_has_already():
    # the second weight replaced the first in params: a weight vanished without a word
    class Two(gn.Layer):
        def build(self, input_shape):
            self.add_weight("w", input_shape, "ones")
            self.add_weight("w", input_shape, "zeros")
            super().build(input_shape)

    with pytest.raises(ValueError, match=r"layer Two: add_weight: a weight named 'w' exists already"):
        Two().build((3,))


@pytest.mark.parametrize("call, message", [
    (lambda layer: layer.add_weight("w", 3, "zeros"),
     r"layer Layer: add_weight: 'w': shape must be a tuple of non-negative integers such as \(3,\) or \(4, 3\), got 3"),
    (lambda layer: layer.add_weight("w", "3", "zeros"), r"shape must be a tuple .*got '3'"),
    (lambda layer: layer.add_weight("w", (2.5,), "zeros"), r"shape must be a tuple .*got \(2.5,\)"),
    # Keras' order starts with shape: the shape went in as the name
    (lambda layer: layer.add_weight((3,), "zeros", "ones"),
     r"add_weight: name must be a string, got \(3,\); the order is add_weight\(name, shape, initializer\)"),
])
def test_add_weight_names_a_bad_name_or_shape(call, message):
    with pytest.raises(TypeError, match=message):
        call(gn.Layer())


def test_build_with_keras_batch_shape_names_the_layer_and_the_sample_shape():
    # PReLU().build((None, 5)): "int() argument must be ... not 'NoneType'", naming nothing; called by
    # code of yours, a built-in build now reads Keras' batch axis (tests/test_kvars.py); a None
    # within the sample still fails naming the layer and the shape
    for layer in (gn.layers.PReLU(), gn.layers.Reshape((5, 1))):
        layer.build((None, 5))
        assert layer.input_shape == (5,)
        with pytest.raises(ValueError, match=rf"layer {type(layer).__name__}: needs every axis of its input sized, "
                                             r"got samples of shape \(None, 5, None\)"):
            type(layer)(*(((5, 1),) if isinstance(layer, gn.layers.Reshape) else ())).build((None, 5, None))
    prelu = gn.layers.PReLU()
    prelu.build((5,))               # the sample shape builds, as before
    assert prelu.params["alpha"].shape == (5,)


def test_a_layer_with_keras_call_says_glassnet_runs_forward_and_backward():
    # a Keras habit: NotImplementedError("KerasStyle.forward") said nothing of why
    # a Layer with call and no forward is drawn as a glassnet.Model now (glassnet._call_layers, tests/
    # test_layer_call.py): it computes; one whose base is a layer of yours (not Layer) still says so
    class KerasStyle(gn.Layer):
        def call(self, inputs):
            return inputs * 2

    np.testing.assert_allclose(KerasStyle()(np.ones((2, 3))), 2 * np.ones((2, 3)))

    # on a base of one's own without forward, it is drawn too (glassnet._call_bases)
    class Base(gn.Layer):
        pass

    class KerasStyleOnBase(Base):
        def call(self, inputs):
            return inputs * 2

    np.testing.assert_allclose(KerasStyleOnBase()(np.ones((2, 3))), 2 * np.ones((2, 3)))

    # on a layer of one's own that computes in forward, call would be ignored (the forward ran,
    # silently): refused when the class is made
    class Doubling(gn.Layer):
        def forward(self, x, training=False):
            return x * 2

        def backward(self, grad_output):
            return grad_output * 2

    with pytest.raises(TypeError, match=r"Tripling: defines call\(\), Keras' method, but inherits forward from "
                                        r"Doubling, which glassnet runs instead"):
        class Tripling(Doubling):
            def call(self, inputs):
                return inputs * 3
