"""Keras' ``add_loss`` in a drawn ``call``: terms added to the training loss, and ``model.losses``.

    class VAE(gn.Model):
        def call(self, x):
            z_mean, z_log_var = self.mean(x), self.log_var(x)
            kl = -0.5 * ops.mean(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
            self.add_loss(kl)                   # a number per batch, added to the loss as it is
            return self.decoder(self.sampling([z_mean, z_log_var]))

A subclass' ``call`` runs once, on symbolic tensors (graph.Model._draw), so a term is recorded
there as what it computes from the graph's tensors, not as a number: a ``BatchScalar``, made by
``ops.mean`` or ``ops.sum`` with ``axis=None`` on a tensor (the only place those reductions over the
batch axis are taken: nothing else in a graph may mix the samples), and by +, -, * and / of such
scalars and numbers. A tensor given as it is ((None,) or (None, ...)) is summed whole, as Keras'
``_aggregate_additional_loss`` sums it. A reduction over the batch axis first (``ops.mean(x, axis=0)``,
keras.io's Switch Transformer) is a batch vector (glassnet._batch_vectors), and ``ops.mean``/``ops.sum``
of one over all its axes a BatchScalar of op "vector"; a batch vector given as it is is summed whole.

Each batch, the model computes every term from its tensors' values (the calls the terms read are
part of its graph even when they lead to no output) and adds the sum to the loss, after any
``loss_weights`` and sample weights (Keras weighs neither); backward, each tensor a term reads gets
``d term / d tensor`` (``c / size`` for ``c * mean``, ``c`` for ``c * sum``) beside what its readers send.
"""
import copy
import numbers
import threading

import numpy as np

from . import backend

_OPS = {"add": lambda a, b: a + b, "subtract": lambda a, b: a - b,
        "multiply": lambda a, b: a * b, "divide": lambda a, b: a / b}
# a leaf's op: what it reads of its tensor; "count" (how many numbers it holds, one per batch
# element of a broadcast: see Broadcast) has no gradient
_REDUCTIONS = ("mean", "sum", "count")


def _refused_use(what):
    return TypeError(f"{what}: ops.mean/ops.sum with axis=None on a tensor reduces the batch axis too (every "
                     f"sample into one number), which glassnet takes only as a term of add_loss, alone or in "
                     f"+, -, * and / with numbers and other such terms (self.add_loss(0.1 * ops.mean(x))); "
                     f"anywhere else name the sample axes (ops.mean(x, axis=-1))")


class TermArithmetic:
    """``+ - * /`` of a batch term (here) or a batch vector (glassnet._batch_vectors) with what
    stands on either side, each its class' ``_binary(op, other, reverse)``; ``+x`` is x."""
    __array_ufunc__ = None          # np.float32(2) * term: NumPy hands the product to __rmul__

    def __add__(self, other):
        return self._binary("add", other)

    def __radd__(self, other):
        return self._binary("add", other, reverse=True)

    def __sub__(self, other):
        return self._binary("subtract", other)

    def __rsub__(self, other):
        return self._binary("subtract", other, reverse=True)

    def __mul__(self, other):
        return self._binary("multiply", other)

    def __rmul__(self, other):
        return self._binary("multiply", other, reverse=True)

    def __truediv__(self, other):
        return self._binary("divide", other)

    def __rtruediv__(self, other):
        return self._binary("divide", other, reverse=True)

    def __pos__(self):
        return self


class BatchScalar(TermArithmetic):
    """One number per batch computed from a drawn graph's tensors: ``op`` "mean" or "sum" of
    ``tensor`` (a reduction over every axis, batch included), a "number", or ``op`` one of add,
    subtract, multiply, divide of two ``operands``. Only ``add_loss`` takes it."""

    def __init__(self, op, operands=(), tensor=None, number=None, vector=None):
        self.op, self.operands, self.tensor, self.number = op, tuple(operands), tensor, number
        self.vector = vector            # op "vector": a batch vector reduced to shape () (_batch_vectors)

    # -- arithmetic ------------------------------------------------------------------------------
    @staticmethod
    def _of(value, op):
        if isinstance(value, BatchScalar):
            return value
        if isinstance(value, (numbers.Real, np.generic, np.ndarray)) and not isinstance(value, bool) \
                and np.ndim(value) == 0 and np.asarray(value).dtype.kind in "fiu":
            return BatchScalar("number", number=float(value))
        raise _refused_use(f"{op} of a batch term and {type(value).__name__} {value!r:.60}")

    def _binary(self, op, other, reverse=False):
        from .layers.symbolic import SymbolicTensor
        from ._batch_vectors import BatchVector, combine, operand
        if isinstance(other, SymbolicTensor):
            return broadcast(op, self, other, reverse)
        if isinstance(other, BatchVector):      # mean(x) - mean(x, axis=0): a batch vector
            mine = operand(self, op)
            return combine(op, other, mine) if reverse else combine(op, mine, other)
        other = self._of(other, op)
        return BatchScalar(op, (other, self) if reverse else (self, other))

    def __neg__(self):
        return BatchScalar("multiply", (BatchScalar("number", number=-1.0), self))

    def __array__(self, *args, **kwargs):       # a layer or an ops function given it
        raise _refused_use("a batch term used as an array")

    def __bool__(self):
        raise _refused_use("a batch term used as a truth value")

    def __repr__(self):
        if self.op in _REDUCTIONS:
            return f"{self.op}({self.tensor!r})"
        if self.op == "number":
            return repr(self.number)
        if self.op == "vector":
            return repr(self.vector)
        return f"{self.op}({self.operands[0]!r}, {self.operands[1]!r})"

    # -- the graph's side ------------------------------------------------------------------------
    def leaves(self):
        """The reductions this term reads, each a BatchScalar of op "mean" or "sum", in order."""
        if self.op in _REDUCTIONS:
            return [self]
        if self.op == "vector":                 # (the batch vector's leaves: BatchVectors)
            return self.vector.leaves()
        return [leaf for operand in self.operands for leaf in operand.leaves()]

    def value(self, values):
        """The term's value, ``values``: {id(leaf): the array of its tensor on this batch}."""
        if self.op in _REDUCTIONS:
            a = values[id(self)]
            return float(a.size if self.op == "count" else a.mean() if self.op == "mean" else a.sum())
        if self.op == "number":
            return self.number
        if self.op == "vector":
            return float(self.vector.value(values))
        return _OPS[self.op](*(operand.value(values) for operand in self.operands))

    def coefficients(self, values, scale=1.0, out=None):
        """``{id(leaf): d term / d leaf}`` (each leaf a number), scaled by ``scale``: the chain rule
        through +, -, * and /, read at ``values`` as ``value`` reads them."""
        out = {} if out is None else out
        if self.op in ("mean", "sum"):
            out[id(self)] = out.get(id(self), 0.0) + scale
        elif self.op == "vector":               # the seed in the vector's dtype (no float64 up-cast)
            v = self.vector.value(values)
            self.vector.backward(values, np.full(np.shape(v), scale, dtype=np.asarray(v).dtype), out)
        elif self.op in _OPS:                   # (a number and a count have no gradient)
            a, b = self.operands
            if self.op in ("add", "subtract"):
                a.coefficients(values, scale, out)
                b.coefficients(values, scale if self.op == "add" else -scale, out)
            elif self.op == "multiply":
                a.coefficients(values, scale * b.value(values), out)
                b.coefficients(values, scale * a.value(values), out)
            else:           # a / b: 1 / b and -a / b^2
                vb = b.value(values)
                a.coefficients(values, scale / vb, out)
                b.coefficients(values, -scale * a.value(values) / vb ** 2, out)
        return out


class Broadcast(BatchScalar):
    """``term op tensor`` (or ``tensor op term``): Keras broadcasts the batch term over the tensor,
    and ``add_loss`` sums the result whole. Only that is taken here, written as what it sums to,
    from the tensor's sum and size (``a - t``: ``a * t.size - sum(t)``; ``a * t``: ``a * sum(t)``),
    the elementwise values kept for ``model.losses`` (``elementwise``). Anything else made from it
    (a square, more arithmetic) would need the graph to mix samples, which it does not: refused."""

    def __init__(self, op, operands, elementwise):
        super().__init__(op, operands)
        self.elementwise = elementwise          # (op, term, tensor's sum leaf, reverse)

    def _refuse(self, what):
        return TypeError(f"{what}: a batch term (ops.mean/ops.sum with axis=None) with a tensor of per-sample "
                         f"values is taken as Keras takes it only given to add_loss as it is (summed whole: "
                         f"self.add_loss(ops.mean(x) - ops.sum(x, axis=-1))); glassnet's graph mixes the samples "
                         f"nowhere else, so compute per sample (ops.mean(x, axis=-1)) before adding the batch term")

    def _binary(self, op, other, reverse=False):
        raise self._refuse(f"{op} of (batch term with a tensor) and {type(other).__name__}")

    def __neg__(self):
        raise self._refuse("negation of (batch term with a tensor)")

    def __array__(self, *args, **kwargs):       # ops.square(term - x), a layer given it
        raise self._refuse("(batch term with a tensor) used as an array")

    def listed(self, values):
        """The elementwise tensor Keras' ``model.losses`` lists for this term."""
        op, term, leaf, reverse = self.elementwise
        a, t = term.value(values), backend.to_numpy(values[id(leaf)])
        return (_OPS[op](t, a) if reverse else _OPS[op](a, t)).astype(t.dtype)


def broadcast(op, term, tensor, reverse):
    """``term op tensor`` (``tensor op term`` if ``reverse``) for ``add_loss``: a ``Broadcast``.
    ``term / tensor`` is not linear in the tensor's sum: refused by name."""
    if op == "divide" and not reverse:
        raise TypeError(f"divide of a batch term by a tensor ({tensor!r:.80}): add_loss takes a batch term with a "
                        f"tensor in +, - and *, or the tensor divided by the term; compute per sample "
                        f"(ops.mean(x, axis=-1)) what is divided")
    total, count = BatchScalar("sum", tensor=tensor), BatchScalar("count", tensor=tensor)
    if op in ("add", "subtract"):       # sum(a +- t) = a * size +- sum(t); sum(t - a) = sum(t) - a * size
        scaled = BatchScalar("multiply", (term, count))
        operands = (total, scaled) if reverse else (scaled, total)
    else:                               # sum(a * t) = a * sum(t); sum(t / a) = sum(t) / a
        operands = (total, term) if reverse else (term, total)
    return Broadcast(op, operands, (op, term, total, reverse))


def output_note(value):
    """What a drawn call's message adds when it returned a batch term or vector: why it cannot."""
    from ._batch_vectors import BatchVector
    if isinstance(value, (BatchScalar, BatchVector)):
        return (f" ({value!r:.80} is a batch {'vector' if isinstance(value, BatchVector) else 'term'}, which "
                f"mixes the samples: glassnet takes it only in an add_loss term, never as a model output)")
    return ""


def is_term(value):
    return isinstance(value, BatchScalar)


def reduce_tensor(op, tensor):
    """``ops.mean``/``ops.sum`` with ``axis=None`` on a tensor: a term for ``add_loss``."""
    return BatchScalar(op, tensor=tensor)


# -- recording while a call is drawn -------------------------------------------------------------

# .stack: one list per call being drawn (graph.Model._symbolic_call), innermost last; add_loss
# appends to the innermost. Per thread, as the draw itself is
_DRAWING = threading.local()


class recording:
    """While a subclass' ``call`` is drawn: the terms its ``add_loss`` calls give (``terms``)."""
    def __enter__(self):
        if not hasattr(_DRAWING, "stack"):
            _DRAWING.stack = []
        self.terms = []
        _DRAWING.stack.append(self.terms)
        return self

    def __exit__(self, exc_type, *exc):
        _DRAWING.stack.pop()
        if exc_type is None:
            record(self.terms)


def record(terms):
    """``terms`` (a call's, drawn inside another's) become the enclosing call's too: a model keeps
    the terms of every call its ``call`` makes, its outputs read or not (Keras collects every
    sublayer's losses), and its outputs carry them (``attach``) into a model that calls it."""
    stack = getattr(_DRAWING, "stack", None)
    if stack:
        stack[-1].extend(terms)


def add_loss(owner, value, by=None):
    """``owner.add_loss(value)`` (``owner``: a layer's or model's describe(); ``by``: that layer or
    model, kept on each term for Keras' order of ``model.losses``, ``keras_order``): the term recorded
    for the call being drawn, or refused by name where no call is drawn (an eager layer's forward)."""
    from .layers.input import InputLayer
    from .layers.symbolic import SymbolicTensor
    stack = getattr(_DRAWING, "stack", None)
    if not stack:
        raise NotImplementedError(
            f"{owner}: add_loss is taken inside a call that glassnet draws (a subclass of glassnet.Model, "
            f"its call drawn on symbolic tensors), not here: a term added while an eager forward runs would "
            f"have no gradient (glassnet does not differentiate NumPy code). Move the computation into such a call, or use "
            f"activity_regularizer= / kernel_regularizer= or a glassnet.losses.Loss of your own")
    from ._batch_vectors import BatchVector
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    terms, through = [], {}
    for item in values:
        if isinstance(item, InputLayer):        # add_loss(inputs): summed whole, as a tensor
            item = _through_identity(item, through)
        elif isinstance(item, (BatchScalar, BatchVector)):
            _inputs_through_identity(item, through)
        if isinstance(item, BatchScalar):
            # an object of its own per add_loss: the same term added twice counts twice, as in
            # Keras' list of losses (the model gathers its terms once each, by identity)
            terms.append(copy.copy(item))
        elif isinstance(item, BatchVector):     # summed whole, as Keras sums a loss tensor
            terms.append(item.reduce("sum"))
            terms[-1].whole = True              # (model.losses lists the vector, as Keras')
        elif isinstance(item, SymbolicTensor):
            terms.append(BatchScalar("sum", tensor=item))       # Keras sums a tensor whole
            terms[-1].whole = True              # (model.losses lists its values, as Keras')
        else:
            raise TypeError(f"{owner}: add_loss takes what a drawn call computes from its tensors (ops.mean(x) "
                            f"or ops.sum(x) with axis=None, such terms in +, -, * and / with numbers, a batch "
                            f"vector (ops.mean(x, axis=0)) or a tensor, summed whole), got {type(item).__name__} {item!r:.60}")
    for term in terms:
        term.owner = by
    stack[-1].extend(terms)


def _through_identity(tensor, through):
    """``tensor`` (an Input) read through an ``Identity`` call made in the call being drawn, one
    per Input (``through``: {id(Input): that call's output}): a term reads a call's output."""
    if id(tensor) not in through:
        from .layers.utility import Identity
        through[id(tensor)] = Identity()(tensor)
    return through[id(tensor)]


def _inputs_through_identity(term, through):
    """A term reading an Input itself (the subclassing guide's ActivityRegularizationLayer:
    ``self.add_loss(self.rate * ops.mean(inputs))``, ``return inputs``) reads it through an
    ``Identity`` call instead, drawn here, inside the call that adds it (a block's own, nested in
    it as its other calls are). No weight changes such a term: as in Keras it is listed in
    ``losses`` and added to the loss, a constant that moves no weight."""
    from .layers.input import InputLayer
    for leaf in term.leaves():
        tensor = getattr(leaf, "tensor", None)
        if isinstance(tensor, InputLayer):
            leaf.tensor = _through_identity(tensor, through)


def _tracked(owner):
    """What Keras tracks as ``owner``'s sublayers (``_layers``), in the order assigned: the layers
    and models it holds as attributes (in lists, tuples and dicts too), each once. A functional
    model's (its graph's operations) are not followed: terms of blocks called there keep the order
    they were drawn in."""
    from ._layer_order import glassnet_attribute_names
    from .layers.base import Layer
    from .model import Sequential
    skip = glassnet_attribute_names(owner) if isinstance(owner, Sequential) else frozenset()
    found, seen, stack = [], set(), [v for k, v in reversed(list(vars(owner).items())) if k not in skip]
    while stack:
        value = stack.pop()
        if isinstance(value, (list, tuple, dict)):
            if id(value) not in seen:
                seen.add(id(value))
                stack.extend(reversed(list(value.values() if isinstance(value, dict) else value)))
        elif isinstance(value, (Layer, Sequential)) and id(value) not in seen:
            seen.add(id(value))
            found.append(value)
    return found


def keras_order(model, terms):
    """``terms`` in the order Keras 3.15 lists ``model.losses``: the model's own first (as added),
    then each sublayer's as ``Layer._flatten_layers`` walks them (its tracked sublayers in order,
    each one's own sublayers pushed to the front of what is left, reversed, as Keras' deque does);
    terms of an owner not reached so keep their order, last."""
    import collections
    rank, seen = {id(model): 0}, {id(model)}
    queue = collections.deque(_tracked(model))
    while queue:
        layer = queue.popleft()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        rank[id(layer)] = len(rank)
        queue.extendleft(_tracked(layer))
    return sorted(terms, key=lambda term: rank.get(id(getattr(term, "owner", None)), len(rank)))


class Terms:
    """A drawn model's ``add_loss`` terms, bound to its graph: each leaf read from the output of
    call ``calls[id(leaf)]`` on every forward pass (``keep``), then the terms' values, their sum,
    and the gradients that sum sends to those calls."""

    # each term's weight in ``gradients``: None, every term once (fit's loss adds their sum); a
    # GradientTape's backward sets the gradient its target sends to each term (glassnet.tape)
    scales = None

    def __init__(self, terms, index):
        self.terms = list(terms)
        self.leaves = [leaf for term in self.terms for leaf in term.leaves()]
        self.calls = {id(leaf): index[id(leaf.tensor)] for leaf in self.leaves}
        self.read = frozenset(self.calls.values())
        self.kept = {}          # {call: its output on the latest forward}

    def _values(self):
        return {id(leaf): self.kept[self.calls[id(leaf)]] for leaf in self.leaves}

    def values(self):
        """Each term's value on the latest forward pass (empty before any)."""
        if not self.kept:
            return []
        values = self._values()
        return [term.value(values) for term in self.terms]

    def listed(self):
        """``model.losses``' entries (Keras'): each term's value, a tensor given whole its array."""
        if not self.kept:
            return []
        values = self._values()
        return [_whole(term, values) if getattr(term, "whole", False) else
                term.listed(values) if isinstance(term, Broadcast) else term.value(values) for term in self.terms]

    def total(self):
        return sum(self.values())

    def drawn_again(self, tensors):
        """The terms read from ``tensors`` instead: every call's output as ``layers.symbolic.replay``
        draws this model's calls again (the model called inside another's draw, ``base(x)``)."""
        from ._batch_vectors import BatchVector, LEAVES
        copies = {}

        def copy(term):
            if id(term) not in copies:
                if isinstance(term, BatchVector):
                    copies[id(term)] = BatchVector(
                        term.op, term.shape, [copy(node) for node in term.operands],
                        tensor=tensors[self.calls[id(term)]] if term.op in LEAVES else None, value=term.value_,
                        term=None if term.term is None else copy(term.term), axis=term.axis, keepdims=term.keepdims)
                elif term.op == "vector":
                    copies[id(term)] = BatchScalar("vector", vector=copy(term.vector))
                    if getattr(term, "whole", False):
                        copies[id(term)].whole = True
                elif term.op in _REDUCTIONS:
                    copies[id(term)] = BatchScalar(term.op, tensor=tensors[self.calls[id(term)]])
                    if getattr(term, "whole", False):
                        copies[id(term)].whole = True
                elif isinstance(term, Broadcast):
                    op, scalar, leaf, reverse = term.elementwise
                    copies[id(term)] = Broadcast(term.op, [copy(operand) for operand in term.operands],
                                                 (op, copy(scalar), copy(leaf), reverse))
                else:
                    copies[id(term)] = BatchScalar(term.op, [copy(operand) for operand in term.operands],
                                                   number=term.number)
            return copies[id(term)]
        return [copy(term) for term in self.terms]

    def moved(self, offset):
        """``(terms, index)``: these terms read from the same calls numbered ``offset`` on (the
        model's calls joined after ``offset`` others: a Sequential adding it), ``index`` as
        ``Terms`` takes it. A Sequential runs no symbolic tensors: each call stands as a marker."""
        markers = {k: object() for k in set(self.calls.values())}
        return self.drawn_again(markers), {id(marker): offset + k for k, marker in markers.items()}

    def gradients(self, dtype):
        """``{call: d (sum of terms) / d (its output)}`` on the latest forward pass (each term
        weighted by ``scales``, when set)."""
        values, coefficients = self._values(), {}
        for j, term in enumerate(self.terms):
            scale = 1.0 if self.scales is None else self.scales[j]
            if scale:
                term.coefficients(values, scale, coefficients)
        grads = {}
        for leaf in self.leaves:
            k = self.calls[id(leaf)]
            a = self.kept[k]
            c = coefficients.pop(id(leaf), None)
            if c is None:           # (a leaf listed twice: its coefficient summed once)
                continue
            if hasattr(leaf, "gradient"):       # a batch vector's leaf: c per feature, the same for each sample
                g = leaf.gradient(a, c, dtype)
            else:
                xp = backend.get_array_module(a)
                g = xp.full(a.shape, c / a.size if leaf.op == "mean" and a.size else c, dtype=dtype)
            grads[k] = g if k not in grads else grads[k] + g
        return grads


def _whole(term, values):
    """What ``model.losses`` lists for a tensor or batch vector given to add_loss whole: its values."""
    if term.op == "vector":
        return backend.to_numpy(term.vector.operands[0].value(values)).copy()
    return backend.to_numpy(values[id(term)]).copy()


def joined(old, terms, index):
    """``Terms`` of ``old`` (a Terms, or None) and then ``terms``, read from the calls ``index``
    gives their tensors (``{id(tensor): call}``): a Sequential's after a block joins it."""
    if old is not None:
        index = {**{id(leaf.tensor): old.calls[id(leaf)] for leaf in old.leaves}, **index}
        terms = old.terms + list(terms)
    return Terms(terms, index)


def attach(terms, outputs):
    """Keep ``terms`` (what a drawn call's add_loss gave) on that call's ``outputs``: a model drawn
    on them, there or from a model that called it, takes them up (``drawn_terms``)."""
    for tensor in outputs if terms else ():
        kept = tensor.__dict__.setdefault("added_losses", [])
        kept.extend(term for term in terms if not any(term is other for other in kept))


def drawn_terms(tensors, sources, outputs, walk_back, order=None):
    """``(terms, tensors)``: the add_loss terms kept on a graph's ``tensors`` and ``sources``
    (its order of tensors from ``walk_back``), and that order with the calls the terms read that
    lead to no output, placed before the last output's call (code reading a model of one output
    takes the last call as its output). Refused by name: a term reading an output (its gradient
    would meet the loss's, which a fused output layer takes as dL/dz).

    ``order``: a function giving the terms in the model's order (a subclass': Keras', keras_order),
    applied before the calls they read are walked, so those calls follow the order of the terms
    as a config lists them: the model a file or config rebuilds (its terms in that order) then
    walks them to the same order of calls, which it must have."""
    from ._dead_calls import carried
    terms = carried(list(tensors) + list(sources), "added_losses")
    if not terms:
        return [], tensors
    if order is not None:
        terms = order(terms)
    from .layers.input import InputLayer
    read = [leaf.tensor for term in terms for leaf in term.leaves()]
    for tensor in read:
        if isinstance(tensor, InputLayer):
            raise ValueError(f"add_loss: a term reads the Input {tensor.name!r} itself ({tensor!r}), which no weight "
                             f"changes; compute it from a layer's output")
    made, _ = walk_back(read + list(outputs))
    known = {id(tensor) for tensor in tensors}
    extra = [tensor for tensor in made if id(tensor) not in known]
    order = list(tensors[:-1]) + extra + list(tensors[-1:])
    position = {id(tensor): k for k, tensor in enumerate(order)}
    ends = {id(tensor) for tensor in outputs}
    for tensor in extra + read:
        reads_output = id(tensor) in ends or any(id(parent) in ends for parent in getattr(tensor, "inputs", ()))
        late = any(position.get(id(parent), -1) > position[id(tensor)] for parent in getattr(tensor, "inputs", ()))
        if reads_output or late:
            raise NotImplementedError(
                f"add_loss: a term reads a model output ({tensor!r:.80}), whose gradient from the loss is the "
                f"output layer's; compute the term from the tensors before the output layer, or score the output "
                f"with a loss of its own (a second output and compile(loss=[..., your_loss]))")
    return terms, order


def no_loss():
    """The loss of ``compile(loss=None)`` on a model with add_loss terms: Keras trains on the terms
    alone. A loss of 0 whose gradient is zero, whatever the targets: none (fit(x), as Keras takes
    it: zero-width ones are made), or any array of one row per sample."""
    from .losses.base import Loss

    class AddedLossesOnly(Loss):
        name = "none"
        added_losses_only = True        # fit(x), train_on_batch(x): no targets needed (preparing)

        def __call__(self, y_pred, y_true):
            return 0.0

        def gradient(self, y_pred, y_true):
            return backend.get_array_module(y_pred).zeros_like(y_pred)

        def weighted(self, y_pred, y_true, sample_weight):
            return 0.0

        def weighted_gradient(self, y_pred, y_true, sample_weight):
            return self.gradient(y_pred, y_true)

        def per_sample(self, y_pred, y_true):
            return backend.get_array_module(y_pred).zeros(y_pred.shape[0], dtype=y_pred.dtype)

        def prepare_targets(self, y, n_outputs, dtype, name="y"):
            return np.zeros((len(y), n_outputs), dtype=dtype)       # (read by no loss)

    return AddedLossesOnly()
