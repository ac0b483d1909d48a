"""Atomic file writes: every file glassnet writes (model files, plots, CSV tables) appears whole or not
at all.

The bytes go to a new temporary file in the target's folder, are flushed to the disk, and the file is
then renamed onto the target (``os.replace``: atomic on POSIX and Windows within one folder). An
exception, a kill or a power cut at any point leaves the previous file (or none) and no temporary
file behind, so a reader never sees half a file.

>>> write_text_atomically("notes.txt", "epoch,loss\\n1,0.5\\n")      # doctest: +SKIP
"""
import contextlib
import os
import secrets


def write_atomically(path, write):
    """Call ``write(f)`` on a new binary file next to ``path``, then rename it onto ``path``.

    Returns ``path`` as a string. ``write`` must not close ``f``.
    """
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")
    # O_EXCL: never clobber another writer's file; 0o666 lets the umask decide, as open() would
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:             # interrupted or failed: leave no temporary file behind
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):   # make the rename itself durable (POSIX; Windows cannot)
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path


def write_text_atomically(path, text, encoding="utf-8"):
    """``write_atomically`` for a whole text (written as is: no newline translation)."""
    data = text.encode(encoding)
    return write_atomically(path, lambda f: f.write(data))
