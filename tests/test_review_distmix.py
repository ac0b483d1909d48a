"""Review (distmix): porting Keras' distillation, MLP-Mixer, gMLP and ConvMixer examples."""
import numpy as np
import pytest

import glassnet as gn


@pytest.mark.parametrize("numpy_call", [
    lambda x: np.transpose(x, (0, 2, 1)),      # keras.ops.transpose ported as NumPy
    lambda x: np.reshape(x, (2, 6)),
    lambda x: np.mean(x, axis=1),
    lambda x: np.asarray(x),
])
def test_numpy_function_on_an_input_names_what_to_use(numpy_call):
    # a drawn tensor already refuses NumPy's functions with glassnet's message; an Input gave
    # NumPy's own ("axes don't match array", "cannot reshape array of size 1"), having no
    # __array__: NumPy made a 0-d object array of it
    inputs = gn.Input((3, 4))
    with pytest.raises(TypeError, match="holds no values"):
        numpy_call(inputs)
    with pytest.raises(TypeError, match="holds no values"):
        numpy_call(gn.layers.Dense(4)(inputs))


def test_numpy_call_in_a_subclass_call_drawn_by_build_names_what_to_use():
    class Transposed(gn.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = gn.layers.Dense(4)

        def call(self, inputs):
            return self.dense(np.transpose(inputs, (0, 2, 1)))

    with pytest.raises(TypeError, match="holds no values"):
        Transposed().build((None, 4, 4))
