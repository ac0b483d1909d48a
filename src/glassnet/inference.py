"""The inference side of ``Sequential``: evaluate, test_on_batch, predict, predict_on_batch.

Forward passes in inference mode (Dropout off, BatchNormalization on its moving statistics), no
gradients, no update. Kept apart from training.py, whose loss helpers it uses (and preparing.py's
checks), so that each file reads in one sitting.
"""
import contextlib
import math

import numpy as np

from . import _tape_state, backend
from ._flagless import call_default, unfixed
from ._validation import check_flag, check_positive_int, check_verbose, non_finite_inputs
from ._serial import serialized
from ._stepping import in_own_step
from .callbacks.base import CallbackList, check_callback_list
from .feeding import is_batches, kind_of, ran_out_warning, reading_feed, unpack
from .layers.base import stateful_layers
from .metrics.base import MetricTally
from .metrics.keras_variables import keep_run
from ._dictoutputs import as_dict
from .outputs import split_outputs
from .scalar_outputs import ScalarRows
from .training import refuse_no_targets


# predict and evaluate without a batch_size run the samples in chunks in which no layer's array holds
# more than this many numbers (16 MiB in float32). A dense network on a few thousand samples still
# runs in one pass; a CNN predicting 5,000 MNIST images, which took 631 MiB in one pass, runs ~700
# images at a time. (Keras' default is 32 samples, whose per-batch overhead NumPy would feel.)
AUTO_CHUNK_NUMBERS = 2 ** 22


@contextlib.contextmanager
def _cleaning_up(hooks):
    """Run the block; if an error (or Ctrl-C) leaves it, the callbacks' ``_on_error`` run first
    (SwapEMAWeights puts the trained weights back), as fit's do."""
    try:
        yield
    except BaseException:
        if hooks is not None:
            hooks.on_error()
        raise


def _own(out, x):
    """``out``, copied if it is a view of the input ``x`` (a model of shape layers only, such as a
    lone Flatten): a prediction must not change when the caller later writes into ``x``."""
    xp = backend.get_array_module(out)
    if xp is not backend.get_array_module(x):      # brought back from a GPU: a copy already
        return out
    return out.copy() if xp.may_share_memory(out, x) else out


class InferenceMixin:

    # a subclass of glassnet.Model whose evaluate runs Keras' test_step (glassnet.own_steps)
    _own_tests = False
    _own_predicts = False       # a subclass of glassnet.Model defining Keras' predict_step (glassnet.default_steps)

    def _auto_batch_size(self, sample_shape=None, source_shapes=None):
        """Samples per chunk for predict/evaluate without a ``batch_size``: the most for which the
        largest per-layer array (``Layer.numbers_per_sample``) stays within ``AUTO_CHUNK_NUMBERS``.
        ``sample_shape``: the data's (a model for any length leaves its ``input_shape`` open: None);
        ``source_shapes``: each input's, where the data's shape does not tell them (packed rows)."""
        shape = tuple(self._sample_input_shape if sample_shape is None else sample_shape)
        # the input counts too: a chunk of it is cast to the model's dtype (uint8 images, float64 data)
        sizes = [math.prod(shape)]
        self._shapes_through(shape if source_shapes is None else source_shapes,
                             lambda _, layer, given: sizes.append(layer.numbers_per_sample(given)))
        return max(1, AUTO_CHUNK_NUMBERS // max(sizes))

    def _default_batch_size(self, x):
        """predict's and evaluate's chunk without a ``batch_size``: memory's (``_auto_batch_size``);
        all of ``x`` at once for a model with stateful layers, whose states would otherwise run on
        from chunk to chunk of sizes nobody chose."""
        return x.shape[0] if stateful_layers(self.layers) else self._auto_batch_size(x.shape[1:])

    def _metric_values(self, y, out, w=None):
        """Each compiled metric on the one batch of targets ``y`` and outputs ``out``, as a number
        (a function is called as ``f(y_true, y_pred)``; see ``metrics.MetricTally``); ``w``: the
        batch's sample weights or None (see ``_metric_scored``)."""
        scored, y, w, rows = self._metric_scored(out, y, w)
        # one number per sample: a function of your own sees (n,), as in Keras (MetricTally.update)
        own = out if isinstance(rows, ScalarRows) else None
        # the compiled Metric objects are reset and updated, as Keras' train_on_batch/test_on_batch do
        values = MetricTally.one_batch(self._compiled_metrics, y, scored, w, own, objects=True)
        return [float(v) for v in values]

    def _results(self, values, return_dict):
        """``values`` ([loss, *metrics]) as the public calls return them: the loss alone without
        metrics, the list with them, a dict {"loss": ..., metric name: ...} with ``return_dict``.
        Python floats, whatever a metric function returned (a NumPy scalar prints as np.float64(...))."""
        values = [float(v) for v in values]
        if check_flag(return_dict, "return_dict"):
            return dict(zip(["loss", *(name for name, _ in self._compiled_metrics)], values))
        return values if self._compiled_metrics else values[0]

    def _evaluate_arrays(self, x, y, batch_size, w=None, hooks=None):
        """``[loss, *metrics]`` over (x, y) in batches of ``batch_size`` (None: chunks glassnet
        chooses), averaged by their number of samples; ``hooks`` (a CallbackList) get the test
        hooks, as ``_evaluate_feed``'s."""
        n = x.shape[0]
        bs = self._default_batch_size(x) if batch_size is None else batch_size
        total, tally = 0.0, MetricTally(self._compiled_metrics)
        self._test_hook(hooks, "on_test_begin")
        tally.claim()       # Keras resets the compiled objects here, before on_test_batch_begin
        for b, start in enumerate(range(0, n, bs)):
            self._test_hook(hooks, "on_test_batch_begin", b)
            # cast chunk by chunk: x may still be in its own dtype (uint8 pixels, see evaluate)
            xb, yb, wb = self._on_device(x[start:start + bs], y[start:start + bs],
                                         None if w is None else w[start:start + bs])
            xb = xb.astype(self.dtype, copy=False)
            out = self._forward(xb, training=self._inference_flag())
            total += self._loss_from_output(out, yb, wb) * xb.shape[0]
            self._tally(tally, yb, out, wb)
            self._test_hook(hooks, "on_test_batch_end", b, total, start + xb.shape[0], tally)
            # checked after each batch, as Keras does: a flag set in on_test_begin still lets one
            # batch run (checked before it, no batch ran and the mean divided by zero samples)
            if self._stopped(hooks, "stop_evaluating"):
                n = start + xb.shape[0]
                break
        self._release_data(x)
        # the weights' penalties (kernel_regularizer=...) are part of the loss, as in Keras
        values = [total / n + self._penalty(), *tally.results()]
        keep_run(self, values[0], n, tally)         # (model.metrics_variables reads it)
        self._test_hook(hooks, "on_test_end", values=values)
        return values

    def _test_hook(self, hooks, hook, batch=None, total=None, seen=None, tally=None, values=None):
        """Call an evaluation hook of ``hooks`` (None: no callbacks), with Keras' logs: the loss and
        metrics so far after a batch (computed only when some callback reads batches), the final
        ones at the end."""
        if hooks is None:
            return
        if hook == "on_test_begin":
            self.stop_evaluating = False        # Keras': a callback may end the evaluation after a batch
        if batch is not None and not hooks.has_test_batch_hooks:
            return
        if hook == "on_test_batch_begin":
            hooks.call(hook, batch, {})
        elif hook == "on_test_batch_end":
            hooks.call(hook, batch, self._named([total / seen + self._penalty(), *tally.results()]))
        else:
            hooks.call(hook, {} if values is None else self._named(values))

    def _named(self, values):
        return dict(zip(["loss", *(name for name, _ in self._compiled_metrics)], map(float, values)))

    def _evaluate_feed(self, feed, hooks=None):
        """``[loss, *metrics]`` over the batches of a ``Feed`` (a PyDataset, read from its first
        batch, or a generator, from where it is): as ``_evaluate_arrays``, the batches' values
        averaged by their number of samples. None when a generator gave no batch."""
        total, seen, tally, xb, index = 0.0, 0, MetricTally(self._compiled_metrics), None, -1
        feed.rewind()
        feed.begin_epoch()              # Keras calls a PyDataset's epoch hooks around each reading
        self._test_hook(hooks, "on_test_begin")
        tally.claim()       # Keras resets the compiled objects here, before on_test_batch_begin
        for index, batch in feed.epoch():
            self._test_hook(hooks, "on_test_batch_begin", index)
            with non_finite_inputs():
                xb, yb, wb = self._dataset_batch(feed, index, batch, None)
            out = self._forward(xb, training=self._inference_flag())
            total += self._loss_from_output(out, yb, wb) * xb.shape[0]
            seen += xb.shape[0]
            self._tally(tally, yb, out, wb)
            self._test_hook(hooks, "on_test_batch_end", index, total, seen, tally)
            if self._stopped(hooks, "stop_evaluating"):      # after the batch, as _evaluate_arrays
                break
        feed.end_epoch()
        self._release_data(xb)          # the last batch may be a view of the dataset's own array
        if feed.ran_out:
            ran_out_warning(0, index + 1, feed.steps, "evaluate" if feed.what == "x" else feed.what)
        if not seen:
            self._test_hook(hooks, "on_test_end")
            return None
        values = [total / seen + self._penalty(), *tally.results()]
        keep_run(self, values[0], seen, tally)
        self._test_hook(hooks, "on_test_end", values=values)
        return values

    def _predict_feed(self, feed, hooks=None):
        """predict's outputs for the batches of a ``Feed``, in one array. From a PyDataset they are
        written into one array sized for its batches at the first one's size, as they come
        (predict on arrays does the same), so the outputs are held once; the rows of a short last
        batch are cut off by a view. From a generator (whose length is not known), or when a batch
        is larger than the first, they are collected and joined at the end, held twice then."""
        outputs, out, filled, xb, batches, kind = [], None, 0, None, 0, None
        feed.begin_epoch()
        for index, batch in feed.epoch():
            self._predict_hook(hooks, "on_predict_batch_begin", index)
            with non_finite_inputs():       # (Keras hands NaN and inf to the model: _validation)
                xb = self._prepare_x(unpack(batch, feed.describe(index), need_y=False)[0], feed.describe(index))
            result = backend.to_numpy(self._forward(self._on_device(xb), training=self._inference_flag()))
            self._predict_hook(hooks, "on_predict_batch_end", index, result)
            batches += 1
            stop = self._stopped(hooks, "stop_predicting")
            # sized only for a PyDataset or a DataLoader or Dataset of known length, whose steps are
            # at most that (a generator's steps may be any number, its data ending long before)
            if out is None and not outputs and feed.sized:
                out = np.empty((feed.steps * len(result), *result.shape[1:]), dtype=result.dtype)
                kind = self._rows_kind(result)
            if out is not None and self._rows_kind(result) == kind and filled + len(result) <= len(out):
                out[filled:filled + len(result)] = result
                filled += len(result)
            else:
                if out is not None:         # a batch that does not fit: join the rest at the end
                    outputs.append(out[:filled])
                    out = None
                outputs.append(result.copy())      # the next forward pass may reuse a layer's buffers
            if stop:
                break
        feed.end_epoch()
        self._release_data(xb)
        if feed.ran_out:
            ran_out_warning(0, batches, feed.steps, "predict")
        if out is not None:
            return out[:filled]
        kinds = {self._rows_kind(o) for o in outputs}
        if len(kinds) > 1:
            raise ValueError(f"predict: the batches' outputs have different shapes {sorted(kinds)} "
                             f"and cannot be joined into one array")
        return np.concatenate(outputs)

    def _rows_kind(self, result):
        """What the rows of two batches' outputs must share to be joined into one array: their
        sample shape (a model of several outputs of any length: each output's, see graph.Model)."""
        return result.shape[1:]

    def _inference_feed(self, x, y, batch_size, sample_weight, steps, call):
        """The ``Feed`` of evaluate's or predict's ``x`` when it comes batch by batch, else None
        (after refusing what only arrays take)."""
        steps = check_positive_int(steps, "steps", allow_none=True)
        if not is_batches(x):
            if steps is not None:
                raise ValueError(f"{call}: steps counts the batches of a PyDataset, a DataLoader, a Dataset or a "
                                 f"generator; for arrays give batch_size")
            return None
        for name, value in (("y", y), ("batch_size", batch_size), ("sample_weight", sample_weight)):
            if value is not None:
                kind = type(x).__name__ if kind_of(x) == "PyDataset" else kind_of(x)     # its class, or Keras' word
                raise ValueError(f"{call}: x is a {kind} whose batches hold their own samples, "
                                 f"targets and weights: {name} should not be passed")
        return reading_feed(x, steps, call)

    @serialized
    def evaluate(self, x, y=None, batch_size=None, sample_weight=None, return_dict=False, verbose=0, steps=None,
                 callbacks=None):
        """The loss on (x, y), or ``[loss, *metrics]`` when metrics were compiled (inference mode).

        ``sample_weight`` (n_samples,), or one weight per position (n_samples, *positions) of an
        output with positions, weights the loss as in ``fit``, and the ``weighted_metrics``;
        the metrics stay unweighted.
        ``batch_size`` as in ``predict`` (``None``: one pass unless memory calls for chunks); the
        chunks' values are averaged by their number of samples.
        ``return_dict=True`` returns ``{"loss": ..., "accuracy": ...}`` (Keras). ``verbose`` 1, 2 or
        "auto" also prints them on one line (Keras' last line); the default, 0, prints nothing.
        x may be a ``PyDataset``, a torch ``DataLoader``, a ``tf.data.Dataset`` or a generator of
        batches ``(x, y)`` or ``(x, y, sample_weight)`` (no y then); ``steps`` batches of it, or all of
        them (a DataLoader or a Dataset: from the start of a new pass). ``callbacks`` (Keras'): their test
        hooks, ``on_test_begin``, per batch ``on_test_batch_begin`` and ``on_test_batch_end`` (the
        loss and metrics so far), ``on_test_end`` (the results).

        >>> model.evaluate(X, y, return_dict=True)        # doctest: +SKIP
        {'loss': 0.31, 'accuracy': 0.9}
        """
        if self._own_tests:         # a subclass of Model with Keras' test_step: its own loop (glassnet.own_steps)
            from .own_steps import evaluate_own_steps
            return evaluate_own_steps(self, x, y, batch_size=batch_size, sample_weight=sample_weight,
                                      return_dict=return_dict, verbose=verbose, steps=steps, callbacks=callbacks)
        if self._own_steps:         # a train_step but no test_step: scored by the compiled loss and metrics
            from .own_steps import refuse_own_metrics, refuse_without_loss
            refuse_own_metrics(self, "evaluate")
            refuse_without_loss(self)
        self._require_compiled("evaluate")
        batch_size = check_positive_int(batch_size, "batch_size", allow_none=True)
        verbose = check_verbose(verbose)
        return_dict = check_flag(return_dict, "return_dict")        # before the work, not after it
        check_callback_list(callbacks, "evaluate")
        feed = self._inference_feed(x, y, batch_size, sample_weight, steps, "evaluate")
        if feed is not None:
            hooks = self._inference_hooks(callbacks, verbose, feed.steps)
            with _cleaning_up(hooks):
                values = self._evaluate_feed(feed, hooks)
        else:
            with non_finite_inputs():
                x, y = self._prepare_xy(x, y, cast=False)
            w = self._check_weights(sample_weight, x)
            bs = self._default_batch_size(x) if batch_size is None else batch_size
            hooks = self._inference_hooks(callbacks, verbose, -(-x.shape[0] // bs))
            with _cleaning_up(hooks):
                values = self._evaluate_arrays(x, y, bs, w, hooks)
        if verbose:
            names = ["loss", *(name for name, _ in self._compiled_metrics)]
            print(" - ".join(f"{name}: {value:.4f}" for name, value in zip(names, values)))
        return self._results(values, return_dict)

    def _predict_hook(self, hooks, hook, batch, outputs=None):
        """Call a predict batch hook of ``hooks`` (None: no callbacks); Keras' logs after a batch:
        ``{"outputs": ...}``, the batch's outputs as predict returns them."""
        if hooks is None or not hooks.has_predict_batch_hooks:
            return
        hooks.call(hook, batch, {} if outputs is None else {"outputs": self._public_outputs(outputs)})

    def _public_outputs(self, out):
        """predict's and ``model(x)``'s outputs as they return them: ``{key: out}`` for a Sequential
        whose last layer is a functional Model of a dict output (``_nested_dict_key``); a model of
        several outputs splits them into a list of arrays, one per output, or a dict of them for
        outputs given as a dict (in its order)."""
        if self._heads is not None or self._output_keys is not None:
            outputs = [out] if self._heads is None else split_outputs(out, self._heads)
            if self._output_keys is None and self._keras_output_nesting is not None:    # (glassnet._nested_outputs)
                from ._nested_outputs import nest
                return nest(self._keras_output_nesting, outputs)
            return outputs if self._output_keys is None else as_dict(self._output_keys, outputs)
        key = self._nested_dict_key()
        return out if key is None else {key: out}

    @serialized
    def predict(self, x, batch_size=None, verbose=0, steps=None, callbacks=None):
        """Outputs (probabilities for sigmoid/softmax outputs), shape (n_samples, *output_shape).

        ``batch_size`` bounds memory for large inputs; ``None`` lets glassnet choose: all samples in
        one pass unless some layer's array would exceed 2**22 numbers (16 MiB in float32), as a CNN's
        on thousands of images would; then chunks that stay within it. The outputs are the same
        either way, up to the last bits a matrix product's blocking may change.
        ``verbose`` is accepted as Keras' is (0, 1, 2 or "auto") and prints nothing: one forward
        pass has no progress worth a bar. x may be a ``PyDataset``, a torch ``DataLoader``, a
        ``tf.data.Dataset`` or a generator whose batches are
        ``x``, ``(x,)`` or ``(x, y[, w])`` (y and w unused): the outputs of ``steps`` batches of it,
        or of all, in one array. ``callbacks`` (Keras'): ``on_predict_begin``, per batch
        ``on_predict_batch_begin`` and ``on_predict_batch_end`` (``logs["outputs"]``), ``on_predict_end``."""
        batch_size = check_positive_int(batch_size, "batch_size", allow_none=True)
        check_verbose(verbose)
        check_callback_list(callbacks, "predict")
        if self._own_predicts:      # Keras 3: predict_step(data) on each batch, the outputs joined
            from .default_steps import predict_own_steps
            return predict_own_steps(self, x, batch_size, steps, callbacks, verbose)
        # the data checked before any hook runs (Keras' order)
        feed = self._inference_feed(x, None, batch_size, None, steps, "predict")
        if feed is None:
            # in its own dtype: each chunk is cast on its way in, so 50,000 uint8 images are never
            # all float32 at once
            with non_finite_inputs():
                x = self._prepare_x(x, cast=False)
            bs = self._default_batch_size(x) if batch_size is None else batch_size
        hooks = self._inference_hooks(callbacks, verbose, feed.steps if feed is not None else -(-x.shape[0] // bs))
        with _cleaning_up(hooks):
            if hooks is not None:
                self.stop_predicting = False        # Keras': a callback may end predict after a batch
                hooks.call("on_predict_begin", {})
            out = self._predict_feed(feed, hooks) if feed is not None else self._predict_arrays(x, bs, hooks)
            if hooks is not None:
                hooks.call("on_predict_end", {})
        return self._public_outputs(out)

    def _inference_hooks(self, callbacks, verbose, steps):
        """The CallbackList of evaluate's or predict's ``callbacks`` (None without any), with
        Keras' params: verbose, epochs 1 and the batches it will read (None where unknown)."""
        if callbacks is None:
            return None
        return CallbackList(list(callbacks), self, {"verbose": verbose, "epochs": 1, "steps": steps})

    def _predict_arrays(self, x, bs, hooks=None):
        """predict's outputs for the array ``x`` in chunks of ``bs``, with ``hooks`` (a
        CallbackList or None) called per chunk."""
        n = x.shape[0]
        self._predict_hook(hooks, "on_predict_batch_begin", 0)
        first = self._predict_chunk(x[:bs])
        self._predict_hook(hooks, "on_predict_batch_end", 0, first)
        if bs >= n or self._stopped(hooks, "stop_predicting"):
            first = _own(first, x)
            self._release_data(x)
            return first
        # written chunk by chunk into one array: a list of chunks and their concatenation would
        # hold the outputs twice
        out = np.empty((n, *first.shape[1:]), dtype=first.dtype)
        out[:bs] = first
        for b, start in enumerate(range(bs, n, bs), start=1):
            self._predict_hook(hooks, "on_predict_batch_begin", b)
            out[start:start + bs] = self._predict_chunk(x[start:start + bs])
            self._predict_hook(hooks, "on_predict_batch_end", b, out[start:start + bs])
            if self._stopped(hooks, "stop_predicting"):
                out = out[:start + bs]
                break
        self._release_data(x)
        return out

    def _stopped(self, hooks, flag):
        """Whether a callback set Keras' ``stop_evaluating`` or ``stop_predicting`` (only with callbacks)."""
        return hooks is not None and getattr(self, flag, False)

    def _predict_chunk(self, x):
        """predict's outputs for the samples ``x`` (in their own dtype, on the host or a GPU), as a
        NumPy array: the chunk is cast, moved where the weights are, and its outputs come back."""
        return backend.to_numpy(self._forward(self._on_device(x).astype(self.dtype, copy=False),
                                                training=self._inference_flag()))

    @serialized
    def __call__(self, x, training=None):
        """The outputs for ``x`` (n_samples, *input_shape) in one forward pass, as Keras'
        ``model(x)``: in inference mode unless ``training=True`` (Dropout on, BatchNormalization on
        the batch's statistics and updating its moving ones, as a training step's forward pass;
        no gradients, no update of the weights). An array where the weights are: NumPy, or CuPy
        on a GPU model (``predict`` always returns NumPy, as Keras' does).

        >>> model(X[:4]).shape                              # doctest: +SKIP
        (4, 1)
        """
        from .layers.symbolic import holds_symbolic
        if holds_symbolic(training):
            # a second tensor by position, Keras' call(self, inputs, encoder_outputs, mask=None)
            # (keras.io's older TransformerDecoder): it took the place of training, and the message
            # said "training: expected True or False, got InputLayer(...)"
            raise TypeError(f"{type(self).__name__}: called with a second tensor by position ({training!r:.60}); "
                            f"glassnet calls a model or block on one argument: pass the tensors as a list, "
                            f"block([x, encoder_outputs]), and unpack it in call (inputs, encoder_outputs = inputs; "
                            f"mask is then the list of their masks, where Keras 3.15 hands mask=None to a call "
                            f"of several tensor arguments)")
        if holds_symbolic(x):
            return self._call_symbolic(x, training)
        if training is None:        # Keras' default: the call's own, else none (glassnet._flagless)
            training = self._flag_not_given()
        else:
            training = check_flag(training, "training")
        if _tape_state.recording():        # a GradientTape is open: the call is recorded (glassnet.tape)
            from .tape import record_model_call
            return record_model_call(self, x, training)
        with non_finite_inputs():
            x = self._on_device(self._prepare_x(x))
        self._refuse_constant_in_draw(x)
        out = _own(self._forward(x, training=training), x)
        self._release_data(x)           # the layers keep copies of what they hold of x, as predict's
        return self._public_outputs(out)

    def _flag_not_given(self):
        """The ``training`` of ``model(x)``: the default of the model's ``call`` where it has one
        (a block's ``training=True``), else None, a pass given no flag (``_forward`` runs it in
        inference unless the graph, drawn by then, holds calls that train in one: glassnet._flagless)."""
        return call_default(self)[1]

    def _inference_flag(self):
        """The ``training`` of predict's and evaluate's passes: False, as Keras' predict_step and
        test_step give it, but for a subclass whose ``call`` takes no ``training``, to which they
        give no flag (``self(x)``): then as ``model(x)`` (``_flag_not_given``)."""
        if getattr(type(self), "call", None) is None or call_default(self)[0]:
            return False
        return self._flag_not_given()

    def _refuse_constant_in_draw(self, x):
        """Refuse ``model(x)`` on arrays ``x`` (prepared) inside a subclass' call being drawn when this
        model has weights: as a layer's (Layer.__call__), its output would be a constant computed
        once, its weights neither trained nor the drawn model's. Without weights it computes."""
        from .layers.base import constant_in_draw, drawn_call
        if drawn_call() is not None and any(getattr(layer, "params", None) for layer in self.layers):
            shapes = [a.shape for a in x] if isinstance(x, (list, tuple)) else [x.shape]
            raise constant_in_draw(f"model {self.name!r}", shapes)

    def _call_symbolic(self, x, training=None):
        """``model(tensor)`` while a functional Model is drawn: this model's calls made again, in
        order, on ``tensor`` (a list of them for a model of several inputs), the same layer objects,
        so that the model drawn shares this one's weights (a nested model, in Keras' words; here its
        layers join the new model one by one, as a Sequential's nested layers do). ``training``
        True or False: every one of those calls runs in that mode (Keras' ``base(x,
        training=False)``: a base model kept in inference mode while the new one trains). Returns
        the symbolic output (a list of them for a model of several outputs)."""
        from .layers.symbolic import is_symbolic, replay
        sources = list(x) if isinstance(x, (list, tuple)) else [x]
        count = len(self.input_shapes) if hasattr(self, "input_shapes") else 1
        if not is_symbolic(x) or len(sources) != count:
            raise TypeError(f"model {self.name!r}: called while a functional Model is drawn, it takes "
                            f"{'one symbolic tensor' if count == 1 else f'a list of {count} symbolic tensors'} "
                            f"(an Input or a layer's output), got {x!r:.120}")
        if getattr(self, "_pending", ()):
            # subclass blocks waiting for the shape reaching them: drawn on this tensor's now, their
            # layers built by the model drawn, as a Sequential's not built yet (glassnet._lazy_blocks)
            from ._lazy_blocks import join_pending
            from .layers.symbolic import sample_shape_of
            join_pending(self, sample_shape_of(sources[0]))
        if not self.layers:
            raise ValueError(f"model {self.name!r}: has no layers to call")
        from ._block_masks import warn_if_nested_model_drops
        warn_if_nested_model_drops(self, sources)       # Keras' words, though the mask passes its layers
        if self.built and not self._takes_text():   # its samples' shapes are fixed, as Keras' are
            from .layers.base import shape_fits
            from .layers.symbolic import sample_shape_of
            expected = self.input_shapes if hasattr(self, "input_shapes") else [self._sample_input_shape]
            texts = getattr(self, "_text_readers", {})     # with several Inputs: those of texts (their ids' shapes)
            for j, (source, shape) in enumerate(zip(sources, expected)):
                if j in texts:
                    if getattr(source, "dtype", None) != "string":
                        raise ValueError(f"model {self.name!r}: its input {self._input_names[j]!r} takes texts, "
                                         f"called on {source!r:.80}; call it on an Input(..., dtype='string')")
                    continue
                if not shape_fits(sample_shape_of(source), shape):
                    raise ValueError(f"model {self.name!r}: takes input samples of shape {tuple(shape)}, called on "
                                     f"samples of shape {tuple(sample_shape_of(source))}")
        # a Sequential not built yet (no input shape) is not built here: its layers join the model
        # drawn, which builds them with its own seed and dtype (the weights it drew before); this
        # model is built on them then, as Keras builds it when it is called (glassnet._nested_build)
        if not self.built:
            from ._nested_build import wait_for_layers
            wait_for_layers(self)
        modes, options = self._call_settings()
        if training is not None:        # the calls without a mode of their own take the call's
            training = check_flag(training, "training")
            modes = [training if unfixed(mode) else mode for mode in (modes or [None] * len(self._node_layers))]
        tensors = replay(self._node_layers, self._inbound, sources, modes, options)
        from ._summary import record
        nested = record(self)           # the model drawn shows this one as one row in its summary
        nested.called_on = tuple(sources)       # (and orders its weights as Keras: glassnet._layer_order)
        for tensor in tensors:
            tensor.nested_in = nested
        outputs = [tensors[k] for k in self._output_calls]
        nested.returned = tuple(outputs)        # (which output an outer call reads: glassnet._keras_nesting)
        if getattr(self, "_loss_terms", None) is not None:
            # its add_loss terms, read from the calls made again: the model drawn takes them up (they
            # were dropped, the loss trained without them), as Keras runs the nested model's call
            from . import added_losses
            terms = self._loss_terms.drawn_again(tensors)
            added_losses.attach(terms, outputs)
            added_losses.record(terms)
        if self._output_keys is not None:       # a dict of tensors, as this model's outputs were given
            return as_dict(self._output_keys, outputs)
        if self._keras_output_nesting is not None:       # nested lists of them (glassnet._nested_outputs)
            from ._nested_outputs import nest
            return nest(self._keras_output_nesting, outputs)
        if self._nested_dict_key() is not None:       # a Sequential ending in a model of a dict output
            return {self._nested_dict_key(): outputs[0]}
        return outputs[0] if len(outputs) == 1 else outputs

    def _call_settings(self):
        """Each call's own mode and arguments, ``(modes, options)`` (see ``call_symbolic``): none
        in a Sequential; a functional Model keeps its calls'."""
        return None, None

    @serialized
    def predict_on_batch(self, x):
        """The outputs for one batch ``x`` (n_samples, *input_shape), in a single forward pass in
        inference mode: ``predict`` without batching (Keras). NumPy arrays, as Keras gives (its
        backends convert theirs): a model on a GPU hands its outputs back to the host.

        >>> model.predict_on_batch(X[:4]).shape            # doctest: +SKIP
        (4, 1)

        A subclass defining ``predict_step`` has it run on ``(x,)``, as Keras 3's ``predict_on_batch``
        hands the batch, and gets its outputs back as arrays in the structure it returns.
        """
        if self._own_predicts:      # Keras 3: predict_step, not the model's call (glassnet.default_steps)
            from .default_steps import predict_on_batch_own_step
            return predict_on_batch_own_step(self, x)
        out = self(x, training=self._inference_flag())
        if isinstance(out, dict):           # outputs given as a dict (glassnet._dictoutputs)
            return {key: backend.to_numpy(o) for key, o in out.items()}
        return [backend.to_numpy(o) for o in out] if isinstance(out, list) else backend.to_numpy(out)

    @serialized
    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss on one batch (x, y) in inference mode, without an update: ``evaluate`` on a
        single batch. Returns the loss, ``[loss, *metrics]`` with metrics or a dict with
        ``return_dict``; ``sample_weight`` (n_samples,), or one weight per position as in ``fit``,
        weighs the loss and the ``weighted_metrics``, not the metrics.

        >>> model.test_on_batch(X[:32], y[:32])           # doctest: +SKIP
        [0.25, 0.9375]

        ``y`` is required (None is Keras' default, for a subclass of Model with its own
        ``test_step``, whose ``test_on_batch`` runs that step once: glassnet._own_batch).
        """
        if self._own_tests and not in_own_step(self):     # Keras 3: test_step(data) on this batch
            from ._own_batch import test_on_batch_own_step
            return test_on_batch_own_step(self, x, y, sample_weight, return_dict)
        self._require_compiled("test_on_batch")
        refuse_no_targets(y, "test_on_batch", self.loss, self)
        with non_finite_inputs():
            x, y = self._prepare_xy(x, y)
        x, y, w = self._on_device(x, y, self._check_weights(sample_weight, x))
        out = self._forward(x, training=self._inference_flag())
        value = self._loss_from_output(out, y, w) + self._penalty()
        values = [value, *self._metric_values(y, out, w)]
        self.__dict__["_last_run"] = (values, out.shape[0])   # (model.metrics_variables: metrics.keras_variables)
        return self._results(values, return_dict)
