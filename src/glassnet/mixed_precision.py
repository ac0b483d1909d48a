"""Keras 3.15's ``keras.mixed_precision`` names, on glassnet's float32/float64 policies
(glassnet.dtype_policies): ``DTypePolicy`` (and Keras' older name ``Policy``),
``dtype_policy``/``global_policy`` and ``set_dtype_policy``/``set_global_policy``, the same
functions as ``glassnet.config``'s.

Mixed precision itself is refused by name: ``set_global_policy("mixed_float16")`` raises a
ValueError. glassnet has no float16 kernels; doing mixed_float16 as Keras does (float16 compute,
float32 weights and loss scaling) is not built, and computing in float32 under that name would
make a different model than Keras'. So ``LossScaleOptimizer``, whose only use is float16
gradients, is refused too.
"""
from .config import dtype_policy, set_dtype_policy
from .dtype_policies import DTypePolicy

__all__ = ["DTypePolicy", "Policy", "dtype_policy", "global_policy", "set_dtype_policy", "set_global_policy",
           "LossScaleOptimizer"]

Policy = DTypePolicy
global_policy = dtype_policy
set_global_policy = set_dtype_policy


class LossScaleOptimizer:
    """Keras' ``LossScaleOptimizer(inner_optimizer, initial_scale=32768.0,
    dynamic_growth_steps=2000, name=None)``: refused, as glassnet has no float16 gradients to keep
    from underflowing; train with the inner optimizer itself."""

    def __init__(self, inner_optimizer, initial_scale=32768.0, dynamic_growth_steps=2000, name=None, **kwargs):
        raise NotImplementedError("LossScaleOptimizer: glassnet computes in float32 or float64 only (no mixed "
                                  "precision), where loss scaling has nothing to do: use the inner optimizer "
                                  f"({type(inner_optimizer).__name__}) itself")
