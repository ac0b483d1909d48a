"""Several outputs: a functional ``Model`` drawn to two or more tensors (Keras' multi-output model).

    inputs = gn.Input((64,))
    hidden = gn.layers.Dense(32, activation="relu")(inputs)
    digit = gn.layers.Dense(10, activation="softmax", name="digit")(hidden)
    big = gn.layers.Dense(1, activation="sigmoid", name="big")(hidden)
    model = gn.Model(inputs, [digit, big])
    model.compile(loss=["sparse_categorical_crossentropy", "binary_crossentropy"],
                  loss_weights=[1.0, 0.5], optimizer="adam", metrics=[["accuracy"], ["accuracy"]])
    model.fit(x, [labels, labels >= 5])          # or {"digit": labels, "big": labels >= 5}
    p_digit, p_big = model.predict(x)

The loss is Keras': each output's own loss on its own targets, times its weight, summed. The logs
hold that total as "loss", each output's own loss (before its loss weight; with the sample weights,
when ``fit`` or ``evaluate`` has some, as Keras 3) as "<output>_loss" and each
output's metrics as "<output>_<metric>": "digit_accuracy", "val_big_accuracy". Two outputs
made by one layer called more than once share its name, as in Keras: the later one's logs take
"_1" ("d_loss_1", "d_accuracy_1"), and a dict by that name is refused (it could mean either).

How the data travels: as several inputs do (``glassnet.graph``), packed side by side. The outputs
of a batch are one array (n, sum of the outputs' sizes) and the targets another (n, sum of the
targets' sizes, a class label taking one column), so that the whole data path of a model of one
output (shuffling, batching, validation split, chunked predict, callbacks) carries them as it is.
A ``Head`` says where one output's columns and its targets' lie; ``Heads`` is the loss of the
packed output, and ``OutputMetric`` a metric of one output's columns. ``predict`` and
``model(x)`` give the outputs back as a list of arrays, one per output, in the model's order.

Backward, each output's gradient seeds its own call in the graph (``Model._backward``). An
output whose activation the loss fuses with (softmax with categorical cross-entropy, sigmoid
with binary) gets dL/dz at once, as a model of one output does, unless another layer reads it.

An output may have no loss (Keras' ``loss=[loss_fn, None]``, or a loss dict leaving it out: an
output kept for ``predict``, as keras.io's miniature GPT keeps its last block's ``x`` beside the
logits). Such an output is *unscored*: it takes no targets (no columns in the packed targets),
logs nothing, and seeds no gradient (callgraph._graph_backward), so its layers learn only through the
scored outputs' paths (a layer reached by the unscored output alone gets none: the optimizer leaves
its weights, their state and weight decay, as Keras skips a None gradient). With
one scored output the logs are Keras 3's for one loss: "loss" alone, no "<output>_loss".

An output of one number per sample, shape (None,) (``h[:, 0]``), is scored by glassnet.scalar_outputs'
rules, as in a model of one output (``scored_part``): its targets (n,) or (n, 1) take two packed
columns, the values and their form, which decides Keras' loss for them (per batch or per sample).
"""
import copy
import math
import numbers

import numpy as np

from . import backend, losses
from . import metrics as metrics_module
from .losses import Loss, changed_settings
from .metrics import LossMetric, Metric
from .callbacks.base import resolve_mode
from .metrics.base import batch_share, metric_number, sees_output_as_given
from .metrics.result_value import metric_result
from .scalar_outputs import ScalarRows, pack_scalar_targets, packed_scalar_targets


class Layout:
    """Where each of several arrays (a model's Inputs, its outputs, or their targets) lies in a
    packed row, when some have an axis of any length (``Input((None, 8))``, or an output through a
    recurrent layer with ``return_sequences``): the row starts with the open sizes of that
    packing, in the arrays' order (``header``, numbers of the packed dtype: exact up to 2**24 in
    float32), then each array's values. Rows of one packing, shuffled or batched, all carry the
    same sizes, so any row tells them; fixed sizes mean no header and fixed places (``open`` 0).

    >>> layout = Layout([(None, 3), (4,)])
    >>> layout.header([(5, 3), (4,)]), layout.width([(5, 3), (4,)])
    ([5], 20)
    """

    def __init__(self, shapes):
        self.shapes = [tuple(shape) for shape in shapes]
        self.open = sum(shape.count(None) for shape in self.shapes)

    def header(self, shapes):
        """The open sizes of the concrete ``shapes`` (one per output), the row's first values."""
        return [size for shape, declared in zip(shapes, self.shapes) for size, d in zip(shape, declared) if d is None]

    def width(self, shapes):
        """The packed row's length for the concrete ``shapes``."""
        return self.open + sum(math.prod(shape) for shape in shapes)

    def concrete(self, packed):
        """The shapes the packed rows ``packed`` (n, width) hold, from their header."""
        if not self.open:
            return self.shapes
        sizes = iter(int(v) for v in backend.to_numpy(packed[:1, :self.open]).reshape(-1)) if packed.shape[0] \
            else iter([0] * self.open)
        return [tuple(next(sizes) if d is None else d for d in shape) for shape in self.shapes]

    def pack(self, xp, n, shapes, dtype):
        """Empty rows (n, width) for the concrete ``shapes``, their header written."""
        packed = xp.empty((n, self.width(shapes)), dtype=dtype)
        if self.open:
            packed[:, :self.open] = xp.asarray(self.header(shapes), dtype=dtype)
        return packed

    def views(self, packed, shapes=None):
        """Each array's values in the packed rows: views, (n, *its shape), for the concrete
        ``shapes`` (None: read from the rows' header)."""
        views, start = [], self.open
        for shape in self.concrete(packed) if shapes is None else shapes:
            size = math.prod(shape)
            views.append(packed[:, start:start + size].reshape(packed.shape[0], *shape))
            start += size
        return views

    def view(self, packed, index):
        """Array ``index``'s values in the packed rows: a view, (n, *its shape)."""
        return self.views(packed)[index]


class Head:
    """One output of a model of several: the ``layer`` making it, the call that does (``call``,
    an index into the model's calls), its sample ``shape``, its place among the outputs
    (``index``), and, once compiled, its ``loss``,
    ``weight`` and whether that loss is ``fused`` with the layer's activation. ``start``: its first
    column in the packed outputs; ``target_start``, ``target_shape``: its targets' in the packed
    targets (a class label per sample for a sparse loss: shape (); a label sequence of any length for a
    loss that reads the whole output, CTC's: (None,)). Its ``name`` is its layer's,
    as it is now (a model nested in another may have had its layers renamed), its ``label`` (the
    nested model whose call made it, glassnet._output_models), or its ``key`` in a model whose
    outputs were given as a dict."""

    layout = target_layout = None       # (a model pickled before outputs of any length has none)
    # this output's logits in the latest pass, where its layer is called more than once (a shared
    # Dense making two outputs): the layer keeps only its last call's ``z``, so the model's walk
    # sets this one right after the call making the output (None: the layer's own ``z`` is it)
    z = None
    # the output's key where the model's outputs were given as a dict (glassnet._dictoutputs),
    # which names it instead of its layer
    key = None
    # the name of the nested model whose call made this output (Model(x, inner(x))), which names
    # it where it has no key, as Keras names it (glassnet._output_models); None: its layer's
    label = None
    # the loss's name as compile was given it, "crossentropy" or "ce" (any case), once the first batch
    # has picked the loss it stands for (pick_head_loss): what the compile config records
    loss_as_given = None
    # before its own loss's log name: its place in the nested lists of outputs, "1/" (glassnet._nested_outputs)
    loss_prefix = ""

    def __init__(self, layer, call, shape, start, index):
        self.layer, self.call, self.shape, self.start, self.index = layer, call, tuple(shape), start, index
        self.size = math.prod(self.shape) if None not in self.shape else None     # None: it varies (Layout)
        self.loss, self.weight, self.fused = None, 1.0, False
        self.target_shape, self.target_start = None, None
        # with an output of any length, every head's place in the rows varies: read from them
        self.layout = self.target_layout = None

    @property
    def name(self):
        return self.key if self.key is not None else self.layer.name if self.label is None else self.label

    def logits(self):
        """This output's ``z`` (its layer's pre-activation values) in the latest pass, which a fused
        loss reads."""
        return self.layer.z if self.z is None else self.z

    @property
    def scored(self):
        """Whether a loss scores this output; compiled with a None loss (Keras' ``loss=[fn, None]``)
        it is kept for ``predict`` only and takes no targets."""
        return self.loss is not None

    def compiled(self, loss, weight, target_start):
        """Give the head its loss (None: unscored) and weight; its targets start at column
        ``target_start``. Returns the number of columns its targets take (0 when unscored)."""
        self.loss, self.weight, self.target_start = loss, weight, target_start
        if loss is None:
            # no targets: an empty slot keeps every head's place (``index``) in the targets' Layout
            self.target_shape = (0,)
            return 0
        self.target_shape = self.shape[:-1] if loss.sparse else self.shape
        if not self.shape:
            # one number per sample, (None,): its targets' value and their form, (n,) or (n, 1),
            # which decides Keras' loss (glassnet.scalar_outputs.pack_scalar_targets)
            self.target_shape = (2,)
        if not getattr(loss, "per_position", True):
            # label sequences (n, L) of any length L, not shaped like the output (CTC's): an open
            # size, which the packed targets' header carries (Layout)
            self.target_shape = (None,)
        return math.prod(self.target_shape) if None not in self.target_shape else 0

    def output(self, packed):
        """This output's values in a packed batch (n, sum of sizes): a view, (n, *shape)."""
        if self.layout is not None and self.layout.open:
            return self.layout.view(packed, self.index)
        return packed[:, self.start:self.start + self.size].reshape(packed.shape[0], *self.shape)

    def targets(self, packed):
        """This output's targets in packed targets: a view (n, *target_shape); integer labels (a
        new array) for a sparse loss, whose columns hold them as floats."""
        view = self.target_view(packed)
        if not self.shape:          # one number per sample: (n,) or (n, 1), as given (pack_scalar_targets)
            view = packed_scalar_targets(view)
        return view.astype(np.int64) if self.loss.sparse else view

    def put_targets(self, packed, array):
        """Write this output's prepared targets ``array`` (n, *target shape) into ``packed``."""
        view = self.target_view(packed)
        if not self.shape:
            pack_scalar_targets(view, array)
        else:
            view[...] = backend.get_array_module(packed).asarray(array).reshape(view.shape)

    def weights(self, sample_weight):
        """This output's sample weights (n,): ``sample_weight`` itself when it is one weight per
        sample for every output (n,), its column when it holds one per output (n, outputs); None
        stays None."""
        if sample_weight is None or sample_weight.ndim == 1:
            return sample_weight
        return sample_weight[:, self.index]

    def target_view(self, packed):
        """Where this output's targets go in packed targets (writable, the packed dtype)."""
        if self.target_layout is not None and self.target_layout.open:
            return self.target_layout.view(packed, self.index)
        size = math.prod(self.target_shape)
        return packed[:, self.target_start:self.target_start + size].reshape(packed.shape[0], *self.target_shape)

    def __repr__(self):
        return f"<output {self.name!r} shape={self.shape} loss={self.loss!r} weight={self.weight}>"


def make_heads(layers, calls, shapes, keys=None, labels=None):
    """The ``Head`` of each of a model's several outputs: made by the calls ``calls`` (indices
    into the model's calls) of ``layers`` (the layer of each of those calls), of sample shapes
    ``shapes``, in the model's order of outputs; ``keys``, for outputs given as a dict, are its
    keys sorted (that order); ``labels``, the names of the nested models whose calls made them
    (None for a layer's: glassnet._output_models). Each output's columns follow the one before
    it in the packed rows."""
    layout = Layout(shapes)
    starts = np.cumsum([0] + [0 if layout.open else math.prod(shape) for shape in shapes])
    heads = [Head(layer, call, shape, int(start), index)
             for index, (layer, call, shape, start) in enumerate(zip(layers, calls, shapes, starts))]
    for head, key, label in zip(heads, keys if keys is not None else [None] * len(heads),
                                labels if labels is not None else [None] * len(heads)):
        head.layout, head.key, head.label = layout, key, label
    return heads


def set_layouts(heads):
    """Give ``heads`` their shared ``Layout`` of the outputs and, once compiled, of the targets,
    where they have none: a model pickled before outputs of any length."""
    if heads[0].layout is None:
        layout = Layout([head.shape for head in heads])
        for head in heads:
            head.layout = layout
    if heads[0].target_layout is None and heads[0].target_shape is not None:
        targets = Layout([head.target_shape for head in heads])
        for head in heads:
            head.target_layout = targets


def gradient_shape_refusal(loss, expected, gradient):
    """What a model says of a ``gradient`` its ``loss`` gave of another shape than the output's."""
    return (f"{type(loss).__name__}.gradient: expected dL/d(output) of the output's shape {tuple(expected)}, "
            f"got shape {getattr(gradient, 'shape', type(gradient).__name__)}")


def loss_number(loss, value, weighted=False):
    """``value``, what ``loss`` gave (called, or its ``weighted`` when ``weighted``), when it is one
    number; else a TypeError naming the loss and the method. A loss of your own returning Keras'
    per-sample values, shape (n,) (a Keras loss function's, or the triplet example's
    ``max(ap - an + margin, 0)``), failed deep inside ``fit`` otherwise ("only 0-dimensional arrays
    can be converted to Python scalars"). Not averaged, as a metric's values are: the loss's
    ``gradient`` is the derivative of the value it gives, which a mean taken here would change."""
    if isinstance(value, float):        # the built-in losses' (and most of yours): nothing to check
        return value
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    if getattr(value, "ndim", None) == 0 and kind in ("i", "u", "f") or (
            isinstance(value, numbers.Real) and not isinstance(value, bool)):
        return value                    # a NumPy (or CuPy) number, a Python int
    got = (f"an array of shape {tuple(value.shape)}" if getattr(value, "ndim", 0) else
           f"{type(value).__name__} {value!r:.60}")
    method = "weighted" if weighted else "__call__"
    raise TypeError(f"{type(loss).__name__}.{method}: a loss's value is one number, the mean over the batch's "
                    f"samples (and positions) of their losses, which its gradient(y_pred, y_true) derives; got "
                    f"{got}: return the mean of per-sample values, float(np.mean(values))")


def scored_part(head, a, y, sample_weight=None):
    """``(a, y, sample_weight, rows)``: what output ``head``'s loss scores of its values ``a``,
    targets ``y`` and weights (n,) or None: as they are (``rows`` None), or for an output of one
    number per sample, shape (n,), one row per sample with Keras' weights for its loss
    (``ScalarRows``: with targets (n,), the batch's mean weight), as a model of one output has it."""
    if head.shape:
        return a, y, sample_weight, None
    rows = ScalarRows.of_batch(a, y, head.loss)
    return rows.of(a), rows.targets(y), rows.weights(sample_weight), rows


def head_loss(head, a, y, sample_weight=None):
    """Output ``head``'s own loss on its values ``a`` and targets ``y`` (weighted when given
    ``sample_weight``): from its logits (``Head.logits``, the latest forward pass's) where it is
    fused, as a model of one output computes it, exact where the probabilities saturate."""
    loss = head.loss
    a, y, sample_weight, rows = scored_part(head, a, y, sample_weight)
    if head.fused:
        z = head.logits() if rows is None else rows.of(head.logits())
        return loss.value_from_logits(z, a, y) if sample_weight is None else loss.weighted_from_logits(z, a, y, sample_weight)
    weighted = sample_weight is not None
    return loss_number(loss, loss.weighted(a, y, sample_weight) if weighted else loss(a, y), weighted)


def _head_gradient(head, a, y, w):
    """Output ``head``'s dL/d(output) (dL/dz where it is fused) on what its loss scores, ``a``
    and ``y``, weighted by ``w`` unless None."""
    loss = head.loss
    if head.fused:
        return loss.gradient_from_logits(a, y) if w is None else loss.weighted_gradient_from_logits(a, y, w)
    return loss._fit_gradient(a, y) if w is None else loss._fit_weighted_gradient(a, y, w)


class Heads(Loss):
    """The loss of a model of several outputs, on its packed outputs and targets: the sum over
    the outputs of weight x that output's loss (``head_loss``). Its gradient holds, in each
    output's columns, weight x dL/d(output), or weight x dL/dz where the head is fused:
    ``Model._backward`` gives those to the layer's ``backward_from_logits``.

    ``given``: the ``loss`` compile was given (one loss, or a list or dict of one per output),
    which ``model.loss`` reads as in Keras 3.15, where ``model.loss`` is that argument itself: it
    equals it (``model.loss == ["sparse_categorical_crossentropy", "mse"]``), ``model.loss[0]`` or
    ``model.loss["digit"]`` is the entry given, and ``compile(loss=model.loss)`` compiles with it
    (``as_given``), each output's loss as it was, the loss weights not carried (Keras' are not)."""
    name = "heads"
    given = None        # (a model pickled before it kept what compile was given: see ``_given``)
    # {"loss_weights", "metrics", "weighted_metrics": "dict", "list" or None}: the form compile was given
    # each in, which Keras' compile config keeps (glassnet._keras_dicts); None: not known
    forms = None

    def __init__(self, heads, given=None, forms=None):
        self.heads, self.given, self.forms = heads, given, forms

    def _given(self):
        # what compile was given; for a Heads made without it, each output's loss, None unscored
        return [head.loss for head in self.heads] if self.given is None else self.given

    def __eq__(self, other):
        # Keras' model.loss is the argument itself: compared with a list, a dict or a name, it is that
        if isinstance(other, Heads):
            return self is other
        return self._given() == other

    __hash__ = Loss.__hash__

    def __getitem__(self, key):
        given = self._given()
        if not isinstance(given, (list, tuple, dict)):
            raise TypeError(f"model.loss: compile was given one loss for every output, {given!r:.80}, not "
                            f"one per output: it has no entry {key!r:.40}")
        return given[key]

    def __len__(self):
        given = self._given()
        return len(given) if isinstance(given, (list, tuple, dict)) else 1

    def _parts(self, y_pred, y_true):
        # the scored outputs only: an unscored one (loss None) has no targets and adds nothing
        for head in self.heads:
            if head.scored:
                yield head, head.layer, head.output(y_pred), head.targets(y_true)

    def __call__(self, y_pred, y_true):
        return sum(head.weight * head_loss(head, a, y) for head, _, a, y in self._parts(y_pred, y_true))

    def weighted(self, y_pred, y_true, sample_weight):
        # sample_weight: (n,) for every output, or (n, outputs), a column each (see Head.weights)
        return sum(head.weight * head_loss(head, a, y, head.weights(sample_weight))
                   for head, _, a, y in self._parts(y_pred, y_true))

    def _packed_gradient(self, y_pred, y_true, weights):
        # weights(head): that output's sample weights (n,), or None for the unweighted gradient
        grad = backend.get_array_module(y_pred).empty_like(y_pred)
        header = self.heads[0].layout.open if self.heads[0].layout is not None else 0
        if header:          # the rows' sizes, which say where each output's columns lie
            grad[:, :header] = y_pred[:, :header]
        for head in self.heads:
            if not head.scored:     # no loss reads it: dL/d(output) is 0 (its layers learn through the others)
                head.output(grad)[...] = 0
        for head, _, a, y in self._parts(y_pred, y_true):
            g = head.output(grad)
            a, y, w, rows = scored_part(head, a, y, weights(head))
            given = _head_gradient(head, a, y, w)
            if getattr(given, "shape", None) != a.shape:    # it would broadcast into the columns: (n, 1) trained all alike
                raise ValueError(f"output {head.name!r}: {gradient_shape_refusal(head.loss, a.shape, given)}")
            g[...] = given if rows is None else rows.back(given)    # (one number per sample: (n, 1) to (n,))
            if head.weight != 1.0:
                g *= head.weight
        return grad

    def gradient(self, y_pred, y_true):
        return self._packed_gradient(y_pred, y_true, lambda head: None)

    def weighted_gradient(self, y_pred, y_true, sample_weight):
        return self._packed_gradient(y_pred, y_true, lambda head: head.weights(sample_weight))

    def unclipped_output_gradients(self, y_pred, y_true):
        """``(head, weight x dL/d(output))`` of each fused head, as the loss's formula gives it
        unclipped (what ``trace`` shows as such an output's dA: see glassnet.trace)."""
        for head, _, a, y in self._parts(y_pred, y_true):
            if head.fused:
                a, y, _, rows = scored_part(head, a, y)
                g = head.loss.output_gradient_unclipped(a, y)
                yield head, head.weight * (g if rows is None else rows.back(g))

    def invalid_output(self, y_pred):
        for head in self.heads:
            why = head.scored and head.loss.invalid_output(head.output(y_pred))
            if why:
                return f"output {head.name!r}: {why}"
        return None

    def get_config(self):
        """Each output's loss and weight (compared by ``BackupAndRestore``)."""
        return [[head.name, None, head.weight, {}] if not head.scored else
                [head.name, head.loss.get_config(), head.weight, changed_settings(head.loss)] for head in self.heads]

    def __repr__(self):
        return "<loss " + ", ".join(f"{head.name}: {head.loss.name if head.scored else None}" +
                                    (f" x {head.weight:g}" if head.weight != 1 and head.scored else "")
                                    for head in self.heads) + ">"


class OutputMetric(Metric):
    """A compiled metric of one output of a model of several (``metric``: a function
    ``f(y_true, y_pred)`` or a ``Metric``, compiled under the name ``base``), scoring that
    output's columns of the packed batches. Logged as "<output>_<base>"; ``own_loss``: the
    output's own loss (``head_loss``), logged as "<output>_loss": before its loss weight, after
    the sample weights, as Keras 3 logs it (the other metrics stay unweighted, Keras' ``metrics=``,
    but for those of ``weighted_metrics``)."""

    def __init__(self, head, metric, base, own_loss=False, given=None):
        # given: the name compile was given, when the log's differs ("mse" for base "mse_1", the
        # output's second "mse"): what the config records
        self.head, self.metric, self.base, self.own_loss = head, metric, base, own_loss
        self.given = base if given is None else given
        # see metrics.base._update: the own loss, and a metric of weighted_metrics, weigh samples
        self.takes_sample_weight = own_loss or getattr(metric, "takes_sample_weight", False)
        # (an output inside nested lists logs its own loss under its place there, Keras' "1/b_loss")
        self.name = f"{head.loss_prefix if own_loss else ''}{head.name}_{base}"
        # which way is better, for callbacks on mode="auto" and Dask's sort: a loss down, a
        # Metric as it says, a function as its own name says (not the output's: "acceleration")
        self.direction = "down" if own_loss else getattr(metric, "direction", None) if isinstance(metric, Metric) \
            else {"max": "up", "min": "down"}[resolve_mode("auto", base, "metric")]
        self.reset_state()

    def __deepcopy__(self, memo):
        # a copy (metrics.base._fresh, metrics._claims.detach) is of the counts only: the head (and
        # its layer, whose logits a fused output's loss reads) stays the model's
        copied = copy.copy(self)
        if isinstance(self.metric, Metric):
            copied.metric = copy.deepcopy(self.metric, memo)
        return copied

    def reset_state(self):
        self.count, self.sum = 0, 0.0
        if isinstance(self.metric, Metric):
            self.metric.reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None):
        # a function's batch values are counted as MetricTally counts them for one output (by
        # samples, or once for one number from a function of your own: metrics.base.batch_share);
        # sample_weight (n,) reaches the output's own loss alone (MetricTally gives it no other)
        self.update_output(self.head.targets(y_true), self.head.output(y_pred), self.head.weights(sample_weight))

    def update_output(self, y, out, sample_weight=None):
        """Count one batch of this output alone: its targets ``y``, its values ``out`` (n, *shape)
        and its sample weights (n,) or None (what ``update_state`` reads from the packed batch;
        Keras' default steps hand each output's own: glassnet.default_steps)."""
        if not self.head.shape and not self.own_loss:
            # one number per sample: a row each, (n, 1), each weighed by its own weight (Keras'
            # metrics; the batch's mean weight is its loss's rule alone: glassnet.scalar_outputs)
            # metrics; the batch's mean weight is its loss's rule alone: glassnet.scalar_outputs), but
            # a function of your own is given the output as it is, (n,), as Keras 3.15 gives it
            y = y.reshape(-1, 1)
            out = out if sees_output_as_given(self.metric) else out.reshape(-1, 1)
        if isinstance(self.metric, Metric) and self.takes_sample_weight:
            self.metric.update_state(y, out, sample_weight=sample_weight)
        elif isinstance(self.metric, Metric):
            self.metric.update_state(y, out)
        else:
            n = out.shape[0]
            if self.own_loss:
                total, count = metric_number(head_loss(self.head, out, y, sample_weight), self.name) * n, n
            else:
                total, count = batch_share(self.metric, self.metric(y, out), self.name, n)
            self.sum += total
            self.count += count

    def result(self):
        if isinstance(self.metric, Metric):
            return self.metric.result()
        return metric_result(self.sum / self.count if self.count else 0.0)

    def get_config(self):
        return {"name": self.name}

    def __repr__(self):
        return f"OutputMetric({self.head.name!r}, {self.metric!r})"


def per_output(value, heads, what, allow_missing=False):
    """``value`` as one entry per head: a list or tuple of one per output, in the model's order,
    or a dict by the outputs' names (Keras' forms). With ``allow_missing`` a dict may leave
    outputs out (None for those)."""
    names = [head.name for head in heads]
    if isinstance(value, dict):
        twice = next((key for key in value if names.count(key) > 1), None)
        if twice is not None:       # one layer called more than once makes these outputs: same name
            at = [j for j, name in enumerate(names) if name == twice]
            # (or one nested model's call, or its calls, which name them: glassnet._output_models)
            maker = (f"made by layer {twice!r} (called more than once)" if all(heads[j].label is None for j in at)
                     else f"named {twice!r}, made by a model nested of that name (a model of several outputs, "
                          f"or called more than once)")
            raise ValueError(f"{what}: outputs {at} are all {maker}, so a dict by the outputs' names cannot "
                             f"tell them apart; give a list of {len(heads)} in the outputs' order")
        unknown = [key for key in value if key not in names]
        missing = [name for name in names if name not in value]
        if unknown or (missing and not allow_missing):
            raise ValueError(f"{what}: a dict needs the outputs' names as its keys, {names}; got "
                             f"{sorted(map(str, value))!r:.200}")
        return [value.get(name) for name in names]
    if isinstance(value, (list, tuple)) and len(value) == len(heads):
        return list(value)
    got = f"a {type(value).__name__} of {len(value)}" if isinstance(value, (list, tuple)) else repr(value)[:80]
    raise ValueError(f"{what}: the model has {len(heads)} outputs ({', '.join(names)}); give a list of "
                     f"{len(heads)} in that order or a dict by their names, got {got}")


def targets_per_output(y, heads, what):
    """The targets ``y`` of a model of several outputs as one entry per head, in Keras 3.15's forms
    (its ``CompileLoss``): a list or tuple of one per output (None for an unscored one) or of the
    scored outputs' alone, a dict by the outputs' names (which may leave the unscored out), or,
    where one output is scored, its targets themselves. None for an output given none."""
    scored = [head.scored for head in heads]
    if isinstance(y, (list, tuple)) and len(y) == sum(scored) != len(heads):
        given = iter(y)
        return [next(given) if is_scored else None for is_scored in scored]
    if not isinstance(y, (list, tuple, dict)) and sum(scored) == 1:
        return [y if is_scored else None for is_scored in scored]
    return per_output(y, heads, what, allow_missing=True)


def _per_output_metrics(metrics, heads, what):
    """``metrics`` (or ``weighted_metrics``, ``what``) as one list of ``metrics.get``'s pairs per
    head: None, or per output (a list of one entry per output, or a dict that may leave outputs
    out) a metric or a list of them."""
    if metrics is None:
        return [[] for _ in heads]
    if isinstance(metrics, (list, tuple)) and len(metrics) != len(heads) or isinstance(metrics, str):
        raise ValueError(f"{what}: the model has {len(heads)} outputs ({', '.join(h.name for h in heads)}); "
                         f"give each its own metrics, a list of {len(heads)} lists ({what}=[['accuracy'], "
                         f"['mae']]) or a dict by the outputs' names, got {metrics!r:.120}")
    return [[metrics_module.get(spec) for spec in
             ([] if specs is None else specs if isinstance(specs, (list, tuple)) else [specs])]
            for specs in per_output(metrics, heads, what, allow_missing=True)]


def _distinct(metric, logged):
    """``metric`` (an ``OutputMetric``), renamed "<output>_<metric>_1" (_2, ...) where an earlier
    output of the same name logs its name already: two outputs made by one layer called more than
    once share that layer's name (Keras 3 logs "d_accuracy" and "d_accuracy_1" so). ``logged``:
    {log name: the head logging it}, updated. Within one output, a second "mse" is numbered
    already (``weighted.compiled``); a clash left there (a function named "mse_1" beside two
    "mse") stays, for ``check_log_names`` to refuse."""
    name, k = metric.name, 0
    while logged.get(metric.name, metric.head) is not metric.head:
        k += 1
        metric.name = f"{name}_{k}"
    logged[metric.name] = metric.head
    return metric


def compile_heads(heads, loss, loss_weights, metrics, weighted_metrics=None, loss_order=None):
    """Compile each head: ``(Heads loss, compiled metrics [(log name, metric)])``. ``loss``: one
    for every output, or one per output (list or dict), None for an output left unscored (Keras'
    ``loss=[fn, None]``; a dict may leave outputs out); ``loss_weights``: None (1 each), or a
    number per output (an unscored output's is kept but weighs nothing; a dict may leave those
    out); ``metrics`` and ``weighted_metrics``: None, or per output (list or dict, a dict may leave
    outputs out) a metric or a list of them. Each output's own loss is logged too,
    "<output>_loss", in the heads' order or in ``loss_order`` (positions of the heads: a model
    whose outputs were given as a dict, glassnet._dictoutputs), when more than one output is
    scored (Keras 3 logs one scored output's as "loss" alone)."""
    given = per_output(loss, heads, "loss", allow_missing=True) if isinstance(loss, (list, tuple, dict)) \
        else [loss] * len(heads)
    scored = [spec is not None for spec in given]
    if not any(scored):
        # Keras 3.15 takes this compile and fails in fit ("No loss to compute"): refused here at once
        raise ValueError(f"loss: no output has a loss (got {loss!r:.120}); give at least one output a loss, "
                         f"None only for outputs kept for predict")
    weights = [1.0] * len(heads) if loss_weights is None else \
        per_output(loss_weights, heads, "loss_weights", allow_missing=True)
    for head, weight, has_loss in zip(heads, weights, scored):
        if weight is None and has_loss:     # a dict may leave out only the outputs without a loss
            raise ValueError(f"loss_weights: output {head.name!r} has a loss, so it needs a weight: a dict "
                             f"names every output that has a loss, got {loss_weights!r:.120}")
        if weight is not None and (isinstance(weight, (bool, np.bool_)) or not isinstance(weight, numbers.Real)
                                   or not math.isfinite(weight) or weight < 0):
            raise ValueError(f"loss_weights: the weight of output {head.name!r} must be a finite number >= 0, "
                             f"got {weight!r:.80}")
    plain_metrics = _per_output_metrics(metrics, heads, "metrics")
    weighted_per_output = _per_output_metrics(weighted_metrics, heads, "weighted_metrics")
    for head, has_loss, plain, weighted in zip(heads, scored, plain_metrics, weighted_per_output):
        if not has_loss and (plain or weighted):
            # Keras 3.15 scores them only when fit is also given this output's targets (with None
            # for them it fails: "None values not supported"); here an unscored output takes none
            raise ValueError(f"metrics: output {head.name!r} has no loss (None), so it takes no targets to "
                             f"score; leave its metrics out, or give it a loss with loss_weights 0 (its "
                             f"targets then scored and logged as {head.name}_loss, training unchanged)")
    chosen = []
    for head, spec in zip(heads, given):
        head_loss = None if spec is None else losses.for_compile(spec)
        chosen.append(head_loss)
    compiled, chosen_metrics, logged = [], [], {}
    for j in range(len(heads)) if loss_order is None else loss_order:
        head, head_loss = heads[j], chosen[j]
        if head_loss is None or sum(scored) == 1:       # (one scored output: "loss" is its loss)
            continue
        own = _distinct(OutputMetric(head, LossMetric(head_loss, reduced=True), "loss", own_loss=True), logged)
        compiled.append((own.name, own))
    for head, plain, weighted in zip(heads, plain_metrics, weighted_per_output):
        given = {}      # an output's second "mse" logs as "<output>_mse_1", as in Keras 3.15
        for name, fn in metrics_module.weighted.compiled(plain, weighted, given):
            metric = _distinct(OutputMetric(head, fn, name, given=given.get(name)), logged)
            chosen_metrics.append((metric.name, metric))
    # the outputs' losses in the outputs' order, then the metrics by name: Keras 3's order
    compiled += sorted(chosen_metrics, key=lambda pair: pair[0])
    metrics_module.check_log_names([name for name, _ in compiled])
    # everything checked: only now do the heads change (a refused compile leaves the model's as they were)
    place_targets(heads, chosen, [1.0 if weight is None else float(weight) for weight in weights])
    for head in heads:
        head.loss_as_given = None       # a loss named "crossentropy" is picked at the first batch (pick_head_loss)
    forms = {key: "dict" if isinstance(value, dict) else "list" if isinstance(value, (list, tuple)) else None
             for key, value in (("loss_weights", loss_weights), ("metrics", metrics),
                                ("weighted_metrics", weighted_metrics))}
    return Heads(heads, loss, forms), compiled


def as_given(loss):
    """``loss`` as compile takes it: a model's ``model.loss`` of several outputs (``Heads``) is
    what its compile was given, as in Keras 3.15 (the Heads' own object would stand for one loss
    of every output, its sparse labels no longer read as such); anything else as it is."""
    return loss._given() if isinstance(loss, Heads) else loss


def place_targets(heads, chosen, weights):
    """Give each head its loss (``chosen``, None: unscored) and weight, and its targets their
    columns in the packed targets, one head after the other: a sparse loss's labels take one column
    per position, any other loss's targets the output's shape (``Head.compiled``)."""
    start = 0
    for head, head_loss, weight in zip(heads, chosen, weights):
        start += head.compiled(head_loss, weight, start)
    targets = Layout([head.target_shape for head in heads])
    for head in heads:
        head.target_layout = targets


def pick_head_loss(heads, head, target_shape, compiled):
    """Output ``head`` compiled with ``"crossentropy"``/``"ce"`` (a ``PendingCrossentropy``) given
    the loss its first targets, of ``target_shape`` (n, ...), pick (glassnet.losses.picked). The
    targets' columns move for a sparse loss's labels, so every head's are placed again; the output's
    own logged loss (``compiled``'s "<output>_loss") scores with the loss picked. The name as given
    is kept for the compile config (``loss_as_given``)."""
    pending = head.loss
    picked = pending.pick(target_shape, (target_shape[0], *head.shape))
    place_targets(heads, [picked if h is head else h.loss for h in heads], [h.weight for h in heads])
    head.loss_as_given = pending.given
    for _, metric in compiled:
        if isinstance(metric, OutputMetric) and metric.head is head and metric.own_loss:
            metric.metric = LossMetric(picked, reduced=True)


def each_output_metrics(compiled, head):
    """The metrics compiled for ``head`` (its loss's log left out), as ``[(name, metric)]`` with
    the names they were given: what a config records and a model file saves."""
    return [(fn.given, fn.metric) for _, fn in compiled
            if isinstance(fn, OutputMetric) and fn.head is head and not fn.own_loss]


def per_output_weights(sample_weight):
    """Whether ``sample_weight`` gives each output its own weights (Keras' forms: a dict by the
    outputs' names, or a list with an array, list or None per output) rather than one weight per
    sample for all of them (an array, or a list of numbers)."""
    if isinstance(sample_weight, dict):
        return True
    return isinstance(sample_weight, (list, tuple)) and any(
        w is None or isinstance(w, (list, tuple)) or getattr(w, "ndim", 0) >= 1 for w in sample_weight)


def weight_list(packed):
    """Sample weights as ``fit`` takes them again: one per output, a list of columns, when
    packed (n, outputs); (n,) or None as they are."""
    return packed if packed is None or packed.ndim == 1 else list(packed.T)


def target_list(packed, heads):
    """Packed targets as the list of each output's, as a user gives them (Dask's held-out part):
    None for an unscored output, which takes none."""
    return [head.targets(packed) if head.scored else None for head in heads]


def split_outputs(packed, heads):
    """The packed outputs (n, sum of sizes) as a list of arrays, one per output, each its own."""
    xp = backend.get_array_module(packed)
    return [xp.ascontiguousarray(head.output(packed)) for head in heads]
