"""Review of the last merges (own train_on_batch, metrics of one name, the metric classes' Keras
positional order, count_params of an unbuilt model): each test failed before its fix."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import metrics


# Keras 3.15 classes whose order ends in (..., name, dtype): dtype taken there, by keyword or
# position (docs/keras_parity.md says so), and the value equal to Keras' for the same call
@pytest.mark.parametrize("name, args", [
    ("Precision", (0.5, None, None, "p", "float32")),
    ("Recall", (None, None, None, "r", "float32")),
    ("TruePositives", (0.5, "tp", "float32")),
    ("FalseNegatives", (None, "fn", "float32")),
    ("PrecisionAtRecall", (0.5, 50, None, "par", "float32")),
    ("RecallAtPrecision", (0.5, 50, None, "rap", "float32")),
    ("SensitivityAtSpecificity", (0.5, 50, None, "sas", "float32")),
    ("SpecificityAtSensitivity", (0.5, 50, None, "sas", "float32")),
    ("F1Score", ("micro", 0.5, "f1", "float32")),
    ("FBetaScore", ("micro", 2.0, 0.5, "fb", "float32")),
    ("R2Score", ("uniform_average", 0, "r2", "float32")),
    ("BinaryIoU", ((0, 1), 0.5, "biou", "float32")),
])
def test_metric_classes_take_keras_dtype_last(keras, rng, name, args):
    y_true = (rng.random((20, 1)) > 0.5).astype("float32")
    y_pred = rng.random((20, 1)).astype("float32")
    ours, theirs = getattr(metrics, name)(*args), getattr(keras.metrics, name)(*args)
    assert ours.name == theirs.name
    assert ours(y_true, y_pred) == pytest.approx(float(np.asarray(theirs(y_true, y_pred))), rel=1e-5)
    by_keyword = getattr(metrics, name)(*args[:-1], dtype="float32")
    assert by_keyword.get_config() == ours.get_config()
    with pytest.raises(TypeError, match=f"{name}: dtype"):
        getattr(metrics, name)(*args[:-1], dtype="int32")


def test_mean_metric_wrapper_dtype_is_the_metrics_not_fns(keras):
    # Keras' MeanMetricWrapper(fn, name, dtype, **kwargs): dtype went to fn here, which failed at
    # the first update ("f() got an unexpected keyword argument 'dtype'")
    def f(y_true, y_pred):
        return np.abs(y_true - y_pred).mean(axis=-1)
    y_true, y_pred = np.ones((4, 2), "float32"), np.linspace(0, 1, 8, dtype="float32").reshape(4, 2)
    theirs = float(keras.metrics.MeanMetricWrapper(f, "m", "float32")(y_true, y_pred))
    assert metrics.MeanMetricWrapper(f, "m", "float32")(y_true, y_pred) == pytest.approx(theirs)
    assert metrics.MeanMetricWrapper(f, name="m", dtype="float32")(y_true, y_pred) == pytest.approx(theirs)


class _Mutating(gn.Model):
    """A step that changes its targets in place (harmless on Keras' immutable tensors)."""

    def __init__(self):
        super().__init__(seed=0)
        self.dense = gn.layers.Dense(1)
        self.writeable = []

    def call(self, x):
        return self.dense(x)

    def train_step(self, data):
        y = data[1]
        self.writeable.append(y.flags.writeable)
        if y.flags.writeable:
            y -= 1.0
        return {"y_mean": float(np.mean(y))}

    test_step = train_step


@pytest.mark.parametrize("run", [
    lambda m, x, y: m.train_on_batch(x, y),
    lambda m, x, y: m.test_on_batch(x, y),
    lambda m, x, y: m.fit(x, y, epochs=2, batch_size=len(x), verbose=0),       # one batch: sliced as given
    lambda m, x, y: m.fit(x, y, epochs=1, batch_size=2, shuffle=False, verbose=0),
    lambda m, x, y: m.evaluate(x, y, verbose=0),
])
def test_step_cannot_change_the_callers_targets(run):
    # x was handed read-only, as _NestedArrays' leaves are; one array of y was the caller's own,
    # writeable: fit(epochs=2) then trained its second epoch on targets the first had changed
    x, y = np.ones((4, 3), "float32"), np.ones((4, 1), "float32")
    model = _Mutating()
    model.compile(loss="mse")
    run(model, x, y)
    assert not any(model.writeable)
    np.testing.assert_array_equal(y, 1.0)
