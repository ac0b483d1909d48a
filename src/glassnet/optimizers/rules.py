"""The update rules: SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, Nadam, each
``torch.optim``'s step for step with Keras' names and defaults, and Lion, Ftrl, Lamb and Adafactor,
Keras' (PyTorch has none of the first three; its Adafactor differs)
(see ``glassnet.optimizers.base`` for what they share)."""
import math

import numpy as np

from .. import backend
from .base import Optimizer, keras_apply_form, pieces


# the ``rule`` hyper-parameter of the optimizers whose update differs between PyTorch and Keras
_RULE = {"rule": "rule"}


def _keras_powers(b1, b2, t, dtype):
    """Keras 3.15's bias corrections ``1 - b1^t`` and ``sqrt(1 - b2^t)``, computed as it computes them:
    the betas rounded to float32 (its ``ops.cast`` of a Python float goes through a float32 tensor,
    also for float64 weights: 0.999 becomes 0.99900001), then raised in the weights' ``dtype``."""
    d = dtype.type
    return d(1) - d(np.float32(b1)) ** d(t), np.sqrt(d(1) - d(np.float32(b2)) ** d(t))


def _keras_rate(rate):
    """The learning rate as Keras' update sees it: its variable is float32, whatever the weights'."""
    return float(np.float32(rate))


class SGD(Optimizer):
    """Gradient descent, with optional (Nesterov) momentum.

    ``buf = momentum * buf + grad`` (the first step sets ``buf = grad``), then
    ``param -= learning_rate * (grad + momentum * buf if nesterov else buf)``, as in torch.optim.SGD.
    The buffer holds gradients, not steps: Keras' velocity holds steps (``v = momentum v - lr g``),
    so the two agree until the learning rate changes, and after a schedule lowers it Keras' old
    velocity still moves at the old rate for a while. A momentum raised from 0 during training
    starts its buffer as that step's gradient.

    ``rule`` (glassnet's own argument; Keras and PyTorch have none): ``"pytorch"`` (the default)
    computes the step as torch.optim does; ``"keras"`` as Keras 3.15's ``update_step`` does, whose velocity holds steps (``v = momentum v - lr g``, from 0; ``param += v``,
    or ``momentum v - lr g`` with nesterov): the two differ once the rate changes.
    The state kept is the rule's (under ``"keras"``, what Keras' slots hold: a ``.keras`` file's
    state maps 1:1), so the rule is set before training. ``load_model`` of a Keras file (``.keras``,
    ``.h5``) compiles with ``rule="keras"``: training continues as in Keras.
    """
    name = "sgd"
    slot_names = ("momentum",)
    hyper_parameters = {**Optimizer.hyper_parameters, "momentum": "[0, 1)", "nesterov": "flag", **_RULE}
    omitted_at_default = {"rule": "pytorch"}
    rule = "pytorch"            # also what an SGD pickled before rule existed reads

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, rule="pytorch", **options):
        super().__init__(learning_rate, **options)
        self.momentum = momentum
        self.nesterov = nesterov
        self.rule = rule
        if self.nesterov and self.momentum == 0:
            raise ValueError("SGD: nesterov=True needs a momentum > 0")

    def update(self, key, param, grad):
        if self.momentum == 0:
            _, tmp = self._slot(key, param)
            np.multiply(grad, self.learning_rate, out=tmp)
            param -= tmp
            return
        if self.rule == "keras":
            return self._keras_update(key, param, grad)
        first = "momentum" not in self.slots.get(key, ())     # also when momentum was 0 until now
        slots, tmp = self._slot(key, param, "momentum")
        for param, grad, buf, tmp in pieces(param, grad, slots["momentum"], tmp):
            if first:
                buf[...] = grad
            else:
                buf *= self.momentum
                buf += grad
            if self.nesterov:
                np.multiply(buf, self.momentum, out=tmp)
                tmp += grad
            else:
                tmp[...] = buf
            tmp *= self.learning_rate
            param -= tmp

    def _keras_update(self, key, param, grad):
        """Keras 3.15's step: the velocity holds steps, ``v = momentum v - lr g`` (from 0), then
        ``param += v``, or with nesterov ``param += momentum v - lr g``."""
        slots, tmp = self._slot(key, param, "momentum")
        scaled = self._buffer((key, "scaled"), param)
        # Keras casts both through float32 (its rate is a float32 variable), also for float64 weights
        rate, momentum = _keras_rate(self.learning_rate), float(np.float32(self.momentum))
        for param, grad, v, tmp, scaled in pieces(param, grad, slots["momentum"], tmp, scaled):
            v *= momentum
            np.multiply(grad, rate, out=scaled)
            v -= scaled
            if self.nesterov:
                np.multiply(v, momentum, out=tmp)
                tmp -= scaled
                param += tmp
            else:
                param += v


def _flagged(names, **flagged):
    """A declaration of state arrays (``slot_names`` and the like) as a property: ``names``, and
    each slot of ``flagged`` (``{slot: flag}``) while the optimizer's flag is on (Adam's ``v_hat``
    with ``amsgrad``): load_model then takes such a slot, and asks for it, only then."""
    return property(lambda self: names + tuple(slot for slot, flag in flagged.items() if getattr(self, flag)))


def _moments(m, v, grad, tmp, b1, b2, eps_c, v_hat=None):
    """Adam's two moments, in place: ``m = b1 m + (1 - b1) g`` and ``v = b2 v + (1 - b2) g^2``; then
    ``tmp = sqrt(v) + eps_c``, c times the denominator ``sqrt(v / (1 - b2^t)) + eps`` when ``eps_c``
    is ``eps c`` with ``c = sqrt(1 - b2^t)`` (Adam's and Nadam's step, one pass over the parameters
    fewer than dividing v first). With ``v_hat`` (AMSGrad), ``v_hat = max(v_hat, v)`` takes v's place
    in the denominator. Arrays of one shape; ``tmp`` is scratch."""
    m *= b1
    np.multiply(grad, 1 - b1, out=tmp)
    m += tmp
    v *= b2
    np.multiply(grad, grad, out=tmp)
    tmp *= 1 - b2
    v += tmp
    if v_hat is not None:
        np.maximum(v_hat, v, out=v_hat)
        v = v_hat
    np.sqrt(v, out=tmp)
    tmp += eps_c


_ADAM_KERNELS = {}


def _fused_adam(param, amsgrad=False):
    """For a CuPy ``param``: a CuPy ElementwiseKernel doing Adam's step (``_moments``, the division
    and the update; with ``amsgrad``, AMSGrad's, which also takes v_hat) in one pass over the
    arrays; None for NumPy arrays (and CuPy stand-ins without kernels), which take the passes of
    ``Adam.update``. On a GPU each pass is a kernel reading and writing the whole arrays again: for 20 M parameters the dozen passes took 10 of the 33 ms of an
    epoch (docs/benchmarks_gpu.md). Same formula and order of operations; a GPU rounds sqrt and
    division as IEEE does, so the results match the passes' up to the fused multiply-adds CUDA forms."""
    if isinstance(param, np.ndarray):       # the CPU: the fastest answer first, every step
        return None
    xp = backend.get_array_module(param)
    if not hasattr(xp, "ElementwiseKernel"):
        return None
    if (xp, amsgrad) not in _ADAM_KERNELS:
        moments = "m = m * b1 + g * a1; v = v * b2 + (g * g) * a2; "
        if amsgrad:
            outputs, body = "T p, T m, T v, T v_hat", "v_hat = max(v_hat, v); p -= (m / (sqrt(v_hat) + eps_c)) * step;"
        else:
            outputs, body = "T p, T m, T v", "p -= (m / (sqrt(v) + eps_c)) * step;"
        _ADAM_KERNELS[xp, amsgrad] = xp.ElementwiseKernel(
            "T g, T a1, T a2, T b1, T b2, T eps_c, T step", outputs, moments + body,
            "glassnet_amsgrad" if amsgrad else "glassnet_adam")
    return _ADAM_KERNELS[xp, amsgrad]


class _Moments(Optimizer):
    """What Adam, Adamax and Nadam share: the decay rates of their moments and an epsilon, with
    Keras' defaults (epsilon = 1e-7; PyTorch's is 1e-8)."""
    # a beta of 1 would divide by 1 - beta^t = 0 in the bias correction
    hyper_parameters = {**Optimizer.hyper_parameters, "beta_1": "[0, 1)", "beta_2": "[0, 1)", "epsilon": "> 0"}

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **options):
        super().__init__(learning_rate, **options)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon


class Adam(_Moments):
    """Adam (Kingma & Ba 2015) as torch.optim.Adam computes it:
    ``param -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + epsilon)``.
    Defaults are Keras' (epsilon = 1e-7; PyTorch's is 1e-8). Keras adds epsilon to ``sqrt(v)``
    before the bias correction (``lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + epsilon)``), so
    the two differ unless gradients are much larger than ``epsilon / sqrt(1 - b2^t)`` (about 30
    epsilon at the first step): with tiny gradients (Keras' fraud example's class weights of
    1 / count give ~1e-6) Keras' steps are much smaller, and training visibly differs.

    ``amsgrad=True`` (Keras' and PyTorch's argument) is AMSGrad (Reddi et al. 2018, "On the
    convergence of Adam and beyond"): the step divides by the largest second moment so far,
    ``v_hat = max(v_hat, v)`` (taken before the bias correction, as both keep it), in v's place,
    so that no weight's rate grows back once its gradients shrink. ``v_hat`` is state of its own,
    kept (and in model files) only with amsgrad; turned on during training it starts at the v of
    that step, turned off it is dropped.

    ``rule`` (glassnet's own argument; Keras and PyTorch have none): ``"pytorch"`` (the default)
    computes the step as torch.optim does; ``"keras"`` as Keras 3.15's ``update_step`` does, ``lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + epsilon)``
    with the betas' powers in the weights' dtype (float32's 0.999 is 0.99900001).
    The state kept is the rule's (under ``"keras"``, what Keras' slots hold: a ``.keras`` file's
    state maps 1:1), so the rule is set before training. ``load_model`` of a Keras file (``.keras``,
    ``.h5``) compiles with ``rule="keras"``: training continues as in Keras.
    """
    name = "adam"
    slot_names = always_slots = _flagged(("m", "v"), v_hat="amsgrad")
    non_negative_slots = _flagged(("v",), v_hat="amsgrad")
    hyper_parameters = {**_Moments.hyper_parameters, "amsgrad": "flag", **_RULE}
    # a default Adam's config and files stay those of a glassnet before amsgrad (and rule)
    omitted_at_default = {"amsgrad": False, "rule": "pytorch"}
    amsgrad = False             # also what an Adam pickled before amsgrad existed reads
    rule = "pytorch"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, rule="pytorch",
                 **options):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **options)
        self.amsgrad = amsgrad
        self.rule = rule

    def _stale_slots(self):
        return super()._stale_slots() + (() if self.amsgrad else ("v_hat",))

    def _zero_started_slots(self):
        # v_hat = max(0, v) = v: zeros are the v_hat of an amsgrad turned on before this step
        return {"v_hat": "v"} if self.amsgrad else {}

    def update(self, key, param, grad):
        amsgrad = self.amsgrad
        if amsgrad:
            slots, tmp = self._slot(key, param, "m", "v", "v_hat")
        else:
            slots, tmp = self._slot(key, param, "m", "v")
            slots.pop("v_hat", None)            # amsgrad turned off: its maximum would be stale
        b1, b2, t = self.beta_1, self.beta_2, self.iterations
        if self.rule == "keras":
            # Keras' lr c / (1 - b1^t) m / (sqrt(v) + eps): the passes below with eps in c eps's
            # place (PyTorch's step with epsilon_t = epsilon c), the powers as Keras computes them
            correction, c = _keras_powers(b1, b2, t, param.dtype)
            eps_c, step = self.epsilon, param.dtype.type(_keras_rate(self.learning_rate)) * c / correction
        else:
            # m / (sqrt(v) / c + eps) with c = sqrt(1 - b2^t) equals c m / (sqrt(v) + c eps): the same
            # step with one pass over the parameters fewer
            c = math.sqrt(1 - b2 ** t)
            eps_c, step = self.epsilon * c, self.learning_rate * c / (1 - b1 ** t)
        kernel = _fused_adam(param, amsgrad)
        if kernel is not None:          # a GPU: the whole step in one kernel, not a dozen passes
            kernel(grad, 1 - b1, 1 - b2, b1, b2, eps_c, step,
                   param, slots["m"], slots["v"], *((slots["v_hat"],) if amsgrad else ()))
            return
        if amsgrad:
            for param, grad, m, v, v_hat, tmp in pieces(param, grad, slots["m"], slots["v"], slots["v_hat"], tmp):
                _moments(m, v, grad, tmp, b1, b2, eps_c, v_hat)
                np.divide(m, tmp, out=tmp)
                tmp *= step
                param -= tmp
            return
        for param, grad, m, v, tmp in pieces(param, grad, slots["m"], slots["v"], tmp):
            _moments(m, v, grad, tmp, b1, b2, eps_c)
            np.divide(m, tmp, out=tmp)              # param -= lr c / (1 - b1^t) m / (sqrt(v) + c eps)
            tmp *= step
            param -= tmp


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019), as torch.optim.AdamW:
    ``param *= 1 - lr * weight_decay`` before the Adam step -- the ``weight_decay`` every optimizer
    takes (see ``Optimizer``), here on by default. Defaults are Keras' (weight_decay = 0.004;
    PyTorch's is 0.01). ``amsgrad`` and ``rule`` as Adam's."""
    name = "adamw"
    # 0 is plain Adam; a negative decay would grow the weights every step
    hyper_parameters = {**Adam.hyper_parameters, "weight_decay": ">= 0"}

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, rule="pytorch", **options):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, rule, weight_decay=weight_decay, **options)


class RMSprop(Optimizer):
    """``v = rho v + (1 - rho) g^2``; ``param -= lr g / (sqrt(v) + epsilon)`` (torch.optim.RMSprop,
    whose ``alpha`` is Keras' ``rho``); with momentum, ``buf = momentum buf + g / (...)``.

    Epsilon is added after the square root, as PyTorch adds it; Keras adds it inside
    (``sqrt(v + epsilon)``), so the two agree only while gradients are much larger than
    ``sqrt(epsilon / (1 - rho))`` (about 1e-3 at the defaults): a weight with smaller gradients
    takes smaller steps in Keras (keras.io's character-level LSTM, lr 0.01, ends its first epoch
    at a loss a few percent apart; see docs/keras_parity.md).
    The momentum buffer holds ``g / (...)``, not steps: Keras' holds ``lr g / (...)``, so, as with
    SGD, the two agree until the learning rate changes (a schedule, ReduceLROnPlateau).

    ``centered=True`` (Keras' argument; PyTorch's too) divides by an estimate of the gradient's
    standard deviation rather than its root mean square: with ``a = rho a + (1 - rho) g`` (the state
    ``average_gradient``, kept only then), ``sqrt(v - a^2) + epsilon`` (PyTorch's; Keras':
    ``sqrt(v - a^2 + epsilon)``, epsilon inside as above). ``v - a^2`` is never negative in exact
    arithmetic; rounding can take it an ulp below 0, which is taken as 0 (PyTorch's step is then
    NaN, Keras' too once that ulp exceeds its epsilon). Turned on during training, ``a`` starts at 0;
    turned off, it is dropped.

    ``rule`` (glassnet's own argument; Keras and PyTorch have none): ``"pytorch"`` (the default)
    computes the step as torch.optim does; ``"keras"`` as Keras 3.15's ``update_step`` does, ``lr g / sqrt(v + epsilon)`` (centered:
    ``sqrt(v - a^2 + epsilon)``), the momentum buffer holding those steps (``buf = momentum buf +
    lr g / ...``; ``param -= buf``).
    The state kept is the rule's (under ``"keras"``, what Keras' slots hold: a ``.keras`` file's
    state maps 1:1), so the rule is set before training. ``load_model`` of a Keras file (``.keras``,
    ``.h5``) compiles with ``rule="keras"``: training continues as in Keras.
    """
    name = "rmsprop"
    slot_names = _flagged(("v", "momentum"), average_gradient="centered")
    always_slots = _flagged(("v",), average_gradient="centered")
    non_negative_slots = ("v",)
    hyper_parameters = {**Optimizer.hyper_parameters, "rho": "[0, 1)", "momentum": "[0, 1)", "epsilon": "> 0",
                        "centered": "flag", **_RULE}
    # a default RMSprop's config and files stay those of a glassnet before centered (and rule)
    omitted_at_default = {"centered": False, "rule": "pytorch"}
    centered = False            # also what an RMSprop pickled before centered existed reads
    rule = "pytorch"

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, rule="pytorch",
                 **options):
        super().__init__(learning_rate, **options)
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered
        self.rule = rule

    def _stale_slots(self):
        return super()._stale_slots() + (() if self.centered else ("average_gradient",))

    def _zero_started_slots(self):
        # a centered turned on before this step starts its average at 0 (see update)
        return {"average_gradient": "v"} if self.centered else {}

    def update(self, key, param, grad):
        # a momentum raised from 0 during training starts its buffer at 0 (torch.optim's first step)
        slots, tmp = self._slot(key, param, *(("v", "momentum") if self.momentum else ("v",)))
        # without momentum, v stands in for the unused momentum buffer (it is never touched)
        buf = slots.get("momentum", slots["v"])
        arrays = (param, grad, slots["v"], buf, tmp)
        if self.centered:
            arrays += (self._slot(key, param, "average_gradient")[0]["average_gradient"],)
        else:
            slots.pop("average_gradient", None)     # centered turned off: its average would be stale
        if self.rule == "keras":
            return self._keras_update(arrays)
        for param, grad, v, buf, tmp, *average in pieces(*arrays):
            v *= self.rho
            np.multiply(grad, grad, out=tmp)
            tmp *= 1 - self.rho
            v += tmp
            if average:                             # centered: sqrt(v - a^2), a = rho a + (1 - rho) g
                average, = average
                average *= self.rho
                np.multiply(grad, 1 - self.rho, out=tmp)
                average += tmp
                np.multiply(average, average, out=tmp)
                np.subtract(v, tmp, out=tmp)
                np.maximum(tmp, 0, out=tmp)         # an ulp below 0 by rounding: 0, not NaN
                np.sqrt(tmp, out=tmp)
            else:
                np.sqrt(v, out=tmp)
            tmp += self.epsilon
            np.divide(grad, tmp, out=tmp)
            if self.momentum:
                buf *= self.momentum
                buf += tmp
                tmp[...] = buf
            tmp *= self.learning_rate
            param -= tmp

    def _keras_update(self, arrays):
        """Keras 3.15's step: epsilon inside the square root, ``lr g / sqrt(v + eps)`` (centered:
        ``sqrt(v - a^2 + eps)``); the momentum buffer sums those steps, the rate in them."""
        rate = _keras_rate(self.learning_rate)
        for param, grad, v, buf, tmp, *average in pieces(*arrays):
            v *= self.rho
            np.multiply(grad, grad, out=tmp)
            tmp *= 1 - self.rho
            v += tmp
            if average:
                average, = average
                average *= self.rho
                np.multiply(grad, 1 - self.rho, out=tmp)
                average += tmp
                np.multiply(average, average, out=tmp)
                np.subtract(v, tmp, out=tmp)
                tmp += self.epsilon
                np.maximum(tmp, 0, out=tmp)         # (Keras' is NaN there; v >= a^2 but for rounding)
            else:
                np.add(v, self.epsilon, out=tmp)
            np.sqrt(tmp, out=tmp)
            np.divide(grad, tmp, out=tmp)
            tmp *= rate
            if self.momentum:
                buf *= self.momentum
                buf += tmp
                param -= buf
            else:
                param -= tmp


class Adagrad(Optimizer):
    """``s += g^2``; ``param -= lr g / (sqrt(s) + epsilon)`` (torch.optim.Adagrad); Keras defaults
    (the accumulator starts at 0.1). Epsilon is added after the square root, as PyTorch adds it;
    Keras adds it inside (``sqrt(s + epsilon)``).

    ``rule`` (glassnet's own argument; Keras and PyTorch have none): ``"pytorch"`` (the default)
    computes the step as torch.optim does; ``"keras"`` as Keras 3.15's ``update_step`` does, ``lr g / sqrt(s + epsilon)``.
    The state kept is the rule's (under ``"keras"``, what Keras' slots hold: a ``.keras`` file's
    state maps 1:1), so the rule is set before training. ``load_model`` of a Keras file (``.keras``,
    ``.h5``) compiles with ``rule="keras"``: training continues as in Keras.
    """
    name = "adagrad"
    slot_names = always_slots = non_negative_slots = ("sum",)
    slot_fills = {"sum": "initial_accumulator_value"}
    # the accumulator is a sum of squares: it starts at 0 or above, or sqrt(s) may be NaN
    hyper_parameters = {**Optimizer.hyper_parameters, "initial_accumulator_value": ">= 0", "epsilon": "> 0",
                        **_RULE}
    omitted_at_default = {"rule": "pytorch"}
    rule = "pytorch"

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, rule="pytorch", **options):
        super().__init__(learning_rate, **options)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon
        self.rule = rule

    def update(self, key, param, grad):
        slots, tmp = self._slot(key, param, "sum", fill=self.initial_accumulator_value)
        keras = self.rule == "keras"
        rate = _keras_rate(self.learning_rate) if keras else self.learning_rate
        for param, grad, s, tmp in pieces(param, grad, slots["sum"], tmp):
            np.multiply(grad, grad, out=tmp)
            s += tmp
            if keras:                               # Keras: sqrt(s + eps)
                np.add(s, self.epsilon, out=tmp)
                np.sqrt(tmp, out=tmp)
            else:
                np.sqrt(s, out=tmp)
                tmp += self.epsilon
            np.divide(grad, tmp, out=tmp)
            tmp *= rate
            param -= tmp


class Adadelta(Optimizer):
    """Adadelta (Zeiler 2012) as torch.optim.Adadelta:
    ``v = rho v + (1 - rho) g^2``; ``d = sqrt(u + eps) / sqrt(v + eps) g``; ``u = rho u + (1 - rho) d^2``;
    ``param -= lr d``. Defaults are the paper's and PyTorch's (lr 1.0, rho 0.9, eps 1e-6): Keras 3's
    lr of 0.001 barely moves a network.

    ``rule`` is taken as on the other optimizers (``"pytorch"`` or ``"keras"``) and changes
    nothing: Keras 3.15 and PyTorch compute Adadelta's step alike, only their defaults differ (give
    Keras' ``learning_rate=0.001, rho=0.95, epsilon=1e-7`` for its numbers)."""
    name = "adadelta"
    slot_names = always_slots = non_negative_slots = ("v", "u")
    hyper_parameters = {**Optimizer.hyper_parameters, "rho": "[0, 1)", "epsilon": "> 0", **_RULE}
    omitted_at_default = {"rule": "pytorch"}
    rule = "pytorch"

    def __init__(self, learning_rate=1.0, rho=0.9, epsilon=1e-6, rule="pytorch", **options):
        super().__init__(learning_rate, **options)
        self.rho = rho
        self.epsilon = epsilon
        self.rule = rule

    def update(self, key, param, grad):
        slots, tmp = self._slot(key, param, "v", "u")
        d = self._buffer(key + "#delta", param)
        for param, grad, v, u, d, tmp in pieces(param, grad, slots["v"], slots["u"], d, tmp):
            v *= self.rho
            np.multiply(grad, grad, out=tmp)
            tmp *= 1 - self.rho
            v += tmp
            np.add(u, self.epsilon, out=d)           # d = sqrt(u + eps) / sqrt(v + eps) * g
            np.sqrt(d, out=d)
            np.add(v, self.epsilon, out=tmp)
            np.sqrt(tmp, out=tmp)
            d /= tmp
            d *= grad
            u *= self.rho
            np.multiply(d, d, out=tmp)
            tmp *= 1 - self.rho
            u += tmp
            np.multiply(d, self.learning_rate, out=tmp)
            param -= tmp


class Adamax(_Moments):
    """Adamax, Adam's infinity-norm variant (Kingma & Ba 2015, section 7.1), as torch.optim.Adamax:
    ``m = b1 m + (1 - b1) g``; ``u = max(b2 u, |g| + epsilon)``; ``param -= lr / (1 - b1^t) * m / u``.
    Defaults are Keras'. Epsilon joins |g| inside the maximum, as PyTorch adds it; Keras adds it to
    ``u`` in the step (``m / (u + epsilon)``), so with a large epsilon the two differ.

    ``rule`` (glassnet's own argument; Keras and PyTorch have none): ``"pytorch"`` (the default)
    computes the step as torch.optim does; ``"keras"`` as Keras 3.15's ``update_step`` does, ``u = max(b2 u, |g|)``, ``param -= lr m / ((1 - b1^t)
    (u + epsilon))`` (``b1^t`` in the weights' dtype).
    The state kept is the rule's (under ``"keras"``, what Keras' slots hold: a ``.keras`` file's
    state maps 1:1), so the rule is set before training. ``load_model`` of a Keras file (``.keras``,
    ``.h5``) compiles with ``rule="keras"``: training continues as in Keras.
    """
    name = "adamax"
    slot_names = always_slots = ("m", "u")
    non_negative_slots = ("u",)
    hyper_parameters = {**_Moments.hyper_parameters, **_RULE}
    omitted_at_default = {"rule": "pytorch"}
    rule = "pytorch"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, rule="pytorch", **options):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **options)
        self.rule = rule

    def update(self, key, param, grad):
        slots, tmp = self._slot(key, param, "m", "u")
        b1, b2 = self.beta_1, self.beta_2
        keras = self.rule == "keras"
        if keras:
            d = param.dtype.type
            step = d(_keras_rate(self.learning_rate)) / (d(1) - d(np.float32(b1)) ** d(self.iterations))
        else:
            step = self.learning_rate / (1 - b1 ** self.iterations)
        for param, grad, m, u, tmp in pieces(param, grad, slots["m"], slots["u"], tmp):
            m *= b1                                 # m = b1 m + (1 - b1) g
            np.multiply(grad, 1 - b1, out=tmp)
            m += tmp
            np.abs(grad, out=tmp)                   # u = max(b2 u, |g| + eps)
            if not keras:
                tmp += self.epsilon
            u *= b2
            np.maximum(u, tmp, out=u)
            if keras:                               # Keras: u = max(b2 u, |g|), m / (u + eps)
                np.add(u, self.epsilon, out=tmp)
                np.divide(m, tmp, out=tmp)
            else:
                np.divide(m, u, out=tmp)
            tmp *= step
            param -= tmp


class Nadam(_Moments):
    """Adam with Nesterov momentum (Dozat 2016), as torch.optim.NAdam computes it.

    The momentum of step t is ``mu_t = beta_1 (1 - 0.5 * 0.96^(momentum_decay t))`` (a warming
    schedule); with ``P_t = mu_1 ... mu_t``, the step mixes the gradient and the next step's momentum:
    ``param -= lr ((1 - mu_t) / (1 - P_t) g + mu_(t+1) / (1 - P_t mu_(t+1)) m) / (sqrt(v / (1 - b2^t)) + eps)``,
    with Adam's ``m`` and ``v``. Defaults are Keras', and ``momentum_decay`` PyTorch's (0.004, the
    paper's and Keras 2's). Keras 3 leaves the 0.004 out (``0.96^t``: the momentum warms up within
    some 20 steps rather than thousands); ``momentum_decay=1.0`` gives Keras 3's Nadam.

    ``P_t`` is the optimizer's state beside ``m`` and ``v`` (``get_state()["scalars"]``, and model
    files): it is a product of the ``beta_1`` and ``momentum_decay`` of every step so far, which a
    resumed run could not recompute if they were changed during training. A state without it (set
    by hand) has it recomputed from the step count with the current settings.

    ``rule`` (glassnet's own argument; Keras and PyTorch have none): ``"pytorch"`` (the default) or
    ``"keras"``, Keras 3.15's Nadam: ``momentum_decay`` then defaults to (and must be) 1.0, and the
    bias correction ``1 - b2^t`` is computed as Keras computes it, beta_2 cast to the weights'
    dtype. Epsilon goes where PyTorch puts it in both. ``load_model`` of a Keras file compiles
    with ``rule="keras"``.
    """
    name = "nadam"
    slot_names = always_slots = ("m", "v")
    non_negative_slots = ("v",)
    hyper_parameters = {**_Moments.hyper_parameters, "momentum_decay": ">= 0", **_RULE}
    omitted_at_default = {"rule": "pytorch"}
    rule = "pytorch"
    scalar_names = ("momentum_product",)
    _product = (0, 1.0)        # (t, P_t): P_0 = 1

    # momentum_decay by keyword only: Keras' fifth argument is weight_decay, so Keras'
    # Nadam(0.001, 0.9, 0.999, 1e-7, 0.004) would have set it here, silently, with no decay.
    # None: the rule's, PyTorch's 0.004 or Keras 3's 1.0
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, *, momentum_decay=None,
                 rule="pytorch", **options):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **options)
        self.rule = rule
        if momentum_decay is None:
            momentum_decay = 1.0 if self.rule == "keras" else 0.004
        self.momentum_decay = momentum_decay

    def __setattr__(self, name, value):
        rule = value if name == "rule" else vars(self).get("rule", "pytorch")
        decay = value if name == "momentum_decay" else vars(self).get("momentum_decay", 1.0)
        if rule == "keras" and name in ("rule", "momentum_decay") and decay != 1.0:
            raise ValueError(f"Nadam: rule='keras' computes Keras 3's Nadam, whose momentum warms up as 0.96^t "
                             f"(momentum_decay=1.0), got momentum_decay={decay!r:.40}")
        super().__setattr__(name, value)

    def _momentum(self, t):
        return self.beta_1 * (1 - 0.5 * 0.96 ** (t * self.momentum_decay))

    def _get_scalars(self):
        return {"momentum_product": self._momentum_product(self.iterations)}

    def _set_scalars(self, scalars):
        if "momentum_product" in scalars:
            product = scalars["momentum_product"]
            if isinstance(product, bool) or not isinstance(product, (int, float)) or not 0 <= product <= 1:
                raise ValueError(f"Nadam: the state's momentum_product must be a number in [0, 1], "
                                 f"got {product!r:.40}")
            self._product = (self.iterations, float(product))
        else:                   # recomputed from the step count at the next update
            self._product = (0, 1.0)

    def _momentum_product(self, t):
        """P_t = mu_1 ... mu_t: one more factor per step (O(1)); in closed form when the count moved
        otherwise (a state set without it, a reset).

        P_t only enters the step as 1 - P_t and 1 - P_t mu_(t+1), which are exactly 1 in float64
        once P_t < 2^-60: from there it is kept at 0."""
        done, product = self._product
        if done != t:
            product = product * self._momentum(t) if done == t - 1 else self._momentum_product_from_start(t)
            if product < 2.0 ** -60:
                product = 0.0
            self._product = (t, product)
        return product

    def _write_count(self, count):
        """The step count written through ``optimizer.variables`` (Keras' ``iteration.assign``):
        Keras 3.15 keeps P_t in a variable of its own (``_u_product``), which the count's assign
        leaves as it is, so the next step multiplies mu of the new count into the product so far.
        Recomputing it from the new count (after ``assign(0)``: P_0 = 1) stepped otherwise."""
        product = self._momentum_product(self.iterations)
        self.iterations = count
        self._product = (count, product)

    def _momentum_product_from_start(self, t):
        """P_t for the current beta_1 and momentum_decay, in O(1) steps for any t: a loop over a
        file's count of 10^12 steps would not end (with beta_1 near 1 P_t stays near 1).

        With q = 0.96^momentum_decay, log P_t = t log beta_1 + sum_(i<=t) log(1 - q^i / 2); expanding
        log(1 - x) = -sum_n x^n / n, each power's sum over i is geometric,
        sum_(i<=t) q^(n i) = q^n (1 - q^(n t)) / (1 - q^n), and the n-th term shrinks as 2^-n: 64
        terms reach float64's precision (the running product's value to ~1e-14, relatively)."""
        if t == 0:
            return 1.0
        if self.beta_1 == 0:
            return 0.0
        log_q = self.momentum_decay * math.log(0.96)        # <= 0
        log_product = t * math.log(self.beta_1)
        for n in range(1, 65):
            # the geometric sum written with expm1: exact as q -> 1 (a tiny momentum_decay); t at q = 1
            geometric = t if log_q == 0 else math.exp(n * log_q) * math.expm1(n * t * log_q) / math.expm1(n * log_q)
            log_product -= 0.5 ** n / n * geometric
        return math.exp(log_product)

    def update(self, key, param, grad):
        slots, tmp = self._slot(key, param, "m", "v")
        part = self._buffer(key + "#nadam", param)
        b1, b2, t, rate = self.beta_1, self.beta_2, self.iterations, self.learning_rate
        if self.rule == "keras":
            # Keras 3.15 casts beta_1, beta_2, 0.96 and its float32 rate through float32 for mu_t,
            # mu_(t+1), b2^t and the moments' 1 - beta (its product P_t takes them unrounded)
            product = self._momentum_product(t)
            b1, b2, decay, rate = (float(np.float32(x)) for x in (b1, b2, 0.96, rate))
            mu, mu_next = b1 * (1 - 0.5 * decay ** t), b1 * (1 - 0.5 * decay ** (t + 1))
        else:
            mu, mu_next, product = self._momentum(t), self._momentum(t + 1), self._momentum_product(t)
        # the denominator sqrt(v / (1 - b2^t)) + eps is (sqrt(v) + c eps) / c with c = sqrt(1 - b2^t)
        c = math.sqrt(1 - b2 ** t)
        to_grad = rate * c * (1 - mu) / (1 - product)
        to_m = rate * c * mu_next / (1 - product * mu_next)
        for param, grad, m, v, tmp, part in pieces(param, grad, slots["m"], slots["v"], tmp, part):
            _moments(m, v, grad, tmp, b1, b2, self.epsilon * c)     # tmp: c times the denominator
            np.divide(grad, tmp, out=part)
            part *= to_grad
            param -= part
            np.divide(m, tmp, out=part)
            part *= to_m
            param -= part


class Lion(Optimizer):
    """Lion (Chen et al. 2023, "Symbolic discovery of optimization algorithms"), as Keras 3's
    ``Lion`` computes it: every weight moves by exactly the learning rate, in the direction of the
    sign of a blend of its momentum and its gradient,
    ``param -= lr * sign(b1 m + (1 - b1) g)``, then ``m = b2 m + (1 - b2) g``.

    One state array (``m``) where Adam keeps two. Its steps have a larger norm than Adam's, so
    its learning rate is typically 3-10x smaller (the default, 1e-3, is Keras'), and a
    ``weight_decay`` 3-10x larger: decoupled, ``param *= 1 - lr * weight_decay`` before the step,
    as AdamW's (Keras' ``weight_decay``; 0 by default, and None, Keras' default, is no decay
    too). ``beta_1`` in (0, 1]: at 0 Lion would be signSGD (Keras refuses it too).
    """
    name = "lion"
    slot_names = always_slots = ("m",)
    # weight_decay keeps the base's "None or >= 0": None is Keras' default, no decay (as 0 here)
    hyper_parameters = {**Optimizer.hyper_parameters, "beta_1": "(0, 1]", "beta_2": "[0, 1]"}

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, weight_decay=0.0, **options):
        super().__init__(learning_rate, weight_decay=weight_decay, **options)
        self.beta_1 = beta_1
        self.beta_2 = beta_2

    def update(self, key, param, grad):
        slots, tmp = self._slot(key, param, "m")
        scaled = self._buffer((key, "scaled"), param)      # a second scratch: g times a rate
        b1, b2, lr = self.beta_1, self.beta_2, self.learning_rate
        for param, grad, m, tmp, scaled in pieces(param, grad, slots["m"], tmp, scaled):
            np.multiply(m, b1, out=tmp)             # b1 m + (1 - b1) g, rounded as Keras rounds it
            np.multiply(grad, 1 - b1, out=scaled)
            tmp += scaled
            np.sign(tmp, out=tmp)
            tmp *= lr
            param -= tmp
            m *= b2                                 # m = b2 m + (1 - b2) g
            np.multiply(grad, 1 - b2, out=scaled)
            m += scaled


class Ftrl(Optimizer):
    """FTRL-Proximal (McMahan et al. 2013, "Ad click prediction: a view from the trenches"), as
    Keras 3's ``Ftrl`` computes it, step for step. Per weight, an accumulator ``n`` of squared
    gradients (starting at ``initial_accumulator_value``) and a linear term ``z``:

        n' = n + g^2
        z += g + 2 l2_shrinkage w - (n'^-p - n^-p) / lr * w          (p = learning_rate_power)
        w = (clip(z, -l1, l1) - z) / (n'^-p / lr + 2 (l2 + beta / (2 lr)))

    With ``l1_regularization_strength`` > 0 a weight whose |z| stays below l1 is exactly 0: sparse
    models of many inputs (the click-through models it was made for). Defaults are Keras'; with
    them (p = -0.5) it is AdaGrad-like, the rate falling as 1 / sqrt(the squared gradients' sum).
    As in Keras, ``initial_accumulator_value=0`` gives NaN to a weight whose gradients are all 0 so
    far (0 / 0 above), and the rate is divided by: a rate of 0, given (Keras' weights turn NaN at
    the first step) or a schedule's, is refused by name, where the other optimizers take it.
    PyTorch has no FTRL; its tests compare with Keras 3.15 and this formula.
    """
    name = "ftrl"
    slot_names = always_slots = ("accumulator", "linear")
    slot_fills = {"accumulator": "initial_accumulator_value"}
    non_negative_slots = ("accumulator",)
    # (the update divides by the rate: 0, which the other optimizers take, is refused here)
    hyper_parameters = {**Optimizer.hyper_parameters, "learning_rate": "> 0", "learning_rate_power": "<= 0",
                        "initial_accumulator_value": ">= 0", "l1_regularization_strength": ">= 0",
                        "l2_regularization_strength": ">= 0", "l2_shrinkage_regularization_strength": ">= 0",
                        "beta": ">= 0"}

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5, initial_accumulator_value=0.1,
                 l1_regularization_strength=0.0, l2_regularization_strength=0.0,
                 l2_shrinkage_regularization_strength=0.0, beta=0.0, **options):
        super().__init__(learning_rate, **options)
        self.learning_rate_power = learning_rate_power
        self.initial_accumulator_value = initial_accumulator_value
        self.l1_regularization_strength = l1_regularization_strength
        self.l2_regularization_strength = l2_regularization_strength
        self.l2_shrinkage_regularization_strength = l2_shrinkage_regularization_strength
        self.beta = beta

    def apply(self, triples, sizes=None, names=None, shapes=None):
        if keras_apply_form(triples, sizes):     # Keras 3's apply(grads, trainable_variables)
            return self._keras_apply(triples, sizes)
        # this update's rate, checked before any change (a call that only accumulates takes none)
        if self.schedule is not None and self._updates_now():
            self._follow_schedule()
            if self.learning_rate == 0:
                raise ValueError(f"Ftrl: the learning rate schedule {self.schedule!r:.100} gave 0 for step "
                                 f"{self.iterations}; Ftrl divides by the rate (Keras' weights turn NaN): give "
                                 f"the schedule a floor above 0 (CosineDecay's alpha)")
        super().apply(triples, sizes, names, shapes)

    def update(self, key, param, grad):
        self._slot(key, param, "accumulator", fill=self.initial_accumulator_value)
        slots, tmp = self._slot(key, param, "linear")
        power, lr, l1 = -self.learning_rate_power, self.learning_rate, self.l1_regularization_strength
        l2 = self.l2_regularization_strength + self.beta / (2.0 * lr)
        shrinkage = 2 * self.l2_shrinkage_regularization_strength
        for param, grad, n, z, tmp in pieces(param, grad, slots["accumulator"], slots["linear"], tmp):
            z += grad                               # z += g + 2 l2_shrinkage w - (n'^-p - n^-p) / lr w
            if shrinkage:
                z += shrinkage * param
            z += np.power(n, power) / lr * param
            n += grad * grad                        # n' = n + g^2
            np.power(n, power, out=tmp)             # n'^-p
            z -= tmp / lr * param
            tmp /= lr                               # the quadratic term, n'^-p / lr + 2 l2
            tmp += 2 * l2
            np.clip(z, -l1, l1, out=param)          # w = (clip(z, -l1, l1) - z) / quadratic
            param -= z
            param /= tmp


class Lamb(_Moments):
    """LAMB (You et al. 2020, "Large batch optimization for deep learning: training BERT in 76
    minutes"), as Keras 3's ``Lamb`` computes it: Adam's step ``u = m_hat / (sqrt(v_hat) +
    epsilon)``, scaled for each weight by its trust ratio ``||w|| / ||u||`` (1 where either norm is
    0), so that every weight (a kernel, a bias) moves by ``lr`` times its own size, whatever the
    scale of its gradient: large batches train with one rate across layers.

    Each weight's norms are its own: a model's flat buffer of weights is walked weight by weight
    (the sizes ``apply`` is given); one array given to ``apply`` alone is one weight. Defaults are
    Keras'. PyTorch has no LAMB; its tests compare with Keras 3.15 and this formula.
    """
    name = "lamb"
    slot_names = always_slots = ("m", "v")
    non_negative_slots = ("v",)
    _weights_of = None          # key -> the sizes of the weights laid end to end under it (apply's)

    def apply(self, triples, sizes=None, names=None, shapes=None):
        if keras_apply_form(triples, sizes):     # Keras 3's apply(grads, trainable_variables)
            return self._keras_apply(triples, sizes)
        triples = list(triples)
        self._weights_of = {}
        for (key, param, _), each in zip(triples, sizes or [None] * len(triples)):
            if each is None:
                continue
            each = list(each) if isinstance(each, (list, tuple)) else None
            if each is None or not all(isinstance(n, (int, np.integer)) and n > 0 for n in each) \
                    or sum(each) != param.size:
                raise ValueError(f"Lamb: sizes must give, for each array, the sizes of the weights laid end to "
                                 f"end in it (positive integers adding up to its {param.size} values), got "
                                 f"{each if each is not None else sizes!r:.100}")
            self._weights_of[key] = each
        super().apply(triples, sizes, names, shapes)

    def update(self, key, param, grad):
        if self._stepped_in_c_order(key, param, grad):     # its flat views below would be copies
            return
        slots, tmp = self._slot(key, param, "m", "v")
        step = self._buffer((key, "step"), param)
        b1, b2, t, m, v = self.beta_1, self.beta_2, self.iterations, slots["m"], slots["v"]
        np.subtract(grad, m, out=tmp)           # m += (g - m)(1 - b1), v += (g^2 - v)(1 - b2): Keras' rounding
        tmp *= 1 - b1
        m += tmp
        np.multiply(grad, grad, out=tmp)
        tmp -= v
        tmp *= 1 - b2
        v += tmp
        np.divide(v, 1 - b2 ** t, out=tmp)      # the step u = (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
        np.sqrt(tmp, out=tmp)
        tmp += self.epsilon
        np.divide(m, 1 - b1 ** t, out=step)
        step /= tmp
        flat_param, flat_step, start = param.reshape(-1), step.reshape(-1), 0
        for size in (self._weights_of or {}).get(key) or [param.size]:
            weight, update = flat_param[start:start + size], flat_step[start:start + size]
            w_norm, u_norm = math.sqrt(float(weight @ weight)), math.sqrt(float(update @ update))
            ratio = w_norm / u_norm if w_norm > 0 and u_norm > 0 else 1.0      # the trust ratio
            update *= ratio * self.learning_rate
            weight -= update
            start += size


def _factor_sizes(shapes):
    """How many values Adafactor's row and column moments hold for weights of ``shapes``: for each
    weight of two axes or more, ``shape[:-1]`` and ``shape[:-2] + shape[-1:]``; none for the others."""
    rows = sum(math.prod(s[:-1]) for s in shapes if len(s) >= 2)
    cols = sum(math.prod(s[:-2]) * s[-1] for s in shapes if len(s) >= 2)
    return rows, cols


class Adafactor(Optimizer):
    """Adafactor (Shazeer & Stern 2018, "Adafactor: adaptive learning rates with sublinear memory
    cost"), as Keras 3's ``Adafactor`` computes it. For each weight W of two axes or more, the
    second moments of its gradient G are kept factored, a row vector r and a column vector c (the
    means of G^2 + epsilon_1 over the last axis and over the one before), which stand for the
    whole matrix ``v = (r / mean(r))[:, None] * c[None, :]``; a vector (a bias) keeps its own v.
    With ``t`` the updates made, ``beta = 1 - t ** beta_2_decay`` (0 at the first update, then
    towards 1):

        r = beta r + (1 - beta) mean(G^2 + eps1, axis=-1);   c likewise over axis -2
        u = G / sqrt(v);   u /= max(1, rms(u) / clip_threshold)
        W -= max(epsilon_2, rms(W)) * min(lr, 1 / sqrt(t)) * u

    The step is relative: a weight moves by a fraction of its own root mean square. With
    ``relative_step`` (and a learning rate that is a number, not a schedule) the rate is capped by
    ``1 / sqrt(t)`` (Keras applies the cap twice, to no further effect). No first moment, as
    Keras'. Like Keras, glassnet also keeps v itself (the size of the weights) as state; r and c are
    state of their own sizes, which model files keep. PyTorch's ``Adafactor`` differs (its own
    defaults and scaling); the tests compare with Keras 3.15 and this formula.
    """
    name = "adafactor"
    slot_names = always_slots = ("r", "c", "v")
    non_negative_slots = ("r", "c", "v")
    hyper_parameters = {**Optimizer.hyper_parameters, "beta_2_decay": "<= 0", "epsilon_1": "> 0",
                        "epsilon_2": ">= 0", "clip_threshold": "> 0", "relative_step": "flag"}
    _shapes_of = None       # key -> the shapes of the weights laid end to end under it (apply's)

    def __init__(self, learning_rate=0.001, beta_2_decay=-0.8, epsilon_1=1e-30, epsilon_2=1e-3,
                 clip_threshold=1.0, relative_step=True, **options):
        super().__init__(learning_rate, **options)
        self.beta_2_decay = beta_2_decay
        self.epsilon_1 = epsilon_1
        self.epsilon_2 = epsilon_2
        self.clip_threshold = clip_threshold
        self.relative_step = relative_step

    def apply(self, triples, sizes=None, names=None, shapes=None):
        if keras_apply_form(triples, sizes):     # Keras 3's apply(grads, trainable_variables)
            return self._keras_apply(triples, sizes)
        triples = list(triples)
        self._shapes_of = {}
        for (key, param, _), each in zip(triples, shapes or [None] * len(triples)):
            if each is None:
                continue
            each = [tuple(s) for s in each] if isinstance(each, (list, tuple)) else None
            if each is None or not all(all(isinstance(n, (int, np.integer)) and n > 0 for n in s) for s in each) \
                    or sum(math.prod(s) for s in each) != param.size:
                raise ValueError(f"Adafactor: shapes must give, for each array, the shapes of the weights laid "
                                 f"end to end in it (adding up to its {param.size} values), got "
                                 f"{each if each is not None else shapes!r:.100}")
            self._shapes_of[key] = each
        super().apply(triples, sizes, names, shapes)

    def slot_shape(self, name, param, shapes=None):
        if name not in ("r", "c"):          # v, and use_ema's average: the weights' own shape
            return super().slot_shape(name, param, shapes)
        rows, cols = _factor_sizes(shapes if shapes is not None else [tuple(param.shape)])
        return (rows if name == "r" else cols,)

    def _slot_runs(self, name, key, slot, param, runs):
        if name not in ("r", "c"):
            return super()._slot_runs(name, key, slot, param, runs)
        # r and c hold, weight after weight, the factored moments of the weights of two axes or more
        found, start, offset = [], 0, 0
        for shape in (self._shapes_of or {}).get(key) or [tuple(param.shape)]:
            size = math.prod(shape)
            if len(shape) >= 2:
                length = math.prod(shape[:-1]) if name == "r" else math.prod(shape[:-2]) * shape[-1]
                if any(a <= start and start + size <= b for a, b in runs):
                    found.append((offset, offset + length))
                offset += length
            start += size
        return found

    def _state(self, key, param, shapes):
        """r, c and v of ``key``, made (zeros) on first use, on the parameters' device."""
        xp = backend.get_array_module(param)
        slots = self.slots.setdefault(key, {})
        for name in ("r", "c", "v"):
            shape = self.slot_shape(name, param, shapes)
            state = slots.get(name)
            if state is None:
                state = slots[name] = xp.zeros(shape, dtype=param.dtype)
            elif type(state) is not type(param):        # state set from the other side (a file, the host)
                state = slots[name] = xp.asarray(backend.to_numpy(state))
            if tuple(state.shape) != shape:
                raise ValueError(f"Adafactor: its {name!r} state for {key!r:.60} has shape {tuple(state.shape)}, "
                                 f"the weights {shapes} need {shape}: the state belongs to other weights")
        return slots

    def update(self, key, param, grad):
        shapes = (self._shapes_of or {}).get(key) or [tuple(param.shape)]
        if self._stepped_in_c_order(key, param, grad):     # its flat views below would be copies
            return
        slots = self._state(key, param, shapes)
        t = self.iterations
        rate = self.learning_rate
        if self.schedule is None and self.relative_step:
            rate = min(rate, 1 / math.sqrt(t))
        rho = min(rate, 1 / math.sqrt(t))
        beta = 1 - t ** self.beta_2_decay
        dtype = param.dtype.type
        flat = (param.reshape(-1), grad.reshape(-1), slots["v"].reshape(-1))
        start = row = col = 0
        for shape in shapes:
            size = math.prod(shape)
            w, g, v = (a[start:start + size].reshape(shape) for a in flat)
            start += size
            squared = g * g
            squared += dtype(self.epsilon_1)
            if len(shape) >= 2:
                rows, cols = math.prod(shape[:-1]), math.prod(shape[:-2]) * shape[-1]
                r = slots["r"][row:row + rows].reshape(shape[:-1])
                c = slots["c"][col:col + cols].reshape(shape[:-2] + shape[-1:])
                row, col = row + rows, col + cols
                r *= dtype(beta)
                r += dtype(1 - beta) * squared.mean(axis=-1)
                c *= dtype(beta)
                c += dtype(1 - beta) * squared.mean(axis=-2)
                v[...] = (r / r.mean(axis=-1, keepdims=True))[..., None] * c[..., None, :]
            else:
                v *= dtype(beta)
                v += dtype(1 - beta) * squared
            u = g / backend.get_array_module(v).sqrt(v)
            u_rms = math.sqrt(float((u * u).mean()))
            w_rms = math.sqrt(float((w * w).mean()))
            u *= dtype(max(self.epsilon_2, w_rms) * rho / max(1.0, u_rms / self.clip_threshold))
            w -= u
