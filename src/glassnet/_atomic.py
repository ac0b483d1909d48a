"""Atomic file writes: every file glassnet writes (model files, plots, CSV tables) appears whole or not
at all.

The bytes go to a new temporary file in the target's folder (``.NAME.<hex>.tmp``, NAME cut to 100
bytes), are flushed to the disk, and the file is then renamed onto the target (``os.replace``:
atomic on POSIX and Windows within one folder). What is guaranteed:

* the target is never half written: a kill or a power cut at any point leaves the previous file
  (or none) or the new one, whole, so a reader never sees half a file;
* an exception (including ``KeyboardInterrupt``) removes the temporary file;
* a process killed outright (``kill -9``) or a power cut during the write can leave the temporary
  file behind: nothing runs to remove it. It is hidden, never read by glassnet, and safe to delete.

As with ``open(path, "wb")``, a file that is replaced keeps its permission bits (a private model
stays private), a write-protected one is refused (PermissionError; root may write it, as with
``open``), and a symbolic link is written through: its target gets the new bytes, the link
stays. A target that exists but is not a regular file (a named pipe, a device such as /dev/null)
is refused (OSError EINVAL): the rename would replace it with a regular file. Errors name the target
path, never the temporary file.

>>> write_text_atomically("notes.txt", "epoch,loss\\n1,0.5\\n")      # doctest: +SKIP
"""
import contextlib
import errno
import os
import secrets
import stat


def write_atomically(path, write, temporary_name=None):
    """Call ``write(f)`` on a new binary file next to ``path``, then rename it onto ``path``.

    Returns ``path`` as a string. ``write`` must not close ``f``. ``temporary_name`` replaces the
    target's name in the temporary file's (``.<temporary_name>.<hex>.tmp``), for readers that pick
    files by part of their name (TensorBoard reads any file whose name holds "tfevents").
    """
    path = os.fspath(path)
    if not isinstance(path, str):       # bytes: the checks below, and the errors, work on text
        raise TypeError(f"path: expected a str or os.PathLike of one, got {type(path).__name__}")
    _check_target(path)
    # a symbolic link: write its target (the rename would otherwise replace the link itself)
    target = os.path.realpath(path) if os.path.islink(path) else os.path.abspath(path)
    directory, name = os.path.split(target)
    _check_folder(path, directory)
    # the name shortened (to 100 bytes of UTF-8): a target name near the file system's limit of 255
    # bytes must not fail on the 18 characters the temporary name adds
    short = (temporary_name or name).encode("utf-8", "surrogateescape")[:100].decode("utf-8", "ignore")
    tmp = os.path.join(directory, f".{short}.{secrets.token_hex(6)}.tmp")
    try:
        # O_EXCL: never clobber another writer's file; 0o666 lets the umask decide, as open() would
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as exc:            # e.g. a read-only folder: the user knows no temporary file
        raise type(exc)(exc.errno, exc.strerror, path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileNotFoundError):      # a file replaced keeps its permissions
            os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(tmp, target)
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


def _check_target(path):
    """The errors ``open(path, "wb")`` would give for ``path`` itself, naming it, before anything is
    written (otherwise they would name the temporary file, or come only after the whole write)."""
    if not path:
        # abspath("") is the current folder: the rename would fail naming the temporary file
        raise FileNotFoundError(errno.ENOENT, "No such file or directory, expected a file name", path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "Is a directory, expected a file name", path)
    try:
        mode = os.stat(path).st_mode            # a link's target, which is what gets the bytes
    except OSError:                             # a missing target: made new
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        # a named pipe, a device (/dev/null), a socket: the rename would put a regular file in its
        # place (as root, /dev/null itself), where open(path, "wb") writes into it
        raise OSError(errno.EINVAL, "Not a regular file: writing it atomically would replace it "
                                    "with one; give the name of a file", path)
    if path.endswith(tuple(sep for sep in (os.sep, os.altsep) if sep)):
        # "out/" names a folder; abspath would drop the separator and write a file called "out"
        raise IsADirectoryError(errno.EISDIR, "Ends with a path separator, expected a file name", path)
    if mode is not None and not os.access(path, os.W_OK):
        # a write-protected file (chmod a-w), which open(path, "wb") refuses (but as root): the
        # rename would replace it, needing only the folder's permission
        raise PermissionError(errno.EACCES, "Permission denied: the file is write-protected", path)


def _check_folder(path, directory):
    """``open``'s error for a missing folder, naming ``path``."""
    if not os.path.isdir(directory):
        raise FileNotFoundError(errno.ENOENT, f"No such folder {os.path.dirname(path)!r} to write into", path)


def write_text_atomically(path, text, encoding="utf-8"):
    """``write_atomically`` for a whole text (written as is: no newline translation)."""
    data = text.encode(encoding)
    return write_atomically(path, lambda f: f.write(data))
