"""``sample_weight`` with more axes than the batch: Keras 3.15's temporal weights, one weight per
position of an output that has positions (a tagger's (n, steps), a segmenter's (n, H, W) or
(n, H, W, 1)), in fit, evaluate, the batch calls and the batches of a generator or a PyDataset.

What Keras 3.15 does, and these tests hold glassnet to: the loss of each position (its reduction
over the last axis) is multiplied by its weight, and "sum_over_batch_size" divides the sum by the
number of positions (n * steps), not by the sum of the weights; "mean_with_sample_weight" divides by
that sum. Weighted metrics average each position's value by its weight. A last axis of 1 is dropped
((n, steps, 1) is (n, steps)). Shapes that do not match the loss's values are refused by name.
"""
import numpy as np
import pytest

import glassnet as gn
from glassnet import gradcheck

N, T, F, C = 8, 5, 3, 4          # samples, steps, features, classes of the tagger
H, W = 4, 5                      # the segmenter's image

# loss, output units, output activation, the tagger's targets from labels (N, T)
TAGGER_LOSSES = {
    "sparse_categorical_crossentropy": (C, "softmax", lambda labels: labels),
    "categorical_crossentropy": (C, "softmax", lambda labels: np.eye(C, dtype=np.float32)[labels]),
    "binary_crossentropy": (1, "sigmoid", lambda labels: (labels % 2).astype(np.float32)[..., None]),
    "mse": (C, None, lambda labels: np.sin(np.arange(C) + labels[..., None]).astype(np.float32)),
}


def _data(rng):
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    labels = rng.integers(0, C, (N, T))
    return x, labels


def _tagger(lib, loss, units, activation, learning_rate=0.5, **compile_kwargs):
    """Dense layers on every step of (N, T, F) sequences: a tagger, in glassnet or in Keras."""
    layers = [lib.layers.Dense(6, activation="tanh"), lib.layers.Dense(units, activation=activation)]
    if lib is gn:
        model = gn.Sequential([gn.layers.Input((T, F)), *layers], seed=0)
    else:
        model = lib.Sequential([lib.Input((T, F)), *layers])
    model.compile(loss=loss, optimizer=lib.optimizers.SGD(learning_rate), **compile_kwargs)
    return model


def _segmenter(lib, loss, units, activation, dtype="float32"):
    """A per-pixel classifier of (N, H, W, 2) images: two convolutions, the last 1x1."""
    layers = [lib.layers.Conv2D(3, 3, padding="same", activation="relu"),
              lib.layers.Conv2D(units, 1, activation=activation)]
    if lib is gn:
        model = gn.Sequential([gn.layers.Input((H, W, 2)), *layers], seed=0, dtype=dtype)
    else:
        model = lib.Sequential([lib.Input((H, W, 2)), *layers])
    model.compile(loss=loss, optimizer=lib.optimizers.SGD(0.5))
    return model


def _twins(keras, make):
    ours, theirs = make(gn), make(keras)
    theirs.set_weights(ours.get_weights())
    return ours, theirs


def _assert_same_weights(ours, theirs):
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("trailing_one", [False, True], ids=["(n,T)", "(n,T,1)"])
@pytest.mark.parametrize("loss", sorted(TAGGER_LOSSES))
def test_a_tagger_weighted_per_step_trains_as_keras(loss, trailing_one, keras, rng):
    """evaluate, train_on_batch, test_on_batch and fit (uneven last batch) with one weight per step:
    the same losses and, after SGD, the same weights as Keras 3.15 to float32 noise."""
    units, activation, targets = TAGGER_LOSSES[loss]
    x, labels = _data(rng)
    y = targets(labels)
    w = rng.uniform(0, 2, (N, T, 1) if trailing_one else (N, T)).astype(np.float32)
    ours, theirs = _twins(keras, lambda lib: _tagger(lib, loss, units, activation))
    np.testing.assert_allclose(ours.evaluate(x, y, sample_weight=w),
                               theirs.evaluate(x, y, sample_weight=w, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(ours.train_on_batch(x[:4], y[:4], sample_weight=w[:4]),
                               theirs.train_on_batch(x[:4], y[:4], sample_weight=w[:4]), rtol=1e-6)
    _assert_same_weights(ours, theirs)
    np.testing.assert_allclose(ours.test_on_batch(x, y, sample_weight=w),
                               theirs.test_on_batch(x, y, sample_weight=w), rtol=1e-6)
    mine = ours.fit(x, y, sample_weight=w, epochs=2, batch_size=3, shuffle=False, verbose=0).history["loss"]
    their = theirs.fit(x, y, sample_weight=w, epochs=2, batch_size=3, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(mine, their, rtol=1e-5)
    _assert_same_weights(ours, theirs)


SEGMENTER_LOSSES = {
    "binary_crossentropy": (1, "sigmoid", lambda labels: (labels > 0).astype(np.float32)[..., None]),
    "sparse_categorical_crossentropy": (3, "softmax", lambda labels: labels),
}


@pytest.mark.parametrize("weights_shape", [(N, H, W), (N, H, W, 1)], ids=["(n,H,W)", "(n,H,W,1)"])
@pytest.mark.parametrize("loss", sorted(SEGMENTER_LOSSES))
def test_a_segmenter_weighted_per_pixel_trains_as_keras(loss, weights_shape, keras, rng):
    units, activation, targets = SEGMENTER_LOSSES[loss]
    x = rng.standard_normal((N, H, W, 2)).astype(np.float32)
    y = targets(rng.integers(0, 3, (N, H, W)))
    w = rng.uniform(0, 2, weights_shape).astype(np.float32)
    ours, theirs = _twins(keras, lambda lib: _segmenter(lib, loss, units, activation))
    np.testing.assert_allclose(ours.evaluate(x, y, sample_weight=w),
                               theirs.evaluate(x, y, sample_weight=w, verbose=0), rtol=1e-6)
    mine = ours.fit(x, y, sample_weight=w, epochs=2, batch_size=3, shuffle=False, verbose=0).history["loss"]
    their = theirs.fit(x, y, sample_weight=w, epochs=2, batch_size=3, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(mine, their, rtol=1e-5)
    _assert_same_weights(ours, theirs)


def test_the_weighted_sum_is_divided_by_the_positions_not_by_the_weights(keras, rng):
    """Keras' "sum_over_batch_size" divides by n * steps whatever the weights; its
    "mean_with_sample_weight" by their sum. Worked by hand from the model's own predictions."""
    x, labels = _data(rng)
    w = rng.uniform(0, 3, (N, T)).astype(np.float32)
    ours = _tagger(gn, "sparse_categorical_crossentropy", C, "softmax")
    p = ours.predict(x).astype(np.float64)
    per_step = -np.log(np.take_along_axis(p, labels[..., None], axis=-1)[..., 0])       # (N, T)
    by_positions, by_weights = (per_step * w).sum() / (N * T), (per_step * w).sum() / w.sum()
    assert abs(by_positions - by_weights) > 0.1       # the two divisions tell apart on these weights
    np.testing.assert_allclose(ours.evaluate(x, labels, sample_weight=w), by_positions, rtol=1e-6)
    for reduction, expected in (("sum_over_batch_size", by_positions), ("mean_with_sample_weight", by_weights),
                                ("sum", (per_step * w).sum())):
        mine = _tagger(gn, gn.losses.SparseCategoricalCrossentropy(reduction=reduction), C, "softmax")
        theirs = _tagger(keras, keras.losses.SparseCategoricalCrossentropy(reduction=reduction), C, "softmax")
        theirs.set_weights(mine.get_weights())
        np.testing.assert_allclose(mine.evaluate(x, labels, sample_weight=w), expected, rtol=1e-6)
        np.testing.assert_allclose(theirs.evaluate(x, labels, sample_weight=w, verbose=0), expected, rtol=1e-6)
        # and the gradient of each reduction: one SGD step lands where Keras' does
        mine.train_on_batch(x, labels, sample_weight=w)
        theirs.train_on_batch(x, labels, sample_weight=w)
        _assert_same_weights(mine, theirs)


def test_weighted_metrics_weigh_each_position_by_its_weight(keras, rng):
    """weighted_metrics average each step's value by its weight, sum(v * w) / sum(w), over batches of
    several sizes, as Keras' do; metrics= stay unweighted."""
    x, labels = _data(rng)
    w = rng.uniform(0, 2, (N, T)).astype(np.float32)
    w[0] = 0        # a sample whose every step weighs 0 counts for nothing
    compiled = dict(metrics=["accuracy"], weighted_metrics=["accuracy"])
    ours, theirs = _twins(keras, lambda lib: _tagger(lib, "sparse_categorical_crossentropy", C, "softmax", **compiled))
    hits = (ours.predict(x).argmax(-1) == labels).astype(np.float64)
    for batch_size in (N, 3):
        mine = ours.evaluate(x, labels, sample_weight=w, batch_size=batch_size, return_dict=True)
        their = theirs.evaluate(x, labels, sample_weight=w, batch_size=batch_size, verbose=0, return_dict=True)
        assert sorted(mine) == sorted(their)
        for key in their:
            np.testing.assert_allclose(mine[key], their[key], rtol=1e-6, err_msg=key)
        np.testing.assert_allclose(mine["weighted_accuracy"], (hits * w).sum() / w.sum(), rtol=1e-6)
        np.testing.assert_allclose(mine["accuracy"], hits.mean(), rtol=1e-6)
    # a regression tagger's weighted mse: per step, the mean over its last axis, weighed
    y = TAGGER_LOSSES["mse"][2](labels)
    ours, theirs = _twins(keras, lambda lib: _tagger(lib, "mae", C, None, weighted_metrics=["mse"]))
    mine = ours.evaluate(x, y, sample_weight=w, batch_size=3, return_dict=True)
    their = theirs.evaluate(x, y, sample_weight=w, batch_size=3, verbose=0, return_dict=True)
    for key in their:
        np.testing.assert_allclose(mine[key], their[key], rtol=1e-6, err_msg=key)
    squares = ((ours.predict(x).astype(np.float64) - y) ** 2).mean(-1)
    np.testing.assert_allclose(mine["mse"], (squares * w).sum() / w.sum(), rtol=1e-6)


def test_weights_per_step_come_in_generator_and_pydataset_batches(rng):
    """(x, y, sample_weight) batches with weights per step train, validate and evaluate as the
    same arrays do (shuffle=False: the same batches in the same order), bit for bit."""
    x, labels = _data(rng)
    w = rng.uniform(0, 2, (N, T, 1)).astype(np.float32)

    class Batches(gn.utils.PyDataset):
        def __len__(self):
            return 3

        def __getitem__(self, index):
            rows = slice(3 * index, 3 * index + 3)
            return x[rows], labels[rows], w[rows]

    def generator():
        for start in range(0, N, 3):
            yield x[start:start + 3], labels[start:start + 3], w[start:start + 3]

    def tagger():
        return _tagger(gn, "sparse_categorical_crossentropy", C, "softmax")
    arrays = tagger().fit(x, labels, sample_weight=w, batch_size=3, epochs=2, shuffle=False, verbose=0,
                          validation_data=(x, labels, w)).history
    dataset = tagger().fit(Batches(), epochs=2, shuffle=False, verbose=0, validation_data=Batches()).history
    assert dataset["loss"] == arrays["loss"]
    np.testing.assert_allclose(dataset["val_loss"], arrays["val_loss"], rtol=1e-6)
    model = tagger()
    model.fit(generator(), verbose=0)
    reference = tagger()
    reference.fit(x, labels, sample_weight=w, batch_size=3, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(model.evaluate(generator()), model.evaluate(x, labels, sample_weight=w, batch_size=3),
                               rtol=1e-6)
    # weights that do not fit a batch are refused naming the batch
    bad = lambda: iter([(x[:3], labels[:3], w[:3, :4])])       # noqa: E731
    with pytest.raises(ValueError, match=r"sample_weight.*expected one weight per sample, shape \(3,\), or one "
                                         r"per position of the output, shape \(3, 5\), got shape \(3, 4, 1\)"):
        tagger().fit(bad(), verbose=0)


def test_a_trailing_axis_of_one_is_the_same_weights(rng):
    """(n, T, 1) weighs exactly as (n, T): the same run bit for bit, shuffled, validated, split."""
    x, labels = _data(rng)
    w = rng.uniform(0, 2, (N, T)).astype(np.float32)
    runs = []
    for weights in (w, w[..., None]):
        model = _tagger(gn, "sparse_categorical_crossentropy", C, "softmax")
        history = model.fit(x, labels, sample_weight=weights, batch_size=3, epochs=2, validation_split=0.25,
                            verbose=0).history
        runs.append((history, model.get_weights(), model.evaluate(x, labels, sample_weight=weights)))
    assert runs[0][0] == runs[1][0] and runs[0][2] == runs[1][2]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("weights_shape", [(N, H, W), (N, H, W, 1)], ids=["(n,H,W)", "(n,H,W,1)"])
@pytest.mark.parametrize("loss", sorted(SEGMENTER_LOSSES))
def test_the_gradient_of_a_loss_weighted_per_pixel_checks_by_finite_differences(loss, weights_shape, rng):
    units, activation, targets = SEGMENTER_LOSSES[loss]
    x = rng.standard_normal((3, H, W, 2))
    y = targets(rng.integers(0, 3, (3, H, W)))
    w = rng.uniform(0, 2, (3, *weights_shape[1:]))
    model = _segmenter(gn, loss, units, activation, dtype="float64")
    report = gradcheck.check_model(model, x, y, sample_weight=w)
    assert report["max_error"] < 1e-6, report["errors"]


def test_the_gradient_of_a_tagger_weighted_per_step_checks_by_finite_differences(rng):
    x, labels = _data(rng)
    model = gn.Sequential([gn.layers.Input((T, F)), gn.layers.GRU(4, return_sequences=True),
                           gn.layers.Dense(C, activation="softmax")], seed=0, dtype="float64")
    model.compile("sparse_categorical_crossentropy", "sgd")
    w = rng.uniform(0, 2, (N, T))
    w[:, -1] = 0
    report = gradcheck.check_model(model, x.astype(np.float64), labels, sample_weight=w)
    assert report["max_error"] < 1e-6, report["errors"]


def test_weights_per_step_change_the_step_as_they_should(rng):
    """A step of weight 0 takes no part in the gradient: changing its label leaves the update as it
    was; doubling every weight doubles the loss and the update (plain SGD)."""
    x, labels = _data(rng)
    w = rng.uniform(0.5, 2, (N, T)).astype(np.float64)
    w[:, 2] = 0
    other = labels.copy()
    other[:, 2] = (other[:, 2] + 1) % C

    def step(y, weights):
        model = _tagger(gn, "sparse_categorical_crossentropy", C, "softmax")
        before = model.get_weights()
        value = model.train_on_batch(x, y, sample_weight=weights)
        return value, [a - b for a, b in zip(model.get_weights(), before)]
    value, update = step(labels, w)
    same_value, same_update = step(other, w)
    assert value == same_value
    for a, b in zip(update, same_update):
        np.testing.assert_array_equal(a, b)
    double_value, double_update = step(labels, 2 * w)
    np.testing.assert_allclose(double_value, 2 * value, rtol=1e-6)
    for a, b in zip(double_update, update):
        np.testing.assert_allclose(a, 2 * b, rtol=1e-4, atol=1e-7)


# shapes refused for the tagger, whose loss values are (N, T), and what the message adds
REFUSED = [((N, T + 1), ""), ((N, T, C), ""), ((T,), ""), ((N, T, 1, 1), ""), ((N - 1, T), ""),
           ((N, 1), r"; for one weight per sample, applied to each of its positions, flatten it with "
                    r"\.ravel\(\) to shape \(8,\)")]


@pytest.mark.parametrize("call", ["fit", "evaluate", "train_on_batch", "test_on_batch", "validation_data"])
@pytest.mark.parametrize("shape, hint", REFUSED, ids=[str(s) for s, _ in REFUSED])
def test_weights_that_do_not_match_the_positions_are_refused(shape, hint, call, rng):
    """Named, with their shape and the shapes expected, before any update; nothing broadcast.
    ((N, T, 1, 1) Keras broadcasts into an (N, T, N, T) product silently; (N, 1) it broadcasts over
    the steps, which (N,) does here.)"""
    x, labels = _data(rng)
    model = _tagger(gn, "sparse_categorical_crossentropy", C, "softmax")
    before = model.get_weights()
    w = np.ones(shape, np.float32)
    name = "validation_data\\[2\\]" if call == "validation_data" else "sample_weight"
    message = (f"^{name}: expected one weight per sample, shape \\({N},\\), or one per position of the output, "
               f"shape \\({N}, {T}\\), got shape {re_shape(shape)}{hint}$")
    with pytest.raises(ValueError, match=message):
        if call == "fit":
            model.fit(x, labels, sample_weight=w, verbose=0)
        elif call == "validation_data":
            model.fit(x, labels, validation_data=(x, labels, w), verbose=0)
        else:
            getattr(model, call)(x, labels, sample_weight=w)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def re_shape(shape):
    """A shape as its repr, escaped for a regular expression."""
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


def test_other_shapes_are_refused_by_name(rng):
    x, labels = _data(rng)
    # a segmenter: Keras' per-sample (n, 1, 1), a row of weights per image (n, H)
    images = rng.standard_normal((N, H, W, 2)).astype(np.float32)
    segmenter = _segmenter(gn, "binary_crossentropy", 1, "sigmoid")
    masks = (images[..., :1] > 0).astype(np.float32)
    with pytest.raises(ValueError, match=r"^sample_weight: expected one weight per sample, shape \(8,\), or one per "
                                         r"position of the output, shape \(8, 4, 5\), got shape \(8, 1, 1\); for one "
                                         r"weight per sample, applied to each of its positions, flatten it"):
        segmenter.evaluate(images, masks, sample_weight=np.ones((N, 1, 1)))
    with pytest.raises(ValueError, match=r"got shape \(8, 4\)$"):
        segmenter.fit(images, masks, sample_weight=np.ones((N, H)), verbose=0)
    # an output without positions takes one weight per sample only
    classifier = gn.Sequential([gn.layers.Input((F,)), gn.layers.Dense(C, activation="softmax")], seed=0)
    classifier.compile("sparse_categorical_crossentropy", "sgd")
    with pytest.raises(ValueError, match=r"^sample_weight: expected one weight per sample, shape \(8,\), got shape "
                                         r"\(8, 4\)$"):
        classifier.fit(x[:, 0], labels[:, 0], sample_weight=np.ones((N, C)), verbose=0)
    # class_weight weighs samples by class: a tagger's classes are per step (Keras 3.15 fails on it)
    tagger = _tagger(gn, "sparse_categorical_crossentropy", C, "softmax")
    with pytest.raises(ValueError, match=r"^class_weight: .*has a class per position; use sample_weight"):
        tagger.fit(x, labels, class_weight={0: 2.0}, verbose=0)
    with pytest.raises(ValueError, match="give sample_weight or class_weight, not both"):
        tagger.fit(x, labels, class_weight={0: 2.0}, sample_weight=np.ones((N, T)), verbose=0)
    negative = np.ones((N, T, 1))
    negative[0, 2] = -1
    with pytest.raises(ValueError, match=r"^sample_weight: weights must be >= 0, got 1 negative"):
        tagger.evaluate(x, labels, sample_weight=negative)


def test_one_output_of_several_refuses_weights_per_position_by_name(rng):
    x, labels = _data(rng)
    inputs = gn.layers.Input((T, F))
    tags = gn.layers.Dense(C, activation="softmax", name="tags")(inputs)
    score = gn.layers.Dense(1, name="score")(gn.layers.Flatten()(inputs))
    model = gn.Model(inputs, [tags, score], seed=0)
    model.compile(["categorical_crossentropy", "mse"], "sgd")
    y = [np.eye(C, dtype=np.float32)[labels], rng.standard_normal((N, 1)).astype(np.float32)]
    for weights in (np.ones((N, T)), np.ones((N, T, 1))):
        with pytest.raises(ValueError, match=r"^sample_weight\['tags'\]: expected one weight per sample, shape "
                                             r"\(8,\), got shape \(8, 5(, 1)?\): one weight per position is taken "
                                             r"by a model of one output only"):
            model.fit(x, y, sample_weight={"tags": weights}, verbose=0)
    # one weight per sample for that output trains
    model.fit(x, y, sample_weight={"tags": np.ones(N)}, verbose=0)


def test_where_keras_broadcasts_a_column_the_flat_weights_give_its_loss(keras, rng):
    """Keras 3.15 fails on (n,) weights for a tagger and broadcasts (n, 1) over the steps; glassnet
    refuses (n, 1) (hint: .ravel()) and its (n,) gives Keras' (n, 1) loss and step."""
    x, labels = _data(rng)
    w = rng.uniform(0, 2, N).astype(np.float32)
    ours, theirs = _twins(keras, lambda lib: _tagger(lib, "sparse_categorical_crossentropy", C, "softmax"))
    np.testing.assert_allclose(ours.evaluate(x, labels, sample_weight=w),
                               theirs.evaluate(x, labels, sample_weight=w[:, None], verbose=0), rtol=1e-6)
    ours.train_on_batch(x, labels, sample_weight=w)
    theirs.train_on_batch(x, labels, sample_weight=w[:, None])
    _assert_same_weights(ours, theirs)
    # and (n,) is each step weighing its sample's weight
    np.testing.assert_allclose(ours.evaluate(x, labels, sample_weight=w),
                               ours.evaluate(x, labels, sample_weight=np.repeat(w[:, None], T, axis=1)), rtol=1e-6)
