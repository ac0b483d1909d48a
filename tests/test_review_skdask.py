"""Review of glassnet.dask and glassnet.sklearn as a practitioner uses them: a sweep over models
whose optimizer has a learning-rate schedule of one's own."""
import numpy as np
import pytest

pytest.importorskip("dask")

import glassnet as gn                                                     # noqa: E402
from glassnet.dask import best_model, sweep                              # noqa: E402


class _Warmup(gn.optimizers.schedules.LearningRateSchedule):
    """A learning-rate schedule of one's own (not registered): no config can name it."""

    def __init__(self, peak):
        self.peak = peak

    def __call__(self, step):
        return self.peak * min(1.0, (step + 1) / 10)


def build_with_own_schedule(peak):
    model = gn.Sequential([gn.layers.Dense(8, activation="relu", input_dim=2),
                           gn.layers.Dense(1, activation="sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(learning_rate=_Warmup(peak)),
                  metrics=["accuracy"])
    return model


def test_a_sweep_over_an_own_learning_rate_schedule_trains_and_rebuilds_by_build_fn():
    # the model trains, but sweep refused it before any task ran: it asked for the config with the
    # compile settings, which cannot name the schedule ("a model file cannot store it"), although
    # a sweep writes no model file and result.model(build_fn) rebuilds such a model
    (X, y), validation = gn.datasets.moons(n_samples=200)
    results = sweep(build_with_own_schedule, {"peak": [0.01, 0.05]}, X, y, validation_data=validation,
                    fit_kwargs={"epochs": 3}, scheduler="synchronous")
    assert [r["error"] for r in results] == [None, None]
    local = build_with_own_schedule(**results[0]["params"])
    local.fit(X, y, epochs=3, validation_data=validation, verbose=0)
    for got, want in zip(results[0]["weights"], local.get_weights()):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match=r"cannot be rebuilt from its config.*result\.model\(build_fn\)"):
        results[0].model()
    model = best_model(results, build_with_own_schedule)
    assert model.evaluate(*validation) == pytest.approx(
        [results[0]["metrics"]["val_loss"], results[0]["metrics"]["val_accuracy"]], rel=1e-6)
