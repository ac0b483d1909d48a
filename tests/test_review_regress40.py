"""Regression differential of today's changes (review regress40): silent differences from
yesterday's code that today's changes did not intend, each checked against Keras 3.15."""
import numpy as np
import pytest

import glassnet as gn


def _int_images(rng):
    images = rng.integers(1_000_000, 9_000_000, size=(2, 6, 7, 1)).astype(np.int32)
    images[0, :2] = 5_000_000           # (an exact value read with weight 1 must come back as it)
    return images


@pytest.mark.parametrize("transform", [[1, 0, 0, 0, 1, 0, 0, 0], [1, 0, 1, 0, 1, -1, 0, 0],
                                       [-1, 0, 6, 0, 1, 0, 0, 0]])
def test_affine_transform_large_int32_values_as_keras(keras, transform):
    # the truncation's snap of values an ulp short of an integer scaled every value by 1 + 8 eps:
    # an int32 image's 5_000_000 read through the identity came back 5_000_005 (TF: 5_000_000)
    images = _int_images(np.random.default_rng(0))
    ours = gn.ops.image.affine_transform(images, transform)
    theirs = np.asarray(keras.ops.image.affine_transform(images, np.asarray(transform, np.float32)))
    assert ours.dtype == np.int32
    np.testing.assert_array_equal(ours, theirs)


def test_perspective_transform_large_int32_values_as_keras(keras):
    images = _int_images(np.random.default_rng(1))
    corners = np.array([[[0, 0], [6, 0], [0, 5], [6, 5]]], np.float32)
    ours = gn.ops.image.perspective_transform(images, corners, corners)
    theirs = np.asarray(keras.ops.image.perspective_transform(images, corners, corners))
    np.testing.assert_array_equal(ours, theirs)


def test_affine_transform_uint8_still_truncates_as_keras(keras):
    # the snap kept: values an ulp short of an integer are that integer, the rest truncated
    rng = np.random.default_rng(2)
    for _ in range(4):
        images = rng.integers(0, 256, size=(3, 9, 8, 2)).astype(np.uint8)
        transform = np.concatenate([rng.uniform(-0.3, 0.3, (3, 6)) + [1, 0, 0, 0, 1, 0], np.zeros((3, 2))], 1)
        transform = transform.astype(np.float32)
        for fill in (0, 2):
            ours = gn.ops.image.affine_transform(images, transform, fill_value=fill)
            theirs = np.asarray(keras.ops.image.affine_transform(images, transform, fill_value=fill))
            np.testing.assert_array_equal(ours, theirs)
