"""Review of the dict form {"images", "labels", "segmentation_masks"} (segmentation.py): refusals
that leave the generator where it was, a fill_value the masks' dtype cannot hold, and an
unbatched image named as such."""
import numpy as np
import pytest

from glassnet import layers as L


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (3, 6, 6, 3)).astype(np.float32)
    masks = rng.integers(0, 4, (3, 6, 6, 1)).astype(np.int32)
    return images, masks


REFUSED_AFTER_NOTHING_DRAWN = [
    ("mixup-int-masks", lambda: L.MixUp(seed=0), lambda m: {"segmentation_masks": m}, TypeError),
    ("mixup-int-labels", lambda: L.MixUp(seed=0), lambda m: {"labels": np.arange(3)}, TypeError),
    ("mixup-label-rows", lambda: L.MixUp(seed=0), lambda m: {"labels": np.eye(2)}, ValueError),
    ("cutmix-int-labels", lambda: L.CutMix(seed=0), lambda m: {"labels": np.arange(3)}, TypeError),
    ("augmix-int-masks", lambda: L.AugMix(value_range=(0, 1), seed=0), lambda m: {"segmentation_masks": m}, TypeError),
    ("pipeline-mixup-int-masks", lambda: L.Pipeline([L.RandomFlip(), L.MixUp()], seed=0),
     lambda m: {"segmentation_masks": m}, TypeError),
    ("pipeline-cutmix-int-labels", lambda: L.Pipeline([L.RandomRotation(0.2), L.CutMix()], seed=0),
     lambda m: {"labels": np.arange(3)}, TypeError),
    ("translation-fill", lambda: L.RandomTranslation(0.3, 0.3, fill_mode="constant", fill_value=-1.0, seed=0),
     lambda m: {"segmentation_masks": m.astype(np.uint8)}, ValueError),
]


@pytest.mark.parametrize("make,extra,error", [c[1:] for c in REFUSED_AFTER_NOTHING_DRAWN],
                         ids=[c[0] for c in REFUSED_AFTER_NOTHING_DRAWN])
def test_a_refused_dict_call_draws_nothing(make, extra, error, data):
    # the labels or masks a mixing layer cannot mix are refused before the images' draws: the
    # next call draws what a fresh layer of the same seed draws (it drew one batch ahead before)
    images, masks = data
    layer = make()
    with pytest.raises(error):
        layer({"images": images, **extra(masks)})
    np.testing.assert_array_equal(layer(images), make()(images))


@pytest.mark.parametrize("fill_value,dtype", [(-1.0, np.uint8), (300.0, np.uint8), (2.5, np.int32), (7.0, np.bool_),
                                              (1e5, np.float16)])
@pytest.mark.parametrize("make", [
    lambda f: L.RandomTranslation((0.5, 0.5), 0.0, fill_mode="constant", fill_value=f, seed=0),
    lambda f: L.RandomPerspective(factor=(1, 1), fill_value=f, seed=0),
    lambda f: L.RandomElasticTransform(factor=(1, 1), fill_mode="constant", fill_value=f, value_range=(0, 1), seed=0),
    lambda f: L.Resizing(3, 6, pad_to_aspect_ratio=True, fill_value=f),
], ids=["translation", "perspective", "elastic", "resizing-pad"])
def test_a_fill_value_the_masks_cannot_hold_is_refused(make, fill_value, dtype, data):
    # uint8 masks filled with -1 came out 255, with 300 came out 44 (a class out of nowhere), int
    # masks with 2.5 came out 2, boolean ones with 7 True: silently another value than asked
    images, masks = data
    layer = make(fill_value)
    with pytest.raises(ValueError, match=r"fill_value=.* cannot be held by the segmentation_masks' dtype"):
        layer({"images": images, "segmentation_masks": masks.astype(dtype)})


@pytest.mark.parametrize("make", [
    lambda: L.RandomTranslation((0.5, 0.5), 0.0, fill_mode="constant", fill_value=255.0, seed=0),
    lambda: L.RandomTranslation((0.5, 0.5), 0.0, fill_mode="reflect", fill_value=-1.0, seed=0),   # no fill read
    lambda: L.Resizing(3, 6, pad_to_aspect_ratio=True, fill_value=255.0),
    lambda: L.Resizing(3, 6, fill_value=-1.0),                                                # no pad
])
def test_a_fill_value_the_masks_hold_or_never_read_is_taken(make, data):
    images, masks = data
    out = make()({"images": images, "segmentation_masks": masks.astype(np.uint8)})
    assert out["segmentation_masks"].dtype == np.uint8
    assert set(np.unique(out["segmentation_masks"])) <= set(np.unique(masks)) | {255}


@pytest.mark.parametrize("masks_shape", [(6, 6, 1), (6, 6)])
def test_an_unbatched_image_is_named_as_such(masks_shape, data):
    # Keras' dict takes one image unbatched; glassnet's error blamed the masks, calling the
    # image's (height, width, channels) "the images' batch, height and width"
    images, _ = data
    with pytest.raises(ValueError, match=r"^RandomFlip: images must be \(batch, height, width, channels\) .*got "
                                         r"shape \(6, 6, 3\).*images\[None\].*segmentation_masks\[None\]"):
        L.RandomFlip()({"images": images[0], "segmentation_masks": np.zeros(masks_shape)})
