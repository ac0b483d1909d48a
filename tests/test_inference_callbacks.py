"""Keras' test and predict hooks: fit's validation, evaluate(callbacks=...) and
predict(callbacks=...) call them as Keras 3 does (the same order, batches and logs)."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.callbacks import Callback, LambdaCallback

HOOKS = ["on_train_begin", "on_epoch_begin", "on_epoch_end", "on_test_begin", "on_test_end",
         "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
         "on_predict_batch_begin", "on_predict_batch_end", "on_train_end"]


class Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.calls = []


def _recording(name):
    def record(self, *args):
        logs = args[-1] if args else None
        shown = {k: (np.asarray(v).shape if k == "outputs" else round(float(v), 5)) for k, v in (logs or {}).items()}
        self.calls.append((name, *args[:-1], shown))
    return record


for _hook in HOOKS:         # every hook overridden, as a callback class of one's own does
    setattr(Recorder, _hook, _recording(_hook))


def _model():
    model = gn.Sequential([gn.layers.Input((3,)), gn.layers.Dense(2, activation="softmax", seed=0)])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    return model


def _data(n=10):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 3)).astype(np.float32), rng.integers(0, 2, n)


def test_evaluate_and_predict_call_their_hooks_per_batch():
    x, y = _data()
    model = _model()
    recorder = Recorder()
    values = model.evaluate(x, y, batch_size=4, callbacks=[recorder], return_dict=True)
    names = [c[0] for c in recorder.calls]
    assert names == ["on_test_begin"] + ["on_test_batch_begin", "on_test_batch_end"] * 3 + ["on_test_end"]
    assert [c[1] for c in recorder.calls if c[0] == "on_test_batch_end"] == [0, 1, 2]
    assert recorder.calls[-1][1] == {k: round(v, 5) for k, v in values.items()}
    # each batch's logs: the running loss so far (the last batch's: the result)
    assert recorder.calls[-2][2] == recorder.calls[-1][1]
    recorder.calls.clear()
    out = model.predict(x, batch_size=4, callbacks=[recorder])
    assert [c[0] for c in recorder.calls] == (["on_predict_begin"] + ["on_predict_batch_begin", "on_predict_batch_end"] * 3
                                              + ["on_predict_end"])
    assert [c[2]["outputs"] for c in recorder.calls if c[0] == "on_predict_batch_end"] == [(4, 2), (4, 2), (2, 2)]
    assert out.shape == (10, 2)


def test_the_logs_equal_keras():
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x, y = _data(12)
    ours = _model()
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    theirs.set_weights(ours.get_weights())
    theirs.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    record = {"ours": [], "keras": []}
    for key, model, cb in (("ours", ours, LambdaCallback), ("keras", theirs, keras.callbacks.LambdaCallback)):
        model.fit(x, y, epochs=2, batch_size=4, validation_split=0.5, shuffle=False, verbose=0, callbacks=[cb(
            on_test_batch_end=lambda batch, logs=None, key=key: record[key].append(("batch", batch, dict(logs))),
            on_test_end=lambda logs=None, key=key: record[key].append(("end", dict(logs))))])
        model.evaluate(x, y, batch_size=5, verbose=0, callbacks=[cb(
            on_test_end=lambda logs=None, key=key: record[key].append(("evaluate", dict(logs))))])
    assert [e[:-1] for e in record["ours"]] == [e[:-1] for e in record["keras"]]
    for a, b in zip(record["ours"], record["keras"]):
        assert set(a[-1]) == set(b[-1])
        for k in a[-1]:
            assert a[-1][k] == pytest.approx(float(b[-1][k]), rel=1e-5), (a, b)


def test_fit_validation_calls_the_test_hooks_between_the_epochs_hooks():
    x, y = _data()
    recorder = Recorder()
    _model().fit(x, y, epochs=1, batch_size=5, validation_data=(x, y), verbose=0, callbacks=[recorder])
    names = [c[0] for c in recorder.calls]
    assert names == ["on_train_begin", "on_epoch_begin", "on_test_begin", "on_test_batch_begin", "on_test_batch_end",
                     "on_test_batch_begin", "on_test_batch_end", "on_test_end", "on_epoch_end", "on_train_end"]
    test_end, epoch_end = recorder.calls[7][1], recorder.calls[8][2]
    assert test_end == {k[4:]: v for k, v in epoch_end.items() if k.startswith("val_")}


def test_a_pydataset_and_a_functional_model_of_two_outputs():
    x, y = _data(8)

    class Batches(gn.utils.PyDataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return x[4 * i:4 * i + 4], y[4 * i:4 * i + 4]
    recorder = Recorder()
    _model().evaluate(Batches(), callbacks=[recorder])
    assert [c[1] for c in recorder.calls if c[0] == "on_test_batch_end"] == [0, 1]
    inputs = gn.Input((3,))
    two = gn.Model(inputs, [gn.layers.Dense(2, seed=0)(inputs), gn.layers.Dense(1, seed=1)(inputs)])
    two.compile(loss=["mse", "mse"], optimizer="sgd")
    seen = []
    two.predict(x, batch_size=4, callbacks=[LambdaCallback(on_predict_batch_end=lambda batch, logs: seen.append(logs["outputs"]))])
    assert [[o.shape for o in outputs] for outputs in seen] == [[(4, 2), (4, 1)], [(4, 2), (4, 1)]]


def test_tensorboard_logs_an_evaluate_outside_fit(tmp_path):
    from test_tensorboard import _series
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=1, batch_size=5, verbose=0)
    model.evaluate(x, y, callbacks=[gn.callbacks.TensorBoard(tmp_path)])
    series = _series(tmp_path / "validation")
    assert [s for s, _, _ in series["evaluation_loss_vs_iterations"]] == [2]


def test_a_callback_not_in_a_list_is_refused():
    x, y = _data()
    with pytest.raises(TypeError, match="evaluate: callbacks: expected a list of glassnet Callback objects, got a single Recorder"):
        _model().evaluate(x, y, callbacks=Recorder())


def test_review_fixes_stop_flags_params_steps_and_checks_before_hooks():
    x, y = _data(10)
    model = _model()
    seen = []
    stop_eval = LambdaCallback(on_test_batch_end=lambda b, logs: (seen.append(b), setattr(model, "stop_evaluating", True)))
    model.evaluate(x, y, batch_size=4, callbacks=[stop_eval])
    model.fit(x, y, epochs=1, batch_size=4, validation_data=(x, y), verbose=0, callbacks=[stop_eval])
    assert seen == [0, 0]                   # Keras' stop_evaluating: after the batch, in fit's validation too
    stop_predict = LambdaCallback(on_predict_batch_end=lambda b, logs: setattr(model, "stop_predicting", b == 1))
    assert model.predict(x, batch_size=4, callbacks=[stop_predict]).shape == (8, 2)
    assert model.predict(x, batch_size=4).shape == (10, 2)         # without callbacks: every batch
    probe = LambdaCallback()
    model.evaluate(x, y, batch_size=4, callbacks=[probe])
    assert probe.params["steps"] == 3
    model.predict(x, batch_size=5, callbacks=[probe])
    assert probe.params["steps"] == 2
    began = []
    with pytest.raises(ValueError):
        model.predict(np.zeros((4, 5)), callbacks=[LambdaCallback(on_predict_begin=lambda logs: began.append(1))])
    with pytest.raises(ValueError):
        model.predict(x, batch_size=0, callbacks=[LambdaCallback(on_predict_begin=lambda logs: began.append(1))])
    assert began == []
