"""SwapEMAWeights: validation, evaluate and predict on the optimizer's moving average of the
weights, as Keras 3's callback (tested against it), and fit still ending on the average."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.callbacks import EarlyStopping, ModelCheckpoint, SwapEMAWeights


def _data():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((48, 4)).astype(np.float32), rng.integers(0, 3, 48),
            rng.standard_normal((16, 4)).astype(np.float32), rng.integers(0, 3, 16))


def _model(use_ema=True):
    model = gn.Sequential([gn.layers.Input((4,)), gn.layers.Dense(6, activation="tanh", seed=0),
                           gn.layers.Dense(3, activation="softmax", seed=1)])
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=gn.optimizers.SGD(0.1, use_ema=use_ema, ema_momentum=0.9), metrics=["accuracy"])
    return model


@pytest.mark.parametrize("swap_on_epoch", [False, True])
def test_matches_keras(swap_on_epoch):
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x, y, xv, yv = _data()
    ours = _model()
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6, activation="tanh"),
                               keras.layers.Dense(3, activation="softmax")])
    theirs.set_weights(ours.get_weights())
    theirs.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                   optimizer=keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.9))
    kwargs = dict(epochs=3, batch_size=8, shuffle=False, validation_data=(xv, yv), verbose=0)
    mine = ours.fit(x, y, callbacks=[SwapEMAWeights(swap_on_epoch)], **kwargs).history
    their = theirs.fit(x, y, callbacks=[keras.callbacks.SwapEMAWeights(swap_on_epoch)], **kwargs).history
    for key in ("loss", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(mine[key], their[key], rtol=1e-6)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)
    plain = _model().fit(x, y, **kwargs).history        # without it: the trained weights are scored
    assert not np.allclose(plain["val_loss"], mine["val_loss"])


def test_evaluate_and_predict_on_the_average_then_the_weights_back():
    x, y, xv, yv = _data()
    model = _model()
    for xb, yb in ((x[:8], y[:8]), (x[8:16], y[8:16])):
        model.train_on_batch(xb, yb)
    trained = model.get_weights()
    average = model.optimizer.get_state()["slots"]["params"]["average"].copy()
    outputs = model.predict(xv, callbacks=[SwapEMAWeights()])
    assert all(np.array_equal(a, b) for a, b in zip(trained, model.get_weights()))    # put back
    model.optimizer.finalize_variable_values(model.trainable_weights)                 # the average by hand
    np.testing.assert_array_equal(np.concatenate([w.ravel() for w in model.get_weights()]), average)
    np.testing.assert_allclose(outputs, model.predict(xv), rtol=1e-6)


def test_checkpoints_and_early_stopping_with_swap_on_epoch(tmp_path):
    x, y, xv, yv = _data()
    model = _model()
    path = str(tmp_path / "best.npz")
    model.fit(x, y, epochs=6, batch_size=8, shuffle=False, validation_data=(xv, yv), verbose=0,
              callbacks=[SwapEMAWeights(swap_on_epoch=True), ModelCheckpoint(path),
                         EarlyStopping(patience=0, monitor="loss", mode="max")])     # stops after epoch 2
    assert len(model.history.epoch) == 2
    saved = gn.load_model(path)           # the last epoch's checkpoint holds the averaged weights
    for a, b in zip(saved.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    # and fit ended on the average, as without the callback
    same = _model()
    same.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(same.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_refused_without_use_ema_before_training():
    x, y, _, _ = _data()
    model = _model(use_ema=False)
    before = model.get_weights()
    with pytest.raises(ValueError, match="use_ema=True"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[SwapEMAWeights()])
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    with pytest.raises(TypeError, match="swap_on_epoch"):
        SwapEMAWeights(swap_on_epoch="yes")


def test_an_error_in_a_swapped_evaluation_puts_the_trained_weights_back():
    x, y, xv, yv = _data()
    model = _model()
    for start in (0, 8, 16):
        model.train_on_batch(x[start:start + 8], y[start:start + 8])
    trained = model.get_weights()
    callback = SwapEMAWeights()

    def batches():
        yield xv[:8], yv[:8]
        raise RuntimeError("the data broke")
    with pytest.raises(RuntimeError, match="the data broke"):
        model.evaluate(batches(), callbacks=[callback])
    assert all(np.array_equal(a, b) for a, b in zip(trained, model.get_weights())) and not callback._ema_in_model
    with pytest.raises(RuntimeError, match="the data broke"):
        model.fit(x, y, epochs=1, verbose=0, validation_data=batches(), validation_steps=2, callbacks=[callback])
    assert not callback._ema_in_model


def test_backup_and_restore_after_it_resumes_exactly(tmp_path):
    from glassnet.callbacks import BackupAndRestore, LambdaCallback
    x, y, xv, yv = _data()
    kwargs = dict(epochs=4, batch_size=8, shuffle=False, validation_data=(xv, yv), verbose=0)
    whole = _model()
    whole.fit(x, y, callbacks=[SwapEMAWeights(True)], **kwargs)

    def stop(epoch, logs):
        if epoch == 1:
            raise KeyboardInterrupt
    resumed = _model()
    with pytest.raises(KeyboardInterrupt):
        resumed.fit(x, y, callbacks=[SwapEMAWeights(True), BackupAndRestore(str(tmp_path)),
                                     LambdaCallback(on_epoch_end=stop)], **kwargs)
    again = _model()
    again.fit(x, y, callbacks=[SwapEMAWeights(True), BackupAndRestore(str(tmp_path))], **kwargs)
    for a, b in zip(whole.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)
