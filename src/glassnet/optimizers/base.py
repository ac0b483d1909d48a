"""The optimizer protocol (``Optimizer``), gradient clipping, and what every update shares: cache-sized
pieces and the flushing of subnormal state.

Each optimizer keeps its state (moments, accumulators) per parameter key, ``"layer_name/param"``, so
it can be saved and restored for an exact resume. Names and defaults follow Keras; the update formula
is PyTorch's step for step (where the two differ, e.g. where Adam adds epsilon, the docstring says).
Updates run in place through preallocated scratch buffers: no per-step allocation.

An update is a dozen element-wise passes over the parameters. ``Sequential`` hands over all of them
as one flat buffer, which for a wide network is megabytes: each pass would then stream it from main
memory again. So every update walks the buffers in pieces of ``PIECE`` elements and makes all its
passes over one piece while it sits in the core's cache (mnist_wide's Adam step on a 2-core Intel
Xeon: 1.8 -> 1.2 ms; on an AMD EPYC with a 32 MiB L3, training steps took the same time either way).
Element-wise arithmetic does not depend on how the array is cut, so the result is bit for bit the
same.

A parameter whose gradient is exactly 0 (a dead ReLU unit's weights) has its moments decay towards 0
step after step: Adam's m by 0.9 a step, through the subnormal numbers below float32's smallest
normal (1.2e-38), where it spends some 150 steps. Arithmetic on subnormals takes a slow microcode path
on many x86 CPUs, which doubled the epoch time of mnist1d's MLP late in training. So every
``FLUSH_EVERY`` steps the state's subnormal values are set to 0 (``flush_subnormals``). An m of
1e-38 moves a weight by less than 1e-30 times the learning rate: nothing a float32 weight can show.
"""
import inspect
import math
import numbers
import re

import numpy as np

from .. import backend
from .._validation import check_flag, check_number, check_positive_int
from . import _shared, _ungraded, schedules
from .schedules import LearningRateSchedule

# 32768 float32 = 128 KiB per array; Adam's five arrays (param, grad, m, v, scratch) then take
# 640 KiB, which fits the L2 cache of current x86 server cores (512 KiB-2 MiB)
PIECE = 32768

# Keras' gradient clipping arguments, which every optimizer takes (see Optimizer)
CLIPPING = ("clipnorm", "clipvalue", "global_clipnorm")
# Keras' weight-averaging arguments, which every optimizer takes too (see Optimizer)
EMA = ("use_ema", "ema_momentum", "ema_overwrite_frequency")
# all the keyword arguments every optimizer takes besides its own, with their defaults
COMMON = {**{name: None for name in CLIPPING}, "weight_decay": None,
          "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
          "gradient_accumulation_steps": None}
# the state array gradient accumulation keeps per key: the sum of the gradients since the last
# update (Keras' variable of the same name)
ACCUMULATOR = "gradient_accumulator"

# every this many steps the optimizer's state loses its subnormal values (see the module docstring)
FLUSH_EVERY = 16


def pieces(*arrays):
    """Matching views of same-shaped ``arrays`` in runs of at most ``PIECE`` elements.

    arrays : ndarrays of one shape. 1-D NumPy ones, (n,), come back as a list of tuples of
    (<= PIECE,) views; any other shape, and CuPy arrays, come back whole, as the single tuple ``arrays``.

    >>> a, b = np.zeros(70000, np.float32), np.ones(70000, np.float32)
    >>> [len(pa) for pa, pb in pieces(a, b)]
    [32768, 32768, 4464]
    """
    n = arrays[0].size
    # on a GPU (CuPy arrays) each piece would cost every pass a kernel launch: whole arrays there
    if arrays[0].ndim != 1 or n <= PIECE or not isinstance(arrays[0], np.ndarray):
        return [arrays]
    return [tuple(a[start:start + PIECE] for a in arrays) for start in range(0, n, PIECE)]


def check_patterns(value, what, hint=""):
    """``value``, a list or tuple of regular expressions searched in weights' names (None: none), as a
    tuple; a TypeError (not such a list) or ValueError (not a regular expression) starting with
    ``what`` otherwise, ``hint`` saying what they are for."""
    if (isinstance(value, str) or (value is not None and not isinstance(value, (list, tuple)))
            or not all(isinstance(p, str) and p for p in value or ())):
        raise TypeError(f"{what} must be a list of non-empty strings{hint}, got {value!r:.100}")
    patterns = tuple(value or ())
    # one budget for the whole list: a name is searched with every pattern, so thousands of patterns
    # each just under the bound (a model file may hold them) would take thousands of times as long,
    # and so would analysing them (the items visited)
    budget, total = [_MAX_ITEMS], 0
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"{what} holds {pattern!r:.100}, not a regular expression ({exc})") from None
        steps = _search_steps(_parsed(pattern), budget=budget)
        if steps is None or steps > MAX_STEPS:
            raise ValueError(f"{what} holds {pattern!r:.100}, which `re` could take very long to search a name "
                             f"with (" + ("a backreference" if steps is None else
                                          f"over {MAX_STEPS:,} steps to search a name of {MAX_NAME} characters: "
                                          f"repeats of repeats or of overlapping alternatives, as in (a+)+ or "
                                          f"(a|aa)*, or many repeats, as in .*.*.* or a?a?...a?") + "); write a simpler one, such as 'bias' or 'norm'")
        total += steps
        if total > MAX_STEPS:
            raise ValueError(f"{what}: its {len(patterns)} patterns together could take over {MAX_STEPS:,} steps to "
                             f"search a name of {MAX_NAME} characters (at {pattern!r:.100}); give fewer or "
                             f"simpler ones, such as 'bias' or 'norm'")
    return patterns


def search_cost(patterns, names, bounds=None):
    """A bound of the steps ``re.search`` takes to search each of ``names`` (of at most MAX_NAME
    characters) with every one of ``patterns`` (checked by ``check_patterns``), twice each: the
    name and its last part. Each name's length is rounded up to a power of two (16 at least), so
    that a few bounds are worked out however many names there are; ``bounds`` (a dict) keeps them."""
    bounds = {} if bounds is None else bounds
    lengths = [min(MAX_NAME, 1 << max(4, (max(len(name), 1) - 1).bit_length())) for name in names]
    for length in set(lengths) - set(bounds):
        bounds[length] = 2 * sum(_search_steps(_parsed(pattern), length) for pattern in patterns)
    return sum(bounds[length] for length in lengths)


def check_search_cost(steps, patterns, what):
    """Refuse (ValueError starting with ``what``) searches of names bounded by ``steps`` steps in all:
    each pattern, and a list of them, is bounded for one name (``check_patterns``), but a model of
    thousands of long-named weights (a model file may name them so) would multiply that bound."""
    if steps > MAX_SEARCH_STEPS:
        raise ValueError(f"{what}: searching the weights' names with the patterns {list(patterns)!r:.200} "
                         f"could take over {MAX_SEARCH_STEPS:,} steps (long names, costly patterns); give "
                         f"simpler patterns, such as 'bias' or 'norm', or shorter layer names")


# Python's re backtracks: on a name it fails to match, "(a+)+$" takes time exponential in the name's
# length, and ".*.*.*x" its 4th power. A model file may hold any pattern, and loading one must not
# hang: a pattern is refused when searching a name of up to MAX_NAME characters could take over
# MAX_STEPS steps (see _steps), at most a few seconds: re.search tries the pattern at each of the
# name's places, so 20 "a?" in a row (2^20 ways at each place, minutes on 1000 "a"s) is refused where
# ".*bias", "dense_[0-9]+/kernel" and "layer.*norm.*gamma" pass (the last is the costliest pattern
# kept, searched in milliseconds: the bound cannot tell that its strings seldom match). Keras' own
# patterns ("bias", "layer_norm", "(gamma|beta)$") take a few thousand steps.
MAX_NAME = 1000
MAX_STEPS = 10 ** 9
_MAX_ITEMS = 10 ** 5            # parsed items _steps visits for one list of patterns
MAX_SEARCH_STEPS = 10 * MAX_STEPS       # all of a model's weight names searched with all the patterns


def _parsed(pattern):
    """``pattern`` as the SubPattern of the parser ``re`` itself uses (re._parser; sre_parse before 3.11)."""
    try:
        from re import _parser
    except ImportError:                     # Python 3.10
        import sre_parse as _parser
    return _parser.parse(pattern)


def _search_steps(parsed, length=MAX_NAME, budget=None):
    """A bound of the steps ``re.search`` takes with the parsed pattern on a name of ``length``
    characters (capped once over MAX_STEPS), or None for a backreference, which has none.
    ``budget``: ``[items]`` left to visit, shared by the patterns of one list (``_MAX_ITEMS`` each
    when None).

    A step is an item (a character, an anchor, a lookaround's start) tried after some partial match
    that started at some place of the name and has consumed l characters; there are MAX_NAME + 1 - l
    such places. Trailing repeats that may match nothing (``.*``, ``(_\\d+)?``) always match once
    reached, so the search ends there: what they take is counted once per place (more than they
    take), not also per way of what precedes them."""
    items = list(parsed)
    last = len(items)
    while last and items[last - 1][0].name in _REPEATS and items[last - 1][1][0] == 0:
        last -= 1
    budget = [_MAX_ITEMS] if budget is None else budget     # a pattern of deeply nested repeats is refused
    reached, head = _steps(items[:last], _one_way(length), budget)
    if reached is None:
        return None
    _, tail = _steps(items[last:], _one_way(length), budget)
    return None if tail is None else min(head + tail, MAX_STEPS + 1)


_REPEATS = ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")


def _one_way(length=MAX_NAME):
    """The partial matches before the first item, on a name of ``length`` characters: one, of no
    characters."""
    ways = np.zeros(length + 1)
    ways[0] = 1
    return ways


def _one_character(items):
    """Whether parsed ``items`` are one character or class, which ``re`` repeats in a tight loop."""
    return len(items) == 1 and items[0][0].name in ("LITERAL", "NOT_LITERAL", "ANY", "IN")


def _steps(items, ways, budget):
    """``(ways after, steps)`` for the parsed ``items`` tried after the partial matches ``ways``
    (``ways[l]``: how many have consumed l characters, summed over the places they started at),
    steps capped once over MAX_STEPS; ``(None, None)`` for a backreference.

    A character shifts the ways by one; alternatives add theirs; a repeat ``{low, high}`` is its
    item tried again after each way of the copies so far (the ways of k copies kept from k = low);
    a lookaround or atomic group is one way, whose inside is tried once per way arriving. Each
    alternative tried, and each copy of a repeat of more than one character, is a step more (what
    ``re``'s backtracking over them costs besides their characters).
    ``(a?){20}`` reaches each length by up to C(20, 10) ways (minutes on 1000 "a"s); ``.*.*``
    by at most 1001 (its steps grow as the name's length cubed)."""
    steps = 0.0
    length = len(ways) - 1                              # the name's
    places = np.arange(length + 1, 0, -1.0)             # places a partial match of l characters fits
    for op, value in items:
        budget[0] -= 1
        if budget[0] < 0 or steps > MAX_STEPS:
            return ways, MAX_STEPS + 1
        name = op.name
        if name in ("GROUPREF", "GROUPREF_EXISTS"):
            return None, None
        if name in _REPEATS:
            low, high, inner = value
            after, copies = np.zeros_like(ways), ways
            for k in range(min(high, length + 1) + 1):
                if k >= low:
                    after += copies
                if k == min(high, length + 1) or not copies.any() or steps > MAX_STEPS:
                    break
                more, inner_steps = _steps(inner, copies, budget)
                if more is None:
                    return None, None
                steps += inner_steps
                if not _one_character(inner):               # re's general repeat: a step per copy tried
                    steps += copies @ places
                copies = np.minimum(more, 1e30)
            ways = after
            if name == "POSSESSIVE_REPEAT":
                ways = np.minimum(ways, 1.0) * (ways > 0)
        elif name == "BRANCH":
            after = np.zeros_like(ways)
            for branch in value[1]:
                more, branch_steps = _steps(branch, ways, budget)
                if more is None:
                    return None, None
                after += more
                steps += branch_steps + ways @ places      # a step per alternative tried
            ways = after
        elif name in ("SUBPATTERN", "ATOMIC_GROUP", "ASSERT", "ASSERT_NOT"):
            more, inner_steps = _steps(value if name == "ATOMIC_GROUP" else value[-1], ways, budget)
            if more is None:
                return None, None
            steps += inner_steps
            if name == "ATOMIC_GROUP":
                ways = np.minimum(more, ways.sum())
            elif name == "SUBPATTERN":
                ways = more
        else:
            steps += ways @ places                          # one try per partial match and place
            if name not in ("AT",):                         # a character: one more consumed
                ways = np.concatenate([[0.0], ways[:-1]])
        ways = np.minimum(ways, 1e30)
    return ways, min(steps, MAX_STEPS + 1)


def check_searched_name(name, what):
    """``name``, a weight's name about to be searched with patterns: refused over MAX_NAME
    characters (a file's layer name may be that long), the length ``check_patterns`` bounds."""
    if len(name) > MAX_NAME:
        raise ValueError(f"{what}: the weight name {name[:60]!r}... has {len(name)} characters; names searched "
                         f"with patterns may have at most {MAX_NAME}")
    return name


def _squared_norm(a):
    """The sum of squares of ``a``'s values, as a Python float (one BLAS dot product).

    In float32 the dot product overflows once values pass ~1.8e19, exactly the exploding gradients
    clipping is for: the norm would be inf and the clipped step 0 (as torch.nn.utils' is). Such a
    gradient, if finite, is measured again divided by its largest value (a copy, on that rare path
    only), and the square comes back in a Python float, whose range reaches 1e308."""
    flat = a.reshape(-1)
    with np.errstate(over="ignore"):
        squared = float(np.dot(flat, flat))
    if math.isinf(squared) and bool(np.isfinite(flat).all()):
        largest = float(np.abs(flat).max())
        scaled = flat / largest
        squared = largest * largest * float(np.dot(scaled, scaled))
    return squared


def flush_subnormals(a):
    """Set the values of ``a`` (a floating ndarray of any shape) whose magnitude is below the
    smallest normal number of its dtype to 0, in place (NumPy arrays; CuPy's are left as they are).

    >>> a = np.array([1e-39, -1e-40, 1e-30, 0.5], np.float32); flush_subnormals(a); a.tolist()
    [0.0, 0.0, 1.0000000031710769e-30, 0.5]
    """
    if not isinstance(a, np.ndarray):   # a GPU computes on subnormals at full speed: nothing to gain
        return
    tiny = np.finfo(a.dtype).tiny
    for (piece,) in pieces(a):
        np.copyto(piece, 0, where=np.abs(piece) < tiny)


def _arguments(cls):
    """The named arguments of ``cls``'s constructor and, while a constructor passes ``**options``
    on to its parent's, those of the parents' constructors too: a subclass of a built-in taking
    ``(learning_rate, damping, **options)`` is also given the built-in's ``beta_1`` through them,
    which its config must hold as Keras' ``{**super().get_config(), ...}`` does, or a file would load
    it with the default (a built-in's own constructor names all its parents' arguments)."""
    arguments = []
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        parameters = inspect.signature(vars(klass)["__init__"]).parameters.values()
        arguments += [p.name for p in parameters if p.name != "self" and p.name not in arguments
                      and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if klass is Optimizer or not any(p.kind is p.VAR_KEYWORD for p in parameters):
            break
    return arguments


def keras_apply_form(triples, sizes):
    """Whether ``apply(triples, sizes)`` is Keras 3's ``apply(grads, trainable_variables)``: a list
    of weight arrays where glassnet's own call passes lists of sizes (or nothing)."""
    return isinstance(sizes, (list, tuple)) and any(isinstance(v, np.ndarray) for v in sizes)


# the update rules an optimizer whose formula differs between PyTorch and Keras 3.15 computes (its
# ``rule`` argument, glassnet's own): "pytorch" (torch.optim's step, the default) or "keras"
RULES = ("pytorch", "keras")


class Optimizer:
    """Base class: ``apply(triples)`` with ``(key, param, grad)`` triples performs one step.

    Every optimizer also takes Keras' gradient clipping, at most one of: ``clipnorm`` (each weight's
    gradient scaled down to at most this L2 norm), ``global_clipnorm`` (all gradients scaled by one
    factor, so that their joint L2 norm is at most this: ``torch.nn.utils.clip_grad_norm_``, less
    the 1e-6 it adds to the norm, i.e. Keras' formula) and
    ``clipvalue`` (each gradient value clipped to ``[-clipvalue, clipvalue]``:
    ``clip_grad_value_``). A gradient over the norm is multiplied by ``clip / norm``; one within it
    is used as it is. The clipped gradients go into buffers of the optimizer's own: the layers'
    ``grads`` keep the true gradients, for ``model.trace`` and for inspection.

    Every optimizer also takes Keras 3's ``weight_decay`` (None: none): decoupled decay,
    ``param -= param * weight_decay * learning_rate`` before each update (AdamW's rule, on any
    update rule; with plain SGD it equals ``torch.optim.SGD(weight_decay=...)``, with momentum or
    an adaptive rule it does not: PyTorch's adds the decay to the gradient).
    ``exclude_from_weight_decay(var_names=[...])`` exempts the weights whose own name (``"bias"``)
    or path (``"dense_1/bias"``) one of the patterns matches. A weight that got no gradient in the
    step (Keras' None: a dead call's, a None given to ``apply_gradients``) is neither decayed nor
    updated, its state left as it is (``_ungraded``).

    And Keras' weight averaging: with ``use_ema=True`` the optimizer keeps an exponential moving
    average of the weights, ``average = ema_momentum * average + (1 - ema_momentum) * weight``
    after each update (the first update sets it to the weights), as its state ``"average"``;
    every ``ema_overwrite_frequency`` updates (None: never) the weights are set to it, and
    ``fit`` sets them to it when it ends (``finalize_variable_values``), as Keras' does.

    Every hyper-parameter named in ``hyper_parameters`` (its interval, or ``"flag"``) goes through
    the same check whenever it is set -- in the constructor, by a callback, by hand
    (``model.optimizer.learning_rate = 1e-4``) -- and is stored as a Python float (or bool):
    ``get_config`` then gives plain JSON values, the constructor's arguments read back from the
    attributes of the same names, and ``from_config`` passes them through the same checks.

    And Keras 3's gradient accumulation: with ``gradient_accumulation_steps=k`` (an int >= 2; None:
    off) only every k-th call of ``apply`` updates the weights, with the mean of the gradients of
    the k calls since the last update, ``(g_k + (g_1 + ... + g_(k-1))) / k``, Keras' arithmetic;
    the other calls add their gradient to the state ``"gradient_accumulator"`` (zeroed by the
    update) and leave the weights alone. A model trained with batches of b samples then steps as
    with batches of k b (a mean-reduced loss, plain SGD: the same steps). As in Keras 3.15:

    - ``iterations`` counts the updates (Keras' ``optimizer.iterations``, which is its count of calls
      floor-divided by k): Adam's bias correction and the other rules see the update's number. The
      calls since the last update (0 to k - 1) are ``accumulated_steps``, kept with the state.
    - A learning-rate schedule sees the calls: the j-th update takes ``schedule(j k - 1)`` (Keras'
      "real" iterations), and ``learning_rate`` reads the rate of the next call.
    - Clipping (``clipnorm``, ``global_clipnorm``, ``clipvalue``) applies to the mean, once per
      update; ``weight_decay`` decays once per update, at that update's rate.
    - ``use_ema``: the moving average moves at every call, not only at updates (Keras updates it
      outside its accumulation branch: between two updates it averages in the unchanged weights),
      starting from the weights until the first update is done; ``ema_overwrite_frequency`` counts
      updates, so the weights are set to the average at every call of each k-call window whose
      count of updates done so far, plus one, is a multiple of it.
    - Keras unscales the gradients (``loss_scale_factor``) before accumulating them; glassnet has
      no loss scaling (Keras' ``loss_scale_factor`` is refused by name).
    - A partial accumulation carries over the end of an epoch (and of ``fit``): the next call goes
      on with it. ``reset()`` drops it.

    The mean is formed in a buffer of the optimizer's own: a model's layers' ``grads`` keep each
    batch's own gradient (what ``model.trace`` reports), never the running sum or mean.

    ``learning_rate`` may instead be a ``schedules.LearningRateSchedule``: it is then kept as
    ``schedule`` and sets ``learning_rate`` before every update (a rate >= 0, as a fixed one: 0, Keras' and PyTorch's
    too, takes no step),
    and a rate set by hand is refused. ``reset()`` restarts the schedule with the step count (the
    instance compiled into a model sharing nothing with its own); a layer frozen, unfrozen, popped
    or added after training keeps the count, as Keras' does (glassnet._state_carry).
    """
    name = None
    hyper_parameters = {"learning_rate": ">= 0", **{name: "None or > 0" for name in CLIPPING},
                        "weight_decay": "None or >= 0", "use_ema": "flag", "ema_momentum": "[0, 1]",
                        "ema_overwrite_frequency": "None or int >= 1",
                        "gradient_accumulation_steps": "None or int >= 2"}
    # the state arrays an update may keep per key; those every step creates; those that are sums of
    # squares (never negative). load_model checks a file's optimizer state against them
    slot_names, always_slots, non_negative_slots = (), (), ()
    # numbers of state that are not per parameter (Nadam's momentum product): saved in files too
    scalar_names = ()
    # constructor arguments that get_config leaves out while they have these defaults (Adam's
    # amsgrad=False): a default optimizer's config and files stay those of a glassnet before them
    omitted_at_default = {}
    # Keras' defaults: also what an optimizer pickled before these arguments existed reads
    clipnorm = clipvalue = global_clipnorm = weight_decay = ema_overwrite_frequency = None
    use_ema, ema_momentum = False, 0.99
    gradient_accumulation_steps = None
    # the calls of apply since the last update while accumulating gradients (0 to k - 1)
    accumulated_steps = 0
    # the name patterns exclude_from_weight_decay was given, and the decayed spans found per layout
    _no_decay = ()
    # what _excluded found for each name searched, a bound of the steps those searches took, and the
    # bound per name length (set by exclude_from_weight_decay)
    _exclusions = _bounds = None
    _search_spent = 0
    # a LearningRateSchedule given as learning_rate (see _follow_schedule), or None
    schedule = None
    # {key: [(start, stop), ...]}: the weights that got no gradient in this call, which the update
    # leaves as they are (Keras skips a None gradient; set by _ungraded.ungraded), or None
    _ungraded = None
    # state arrays whose rule starts them at an attribute's value, not 0: {slot: attribute}
    # (what a model's flat state starts from when it takes a shared weight's state: _shared)
    slot_fills = {}
    # {key: layout of that key's flat buffer}, {weight: its home} and the keys of the last call
    # (glassnet.optimizers._shared: one state per weight stepped through several models' buffers)
    _weight_layouts = _homes = _gathered = None

    def __init__(self, learning_rate, **options):
        unknown = sorted(set(options) - set(COMMON))
        if unknown:
            raise TypeError(f"{type(self).__name__}: unexpected argument {unknown[0]!r}; besides its own "
                            f"arguments an optimizer takes {', '.join(COMMON)}")
        self.learning_rate = learning_rate
        for name, default in COMMON.items():        # AdamW and Lion pass their own weight_decay
            setattr(self, name, options.get(name, default))
        self.iterations = 0
        self.accumulated_steps = 0      # the calls since the last update (gradient accumulation)
        self._spans = {}
        self.slots = {}          # key -> {slot name: array}: the state to save
        self._scratch = {}       # key -> a buffer for intermediate results (not state)
        self._weight_layouts, self._homes = {}, {}

    def __setattr__(self, name, value):
        if name == "learning_rate" and isinstance(value, LearningRateSchedule):
            super().__setattr__("schedule", value)
            self._follow_schedule()
            return
        if name == "learning_rate" and self.schedule is not None:
            # Keras refuses it too: the schedule would overwrite the value at the next update
            raise TypeError(f"{type(self).__name__}: the learning rate follows {self.schedule!r:.100}, which "
                            f"sets it before every update; it cannot be set by hand (nor by "
                            f"LearningRateScheduler or ReduceLROnPlateau): give the optimizer a number "
                            f"to set the rate yourself")
        interval = self.hyper_parameters.get(name)
        if interval == "flag":
            value = check_flag(value, f"{type(self).__name__}: {name}")
        elif interval == "rule":
            value = self._check_rule(value)
        elif interval == "None or int >= 2":
            value = self._check_accumulation(value)
        elif interval is not None and interval.startswith("None or ") and value is None:
            pass
        elif interval == "None or int >= 1":
            value = check_positive_int(value, f"{type(self).__name__}: {name}")
        elif interval is not None:
            value = self._check(name, value, interval.removeprefix("None or "))
        if name in CLIPPING and value is not None:
            # Keras' rule: two ways of clipping at once would leave the order between them to guess
            other = next((n for n in CLIPPING if n != name and getattr(self, n, None) is not None), None)
            if other is not None:
                raise ValueError(f"{type(self).__name__}: give at most one of {', '.join(CLIPPING)}, "
                                 f"got {other}={getattr(self, other)} and {name}={value}")
        elif name == "lr":        # Keras 2's name: an attribute of that name would change nothing
            raise AttributeError(f"{type(self).__name__}: the learning rate is learning_rate, not lr")
        super().__setattr__(name, value)

    def _check_rule(self, value):
        """``rule`` checked: "pytorch" or "keras" (see ``RULES``); changed only before the first
        update, since the state kept means different things under the two (SGD's and RMSprop's
        momentum, Adamax's u)."""
        if not isinstance(value, str):
            raise TypeError(f"{type(self).__name__}: rule must be one of {', '.join(map(repr, RULES))}, got "
                            f"{type(value).__name__} {value!r:.40}")
        if value not in RULES:
            raise ValueError(f"{type(self).__name__}: rule must be one of {', '.join(map(repr, RULES))}, got "
                             f"{value!r:.40}")
        current = vars(self).get("rule")
        if current is not None and value != current and self.slots:
            raise ValueError(f"{type(self).__name__}: rule={value!r} after updates made under rule={current!r}: the "
                             f"state means different things under the two; set it before training (or reset())")
        return value

    def _check_accumulation(self, value):
        """``gradient_accumulation_steps`` checked (None, or an int >= 2 as Keras asks); changing it
        while gradients are accumulated is refused: they were summed for the old count."""
        what = f"{type(self).__name__}: gradient_accumulation_steps"
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 2):
            raise ValueError(f"{what} must be None or an integer >= 2 (the calls per update), got {value!r:.40}")
        value = None if value is None else int(value)
        if self.accumulated_steps and value != self.gradient_accumulation_steps:
            raise ValueError(f"{what}: {self.accumulated_steps} gradients are accumulated towards an update of "
                             f"{self.gradient_accumulation_steps}; change it after an update, or reset() first")
        return value

    def _calls(self):
        """The calls of ``apply`` so far: the updates, times the calls per update while
        accumulating, plus the calls since the last one (Keras' count, which schedules see)."""
        k = self.gradient_accumulation_steps
        return self.iterations * k + self.accumulated_steps if k else self.iterations

    def _updates_now(self):
        """Whether the next call of ``apply`` updates the weights (always, without accumulation)."""
        k = self.gradient_accumulation_steps
        return not k or self.accumulated_steps + 1 >= k

    def _follow_schedule(self, strict=True):
        """Set ``learning_rate`` to the schedule's rate for the next update, step = the updates
        made so far (Keras' step; while accumulating gradients, the calls of ``apply``). A schedule
        may reach 0 (a cosine's end), as a rate set by hand may (Ftrl refuses 0 either way); an
        infinite or negative rate is a ValueError naming the schedule and the step.
        ``strict=False`` (after an update, for display) leaves the rate as it is instead: the next
        update then raises, before it changes any weight."""
        step = self._calls() if hasattr(self, "iterations") else 0
        rate = self.schedule(step)
        # a NumPy port of a Keras schedule (ops.where -> np.where, ops.cos -> np.cos) returns a 0-d
        # array, the scalar tensor Keras takes: read as its one number (a bool array stays refused)
        if isinstance(rate, np.ndarray) and rate.ndim == 0 and rate.dtype.kind in "iuf":
            rate = rate.item()
        if not (isinstance(rate, numbers.Real) and not isinstance(rate, bool) and 0 <= rate < math.inf):
            if not strict:
                return
            raise ValueError(f"{type(self).__name__}: the learning rate schedule {self.schedule!r:.100} gave "
                             f"{rate!r:.40} for step {step}; a rate must be a finite number >= 0")
        super().__setattr__("learning_rate", float(rate))

    def _check(self, arg, value, interval):
        """``value`` as a float if it is a number in ``interval`` (``"> 0"``, ``">= 0"``, ``"[0, 1)"``),
        else a ValueError such as ``RMSprop: rho must be a number in [0, 1), got 2.0``."""
        return check_number(value, f"{type(self).__name__}: {arg}", interval)

    def _slot(self, key, param, *names, fill=0.0):
        """The state arrays ``names`` of ``key`` and its scratch buffer. A state array is created
        (filled with ``fill``) on first use: at the first step, or when a hyper-parameter set
        during training (a momentum raised from 0) brings in a state the step has not kept."""
        slots = self.slots.get(key)
        if slots is None:
            slots = self.slots[key] = {}
        for name in names:
            if name not in slots:
                slots[name] = np.full_like(param, fill)
            elif type(slots[name]) is not type(param):
                # a state set from the other side (a host model's get_state on a GPU model, a backup
                # read on the host): it moves to where the parameters are, once
                slots[name] = backend.get_array_module(param).asarray(backend.to_numpy(slots[name]))
        return slots, self._buffer(key, param)

    def apply(self, triples, sizes=None, names=None, shapes=None):
        """One step on ``triples``, ``(key, param, grad)`` with param and grad of one shape.

        sizes : for each triple, the sizes of the weights laid end to end in its arrays (a model
            passes all its weights as one flat buffer), which ``clipnorm`` clips one by one;
            None: each triple is one weight.
        names : for each triple, the names of those weights (``"dense_1/kernel"``), which
            ``exclude_from_weight_decay`` looks for; None: each triple is one weight, named by its key.
        shapes : for each triple, those weights' shapes, which ``Adafactor`` factors; None: each
            triple is one weight of its own shape.

        With ``gradient_accumulation_steps`` only every k-th call updates (see the class docstring);
        the others add the gradients to the accumulator.
        """
        if keras_apply_form(triples, sizes):     # Keras 3's apply(grads, trainable_variables)
            return self._keras_apply(triples, sizes)
        triples = self._checked(triples)
        if self._weight_layouts:       # a shared weight's one state into this call's flat state first
            _shared.gather(self, triples)
        # the updates done before this call, which the moving average reads (Keras' iterations)
        done = self.iterations
        if not self.gradient_accumulation_steps:
            # (the usual case first, with no accumulator to look at: a batch-of-one SGD run makes
            # thousands of these calls an epoch)
            self._update_all(triples, sizes, names)
        elif not self._updates_now():
            self._accumulate(triples)
        else:
            self._update_all(self._mean_of_accumulated(triples), sizes, names)
            self.accumulated_steps = 0
            for key, _, _ in triples:           # the update is made: the next sum starts from 0
                self.slots[key][ACCUMULATOR][...] = 0
            parked = self.__dict__.get("_parked")
            if parked:      # weights frozen or popped (glassnet._state_carry): Keras zeroes every
                for _, _, pieces in parked.values():    # variable's accumulator at an update
                    if ACCUMULATOR in pieces:
                        pieces[ACCUMULATOR][...] = 0
        if self.use_ema:
            self._average(triples, done)
        if self.schedule is not None:      # learning_rate reads the next update's rate, as in Keras
            self._follow_schedule(strict=False)

    # -- Keras' variables (glassnet.optimizers.keras_variables) ----------------------------------
    @property
    def variables(self):
        """Keras' ``optimizer.variables``: the step count (int64), the learning rate (float32, unless a
        schedule), then the slots per trained weight in Keras 3.15's order and meaning (Adam's
        ``momentum``/``velocity`` per weight), of the model this optimizer was compiled into.
        A slot that means Keras' is a live view of glassnet's buffer; the step count and rate hold
        the values when listed and their writes (``v.assign(0)``) set ``iterations`` and
        ``learning_rate`` (optimizers.live_scalars); ``set_weights`` writes them all."""
        from .keras_variables import keras_variable_items
        return [value for _, value in keras_variable_items(self)]

    @property
    def built(self):
        """Keras' flag: True once ``build(var_list)`` ran or a step made the slots."""
        return bool(self.__dict__.get("_built_by_hand")) or any(bool(slots) for slots in self.slots.values())

    @built.setter
    def built(self, value):
        self.__dict__["_built_by_hand"] = bool(value)

    def build(self, var_list):
        """Keras' ``build(var_list)``: ``var_list`` is the compiled model's ``trainable_variables``;
        its slots list as zeros (the values a first step starts from) until that step makes them."""
        from .keras_variables import build
        build(self, var_list)

    def set_weights(self, weights):
        """Keras' ``set_weights(weights)``: the state from a list as ``variables`` gives it (Keras'
        order and meaning: another optimizer's ``variables``, a Keras optimizer's), all checked
        before anything changes."""
        from .keras_variables import set_weights
        set_weights(self, weights)

    def apply_gradients(self, grads_and_vars):
        """Keras' (and TensorFlow's) step on ``(gradient, weight)`` pairs, e.g.
        ``zip(tape.gradient(loss, model.trainable_weights), model.trainable_weights)``: each weight
        array updated in place by this optimizer's rule (a None gradient is skipped). A model's
        whole set of trained weights steps as ``fit`` steps it (see ``glassnet.tape.apply_gradients``)."""
        from ..tape import apply_gradients
        apply_gradients(self, grads_and_vars)

    def _keras_apply(self, grads, variables):
        """Keras 3's ``optimizer.apply(grads, trainable_variables)``: ``apply_gradients`` of the pairs."""
        from ..tape import apply_gradients
        grads, variables = list(grads), list(variables)
        if len(grads) != len(variables):
            raise ValueError(f"{type(self).__name__}.apply: got {len(grads)} gradients for {len(variables)} weights")
        apply_gradients(self, zip(grads, variables), caller=f"{type(self).__name__}.apply")

    def _accumulate(self, triples):
        """A call that does not update: each gradient added to its sum since the last update."""
        for key, param, grad in triples:
            slots, _ = self._slot(key, param, ACCUMULATOR)
            slots[ACCUMULATOR] += grad
        self.accumulated_steps += 1

    def _mean_of_accumulated(self, triples):
        """``triples`` with each gradient replaced by the mean of the gradients since the last update,
        ``(grad + sum) / k`` as Keras rounds it, in a buffer of the optimizer's own (the layers'
        ``grads`` stay this batch's). Called only while accumulating (``apply``)."""
        k = self.gradient_accumulation_steps
        averaged = []
        for key, param, grad in triples:
            slots, _ = self._slot(key, param, ACCUMULATOR)
            mean = self._buffer(key + "#mean", grad)
            np.add(grad, slots[ACCUMULATOR], out=mean)
            np.divide(mean, grad.dtype.type(k), out=mean)
            averaged.append((key, param, mean))
        return averaged

    def _update_all(self, triples, sizes, names):
        """The update itself: the schedule's rate, clipping, decay, each triple's rule."""
        if self.schedule is not None:
            self._follow_schedule()         # its rate for this update (state set or reset since)
        self.iterations += 1
        # weights without a gradient (Keras' None): copied now, written back after the step
        kept = _ungraded.kept(self, triples) if self._ungraded else None
        if self.clipnorm is not None or self.global_clipnorm is not None or self.clipvalue is not None:
            triples = self._clipped(triples, sizes)
        if self._decays():                  # Keras' order: clip, decay, update
            self._decay(triples, sizes, names)
        for key, param, grad in triples:
            self.update(key, param, grad)
        if kept:
            _ungraded.put_back(kept)
        if self.iterations % FLUSH_EVERY == 0:
            for slots in self.slots.values():
                for state in slots.values():
                    flush_subnormals(state)

    def _clipped(self, triples, sizes):
        """``triples`` with their gradients clipped as the clipping argument says, each into a
        buffer of its own (``key + "#clipped"``); a gradient that needs no clipping is passed on as
        it is. See the class docstring."""
        if self.clipvalue is not None:
            clipped = []
            for key, param, grad in triples:
                buffer = self._buffer(key + "#clipped", grad)
                np.clip(grad, -self.clipvalue, self.clipvalue, out=buffer)
                clipped.append((key, param, buffer))
            return clipped
        if self.global_clipnorm is not None:
            norm = math.sqrt(sum(_squared_norm(grad) for _, _, grad in triples))
            if not norm > self.global_clipnorm:
                return triples
            factor = self.global_clipnorm / norm
            clipped = []
            for key, param, grad in triples:
                buffer = self._buffer(key + "#clipped", grad)
                np.multiply(grad, factor, out=buffer)
                clipped.append((key, param, buffer))
            return clipped
        clipped = []
        for i, (key, param, grad) in enumerate(triples):
            flat = grad.reshape(-1)
            buffer = None
            start = 0
            weight_sizes = [grad.size] if sizes is None else sizes[i]
            if sum(weight_sizes) != grad.size:      # a part of the buffer no weight covers would be garbage
                raise ValueError(f"sizes[{i}]: the weights' sizes {weight_sizes!r:.100} add up to "
                                 f"{sum(weight_sizes)}, but {key!r} holds {grad.size} values")
            for size in weight_sizes:
                piece = flat[start:start + size]
                norm = math.sqrt(_squared_norm(piece))
                if norm > self.clipnorm or buffer is not None:
                    if buffer is None:          # the first weight to clip: the ones before it as they are
                        buffer = self._buffer(key + "#clipped", grad).reshape(-1)
                        buffer[:start] = flat[:start]
                    if norm > self.clipnorm:
                        np.multiply(piece, self.clipnorm / norm, out=buffer[start:start + size])
                    else:
                        buffer[start:start + size] = piece
                start += size
            clipped.append((key, param, grad if buffer is None else buffer.reshape(grad.shape)))
        return clipped

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Exempt weights from ``weight_decay``: those in whose name one of the regular expressions
        ``var_names`` finds a match (``re.search``), be it the weight's own name (``"bias"``, what
        Keras 3 searches: ``["bias", "gamma", "beta"]`` exempts biases and normalisation scales and
        offsets, ``"^bias$"`` works as in Keras) or its path (``"dense_1/bias"``: ``"^dense_1/"``
        exempts a whole layer, which Keras' names cannot). Each call replaces the previous one's
        patterns, which model files keep with the optimizer. ``var_list`` (Keras' list of
        variables) is not taken: a glassnet weight is named, not tracked by object; name it instead.

        >>> opt = Optimizer(learning_rate=0.01, weight_decay=0.004); opt.exclude_from_weight_decay(var_names=["bias"])
        >>> opt.get_config()["exclude_from_weight_decay"]
        ['bias']
        """
        if var_list is not None:
            raise TypeError(f"{type(self).__name__}.exclude_from_weight_decay: var_list is not taken; give "
                            f"var_names, patterns searched in each weight's name (\"dense_1/bias\")")
        self._no_decay = check_patterns(var_names, f"{type(self).__name__}.exclude_from_weight_decay: var_names")
        self._spans = {}
        self._exclusions, self._search_spent, self._bounds = {}, 0, {}

    def _checked(self, triples):
        """``apply``'s triples as a list, each gradient of its weights' shape: the updates' in-place
        arithmetic would broadcast a (3,) gradient over (4, 3) weights (and Adafactor read a (12,)
        one in their order), so another shape is refused before anything changes."""
        triples = list(triples)
        for key, param, grad in triples:
            if tuple(getattr(grad, "shape", ())) != tuple(param.shape):
                raise ValueError(f"{type(self).__name__}.apply: the gradient of {key!r:.100} has shape "
                                 f"{tuple(getattr(grad, 'shape', ()))}, its weights {tuple(param.shape)}: "
                                 f"expected a gradient of the weights' own shape")
        return triples

    def _decays(self):
        """Whether a step decays any weight (Muon decays its AdamW weights by a rate of their own)."""
        return bool(self.weight_decay)

    def _excluded(self, name):
        """Whether ``exclude_from_weight_decay`` exempts the weight ``name`` ("dense_1/kernel"): a
        pattern found in its own name ("kernel", what Keras 3 searches) or in its path."""
        if not self._no_decay:
            return False
        if self._exclusions is None:            # an optimizer pickled before these were kept
            self._exclusions, self._search_spent, self._bounds = {}, 0, {}
        if name not in self._exclusions:        # each name searched once (Muon asks at every step)
            what = f"{type(self).__name__}.exclude_from_weight_decay"
            check_searched_name(name, what)
            self._search_spent += search_cost(self._no_decay, [name], self._bounds)
            check_search_cost(self._search_spent, self._no_decay, what)
            self._exclusions[name] = any(re.search(pattern, name) or re.search(pattern, name.rpartition("/")[2])
                                         for pattern in self._no_decay)
        return self._exclusions[name]

    def check_search_cost(self, names):
        """Refuse (ValueError) patterns that would take too long to search ``names`` (the model's
        weight names) with: a model file may hold both (``check_search_cost``)."""
        if self._no_decay:
            check_search_cost(search_cost(self._no_decay, names), self._no_decay,
                              f"{type(self).__name__}.exclude_from_weight_decay")

    def _decay(self, triples, sizes, names):
        """Keras' decoupled weight decay, in place: every weight not excluded loses
        ``weight * (learning_rate * weight_decay)`` (``sizes`` and ``names`` as ``apply`` takes them).

        Subtracted, as Keras computes it, not multiplied by ``1 - learning_rate * weight_decay``
        (PyTorch's form): in float32 that factor rounds to the nearest multiple of 2^-24 below 1,
        so a small decay (AdamW's default 0.004 at a rate of 1e-4) came out 4 % too strong, and
        one under 3e-8 not at all."""
        rate = self.learning_rate * self.weight_decay
        for i, (key, param, _) in enumerate(triples):
            if sizes is not None and sum(sizes[i]) != param.size:    # a part no name covers: undecayed
                raise ValueError(f"sizes[{i}]: the weights' sizes {sizes[i]!r:.100} add up to {sum(sizes[i])}, "
                                 f"but {key!r} holds {param.size} values")
            spans = self._decayed_spans(param.size if sizes is None else sizes[i],
                                        [key] if names is None else names[i], i)
            if spans is None:
                spans = [(0, param.size)]
            # the 1-D view below of a weight not laid out in C order (a transpose, Fortran order)
            # would be a copy, and the decay would go into it: decay a C-ordered copy, write it back
            work = param if param.flags.c_contiguous else backend.get_array_module(param).ascontiguousarray(param)
            scratch = self._buffer(key, work)        # the update's scratch, free until the update
            flat, tmp = work.reshape(-1), scratch.reshape(-1)   # 1-D views (the flat buffer, or one weight)
            for start, stop in spans:
                for weights, tmp_piece in pieces(flat[start:stop], tmp[start:stop]):
                    np.multiply(weights, rate, out=tmp_piece)
                    weights -= tmp_piece
            if work is not param:
                param[...] = work

    def _decayed_spans(self, sizes, names, i=0):
        """None when no weight of ``names`` (laid end to end with ``sizes``: one int, or one size
        per name; the ``i``-th triple's) is excluded from decay; otherwise the ``(start, stop)``
        runs of the ones that are not (adjacent ones merged). Kept per layout: a step asks again
        with the same names."""
        sizes = [sizes] if isinstance(sizes, int) else list(sizes)
        if not self._no_decay:
            return None
        found = (tuple(names), tuple(sizes))
        if found not in self._spans:
            if len(sizes) != len(names):
                raise ValueError(f"names[{i}]: {len(names)} weight names for {len(sizes)} weights")
            spans, start = [], 0
            for name, size in zip(names, sizes):
                if not self._excluded(name):
                    if spans and spans[-1][1] == start:
                        spans[-1] = (spans[-1][0], start + size)
                    else:
                        spans.append((start, start + size))
                start += size
            whole = spans == [(0, start)]
            self._spans[found] = None if whole else spans
        return self._spans[found]

    def _average(self, triples, done):
        """Keras' moving average of the weights, after each call of ``apply``: set to the weights
        while no update was done before the call (``done``, the updates then: Keras' iterations),
        then ``ema_momentum * average + (1 - ema_momentum) * weight``; at the calls where ``done + 1``
        is a multiple of ``ema_overwrite_frequency`` the weights are set to it. Without gradient
        accumulation every call is an update: the first sets it, every ``ema_overwrite_frequency``-th
        overwrites the weights. With it, the calls between updates move it too (see the class)."""
        for key, param, _ in triples:
            slots = self.slots.setdefault(key, {})
            if "average" not in slots:
                slots["average"] = param.copy()
            elif done == 0:
                slots["average"][...] = param
            else:
                # 1 - momentum in the weights' dtype, as Keras rounds it (float32: 1 - fl(0.99))
                momentum = param.dtype.type(self.ema_momentum)
                for weights, average, tmp in pieces(param, slots["average"], self._buffer(key, param)):
                    average *= momentum
                    np.multiply(weights, 1 - momentum, out=tmp)
                    average += tmp
            if self.ema_overwrite_frequency and (done + 1) % self.ema_overwrite_frequency == 0:
                param[...] = slots["average"]

    def finalize_variable_values(self, var_list):
        """With ``use_ema``: set the weights to their moving averages, which ``fit`` does when it
        ends (Keras' method of the same name; after a loop of ``train_on_batch`` call it yourself:
        ``model.optimizer.finalize_variable_values(model.trainable_weights)``). Nothing without
        ``use_ema``, or before the first update.

        var_list : the weights the optimizer updated, in the order it met them: a model's
            ``trainable_weights``, or the arrays of the ``(key, param, grad)`` triples given to
            ``apply``; or those triples themselves.
        """
        if not self.use_ema or not self.slots:
            return
        var_list = list(var_list)
        if all(isinstance(item, tuple) and len(item) == 3 for item in var_list):
            for key, param, _ in var_list:
                average = self.slots.get(key, {}).get("average")
                if average is not None:
                    param[...] = average
            return
        averages = [slots["average"] for slots in self.slots.values() if "average" in slots]
        total = sum(int(getattr(w, "size", -1)) for w in var_list)
        if total != sum(a.size for a in averages) or not all(hasattr(w, "shape") for w in var_list):
            raise ValueError(f"{type(self).__name__}.finalize_variable_values: expected the weights it updated "
                             f"({sum(a.size for a in averages)} values: a model's trainable_weights), got "
                             f"{len(var_list)} items holding {total if total >= 0 else 'non-array'} values")
        # the averages laid end to end are the weights laid end to end, in the same order
        flat = (averages[0].reshape(-1) if len(averages) == 1 else
                backend.get_array_module(averages[0]).concatenate([a.reshape(-1) for a in averages]))
        start = 0
        for weights in var_list:
            weights[...] = flat[start:start + weights.size].reshape(weights.shape)
            start += weights.size

    def _stepped_in_c_order(self, key, param, grad):
        """For a rule that steps 1-D views of the weights: when ``param`` is not laid out in C order
        (a transpose, Fortran order), whose views would be copies taking the step instead, step a
        C-ordered copy and write it back. True when it did (the caller then returns)."""
        if param.flags.c_contiguous:
            return False
        work = backend.get_array_module(param).ascontiguousarray(param)
        self.update(key, work, grad)
        param[...] = work
        return True

    def _buffer(self, name, like):
        """The scratch buffer ``name``, shaped and typed like ``like``, made on first use."""
        buffer = self._scratch.get(name)
        if buffer is None or buffer.shape != like.shape or buffer.dtype != like.dtype:
            buffer = self._scratch[name] = np.empty_like(like)
        return buffer

    def update(self, key, param, grad):
        raise NotImplementedError

    def _slot_runs(self, name, key, slot, param, runs):
        """The runs of the state array ``name`` (``slot``) of ``key`` that belong to the weights
        at ``runs`` of ``param`` (whole weights, laid end to end): the same runs for a state
        shaped like the weights, none for another (Adafactor says which rows of its factored ones)."""
        return runs if slot.size == param.size else ()

    def slot_shape(self, name, param, shapes=None):
        """The shape of the state array ``name`` kept for ``param`` (whose weights have ``shapes``,
        as ``apply`` takes them): the parameter's own, but for Adafactor's factored moments. A
        model file's optimizer state is checked against it."""
        return tuple(param.shape)

    def get_config(self):
        """``{"name": ..., argument: value}`` for every argument of the constructor (and of its
        parents' it passes ``**options`` on to: ``_arguments``) and the clipping argument in use, read from the attributes of the same names (the convention of layers'
        get_config too)."""
        arguments = _arguments(type(self))
        # the arguments every optimizer takes only when not at their defaults: a model file without
        # them then loads in a glassnet from before they existed, whose constructors do not know them
        common = {name: getattr(self, name) for name, default in COMMON.items()
                  if name not in arguments and getattr(self, name) != default}
        config = {"name": self.name, **{name: getattr(self, name) for name in arguments
                                        if not self._omitted(name)}, **common}
        if self._no_decay:                   # from_config passes it to exclude_from_weight_decay
            config["exclude_from_weight_decay"] = list(self._no_decay)
        if self.schedule is not None:        # {"class_name"/"registered_name", "config"}: from_config reads it back
            config["learning_rate"] = schedules.serialize(self.schedule)
        return config

    @classmethod
    def from_config(cls, config):
        """The optimizer ``get_config()`` described (Keras' classmethod): ``"name"`` is left out (the
        class names itself), a schedule's entry is built again (``schedules.deserialize``: a built-in
        one, or one of yours registered with ``glassnet.saving``) and ``exclude_from_weight_decay``
        goes to that method. What ``load_model`` calls for a registered optimizer of yours."""
        if not isinstance(config, dict):
            raise TypeError(f"{cls.__name__}.from_config: expected a dict, got {type(config).__name__}")
        config = dict(config)
        config.pop("name", None)
        if isinstance(config.get("learning_rate"), dict):      # a schedule, as get_config writes it
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        excluded = config.pop("exclude_from_weight_decay", None)
        optimizer = cls(**config)
        if excluded is not None:
            optimizer.exclude_from_weight_decay(var_names=excluded)
        return optimizer

    def _omitted(self, name):
        """Whether get_config leaves the argument ``name`` out: at its ``omitted_at_default`` default."""
        return name in self.omitted_at_default and getattr(self, name) == self.omitted_at_default[name]

    def get_state(self):
        """``{"iterations": int, "slots": {key: {slot: array}}, "scalars": {name: float},
        "accumulated_steps": int}``: all an exact resume needs (``scalars`` only for an optimizer
        with ``scalar_names``; ``accumulated_steps``, the calls since the last update, and the
        slot ``"gradient_accumulator"``, their gradients' sum, only with
        ``gradient_accumulation_steps``; ``"parked"``, ``{"<layer name>/<weight name>": {slot:
        1-D array}}``, only when layers frozen or popped after training have their state set
        aside: glassnet._parked_state; ``"weights"``, ``{key: [["<layer name>/<weight name>",
        shape], ...]}``, the weights each key's slots are laid out along, where known:
        glassnet._state_weights)."""
        # an average kept from before use_ema was turned off is no longer state: the optimizer
        # would never update it, and a file holding it would not load as this optimizer
        stale = self._stale_slots()
        if self._weight_layouts:       # each key's flat state holds its shared weights' one state
            _shared.spread(self)
        state = {"iterations": self.iterations,
                 "slots": {key: {name: a for name, a in slots.items() if name not in stale}
                           for key, slots in self.slots.items()}}
        # an option turned on since the last update (Adam's amsgrad) has not made its state yet,
        # which load_model then asks for: zeros, what that update starts it from, resume the same
        for name, like in self._zero_started_slots().items():
            for slots in state["slots"].values():
                if name not in slots and like in slots:
                    slots[name] = backend.get_array_module(slots[like]).zeros_like(slots[like])
        if self.scalar_names:
            state["scalars"] = self._get_scalars()
        if self.gradient_accumulation_steps:
            state["accumulated_steps"] = self.accumulated_steps
        if self.__dict__.get("_parked") or self.__dict__.get("_parked_names"):
            from .._parked_state import by_name
            # the state of the weights frozen or popped after training, by their names in their
            # model (glassnet._parked_state: Keras keeps every variable's slots, frozen or not)
            state["parked"] = by_name(self)
        from .._state_weights import RECORD, record
        # which weight each block of the slots belongs to: set_state places them per weight in a
        # model laid out otherwise (glassnet._state_weights)
        weights = record(self, state["slots"])
        if weights:
            state[RECORD] = weights
        return state

    def kept_slots(self):
        """The names of the state arrays this optimizer may keep per key: its ``slot_names``, and
        those of the options every optimizer takes that are on: ``"average"`` with ``use_ema``,
        ``"gradient_accumulator"`` with ``gradient_accumulation_steps`` (what model files may hold)."""
        return (tuple(self.slot_names) + (("average",) if self.use_ema else ())
                + ((ACCUMULATOR,) if self.gradient_accumulation_steps else ()))

    def required_slots(self, iterations):
        """The state arrays each key must hold after ``iterations`` updates (what model files are
        checked against): ``always_slots`` once an update was made, none before it. With
        ``gradient_accumulation_steps`` the calls before the first update only sum their
        gradients: Adam's m and v do not exist yet, and a file saved then (a backup at the end
        of an epoch shorter than k batches) must load."""
        return tuple(self.always_slots) if iterations else ()

    def _stale_slots(self):
        """The state arrays kept from before an option was turned off, which ``get_state`` leaves
        out: use_ema's average (and Adam's v_hat after ``amsgrad``, RMSprop's average_gradient after
        ``centered``), and the gradients' sum after gradient accumulation was turned off."""
        return (() if self.use_ema else ("average",)) + (() if self.gradient_accumulation_steps else (ACCUMULATOR,))

    def _zero_started_slots(self):
        """``{slot: the slot it is shaped like}``: the state arrays an option now on keeps that its
        next update would create as zeros (Adam's v_hat while ``amsgrad``, RMSprop's average_gradient
        while ``centered``), which ``get_state`` holds as zeros until then."""
        return {}

    def _get_scalars(self):
        """``{name: float}`` for each of ``scalar_names``."""
        return {}

    def _set_scalars(self, scalars):
        """Take ``{name: float}`` from a state (each of ``scalar_names``, or none: an older state)."""

    def set_state(self, state):
        """Take a state ``get_state`` gave (copies of its arrays; its ``"parked"`` pieces go to the
        frozen weights of those names at the next layout of a model having them; its ``"weights"``
        place the slots per weight on a model laid out otherwise: glassnet._state_weights). ValueError when its
        ``accumulated_steps`` does not fit ``gradient_accumulation_steps`` (0 to k - 1; 0 or absent
        without accumulation) or its accumulated gradients lack their sum."""
        from .._state_weights import checked, keep
        # (which weight each block of the slots is, where the state says: refused before anything changes)
        weights = checked(state, type(self).__name__, self)
        accumulated = state.get("accumulated_steps", 0)
        k = self.gradient_accumulation_steps
        if isinstance(accumulated, bool) or not isinstance(accumulated, (int, np.integer)) \
                or not 0 <= accumulated < (k or 1):
            raise ValueError(f"{type(self).__name__}.set_state: accumulated_steps must be an integer from 0 to "
                             f"{(k or 1) - 1} (gradient_accumulation_steps={k}), got {accumulated!r:.40}")
        lacking = [key for key, slots in state["slots"].items() if accumulated and ACCUMULATOR not in slots]
        if lacking:
            raise ValueError(f"{type(self).__name__}.set_state: {accumulated} calls' gradients are accumulated, but "
                             f"the state holds no {ACCUMULATOR!r} (their sum) for {lacking[0]!r:.100}")
        self.iterations = int(state["iterations"])
        self.accumulated_steps = int(accumulated)
        if self.scalar_names:
            self._set_scalars(state.get("scalars", {}))
        # copies in each array's own module (numpy or cupy)
        self.slots = {key: {s: backend.get_array_module(a).array(a) for s, a in slots.items()}
                      for key, slots in state["slots"].items()}
        _shared.forget(self)            # (each key's state is its own again: get_state spread them)
        # the state of weights frozen or popped: this state's, by name, parked at the next layout of
        # a model of those names (glassnet._parked_state); what was parked before is not this state's
        from .._parked_state import set_by_name
        set_by_name(self, _checked_parked(state.get("parked"), type(self).__name__))
        # the weights the slots are laid out along, where the state says (older states do not): placed
        # per weight on the model stepping them, now or at its next layout (glassnet._state_weights)
        keep(self, weights, self.slots)
        if self.schedule is not None:
            self._follow_schedule()

    def reset(self):
        """Forget all state (moments, accumulators, the step count, and gradients accumulated towards
        an update with ``gradient_accumulation_steps``): a fresh optimizer again.

        ``Sequential`` calls this when the instance is compiled into another model, whose
        parameters that state never saw (a new layout of its own model's weights carries the state
        over instead: glassnet._state_carry). The step count goes too, or Adam's bias correction
        would skip the warm-up its zeroed moments need and take steps about three times the
        learning rate.
        """
        self.iterations = 0
        self.accumulated_steps = 0
        self.slots = {}
        # (weights frozen or popped: glassnet._parked_state; a state's record: glassnet._state_weights)
        for name in ("_parked", "_parked_names", "_parked_names_mark", "_state_weights"):
            self.__dict__.pop(name, None)
        self._scratch = {}
        self._weight_layouts = {}
        _shared.forget(self)
        if self.schedule is not None:
            self._follow_schedule()

    def __repr__(self):
        rate = self.learning_rate if self.schedule is None else f"{self.schedule!r:.200} (now {self.learning_rate})"
        return f"<{type(self).__name__} learning_rate={rate}>"


def _checked_parked(parked, who):
    """``set_state``'s ``"parked"`` (``{"<layer>/<weight>": {slot: array}}``, or None) checked."""
    if parked is None:
        return {}
    if not (isinstance(parked, dict) and all(isinstance(name, str) and isinstance(pieces, dict)
                                             and all(isinstance(slot, str) for slot in pieces)
                                             for name, pieces in parked.items())):
        raise TypeError(f"{who}.set_state: parked must be {{'<layer name>/<weight name>': {{slot: array}}}}, got "
                        f"{parked!r:.200}")
    return parked
