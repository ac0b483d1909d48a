"""Outputs of one number per sample, shape (None,) (``h[:, 0]``, ``ops.sum(h, axis=1)``), beside other
outputs: each trains by glassnet.scalar_outputs' rules (targets (n, 1) as a (None, 1) output, targets
(n,) with Keras' loss per batch, ``mean(terms) * mean(weights)``), as Keras 3.15 trains them.

Compared with Keras 3.15 from the same weights, SGD: the total loss (and val_loss, metrics) of every
epoch to 2e-6 relative, the weights after training to 1e-5. Keras 3.15's per-output loss logs
("<output>_loss") are known to be off after an uneven last batch (its total loss is not), so they are
compared on even batches only. Gradients against float64 central finite differences (``gradcheck.check_model``)."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops

RNG = np.random.default_rng(7)
X = RNG.normal(size=(12, 3)).astype("float32")
YA = RNG.normal(size=(12, 2)).astype("float32")         # the (None, 2) output's targets
Y_REG = RNG.normal(size=12).astype("float32")
Y_BIN = (RNG.random(12) > 0.5).astype("float32")
SW = (RNG.random(12) + 0.5).astype("float32")
SW_A = (RNG.random(12) + 0.5).astype("float32")
CW = {0: 0.5, 1: 2.0}
KW = dict(rtol=2e-6, atol=1e-7)


def _keras_scalar(keras, kind, h):
    return h[:, 0] if kind == "index" else keras.ops.sum(h, axis=1)


def _scalar(kind, h):
    return h[:, 0] if kind == "index" else ops.sum(h, axis=1)


def _twins(keras, act=None, kind="index", as_dict=False, fused=False):
    """Keras' model and glassnet's, from the same weights: a Dense(2) ``a`` beside a (None,)
    output ``s`` of the same hidden Dense; outputs a list [a, s] or a dict {"a", "s"}. ``fused``:
    ``s`` ends in an Activation('sigmoid') of its own (dL/dz at once in glassnet)."""
    keras.utils.set_random_seed(0)
    i = keras.Input((3,))
    h = keras.layers.Dense(2, activation=act)(i)
    ka, ks = keras.layers.Dense(2, name="a")(h), _keras_scalar(keras, kind, h)
    if fused:
        ks = keras.layers.Activation("sigmoid", name="s")(ks)
    kmodel = keras.Model(i, {"a": ka, "s": ks} if as_dict else [ka, ks])
    gi = gn.Input((3,))
    gh = gn.layers.Dense(2, activation=act)(gi)
    ga, gs = gn.layers.Dense(2, name="a")(gh), _scalar(kind, gh)
    if fused:
        gs = gn.layers.Activation("sigmoid", name="s")(gs)
    model = gn.Model(gi, {"a": ga, "s": gs} if as_dict else [ga, gs], seed=0)
    model.build((3,))
    model.set_weights(kmodel.get_weights())
    return kmodel, model


def _keys(kmodel, model):
    """glassnet's log name -> Keras': Keras 3.15 names an op's output by a global count
    ("get_item_3"), glassnet by the op ("get_item")."""
    if isinstance(kmodel.output, dict):     # logged by the dict's keys in both
        return lambda name: name
    pairs = dict(zip([h.name for h in model._heads], kmodel.output_names))
    def key(name):
        for g, k in pairs.items():
            for prefix in ("", "val_"):
                if name.startswith(prefix + g + "_"):
                    return prefix + k + name[len(prefix + g):]
        return name
    return key


def _compare(kh, gh, kmodel, model, per_output=True):
    key = _keys(kmodel, model)
    for name in gh:
        if not per_output and name not in ("loss", "val_loss"):
            continue
        np.testing.assert_allclose(gh[name], kh[key(name)], **KW, err_msg=name)
    for a, b in zip(model.get_weights(), kmodel.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _sgd(module):
    return module.optimizers.SGD(0.1)


CASES = {       # the scalar output's (loss, targets, hidden activation)
    "mse": ("mse", Y_REG, None),
    "huber": ("huber", Y_REG, None),
    "bce": ("binary_crossentropy", Y_BIN, "sigmoid"),
}


@pytest.mark.parametrize("weights", [None, "one", "per_output"])
@pytest.mark.parametrize("column", [False, True], ids=["y(n,)", "y(n,1)"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_fit_as_keras(keras, case, column, weights):
    loss, y, act = CASES[case]
    kmodel, model = _twins(keras, act)
    for m, mod in ((kmodel, keras), (model, gn)):
        m.compile(loss=["mse", loss], loss_weights=[1.0, 0.5], optimizer=_sgd(mod))
    ys = [YA, y[:, None] if column else y]
    sw = {None: None, "one": SW, "per_output": [SW_A, SW]}[weights]
    fit = dict(batch_size=4, epochs=3, verbose=0, shuffle=False, sample_weight=sw,
               validation_data=(X[:8], [YA[:8], ys[1][:8]], None if sw is None else SW[:8]))
    kh = kmodel.fit(X, ys, **fit).history
    gh = model.fit(X, ys, **fit).history
    _compare(kh, gh, kmodel, model)
    ev = dict(batch_size=4, verbose=0, return_dict=True, sample_weight=sw)
    kev, gev = kmodel.evaluate(X, ys, **ev), model.evaluate(X, ys, **ev)
    key = _keys(kmodel, model)
    for name in gev:
        np.testing.assert_allclose(gev[name], kev[key(name)], **KW, err_msg=name)


def test_targets_n_weigh_the_batch_mean_not_each_sample(keras):
    # the Keras rule told apart beside another output: the same weights, another loss per form
    losses = {}
    for column in (False, True):
        kmodel, model = _twins(keras)
        for m, mod in ((kmodel, keras), (model, gn)):
            m.compile(loss="mse", optimizer=_sgd(mod))
        ys = [YA, Y_REG[:, None] if column else Y_REG]
        kh = kmodel.fit(X, ys, batch_size=6, epochs=1, verbose=0, shuffle=False, sample_weight=SW).history
        gh = model.fit(X, ys, batch_size=6, epochs=1, verbose=0, shuffle=False, sample_weight=SW).history
        _compare(kh, gh, kmodel, model)
        losses[column] = gh["get_item_loss"][0]
    assert abs(losses[False] - losses[True]) > 1e-3


def test_uneven_last_batch_total_loss_and_weights(keras):
    # 12 samples in batches of 5: Keras' per-output logs are off here, its total loss is not
    kmodel, model = _twins(keras, "sigmoid")
    for m, mod in ((kmodel, keras), (model, gn)):
        m.compile(loss=["mse", "binary_crossentropy"], optimizer=_sgd(mod))
    fit = dict(batch_size=5, epochs=3, verbose=0, shuffle=False, sample_weight=[SW_A, SW], validation_split=0.25)
    kh = kmodel.fit(X, [YA, Y_BIN], **fit).history
    gh = model.fit(X, [YA, Y_BIN], **fit).history
    _compare(kh, gh, kmodel, model, per_output=False)
    np.testing.assert_allclose(gh["val_get_item_loss"], kh[_keys(kmodel, model)("val_get_item_loss")], **KW)


def test_validation_targets_of_the_other_form(keras):
    # each array keeps its own form: training targets (n,), validation targets (n, 1)
    kmodel, model = _twins(keras)
    for m, mod in ((kmodel, keras), (model, gn)):
        m.compile(loss="mse", optimizer=_sgd(mod))
    fit = dict(batch_size=4, epochs=2, verbose=0, shuffle=False, sample_weight=SW,
               validation_data=(X, [YA, Y_REG[:, None]], SW))
    _compare(kmodel.fit(X, [YA, Y_REG], **fit).history, model.fit(X, [YA, Y_REG], **fit).history, kmodel, model)


def test_dict_outputs_losses_targets_and_weights_as_keras(keras):
    kmodel, model = _twins(keras, "sigmoid", kind="sum", as_dict=True)
    for m, mod in ((kmodel, keras), (model, gn)):
        m.compile(loss={"a": "mae", "s": "binary_crossentropy"}, loss_weights={"a": 0.3, "s": 2.0},
                  optimizer=_sgd(mod))
    y = {"a": YA, "s": Y_BIN}
    fit = dict(batch_size=4, epochs=3, verbose=0, shuffle=False, sample_weight={"a": SW_A, "s": SW})
    _compare(kmodel.fit(X, y, **fit).history, model.fit(X, y, **fit).history, kmodel, model)


def test_fused_scalar_output_as_keras(keras):
    # an Activation('sigmoid') making the (None,) output fuses with binary cross-entropy (dL/dz)
    kmodel, model = _twins(keras, fused=True, as_dict=True)
    assert next(h for h in model._heads if h.name == "s").layer.activation.name == "sigmoid"
    for m, mod in ((kmodel, keras), (model, gn)):
        m.compile(loss={"a": "mse", "s": "binary_crossentropy"}, optimizer=_sgd(mod))
    assert next(h for h in model._heads if h.name == "s").fused
    for sw in (None, SW):
        y = {"a": YA, "s": Y_BIN}
        fit = dict(batch_size=4, epochs=2, verbose=0, shuffle=False, sample_weight=sw)
        _compare(kmodel.fit(X, y, **fit).history, model.fit(X, y, **fit).history, kmodel, model)


@pytest.mark.parametrize("weighted", [False, True])
def test_summing_loss_per_batch_as_keras(keras, weighted):
    # reduction="sum" with targets (n,): Keras keeps the batch's one number (its mean of terms)
    kmodel, model = _twins(keras, "sigmoid")
    kmodel.compile(loss=["mse", keras.losses.BinaryCrossentropy(reduction="sum")], optimizer=_sgd(keras))
    model.compile(loss=["mse", gn.losses.BinaryCrossentropy(reduction="sum")], optimizer=_sgd(gn))
    fit = dict(batch_size=4, epochs=3, verbose=0, shuffle=False, sample_weight=SW if weighted else None)
    _compare(kmodel.fit(X, [YA, Y_BIN], **fit).history, model.fit(X, [YA, Y_BIN], **fit).history, kmodel, model)


@pytest.mark.parametrize("column", [False, True], ids=["y(n,)", "y(n,1)"])
def test_per_output_metrics_and_weighted_metrics_as_keras(keras, column):
    kmodel, model = _twins(keras, "sigmoid", as_dict=True)
    for m, mod in ((kmodel, keras), (model, gn)):
        m.compile(loss={"a": "mse", "s": "binary_crossentropy"}, optimizer=_sgd(mod),
                  metrics={"a": ["mae"], "s": ["binary_accuracy", mod.metrics.AUC(name="auc"),
                                              mod.metrics.Precision(name="precision")]},
                  weighted_metrics={"s": ["binary_accuracy", mod.metrics.AUC(name="auc")]})
    y = {"a": YA, "s": Y_BIN[:, None] if column else Y_BIN}
    fit = dict(batch_size=6, epochs=2, verbose=0, shuffle=False, sample_weight=SW, validation_data=(X, y, SW_A))
    kh, gh = kmodel.fit(X, y, **fit).history, model.fit(X, y, **fit).history
    assert {"s_auc", "s_weighted_auc", "val_s_precision"} <= set(gh)
    _compare(kh, gh, kmodel, model)


def test_class_weight_on_the_one_scored_output_as_keras(keras):
    # Keras 3.15 takes class_weight where one output has a loss and its targets come as an array
    kmodel, model = _twins(keras, "sigmoid")
    for m, mod in ((kmodel, keras), (model, gn)):
        m.compile(loss=[None, "binary_crossentropy"], optimizer=_sgd(mod))
    fit = dict(batch_size=4, epochs=3, verbose=0, shuffle=False, class_weight=CW)
    _compare(kmodel.fit(X, Y_BIN, **fit).history, model.fit(X, Y_BIN, **fit).history, kmodel, model)


def test_class_weight_with_several_scored_outputs_refused_as_keras(keras):
    kmodel, model = _twins(keras, "sigmoid")
    for m, mod in ((kmodel, keras), (model, gn)):
        m.compile(loss=["mse", "binary_crossentropy"], optimizer=_sgd(mod))
    with pytest.raises(ValueError, match="class_weight"):
        kmodel.fit(X, [YA, Y_BIN], class_weight=CW, verbose=0)
    with pytest.raises(ValueError, match=r"class_weight: .*several with a loss.*give sample_weight"):
        model.fit(X, [YA, Y_BIN], class_weight=CW, verbose=0)


@pytest.mark.parametrize("column", [False, True], ids=["y(n,)", "y(n,1)"])
def test_train_on_batch_and_test_on_batch_as_keras(keras, column):
    # (one form per model: Keras 3.15 fails on a batch of the other form, its step traced for one rank)
    kmodel, model = _twins(keras)
    for m, mod in ((kmodel, keras), (model, gn)):
        m.compile(loss=["mse", "huber"], loss_weights=[0.5, 2.0], optimizer=_sgd(mod))
    y = [YA, Y_REG[:, None] if column else Y_REG]
    for _ in range(3):
        np.testing.assert_allclose(model.train_on_batch(X, y, sample_weight=SW),
                                   kmodel.train_on_batch(X, y, sample_weight=SW), **KW)
    np.testing.assert_allclose(model.test_on_batch(X, y, sample_weight=SW_A),
                               kmodel.test_on_batch(X, y, sample_weight=SW_A), **KW)
    for a, b in zip(model.get_weights(), kmodel.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_full_batch_shuffled_as_keras(keras):
    # one batch: shuffling moves the rows (and their form column) but not the batch's loss
    kmodel, model = _twins(keras)
    for m, mod in ((kmodel, keras), (model, gn)):
        m.compile(loss="mse", optimizer=_sgd(mod))
    kh = kmodel.fit(X, [YA, Y_REG], batch_size=12, epochs=3, verbose=0, shuffle=False, sample_weight=SW).history
    gh = model.fit(X, [YA, Y_REG], batch_size=None, epochs=3, verbose=0, shuffle=True, sample_weight=SW).history
    _compare(kh, gh, kmodel, model)


def test_save_load_keeps_training_as_before(keras, tmp_path):
    kmodel, model = _twins(keras, "sigmoid", as_dict=True)
    for m, mod in ((kmodel, keras), (model, gn)):
        m.compile(loss={"a": "mse", "s": "binary_crossentropy"}, optimizer=_sgd(mod),
                  metrics={"s": ["binary_accuracy"]})
    y = {"a": YA, "s": Y_BIN}
    fit = dict(batch_size=4, epochs=1, verbose=0, shuffle=False, sample_weight=SW)
    kmodel.fit(X, y, **fit)
    model.fit(X, y, **fit)
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    np.testing.assert_allclose(loaded.evaluate(X, y, sample_weight=SW, verbose=0),
                               model.evaluate(X, y, sample_weight=SW, verbose=0), rtol=1e-7)
    kh, gh = kmodel.fit(X, y, **fit).history, loaded.fit(X, y, **fit).history
    _compare(kh, gh, kmodel, loaded)


@pytest.mark.parametrize("column", [False, True], ids=["y(n,)", "y(n,1)"])
@pytest.mark.parametrize("loss", ["mse", "binary_crossentropy", "sum"])
def test_gradients_against_finite_differences(loss, column):
    gi = gn.Input((3,))
    h = gn.layers.Dense(2, activation="sigmoid")(gi)
    model = gn.Model(gi, [gn.layers.Dense(2, name="a")(h), h[:, 0]], seed=1, dtype="float64")
    scalar_loss = gn.losses.BinaryCrossentropy(reduction="sum") if loss == "sum" else loss
    model.compile(loss=["mse", scalar_loss], loss_weights=[0.7, 1.3], optimizer="sgd")
    y = (Y_BIN if loss != "mse" else Y_REG).astype("float64")
    ys = [YA.astype("float64"), y[:, None] if column else y]
    for w in (None, SW.astype("float64"), [SW_A.astype("float64"), SW.astype("float64")]):
        assert gn.gradcheck.check_model(model, X.astype("float64"), ys, sample_weight=w)


def test_weighted_loss_value_by_hand():
    # Keras' rule worked out with NumPy: the (None,) output's loss with targets (n,) is the mean of
    # its squared errors times the mean weight; the (None, 2) output's the weighted mean per sample
    gi = gn.Input((3,))
    h = gn.layers.Dense(2)(gi)
    model = gn.Model(gi, [gn.layers.Dense(2, name="a")(h), ops.sum(h, axis=1)], seed=0)
    model.compile(loss="mse", loss_weights=[1.0, 3.0], optimizer="sgd")
    pa, ps = (p.astype("float64") for p in model.predict(X, verbose=0))
    own_a = np.mean(np.mean((pa - YA) ** 2, axis=1) * SW_A)
    for ys, own_s in (((YA, Y_REG), np.mean((ps - Y_REG) ** 2) * SW.mean()),
                      ((YA, Y_REG[:, None]), np.mean((ps - Y_REG) ** 2 * SW))):
        got = model.evaluate(X, list(ys), sample_weight=[SW_A, SW], batch_size=12, verbose=0, return_dict=True)
        assert got["loss"] == pytest.approx(own_a + 3.0 * own_s, rel=1e-6)
        assert got["sum_loss"] == pytest.approx(own_s, rel=1e-6)


@pytest.mark.parametrize("loss", ["categorical_crossentropy", "kl_divergence", "cosine_similarity"])
def test_losses_across_the_batch_refused_by_output(loss):
    gi = gn.Input((3,))
    h = gn.layers.Dense(2, activation="sigmoid")(gi)
    model = gn.Model(gi, {"a": gn.layers.Dense(2)(h), "s": h[:, 0]}, seed=0)
    model.compile(loss={"a": "mse", "s": loss}, optimizer="sgd")
    with pytest.raises(ValueError, match=r"y\['s'\]: output 's' gives one number per sample.*across the batch "
                                         r"axis.*\(n_samples, 1\)"):
        model.fit(X, {"a": YA, "s": Y_BIN}, verbose=0)


@pytest.mark.parametrize("metric", ["accuracy", "mae"])
def test_metrics_keras_reduces_over_the_batch_refused_by_output(metric):
    gi = gn.Input((3,))
    h = gn.layers.Dense(2, activation="sigmoid")(gi)
    model = gn.Model(gi, {"a": gn.layers.Dense(2)(h), "s": h[:, 0]}, seed=0)
    model.compile(loss={"a": "mse", "s": "binary_crossentropy"}, optimizer="sgd",
                  metrics={"a": [metric], "s": [metric]})
    with pytest.raises(ValueError, match=rf"y\['s'\]: the metric 's_{metric}' on an output of one number per sample"):
        model.fit(X, {"a": YA, "s": Y_BIN}, verbose=0)
    if metric != "accuracy":        # per sample with targets (n, 1), as a model of one output takes it
        assert np.isfinite(model.fit(X, {"a": YA, "s": Y_BIN[:, None]}, verbose=0).history["s_mae"][0])


def test_bad_target_shape_refused_by_output():
    gi = gn.Input((3,))
    h = gn.layers.Dense(2)(gi)
    model = gn.Model(gi, [gn.layers.Dense(2)(h), h[:, 0]], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(ValueError, match=r"y\[1\]: output 'get_item' gives one number per sample.*\(n_samples,\) or "
                                         r"\(n_samples, 1\), got shape \(12, 2\)"):
        model.fit(X, [YA, YA], verbose=0)
