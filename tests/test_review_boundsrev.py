"""Review of the build-time bounds (glassnet._bounds): crafted numbers that still sized huge arrays.
No test here allocates more than a few megabytes; each runs under an alarm."""
import json

import numpy as np
import pytest

import glassnet as gn

from crafted_files import within

L = gn.layers


def _attention_json(steps=128, **settings):
    inputs = gn.Input((steps, 1))
    model = gn.Model(inputs, L.MultiHeadAttention(2, 1)(inputs, inputs))
    spec = json.loads(model.to_json())
    layer = next(spec_ for spec_ in spec["config"]["layers"] if spec_["class_name"] == "MultiHeadAttention")
    layer["config"].update(settings)
    return json.dumps(spec)


def test_attention_heads_from_a_config_are_refused_by_name():
    # num_heads=10**6 on 128 steps of 1 feature: 4 * 10**6 weights (under model_from_json's cap),
    # but scores of 10**6 x 128 x 128 = 1.6 * 10**10 numbers a sample (61 GiB): predict allocated them
    with within(20), pytest.raises(ValueError, match=r"num_heads=1000000.*MAX_SAMPLE_VALUES"):
        gn.io.model_from_json(_attention_json(num_heads=10 ** 6))


def test_attention_projections_from_a_config_are_refused_by_name():
    # heads x key_dim of 2 * 10**7 (4 * 10**7 weights for 1 feature, under model_from_json's cap)
    # projected over 256 steps: 5.1 * 10**9 numbers a sample in the queries, and as many in the keys;
    # the scores (heads x 256 x 256) stay small with 2 heads
    with within(20), pytest.raises(ValueError, match=r"key_dim=10000000.*MAX_SAMPLE_VALUES"):
        gn.io.model_from_json(_attention_json(256, num_heads=2, key_dim=10 ** 7, value_dim=1, use_bias=False))


def test_attention_heads_refused_at_an_eager_first_call():
    x = np.ones((1, 128, 1), np.float32)
    with within(20), pytest.raises(ValueError, match=r"MAX_SAMPLE_VALUES"):
        L.MultiHeadAttention(10 ** 6, 1)(x, x)
    with within(20), pytest.raises(ValueError, match=r"MAX_SAMPLE_VALUES"):
        L.GroupedQueryAttention(head_dim=1, num_query_heads=10 ** 6, num_key_value_heads=1)(x, x)


def test_ordinary_attention_still_builds():
    inputs = gn.Input((None, 64))
    out = L.MultiHeadAttention(16, 64)(inputs, inputs)
    model = gn.Model(inputs, out)
    assert model.predict(np.ones((1, 10, 64), np.float32), verbose=0).shape == (1, 10, 64)
    # a long sequence: 8 heads over 8192 steps, 5 * 10**8 scores
    gn.Model(inputs := gn.Input((8192, 64)), L.MultiHeadAttention(8, 64)(inputs, inputs))


def test_attention_scores_used_alone_says_so():
    # a layer's first call now asks its output shape (the cap) before forward: the unbound reader's
    # error still says what is wrong, as forward's did (tests/test_attention.py expected it)
    with pytest.raises(ValueError, match="used alone it has none"):
        L.AttentionScores()(np.ones((2, 3)))


@pytest.mark.parametrize("make", [lambda: L.Resizing(4, 4), lambda: L.CenterCrop(4, 4), lambda: L.RandomCrop(4, 4)])
@pytest.mark.parametrize("shape", [(6,), (7, 4), (4, 5, 6, 2)])
def test_resize_layers_name_themselves_for_samples_that_are_not_images(make, shape):
    # their build's new bound read (height, width, channels) before the rank was checked: "not enough
    # values to unpack" or an IndexError, naming nothing
    with pytest.raises(ValueError, match=r"layer \w+: expected input of shape \(batch, height, width, channels\)"):
        make()(np.ones((2, *shape), np.float32))
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, height, width, channels\)"):
        gn.Sequential([L.Input(shape), make()])


@pytest.mark.parametrize("config, call", [
    ({"class_name": "Hashing", "config": {"num_bins": 10 ** 10, "output_mode": "one_hot"}}, lambda l: l(np.array([["a"]]))),
    ({"class_name": "Hashing", "config": {"num_bins": 10 ** 10, "output_mode": "count"}}, lambda l: l(np.array([["a"]]))),
    ({"class_name": "HashedCrossing", "config": {"num_bins": 10 ** 10, "output_mode": "one_hot"}},
     lambda l: l((np.array([[1]]), np.array([[2]])))),
    ({"class_name": "TextVectorization", "config": {"output_sequence_length": 10 ** 10, "vocabulary": ["a"]}},
     lambda l: l(np.array([["a b"]]))),
])
def test_preprocessing_layers_called_alone_are_bounded(config, call):
    # called on raw values these layers encode them in their own __call__, never reaching the
    # first-call check of Layer.__call__: a deserialized config allocated (1, 10**10) vectors (75 GiB)
    with within(20), pytest.raises(ValueError, match=r"MAX_SAMPLE_VALUES"):
        call(gn.layers.deserialize(config))


def test_preprocessing_layers_of_ordinary_sizes_still_work():
    assert L.Hashing(2 ** 20, output_mode="one_hot")(np.array([["a"]])).shape == (1, 2 ** 20)
    assert L.HashedCrossing(1000, output_mode="one_hot")((np.array([[1]]), np.array([[2]]))).shape == (1, 1000)
    assert L.TextVectorization(output_sequence_length=5000, vocabulary=["a"])(np.array([["a b"]])).shape == (1, 5000)
