"""Review of MixUp, CutMix and RandomElasticTransform: the bugs found, each a test that fails on
the code as it was submitted."""
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import CutMix, MixUp, Pipeline, RandomElasticTransform, RandomFlip


def test_a_pipeline_takes_the_dict_form_and_mixes_the_labels_as_keras():
    # Keras 3.15: Pipeline([RandomFlip(), MixUp()])({"images": x, "labels": y}) hands the dict to each
    # layer (Pipeline.call loops `data = layer(data, training=...)`), so the labels come out mixed.
    # glassnet refused the dict: "layer Pipeline: expected input of shape (batch, ...), got shape ()"
    images = np.ones((6, 3, 3, 1)) * np.arange(6.0)[:, None, None, None]        # each image one value
    labels = np.eye(6)
    pipeline = Pipeline([RandomFlip(), MixUp(1.0), MixUp(1.0)], seed=0)
    out = pipeline({"images": images, "labels": labels})
    assert set(out) == {"images", "labels"} and out["labels"].shape == (6, 6)
    assert np.any((out["labels"] > 0.01) & (out["labels"] < 0.99))
    # two mixes in turn: the images hold of each class exactly what the labels say
    np.testing.assert_allclose(out["images"][:, 0, 0, 0], out["labels"] @ np.arange(6.0), rtol=1e-5, atol=1e-5)
    # the labels are the second mix of the first, by the layers' own draws
    first, second = pipeline.layers[1]._drawn, pipeline.layers[2]._drawn
    w1, p1 = first["mix_weight"][:, None], first["permutation_order"]
    once = w1 * labels + (1 - w1) * labels[p1]
    w2, p2 = second["mix_weight"][:, None], second["permutation_order"]
    np.testing.assert_allclose(out["labels"], w2 * once + (1 - w2) * once[p2], rtol=1e-12)
    # outside training: the dict back, nothing mixed
    out = pipeline({"images": images, "labels": labels}, training=False)
    np.testing.assert_array_equal(out["images"], images.astype(np.float32))
    assert out["labels"] is labels
    # a pipeline without mixing layers passes the labels through, as Keras' flips do
    out = Pipeline([RandomFlip()], seed=0)({"images": images, "labels": labels})
    assert out["labels"] is labels
    with pytest.raises(ValueError, match=r"^Pipeline: a dict input takes the keys 'images'"):
        Pipeline([CutMix()])({"labels": labels})


@pytest.mark.parametrize("cls", [MixUp, CutMix, RandomElasticTransform])
def test_a_single_image_is_refused_with_a_message_that_says_what_to_do(cls):
    # Keras' three layers take one image (H, W, C) unbatched; glassnet's see batches, and said
    # "got shape (batch, 5, 3)" for a (5, 5, 3) image, as though the height were the batch
    with pytest.raises(ValueError, match=r"a single image \(height, width, channels\) takes a batch axis first, x\[None\]"):
        cls(seed=0)(np.ones((5, 5, 3)), training=True)


def test_elastic_keeps_no_sampling_where_no_backward_will_come():
    # RandomElasticTransform kept its sampling (index and weights of four neighbours, ~50 bytes a
    # pixel) after every training step, even first in a model where no input gradient is asked;
    # the geometric layers (_AffineImage) keep theirs only when needs_input_gradient
    x = np.random.default_rng(0).uniform(0, 1, (4, 24, 24, 1)).astype(np.float32)
    model = gn.Sequential([gn.Input((24, 24, 1)), RandomElasticTransform((1.0, 1.0), value_range=(0, 1)),
                           gn.layers.Flatten(), gn.layers.Dense(2)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    model.train_on_batch(x, np.zeros((4, 2), np.float32))
    layer = model.layers[0]
    assert layer._drawn["apply_transform"].all() and not layer.needs_input_gradient
    assert layer._sampling is None
    # where a gradient is asked, it is kept and still right (finite differences elsewhere)
    layer = RandomElasticTransform((1.0, 1.0), value_range=(0, 1), seed=0)
    layer.needs_input_gradient = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layer(x, training=True)
    assert layer._sampling is not None
