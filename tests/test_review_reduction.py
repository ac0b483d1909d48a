"""Review of reduction=, name= and ignore_class=: a registered loss of your own subclassing a
built-in one, with and without another reduction, in model files."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import losses, saving


@saving.register_serializable(package="ReviewReduction")
class _RegisteredMSE(losses.MeanSquaredError):
    """A subclass of a built-in loss with no settings of its own, and no get_config."""


@saving.register_serializable(package="ReviewReduction")
class _ScaledMSE(losses.MeanSquaredError):
    """Settings of its own through get_config, the base's through **kwargs."""

    def __init__(self, scale=2.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def __call__(self, y_pred, y_true):
        return self.scale * super().__call__(y_pred, y_true)

    def get_config(self):
        return {"scale": self.scale}


@pytest.mark.parametrize("make", [lambda: _RegisteredMSE(), lambda: _RegisteredMSE(reduction="sum", name="mine"),
                                  lambda: _ScaledMSE(3.0), lambda: _ScaledMSE(3.0, reduction="sum")])
def test_a_registered_subclass_of_a_built_in_loss_saves_with_its_reduction(make, rng, tmp_path):
    # every built-in constructor now takes reduction= and name=: a registered subclass without a
    # get_config of its own was refused ("get_config() leaves them out"), and one with another
    # reduction (an instance of the generated subclass, which is not registered) was refused as
    # "not a built-in loss"
    loss = make()
    x, y = rng.standard_normal((8, 3)).astype(np.float32), rng.standard_normal((8, 2)).astype(np.float32)
    model = gn.Sequential([gn.layers.Dense(2, input_dim=3)], seed=0)
    model.compile(loss=loss, optimizer="sgd")
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert losses.plain_type(loaded.loss) is losses.plain_type(loss)
    assert loaded.loss.reduction == loss.reduction and loaded.loss.name == loss.name
    assert vars(loaded.loss).get("scale") == vars(loss).get("scale")
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0), rel=1e-6)


class _DoubledMSE(losses.MeanSquaredError):
    """Overrides the value of a built-in loss, not its per_sample."""

    def __call__(self, y_pred, y_true):
        return 2 * super().__call__(y_pred, y_true)


def test_none_refuses_per_sample_values_a_subclass_did_not_write():
    # reduction="sum" gave the subclass's value (6) while "none" gave the parent's per-sample
    # values (summing to 3), silently
    y_hat, y = np.ones((3, 2)), np.zeros((3, 2))
    assert _DoubledMSE(reduction="sum")(y_hat, y) == pytest.approx(6.0)
    with pytest.raises(NotImplementedError, match="_DoubledMSE overrides __call__ but inherits per_sample"):
        _DoubledMSE(reduction="none")(y_hat, y)

    class Written(_DoubledMSE):
        def per_sample(self, y_pred, y_true):
            return 2 * super().per_sample(y_pred, y_true)

    np.testing.assert_allclose(Written(reduction="none")(y_hat, y), [2.0, 2.0, 2.0])
    assert Written(reduction="sum")(y_hat, y) == pytest.approx(6.0)
    # the built-in losses write their own
    for name, cls in losses.LOSSES.items():
        losses.base._check_per_sample(cls)


def test_a_name_a_model_file_cannot_read_back_is_refused(rng, tmp_path):
    # a loss named with more than 200 characters saved, and load_model then refused the file
    with pytest.raises(ValueError, match=r"name must be a non-empty string, got 'x+ \(201 characters: a model file reads back at most 200\)"):
        losses.MeanSquaredError(name="x" * 201)
    loss = losses.MeanSquaredError(name="x" * 200)
    model = gn.Sequential([gn.layers.Dense(2, input_dim=3)], seed=0)
    model.compile(loss=loss, optimizer="sgd", metrics=[losses.MeanAbsoluteError(name="y" * 200)])
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert loaded.loss.name == loss.name and [name for name, _ in loaded.metrics] == ["y" * 200]


def test_a_name_set_before_the_base_constructor_is_kept():
    # Loss.__init__ (new with reduction=) deleted an instance's name when given none
    class Named(losses.Loss):
        def __init__(self):
            self.name = "my_loss"
            super().__init__()

    assert Named().name == "my_loss"
    assert losses.MeanSquaredError().name == "mse" and losses.MeanSquaredError(name="m").name == "m"


def test_a_weighted_loss_metric_with_ignore_class_is_the_weighted_mean_over_the_samples_that_count(rng):
    # the loss divides by how many samples count, not by their weights: a weighted mean of losses
    # all equal to 1 came out 4/3
    from glassnet.metrics.from_losses import LossMean
    p = np.array([[np.exp(-1), 1 - np.exp(-1)], [0.5, 0.5]])
    metric = LossMean(losses.SparseCategoricalCrossentropy(ignore_class=255))
    assert metric(np.array([0, 255]), p, sample_weight=[2.0, 1.0]) == pytest.approx(1.0)
    # in a model: weighted_metrics=[...] against the weighted mean over the counted samples by hand
    x = rng.standard_normal((12, 3)).astype(np.float32)
    y = rng.integers(0, 3, 12)
    y[[1, 4, 9]] = 255
    w = rng.uniform(0.2, 2, 12).astype(np.float32)
    model = gn.Sequential([gn.layers.Dense(3, activation="softmax", input_dim=3)], seed=0)
    model.compile(loss=losses.SparseCategoricalCrossentropy(ignore_class=255), optimizer="sgd",
                  weighted_metrics=[losses.SparseCategoricalCrossentropy(ignore_class=255, name="ce")])
    scores = model.evaluate(x, y, sample_weight=w, batch_size=12, verbose=0, return_dict=True)
    keep = y != 255
    per = -np.log(model.predict(x, verbose=0).astype(np.float64)[keep, y[keep]])
    assert scores["ce"] == pytest.approx((w[keep] * per).sum() / w[keep].sum(), rel=1e-5)
