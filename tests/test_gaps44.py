"""Small gaps against Keras 3.15 found by the reviews of session 44, each checked against Keras:
preprocessing (Hashing's one bin with a mask, lookups' small max_tokens, multi_hot/count of 3-D
inputs, RandomGaussianBlur's sigma, Normalization's given mean), F1Score/FBetaScore's (n,) outputs,
MeanMetricWrapper(hinge)'s broadcast, and LoRA (Embedding by rows, conv_filters, legacy .h5 files)."""
import json

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L


def _run(make):
    """``make()``'s value, or the exception it raised (to compare refusals)."""
    try:
        return make()
    except Exception as error:          # noqa: BLE001 - any refusal counts here
        return error


# -- Hashing(num_bins=1, mask_value) ------------------------------------------------------------
@pytest.mark.parametrize("mode", ["int", "one_hot", "multi_hot", "count"])
@pytest.mark.parametrize("mask,values", [("", [["a", ""], ["", "zz"]]), (0, [[1, 0], [5, 0]])])
def test_hashing_one_bin_with_a_mask_is_keras(keras, mode, mask, values):
    # Keras reserves bin 0 for the mask only when there are other bins: one bin holds everything
    x = np.array(values)
    theirs = np.asarray(keras.layers.Hashing(num_bins=1, mask_value=mask, output_mode=mode)(x))
    ours = L.Hashing(num_bins=1, mask_value=mask, output_mode=mode)(x)
    np.testing.assert_array_equal(ours, theirs)
    assert ours.dtype == theirs.dtype
    config = json.loads(json.dumps(keras.layers.Hashing(num_bins=1, mask_value=mask).get_config()))
    layer = L.Hashing.from_config({k: v for k, v in config.items() if k != "dtype"})
    np.testing.assert_array_equal(layer(x), np.zeros(x.shape, np.int64))


def test_hashing_with_a_mask_keeps_bin_0_for_it_from_two_bins(keras):
    x = np.array([["a"], [""], ["b"], ["c"]])
    for bins in (2, 3):
        np.testing.assert_array_equal(L.Hashing(bins, mask_value="")(x),
                                      np.asarray(keras.layers.Hashing(num_bins=bins, mask_value="")(x)))
    assert L.Hashing(2, mask_value="")(x)[1, 0] == 0 and (L.Hashing(2, mask_value="")(x)[[0, 2, 3]] == 1).all()


# -- lookups' max_tokens no larger than the special indices --------------------------------------
@pytest.mark.parametrize("cls,data,mask", [("StringLookup", ["a", "b", "b", "c", "c", "c", "d"], ""),
                                           ("IntegerLookup", [5, 6, 6, 7, 7, 7, 8], 0)])
def test_small_max_tokens_is_made_as_keras_and_refused_at_adapt(keras, cls, data, mask):
    data = np.array(data)
    ours = getattr(L, cls)(max_tokens=2, num_oov_indices=2, mask_token=mask)
    theirs = getattr(keras.layers, cls)(max_tokens=2, num_oov_indices=2, mask_token=mask)
    assert ours.get_config()["max_tokens"] == theirs.get_config()["max_tokens"] == 2
    # Keras' adapt goes wrong: 3 special indices leave max_tokens - 3 = -1 values, a slice that keeps
    # all but the last, so the vocabulary runs beyond max_tokens (or TensorFlow's empty table fails)
    result = _run(lambda: theirs.adapt(data))
    if not isinstance(result, Exception):
        assert len(theirs.get_vocabulary()) > 2
    with pytest.raises(ValueError, match=r"adapt: max_tokens=2 leaves no room for a value after the 3 special "
                                         r"indices \(mask and OOV\); give max_tokens of at least 4"):
        ours.adapt(data)
    # a given vocabulary is refused by both
    assert isinstance(_run(lambda: getattr(keras.layers, cls)(max_tokens=2, num_oov_indices=2, mask_token=mask,
                                                              vocabulary=data[:1])), ValueError)
    with pytest.raises(ValueError, match="more than max_tokens=2"):
        getattr(L, cls)(max_tokens=2, num_oov_indices=2, mask_token=mask, vocabulary=data[:1])
    with pytest.raises(ValueError, match="has no vocabulary yet"):
        ours(data[None, :2])
    # a config holding it loads (Keras' too), and one with room adapts as Keras
    clone = getattr(L, cls).from_config(ours.get_config())
    assert clone.max_tokens == 2
    fine, kfine = getattr(L, cls)(max_tokens=4, num_oov_indices=2, mask_token=mask), \
        getattr(keras.layers, cls)(max_tokens=4, num_oov_indices=2, mask_token=mask)
    fine.adapt(data)
    kfine.adapt(data)
    assert [str(v) for v in fine.get_vocabulary()] == [str(v) for v in kfine.get_vocabulary()]


def test_small_max_tokens_with_pad_to_max_tokens_is_refused_when_made():
    # vectors max_tokens wide cannot hold the special indices (Keras' call fails on them too)
    with pytest.raises(ValueError, match=r"pad_to_max_tokens=True: max_tokens=2 leaves no room"):
        L.StringLookup(max_tokens=2, num_oov_indices=2, output_mode="multi_hot", pad_to_max_tokens=True)
    with pytest.raises(ValueError, match="max_tokens must be greater than 1, got 1"):
        L.IntegerLookup(max_tokens=1)


# -- multi_hot and count of inputs of more than two axes: counted along axis 1 -------------------
_INTS = np.array([[[0, 1], [2, 2], [3, 0]], [[3, 3], [1, 0], [1, 1]]])            # (2, 3, 2)
_FLOATS = np.array([[[0.1, 1.5], [2.5, 2.7], [0.3, 0.2]], [[3.1, 3.2], [1.1, 0.0], [1.2, 1.9]]])


def _by_hand(categories, depth, mode):
    """Keras' reduction written out: for every sample and every position after axis 1, the
    categories along axis 1 counted (or present)."""
    n, k = categories.shape[:2]
    rest = categories.shape[2:]
    out = np.zeros((n, *rest, depth))
    for i in range(n):
        for pos in np.ndindex(*rest):
            for j in range(k):
                out[(i, *pos, categories[(i, j, *pos)])] += 1
    return np.minimum(out, 1) if mode == "multi_hot" else out


@pytest.mark.parametrize("mode", ["multi_hot", "count"])
def test_category_encoding_counts_along_axis_1_as_keras(keras, mode):
    x4 = np.random.default_rng(0).integers(0, 4, (2, 3, 2, 2))
    for x in (_INTS, x4):
        ours = L.CategoryEncoding(num_tokens=4, output_mode=mode)(x)
        np.testing.assert_array_equal(ours, _by_hand(x, 4, mode))
        np.testing.assert_array_equal(ours, np.asarray(keras.layers.CategoryEncoding(num_tokens=4, output_mode=mode)(x)))
    # in a model: (None, 3, 2) -> (None, 2, 4), Keras' shape and values
    inputs = gn.Input((3, 2))
    model = gn.Model(inputs, L.CategoryEncoding(num_tokens=4, output_mode=mode)(inputs))
    kin = keras.Input((3, 2))
    kmodel = keras.Model(kin, keras.layers.CategoryEncoding(num_tokens=4, output_mode=mode)(kin))
    # (Keras 3.15's model declares (None, 3, 4), its input's last axis replaced, but its values are
    # (n, 2, 4): glassnet declares what it computes)
    assert model.output_shape == (None, 2, 4)
    theirs = kmodel.predict(_INTS.astype(np.float32), verbose=0)
    assert theirs.shape == (2, 2, 4)
    np.testing.assert_array_equal(model.predict(_INTS.astype(np.float32), verbose=0), theirs)


@pytest.mark.parametrize("mode", ["multi_hot", "count"])
def test_discretization_counts_along_axis_1_as_keras(keras, mode):
    ours = L.Discretization(bin_boundaries=[1.0, 2.0, 3.0], output_mode=mode)
    theirs = keras.layers.Discretization(bin_boundaries=[1.0, 2.0, 3.0], output_mode=mode)
    np.testing.assert_array_equal(ours(_FLOATS), np.asarray(theirs(_FLOATS)))
    np.testing.assert_array_equal(ours(_FLOATS), _by_hand(np.digitize(_FLOATS, [1.0, 2.0, 3.0]), 4, mode))
    inputs = gn.Input((3, 2))
    model = gn.Model(inputs, L.Discretization(bin_boundaries=[1.0, 2.0, 3.0], output_mode=mode)(inputs))
    assert model.output_shape == (None, 2, 4)
    np.testing.assert_array_equal(model.predict(_FLOATS, verbose=0), np.asarray(theirs(_FLOATS)))


@pytest.mark.parametrize("mode", ["multi_hot", "count"])
def test_hashing_counts_along_axis_1_as_keras(keras, mode):
    words = np.array([[["a", "b"], ["a", "c"]], [["d", "d"], ["b", "e"]]])
    for x in (_INTS, words):
        ours = L.Hashing(num_bins=5, output_mode=mode)(x)
        np.testing.assert_array_equal(ours, np.asarray(keras.layers.Hashing(num_bins=5, output_mode=mode)(x)))
        np.testing.assert_array_equal(ours, _by_hand(L.Hashing(num_bins=5)(x), 5, mode))


def test_two_axes_still_give_one_vector_per_sample(keras):
    x = np.array([[0, 3, 3], [1, 1, 2]])
    np.testing.assert_array_equal(L.CategoryEncoding(4, output_mode="count")(x),
                                  np.asarray(keras.layers.CategoryEncoding(num_tokens=4, output_mode="count")(x)))
    with pytest.raises(ValueError, match=r"takes samples of k categories, inputs \(batch, k, \.\.\.\)"):
        L.CategoryEncoding(4, output_mode="count").output_shape(())


# -- RandomGaussianBlur's sigma in Keras' config ------------------------------------------------
def test_a_keras_sigma_number_means_the_range_0_to_sigma(keras):
    """Keras 3.15 keeps a number sigma as (0, sigma), writes that in its config and draws its
    blur's standard deviation from it (its code; its docstring says a number is the deviation):
    read back as that range, glassnet's layer draws from it too."""
    theirs = keras.layers.RandomGaussianBlur(factor=(1.0, 1.0), sigma=0.5, value_range=(0, 1), seed=3)
    config = json.loads(json.dumps(theirs.get_config()))
    assert config["sigma"] == [0, 0.5]
    images = np.random.default_rng(0).random((8, 5, 5, 1)).astype(np.float32)
    drawn = np.concatenate([np.asarray(theirs.get_random_transformation(images, training=True)["blur_factor"])
                            for _ in range(6)])
    assert drawn.min() >= 0.0 and drawn.max() <= 0.5 + 1e-6 and drawn.std() > 0.01       # a range, not 0.5
    ours = L.RandomGaussianBlur.from_config({k: v for k, v in config.items() if k not in ("dtype", "name")})
    assert ours.sigma == (0.0, 0.5) and ours.get_config()["sigma"] == [0.0, 0.5]
    ours(images, training=True)
    sigmas = ours._drawn["blur_factor"]
    assert sigmas.min() >= 0.0 and sigmas.max() <= 0.5 + 1e-6 and sigmas.std() > 0.01
    # glassnet's own number is the deviation itself (the documentation), written as [s, s]
    own = L.RandomGaussianBlur(factor=(1.0, 1.0), sigma=0.5, value_range=(0, 1), seed=0)
    own(images, training=True)
    np.testing.assert_allclose(own._drawn["blur_factor"], 0.5 + 1e-6)
    assert own.get_config()["sigma"] == [0.5, 0.5]


# -- Normalization's given mean: no more axes than axis names ------------------------------------
@pytest.mark.parametrize("axis,shape", [(-1, (4,)), (-1, ()), (-1, (1, 4)), (-1, (3, 4)), ((1, 2), (3, 4)),
                                        ((1, 2), (1, 3, 4)), (None, (4,)), (None, ())])
def test_normalization_given_mean_rank_is_keras(keras, axis, shape):
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    mean, variance = np.full(shape, 2.0, np.float32), np.full(shape, 4.0, np.float32)
    theirs = _run(lambda: np.asarray(keras.layers.Normalization(axis=axis, mean=mean, variance=variance)(x)))
    ours = _run(lambda: L.Normalization(axis=axis, mean=mean, variance=variance)(x))
    assert isinstance(ours, Exception) == isinstance(theirs, Exception), (ours, theirs)
    if isinstance(theirs, Exception):
        assert isinstance(ours, ValueError)
        if len(shape) > (0 if axis is None else 1 if isinstance(axis, int) else len(axis)):
            assert "must have at most as many axes as axis names" in str(ours)
    else:
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
        np.testing.assert_allclose(ours, (x - 2.0) / 2.0)


# -- F1Score / FBetaScore on (n,) outputs -------------------------------------------------------
_YT = np.array([1, 0, 1, 1, 0, 1], np.float32)
_YP = np.array([0.9, 0.2, 0.4, 0.7, 0.6, 0.8], np.float32)


def _after_build(metric, classes=1):
    """``metric`` having counted (n, classes) outputs once (Keras' build), then reset."""
    metric.update_state(np.ones((2, classes), np.float32), np.full((2, classes), 0.7, np.float32))
    metric.reset_state()
    return metric


@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted"])
@pytest.mark.parametrize("name,kw", [("F1Score", {}), ("FBetaScore", {"beta": 2.0})])
def test_fscore_takes_n_outputs_where_built_keras_takes_them(keras, name, kw, average):
    ours = _after_build(getattr(gn.metrics, name)(average=average, threshold=0.5, **kw))
    theirs = _after_build(getattr(keras.metrics, name)(average=average, threshold=0.5, **kw))
    for part in (slice(0, 4), slice(4, None)):
        ours.update_state(_YT[part], _YP[part])
        theirs.update_state(_YT[part], _YP[part])
    np.testing.assert_allclose(np.ravel(ours.result()), np.ravel(np.asarray(theirs.result())), rtol=1e-5)
    # the same as (n, 1) outputs, and by hand: tp 3, fp 1, fn 1
    column = getattr(gn.metrics, name)(average=average, threshold=0.5, **kw)
    column.update_state(_YT[:, None], _YP[:, None])
    np.testing.assert_allclose(np.ravel(ours.result()), np.ravel(column.result()), rtol=1e-12)
    b2 = kw.get("beta", 1.0) ** 2
    np.testing.assert_allclose(np.ravel(ours.result()), (1 + b2) * 0.75 * 0.75 / (b2 * 0.75 + 0.75), rtol=1e-5)


def test_fscore_refuses_n_outputs_where_keras_is_wrong(keras):
    # not built: Keras refuses too
    assert isinstance(_run(lambda: keras.metrics.F1Score(threshold=0.5).update_state(_YT, _YP)), ValueError)
    with pytest.raises(ValueError, match=r"Keras takes \(n,\) only once it has counted \(n, classes\) outputs"):
        gn.metrics.F1Score(threshold=0.5).update_state(_YT, _YP)
    # no threshold: Keras compares each output with the batch's highest, not its sample's
    theirs = _after_build(keras.metrics.F1Score())
    theirs.update_state(_YT, _YP)
    column = keras.metrics.F1Score()
    column.update_state(_YT[:, None], _YP[:, None])
    assert abs(float(np.ravel(theirs.result())[0]) - float(np.ravel(column.result())[0])) > 0.1
    with pytest.raises(ValueError, match="need a threshold: without one Keras compares each with the batch's highest"):
        _after_build(gn.metrics.F1Score()).update_state(_YT, _YP)
    # sample weights: Keras' (n, n) product (a failed assign, or a wrong pooled count)
    weights = np.array([1, 2, 1, 0.5, 1, 1], np.float32)
    micro = _after_build(keras.metrics.F1Score(average="micro", threshold=0.5))
    micro.update_state(_YT, _YP, sample_weight=weights)
    column = keras.metrics.F1Score(average="micro", threshold=0.5)
    column.update_state(_YT[:, None], _YP[:, None], sample_weight=weights)
    assert abs(float(micro.result()) - float(column.result())) > 1e-3
    with pytest.raises(ValueError, match=r"sample_weight with outputs of shape \(6,\): Keras weighs them as an \(n, n\)"):
        _after_build(gn.metrics.F1Score(average="micro", threshold=0.5)).update_state(_YT, _YP, sample_weight=weights)
    # several classes counted: Keras gives each the one count
    three = _after_build(keras.metrics.F1Score(threshold=0.5), 3)
    three.update_state(_YT, _YP)
    assert np.asarray(three.result()).shape == (3,)
    with pytest.raises(ValueError, match=r"counted 3 classes so far, got outputs of shape \(6,\) \(one class\)"):
        _after_build(gn.metrics.F1Score(threshold=0.5), 3).update_state(_YT, _YP)


# -- MeanMetricWrapper(hinge): Keras' (n, n) broadcast, refused ----------------------------------
@pytest.mark.parametrize("name", ["hinge", "squared_hinge"])
def test_mean_metric_wrapper_hinge_refuses_keras_n_by_n_product(keras, name):
    y_true = np.array([[1.0], [0.0], [1.0]], np.float32)
    y_pred = np.array([0.9, -0.2, 0.4], np.float32)
    theirs = keras.metrics.MeanMetricWrapper(getattr(keras.losses, name))
    theirs.update_state(y_true, y_pred)
    # Keras' value is the mean over every (target i, output j) pair: a wrong (n, n) product
    signs = 2 * y_true - 1                                  # (3, 1) against (3,)
    margins = np.maximum(1 - signs * y_pred, 0)             # (3, 3)
    product = np.mean(margins if name == "hinge" else margins ** 2)
    np.testing.assert_allclose(float(theirs.result()), product, rtol=1e-6)
    row = np.maximum(1 - signs[:, 0] * y_pred, 0)           # one row per sample
    right = np.mean(row if name == "hinge" else row ** 2)
    assert abs(product - right) > 0.1
    with pytest.raises(ValueError, match=rf"{name}: expected targets of the output's shape \(3,\), got shape \(3, 1\)"):
        gn.metrics.MeanMetricWrapper(getattr(gn.losses, name)).update_state(y_true, y_pred)
    # the same shapes: Keras' value, the right one
    ours = gn.metrics.MeanMetricWrapper(getattr(gn.losses, name))
    ours.update_state(y_true, y_pred[:, None])
    theirs = keras.metrics.MeanMetricWrapper(getattr(keras.losses, name))
    theirs.update_state(y_true, y_pred[:, None])
    np.testing.assert_allclose(float(ours.result()), float(theirs.result()), rtol=1e-6)
    np.testing.assert_allclose(float(ours.result()), right, rtol=1e-6)


# -- LoRA: Embedding by rows ---------------------------------------------------------------------
def _lora_embedding(dtype="float64", vocabulary=40, width=6, rank=3, alpha=5.0):
    layer = L.Embedding(vocabulary, width, dtype=dtype, seed=0)
    layer.build((7,))
    layer.enable_lora(rank, lora_alpha=alpha)
    rng = np.random.default_rng(5)
    layer.params["lora_embeddings_b"][...] = rng.normal(size=(rank, width))
    return layer


def test_lora_embedding_rows_equal_the_merged_table(monkeypatch):
    layer = _lora_embedding()
    lora = layer._lora
    x = np.random.default_rng(1).integers(0, 40, (5, 7))
    x[0, :3] = 11                       # a row picked several times: its gradient sums
    table = lora.merged()
    g = np.random.default_rng(2).normal(size=(5, 7, 6))
    plain = L.Embedding(40, 6, dtype="float64")
    plain.build((7,))
    plain.set_weights([table])
    want = plain.forward(x)
    plain.backward(g)
    dw = plain.grads["embeddings"]
    # the whole merged table is never made on the way
    monkeypatch.setattr(lora, "merged", lambda: pytest.fail("the merged table was built"))
    np.testing.assert_allclose(layer.forward(x), want, rtol=1e-13, atol=1e-13)
    layer.backward(g)
    a, b, s = layer.params["lora_embeddings_a"], layer.params["lora_embeddings_b"], lora.scale
    np.testing.assert_allclose(layer.grads["lora_embeddings_a"], s * dw @ b.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.grads["lora_embeddings_b"], s * a.T @ dw, rtol=1e-12, atol=1e-12)
    assert not layer.grads["lora_embeddings_a"][np.setdiff1d(np.arange(40), x)].any()   # rows unread: 0


def test_lora_embedding_wide_rank_and_mask(monkeypatch):
    # a rank above the per-column bincount's limit takes the (row, column) bincount; masks pass on
    layer = _lora_embedding(rank=40, width=4)
    layer.mask_zero = True
    x = np.array([[0, 3, 3, 9, 0, 1, 2]])
    g = np.random.default_rng(3).normal(size=(1, 7, 4))
    table = layer._lora.merged()
    out = layer.forward(x)
    np.testing.assert_allclose(out, table[x], rtol=1e-13, atol=1e-13)
    layer.backward(g)
    dw = np.zeros((40, 4))
    np.add.at(dw, x.ravel(), g.reshape(-1, 4))
    np.testing.assert_allclose(layer.grads["lora_embeddings_a"], layer._lora.scale * dw @ layer.params[
        "lora_embeddings_b"].T, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(layer.compute_mask(x), x != 0)


def test_lora_embedding_values_and_gradients_are_keras(keras):
    import tensorflow as tf
    ours = _lora_embedding(dtype="float32", vocabulary=300, width=8, rank=4, alpha=8)
    theirs = keras.layers.Embedding(300, 8)
    theirs.build((None, 7))
    theirs.enable_lora(4, lora_alpha=8)
    theirs.set_weights(ours.get_weights())
    x = np.random.default_rng(4).integers(0, 300, (6, 7))
    g = np.random.default_rng(5).normal(size=(6, 7, 8)).astype(np.float32)
    with tf.GradientTape() as tape:
        out = theirs(x)
        loss = tf.reduce_sum(out * g)
    grads = tape.gradient(loss, [theirs.lora_embeddings_a, theirs.lora_embeddings_b])
    np.testing.assert_allclose(ours.forward(x), out.numpy(), rtol=1e-5, atol=1e-6)
    ours.backward(g)
    np.testing.assert_allclose(ours.grads["lora_embeddings_a"], tf.convert_to_tensor(grads[0]).numpy(),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.grads["lora_embeddings_b"], grads[1].numpy(), rtol=1e-4, atol=1e-5)


# -- LoRA: conv_filters draws the merged kernel -------------------------------------------------
def test_conv_filters_of_a_lora_conv2d_draw_its_merged_kernel():
    pytest.importorskip("matplotlib", reason="needs the plot extra: pip install 'glassnet[plot]'")
    from glassnet import plot
    layer = L.Conv2D(4, 3, seed=0)
    layer.build((6, 6, 1))
    layer.enable_lora(2)
    layer.params["lora_kernel_b"][...] = np.random.default_rng(0).normal(size=(2, 4))
    merged = np.asarray(layer.kernel)
    assert not np.allclose(merged, layer.state["kernel"])
    np.testing.assert_array_equal(plot._filters(layer), merged)
    fig = plot.conv_filters(layer)
    images = [np.asarray(ax.images[0].get_array()) for ax in fig.axes if ax.images]
    np.testing.assert_array_equal(images[2], merged[:, :, 0, 2])
    assert "kernel" in layer.state and "kernel" not in layer.params        # unchanged after drawing


# -- LoRA in Keras' legacy .h5 model files --------------------------------------------------------
_H5_KINDS = {
    "Dense": (lambda m: m.layers.Dense(5, name="lora"), (6,), "f"),
    "Embedding": (lambda m: m.layers.Embedding(9, 5, name="lora"), (4,), "i"),
    "Conv2D": (lambda m: m.layers.Conv2D(4, 3, name="lora"), (6, 6, 2), "f"),
}


def _h5_models(keras, kind, alpha):
    make, shape, dtype = _H5_KINDS[kind]
    theirs = keras.Sequential([keras.Input(shape, dtype="int32" if dtype == "i" else "float32"), make(keras),
                               keras.layers.Flatten(), keras.layers.Dense(3, name="head")])
    ours = gn.Sequential([L.Input(shape), make(gn), L.Flatten(), L.Dense(3, name="head")], seed=0)
    theirs.layers[0].enable_lora(2, lora_alpha=alpha)
    ours.layers[0].enable_lora(2, lora_alpha=alpha)
    rng = np.random.default_rng(7)
    weights = [0.4 * rng.normal(size=w.shape).astype(np.float32) for w in theirs.get_weights()]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    rng = np.random.default_rng(1)
    x = rng.integers(0, 9, (5, *shape)) if dtype == "i" else rng.normal(size=(5, *shape)).astype(np.float32)
    return theirs, ours, x


@pytest.mark.parametrize("kind", sorted(_H5_KINDS))
def test_keras_legacy_h5_with_lora_is_read(keras, tmp_path, kind):
    """Keras 3.15's legacy writer keeps the frozen kernel W0 (not merged), A and B, its trainable
    weights first: read by name, the layer computes as Keras' did."""
    h5py = pytest.importorskip("h5py")
    theirs, _, x = _h5_models(keras, kind, alpha=6)
    theirs.save(tmp_path / "k.h5")
    with h5py.File(tmp_path / "k.h5", "r") as f:
        names = [n.decode() if isinstance(n, bytes) else n for n in f["model_weights"]["lora"].attrs["weight_names"]]
    key = "embeddings" if kind == "Embedding" else "kernel"
    assert names[-1].endswith(f"/{key}")            # the frozen kernel last
    ours = gn.load_model(tmp_path / "k.h5")
    layer = ours.layers[0]
    assert layer.lora_enabled and (layer.lora_rank, layer.lora_alpha) == (2, 6)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):           # W0, bias, A, B as Keras' own
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("trainable", [True, False])
@pytest.mark.parametrize("kind", sorted(_H5_KINDS))
def test_legacy_h5_with_lora_is_written_for_keras(keras, tmp_path, kind, trainable):
    h5py = pytest.importorskip("h5py")
    # Keras' Dense and Embedding drop a constructor's lora_alpha (tests/test_lora.py): alpha = rank here
    theirs, ours, x = _h5_models(keras, kind, alpha=2)
    ours.layers[0].trainable = theirs.layers[0].trainable = trainable
    ours.save(tmp_path / "g.h5", save_format="h5")
    theirs.save(tmp_path / "k.h5")
    with h5py.File(tmp_path / "g.h5", "r") as mine, h5py.File(tmp_path / "k.h5", "r") as kfile:
        ordered = [[(n.decode() if isinstance(n, bytes) else n).split("/")[-1]
                    for n in f["model_weights"]["lora"].attrs["weight_names"]] for f in (mine, kfile)]
    assert ordered[0] == ordered[1]                 # Keras' order: the frozen layer's too
    back = keras.models.load_model(tmp_path / "g.h5", compile=False)
    assert back.layers[0].lora_enabled
    for a, b in zip(back.get_weights(), ours.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(back.predict(x, verbose=0), ours.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    again = gn.load_model(tmp_path / "g.h5")
    for a, b in zip(again.get_weights(), ours.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("mode", ["multi_hot", "count", "tf_idf"])
@pytest.mark.parametrize("cls,data,vocabulary,mask", [
    ("StringLookup", [[["a", "b"], ["a", "c"], ["z", "c"]], [["d", "d"], ["b", ""], ["b", "b"]]], ["a", "b", "c", "d"], ""),
    ("IntegerLookup", [[[5, 6], [5, 7], [9, 7]], [[8, 8], [6, 0], [6, 6]]], [5, 6, 7, 8], 0)])
def test_lookups_count_along_axis_1_as_keras(keras, mode, cls, data, vocabulary, mask):
    x = np.array(data)
    weights = {"idf_weights": [0.5, 1.0, 1.5, 2.0]} if mode == "tf_idf" else {}
    for token in (None, mask):
        ours = getattr(L, cls)(vocabulary=vocabulary, output_mode=mode, mask_token=token, **weights)(x)
        theirs = np.asarray(getattr(keras.layers, cls)(vocabulary=vocabulary, output_mode=mode, mask_token=token,
                                                       **weights)(x))
        assert ours.shape == theirs.shape == (2, 2, 5) and ours.dtype == theirs.dtype
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    inputs = gn.Input((3, 2))
    if cls == "IntegerLookup":
        model = gn.Model(inputs, L.IntegerLookup(vocabulary=vocabulary, output_mode=mode, **weights)(inputs))
        assert model.output_shape == (None, 2, 5)
        np.testing.assert_allclose(model.predict(x.astype(np.float32), verbose=0),
                                   getattr(keras.layers, cls)(vocabulary=vocabulary, output_mode=mode, **weights)(x),
                                   rtol=1e-6)
