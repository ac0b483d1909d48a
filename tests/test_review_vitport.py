"""Found porting keras.io's "Image classification with Vision Transformer" to glassnet."""
import re

import numpy as np
import pytest

import glassnet as gn


def test_a_float64_models_layers_in_a_float32_model_are_told_the_models_dtype_to_give():
    # the README's feature extractor, gn.Model(model.input, model.get_layer(name).output), from a
    # float64 model: the new Model's default float32 refuses the float64 layers. The hint used to
    # tell the user to make the layer with dtype='float32' ("a layer built before it joins a model
    # takes float32 unless made with dtype='float32'"), which is not what happened nor the fix.
    i = gn.Input((4,))
    h = gn.layers.Dense(3, name="h")(i)
    model = gn.Model(i, gn.layers.Dense(2)(h), dtype="float64", seed=0)
    with pytest.raises(ValueError) as info:
        gn.Model(model.input, model.get_layer("h").output)
    message = str(info.value)
    assert "has dtype float64, the model float32" in message
    assert "dtype='float32'" not in message
    assert re.search(r"Model\(\.\.\., dtype='float64'\)", message)
    features = gn.Model(model.input, model.get_layer("h").output, dtype="float64")
    assert features.predict(np.ones((2, 4))).dtype == np.float64
