"""Review of shared output layers (layers called more than once making a model output)."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.cli import is_classifier

L = gn.layers


def _base():
    x = gn.Input((3,))
    d = L.Dense(3, activation="softmax", name="d")
    return gn.Model(x, d(L.Dense(3, activation="tanh", name="inner")(d(x))), dtype="float64", seed=0)


def test_pop_back_to_a_nested_model_whose_output_is_a_shared_layer(rng):
    # Sequential([base]) is accepted (its output is d's second call); Sequential([base, top]).pop()
    # must give that same model back, as Keras' pop does, instead of refusing it as if the output
    # had to be made by the last layer of `layers`
    base = _base()
    model = gn.Sequential([base, L.Dense(2, name="top")], dtype="float64")
    top = model.pop()
    assert top.name == "top" and [layer.name for layer in model.layers] == ["d", "inner"]
    assert model._output_layer is base.get_layer("d")
    x, y = rng.normal(size=(6, 3)), np.eye(3)[rng.integers(0, 3, 6)]
    for each in (base, model):
        each.compile(loss="categorical_crossentropy", optimizer="sgd")
    assert model._fused
    assert model.evaluate(x, y, verbose=0) == pytest.approx(base.evaluate(x, y, verbose=0), rel=1e-13)


def test_cli_treats_a_tied_embedding_s_logits_trained_from_logits_as_a_classifier():
    # the reverse call of a ReversibleEmbedding gives logits over a flat output, as a Dense with no
    # activation does; trained with from_logits=True, `glassnet predict` should write labels and
    # probabilities for both (it does for the Dense)
    ids = gn.Input((5,))
    emb = L.ReversibleEmbedding(13, 4, name="tokens")
    h = L.Dense(4)(L.GlobalAveragePooling1D()(emb(ids)))
    tied = gn.Model(ids, emb(h, reverse=True), seed=0)
    ids2 = gn.Input((5,))
    plain = gn.Model(ids2, L.Dense(13)(L.GlobalAveragePooling1D()(L.Embedding(13, 4)(ids2))), seed=0)
    for model in (tied, plain):
        model.compile(loss=gn.losses.SparseCategoricalCrossentropy(from_logits=True), optimizer="sgd")
    assert tied.output_shape == plain.output_shape == (None, 13)
    assert is_classifier(plain)
    assert is_classifier(tied)


def test_evaluate_of_a_shared_layer_given_an_activity_regularizer_is_not_silently_half_penalised(rng):
    # fit refuses a shared layer with an activity_regularizer ("penalty per call is not supported
    # yet"); evaluate must not return a loss with the penalty of the last call only (Keras adds
    # one penalty per call)
    model = _base()
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    x, y = rng.normal(size=(8, 3)), np.eye(3)[rng.integers(0, 3, 8)]
    model.get_layer("d").activity_regularizer = gn.regularizers.L2(1.0)
    with pytest.raises(NotImplementedError, match="activity_regularizer"):
        model.train_on_batch(x, y)
    with pytest.raises(NotImplementedError, match="activity_regularizer"):
        model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)         # no penalty there: fine


def test_model_losses_after_predict_of_a_shared_layer_given_an_activity_regularizer_refuses(rng):
    # predict lets go of the kept outputs and keeps their penalties for model.losses; a shared
    # layer's penalty per call is not kept, so predict must run and model.losses refuse by name
    model = _base()
    model.get_layer("d").activity_regularizer = gn.regularizers.L2(1.0)
    model.predict(rng.normal(size=(8, 3)), verbose=0)
    with pytest.raises(NotImplementedError, match="activity_regularizer"):
        model.losses
