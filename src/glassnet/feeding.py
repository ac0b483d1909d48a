"""Data that arrives batch by batch: ``fit``, ``evaluate`` and ``predict`` on a ``PyDataset`` or a
generator instead of arrays, as in Keras.

Arrays are the fast path (one shuffled copy per epoch, then plain slices: training.py). A dataset
is for data that does not fit in memory, or that is made as it is read (files decoded, augmented,
generated): the model asks it for one batch at a time.

- ``PyDataset`` (Keras' class): ``__len__`` says how many batches, ``__getitem__(index)`` returns
  batch ``index``; it can be read in any order and again every epoch, so ``fit(shuffle=True)``
  shuffles the order of its batches (with the model's ``shuffle_rng``, as it shuffles samples), and
  it serves as validation data too. ``on_epoch_begin``/``on_epoch_end`` run around each epoch. With
  ``steps_per_epoch`` an epoch reads that many batches, going on through the dataset where the last
  epoch stopped and starting a new (shuffled) pass when one ends; Keras shortens the epoch that
  meets a pass's end instead, so the two agree when ``steps_per_epoch`` divides the length.
- A generator (any iterator): read once, in its own order. Each epoch takes ``steps_per_epoch``
  batches from it, or without ``steps_per_epoch`` reads it to its end in the first epoch; when it
  runs out, training stops with Keras' warning (Keras 3.15 itself warns and goes on with the
  batches it peeked at).

- A PyTorch ``DataLoader`` or a TensorFlow ``tf.data.Dataset`` (Keras 3 takes both; see
  glassnet._frameworks): read again every epoch, a new pass each time, in its own order: it shuffles
  itself if it was made to (``DataLoader(shuffle=True)``, ``Dataset.shuffle``), and ``fit(shuffle=True)``
  is ignored with Keras' warning. Without ``steps_per_epoch`` an epoch is one pass; with it, an epoch
  reads that many batches, going on where the last epoch stopped and starting a new pass when one
  ends, as for a PyDataset (one without an end, ``Dataset.repeat()``, needs ``steps_per_epoch``).
  Each batch's tensors become NumPy arrays of their dtype (a torch tensor detached and moved to
  the CPU first); evaluate, predict and each validation read it from the start of a pass.

A batch is ``(x, y)`` or ``(x, y, sample_weight)`` (``predict`` takes ``x`` alone too); each is
checked as ``fit`` checks arrays, its error naming the batch.
"""
import itertools
from collections.abc import Iterator

import numpy as np

from ._warnings import warn
from ._frameworks import batch_as_numpy, batch_count, framework_kind


class PyDataset:
    """Keras' base class for data read one batch at a time: subclass it with ``__len__`` (the number
    of batches) and ``__getitem__(index)`` (batch ``index``: ``(x, y)`` or ``(x, y, sample_weight)``),
    and optionally ``on_epoch_begin``/``on_epoch_end``. A dataset without an end defines
    ``num_batches`` as None instead of ``__len__``; ``fit`` then needs ``steps_per_epoch``.

    glassnet reads the batches in the training thread, one at a time: Keras' ``workers``,
    ``use_multiprocessing`` and ``max_queue_size`` are accepted for compatibility (``workers`` 0 or 1,
    both of which Keras reads in the calling thread), and more workers or processes are refused
    rather than silently ignored.

    >>> import numpy as np
    >>> class Halves(PyDataset):
    ...     def __init__(self, x, y, batch_size=2, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.x, self.y, self.batch_size = x, y, batch_size
    ...     def __len__(self):
    ...         return -(-len(self.x) // self.batch_size)
    ...     def __getitem__(self, index):
    ...         rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
    ...         return self.x[rows] / 2, self.y[rows]
    >>> data = Halves(np.ones((5, 3)), np.zeros(5))
    >>> data.num_batches, data[2][0].shape
    (3, (1, 3))
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        if workers not in (0, 1) or use_multiprocessing:
            raise ValueError(f"PyDataset: glassnet reads batches in the training thread, one at a time: workers "
                             f"must be 0 or 1 and use_multiprocessing False, got workers={workers!r:.40}, "
                             f"use_multiprocessing={use_multiprocessing!r:.40}")
        self.workers, self.use_multiprocessing, self.max_queue_size = workers, False, max_queue_size

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__}: a PyDataset defines __getitem__(index), which "
                                  f"returns batch index")

    @property
    def num_batches(self):
        """The number of batches (``len(self)``), or None for a dataset without an end."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(f"{type(self).__name__}: a PyDataset defines __len__ (its number of "
                                  f"batches), or num_batches = None for one without an end")

    def on_epoch_begin(self):
        """Called before each epoch of ``fit``."""

    def on_epoch_end(self):
        """Called after each epoch of ``fit`` (to reshuffle, say)."""


def is_dataset(x):
    """Whether ``x`` is a glassnet or Keras ``PyDataset`` (read by index)."""
    return isinstance(x, PyDataset) or any(c.__name__ == "PyDataset" and "keras" in c.__module__
                                           for c in type(x).__mro__)


def is_batches(x):
    """Whether ``x`` comes batch by batch: a ``PyDataset``, a PyTorch ``DataLoader``, a
    ``tf.data.Dataset`` or an iterator (a generator). Arrays, lists and DataFrames are not
    iterators, so they keep the array path."""
    return rereadable(x) or (isinstance(x, Iterator) and not isinstance(x, np.ndarray))


def rereadable(x):
    """Whether batch-by-batch data ``x`` can be read again from its start (each validation does):
    a PyDataset, a DataLoader or a Dataset; not a generator."""
    return is_dataset(x) or framework_kind(x) is not None


def kind_of(x):
    """What errors call batch-by-batch data ``x``: "PyDataset", "torch DataLoader", "tf.data.Dataset"
    or "generator" (Keras' words)."""
    return "PyDataset" if is_dataset(x) else framework_kind(x) or "generator"


def _length(dataset):
    """A PyDataset's number of batches, or None when it has no end, checked."""
    n = dataset.num_batches
    if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1):
        raise ValueError(f"{type(dataset).__name__}: a PyDataset needs at least one batch; its length "
                         f"(num_batches) is {n!r:.40}")
    return None if n is None else int(n)


def unpack(batch, where, need_y=True):
    """``(x, y, sample_weight)`` of one batch as a dataset gives it: ``(x, y)``, ``(x, y, w)``, or
    ``x`` (a bare array or ``(x,)``) where targets are not needed (predict)."""
    if isinstance(batch, (tuple, list)) and 1 <= len(batch) <= 3:     # a list as a tuple, as Keras
        x, y, w = (*batch, None, None)[:3]
    elif isinstance(batch, dict) and not need_y:        # a model of several inputs' x, by name (Keras)
        x, y, w = batch, None, None
    elif isinstance(batch, (list, tuple, dict)) or batch is None:
        x, y, w = None, None, None
        need_y = True       # reported below as the wrong kind of batch
    else:
        x, y, w = batch, None, None
    if x is None or (need_y and y is None):
        raise ValueError(f"{where}: expected a tuple (x, y) or (x, y, sample_weight){' or x' if not need_y else ''}, "
                         f"got {type(batch).__name__}"
                         + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else ""))
    return x, y, w


class Feed:
    """The batches of one ``fit``, ``evaluate`` or ``predict`` on a dataset or a generator, raw
    (as the data gives them; the model checks each). ``epoch()`` yields ``(index, batch)`` for one
    epoch, ``index`` being the dataset's (the one errors name); ``steps`` is the number of batches
    per epoch, or None when the data says when it ends. ``first`` is a batch read before training,
    to build the model and check targets. ``rng``: a function giving the generator that shuffles
    (the model's ``shuffle_rng``, asked at each pass: BackupAndRestore may replace it)."""

    def __init__(self, data, steps=None, shuffle=False, rng=None, what="x", reading=False):
        self.data, self.rng, self.what = data, rng, what
        self.indexed = is_dataset(data)
        self.framework = framework_kind(data)     # a DataLoader or a tf.data.Dataset, else None
        self.ran_out = False            # a generator that ended before its steps
        if self.framework is not None:
            self._open_framework(steps, shuffle, reading)
            return
        # Keras' own PyDataset takes workers; glassnet reads in the training thread (see PyDataset)
        workers, processes = getattr(data, "_workers", 1), getattr(data, "_use_multiprocessing", False)
        if self.indexed and (workers not in (0, 1) or processes):     # Keras reads 0 in the calling thread
            raise ValueError(f"{what}: {type(data).__name__} asks for workers={workers!r:.40}, use_multiprocessing="
                             f"{processes!r:.40}; glassnet reads batches in the training thread, one at a time")
        if self.indexed:
            length = _length(data)
            if length is None and steps is None:
                raise ValueError(f"{what}: {type(data).__name__} has no end (num_batches is None): " + (
                    "give steps_per_epoch (steps in evaluate and predict), the batches per epoch" if what == "x"
                    else "give validation_steps, the batches each validation reads"))
            if length is None and shuffle:
                warn(f"{what}: shuffle=True is ignored for {type(data).__name__}, which has no end: it "
                     f"is expected to give its batches shuffled (Keras' warning)")
            self.length, self.steps = length, steps if steps is not None else length
            # Keras' timeseries_dataset_from_array and *_dataset_from_directory return tf.data
            # Datasets, which its fit never shuffles: ours made without shuffle=True say so
            # (served_in_order) and are read in order, as Keras reads them (fit's shuffling of the
            # batches stands in for the reshuffle inside TensorFlow of those made with shuffle=True)
            self.shuffle = shuffle and length is not None and not getattr(data, "served_in_order", False)
            # where the next epoch starts: an endless dataset's index, or a position in the order
            # of the current pass over a finite one (epochs of steps_per_epoch go on through it)
            self._next_index, self._order = 0, None
            self.first = data[0]
        else:
            self.length, self.steps, self.shuffle = None, steps, False
            self._iterator = iter(data)
            try:
                self.first = next(self._iterator)
            except StopIteration:
                raise ValueError(f"{what}: the generator gave no batch") from None
            # read once, so the first batch goes back in front of the rest
            self._iterator = itertools.chain([self.first], self._iterator)

    def _open_framework(self, steps, shuffle, reading):
        """``__init__`` for a DataLoader or a Dataset: its length, its first batch (read from the
        pass the first epoch, evaluate or predict goes on with; see ``restart``). ``reading``: evaluate's,
        predict's or a validation's feed, whose ``steps`` never go past the end of a pass."""
        self.length, endless = batch_count(self.data)
        self._pending = None
        if endless and steps is None:
            raise ValueError(f"{self.what}: the {self.framework} has no end (repeat()): " + (
                "give steps_per_epoch (steps in evaluate and predict), the batches per epoch" if self.what == "x"
                else "give validation_steps, the batches each validation reads"))
        if shuffle:     # Keras 3.15's warning, which fit's default shuffle=True gives as well
            warn(f"`shuffle=True` was passed, but will be ignored since the data `{self.what}` was "
                 f"provided as a {self.framework}. The {self.framework} is expected to already be "
                 f"shuffled (pass shuffle=False to fit to silence this warning).")
        self.steps, self.shuffle, self.wraps = steps if steps is not None else self.length, False, not reading
        # without steps an epoch (a reading) is one pass, read to its end rather than to len(): the next
        # starts a new pass, whatever another reader of the same DataLoader did to the iterator meanwhile
        self._per_pass = steps is None
        self._iterator, self._position = None, 0
        try:
            self.first = self._read()[1]
        except StopIteration:
            raise ValueError(f"{self.what}: the {self.framework} gave no batch") from None
        self._pending = self.first      # served again as the first epoch's first batch

    def _read(self):
        """``(index in its pass, batch as NumPy arrays)``: the next batch of the current pass of a
        DataLoader or Dataset, a new pass begun if none is open; StopIteration at a pass's end."""
        if self._pending is not None:   # the first batch, read before training
            batch, self._pending = self._pending, None
            return 0, batch
        if self._iterator is None:
            self._iterator, self._position = iter(self.data), 0
        batch = next(self._iterator)
        index, self._position = self._position, self._position + 1
        return index, batch_as_numpy(batch, lambda part: self.describe(index, part))

    def _framework_epoch(self):
        """``epoch()`` for a DataLoader or a Dataset: one pass, or ``steps`` batches going on into
        new passes (a reading feed stops at a pass's end instead, as Keras does)."""
        count = 0
        while self._per_pass or count < self.steps:
            try:
                index, batch = self._read()
            except StopIteration:
                empty, self._iterator = self._position == 0, None
                if self._per_pass:
                    self.ran_out = count == 0       # a pass of no batch: it will give no more
                    return
                if empty or not self.wraps:
                    self.ran_out = True
                    return
                continue                # a new pass, for the rest of this epoch
            yield index, batch
            count += 1

    @property
    def sized(self):
        """Whether ``steps`` batches are known to come (at most a pass of a finite dataset)."""
        return self.indexed or (self.framework is not None and self.length is not None)

    def describe(self, index, part="x"):
        """How errors name ``part`` (x, y, sample_weight) of batch ``index``: "y (batch 3 of Cats)"."""
        return f"{part} (batch {index} of {'' if self.what == 'x' else self.what + ' '}{self.name})"

    @property
    def name(self):
        """The data as messages name it: its class (a PyDataset), "torch DataLoader", "tf.data.Dataset"
        or "the generator"."""
        return type(self.data).__name__ if self.indexed else self.framework or "the generator"

    def resume(self, epochs_done):
        """fit resumed by BackupAndRestore after ``epochs_done`` epochs of this feed's: an endless
        dataset goes on at the index it had reached. (A finite one read ``steps_per_epoch`` at a time
        starts a new pass: where the backed-up run was within its pass is not in the backup.)"""
        if self.indexed and self.length is None:
            self._next_index = epochs_done * self.steps

    def rewind(self):
        """Read a dataset from its first batch again (each validation, as Keras' does): a
        DataLoader or Dataset from a new pass, unless the one open has given only its first batch."""
        if self.indexed:
            self._next_index, self._order = 0, None
        elif self.framework is not None and self._pending is None:
            self._iterator = None

    def restart(self):
        """Forget a DataLoader's or Dataset's open pass and the first batch read ahead from it: the
        next epoch or reading begins a new pass. fit calls it for validation_data, and for x when
        validation_data is the same object: a DataLoader of ``persistent_workers`` hands every
        ``iter()`` its one iterator, reset, so the two feeds' passes were each other's."""
        if self.framework is not None:
            self._iterator, self._pending = None, None

    def epoch(self):
        """Yield ``(index, batch)`` for the batches of one epoch."""
        self.ran_out = False
        if self.framework is not None:
            yield from self._framework_epoch()
            return
        if self.indexed:
            for _ in range(self.steps):
                if self.length is None:         # endless: each epoch goes on where the last stopped
                    index = self._next_index
                else:
                    if self._order is None or self._next_index == self.length:   # a new pass
                        self._order = self.rng().permutation(self.length) if self.shuffle else range(self.length)
                        self._next_index = 0
                    index = int(self._order[self._next_index])
                self._next_index += 1
                yield index, self.data[index]
            return
        for count in itertools.count() if self.steps is None else range(self.steps):
            try:
                batch = next(self._iterator)
            except StopIteration:
                if self.steps is not None or count == 0:
                    self.ran_out = True
                return
            yield count, batch

    def begin_epoch(self):
        if self.indexed:
            self.data.on_epoch_begin()

    def end_epoch(self):
        if self.indexed:
            self.data.on_epoch_end()


def reading_feed(data, steps, call, what="x", steps_name="steps", reading="reading"):
    """The ``Feed`` of batches read from the start each time (evaluate's, predict's, a
    validation's): ``steps`` of them, at most a dataset's length (Keras stops at its end, with a
    warning, rather than read batches twice). ``steps_name``, ``reading``: the warning's words."""
    feed = Feed(data, steps, what=what, reading=True)
    if feed.sized and feed.length is not None and feed.steps > feed.length:
        warn(f"{call}: {steps_name}={feed.steps} is more than the {feed.length} batches of "
             f"{feed.name}; {reading} {feed.length}")
        feed.steps = feed.length
    return feed


def ran_out_warning(epoch, batches, steps, call="fit"):
    """Keras' warning when a generator ends before ``fit`` is done with it (glassnet then stops
    training, where Keras 3.15 goes on, re-reading the batches it peeked at)."""
    if call != "fit":
        warn(f"{call}: your input ran out of data after {batches} batches of the {steps} asked for")
        return
    wanted = (f"steps_per_epoch * epochs batches ({steps} per epoch)" if steps is not None
              else "a batch for every epoch (without steps_per_epoch, a generator's first epoch reads it to "
                   "its end; give steps_per_epoch, or a PyDataset, which is read again every epoch)")
    warn(f"fit: your input ran out of data in epoch {epoch + 1} after {batches} batches; interrupting "
         f"training. Make sure that your dataset or generator can generate at least {wanted}")
