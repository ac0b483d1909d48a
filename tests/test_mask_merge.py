"""Masks meeting products and quotients of two tensors (``a * b``, ``ops.multiply``, ``a / b``,
``ops.divide``), the merges Keras 3.15 gives no mask or an all-real one (``Dot``, ``Concatenate``
of a masked and an unmasked input), and Keras' "does not support masking" warning at nested
models, merges and attention layers. Keras 3.15 is the oracle: its operations drop masks (the
layers after read the padding, the loss scores it), its Functional and Sequential warn when
called on a masked tensor (and still hand the mask on through their layers), its merges and
attention layers do not warn."""
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet._block_masks import carries_mask
from glassnet.gradcheck import check_model
from keras_twins import train_both, twins

L = gn.layers
STEPS, VOCAB = 6, 9


def _ids(rng, n=10, steps=STEPS):
    """Padded id sequences: real tokens (1 .. VOCAB-1) first, zeros after; every row has one."""
    ids = rng.integers(1, VOCAB, (n, steps))
    ids[np.arange(steps) >= rng.integers(1, steps + 1, n)[:, None]] = 0
    return ids


def _ids_input(lib, name):
    return lib.Input((STEPS,), dtype="int32", name=name) if lib is not gn else gn.Input((STEPS,), name=name)


def _op_model(lib, how):
    """Two masked sequences (two Embeddings) and an unmasked one meet at a product or quotient of
    tensors; an LSTM tags each step, so what reaches the loss is scored as Keras scores it."""
    a_ids, b_ids = _ids_input(lib, "a"), _ids_input(lib, "b")
    a = lib.layers.Embedding(VOCAB, 4, mask_zero=True, name="a_emb")(a_ids)
    b = lib.layers.Embedding(VOCAB, 4, mask_zero=True, name="b_emb")(b_ids)
    plain = lib.layers.Dense(4, activation="sigmoid", name="plain")(lib.layers.Reshape((STEPS, 1))(b_ids))
    same = lib.layers.Dense(4, activation="sigmoid", name="same")(a)       # a's mask on it too
    merged = {"mul_operator_same_mask": lambda: a * same,
              "mul_operator_unmasked": lambda: plain * a,
              "ops_multiply_two_masks": lambda: lib.ops.multiply(a, b),
              "div_operator_unmasked": lambda: a / (plain + 0.5),
              "ops_divide_same_mask": lambda: lib.ops.divide(a, same + 0.5),
              "ops_divide_two_masks": lambda: lib.ops.divide(b, lib.layers.Dense(4, activation="sigmoid",
                                                                             name="b_dense")(a) + 0.5)}[how]()
    seq = lib.layers.LSTM(3, return_sequences=True, name="lstm")(merged)
    return [a_ids, b_ids], lib.layers.Dense(3, activation="softmax", name="tag")(seq)


OPS = ["mul_operator_same_mask", "mul_operator_unmasked", "ops_multiply_two_masks", "div_operator_unmasked",
       "ops_divide_same_mask", "ops_divide_two_masks"]


@pytest.mark.parametrize("how", OPS)
def test_a_product_or_quotient_of_masked_tensors_drops_the_mask_as_keras(how, keras, rng):
    ours, theirs = twins(lambda lib: _op_model(lib, how), keras)
    x, y = [_ids(rng), _ids(rng)], rng.integers(0, 3, (10, STEPS))
    np.testing.assert_allclose(ours.predict(x), np.asarray(theirs.predict(x, verbose=0)), rtol=1e-5, atol=1e-6)
    # Keras' tensor carries no mask: neither the LSTM nor the loss skips the padding
    assert ours._output_mask is None
    theirs.compile(loss="sparse_categorical_crossentropy")
    ours.compile(loss="sparse_categorical_crossentropy")
    np.testing.assert_allclose(ours.evaluate(x, y), theirs.evaluate(x, y, verbose=0), rtol=1e-5)
    mine, their = train_both(ours, theirs, x, y, "sparse_categorical_crossentropy", 0.3, 4)
    np.testing.assert_allclose(mine, their, rtol=1e-5)
    for layer in ours.layers:
        if layer.params:
            for g, k in zip(layer.get_weights(), theirs.get_layer(layer.name).get_weights()):
                np.testing.assert_allclose(g, np.asarray(k), atol=1e-5, err_msg=layer.name)


def test_the_padding_reaches_the_layers_after_a_product_as_in_keras(keras, rng):
    # what the glassnet LSTM reads: the padded steps too (no mask handed to it), so a padded row
    # answers otherwise than its real steps alone; and the op's tensor carries none
    inputs, outputs = _op_model(gn, "mul_operator_same_mask")
    assert not carries_mask(outputs) and not carries_mask(outputs.inputs[0].inputs[0])
    model = gn.Model(inputs, outputs, seed=0)
    ids = np.array([[1, 2, 0, 0, 0, 0]])
    padded = model.predict([ids, ids])[0, 1]
    lstm = model.get_layer("lstm")
    seen = []
    lstm_forward = lstm.forward
    lstm.forward = lambda x, training=False, mask=None: (seen.append(lstm.pending_mask), lstm_forward(x, training))[1]
    model.predict([ids, ids])
    assert seen == [None]
    # the padding's zeros (Embedding row 0) multiply to zeros, yet the LSTM's state moves on them
    assert not np.allclose(model.predict([ids, ids])[0, 2:], padded)


@pytest.mark.parametrize("how", ["mul_operator_unmasked", "ops_divide_same_mask", "ops_multiply_two_masks"])
def test_gradients_through_products_of_masked_tensors_agree_with_finite_differences(how, rng):
    model = gn.Model(*_op_model(gn, how), seed=0, dtype="float64")
    model.compile(loss="sparse_categorical_crossentropy")
    x = [_ids(rng, 5), _ids(rng, 5)]
    assert check_model(model, x, rng.integers(0, 3, (5, STEPS)))["max_error"] < 1e-6


def test_a_sum_with_one_masked_operand_drops_the_mask_as_keras():
    # Keras 3.15's a + b of a masked and an unmasked tensor carries no mask (tests/test_gaps41.py
    # trains such models beside Keras'); a sum of two tensors of one mask still passes it
    inputs, _ = _op_model(gn, "mul_operator_unmasked")
    a = L.Embedding(VOCAB, 4, mask_zero=True)(inputs[0])
    plain = L.Dense(4)(L.Reshape((STEPS, 1))(inputs[1]))
    assert not carries_mask(a + plain) and not carries_mask(plain - a) and carries_mask(a + L.Dense(4)(a))


# -- merges Keras gives no mask (Dot) or an all-real one (Concatenate of an unmasked input) ----------
def _merge_model(lib, how):
    a_ids, b_ids = _ids_input(lib, "a"), _ids_input(lib, "b")
    a = lib.layers.Embedding(VOCAB, 4, mask_zero=True, name="a_emb")(a_ids)
    b = lib.layers.Embedding(VOCAB, 4, mask_zero=True, name="b_emb")(b_ids)
    plain = lib.layers.Dense(4, name="plain")(lib.layers.Reshape((STEPS, 1))(b_ids))
    merged = {"dot": lambda: lib.layers.Dot(axes=2, name="merge")([a, b]),
              "dot_normalized": lambda: lib.layers.Dot(axes=2, normalize=True, name="merge")([a, plain]),
              "concatenate_unmasked": lambda: lib.layers.Concatenate(name="merge")([a, plain]),
              "multiply_three": lambda: lib.layers.Multiply(name="merge")([a, b, lib.layers.Dense(4, name="c")(a)]),
              "subtract_unmasked": lambda: lib.layers.Subtract(name="merge")([plain, a])}[how]()
    seq = lib.layers.LSTM(3, return_sequences=True, name="lstm")(merged)
    return [a_ids, b_ids], lib.layers.Dense(3, activation="softmax", name="tag")(seq)


@pytest.mark.parametrize("how", ["dot", "dot_normalized", "concatenate_unmasked", "multiply_three",
                                 "subtract_unmasked"])
def test_merges_mask_and_train_as_keras(how, keras, rng):
    ours, theirs = twins(lambda lib: _merge_model(lib, how), keras)
    x, y = [_ids(rng), _ids(rng)], rng.integers(0, 3, (10, STEPS))
    np.testing.assert_allclose(ours.predict(x), np.asarray(theirs.predict(x, verbose=0)), rtol=1e-5, atol=1e-6)
    # Keras' Dot gives none, Concatenate with an unmasked input an all-real one, Subtract none:
    # the loss scores every step there; Multiply of masked inputs the OR, the padding unscored
    assert (ours._output_mask is not None) == (how == "multiply_three")
    mine, their = train_both(ours, theirs, x, y, "sparse_categorical_crossentropy", 0.3, 4)
    np.testing.assert_allclose(mine, their, rtol=1e-5)
    np.testing.assert_allclose(ours.predict(x), np.asarray(theirs.predict(x, verbose=0)), rtol=1e-4, atol=1e-5)


# -- Keras' "does not support masking" warning -------------------------------------------------------
def _mask_warnings(draw):
    """The texts of the masking warnings given while ``draw()`` runs, in order."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        draw()
    return [str(w.message) for w in caught if "mask" in str(w.message)]


def _inner_functional(lib):
    inner_in = lib.Input((STEPS, 4))
    return lib.Model(inner_in, lib.layers.Dense(4, name="inner_dense")(inner_in), name="inner")


def _inner_sequential(lib):
    return lib.Sequential([lib.Input((STEPS, 4)), lib.layers.Dense(4, name="inner_dense")], name="inner")


WARNED = {   # how -> whether Keras 3.15 warns: its Functional and Sequential define no compute_mask
    "nested_functional": True, "nested_sequential": True, "nested_functional_unmasked": False,
    "add": False, "multiply": False, "concatenate": False, "dot": False, "maximum": False,
    "multi_head_attention": False, "mha_value_masked": False, "mha_scores": False, "attention": False,
    "additive_attention": False,
    "grouped_query_attention": False, "ops_multiply": False, "flatten": True,
}


def _warning_model(lib, how):
    ids = _ids_input(lib, "ids")
    e = lib.layers.Embedding(VOCAB, 4, mask_zero=True, name="emb")(ids)
    plain = lib.layers.Dense(4, name="plain")(lib.layers.Reshape((STEPS, 1))(ids))
    gqa = getattr(lib.layers, "GroupQueryAttention", None) or getattr(lib.layers, "GroupedQueryAttention")
    out = {"nested_functional": lambda: _inner_functional(lib)(e),
           "nested_sequential": lambda: _inner_sequential(lib)(e),
           "nested_functional_unmasked": lambda: _inner_functional(lib)(plain),
           "add": lambda: lib.layers.Add(name="m")([e, plain]),
           "multiply": lambda: lib.layers.Multiply(name="m")([plain, e]),
           "concatenate": lambda: lib.layers.Concatenate(name="m")([e, e]),
           "dot": lambda: lib.layers.Dot(axes=2, name="m")([e, plain]),
           "maximum": lambda: lib.layers.Maximum(name="m")([e, e]),
           "multi_head_attention": lambda: lib.layers.MultiHeadAttention(2, 2, name="m")(e, plain),
           "mha_value_masked": lambda: lib.layers.MultiHeadAttention(2, 2, name="m")(plain, e),
           # (glassnet's scores are a reader node of the call: it warned of itself before)
           "mha_scores": lambda: lib.layers.MultiHeadAttention(2, 2, name="m")(e, e, return_attention_scores=True)[0],
           "attention": lambda: lib.layers.Attention(name="m")([e, e]),
           "additive_attention": lambda: lib.layers.AdditiveAttention(name="m")([plain, e]),
           "grouped_query_attention": lambda: gqa(2, 2, 1, name="m")(e, e),
           "ops_multiply": lambda: lib.ops.multiply(e, plain),
           "flatten": lambda: lib.layers.Flatten(name="flat")(e)}[how]()
    if how != "flatten":
        out = lib.layers.GlobalAveragePooling1D(name="pool")(out)
    return ids, lib.layers.Dense(2, name="out")(out)


@pytest.mark.parametrize("how", list(WARNED))
def test_the_masking_warning_is_given_where_keras_gives_it_in_its_words(how, keras):
    theirs = set(_mask_warnings(lambda: keras.Model(*_warning_model(keras, how))))
    def draw():
        model = gn.Model(*_warning_model(gn, how), seed=0)
        model.predict(np.array([[1, 2, 0, 0, 0, 0]]))
        model.predict(np.array([[3, 0, 0, 0, 0, 0]]))
    ours = _mask_warnings(draw)
    assert bool(theirs) == WARNED[how]
    assert ours == sorted(theirs)           # Keras' text, once per layer (Keras: at every call)


@pytest.mark.parametrize("nested", ["functional", "sequential"])
@pytest.mark.parametrize("outer", ["functional", "sequential"])
def test_a_nested_model_warns_as_keras_and_hands_the_mask_on_as_keras_runs(nested, outer, keras, rng):
    # Keras warns that the nested model destroys the mask, and yet its run sets the mask on the
    # nested layers' outputs: the LSTM after it skips the padding, as glassnet's does
    def build(lib):
        inner = (_inner_functional if nested == "functional" else _inner_sequential)(lib)
        emb = lib.layers.Embedding(VOCAB, 4, mask_zero=True, name="emb")
        lstm = lib.layers.LSTM(3, name="lstm")
        out = lib.layers.Dense(2, activation="softmax", name="out")
        if outer == "sequential":
            return lib.Sequential([lib.Input((STEPS,)) if lib is gn else lib.Input((STEPS,), dtype="int32"),
                                   emb, inner, lstm, out])
        ids = _ids_input(lib, "ids")
        return lib.Model(ids, out(lstm(inner(emb(ids)))))

    made = []
    their_warnings = set(_mask_warnings(lambda: made.append(build(keras))))
    our_warnings = _mask_warnings(lambda: made.append(build(gn)))
    theirs, ours = made
    kind = "Functional" if nested == "functional" else "Sequential"
    assert our_warnings == sorted(their_warnings) == [
        f"Layer 'inner' (of type {kind}) was passed an input with a mask attached to it. However, this layer does "
        f"not support masking and will therefore destroy the mask information. Downstream layers will not see the "
        f"mask."]
    ours.build((None, STEPS))
    for layer in ours.layers:
        if layer.params:
            theirs.get_layer(layer.name).set_weights(layer.get_weights()) if layer.name != "inner_dense" else \
                theirs.get_layer("inner").get_layer("inner_dense").set_weights(layer.get_weights())
    x, y = _ids(rng), rng.integers(0, 2, 10)
    np.testing.assert_allclose(ours.predict(x), np.asarray(theirs.predict(x, verbose=0)), rtol=1e-5, atol=1e-6)
    mine, their = train_both(ours, theirs, x, y, "sparse_categorical_crossentropy", 0.3, 4)
    np.testing.assert_allclose(mine, their, rtol=1e-5)
