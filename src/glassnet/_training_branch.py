"""A ``call`` that branches on its ``training`` argument: drawn twice, each pass running its mode's draw.

glassnet draws a layer's or model's ``call`` once, on symbolic tensors (glassnet.graph). A Python
branch on ``training`` is then taken once; keras.io's stochastic depth (DropPath),

    def call(self, x, training=None):
        if training:
            ... keras.random.uniform((batch_size, 1, 1, 1), seed=...) ...
        return x

drew the identity for training=None and trained without its drop path, where Keras drops.
``branches_on_training`` reads the source of ``call`` (nothing is run): a test (``if``, ``while``,
``x if training else y``, ``and``/``or``, ``not``) reading ``training``, other than ``training is
None`` alone (Keras' default idiom before reading the flag), counts, and so does handing the flag
on to a function of the user's that tests it: Swin's ``return drop_path(x, self.drop_prob,
training)`` (a function of the module), ``self._augment(x, training)``, ``super().call(x,
training=training)`` (read the same way, under the name it is bound to there). Such a call, given no flag,
is drawn twice (``draw_both``), with training=True and training=False, on the same layers, and a
``TrainingSwitch`` (layers/training_switch.py) gives each pass the draw of its mode: fit,
train_on_batch and ``model(x, training=True)`` the first, predict, evaluate and ``model(x)`` the
second; a pass runs only the calls of its mode's draw (glassnet._switch_skips). The graph holds
both draws, so summary, save and load (a graph, no code) work as for any
block. A source that cannot be read (a class made by ``python -c``) is drawn once, for None, and warns.
"""
import ast
import inspect
import textwrap

from ._warnings import warn



def _is_none_check(node, name):
    """``name is None`` / ``name is not None``."""
    return (isinstance(node, ast.Compare) and isinstance(node.left, ast.Name) and node.left.id == name
            and all(isinstance(op, (ast.Is, ast.IsNot)) for op in node.ops)
            and all(isinstance(c, ast.Constant) and c.value is None for c in node.comparators))


def _reads(node, name):
    """Whether ``node`` (a test) reads ``name``, other than in ``name is None`` comparisons."""
    if _is_none_check(node, name):
        return False
    if isinstance(node, ast.Name):
        return node.id == name
    return any(_reads(child, name) for child in ast.iter_child_nodes(node))


def _plain(raw, method):
    """(function, whether its first parameter is self or cls) of a class attribute (``method``) or of
    a global; None for anything else (a layer, a class, a builtin)."""
    if isinstance(raw, staticmethod):
        raw, method = raw.__func__, False
    elif isinstance(raw, classmethod):
        raw, method = raw.__func__, True
    return (raw, method) if inspect.isfunction(raw) else None


def _named(function, name):
    """What ``name`` stands for inside ``function``: a variable of an enclosing function (a class made
    in a function), else a global; None when neither."""
    code = getattr(function, "__code__", None)
    if code is not None and name in code.co_freevars:
        try:
            return function.__closure__[code.co_freevars.index(name)].cell_contents
        except ValueError:      # (a cell not filled yet)
            return None
    return getattr(function, "__globals__", {}).get(name)


def _callee(func, function, cls):
    """The function of the user's that the call expression ``func`` in ``function`` reaches (as
    ``_plain``): a global ``drop_path(...)``, a method ``self._augment(...)``, ``super().call(...)``;
    None otherwise. ``cls``: the class whose ``call`` is being read (None: globals only)."""
    if isinstance(func, ast.Name):
        return _plain(_named(function, func.id), False)
    if cls is None or not isinstance(func, ast.Attribute):
        return None
    mro = cls.__mro__
    if isinstance(func.value, ast.Name) and func.value.id == "self":
        return next((_plain(vars(k)[func.attr], True) for k in mro if func.attr in vars(k)), None)
    if isinstance(func.value, ast.Call) and isinstance(func.value.func, ast.Name) and func.value.func.id == "super":
        # the classes after the one defining ``function`` (its ``__class__`` cell), as super() looks them up
        owner = _named(function, "__class__")
        if owner in mro:
            return next((_plain(vars(k)[func.attr], True) for k in mro[mro.index(owner) + 1:]
                         if func.attr in vars(k)), None)
    return None


def _handed_on(tree, name, function, cls):
    """(function, the name of its parameter) for each call in ``tree`` handing ``name`` on, by position
    or keyword, to a function of the user's (``_callee``; glassnet's own are not read)."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        places = [(j, None) for j, arg in enumerate(node.args) if isinstance(arg, ast.Name) and arg.id == name]
        places += [(None, kw.arg) for kw in node.keywords
                   if kw.arg is not None and isinstance(kw.value, ast.Name) and kw.value.id == name]
        found = _callee(node.func, function, cls) if places else None
        if found is None or str(found[0].__module__).split(".")[0] == "glassnet":
            continue
        callee, method = found
        try:
            parameters = list(inspect.signature(callee).parameters.values())[1 if method else 0:]
        except (TypeError, ValueError):
            continue
        named = {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        starred = any(isinstance(arg, ast.Starred) for arg in node.args)
        for position, keyword in places:
            if keyword is not None and keyword in named:
                yield callee, keyword
            elif keyword is None and not starred and position < len(parameters) and parameters[position].kind in (
                    inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
                yield callee, parameters[position].name


def branches_on_training(function, name="training", cls=None, _seen=None):
    """Whether ``function``'s source holds a test reading ``name``, or hands ``name`` on to a function
    of the user's that tests it (``_handed_on``; ``cls`` the class whose ``call`` it is, for
    ``self.method(...)`` and ``super().call(...)``); None where ``function``'s source cannot be read."""
    seen = set() if _seen is None else _seen
    seen.add((function, name))
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, (ast.If, ast.IfExp, ast.While)):
            tests = [node.test]
        elif isinstance(node, ast.BoolOp):
            tests = node.values
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            tests = [node.operand]
        else:
            continue
        if any(_reads(test, name) for test in tests):
            return True
    # the flag handed on: a branch there is the call's too (Swin's DropPath reaches drop_path's test
    # only so, and was drawn once, for None: fit never dropped a path, where Keras drops)
    return any((callee, parameter) not in seen and branches_on_training(callee, parameter, cls, seen)
               for callee, parameter in _handed_on(tree, name, function, cls))


_BRANCHES = {}


def branches(model):
    """Whether ``model``'s ``call`` takes ``training`` and tests it (read once per class)."""
    cls = type(model)
    if cls not in _BRANCHES:
        try:
            takes = "training" in inspect.signature(cls.call).parameters
        except (TypeError, ValueError):
            takes = False
        found = branches_on_training(cls.call, cls=cls) if takes else False
        if found is None:       # (python -c, a REPL): a branch there would be drawn for None alone
            warn(f"{cls.__name__}.call takes a training argument, but its source cannot be read, so glassnet cannot "
                 f"see whether it branches on it: call is drawn once, with training=None, and a branch on it "
                 f"runs for None in fit and predict alike. Define the class in a file to have each pass run "
                 f"its mode's branch")
        _BRANCHES[cls] = bool(found)
    return _BRANCHES[cls]


def _flat(value):
    if isinstance(value, dict):
        return [t for v in value.values() for t in _flat(v)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _flat(v)]
    return [value]


def draw_both(draw, inputs, walk_back):
    """A ``call`` testing ``training``, drawn twice on ``inputs`` by ``draw(flag)``: with True, then
    False, on the same layers (a layer called in both draws is a shared layer: one set of weights,
    its gradients summed over the calls a backward pass reaches). Each output is a
    ``TrainingSwitch`` of [the True draw's, the False draw's], which a pass gives in its mode.

    The calls of the False draw keep ``training=False`` in every pass (Keras hands the flag down
    to the layers a call calls); the calls of the True draw run in the pass's mode. A pass runs
    only the calls its mode's draw needs: those only the other draw needs are skipped
    (glassnet._switch_skips), those both share (the block's input, the calls before it) run once,
    so a block costs its pass's branch's work, and predict moves no random draw of the training
    draw and no moving statistic.

    ``walk_back(outputs, stop)`` (graph._walk_back) lists the calls each draw made."""
    from . import _dead_calls as dead_calls
    from .layers.symbolic import is_symbolic
    from .layers.training_switch import TrainingSwitch
    stop = [t for t in _flat(inputs) if is_symbolic(t)]

    def made(outputs):
        calls, _ = walk_back(_flat(outputs), stop=stop)
        return calls + [t for t in dead_calls.carried(calls) if all(t is not c for c in calls)]

    trained = draw(True)
    for tensor in made(trained):
        if tensor.training is True:     # (a layer given training=True by the call: the pass's mode)
            tensor.training = None
    inferred = draw(False)
    for tensor in made(inferred):
        if tensor.training is None:
            tensor.training = False
    several = isinstance(trained, list)
    if several != isinstance(inferred, list) or (several and len(trained) != len(inferred)):
        count = lambda outputs: len(outputs) if isinstance(outputs, list) else 1
        raise ValueError(f"call: drawn with training=True it returned {count(trained)} tensor(s), with "
                         f"training=False {count(inferred)}; both branches must return as many, of one shape each")
    pairs = list(zip(trained, inferred)) if several else [(trained, inferred)]
    switched = []
    for k, (a, b) in enumerate(pairs):
        if tuple(a.shape[1:]) != tuple(b.shape[1:]):
            raise ValueError(f"call: output {k} has shape {a.shape} drawn with training=True and {b.shape} with "
                             f"training=False; both branches must give one shape")
        switched.append(TrainingSwitch()([a, b]))
    return switched if several else switched[0]
