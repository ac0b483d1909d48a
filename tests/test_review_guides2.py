"""Found porting more of keras.io's guides to glassnet (session 46, guides2): "Introduction to Keras
for researchers" (custom layers and metrics, GradientTape loops, the VAE, the hypernetwork),
"Working with preprocessing layers", "Customizing what happens in evaluate()", "Migrating Keras 2
code", mixed precision and quantization; each snippet run in Keras 3.15 too."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops


# -- "Introduction to Keras for researchers" ------------------------------------------------------

def _f1_score(lib, lib_ops):
    """The guide's F1Score metric as written (it casts to ``self.dtype``)."""
    class F1Score(lib.metrics.Metric):
        def __init__(self, name="f1_score", dtype="float32", threshold=0.5, **kwargs):
            super().__init__(name=name, dtype=dtype, **kwargs)
            self.threshold = 0.5
            self.true_positives = self.add_weight(name="tp", dtype=dtype, initializer="zeros")
            self.false_positives = self.add_weight(name="fp", dtype=dtype, initializer="zeros")
            self.false_negatives = self.add_weight(name="fn", dtype=dtype, initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_pred = lib_ops.greater_equal(y_pred, self.threshold)
            y_true = lib_ops.cast(y_true, "bool")
            y_pred = lib_ops.cast(y_pred, "bool")
            tp = lib_ops.cast(y_true & y_pred, self.dtype)
            fp = lib_ops.cast(~y_true & y_pred, self.dtype)
            fn = lib_ops.cast(y_true & ~y_pred, self.dtype)
            if sample_weight is not None:
                sample_weight = lib_ops.cast(sample_weight, self.dtype)
                tp, fp, fn = tp * sample_weight, fp * sample_weight, fn * sample_weight
            self.true_positives.assign_add(lib_ops.sum(tp))
            self.false_positives.assign_add(lib_ops.sum(fp))
            self.false_negatives.assign_add(lib_ops.sum(fn))

        def result(self):
            precision = self.true_positives / (self.true_positives + self.false_positives)
            recall = self.true_positives / (self.true_positives + self.false_negatives)
            return precision * recall * 2.0 / (precision + recall)

        def reset_state(self):
            for v in (self.true_positives, self.false_positives, self.false_negatives):
                v.assign(0)
    return F1Score


def _run_f1(f1_class):
    m = f1_class()
    m.update_state([0, 1, 0, 0], [0.3, 0.5, 0.8, 0.9])
    values = [float(m.result())]
    m.update_state([1, 1, 1, 1], [0.1, 0.7, 0.6, 0.0])
    values.append(float(m.result()))
    m.update_state(np.array([1, 0]), np.array([0.9, 0.9]), sample_weight=np.array([2.0, 0.5]))
    values.append(float(m.result()))
    m.reset_state()
    return values, float(np.asarray(m.true_positives))


def test_the_researchers_guide_f1_score_reads_the_metric_dtype():
    """The guide's F1Score casts with ``ops.cast(..., self.dtype)``: glassnet's Metric had no
    ``dtype`` (AttributeError). It is Keras' (the dtype given, else floatx)."""
    values, reset = _run_f1(_f1_score(gn, ops))
    np.testing.assert_allclose(values, [0.5, 0.6, 20 / 29], rtol=1e-6)      # worked by hand, as Keras' below
    assert reset == 0.0
    assert gn.metrics.Mean().dtype == "float32" and gn.metrics.Mean(dtype="float64").dtype == "float64"


def test_the_researchers_guide_f1_score_as_keras(keras):
    ours = _run_f1(_f1_score(gn, ops))
    theirs = _run_f1(_f1_score(keras, keras.ops))
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-6)
    assert keras.metrics.Mean().dtype == gn.metrics.Mean().dtype


@pytest.mark.parametrize("name, kwargs", [("Zeros", {}), ("Ones", {}), ("Constant", {"value": 0.5}),
                                          ("Identity", {"gain": 2.0})])
def test_initializers_called_as_keras_calls_them(name, kwargs):
    """The guide's ``tf.zeros_initializer()(shape=(units,), dtype="float32")``, in Keras 3
    ``keras.initializers.Zeros()(shape, dtype=None)``: glassnet's Zeros, Ones, Constant and
    Identity took ``(shape, rng, dtype)`` only (TypeError: missing 'rng'), and a random
    initializer given Keras' positional dtype took it for a generator."""
    init = getattr(gn.initializers, name)(**kwargs)
    expected = {"Zeros": np.zeros((3, 3)), "Ones": np.ones((3, 3)), "Constant": np.full((3, 3), 0.5),
                "Identity": 2 * np.eye(3)}[name]
    for value, dtype in [(init(shape=(3, 3), dtype="float32"), "float32"), (init((3, 3), "float64"), "float64"),
                         (init((3, 3)), "float32"), (init((3, 3), None, "float16"), "float16")]:
        assert value.dtype == dtype
        np.testing.assert_array_equal(value, expected)
    w = gn.initializers.RandomNormal(seed=3)((2, 2), "float64")
    assert w.dtype == "float64"
    np.testing.assert_array_equal(w, gn.initializers.RandomNormal(seed=3)((2, 2), dtype="float64"))
    with pytest.raises(TypeError, match="dtype given twice"):
        init((3, 3), "float32", "float64")
