"""Review of vocabulary=path in StringLookup / IntegerLookup (layers/lookup.py, text.vocabulary_lines)."""
import numpy as np
import pytest

import glassnet as gn


@pytest.mark.parametrize("content", ["a\nb\n\n", "a\n\nb\n"])
def test_an_empty_line_in_a_string_vocabulary_file_is_refused(tmp_path, content):
    """Keras 3.15 (TensorFlow's TextFileInitializer) refuses a vocabulary file with an empty line
    ("Invalid content in ...: empty line found at position 3"). glassnet took the empty line as
    the token "": a trailing blank line silently made the vocabulary one longer (an Embedding's
    input_dim off by one) and mapped "" to a real index instead of the OOV index."""
    path = tmp_path / "vocab.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match="empty"):
        gn.layers.StringLookup(vocabulary=str(path))


def test_the_special_tokens_block_still_reads_from_a_file(tmp_path):
    """The fix keeps get_vocabulary()'s own layout readable: mask "" first, then "[UNK]"."""
    path = tmp_path / "vocab.txt"
    path.write_text("\n[UNK]\na\nb\n", encoding="utf-8")
    layer = gn.layers.StringLookup(vocabulary=str(path), mask_token="")
    assert layer.get_vocabulary() == ["", "[UNK]", "a", "b"]
    np.testing.assert_array_equal(layer(np.array(["a", "", "z"])), [2, 0, 1])


def test_special_tokens_at_the_top_of_a_vocabulary_file_are_read_as_a_list_s(tmp_path):
    """Keras 3.15 reads a vocabulary *file* line by line as entries (TextFileInitializer, indices
    from token_start on): a file starting with "[UNK]" maps "[UNK]" to 1 and "a" to 2, and a file
    written from get_vocabulary() would hold the special tokens twice. glassnet reads a file as the
    list of its lines, whose leading special tokens are its own (as Keras reads a list): "a" is 1,
    and get_vocabulary() written to a file reads back the same layer. docs/layers.md says so."""
    keras = pytest.importorskip("keras")
    path = tmp_path / "vocab.txt"
    path.write_text("[UNK]\na\nb\n", encoding="utf-8")
    x = np.array([["a", "b", "z"]])
    ours = gn.layers.StringLookup(vocabulary=str(path))
    assert ours(x).tolist() == [[1, 2, 0]]
    assert np.asarray(keras.layers.StringLookup(vocabulary=str(path))(x)).tolist() == [[2, 3, 0]]      # Keras'
    assert ours(x).tolist() == np.asarray(keras.layers.StringLookup(vocabulary=["[UNK]", "a", "b"])(x)).tolist()
    path.write_text("\n".join(ours.get_vocabulary()) + "\n", encoding="utf-8")
    assert gn.layers.StringLookup(vocabulary=path).get_vocabulary() == ours.get_vocabulary()
