"""Review of the feeds (folders, time series, pad_sequences): bugs found, each against Keras where it can."""
import numpy as np
import pytest

from glassnet.utils import image_dataset_from_directory, pad_sequences, text_dataset_from_directory


@pytest.mark.parametrize("sequences, dtype", [([[-1, 300000]], "int8"), ([[40000, 5]], "int16"),
                                              ([[1e10]], "int32"), ([[np.nan]], "int32"),
                                              ([np.array([-1, 2])], "uint8")])
def test_pad_sequences_refuses_values_its_dtype_cannot_hold_rather_than_wrap_them(sequences, dtype):
    # before: token id 40000 as int16 came back as -25536, NaN as -2147483648, silently
    with pytest.raises(ValueError, match=r"pad_sequences: sequences\[0\] holds values that dtype"):
        pad_sequences(sequences, dtype=dtype)


def test_pad_sequences_refuses_what_keras_refuses_and_keeps_what_fits():
    keras = pytest.importorskip("keras")
    with pytest.raises(OverflowError):
        keras.utils.pad_sequences([[-1, 300000]], dtype="int8")
    fits = [[127, -128], [3]]
    np.testing.assert_array_equal(pad_sequences(fits, dtype="int8"), keras.utils.pad_sequences(fits, dtype="int8"))
    # floats into ints are cut as Keras cuts them, when they fit
    np.testing.assert_array_equal(pad_sequences([[1.7, 2.2]]), keras.utils.pad_sequences([[1.7, 2.2]]))


@pytest.mark.parametrize("load, name", [(image_dataset_from_directory, "a.png"),
                                        (text_dataset_from_directory, "a.txt")])
def test_a_split_that_leaves_no_validation_file_is_refused_for_the_training_subset_too(tmp_path, load, name):
    # documented as refused; before, subset="training" quietly trained on every file (Keras fails there too)
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for i in range(3):
            path = tmp_path / c / f"{i}{name}"
            if name.endswith(".png"):
                from PIL import Image
                Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(path)
            else:
                path.write_text("text")
    for subset in ("training", "validation", "both"):
        with pytest.raises(ValueError, match="leaves no validation file"):
            load(tmp_path, validation_split=0.1, subset=subset, seed=1, batch_size=2, verbose=False)
    train, val = load(tmp_path, validation_split=0.2, subset="both", seed=1, batch_size=2, verbose=False)
    assert (len(train.file_paths), len(val.file_paths)) == (5, 1)


@pytest.mark.parametrize("load", [image_dataset_from_directory, text_dataset_from_directory])
def test_numpy_integers_are_taken_for_batch_size_and_image_size_as_keras_takes_them(tmp_path, load):
    # before: "batch_size must be a positive integer ..., got 2", refusing NumPy's 2
    from PIL import Image
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for i in range(3):
            Image.fromarray(np.full((4, 6, 3), 40 * i, np.uint8)).save(tmp_path / c / f"{i}.png")
            (tmp_path / c / f"{i}.txt").write_text(f"text {i}")
    extra = {"image_size": (np.int64(4), np.int32(6))} if load is image_dataset_from_directory else {}
    ours = load(tmp_path, batch_size=np.int64(2), shuffle=False, verbose=False, **extra)
    plain = load(tmp_path, batch_size=2, shuffle=False, verbose=False,
                 **({"image_size": (4, 6)} if extra else {}))
    assert len(ours) == len(plain) == 3 and isinstance(len(ours), int)
    for i in range(3):
        for a, b in zip(ours[i], plain[i]):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("split", ["0.2", True, [0.2]])
def test_a_validation_split_that_is_no_fraction_is_refused_by_name(tmp_path, split):
    # before: "'<' not supported between instances of 'int' and 'str'", naming no argument
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        (tmp_path / c / "0.txt").write_text("text")
    with pytest.raises(ValueError, match="validation_split must be between 0 and 1"):
        text_dataset_from_directory(tmp_path, validation_split=split, subset="training", seed=1, verbose=False)
