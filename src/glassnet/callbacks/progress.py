"""The progress output of ``fit(verbose=...)`` (``ProgressBar``), and Keras' ``Progbar`` for loops
of your own; both draw the same bar, ``[=====.....]``."""
import math
import numbers
import sys
import time

import numpy as np

from .._validation import check_non_negative_int, check_number, check_positive_int, check_verbose
from .base import Callback


def _interactive():
    """glassnet.config.is_interactive_logging_enabled(), without importing glassnet.config (not
    imported: nothing disabled it)."""
    config = sys.modules.get("glassnet.config")
    return config is None or config.is_interactive_logging_enabled()


def is_terminal(stream):
    """Whether ``stream`` is a terminal, which alone understands the ``"\\r"`` that redraws a line:
    into a log file or a pipe each redraw would be one more line of text."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def progress_bar(done, total, width):
    """``done`` of ``total`` steps as a bar of ``width`` characters inside brackets,
    ``[======..............]``; full past the end (a count beyond ``total``)."""
    filled = min(width, int(width * done / total))
    return f"[{'=' * filled}{'.' * (width - filled)}]"


def write(stream, text):
    stream.write(text)
    stream.flush()        # shown now, not when the buffer fills


class ProgressBar(Callback):
    """What ``fit(verbose=1)`` shows: a bar redrawn in place (at most ten times a second) and one
    summary line per epoch. ``verbose=2`` prints only the line. Written with plain ``print``."""

    logs_added = ()

    def __init__(self, verbose=1, stream=None, width=30):
        super().__init__()
        # checked here: a bad value failed at the first epoch's end, in Python's words (a stream
        # without write) or not at all (verbose="no" drew no bar, width=1.5 a bar of no length)
        verbose = check_verbose(verbose)
        if verbose == 0:
            raise ValueError("ProgressBar: verbose: expected 1 (a bar and a line per epoch) or 2 (the line "
                             "alone), got 0; fit(verbose=0) shows nothing without it")
        if stream is not None and not callable(getattr(stream, "write", None)):
            raise TypeError(f"ProgressBar: stream: expected a file-like object with write(), or None "
                            f"(sys.stdout), got {type(stream).__name__}")
        self.verbose, self.stream = verbose, stream
        self.width = check_positive_int(width, "ProgressBar: width")

    def _write(self, text):
        write(self.stream or sys.stdout, text)

    def on_train_begin(self, logs=None):
        # the bar is redrawn with "\r", which only a terminal understands: into a log file or a
        # pipe, verbose=1 prints the per-epoch lines alone
        # glassnet.config.disable_interactive_logging(): the lines alone, as into a log file
        self.draw_bar = self.verbose == 1 and is_terminal(self.stream or sys.stdout) and _interactive()

    def on_epoch_begin(self, epoch, logs=None):
        # last_draw = start: an epoch shorter than 0.1 s never draws a bar, only its summary line
        self.epoch, self.start, self.drawn = epoch, time.perf_counter(), 0
        self.last_draw = self.start

    def on_train_batch_end(self, batch, logs=None):
        if not self.draw_bar:
            return
        now = time.perf_counter()
        if now - self.last_draw < 0.1:
            return
        self.last_draw = now
        steps = self.params.get("steps")
        if steps:
            progress = f"{progress_bar(batch + 1, steps, self.width)} {batch + 1}/{steps}"
        else:                   # a generator read to its end: how far is not known
            progress = f"{batch + 1}/?"
        # the loss; a model with its own train_step may log none ("d_loss", "g_loss"): all it logs
        shown = {"loss": logs.get("loss", float("nan"))} if "loss" in logs or not logs else logs
        values = " - ".join(f"{k}: {v:.4f}" for k, v in shown.items())
        bar = f"Epoch {self.epoch + 1}/{self.params.get('epochs')} {progress} - {values}"
        self.drawn = len(bar)
        self._write("\r" + bar)

    def end_line(self):
        """End a bar left mid-line (training stopped inside an epoch), so that what is printed
        next starts a line of its own."""
        if getattr(self, "drawn", 0):
            self._write("\n")
            self.drawn = 0

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.start
        values = " - ".join(f"{k}: {v:.4f}" for k, v in (logs or {}).items())
        line = f"Epoch {epoch + 1}/{self.params.get('epochs')} - {seconds:.3f}s - {values}"
        if self.drawn:                       # overwrite the bar, padding out its longer tail
            line = "\r" + line.ljust(self.drawn)
        self._write(line + "\n")


class ProgbarLogger(ProgressBar):
    """fit's progress output as a callback (Keras 3.15's ``keras.callbacks.ProgbarLogger()``, which
    takes no arguments: Keras 2's ``count_mode`` and ``stateful_metrics`` are gone). Its verbosity
    is fit's ``verbose`` (1 or "auto": the bar and a line per epoch, 2: the line, 0: nothing), read
    when fit hands its params. Given in ``callbacks``, it replaces the one fit adds itself, as in
    Keras, so the progress is written once; ``glassnet.callbacks.ProgressBar`` is glassnet's with
    its own ``verbose``, ``stream`` and ``width``.

    >>> model.fit(X, y, epochs=3, callbacks=[ProgbarLogger()])    # doctest: +SKIP
    """

    def __init__(self):
        Callback.__init__(self)
        self.verbose, self.stream, self.width = 1, None, 30

    def set_params(self, params):
        super().set_params(params)
        self.verbose = check_verbose(params.get("verbose", 1))

    # (the bar is drawn only when verbose is 1: ProgressBar.on_train_begin)
    def on_epoch_end(self, epoch, logs=None):
        if self.verbose:        # fit(verbose=0): nothing, as Keras' Progbar(verbose=0)
            super().on_epoch_end(epoch, logs)


class Progbar:
    """A progress bar for a loop of your own (Keras' ``keras.utils.Progbar``), written to
    ``sys.stdout``::

        bar = Progbar(target=len(batches))
        for step, batch in enumerate(batches, 1):
            loss = train_step(batch)
            bar.update(step, values=[("loss", loss)])
        #  10/10 [====================] 2s 180ms/step - loss: 0.4132

    target : int >= 0 or None
        The number of steps; None when not known: the count is then shown as
        ``"     12/Unknown"``, and the bar ends only at ``update(..., finalize=True)``. 0 shows
        the count so too, but every update is then a final one (the default ``finalize`` is
        ``current >= target``), ending its line as Keras' does; with ``verbose=2`` each writes its
        line (Keras' writes none).
    width : positive int
        The bar's length in characters, brackets left out.
    verbose : 0 (nothing), 1 (the bar, redrawn in place on a terminal) or 2 (one line at the end)
    interval : float >= 0
        The least time in seconds between two redraws (more frequent updates are counted, not drawn).
    stateful_metrics : iterable of str, optional
        Names whose values are shown as given (an accuracy computed over the epoch so far); every
        other value is averaged over the steps since the start, each update weighted by the steps
        it covers (a per-batch loss).
    stateless_metrics : iterable of str, optional
        The other way round (Keras'): only these are averaged. Give one of the two at most.
    unit_name : str
        What a step is called in the time per step: ``"step"``, ``"sample"``, ...

    The line: the count, the bar, the time left while running (``"1:05"``; at the end the time
    taken, ``"3s"``), the time per step (the first step left out once there are others: it carries
    start-up costs) and the values, ``name: 0.1234`` (``1.2346e-05`` when within 1e-3 of zero).
    On a terminal (or a Jupyter notebook) the line is redrawn with ``"\\r"``; into a file or a pipe
    only the last line is written (``finalize``), as ``fit``'s bar does. Differences from Keras:
    the bar is ``fit``'s, ``[====....]``, without Keras' colour codes; with ``target=None``,
    ``verbose=2`` writes its line at ``finalize=True`` (Keras' writes nothing then); a negative
    value is written ``-0.5000`` with ``verbose=2`` too (Keras' writes ``-5.0000e-01`` there).
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None,
                 stateless_metrics=None, unit_name="step"):
        self.target = None if target is None else check_non_negative_int(target, "Progbar: target")
        self.width = check_positive_int(width, "Progbar: width")
        self.verbose = check_verbose(verbose)
        self.interval = check_number(interval, "Progbar: interval", ">= 0")
        if not isinstance(unit_name, str):
            raise TypeError(f"Progbar: unit_name: expected a str, got {type(unit_name).__name__}")
        self.unit_name = unit_name
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError("Progbar: give stateful_metrics (the names shown as given, the others "
                             "averaged) or stateless_metrics (the names averaged), not both")
        # exactly one of the two sets is kept; a name is averaged when it is stateless by it
        self.stateful_metrics = self.stateless_metrics = None
        if stateless_metrics is not None:
            self.stateless_metrics = _names(stateless_metrics, "stateless_metrics")
        else:
            self.stateful_metrics = _names(stateful_metrics or (), "stateful_metrics")
        # a notebook's output is no terminal but redraws "\r" as one
        self.in_place = is_terminal(sys.stdout) or "ipykernel" in sys.modules
        self._seen_so_far = 0
        self._values = {}               # name -> [sum of value x steps, steps]; shown in insertion order
        self._start = time.perf_counter()
        self._last_update = -math.inf   # the first update is always drawn
        self._time_after_first_step = None
        self._prev_width = 0            # the last line drawn in place, to blank out its longer tail

    def update(self, current, values=None, finalize=None):
        """Record that ``current`` steps are done (a count from the start, not an increment) and
        redraw the bar.

        current : int or float >= 0
            A float (2.5 steps: a fraction of an epoch) counts as it is, in the bar, the time per
            step and the steps that weigh each value; the count is shown cut to a whole number,
            ``" 2/10"``, as Keras' ``%d`` shows it.

        values : list of (name, value) pairs, optional
            Each value (a number, or an array: its mean) is the last step's; averaged over all steps
            so far (weighted by the ``current - previous`` steps each update covers) unless the name
            is stateful. The final update (``finalize``) shows the values it is given as they are:
            ``fit`` hands it the epoch's averages.
        finalize : bool, optional
            Whether this is the last update (ends the line); default ``current >= target``.
        """
        current = _steps(current, "Progbar.update: current")
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for name, value in _pairs(values):
            averaged = (name not in self.stateful_metrics if self.stateful_metrics is not None
                        else name in self.stateless_metrics)
            if averaged and not finalize:
                # at least one step: an update that repeats the count (a last call after the bar
                # ran past an unknown target) must not weigh its value by zero
                steps = max(current - self._seen_so_far, 1)
                total = self._values.setdefault(name, [0.0, 0])
                total[0] += value * steps
                total[1] += steps
            else:
                self._values[name] = [value, 1]
        self._seen_so_far = current

        now = time.perf_counter()
        time_per_unit = self._step_duration(current, now)
        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            self._draw(self._bar_line(current, now, time_per_unit, finalize), finalize)
        elif self.verbose == 2 and finalize:
            count = f"{int(current)}" if not self.target else f"{int(current):>{len(str(self.target))}d}/{self.target}"
            write(sys.stdout, f"{count} - {now - self._start:.0f}s -{_per_unit(time_per_unit, self.unit_name)}"
                              f"{self._shown_values()}\n")
        self._last_update = now

    def add(self, n, values=None):
        """``update(steps done so far + n, values)``; ``n`` an int or float >= 0, as ``current``."""
        n = _steps(n, "Progbar.add: n")
        self.update(self._seen_so_far + n, values)

    def _bar_line(self, current, now, time_per_unit, finalize):
        """The verbose=1 line: count, bar, time left (or taken), time per step, values."""
        if self.target:
            line = f"{int(current):>{len(str(self.target))}d}/{self.target} {progress_bar(current, self.target, self.width)}"
        else:
            line = f"{int(current):7d}/Unknown"
        if self.target and not finalize:
            line += f" {_eta(time_per_unit * (self.target - current))}"
        else:
            line += f" {now - self._start:.0f}s"
        return line + _per_unit(time_per_unit, self.unit_name) + self._shown_values()

    def _draw(self, line, finalize):
        if self.in_place:
            # "\r" goes back to the line's start; spaces blank what a longer line drawn before left
            write(sys.stdout, "\r" + line.ljust(self._prev_width) + ("\n" if finalize else ""))
            self._prev_width = 0 if finalize else len(line)
        elif finalize:          # a file or a pipe: the last line only
            write(sys.stdout, line + "\n")

    def _shown_values(self):
        return "".join(f" - {name}: {_number(total / max(1, steps))}"
                       for name, (total, steps) in self._values.items())

    def _step_duration(self, current, now):
        """Seconds per step so far: after the first step, measured from its end (the first step
        carries start-up costs: a compilation, a cache filled); 0 before any step."""
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            duration = (now - self._time_after_first_step) / (current - 1)
        else:
            duration = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return duration


def _steps(value, argument):
    """A count of steps as ``Progbar`` takes it, as Keras' does: an int, or a float (2.5 steps);
    refused by name when negative, not finite, a bool or not a number."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not value >= 0 \
            or not math.isfinite(value):
        raise ValueError(f"{argument}: expected a number of steps >= 0 (an int, or a float such as 2.5), "
                         f"got {value!r:.80}")
    # ints stay ints (their count is shown as given); a float, 2.5, is kept as it is
    return int(value) if isinstance(value, (int, np.integer)) else float(value)


def _names(names, argument):
    """An iterable of metric names as a set; TypeError naming ``argument`` otherwise."""
    try:
        listed = list(names)
    except TypeError:
        listed = None
    if isinstance(names, str) or listed is None or not all(isinstance(name, str) for name in listed):
        raise TypeError(f"Progbar: {argument}: expected an iterable of names (str), got {names!r:.80}")
    return set(listed)


def _pairs(values):
    """``values`` as (name, float) pairs, an array value as its mean; TypeError for anything else."""
    pairs = []
    for pair in values or ():
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and isinstance(pair[0], str)):
            raise TypeError(f"Progbar.update: values: expected a list of (name, value) pairs, got {pair!r:.80} "
                            f"among them")
        value = pair[1]
        if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
            array = np.asarray(value)
            if array.dtype.kind not in "iuf" or array.size == 0:
                raise TypeError(f"Progbar.update: values: {pair[0]!r} must be a number or an array of numbers, "
                                f"got {value!r:.80}")
            value = array.mean(dtype=np.float64)
        pairs.append((pair[0], float(value)))
    return pairs


def _number(value):
    """Keras' way: four decimals, or four significant digits within 1e-3 of zero (a small loss
    would read 0.0000)."""
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


def _per_unit(seconds, unit_name):
    """`` 12ms/step``: whole seconds, milliseconds or microseconds."""
    if seconds >= 1 or seconds == 0:
        return f" {seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f" {seconds * 1e3:.0f}ms/{unit_name}"
    return f" {seconds * 1e6:.0f}us/{unit_name}"


def _eta(seconds):
    """Time left: ``1:02:03`` past an hour, ``2:03`` past a minute, else ``12s`` (whole seconds, cut)."""
    if seconds > 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds > 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(seconds)}s"
