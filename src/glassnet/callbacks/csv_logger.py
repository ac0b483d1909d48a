"""CSVLogger: each epoch's logs as a row of a CSV file, as Keras writes them."""
import csv
import io
import os

from .._warnings import warn
from .._atomic import write_text_atomically
from .._validation import check_flag
from .base import Callback, check_path


class CSVLogger(Callback):
    """Write ``epoch`` (from 0, as Keras) and every logged value of each epoch to a CSV file.

    Parameters
    ----------
    filename : str or os.PathLike
    separator : str, default ","
        One character.
    append : bool, default False
        True adds this fit's rows to an existing file (without a second header, in the columns of
        the file's own, "NA" where a value is missing), for a resumed run; False starts the file
        afresh.

    Keras 3's columns and lines: the first epoch's log keys in sorted order, then, if none of them
    is a "val_" value, a "val_" column for each (written "NA" until such values come), e.g.
    ``epoch,accuracy,loss,val_accuracy,val_loss``; a value missing from a later epoch is "NA";
    lines end in "\\r\\n" (the csv module's default, as Keras writes them). The file is created
    (or emptied, without ``append``) when training begins, so a folder that does not exist fails
    then. Unlike Keras, which appends to an open file, the whole file is rewritten atomically after
    each epoch, so it is never seen half-written, even if training is killed mid-write; each
    rewrite flushes to disk (~1 ms), which thousands of sub-millisecond epochs will notice.

    Example
    -------
    >>> model.fit(X, y, epochs=10, callbacks=[CSVLogger("training.csv")])     # doctest: +SKIP
    """

    logs_added = ()

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = check_path(filename, "CSVLogger: filename")
        if not isinstance(separator, str) or len(separator) != 1 or separator in '"\r\n':
            raise ValueError(f"CSVLogger: separator must be one character (not a quote or a line "
                             f"break), got {separator!r}")
        self.separator = separator
        self.append = check_flag(append, "CSVLogger: append")
        self.keys, self._text = None, ""

    def on_train_begin(self, logs=None):
        self.keys, self._text = None, ""
        if self.append and os.path.isfile(self.filename):
            with open(self.filename, encoding="utf-8", newline="") as f:
                self._text = f.read()
            if self._text and not self._text.endswith("\n"):
                self._text += "\r\n"
        write_text_atomically(self.filename, self._text)      # as Keras opens it: fails now, not later

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        rows = []
        if self.keys is None and self._text:
            # a resumed run appends under the file's header: its columns, in its order (a key this
            # fit logs first or not at all, a LearningRateScheduler added since, would shift them)
            header = next(csv.reader(io.StringIO(self._text), delimiter=self.separator), [])
            if header[:1] == ["epoch"]:
                self.keys = header[1:]
                dropped = sorted(set(logs) - set(self.keys))
                if dropped:
                    warn(f"CSVLogger: {self.filename} has no column for {dropped}; their values are "
                         f"not written (append=False starts a new file with them)")
        if self.keys is None:
            self.keys = sorted(logs)
            if not any(key.startswith("val_") for key in self.keys):
                # Keras' rule (for epochs that skip validation): room for the values of a
                # validation, so that a later one, or a resumed run's, fits the header
                self.keys += [f"val_{key}" for key in self.keys]
            if not self._text:              # a new file, or an empty one: it needs a header
                rows.append(["epoch", *self.keys])
        rows.append([epoch, *(logs.get(key, "NA") for key in self.keys)])     # floats at full precision
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=self.separator, lineterminator="\r\n").writerows(rows)
        self._text += buffer.getvalue()
        write_text_atomically(self.filename, self._text)

