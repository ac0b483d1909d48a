"""Review of RandomSharpness, Equalization, RandomColorJitter and RandAugment: regressions for the
bugs found (see the review report)."""
import warnings

import numpy as np
import pytest

from glassnet.layers import Pipeline, RandAugment, RandomColorJitter, RandomFlip
from glassnet.layers.rand_augment import OPERATIONS

NAMES = [name for name, _ in OPERATIONS]


def _saturated_images():
    x = np.random.default_rng(0).uniform(0, 255, (8, 16, 16, 3)).astype(np.float32)
    x[:, :4] = 255.0                                       # white and black areas, as in 8-bit photos
    x[:, -4:] = 0.0
    return x


def test_rand_augment_does_not_warn_about_images_inside_value_range():
    # seed 23 picks random_shear then random_posterization: the shear's bilinear weights sum to a
    # hair above 1, 255 comes back as 255.00002, and the posterization warned "the images' values
    # span [0, 255], outside its value_range (0.0, 255.0)" about images that were within it
    x = _saturated_images()
    layer = RandAugment(num_ops=2, seed=23)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer(x, training=True)
    assert [NAMES[k] for k in layer._drawn["layer_idxes"]] == ["random_shear", "random_posterization"]


def test_rand_augment_still_warns_once_about_images_outside_value_range():
    x = _saturated_images() / 255.0 * 300.0
    layer = RandAugment(num_ops=2, seed=0)
    with pytest.warns(UserWarning, match=r"RandAugment.*the images' values span \[0, 300\], outside its value_range"):
        layer(x, training=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                     # once, as the other layers
        layer(x, training=True)


def test_rand_augment_documents_keras_contrast_range():
    # Keras' RandomContrast (and glassnet's) given (lower, upper) draws from [1 - lower, 1 + upper]
    layer = RandAugment(num_ops=1, factor=(0.2, 0.6), seed=0)
    contrast = layer.operations[0][NAMES.index("random_contrast")]
    contrast(np.zeros((4000, 1, 1, 3), np.float32), training=True)
    c = contrast._drawn["contrast_factor"]
    assert c.min() < 0.81 and c.max() > 1.59
    assert "contrast in [1 + lower, 1 + upper]" not in RandAugment.__doc__


@pytest.mark.parametrize("make", [lambda: RandAugment(num_ops=2),
                                  lambda: RandomColorJitter(brightness_factor=0.2)], ids=["RandAugment", "RandomColorJitter"])
def test_a_pipeline_takes_rand_augment_and_color_jitter_as_keras_s_does(make):
    # keras.layers.Pipeline([RandomFlip(), RandAugment()]) works; glassnet's refused them as "wrappers"
    pipeline = Pipeline([RandomFlip("horizontal"), make()], seed=0)
    x = np.random.default_rng(0).uniform(0, 255, (2, 6, 6, 3)).astype(np.float32)
    assert pipeline(x).shape == x.shape


def test_a_model_with_such_a_pipeline_trains_saves_and_loads(tmp_path):
    import glassnet as gn
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (8, 8, 8, 3)).astype(np.float32)
    y = np.arange(8) % 2
    model = gn.Sequential([gn.Input((8, 8, 3)), gn.layers.Conv2D(3, 1),
                           Pipeline([RandomFlip(), RandAugment((0, 1), num_ops=3),
                                     RandomColorJitter((0, 1), brightness_factor=0.2, hue_factor=0.1)]),
                           gn.layers.Flatten(), gn.layers.Dense(1, activation="sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", optimizer="adam")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                     # the Conv2D's outputs leave (0, 1)
        model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    model.save(tmp_path / "pipeline.npz")
    loaded = gn.load_model(tmp_path / "pipeline.npz")
    assert loaded.layers[1].get_config() == model.layers[1].get_config()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
