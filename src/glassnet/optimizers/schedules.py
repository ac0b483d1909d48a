"""Learning-rate schedules (Keras' ``keras.optimizers.schedules``): a learning rate that changes
with every update, given to an optimizer instead of a number::

    SGD(learning_rate=ExponentialDecay(0.1, decay_steps=1000, decay_rate=0.96))

A schedule is a function of ``step``, the number of updates the optimizer has made before the one it
is about to make (0 for the first), as in Keras; the optimizer's ``learning_rate`` reads the rate of
its next update. The formulas are Keras 3's, in Python floats (Keras computes them in float32):

    ExponentialDecay        lr0 * decay_rate ** (step / decay_steps)          (floor of it: staircase)
    InverseTimeDecay        lr0 / (1 + decay_rate * step / decay_steps)       (floor of it: staircase)
    PiecewiseConstantDecay  values[i] while boundaries[i-1] < step <= boundaries[i]
    PolynomialDecay         (lr0 - end) * (1 - min(step, decay_steps) / decay_steps) ** power + end
    CosineDecay             lr0 * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, decay_steps) / decay_steps)) + alpha),
                            after a linear warm-up from lr0 to warmup_target over warmup_steps if given
    CosineDecayRestarts     the cosine over first_decay_steps, then again from the top (times m_mul)
                            over periods t_mul times longer each (SGDR)

A schedule is per update (per batch); ``callbacks.LearningRateScheduler`` sets the rate per epoch.
An optimizer with a schedule refuses a rate set by hand (Keras does too), so the two do not mix.

>>> schedule = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
>>> schedule(0), schedule(10), schedule(20)
(0.1, 0.05, 0.025)
"""
import bisect
import math
import numbers

from .. import _settings
from .._validation import check_flag, check_number


class LearningRateSchedule(_settings.Setting):
    """The base: a subclass defines ``__call__(step) -> float`` (a rate >= 0; a 0-d NumPy array,
    what ``np.where`` returns, is read as its number) and ``get_config()``
    (its constructor's arguments, JSON values). A model file stores the built-in ones by their
    config, and one of yours once registered with ``glassnet.saving.register_serializable``: a
    built-in optimizer given it saves, loads and resumes with it."""

    def __call__(self, step):
        raise NotImplementedError(f"{type(self).__name__} must define __call__(step)")


class _StepDecay(LearningRateSchedule):
    """What ExponentialDecay and InverseTimeDecay share: their four arguments, and the decay's
    progress ``step / decay_steps``, rounded down with ``staircase``."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False):
        cls = type(self).__name__
        self.initial_learning_rate = check_number(initial_learning_rate, f"{cls}: initial_learning_rate", ">= 0")
        self.decay_steps = check_number(decay_steps, f"{cls}: decay_steps", "> 0")
        self.decay_rate = check_number(decay_rate, f"{cls}: decay_rate", ">= 0")
        self.staircase = check_flag(staircase, f"{cls}: staircase")

    def _progress(self, step):
        p = step / self.decay_steps
        return math.floor(p) if self.staircase else p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase}


class ExponentialDecay(_StepDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``; with ``staircase=True`` the
    exponent is rounded down, so the rate drops once every ``decay_steps`` updates."""

    def __call__(self, step):
        try:
            return self.initial_learning_rate * self.decay_rate ** self._progress(step)
        except OverflowError:          # a decay_rate above 1 grows without bound: inf, as Keras gives
            return math.inf


class InverseTimeDecay(_StepDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (``staircase``: the ratio
    step / decay_steps rounded down)."""

    def __call__(self, step):
        return self.initial_learning_rate / (1 + self.decay_rate * self._progress(step))


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` up to and including step ``boundaries[0]``, ``values[1]`` after it up to
    ``boundaries[1]``, ..., ``values[-1]`` after the last boundary (one value more than boundaries).

    >>> schedule = PiecewiseConstantDecay([100, 200], [1.0, 0.5, 0.1])
    >>> schedule(100), schedule(101), schedule(201)
    (1.0, 0.5, 0.1)
    """

    def __init__(self, boundaries, values):
        if not isinstance(boundaries, (list, tuple)) or not boundaries \
                or any(isinstance(b, bool) or not isinstance(b, numbers.Real) or not _finite(b) for b in boundaries) \
                or any(a >= b for a, b in zip(boundaries, boundaries[1:])):
            raise ValueError(f"PiecewiseConstantDecay: boundaries: expected a non-empty list of increasing "
                             f"numbers, got {boundaries!r:.100}")
        if not isinstance(values, (list, tuple)) or len(values) != len(boundaries) + 1:
            raise ValueError(f"PiecewiseConstantDecay: values: expected a list of {len(boundaries) + 1} rates "
                             f"(one more than boundaries), got {values!r:.100}")
        self.boundaries = [float(b) if not isinstance(b, numbers.Integral) else int(b) for b in boundaries]
        self.values = [check_number(v, "PiecewiseConstantDecay: values", ">= 0") for v in values]

    def __call__(self, step):
        # the number of boundaries strictly below step is the index of its value
        return self.values[bisect.bisect_left(self.boundaries, step)]

    def get_config(self):
        return {"boundaries": list(self.boundaries), "values": list(self.values)}


class PolynomialDecay(LearningRateSchedule):
    """From ``initial_learning_rate`` to ``end_learning_rate`` over ``decay_steps`` updates along
    ``(1 - step / decay_steps) ** power``, then constant; with ``cycle=True`` it decays again from
    the start over each next multiple of ``decay_steps``."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False):
        self.initial_learning_rate = check_number(initial_learning_rate,
                                                  "PolynomialDecay: initial_learning_rate", ">= 0")
        self.decay_steps = check_number(decay_steps, "PolynomialDecay: decay_steps", "> 0")
        self.end_learning_rate = check_number(end_learning_rate, "PolynomialDecay: end_learning_rate", ">= 0")
        self.power = check_number(power, "PolynomialDecay: power", ">= 0")
        self.cycle = check_flag(cycle, "PolynomialDecay: cycle")

    def __call__(self, step):
        decay_steps = self.decay_steps
        if self.cycle:
            decay_steps *= 1.0 if step == 0 else math.ceil(step / self.decay_steps)
        else:
            step = min(step, decay_steps)
        p = step / decay_steps
        return (self.initial_learning_rate - self.end_learning_rate) * (1 - p) ** self.power + self.end_learning_rate

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle}


class CosineDecay(LearningRateSchedule):
    """Half a cosine from ``initial_learning_rate`` down to ``alpha`` times it over ``decay_steps``
    updates, then constant. With ``warmup_target``, first a linear rise from
    ``initial_learning_rate`` to it over ``warmup_steps`` updates, and the cosine from there."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, warmup_target=None, warmup_steps=0):
        self.initial_learning_rate = check_number(initial_learning_rate,
                                                  "CosineDecay: initial_learning_rate", ">= 0")
        self.decay_steps = check_number(decay_steps, "CosineDecay: decay_steps", "> 0")
        self.alpha = check_number(alpha, "CosineDecay: alpha", "[0, 1]")
        self.warmup_target = (None if warmup_target is None
                              else check_number(warmup_target, "CosineDecay: warmup_target", ">= 0"))
        self.warmup_steps = check_number(warmup_steps, "CosineDecay: warmup_steps", ">= 0")

    def _decayed(self, step, start):
        cosine = 0.5 * (1 + math.cos(math.pi * step / self.decay_steps))
        return start * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step):
        if self.warmup_target is None:
            return self._decayed(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            return (self.warmup_target - self.initial_learning_rate) * (step / self.warmup_steps) \
                + self.initial_learning_rate
        return self._decayed(step - self.warmup_steps, self.warmup_target)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


def _finite(number):
    """Whether a real number is finite (an int past float's range, 10**400, is not)."""
    try:
        return math.isfinite(number)
    except OverflowError:
        return False


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (Loshchilov and Hutter's SGDR, Keras' ``CosineDecayRestarts``):
    half a cosine from ``initial_learning_rate`` down to ``alpha`` times it over
    ``first_decay_steps`` updates, then a restart at ``m_mul`` times the previous peak, over a period
    ``t_mul`` times as long, and so on.

    The restart a step falls in comes from Keras' logarithm, then is checked against the exact
    starts of the periods around it (the logarithm's rounding can put a step exactly at a restart
    in the period before it); ``t_mul`` is at least 1 (below 1 the periods' sum is finite, and
    Keras' formula gives NaN after it).

    >>> schedule = CosineDecayRestarts(1.0, first_decay_steps=10)
    >>> schedule(0), schedule(5), round(schedule(9), 4), schedule(10), schedule(20)
    (1.0, 0.5, 0.0245, 1.0, 0.5)
    """

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0):
        self.initial_learning_rate = check_number(initial_learning_rate,
                                                  "CosineDecayRestarts: initial_learning_rate", ">= 0")
        self.first_decay_steps = check_number(first_decay_steps, "CosineDecayRestarts: first_decay_steps", "> 0")
        self.t_mul = check_number(t_mul, "CosineDecayRestarts: t_mul", "> 0")
        if self.t_mul < 1:
            raise ValueError(f"CosineDecayRestarts: t_mul must be at least 1, got {t_mul!r:.40}")
        self.m_mul = check_number(m_mul, "CosineDecayRestarts: m_mul", ">= 0")
        self.alpha = check_number(alpha, "CosineDecayRestarts: alpha", "[0, 1]")

    def _start(self, restart):
        """The step at which period ``restart`` begins: first * (t^r - 1) / (t - 1), in plain powers,
        which are exact for a t_mul of 2, 3 or 1.5 (so a step on a restart compares equal to it)."""
        t = self.t_mul
        return self.first_decay_steps * (t ** restart - 1) / (t - 1)

    def _restart(self, step):
        """(restart number, fraction of its period done) at ``step``."""
        first, t = self.first_decay_steps, self.t_mul
        if t == 1:
            restart = math.floor(step / first)
            return restart, step / first - restart
        # Keras' closed form, log(1 + (t - 1) step / first) / log(t), then the exact starts around
        # it decide (a step on a restart belongs to the new period)
        restart = max(0, math.floor(math.log1p((t - 1) * step / first) / math.log(t)))
        while restart > 0 and step < self._start(restart):
            restart -= 1
        while step >= self._start(restart + 1):
            restart += 1
        start = self._start(restart)
        return restart, (step - start) / (first * t ** restart)

    def __call__(self, step):
        restart, fraction = self._restart(step)
        cosine = 0.5 * self.m_mul ** restart * (1 + math.cos(math.pi * fraction))
        return self.initial_learning_rate * ((1 - self.alpha) * cosine + self.alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "first_decay_steps": self.first_decay_steps,
                "t_mul": self.t_mul, "m_mul": self.m_mul, "alpha": self.alpha}


SCHEDULES = {cls.__name__: cls for cls in (ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay,
                                           PolynomialDecay, CosineDecay, CosineDecayRestarts)}


def serialize(schedule):
    """A schedule as configs and model files store it: a built-in one as ``{"class_name",
    "config"}``, one of yours registered with ``glassnet.saving.register_serializable`` as
    ``{"registered_name", "config"}`` (its ``get_config()``); ValueError for any other (a file
    never stores code)."""
    return _settings.serialize(schedule, SCHEDULES, "learning rate schedule", LearningRateSchedule)


def deserialize(entry):
    """The schedule ``serialize`` described (a registered one only as a ``LearningRateSchedule``
    subclass, built from its config); ValueError naming what is wrong otherwise."""
    # Keras' serialize() form names each schedule in its config ("name"), which glassnet's do not take
    entry = _settings.keras_entry(entry, "learning_rate", ignored=("name",))
    schedule = _settings.from_file_entry(entry, SCHEDULES, "learning_rate", LearningRateSchedule)
    if schedule is None:
        raise ValueError(f"learning_rate: expected a number or {{'class_name': one of {sorted(SCHEDULES)}, "
                         f"'config': {{...}}}} (or a registered schedule's {{'registered_name': ..., "
                         f"'config': {{...}}}}), got {entry!r:.200}")
    return schedule
