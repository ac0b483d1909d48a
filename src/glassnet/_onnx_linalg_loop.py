"""ONNX forms of ``glassnet.ops``' linear algebra for matrices of any size: the algorithms of
glassnet._onnx_linalg written as an ONNX ``Loop`` over the n columns (or rows) instead of unrolled,
so that the file's size does not grow with n and n may be left open (``Input((None, None))``,
read with ``Shape`` when the file runs). glassnet._onnx_linalg uses them for matrices over 64 rows
or of an open size.

Each Loop runs n times (its trip count the last axis' size), its body one column's work on the
whole stack of matrices (..., n, n), the iteration number k an int64 scalar; the matrices are
carried from one iteration to the next (``Where`` puts each new row or column in place, an
exact move):

* ``eliminate``: Gaussian elimination with partial pivoting as LAPACK's getrf (at column k the
  row of the largest magnitude at or below k, the first of ties (ArgMax), swapped up; the rows
  below cleared; a zero pivot, a column with nothing left to clear, skipped as getrf skips it),
  the same row operations on a right-hand side, and the determinant's running product (or its
  sign, or the sum of log |u_kk|);
* ``substitute``: back (or forward, ``lower``) substitution, row i found from the rows found
  before it (the other triangle never read: its coefficients are ``Where``'d to zero);
* ``cholesky``: the Cholesky-Banachiewicz factor column by column, and the sum of log diag(L).

The sums run in another order than the unrolled form's (a MatMul over the whole row, the rows
not yet found zeros): the results agree with it and NumPy's LAPACK to rounding.
"""

from . import _onnx_proto as proto


def size(b, x):
    """The size n of ``x``'s last axis, an int64 scalar (a Loop's trip count)."""
    return b.op("Squeeze", [b.op("Shape", [x], start=-1)], "n")


def _positions(b, n):
    """Each row's index (n, 1) and each column's (n,), int64."""
    columns = b.op("Range", [b.ints(0), n, b.ints(1)], "positions")
    return b.op("Unsqueeze", [columns, b.ints([-1])], "rows"), columns


def _filled(b, like, value, leading_only=False):
    """``value`` broadcast to ``like``'s shape (``leading_only``: (..., 1, 1), its leading axes)."""
    shape = b.op("Shape", [like])
    if leading_only:
        shape = b.op("Concat", [b.op("Shape", [like], end=-2), b.ints([1, 1])], axis=0)
    return b.op("Expand", [b.const(value), shape], "filled")


def _loop(b, count, carried, step, hint):
    """``step(body, k, carried)`` for k = 0 .. ``count`` - 1, each returning the new ``carried``
    tensors (of the model's dtype, any shape): the last ones."""
    element = proto.ELEM_TYPES[b.dtype]
    body = b.body(hint)
    k, cond = body.name("k"), body.name("cond")
    names = [body.name("carried") for _ in carried]
    new = [body.op("Identity", [t], "carried") for t in step(body, k, names)]     # each its own name
    inputs = [proto.value_info(k, proto.INT64, []), proto.value_info(cond, proto.BOOL, [])]
    inputs += [proto.value_info(name, element, None) for name in names]
    outputs = [proto.value_info(body.op("Identity", [cond], "cond"), proto.BOOL, [])]
    outputs += [proto.value_info(t, element, None) for t in new]
    graph = proto.graph(hint, body.nodes, body.initializers, inputs, outputs)
    b.adopt(body)
    return b.op_outputs("Loop", [count, "", *carried], [True] * len(carried), "Loop", body=proto.Subgraph(graph))


def _at(body, k):
    """``[k]`` and ``[k + 1]``, a Slice's start and end."""
    start = body.op("Unsqueeze", [k, body.ints([0])])
    return start, body.op("Add", [start, body.ints([1])])


def _entry(body, m, start, stop):
    """m[..., k:k+1, k:k+1]."""
    return body.op("Slice", [m, body.op("Concat", [start, start], axis=0), body.op("Concat", [stop, stop], axis=0),
                             body.ints([-2, -1])], "diagonal")


def eliminate(b, a, rhs=None, accumulate=None):
    """LU with partial pivoting of ``a`` (..., n, n), the same row operations on ``rhs`` (..., n,
    m) or None: ``(u, rhs)``, or with ``accumulate`` ("det", "sign" or "logabs") that of the
    pivots and swaps, (...); a tuple of those: a tuple of them, one Loop."""
    n = size(b, a)
    rows, columns = _positions(b, n)
    carried = [a] + ([rhs] if rhs is not None else [])
    what = (accumulate,) if isinstance(accumulate, str) else tuple(accumulate or ())
    for kind in what:
        carried.append(_filled(b, a, 0.0 if kind == "logabs" else 1.0, leading_only=True))

    def step(body, k, carried):
        a, *rest = carried
        start, stop = _at(body, k)
        column = body.op("Slice", [a, start, stop, body.ints([-1])], "column")              # (..., n, 1)
        below = body.op("GreaterOrEqual", [rows, k])
        candidates = body.op("Where", [below, body.op("Abs", [column]), body.const(-1.0)])
        p = body.op("ArgMax", [candidates], axis=-2, keepdims=1, select_last_index=0)      # (..., 1, 1)
        hit, is_k = body.op("Equal", [rows, p], "pivot_row"), body.op("Equal", [rows, k])

        def swapped(m):     # rows k and p exchanged (Where: no arithmetic touches the values)
            row_p = body.op("ReduceSum", [body.op("Where", [hit, m, body.const(0.0)]), body.ints([-2])], keepdims=1)
            row_k = body.op("Slice", [m, start, stop, body.ints([-2])], "row")
            return body.op("Where", [is_k, row_p, body.op("Where", [hit, row_k, m])], "swapped")
        a = swapped(a)
        pivot = _entry(body, a, start, stop)
        # below the pivot, each row's multiple of row k (none where the pivot is 0: getrf's skip)
        clears = body.op("And", [body.op("Greater", [rows, k]),
                                 body.op("Not", [body.op("Equal", [pivot, body.const(0.0)])])])
        factors = body.op("Where", [clears, body.op("Div", [body.op("Slice", [a, start, stop, body.ints([-1])]),
                                                            pivot]), body.const(0.0)], "factors")

        def cleared(m):
            return body.op("Sub", [m, body.op("Mul", [factors, body.op("Slice", [m, start, stop, body.ints([-2])])])])
        new = [cleared(a)]
        if rhs is not None:
            new.append(cleared(swapped(rest.pop(0))))
        if what:
            sign = body.op("Where", [body.op("Equal", [p, k]), body.const(1.0), body.const(-1.0)], "sign")
        for kind, total in zip(what, rest):
            if kind == "logabs":
                new.append(body.op("Add", [total, body.op("Log", [body.op("Abs", [pivot])])]))
            else:
                factor = pivot if kind == "det" else body.op("Sign", [pivot])
                new.append(body.op("Mul", [body.op("Mul", [total, sign]), factor]))
        return new
    results = _loop(b, n, carried, step, "elimination")
    if what:
        totals = tuple(b.op("Squeeze", [r, b.ints([-2, -1])]) for r in results[len(results) - len(what):])
        return totals[0] if isinstance(accumulate, str) else totals
    return results[0], (results[1] if rhs is not None else None)


def substitute(b, t, rhs, lower):
    """``t⁻¹ rhs`` for ``t`` (..., n, n) triangular (its ``lower`` or upper triangle read alone)
    and ``rhs`` (..., n, m): row by row (from the last, or the first with ``lower``)."""
    n = size(b, t)
    rows, columns = _positions(b, n)
    last = b.op("Sub", [n, b.ints(1)])

    def step(body, k, carried):
        (x,) = carried
        i = k if lower else body.op("Sub", [last, k])
        start, stop = _at(body, i)
        # row i of t, its coefficients of the rows found before it (the rest zeros)
        known = body.op("Where", [body.op("Less" if lower else "Greater", [columns, i]),
                                  body.op("Slice", [t, start, stop, body.ints([-2])]), body.const(0.0)])
        row = body.op("Sub", [body.op("Slice", [rhs, start, stop, body.ints([-2])]), body.op("MatMul", [known, x])])
        found = body.op("Div", [row, _entry(body, t, start, stop)])
        return [body.op("Where", [body.op("Equal", [rows, i]), found, x], "solution")]
    (x,) = _loop(b, n, [_filled(b, rhs, 0.0)], step, "substitution")
    return x


def cholesky(b, x, rank, logdet=False):
    """The lower Cholesky factor of ``x``'s lower triangle (``x`` of ``rank`` axes), or with
    ``logdet`` ``2 sum log diag(L)`` (...)."""
    n = size(b, x)
    rows, columns = _positions(b, n)
    swap = [*range(rank - 2), rank - 1, rank - 2]
    carried = [_filled(b, x, 0.0)] + ([_filled(b, x, 0.0, leading_only=True)] if logdet else [])

    def step(body, j, carried):
        factor, *total = carried
        start, stop = _at(body, j)
        # L[:, j] = (x[:, j] - L L[j, :]ᵀ) / sqrt(...): L's columns from j on are still zeros
        row = body.op("Transpose", [body.op("Slice", [factor, start, stop, body.ints([-2])])], perm=swap)
        v = body.op("Sub", [body.op("Slice", [x, start, stop, body.ints([-1])]), body.op("MatMul", [factor, row])])
        d = body.op("Sqrt", [body.op("Slice", [v, start, stop, body.ints([-2])])], "diagonal")
        column = body.op("Where", [body.op("GreaterOrEqual", [rows, j]), body.op("Div", [v, d]), body.const(0.0)])
        new = [body.op("Where", [body.op("Equal", [columns, j]), column, factor], "factor")]
        return new + [body.op("Add", [total[0], body.op("Log", [d])])] if logdet else new
    results = _loop(b, n, carried, step, "cholesky")
    if logdet:
        return b.op("Mul", [b.const(2.0), b.op("Squeeze", [results[1], b.ints([-2, -1])])])
    return results[0]
