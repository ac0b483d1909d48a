"""A drawn model's ``add_loss`` terms in its config (``"added_losses"``), and read back.

A term is an expression over the graph's calls (glassnet.added_losses): reductions of a call's
output, numbers, and +, -, * and / of them. A config holds them as a table of nodes, each after
the nodes it reads, and the terms as indices into that table::

    {"nodes": [{"op": "mean", "call": 3},               # ops.mean(output of call 3)
               {"op": "sum", "call": 5, "whole": true}, # a tensor given to add_loss: summed whole
               {"op": "number", "value": -0.5},
               {"op": "multiply", "operands": [2, 0]},  # -0.5 * mean(...)
               {"op": "broadcast", "with": "subtract", "term": 0, "call": 4, "reverse": false}],
     "terms": [3, 1, 4]}                                # model.losses' order

Batch vectors (glassnet._batch_vectors, ``ops.mean(x, axis=0)``) are nodes of the same table::

    {"op": "batch_mean", "call": 2, "keepdims": false}  # ops.mean(output of call 2, axis=0)
    {"op": "constant", "value": [1.0, 2.0]}             # an array (or number) beside batch vectors
    {"op": "reduce_mean", "operand": 7, "axis": [0], "keepdims": false}   # ("whole": true: add_loss(v))

and add, subtract, multiply, divide read them as operands: a vector operand makes a batch vector
(a batch scalar among them is one of shape ()), as the operators do when drawn; a reduction that
leaves no axis is the term ``ops.mean(vector)`` is.

A node read by several terms is one node, as it was one object when drawn: read back, each term
computes what it did (the same operations in the same order, so training goes on bit for bit).
"broadcast" is a batch term with a tensor (added_losses.Broadcast), made again by
``added_losses.broadcast``. A config comes from a file, so ``terms_from_config`` trusts nothing.
"""
import math
import numbers

import numpy as np

from . import _batch_vectors, added_losses
from ._batch_vectors import BatchVector
from .added_losses import Broadcast, BatchScalar

_BINARY = ("add", "subtract", "multiply", "divide")
MAX_NODES = 100_000         # a file's table: more is no model's (each node is a few bytes of JSON)
# A term is computed (its value, its gradient, its leaves) by walking it as a tree, a node read
# twice walked twice, recursively: a table of a few nodes, each adding the one before to itself,
# would walk 2 ** len(nodes) of them, and a chain of nodes deeper than Python's recursion fails
# (near 500 levels). A term read back walks MAX_NODES nodes at most, MAX_DEPTH deep.
MAX_DEPTH = 256


def terms_config(terms, caller="save_model"):
    """``terms`` (an ``added_losses.Terms``) as ``{"nodes", "terms"}``. Refused: a number that is
    not finite (JSON has none; a file reader would refuse it)."""
    nodes, place = [], {}

    def put(term):
        if id(term) in place:
            return place[id(term)]
        if isinstance(term, BatchVector) and term.op == "term":
            return put(term.term)               # (the batch scalar itself: combine wraps it again)
        if isinstance(term, BatchScalar) and term.op == "vector":
            place[id(term)] = put(term.vector)  # (a reduction to shape (): read back as this term)
            if getattr(term, "whole", False):
                nodes[place[id(term)]]["whole"] = True
            return place[id(term)]
        if isinstance(term, BatchVector):
            node = _vector_node(term, terms, put, caller)
        elif isinstance(term, Broadcast):
            op, scalar, leaf, reverse = term.elementwise
            node = {"op": "broadcast", "with": op, "term": put(scalar), "call": terms.calls[id(leaf)],
                    "reverse": bool(reverse)}
        elif term.op in ("mean", "sum", "count"):
            node = {"op": term.op, "call": terms.calls[id(term)]}
            if getattr(term, "whole", False):
                node["whole"] = True
        elif term.op == "number":
            if not math.isfinite(term.number):
                raise ValueError(f"{caller}: an add_loss term holds the number {term.number!r}, which a model file "
                                 f"cannot store (JSON has no NaN or infinity)")
            node = {"op": "number", "value": float(term.number)}
        else:
            node = {"op": term.op, "operands": [put(operand) for operand in term.operands]}
        place[id(term)] = len(nodes)
        nodes.append(node)
        return place[id(term)]
    return {"nodes": nodes, "terms": [put(term) for term in terms.terms]}


def _vector_node(term, terms, put, caller):
    """A batch vector node's entry in the table (its operands put first)."""
    if term.op in _batch_vectors.LEAVES:
        return {"op": term.op, "call": terms.calls[id(term)], "keepdims": bool(term.keepdims),
                "shape": list(term.shape)}
    if term.op == "constant":
        if not np.all(np.isfinite(term.value_)):
            raise ValueError(f"{caller}: an add_loss term holds a constant that is not finite, which a model file "
                             f"cannot store")
        return {"op": "constant", "value": term.value_.tolist()}
    if term.op in _batch_vectors.REDUCTIONS:
        return {"op": term.op, "operand": put(term.operands[0]), "axis": list(term.axis),
                "keepdims": bool(term.keepdims)}
    return {"op": term.op, "operands": [put(operand) for operand in term.operands]}


def _vector_from_node(node, made, tensors, where):
    """The batch vector (or term) a vector node describes, or None when ``node`` is none of them."""
    op, keys = node.get("op"), set(node)
    if op in _batch_vectors.LEAVES and keys == {"op", "call", "keepdims", "shape"}:
        tensor = tensors[_index(node["call"], len(tensors), f"{where} 'call'")]
        shape, keepdims = node["shape"], node["keepdims"]
        # (the shape is kept: a Sequential reads its calls through markers, which have none)
        sample = None if not hasattr(tensor, "shape") else (None, *_batch_vectors.sample_shape_of(tensor))
        if not isinstance(keepdims, bool) or not isinstance(shape, list) or not all(
                n is None or isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape) \
                or (keepdims and shape[:1] != [1]) or (sample is not None and tuple(shape[int(keepdims):]) != sample[1:]):
            raise _refuse(f"{where} must be {{'op': 'batch_mean'|'batch_sum', 'call': int, 'keepdims': bool, "
                          f"'shape': the call's sample shape (after 1 with keepdims)}}, got {node!r:.200}"
                          + (f" (the call's output is {sample})" if sample is not None else ""))
        return _batch_vectors.BatchVector(op, shape, tensor=tensor, keepdims=keepdims)
    if op == "constant" and keys == {"op", "value"}:
        try:
            value = np.asarray(node["value"], dtype=np.float64)
        except (TypeError, ValueError):
            value = None
        if value is None or not np.all(np.isfinite(value)) or value.size > MAX_NODES:
            raise _refuse(f"{where} 'value' must be a finite number or a (nested) list of them, got "
                          f"{node['value']!r:.100}")
        return _batch_vectors.constant(value)
    if op in _batch_vectors.REDUCTIONS and keys in ({"op", "operand", "axis", "keepdims"},
                                                    {"op", "operand", "axis", "keepdims", "whole"}):
        vector = made[_index(node["operand"], len(made), f"{where} 'operand'")]
        axis = node["axis"]
        if not isinstance(vector, BatchVector) or not isinstance(node["keepdims"], bool) \
                or not isinstance(axis, list) or node.get("whole", True) is not True:
            raise _refuse(f"{where} must reduce a batch vector node over a list of its axes ('keepdims': bool), "
                          f"got {node!r:.200}")
        try:
            term = vector.reduce(op[len("reduce_"):], tuple(axis), node["keepdims"])
        except (TypeError, ValueError) as error:
            raise _refuse(f"{where}: {error}") from None
        if node.get("whole"):
            term.whole = True
        return term
    return None


def _refuse(message):
    from .errors import ModelFileError
    return ModelFileError(f"config: 'added_losses' {message}")


def _index(value, below, what):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < below:
        raise _refuse(f"{what} must be an integer from 0 to {below - 1}, got {value!r:.60}")
    return value


def terms_from_config(config, tensors):
    """The terms ``config`` (``terms_config``'s) describes, read from ``tensors`` (every call's
    symbolic output, in the graph's order of calls): each checked (keys, operations, indices:
    a node reads earlier nodes only, and calls of the graph) before any is made."""
    if not isinstance(config, dict) or set(config) != {"nodes", "terms"} or not isinstance(config["nodes"], list) \
            or not isinstance(config["terms"], list) or not config["terms"]:
        raise _refuse(f"must be {{'nodes': [...], 'terms': [node, ...]}} (one term or more), got {config!r:.200}")
    if len(config["nodes"]) > MAX_NODES or len(config["terms"]) > MAX_NODES:
        raise _refuse(f"holds more than {MAX_NODES} nodes or terms")
    made, sizes, depths = [], [], []      # (each node's: what walking it visits, and how deep)
    for k, node in enumerate(config["nodes"]):
        where = f"node {k}"
        op = node.get("op") if isinstance(node, dict) else None
        keys = set(node) if isinstance(node, dict) else None
        vector = _vector_from_node(node, made, tensors, where) if isinstance(node, dict) else None
        if vector is not None:
            term = vector
        elif op in ("mean", "sum", "count") and keys in ({"op", "call"}, {"op", "call", "whole"}) \
                and node.get("whole", True) is True and not (node.get("whole") and op != "sum"):
            term = BatchScalar(op, tensor=tensors[_index(node["call"], len(tensors), f"{where} 'call'")])
            if node.get("whole"):
                term.whole = True
        elif op == "number" and keys == {"op", "value"} and isinstance(node["value"], numbers.Real) \
                and not isinstance(node["value"], bool) and math.isfinite(node["value"]):
            term = BatchScalar("number", number=float(node["value"]))
        elif op in _BINARY and keys == {"op", "operands"} and isinstance(node["operands"], list) \
                and len(node["operands"]) == 2:
            a, b = (_operand(made, i, f"{where} operand") for i in node["operands"])
            if isinstance(a, BatchVector) or isinstance(b, BatchVector):
                try:
                    term = _batch_vectors.combine(op, _batch_vectors.operand(a, op), _batch_vectors.operand(b, op))
                except ValueError as error:
                    raise _refuse(f"{where}: {error}") from None
            else:
                term = BatchScalar(op, [a, b])
        elif op == "broadcast" and keys == {"op", "with", "term", "call", "reverse"} and node["with"] in _BINARY \
                and isinstance(node["reverse"], bool) and not (node["with"] == "divide" and not node["reverse"]):
            tensor = tensors[_index(node["call"], len(tensors), f"{where} 'call'")]
            term = added_losses.broadcast(node["with"], _operand(made, node["term"], f"{where} 'term'"), tensor,
                                          node["reverse"])
        else:
            raise _refuse(f"{where} must be {{'op': 'mean'|'sum'|'count', 'call': int}} (and 'whole': true for a "
                          f"sum), {{'op': 'number', 'value': finite number}}, {{'op': 'add'|'subtract'|'multiply'|"
                          f"'divide', 'operands': [node, node]}} or {{'op': 'broadcast', 'with': ..., 'term': node, "
                          f"'call': int, 'reverse': bool}}, or a batch vector's ('batch_mean'|'batch_sum', 'constant', "
                          f"'reduce_mean'|'reduce_sum'), got {node!r:.200}")
        read = (node["operands"] if op in _BINARY else [node["term"]] if op == "broadcast"
                else [node["operand"]] if op in _batch_vectors.REDUCTIONS else [])
        sizes.append(1 + sum(sizes[i] for i in read) + (2 if op == "broadcast" else 0))
        depths.append(1 + max((depths[i] for i in read), default=0) + (1 if op == "broadcast" else 0))
        if sizes[-1] > MAX_NODES or depths[-1] > MAX_DEPTH:
            raise _refuse(f"{where} is a term of {sizes[-1]} operations nested {depths[-1]} deep (each node read "
                          f"counted each time it is read); a term read back holds {MAX_NODES} at most, nested "
                          f"{MAX_DEPTH} deep at most")
        made.append(term)
    terms = [_operand(made, i, "'terms' entry", top=True) for i in config["terms"]]
    if sum(sizes[i] for i in config["terms"]) > MAX_NODES:
        raise _refuse(f"holds terms of more than {MAX_NODES} operations in all (each node counted each time it is "
                      f"read)")
    return terms


def _operand(made, i, what, top=False):
    """Node ``i`` of those ``made`` so far; a broadcast is a term of its own (add_loss took it
    as it was, arithmetic on it is refused), never an operand."""
    term = made[_index(i, len(made), what)]
    if not top and isinstance(term, Broadcast):
        raise _refuse(f"{what} {i} is a broadcast, which is a term by itself, read by no other node")
    if top and term.op == "count":
        raise _refuse(f"{what} {i} is a count, which is part of a term, never one")
    if top and isinstance(term, BatchVector):
        raise _refuse(f"{what} {i} is a batch vector, which is part of a term (reduced by a 'reduce_mean' or "
                      f"'reduce_sum' node), never one")
    return term
