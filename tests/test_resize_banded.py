"""The banded resize (glassnet.layers.banded): its bands hold the dense weight matrices' numbers bit
for bit, their transposes too; applied by the loop over taps they give the dense products' values
to float32 (and float64) rounding, forward and backward, for every interpolation, with and without
antialias, crops and pads, up and down, one-pixel axes; images holding inf or NaN skip zero weights
exactly; the gradients pass finite differences; Keras 3.15 agrees on images large enough to go the
banded way; and an 8000-pixel axis makes no 8000 x 8000 matrix."""
import tracemalloc

import numpy as np
import pytest

from glassnet.gradcheck import check_layer
from glassnet.layers import Resizing, UpSampling2D, banded
from glassnet.layers.banded import Band
from glassnet.layers.resizing import (FOLDER_INTERPOLATIONS, INTERPOLATIONS, _crop_or_pad, axis_band, axis_weights,
                                      resize, resize_backward)

EPS = {np.float32: np.finfo(np.float32).eps, np.float64: np.finfo(np.float64).eps}


def random_lengths(rng, count=12):
    """(in_len, out_len) pairs: one-pixel axes, equal lengths, and random ones up and down."""
    pairs = [(1, 1), (1, 6), (6, 1), (9, 9), (3, 26), (26, 3), (40, 7)]
    return pairs + [tuple(int(v) for v in rng.integers(1, 50, 2)) for _ in range(count)]


def force(monkeypatch, way):
    """Make every Band.apply take ``way``: "banded" (no axis is short enough for the dense product)
    or "dense" (every product is small enough)."""
    monkeypatch.setattr(banded, "DENSE_RATIO", 0 if way == "banded" else 10 ** 9)
    monkeypatch.setattr(banded, "DENSE_WORK", 10 ** 18)


def along(matrix, x, axis):
    """``matrix`` (out, in) applied along ``axis`` of x, in float64: the exact reference."""
    return np.moveaxis(np.tensordot(matrix, np.moveaxis(x, axis, 0), axes=1), 0, axis)


def rounding_bound(matrices, x, dtype):
    """How far a float ``dtype`` result of the matrices applied in turn (rows then columns) may lie
    from the exact one: each output a sum of at most ``taps`` products per pass, each product and
    each partial sum rounded once, the weights rounded to ``dtype`` (eps / 2 each): a few eps per
    term, times the sum of the terms' sizes."""
    terms = sum(int((m != 0).sum(axis=1).max()) for m, _ in matrices) + 2 * len(matrices)
    size = np.abs(x.astype(np.float64))
    for matrix, axis in matrices:
        size = along(np.abs(matrix), size, axis)
    return 2 * terms * EPS[dtype] * size + np.finfo(dtype).tiny


@pytest.mark.parametrize("antialias", [False, True])
@pytest.mark.parametrize("interpolation", FOLDER_INTERPOLATIONS)
def test_bands_hold_the_dense_matrices_bit_for_bit(interpolation, antialias, rng):
    for in_len, out_len in random_lengths(rng) + [(300, 17), (17, 300)]:
        band, dense = axis_band(interpolation, out_len, in_len, antialias), axis_weights(interpolation, out_len, in_len,
                                                                                         antialias)
        assert band.shape == dense.shape and band.weights.dtype == np.float64
        np.testing.assert_array_equal(band.dense(), dense)
        np.testing.assert_array_equal(band.T.dense(), dense.T)          # the transpose: the same numbers moved
        np.testing.assert_array_equal(band.T.T.dense(), dense)
        # every tap inside the image (the gather never clips), and no wider than the widest row
        assert (band.start >= 0).all() and (band.start + band.taps <= in_len).all()
        assert band.taps == max(1, max(np.ptp(np.flatnonzero(row)) + 1 if row.any() else 1 for row in dense))


def test_the_band_is_narrow_where_it_pays():
    # the 2000 -> 1000 bicubic resize: 6 taps of 2000 pixels, banded; a 32 -> 64 bilinear one dense
    band = axis_band("bicubic", 1000, 2000)
    assert band.taps <= 6 and band.weights.shape == (1000, band.taps)
    assert not band.prefers_dense((1, 2000, 2000, 3), 1) and not band.prefers_dense((1, 1000, 2000, 3), 2)
    assert axis_band("bilinear", 64, 32).prefers_dense((32, 32, 32, 3), 1)
    # a long axis of few pixels across: little work, but the dense matrix would be 4000 x 8000
    assert not axis_band("bilinear", 4000, 8000).prefers_dense((1, 8000, 1, 1), 1)
    # antialias widens the band with the downsizing factor: about 2 x radius x 4000 / 256 taps
    assert 30 <= axis_band("bilinear", 256, 4000, antialias=True).taps <= 34


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("interpolation", FOLDER_INTERPOLATIONS)
def test_banded_and_dense_products_agree_to_rounding(interpolation, dtype, rng):
    for antialias in (False, True):
        for in_len, out_len in random_lengths(rng):
            band = axis_band(interpolation, out_len, in_len, antialias)
            matrix = band.dense().astype(dtype).astype(np.float64)      # the weights as x's dtype holds them
            for axis, shape in ((1, (2, in_len, 3, 2)), (2, (2, 3, in_len, 2)), (0, (in_len,))):
                x = rng.normal(size=shape).astype(dtype)
                exact = along(matrix, x.astype(np.float64), axis)
                bound = rounding_bound([(matrix, axis)], x, dtype)
                for dense in (False, True):
                    out = band.apply(x, axis, dense=dense)
                    assert out.dtype == dtype and out.shape == exact.shape
                    assert (np.abs(out - exact) <= bound).all(), (interpolation, antialias, in_len, out_len, axis, dense)


SETTINGS = [dict(), dict(crop=True), dict(pad=True, fill_value=0.5)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("interpolation", FOLDER_INTERPOLATIONS)
def test_resize_and_its_gradient_banded_as_dense(monkeypatch, interpolation, dtype, rng):
    for antialias in (False, True):
        for k, ((h, height), (w, width)) in enumerate(zip(random_lengths(rng), random_lengths(rng)[::-1])):
            settings = SETTINGS[k % 3]
            x = rng.normal(size=(2, h, w, 2)).astype(dtype)
            g = rng.normal(size=(2, height, width, 2)).astype(dtype)
            results = {}
            for way in ("banded", "dense"):
                force(monkeypatch, way)
                out, cache = resize(x, height, width, interpolation, antialias=antialias, **settings)
                results[way] = out, resize_backward(g, cache, x.shape)
            # the exact references, from the dense matrices in float64 (the weights rounded to dtype)
            image, _ = _crop_or_pad(x, height, width, settings.get("crop", False), settings.get("pad", False),
                                    settings.get("fill_value", 0.0))
            rows = axis_weights(interpolation, height, image.shape[1], antialias).astype(dtype).astype(np.float64)
            columns = axis_weights(interpolation, width, image.shape[2], antialias).astype(dtype).astype(np.float64)
            exact = along(columns, along(rows, image.astype(np.float64), 1), 2)
            bound = rounding_bound([(rows, 1), (columns, 2)], image, dtype)
            exact_grad = along(rows.T, along(columns.T, g.astype(np.float64), 2), 1)
            grad_bound = rounding_bound([(columns.T, 2), (rows.T, 1)], g, dtype)
            if settings.get("crop"):          # the gradient of the cut edges is 0: the box put back in place
                box = _crop_or_pad(np.arange(h * w).reshape(1, h, w, 1), height, width, True, False, 0)[0].ravel()
                full, full_bound = np.zeros(x.shape), np.zeros(x.shape)
                full.reshape(2, h * w, 2)[:, box] = exact_grad.reshape(2, -1, 2)
                full_bound.reshape(2, h * w, 2)[:, box] = grad_bound.reshape(2, -1, 2)
                exact_grad, grad_bound = full, full_bound + np.finfo(dtype).tiny
            elif settings.get("pad"):         # the fill's gradient dropped
                top, left = (image.shape[1] - h) // 2, (image.shape[2] - w) // 2
                exact_grad = exact_grad[:, top:top + h, left:left + w]
                grad_bound = grad_bound[:, top:top + h, left:left + w]
            for way, (out, grad) in results.items():
                where = f"{way} {interpolation} {antialias} {(h, w)} -> {(height, width)} {settings}"
                assert out.dtype == dtype and grad.dtype == dtype and grad.shape == x.shape, where
                assert (np.abs(out - exact) <= bound).all(), where
                assert (np.abs(grad - exact_grad) <= grad_bound).all(), where


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_banded_gradients_by_finite_differences(monkeypatch, interpolation, rng):
    force(monkeypatch, "banded")
    for antialias in (False, True):
        for shape, (th, tw), crop in (((7, 5, 2), (4, 9), False), ((6, 9, 1), (4, 4), True), ((1, 4, 1), (3, 1), False)):
            layer = Resizing(th, tw, interpolation=interpolation, antialias=antialias, crop_to_aspect_ratio=crop,
                             dtype="float64")
            report = check_layer(layer, rng.normal(size=(2, *shape)))
            assert report["max_error"] < 1e-6 and "input" in report["errors"]


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic", "area", "lanczos3", "lanczos5"])
def test_upsampling2d_banded_as_dense(monkeypatch, interpolation, rng):
    x = rng.normal(size=(2, 5, 3, 2)).astype(np.float32)
    g = rng.normal(size=(2, 10, 9, 2)).astype(np.float32)
    results = []
    for way in ("banded", "dense"):
        force(monkeypatch, way)
        layer = UpSampling2D((2, 3), interpolation=interpolation)
        results.append((layer(x), layer.backward(g)))
    (out, grad), (dense_out, dense_grad) = results
    np.testing.assert_allclose(out, dense_out, rtol=0, atol=4e-6)
    np.testing.assert_allclose(grad, dense_grad, rtol=0, atol=2e-5)
    force(monkeypatch, "banded")
    layer = UpSampling2D((2, 3), interpolation=interpolation, dtype="float64")
    assert check_layer(layer, rng.normal(size=(2, 4, 3, 2)))["max_error"] < 1e-6


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic", "lanczos5", "area"])
def test_images_with_inf_and_nan_skip_zero_weights(interpolation, rng):
    # each output the sum, in column order, of its nonzero weights times their pixels, whichever way
    for in_len, out_len, antialias in ((20, 7, True), (40, 7, False), (7, 20, False), (30, 30, False)):
        band = axis_band(interpolation, out_len, in_len, antialias)
        matrix = band.dense()
        x = rng.normal(size=(in_len, 3))
        x[in_len // 2, 0], x[0, 1], x[-1, 2] = np.inf, np.nan, -np.inf
        expected = np.zeros((out_len, 3))
        for o in range(out_len):
            for i in np.flatnonzero(matrix[o]):
                expected[o] = expected[o] + matrix[o, i] * x[i]
        for dense in (False, True):          # a bad pixel sends the dense choice the banded way
            np.testing.assert_array_equal(band.apply(x, 0, dense=dense), expected)
        # outputs whose kernel misses the inf stay finite (on 30 pixels even lanczos5's misses some)
        missed = matrix[:, in_len // 2] == 0
        assert np.isfinite(expected[missed, 0]).all() and (missed.any() or in_len < 30)


@pytest.mark.parametrize("antialias", [False, True])
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_banded_resizing_matches_keras(keras, monkeypatch, interpolation, antialias, rng):
    force(monkeypatch, "banded")
    for (h, w), (th, tw), crop, pad in (((97, 130), (31, 47), False, False), ((23, 17), (70, 41), True, False),
                                        ((40, 64), (9, 64), False, True), ((1, 50), (3, 20), False, False)):
        settings = dict(interpolation=interpolation, antialias=antialias, crop_to_aspect_ratio=crop,
                        pad_to_aspect_ratio=pad, fill_value=0.5)
        x = rng.normal(size=(2, h, w, 3)).astype(np.float32)
        ours = Resizing(th, tw, **settings)(x)
        theirs = np.asarray(keras.layers.Resizing(th, tw, **settings)(x))
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=3e-6, err_msg=f"{(h, w)} -> {(th, tw)} {settings}")


def test_a_large_image_goes_banded_by_itself_and_matches_keras(keras, rng):
    x = rng.uniform(size=(1, 600, 450, 3)).astype(np.float32)
    for interpolation, antialias in (("bilinear", True), ("bicubic", False)):
        assert not axis_band(interpolation, 300, 600, antialias).prefers_dense(x.shape, 1)
        assert not axis_band(interpolation, 200, 450, antialias).prefers_dense((1, 300, 450, 3), 2)
        ours = Resizing(300, 200, interpolation=interpolation, antialias=antialias)(x)
        theirs = np.asarray(keras.layers.Resizing(300, 200, interpolation=interpolation, antialias=antialias)(x))
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=3e-6)


def test_a_long_axis_makes_no_square_matrix(rng):
    # 8000 x 1 -> 8000 x 2: the dense rows' matrix was 8000 x 8000 (488 MiB in float64, 732 MiB
    # with its float32 copy); the band is 8000 x 1, and the resize and its gradient use a few MiB
    x = rng.normal(size=(1, 8000, 1, 1)).astype(np.float32)
    tracemalloc.start()
    try:
        out, cache = resize(x, 8000, 2, "bilinear")
        grad = resize_backward(np.ones_like(out), cache, x.shape)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_allclose(out[..., 0, 0], x[..., 0, 0], rtol=0, atol=0)        # the same rows, twice
    np.testing.assert_allclose(grad, 2 * np.ones_like(x))
    assert peak < 16 * 2 ** 20


def test_band_doctest_numbers():
    # from taps clipped at the edge: output 0 reads pixel 0 twice (-1 clipped), the weights add up
    band = Band.from_taps(2, 3, (np.array([[-1, 0], [1, 2]]), np.array([[0.25, 0.5], [0.0, 1.0]])))
    assert band.dense().tolist() == [[0.75, 0.0, 0.0], [0.0, 0.0, 1.0]]
    assert band.taps == 1 and band.start.tolist() == [0, 2]         # the zero weight widens nothing
    assert band.T.dense().tolist() == [[0.75, 0.0], [0.0, 0.0], [0.0, 1.0]]
