"""The progress output of ``fit(verbose=...)``."""
import sys
import time

from .._validation import check_positive_int, check_verbose
from .base import Callback


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
        stream = self.stream or sys.stdout
        stream.write(text)
        stream.flush()

    def on_train_begin(self, logs=None):
        # the bar is redrawn with "\r", which only a terminal understands: into a log file or a
        # pipe, verbose=1 prints the per-epoch lines alone
        isatty = getattr(self.stream or sys.stdout, "isatty", None)
        self.draw_bar = self.verbose == 1 and bool(isatty and isatty())

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
            done = int(self.width * (batch + 1) / steps)
            progress = f"[{'=' * done}{'.' * (self.width - done)}] {batch + 1}/{steps}"
        else:                   # a generator read to its end: how far is not known
            progress = f"{batch + 1}/?"
        bar = (f"Epoch {self.epoch + 1}/{self.params.get('epochs')} {progress} "
               f"- loss: {logs.get('loss', float('nan')):.4f}")
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
