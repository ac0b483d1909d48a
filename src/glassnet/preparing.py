"""How ``Sequential`` checks and prepares what its users pass: x, y, targets, class and sample
weights. ``fit``, ``train_on_batch`` (training.py), ``evaluate`` and ``predict`` (inference.py) all
start here, so a bad argument gets the same error whichever call it was given to.
"""
import numpy as np

from . import backend, losses, metrics
from ._listforms import by_input_name, by_output_name, one_input, one_output
from ._validation import as_array, NON_FINITE_TAKEN
from .layers.base import StateSnapshot, call_arguments_set, shape_fits
from .metrics.base import Metric, MetricTally
from .scalar_outputs import check_scalar_metrics, scalar_targets
from .outputs import OutputMetric, each_output_metrics, per_output, per_output_weights, pick_head_loss
from .weighting import check_sample_weight, class_weight_table, combine, refuse_both


def check_binary_targets(y, name, units, compiled):
    """``PreparingMixin._check_accuracy_targets`` for targets ``y`` of an output of ``units`` units
    scored by the ``compiled`` metrics ``[(name, metric)]``."""
    if units != 1 or not y.size or y.dtype.kind not in "iuf":
        return
    binary = [metric for metric, fn in compiled if fn in (metrics.accuracy, metrics.functions.binary_accuracy)]
    if binary and (y.min() < 0 or y.max() > 1):
        raise ValueError(f"{name}: the metric {binary[0]!r} counts targets as classes 0 and 1, got values "
                         f"from {y.min()} to {y.max()}; for a regression model, use 'mae' or 'mse'")


def prepare_targets(loss, y, shape, dtype, name, output="the model's output"):
    """``loss``'s own check of the targets ``y`` of an output of sample ``shape``. An output with
    several axes (one that ends in Conv2D, Conv1D or Reshape) takes targets of its full shape,
    (n, *shape), which the loss checks position by position along the last axis; a sparse loss
    takes one label per position. ``output`` names the output in the messages."""
    whole = loss.prepare_output_targets(y, shape, dtype, name, output)
    if whole is not None:
        return whole
    if len(shape) == 0:
        return scalar_targets(loss, y, dtype, name, output)
    if len(shape) == 1:
        return loss.prepare_targets(y, shape[0], dtype, name)
    if loss.sparse:         # one label per position (scoring.py): (n, steps) for (n, steps, classes)
        positions = shape[:-1]
        labels = y[..., 0] if shape_fits(y.shape[1:], (*positions, 1)) else y
        if not shape_fits(labels.shape[1:], positions):
            raise ValueError(f"{name}: {loss.name} takes one class label per position of {output} "
                             f"(n_samples, {', '.join(map(str, shape))}), an array of shape "
                             f"(n_samples, {', '.join(map(str, positions))}); got shape {y.shape}")
        return loss.prepare_targets(labels.reshape(-1), shape[-1], dtype, name).reshape(labels.shape)
    if shape[-1] == 1 and y.ndim == len(shape) and shape_fits(y.shape[1:], shape[:-1]):
        # targets (n, T) for outputs (n, T, 1), a Dense(1) on every step (PyTorch's time sequence
        # prediction): Keras 3's losses add the last axis of 1 (squeeze_or_expand_to_same_rank),
        # as fit adds it to x for an Input ending in 1, and as (n,) is taken for (n, 1)
        y = y[..., None]
    if not shape_fits(y.shape[1:], shape):
        raise ValueError(f"{name}: expected targets of shape (n_samples, {', '.join(map(str, shape))}) "
                         f"to match {output}, got shape {y.shape}")
    width = y.shape[-1] if shape[-1] is None else shape[-1]     # a length left open (attention scores)
    return loss.prepare_targets(y.reshape(-1, width), width, dtype, name).reshape(y.shape)


class PreparingMixin:

    def _require_built(self, what):
        if not self.built:
            raise ValueError(f"{what}: the model is not built yet; give the first layer input_dim/"
                             f"input_shape, call build(input_shape), or fit/predict on data first")

    def _require_compiled(self, what):
        # (a subclass of Model compiled before it is drawn is compiled when it is: graph.Model._draw)
        if self.loss is None and getattr(self, "_deferred_compile", None) is None:
            raise ValueError(f"{what}: call compile(loss=..., optimizer=...) first")

    def _array_module(self):
        """The module of the model's weights: numpy, or cupy for a model built after
        ``set_backend("cupy")`` (a model with no weights yet: the backend in use)."""
        for layer in self.layers:
            for value in layer.params.values():
                return backend.get_array_module(value)
        return backend.xp()

    def _on_device(self, *arrays):
        """``arrays`` where the model's weights are: on a GPU model, NumPy arrays are copied to the
        device (CuPy refuses to mix the two in one product); otherwise, and for None, as they are.
        One array in, one out; several in, a tuple out.

        The checks of ``_prepare_xy`` run before this, on the data where the user keeps it, and
        every public call moves its arrays here just before the forward pass: ``fit`` the whole
        training set once (its epochs are shuffled on the device), ``predict`` and ``evaluate``
        one chunk at a time, so that the GPU holds a chunk, not the data."""
        xp = self._array_module()
        moved = tuple(a if a is None or xp is np else xp.asarray(a) for a in arrays)
        return moved[0] if len(moved) == 1 else moved

    def _prepare_x(self, x, name="x", cast=True):
        """``x`` checked against the model (building it on first use); in the model's dtype, or with
        ``cast=False`` in its own, for a caller that casts it chunk by chunk. A model whose first
        layer is a TextVectorization takes texts, turned into its ids here, all at once. Keras'
        ``[x]`` is ``x`` (glassnet._listforms: a list of numbers, or of one array per sample, is data),
        and so is ``{input name: x}`` (``_single_input_name``)."""
        text_layer = self.layers[0] if self._takes_text() else None
        x, name = by_input_name(x, name, self._single_input_name())
        x, name = one_input(x, name, len(self._sample_input_shape) if self.built else None, text_layer is not None)
        if text_layer is not None:
            # straight in the model's dtype (a wide multi-hot is no int64 copy first); at least one
            # id per text, so that a call of empty texts is padding, not an empty array
            x = text_layer.encode(x, name, dtype=self.dtype, min_length=1)
            self._check_text_ids(x.shape[1:], name)
        x = as_array(x, name, self.dtype, cast=False, finite=not NON_FINITE_TAKEN[0])   # (predict takes NaN: _validation; no call: hot path)
        if (self.built and text_layer is None and x.ndim == len(self._sample_input_shape) and self._sample_input_shape[-1] == 1
                and shape_fits(x.shape[1:], self._sample_input_shape[:-1])):
            # images (n, 28, 28) for Input((28, 28, 1)), a column (n,) for Input((1,)): Keras 3 adds
            # the last axis of 1 (its _adjust_input_rank), as a model of several inputs here does
            # for each of them (checked before the 2-D rule below, which the column would fail)
            x = x[..., None]
        if x.ndim < 2:
            raise ValueError(f"{name}: expected a 2-D array (n_samples, n_features), got shape {x.shape}; "
                             f"for a single feature use x.reshape(-1, 1)")
        if not self.built:
            # Sequential's build reads Keras' batch axis first; others take the samples' shape
            from .model import Sequential
            self.build((None, *x.shape[1:]) if type(self).build is Sequential.build else x.shape[1:])
        elif not shape_fits(x.shape[1:], self._sample_input_shape):
            # one sample without its batch axis: (28, 28, 1) read as 28 samples of (28, 1)
            hint = (f"; one sample needs a batch axis: {name}[None] has shape {(1, *x.shape)}"
                    if shape_fits(x.shape, self._sample_input_shape) else
                    # the same kind of sample, another length: say how to declare any length
                    f"; for samples of several lengths, declare them with None, Input({(None, *self._sample_input_shape[1:])})"
                    if x.ndim - 1 == len(self._sample_input_shape) and x.shape[2:] == self._sample_input_shape[1:]
                    and (len(self._sample_input_shape) > 1 or self._reads_token_ids()) else
                    # PyTorch's channels-first images (C, H, W) where (H, W, C) is expected
                    f"; channels-first images (PyTorch's) go channels-last: {name}.transpose(0, 2, 3, 1)"
                    if x.ndim == 4 and len(self._sample_input_shape) == 3
                    and shape_fits((*x.shape[2:], x.shape[1]), self._sample_input_shape) else
                    # build((16, 5)) read as Keras reads it (batch 16), where glassnet read samples (16, 5)
                    f"; build({(batch, *self._sample_input_shape)}) read {batch} as the batch axis, as Keras "
                    f"3.15 does: for samples of shape {x.shape[1:]} build the model with "
                    f"build({(None, *x.shape[1:])})"
                    if (batch := self.__dict__.get("_build_batch_size")) is not None
                    and tuple(x.shape[1:]) == (batch, *self._sample_input_shape) else "")
            raise ValueError(f"{name}: the model expects samples of shape {self._sample_input_shape}, "
                             f"got samples of shape {x.shape[1:]} (an array of shape {x.shape}){hint}")
        # values the first layer cannot take (an Embedding's indices), all of them before any work and
        # as given: a float64 3.0000001 or an int64 2**40 would look like indices once cast to float32
        options = self._call_settings()[1]          # each call's own arguments (a reverse call's vectors)
        for k, (layer, parents) in enumerate(zip(self._node_layers, self._inbound)):
            if -1 in parents:       # a Sequential's first layer; every layer a functional Model's input feeds
                with call_arguments_set(layer, None if options is None else options[k]):
                    layer.check_input_values(x, name)
        if text_layer is not None and len(self.layers) > 1:
            # ids beyond an Embedding's table: say where they come from
            try:
                self.layers[1].check_input_values(x, name)
            except ValueError as exc:
                argument = getattr(self.layers[1], "index_argument", "input_dim")
                # a vocabulary's size (TextVectorization, StringLookup) or Hashing's num_bins
                size = text_layer.vocabulary_size() if hasattr(text_layer, "vocabulary_size") else text_layer.num_bins
                raise ValueError(f"{exc}; {text_layer.describe()} makes ids up to {size - 1}: "
                                 f"give {self.layers[1].describe()} {argument}={size}") from None
        return x.astype(self.dtype, copy=False) if cast else x

    def _reads_token_ids(self):
        """Whether the model's input goes to an ``Embedding``: samples of shape (steps,) are then
        token ids along a length (another length is a sequence, not a mistake), where a ``Dense``'s
        (features,) of another width is one."""
        from .layers.embedding import Embedding
        return any(-1 in parents and isinstance(layer, Embedding)
                   for layer, parents in zip(self._node_layers, self._inbound))

    def _check_text_ids(self, shape, where, j=None):
        """Raise unless samples of ``shape``, made by a layer that reads texts, fit the built model:
        a vocabulary adapted anew may have changed their width. ``j``: that of ``inputs[j]``'s reader
        in a functional Model of several Inputs (graph.Model); None: the first layer's."""
        if j is None:
            reader, built, of, made = self.layers[0], self._sample_input_shape, "", ("built", "build")
            if not self.built:
                return
        else:
            reader, built, of, made = (self._text_readers[j], self._input_shapes[j],
                                       f" of input {self._input_names[j]!r}", ("drawn", "draw"))
        if not shape_fits(shape, built):
            raise ValueError(f"{where}: {reader.describe()} now makes samples of shape {tuple(shape)}{of}, the "
                             f"model was built for {built}: its vocabulary changed after the model was "
                             f"{made[0]}; {made[1]} a new model (or give it max_tokens and pad_to_max_tokens=True)")

    def _prepare_xy(self, x, y, xname="x", yname="y", cast=True):
        self._require_compiled("fit/evaluate")
        x = self._prepare_x(x, xname, cast)
        if y is None and getattr(self.loss, "added_losses_only", False):
            # compile(loss=None): Keras trains on the add_loss terms alone, given no targets; the
            # steps take targets all the same, zero-width ones (no loss reads them)
            return x, np.zeros((x.shape[0], 0), dtype=self.dtype)
        if self._heads is not None:
            return x, self._packed_targets(x, y, xname, yname)
        # Keras' [y]; one sample's targets in a list are its row: as the output's samples, or a
        # sparse loss's labels, one per position (with or without an axis of 1)
        shape = self._output_shape_for(x.shape[1:], x)
        # Keras' {key: y} where it takes one (a nested model's dict output, last), refused elsewhere
        y, yname = by_output_name(y, yname, self._dict_output_key(), self._output_layer.name)
        y, yname = one_output(y, yname, x.shape[0], self._single_output_name(),
                              sample_shapes=(shape, shape[:-1], (*shape[:-1], 1)))
        y = as_array(y, yname, self.dtype, allow_int=True)
        if y.shape[0] != x.shape[0]:
            raise ValueError(f"{xname} and {yname} must have the same number of samples, got "
                             f"{x.shape[0]} and {y.shape[0]}")
        if isinstance(self.loss, losses.PendingCrossentropy):      # compile(loss="ce"): the first batch picks
            self._pick_crossentropy(y.shape, shape)
        y = self._prepare_targets(y, yname, x.shape[1:], x)
        self._check_accuracy_targets(y, yname)
        return x, y

    def _pick_crossentropy(self, target_shape, output_shape):
        """The model of one output compiled with ``"crossentropy"`` or ``"ce"`` (Keras' compile-only
        names): its first targets, of ``target_shape`` (n, ...), and its outputs' sample shape
        ``output_shape`` pick the cross-entropy (glassnet.losses.picked), which replaces the
        placeholder for good, and the fused sigmoid/softmax path is planned again for it, as
        compile plans it for a loss named. The config keeps the name as given (Keras' too)."""
        pending = self.loss
        self.loss = pending.pick(target_shape, (target_shape[0], *output_shape))
        self._loss_as_given = pending.given
        self._update_fusion()
        # the cross-entropy picked reads probabilities: compile's warning for a log_softmax output,
        # which compile could not give before the pick
        self._warn_logits_of_probabilities()

    def _packed_targets(self, x, y, xname, yname):
        """A model of several outputs' targets: ``y`` a list of arrays in the order of its outputs,
        or a dict by their names (``_output_labels``), each checked as its output's loss takes it,
        then all packed side by side (glassnet.outputs), in the model's dtype. Outputs without a
        loss take no targets: Keras 3.15's forms, their entries None or anything (ignored), or left
        out (``_scored_targets``)."""
        if self._keras_output_nesting is not None and self._output_keys is None:
            # targets nested as the outputs are, Keras' [ya, [yb, yc], yd] (glassnet._nested_outputs)
            from ._nested_outputs import flatten_given
            y = flatten_given(self._keras_output_nesting, y, yname)
        given, labels = self._scored_targets(y, yname)
        targets = []
        for head, array, label in zip(self._heads, given, labels):
            if not head.scored:         # kept for predict: no targets, none packed
                targets.append(None)
                continue
            if array is None:
                raise ValueError(f"{label}: output {head.name!r} has a loss, so it needs targets; got None")
            array = as_array(array, label, self.dtype, allow_int=True)
            if array.shape[0] != x.shape[0]:
                raise ValueError(f"{xname} and {label} must have the same number of samples, got "
                                 f"{x.shape[0]} and {array.shape[0]}")
            if isinstance(head.loss, losses.PendingCrossentropy):  # this output's "ce": its first targets pick
                pick_head_loss(self._heads, head, array.shape, self._compiled_metrics)
                self._update_fusion()
            # the loss's own check against its output, as for a model of one output (and, as there,
            # a layer whose forward contradicts its declared shape named first: _check_declared_shapes)
            try:
                array = prepare_targets(head.loss, array, head.shape, self.dtype, label, f"output {head.name!r}")
            except ValueError:
                self._check_declared_shapes(x)
                raise
            if not head.shape:      # one number per sample: its own rules, as a model of one output's
                check_scalar_metrics(self._logged_metrics(head), array, label)
            else:
                check_binary_targets(array, label, head.shape[-1], each_output_metrics(self._compiled_metrics, head))
            targets.append(array)
        xp = next((backend.get_array_module(a) for a in targets if backend.get_array_module(a) is not np), np)
        layout = self._heads[0].target_layout
        shapes = [tuple(array.shape[1:]) if None in head.target_shape else head.target_shape
                  for head, array in zip(self._heads, targets)]
        packed = layout.pack(xp, x.shape[0], shapes, self.dtype)
        for head, array in zip(self._heads, targets):
            if array is not None:
                head.put_targets(packed, array)
        return packed

    def _scored_targets(self, y, yname):
        """``y`` of a model of several outputs as one entry per output, and each entry's name in
        messages. Keras 3.15's forms: a list of one per output, or a dict by the outputs' names;
        where some outputs have no loss, also a list of the scored outputs' targets alone, a dict
        leaving the unscored out, and with one scored output its targets as they are (an array)."""
        heads = self._heads
        scored = [head for head in heads if head.scored]
        if isinstance(y, (list, tuple)) and len(y) == len(scored) != len(heads):
            given = iter(y)             # the scored outputs' targets alone, in the outputs' order
            return ([next(given) if head.scored else None for head in heads],
                    [f"{yname}[{scored.index(head)}]" if head.scored else None for head in heads])
        if len(scored) == 1 and not isinstance(y, (list, tuple, dict)):
            return ([y if head.scored else None for head in heads], [yname] * len(heads))
        if not isinstance(y, (list, tuple, dict)):
            raise TypeError(f"{yname}: the model has {len(heads)} outputs ({', '.join(self._output_labels())}); "
                            f"give a list of {len(heads)} target arrays in that order, or a dict by "
                            f"their names; got {type(y).__name__}")
        # a dict may leave out the outputs without a loss (a scored one left out: refused above, None)
        given = per_output(y, heads, yname, allow_missing=len(scored) < len(heads))
        if isinstance(y, dict):
            missing = [head.name for head in heads if head.scored and head.name not in y]
            if missing:
                raise ValueError(f"{yname}: a dict needs the names of the outputs that have a loss as its keys, "
                                 f"{[head.name for head in scored]}; got {sorted(map(str, y))!r:.200}")
        return given, [f"{yname}[{head.name!r}]" if isinstance(y, dict) else f"{yname}[{j}]"
                       for j, head in enumerate(heads)]

    def _check_accuracy_targets(self, y, name):
        """Refuse targets outside [0, 1] for a binary accuracy (one output unit): it thresholds
        targets and outputs alike at 0.5, so a regression model's targets of 3.2 and outputs of 2.9
        would count as right (Keras, which compares targets with the thresholded outputs, counts
        them as wrong); neither is a class. Checked once per fit or evaluate, on all targets."""
        if self._heads is None:
            if not self._sample_output_shape:       # one number per sample: its own rules (glassnet.scalar_outputs)
                return check_scalar_metrics(self._compiled_metrics, y, name)
            return check_binary_targets(y, name, self._sample_output_shape[-1], self._compiled_metrics)
        for head in filter(lambda head: head.scored, self._heads):
            if not head.shape:      # one number per sample (glassnet.scalar_outputs)
                check_scalar_metrics(self._logged_metrics(head), head.targets(y), f"{name}[{head.name!r}]")
                continue
            check_binary_targets(head.targets(y), f"{name}[{head.name!r}]", head.shape[-1],
                                 each_output_metrics(self._compiled_metrics, head))

    def _logged_metrics(self, head):
        """The metrics compiled for output ``head`` of several (its loss's log left out), as
        ``[(log name, metric)]``: "s_mae" and the metric it wraps (glassnet.outputs.OutputMetric)."""
        return [(label, fn.metric) for label, fn in self._compiled_metrics
                if isinstance(fn, OutputMetric) and fn.head is head and not fn.own_loss]

    def _given_input_name(self):
        """The name given to the model's Input (``Input(shape, name=...)``), None if none was."""
        return self._declared_name

    def _single_input_name(self):
        """The name of the model's one input (Keras' key for it in a dict, ``{name: x}``): its
        Input's, or ``"input_layer"``, the name of an unnamed Input (Keras names an unnamed
        Input's tensor ``keras_tensor_<n>``, a count of the tensors made so far, which no
        glassnet model can know)."""
        return self._given_input_name() or "input_layer"

    def _single_output_name(self):
        """The name of the model's one output, its layer's (Keras' key for it in compile's
        per-output dicts), or the key of a nested functional Model's dict output when that model is
        the last layer (``_nested_dict_key``: Keras 3.15's key then); None for a model with no
        layers yet."""
        return (self._nested_dict_key() or self._output_layer.name) if self.layers else None

    def _dict_output_key(self):
        """The key under which ``fit``, ``evaluate`` and their batch calls take the one output's
        targets and weights as a dict (``{key: y}``), where Keras 3.15 takes such a dict: a
        Sequential whose last layer is a functional Model of a dict output; None (a dict refused)
        for a Sequential of plain layers, on which Keras 3.15 fails (graph.Model: its output's)."""
        return None if self._heads is not None else self._nested_dict_key()

    def _output_shape_for(self, sample_shape, x=None):
        """The output's sample shape for inputs of ``sample_shape``: ``output_shape``, with the
        lengths a model for any length (None) leaves open taken from the data (``x``, where its
        shape does not tell them: a model of several inputs' packed rows)."""
        shape = tuple(self._sample_output_shape)
        if None not in shape:
            return shape
        return tuple(self.compute_output_shape((None, *sample_shape))[1:])

    def _prepare_targets(self, y, name, sample_shape, x=None):
        """The loss's own check of ``y``. A model whose output samples have several axes (one that
        ends in Conv2D, Conv1D or Reshape) takes targets of the output's full shape, (n, *output_shape),
        which the loss checks position by position along the last axis. ``sample_shape``: x's."""
        try:
            return prepare_targets(self.loss, y, self._output_shape_for(sample_shape, x), self.dtype, name)
        except ValueError:
            # the declared output shape, not y, may be what is wrong: a layer of one's own that changes
            # the shape without overriding output_shape (a Keras layer ported as it is); its error
            # names that layer rather than the targets that match what the model really outputs
            try:
                self._check_declared_shapes(x)
            except ValueError:
                raise                       # the layer's refusal
            except Exception:               # x the check cannot feed (a list, a dict): y's error stands
                pass
            raise

    def _check_declared_shapes(self, x):
        """Before the first pass since build, run one sample of ``x`` (n, ...) in inference mode
        through the model: that pass compares each layer's output with its declared shape and
        raises naming a layer that differs (``_forward_checking_shapes``); it changes nothing
        (stateful layers' states and the layers' state are put back)."""
        if x is None or not len(x) or getattr(self, "_output_shapes", None) is None:
            return
        snapshot = StateSnapshot(self.layers)
        try:
            snapshot.start_from_zero_states()
            self._forward(self._on_device(x[:1]).astype(self.dtype, copy=False), training=False)
        finally:
            snapshot.restore()

    def _class_weight_table(self, class_weight):
        """``class_weight`` checked against the model's classes: (n_classes,) weights, or None."""
        if class_weight is None:
            return None
        shape = tuple(self._sample_output_shape)
        if self._heads is not None:
            scored = [head for head in self._heads if head.scored]
            if len(scored) > 1:
                raise ValueError("class_weight: it weighs samples by the class of the one output; this model has "
                                 "several with a loss (Keras 3 refuses it too): give sample_weight")
            # one scored output (the others kept for predict): its classes, as Keras 3.15 takes it
            shape = scored[0].shape
        shape = shape or (1,)           # one number per sample: one unit's classes, 0 and 1 (Keras' too)
        if len(shape) > 1:
            raise ValueError(f"class_weight: it weighs each sample by its class, but this model's output "
                             f"{shape} has a class per position; use sample_weight")
        if shape[-1] is None:
            raise ValueError("class_weight: the model's classes lie along an axis of any length (None), so no "
                             "table of class weights fits every batch; use sample_weight")
        return class_weight_table(class_weight, shape[-1], self.dtype)

    def _class_weight_targets(self, y):
        """The targets whose classes ``class_weight`` reads in ``y`` (checked or packed targets):
        ``y`` itself, or the one scored output's of a model of several (``_class_weight_table``
        refuses more than one)."""
        if self._heads is None:
            # targets (n,) of an output of one number per sample: read as one unit's, (n, 1)
            return y[:, None] if y.ndim == 1 and not self._sample_output_shape else y
        head = next(head for head in self._heads if head.scored)
        # (an output of one number per sample: its targets (n,) read as one unit's, (n, 1))
        return head.targets(y).reshape(-1, 1) if not head.shape else head.targets(y)

    def _check_metrics_on(self, x, y, objects_only=False):
        """Run the metrics on the first two samples of (x, y) in inference mode: data whose targets
        a metric cannot take, or a metric whose result a log cannot hold, fails before training,
        not after an epoch of updates. ``objects_only``: the ``Metric`` objects alone (a function
        of one's own may need more than two samples, log_loss both classes)."""
        # (a metric of one output of several is the metric it wraps: glassnet.outputs)
        compiled = [(name, fn) for name, fn in self._compiled_metrics
                    if not objects_only or isinstance(fn.metric if isinstance(fn, OutputMetric) else fn, Metric)]
        if compiled:
            # a trial: a stateful recurrent layer must not carry its states (nor their batch size) on
            snapshot = StateSnapshot(self.layers)
            try:
                self._trial_metrics(compiled, x, y, snapshot)
            finally:
                snapshot.restore()

    def _trial_metrics(self, compiled, x, y, snapshot):
        # two samples; more if those are padding alone (a masked output with no real step leaves
        # the metrics nothing to take)
        for count in (2, 64):
            snapshot.start_from_zero_states()       # each pass from zeros, of its own batch size
            xb, yb = self._on_device(x[:count], y[:count])
            out, ys, _, _ = self._scored(self._forward(xb.astype(self.dtype, copy=False), training=False), yb)
            if out.shape[0] or count >= len(x):
                break
        MetricTally.one_batch(compiled, ys, out)

    def _check_weights(self, sample_weight, x, name="sample_weight", list_forms=True):
        """``check_sample_weight`` for this model and its input ``x``: (n,), or one weight per
        position of an output that has positions (a tagger's (n, steps), a segmenter's (n, H, W)),
        as Keras takes them; Keras' ``[w]`` is ``w`` (not with ``list_forms=False``: one output's
        weights of several). A model of several outputs takes Keras' weights per output too (a list
        in the outputs' order or a dict by their names, None or a missing name for an output left
        unweighted), packed as one column each, (n, outputs)."""
        if self._heads is not None and list_forms and per_output_weights(sample_weight):
            if self._keras_output_nesting is not None and self._output_keys is None:
                # weights per output nested as the outputs are, Keras' [wa, [wb, wc]] (glassnet._nested_outputs)
                from ._nested_outputs import flatten_given
                sample_weight = flatten_given(self._keras_output_nesting, sample_weight, name)
            given = per_output(sample_weight, self._heads, name, allow_missing=True)
            packed = np.ones((x.shape[0], len(self._heads)), dtype=self.dtype)
            for head, weights in zip(self._heads, given):
                if weights is not None:
                    _refuse_weights_per_position(weights, head, x.shape[0], f"{name}[{head.name!r}]")
                    # (Keras' [w] is the form of a model of one output: not read in one output's weights)
                    packed[:, head.index] = self._check_weights(weights, x, f"{name}[{head.name!r}]",
                                                                list_forms=False)
            return packed
        positions = (self._output_shape_for(x.shape[1:], x)[:-1] if self.built and len(self._sample_output_shape) > 1
                     else None)
        if list_forms:
            sample_weight, name = by_output_name(sample_weight, name, self._dict_output_key(),
                                                 self._output_layer.name if self.layers else None, "weights")
            sample_weight, name = one_output(sample_weight, name, x.shape[0], self._single_output_name(), "weights",
                                             sample_shapes=() if positions is None else (positions, (*positions, 1)))
        return check_sample_weight(sample_weight, x.shape[0], self.dtype, name, positions, column=True)

    def _sample_weights(self, x, y, sample_weight, class_weight):
        """``sample_weight``, or the weights ``class_weight`` gives y's classes: (n,) or None."""
        refuse_both(sample_weight, class_weight)
        w = self._check_weights(sample_weight, x)
        table = self._class_weight_table(class_weight)
        return combine(None if table is None else self._class_weight_targets(y), w, table)


def _refuse_weights_per_position(weights, head, n_samples, name):
    """One output's ``weights`` of a model of several, shaped one per position of ``head``'s output
    ((n, steps) or (n, steps, 1)): refused by name. Its weights are packed one column per output,
    (n, outputs), which has no room for positions (Keras takes them; not supported here yet)."""
    shape, positions = getattr(weights, "shape", ()), tuple(head.shape[:-1])     # (a list: checked as usual)
    if positions and len(shape) > 1 and tuple(shape[1:]) in (positions, (*positions, 1)):
        raise ValueError(f"{name}: expected one weight per sample, shape ({n_samples},), got shape {tuple(shape)}: "
                         f"one weight per position is taken by a model of one output only, not yet for one "
                         f"output of several; give each sample one weight")
