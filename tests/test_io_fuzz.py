"""Fuzzing load_model (issue 6): whatever the bytes, it returns a model or raises ModelFileError,
exactly that type, quickly, and never runs code from the file.

Inputs: arbitrary bytes; every truncation of a real model file; flipped bytes; members rewritten with
valid zip checksums (so the damage reaches the .npy and JSON parsers); members replaced by arrays of
wrong shapes and dtypes, pickled objects whose unpickling would create a marker file, and headers
declaring absurd sizes; and JSON configs with values swapped for random JSON. The number of cases
tried is printed at the end of the module ("io fuzz: ... cases").
"""
import functools
import io
import json
import os
import shutil
import signal
import tempfile
import warnings
import zipfile
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import glassnet as gn
from glassnet import ModelFileError
from glassnet.errors import UnknownObjectError
from glassnet.io import load_model

CASES = {"tried": 0, "loaded": 0, "refused": 0}
WORKDIR = MARKER = None         # set by the module fixture: a scratch folder, and a file nobody may create
_FUZZ = settings(deadline=timedelta(seconds=2), database=None, print_blob=True,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def fuzz(examples):
    return settings(_FUZZ, max_examples=examples)


class Marker:
    """Unpickling it creates MARKER: a loader that unpickles runs code from the file."""

    def __reduce__(self):
        return (open, (MARKER, "w"))


@pytest.fixture(scope="module", autouse=True)
def workdir_and_report(request):
    global WORKDIR, MARKER
    WORKDIR = tempfile.mkdtemp(prefix="glassnet-fuzz-")
    MARKER = os.path.join(WORKDIR, "code-ran")
    yield
    line = (f"io fuzz: {CASES['tried']} cases tried: {CASES['refused']} refused with ModelFileError, "
            f"{CASES['loaded']} loaded (harmless changes); none ran code or raised anything else")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:       # shown in the normal output, not captured
        with capture.global_and_fixture_disabled():
            reporter.write_line("\n" + line)
    else:
        print(line)
    shutil.rmtree(WORKDIR, ignore_errors=True)


@functools.lru_cache(maxsize=None)
def good_file():
    """The bytes of a real model file: dense + dropout + batchnorm, trained with Adam."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 3)), rng.integers(0, 2, 32)
    model = gn.Sequential([gn.layers.Dense(5, activation="relu", input_dim=3), gn.layers.Dropout(0.2),
                           gn.layers.Dense(2, activation="softmax")], seed=1)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    path = os.path.join(WORKDIR, "good.npz")
    model.save(path)
    with open(path, "rb") as f:
        return f.read()


def members():
    with zipfile.ZipFile(io.BytesIO(good_file())) as z:
        return {info.filename: z.read(info) for info in z.infolist()}


def rezip(parts, compression=zipfile.ZIP_STORED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return buffer.getvalue()


def npy(array, allow_pickle=False):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=allow_pickle)
    return buffer.getvalue()


def _timeout(signum, frame):
    raise TimeoutError("load_model took more than 5 s: a hang")


def attempt(data):
    """Load ``data``; anything but a model or a ModelFileError fails the test, a warning included."""
    path = os.path.join(WORKDIR, "case.npz")
    with open(path, "wb") as f:
        f.write(data)
    CASES["tried"] += 1
    alarm = hasattr(signal, "setitimer")
    if alarm:     # deadline reports slowness after the fact; the alarm turns a real hang into a failure
        previous = signal.signal(signal.SIGALRM, _timeout)
        signal.setitimer(signal.ITIMER_REAL, 5)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")      # a warning escaping the loader fails the case too
            model = load_model(path)
    except Exception as exc:      # noqa: BLE001 - the point is to see every type
        assert type(exc) in (ModelFileError, UnknownObjectError), f"{type(exc).__name__}: {exc}"
        CASES["refused"] += 1
    else:
        assert isinstance(model, gn.Sequential)
        CASES["loaded"] += 1
    finally:
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        assert not os.path.exists(MARKER), "load_model ran code from the file"


def test_the_good_file_loads():
    attempt(good_file())
    assert CASES["loaded"] >= 1


@fuzz(120)
@given(st.one_of(st.binary(max_size=3000),
                 st.binary(max_size=3000).map(lambda b: b"PK\x03\x04" + b),
                 st.binary(max_size=3000).map(lambda b: b"PK\x05\x06" + b),
                 st.binary(max_size=200).map(lambda b: b"\x93NUMPY\x01\x00" + b)))
def test_arbitrary_bytes(data):
    attempt(data)


def test_every_truncation():
    data = good_file()
    tail = 400                       # the zip directory sits at the end: try every length there
    for n in [*range(0, len(data) - tail, 7), *range(len(data) - tail, len(data))]:
        attempt(data[:n])


@fuzz(150)
@given(st.data())
def test_flipped_bytes(data):
    raw = bytearray(good_file())
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] ^= data.draw(st.integers(1, 255))
    attempt(bytes(raw))


@fuzz(150)
@given(st.data())
def test_damaged_members_with_valid_checksums(data):
    """Flips, cuts and insertions inside one member, re-zipped so the CRCs pass."""
    parts = members()
    name = data.draw(st.sampled_from(sorted(parts)))
    member = bytearray(parts[name])
    action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
    position = data.draw(st.integers(0, len(member) - 1))
    if action == "flip":
        member[position] ^= data.draw(st.integers(1, 255))
    elif action == "cut":
        del member[position:position + data.draw(st.integers(1, 64))]
    else:
        member[position:position] = data.draw(st.binary(min_size=1, max_size=16))
    parts[name] = bytes(member)
    compression = data.draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
    attempt(rezip(parts, compression))


def _header(shape, descr="<f4"):
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


replacements = st.one_of(
    hnp.arrays(hnp.scalar_dtypes(), hnp.array_shapes(min_dims=0, max_dims=3, max_side=5)).map(npy),
    st.just(None).map(lambda _: npy(np.array([Marker()], dtype=object), allow_pickle=True)),
    st.just(None).map(lambda _: npy(np.array([[Marker(), 1.0]] * 3, dtype=object), allow_pickle=True)),
    st.tuples(st.lists(st.integers(0, 2 ** 62), min_size=0, max_size=4), st.binary(max_size=64),
              st.sampled_from(["<f4", "<f8", "|u1", "<i8", "|O", "<U10", "V8"])).map(
        lambda t: _header(tuple(t[0]), t[2]) + t[1]),
    st.binary(max_size=300),
)


@fuzz(150)
@given(st.data())
def test_replaced_and_added_members(data):
    """Wrong shapes and dtypes, pickled payloads, absurd declared shapes, junk; by name or added."""
    parts = members()
    names = sorted(parts) + ["weights/999.npy", "optimizer/000.npy", "extra.npy", "../escape.npy"]
    parts[data.draw(st.sampled_from(names))] = data.draw(replacements)
    attempt(rezip(parts))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats() | st.text(max_size=20)
    | st.sampled_from(["Dense", "os.system", "__import__", "PCG64", "adam", "float64", "relu"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)


def _paths(tree, prefix=()):
    yield prefix
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else ()
    for key, value in items:
        yield from _paths(value, (*prefix, key))


@fuzz(150)
@given(st.data())
def test_config_values_replaced_by_random_json(data):
    parts = members()
    meta = json.loads(np.lib.format.read_array(io.BytesIO(parts["config.npy"])).tobytes())
    for _ in range(data.draw(st.integers(1, 2))):
        path = data.draw(st.sampled_from(list(_paths(meta))))
        value = data.draw(json_values)
        if not path:
            meta = value
            continue
        node = meta
        for key in path[:-1]:
            node = node[key]
        if data.draw(st.booleans()) and isinstance(node, dict):
            node.pop(path[-1], None)            # or delete the key altogether
        else:
            node[path[-1]] = value
    parts["config.npy"] = npy(np.frombuffer(json.dumps(meta).encode(), np.uint8))
    attempt(rezip(parts))


@fuzz(80)
@given(st.data())
def test_absurd_sizes_in_zip_headers(data):
    """Sizes and offsets in the central directory and the local headers set to random 32-bit values."""
    raw = bytearray(good_file())
    starts = [i for i in range(len(raw) - 4) if raw[i:i + 4] in (b"PK\x01\x02", b"PK\x03\x04")]
    start = data.draw(st.sampled_from(starts))
    central = raw[start:start + 4] == b"PK\x01\x02"
    fields = [20, 24, 28, 30, 42] if central else [18, 22, 26, 28]   # sizes, name/extra lengths, offset
    field = data.draw(st.sampled_from(fields))
    width = 2 if field in (28, 30) or (not central and field == 26) else 4
    value = data.draw(st.sampled_from([0, 1, 2 ** (8 * width) - 1, 2 ** (8 * width) - 2])
                      | st.integers(0, 2 ** (8 * width) - 1))
    raw[start + field:start + field + width] = value.to_bytes(width, "little")
    attempt(bytes(raw))


def test_a_deflate_bomb_is_refused_without_inflating_it():
    parts = members()
    parts["weights/000.npy"] = _header((2 ** 22,)) + b"\0" * 2 ** 24      # 16 MiB of zeros, ~16 KiB zipped
    data = rezip(parts, zipfile.ZIP_DEFLATED)
    assert len(data) < 2 ** 20
    attempt(data)
    assert CASES["refused"] >= 1


# -- the newer keys: a RandomDraw node's config (its seed state) and a "subclass" entry -------------
@gn.saving.register_serializable(package="IoFuzz")
class Drawn(gn.Model):
    """A registered call subclass (its constructor's arguments in the file) drawing noise, dropout and
    a truncated normal through glassnet.random's nodes (RandomDraw), one with a SeedGenerator."""

    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.hidden = gn.layers.Dense(units, activation="tanh")
        self.out = gn.layers.Dense(2)
        self.generator = gn.random.SeedGenerator(5)

    def call(self, x):
        h = gn.random.dropout(self.hidden(x), 0.3, noise_shape=(None, 1), seed=2)
        z = self.out(h)
        noise = gn.random.normal((gn.ops.shape(z)[0], 2), seed=self.generator)
        return z + noise + gn.random.truncated_normal((gn.ops.shape(z)[0], 2), seed=7)


@functools.lru_cache(maxsize=None)
def drawn_file():
    model = Drawn(seed=0)
    model.build((None, 3))
    model.predict(np.zeros((2, 3), np.float32), verbose=0)       # the generator's state moved on
    path = os.path.join(WORKDIR, "drawn.npz")
    model.save(path)
    with open(path, "rb") as f:
        return f.read()


def attempt_and_predict(data):
    """``attempt``'s checks, and a prediction of what loads (a RandomDraw's config acts when it draws),
    both within the alarm; the warning of a subclass entry naming a class nobody registered is the
    loader's documented answer, not a failure."""
    path = os.path.join(WORKDIR, "case.npz")
    with open(path, "wb") as f:
        f.write(data)
    CASES["tried"] += 1
    previous = signal.signal(signal.SIGALRM, _timeout)
    signal.setitimer(signal.ITIMER_REAL, 5)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            warnings.filterwarnings("ignore", message=".*a model file holds no code")
            warnings.filterwarnings("ignore", message=".*holds no constructor's arguments")
            model = load_model(path)
            model.predict(np.ones((2, 3), np.float32), verbose=0)
    except Exception as exc:      # noqa: BLE001 - the point is to see every type
        assert type(exc) in (ModelFileError, UnknownObjectError), f"{type(exc).__name__}: {exc}"
        CASES["refused"] += 1
    else:
        CASES["loaded"] += 1
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        assert not os.path.exists(MARKER), "load_model ran code from the file"


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="the alarm turns a hang into a failure (POSIX)")
@fuzz(80)
@given(st.data())
def test_random_draw_and_subclass_entries_replaced_by_random_json(data):
    """Values in the RandomDraw nodes' configs (distribution, shape, arguments, draw_seed and its state)
    and in the "subclass" entry (names, module, constructor's arguments) swapped for random JSON: a
    model that predicts, or ModelFileError, never a hang (truncated_normal's NaN bounds), a huge
    allocation (noise_shape, units) or NumPy's own error at predict."""
    with zipfile.ZipFile(io.BytesIO(drawn_file())) as z:
        parts = {info.filename: z.read(info) for info in z.infolist()}
    meta = json.loads(np.lib.format.read_array(io.BytesIO(parts["config.npy"])).tobytes())
    model = meta["model"]
    roots = [("subclass",)] + [("layers", i, "config") for i, spec in enumerate(model["layers"])
                               if spec["class_name"] == "RandomDraw"]
    for _ in range(data.draw(st.integers(1, 2))):
        root = data.draw(st.sampled_from(roots))
        node = model
        for key in root:
            node = node[key]
        path = data.draw(st.sampled_from([p for p in _paths(node) if p]))
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = data.draw(json_values | st.sampled_from(
            [float("nan"), float("inf"), -1, 10 ** 9, [None, 10 ** 9], {"seed": 1, "state": [1.5, 2]},
             {"mean": float("nan"), "stddev": 1.0}, {"rate": 2.0, "noise_shape": None}, "Drawn", "Dense"]))
    parts["config.npy"] = npy(np.frombuffer(json.dumps(meta).encode(), np.uint8))
    attempt_and_predict(rezip(parts))
