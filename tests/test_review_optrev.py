"""Review of optimizers of your own in model files: a registered subclass of a built-in keeps the
built-in's arguments given through **options (Keras' super().get_config() holds them), and save
refuses a get_config that leaves out a setting the constructor takes through **options (clipnorm,
use_ema, exclude_from_weight_decay) instead of writing a file that loads another optimizer."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import saving
from glassnet.optimizers import Optimizer

register = saving.register_serializable


@register(package="ReviewOptrev")
class DampedNadam(gn.optimizers.Nadam):
    """Keras' subclassing idiom: its own argument, the built-in's through **options."""

    def __init__(self, learning_rate=0.001, damping=0.5, **options):
        super().__init__(learning_rate, **options)
        self.damping = damping

    def update(self, key, param, grad):
        super().update(key, param, grad * param.dtype.type(self.damping))


@register(package="ReviewOptrev")
class PassThroughAdam(gn.optimizers.Adam):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)


@register(package="ReviewOptrev")
class MyMuon(gn.optimizers.Muon):
    def __init__(self, learning_rate=0.01, **options):
        super().__init__(learning_rate, **options)


@register(package="ReviewOptrev")
class OwnConfig(Optimizer):
    """A get_config of its own that returns its constructor's named arguments only."""
    slot_names = always_slots = ("m",)

    def __init__(self, learning_rate=0.01, beta=0.9, **options):
        super().__init__(learning_rate, **options)
        self.beta = beta

    def update(self, key, param, grad):
        m = self.slots.setdefault(key, {}).setdefault("m", np.zeros_like(param))
        m *= param.dtype.type(self.beta)
        m += grad
        param -= param.dtype.type(self.learning_rate) * m

    def get_config(self):
        return {"learning_rate": self.learning_rate, "beta": self.beta}


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4)).astype("float32")
    return X, X @ rng.normal(size=(4, 2)).astype("float32")


def _model(optimizer):
    model = gn.Sequential([gn.layers.Dense(8, activation="tanh", input_dim=4), gn.layers.Dense(2)], seed=1)
    model.compile(loss="mse", optimizer=optimizer)
    return model


@pytest.mark.parametrize("make, settings", [
    (lambda: DampedNadam(0.01, damping=0.25, beta_1=0.5, epsilon=1e-3, momentum_decay=0.01),
     {"beta_1": 0.5, "epsilon": 1e-3, "momentum_decay": 0.01, "damping": 0.25}),
    (lambda: PassThroughAdam(0.05, beta_2=0.9, amsgrad=True), {"learning_rate": 0.05, "beta_2": 0.9, "amsgrad": True}),
    (lambda: MyMuon(0.02, momentum=0.5, exclude_layers=["dense_1"]), {"momentum": 0.5, "exclude_layers": ["dense_1"]}),
], ids=["Nadam", "Adam(*args, **kwargs)", "Muon"])
def test_a_subclass_keeps_the_built_in_arguments_it_takes_through_options(tmp_path, make, settings):
    X, y = _data()
    model = _model(make())
    model.fit(X, y, epochs=2, batch_size=16, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")          # (PassThroughAdam's amsgrad state failed to load)
    assert type(loaded.optimizer) is type(model.optimizer)
    for name, value in settings.items():               # (Nadam's beta_1 came back 0.9, Adam's rate 0.001)
        assert getattr(loaded.optimizer, name) == getattr(model.optimizer, name) == value, name
    model.fit(X, y, epochs=2, batch_size=16, verbose=0)
    loaded.fit(X, y, epochs=2, batch_size=16, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), loaded.get_weights()))


@pytest.mark.parametrize("options, lost", [
    ({"clipnorm": 0.1}, r"clipnorm=None, not clipnorm=0\.1"),
    ({"use_ema": True}, r"use_ema=False, not use_ema=True"),
    ({"weight_decay": 0.01}, r"weight_decay=None, not weight_decay=0\.01"),
])
def test_save_refuses_a_get_config_that_drops_a_common_setting(tmp_path, options, lost):
    X, y = _data()
    model = _model(OwnConfig(0.01, beta=0.5, **options))
    model.fit(X, y, epochs=1, batch_size=32, verbose=0)
    with pytest.raises(ValueError, match=rf"save_model: optimizer OwnConfig would load back with {lost} as saved"):
        model.save(tmp_path / "m.npz")


def test_save_refuses_a_get_config_that_drops_exclude_from_weight_decay(tmp_path):
    X, y = _data()
    optimizer = OwnConfig(0.01, weight_decay=0.01)
    model = _model(optimizer)
    model.fit(X, y, epochs=1, batch_size=32, verbose=0)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    # (its weight_decay is lost too; the message names both)
    with pytest.raises(ValueError, match=r"exclude_from_weight_decay=\(\), .*not exclude_from_weight_decay=\(.bias.,\)"):
        model.save(tmp_path / "m.npz")


@register(package="ReviewOptrev")
class Counting(Optimizer):
    """Plain SGD keeping a running number of its own, a scalar of its state."""
    scalar_names = ("total",)

    def __init__(self, learning_rate=0.01, **options):
        super().__init__(learning_rate, **options)
        self.total = 0.0

    def update(self, key, param, grad):
        self.total += float(np.abs(grad).sum())
        param -= param.dtype.type(self.learning_rate) * grad

    def _get_scalars(self):
        return {"total": self.total}

    def _set_scalars(self, scalars):
        self.total = scalars.get("total", 0.0)


def test_save_refuses_a_scalar_load_model_would_refuse(tmp_path):
    X, y = _data()
    model = _model(Counting(0.01))
    model.fit(X, y, epochs=1, batch_size=32, verbose=0)
    model.save(tmp_path / "m.npz")          # a finite scalar saves and comes back
    assert gn.load_model(tmp_path / "m.npz").optimizer.total == model.optimizer.total > 0
    model.optimizer.total = float("inf")    # (it wrote a file that load_model refused: "not finite numbers")
    with pytest.raises(ValueError, match=r"save_model: optimizer Counting's scalars \{'total': inf\} must be finite"):
        model.save(tmp_path / "n.npz")
