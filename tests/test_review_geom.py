"""Review of the geometric image layers: images of no channels through the shared sampler (Keras
3.15 returns them as they are), and Resizing's pad refusing a fill_value its dtype cannot hold
(as the augmentation layers refuse one)."""
import numpy as np
import pytest

from glassnet import layers


def _keras():
    return pytest.importorskip("keras", reason="Keras oracle not installed")


@pytest.mark.parametrize("make", [lambda: layers.RandomRotation(0.2, seed=0),
                                  lambda: layers.RandomTranslation(0.2, 0.3, fill_mode="constant", seed=0),
                                  lambda: layers.RandomPerspective((1.0, 1.0), seed=0),
                                  lambda: layers.RandomElasticTransform((1.0, 1.0), value_range=(0, 1), seed=0)],
                         ids=["rotation", "translation", "perspective", "elastic"])
def test_images_of_no_channels_pass_through_the_sampler_and_its_backward(make):
    layer = make()
    x = np.ones((2, 4, 5, 0), np.float32)
    out = layer(x, training=True)
    assert out.shape == (2, 4, 5, 0)
    assert layer.backward(np.ones_like(out)).shape == (2, 4, 5, 0)


def test_keras_rotates_images_of_no_channels_to_the_same_shape():
    keras = _keras()
    x = np.ones((2, 4, 5, 0), np.float32)
    theirs = np.asarray(keras.layers.RandomRotation(0.2, seed=0)(x, training=True))
    assert layers.RandomRotation(0.2, seed=0)(x, training=True).shape == theirs.shape


def test_resizing_refuses_a_pad_fill_value_beyond_its_dtype_by_name():
    x = np.arange(4.0, dtype=np.float32).reshape(1, 4, 1, 1)
    with pytest.raises(ValueError, match="fill_value=1e\\+39 is beyond the range of its dtype float32"):
        layers.Resizing(2, 3, pad_to_aspect_ratio=True, fill_value=1e39)(x)
    # float64 holds it: the pad columns are the fill value itself, the image's middle as before
    out = layers.Resizing(2, 3, pad_to_aspect_ratio=True, fill_value=1e39, dtype="float64")(x)[0, :, :, 0]
    np.testing.assert_array_equal(out, [[1e39, 0.5, 1e39], [1e39, 2.5, 1e39]])
    # without a pad the fill value is never read: nothing to refuse
    assert np.isfinite(layers.Resizing(2, 3, fill_value=1e39)(x)).all()
