"""Review of keras.io's "Image classification from scratch" (cats and dogs from a folder, its
corrupt-file filter) ported to glassnet: what the folder reader does with the files a filter misses,
and what it documents about JPEG pixels against Keras 3.15's TensorFlow decoding."""
import io
import os
import re

import numpy as np
import pytest

import glassnet.image_folders as image_folders
from glassnet.utils import image_dataset_from_directory

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
Image = pytest.importorskip("PIL.Image", reason="images are read with Pillow: pip install 'glassnet[plot]'")


def _jpeg(pixels, **options):
    """The bytes of ``pixels`` (uint8 (h, w, 3)) saved as a JFIF JPEG."""
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", **options)
    return out.getvalue()


@pytest.mark.parametrize("broken", ["cut short", "not an image"])
def test_a_broken_file_is_named_when_its_batch_is_read(tmp_path, rng, broken):
    # the example's filter keeps a JPEG whose header says JFIF even when the file is cut short;
    # Pillow's "image file is truncated" named no file among thousands
    for name in ("Cat", "Dog"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "0.jpg").write_bytes(_jpeg(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)))
    data = (tmp_path / "Cat" / "0.jpg").read_bytes()
    bad = tmp_path / "Dog" / "1.jpg"
    bad.write_bytes(data[:len(data) // 2] if broken == "cut short" else b"JFIF, but no image" * 4)
    dataset = image_dataset_from_directory(tmp_path, image_size=(8, 8), batch_size=2, shuffle=False, verbose=False)
    assert dataset[0][0].shape == (2, 8, 8, 3)                  # the good files read
    with pytest.raises(ValueError, match=r"image_dataset_from_directory: cannot read .*1\.jpg as an image"):
        dataset[1]


def _pixels(tmp_path, data):
    (tmp_path / "a").mkdir(exist_ok=True)
    (tmp_path / "a" / "x.jpg").write_bytes(data)
    height, width = np.asarray(Image.open(io.BytesIO(data))).shape[:2]
    return image_dataset_from_directory(tmp_path, image_size=(height, width), shuffle=False, verbose=False)[0][0][0]


@pytest.mark.parametrize("quality, subsampling", [(75, 2), (95, 0), (100, 0)])
def test_jpeg_pixels_are_tensorflows_accurate_inverse_dct(tmp_path, rng, quality, subsampling):
    tf = pytest.importorskip("tensorflow", reason="TensorFlow oracle not installed")
    pixels = np.repeat(np.repeat(rng.integers(0, 256, (8, 12, 3), dtype=np.uint8), 3, 0), 3, 1)
    data = _jpeg(pixels, quality=quality, subsampling=subsampling)
    accurate = tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE").numpy()
    np.testing.assert_array_equal(_pixels(tmp_path, data), accurate)


def test_the_documented_jpeg_difference_from_keras_holds(tmp_path, rng):
    # Keras decodes with TensorFlow's default, libjpeg's fast inverse DCT: the docstring said
    # "JPEG pixels differ by up to 4"; a quality-95 file differs by more
    tf = pytest.importorskip("tensorflow", reason="TensorFlow oracle not installed")
    pixels = np.repeat(np.repeat(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8), 4, 0), 4, 1)
    data = _jpeg(pixels, quality=95, subsampling=0)
    keras_default = tf.io.decode_image(data, channels=3, expand_animations=False).numpy()
    differ = np.abs(_pixels(tmp_path, data) - keras_default).max()
    stated = re.search(r"up to (\d+) at\s+quality 95", image_folders.__doc__)
    assert differ > 4 and stated and differ <= int(stated.group(1))


def test_an_image_over_pillows_pixel_limit_is_named(tmp_path, rng, monkeypatch):
    # Pillow refuses images of more than twice MAX_IMAGE_PIXELS (a decompression bomb) with an error
    # that names no file
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "big.jpg").write_bytes(_jpeg(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    dataset = image_dataset_from_directory(tmp_path, image_size=(8, 8), shuffle=False, verbose=False)
    with pytest.raises(ValueError, match=r"cannot read .*big\.jpg as an image \(Image size \(1600 pixels\)"):
        dataset[0]
