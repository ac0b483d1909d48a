"""Review of the Keras dataset loaders, get_file's archive checks and the restricted unpickler."""
import io
import os
import pickle
import subprocess
import sys
import tarfile
import textwrap
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet import _archives, datasets, file_utils

import test_keras_datasets as _kd
from test_keras_datasets import _same, write_imdb, write_reuters

home, keras_home = _kd.home, _kd.keras_home            # the fixtures of tests/test_keras_datasets.py


# ------------------------------------------------------------------ crafted dtypes in pickles
# Pickles of arrays whose dtype lies about holding objects: raw bytes 0x41414141 become an object
# pointer. Run in a child process: the unfixed reader crashes it (SIGSEGV) when the array is read.
_CRAFTED = textwrap.dedent('''
    import io, pickle, struct, sys
    import numpy as np
    from glassnet._safe_pickle import RestrictedUnpickler

    def flags0():
        # dtype.__setstate__ with flags 0: a structured dtype whose object field NumPy thinks holds none
        class D:
            def __reduce__(self):
                return (np.dtype, ("V16", False, True), (3, "|", None, ("a", "b"),
                        {"a": (np.dtype("O"), 0), "b": (np.dtype("<i8"), 8)}, 16, 1, 0))
        class A:
            def __reduce__(self):
                from numpy._core.multiarray import _reconstruct
                return (_reconstruct, (np.ndarray, (0,), b"b"),
                        (1, (2,), D(), False, struct.pack("<qqqq", 0x41414141, 0, 0x42424242, 0)))
        return pickle.dumps(A(), protocol=4)

    def rebuild():
        # a plain V16 dtype, an array of raw bytes built with it, then the same dtype's state set
        # again (flags right this time) to a structured dtype with an object field
        def dt(name, order):
            return (b"cnumpy\\ndtype\\nX" + struct.pack("<I", len(name)) + name + b"\\x89\\x88\\x87R(K\\x03X\\x01\\x00\\x00\\x00"
                    + order + b"NNNJ\\xff\\xff\\xff\\xffJ\\xff\\xff\\xff\\xffK" + bytes([63 if name == b"O8" else 0]) + b"tb")
        ops = b"\\x80\\x04cnumpy\\ndtype\\nX\\x03\\x00\\x00\\x00V16\\x89\\x88\\x87Rq\\x01(K\\x03X\\x01\\x00\\x00\\x00|NNNK\\x10K\\x01K\\x00tb0"
        ops += b"cnumpy._core.multiarray\\n_reconstruct\\ncnumpy\\nndarray\\nK\\x00\\x85C\\x01b\\x87R"
        ops += b"(K\\x01K\\x02\\x85h\\x01\\x89C\\x20" + struct.pack("<qqqq", 0x41414141, 0, 0x42424242, 0) + b"tbq\\x02"
        ops += b"h\\x01(K\\x03X\\x01\\x00\\x00\\x00|N(X\\x01\\x00\\x00\\x00aX\\x01\\x00\\x00\\x00bt}(X\\x01\\x00\\x00\\x00a"
        ops += dt(b"O8", b"|") + b"K\\x00\\x86X\\x01\\x00\\x00\\x00b" + dt(b"i8", b"<") + b"K\\x08\\x86uK\\x10K\\x01K\\x1btb0h\\x02."
        return ops

    data = {"flags0": flags0, "rebuild": rebuild}[sys.argv[1]]()
    try:
        array = RestrictedUnpickler(io.BytesIO(data)).load()
    except pickle.UnpicklingError as e:
        print("REFUSED", e)
        sys.exit(0)
    print("LOADED", flush=True)
    print(array.tolist(), flush=True)       # reads the object field: crashes on a forged pointer
''')


@pytest.mark.parametrize("attack", ["flags0", "rebuild"])
def test_restricted_unpickler_refuses_dtypes_that_forge_object_pointers(tmp_path, attack):
    script = tmp_path / "crafted.py"
    script.write_text(_CRAFTED)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    run = subprocess.run([sys.executable, str(script), attack], capture_output=True, text=True, env=env,
                         timeout=120)
    assert run.returncode == 0 and run.stdout.startswith("REFUSED"), (run.returncode, run.stdout, run.stderr[-2000:])


def test_restricted_unpickler_still_reads_arrays(tmp_path):
    # what the dataset files hold, and a little more: uint8 data, object arrays of lists, nested object
    # arrays, byte orders, Fortran order, strings, datetimes, shared references
    from glassnet._safe_pickle import RestrictedUnpickler
    ragged = np.empty(3, object)
    ragged[:] = [[1, 2], [3], [4, 5, 6]]
    nested = np.empty(2, object)
    nested[0], nested[1] = ragged, np.arange(4, dtype=">i4")
    obj = {b"data": np.arange(12, dtype=np.uint8).reshape(3, 4), b"labels": [1, 2, 3], "o": ragged,
           "n": nested, "t": (ragged, ragged), "f": np.asfortranarray(np.ones((2, 3), "<f4")),
           "d": np.array(["2020-01-01"], "M8[D]"), "s": np.array(["ab", "c"])}
    for protocol in (3, 4):
        data = pickle.dumps(obj, protocol=protocol)
        got = RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
        want = pickle.loads(data, encoding="bytes")
        for key in want:
            mine, theirs = got[key], want[key]
            if isinstance(theirs, np.ndarray):
                assert type(mine) is np.ndarray and mine.dtype == theirs.dtype and mine.shape == theirs.shape
                assert mine.flags.f_contiguous == theirs.flags.f_contiguous
        assert got["o"].tolist() == ragged.tolist() and got["n"][0].tolist() == ragged.tolist()
        assert got["n"][1].dtype == want["n"][1].dtype and got["t"][0] is got["t"][1]
        np.testing.assert_array_equal(got[b"data"], obj[b"data"])
        assert (got["d"] == obj["d"]).all() and got["s"].tolist() == ["ab", "c"]
        # a shared builtin dtype is never changed by a pickle's dtype state
        assert np.dtype("u1").str == "|u1"


class _Py2Pickler(pickle._Pickler):
    """Python 2's cPickle, as the CIFAR batches were written: text and bytes as ``str``, 0/1 for bools."""
    dispatch = pickle._Pickler.dispatch.copy()

    def _save_str(self, obj):
        obj = obj.encode("latin-1") if isinstance(obj, str) else obj
        n = len(obj)
        self.write((pickle.SHORT_BINSTRING + bytes([n]) if n < 256 else pickle.BINSTRING + n.to_bytes(4, "little"))
                   + obj)
        self.memoize(obj)
    dispatch[bytes] = dispatch[str] = _save_str

    def _save_bool(self, obj):
        self.save_long(int(obj))
    dispatch[bool] = _save_bool


def test_restricted_unpickler_reads_python2_cifar_pickles(tmp_path):
    # np.dtype(b"u1", 0, 1) with the byte order b"|": what the published CIFAR batches hold
    from glassnet._safe_pickle import load_pickle
    data = (np.arange(2 * 3072) % 251).astype(np.uint8).reshape(2, 3072)
    path = tmp_path / "data_batch_1"
    with open(path, "wb") as f:
        _Py2Pickler(f, protocol=2).dump({"data": data, "labels": [3, 4], "filenames": ["a.png", "b.png"]})
    got = load_pickle(str(path))
    assert got[b"data"].dtype == np.uint8 and got[b"labels"] == [3, 4] and got[b"filenames"] == [b"a.png", b"b.png"]
    np.testing.assert_array_equal(got[b"data"], data)


# ------------------------------------------------------------------ tar links through links
def _tar_with(path, members):
    with tarfile.open(path, "w") as tar:
        for name, kind, value in members:
            info = tarfile.TarInfo(name)
            if kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, value
                tar.addfile(info)
            else:
                info.size = len(value)
                tar.addfile(info, io.BytesIO(value))


@pytest.mark.parametrize("members", [
    # "b" is the folder itself, so "a" -> "b/.." is its parent, though the text "b/.." stays inside
    [("b", "sym", "."), ("a", "sym", "b/.."), ("a/escaped.txt", "file", b"x")],
    [("d/b", "sym", ".."), ("a", "sym", "d/b/.."), ("a/escaped.txt", "file", b"x")],
], ids=["dot", "deep"])
@pytest.mark.parametrize("data_filter", [True, False], ids=["filter", "no-filter"])
def test_extract_refuses_links_that_escape_through_other_links(tmp_path, monkeypatch, members, data_filter):
    if not data_filter:
        # Python < 3.10.12 / 3.11.4 have no filter="data": only glassnet's own checks stand
        original = tarfile.TarFile.extractall

        def extractall(self, path=".", members=None, *, numeric_owner=False, **kwargs):
            if "filter" in kwargs:
                raise TypeError("extractall() got an unexpected keyword argument 'filter'")
            return original(self, path, members, numeric_owner=numeric_owner, filter="fully_trusted")
        monkeypatch.setattr(tarfile.TarFile, "extractall", extractall)
    work = tmp_path / "cache"
    work.mkdir()
    archive = str(work / "evil.tar")
    _tar_with(archive, members)
    with pytest.raises(ValueError, match="refusing archive .*evil.tar.*link 'a'"):
        _archives.extract_archive(archive, str(work / "out"))
    assert sorted(os.listdir(work)) == ["evil.tar"]
    assert not (tmp_path / "escaped.txt").exists()


def test_extract_keeps_links_to_links_inside(tmp_path):
    archive = str(tmp_path / "ok.tar")
    _tar_with(archive, [("lib/x.so.1.2", "file", b"so"), ("lib/x.so.1", "sym", "x.so.1.2"),
                        ("lib/x.so", "sym", "x.so.1"), ("sub/l", "sym", "../lib/x.so")])
    assert _archives.extract_archive(archive, str(tmp_path / "out"))
    assert (tmp_path / "out" / "sub" / "l").read_bytes() == b"so"


# ------------------------------------------------------------------ get_file
@pytest.mark.parametrize("origin", ["http://127.0.0.1:9/data/.", "http://127.0.0.1:9/data/.."])
def test_get_file_refuses_origin_naming_the_cache_folder(tmp_path, origin):
    # the name "." made the extraction folder the cache folder itself, which extraction replaced
    # (deleting every cached file); ".." its parent
    cache = tmp_path / "cache"
    (cache / "datasets").mkdir(parents=True)
    (cache / "datasets" / "mnist.npz").write_bytes(b"keep")
    with pytest.raises(ValueError, match="cannot parse the file name from origin.*fname"):
        gn.utils.get_file(origin=origin, extract=True, cache_dir=str(cache), force_download=True)
    assert (cache / "datasets" / "mnist.npz").read_bytes() == b"keep"


def test_get_file_untar_warning_names_tar(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    (cache / "datasets").mkdir(parents=True)
    (cache / "datasets" / "notes_archive").write_bytes(b"not an archive")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        file_utils.get_file("notes", "http://127.0.0.1:9/notes", untar=True, cache_dir=str(cache))
    assert any("not a tar archive" in str(w.message) for w in caught), [str(w.message) for w in caught]


# ------------------------------------------------------------------ loaders as Keras
def test_reuters_test_split_one_as_keras(keras_home, home):
    write_reuters(home, np.random.default_rng(13))
    # Keras' reuters checks no test_split: 1 puts every newswire in the test set
    _same(datasets.reuters.load_data(test_split=1), keras_home.datasets.reuters.load_data(test_split=1))
    with pytest.raises(ValueError, match=r"test_split=1.5.*\[0, 1\]"):
        datasets.reuters.load_data(test_split=1.5)


@pytest.mark.parametrize("loader", ["reuters", "imdb"])
def test_maxlen_dropping_everything_says_so(home, loader):
    (write_reuters if loader == "reuters" else write_imdb)(home, np.random.default_rng(13))
    # Keras' reuters fails on max() of nothing ("max() arg is an empty sequence")
    with pytest.raises(ValueError, match="maxlen=1.*increase maxlen"):
        getattr(datasets, loader).load_data(maxlen=1)


@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_extract_refuses_an_archive_larger_than_the_free_disk(tmp_path, monkeypatch, kind):
    # a "bomb": members declaring more bytes than the disk has free are refused before any is written
    import collections
    import shutil
    import zipfile
    archive = str(tmp_path / f"big.{kind}")
    if kind == "tar":
        _tar_with(archive, [("a.bin", "file", b"x" * 3000), ("b.bin", "file", b"y" * 3000)])
    else:
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("a.bin", b"x" * 3000)
            zf.writestr("b.bin", b"y" * 3000)
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10 ** 6, 10 ** 6 - 5000, 5000))
    with pytest.raises(ValueError, match=r"big\.%s.*declare 6000 bytes, more than the 5000 bytes free" % kind):
        _archives.extract_archive(archive, str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10 ** 6, 0, 10 ** 6))
    assert _archives.extract_archive(archive, str(tmp_path / "out"))
    assert (tmp_path / "out" / "b.bin").read_bytes() == b"y" * 3000
