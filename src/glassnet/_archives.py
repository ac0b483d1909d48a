"""Safe extraction of tar and zip archives for ``get_file``.

Every member is checked before anything is written: a member whose path is absolute, climbs out
with ``..``, is a link whose target resolves outside the folder (following the archive's other links,
as the extracted files will), would be written through links to outside it, or is a device or fifo,
refuses the whole archive with a ValueError naming it. The members are then extracted into a temporary folder
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


def _resolve(path, links, follow_last, depth=0):
    """``path`` (relative, "/"-separated) with the archive's own symbolic links followed, as the
    extracted files will resolve it: a list of components, or None when it climbs above the folder.

    Checking each link's target on its own is not enough: with ``b -> .`` and ``a -> b/..``, the text
    ``b/..`` stays inside but ``a`` resolves to the folder's parent once ``b`` is on the disk.
    """
    if depth > 40:                  # the kernel's own limit on links followed (ELOOP)
        return None
    parts = []
    names = [c for c in path.replace("\\", "/").split("/") if c not in ("", ".")]
    for i, c in enumerate(names):
        if c == "..":
            if not parts:
                return None
            parts.pop()
            continue
        parts.append(c)
        target = links.get("/".join(parts))
        if target is not None and (follow_last or i < len(names) - 1):
            if target.startswith(("/", "\\")) or os.path.isabs(target):
                return None
            parts = _resolve("/".join(parts[:-1] + [target]), links, True, depth + 1)
            if parts is None:
                return None
    return parts


def _check_tar(tar, base, archive):
    members = tar.getmembers()
    # every symbolic link of the archive (a name given twice: any of its targets)
    links = {}
    for m in members:
        if m.issym():
            links.setdefault("/".join(_resolve(m.name, {}, False) or [m.name]), m.linkname)
    for m in members:
        _check_name(m.name, archive)
        if m.isdev() or m.isfifo():
            raise ValueError(f"extract: refusing archive {archive}: member {m.name!r} is a device or fifo")
        if m.issym():
            target = os.path.join(os.path.dirname(os.path.join(base, m.name)), m.linkname)
            parent = os.path.dirname(m.name.replace("\\", "/"))
            if (os.path.isabs(m.linkname) or not _inside(base, target)
                    or _resolve(f"{parent}/{m.linkname}", links, True) is None):
                raise ValueError(f"extract: refusing archive {archive}: link {m.name!r} points outside the "
                                 f"extraction folder, or into a loop of links ({m.linkname!r})")
        elif m.islnk():             # hard links name a member from the archive's root
            _check_name(m.linkname, archive)
            if not _inside(base, m.linkname) or _resolve(m.linkname, links, True) is None:
                raise ValueError(f"extract: refusing archive {archive}: link {m.name!r} points outside the "
                                 f"extraction folder ({m.linkname!r})")
        if not m.issym() and not m.islnk() and not _inside(base, m.name):
            raise ValueError(f"extract: refusing archive {archive}: member {m.name!r} would be written "
                             "outside the extraction folder")
        # a member written through the archive's links (a file named like a link is written into its target)
        if _resolve(m.name, links, not (m.issym() or m.islnk() or m.isdir())) is None:
            raise ValueError(f"extract: refusing archive {archive}: member {m.name!r} would be written "
                             "outside the extraction folder through the archive's links")
    _check_room(sum(m.size for m in members if m.isfile()), base, archive)


def _check_zip(zf, base, archive):
    for info in zf.infolist():
        _check_name(info.filename, archive)
        if not _inside(base, info.filename):
            raise ValueError(f"extract: refusing archive {archive}: member {info.filename!r} would be written "
                             "outside the extraction folder")
    _check_room(sum(info.file_size for info in zf.infolist()), base, archive)


def _check_room(total, base, archive):
    """Refuse an archive whose members declare more bytes than the disk has free, before writing any.

    Why: a small compressed archive can unpack to terabytes (a "bomb") and fill the disk. The sizes
    are those the archive declares, which extraction keeps to: tarfile reads exactly a member's
    declared size, and zipfile stops a member at its declared size (and checks its CRC)."""
    import shutil
    free = shutil.disk_usage(base).free
    if total > free:
        raise ValueError(f"extract: refusing archive {archive}: its members declare {total} bytes, more than "
                         f"the {free} bytes free on the disk of the extraction folder")


def extract_archive(file_path, path, archive_format="auto", merge=False):
    """Extract the tar or zip archive ``file_path`` into the folder ``path``; False when no format matched.

    ``archive_format``: "auto" (tar then zip), "tar" (tar, tar.gz, tar.bz2, tar.xz), "zip", a list of
    those, or None (nothing matches). An unsafe member raises ValueError and nothing is extracted.
    A folder already at ``path`` is replaced whole, or with ``merge`` extracted into: the members
    overwrite their namesakes and every other file there stays.
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
            if merge and os.path.isdir(path) and not os.path.islink(path):
                # the checked members, links kept as links (they point inside, checked above); none
                # may be written through a link the folder already holds to somewhere outside it
                home = os.path.realpath(path)
                for folder, dirs, files in os.walk(work):
                    for name in dirs + files:
                        rel = os.path.relpath(os.path.join(folder, name), work)
                        if not _inside(home, rel):
                            raise ValueError(f"extract: refusing archive {file_path}: member {rel!r} would be "
                                             f"written outside {path} through a link already there")
                shutil.copytree(work, path, symlinks=True, dirs_exist_ok=True)
                return True
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            elif os.path.lexists(path):
                os.remove(path)
            os.rename(work, path)
        finally:
            if os.path.isdir(work):
                shutil.rmtree(work)
        return True
    return False
