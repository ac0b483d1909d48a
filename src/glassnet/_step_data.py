"""The data a model with its own ``train_step`` hands its steps (glassnet.own_steps): fit's,
evaluate's and the validation's batches, packed as Keras 3 packs them (``keras_data``: the x batch
alone, ``(x, y)`` or ``(x, y, sample_weight)``), from one array each for x and y (``_Arrays``),
from lists, tuples or dicts of arrays (``_NestedArrays``: every leaf cut to the same rows, the
batch in the same structure), or from batch-by-batch data (``_feed_epoch``). See own_steps'
docstring for the rules (how a list of arrays is told from a list of numbers).

Every float array a step receives is in the model's dtype, however deep it sits in the batch and
wherever the batch came from (arrays, a PyDataset, a generator, a DataLoader): Keras 3.15 casts
arrays given to fit to its floatx but hands a PyDataset's or a generator's float64 leaves as
float64 (checked); glassnet makes both one rule, its own (float32 by default, never float64 by
accident). Integer and other arrays come as they are.

"""
import itertools

import numpy as np

from ._validation import as_array
from ._warnings import warn
from .feeding import is_batches, reading_feed, unpack
from .training import _array_batches, _gather, _read_only, split_point, validation_feed
from .weighting import check_sample_weight


def _as_step_data(part, model):
    """A part of a batch (x, y or the weights) as a step receives it: every float array in it (one
    array, or the leaves of lists, tuples and dicts at any depth) in the model's dtype (Keras casts
    arrays given to fit to its floatx), anything else as it came."""
    if isinstance(part, np.ndarray):
        return part.astype(model.dtype) if part.dtype.kind == "f" and part.dtype != model.dtype else part
    if isinstance(part, dict):
        return {key: _as_step_data(value, model) for key, value in part.items()}
    if isinstance(part, (list, tuple)):
        items = [_as_step_data(value, model) for value in part]
        return type(part)(*items) if hasattr(part, "_fields") else type(part)(items)
    return part


def keras_data(x, y, w):
    """What Keras 3 hands a step (its ``pack_x_y_sample_weight``): the x batch itself when there are
    no targets, else ``(x, y)``, or ``(x, y, sample_weight)``. Weights without targets are dropped,
    as Keras 3.15 drops them (checked: ``fit(x, sample_weight=w)``'s step gets x alone); ``_arrays``
    warns of it."""
    if y is None:
        # several inputs alone come as a 1-tuple ``((x1, x2),)``, as Keras 3.15 hands them (checked):
        # the step's ``x = data[0]``-style unpacking cannot take x1 for x and x2 for y
        return (x,) if isinstance(x, (list, tuple)) else x
    return (x, y) if w is None else (x, y, w)


def _is_several(part):
    """Whether ``part`` (x or y as given) is several arrays: a dict, or a list or tuple one of
    whose items is an array with a batch axis or is itself several (see the module docstring).
    A list of numbers, or of lists of numbers, is one array, as glassnet has always taken it."""
    if isinstance(part, dict):
        return True
    return isinstance(part, (list, tuple)) and any(
        _is_several(item) if isinstance(item, (dict, list, tuple)) else getattr(item, "ndim", 0) >= 1
        for item in part)


def _leaves(part, name):
    """``[(label, array-like)]``: the leaves of ``part`` in order, each labelled by where it sits
    ("x[0]", "y['out']") so that a refusal names it."""
    if isinstance(part, dict):
        items = [(f"{name}[{key!r}]", value) for key, value in part.items()]
    elif _is_several(part):
        items = [(f"{name}[{i}]", value) for i, value in enumerate(part)]
    else:
        return [(name, part)]
    # (None inside a structure, an unscored output's targets, is no leaf: Keras' tree skips it, and
    # the step gets None at its place, _form)
    return [leaf for label, value in items if value is not None for leaf in _leaves(value, label)]


def _form(part, count):
    """``part``'s structure with each leaf replaced by its position among the leaves (``count``
    gives them in ``_leaves``' order): built once, then ``_fill`` puts each batch's slices in.
    A None inside stays None (``y=[y_a, None]`` for an output compiled with a None loss)."""
    if part is None:
        return None
    if isinstance(part, dict):
        return {key: _form(value, count) for key, value in part.items()}
    if _is_several(part):
        return (type(part), [_form(value, count) for value in part])
    return next(count)


def _fill(form, leaves):
    """The structure ``form`` describes with the arrays ``leaves`` in it (a namedtuple stays one)."""
    if form is None:
        return None
    if isinstance(form, int):
        return leaves[form]
    if isinstance(form, dict):
        return {key: _fill(value, leaves) for key, value in form.items()}
    kind, items = form
    items = [_fill(value, leaves) for value in items]
    return kind(*items) if hasattr(kind, "_fields") else kind(items)


class _Arrays:
    """Arrays (x, and y and the sample weights when given) cut into batches by fit's own code
    (``training._array_batches``: shuffled each epoch into buffers made once, then sliced).
    ``epoch()`` yields ``(batch index, data)`` with data as ``keras_data`` packs it."""

    def __init__(self, model, x, y, w, batch_size, shuffle, names=("x", "y", "sample_weight")):
        x = _as_step_data(as_array(x, names[0], model.dtype, cast=False), model)
        if y is not None:
            y = _as_step_data(as_array(y, names[1], model.dtype, cast=False), model)
            if len(y) != len(x):
                raise ValueError(f"{names[1]}: expected as many samples as {names[0]} ({len(x)}), got {len(y)}")
        # (n, 1) weights (keras.io's guide: sw = np.random.random((1000, 1))) as (n,), one per sample,
        # as ordinary fit takes them for an output without positions
        w = None if w is None else check_sample_weight(w, len(x), model.dtype, names[2], column=True)
        self.x, self.y, self.w, self.model = x, y, w, model
        self._batch(model, batch_size, shuffle)

    def _batch(self, model, batch_size, shuffle):
        """Batches of ``batch_size`` (None: all samples) and, for shuffled epochs, the buffers."""
        x, w, self.n = self.x, self.w, len(self.x)
        self.batch_size = self.n if batch_size is None else min(batch_size, self.n)
        self.steps = -(-self.n // self.batch_size)
        # no y: an empty stand-in, (n, 0), that _array_batches shuffles and slices along at no cost
        self._y = self.y if self.y is not None else np.empty((self.n, 0), dtype=model.dtype)
        if shuffle and self.steps > 1:
            self._xs, self._ys = np.empty_like(x), np.empty_like(self._y)
            self._ws = None if w is None else np.empty_like(w)
        else:           # sliced as they are: the caller's own arrays, read-only to the step
            # (y too, as _NestedArrays' leaves: a step's ``y -= ...`` would change the caller's
            # targets, and every later epoch's, where Keras' tensors are immutable)
            self.x = self._xs = _read_only(x)
            self._y = self._ys = _read_only(self._y)
            self.y = None if self.y is None else self._y
            self._ws = w

    def epoch(self):
        for b, xb, yb, wb in _array_batches(self.x, self._y, self.w, self._xs, self._ys, self._ws,
                                            self.batch_size, self.steps, self.model.shuffle_rng):
            yield b, keras_data(xb, None if self.y is None else yb, wb)

    def whole(self):
        """``(x, y, sample_weight)``: all the samples, unshuffled, y and the weights None when not
        given (``train_on_batch``'s one batch: Keras hands that 3-tuple to the step unpacked)."""
        return self.x, self.y, self.w

    def hold_out(self, model, fraction, batch_size, shuffle):
        """fit's ``validation_split``: the last ``fraction`` of the samples (before shuffling, Keras'
        rule) returned as validation data, ``x`` or ``(x, y[, w])``; these batches keep the rest."""
        cut = split_point(self.n, fraction)
        if cut <= 0 or cut == self.n:
            raise ValueError(f"validation_split={fraction} leaves no training or no validation samples out of {self.n}")
        held = keras_data(*(None if a is None else a[cut:] for a in (self.x, self.y, self.w)))
        self.x, self.y, self.w = (None if a is None else a[:cut] for a in (self.x, self.y, self.w))
        self._batch(model, batch_size, shuffle)
        return held


class _NestedArrays:
    """x and y when one of them is several arrays (``_is_several``): their leaves cut into the same
    batches, the step receiving each batch in x's and y's own structures. The interface is
    ``_Arrays``' (``epoch``, ``hold_out``, ``n``, ``steps``, ``batch_size``); kept apart so that
    the one-array path keeps its speed. Each shuffled epoch draws one permutation from the model's
    ``shuffle_rng``, as ``_Arrays`` does, and gathers every leaf (and the weights) by it into
    buffers made once; then each batch is slices of those, put back in the structures."""

    def __init__(self, model, x, y, w, batch_size, shuffle, names=("x", "y", "sample_weight")):
        labelled = _leaves(x, names[0]) + ([] if y is None else _leaves(y, names[1]))
        if not labelled:
            raise ValueError(f"{names[0]}: expected arrays, got an empty {type(x).__name__}")
        count = itertools.count()
        self.x_form = _form(x, count)
        self.y_form = None if y is None else _form(y, count)
        self.leaves = [_as_step_data(as_array(value, label, model.dtype, cast=False), model)
                       for label, value in labelled]
        first, n = labelled[0][0], len(self.leaves[0])
        for (label, _), leaf in zip(labelled, self.leaves):
            if len(leaf) != n:
                raise ValueError(f"{label}: expected as many samples as {first} ({n}), got {len(leaf)} "
                                 f"(every array of x and y holds one row per sample)")
        self.w = None if w is None else check_sample_weight(w, n, model.dtype, names[2], column=True)     # (n, 1): (n,)
        # the model's shuffle_rng is read at each epoch, not kept: BackupAndRestore replaces it as
        # fit starts (a resumed run shuffles as the uninterrupted one would have)
        self.model = model
        self._batch(batch_size, shuffle)

    def _batch(self, batch_size, shuffle):
        self.n = len(self.leaves[0])
        self.batch_size = self.n if batch_size is None else min(batch_size, self.n)
        self.steps = -(-self.n // self.batch_size)
        # one batch: the order of the samples cannot change the step (and no permutation is drawn,
        # as in _Arrays, so that the model's shuffle_rng advances alike on both paths)
        self.shuffled = shuffle and self.steps > 1
        if self.shuffled:
            self._bufs = [np.empty_like(leaf) for leaf in self.leaves]
            self._wbuf = None if self.w is None else np.empty_like(self.w)
        else:           # sliced as they are: the caller's own arrays, read-only to the step
            self.leaves = [_read_only(leaf) for leaf in self.leaves]

    def _data(self, leaves, w, rows):
        """The batch of ``rows`` (a slice) as ``keras_data`` packs it, in x's and y's structures."""
        cut = [leaf[rows] for leaf in leaves]
        return keras_data(_fill(self.x_form, cut), None if self.y_form is None else _fill(self.y_form, cut),
                          None if w is None else w[rows])

    def epoch(self):
        leaves, w = self.leaves, self.w
        if self.shuffled:
            order = self.model.shuffle_rng.permutation(self.n)        # one for all leaves: rows stay together
            for leaf, buf in zip(leaves, self._bufs):
                _gather(leaf, order, buf)
            if w is not None:
                _gather(w, order, self._wbuf)
            leaves, w = self._bufs, self._wbuf
        bs = self.batch_size
        for b in range(self.steps):
            yield b, self._data(leaves, w, slice(b * bs, (b + 1) * bs))

    def whole(self):
        """``(x, y, sample_weight)`` of all the rows, unshuffled, in x's and y's structures."""
        return (_fill(self.x_form, self.leaves), None if self.y_form is None else _fill(self.y_form, self.leaves),
                self.w)

    def hold_out(self, model, fraction, batch_size, shuffle):
        """``validation_split``: the last rows of every leaf (and of the weights), as Keras'
        ``train_validation_split`` holds them out; these batches keep the rest."""
        cut = split_point(self.n, fraction)
        if cut <= 0 or cut == self.n:
            raise ValueError(f"validation_split={fraction} leaves no training or no validation samples out of {self.n}")
        held = self._data(self.leaves, self.w, slice(cut, None))
        self.leaves = [leaf[:cut] for leaf in self.leaves]
        self.w = None if self.w is None else self.w[:cut]
        self._batch(batch_size, shuffle)
        return held


def _arrays(model, x, y, w, batch_size, shuffle, names=("x", "y", "sample_weight"), call="fit", packed=True):
    """x, y and the weights given as arrays, cut into fit's batches: ``_NestedArrays`` when x or y is
    several arrays, else ``_Arrays``. The sample weights are one array either way. ``packed``:
    the batches go to a step as ``keras_data`` packs them, which drops weights given without y
    (Keras 3.15 does so silently): checked, then dropped with a warning naming ``call``."""
    _refuse_several(w, type(model).__name__, names[2])
    several = _is_several(x) or (y is not None and _is_several(y))
    arrays = (_NestedArrays if several else _Arrays)(model, x, y, w, batch_size, shuffle, names)
    if packed and y is None and w is not None:
        weights_dropped(model, call, names[2])
        arrays.w = None
    return arrays


def weights_dropped(model, call, what="sample_weight"):
    """Warn that the weights ``what`` given to ``call`` without y do not reach the step."""
    warn(f"{call}: {what} given without y: Keras 3 hands {type(model).__name__}'s step the x batch alone "
         f"then (its pack_x_y_sample_weight drops the weights), and so does glassnet; give y too for the "
         f"step to receive (x, y, sample_weight)")


def _feed_epoch(feed, model):
    """One epoch of ``feed``'s batches as ``(batch index, data)``, unpacked and packed again as Keras
    hands them to a step (a batch ``(x,)`` comes as x)."""
    for b, (index, batch) in enumerate(feed.epoch()):
        x, y, w = unpack(batch, feed.describe(index), need_y=False)
        yield b, keras_data(*(_as_step_data(part, model) for part in (x, y, w)))


def _reading(model, data, batch_size, steps, call):
    """A function giving, at each call, the batches ``(index, data)`` of one reading of ``data``
    from its start (a validation's, evaluate's): arrays ``x``, ``(x, y)`` or ``(x, y, w)`` in
    batches of ``batch_size`` (Keras: 32 when None), or batch-by-batch data, ``steps`` at a time."""
    if is_batches(data):
        feed = validation_feed(data, steps) if call == "fit" else reading_feed(data, steps, call)

        def read():
            feed.rewind()
            return _feed_epoch(feed, model)
        return read
    if isinstance(data, list):          # Keras' unpack_x_y_sample_weight: a list is a tuple
        data = tuple(data)
    parts = data if isinstance(data, tuple) else (data,)
    if not 1 <= len(parts) <= 3:
        raise ValueError(f"{'validation_data' if call == 'fit' else 'x'}: expected x, (x, y) or (x, y, "
                         f"sample_weight), got a tuple of {len(parts)}")
    names = ("validation_data[0]", "validation_data[1]", "validation_data[2]") if call == "fit" else (
        "x", "y", "sample_weight")
    arrays = _arrays(model, *(*parts, None, None)[:3], 32 if batch_size is None else batch_size, False, names,
                     call)
    return arrays.epoch


def _refuse_several(w, name, what="sample_weight"):
    """Refuse by name sample weights (``what``: "sample_weight", "validation_data[2]") given as
    several arrays: they are one array, a weight per sample, whatever the outputs (Keras' one array
    per output of ``y`` is not taken: a step weighing its outputs apart can do so itself)."""
    if _is_several(w):
        raise TypeError(f"{what}: {name} with its own train_step takes one array of sample weights, one "
                        f"weight per sample for all outputs, got a {type(w).__name__} of arrays")
