"""Schedule-Free AdamW (Defazio et al. 2024), Keras 3's ``ScheduleFreeAdamW``."""
import numpy as np

from .._validation import check_non_negative_int
from .base import Optimizer, keras_apply_form, pieces


class ScheduleFreeAdamW(Optimizer):
    """Schedule-Free AdamW (Defazio et al. 2024, "The road less scheduled"), as Keras 3's
    ``ScheduleFreeAdamW`` writes it: no learning-rate schedule, but two sequences besides the
    weights y. Gradient steps go to ``z`` (the state ``momentum``, which starts as the weights);
    ``x`` is the running average of the z's; the weights are set to ``y = (1 - beta_1) z + beta_1 x``,
    where the next gradient is taken. With ``t`` the update's number (1, 2, ...):

        v += (g^2 - v)(1 - beta_2)
        z -= lr_t g / (sqrt(v / (1 - beta_2^t)) + epsilon)      lr_t = lr min(1, t / warmup_steps)
        x  = (y - (1 - beta_1) z_old) / beta_1                   (recovered from the weights)
        x  = (1 - 1/t) x + z / t
        y  = (1 - beta_1) z + beta_1 x

    The weights are y throughout, as in Keras: ``fit`` trains them, and ``evaluate``, ``predict``
    and model files use them too (Keras' optimizers play no part in evaluation). The paper
    evaluates at x; x is ``(y - (1 - beta_1) z) / beta_1`` with z from ``get_state()``.
    ``weight_decay`` (None by default, as in Keras) decays y before the step; ``clipnorm`` and the
    rest apply as to every optimizer.

    Difference from Keras 3.15 on its TensorFlow and PyTorch backends: Keras reads ``z_old`` from
    the variable after updating it, so it uses the new z there, which makes y the plain average of
    the z's and ``beta_1`` of no effect; glassnet uses the z from before the update, as Keras'
    comments, the paper and Keras on JAX do. z and v agree with Keras' step for step.
    """
    name = "schedulefreeadamw"
    slot_names = always_slots = ("momentum", "velocity")
    non_negative_slots = ("velocity",)
    # beta_1 = 0 would divide by 0 recovering x
    hyper_parameters = {**Optimizer.hyper_parameters, "beta_1": "(0, 1]", "beta_2": "[0, 1)", "epsilon": "> 0"}

    def __init__(self, learning_rate=0.0025, beta_1=0.9, beta_2=0.999, epsilon=1e-8, warmup_steps=0, **options):
        super().__init__(learning_rate, **options)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.warmup_steps = warmup_steps

    def __setattr__(self, name, value):
        if name == "warmup_steps":
            value = check_non_negative_int(value, "ScheduleFreeAdamW: warmup_steps")
        super().__setattr__(name, value)

    def apply(self, triples, sizes=None, names=None, shapes=None):
        if keras_apply_form(triples, sizes):     # Keras 3's apply(grads, trainable_variables)
            return self._keras_apply(triples, sizes)
        triples = self._checked(triples)    # (before z is made: a refused gradient changes nothing)
        for key, param, _ in triples:       # z starts as the weights, before clipping and decay (Keras' build)
            slots = self.slots.setdefault(key, {})
            if "momentum" not in slots:
                slots["momentum"] = param.copy()
        super().apply(triples, sizes, names, shapes)

    def update(self, key, param, grad):
        slots, tmp = self._slot(key, param, "momentum", "velocity")
        x, scaled = self._buffer(key + "#x", param), self._buffer(key + "#scaled", param)
        t, b1, b2 = self.iterations, self.beta_1, self.beta_2
        rate = self.learning_rate * (min(t / self.warmup_steps, 1.0) if self.warmup_steps else 1.0)
        c = 1.0 / t
        for y, g, z, v, tmp, x, scaled in pieces(param, grad, slots["momentum"], slots["velocity"], tmp, x, scaled):
            np.multiply(g, g, out=tmp)              # v += (g^2 - v)(1 - b2), as Keras rounds it
            tmp -= v
            tmp *= 1 - b2
            v += tmp
            np.divide(v, 1 - b2 ** t, out=tmp)      # the denominator sqrt(v / (1 - b2^t)) + eps
            np.sqrt(tmp, out=tmp)
            tmp += self.epsilon
            np.multiply(z, 1 - b1, out=x)           # x = (y - (1 - b1) z_old) / b1
            np.subtract(y, x, out=x)
            x /= b1
            np.multiply(g, rate, out=scaled)        # z -= lr g / denominator
            scaled /= tmp
            z -= scaled
            x *= 1 - c                              # x = (1 - c) x + c z
            np.multiply(z, c, out=tmp)
            x += tmp
            np.multiply(z, 1 - b1, out=y)           # y = (1 - b1) z + b1 x
            x *= b1
            y += x
