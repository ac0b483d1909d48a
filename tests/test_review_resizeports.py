"""Review of the resizing layers through ports of keras.io's "Learning to Resize in Computer Vision"
and "Image Super-Resolution using an Efficient Sub-Pixel CNN" (see the report): what the ports met."""
import numpy as np
import pytest

import glassnet as gn


@pytest.mark.parametrize("layer", [gn.layers.Resizing(3, 3, interpolation="area"), gn.layers.CenterCrop(3, 3),
                                   gn.layers.RandomCrop(3, 3, seed=0)])
def test_a_single_image_is_refused_saying_to_add_the_batch_axis(layer):
    # a port of tf.image.resize(image, ...) on one (height, width, channels) image, as keras.io's
    # super-resolution data preparation calls it: the error must say what to do (it said only that
    # it got "(batch, 9, 1)", the image's height taken for a batch), as the augmentation layers' say
    image = np.zeros((9, 9, 1), dtype=np.float32)
    with pytest.raises(ValueError, match=r"single image .* x\[None\]"):
        layer(image)
    assert layer(image[None]).shape == (1, 3, 3, 1)


def test_a_resizing_model_built_on_single_images_says_so():
    with pytest.raises(ValueError, match=r"x\[None\]"):
        gn.Sequential([gn.Input((9, 1)), gn.layers.Resizing(3, 3)])
