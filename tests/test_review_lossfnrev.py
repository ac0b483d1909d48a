"""Review of the loss-functions merge (glassnet.losses.functions, SparseCategoricalCrossentropy on
labels per position): per-position weights with a reduction or ignore_class, one step with
ignore_class, empty batches from logits, against Keras 3.15."""

import numpy as np
import pytest

from glassnet import losses


@pytest.mark.parametrize("settings", [{"ignore_class": 255}, {"reduction": "sum"},
                                      {"reduction": "mean_with_sample_weight", "ignore_class": 255},
                                      {"reduction": "none", "from_logits": True}, {"ignore_class": -1, "from_logits": True}])
def test_sparse_per_position_weights_with_any_reduction_or_ignore_class(settings, keras, rng):
    # the default reduction took weights one per position (n, steps); another reduction or an
    # ignore_class refused them ("expected one weight per sample, shape (3,)"), where Keras takes them
    z = rng.standard_normal((3, 4, 5))
    x = z if settings.get("from_logits") else np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    labels = rng.integers(0, 5, (3, 4))
    if "ignore_class" in settings:
        labels[0, 1] = labels[2, 3] = settings["ignore_class"]
    w = rng.random((3, 4)) + 0.1
    ours = losses.SparseCategoricalCrossentropy(**settings)
    want = np.asarray(keras.losses.SparseCategoricalCrossentropy(**settings)(labels, x, sample_weight=w))
    np.testing.assert_allclose(ours.weighted(x, labels, w), want, rtol=1e-6)
    if settings.get("reduction") == "none":
        return
    # the gradient: each position's weight times the unweighted loss's gradient, rescaled alike
    plain = losses.SparseCategoricalCrossentropy(**{**settings, "reduction": "sum"})
    g = plain.weighted_gradient(x, labels, w)
    h = plain.gradient(x, labels) * w[..., None]
    np.testing.assert_allclose(g, h, rtol=1e-12)


def test_sparse_ignore_class_on_one_step_takes_its_labels(keras, rng):
    # outputs (n, 1, k) with labels (n, 1): the mask squeezed the labels to (n,) and refused them
    p = rng.random((3, 1, 4))
    p /= p.sum(-1, keepdims=True)
    labels = np.array([[1], [255], [3]])
    for reduction in ("sum_over_batch_size", "none"):
        ours = losses.SparseCategoricalCrossentropy(ignore_class=255, reduction=reduction)(p, labels)
        theirs = keras.losses.SparseCategoricalCrossentropy(ignore_class=255, reduction=reduction)(labels, p)
        np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-6)


@pytest.mark.parametrize("shape", [(0, 3), (0, 4, 3)])
def test_sparse_function_from_logits_on_an_empty_batch(shape, keras):
    # Keras gives no values; the fused -log p's minimum check failed on the empty array
    z = np.zeros(shape)
    labels = np.zeros(shape[:-1], dtype=np.int64)
    ours = losses.sparse_categorical_crossentropy(labels, z, from_logits=True)
    theirs = np.asarray(keras.losses.sparse_categorical_crossentropy(labels, z, from_logits=True))
    assert ours.shape == theirs.shape == shape[:-1]
    assert losses.SparseCategoricalCrossentropy(from_logits=True).per_sample(z, labels).shape == shape[:-1]


def test_loss_functions_as_metrics_save_and_load(keras, rng, tmp_path):
    # metrics=[gn.losses.mean_absolute_error] trained, but save refused it as "not registered"
    # (naming 'mean_absolute_error' among the names to use); Keras saves its functions by name
    import glassnet as gn
    x = rng.standard_normal((10, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 10)]
    fns = [losses.mean_absolute_error, losses.huber, losses.kld, losses.categorical_crossentropy]
    ours = gn.Sequential([gn.layers.Dense(3, activation="softmax", input_dim=4)], seed=0)
    ours.compile(loss="categorical_crossentropy", metrics=fns)
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    theirs.compile(loss="categorical_crossentropy", metrics=[getattr(keras.losses, f.__name__) for f in fns])
    theirs.set_weights(ours.get_weights())
    got = ours.evaluate(x, y, verbose=0, return_dict=True)
    want = theirs.evaluate(x, y, verbose=0, return_dict=True)
    assert set(got) == set(want)
    for key in want:
        assert got[key] == pytest.approx(want[key], rel=1e-5), key
    ours.save(tmp_path / "m.npz")
    assert gn.load_model(tmp_path / "m.npz").evaluate(x, y, verbose=0, return_dict=True) == got


def test_a_pickle_naming_the_old_ctc_module_still_loads():
    # the module glassnet.losses.ctc became glassnet.losses.connectionist when losses.ctc became
    # Keras' function; pickles made before name the class under the old module
    import pickle
    from glassnet import losses
    old = pickle.dumps(losses.CTC(), protocol=0).replace(b"glassnet.losses.connectionist", b"glassnet.losses.ctc")
    assert type(pickle.loads(old)) is losses.CTC
    assert callable(losses.ctc)             # the name is still Keras' function
