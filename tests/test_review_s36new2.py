"""Review s36new2: the activations' Keras settings (relu's, and functools.partial of a built-in
function given as a layer's activation) refused by the function's own name, saying what to write."""
import functools

import numpy as np
import pytest

import glassnet as gn

A = gn.activations


# (a negative threshold is Keras' function's formula since session 46: tests/test_keras_args46.py;
# the layer still refuses it, as Keras' layer does)
@pytest.mark.parametrize("settings, argument", [({"threshold": -1.0, "max_value": -2.0}, "max_value"),
                                                ({"negative_slope": -0.5}, "negative_slope"),
                                                ({"max_value": -1.0}, "max_value")])
def test_relu_refuses_negative_settings_by_its_own_name(settings, argument):
    # the message named the ReLU layer ("ReLU: threshold ..."), which the caller of
    # activations.relu never made; the backward function refuses them the same way
    z = np.array([-2.0, 0.5, 3.0])
    with pytest.raises(ValueError, match=rf"^relu: {argument} must be a finite number >= 0"):
        A.relu(z, **settings)
    with pytest.raises(ValueError, match=rf"^backprop_relu: {argument} must be a finite number >= 0"):
        A.backprop_relu(np.ones(3), z, z, **settings)
    # the layer keeps its own name
    with pytest.raises(ValueError, match=rf"^ReLU: {argument}"):
        gn.layers.ReLU(**settings)


@pytest.mark.parametrize("partial, written", [
    (functools.partial(A.relu, max_value=6.0), "partial(relu, max_value=6.0), partial(backprop_relu, max_value=6.0)"),
    (functools.partial(A.leaky_relu, negative_slope=0.2),
     "partial(leaky_relu, negative_slope=0.2), partial(backprop_leaky_relu, negative_slope=0.2)"),
    (functools.partial(A.softmax, axis=1), "partial(softmax, axis=1), partial(backprop_softmax, axis=1)"),
])
def test_a_partial_of_a_builtin_function_is_refused_saying_what_to_write(partial, written):
    # Keras' activation=functools.partial(keras.activations.relu, max_value=6.0): the error listed
    # the names and said "got functools.partial(<function relu at 0x...>, ...)", not how to port it
    for make in (lambda: gn.layers.Dense(3, activation=partial), lambda: gn.layers.Activation(partial)):
        with pytest.raises(ValueError, match=r"activation: .*" + written.replace("(", r"\(").replace(")", r"\)")):
            make()
    # what it says to write works, and computes the partial's values
    name = partial.func.__name__
    act = A.Activation(f"{name}_mine", functools.partial(getattr(A, name), **partial.keywords),
                       functools.partial(getattr(A, "backprop_" + name), **partial.keywords))
    x = np.array([[-3.0, 0.5, 8.0]], dtype=np.float32)
    np.testing.assert_array_equal(gn.layers.Activation(act)(x), partial(x))


def test_a_partial_binding_nothing_is_the_function_itself():
    # functools.partial(relu) is relu (Keras runs it so); it was refused as an unknown callable
    assert gn.layers.Dense(3, activation=functools.partial(A.relu)).activation is A.get("relu")
    assert A.get(functools.partial(A.softmax)) is A.get("softmax")
