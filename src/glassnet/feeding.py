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

A batch is ``(x, y)`` or ``(x, y, sample_weight)`` (``predict`` takes ``x`` alone too); each is
checked as ``fit`` checks arrays, its error naming the batch.
"""
import itertools
import warnings
from collections.abc import Iterator

import numpy as np


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
    """Whether ``x`` comes batch by batch: a ``PyDataset`` or an iterator (a generator). Arrays,
    lists and DataFrames are not iterators, so they keep the array path."""
    return is_dataset(x) or (isinstance(x, Iterator) and not isinstance(x, np.ndarray))


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

    def __init__(self, data, steps=None, shuffle=False, rng=None, what="x"):
        self.data, self.rng, self.what = data, rng, what
        self.indexed = is_dataset(data)
        self.ran_out = False            # a generator that ended before its steps
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
                warnings.warn(f"{what}: shuffle=True is ignored for {type(data).__name__}, which has no end: it "
                              f"is expected to give its batches shuffled (Keras' warning)", UserWarning, stacklevel=4)
            self.length, self.steps = length, steps if steps is not None else length
            self.shuffle = shuffle and length is not None
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

    def describe(self, index, part="x"):
        """How errors name ``part`` (x, y, sample_weight) of batch ``index``: "y (batch 3 of Cats)"."""
        kind = type(self.data).__name__ if self.indexed else "the generator"
        return f"{part} (batch {index} of {'' if self.what == 'x' else self.what + ' '}{kind})"

    def resume(self, epochs_done):
        """fit resumed by BackupAndRestore after ``epochs_done`` epochs of this feed's: an endless
        dataset goes on at the index it had reached. (A finite one read ``steps_per_epoch`` at a time
        starts a new pass: where the backed-up run was within its pass is not in the backup.)"""
        if self.indexed and self.length is None:
            self._next_index = epochs_done * self.steps

    def rewind(self):
        """Read a dataset from its first batch again (each validation, as Keras' does)."""
        if self.indexed:
            self._next_index, self._order = 0, None

    def epoch(self):
        """Yield ``(index, batch)`` for the batches of one epoch."""
        self.ran_out = False
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


def reading_feed(data, steps, call, what="x", steps_name="steps", reading="reading", stacklevel=4):
    """The ``Feed`` of batches read from the start each time (evaluate's, predict's, a
    validation's): ``steps`` of them, at most a dataset's length (Keras stops at its end, with a
    warning, rather than read batches twice). ``steps_name``, ``reading``: the warning's words."""
    feed = Feed(data, steps, what=what)
    if feed.indexed and feed.length is not None and feed.steps > feed.length:
        warnings.warn(f"{call}: {steps_name}={feed.steps} is more than the {feed.length} batches of "
                      f"{type(data).__name__}; {reading} {feed.length}", UserWarning, stacklevel=stacklevel)
        feed.steps = feed.length
    return feed


def ran_out_warning(epoch, batches, steps, call="fit"):
    """Keras' warning when a generator ends before ``fit`` is done with it (glassnet then stops
    training, where Keras 3.15 goes on, re-reading the batches it peeked at)."""
    if call != "fit":
        warnings.warn(f"{call}: your input ran out of data after {batches} batches of the {steps} asked for",
                      UserWarning, stacklevel=4)
        return
    wanted = (f"steps_per_epoch * epochs batches ({steps} per epoch)" if steps is not None
              else "a batch for every epoch (without steps_per_epoch, a generator's first epoch reads it to "
                   "its end; give steps_per_epoch, or a PyDataset, which is read again every epoch)")
    warnings.warn(f"fit: your input ran out of data in epoch {epoch + 1} after {batches} batches; interrupting "
                  f"training. Make sure that your dataset or generator can generate at least {wanted}",
                  UserWarning, stacklevel=3)
