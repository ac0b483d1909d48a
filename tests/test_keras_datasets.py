"""Keras' dataset loaders (glassnet.datasets.<name>.load_data) and keras.utils.get_file (glassnet.utils.get_file).

No internet: tiny files in each dataset's exact Keras format are written into a temporary KERAS_HOME,
and Keras 3.15 reads the same files (its hash check patched: the tiny files are not the published
ones). get_file is run against a local http.server on 127.0.0.1.
"""
import gzip
import hashlib
import http.server
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import tarfile
import threading
import zipfile

import numpy as np
import pytest

import glassnet as gn
from glassnet import datasets, file_utils
from glassnet._safe_pickle import load_npz, load_pickle


# ------------------------------------------------------------------ files in Keras' formats
class _Py2Pickler(pickle._Pickler):
    """Pickles bytes as Python 2 ``str`` (BINSTRING), as the CIFAR files were written by cPickle."""
    dispatch = pickle._Pickler.dispatch.copy()

    def _save_str(self, obj):
        n = len(obj)
        self.write((pickle.SHORT_BINSTRING + bytes([n]) if n < 256 else pickle.BINSTRING + struct.pack("<i", n)) + obj)
        self.memoize(obj)
    dispatch[bytes] = _save_str


def _cifar_pickle(d):
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(d)
    return buf.getvalue()


def _tar(path, members):
    """A tar.gz at ``path`` holding ``members`` {name: bytes}."""
    with tarfile.open(path, "w:gz" if len(b"".join(members.values())) < 10 ** 7 else "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def write_cifar10(home, n, rng):
    """CIFAR-10's five training batches and test batch of ``n`` images each; returns the arrays written."""
    d = os.path.join(home, "datasets")
    os.makedirs(d, exist_ok=True)
    members, written = {}, {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, n)]
        written[name] = (data, labels)
        members[f"cifar-10-batches-py/{name}"] = _cifar_pickle(
            {b"batch_label": b"batch", b"labels": labels, b"data": data, b"filenames": [b"f.png"] * n})
    _tar(os.path.join(d, "cifar-10-batches-py-target_archive"), members)
    return written


def write_cifar100(home, rng, n_train=7, n_test=3):
    d = os.path.join(home, "datasets")
    os.makedirs(d, exist_ok=True)
    members, written = {}, {}
    for name, n in (("train", n_train), ("test", n_test)):
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        fine, coarse = [int(v) for v in rng.integers(0, 100, n)], [int(v) for v in rng.integers(0, 20, n)]
        written[name] = (data, fine, coarse)
        members[f"cifar-100-python/{name}"] = _cifar_pickle(
            {b"filenames": [b"x"] * n, b"batch_label": b"b", b"fine_labels": fine, b"coarse_labels": coarse,
             b"data": data})
    _tar(os.path.join(d, "cifar-100-python-target_archive"), members)
    return written


def _ragged(rng, n, vocab=30, longest=9):
    out = np.empty(n, dtype=object)
    for i in range(n):
        out[i] = [int(w) for w in rng.integers(1, vocab, rng.integers(1, longest))]
    return out


def write_imdb(home, rng, n_train=11, n_test=9):
    x_train, x_test = _ragged(rng, n_train), _ragged(rng, n_test)
    y_train, y_test = rng.integers(0, 2, n_train), rng.integers(0, 2, n_test)
    os.makedirs(os.path.join(home, "datasets"), exist_ok=True)
    np.savez(os.path.join(home, "datasets", "imdb.npz"), x_train=x_train, y_train=y_train, x_test=x_test,
             y_test=y_test)
    return x_train, y_train, x_test, y_test


def write_reuters(home, rng, n=23):
    x, y = _ragged(rng, n), rng.integers(0, 46, n)
    os.makedirs(os.path.join(home, "datasets"), exist_ok=True)
    np.savez(os.path.join(home, "datasets", "reuters.npz"), x=x, y=y)
    return x, y


def write_mnist(home, rng):
    arrays = dict(x_train=rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
                  y_train=rng.integers(0, 10, 6).astype(np.uint8),
                  x_test=rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
                  y_test=rng.integers(0, 10, 4).astype(np.uint8))
    os.makedirs(os.path.join(home, "datasets"), exist_ok=True)
    np.savez_compressed(os.path.join(home, "datasets", "mnist.npz"), **arrays)
    return arrays


def write_fashion(home, rng, n_train=5, n_test=3):
    d = os.path.join(home, "datasets", "fashion-mnist")
    os.makedirs(d, exist_ok=True)
    out = {}
    for part, n in (("train", n_train), ("t10k", n_test)):
        x, y = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype(np.uint8)
        with gzip.open(os.path.join(d, f"{part}-labels-idx1-ubyte.gz"), "wb") as f:
            f.write(struct.pack(">ii", 2049, n) + y.tobytes())
        with gzip.open(os.path.join(d, f"{part}-images-idx3-ubyte.gz"), "wb") as f:
            f.write(struct.pack(">iiii", 2051, n, 28, 28) + x.tobytes())
        out[part] = (x, y)
    return out


def write_housing(home, rng, name, n, features, dtype):
    x, y = rng.normal(size=(n, features)).astype(dtype), rng.normal(size=n).astype(dtype)
    os.makedirs(os.path.join(home, "datasets"), exist_ok=True)
    np.savez(os.path.join(home, "datasets", f"{name}.npz"), x=x, y=y)
    return x, y


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh KERAS_HOME; the published hashes are not checked (the tiny files are not the published ones)."""
    h = str(tmp_path / "keras_home")
    os.makedirs(h)
    monkeypatch.setenv("KERAS_HOME", h)
    monkeypatch.setattr(file_utils, "validate_file", lambda *a, **k: True)
    return h


@pytest.fixture
def keras_home(keras, home, monkeypatch):
    """Keras reading the same KERAS_HOME (it reads the variable once, at import), its hash check patched."""
    from keras.src.backend import config
    from keras.src.utils import file_utils as kfu
    monkeypatch.setattr(config, "_KERAS_DIR", home)
    monkeypatch.setattr(kfu, "validate_file", lambda *a, **k: True)
    return keras


def _same(ours, theirs):
    (a, b), (c, d) = ours
    (e, f), (g, h) = theirs
    for mine, keras_ in ((a, e), (b, f), (c, g), (d, h)):
        assert mine.dtype == keras_.dtype and mine.shape == keras_.shape
        if mine.dtype == object:
            assert mine.tolist() == keras_.tolist()
        else:
            np.testing.assert_array_equal(mine, keras_)


# ------------------------------------------------------------------ loaders, without Keras (CI)
def test_mnist_function_kept_and_load_data_reads_keras_file(home):
    arrays = write_mnist(home, np.random.default_rng(0))
    (x, y), (xt, yt) = datasets.mnist.load_data()
    for got, key in ((x, "x_train"), (y, "y_train"), (xt, "x_test"), (yt, "y_test")):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, arrays[key])
    assert callable(datasets.mnist) and datasets.load.__name__ == "load"
    assert set(datasets.KERAS_LOADERS) == {"mnist", "fashion_mnist", "cifar10", "cifar100", "imdb", "reuters",
                                           "boston_housing", "california_housing"}


def test_fashion_mnist_reads_idx(home):
    written = write_fashion(home, np.random.default_rng(1))
    (x, y), (xt, yt) = datasets.fashion_mnist.load_data()
    np.testing.assert_array_equal(x, written["train"][0])
    np.testing.assert_array_equal(yt, written["t10k"][1])
    assert x.shape == (5, 28, 28) and xt.shape == (3, 28, 28) and y.dtype == np.uint8


def test_cifar10_channels_last_and_first(home):
    written = write_cifar10(home, 2, np.random.default_rng(2))
    (x, y), (xt, yt) = datasets.cifar10.load_data()
    train = np.concatenate([written[f"data_batch_{i}"][0] for i in range(1, 6)]).reshape(-1, 3, 32, 32)
    np.testing.assert_array_equal(x, train.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(y[:, 0], sum((written[f"data_batch_{i}"][1] for i in range(1, 6)), []))
    np.testing.assert_array_equal(xt, written["test_batch"][0].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    assert (x.shape, y.shape, xt.shape, yt.shape) == ((10, 32, 32, 3), (10, 1), (2, 32, 32, 3), (2, 1))
    assert x.dtype == y.dtype == xt.dtype == yt.dtype == np.uint8
    previous = gn.config.image_data_format()
    gn.config.set_image_data_format("channels_first")
    try:
        (x2, _), _ = datasets.cifar10.load_data()
    finally:
        gn.config.set_image_data_format(previous)
    np.testing.assert_array_equal(x2, train)


def test_cifar100_label_modes(home):
    written = write_cifar100(home, np.random.default_rng(3))
    (x, y), (xt, yt) = datasets.cifar100.load_data()
    np.testing.assert_array_equal(y[:, 0], written["train"][1])
    (_, yc), (_, ytc) = datasets.cifar100.load_data(label_mode="coarse")
    np.testing.assert_array_equal(ytc[:, 0], written["test"][2])
    assert x.shape == (7, 32, 32, 3) and yc.shape == (7, 1) and y.dtype == np.int64
    with pytest.raises(ValueError, match="label_mode.*'middle'"):
        datasets.cifar100.load_data(label_mode="middle")


def test_imdb_shuffle_and_word_rules_by_hand(home):
    x_train, y_train, x_test, y_test = write_imdb(home, np.random.default_rng(4))
    (x, y), (xt, yt) = datasets.imdb.load_data(num_words=20, skip_top=5)
    rng = np.random.RandomState(113)
    order = np.arange(len(x_train))
    rng.shuffle(order)
    first = [1] + [w + 3 for w in x_train[order[0]]]
    assert x[0] == [w if 5 <= w < 20 else 2 for w in first]
    np.testing.assert_array_equal(y, y_train[order])
    order_t = np.arange(len(x_test))
    rng.shuffle(order_t)                                # the same generator, after the training shuffle
    np.testing.assert_array_equal(yt, y_test[order_t])
    assert x.dtype == object and y.dtype == np.int64


def test_reuters_split_and_labels(home):
    xs, ys = write_reuters(home, np.random.default_rng(5))
    (x, y), (xt, yt) = datasets.reuters.load_data(test_split=0.3, start_char=None, index_from=0, oov_char=None,
                                                   num_words=15)
    order = np.arange(len(xs))
    np.random.RandomState(113).shuffle(order)
    assert len(x) == int(23 * 0.7) and len(x) + len(xt) == 23
    assert x[1] == [w for w in xs[order[1]] if w < 15]
    np.testing.assert_array_equal(np.concatenate([y, yt]), ys[order])
    assert len(datasets.reuters.get_label_names()) == 46 and datasets.reuters.get_label_names()[3] == "earn"


def test_housing_split(home):
    x, y = write_housing(home, np.random.default_rng(6), "boston_housing", 10, 13, np.float64)
    (a, b), (c, d) = datasets.boston_housing.load_data(seed=7)
    order = np.arange(10)
    np.random.RandomState(7).shuffle(order)
    np.testing.assert_array_equal(np.concatenate([a, c]), x[order])
    assert a.shape == (8, 13) and d.shape == (2,) and a.dtype == np.float64
    x, y = write_housing(home, np.random.default_rng(6), "california_housing", 700, 8, np.float32)
    (a, b), (c, d) = datasets.california_housing.load_data(version="small")
    assert a.shape == (480, 8) and c.shape == (120, 8) and a.dtype == np.float32
    assert set(map(tuple, np.concatenate([a, c]))) == set(map(tuple, x[:600]))


def test_word_index_json(home):
    os.makedirs(os.path.join(home, "datasets"))
    with open(os.path.join(home, "datasets", "imdb_word_index.json"), "w") as f:
        json.dump({"the": 1, "film": 19}, f)
    assert datasets.imdb.get_word_index() == {"the": 1, "film": 19}


@pytest.mark.parametrize("call, match", [
    (lambda: datasets.boston_housing.load_data(test_split=1.0), "test_split=1.0"),
    (lambda: datasets.california_housing.load_data(version="medium"), "version.*'medium'"),
    (lambda: datasets.reuters.load_data(seed=-1), "seed.*-1"),
    (lambda: datasets.reuters.load_data(test_split="0.2"), "test_split must be a number.*str"),
    (lambda: datasets.imdb.load_data(nb_words=10), "nb_words"),
])
def test_loader_argument_errors(home, call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


# ------------------------------------------------------------------ parsing never runs code
class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_restricted_unpickler_refuses_code(tmp_path, home):
    marker = tmp_path / "ran"
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(pickle.dumps({"data": _Evil(marker)}, protocol=4))
    with pytest.raises(pickle.UnpicklingError, match="refusing to load (posix|os|nt).system"):
        load_pickle(str(bad))
    # the same payload as an object array inside imdb.npz
    evil = np.empty(1, dtype=object)
    evil[0] = _Evil(marker)
    os.makedirs(os.path.join(home, "datasets"))
    np.savez(os.path.join(home, "datasets", "imdb.npz"), x_train=evil, y_train=np.zeros(1, np.int64), x_test=evil, y_test=np.zeros(1, np.int64))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        datasets.imdb.load_data()
    assert not marker.exists()
    # plain arrays and the object arrays of lists load
    good = tmp_path / "good.npz"
    np.savez(good, a=np.arange(3), b=_ragged(np.random.default_rng(0), 3))
    loaded = load_npz(str(good))
    assert loaded["a"].tolist() == [0, 1, 2] and loaded["b"].dtype == object


def test_import_glassnet_loads_no_network_or_archive_module():
    code = ("import sys, glassnet, glassnet.datasets, glassnet.utils; "
            "print([m for m in ('tarfile', 'zipfile', 'urllib.request', 'http.client') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


# ------------------------------------------------------------------ get_file against a local server
class _Handler(http.server.SimpleHTTPRequestHandler):
    hits = []
    truncate = set()

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).hits.append(self.path)
        name = self.path.lstrip("/")
        if name in self.truncate:               # promise 1000 bytes, send 10, hang up
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"x" * 10)
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    _Handler.hits, _Handler.truncate = [], set()
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a, **k: _Handler(*a, directory=str(root), **k))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/", _Handler.hits
    httpd.shutdown()
    httpd.server_close()


def test_get_file_download_cache_force_and_hashes(server, tmp_path, capsys):
    root, url, hits = server
    (root / "data.bin").write_bytes(b"hello glassnet")
    sha = hashlib.sha256(b"hello glassnet").hexdigest()
    md5 = hashlib.md5(b"hello glassnet").hexdigest()
    cache = str(tmp_path / "cache")
    path = gn.utils.get_file(origin=url + "data.bin", file_hash=sha, cache_dir=cache)
    assert path == os.path.join(cache, "datasets", "data.bin") and open(path, "rb").read() == b"hello glassnet"
    assert gn.utils.get_file("data.bin", url + "data.bin", md5_hash=md5, cache_dir=cache) == path
    assert len(hits) == 1                                       # the cache answered
    gn.utils.get_file("data.bin", url + "data.bin", cache_dir=cache, force_download=True)
    assert len(hits) == 2
    with open(path, "wb") as f:                                 # a stale cached file: downloaded again
        f.write(b"stale")
    gn.utils.get_file("data.bin", url + "data.bin", file_hash=sha, cache_dir=cache)
    assert len(hits) == 3 and open(path, "rb").read() == b"hello glassnet"
    assert os.listdir(os.path.dirname(path)) == ["data.bin"]    # no temporary file left


def test_get_file_hash_mismatch_leaves_nothing(server, tmp_path):
    root, url, _ = server
    (root / "data.bin").write_bytes(b"tampered")
    cache = str(tmp_path / "cache")
    wrong = "0" * 64
    got = hashlib.sha256(b"tampered").hexdigest()
    with pytest.raises(ValueError, match=f"data.bin.*expected sha256 hash {wrong}, got {got}"):
        gn.utils.get_file("data.bin", url + "data.bin", file_hash=wrong, cache_dir=cache)
    assert os.listdir(os.path.join(cache, "datasets")) == []


def test_get_file_interrupted_download_leaves_nothing(server, tmp_path):
    root, url, _ = server
    _Handler.truncate.add("cut.bin")
    cache = str(tmp_path / "cache")
    with pytest.raises(OSError, match="cut.bin"):
        gn.utils.get_file("cut.bin", url + "cut.bin", cache_dir=cache)
    assert os.listdir(os.path.join(cache, "datasets")) == []
    with pytest.raises(OSError, match="404"):
        gn.utils.get_file("missing.bin", url + "missing.bin", cache_dir=cache)
    assert os.listdir(os.path.join(cache, "datasets")) == []


def test_get_file_extracts_tar_and_zip(server, tmp_path):
    root, url, hits = server
    _tar(str(root / "pack.tar.gz"), {"pack/a.txt": b"A", "pack/sub/b.txt": b"B"})
    with zipfile.ZipFile(root / "pack.zip", "w") as zf:
        zf.writestr("z/c.txt", "C")
    cache = str(tmp_path / "cache")
    folder = gn.utils.get_file(origin=url + "pack.tar.gz", extract=True, cache_dir=cache)
    assert folder == os.path.join(cache, "datasets", "pack.tar.gz")          # Keras' names
    assert open(os.path.join(folder, "pack", "sub", "b.txt")).read() == "B"
    folder = gn.utils.get_file("pack.zip", url + "pack.zip", extract=True, cache_dir=cache)
    assert folder == os.path.join(cache, "datasets", "pack_extracted")
    assert open(os.path.join(folder, "z", "c.txt")).read() == "C"
    folder = gn.utils.get_file("packdir", url + "pack.tar.gz", untar=True, cache_dir=cache)
    assert folder == os.path.join(cache, "datasets", "packdir")
    assert os.path.exists(os.path.join(cache, "datasets", "packdir_archive"))
    assert sorted(os.listdir(os.path.join(cache, "datasets"))) == [
        ".pack.tar.gz.extracted", ".pack_extracted.extracted", ".packdir.extracted",     # glassnet's markers
        "pack.tar.gz", "pack.tar.gz_archive", "pack.zip", "pack_extracted", "packdir", "packdir_archive"]


def test_get_file_completes_a_half_extracted_folder_and_keeps_files_of_yours(server, tmp_path):
    # a folder left half extracted (an interrupted Keras) has no marker: extracted again, into it
    root, url, hits = server
    _tar(str(root / "pack.tar.gz"), {"pack/a.txt": b"A", "pack/sub/b.txt": b"B"})
    cache = tmp_path / "cache"
    folder = cache / "datasets" / "pack"
    (folder / "pack").mkdir(parents=True)
    (folder / "pack" / "a.txt").write_bytes(b"half")
    (folder / "mine.txt").write_bytes(b"mine")
    got = gn.utils.get_file("pack", url + "pack.tar.gz", untar=True, cache_dir=str(cache))
    assert got == str(folder)
    assert (folder / "pack" / "a.txt").read_bytes() == b"A" and (folder / "pack" / "sub" / "b.txt").read_bytes() == b"B"
    assert (folder / "mine.txt").read_bytes() == b"mine"            # never deleted: Keras extracts into it too
    assert (cache / "datasets" / ".pack.extracted").exists()
    # glassnet's own extraction, from a new archive, replaces the folder whole
    _tar(str(root / "pack.tar.gz"), {"pack/c.txt": b"C"})
    gn.utils.get_file("pack", url + "pack.tar.gz", untar=True, cache_dir=str(cache), force_download=True)
    assert sorted(os.listdir(folder)) == ["pack"] and os.listdir(folder / "pack") == ["c.txt"]


def test_extracting_into_a_folder_refuses_its_links_to_outside(tmp_path):
    from glassnet import _archives
    archive = str(tmp_path / "p.tar")
    _tar(archive, {"sub/x.txt": b"x"})
    outside = tmp_path / "outside"
    outside.mkdir()
    folder = tmp_path / "folder"
    folder.mkdir()
    os.symlink(outside, folder / "sub")                 # made by someone else, not by an archive
    with pytest.raises(ValueError, match=r"member 'sub' would be written outside .* through a link already there"):
        _archives.extract_archive(archive, str(folder), merge=True)
    assert os.listdir(outside) == []


def _evil_tar(path, kind):
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("ok.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"ok"))
        if kind == "dotdot":
            info = tarfile.TarInfo("../escaped.txt")
        elif kind == "absolute":
            info = tarfile.TarInfo(path + ".abs")
        elif kind == "symlink":
            info = tarfile.TarInfo("link")
            info.type, info.linkname = tarfile.SYMTYPE, "../../.."
        elif kind == "hardlink":
            info = tarfile.TarInfo("hard")
            info.type, info.linkname = tarfile.LNKTYPE, "/etc/passwd"
        else:
            info = tarfile.TarInfo("dev")
            info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
        data = b"evil" if kind in ("dotdot", "absolute") else b""
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "hardlink", "device"])
def test_get_file_refuses_malicious_tar(server, tmp_path, kind):
    root, url, _ = server
    _evil_tar(str(root / "evil.tar"), kind)
    cache = str(tmp_path / "cache")
    with pytest.raises(ValueError, match="refusing archive"):
        gn.utils.get_file("evil", url + "evil.tar", extract=True, cache_dir=cache)
    listing = sorted(os.listdir(os.path.join(cache, "datasets")))
    assert listing == ["evil_archive"]                          # nothing extracted, no temporary folder
    assert not os.path.exists(os.path.join(cache, "escaped.txt"))


def test_get_file_refuses_zip_slip(server, tmp_path):
    root, url, _ = server
    with zipfile.ZipFile(root / "slip.zip", "w") as zf:
        zf.writestr("../../slipped.txt", "x")
    cache = str(tmp_path / "cache")
    with pytest.raises(ValueError, match="slipped.txt"):
        gn.utils.get_file("slip", url + "slip.zip", extract=True, cache_dir=cache)
    assert sorted(os.listdir(os.path.join(cache, "datasets"))) == ["slip_archive"]


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(fname="a.txt"), ValueError, '"origin" argument'),
    (dict(origin=5), TypeError, "origin must be a URL string, got int"),
    (dict(fname="sub/a.txt", origin="http://x/a"), ValueError, "fname must be a file name.*'sub/a.txt'"),
    (dict(origin="http://x/"), ValueError, "fname"),
    (dict(origin="http://x/a", hash_algorithm="sha1"), ValueError, "hash_algorithm.*'sha1'"),
    (dict(origin="http://x/a", archive_format="rar"), ValueError, "archive_format.*'rar'"),
])
def test_get_file_argument_errors(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        gn.utils.get_file(cache_dir=str(tmp_path), **kwargs)


def test_get_file_default_cache_is_keras_home(server, tmp_path, monkeypatch):
    root, url, _ = server
    (root / "k.txt").write_bytes(b"k")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    assert gn.utils.get_file("k.txt", url + "k.txt", cache_subdir="models") == str(tmp_path / "kh" / "models" / "k.txt")


# ------------------------------------------------------------------ against Keras 3.15
def test_get_file_paths_as_keras(keras, server, tmp_path):
    from keras.src.utils.file_utils import get_file as keras_get_file
    root, url, _ = server
    (root / "f.txt").write_bytes(b"f")
    _tar(str(root / "p.tar.gz"), {"p/a.txt": b"A"})
    # Keras falls back to /tmp/.keras for a cache_dir that does not exist yet (glassnet creates it)
    os.makedirs(tmp_path / "ours")
    os.makedirs(tmp_path / "keras")
    for kwargs in (dict(origin=url + "f.txt"), dict(fname="g.txt", origin=url + "f.txt", cache_subdir="other"),
                   dict(origin=url + "p.tar.gz", extract=True), dict(fname="pdir", origin=url + "p.tar.gz",
                                                                        extract=True),
                   dict(fname="p.tgz", origin=url + "p.tar.gz", untar=True)):
        ours = gn.utils.get_file(cache_dir=str(tmp_path / "ours"), **kwargs)
        theirs = keras_get_file(cache_dir=str(tmp_path / "keras"), **kwargs)
        assert os.path.relpath(ours, tmp_path / "ours") == os.path.relpath(theirs, tmp_path / "keras")
        if os.path.isdir(ours):
            assert sorted(os.listdir(ours)) == sorted(os.listdir(theirs))


def test_small_loaders_as_keras(keras_home, home):
    keras, rng = keras_home, np.random.default_rng(10)
    write_mnist(home, rng)
    _same(datasets.mnist.load_data(), keras.datasets.mnist.load_data())
    write_fashion(home, rng)
    _same(datasets.fashion_mnist.load_data(), keras.datasets.fashion_mnist.load_data())
    write_housing(home, rng, "boston_housing", 31, 13, np.float64)
    for kwargs in ({}, dict(test_split=0.35, seed=3), dict(test_split=0)):
        _same(datasets.boston_housing.load_data(**kwargs), keras.datasets.boston_housing.load_data(**kwargs))
    write_housing(home, rng, "california_housing", 650, 8, np.float32)
    for kwargs in ({}, dict(version="small", seed=1)):
        _same(datasets.california_housing.load_data(**kwargs), keras.datasets.california_housing.load_data(**kwargs))
    write_cifar100(home, rng)
    for mode in ("fine", "coarse"):
        _same(datasets.cifar100.load_data(mode), keras.datasets.cifar100.load_data(mode))


def test_cifar10_as_keras(keras_home, home):
    # Keras 3.15 preallocates 50,000 training images: the batches must hold 10,000 each (180 MB of files)
    write_cifar10(home, 10000, np.random.default_rng(11))
    _same(datasets.cifar10.load_data(), keras_home.datasets.cifar10.load_data())


_SEQUENCE_CASES = [
    {}, dict(num_words=12, skip_top=4), dict(maxlen=6, seed=5), dict(start_char=None, index_from=0, oov_char=None,
                                                                     num_words=10),
    dict(start_char=7, oov_char=None, skip_top=9), dict(index_from=0, maxlen=4),
]


def test_imdb_as_keras(keras_home, home):
    write_imdb(home, np.random.default_rng(12))
    for kwargs in _SEQUENCE_CASES:
        _same(datasets.imdb.load_data(**kwargs), keras_home.datasets.imdb.load_data(**kwargs))
    with pytest.raises(ValueError, match="maxlen=1"):
        datasets.imdb.load_data(maxlen=1)
    with open(os.path.join(home, "datasets", "imdb_word_index.json"), "w") as f:
        json.dump({"a": 1, "b": 2}, f)
    assert datasets.imdb.get_word_index() == keras_home.datasets.imdb.get_word_index()


def test_reuters_as_keras(keras_home, home):
    write_reuters(home, np.random.default_rng(13))
    for kwargs in _SEQUENCE_CASES + [dict(test_split=0.5), dict(test_split=0)]:
        _same(datasets.reuters.load_data(**kwargs), keras_home.datasets.reuters.load_data(**kwargs))
    assert datasets.reuters.get_label_names() == keras_home.datasets.reuters.get_label_names()


@pytest.mark.parametrize("name, call", [
    ("mnist", lambda m: m.load_data()), ("fashion_mnist", lambda m: m.load_data()),
    ("cifar10", lambda m: m.load_data()), ("cifar100", lambda m: m.load_data()),
    ("imdb", lambda m: m.load_data()), ("imdb", lambda m: m.get_word_index()),
    ("reuters", lambda m: m.load_data()), ("reuters", lambda m: m.get_word_index()),
    ("boston_housing", lambda m: m.load_data()), ("california_housing", lambda m: m.load_data()),
])
def test_origins_names_and_hashes_as_keras(keras, monkeypatch, tmp_path, name, call):
    """Each loader asks get_file for Keras' file names, origins, hashes, folders and extraction."""
    import importlib
    import inspect
    calls = {}

    def recorder(who):
        def get_file(*args, **kwargs):
            calls.setdefault(who, []).append(inspect.signature(file_utils.get_file).bind(*args, **kwargs).arguments)
            return str(tmp_path / "absent")         # the loader then fails reading it
        return get_file
    for who in ("keras.src.datasets", "glassnet._keras_datasets"):
        module = importlib.import_module(f"{who}.{name}")
        monkeypatch.setattr(module, "get_file", recorder(who))
        with pytest.raises(OSError):
            call(module)
    assert calls["keras.src.datasets"] == calls["glassnet._keras_datasets"]
    assert len(calls["keras.src.datasets"]) == (4 if name == "fashion_mnist" else 1)
