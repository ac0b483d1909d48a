"""Safe extraction of tar and zip archives for ``get_file``.

Every member is checked before anything is written: a member whose path is absolute, climbs out
with ``..``, is a link whose target resolves outside the folder, or is a device or fifo, refuses the
whole archive with a ValueError naming it. The members are then extracted into a temporary folder
beside the destination, which is renamed into place only when complete.
"""
import os
import shutil


def _inside(base, path):
    """Whether ``path`` (relative to ``base``, or absolute) resolves inside the resolved ``base``."""
    full = os.path.realpath(os.path.join(base, path))
    try:
        return os.path.commonpath([full, base]) == base
    except ValueError:              # different drives
        return False


def _check_name(name, archive):
    if os.path.isabs(name) or name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/"):
        raise ValueError(f"extract: refusing archive {archive}: member {name!r} would be written outside "
                         "the extraction folder")


def _check_tar(tar, base, archive):
    for m in tar.getmembers():
        _check_name(m.name, archive)
        if m.isdev() or m.isfifo():
            raise ValueError(f"extract: refusing archive {archive}: member {m.name!r} is a device or fifo")
        if m.issym():
            target = os.path.join(os.path.dirname(os.path.join(base, m.name)), m.linkname)
            if os.path.isabs(m.linkname) or not _inside(base, target):
                raise ValueError(f"extract: refusing archive {archive}: link {m.name!r} points outside the "
                                 f"extraction folder ({m.linkname!r})")
        elif m.islnk():             # hard links name a member from the archive's root
            _check_name(m.linkname, archive)
            if not _inside(base, m.linkname):
                raise ValueError(f"extract: refusing archive {archive}: link {m.name!r} points outside the "
                                 f"extraction folder ({m.linkname!r})")
        elif not _inside(base, m.name):
            raise ValueError(f"extract: refusing archive {archive}: member {m.name!r} would be written "
                             "outside the extraction folder")


def _check_zip(zf, base, archive):
    for info in zf.infolist():
        _check_name(info.filename, archive)
        if not _inside(base, info.filename):
            raise ValueError(f"extract: refusing archive {archive}: member {info.filename!r} would be written "
                             "outside the extraction folder")


def extract_archive(file_path, path, archive_format="auto"):
    """Extract the tar or zip archive ``file_path`` into the folder ``path``; False when no format matched.

    ``archive_format``: "auto" (tar then zip), "tar" (tar, tar.gz, tar.bz2, tar.xz), "zip", a list of
    those, or None (nothing matches). An unsafe member raises ValueError and nothing is extracted.
    """
    import tarfile
    import tempfile
    import zipfile
    if archive_format is None:
        return False
    formats = ["tar", "zip"] if archive_format == "auto" else (
        [archive_format] if isinstance(archive_format, str) else list(archive_format))
    file_path, path = os.fspath(file_path), os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    for kind in formats:
        if kind == "tar" and tarfile.is_tarfile(file_path):
            opener = tarfile.open
        elif kind == "zip" and zipfile.is_zipfile(file_path):
            opener = zipfile.ZipFile
        else:
            continue
        work = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", suffix=".extracting", dir=parent)
        try:
            os.chmod(work, 0o755)           # mkdtemp's 0o700 would make the cache folder private
            base = os.path.realpath(work)
            with opener(file_path) as archive:
                if kind == "tar":
                    _check_tar(archive, base, file_path)
                    # the "data" filter (Python >= 3.11.4) checks again and drops modes it should not keep
                    try:
                        archive.extractall(work, filter="data")
                    except TypeError:
                        archive.extractall(work)
                else:
                    _check_zip(archive, base, file_path)
                    archive.extractall(work)
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.lexists(path):
                os.remove(path)
            os.rename(work, path)
        finally:
            if os.path.isdir(work):
                shutil.rmtree(work)
        return True
    return False
