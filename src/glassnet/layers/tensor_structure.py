"""The structural ``keras.ops`` on symbolic tensors: einsum, take, take_along_axis, pad, split, tile,
repeat, flip, broadcast_to, zeros_like, ones_like, top_k, tril, triu, and constants inside
concatenate/stack.

Each is an op of ``TensorFunction`` (layers/tensor_functions.py), which hands this module its
arguments, shapes, forward and backward. Axes count the batch axis as 0 (Keras' count); nothing
moves, joins, pads or gathers along the batch axis (refused by name), so a batch computes as each
sample would on its own. Constant operands (einsum's arrays, take's indices or table, a constant
in a join) live in the arguments as JSON lists, cast once to the layer's dtype when first used.

Gradients: einsum's by einsum of ``g`` and the other operands; every gather (take, take_along_axis,
repeat, pad's reflect/symmetric/edge/wrap) by ``np.add.at`` scatter of ``g`` to the entries read;
split writes each piece's part; tile sums the copies; tril/triu keep the gradient of the entries
they keep; integer outputs (top_k's indices) and
zeros_like/ones_like pass no gradient (zeros), as TensorFlow's.
"""
import numbers
import string

import numpy as np

from .tensor_ops import constant_in_dtype, unbroadcast
from .tensor_shapes import sample_axes

# each op's Keras arguments besides its tensors (None: required or absent); what ops.py fills in
ARGUMENTS = {
    "einsum": {"subscripts": None, "constants": None},
    "take": {"x": None, "indices": None, "axis": None},
    "take_along_axis": {"indices": None, "axis": None},
    "pad": {"pad_width": None, "mode": "constant", "constant_values": None},
    "split": {"indices_or_sections": None, "axis": 0, "index": 0},
    "tile": {"repeats": None},
    "repeat": {"repeats": None, "axis": None},
    "flip": {"axis": None},
    "broadcast_to": {"shape": None},
    "zeros_like": {"dtype": None}, "ones_like": {"dtype": None},
    "top_k": {"k": None, "sorted": True, "output": "values"},
    "tril": {"k": 0}, "triu": {"k": 0},
}
PAD_MODES = ("constant", "reflect", "symmetric", "edge", "wrap")


def merges(op, args):
    """Whether the node takes a list of tensors: einsum of several, take_along_axis' tensor indices."""
    if op == "einsum":
        return sum(c is None for c in args["constants"]) > 1
    return op == "take_along_axis" and args["indices"] is None


# -- arguments -----------------------------------------------------------------------------------
def _int(value, what):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what}: expected an integer, got {value!r:.60}")
    return int(value)


def _ints(value, what):
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_int(v, what) for v in np.asarray(value).ravel().tolist()] if isinstance(value, np.ndarray) \
            else [_int(v, what) for v in value]
    return _int(value, what)


def constant_list(value, what, integers=False):
    """A constant operand as a JSON list (checked: numbers, finite; integers where indices)."""
    array = np.asarray(value)
    if array.dtype.kind not in ("iu" if integers else "biuf"):
        raise TypeError(f"{what} must be an array of {'integers' if integers else 'numbers'}, got {array.dtype} "
                        f"({type(value).__name__})")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError(f"{what} must be finite; it holds inf or nan")
    return array.tolist()


def arguments(op, args, who):
    """``args`` (Keras' defaults filled in) checked, in JSON's forms as the config keeps them."""
    if op == "einsum":
        if not isinstance(args["subscripts"], str):
            raise TypeError(f"{who}: subscripts must be a string ('bij,jk->bik'), got {args['subscripts']!r:.60}")
        if not isinstance(args["constants"], (list, tuple)):
            raise TypeError(f"{who}: constants must be a list (None where a tensor goes), got {args['constants']!r:.60}")
        args["constants"] = [None if c is None else constant_list(c, f"{who}: an einsum constant") for c in args["constants"]]
        if all(c is not None for c in args["constants"]):
            raise ValueError(f"{who}: einsum needs a tensor among its operands")
    elif op == "take":
        if (args["x"] is None) == (args["indices"] is None):
            raise ValueError(f"{who}: take needs one constant, x (a table read at a tensor's indices) or indices "
                             f"(read from a tensor), got {'both' if args['x'] is not None else 'neither'}")
        if args["x"] is not None:
            args["x"] = constant_list(args["x"], f"{who}: take's x")
        else:
            args["indices"] = constant_list(args["indices"], f"{who}: take's indices", integers=True)
    elif op == "take_along_axis" and args["indices"] is not None:
        args["indices"] = constant_list(args["indices"], f"{who}: take_along_axis' indices", integers=True)
    elif op == "pad":
        width = np.asarray(args["pad_width"]) if args["pad_width"] is not None else None
        if width is None or width.dtype.kind not in "iu" or width.ndim != 2 or width.shape[1] != 2 or (width < 0).any():
            raise ValueError(f"{who}: pad_width must be one (before, after) pair of non-negative integers per axis, "
                             f"the batch axis' (0, 0) first, got {args['pad_width']!r:.60}")
        args["pad_width"] = width.tolist()
        if args["mode"] not in PAD_MODES:
            raise ValueError(f"{who}: mode must be one of {', '.join(PAD_MODES)}, got {args['mode']!r:.40}")
        value = args["constant_values"]
        if value is not None:
            if args["mode"] != "constant":
                raise ValueError(f"{who}: constant_values is for mode='constant', not {args['mode']!r}")
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
                raise TypeError(f"{who}: constant_values must be a number, got {value!r:.40}")
            args["constant_values"] = value.item() if isinstance(value, np.generic) else value
    elif op == "split":
        args["indices_or_sections"] = _ints(args["indices_or_sections"], f"{who}: indices_or_sections")
        args["axis"], args["index"] = _int(args["axis"], f"{who}: axis"), _int(args["index"], f"{who}: index")
    elif op in ("tile", "broadcast_to"):
        name = "repeats" if op == "tile" else "shape"
        value = args[name]
        if not isinstance(value, (list, tuple, numbers.Integral)) or isinstance(value, bool):
            raise TypeError(f"{who}: {name} must be a tuple of integers, got {value!r:.60}")
        value = list(value) if isinstance(value, (list, tuple)) else [value]
        args[name] = [None if v is None and op == "broadcast_to" else _int(v, f"{who}: {name}") for v in value]
    elif op == "repeat":
        args["repeats"] = _ints(args["repeats"], f"{who}: repeats")
        args["axis"] = None if args["axis"] is None else _int(args["axis"], f"{who}: axis")
    elif op == "flip":
        axis = args["axis"]
        args["axis"] = [_int(a, f"{who}: axis") for a in axis] if isinstance(axis, (list, tuple)) else \
            None if axis is None else _int(axis, f"{who}: axis")
    elif op in ("zeros_like", "ones_like") and args["dtype"] is not None:
        from .._keras_helpers import standardize_dtype
        dtype = np.dtype(standardize_dtype(args["dtype"]))
        if dtype.kind != "f":
            raise ValueError(f"{who}: a model's values are floats of its dtype: dtype must be a float dtype, "
                             f"got {dtype.name}")
        args["dtype"] = dtype.name
    elif op == "top_k":
        args["k"] = _int(args["k"], f"{who}: k")
        if args["k"] < 0:             # (0: an empty last axis, as Keras')
            raise ValueError(f"{who}: k must be 0 or more, got {args['k']}")
        if args["output"] not in ("values", "indices"):
            raise ValueError(f"{who}: output must be 'values' or 'indices', got {args['output']!r:.40}")
        args["sorted"] = bool(args["sorted"])
    elif op in ("tril", "triu"):
        args["k"] = _int(args["k"], f"{who}: k")
    return args


# -- shapes (sample shapes: None where any size) -----------------------------------------------------
def output_shape(op, args, shape, who):
    """The sample shape of the output for input sample ``shape`` (a list of them where it merges)."""
    if op == "einsum":
        shapes = shape if merges(op, args) else [shape]
        return _einsum_plan(args, [tuple(s) for s in shapes], who)[2]
    if op == "take_along_axis":
        return _along_shape(args, shape, who)
    shape = tuple(shape)
    rank = len(shape) + 1
    full = (None, *shape)
    if op == "take":
        if args["x"] is not None:       # a table read at the indices: the batch axis is the indices'
            table = np.shape(args["x"])
            axis = 0 if args["axis"] is None else args["axis"]
            if args["axis"] is not None and not (-len(table) <= axis < len(table)):
                raise ValueError(f"{who}: take's axis {axis} is outside x, a table of shape {table}")
            if args["axis"] is not None and axis % len(table) != 0:
                raise ValueError(f"{who}: take's axis={axis} of a table {table} puts the indices' batch axis "
                                 f"after axis {axis % len(table) - 1} of the table; give axis=0 (or None)")
            return shape + (table[1:] if args["axis"] is not None else ())
        if args["axis"] is None:
            raise ValueError(f"{who}: take with axis=None reads the flattened tensor, the batch axis too; while a "
                             f"model is drawn give a sample axis (1 to {rank - 1})")
        (a,) = sample_axes(args["axis"], rank, who, op)
        _in_range(args["indices"], full[a], who, op)
        return full[1:a] + np.shape(args["indices"]) + full[a + 1:]
    if op == "pad":
        width = args["pad_width"]
        if len(width) != rank:
            raise ValueError(f"{who}: pad_width has {len(width)} pairs for tensors of {rank} axes (batch, *sample)")
        if width[0] != [0, 0]:
            raise ValueError(f"{who}: pad_width {tuple(map(tuple, width))} pads the batch axis; its pair must be (0, 0)")
        for n, (before, after) in zip(shape, width[1:]):
            if args["mode"] in ("reflect", "symmetric") and n is not None and max(before, after) > n - (args["mode"] == "reflect"):
                raise ValueError(f"{who}: pad of mode {args['mode']!r} by {max(before, after)} on an axis of size {n}: "
                                 f"at most {n - (args['mode'] == 'reflect')} (as TensorFlow's)")
        return tuple(None if n is None else n + sum(w) for n, w in zip(shape, width[1:]))
    if op == "split":
        (a,) = sample_axes(args["axis"], rank, who, op)
        start, stop = _piece(args, full[a], who)
        out = list(shape)
        out[a - 1] = None if stop is None else stop - start
        return tuple(out)
    if op == "tile":
        reps = args["repeats"]
        if len(reps) > rank or (len(reps) == rank and reps[0] != 1):
            raise ValueError(f"{who}: tile's repeats {tuple(reps)} would repeat the batch axis (or add axes before it); "
                             f"give the sample axes' repeats, {rank - 1} at most")
        if any(r < 0 for r in reps):
            raise ValueError(f"{who}: tile's repeats must be 0 or more, got {tuple(reps)}")
        reps = [1] * (rank - len(reps)) + reps
        return tuple(None if n is None else n * r for n, r in zip(shape, reps[1:]))
    if op == "repeat":
        if args["axis"] is None:
            raise ValueError(f"{who}: repeat with axis=None flattens the tensor, the batch axis too; give a sample axis")
        (a,) = sample_axes(args["axis"], rank, who, op)
        reps = args["repeats"]
        out = list(shape)
        if isinstance(reps, list):
            if full[a] is not None and len(reps) not in (1, full[a]):
                raise ValueError(f"{who}: repeat's repeats has {len(reps)} counts for an axis of size {full[a]}")
            out[a - 1] = sum(reps) if len(reps) == full[a] or full[a] is None and len(reps) > 1 else \
                (None if full[a] is None else full[a] * reps[0])
        else:
            out[a - 1] = None if full[a] is None else full[a] * reps
        return tuple(out)
    if op == "flip":
        if args["axis"] is None:
            raise ValueError(f"{who}: flip with axis=None reverses every axis, the batch axis too; give sample axes")
        sample_axes(args["axis"], rank, who, op)
        return shape
    if op == "broadcast_to":
        target = args["shape"]
        if len(target) != rank or target[0] not in (None, -1):
            raise ValueError(f"{who}: broadcast_to's shape {tuple(target)} must be the full shape of the same rank as "
                             f"tensors {full}, the batch's entry None")
        for n, t in zip(shape, target[1:]):
            if n not in (None, 1, t):
                raise ValueError(f"{who}: tensors {full} do not broadcast to {tuple(target)}")
        return tuple(target[1:])
    if op in ("zeros_like", "ones_like"):
        return shape
    if op == "top_k":
        if not shape or shape[-1] is not None and shape[-1] < args["k"]:
            raise ValueError(f"{who}: top_k's k={args['k']} needs a last sample axis of {args['k']} or more, got "
                             f"tensors {full}")
        return shape[:-1] + (args["k"],)
    if op in ("tril", "triu"):
        if len(shape) < 2:
            raise ValueError(f"{who}: {op} works on the last two axes, which for tensors {full} would take in the batch "
                             f"axis; it needs two sample axes or more")
        return shape
    raise ValueError(f"{who}: unknown structural op {op!r}")


def _in_range(indices, size, who, op):
    flat = np.asarray(indices).ravel()
    if size is not None and flat.size and not (-size <= flat.min() and flat.max() < size):
        raise ValueError(f"{who}: {op}'s indices {flat.min()}..{flat.max()} are outside an axis of size {size}")


def _piece(args, size, who):
    """split's piece ``index`` as (start, stop) along an axis of ``size`` (stop None: unknown)."""
    split, k = args["indices_or_sections"], args["index"]
    if isinstance(split, int):
        if split < 1 or not 0 <= k < split:
            raise ValueError(f"{who}: split into {split} sections has no piece {k}")
        if size is None:
            return 0, None
        if size % split:
            raise ValueError(f"{who}: split of an axis of size {size} into {split} equal sections: {size} is not "
                             f"a multiple of {split}")
        return k * size // split, (k + 1) * size // split
    if not 0 <= k <= len(split):
        raise ValueError(f"{who}: split at {split} has no piece {k}")
    bounds = [0, *split, size]
    start, stop = bounds[k], bounds[k + 1]
    if size is None:
        return start, None if stop is None else stop
    start, stop = min(start, size), min(stop, size)
    return start, max(start, stop)


def _along_shape(args, shape, who):
    x, idx = (shape if merges("take_along_axis", args) else (shape, None))
    x = tuple(x)
    rank = len(x) + 1
    if args["axis"] is None:
        raise ValueError(f"{who}: take_along_axis with axis=None reads the flattened tensor, the batch axis too; "
                         f"give a sample axis")
    (a,) = sample_axes(args["axis"], rank, who, "take_along_axis")
    full = (None, *x)
    ind = (None, *idx) if idx is not None else np.shape(args["indices"])
    if len(ind) != rank:
        raise ValueError(f"{who}: take_along_axis' indices of shape {ind} need the {rank} axes of tensors {full} "
                         f"(a constant's batch axis of size 1)")
    if idx is None and ind[0] != 1:
        raise ValueError(f"{who}: take_along_axis' constant indices {ind} would change the batch axis; give it size 1")
    if idx is None:
        _in_range(args["indices"], full[a], who, "take_along_axis")
    out = []
    for k, (n, m) in enumerate(zip(full, ind)):
        if k == a:
            out.append(m)
        elif n == m or m == 1 or k == 0:
            out.append(n)
        elif n == 1 or n is None or m is None:
            out.append(m if n in (1, None) else n)
        else:
            raise ValueError(f"{who}: take_along_axis of tensors {full} at indices {ind}: sizes {n} and {m} do not "
                             f"broadcast")
    return tuple(out[1:])


# -- einsum ---------------------------------------------------------------------------------------
def _einsum_plan(args, tensor_shapes, who):
    """(explicit subscripts of each operand, output subscripts, output sample shape) with '...'
    written out, the batch letter checked: each tensor's first, in no constant, the output's first."""
    constants = args["constants"]
    shapes, t = [], iter(tensor_shapes)
    for c in constants:
        shapes.append((None, *next(t)) if c is None else np.shape(c))
    inputs, out = explicit_subscripts(args["subscripts"], [len(s) for s in shapes], who)
    sizes = {}
    for subs, shape, c in zip(inputs, shapes, constants):
        for letter, n in zip(subs, shape):
            if n is None:
                continue
            if sizes.get(letter, n) != n:
                raise ValueError(f"{who}: einsum {args['subscripts']!r}: index {letter!r} has sizes {sizes[letter]} and {n}")
            sizes[letter] = n
    batch = {subs[0] for subs, c in zip(inputs, constants) if c is None}
    shown = args["subscripts"]
    if len(batch) != 1:
        raise ValueError(f"{who}: einsum {shown!r}: the tensors' first indices (their batch axes) differ; give them "
                         f"one letter")
    (b,) = batch
    for subs, c in zip(inputs, constants):
        if (c is None and subs.count(b) != 1) or (c is not None and b in subs):
            raise ValueError(f"{who}: einsum {shown!r}: the batch index {b!r} must be each tensor's first index, once, "
                             f"and in no constant")
        if c is None and len(set(subs)) != len(subs):
            raise ValueError(f"{who}: einsum {shown!r}: an index twice in one tensor (a diagonal) is not supported")
    if not out or out[0] != b:
        raise ValueError(f"{who}: einsum {shown!r}: the batch index {b!r} must be the output's first index (each "
                         f"sample computed on its own)")
    return inputs, out, tuple(sizes.get(letter) for letter in out[1:])


def explicit_subscripts(subscripts, ranks, who):
    """``subscripts`` with '...' written as letters and the output made explicit (NumPy's rules)."""
    spec = subscripts.replace(" ", "")
    lhs, arrow, rhs = spec.partition("->")
    parts = lhs.split(",")
    if len(parts) != len(ranks):
        raise ValueError(f"{who}: einsum {subscripts!r} names {len(parts)} operands, got {len(ranks)}")
    used = set(spec) - set(".,->")
    if any(ch not in string.ascii_letters for ch in used):
        raise ValueError(f"{who}: einsum {subscripts!r}: indices are letters, '...' and one '->'")
    free = [ch for ch in string.ascii_letters if ch not in used]
    widest = max(rank - len(p.replace("...", "")) if "..." in p else 0 for p, rank in zip(parts, ranks))
    ellipsis = "".join(free[:widest])
    inputs = []
    for p, rank in zip(parts, ranks):
        if "..." in p:
            n = rank - len(p.replace("...", ""))
            p = p.replace("...", ellipsis[widest - n:] if n > 0 else "")
        if len(p) != rank:
            raise ValueError(f"{who}: einsum {subscripts!r}: {p!r} has {len(p)} indices for an operand of {rank} axes")
        inputs.append(p)
    if arrow:
        out = rhs.replace("...", ellipsis)
    else:       # NumPy's implicit output: the broadcast axes, then each index seen once, sorted
        letters = "".join(parts).replace("...", "")
        out = ellipsis + "".join(sorted(ch for ch in set(letters) if letters.count(ch) == 1))
    return inputs, out


# -- computing -------------------------------------------------------------------------------------
def _constant(layer, name, value, dtype=None):
    """A constant argument as an array in the layer's dtype (cast once), on the input's device."""
    cache = layer.__dict__.setdefault("_structure_constants", {})
    if name not in cache:
        array = np.asarray(value)
        cache[name] = array if dtype is not None else constant_in_dtype(layer, array)
    return cache[name]


def _indices(values, size, who, op):
    """A tensor's values (floats in the model's dtype) as integer indices, checked."""
    idx = np.rint(values).astype(np.intp)
    if idx.size and not (np.all(idx >= -size) and np.all(idx < size)):
        raise ValueError(f"{who}: {op}'s indices {idx.min()}..{idx.max()} are outside an axis of size {size}")
    return idx


def forward(layer, x):
    op, args, who = layer.op, layer.arguments, layer.describe()
    if op == "einsum":
        tensors = list(x) if layer.merges else [x]
        inputs, out, _ = _einsum_plan(args, [t.shape[1:] for t in tensors], who)
        operands, t = [], iter(tensors)
        for k, c in enumerate(args["constants"]):
            operands.append(next(t) if c is None else _constant(layer, f"einsum{k}", c))
        layer._plan = (inputs, out, operands)
        return np.einsum(",".join(inputs) + "->" + out, *operands, optimize=len(operands) > 2)
    if op == "take":
        if args["x"] is not None:
            table = _constant(layer, "x", args["x"])
            if args["axis"] is None:
                table = table.reshape(-1)
            return table[_indices(x, table.shape[0], who, op)].astype(x.dtype, copy=False)
        return np.take(x, _constant(layer, "indices", args["indices"], int), axis=args["axis"])
    if op == "take_along_axis":
        data, idx = (x if layer.merges else (x, _constant(layer, "indices", args["indices"], int)))
        axis = args["axis"] % data.ndim
        idx = _indices(idx, data.shape[axis], who, op) if layer.merges else idx
        layer._gather = idx
        return np.take_along_axis(data, idx, axis)
    if op == "pad":
        if args["mode"] == "constant":
            value = args["constant_values"] or 0
            return np.pad(x, args["pad_width"], constant_values=value)
        for axis, index in _pad_indices(args, x.shape):
            x = np.take(x, index, axis=axis)
        return x
    if op == "split":
        start, stop = _piece(args, x.shape[args["axis"]], who)
        return x[(slice(None),) * (args["axis"] % x.ndim) + (slice(start, stop),)]
    if op == "tile":
        return np.tile(x, args["repeats"])
    if op == "repeat":
        return np.take(x, _repeat_index(args, x.shape), axis=args["axis"])
    if op == "flip":
        return np.flip(x, _axes(args["axis"]))
    if op == "broadcast_to":
        return np.broadcast_to(x, (x.shape[0], *args["shape"][1:])).copy()
    if op in ("zeros_like", "ones_like"):
        y = (np.zeros_like if op == "zeros_like" else np.ones_like)(x)
        return y if args["dtype"] is None else y.astype(args["dtype"]).astype(x.dtype, copy=False)
    if op == "top_k":
        order = top_k_indices(x, args["k"])
        layer._gather = order
        return np.take_along_axis(x, order, -1) if args["output"] == "values" else order.astype(x.dtype)
    if op in ("tril", "triu"):
        return (np.tril if op == "tril" else np.triu)(x, args["k"])
    raise ValueError(f"{who}: unknown structural op {op!r}")


def backward(layer, g):
    """dL/d(each input) from dL/dy (``g``); a list where the node merges."""
    op, args, x = layer.op, layer.arguments, layer._x
    if op == "einsum":
        inputs, out, operands = layer._plan
        grads = []
        for k, c in enumerate(args["constants"]):
            if c is not None:
                continue
            others = [(s, v) for j, (s, v) in enumerate(zip(inputs, operands)) if j != k]
            seen = set(out).union(*(s for s, _ in others))
            kept = "".join(ch for ch in inputs[k] if ch in seen)
            grad = np.einsum(",".join([out] + [s for s, _ in others]) + "->" + kept, g, *(v for _, v in others))
            # an index of this operand alone (summed away in the output): its gradient is the same along it
            shape = [operands[k].shape[j] if ch in seen else 1 for j, ch in enumerate(inputs[k])]
            grads.append(np.broadcast_to(grad.reshape(shape), operands[k].shape).astype(g.dtype, copy=True))
        return grads if layer.merges else grads[0]
    if op == "take":
        if args["x"] is not None:
            return np.zeros_like(x)             # integer indices: no gradient
        grad = np.zeros_like(x)
        idx = _constant(layer, "indices", args["indices"], int)
        axis = args["axis"] % x.ndim
        np.add.at(grad, (slice(None),) * axis + (idx,), g)
        return grad
    if op in ("take_along_axis", "top_k"):
        data = x[0] if layer.merges else x
        axis = -1 if op == "top_k" else args["axis"] % data.ndim
        if op == "top_k" and args["output"] == "indices":
            return np.zeros_like(data)
        idx = layer._gather
        # every output entry's source: the index along the axis, its own position on the others
        grid = np.indices(g.shape, sparse=True)
        index = tuple(np.broadcast_to(idx, g.shape) if k == axis % g.ndim else grid[k] for k in range(g.ndim))
        out_shape = tuple(n if k == axis % g.ndim else max(n, m) for k, (n, m) in enumerate(zip(data.shape, g.shape)))
        grad = np.zeros(out_shape, g.dtype)
        np.add.at(grad, index, g)
        grad = unbroadcast(grad, data.shape)
        return [grad, np.zeros_like(x[1])] if layer.merges else grad
    if op == "pad":
        if args["mode"] == "constant":
            return g[tuple(slice(b, n - a) for (b, a), n in zip(args["pad_width"], g.shape))].copy()
        steps = _pad_indices(args, x.shape)
        for axis, index in reversed(steps):
            shape = list(g.shape)
            shape[axis] = x.shape[axis]
            grad = np.zeros(shape, g.dtype)
            np.add.at(grad, (slice(None),) * axis + (index,), g)
            g = grad
        return g
    if op == "split":
        grad = np.zeros_like(x)
        start, stop = _piece(args, x.shape[args["axis"]], layer.describe())
        grad[(slice(None),) * (args["axis"] % x.ndim) + (slice(start, stop),)] = g
        return grad
    if op == "tile":
        reps = [1] * (x.ndim - len(args["repeats"])) + args["repeats"]
        blocks = g.reshape([n for r, s in zip(reps, x.shape) for n in (r, s)])
        return blocks.sum(axis=tuple(range(0, 2 * x.ndim, 2)))
    if op == "repeat":
        grad = np.zeros_like(x)
        np.add.at(grad, (slice(None),) * (args["axis"] % x.ndim) + (_repeat_index(args, x.shape),), g)
        return grad
    if op == "flip":
        return np.flip(g, _axes(args["axis"])).copy()
    if op == "broadcast_to":
        return unbroadcast(g, x.shape)
    if op in ("tril", "triu"):                  # the kept entries take their gradient, the zeroed none
        return (np.tril if op == "tril" else np.triu)(g, args["k"])
    return np.zeros_like(x)                     # zeros_like, ones_like: constant outputs


def top_k_indices(x, k):
    """The indices of the ``k`` largest entries along the last axis, largest first; ties to the
    lower index (TensorFlow's order)."""
    if x.dtype.kind == "f":
        return np.argsort(-x, axis=-1, kind="stable")[..., :k]
    # integers and booleans: -x wraps (uint8's -1 is 255, int8's -(-128) is -128) or is refused
    # (booleans), so sort the reversed axis ascending and read it backwards: the largest first, and
    # among ties the lower index first
    n = x.shape[-1]
    return (n - 1 - np.argsort(x[..., ::-1], axis=-1, kind="stable")[..., ::-1])[..., :k]


def _pad_indices(args, shape):
    """(axis, source index of each output entry) for each padded axis, for pad's index modes."""
    mode = args["mode"]
    return [(k, np.pad(np.arange(n), (b, a), mode=mode)) for k, ((b, a), n) in enumerate(zip(args["pad_width"], shape))
            if b or a]


def _repeat_index(args, shape):
    """repeat's output entries as source indices along its axis."""
    n = shape[args["axis"]]
    reps = args["repeats"]
    return np.repeat(np.arange(n), reps[0] if isinstance(reps, list) and len(reps) == 1 else reps)


def _axes(axis):
    return tuple(axis) if isinstance(axis, list) else axis


# -- constants inside concatenate/stack (a join of tensors) ---------------------------------------------
def join_shapes(args, shapes, who, op):
    """The join's sample shapes, each constant's among the tensors' where it stands."""
    constants = args.get("constants")
    if constants is None:
        return shapes
    rank = len(shapes[0]) + 1 if shapes else None
    out, t = [], iter(shapes)
    for c in constants:
        if c is None:
            out.append(tuple(next(t)))
            continue
        s = np.shape(c)
        if rank is not None and len(s) == rank and s[0] == 1:
            s = s[1:]
        elif rank is not None and len(s) != rank - 1:
            raise ValueError(f"{who}: {op}'s constant of shape {s} among tensors of rank {rank}: give it the "
                             f"sample's axes ({rank - 1}), or a batch axis of size 1 first")
        out.append(tuple(s))
    return out


def join_inputs(layer, xs):
    """The join's operands: the tensors' batches, each constant repeated over the batch."""
    constants = layer.arguments.get("constants")
    if constants is None:
        return list(xs)
    batch = xs[0].shape[0]
    out, t = [], iter(xs)
    for k, c in enumerate(constants):
        if c is None:
            out.append(next(t))
            continue
        array = _constant(layer, f"join{k}", c)
        array = array[0] if array.ndim == xs[0].ndim else array
        out.append(np.broadcast_to(array, (batch, *array.shape)))
    return out


def join_grads(layer, grads):
    """The gradients of the tensors alone (a constant takes none)."""
    constants = layer.arguments.get("constants")
    if constants is None:
        return grads
    return [grad for grad, c in zip(grads, constants) if c is None]
