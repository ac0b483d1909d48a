"""String options of constructors (padding, mode, interpolation, output_mode, ...) given an array,
a list or a dict: a TypeError naming the argument, its choices and what came, not NumPy's
"truth value of an array ... is ambiguous" (``array not in choices``) or "unhashable type"."""
import re

import numpy as np
import pytest

from glassnet import callbacks, initializers, layers, metrics, regularizers, utils
from glassnet._validation import check_choice, check_only, shown

BAD = [np.array(["same", "valid"]), ["valid"], {"a": 1}]

# (what is built, given the value; the argument's name as the message shows it)
CASES = [
    (lambda v: layers.Conv1D(2, 3, padding=v), "Conv1D: padding"),
    (lambda v: layers.Conv2D(2, 3, padding=v), "Conv2D: padding"),
    (lambda v: layers.Conv3D(2, 3, padding=v), "Conv3D: padding"),
    (lambda v: layers.Conv2DTranspose(2, 3, padding=v), "Conv2DTranspose: padding"),
    (lambda v: layers.DepthwiseConv2D(3, padding=v), "DepthwiseConv2D: padding"),
    (lambda v: layers.SeparableConv2D(2, 3, padding=v), "SeparableConv2D: padding"),
    (lambda v: layers.ConvLSTM2D(2, 3, padding=v), "ConvLSTM2D: padding"),
    (lambda v: layers.MaxPooling2D(padding=v), "MaxPooling2D: padding"),
    (lambda v: layers.AveragePooling1D(padding=v), "AveragePooling1D: padding"),
    (lambda v: layers.MaxPooling3D(padding=v), "MaxPooling3D: padding"),
    (lambda v: layers.STFTSpectrogram(padding=v), "STFTSpectrogram: padding"),
    (lambda v: layers.STFTSpectrogram(mode=v), "STFTSpectrogram: mode"),
    (lambda v: layers.STFTSpectrogram(scaling=v), "STFTSpectrogram: scaling"),
    (lambda v: layers.STFTSpectrogram(data_format=v), "STFTSpectrogram: data_format"),
    (lambda v: layers.RandomFlip(v), "RandomFlip: mode"),
    (lambda v: layers.RandomRotation(0.1, fill_mode=v), "RandomRotation: fill_mode"),
    (lambda v: layers.RandomRotation(0.1, interpolation=v), "RandomRotation: interpolation"),
    (lambda v: layers.RandomTranslation(0.1, 0.1, fill_mode=v), "RandomTranslation: fill_mode"),
    (lambda v: layers.RandomZoom(0.1, interpolation=v), "RandomZoom: interpolation"),
    (lambda v: layers.RandomShear(0.1, fill_mode=v), "RandomShear: fill_mode"),
    (lambda v: layers.RandomElasticTransform(fill_mode=v), "RandomElasticTransform: fill_mode"),
    (lambda v: layers.RandomElasticTransform(interpolation=v), "RandomElasticTransform: interpolation"),
    (lambda v: layers.RandomPerspective(interpolation=v), "RandomPerspective: interpolation"),
    (lambda v: layers.RandomPerspective(data_format=v), "RandomPerspective: data_format"),
    (lambda v: layers.Resizing(4, 4, interpolation=v), "Resizing: interpolation"),
    (lambda v: layers.Resizing(4, 4, fill_mode=v), "Resizing: fill_mode"),
    (lambda v: layers.UpSampling2D(interpolation=v), "UpSampling2D: interpolation"),
    (lambda v: layers.AugMix(interpolation=v), "AugMix: interpolation"),
    (lambda v: layers.RandAugment(interpolation=v), "RandAugment: interpolation"),
    (lambda v: layers.CategoryEncoding(4, output_mode=v), "CategoryEncoding: output_mode"),
    (lambda v: layers.Discretization([0.0, 1.0], output_mode=v), "Discretization: output_mode"),
    (lambda v: layers.Hashing(4, output_mode=v), "Hashing: output_mode"),
    (lambda v: layers.HashedCrossing(4, output_mode=v), "HashedCrossing: output_mode"),
    (lambda v: layers.IntegerLookup(output_mode=v), "IntegerLookup: output_mode"),
    (lambda v: layers.IntegerLookup(vocabulary_dtype=v), "IntegerLookup: vocabulary_dtype"),
    (lambda v: layers.IntegerLookup(oov_method=v), "IntegerLookup: oov_method"),
    (lambda v: layers.StringLookup(output_mode=v), "StringLookup: output_mode"),
    (lambda v: layers.StringLookup(encoding=v), "StringLookup: encoding"),
    (lambda v: layers.TextVectorization(output_mode=v), "TextVectorization: output_mode"),
    (lambda v: layers.TextVectorization(standardize=v), "TextVectorization: standardize"),
    (lambda v: layers.TextVectorization(split=v), "TextVectorization: split"),
    (lambda v: layers.TextVectorization(encoding=v), "TextVectorization: encoding"),
    (lambda v: layers.Attention(score_mode=v), "Attention: score_mode"),
    (lambda v: layers.Bidirectional(layers.LSTM(2), merge_mode=v), "Bidirectional: merge_mode"),
    (lambda v: callbacks.EarlyStopping(mode=v), "EarlyStopping: mode"),
    (lambda v: callbacks.ModelCheckpoint("m.keras", mode=v), "ModelCheckpoint: mode"),
    (lambda v: callbacks.ReduceLROnPlateau(mode=v), "ReduceLROnPlateau: mode"),
    (lambda v: callbacks.TensorBoard(update_freq=v), "TensorBoard: update_freq"),
    (lambda v: initializers.VarianceScaling(mode=v), "VarianceScaling: mode"),
    (lambda v: initializers.VarianceScaling(distribution=v), "VarianceScaling: distribution"),
    (lambda v: regularizers.OrthogonalRegularizer(mode=v), "OrthogonalRegularizer: mode"),
    (lambda v: metrics.R2Score(class_aggregation=v), "R2Score: class_aggregation"),
    (lambda v: metrics.CategoricalCrossentropy(axis=v), "CategoricalCrossentropy: axis"),
    (lambda v: metrics.SparseCategoricalCrossentropy(axis=v), "SparseCategoricalCrossentropy: axis"),
    (lambda v: metrics.CosineSimilarity(axis=v), "CosineSimilarity: axis"),
    (lambda v: utils.pad_sequences([[1]], padding=v), "pad_sequences: padding"),
    (lambda v: utils.pad_sequences([[1]], truncating=v), "pad_sequences: truncating"),
]


@pytest.mark.parametrize("bad", BAD, ids=["array", "list", "dict"])
@pytest.mark.parametrize("make, argument", CASES, ids=[c[1] for c in CASES])
def test_a_non_string_is_a_type_error_naming_the_argument(make, argument, bad):
    with pytest.raises(TypeError, match=rf"^{re.escape(argument)}\b.*got {type(bad).__name__}: ") as info:
        make(bad)
    assert "ambiguous" not in str(info.value) and "unhashable" not in str(info.value)


@pytest.mark.parametrize("bad", BAD, ids=["array", "list", "dict"])
@pytest.mark.parametrize("argument", ["color_mode", "interpolation", "label_mode", "subset"])
def test_image_folder_options(tmp_path, argument, bad):
    (tmp_path / "a").mkdir()
    with pytest.raises(TypeError, match=rf"^image_dataset_from_directory: {argument} must be a str"):
        utils.image_dataset_from_directory(tmp_path, **{argument: bad})


def test_the_message_lists_the_choices_and_shows_what_came_cut_short():
    with pytest.raises(TypeError) as info:
        layers.Conv2D(2, 3, padding=np.array(["same"] * 100))
    message = str(info.value)
    assert message.startswith("Conv2D: padding must be a str, one of ['valid', 'same'], got ndarray: array(['same', ")
    assert message.endswith("...") and "\n" not in message and len(message) < 200


def test_wrong_words_keep_their_value_errors():
    # the choices listed and the word given, as before; None (a Keras value for some) a ValueError too
    with pytest.raises(ValueError, match=r"^Conv2D: padding must be one of \['valid', 'same'\], got 'full'$"):
        layers.Conv2D(2, 3, padding="full")
    with pytest.raises(ValueError, match=r"^Bidirectional: merge_mode must be one of .* or None \(two outputs\), got 'max'$"):
        layers.Bidirectional(layers.LSTM(2), merge_mode="max")
    with pytest.raises(ValueError, match=r"^EarlyStopping: mode must be 'auto', 'min' or 'max', got 'up'$"):
        callbacks.EarlyStopping(mode="up")
    with pytest.raises(ValueError, match=r"^RandomElasticTransform: fill_mode must be .*got 'mirror' \(Keras' layer"):
        layers.RandomElasticTransform(fill_mode="mirror")
    with pytest.raises(ValueError, match=r"^TensorBoard: update_freq must be 'epoch', 'batch' or a positive integer, got 0"):
        callbacks.TensorBoard(update_freq=0)
    with pytest.raises(ValueError, match=r"^StringLookup: encoding='latin-1' is not supported \(only 'utf-8'\)$"):
        layers.StringLookup(encoding="latin-1")


def test_profile_batch_and_salt_arrays_are_named():
    # not string options, but compared with == / != before: an array raised NumPy's error there too
    with pytest.raises(ValueError, match=r"^TensorBoard: profile_batch must be 0, got array"):
        callbacks.TensorBoard(profile_batch=np.array([1, 2]))
    with pytest.raises(ValueError, match=r"^StringLookup: salt=array.* is not supported \(only None\)"):
        layers.StringLookup(salt=np.array([1, 2]))


def test_valid_values_behave_as_before():
    keras = pytest.importorskip("keras")
    # VarianceScaling lower-cases distribution and reads "normal" as "truncated_normal", as Keras does
    for given in ("Uniform", "NORMAL", "truncated_normal", "Untruncated_Normal"):
        assert initializers.VarianceScaling(distribution=given).distribution == \
            keras.initializers.VarianceScaling(distribution=given).distribution
    assert layers.Conv2D(2, 3, padding="same").padding == "same"
    assert layers.Conv1D(2, 3, padding="causal").padding == "causal"
    assert layers.TextVectorization(standardize=None, split=str.split).split is str.split
    assert callbacks.TensorBoard(update_freq="batch").update_freq == 1
    assert callbacks.TensorBoard(update_freq=np.int64(3)).update_freq == 3
    callbacks.TensorBoard(profile_batch=None), callbacks.TensorBoard(profile_batch=np.int64(0))
    assert metrics.CategoricalCrossentropy(axis=np.int64(-1)).result() == 0.0
    assert layers.STFTSpectrogram(scaling=None).scaling is None
    assert layers.StringLookup(encoding=np.str_("utf-8")) is not None


def test_check_choice():
    assert check_choice("Same", "f: padding", ("valid", "same"), lower=True) == "same"
    assert check_choice(None, "f: scaling", ("density", None)) is None
    with pytest.raises(ValueError, match=r"^f: padding must be one of \['valid', 'same'\], got 'Same'$"):
        check_choice("Same", "f: padding", ("valid", "same"))          # case-sensitive unless lower=True
    with pytest.raises(TypeError, match=r"^f: mode must be a str, 'a' or 'b', got int: 3$"):
        check_choice(3, "f: mode", ("a", "b"), expected="'a' or 'b'")
    # a dict of choices (keys): a dict given was unhashable there
    with pytest.raises(TypeError, match=r"^f: color_mode must be a str, one of \['rgb'\], got dict: \{'a': 1\}$"):
        check_choice({"a": 1}, "f: color_mode", {"rgb": 3})
    assert shown(np.zeros((20, 20))).startswith("ndarray: array([[0., 0.,")
    assert len(shown(np.zeros((20, 20)))) <= len("ndarray: ") + 80


def test_check_only():
    assert check_only("int64", "f: vocabulary_dtype", "int64") == "int64"
    assert check_only(None, "f: salt", None) is None
    for value in (0, np.False_):           # not the bool False
        with pytest.raises(ValueError, match=r"^f: sparse=.* is not supported \(only False\)$"):
            check_only(value, "f: sparse", False)
    with pytest.raises(TypeError, match=r"^f: encoding must be a str, one of \['utf-8'\], got list"):
        check_only(["utf-8"], "f: encoding", "utf-8")


@pytest.mark.parametrize("make, rank, port", [
    (lambda p: layers.Conv2D(2, 3, padding=p), 2, r"ZeroPadding2D\(p\) before it with padding='valid'"),
    (lambda p: layers.Conv1D(2, 3, padding=p), 1, r"ZeroPadding1D\(p\) before it"),
    (lambda p: layers.Conv3D(2, 3, padding=p), 3, r"ZeroPadding3D\(p\) before it"),
    (lambda p: layers.DepthwiseConv2D(3, padding=p), 2, r"ZeroPadding2D\(p\) before it"),
    (lambda p: layers.SeparableConv1D(2, 3, padding=p), 1, r"ZeroPadding1D\(p\) before it"),
    (lambda p: layers.Conv2DTranspose(2, 3, padding=p), 2, r"padding='valid' with Cropping2D\(p\) after it")])
@pytest.mark.parametrize("padding", [1, "one per axis", np.int64(2)])
def test_pytorch_padding_by_number_says_how_to_port_it(make, rank, port, padding):
    # PyTorch's nn.Conv2d(..., padding=1) or padding=(1, 1): Keras' layers take words only, and
    # "same" is not the port
    padding = (1,) * rank if padding == "one per axis" else padding
    with pytest.raises(TypeError, match=r"padding must be a str .*; PyTorch's padding=p ports as " + port):
        make(padding)


def test_other_non_strings_and_the_recurrent_convolutions_keep_the_plain_message():
    for make in (lambda: layers.Conv2D(2, 3, padding=True), lambda: layers.Conv2D(2, 3, padding=[]),
                 lambda: layers.Conv2D(2, 3, padding=(1, 1, 1)),        # no padding layer of 2-D images takes 3
                 lambda: layers.ConvLSTM2D(2, 3, padding=1), lambda: layers.MaxPooling2D(2, padding=1)):
        with pytest.raises(TypeError) as info:
            make()
        assert "PyTorch" not in str(info.value) and "padding must be a str, one of" in str(info.value)
