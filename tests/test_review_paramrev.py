"""Review of initializers, regularizers, constraints and learning-rate schedules against Keras 3.15."""
import math

import numpy as np
import pytest

import glassnet as gn


@pytest.mark.parametrize("cls, kwargs", [
    ("MultiHeadAttention", dict(num_heads=8, key_dim=16)),
    ("GroupedQueryAttention", dict(num_query_heads=8, num_key_value_heads=2, head_dim=16)),
])
def test_attention_kernels_use_keras_einsum_fans(cls, kwargs):
    # Keras 3.15 makes these kernels with EinsumDense, which gives glorot_uniform the fans
    # (summed axes, kept axes): (64, heads, 16) -> (64, heads * 16); (8, 16, 64) -> (128, 64).
    # The conv rule (receptive field 64) made the bounds 2.8 to 4 times too small.
    layer = getattr(gn.layers, cls)(**kwargs)
    layer.build([(5, 64), (5, 64)])
    heads = kwargs.get("num_heads", kwargs.get("num_query_heads"))
    kv_heads = kwargs.get("num_key_value_heads", heads)
    expected = {"query_kernel": (64, heads * 16), "key_kernel": (64, kv_heads * 16),
                "value_kernel": (64, kv_heads * 16), "output_kernel": (heads * 16, 64)}
    for name, (fan_in, fan_out) in expected.items():
        w = np.asarray(layer.params[name])
        limit = math.sqrt(6 / (fan_in + fan_out))
        assert np.abs(w).max() <= limit * (1 + 1e-6), name
        assert np.abs(w).max() > 0.95 * limit, name          # thousands of draws reach the bound
        assert w.std() == pytest.approx(limit / math.sqrt(3), rel=0.1), name


@pytest.mark.parametrize("setting", [
    gn.initializers.VarianceScaling(2.0, "fan_out", "uniform"), gn.initializers.Orthogonal(gain=0.5),
    gn.initializers.GlorotNormal(), gn.regularizers.L1L2(l1=0.1, l2=0.2),
    gn.regularizers.OrthogonalRegularizer(0.1, "columns"), gn.constraints.MaxNorm(3.0, axis=[0, 1, 2]),
    gn.constraints.NonNeg(), gn.optimizers.schedules.CosineDecayRestarts(0.1, 5, t_mul=1.5, m_mul=0.5),
    gn.optimizers.schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1]),
])
def test_from_config_rebuilds_what_get_config_describes(setting):
    # Keras' API: type(x).from_config(x.get_config()) == x
    assert type(setting).from_config(setting.get_config()) == setting


def test_a_registered_regularizer_leaving_out_an_argument_is_still_refused(tmp_path):
    # Setting.from_config reads the constructor's arguments, so saving still checks get_config
    @gn.saving.register_serializable(package="ReviewParamrev")
    class Scaled(gn.regularizers.Regularizer):
        def __init__(self, factor=0.1):
            self.factor = factor

        def __call__(self, w):
            return self.factor * float((w ** 2).sum())

        def add_gradient(self, w, grad):
            grad += 2 * self.factor * w

    model = gn.Sequential([gn.layers.Dense(2, input_dim=3, kernel_regularizer=Scaled(0.3))])
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(TypeError, match="factor"):
        model.save(tmp_path / "m.npz")
