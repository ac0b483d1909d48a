"""write_atomically: a file appears whole or not at all; an exception leaves no temporary file behind."""
import os

import pytest

from glassnet._atomic import write_atomically, write_text_atomically


def _names(folder):
    return sorted(os.listdir(folder))


def test_writes_the_bytes_and_returns_the_path(tmp_path):
    target = tmp_path / "a.bin"
    assert write_atomically(target, lambda f: f.write(b"\x00\x01abc")) == str(target)
    assert target.read_bytes() == b"\x00\x01abc" and _names(tmp_path) == ["a.bin"]


def test_replaces_an_existing_file_whole(tmp_path):
    target = tmp_path / "t.csv"
    target.write_text("old,longer,content\n" * 50)
    write_text_atomically(target, "epoch,loss\n1,0.5\n")
    assert target.read_text() == "epoch,loss\n1,0.5\n" and _names(tmp_path) == ["t.csv"]


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_a_failure_halfway_keeps_the_old_file_and_removes_the_temporary(tmp_path, error):
    target = tmp_path / "model.npz"
    target.write_bytes(b"old")

    def half_then_fail(f):
        f.write(b"half a file")
        raise error

    with pytest.raises(type(error)):
        write_atomically(target, half_then_fail)
    assert target.read_bytes() == b"old" and _names(tmp_path) == ["model.npz"]


def test_a_failure_leaves_no_file_where_there_was_none(tmp_path):
    with pytest.raises(ZeroDivisionError):
        write_atomically(tmp_path / "new.bin", lambda f: (f.write(b"x"), 1 / 0))
    assert _names(tmp_path) == []


def test_text_is_written_as_is_without_newline_translation(tmp_path):
    target = tmp_path / "t.txt"
    write_text_atomically(target, "a\nb\r\nc")
    assert target.read_bytes() == b"a\nb\r\nc"


def test_a_missing_folder_is_named_not_the_temporary_file(tmp_path):
    target = tmp_path / "nodir" / "x.npz"
    with pytest.raises(FileNotFoundError) as info:
        write_atomically(target, lambda f: f.write(b"x"))
    assert info.value.filename == str(target) and ".tmp" not in str(info.value)
    assert "nodir" in str(info.value) and _names(tmp_path) == []


def test_a_folder_as_target_is_refused_before_writing(tmp_path):
    target = tmp_path / "adir"
    target.mkdir()
    written = []
    with pytest.raises(IsADirectoryError) as info:
        write_atomically(target, written.append)
    assert info.value.filename == str(target) and ".tmp" not in str(info.value)
    assert written == [] and _names(tmp_path) == ["adir"] and _names(target) == []


def test_an_unwritable_folder_is_named_not_the_temporary_file(tmp_path, monkeypatch):
    # as a read-only folder would (simulated: root may write anywhere)
    real_open = os.open

    def refuse_temporaries(name, *args):
        if str(name).endswith(".tmp"):
            raise PermissionError(13, "Permission denied", name)
        return real_open(name, *args)

    monkeypatch.setattr(os, "open", refuse_temporaries)
    with pytest.raises(PermissionError) as info:
        write_atomically(tmp_path / "x.npz", lambda f: f.write(b"x"))
    assert info.value.filename == str(tmp_path / "x.npz") and ".tmp" not in str(info.value)


@pytest.mark.parametrize("exists", [False, True])
def test_a_path_ending_in_a_separator_is_refused_naming_it(tmp_path, exists):
    # abspath drops the trailing "/": the rename failed and the error named the temporary file
    if exists:
        (tmp_path / "out").mkdir()
    target = str(tmp_path / "out") + os.sep
    with pytest.raises(IsADirectoryError) as info:
        write_atomically(target, lambda f: f.write(b"x"))
    assert info.value.filename == target and ".tmp" not in str(info.value)
    assert _names(tmp_path) == (["out"] if exists else [])


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_a_replaced_file_keeps_its_permissions(tmp_path):
    target = tmp_path / "private.npz"
    target.write_bytes(b"old")
    os.chmod(target, 0o600)
    write_atomically(target, lambda f: f.write(b"new"))
    assert target.read_bytes() == b"new" and (os.stat(target).st_mode & 0o777) == 0o600


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name != "posix", reason="symbolic links")
def test_a_symbolic_link_is_written_through(tmp_path):
    (tmp_path / "models").mkdir()
    real = tmp_path / "models" / "v1.npz"
    real.write_bytes(b"old")
    link = tmp_path / "latest.npz"
    link.symlink_to(real)
    write_atomically(link, lambda f: f.write(b"new"))
    assert link.is_symlink() and real.read_bytes() == b"new"
    assert _names(tmp_path) == ["latest.npz", "models"] and _names(tmp_path / "models") == ["v1.npz"]
