"""kfilerev43 review: a differential check of the Keras-file work against Keras 3.15.

A functional model whose first calls are not in Keras' layer order (an output branch called
before a longer one) lays its flat buffer of trained weights out in its calls' order, while
Keras' optimizer/vars follow ``model.layers``' (Keras' ``trainable_variables``): the optimizer's
state went to the wrong weights both ways, silently where the shapes agree.
"""
import io
import zipfile

import numpy as np
import pytest

import glassnet as gn
from test_keras_optstate import _edited      # (a .keras file with its weights member edited)

h5py = pytest.importorskip("h5py")

X = np.random.RandomState(0).randn(24, 3).astype("float32")
Y1 = np.random.RandomState(1).randn(24, 3).astype("float32")
Y2 = np.random.RandomState(2).randn(24, 3).astype("float32")


def _fit(model, epochs=1):
    model.fit(X, [Y1, Y2], batch_size=8, epochs=epochs, shuffle=False, verbose=0)


def _branches(lib):
    """``short`` called before ``a`` and ``b``; Keras' layer order is a, short, b."""
    inp = lib.Input((3,))
    short = lib.layers.Dense(3, name="short")(inp)
    b = lib.layers.Dense(3, name="b")(lib.layers.Dense(3, name="a")(inp))
    return lib.Model(inp, [short, b])


def _max_diff(a, b):
    assert len(a) == len(b)
    return max(float(np.abs(wa - wb).max()) for wa, wb in zip(a, b))


def test_branch_order_optimizer_state_written_in_keras_order(tmp_path):
    model = _branches(gn)
    model.compile(optimizer=gn.optimizers.Adam(0.01), loss=["mse", "mse"])
    _fit(model)
    assert [layer.name for layer in model.layers] == ["a", "short", "b"]
    path = str(tmp_path / "g.keras")
    model.save(path, save_format="keras")
    flat = model.optimizer.get_state()["slots"]["params"]
    # a's kernel in the flat buffer (the buffer's order is the calls': short first)
    start = sum(param.size for layer, _, param, _ in model._views[:2])
    with zipfile.ZipFile(path) as archive, h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as h5:
        m_a_kernel, v_a_kernel = h5["optimizer/vars/2"][()], h5["optimizer/vars/3"][()]
    assert model._views[2][0].name == "a"
    np.testing.assert_array_equal(m_a_kernel, flat["m"][start:start + 9].reshape(3, 3))
    np.testing.assert_array_equal(v_a_kernel, flat["v"][start:start + 9].reshape(3, 3))
    # and read back to the same weights' slots
    loaded = gn.load_model(path)
    for slot in ("m", "v"):
        np.testing.assert_array_equal(dict(zip(
            [(layer.name, key) for layer, key, _, _ in loaded._views],
            np.split(loaded.optimizer.get_state()["slots"]["params"][slot],
                     np.cumsum([p.size for _, _, p, _ in loaded._views])[:-1])))[("a", "kernel")],
            flat[slot][start:start + 9])


def test_branch_order_glassnet_state_continues_in_keras(keras, tmp_path):
    model = _branches(gn)
    model.compile(optimizer=gn.optimizers.Adam(0.01), loss=["mse", "mse"])
    _fit(model, epochs=2)
    path = str(tmp_path / "g.keras")
    model.save(path, save_format="keras")
    loaded = keras.saving.load_model(path)
    _fit(model)
    _fit(loaded)
    assert _max_diff(model.get_weights(), loaded.get_weights()) < 1e-5


def test_branch_order_keras_state_continues_in_glassnet(keras, tmp_path):
    keras.utils.set_random_seed(0)
    model = _branches(keras)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=["mse", "mse"])
    _fit(model, epochs=2)
    path = str(tmp_path / "k.keras")
    model.save(path)
    loaded = gn.load_model(path)
    _fit(model)
    _fit(loaded)
    assert _max_diff(model.get_weights(), loaded.get_weights()) < 1e-5


# -- a learning-rate schedule written back -------------------------------------------------------
SCHEDULES = {
    "exponential": lambda s: s.ExponentialDecay(0.05, decay_steps=2, decay_rate=0.5),
    "inverse_time": lambda s: s.InverseTimeDecay(0.05, decay_steps=2, decay_rate=0.5, staircase=True),
    "piecewise": lambda s: s.PiecewiseConstantDecay([2, 5], [0.05, 0.02, 0.01]),
    "polynomial": lambda s: s.PolynomialDecay(0.05, decay_steps=10, power=2.0),
    "cosine_warmup": lambda s: s.CosineDecay(0.01, decay_steps=10, warmup_target=0.05, warmup_steps=3),
    "cosine_restarts": lambda s: s.CosineDecayRestarts(0.05, first_decay_steps=3),
}


def _sequential_with(optimizer):
    model = gn.Sequential([gn.layers.Input((3,)), gn.layers.Dense(4, activation="tanh"), gn.layers.Dense(3)], seed=0)
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(X, Y1, batch_size=8, epochs=2, shuffle=False, verbose=0)
    return model


def test_schedule_is_written_in_keras_form(tmp_path):
    """A built-in schedule was refused by save(save_format="keras"/"h5") (even one load_model had
    read from Keras' own file): it is written as Keras writes it, and read back the same."""
    import json
    model = _sequential_with(gn.optimizers.Adam(gn.optimizers.schedules.ExponentialDecay(0.05, 2, 0.5)))
    path = str(tmp_path / "g.keras")
    model.save(path, save_format="keras")
    with zipfile.ZipFile(path) as archive:
        rate = json.loads(archive.read("config.json"))["compile_config"]["optimizer"]["config"]["learning_rate"]
    assert rate["module"] == "keras.optimizers.schedules" and rate["class_name"] == "ExponentialDecay"
    loaded = gn.load_model(path)
    assert type(loaded.optimizer.schedule).__name__ == "ExponentialDecay"
    assert loaded.optimizer.iterations == 6
    assert loaded.optimizer.learning_rate == pytest.approx(model.optimizer.learning_rate)
    model.save(str(tmp_path / "g.h5"), save_format="h5")
    assert type(gn.load_model(str(tmp_path / "g.h5")).optimizer.schedule).__name__ == "ExponentialDecay"


@pytest.mark.parametrize("case", sorted(SCHEDULES))
def test_schedule_continues_in_keras(keras, tmp_path, case):
    model = _sequential_with(gn.optimizers.SGD(SCHEDULES[case](gn.optimizers.schedules)))
    path = str(tmp_path / "g.keras")
    model.save(path, save_format="keras")
    loaded = keras.saving.load_model(path)
    assert type(loaded.optimizer._learning_rate).__name__ == type(model.optimizer.schedule).__name__
    for more in range(2):
        model.fit(X, Y1, batch_size=8, epochs=1, shuffle=False, verbose=0)
        loaded.fit(X, Y1, batch_size=8, epochs=1, shuffle=False, verbose=0)
        assert _max_diff(model.get_weights(), loaded.get_weights()) < 1e-5
    model.save(str(tmp_path / "g.h5"), save_format="h5")
    from_h5 = keras.models.load_model(str(tmp_path / "g.h5"))
    assert from_h5.optimizer._learning_rate.get_config() == loaded.optimizer._learning_rate.get_config()


# -- a tampered file: huge values ----------------------------------------------------------------
@pytest.mark.parametrize("optimizer,index", [(lambda: gn.optimizers.Adam(0.01), 3),        # v of the kernel
                                             (lambda: gn.optimizers.SGD(0.01, momentum=0.9), 2)])
def test_state_beyond_float32_is_refused(tmp_path, optimizer, index):
    """A slot finite in the file's float64 but not in the model's float32 (or once divided by the
    rate) was loaded as inf; it is refused by name, as NaN is."""
    model = _sequential_with(optimizer())
    path = str(tmp_path / "g.keras")
    model.save(path, save_format="keras")

    def edit(h5):
        shape = h5[f"optimizer/vars/{index}"].shape
        del h5[f"optimizer/vars/{index}"]
        h5.create_dataset(f"optimizer/vars/{index}", data=np.full(shape, 1e300))
    _edited(path, edit)
    with pytest.raises(gn.errors.ModelFileError, match="beyond float32's range"):
        gn.load_model(path)
    assert gn.load_model(path, compile=False).built
