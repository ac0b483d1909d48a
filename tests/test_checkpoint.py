"""ModelCheckpoint: what it writes and when; surviving SIGKILL; exact resume; determinism across processes."""
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import glassnet as gn
from glassnet.callbacks import ModelCheckpoint

# The run every test here trains: shuffled mini-batches, dropout and Adam, so that an exact resume
# needs the weights, the optimizer's slots and both random streams. Executed both in child processes
# and in this one, so both build exactly the same thing.
SETUP = """
import numpy as np, glassnet as gn
rng = np.random.default_rng(0)
x = rng.normal(size=(96, 4))
y = (x[:, 0] * x[:, 1] + x[:, 2] > 0).astype(int)
model = gn.Sequential([gn.layers.Dense(16, activation="relu", input_dim=4), gn.layers.Dropout(0.25),
                       gn.layers.Dense(2, activation="softmax")], seed=7)
model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
FIT = dict(batch_size=16, shuffle=True, verbose=0, validation_split=0.25)
"""
EPOCHS = 6


def _setup():
    namespace = {}
    exec(SETUP, namespace)
    return namespace["model"], namespace["x"], namespace["y"], namespace["FIT"]


def _same_weights(a, b):
    return all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights(), strict=True))


def _child(code, *args, env=None):
    """A Python process running SETUP + ``code`` with ``args`` in sys.argv; its stdout is a pipe."""
    return subprocess.Popen([sys.executable, "-c", SETUP + code, *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def test_saves_every_epoch_with_formatted_names(tmp_path):
    model, x, y, fit = _setup()
    ckpt = ModelCheckpoint(tmp_path / "ckpt-{epoch:02d}-{val_loss:.3f}.npz")
    history = model.fit(x, y, epochs=3, callbacks=[ckpt], **fit)
    names = sorted(os.listdir(tmp_path))
    expected = [f"ckpt-{e + 1:02d}-{v:.3f}.npz" for e, v in enumerate(history.history["val_loss"])]
    assert names == expected and ckpt.last_path == str(tmp_path / expected[-1])
    for epoch, name in enumerate(names, 1):
        assert gn.load_model(tmp_path / name).initial_epoch == epoch
    assert _same_weights(gn.load_model(tmp_path / names[-1]), model)


def test_save_best_only_keeps_the_best_epoch(tmp_path):
    model, x, y, fit = _setup()
    ckpt = ModelCheckpoint(tmp_path / "best.npz", save_best_only=True)         # val_loss, min
    history = model.fit(x, y, epochs=8, callbacks=[ckpt], **{**fit, "validation_split": 0.5})
    best = int(np.argmin(history.history["val_loss"]))
    assert gn.load_model(tmp_path / "best.npz").initial_epoch == best + 1
    assert ckpt.best == min(history.history["val_loss"])

    # driven by hand: saves only on improvement, in the direction "auto" picks for each name
    for monitor, values, want in (("val_loss", [1.0, 2.0, 0.5, 0.5], [1, 3]),
                                  ("val_accuracy", [0.5, 0.4, 0.9, 0.95], [1, 3, 4])):
        ckpt = ModelCheckpoint(tmp_path / f"{monitor}-{{epoch}}.npz", monitor=monitor, save_best_only=True)
        ckpt.set_model(model)
        for epoch, value in enumerate(values):
            ckpt.on_epoch_end(epoch, {monitor: value})
        saved = sorted(int(n.split("-")[1][:-4]) for n in os.listdir(tmp_path) if n.startswith(monitor))
        assert saved == want
    ckpt = ModelCheckpoint(tmp_path / "max.npz", monitor="val_loss", mode="max", save_best_only=True)
    ckpt.set_model(model)
    ckpt.on_epoch_end(0, {"val_loss": 1.0})
    ckpt.on_epoch_end(1, {"val_loss": 0.5})
    assert gn.load_model(tmp_path / "max.npz").initial_epoch == 1


def test_initial_value_threshold_keeps_a_resumed_runs_best_file(tmp_path):
    # resuming with a fresh ModelCheckpoint: without the threshold its first epoch always saves
    model, _, _, _ = _setup()
    for threshold, want in ((None, [1, 3]), (0.8, [3]), (np.float32(0.4), [])):
        name = f"t{threshold}-{{epoch}}.npz"
        ckpt = ModelCheckpoint(tmp_path / name, save_best_only=True, initial_value_threshold=threshold)
        ckpt.set_model(model)
        for epoch, value in enumerate([1.0, 2.0, 0.5]):
            ckpt.on_epoch_end(epoch, {"val_loss": value})
        prefix = f"t{threshold}-"
        assert sorted(int(n[len(prefix):-4]) for n in os.listdir(tmp_path) if n.startswith(prefix)) == want
    for bad in (float("nan"), "0.5", True):
        with pytest.raises(ValueError, match="ModelCheckpoint: initial_value_threshold must be None or a finite number"):
            ModelCheckpoint(tmp_path / "x.npz", save_best_only=True, initial_value_threshold=bad)


def test_save_freq_in_batches(tmp_path):
    model, x, y, fit = _setup()
    ckpt = ModelCheckpoint(tmp_path / "e{epoch}-b{batch}.npz", save_freq=3)
    model.fit(x, y, epochs=2, callbacks=[ckpt], **fit)        # 72 training samples: 5 batches an epoch
    assert sorted(os.listdir(tmp_path)) == ["e1-b3.npz", "e2-b1.npz", "e2-b4.npz"]
    assert gn.load_model(tmp_path / "e2-b4.npz").initial_epoch == 1     # epochs completed before it


def test_save_freq_takes_numpy_integers(tmp_path):
    model, x, y, fit = _setup()
    ckpt = ModelCheckpoint(tmp_path / "e{epoch}-b{batch}.npz", save_freq=np.int64(3))
    assert type(ckpt.save_freq) is int
    model.fit(x, y, epochs=2, callbacks=[ckpt], **fit)
    assert sorted(os.listdir(tmp_path)) == ["e1-b3.npz", "e2-b1.npz", "e2-b4.npz"]


def test_creates_missing_folders_as_keras_does(tmp_path):
    model, x, y, fit = _setup()
    # the folder itself depends on the epoch: it can only be made when the file is written
    ckpt = ModelCheckpoint(tmp_path / "runs" / "e{epoch}" / "ckpt.npz")
    model.fit(x, y, epochs=2, callbacks=[ckpt], **fit)
    assert sorted(os.listdir(tmp_path / "runs")) == ["e1", "e2"]
    assert gn.load_model(tmp_path / "runs" / "e2" / "ckpt.npz").initial_epoch == 2
    assert os.listdir(tmp_path / "runs" / "e1") == ["ckpt.npz"]          # no temp file left behind


def test_a_format_that_does_not_fit_its_value_names_filepath_and_field(tmp_path):
    model, x, y, fit = _setup()
    with pytest.raises(ValueError, match=r"ModelCheckpoint: filepath '.*\{epoch\}-\{loss:d\}\.npz' "
                                         r"has a format, '\{loss:d\}', that does not fit its value: "
                                         r"Unknown format code 'd'"):
        model.fit(x, y, epochs=1, callbacks=[ModelCheckpoint(tmp_path / "{epoch}-{loss:d}.npz")], **fit)
    assert os.listdir(tmp_path) == []


def test_bad_arguments_are_refused(tmp_path):
    model, x, y, fit = _setup()
    with pytest.raises(ValueError, match="mode"):
        ModelCheckpoint("m.npz", mode="best")
    for bad in (0, -1, "batch", True, 1.5, np.int64(0), np.True_):
        with pytest.raises(ValueError, match="save_freq"):
            ModelCheckpoint("m.npz", save_freq=bad)
    with pytest.raises(TypeError, match="filepath"):
        ModelCheckpoint(3)
    with pytest.raises(TypeError, match="ModelCheckpoint: monitor must be the name of a logged value"):
        ModelCheckpoint("m.npz", monitor=None)
    with pytest.raises(ValueError, match="'val_loss' is not among the logged values"):
        model.fit(x, y, epochs=1, callbacks=[ModelCheckpoint(tmp_path / "m.npz", save_best_only=True)],
                  **{**fit, "validation_split": 0.0})
    with pytest.raises(ValueError, match="names 'val_auc'"):
        model.fit(x, y, epochs=1, callbacks=[ModelCheckpoint(tmp_path / "{val_auc}.npz")], **fit)


KILLED_MID_EPOCH = """
import sys, time
from glassnet.callbacks import LambdaCallback, ModelCheckpoint
epoch_now = [0]
def on_batch(batch, logs):
    if epoch_now[0] == 3 and batch == 2:        # in the middle of the fourth epoch: tell, then wait
        print("MID-EPOCH", flush=True)
        time.sleep(60)
watch = LambdaCallback(on_epoch_begin=lambda epoch, logs: epoch_now.__setitem__(0, epoch),
                       on_train_batch_end=on_batch)
model.fit(x, y, epochs=%d, callbacks=[ModelCheckpoint(sys.argv[1]), watch], **FIT)
""" % EPOCHS


def test_sigkill_mid_epoch_then_resume_reproduces_the_uninterrupted_run(tmp_path):
    path = tmp_path / "ckpt.npz"
    child = _child(KILLED_MID_EPOCH, path)
    try:
        line = child.stdout.readline()             # blocks until the child is mid-epoch
        assert line.strip() == "MID-EPOCH", child.stderr.read()
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    resumed = gn.load_model(path)
    assert resumed.initial_epoch == 3              # epochs 1-3 completed; the fourth was cut short
    _, x, y, fit = _setup()
    history = resumed.fit(x, y, epochs=EPOCHS, initial_epoch=resumed.initial_epoch, **fit)
    assert history.epoch == [3, 4, 5]

    whole, *_ = _setup()
    whole.fit(x, y, epochs=EPOCHS, **fit)
    assert _same_weights(resumed, whole)
    assert resumed.optimizer.iterations == whole.optimizer.iterations
    assert resumed.shuffle_rng.bit_generator.state == whole.shuffle_rng.bit_generator.state


SAVING_ALL_THE_TIME = """
import sys
from glassnet.callbacks import LambdaCallback, ModelCheckpoint
started = LambdaCallback(on_train_begin=lambda logs: print("TRAINING", flush=True))
model.fit(x, y, epochs=100000, callbacks=[started, ModelCheckpoint(sys.argv[1], save_freq=1)], **FIT)
"""


def test_sigkill_at_random_moments_never_leaves_a_broken_checkpoint(tmp_path):
    """A checkpoint written every batch, killed at random: what is at the path always loads."""
    path = tmp_path / "ckpt.npz"
    chance = random.Random(6)
    epochs_seen = []
    for _ in range(3):
        child = _child(SAVING_ALL_THE_TIME, path)
        try:
            assert child.stdout.readline().strip() == "TRAINING", child.stderr.read()
            time.sleep(chance.uniform(0.2, 0.6))
            child.send_signal(signal.SIGKILL)
        finally:
            child.kill()
            child.wait(timeout=30)
        epochs_seen.append(gn.load_model(path).initial_epoch)   # raises if half-written
    leftovers = [n for n in os.listdir(tmp_path) if n != "ckpt.npz"]
    assert all(n.startswith(".ckpt.npz.") and n.endswith(".tmp") for n in leftovers)   # at most those


TRAIN_AND_SAVE = """
import sys
model.fit(x, y, epochs=%d, **FIT)
model.save(sys.argv[1])
""" % EPOCHS


def test_same_seed_same_weights_in_separate_processes(tmp_path):
    children = [_child(TRAIN_AND_SAVE, tmp_path / f"run{i}.npz", env={"PYTHONHASHSEED": str(i)})
                for i in (1, 2)]
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
    first, second = (gn.load_model(tmp_path / f"run{i}.npz") for i in (1, 2))
    assert _same_weights(first, second)
    here, x, y, fit = _setup()                     # and this process agrees with both
    here.fit(x, y, epochs=EPOCHS, **fit)
    assert _same_weights(here, first)


def test_a_model_that_could_not_be_saved_is_refused_before_training(tmp_path, rng):
    def mean_output(y_pred, y_true):
        return float(y_pred.mean())
    model = gn.Sequential([gn.layers.Dense(1, activation="sigmoid", input_dim=2)], seed=0)
    model.compile(loss="binary_crossentropy", optimizer="sgd", metrics=[mean_output])
    with pytest.raises(ValueError, match="metric 'mean_output'"):
        model.fit(rng.standard_normal((8, 2)), rng.integers(0, 2, 8), epochs=3, verbose=0,
                  callbacks=[ModelCheckpoint(str(tmp_path / "ck.npz"), monitor="loss")])
    assert model.optimizer.iterations == 0 and list(tmp_path.iterdir()) == []
