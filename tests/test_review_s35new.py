"""Review of the image utilities, saving.save_weights/load_weights and initializers.STFT: the
cases that broke, each checked against what Keras 3.15 gives (or would give, where it fails)."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.initializers import STFT

pytest.importorskip("PIL")
from glassnet.image_utils import array_to_img, load_img, save_img, smart_resize  # noqa: E402


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32"])
def test_array_to_img_scales_a_signed_integer_dtype_without_wrapping_around(dtype):
    # x - min wrapped around in the dtype (int8's -100, 0, 100 became 0, 255, 114): the stretch must
    # be min -> 0, max -> 255 as in float32, what Keras gives for the same values read as floats
    info = np.iinfo(dtype)
    x = np.array([[[info.min], [0], [info.max]]])
    expected = np.asarray(array_to_img(x, dtype="float32"))
    assert expected[0, 0] == 0 and expected[0, 2] == 255 and 0 < expected[0, 1] < 255
    np.testing.assert_array_equal(np.asarray(array_to_img(x, dtype=dtype)), expected)


def test_array_to_img_scales_a_bool_dtype():
    # NumPy cannot subtract booleans: the error named no argument; a mask is black and white
    x = np.array([[[True], [False]]])
    np.testing.assert_array_equal(np.asarray(array_to_img(x, dtype="bool")), [[255, 0]])


def test_sizes_as_arrays_are_taken_as_keras_takes_them(tmp_path):
    # Keras indexes size[0], size[1]: an array of two integers works there
    x = np.random.default_rng(0).random((6, 10, 3)).astype(np.float32)
    np.testing.assert_array_equal(smart_resize(x, np.array([3, 4])), smart_resize(x, (3, 4)))
    path = tmp_path / "x.png"
    save_img(path, x)
    assert load_img(path, target_size=np.array([3, 4])).size == (4, 3)
    with pytest.raises(ValueError, match="size must be"):
        smart_resize(x, np.array([3.0, 4.0]))


def test_save_img_takes_a_bytes_path_as_load_img_and_keras_do(tmp_path):
    x = np.random.default_rng(0).random((4, 5, 3)).astype(np.float32)
    path = tmp_path / "x.png"
    save_img(bytes(path), x)
    np.testing.assert_array_equal(np.asarray(load_img(bytes(path))), np.asarray(array_to_img(x)))


def test_saving_functions_take_numpy_bools(tmp_path):
    # every other flag in glassnet takes np.bool_ (a value from a grid or an array)
    model = gn.Sequential([gn.layers.Dense(2, input_shape=(3,))], seed=0)
    path = tmp_path / "w.npz"
    gn.saving.save_weights(model, path, overwrite=np.bool_(True))
    with pytest.raises(FileExistsError):
        gn.saving.save_weights(model, path, overwrite=np.bool_(False))
    gn.saving.load_weights(model, path, skip_mismatch=np.bool_(False))
    with pytest.raises(ValueError, match="skip_mismatch=True is not implemented"):
        gn.saving.load_weights(model, path, skip_mismatch=np.bool_(True))


@pytest.mark.parametrize("entry", [{"class_name": "__numpy__", "config": {}}, {"class_name": "__numpy__"}])
def test_stft_refuses_a_numpy_entry_without_its_values(entry):
    # it was read as window=None: a kernel without any window, silently
    with pytest.raises(ValueError, match="STFT: window must be"):
        STFT("real", window=entry)
