"""Review findings for the text layers (TextVectorization, StringLookup, IntegerLookup)."""
import numpy as np
import pytest

from glassnet.feeding import PyDataset
from glassnet.layers import IntegerLookup, StringLookup, TextVectorization

TEXTS = np.array(["a b", "b c", "c d e", "é f"])


class Endless(PyDataset):
    """Batches of two texts, cycling, without an end (Keras' num_batches None)."""
    num_batches = None

    def __getitem__(self, index):
        return TEXTS[(2 * index) % 4:(2 * index) % 4 + 2]


class EndlessCodes(PyDataset):
    num_batches = None

    def __getitem__(self, index):
        return np.array([[1, 2], [2, 3]]) + index


@pytest.mark.parametrize("steps, expected", [(1, ["", "[UNK]", "b", "c", "a"]),
                                             (2, ["", "[UNK]", "c", "b", "é", "f", "e", "d", "a"])])
def test_text_vectorization_adapts_steps_batches_of_an_endless_dataset(steps, expected):
    # Keras 3.15 reads `steps` batches of an endless PyDataset (its docs: "you must specify steps")
    layer = TextVectorization()
    layer.adapt(Endless(), steps=steps)
    assert layer.get_vocabulary() == expected


def test_lookups_adapt_steps_batches_of_an_endless_dataset():
    layer = StringLookup()
    layer.adapt(Endless(), steps=1)
    assert layer.get_vocabulary() == ["[UNK]", "b c", "a b"]          # Keras 3.15's
    codes = IntegerLookup()
    codes.adapt(EndlessCodes(), steps=2)
    assert codes.get_vocabulary() == [-1, 3, 2, 4, 1]


def test_an_endless_dataset_without_steps_is_refused_by_name():
    for layer in (TextVectorization(), StringLookup()):
        with pytest.raises(ValueError, match="num_batches is None.*steps="):
            layer.adapt(Endless())


def test_endless_dataset_matches_keras():
    keras = pytest.importorskip("keras")

    class KerasEndless(keras.utils.PyDataset):
        @property
        def num_batches(self):
            return None

        def __getitem__(self, index):
            return TEXTS[(2 * index) % 4:(2 * index) % 4 + 2]

    for cls, ours in ((keras.layers.TextVectorization, TextVectorization), (keras.layers.StringLookup, StringLookup)):
        theirs, mine = cls(), ours()
        theirs.adapt(KerasEndless(), steps=1)
        mine.adapt(KerasEndless(), steps=1)
        assert mine.get_vocabulary() == [str(t) for t in theirs.get_vocabulary()]


@pytest.mark.parametrize("mode", ["multi_hot", "count", "tf_idf"])
def test_string_lookup_vectors_of_more_than_one_axis_count_along_axis_1(mode):
    # a (2, 2, 3) input was flattened into one bag per sample, (2, width), silently, then refused;
    # Keras counts along axis 1, (2, 3, width), and so does glassnet now (tests/test_gaps44.py)
    x = np.array([[["a", "b", "a"], ["c", "c", "q"]], [["b", "b", "b"], ["a", "q", "q"]]])
    layer = StringLookup(vocabulary=["a", "b", "c"], output_mode=mode,
                         idf_weights=[1.0, 2.0, 3.0] if mode == "tf_idf" else None)
    out = layer(x)
    assert out.shape == (2, 3, 4)
    for j in range(3):                                 # position j: the bag x[:, :, j]
        np.testing.assert_array_equal(out[:, j], layer(x[:, :, j]))
    assert layer(x[:, 0]).shape == (2, 4)              # (batch, k) still gives (batch, width)


@pytest.mark.parametrize("mode", ["multi_hot", "count"])
def test_hashing_vectors_of_more_than_one_axis_count_along_axis_1(mode):
    from glassnet.layers import Hashing
    x = np.array([[["a", "b", "a"], ["c", "c", "q"]], [["b", "b", "b"], ["a", "q", "q"]]])
    out = Hashing(4, output_mode=mode)(x)               # Keras' reduction over axis 1 (tests/test_gaps44.py)
    assert out.shape == (2, 3, 4)
    for j in range(3):
        np.testing.assert_array_equal(out[:, j], Hashing(4, output_mode=mode)(x[:, :, j]))
    assert Hashing(4, output_mode=mode)(x[:, 0]).shape == (2, 4)
    assert Hashing(4, output_mode="one_hot")(x).shape == (2, 2, 3, 4)     # one vector per value: any shape


@pytest.mark.parametrize("cls, data, again", [(IntegerLookup, np.array([1, 2, 2]), np.array([5, 5, 6])),
                                              (StringLookup, np.array(["a", "b", "b"]), np.array(["x", "x", "y"]))])
def test_a_learnt_vocabulary_may_be_adapted_again_after_a_config_round_trip(cls, data, again):
    # Keras keeps whether the vocabulary was given (has_input_vocabulary): an adapted layer rebuilt
    # from its config (a loaded model's) adapts again; glassnet refused, saying a vocabulary "was given"
    layer = cls()
    layer.adapt(data)
    copy = cls.from_config(layer.get_config())
    copy.adapt(again)
    assert copy.get_vocabulary(include_special_tokens=False) == sorted(set(again.tolist()), key=again.tolist().count,
                                                                       reverse=True)
    given = cls.from_config(cls(vocabulary=data[:1].tolist()).get_config())
    with pytest.raises(ValueError, match="a vocabulary was given"):
        given.adapt(again)                              # a given vocabulary still refuses adapt (Keras)

