"""What walking today's documentation as a user found (the docwalk43 review), against Keras 3.15."""
import numpy as np

import glassnet as gn


def test_weight_attribute_path_keeps_name_scope_like_keras(keras):
    # docs/utilities.md: a layer built or first drawn in a gn.name_scope keeps the scope in its
    # Keras weight paths; layer.kernel.path is Keras' variable.path, which has it
    with gn.name_scope("blk"), keras.name_scope("blk"):
        dense, kdense = gn.layers.Dense(2, name="d"), keras.layers.Dense(2, name="d")
        dense.build((None, 3))
        kdense.build((None, 3))
        x, kx = gn.Input((3,)), keras.Input((3,))
        drawn, kdrawn = gn.layers.Dense(1, name="e"), keras.layers.Dense(1, name="e")
        y, ky = drawn(x), kdrawn(kx)
    assert dense.kernel.path == kdense.kernel.path == "blk/d/kernel"
    assert dense.bias.path == kdense.bias.path
    gn.Model(x, y), keras.Model(kx, ky)     # (glassnet builds a drawn layer with its model)
    assert drawn.kernel.path == kdrawn.kernel.path == "blk/e/kernel"
    # outside any scope: the layer's name first, as before
    plain = gn.layers.Dense(2, name="p")
    plain.build((None, 3))
    assert plain.kernel.path == "p/kernel"
    assert np.shares_memory(plain.kernel.value, plain.params["kernel"])
