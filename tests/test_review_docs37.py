"""Review of today's docs, read and run as a Keras user would (docs37): the messages that name
what a tensor being drawn takes, and a flag given by position to an attention layer."""
import re

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers, ops


def _message(call):
    with pytest.raises(TypeError) as info:
        call()
    return str(info.value)


@pytest.mark.parametrize("make", [lambda: gn.Input((3,)), lambda: layers.Dense(2)(gn.Input((3,)))],
                         ids=["input", "drawn tensor"])
def test_the_message_for_numpy_on_a_tensor_names_what_a_tensor_takes_today(make):
    """np.tanh(x) on an Input or a drawn tensor is refused, and its message lists what works: it
    once said `**` takes a number exponent only and (on an Input) left out @, //, %, comparisons,
    which all make nodes now (README: `x ** y`, `2 ** x`, `a @ b`, ...)."""
    x = make()
    message = _message(lambda: np.tanh(x))
    assert "holds no values" in message and "Layer of your own" in message
    assert "a number exponent" not in message
    for operator in ("@", "//", "%", "comparisons"):
        assert operator in message
    # and what the message names works, on either kind of tensor
    for result in (x ** x, 2 ** x, x @ np.ones((x.shape[-1], 2)), x // 2, x % 2, x > 0):
        assert result.shape[0] is None


def test_a_flag_by_position_in_a_mask_s_place_says_to_give_the_flag_by_keyword():
    """mha(q, v, k, True), the call glassnet once read as training=True, is refused as Keras 3.15
    refuses it; the message must not send the user to query_mask=True (a flag is no mask) but to
    the flags' keywords."""
    rng = np.random.default_rng(0)
    q, v = rng.normal(size=(2, 4, 6)), rng.normal(size=(2, 5, 6))
    mha = layers.MultiHeadAttention(2, 3)
    mha(q, v, v)
    message = _message(lambda: mha(q, v, v, True))
    assert "query_mask" in message                  # still names the place it filled
    assert "give query_mask= by keyword" not in message
    assert re.search(r"training=", message) and "return_attention_scores=" in message
    # a mask by position is still taken, and a flag in a flag's place still says its own name
    assert mha(q, v, v, None, np.ones((2, 5), bool)).shape == (2, 4, 6)
    attention = layers.Attention()
    assert "give return_attention_scores= by keyword" in _message(lambda: attention([q, v], None, None, True))


def test_docs_list_every_glassnet_ops_function_and_no_built_one_as_not_built():
    """README's glassnet.ops paragraphs (and the docs/ops_*.md pages they link) name every function
    glassnet.ops has (hard_swish was missing), layers.md's TensorFunction row names stop_gradient, and keras_parity's "Not built"
    list names only keras.ops functions glassnet lacks (it named `gather`, which keras.ops has not)."""
    import pathlib
    root = pathlib.Path(__file__).resolve().parents[1]
    readme = (root / "docs" / "guide" / "ops.md").read_text()     # moved there from the README
    start = readme.index("`glassnet.ops` (imported on first use)")
    part = readme[start:readme.index("Every `keras.ops` function is built", start)]
    # the README's paragraphs, and the pages they link for groups of functions (docs/ops_*.md)
    for page in sorted((root / "docs").glob("ops_*.md")):
        part += page.read_text()
    named = set(re.findall(r"`([a-z_0-9]+)`", part)) | set(re.findall(r"ops\.([a-z_0-9]+)", part))
    assert set(ops.__all__) <= named, sorted(set(ops.__all__) - named)
    row = next(line for line in (root / "docs" / "layers.md").read_text().splitlines()
               if line.startswith("| `TensorFunction("))
    assert "`stop_gradient`" in row
    parity = next(line for line in (root / "docs" / "keras_parity.md").read_text().splitlines()
                  if line.startswith("| `keras.ops`:"))
    # (none is left since jvp: the row says every keras.ops function is built)
    not_built = re.findall(r"`([a-z_0-9]+)`", parity[parity.index("Not built"):]) if "Not built" in parity else []
    assert "Every `keras.ops` function is built" in parity
    assert not set(not_built) & set(ops.__all__)
    assert "gather" not in not_built


def test_count_params_docs_list_the_activation_layers_keras_builds_when_made(keras):
    """keras_parity's count_params row lists the layers whose count is 0 before a build (Keras
    builds them when made): ELU, LeakyReLU and Softmax were left out."""
    import pathlib
    root = pathlib.Path(__file__).resolve().parents[1]
    row = next(line for line in (root / "docs" / "keras_parity.md").read_text().splitlines()
               if line.startswith("| `count_params()` before the model is built"))
    for name in ("ELU", "LeakyReLU", "Softmax"):
        assert getattr(gn.layers, name)().count_params() == getattr(keras.layers, name)().count_params() == 0
        assert f"`{name}`" in row


class Residual(gn.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = layers.Dense(3)

    def call(self, x):
        return x + self.dense(x)


def test_a_model_named_by_default_in_one_test():
    assert Residual().name == "residual"


def test_default_names_do_not_depend_on_the_tests_run_before():
    """Default model names count per session (keras_parity's row, as Keras 3.15); the test above
    made a `residual` in this process, and a test reading a default name (test_subclassing's, the
    README's snippets) failed after it: each test starts a fresh session (tests/conftest.py)."""
    assert Residual().name == "residual"
    assert gn.Sequential().name == "sequential"
