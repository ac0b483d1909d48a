"""Keras' ``keras.utils.get_file``: download a file once into the Keras cache, check its hash, extract it.

The cache is Keras' own (``$KERAS_HOME``, else ``~/.keras``; ``/tmp/.keras`` when that is not
writable), so a file Keras downloaded before is found here offline, and the other way round.
Same arguments, defaults, file names and folders as Keras 3.15; safer in three ways:

* the download goes to a hidden temporary file in the destination folder and is moved into place
  with ``os.replace`` only after the hash checked out: an interrupted or corrupted download never
  leaves a file under the final name;
* an archive whose member would land outside the extraction folder (an absolute path, ``..``,
  a link pointing out, also through the archive's other links, a device or fifo) is refused as a
  whole (Keras skips such members with a warning); the extraction goes to a temporary folder
  renamed into place when complete;
* an archive already extracted is not extracted again unless it was downloaded again (Keras
  extracts on every call).

``urllib``, ``tarfile`` and ``zipfile`` are imported when a function needs them: ``import glassnet``
never loads them.
"""
import os

_CHUNK = 1 << 16


def _keras_home():
    """Keras' cache root: ``$KERAS_HOME``, else ``~/.keras`` (``/tmp/.keras`` without a writable home)."""
    if "KERAS_HOME" in os.environ:
        return os.environ["KERAS_HOME"]
    base = os.path.expanduser("~")
    if not os.access(base, os.W_OK):
        base = "/tmp"
    return os.path.join(base, ".keras")


def _hasher(algorithm, file_hash=None):
    # Keras' resolve_hasher: sha256 when asked, or "auto" with a 64-character hash; md5 otherwise
    import hashlib
    if algorithm == "sha256" or (algorithm == "auto" and file_hash is not None and len(str(file_hash)) == 64):
        return hashlib.sha256()
    return hashlib.md5()


def hash_file(fpath, algorithm="sha256", chunk_size=_CHUNK):
    """The hex digest of the file at ``fpath``: ``algorithm`` "sha256", "md5" or "auto" (sha256).

    >>> open("empty.bin", "wb").close()
    >>> hash_file("empty.bin")[:16]
    'e3b0c44298fc1c14'
    """
    hasher = _hasher(algorithm) if isinstance(algorithm, str) else algorithm
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def validate_file(fpath, file_hash, algorithm="auto", chunk_size=_CHUNK):
    """Whether the file's sha256 or md5 digest (``algorithm``, "auto" by the hash's length) is ``file_hash``."""
    return hash_file(fpath, _hasher(algorithm, file_hash), chunk_size) == str(file_hash)


def _check_args(fname, origin, cache_subdir, hash_algorithm, archive_format):
    if origin is None:
        raise ValueError('get_file: please specify the "origin" argument (URL of the file to download), got None')
    if not isinstance(origin, str):
        raise TypeError(f"get_file: origin must be a URL string, got {type(origin).__name__} {origin!r}")
    if fname is not None and not isinstance(fname, (str, os.PathLike)):
        raise TypeError(f"get_file: fname must be a file name string or None, got {type(fname).__name__} {fname!r}")
    if not isinstance(cache_subdir, (str, os.PathLike)):
        raise TypeError(f"get_file: cache_subdir must be a folder name string, got {type(cache_subdir).__name__} "
                        f"{cache_subdir!r}")
    if hash_algorithm not in ("auto", "sha256", "md5"):
        raise ValueError(f"get_file: hash_algorithm must be one of 'auto', 'sha256', 'md5', got {hash_algorithm!r}")
    formats = [archive_format] if isinstance(archive_format, str) else list(archive_format or [])
    bad = [f for f in formats if f not in ("auto", "tar", "zip")]
    if bad:
        raise ValueError(f"get_file: archive_format must be 'auto', 'tar', 'zip', a list of those or None, "
                         f"got {archive_format!r}")


def _targets(fname, origin, datadir, extract):
    """(download_target, extraction_dir or None): Keras 3.15's names for the archive and its folder."""
    import urllib.parse
    provided = fname
    fname = os.fspath(fname) if fname is not None else None
    if not fname:
        fname = os.path.basename(urllib.parse.urlsplit(origin).path)
        # "." or ".." (an origin ending in "/." or "/..") would name the cache folder or its parent,
        # which extraction replaces as a whole
        if not fname or fname in (".", ".."):
            raise ValueError(f"get_file: cannot parse the file name from origin={origin!r}: "
                             "please specify the `fname` argument")
    elif os.sep in fname or (os.altsep and os.altsep in fname) or fname in (".", ".."):
        raise ValueError("get_file: fname must be a file name, not a path (use cache_dir or cache_subdir for "
                         f"the folder), got fname={fname!r}")
    if not extract:
        return os.path.join(datadir, fname), None
    if provided and "." in fname:
        stem = fname[:fname.find(".")]
        return os.path.join(datadir, fname), os.path.join(datadir, f"{stem}_extracted")
    return os.path.join(datadir, f"{fname}_archive"), os.path.join(datadir, fname)


class _DownloadProgress:
    """Keras' ``DLProgbar``: a ``Progbar`` of the bytes (its target the Content-Length, None when the
    server sends none: a count of bytes, "N/Unknown", never finished, as Keras'), drawn from the
    start (0 bytes) and ended once, at the last byte."""

    def __init__(self, total):
        from .callbacks.progress import Progbar
        self.bar = Progbar(None if total < 0 else total)
        self.finished = False
        self(0)

    def __call__(self, got):
        target = self.bar.target
        if target is None or got < target:
            self.bar.update(got)
        elif not self.finished:
            self.bar.update(target)
            self.finished = True


def _download(origin, target, file_hash, algorithm):
    """Stream ``origin`` into a temporary file beside ``target``; check the hash; then os.replace."""
    import http.client
    import tempfile
    import urllib.error
    import urllib.request
    folder, name = os.path.split(target)
    fd, part = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
    hasher = _hasher(algorithm, file_hash)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(origin) as response:
                    total = int(response.headers.get("Content-Length") or -1)
                    got = 0
                    progress = _DownloadProgress(total)
                    for chunk in iter(lambda: response.read(_CHUNK), b""):
                        out.write(chunk)
                        hasher.update(chunk)
                        got += len(chunk)
                        progress(got)
            except urllib.error.HTTPError as e:
                raise OSError(f"get_file: URL fetch failure on {origin}: {e.code} -- {e.msg}") from e
            except urllib.error.URLError as e:
                raise OSError(f"get_file: URL fetch failure on {origin}: {e.errno} -- {e.reason}") from e
            except http.client.HTTPException as e:     # e.g. IncompleteRead: the server closed early
                raise OSError(f"get_file: download of {origin} failed: {e!r}") from e
            if 0 <= total != got:       # the server closed early: never keep a truncated file
                raise OSError(f"get_file: download of {origin} ended after {got} of {total} bytes")
        if file_hash is not None and hasher.hexdigest() != str(file_hash):
            raise ValueError(f"get_file: incomplete or corrupted download of {origin} for {target}: "
                             f"expected {hasher.name} hash {file_hash}, got {hasher.hexdigest()}")
        os.replace(part, target)
    finally:
        if os.path.exists(part):
            os.remove(part)


def get_file(fname=None, origin=None, untar=False, md5_hash=None, file_hash=None, cache_subdir="datasets",
             hash_algorithm="auto", extract=False, archive_format="auto", cache_dir=None, force_download=False):
    """Download ``origin`` into ``cache_dir/cache_subdir/fname`` unless it is there; return its path.

    Keras 3.15's ``keras.utils.get_file``. ``file_hash`` (sha256 or md5, ``hash_algorithm`` "auto"
    tells them apart by length) is checked on the cached file (a mismatch downloads again) and on
    the download (a mismatch raises ValueError naming the file, the expected and the computed hash).
    ``extract=True`` (``untar=True`` for tar only) extracts a tar (gz, bz2, xz) or zip archive and
    returns the folder: ``fname`` with no "." names the folder and the archive is ``fname + "_archive"``;
    ``fname`` with a "." names the archive and the folder is ``stem + "_extracted"``.

    >>> get_file("x.txt")
    Traceback (most recent call last):
    ValueError: get_file: please specify the "origin" argument (URL of the file to download), got None
    """
    _check_args(fname, origin, cache_subdir, hash_algorithm, archive_format)
    from ._validation import check_flag
    # flags: a non-empty string ("no", "False") would have extracted or downloaded again
    untar, extract, force_download = (check_flag(value, f"get_file: {name}") for name, value in
                                      (("untar", untar), ("extract", extract), ("force_download", force_download)))
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    base = os.path.expanduser(os.fspath(cache_dir) if cache_dir is not None else _keras_home())
    try:
        os.makedirs(base, exist_ok=True)
    except OSError:
        pass
    if not os.access(base, os.W_OK):
        base = os.path.join("/tmp", ".keras")
    datadir = os.path.join(base, os.fspath(cache_subdir))
    os.makedirs(datadir, exist_ok=True)
    target, extraction_dir = _targets(fname, origin, datadir, extract or untar)

    download = force_download or not os.path.exists(target)
    if not download and file_hash is not None and not validate_file(target, file_hash, hash_algorithm):
        print(f"A local file was found, but it seems to be incomplete or outdated because the "
              f"{hash_algorithm} file hash does not match the original value of {file_hash} so we will "
              "re-download the data.")
        download = True
    if download:
        print(f"Downloading data from {origin}")
        _download(origin, target, file_hash, hash_algorithm)
    if extraction_dir is None:
        return target
    # a marker beside the folder says glassnet extracted it whole: a folder without one (half
    # extracted by an interrupted Keras, or made by someone else) is extracted again, into it
    marker = os.path.join(os.path.dirname(extraction_dir), f".{os.path.basename(extraction_dir)}.extracted")
    if download or not os.path.isdir(extraction_dir) or not os.path.exists(marker):
        from ._archives import extract_archive
        archive_format = "tar" if untar else archive_format
        ours = os.path.exists(marker)
        if ours:
            os.remove(marker)       # a new archive: the folder is not its extraction until done
        # a folder of glassnet's own is replaced whole; any other is extracted into, as Keras does,
        # so files of yours beside the archive's members are never deleted
        if extract_archive(target, extraction_dir, archive_format, merge=not ours):
            with open(marker, "w") as f:
                f.write(os.path.basename(target) + "\n")
        else:
            import warnings
            warnings.warn(f"get_file: could not extract {target}: not a {archive_format} archive", stacklevel=2)
    return extraction_dir
