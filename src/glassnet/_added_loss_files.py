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

A node read by several terms is one node, as it was one object when drawn: read back, each term
computes what it did (the same operations in the same order, so training goes on bit for bit).
"broadcast" is a batch term with a tensor (added_losses.Broadcast), made again by
``added_losses.broadcast``. A config comes from a file, so ``terms_from_config`` trusts nothing.
"""
import math
import numbers

from . import added_losses
from .added_losses import Broadcast, BatchScalar

_BINARY = ("add", "subtract", "multiply", "divide")
MAX_NODES = 100_000         # a file's table: more is no model's (each node is a few bytes of JSON)


def terms_config(terms, caller="save_model"):
    """``terms`` (an ``added_losses.Terms``) as ``{"nodes", "terms"}``. Refused: a number that is
    not finite (JSON has none; a file reader would refuse it)."""
    nodes, place = [], {}

    def put(term):
        if id(term) in place:
            return place[id(term)]
        if isinstance(term, Broadcast):
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
    made = []
    for k, node in enumerate(config["nodes"]):
        where = f"node {k}"
        op = node.get("op") if isinstance(node, dict) else None
        keys = set(node) if isinstance(node, dict) else None
        if op in ("mean", "sum", "count") and keys in ({"op", "call"}, {"op", "call", "whole"}) \
                and node.get("whole", True) is True and not (node.get("whole") and op != "sum"):
            term = BatchScalar(op, tensor=tensors[_index(node["call"], len(tensors), f"{where} 'call'")])
            if node.get("whole"):
                term.whole = True
        elif op == "number" and keys == {"op", "value"} and isinstance(node["value"], numbers.Real) \
                and not isinstance(node["value"], bool) and math.isfinite(node["value"]):
            term = BatchScalar("number", number=float(node["value"]))
        elif op in _BINARY and keys == {"op", "operands"} and isinstance(node["operands"], list) \
                and len(node["operands"]) == 2:
            term = BatchScalar(op, [_operand(made, i, f"{where} operand") for i in node["operands"]])
        elif op == "broadcast" and keys == {"op", "with", "term", "call", "reverse"} and node["with"] in _BINARY \
                and isinstance(node["reverse"], bool) and not (node["with"] == "divide" and not node["reverse"]):
            tensor = tensors[_index(node["call"], len(tensors), f"{where} 'call'")]
            term = added_losses.broadcast(node["with"], _operand(made, node["term"], f"{where} 'term'"), tensor,
                                          node["reverse"])
        else:
            raise _refuse(f"{where} must be {{'op': 'mean'|'sum'|'count', 'call': int}} (and 'whole': true for a "
                          f"sum), {{'op': 'number', 'value': finite number}}, {{'op': 'add'|'subtract'|'multiply'|"
                          f"'divide', 'operands': [node, node]}} or {{'op': 'broadcast', 'with': ..., 'term': node, "
                          f"'call': int, 'reverse': bool}}, got {node!r:.200}")
        made.append(term)
    return [_operand(made, i, "'terms' entry", top=True) for i in config["terms"]]


def _operand(made, i, what, top=False):
    """Node ``i`` of those ``made`` so far; a broadcast is a term of its own (add_loss took it
    as it was, arithmetic on it is refused), never an operand."""
    term = made[_index(i, len(made), what)]
    if not top and isinstance(term, Broadcast):
        raise _refuse(f"{what} {i} is a broadcast, which is a term by itself, read by no other node")
    if top and term.op == "count":
        raise _refuse(f"{what} {i} is a count, which is part of a term, never one")
    return term
