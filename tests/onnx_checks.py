"""What the ONNX export's tests share: an onnxruntime session of a file, the export checked by
onnx's own checker, and the file's outputs compared with ``predict`` (onnx and onnxruntime are
imported when first used: each test module skips itself first where they are not installed)."""
import numpy as np

TOLERANCES = {"float32": dict(rtol=1e-5, atol=1e-6), "float64": dict(rtol=1e-10, atol=1e-12)}


def session(path):
    """An onnxruntime session of the file at ``path``, on one thread (CI's two cores; also no
    reordered float sums)."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def exported(model, tmp_path, name="model.onnx"):
    """``model.export`` to ``tmp_path / name``, checked by ``onnx.checker`` (full_check):
    ``(path, session)``."""
    import onnx
    path = tmp_path / name
    assert model.export(path, format="onnx") is None
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    return path, session(path)


def check(model, xs, tmp_path, dtype="float32"):
    """The file's outputs equal ``predict``'s for batches of 1 and 7 (``xs``: an array, or a list
    of one per input, of 7 rows); returns the session."""
    _, run = exported(model, tmp_path)
    names = [i.name for i in run.get_inputs()]
    xs = xs if isinstance(xs, list) else [xs]
    for rows in (slice(0, 1), slice(0, 7)):
        got = run.run(None, {name: x[rows] for name, x in zip(names, xs)})
        want = model.predict([x[rows] for x in xs] if len(xs) > 1 else xs[0][rows], verbose=0)
        want = want if isinstance(want, list) else [want]
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.dtype == np.dtype(dtype) and g.shape == w.shape
            np.testing.assert_allclose(g, w, **TOLERANCES[dtype])
    return run


def carried(session, batches, dtype):
    """A file of a stateful model (its states the inputs after the first, the outputs after the
    first) run on each batch of 7 in turn, from zero states, each run's last states fed to the
    next: (each run's first output, the last states)."""
    inputs = session.get_inputs()
    states = [np.zeros((7, *i.shape[1:]), dtype) for i in inputs[1:]]
    results = []
    for batch in batches:
        out, *states = session.run(None, {inputs[0].name: batch, **{i.name: s for i, s in zip(inputs[1:], states)}})
        results.append(out)
    return results, states


def masked_ids(rng, vocabulary=10, steps=6):
    """7 rows of ids (0 the padding): right padding, left padding, holes, no real step, every
    other step, all real, one real step at the end."""
    ids = rng.integers(1, vocabulary, size=(7, steps))
    ids[0, 3:] = 0
    ids[1, :2] = 0
    ids[2, [1, 3]] = 0
    ids[3] = 0
    ids[4, ::2] = 0
    ids[6, :-1] = 0
    return ids


def jitter(model, rng):
    """Every weight moved off its initial value (biases off zero, LSTM's forget ones off one), so
    that a bias or gate put in the wrong place shows."""
    for layer in model.layers:
        for value in layer.params.values():
            value[...] += rng.normal(scale=0.3, size=value.shape).astype(value.dtype)
    return model


def refused(model, tmp_path, words):
    """``model.export`` refused by name (a ValueError holding ``words``), nothing written."""
    import os
    import pytest
    with pytest.raises(ValueError, match="export") as info:
        model.export(tmp_path / "m.onnx", format="onnx")
    assert words in str(info.value)
    assert os.listdir(tmp_path) == []
