"""Keras' image utilities (load_img, img_to_array, array_to_img, save_img, smart_resize) against
Keras 3.15 on the same files and arrays; save_img's atomic write; the refusals; and the
glassnet.saving.save_weights/load_weights functions."""
import glob
import io
import os
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet.utils import array_to_img, img_to_array, load_img, save_img, smart_resize

Image = pytest.importorskip("PIL.Image", reason="images are read with Pillow: pip install 'glassnet[plot]'")

INTERPOLATIONS = ["nearest", "bilinear", "bicubic", "hamming", "box", "lanczos"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Images of 13 x 17 pixels in PNG (RGB, RGBA, L, 16-bit), JPEG and BMP, and a palette GIF."""
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, (13, 17, 3), dtype=np.uint8)
    alpha = rng.integers(0, 256, (13, 17, 1), dtype=np.uint8)
    images = {"rgb.png": Image.fromarray(rgb), "rgba.png": Image.fromarray(np.concatenate([rgb, alpha], 2)),
              "gray.png": Image.fromarray(rgb[:, :, 0]), "rgb.jpg": Image.fromarray(rgb),
              "rgb.bmp": Image.fromarray(rgb), "palette.gif": Image.fromarray(rgb).convert("P"),
              "deep.png": Image.fromarray(rng.integers(0, 65536, (13, 17)).astype(np.uint16))}
    for name, image in images.items():
        image.save(folder / name)
    return {name: str(folder / name) for name in images}


def pixels(img):
    return np.asarray(img), img.mode, img.size


@pytest.mark.parametrize("color_mode", ["rgb", "rgba", "grayscale"])
def test_load_img_is_keras_for_every_file_size_and_interpolation(keras, files, color_mode):
    compared = 0
    for path in files.values():
        for target_size in (None, (13, 17), (8, 10), (20, 7), (30, 40), (5, 16)):   # (5, 16): rows cropped
            for interpolation in INTERPOLATIONS:
                for keep in (False, True):
                    settings = dict(color_mode=color_mode, target_size=target_size, interpolation=interpolation,
                                    keep_aspect_ratio=keep)
                    ours, theirs = pixels(load_img(path, **settings)), pixels(keras.utils.load_img(path, **settings))
                    assert ours[1:] == theirs[1:], (path, settings)
                    np.testing.assert_array_equal(ours[0], theirs[0], err_msg=f"{path} {settings}")
                    compared += 1
    assert compared == 7 * 6 * 6 * 2


def test_load_img_sizes_modes_and_sources(files):
    img = load_img(files["rgba.png"], color_mode="rgb", target_size=(8, 10))
    assert img.mode == "RGB" and img.size == (10, 8)                    # Pillow's (width, height)
    assert load_img(files["rgb.jpg"], color_mode="grayscale").mode == "L"
    assert load_img(files["deep.png"], color_mode="grayscale").mode.startswith("I")     # 16 bits kept, as Keras
    with open(files["rgb.png"], "rb") as f:                             # a file object, and bytes of a path
        from_object = np.asarray(load_img(io.BytesIO(f.read())))
    np.testing.assert_array_equal(from_object, np.asarray(load_img(files["rgb.png"].encode())))
    # keep_aspect_ratio crops the centre: a (13, 17) image to (13, 13) takes columns 2..14
    whole = np.asarray(load_img(files["rgb.png"]))
    np.testing.assert_array_equal(np.asarray(load_img(files["rgb.png"], target_size=(13, 13),
                                                      keep_aspect_ratio=True)), whole[:, 2:15])


@pytest.mark.parametrize("dtype", [None, "float64", "uint8", "int32"])
@pytest.mark.parametrize("data_format", [None, "channels_last", "channels_first"])
def test_img_to_array_is_keras(keras, files, dtype, data_format):
    for name in ("rgb.png", "rgba.png", "gray.png", "deep.png"):
        img = Image.open(files[name])
        ours = img_to_array(img, data_format=data_format, dtype=dtype)
        theirs = keras.utils.img_to_array(img, data_format=data_format, dtype=dtype)
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape, name
        np.testing.assert_array_equal(ours, theirs)
    assert img_to_array(Image.open(files["gray.png"])).shape == (13, 17, 1)
    assert img_to_array(Image.open(files["rgb.png"])).dtype == np.float32     # float32 by default, never float64


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("scale", [True, False])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_array_to_img_is_keras(keras, rng, channels, scale, data_format):
    arrays = [rng.uniform(-3, 7, (6, 5, channels)), rng.integers(0, 256, (6, 5, channels)).astype(np.float32),
              np.full((6, 5, channels), 9.0)]                  # a constant image: scaled to 0 by both
    if channels == 1:
        arrays.append(rng.integers(0, 70000, (6, 5, 1)).astype(np.float64))     # beyond 255: mode "I"
    for x in arrays:
        if data_format == "channels_first":
            x = np.moveaxis(x, -1, 0)
        if not scale and x.min() < 0:       # NumPy's cast of negative floats to bytes is undefined
            continue
        before = x.copy()
        ours = array_to_img(x, data_format=data_format, scale=scale)
        theirs = keras.utils.array_to_img(x, data_format=data_format, scale=scale)
        assert pixels(ours)[1:] == pixels(theirs)[1:]
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
        np.testing.assert_array_equal(x, before)                 # the caller's array untouched


@pytest.mark.parametrize("name", ["out.png", "out.jpg", "out.bmp", "out.jpeg"])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_save_img_writes_the_file_keras_writes(keras, tmp_path, rng, name, channels):
    x = rng.uniform(0, 255, (9, 11, channels)).astype(np.float32)
    (tmp_path / "ours").mkdir(), (tmp_path / "theirs").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # RGBA to JPEG: both warn (tested below)
        save_img(tmp_path / "ours" / name, x, quality=90) if "jp" in name else save_img(tmp_path / "ours" / name, x)
        if "jp" in name:
            keras.utils.save_img(str(tmp_path / "theirs" / name), x, quality=90)
        else:
            keras.utils.save_img(str(tmp_path / "theirs" / name), x)
    ours = np.asarray(Image.open(tmp_path / "ours" / name))
    theirs = np.asarray(Image.open(tmp_path / "theirs" / name))
    np.testing.assert_array_equal(ours, theirs)
    assert (tmp_path / "ours" / name).read_bytes() == (tmp_path / "theirs" / name).read_bytes()


def test_save_then_load_gives_the_pixels_back(tmp_path, rng):
    for channels, color_mode in ((3, "rgb"), (4, "rgba"), (1, "grayscale")):
        x = rng.integers(0, 256, (7, 9, channels)).astype(np.float32)
        for data_format in ("channels_last", "channels_first"):
            given = x if data_format == "channels_last" else np.moveaxis(x, -1, 0)
            path = tmp_path / f"{channels}_{data_format}.png"
            save_img(path, given, data_format=data_format, scale=False)
            back = img_to_array(load_img(path, color_mode=color_mode), data_format=data_format)
            np.testing.assert_array_equal(back, given)
    buffer = io.BytesIO()                             # a file object, with its format named
    save_img(buffer, x, file_format="png", scale=False)
    np.testing.assert_array_equal(img_to_array(load_img(io.BytesIO(buffer.getvalue()), color_mode="grayscale")), x)
    with pytest.warns(UserWarning, match="RGBA"):
        save_img(tmp_path / "a.jpg", rng.uniform(0, 255, (4, 4, 4)))
    assert Image.open(tmp_path / "a.jpg").mode == "RGB"


def test_save_img_is_atomic(tmp_path, monkeypatch, rng):
    path = tmp_path / "photo.png"
    save_img(path, rng.uniform(0, 255, (5, 5, 3)))
    before = path.read_bytes()

    def fails_halfway(self, fp, format=None, **params):
        fp.write(b"\x89PNG half an image")
        raise OSError("disk full")
    monkeypatch.setattr(Image.Image, "save", fails_halfway)
    with pytest.raises(OSError, match="disk full"):
        save_img(path, rng.uniform(0, 255, (5, 5, 3)))
    assert path.read_bytes() == before                  # the old image, whole
    assert glob.glob(str(tmp_path / ".*.tmp")) == []    # and no temporary file left


def keras_smart_resize(keras, x, size, **settings):
    return np.asarray(keras.preprocessing.image.smart_resize(x, size, **settings))


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "uint8"])
def test_smart_resize_is_keras(keras, rng, interpolation, data_format, dtype):
    compared = 0
    for shape in ((2, 13, 17, 3), (13, 17, 3), (1, 17, 13, 1), (4, 9, 9, 2), (20, 6, 4)):
        x = rng.uniform(0, 255, shape).astype(dtype)
        if data_format == "channels_first":
            x = np.moveaxis(x, -1, -3)
        for size in ((8, 8), (5, 11), (30, 7), (13, 17), (1, 3)):
            settings = dict(interpolation=interpolation, data_format=data_format)
            ours, theirs = smart_resize(x, size, **settings), keras_smart_resize(keras, x, size, **settings)
            assert ours.dtype == theirs.dtype and ours.shape == theirs.shape, (shape, size)
            if interpolation == "nearest":
                np.testing.assert_array_equal(ours, theirs)
            else:                   # float32 sums in another order: within float32 rounding of 0-255
                np.testing.assert_allclose(ours, theirs, rtol=0, atol=2e-4)
            compared += 1
    assert compared == 25


def test_smart_resize_crops_the_centre_by_hand():
    x = np.arange(4 * 6, dtype=np.float32).reshape(4, 6, 1)
    # a (4, 6) image to (2, 2): the centred (4, 4) crop, columns 1..4, then each 2 x 2 block's mean
    expected = x[:, 1:5, 0].reshape(2, 2, 2, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(smart_resize(x, (2, 2))[:, :, 0], expected)
    assert smart_resize(x, (2, 2)).dtype == np.float32


@pytest.mark.parametrize("call, message", [
    (lambda p: load_img(p, color_mode="RGB"), "load_img: color_mode must be one of"),
    (lambda p: load_img(p, color_mode="cmyk"), "['rgb', 'rgba', 'grayscale'], got 'cmyk'"),
    (lambda p: load_img(p, target_size=(8, 8), interpolation="area"), "load_img: interpolation must be one of"),
    (lambda p: load_img(p, target_size=8), "load_img: target_size must be (height, width), two positive"),
    (lambda p: load_img(p, target_size=(0, 4)), "target_size must be (height, width)"),
    (lambda p: load_img(p, keep_aspect_ratio="yes"), "load_img: keep_aspect_ratio: expected True or False"),
    (lambda p: load_img(3), "load_img: path must be a file path"),
    (lambda p: img_to_array(np.zeros((2, 2, 2, 2))), "img_to_array: img must be an image of rank 2"),
    (lambda p: img_to_array(np.zeros((2, 2)), data_format="NHWC"), "img_to_array: data_format must be one of"),
    (lambda p: img_to_array(np.zeros((2, 2)), dtype="pixels"), "img_to_array: dtype must be"),
    (lambda p: array_to_img(np.zeros((2, 2))), "array_to_img: x must be one image of rank 3"),
    (lambda p: array_to_img(np.zeros((2, 2, 2))), "x must have 1, 3 or 4 channels"),
    (lambda p: array_to_img(np.zeros((3, 2, 2)), data_format="channels_first", scale=1), "scale: expected True"),
    (lambda p: save_img(p + ".weird", np.zeros((2, 2, 3))), "save_img: the format cannot be told"),
    (lambda p: save_img(p, np.zeros((2, 2, 3)), file_format="nope"), "save_img: file_format must be a format"),
    (lambda p: save_img(io.BytesIO(), np.zeros((2, 2, 3))), "save_img: file_format must be given"),
    (lambda p: save_img(p, np.zeros((2, 2, 3)), data_format="last"), "data_format must be one of"),
    (lambda p: smart_resize(np.zeros((4, 4)), (2, 2)), "smart_resize: x must be an image (height, width, channels)"),
    (lambda p: smart_resize(np.zeros((1, 1, 4, 4, 1)), (2, 2)), "got shape (1, 1, 4, 4, 1)"),
    (lambda p: smart_resize(np.zeros((4, 4, 1)), (2,)), "smart_resize: size must be (height, width)"),
    (lambda p: smart_resize(np.zeros((4, 4, 1)), (2, 2), interpolation="gaussian"), "smart_resize: interpolation"),
    (lambda p: smart_resize(np.zeros((4, 4, 1)), (2, 2), data_format=None), "smart_resize: data_format must be"),
])
def test_bad_arguments_are_named(files, call, message):
    with pytest.raises((ValueError, TypeError)) as caught:
        call(files["rgb.png"])
    assert message in str(caught.value)


def test_nothing_is_written_when_refused(tmp_path):
    with pytest.raises(ValueError):
        save_img(tmp_path / "x.png", np.zeros((2, 2, 5)))
    assert os.listdir(tmp_path) == []


def test_without_pillow_the_error_says_what_to_install(monkeypatch, files):
    import sys
    monkeypatch.setitem(sys.modules, "PIL", None)       # import PIL now fails, as when not installed
    for call in (lambda: load_img(files["rgb.png"]), lambda: array_to_img(np.zeros((2, 2, 3))),
                 lambda: save_img(files["rgb.png"] + ".png", np.zeros((2, 2, 3)))):
        with pytest.raises(ImportError, match=r'load_img|array_to_img|save_img.*glassnet\[plot\]'):
            call()
    # img_to_array and smart_resize need NumPy only
    assert img_to_array(np.zeros((2, 3))).shape == (2, 3, 1)
    assert smart_resize(np.zeros((4, 6, 1)), (2, 2)).shape == (2, 2, 1)


def test_preprocessing_image_holds_the_same_functions():
    assert gn.preprocessing.image.load_img is load_img and gn.preprocessing.image.smart_resize is smart_resize
    assert {"img_to_array", "array_to_img", "save_img"} <= set(vars(gn.preprocessing.image))


def small_model(seed):
    model = gn.Sequential([gn.layers.Dense(3, activation="relu", input_dim=4), gn.layers.Dense(2)], seed=seed)
    model.build((None, 4))
    return model


def test_saving_save_weights_and_load_weights(tmp_path):
    path = tmp_path / "w.npz"
    source, target = small_model(0), small_model(1)
    gn.saving.save_weights(source, path)
    gn.saving.load_weights(target, path)
    for a, b in zip(source.get_weights(), target.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = np.ones((2, 4), dtype=np.float32)
    np.testing.assert_array_equal(source.predict(x), target.predict(x))
    # overwrite=False: the file that exists is refused and left as it was (Keras asks on the terminal)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=False"):
        gn.saving.save_weights(target, path, overwrite=False)
    assert path.read_bytes() == before
    gn.saving.save_weights(target, tmp_path / "new.npz", overwrite=False)       # a new file is written
    assert (tmp_path / "new.npz").exists()
    with pytest.raises(ValueError, match="load_weights: skip_mismatch=True is not implemented"):
        gn.saving.load_weights(target, path, skip_mismatch=True)
    with pytest.raises(TypeError, match="save_weights: model must be a glassnet"):
        gn.saving.save_weights("model", path)
    with pytest.raises(TypeError, match="save_weights: overwrite must be True or False"):
        gn.saving.save_weights(source, path, overwrite="no")
    with pytest.raises(TypeError, match="save_weights: filepath must be"):
        gn.saving.save_weights(source, 3)


def test_import_glassnet_reads_neither_the_module_nor_pillow():
    import subprocess
    import sys
    code = ("import sys, glassnet; assert 'glassnet.image_utils' not in sys.modules and 'PIL' not in sys.modules; "
            "glassnet.utils.load_img; assert 'glassnet.image_utils' in sys.modules and 'PIL' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
