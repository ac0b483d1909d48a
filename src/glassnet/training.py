"""The training loop of ``Sequential``: fit and train_on_batch (evaluate and predict: inference.py;
the checks of what users pass, both share: preparing.py).

Kept apart from model.py so that each file reads in one sitting. Speed comes from doing little per
batch: one shuffled contiguous copy of the data per epoch (then plain slices, no fancy indexing per
batch), in-place optimizer updates, and no Python work per batch beyond the layers' own.

Sample weights ride on the same methods as an optional ``w`` (n,): without them, a step makes
exactly the NumPy calls it made before weights existed, plus a few ``is None`` tests.
"""
import contextlib
import math

import numpy as np

from . import _tape_state, backend, blas
from ._flagless import has_unset
from ._warnings import warn
from ._interrupt import DeferredInterrupt
from ._serial import serialized
from ._stepping import in_own_step
from ._validation import (check_flag, check_fraction, check_non_negative_int, check_positive_int,
                          check_verbose, rows_per_block)
from .callbacks import CallbackList, History, ProgbarLogger, ProgressBar, TerminateOnNaN
from .callbacks.base import check_callback_list
from .errors import NonFiniteError
from .feeding import Feed, is_batches, kind_of, ran_out_warning, reading_feed, rereadable, unpack
from .activity import ActivityMixin
from .layers import base as layers_base
from .layers import masking
from .layers.base import StateSnapshot, in_model_dtype, missing_input_gradient, shape_fits
from .metrics.base import MetricTally
from .metrics.keras_variables import keep_run
from .outputs import gradient_shape_refusal, loss_number
from .scalar_outputs import ScalarRows
from .scoring import Rows
from .weighting import combine, refuse_both

_HINT = ("usual causes: a learning rate too high for this network (try one ten times smaller), "
         "inputs that are not scaled (standardise features, divide pixels by 255), or a loss that does "
         "not match the output activation")


def split_point(n_samples, validation_split):
    """How many leading samples ``validation_split`` leaves for training: Keras' own formula,
    ``floor(n * (1 - validation_split))``, so that the same data splits the same way in both.

    >>> split_point(10, 0.25)
    7
    """
    return int(math.floor(n_samples * (1.0 - validation_split)))


def check_validation_freq(value):
    """fit's ``validation_freq``: a positive int, or a list (or tuple) of positive ints, the
    epochs to validate after counted from 1 (Keras' two forms), returned as a sorted list."""
    listed = isinstance(value, (list, tuple))
    epochs = value if listed else [value]
    bad = [e for e in epochs if isinstance(e, bool) or not isinstance(e, (int, np.integer)) or e <= 0]
    if not epochs or bad:
        which = f" ({bad[0]!r:.40} is not a positive integer)" if listed and bad else ""
        raise ValueError(f"validation_freq: expected a positive integer or a non-empty list of epochs "
                         f"counted from 1, got {value!r:.100}{which}")
    return sorted({int(e) for e in epochs}) if listed else int(value)


def settle_validation_freq(validation_freq, initial_epoch, epochs, validating):
    """fit's ``validation_freq`` (checked) for the epochs ``initial_epoch`` to ``epochs``: 1 when
    it validates after every one of them (``[1, 2]`` over two epochs: say so to the callbacks), and
    a warning when ``validating`` (validation data given) and it validates after none (Keras then
    never validates, silently). Ordinary fit's and own_steps' fit's."""
    if validation_freq != 1 and all(validates(e, validation_freq) for e in range(initial_epoch, epochs)):
        validation_freq = 1
    if validating and epochs > initial_epoch and not any(validates(e, validation_freq)
                                                         for e in range(initial_epoch, epochs)):
        warn(f"fit: validation_freq={validation_freq!r:.60} validates after none of epochs "
             f"{initial_epoch + 1} to {epochs}: the validation data is never used")
    return validation_freq


def _terms_alone(deferred):
    """Whether ``deferred`` (a subclass' compile before its draw: graph.Model._deferred_compile of
    refuse_no_targets' ``model``, read only when y is None: no call more per step)
    gave no loss: the add_loss terms alone (compile(loss=None), or Keras' default), checked once
    the first batch draws the model."""
    if deferred is None:
        return False
    from .graph import _REQUIRED
    return deferred["loss"] is None or deferred["loss"] is _REQUIRED


def refuse_no_targets(y, call, loss=None, model=None):
    """Refuse by name ``call`` ("train_on_batch", "test_on_batch") of a compiled model without
    targets: its loss compares the outputs with them (Keras' ``y=None`` default is for a model whose
    own step needs none, or one compiled with ``loss=None``, trained on its add_loss terms alone,
    whose compiled ``loss`` here takes none)."""
    if y is None and not getattr(loss, "added_losses_only", False) and not _terms_alone(
            getattr(model, "_deferred_compile", None)):
        raise ValueError(f"{call}: y: expected the targets of x's samples (the compiled loss compares the "
                         f"outputs with them; only compile(loss=None), add_loss terms alone, takes none), got None")


def validates(epoch, validation_freq):
    """Whether fit validates after ``epoch`` (counted from 0) with ``validation_freq`` (as
    ``check_validation_freq`` returns it): Keras' rule."""
    if isinstance(validation_freq, list):
        return epoch + 1 in validation_freq
    return (epoch + 1) % validation_freq == 0


def hold_out(x, y, w, validation_split):
    """``(x, y, w)`` of the training part and ``(x, y, w)`` of the validation part: the last
    ``validation_split`` of the samples, before any shuffling (Keras' rule). ``w`` (n,) may be None.
    ``fit`` splits this way, and a Dask sweep evaluates its results on the same parts."""
    cut = split_point(len(x), validation_split)
    if cut <= 0 or cut == len(x):
        raise ValueError(f"validation_split={validation_split} leaves no training or no "
                         f"validation samples out of {len(x)}")
    return ((x[:cut], y[:cut], None if w is None else w[:cut]),
            (x[cut:], y[cut:], None if w is None else w[cut:]))


def _read_only(x):
    """A read-only view of ``x`` when it is a writeable NumPy array (anything else as it is): the
    batches a model's first layer receives may be the caller's own array, sliced without a copy
    (predict and evaluate; fit without shuffling; train_on_batch), so that a layer of one's own
    that changes its input in place (a port of Keras' ``inputs -= mean``, harmless on Keras'
    immutable tensors) fails at once instead of changing the caller's data. Made once per call
    or chunk, not per training batch: fit's shuffled batches are its own copy."""
    if isinstance(x, np.ndarray) and x.flags.writeable:
        x = x.view()
        x.flags.writeable = False
    return x


def _array_batches(x, y, w, xs, ys, ws, bs, steps, rng):
    """One epoch of fit's batches ``(index, x, y, w)`` from arrays: shuffled into the buffers xs,
    ys, ws (made once per fit) unless they are x, y, w themselves, then sliced."""
    if xs is not x:       # full batch: the order of the samples cannot change the step
        order = rng.permutation(x.shape[0])
        _gather(x, order, xs)
        _gather(y, order, ys)
        if ws is not w:     # the weights follow their samples
            _gather(w, order, ws)
    for b in range(steps):
        yield (b, xs[b * bs:(b + 1) * bs], ys[b * bs:(b + 1) * bs],
               None if ws is None else ws[b * bs:(b + 1) * bs])


def _gather(x, order, out):
    """``out[...] = x[order]`` along axis 0, into ``out`` without a temporary the size of the data:
    fit's shuffle of the samples (into the model's dtype), the targets and the sample weights.

    mode="clip": order is a permutation, so no index is out of range, and take's default
    mode="raise" would gather into a hidden temporary the size of the data before copying it into
    ``out`` (a second copy of the data per epoch). take cannot cast, so data in another dtype (uint8
    pixels) is gathered a block of samples at a time and cast as it is written.
    """
    xp = backend.get_array_module(out)
    if xp is not np:        # on a GPU: the permutation joins the data there (cupy.take has no mode)
        order = xp.asarray(order)
        if x.dtype == out.dtype:
            xp.take(x, order, axis=0, out=out)
            return
    elif x.dtype == out.dtype:
        np.take(x, order, axis=0, out=out, mode="clip")
        return
    rows = rows_per_block(x)
    for start in range(0, len(order), rows):
        out[start:start + rows] = x[order[start:start + rows]]


def refuse_beside_batches(x, y, sample_weight):
    """Refuse ``y`` or ``sample_weight`` given beside ``x`` that comes batch by batch (a
    PyDataset, a generator, a DataLoader, a Dataset): its batches carry them. Keras' message."""
    kind = kind_of(x)
    for name, value, what in (("y", y, "the targets"), ("sample_weight", sample_weight, "the sample weights")):
        if value is not None:
            raise ValueError(f"When providing x as a {kind}, {name} should not be passed. Instead, {what} "
                             f"should be included as part of the {kind}.")


def refuse_array_steps(x, validation_data, validation_split, steps_per_epoch, validation_steps,
                       validation_batch_size):
    """Refuse fit's options that count batches where the data has none to count (arrays, or no
    validation), which would otherwise be ignored, silently."""
    if validation_batch_size is not None and (is_batches(validation_data) or
                                              (validation_data is None and not validation_split)):
        raise ValueError("validation_batch_size: it sets the batches in which validation arrays are evaluated; "
                         + ("no validation_data or validation_split was given" if validation_data is None
                            else f"a {kind_of(validation_data)} gives its own batches"))
    if steps_per_epoch is not None and not is_batches(x):
        raise ValueError("steps_per_epoch: with arrays an epoch is one pass over them (set its batches with "
                         "batch_size); steps_per_epoch counts the batches of a PyDataset, a DataLoader, a "
                         "Dataset or a generator")
    if validation_steps is not None and not is_batches(validation_data):
        raise ValueError("validation_steps: it counts the batches of validation_data given as a PyDataset, a "
                         "DataLoader, a Dataset or a generator; "
                         + ("no validation_data was given" if validation_data is None
                            else "arrays are validated whole"))


def validation_feed(validation_data, steps):
    """The ``Feed`` of fit's ``validation_data`` given batch by batch (``steps``: fit's
    ``validation_steps``): a generator, read once, needs ``steps``, since every validation reads
    its data again."""
    if not rereadable(validation_data) and steps is None:
        raise ValueError("validation_data: a generator is read once, and validation reads its data again "
                         "after every epoch; give a PyDataset (glassnet.utils.PyDataset) or arrays, or "
                         "validation_steps, the batches each validation reads from the generator")
    return reading_feed(validation_data, steps, "fit", "validation_data", "validation_steps", "each validation reads")


def fit_callbacks(callbacks, verbose):
    """``(history, callback list)`` of one fit. A History among the callbacks is this fit's, as in
    Keras: fit returns it and it becomes model.history, where it stands in the list (the last, if
    several). Otherwise one goes after the user's callbacks, as in Keras: what they add to an
    epoch's logs (LearningRateScheduler's "learning_rate") is recorded and shown too."""
    given = [c for c in (callbacks or []) if isinstance(c, History)]
    history = given[-1] if given else History()
    # a ProgbarLogger given is fit's progress output (Keras adds its own only when none is given)
    bar = verbose and not any(isinstance(c, ProgbarLogger) for c in (callbacks or []))
    return history, ([*(callbacks or []), *([] if given else [history])]
                     + ([ProgressBar(verbose)] if bar else []))


def terminate_on_nan(exc, callback_list):
    """fit's ``NonFiniteError`` ``exc`` handed to the TerminateOnNaN callbacks in ``callback_list``
    (a progress bar drawn mid-line ends its line first); False when there are none (fit raises)."""
    terminators = [c for c in callback_list if isinstance(c, TerminateOnNaN)]
    if not terminators:
        return False
    for callback in callback_list:
        if isinstance(callback, ProgressBar):
            callback.end_line()
    for terminator in terminators:
        terminator.terminate(exc)
    return True


@contextlib.contextmanager
def training_epochs(model, callback_list, hooks):
    """The block of a fit's epochs (ordinary fit's, and glassnet.own_steps' for a model with its own
    train_step); yields its ``DeferredInterrupt``, so that Ctrl-C lands between batches, not inside
    an optimizer step (see glassnet._interrupt).

    A ``NonFiniteError`` with TerminateOnNaN among ``callback_list`` ends training there (the weights
    are the last finite ones: a non-finite loss is never applied) and leaves the block quietly, a
    Ctrl-C held during the failed batch then raised; any other error (or Ctrl-C) leaves fit with no
    ``on_train_end``, so ``hooks.on_error()`` writes what callbacks kept first."""
    interrupt = None
    try:
        with DeferredInterrupt() as interrupt:
            yield interrupt
    except NonFiniteError as exc:
        if not terminate_on_nan(exc, callback_list):
            hooks.on_error()
            raise
        model.stop_training = True
        # the error no longer stops the program, so a held interrupt must (DeferredInterrupt drops
        # it when an exception leaves its block)
        if interrupt is not None:
            interrupt.check()
    except BaseException:
        hooks.on_error()
        raise


class TrainingMixin(ActivityMixin):

    # a subclass of glassnet.Model defining Keras' train_step: fit runs it (glassnet.own_steps)
    _own_steps = False

    # -- one pass -----------------------------------------------------------------------------
    def _forward(self, x, training):
        """The output of every layer in turn on ``x``: predict, evaluate and training all pass here."""
        _tape_state.FORWARDS[0] += 1        # the layers' caches become this pass's (glassnet.tape)
        if training is None:    # given no flag (model(x)): inference, but for calls marked by glassnet._flagless
            training = None if has_unset(self._call_settings()[0]) else False
        if not training:        # predict, evaluate, model(x): slices of the caller's array (_read_only)
            x = _read_only(x)
        if self._mask_plan:                 # masks are handed on during this pass (layers/masking.py)
            with masking.planned(self._mask_plan):
                return self._pass(x, training)
        return self._pass(x, training)

    def _pass(self, x, training):
        """The forward pass of ``_forward``: the output, several outputs packed (``_outputs_of_walk``)."""
        out = self._pass_layers(x, training)
        return out if self._heads is None else self._outputs_of_walk(out)

    def _pass_layers(self, x, training):
        if self._output_shapes is not None:        # the first pass since build: check the shapes
            return self._forward_checking_shapes(x, training)
        cache = self._activity_cache            # _activity's check, inline: every step passes here
        if cache[2] is not None or cache[0] != layers_base.ACTIVITY_GENERATION or cache[1] != len(self.layers):
            if self._activity is not None:      # (the calls after this forward read the cache directly)
                return self._forward_keeping_activity(x, training)
        return self._run_layers(x, training)

    def _run_layers(self, x, training):
        """Every layer's forward pass in turn, nothing else: the hot path of every step."""
        if training is None:        # a pass given no flag: each layer its own mode (glassnet._flagless)
            return self._run_layers_flagless(x)
        for layer in self.layers:
            if layer.input_spec is not None:        # Keras checks it at every call (an attribute read for the rest)
                layers_base._check_spec(layer, x)
            x = layer.forward(x, training=training)
        return x

    def _run_layers_flagless(self, x):
        """``_run_layers`` in a pass given no flag (``model(x)``) of a chain holding a layer that
        trains in one (an augmentation: ``Layer.training_default``): each layer in its own mode."""
        for layer, mode in zip(self.layers, self._pass_plan(None)[1]):
            if layer.input_spec is not None:
                layers_base._check_spec(layer, x)
            x = layer.forward(x, training=mode)
        return x

    def _walk(self, x, training):
        """Yield ``(layer, its input, its output)`` for each layer in turn as the forward pass goes:
        for the passes that look at every layer's output (the first one's shape checks, activity
        penalties, the search for a NaN, ``trace``). A functional Model walks its graph instead."""
        modes = [training] * len(self.layers) if training is not None else self._pass_plan(None)[1]
        for layer, mode in zip(self.layers, modes):     # (None: a pass given no flag, see _run_layers)
            if layer.input_spec is not None:
                layers_base._check_spec(layer, x)
            out = layer.forward(x, training=mode)
            yield layer, x, out
            x = out

    def _outputs_of_walk(self, last):
        """What the model outputs after a whole ``_walk`` whose last call gave ``last``: that, or,
        for a model of several outputs, their values packed in one array (n, sum of sizes:
        glassnet.outputs), from every call's output the walk kept (``_walked``)."""
        walked, self._walked = self._walked, None
        if self._heads is None:
            return last
        layout = self._heads[0].layout
        packed = layout.pack(backend.get_array_module(last), last.shape[0],
                             [tuple(walked[head.call].shape[1:]) for head in self._heads], last.dtype)
        for head in self._heads:
            head.output(packed)[...] = walked[head.call]
        return packed

    def _backward(self, grad, fused, activity=None, seen=None, done=None):
        """Backpropagate ``grad`` -- dL/d(output), or dL/dz of the last layer when ``fused`` --
        through the layers, last to first, filling each layer's ``grads``, down to the last one
        that needs no input gradient (below it nothing learns: ``_mark_first_layer``). ``activity``: the
        outputs kept for activity penalties, whose gradients join on the way. ``seen(i, grad)``,
        when given, is shown dL/d(output) of layer i before its backward, and ``done(i)`` runs
        right after it (``trace`` records what each layer holds then). Returns dL/d(input) when the
        first layer made it, else None."""
        layers, above = self.layers, None
        self._ungraded_layers = ()      # a chain: the gradient reaches every layer (see _graph_backward)
        for i in range(len(layers) - 1, -1, -1):
            layer = layers[i]
            if grad is None:        # a custom layer's backward forgot its return
                raise missing_input_gradient(above)
            if activity and layer in activity:
                grad = self._with_activity_gradient(layer, grad)
            if seen is not None:
                seen(i, grad)
            grad = layer.backward_from_logits(grad) if fused and above is None else layer.backward(grad)
            grad = in_model_dtype(grad, self.dtype)
            if done is not None:
                done(i)
            if not layer.needs_input_gradient:      # nothing below learns: the pass ends here
                return None
            above = layer
        # dL/d(input), made when the first layer needs its input gradient (a model TimeDistributed
        # holds: glassnet.layers._wrapped_model); training drops it
        return grad

    def _forward_checking_shapes(self, x, training):
        """``_forward``, comparing each layer's output with the shape its ``output_shape`` declared
        at build, from which the layers after it were built, and with the model's dtype. A custom
        layer that changes the shape but does not say so would otherwise fail in the next layer's
        matrix product, or not at all."""
        kept = self._activity
        if kept is not None:
            kept.clear()
        declared_shapes, skipped = self._output_shapes, self._skipped_calls(training)
        if skipped is not None:     # (the calls this pass does not run yield nothing: glassnet._switch_skips)
            declared_shapes = [shape for k, shape in enumerate(declared_shapes) if k not in skipped]
        for (layer, _, x), declared in zip(self._walk(x, training), declared_shapes):
            if kept is not None and layer.activity_regularizer is not None:
                kept[layer] = x
            if not shape_fits(x.shape[1:], declared):
                raise ValueError(f"{layer.describe()}: forward returned samples of shape {tuple(x.shape[1:])}, "
                                 f"but its output_shape() declared {declared}, for which the layers after "
                                 f"it were built; a layer that changes the shape must override "
                                 f"output_shape(input_shape)")
            # a float64 result (np.exp of a Python float, a float64 constant) would up-cast every
            # layer after it, and predict's output, silently: the model's dtype is the contract
            if x.dtype != self.dtype:
                raise TypeError(f"{layer.describe()}: forward returned {x.dtype} values in a {self.dtype} "
                                f"model; compute in the input's dtype (x.dtype) or cast the result")
        self._output_shapes = None
        return x

    def _rows(self, out, w=None):
        """None when the loss and the metrics score the output ``out`` as it is (the usual case);
        else the ``scoring.Rows`` they score: labels per position, the real steps of a masked
        output (read from the batch's mask, which the forward pass that gave ``out`` handed on), or
        every position when sample weights ``w`` come one per position."""
        if self._heads is not None:
            # several outputs: no mask reaches them and no sparse loss has positions (both refused),
            # and a weight per output, (n, outputs), is not one per position
            return None
        per_position = w is not None and w.ndim > 1
        if self._output_mask is None and not (self.loss.sparse and out.ndim > 2) and not per_position:
            return None
        if not getattr(self.loss, "per_position", True):      # (a loss object of several outputs has none)
            raise ValueError(f"{self.loss.name} reads each sample's whole output sequence: it takes neither a "
                             f"masked output (mask_zero=True, Masking) nor sample weights per step, got "
                             f"{'a masked output' if self._output_mask is not None else 'weights of shape ' + str(w.shape)}")
        if getattr(self.loss, "keras_axis", False) and self.loss.axis % out.ndim != out.ndim - 1:
            # rows are positions of the last axis: a loss reducing another (axis=1) would read them wrong
            raise ValueError(f"{self.loss.name}: axis={self.loss.axis} reduces the classes along an axis that is not the "
                             f"last of the output {tuple(out.shape)}; a masked output (mask_zero=True, Masking) or "
                             f"sample weights per step are scored as rows of the last axis: not taken with it")
        return Rows(out.shape, None if self._output_mask is None else self._output_mask.pending_mask)

    def _scored(self, out, y, w=None):
        """``(out, y, w, rows)``: what the loss and the metrics score, and the ``Rows`` (or None)."""
        # one number per sample, (batch,): scored as (batch, 1) (glassnet.scalar_outputs); the only
        # output with one axis, so the usual (batch, k) outputs pay one comparison here
        rows = ScalarRows.of_batch(out, y, self.loss) if out.ndim == 1 and self._heads is None else self._rows(out, w)
        if rows is None:
            return out, y, w, None
        return rows.of(out), rows.targets(y), rows.weights(w), rows

    def _loss_from_output(self, out, y, w=None):
        """The batch loss; with sample weights ``w`` (n,), the weighted one (see glassnet.losses);
        times compile's ``loss_weights``; plus the activity regularizers' penalties on the outputs
        of the forward pass that gave ``out`` (not weighed, as in Keras)."""
        out, y, w, rows = self._scored(out, y, w)
        if out.shape[0] == 0:       # a batch of padding alone: no step to score, a loss of 0 (Keras)
            value = 0.0
        elif self._fused:
            z = self._output_layer.z if rows is None else rows.of(self._output_layer.z)
            value = self.loss.value_from_logits(z, out, y) if w is None else self.loss.weighted_from_logits(z, out, y, w)
        else:
            value = loss_number(self.loss, self.loss(out, y) if w is None else self.loss.weighted(out, y, w), w is not None)
        if self._loss_weight != 1.0:
            value = value * self._loss_weight
        if self._loss_terms is not None:     # add_loss terms, unweighted (Keras)
            value = value + self._added_loss()
        return value + self._activity_penalty() if self._activity_cache[2] else value

    def _metric_scored(self, out, y, w=None):
        """``(out, y, w, rows)`` as the metrics score them: ``_scored`` without the weights (which
        rows are scored is w's business alone), then ``w`` (the batch's sample weights or None,
        for the outputs' own losses of a model of several; see glassnet.outputs) to those rows."""
        scored, y, _, rows = self._scored(out, y)
        # one number per sample: its rows are the samples, and Keras' weighted metrics weigh each by
        # its own weight, with targets (n,) too (the batch's mean weight is its loss's rule alone)
        if w is not None and rows is not None and not isinstance(rows, ScalarRows):
            w = rows.weights(w)
        return scored, y, w, rows

    def _tally(self, tally, y, out, w=None):
        """``tally.update`` with what the metrics score of this batch (``_metric_scored``). Rows that
        are positions (a tagger's real steps) weigh the batch by samples, rows / positions per
        sample: Keras' weighting, which batches of several lengths tell apart from a weighting by
        rows."""
        scored, y, w, rows = self._metric_scored(out, y, w)
        positions = math.prod(out.shape[1:-1])
        if rows is None:
            tally.update(y, scored, None, w)
        elif isinstance(rows, ScalarRows):
            # one number per sample: its rows are the samples, not positions (which would count one
            # number from a MeanMetricWrapper by samples, Keras once); a function of your own sees
            # the output as it is, (n,), as in Keras (MetricTally.update)
            tally.update(y, scored, None, w, own=out)
        else:
            tally.update(y, scored, scored.shape[0] / positions, w, positions)

    def _loss_and_gradients(self, x, y, w=None):
        """Forward (training mode) and backward on one batch; fills every layer's ``grads``.
        ``w``: sample weights (n,) or None. Returns ``(loss value before the update, output)``."""
        blocked = getattr(self, "_blocked", None)
        if blocked is not None:         # before the forward pass: no moving statistic, no generator moves
            raise blocked.refusal()     # a Lambda a gradient would have to pass
        out = self._forward(x, training=True)
        activity = self._activity_cache[2]       # current: _forward has just checked it
        scored, ys, ws, rows = self._scored(out, y, w)
        # a batch of padding alone (every step masked) has no row to score: its loss is 0 and its
        # gradient zero, as in Keras, where the losses themselves would divide by zero rows
        padding = scored.shape[0] == 0
        # (ws, not w: the rows may weigh a batch given no weights, a summing loss per batch's: ScalarRows)
        if self._fused:
            if ws is None and not padding:  # one call: a loss may share work between the value and dL/dz
                z = self._output_layer.z if rows is None else rows.of(self._output_layer.z)
                value, dz = self.loss.from_logits_and_gradient(z, scored, ys)
                if self._loss_weight != 1.0:
                    value, dz = value * self._loss_weight, dz * self._loss_weight
                if activity:
                    value += self._activity_penalty()
                if self._loss_terms is not None:
                    value += self._added_loss()
            else:
                value = self._loss_from_output(out, y, w)
                dz = scored * 0 if padding else self._weighed(self.loss.weighted_gradient_from_logits(scored, ys, ws))
            grad = dz if rows is None else rows.back(dz)
        else:
            value = self._loss_from_output(out, y, w)
            if padding:
                grad = scored * 0
            else:
                grad = self.loss._fit_gradient(scored, ys) if ws is None else self.loss._fit_weighted_gradient(scored, ys, ws)
                if getattr(grad, "shape", None) != scored.shape:      # a loss of your own's
                    raise ValueError(gradient_shape_refusal(self.loss, scored.shape, grad))
                grad = self._weighed(grad)
            grad = grad if rows is None else rows.back(grad)
        if grad.dtype != self.dtype:
            # a loss of your own whose gradient came back in float64 (a np.float64 constant is
            # enough, under NumPy 2's rules) would run every layer's backward in float64: the
            # gradient enters the model here, and is cast here once, as inputs are at fit
            grad = grad.astype(self.dtype)
        self._backward(grad, self._fused, activity)
        if self._penalties:         # kernel_regularizer=...: their penalties join loss and gradients
            value = value + self._add_penalty_gradients()
        return value, out

    def _weighed(self, grad):
        """The loss's gradient ``grad`` times compile's ``loss_weights`` (the value's factor)."""
        return grad if self._loss_weight == 1.0 else grad * self._loss_weight

    def _loss_value(self, x, y, w=None):
        """The loss of a batch in training mode, without gradients (for finite differences)."""
        return self._loss_from_output(self._forward(x, training=True), y, w) + self._trained_penalty()

    def _train_step(self, x, y, w=None):
        """One step as ``fit`` runs it on a batch without metrics: forward, backward, update.
        Returns ``(loss, output)``. ``fit`` and ``train_on_batch`` call its two halves themselves,
        to compute metrics between them; ``benchmarks/floor.py`` times this whole step."""
        value, out = self._loss_and_gradients(x, y, w)
        self._apply_update(value)
        return value, out

    def _apply_update(self, value, caller="fit"):
        """The optimizer's step on the gradients of a batch whose loss was ``value``; ``caller``
        ("fit", "train_on_batch") names the call in the warning given when nothing trains.

        A non-finite loss never reaches the weights: the caller raises NonFiniteError, and the
        weights it leaves are the last finite ones, where the culprit layer can still be found.
        (An update that itself overflows, a finite loss times a step too large for the dtype, is
        not checked here, which would cost a pass over every parameter per step: the next batch's
        loss is then non-finite, and the error names those parameters as made so by that update.)"""
        if math.isfinite(value):
            if not self._views:
                self._warn_nothing_trains(caller)
            self._sync_views()
            self._optimizer_step()

    def _layer_with_non_finite_parameters(self):
        """The first layer holding a NaN or infinite parameter, or None."""
        return next((layer for layer in self.layers
                     if any(not np.isfinite(p).all() for p in layer.params.values())), None)

    def _constraint_hint(self, layer):
        """A word on ``layer``'s constraints, which project its weights after every update: one of
        them may have made the NaN (a constraint of one's own dividing by a zero norm)."""
        if not layer.constraints:
            return ""
        return f"; or a constraint's projection ({', '.join(map(repr, layer.constraints.values()))})"

    def _check_parameters_finite(self, epoch, batch):
        """Raise NonFiniteError if the update after (0-based) ``epoch``, ``batch`` left a trained
        parameter NaN or infinite, naming the first layer that holds one."""
        if not self._triples or bool(np.isfinite(self._triples[0][1]).all()):
            return
        culprit = self._layer_with_non_finite_parameters()
        raise NonFiniteError(f"training stopped: the update after epoch {epoch + 1}, batch {batch + 1} "
                             f"made the parameters of {culprit.describe()} NaN or infinite (the loss before "
                             f"it was finite). {_HINT}{self._constraint_hint(culprit)}", epoch + 1, batch + 1,
                             culprit.name, what="weights")

    def _raise_non_finite(self, value, x, epoch, batch):
        """Name the first layer whose parameters, pre-activation ``z`` or output stopped being finite.

        The search reruns the batch forward in training mode; ``StateSnapshot`` undoes what that
        pass changes (BatchNormalization's moving statistics, Dropout's generators), so the model
        is left as the failed step left it."""
        # the loss before the last update was finite, so a layer with non-finite parameters got
        # them from that update
        culprit, what = self._layer_with_non_finite_parameters(), "parameters (the previous update made them so)"
        if culprit is None:
            what = "output"
            snapshot = StateSnapshot(self.layers)
            snapshot.rewind_carried()       # the batch again, from the states it started from
            try:
                with np.errstate(all="ignore"), masking.planned(self._mask_plan):
                    for layer, _, out in self._walk(x, training=True):
                        # z first: a sigmoid or tanh turns an infinite z into a finite output
                        z = getattr(layer, "z", None)
                        if z is not None and z is not out and not np.isfinite(z).all():
                            culprit, what = layer, "pre-activation z"
                            break
                        if not np.isfinite(out).all():
                            culprit = layer
                            break
                        regularizer = layer.activity_regularizer
                        if regularizer is not None and not math.isfinite(regularizer(out)):
                            culprit, what = layer, f"activity penalty ({regularizer!r:.60} of its finite output)"
                            break
                    else:       # what the loss scored (several outputs: packed, glassnet.outputs)
                        out = self._outputs_of_walk(out)
            finally:
                snapshot.restore()
        invalid = None if culprit is not None else self.loss.invalid_output(out)
        where = (f"; the first non-finite values are in the {what} of {culprit.describe()}"
                 if culprit is not None else
                 f"; every layer's output is finite, but {invalid}" if invalid else
                 "; every layer's output is finite: the loss itself overflowed on them"
                 + (" (a squared difference past float32's 3.4e38? scale the targets, or use "
                    "dtype='float64')" if self.dtype == np.float32 else ""))
        raise NonFiniteError(f"training stopped: the loss became {value} at epoch {epoch + 1}, batch "
                             f"{batch + 1}{where}. {_HINT}", epoch + 1, batch + 1,
                             None if culprit is None else culprit.name)

    # -- public -------------------------------------------------------------------------------
    def _largest_matmul_flops(self, batch_size):
        """FLOPs of the largest matrix product in one forward pass over a batch (each layer's
        ``matmul_flops``). Only ``fit``'s BLAS-thread rule uses it; infinite on the GPU, where
        OpenBLAS has no say."""
        if backend.get_backend() != "numpy":
            return float("inf")
        try:
            return max((layer.matmul_flops(batch_size) for layer in self.layers), default=0)
        except TypeError:       # a length given as None (any length): unknown, BLAS keeps its threads
            return float("inf")

    # the options by name only: Keras' positional order is (x, y, batch_size, epochs, verbose, ...),
    # so fit(x, y, 64, 10), Keras' 10 epochs in batches of 64, would silently train 64 epochs here
    @serialized
    def fit(self, x, y=None, *, epochs=1, batch_size=32, shuffle=True, validation_data=None,
            validation_split=0.0, verbose=1, callbacks=None, initial_epoch=0, sample_weight=None,
            class_weight=None, validation_freq=1, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None):
        """Train for ``epochs`` passes over the data.

        x : array-like of shape (n_samples, *input_shape); y : targets, (n_samples, outputs) or
        integer labels (n_samples,). ``batch_size=None`` is full-batch gradient descent, 1 is
        per-sample SGD. ``validation_split`` holds out the last fraction of the data (before
        shuffling, as Keras; not together with ``validation_data``, which Keras lets override it).
        ``shuffle``: True or False (Keras 2's ``"batch"`` is refused). ``verbose``: 0 silent, 1
        progress bar, 2 one line per epoch.
        Returns a ``History`` whose ``.history`` maps "loss", metric names and "val_*" to per-epoch lists
        (the ``History`` given in ``callbacks``, if one is, as in Keras; else a new one).

        sample_weight : array-like of shape (n_samples,), finite and >= 0, optional
            Each sample's loss is multiplied by its weight; a batch's loss is the weighted sum
            divided by the batch's sample count (Keras' ``sum_over_batch_size``), and so is its
            gradient. For an output with positions (a tagger's (n, steps, classes), a segmenter's
            (n, H, W, classes)) it may hold one weight per position, (n_samples, *positions) or
            (n_samples, *positions, 1) (Keras' temporal weights; a segmenter's (n, H, W) or
            (n, H, W, 1) weight maps): each position's loss (reduced over the output's last axis)
            times its own weight, the sum divided by the number of positions scored (n * steps;
            with a mask, the real steps), not by the sum of the weights, as Keras 3.15 does; (n,)
            weighs every position of a sample by the sample's weight. ``weighted_metrics`` weigh
            each position likewise. Other shapes are refused by name, (n, 1) too (flatten it:
            Keras broadcasts it over the positions, as (n,) here). A model of several outputs
            also takes weights per output, a list in the outputs' order or a dict by their
            names (None, or a name left out: unweighted; see glassnet.outputs), one per sample.
            The weights are shuffled with x and y. ``validation_split`` holds out their
            tail too, and ``validation_data`` may be ``(x_val, y_val, sample_weight_val)``: the
            validation loss is then weighted as well.
        class_weight : dict {class index: weight}, optional
            Weights the training samples by class (integer labels, the argmax of one-hot rows,
            or 0/1 for a single output); classes it leaves out weigh 1. Not together with
            ``sample_weight`` (a ValueError, as in Keras 3). Not applied to validation data (Keras).
            Not for an output with a class per position (a tagger: give weights per position).

        validation_freq : int >= 1, or a list of epochs (counted from 1), default 1
            Validate every this many epochs (``2``: after epochs 2, 4, ...), or after the listed
            ones, as Keras. The other epochs' logs hold no "val_" values: ``history["val_loss"]``
            is then shorter than ``history["loss"]`` (``history.validation_epoch`` lists the epochs
            it was measured at), and callbacks monitoring a "val_" value skip those epochs, as
            Keras' do (EarlyStopping's patience counts validated epochs only).

        Metrics stay unweighted, as Keras' ``metrics=``; those of ``weighted_metrics`` weigh them.
        Validation arrays are evaluated in batches of ``validation_batch_size``, which defaults to
        ``batch_size`` as in Keras (memory stays that of a batch, whatever the validation set's size);
        a PyDataset or a generator gives its own batches and takes no ``validation_batch_size``.

        Callbacks' batch hooks get Keras' logs: the loss and metrics averaged over the epoch's
        samples so far (the last batch's logs equal the epoch's); ``train_on_batch`` gives the loss
        of a single step. A callback that sets ``model.stop_training = True`` in a batch hook ends
        the epoch after that batch, as in Keras 3: its validation and ``on_epoch_end`` still run,
        with the loss and metrics averaged over the samples the epoch saw, and training stops.

        x may also be a ``glassnet.utils.PyDataset`` or a generator of batches ``(x, y)`` or
        ``(x, y, sample_weight)`` (Keras; see ``glassnet.feeding``): y, ``sample_weight`` and
        ``validation_split`` are then not given, ``batch_size`` is the data's own, ``shuffle``
        shuffles a PyDataset's batches, ``steps_per_epoch`` says how many batches an epoch takes
        (a generator without it is read to its end, once), and ``validation_data`` may be a PyDataset,
        or a generator given ``validation_steps`` (the batches each validation reads: a PyDataset's
        first ones, a generator's next ones).

        x (and ``validation_data``) may also be a PyTorch ``DataLoader`` or a ``tf.data.Dataset`` of
        such batches, as in Keras 3 (neither library is imported by glassnet; see glassnet.feeding):
        each epoch is a new pass in the data's own order (``shuffle=True``, fit's default, is ignored
        with Keras' warning: give ``shuffle=False``), or ``steps_per_epoch`` batches going on through
        passes (needed after ``Dataset.repeat()``). The tensors become NumPy arrays of their dtype; a
        torch tensor is detached and copied off a GPU first. Batches may hold dicts or lists of
        tensors for a model of several inputs or outputs; ``class_weight`` applies to each batch.

        Example
        -------
        >>> model.fit(X, y, epochs=5, class_weight={0: 1.0, 1: 4.0}, verbose=0)   # doctest: +SKIP
        """
        if self._own_steps:         # a subclass of Model with Keras' train_step: its own loop (glassnet.own_steps)
            from .own_steps import fit_own_steps
            return fit_own_steps(self, x, y, epochs=epochs, batch_size=batch_size, shuffle=shuffle,
                                 validation_data=validation_data, validation_split=validation_split,
                                 verbose=verbose, callbacks=callbacks, initial_epoch=initial_epoch,
                                 sample_weight=sample_weight, class_weight=class_weight,
                                 validation_freq=validation_freq, steps_per_epoch=steps_per_epoch,
                                 validation_steps=validation_steps, validation_batch_size=validation_batch_size)
        self._require_compiled("fit")
        self._apply_trainable_flags()
        self._check_optimizer()
        from . import config        # (imported on first fit: glassnet.config stays out of `import glassnet`)
        epochs = config.capped_epochs(check_positive_int(epochs, "epochs"))      # set_max_epochs
        batch_size = check_positive_int(batch_size, "batch_size", allow_none=True)
        verbose = check_verbose(verbose)
        initial_epoch = check_non_negative_int(initial_epoch, "initial_epoch")
        if initial_epoch >= epochs:
            # Keras trains nothing here, silently; the usual slip is reading epochs as "more epochs"
            warn(f"fit: initial_epoch={initial_epoch} and epochs={epochs}: nothing to train; epochs "
                 f"is the epoch to stop at (Keras), not a number of further epochs: for 5 more, "
                 f"epochs={initial_epoch + 5}")
        validation_split = check_fraction(validation_split, "validation_split")
        validation_freq = check_validation_freq(validation_freq)
        shuffle = check_flag(shuffle, "shuffle")
        check_callback_list(callbacks)
        steps_per_epoch = check_positive_int(steps_per_epoch, "steps_per_epoch", allow_none=True)
        validation_steps = check_positive_int(validation_steps, "validation_steps", allow_none=True)
        validation_batch_size = check_positive_int(validation_batch_size, "validation_batch_size", allow_none=True)
        refuse_array_steps(x, validation_data, validation_split, steps_per_epoch, validation_steps,
                           validation_batch_size)
        if validation_data is not None and validation_split:
            # Keras quietly ignores validation_split then; refused, since one of the two is a slip
            raise ValueError("give validation_data or validation_split, not both (Keras lets validation_data "
                             "override validation_split: drop validation_split for the same run)")
        validation_freq = settle_validation_freq(validation_freq, initial_epoch, epochs,
                                                 validation_data is not None or bool(validation_split))
        if is_batches(x):           # a PyDataset or a generator: batch by batch (glassnet/feeding.py)
            steps_per_epoch = config.capped_steps(steps_per_epoch)        # set_max_steps_per_epoch
            feed, table, validation_data, bs = self._fit_feed(x, y, sample_weight, class_weight, shuffle,
                                                              validation_data, validation_split, steps_per_epoch,
                                                              validation_steps)
            x = xs = None                       # no arrays: the samples and batches are the data's
            n, steps = None, feed.steps
        else:
            (x, y, w, validation_data, xs, ys, ws, n, bs,
             steps) = self._fit_arrays(x, y, sample_weight, class_weight, shuffle, validation_data,
                                       validation_split, batch_size, validation_steps)
            # set_max_steps_per_epoch: the first batches of each epoch's shuffled pass
            steps = config.capped_steps(steps)
        history, callback_list = fit_callbacks(callbacks, verbose)
        # as in Keras (its CallbackList.set_model), model.history is this fit's History before any
        # hook runs: a callback's on_train_begin sees it, and a run stopped by Ctrl-C or an error
        # keeps the epochs it completed
        self.history = history
        train_keys = ["loss", *(name for name, _ in self._compiled_metrics)]
        val_keys = [f"val_{key}" for key in train_keys] if validation_data is not None else []
        # "metrics": the keys of every epoch's logs, known before training, so that a callback
        # can refuse in on_train_begin a monitor that no epoch will log
        hooks = CallbackList(callback_list, self, {"epochs": epochs, "steps": steps, "batch_size": bs,
                                                   "samples": n, "verbose": verbose,
                                                   "metrics": train_keys + val_keys,
                                                   "validation_freq": validation_freq,
                                                   # a generator read validation_steps at a time may end
                                                   "validation_may_run_dry": isinstance(validation_data, Feed)
                                                   and not rereadable(validation_data.data)})
        self.stop_training = False
        logs, xb = {}, None
        self._resume_epoch = None
        requested_start = initial_epoch
        hooks.call("on_train_begin", logs)
        if self._resume_epoch is not None:     # BackupAndRestore restored a backup: go on from it
            initial_epoch, self._resume_epoch = self._resume_epoch, None
            if x is None:
                feed.resume(initial_epoch - requested_start)
            if initial_epoch >= epochs:
                warn(f"fit: the backup BackupAndRestore restored has {initial_epoch} epochs done, "
                     f"epochs={epochs}: nothing to train")
        # small networks train faster on one BLAS thread (see glassnet.blas); restored afterwards.
        # Ctrl-C lands between batches, not inside an optimizer step (training_epochs)
        flags = self._trainable_flags()
        try:
            with blas.for_training(self._largest_matmul_flops(bs)), \
                    training_epochs(self, callback_list, hooks) as interrupt:
                for epoch in range(initial_epoch, epochs):
                    # Keras resets the compiled Metric objects before on_epoch_begin: a callback
                    # reading m.result() there, or at the first batch's begin, reads 0
                    tally = MetricTally(self._compiled_metrics)
                    tally.claim()
                    hooks.call("on_epoch_begin", epoch, {})
                    if x is None:
                        feed.begin_epoch()
                        # b counts the epoch's steps, as Keras' hooks get it; index is the dataset's
                        batches = ((b, *self._dataset_batch(feed, index, batch, table))
                                   for b, (index, batch) in enumerate(feed.epoch()))
                    else:
                        batches = _array_batches(x, y, w, xs, ys, ws, bs, steps, self.shuffle_rng)
                    total, seen, b = 0.0, 0, -1
                    for b, xb, yb, wb in batches:
                        if hooks.has_batch_hooks:
                            hooks.call("on_train_batch_begin", b, {})
                        # a callback froze or unfroze a layer (gradual unfreezing): taken up from
                        # this batch on, weights and BatchNormalization's mode together (the layer
                        # reads its flag at once; its weights would otherwise train, or not, until
                        # the next fit). Looked at where a hook may have run since the last look:
                        # each batch when there are batch hooks, else each epoch's first batch
                        if (b == 0 or hooks.has_batch_hooks) and self._trainable_flags() != flags:
                            self._apply_trainable_flags()
                            flags = self._trainable_flags()
                        try:
                            value, out = self._loss_and_gradients(xb, yb, wb)
                        except NonFiniteError as exc:
                            if exc.epoch is not None:
                                raise
                            # raised by a layer (BatchNormalization), which cannot know where it is
                            raise NonFiniteError(f"training stopped at epoch {epoch + 1}, batch {b + 1}: {exc}",
                                                 epoch + 1, b + 1, exc.layer, exc.what) from exc
                        if not math.isfinite(value):
                            self._raise_non_finite(value, xb, epoch, b)
                        m = xb.shape[0]
                        seen += m
                        total += value * m
                        # the metrics before the update: one that fails leaves the weights as they were
                        self._tally(tally, yb, out, wb)
                        self._apply_update(value)
                        interrupt.check()
                        if hooks.has_batch_hooks:     # Keras' batch logs: the epoch's running values
                            hooks.call("on_train_batch_end", b,
                                       dict(zip(train_keys, (float(total / seen), *tally.results()))))
                        # checked after every batch, as Keras 3 does: a callback (in any hook) that
                        # stops training ends the epoch here; the epoch loop stops after on_epoch_end
                        if self.stop_training:
                            break
                    if x is None:
                        if feed.ran_out:        # a generator that ended: Keras warns and stops
                            ran_out_warning(epoch, b + 1, feed.steps)
                            self.stop_training = True
                            if b < 0:           # not one batch this epoch: nothing to log
                                break
                        feed.end_epoch()
                    # each batch's loss is checked before its update, so an update that overflows the
                    # weights shows in the next batch's loss; the epoch's last one is checked here,
                    # before validation and before a callback saves the weights (one pass an epoch)
                    self._check_parameters_finite(epoch, b)
                    # over the samples seen: all n, unless a callback stopped the epoch early
                    logs = dict(zip(train_keys, (float(total / seen), *tally.results())))
                    keep_run(self, total / seen, seen, tally)       # (model.metrics_variables reads it)
                    # read: validation takes the compiled Metric objects over without copying the
                    # counts (as in Keras, they then hold the validation's values)
                    tally.release()
                    if validation_data is not None and validates(epoch, validation_freq):
                        # in batches of validation_batch_size, else of the training's size, as Keras'
                        # validation_batch_size defaults to batch_size: a whole validation set at once
                        # peaked at 631 MiB for 5,000 MNIST images through the CNN (44 MiB in batches of 256)
                        values = self._validate(validation_data, validation_batch_size or batch_size, hooks)
                        if values is not None:      # None: a validation generator gave nothing (warned)
                            logs.update(zip(val_keys, map(float, values)))
                    # a copy, as Keras' CallbackList hands its callbacks: what they add to it
                    # (ReduceLROnPlateau's learning_rate) is not in on_train_end's logs
                    hooks.call("on_epoch_end", epoch, dict(logs))
                    interrupt.check()             # one held during validation or a checkpoint's save
                    if self.stop_training:
                        break
        finally:
            # the layers' caches of the last batch are slices of the shuffled copy (or of x):
            # copies of them let the training data go when fit returns (or raises)
            if x is not None:
                self._release_data(x, xs)
            elif xb is not None:        # the last batch may be a view of the dataset's own array
                self._release_data(xb)
        # Keras' order: the averaged weights before on_train_end (whose EarlyStopping may restore
        # its best ones instead); for a fit asked to train, even if a restored backup found it done
        if requested_start < epochs:
            hooks.call_private("_before_finalize")     # SwapEMAWeights: its average back in place first
            self._finalize_weights()
        hooks.call("on_train_end", logs)
        return history

    def _validate(self, validation_data, batch_size, hooks):
        """One validation in fit: ``[loss, *metrics]`` of ``validation_data`` as ``_validation_data``
        made it (``(x, y, w)`` arrays, evaluated in batches of ``batch_size``, or a ``Feed``), with
        fit's ``hooks`` getting the test hooks; None when a validation generator gave nothing.
        evaluate's own code: glassnet.own_steps validates a model with a train_step by it too."""
        if isinstance(validation_data, Feed):
            return self._evaluate_feed(validation_data, hooks)
        return self._evaluate_arrays(*validation_data[:2], batch_size, validation_data[2], hooks)

    def _fit_arrays(self, x, y, sample_weight, class_weight, shuffle, validation_data, validation_split,
                    batch_size, validation_steps):
        """fit's arrays checked, split and given their shuffle buffers: ``(x, y, w, validation_data,
        xs, ys, ws, n, bs, steps)``."""
        # in its own dtype for now: shuffled epochs cast it on their way into the float buffer
        x, y = self._prepare_xy(x, y, cast=False)
        refuse_both(sample_weight, class_weight)
        w = self._check_weights(sample_weight, x)
        # checked before any work; applied below to the training part only
        table = self._class_weight_table(class_weight)
        if validation_split:
            (x, y, w), validation_data = hold_out(x, y, w, validation_split)
            validation_data = self._on_device(*validation_data)     # copied to a GPU once, not every epoch
        elif validation_data is not None:
            validation_data = self._validation_data(validation_data, validation_steps)
        # the Metric objects on two samples in inference mode, before any update: targets one cannot
        # take, or a result a log cannot hold (F1Score(average=None) on a softmax), fail here rather
        # than after an epoch (functions of one's own are left to the batches: they may need more)
        self._check_metrics_on(x, y, objects_only=True)
        if validation_data is not None and not isinstance(validation_data, Feed):
            self._check_metrics_on(*validation_data[:2])
        w = combine(None if table is None else self._class_weight_targets(y), w, table)
        # checked where the user keeps the data; trained on where the weights are (a GPU: all of
        # it copied there once, so that each epoch's shuffle and batches stay on the device)
        x, y, w = self._on_device(x, y, w)
        n = x.shape[0]
        bs = n if batch_size is None else min(batch_size, n)
        steps = -(-n // bs)
        # shuffled copies go into buffers made once: no allocation per epoch. Data in another dtype
        # (uint8 pixels) is cast as it is shuffled in, so it is never held twice
        if shuffle and steps > 1:
            xp = backend.get_array_module(x)
            xs, ys = xp.empty_like(x, dtype=self.dtype), xp.empty_like(y)
        else:
            x = xs = _read_only(x.astype(self.dtype, copy=False))      # maybe the caller's own array
            ys = y
        ws = w if w is None or xs is x else backend.get_array_module(w).empty_like(w)
        return x, y, w, validation_data, xs, ys, ws, n, bs, steps

    def _validation_data(self, validation_data, steps=None):
        """fit's ``validation_data``: ``(x, y, w)`` arrays checked, or a ``Feed`` of a PyDataset (or of
        a generator, given ``steps``: fit's ``validation_steps``)."""
        if is_batches(validation_data):
            feed = validation_feed(validation_data, steps)
            self._check_metrics_on(*self._dataset_batch(feed, 0, feed.first, None)[:2])
            feed.restart()      # the first validation reads a new pass, as later ones do (Feed.restart)
            return feed
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError("validation_data: expected a tuple (x_val, y_val) or "
                             "(x_val, y_val, sample_weight_val), a PyDataset, a torch DataLoader or a tf.data.Dataset")
        from ._validation import non_finite_inputs
        with non_finite_inputs():   # (its inputs as evaluate's take NaN and inf, as Keras'; its targets checked)
            xv, yv = self._prepare_xy(*validation_data[:2], "validation_data[0]", "validation_data[1]")
        wv = self._check_weights(validation_data[2] if len(validation_data) == 3 else None, xv,
                                 "validation_data[2]")
        return self._on_device(xv, yv, wv)

    def _fit_feed(self, x, y, sample_weight, class_weight, shuffle, validation_data, validation_split,
                  steps_per_epoch, validation_steps):
        """fit's checks for data that comes batch by batch: ``(feed, class weight table,
        validation_data, the first batch's size)``. The first batch builds the model and is checked
        before any update."""
        refuse_beside_batches(x, y, sample_weight)
        kind = kind_of(x)
        if validation_split:
            raise ValueError(f"validation_split: it holds out the last samples of arrays; a {kind} has no last "
                             f"samples to hold out: give validation_data")
        feed = Feed(x, steps_per_epoch, shuffle, lambda: self.shuffle_rng)
        first = self._dataset_batch(feed, 0, feed.first, None)      # builds the model on first use
        table = self._class_weight_table(class_weight)
        if table is not None:           # the class weights need the built model: the batch again, with them
            first = self._dataset_batch(feed, 0, feed.first, table)
        if validation_data is not None:
            validation_data = self._validation_data(validation_data, validation_steps)
        self._check_metrics_on(*first[:2], objects_only=True)
        if isinstance(validation_data, Feed) and validation_data.data is x:
            feed.restart()      # read by validation_data since: the first epoch reads a new pass (Feed.restart)
        return feed, table, validation_data, first[0].shape[0]

    def _dataset_batch(self, feed, index, batch, table):
        """One batch of a dataset or generator as fit trains on it: ``(x, y, w)`` checked as arrays
        are, in the model's dtype; ``table``: fit's class weights (an (n_classes,) array) or None."""
        where = feed.describe(index)
        bx, by, bw = unpack(batch, where)
        xb, yb = self._prepare_xy(bx, by, where, feed.describe(index, "y"))
        wb = self._check_weights(bw, xb, feed.describe(index, "sample_weight"))
        if table is not None:
            if bw is not None:
                raise ValueError(f"class_weight: {where} carries sample weights too; give one or the other "
                                 f"(Keras)")
            wb = combine(self._class_weight_targets(yb), None, table)
        return self._on_device(xb, yb, wb)

    @serialized
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One update on (x, y). Returns the loss before it (``[loss, *metrics]`` with metrics, a
        dict with ``return_dict``). ``sample_weight`` ((n_samples,), or one weight per position of an output
        with positions) and ``class_weight`` weigh the loss as in ``fit``. ``y`` is required: the
        loss compares the outputs with it (None is Keras' default, for a subclass of Model with its
        own ``train_step``, whose ``train_on_batch`` runs that step once: glassnet._own_batch).

        >>> model.train_on_batch(X[:32], y[:32])          # doctest: +SKIP
        0.6931
        """
        if self._own_steps and not in_own_step(self):    # Keras 3: train_step(data) on this batch
            from ._own_batch import train_on_batch_own_step
            return train_on_batch_own_step(self, x, y, sample_weight, class_weight, return_dict)
        self._require_compiled("train_on_batch")
        refuse_no_targets(y, "train_on_batch", self.loss, self)
        return_dict = check_flag(return_dict, "return_dict")       # before the update, not after it
        self._apply_trainable_flags()
        self._check_optimizer()
        x, y = self._prepare_xy(x, y)
        x, y, w = self._on_device(x, y, self._sample_weights(x, y, sample_weight, class_weight))
        x = _read_only(x)           # the caller's batch itself
        value, out = self._loss_and_gradients(x, y, w)
        if not math.isfinite(value):
            self._raise_non_finite(value, x, 0, 0)
        values = [value, *self._metric_values(y, out, w)]     # before the update, as in fit
        self.__dict__["_last_run"] = (values, out.shape[0])   # (model.metrics_variables: metrics.keras_variables)
        self._apply_update(value, "train_on_batch")
        return self._results(values, return_dict)
