"""TensorBoard: the logs of training as TensorBoard's event files, as Keras' callback writes them."""
import itertools
import json
import numbers
import os
import time

from .. import _tfevents, backend
from .._atomic import write_atomically
from .._validation import check_choice, check_flag, shown
from .base import Callback, check_non_negative_int, check_path, is_integer

# A file is written whole (atomically) at most this often while training runs, and at its end
FLUSH_SECONDS = 10.0
_file_numbers = itertools.count()        # orders the files of one process written in one second


class _EventFolder:
    """The events bound for one folder (``log_dir/train`` or ``log_dir/validation``).

    Events are kept until ``flush``, which writes them as a new event file, whole, under a
    temporary name without "tfevents" until it is complete: the files are never appended to, so
    TensorBoard never reads one half-written (TensorFlow appends to one open file).
    TensorBoard reads every event file of a folder, in the order of their names, which hold the
    time and a counter: it sees the same series as from one file.
    """

    def __init__(self, folder):
        self.folder = folder
        self.pending = []

    def add(self, step, values):
        """One event per ``Summary.Value`` (as ``tf.summary`` writes them), at ``step``."""
        now = time.time()
        self.pending.extend(_tfevents.event(now, step, [value]) for value in values)

    def flush(self):
        if not self.pending:
            return
        import socket            # here: not a cost of importing glassnet
        os.makedirs(self.folder, exist_ok=True)
        now = time.time()
        # TensorFlow's names: events.out.tfevents.<seconds>.<host>.<pid>.<counter>.v2
        name = (f"events.out.tfevents.{int(now):010d}.{socket.gethostname()}.{os.getpid()}"
                f".{next(_file_numbers):06d}.v2")
        records = [_tfevents.event(now, file_version=_tfevents.FILE_VERSION), *self.pending]
        data = b"".join(_tfevents.record(r) for r in records)
        # a temporary name without "tfevents", which TensorBoard would read mid-write
        write_atomically(os.path.join(self.folder, name), lambda f: f.write(data), temporary_name="glassnet-events")
        self.pending = []


class TensorBoard(Callback):
    """Write the loss, the metrics, the learning rate and, on request, histograms of the weights to
    event files that TensorBoard (``tensorboard --logdir logs``) plots, as Keras' callback does.

    Parameters (Keras' names and defaults)
    ----------
    log_dir : str or os.PathLike, default "logs"
        Training's values go to ``log_dir/train``, validation's to ``log_dir/validation``.
    histogram_freq : int, default 0
        Every this many epochs (0: never), a histogram of each weight's finite values, at step = the
        epoch, tagged as Keras tags them, ``"<model>/<layer>/<weight>/histogram"`` in a Sequential,
        ``"<layer>/<weight>/histogram"`` in a functional model, with glassnet's weight names (which
        are Keras' for Dense, the convolutions, BatchNormalization, Embedding...; Keras nests a
        recurrent layer's in a cell, ``lstm/lstm_cell/kernel``, where glassnet has ``lstm/kernel``).
    write_graph : bool, default True
        The model's layers for TensorBoard's graph dashboard (Keras writes its model's JSON).
    write_steps_per_second : bool, default False
        Also log the training's steps per second, per epoch and (with ``update_freq``) per batch.
    update_freq : "epoch", "batch" or int, default "epoch"
        "epoch": the values of each epoch only; an integer n: also every n-th batch's running
        means (``"batch_loss"``...), at step = the batch's number since training began (from 1);
        "batch" is 1.
    write_images, profile_batch, embeddings_freq, embeddings_metadata :
        Keras' other options, refused by name when set: not implemented (weights as images, the
        projector of embeddings); Keras itself refuses ``profile_batch`` on its NumPy backend.

    What is written, step by step as Keras 3 writes it: at each epoch's end ``"epoch_<key>"`` of
    every training value in the logs and ``"epoch_learning_rate"`` at step = the epoch (from 0);
    when the epoch was validated, ``"epoch_<key>"`` of each ``"val_<key>"`` in the validation
    folder, after ``"evaluation_<key>_vs_iterations"`` at step = the optimizer's updates so far,
    which ``evaluate(..., callbacks=[tensorboard])`` writes too.
    The values are float32 tensors for the scalars dashboard, as ``tf.summary.scalar`` writes them.

    Files: event files are written with NumPy and the standard library (no TensorFlow, no
    protobuf). Unlike TensorFlow's writer, which appends to one file, each write is a new file,
    written whole (atomically, under a temporary name TensorBoard does not read), so no file is
    ever half-written: the values since the last one, at an epoch's or batch's end once
    ``FLUSH_SECONDS`` (10 s) have passed, when training ends, and when an error or Ctrl-C stops
    ``fit`` (the curves up to it); an ``evaluate`` outside ``fit`` at once. A run of an hour of
    short epochs leaves a few hundred small files; TensorBoard reads them as one series.

    Example
    -------
    >>> model.fit(X, y, epochs=20, validation_split=0.1,
    ...           callbacks=[TensorBoard("logs/run1", histogram_freq=1)])   # doctest: +SKIP
    """

    logs_added = ()

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0, embeddings_freq=0,
                 embeddings_metadata=None):
        super().__init__()
        self.log_dir = check_path(log_dir, "TensorBoard: log_dir")
        if not isinstance(self.log_dir, str):
            raise TypeError(f"TensorBoard: log_dir must be a str or os.PathLike of one, got {type(log_dir).__name__}")
        self.histogram_freq = check_non_negative_int(histogram_freq, "histogram_freq", "TensorBoard")
        self.write_graph = check_flag(write_graph, "TensorBoard: write_graph")
        self.write_steps_per_second = check_flag(write_steps_per_second, "TensorBoard: write_steps_per_second")
        # by type first: an array's == is elementwise, and its truth value NumPy's error naming no argument
        expected = "'epoch', 'batch' or a positive integer"
        if isinstance(update_freq, str):
            update_freq = 1 if check_choice(update_freq, "TensorBoard: update_freq", ("epoch", "batch"),
                                            expected=expected) == "batch" else update_freq
        elif not is_integer(update_freq):
            raise TypeError(f"TensorBoard: update_freq must be {expected}, got {shown(update_freq)}")
        elif update_freq < 1:
            raise ValueError(f"TensorBoard: update_freq must be {expected}, got {update_freq!r:.60}")
        self.update_freq = update_freq if update_freq == "epoch" else int(update_freq)
        if check_flag(write_images, "TensorBoard: write_images"):
            raise NotImplementedError("TensorBoard: write_images=True (Keras draws each weight as an image) "
                                      "is not implemented; histogram_freq logs the weights' histograms")
        # compared only as a number: an array's == is elementwise (NumPy's truth-value error)
        if profile_batch is not None and not (isinstance(profile_batch, numbers.Real) and profile_batch == 0):
            # Keras refuses it for its NumPy and PyTorch backends too: nothing here to trace
            raise ValueError(f"TensorBoard: profile_batch must be 0, got {profile_batch!r:.60}: "
                             f"glassnet has no profiler for TensorBoard")
        if embeddings_freq != 0 or embeddings_metadata is not None:
            raise NotImplementedError("TensorBoard: embeddings_freq and embeddings_metadata (TensorBoard's "
                                      "projector) are not implemented")
        self._train = self._val = None
        self._global_batch = 0

    # -- hooks --------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        # each fit writes files of its own (Keras: new writers for each), its batches from 1
        self._train = _EventFolder(os.path.join(self.log_dir, "train"))
        self._val = _EventFolder(os.path.join(self.log_dir, "validation"))
        os.makedirs(self._train.folder, exist_ok=True)      # a bad log_dir fails now, not later
        self._global_batch = 0
        self._flushed = time.monotonic()
        if self.write_graph:
            self._train.add(0, [_tfevents.graph_value("keras", _graph_json(self.model))])

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = (time.time(), self._updates())

    def on_train_batch_begin(self, batch, logs=None):
        self._global_batch += 1
        self._batch_start = time.time()

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch" or self._global_batch % self.update_freq:
            return
        values = {}
        if self.write_steps_per_second:
            values["steps_per_second"] = 1.0 / max(time.time() - self._batch_start, 1e-9)
        values.update(logs or {})
        self._train.add(self._global_batch, [_scalar(f"batch_{key}", value) for key, value in values.items()])
        self._maybe_flush()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        train = {key: value for key, value in logs.items() if not key.startswith("val_")}
        validation = {key[4:]: value for key, value in logs.items() if key.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None:
            train["learning_rate"] = float(optimizer.learning_rate)
        if self.write_steps_per_second:
            started, updates = self._epoch_start
            train["steps_per_second"] = (self._updates() - updates) / max(time.time() - started, 1e-9)
        self._train.add(epoch, [_scalar(f"epoch_{key}", value) for key, value in train.items()])
        self._val.add(epoch, [_scalar(f"epoch_{key}", value) for key, value in validation.items()])
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            # Keras' tags: a Sequential's weights under its name, a functional model's under the layers'
            prefix = "" if getattr(self.model, "_calls", None) else f"{getattr(self.model, 'name', 'model')}/"
            self._train.add(epoch, [_tfevents.histogram_value(f"{prefix}{weight}/histogram", backend.to_numpy(a))
                                    for weight, a in self.model._weight_items()])
        self._maybe_flush()

    def on_test_end(self, logs=None):
        # each evaluation (fit's validation, or evaluate given this callback) against the updates
        # made so far, in the validation folder, as Keras writes it
        alone = self._train is None         # evaluate outside fit: write it now
        if self._val is None:
            self._val = _EventFolder(os.path.join(self.log_dir, "validation"))
        self._val.add(self._updates(), [_scalar(f"evaluation_{key}_vs_iterations", value)
                                        for key, value in (logs or {}).items()])
        if alone:
            self._val.flush()

    def on_train_end(self, logs=None):
        self._flush()
        self._train = None

    def _on_error(self):
        # an error or Ctrl-C left fit (or evaluate): the curves up to it are what one wants to see
        self._flush()
        self._train = None

    # -- helpers ------------------------------------------------------------------------------
    def _updates(self):
        optimizer = getattr(self.model, "optimizer", None)
        return getattr(optimizer, "iterations", 0)

    def _maybe_flush(self):
        if time.monotonic() - self._flushed >= FLUSH_SECONDS:
            self._flush()

    def _flush(self):
        for folder in (self._train, self._val):
            if folder is not None:
                folder.flush()
        self._flushed = time.monotonic()


def _scalar(tag, value):
    if not isinstance(value, numbers.Real) and not (hasattr(value, "shape") and value.shape == ()):
        raise TypeError(f"TensorBoard: the logged value {tag!r} must be a number, got {type(value).__name__}")
    return _tfevents.scalar_value(tag, float(value))


def _graph_json(model):
    """The model's layers as the JSON of a Keras model, which TensorBoard's graph dashboard draws:
    each layer's class and name (what the dashboard reads) in Keras' layout, a Sequential's layers
    in order, a functional model's with Keras 3's ``inbound_nodes``. Built from the layers, not from
    ``to_json``: a model that has no config (a Lambda's) is drawn too."""
    def entry(layer):
        return {"class_name": type(layer).__name__, "config": {"name": layer.name}}
    name = getattr(model, "name", None) or "model"
    calls = getattr(model, "_calls", None)
    if not calls:           # a Sequential: the layers in order
        return json.dumps({"class_name": "Sequential", "config": {"name": name, "layers": [
            entry(layer) for layer in model.layers]}})
    # a functional Model: each call's sources as Keras 3's "keras_history" [layer, node, tensor]
    node_of, seen = [], {}
    for layer in calls:
        node_of.append(seen.get(id(layer), 0))
        seen[id(layer)] = node_of[-1] + 1

    def source(parent):
        if parent < 0:
            return [input_node[model._input_names[-1 - parent]], 0, 0]
        return [calls[parent].name, node_of[parent], 0]

    def tensor(parent):
        return {"class_name": "__keras_tensor__", "config": {"keras_history": source(parent)}}
    # an Input may share a layer's name (Keras refuses that): its node is renamed, keeping both
    taken = {layer.name for layer in calls}
    input_node = {given: f"{given}_input" if given in taken else given for given in model._input_names}
    entries = {("input", given): {"class_name": "InputLayer", "config": {"name": input_node[given]},
                                  "inbound_nodes": []} for given in model._input_names}
    for layer, parents in zip(calls, model._graph):
        node = entries.setdefault(id(layer), {**entry(layer), "inbound_nodes": []})
        node["inbound_nodes"].append({"args": [[tensor(p) for p in parents]]})
    return json.dumps({"class_name": "Functional", "config": {
        "name": name, "layers": list(entries.values()),
        "input_layers": [source(-1 - j) for j in range(len(model._input_names))],
        "output_layers": [source(k) for k in model._outputs_at]}})
