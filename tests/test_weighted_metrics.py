"""``compile(weighted_metrics=[...])``: metrics that weigh samples by ``sample_weight`` and
``class_weight`` as the loss does, named as Keras 3 names them; trained, evaluated and validated
against Keras 3.15, in models of one and of several outputs; in files and configs; and refused
where they cannot weigh."""

import numpy as np
import pytest

import glassnet as gn
from glassnet import metrics
from glassnet.layers import Dense

from keras_twins import copy_weights


def _data(rng, n=90):
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x[:, 0] - x[:, 1] > 0.3).astype(np.float32)[:, None]
    w = rng.uniform(0, 2, n).astype(np.float32)
    w[rng.random(n) < 0.2] = 0
    return x, y, w


def _worst(y_true, y_pred):                 # a function of one's own: one value per sample
    return np.abs(y_true - y_pred).max(axis=-1)


def _pair(keras, plain, weighted, keras_plain=None, keras_weighted=None):
    ours = gn.Sequential([Dense(6, activation="tanh", input_dim=4), Dense(1, activation="sigmoid")], seed=0)
    ours.compile("binary_crossentropy", gn.optimizers.SGD(0.2), metrics=plain, weighted_metrics=weighted)
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6, activation="tanh"),
                               keras.layers.Dense(1, activation="sigmoid")])
    theirs.set_weights(ours.get_weights())
    theirs.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(0.2),
                   metrics=keras_plain or plain, weighted_metrics=keras_weighted or weighted)
    return ours, theirs


def _same_logs(mine, their):
    assert set(mine) == set(their)
    for key in mine:
        assert np.asarray(mine[key]) == pytest.approx(np.asarray(their[key]), rel=2e-4, abs=1e-5), key


def test_fit_evaluate_and_validation_weigh_them_as_keras(keras, rng):
    plain = ["accuracy", "binary_crossentropy"]
    weighted = ["accuracy", "binary_crossentropy", "mae", "auc", metrics.Precision(name="prec"), _worst]
    def worst(t, p):
        return keras.ops.max(keras.ops.abs(t - p), axis=-1)
    worst.__name__ = "_worst"
    keras_weighted = weighted[:-2] + [keras.metrics.Precision(name="prec"), worst]
    ours, theirs = _pair(keras, plain, weighted, keras_weighted=keras_weighted)
    x, y, w = _data(rng)
    assert [name for name, _ in ours.metrics] == ["accuracy", "binary_crossentropy", "weighted_accuracy",
                                                  "weighted_binary_crossentropy", "mae", "auc", "prec", "_worst"]
    val = (x[60:], y[60:], w[60:])
    mine = ours.fit(x[:60], y[:60], sample_weight=w[:60], batch_size=16, epochs=2, shuffle=False,
                    validation_data=val, verbose=0).history
    their = theirs.fit(x[:60], y[:60], sample_weight=w[:60], batch_size=16, epochs=2, shuffle=False,
                       validation_data=val, verbose=0).history
    _same_logs(mine, their)
    # weighted and unweighted differ, so the weights were used
    assert mine["weighted_accuracy"] != mine["accuracy"]
    _same_logs(ours.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True),
               theirs.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True))


def test_class_weights_weigh_them_as_keras(keras, rng):
    ours, theirs = _pair(keras, [], ["accuracy", "mse", metrics.Recall(name="recall")],
                         keras_weighted=["accuracy", "mse", keras.metrics.Recall(name="recall")])
    x, y, _ = _data(rng)
    kwargs = dict(class_weight={0: 0.5, 1: 3.0}, batch_size=30, epochs=2, shuffle=False, verbose=0)
    _same_logs(ours.fit(x, y, **kwargs).history, theirs.fit(x, y, **kwargs).history)


def test_without_weights_they_give_their_unweighted_twins(rng):
    model = gn.Sequential([Dense(3, activation="softmax", input_dim=4)], seed=0)
    names = ["accuracy", "categorical_crossentropy", "top_k_categorical_accuracy", "mse", "auc"]
    model.compile("categorical_crossentropy", "adam", metrics=names, weighted_metrics=names)
    x = rng.normal(size=(40, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 40)]
    logs = model.evaluate(x, y, batch_size=7, verbose=0, return_dict=True)
    for name in names:
        assert logs[f"weighted_{name}"] == pytest.approx(logs[name], rel=1e-6), name
    # weights of one weigh as none
    assert model.evaluate(x, y, sample_weight=np.ones(40), batch_size=7, verbose=0, return_dict=True) == \
        pytest.approx(logs, rel=1e-6)


def test_keras_names_when_they_clash():
    model = gn.Sequential([Dense(1, activation="sigmoid", input_dim=2)], seed=0)
    model.compile("binary_crossentropy", "sgd", metrics=["accuracy", metrics.BinaryAccuracy(name="weighted_accuracy")],
                  weighted_metrics=["accuracy", "mae", "mae", "Accuracy", "AUC"])
    # Keras 3: weighted_<name>, then numbered; a class's name as given ("Accuracy": exact matches)
    assert [name for name, _ in model.metrics] == ["accuracy", "weighted_accuracy", "weighted_accuracy_1", "mae",
                                                   "weighted_mae", "Accuracy", "AUC"]


def test_several_outputs_weigh_their_own_as_keras(keras, rng):
    def build(lib):
        inputs = lib.Input((4,))
        h = lib.layers.Dense(5, activation="tanh", name="hidden")(inputs)
        return inputs, [lib.layers.Dense(1, activation="sigmoid", name="flag")(h), lib.layers.Dense(2, name="num")(h)]
    ours, theirs = gn.Model(*build(gn), seed=0), keras.Model(*build(keras))
    copy_weights(ours, theirs)
    settings = dict(loss=["binary_crossentropy", "mse"], metrics={"flag": ["accuracy"]},
                    weighted_metrics={"flag": ["accuracy", "auc"], "num": ["mae"]})
    ours.compile(optimizer=gn.optimizers.SGD(0.1), **settings)
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), **settings)
    x, flag, w = _data(rng, 64)
    num = rng.normal(size=(64, 2)).astype(np.float32)
    wn = rng.uniform(0, 1, 64).astype(np.float32)
    kwargs = dict(batch_size=16, epochs=2, shuffle=False, verbose=0)
    mine = ours.fit(x, [flag, num], sample_weight=[w, wn], **kwargs).history
    their = theirs.fit(x, [flag, num], sample_weight=[w, wn], **kwargs).history
    assert {"flag_weighted_accuracy", "num_mae", "flag_auc"} <= set(mine)
    _same_logs(mine, their)


def test_files_configs_and_a_drawn_subclass_keep_them(rng, tmp_path):
    model = gn.Sequential([Dense(1, activation="sigmoid", input_dim=4)], seed=0)
    model.compile("binary_crossentropy", "sgd", metrics=["accuracy"],
                  weighted_metrics=["accuracy", metrics.AUC(curve="PR", name="prc"), "poisson"])
    x, y, w = _data(rng)
    expected = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    model.save(tmp_path / "m.npz")
    for copy in (gn.load_model(tmp_path / "m.npz"), gn.Sequential.from_config(model.get_config())):
        copy.set_weights(model.get_weights())
        assert copy.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True) == pytest.approx(expected)
    assert model.get_config()["compile"]["weighted_metrics"] == [
        "accuracy", {"class_name": "AUC", "config": {**metrics.AUC(curve="PR", name="prc").get_config()}}, "poisson"]

    class Net(gn.Model):
        def __init__(self):
            super().__init__(seed=0)
            self.out = Dense(1, activation="sigmoid")

        def call(self, inputs):
            return self.out(inputs)
    net = Net()
    net.compile(loss="binary_crossentropy", optimizer="sgd", weighted_metrics=["accuracy"])
    assert "accuracy" in net.fit(x, y, sample_weight=w, epochs=1, verbose=0).history
    # a function of one's own cannot be saved, weighted or not
    model.compile("binary_crossentropy", "sgd", weighted_metrics=[_worst])
    with pytest.raises(ValueError, match="not registered"):
        model.save(tmp_path / "n.npz")


def test_what_cannot_weigh_is_refused_by_name(rng):
    class Unweighted(metrics.Metric):
        def reset_state(self):
            self.n = 0

        def update_state(self, y_true, y_pred):
            self.n += len(y_pred)

        def result(self):
            return float(self.n)
    model = gn.Sequential([Dense(1, activation="sigmoid", input_dim=4)], seed=0)
    with pytest.raises(TypeError, match=r"weighted_metrics: 'metric': Unweighted.update_state takes no sample_weight"):
        model.compile("binary_crossentropy", "sgd", weighted_metrics=[Unweighted()])
    with pytest.raises(TypeError, match="weighted_metrics: expected a list"):
        model.compile("binary_crossentropy", "sgd", weighted_metrics="accuracy")
    with pytest.raises(TypeError, match="averages values given to it"):
        model.compile("binary_crossentropy", "sgd", weighted_metrics=[metrics.Mean()])

    def batch_number(y_true, y_pred):       # one number per batch: weighed by the batch's weights (Keras)
        return float(np.mean(y_pred))
    model.compile("binary_crossentropy", "sgd", weighted_metrics=[batch_number])
    x, y, w = _data(rng, 10)
    w[:5] = 0
    value = model.evaluate(x, y, sample_weight=w, batch_size=5, verbose=0, return_dict=True)["batch_number"]
    assert value == pytest.approx(float(np.mean(model.predict(x[5:]))), rel=1e-6)


def test_a_masked_tagger_over_batches_of_several_lengths_weighs_samples_as_keras(keras, rng):
    """Keras averages each sample's real steps over the batch's padded length: a batch weighs
    its samples, not its steps, in the metric classes (weighted or not) as in the functions."""
    batches = []
    for n, steps in ((4, 3), (4, 8), (3, 5)):
        x = rng.integers(1, 10, (n, steps))
        for i, length in enumerate(rng.integers(1, steps + 1, n)):
            x[i, length:] = 0
        batches.append((x, rng.integers(0, 3, (n, steps)), rng.uniform(0, 2, n).astype(np.float32)))

    def feed(lib, weighted):
        class Batches(lib.utils.PyDataset):
            def __len__(self):
                return len(batches)

            def __getitem__(self, i):
                x, y, w = batches[i]
                return (x, y, w[:, None] if lib is keras else w) if weighted else (x, y)
        return Batches()

    def tagger(lib):
        return [lib.Input((None,), dtype="int32"), lib.layers.Embedding(10, 4, mask_zero=True),
                lib.layers.LSTM(5, return_sequences=True), lib.layers.Dense(3, activation="softmax")]
    ours, theirs = gn.Sequential(tagger(gn), seed=0), keras.Sequential(tagger(keras))
    theirs.set_weights(ours.get_weights())
    settings = dict(loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                    weighted_metrics=["accuracy", "sparse_categorical_crossentropy", "SparseCategoricalAccuracy"])
    ours.compile(optimizer="sgd", **settings)
    theirs.compile(optimizer="sgd", **settings)
    for weighted in (False, True):
        mine = ours.evaluate(feed(gn, weighted), verbose=0, return_dict=True)
        their = theirs.evaluate(feed(keras, weighted), verbose=0, return_dict=True)
        _same_logs(mine, their)
    assert mine["weighted_accuracy"] != mine["accuracy"]


def test_a_file_keeps_which_weighted_metric_logs_under_which_name(rng, tmp_path):
    inputs = gn.Input((4,))
    hidden = Dense(5, activation="tanh")(inputs)
    model = gn.Model(inputs, [Dense(1, activation="sigmoid", name="a")(hidden), Dense(2, name="b")(hidden)], seed=0)
    # "x" twice: the second is logged as weighted_x, which sorts before x in the logs
    model.compile(["binary_crossentropy", "mse"], "sgd",
                  weighted_metrics={"b": [metrics.MeanSquaredError(name="x"), metrics.MeanAbsoluteError(name="x")]})
    x = rng.normal(size=(20, 4)).astype(np.float32)
    y = [(x[:, :1] > 0).astype(np.float32), rng.normal(size=(20, 2)).astype(np.float32)]
    expected = model.evaluate(x, y, verbose=0, return_dict=True)
    assert expected["b_x"] == pytest.approx(expected["b_loss"])          # the MSE, as the loss
    model.save(tmp_path / "m.npz")
    for copy in (gn.load_model(tmp_path / "m.npz"), gn.Model.from_config(model.get_config())):
        copy.set_weights(model.get_weights())
        assert copy.evaluate(x, y, verbose=0, return_dict=True) == pytest.approx(expected)
