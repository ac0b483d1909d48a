"""A warning for a ``call`` that branches on its ``training`` argument.

glassnet draws a layer's or model's ``call`` once, on symbolic tensors, with ``training=None``
(glassnet.graph): a Python branch on it is taken once, for None, and the graph it drew then runs in
``fit`` and ``predict`` alike. keras.io's stochastic depth (DropPath) is written so,

    def call(self, x, training=None):
        if training:
            ... keras.random.uniform((batch_size, 1, 1, 1), seed=...) ...
        return x

and drew the identity, silently: the model trained without its drop path, where Keras' drops.
``check`` reads the source of ``call`` (nothing is run) and warns, once per class, where a test
(``if``, ``while``, ``x if training else y``, ``and``/``or``, ``not``) reads ``training``; a test
``training is None`` alone (Keras' default idiom before reading the flag) does not count.
"""
import ast
import inspect
import textwrap

from ._warnings import warn

_WARNED = set()


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


def branches_on_training(function, name="training"):
    """Whether ``function``'s source holds a test reading ``name``; False where it cannot be read."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return False
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
    return False


def check(cls):
    """Warn, once for ``cls``, when its ``call`` branches on ``training``."""
    if cls in _WARNED:
        return
    _WARNED.add(cls)
    if branches_on_training(cls.call):
        warn(f"{cls.__name__}.call branches on its training argument, but glassnet draws call once, with "
             f"training=None: only the branch for None is in the model, and it runs in fit and predict alike "
             f"(Keras runs the training branch in fit). Move what depends on the mode into a layer that reads "
             f"it itself: Dropout, GaussianNoise, BatchNormalization, ... (keras.io's DropPath is "
             f"Dropout(rate, noise_shape=(None, 1, 1, 1))), or a gn.Layer with forward(x, training)")
