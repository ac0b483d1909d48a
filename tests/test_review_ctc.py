"""Review of the CTC, Circle and generalized cross-entropy losses: a CTC output in a model of several
outputs, and CTC and Circle on the CuPy backend (fakecupy, and CuPy where a GPU is)."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet import losses

from test_gpu import assert_same_history, on_host
from test_gpu import cupy  # noqa: F401  (the fixture: fakecupy, and CuPy where a GPU is)


def _label_sequences(rng, n, width=3, classes=5):
    y = np.zeros((n, width), dtype=np.int64)
    for i in range(n):
        length = 1 + i % width
        y[i, :length] = rng.integers(1, classes, length)
    return y


def _two_outputs(lib):
    inputs = lib.Input((8, 3))
    hidden = lib.layers.Dense(6, activation="tanh")(inputs)
    seq = lib.layers.Dense(5, name="seq")(hidden)
    reg = lib.layers.Dense(2, name="reg")(lib.layers.Flatten()(hidden))
    return lib.Model(inputs, [seq, reg])


def test_a_ctc_output_among_several_trains_as_keras_and_a_file_keeps_it(rng, tmp_path):
    # the CTC head's targets are label sequences (n, L), not shaped like its (8, 5) output: packing
    # them as (8, 5) failed with NumPy's "cannot reshape array of size 30 into shape (10,8,5)"
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.standard_normal((10, 8, 3)).astype(np.float32)
    y, r = _label_sequences(rng, 10), rng.standard_normal((10, 2)).astype(np.float32)
    ours, theirs = _two_outputs(gn), _two_outputs(keras)
    theirs.set_weights(ours.get_weights())
    ours.compile(loss=["ctc", "mse"], optimizer=gn.optimizers.SGD(0.1), loss_weights=[1.0, 0.5])
    theirs.compile(loss=[keras.losses.CTC(), "mse"], optimizer=keras.optimizers.SGD(0.1), loss_weights=[1.0, 0.5])
    # batches of one size: with a short last batch the outputs' own logs differ from Keras' for
    # any loss (mse and mse too), which is another matter than CTC's
    kwargs = dict(batch_size=5, epochs=2, shuffle=False, verbose=0)
    mine, their = ours.fit(x, [y, r], **kwargs).history, theirs.fit(x, [y, r], **kwargs).history
    for key in ("loss", "seq_loss", "reg_loss"):
        np.testing.assert_allclose(mine[key], their[key], rtol=1e-4, err_msg=key)
    np.testing.assert_allclose(ours.evaluate(x, {"seq": y, "reg": r}, verbose=0),
                               theirs.evaluate(x, {"seq": y, "reg": r}, verbose=0), rtol=1e-4)
    ours.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert loaded.evaluate(x, [y, r], verbose=0) == ours.evaluate(x, [y, r], verbose=0)
    with pytest.raises(ValueError, match=r"y\[0\]: ctc label sequence of sample 0 needs at least"):
        ours.fit(x, [np.ones((10, 9), dtype=np.int64), r], verbose=0)


def _ctc_model():
    return gn.Sequential([gn.Input((8, 3)), gn.layers.Dense(5)], seed=0)


def _circle_model():
    return gn.Sequential([gn.Input((5,)), gn.layers.Dense(4), gn.layers.UnitNormalization()], seed=0)


@pytest.mark.parametrize("make,loss,kind", [(_ctc_model, "ctc", "sequences"),
                                            (_circle_model, losses.Circle(gamma=4.0), "classes")])
def test_ctc_and_circle_train_on_the_device_as_on_the_host(make, loss, kind, cupy, rng):
    # both read their labels with np.asarray (and Circle built its diagonal with np.eye): CuPy's
    # "Implicit conversion to a NumPy array is not allowed" at the first batch
    if kind == "sequences":
        x, y = rng.standard_normal((12, 8, 3)).astype(np.float32), _label_sequences(rng, 12)
    else:
        x, y = rng.standard_normal((12, 5)).astype(np.float32), rng.integers(0, 3, 12)
    w = rng.uniform(0.5, 1.5, 12).astype(np.float32)

    def run():
        model = make()
        model.compile(loss, gn.optimizers.SGD(0.05))
        history = model.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0, sample_weight=w).history
        return history, model.evaluate(x, y, verbose=0)

    host_history, host_value = on_host(run)
    history, value = run()
    assert_same_history(history, host_history, cupy)
    assert value == pytest.approx(host_value, rel=0 if cupy.exact else 1e-4)
