"""image_dataset_from_directory: Keras' file lists, labels, splits and batches (Keras 3.15 as the
oracle), images read per batch with Pillow, a CNN trained on a folder, and the refusals."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.utils import image_dataset_from_directory

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
Image = pytest.importorskip("PIL.Image", reason="images are read with Pillow: pip install 'glassnet[plot]'")


@pytest.fixture
def folder(tmp_path, rng):
    """Three classes of PNGs of different sizes and modes (RGB, L, RGBA), one class with a sub-folder."""
    for name, count in (("cats", 7), ("dogs", 5), ("emus", 4)):
        for i in range(count):
            place = tmp_path / name / ("more" if name == "dogs" and i % 2 else "")
            place.mkdir(parents=True, exist_ok=True)
            height, width = rng.integers(8, 30, 2)
            pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            Image.fromarray(pixels).convert(["RGB", "L", "RGBA"][i % 3]).save(place / f"{i}.png")
    (tmp_path / "cats" / "notes.txt").write_text("not an image")
    return tmp_path


SETTINGS = [dict(shuffle=False), dict(shuffle=False, label_mode="categorical", interpolation="nearest"),
            dict(shuffle=False, crop_to_aspect_ratio=True), dict(shuffle=False, label_mode=None),
            dict(shuffle=False, color_mode="rgba"), dict(shuffle=False, labels=[i % 2 for i in range(16)],
                                                          label_mode="binary")]


@pytest.mark.parametrize("settings", SETTINGS, ids=str)
def test_the_batches_are_keras(folder, settings):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours = image_dataset_from_directory(folder, image_size=(12, 10), batch_size=5, verbose=False, **settings)
    theirs = list(keras.utils.image_dataset_from_directory(folder, image_size=(12, 10), batch_size=5, verbose=False,
                                                           **settings))
    assert len(ours) == len(theirs) == 4
    for i, batch in enumerate(theirs):
        mine = ours[i] if isinstance(ours[i], tuple) else (ours[i],)
        batch = batch if isinstance(batch, tuple) else (batch,)
        np.testing.assert_allclose(mine[0], np.asarray(batch[0]), atol=2e-3)
        if len(batch) > 1:
            np.testing.assert_array_equal(mine[1], np.asarray(batch[1]))


@pytest.mark.parametrize("subset", ["training", "validation", None])
def test_the_shuffled_files_and_the_split_are_keras(folder, subset):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    split = {"validation_split": 0.25, "subset": subset} if subset else {}
    ours = image_dataset_from_directory(folder, seed=3, verbose=False, **split)
    theirs = keras.utils.image_dataset_from_directory(folder, seed=3, verbose=False, **split)
    assert ours.file_paths == list(theirs.file_paths) and ours.class_names == theirs.class_names


def test_files_labels_and_split_by_hand(folder, capsys):
    train, val = image_dataset_from_directory(folder, image_size=8, batch_size=4, validation_split=0.25,
                                              subset="both", seed=1, label_mode="categorical")
    assert capsys.readouterr().out.splitlines() == ["Found 16 files belonging to 3 classes.",
                                                    "Using 12 files for training.", "Using 4 files for validation."]
    assert train.class_names == ["cats", "dogs", "emus"] and len(train) == 3 and len(val) == 1
    assert sorted(train.file_paths + val.file_paths) == sorted(
        str(p) for p in folder.rglob("*.png"))                     # every image once, the text file left out
    for path, label in zip(train.file_paths, train.labels):
        assert os.path.relpath(path, folder).split(os.sep)[0] == train.class_names[label]
    x, y = train[0]
    assert x.shape == (4, 8, 8, 3) and x.dtype == np.float32 and y.shape == (4, 3) and 0 <= x.min() <= x.max() <= 255
    gray = image_dataset_from_directory(folder, image_size=(6, 5), color_mode="grayscale", shuffle=False,
                                        verbose=False)
    assert gray[0][0].shape == (16, 6, 5, 1)
    only = image_dataset_from_directory(folder, class_names=["emus", "cats"], label_mode="binary", shuffle=False,
                                        image_size=8, verbose=False)
    assert len(only.file_paths) == 11 and only[0][1].shape == (11, 1) and only[0][1][0, 0] == 0.0   # emus first


def test_a_cnn_trains_on_a_folder_of_images(tmp_path, rng):
    """Bright and dark squares in two folders: the model tells them apart."""
    for name, low in (("dark", 0), ("bright", 160)):
        (tmp_path / name).mkdir()
        for i in range(12):
            pixels = rng.integers(low, low + 96, (10, 10), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / name / f"{i}.png")
    data = image_dataset_from_directory(tmp_path, image_size=(8, 8), color_mode="grayscale", batch_size=8, seed=0,
                                        label_mode="binary", verbose=False)
    model = gn.Sequential([gn.Input((8, 8, 1)), gn.layers.Rescaling(1 / 255), gn.layers.Conv2D(4, 3, activation="relu"),
                           gn.layers.GlobalAveragePooling2D(), gn.layers.Dense(1, activation="sigmoid")], seed=0)
    model.compile("binary_crossentropy", gn.optimizers.Adam(0.05), metrics=["accuracy"])
    history = model.fit(data, epochs=15, verbose=0).history
    assert history["accuracy"][-1] == 1.0 and model.evaluate(data)[1] == 1.0


@pytest.mark.parametrize("settings, message", [
    (dict(labels=[0, 1]), "labels must hold one label per file, got 2 labels for the 16 files"),
    (dict(labels="folders"), "labels must be 'inferred'"),
    (dict(label_mode="sparse"), "label_mode must be one of"),
    (dict(color_mode="cmyk"), "color_mode must be one of"),
    (dict(image_size=(8,)), r"image_size must be \(height, width\)"),
    (dict(batch_size=None), "batch_size must be a positive integer"),
    (dict(interpolation="hamming"), "interpolation must be one of \\['bilinear', 'nearest', 'bicubic'"),
    (dict(pad_to_aspect_ratio=True), "pad_to_aspect_ratio is not implemented"),
    (dict(validation_split=0.2), "give validation_split and subset together"),
    (dict(validation_split=0.2, subset="training"), "a validation split of shuffled files needs a seed"),
    (dict(label_mode="binary"), "label_mode='binary' needs exactly 2 classes"),
    (dict(class_names=["cats", "owls"]), r"class_names \['cats', 'owls'\] are not among the sub-folders"),
    (dict(labels=None, class_names=["cats"]), "class_names need labels='inferred'"),
])
def test_bad_settings_are_refused_naming_them(folder, settings, message):
    with pytest.raises(ValueError, match=message):
        image_dataset_from_directory(folder, verbose=False, **settings)
    with pytest.raises(ValueError, match="is not a folder"):
        image_dataset_from_directory(folder / "nowhere")


def test_without_labels_every_image_below_the_folder_is_read_as_keras(tmp_path):
    for place in ("a.png", "sub/b.png", ".cache/c.png"):
        (tmp_path / place).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / place)
    data = image_dataset_from_directory(tmp_path, labels=None, image_size=(4, 4), shuffle=False, verbose=False)
    assert [os.path.relpath(p, tmp_path) for p in data.file_paths] == ["a.png", os.path.join(".cache", "c.png"),
                                                                        os.path.join("sub", "b.png")]
    assert data.class_names is None and data[0].shape == (3, 4, 4, 3)


def test_a_16_bit_png_comes_to_8_bits_as_tensorflow_decodes_it(tmp_path):
    (tmp_path / "c").mkdir()
    Image.fromarray(np.array([[1000, 20000], [40000, 65535]], np.uint16)).save(tmp_path / "c" / "deep.png")
    for mode in ("rgb", "grayscale"):
        images, _ = image_dataset_from_directory(tmp_path, image_size=(2, 2), color_mode=mode, verbose=False)[0]
        np.testing.assert_array_equal(images[0, ..., 0], [[3, 78], [156, 255]])     # Keras' (TensorFlow's) values
    # a transparent grey level keeps its alpha of 0 (TensorFlow's too)
    levels = np.full((3, 4), 1000, np.uint16)
    levels[1] = 1234
    Image.fromarray(levels).save(tmp_path / "c" / "deep.png", transparency=1234)
    images, _ = image_dataset_from_directory(tmp_path, image_size=(3, 4), color_mode="rgba", verbose=False)[0]
    np.testing.assert_array_equal(images[0, :, 0, 3], [255, 0, 255])
    np.testing.assert_array_equal(images[0, :, 0, 0], [3, 4, 3])


def test_label_mode_none_means_no_labels_as_in_keras(folder):
    (folder / "top.png").write_bytes((folder / "emus" / "0.png").read_bytes())
    data = image_dataset_from_directory(folder, label_mode=None, shuffle=False, image_size=8, verbose=False)
    assert data.class_names is None and len(data.file_paths) == 17 and data.file_paths[0].endswith("top.png")
    with pytest.raises(ValueError, match="class_names need labels='inferred'"):
        image_dataset_from_directory(folder, label_mode=None, class_names=["cats"], verbose=False)


@pytest.mark.parametrize("bad", [5, "cats", ["cats", 3]])
def test_class_names_that_are_not_a_list_of_names_are_refused_by_name(bad, tmp_path):
    # 5 failed inside set() naming nothing; "cats" would be read as the classes c, a, t, s
    (tmp_path / "cats").mkdir()
    with pytest.raises(TypeError, match=r"image_dataset_from_directory: class_names must be a list"):
        gn.utils.image_dataset_from_directory(tmp_path, class_names=bad)
