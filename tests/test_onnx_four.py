"""``model.export(path, format="onnx")`` for what session 47 added: ``Bidirectional`` with a
``backward_layer`` of its own, stateful readers inside ``Bidirectional`` and inside a
``TimeDistributed`` (a wrapped model, or the reader itself), and the linear algebra of matrices
of any size (a Loop instead of the unrolled elimination). Each file is read by onnx's checker
(full_check) and run by onnxruntime: equal to glassnet's ``predict`` within 1e-5 relative
(float32) and 1e-10 (float64); where Keras 3.15 has the same model, against Keras' ``predict``
too (given glassnet's weights)."""
import numpy as np
import pytest

import glassnet as gn

L = gn.layers
onnx = pytest.importorskip("onnx", reason="onnx (test oracle) not installed")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime (test oracle) not installed")
from onnx_checks import TOLERANCES, carried as _carried, check as _check, exported as _exported, \
    jitter as _jitter, masked_ids as _ids, refused as _refused  # noqa: E402

STEPS = 6


def _against_keras(model, theirs, data, tmp_path, rtol=1e-5, atol=1e-5):
    """The file of ``model`` run on ``data`` (an array, or a list of one per input) equals Keras'
    ``theirs.predict`` of it, every output."""
    data = data if isinstance(data, list) else [data]
    _, session = _exported(model, tmp_path)
    got = session.run(None, {i.name: x for i, x in zip(session.get_inputs(), data)})
    want = theirs.predict(data if len(data) > 1 else data[0], verbose=0)
    want = want if isinstance(want, list) else [want]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, np.asarray(w), rtol=rtol, atol=atol)


# -- Bidirectional(backward_layer=...) ------------------------------------------------------------
def _pair(k, kind, forwards_first, sequences):
    """Keras' arguments of a Bidirectional whose backward reader has other settings: another
    activation, no bias where the forward one has one (and the reverse), reading the other way."""
    make = getattr(k.layers, kind)
    return dict(layer=make(4, return_sequences=sequences, go_backwards=not forwards_first),
                backward_layer=make(4, activation="relu", use_bias=forwards_first, return_sequences=sequences,
                                    go_backwards=forwards_first))


def _backward_model(k, kind, forwards_first, sequences, masked, merge="concat", dtype=None, Input=None, Model=None):
    Input, Model = Input or gn.Input, Model or gn.Model
    wrapper = k.layers.Bidirectional(**_pair(k, kind, forwards_first, sequences), merge_mode=merge)
    if masked:
        ids = Input((STEPS,), dtype="int32")
        return Model(ids, wrapper(k.layers.Embedding(10, 3, mask_zero=True)(ids)), **({"dtype": dtype} if dtype else {}))
    x = Input((STEPS, 3))
    return Model(x, wrapper(x), **({"dtype": dtype} if dtype else {}))


def _sequences(rng, masked, dtype="float32"):
    return _ids(rng) if masked else rng.normal(size=(7, STEPS, 3)).astype(dtype)


BACKWARD = [(kind, forwards_first, sequences) for kind in ("LSTM", "GRU", "SimpleRNN")
            for forwards_first in (True, False) for sequences in (False, True)]


@pytest.mark.parametrize("masked", [False, True], ids=["plain", "masked"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind, forwards_first, sequences", BACKWARD)
def test_backward_layer_of_its_own(kind, forwards_first, sequences, dtype, masked, rng, tmp_path):
    """Float32 without a mask, the forward reader reading forwards: ONNX's bidirectional node
    with each direction's activations; otherwise two Scans (the wrapped reader from the end and
    the backward one from the start, as Keras lets them)."""
    model = _jitter(_backward_model(gn, kind, forwards_first, sequences, masked, dtype=dtype), rng)
    assert model.layers[-1].own_backward_layer
    _check(model, _sequences(rng, masked, dtype), tmp_path, dtype)


@pytest.mark.parametrize("merge", ["sum", "mul", "ave"])
def test_backward_layer_of_its_own_merges(merge, rng, tmp_path):
    model = _jitter(_backward_model(gn, "GRU", True, True, False, merge=merge), rng)
    _check(model, _sequences(rng, False), tmp_path)


@pytest.mark.parametrize("masked", [False, True], ids=["plain", "masked"])
@pytest.mark.parametrize("kind, forwards_first, sequences", [case for case in BACKWARD if case[0] != "SimpleRNN"])
def test_backward_layer_of_its_own_against_keras(kind, forwards_first, sequences, masked, keras, rng, tmp_path):
    model = _jitter(_backward_model(gn, kind, forwards_first, sequences, masked), rng)
    theirs = _backward_model(keras, kind, forwards_first, sequences, masked, Input=keras.Input, Model=keras.Model)
    theirs.set_weights(model.get_weights())
    _against_keras(model, theirs, _sequences(rng, masked), tmp_path)


# -- stateful readers inside Bidirectional -------------------------------------------------------
# name -> (the sample shape, the wrapper given the layers module; Keras' too where it has one)
STATEFUL = {
    "lstm_sequences": ((STEPS, 3), lambda k: k.Bidirectional(k.LSTM(4, stateful=True, return_sequences=True))),
    "gru_sum": ((STEPS, 3), lambda k: k.Bidirectional(k.GRU(3, stateful=True), merge_mode="sum")),
    "simple_rnn_backward_layer": ((STEPS, 3), lambda k: k.Bidirectional(
        k.SimpleRNN(3, stateful=True, go_backwards=True),
        backward_layer=k.SimpleRNN(3, stateful=True, activation="relu"))),
    "lstm_backward_layer_mul": ((STEPS, 3), lambda k: k.Bidirectional(
        k.LSTM(3, stateful=True, go_backwards=True, return_sequences=True),
        backward_layer=k.LSTM(3, stateful=True, return_sequences=True), merge_mode="mul")),
    "conv_lstm2d": ((4, 5, 5, 2), lambda k: k.Bidirectional(k.ConvLSTM2D(2, 3, padding="same", stateful=True))),
}
MASKED_OR_NOT = [(name, masked) for name in sorted(STATEFUL) for masked in (False, True)
                 if not (masked and name == "conv_lstm2d")]     # (an Embedding makes no frames)


def _stateful_model(k, name, masked, dtype=None, Input=None, Model=None):
    Input, Model = Input or gn.Input, Model or gn.Model
    shape, make = STATEFUL[name]
    options = {"dtype": dtype} if dtype else {}
    if masked:
        ids = Input((STEPS,), dtype="int32", batch_size=7)
        return Model(ids, make(k)(k.Embedding(10, shape[-1], mask_zero=True)(ids)), **options)
    x = Input(shape, batch_size=7)
    return Model(x, make(k)(x), **options)


def _batches(rng, shape, masked, dtype):
    """Three batches of 7, the states carried from each to the next (masked: rows with no real
    step after real ones, so that a carried state meets a masked start)."""
    if masked:
        return [_ids(rng), _ids(rng)[::-1].copy(), _ids(rng)]
    return [rng.normal(size=(7, *shape)).astype(dtype) for _ in range(3)]


def _against_predict(model, session, batches, dtype, readers, folded=None):
    """The carried runs equal ``predict``'s batches in turn, and the last states the ``readers``'
    (``folded``: inside a TimeDistributed, the states' rows are (sample, step) pairs)."""
    got, states = _carried(session, batches, dtype)
    model.reset_states()
    for g, batch in zip(got, batches):
        np.testing.assert_allclose(g, model.predict(batch, batch_size=7, verbose=0), **TOLERANCES[dtype])
    kept = [s for reader in readers for s in reader.states]
    assert len(states) == len(kept)
    for g, w in zip(states, kept):
        np.testing.assert_allclose(g, w.reshape(g.shape) if folded else w, **TOLERANCES[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, masked", MASKED_OR_NOT)
def test_stateful_inside_bidirectional(name, dtype, masked, rng, tmp_path):
    """The wrapper's states in and out of the file, ``<wrapper>/state_<k>``: the forward reader's,
    then the backward reader's (return_state's order)."""
    model = _jitter(_stateful_model(L, name, masked, dtype), rng)
    wrapper = model.layers[-1]
    _, session = _exported(model, tmp_path)
    count = wrapper.state_count
    assert [i.name for i in session.get_inputs()[1:]] == [f"{wrapper.name}/state_{k}" for k in range(count)]
    assert [o.name for o in session.get_outputs()[1:]] == [f"{wrapper.name}/state_{k}_last" for k in range(count)]
    _against_predict(model, session, _batches(rng, STATEFUL[name][0], masked, dtype), dtype,
                     [wrapper.forward_layer, wrapper.backward_layer])


@pytest.mark.parametrize("name, masked", [case for case in MASKED_OR_NOT if case[0] != "conv_lstm2d"])
def test_stateful_inside_bidirectional_against_keras(name, masked, keras, rng, tmp_path):
    """Keras 3.15's stateful Bidirectional (batch_size=7) given glassnet's weights, predicting the
    batches in turn (its states carried, as the file's are by hand)."""
    model = _jitter(_stateful_model(L, name, masked), rng)
    theirs = _stateful_model(keras.layers, name, masked, Input=keras.Input, Model=keras.Model)
    theirs.set_weights(model.get_weights())
    batches = _batches(rng, STATEFUL[name][0], masked, "float32")
    _, session = _exported(model, tmp_path)
    got, _ = _carried(session, batches, "float32")
    for g, batch in zip(got, batches):
        np.testing.assert_allclose(g, np.asarray(theirs.predict(batch, batch_size=7, verbose=0)), rtol=1e-5, atol=1e-5)


# -- stateful readers inside a TimeDistributed ----------------------------------------------------
def _wrapped_sequential(dtype):
    inner = gn.Sequential([gn.Input((4, 3)), L.LSTM(3, stateful=True, return_sequences=True), L.Dense(2)], dtype=dtype)
    return L.TimeDistributed(inner), lambda: [inner.layers[0]]


def _wrapped_functional(dtype):
    """A masked stateful Bidirectional in a functional model (Masking(0.0): some steps zeros)."""
    x = gn.Input((4, 3))
    both = L.Bidirectional(L.GRU(2, stateful=True))
    inner = gn.Model(x, L.Dense(2)(both(L.Masking(0.0)(x))), dtype=dtype)
    return L.TimeDistributed(inner), lambda: [both.forward_layer, both.backward_layer]


def _wrapped_reader(dtype):
    reader = L.GRU(2, stateful=True, go_backwards=True)
    return L.TimeDistributed(reader), lambda: [reader]


def _nested(dtype):
    """A TimeDistributed reader in a model a TimeDistributed wraps: the rows of both folds."""
    reader = L.SimpleRNN(2, stateful=True)
    middle = gn.Sequential([gn.Input((2, 4, 3)), L.TimeDistributed(reader)], dtype=dtype)
    return L.TimeDistributed(middle), lambda: [reader]


WRAPPED = {"sequential": (_wrapped_sequential, (5, 4, 3)), "functional": (_wrapped_functional, (5, 4, 3)),
           "reader": (_wrapped_reader, (5, 4, 3)), "nested": (_nested, (5, 2, 4, 3))}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(WRAPPED))
def test_stateful_inside_time_distributed(name, dtype, rng, tmp_path):
    """glassnet's reader carries one state per (sample, step) row of the folded batch: in the file
    the states are (batch, steps, *state shape), its ``states[k].reshape(batch, steps, ...)``."""
    make, shape = WRAPPED[name]
    wrapper, readers = make(dtype)
    x = gn.Input(shape, batch_size=7)
    model = _jitter(gn.Model(x, wrapper(x), dtype=dtype), rng)
    _, session = _exported(model, tmp_path)
    for i in session.get_inputs()[1:]:
        assert i.shape[:len(shape) - 1] == ["batch", *shape[:-2]]       # the batch, then the wrappers' steps
    batches = _batches(rng, shape, False, dtype)
    for batch in batches:
        batch[rng.random(batch.shape[:-1]) < 0.3] = 0.0     # (masked steps for the Masking(0.0))
    _against_predict(model, session, batches, dtype, readers(), folded=True)


# -- linear algebra of any size: a Loop -----------------------------------------------------------
def _general(rng, lead, n):
    """Well-conditioned matrices that need pivoting: a diagonal of mixed signs beside noise whose
    norm stays under it at any n, the rows shuffled (the largest entry of a column off the diagonal)."""
    m = rng.normal(scale=min(0.5, 1.5 / np.sqrt(n)), size=(*lead, n, n)) + 3 * np.eye(n) * rng.choice([-1, 1], size=(
        *lead, 1, n))
    return np.take_along_axis(m, np.argsort(rng.random((*lead, n, 1)), axis=-2), axis=-2)


def _triangular(rng, lead, n):
    """A matrix whose triangles are both well-conditioned (a positive diagonal over the noise)."""
    return rng.normal(scale=min(0.5, 1.5 / np.sqrt(n)), size=(*lead, n, n)) + 3 * np.eye(n)


def _spd_unread_upper(rng, lead, n):
    """Symmetric positive definite, then values in the upper triangle, which cholesky does not read."""
    m = rng.normal(size=(*lead, n, n))
    return m @ np.swapaxes(m, -1, -2) + n * np.eye(n) + np.triu(rng.normal(scale=5.0, size=(*lead, n, n)), 1)


# name -> (the calls on the layers module's ops, the data given rng, the lead axes and n)
LINALG = {
    "lu": (lambda ops, x: [ops.inv(x[0]), ops.slogdet(x[0])[0], ops.slogdet(x[0])[1], ops.det(x[0])],
           lambda r, lead, n: [_general(r, lead, n)]),
    "cholesky": (lambda ops, x: [ops.cholesky(x[0]), ops.cholesky(x[0], upper=True), ops.logdet(x[0])],
                 lambda r, lead, n: [_spd_unread_upper(r, lead, n)]),
    "solve": (lambda ops, x: [ops.solve(x[0], x[1]), ops.solve_triangular(x[0], x[1], lower=True),
                              ops.solve_triangular(x[0], x[1])],
              lambda r, lead, n: [_triangular(r, lead, n), r.normal(size=(*lead, n, 2))]),
}


def _linalg_model(module, name, n, dtype=None):
    Input = module.Input
    x = [Input((n, n))] + ([Input((n, 2))] if name == "solve" else [])
    return module.Model(x, LINALG[name][0](module.ops, x), **({"dtype": dtype} if dtype else {}))


def _loops(path):
    return sum(node.op_type == "Loop" for node in onnx.load(str(path)).graph.node)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(LINALG))
def test_linalg_of_an_open_size(name, dtype, rng, tmp_path):
    """One file run on 3 x 3, 6 x 6 and 1 x 1 matrices (batches of 1 and 7)."""
    model = _linalg_model(gn, name, None, dtype)
    path, session = _exported(model, tmp_path)
    assert _loops(path) >= 1
    for n in (3, 6, 1):
        data = [x.astype(dtype) for x in LINALG[name][1](rng, (7,), n)]
        for rows in (slice(0, 1), slice(0, 7)):
            got = session.run(None, {i.name: x[rows] for i, x in zip(session.get_inputs(), data)})
            want = model.predict([x[rows] for x in data], verbose=0)
            for g, w in zip(got, want):
                assert g.dtype == np.dtype(dtype) and g.shape == w.shape
                np.testing.assert_allclose(g, w, **TOLERANCES[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(LINALG))
def test_linalg_over_64_rows(name, dtype, rng, tmp_path):
    """70 x 70 matrices: a Loop, the file's size independent of n (the unrolled form's grows as n²)."""
    model = _linalg_model(gn, name, 70, dtype)
    session = _check(model, [x.astype(dtype) for x in LINALG[name][1](rng, (7,), 70)], tmp_path, dtype)
    assert session is not None and _loops(tmp_path / "model.onnx") >= 1
    assert (tmp_path / "model.onnx").stat().st_size < 40_000


@pytest.mark.parametrize("n", [None, 70])
@pytest.mark.parametrize("name", sorted(LINALG))
def test_linalg_of_any_size_against_keras(name, n, keras, rng, tmp_path):
    """Keras 3.15's keras.ops of the same calls drawn on Keras' Inputs (open: run at 5 x 5). A
    float32 70 x 70 ``det`` (~1e33, onnxruntime's Det, a product of 70 rounded pivots) is 1.04e-5
    from TensorFlow's at most: 3e-5 there."""
    data = [x.astype("float32") for x in LINALG[name][1](rng, (7,), n or 5)]
    theirs = _linalg_model(keras, name, n)
    _, session = _exported(_linalg_model(gn, name, n), tmp_path)
    got = session.run(None, {i.name: x for i, x in zip(session.get_inputs(), data)})
    for k, (g, w) in enumerate(zip(got, theirs.predict(data, verbose=0))):
        rtol = 3e-5 if (name, k, n) == ("lu", 3, 70) else 1e-5
        np.testing.assert_allclose(g, np.asarray(w), rtol=rtol, atol=1e-5)


SINGULAR = np.array([[[1.0, 2, 3], [2, 4, 6], [1, 0, 1]],      # two rows in proportion
                     [[0.0, 0, 0], [1, 2, 3], [4, 5, 6]],      # a row of zeros
                     [[0.0, 1, 0], [0, 0, 1], [0, 0, 0]],      # a column of zeros
                     [[2.0, 1, 0], [1, 3, 1], [0, 1, 4]]])     # (not singular)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n", [3, None])
def test_determinants_of_singular_matrices(n, dtype, tmp_path):
    """det 0 and slogdet (0, -inf), as glassnet's (LAPACK's getrf, which skips a zero pivot), in
    the unrolled form and the Loop."""
    x = gn.Input((n, n))
    model = gn.Model(x, [gn.ops.slogdet(x)[0], gn.ops.slogdet(x)[1], gn.ops.det(x)], dtype=dtype)
    _, session = _exported(model, tmp_path)
    got = session.run(None, {session.get_inputs()[0].name: SINGULAR.astype(dtype)})
    assert np.all(got[0][:3] == 0) and np.all(got[1][:3] == -np.inf) and np.all(got[2][:3] == 0)
    for g, w in zip(got, model.predict(SINGULAR.astype(dtype), verbose=0)):
        np.testing.assert_allclose(g, w, **TOLERANCES[dtype])


# -- TimeDistributed over sequences of any length -------------------------------------------------
def _open_dense(k, dtype=None):
    x = k.Input((None, 4))
    return k.Model(x, k.layers.TimeDistributed(k.layers.Dense(3, activation="tanh"))(x),
                   **({"dtype": dtype} if dtype else {}))


def _open_conv(k, dtype=None):
    x = k.Input((None, 6, 6, 2))
    return k.Model(x, k.layers.TimeDistributed(k.layers.Conv2D(3, 3))(x), **({"dtype": dtype} if dtype else {}))


def _open_model(k, dtype=None):
    inner = gn.Sequential([gn.Input((5, 3)), L.LSTM(4), L.Dense(2)], dtype=dtype)
    x = gn.Input((None, 5, 3))
    return gn.Model(x, L.TimeDistributed(inner)(x), dtype=dtype)


def _open_inner_length(k, dtype=None):
    """Both the outer steps and the wrapped model's sequence open."""
    inner = gn.Sequential([gn.Input((None, 3)), L.GRU(4), L.Dense(2)], dtype=dtype)
    x = gn.Input((None, None, 3))
    return gn.Model(x, L.TimeDistributed(inner)(x), dtype=dtype)


OPEN_STEPS = {"dense": (_open_dense, [(5, 4), (9, 4)]), "conv2d": (_open_conv, [(5, 6, 6, 2), (2, 6, 6, 2)]),
              "model": (_open_model, [(4, 5, 3), (1, 5, 3)]),
              "inner_length": (_open_inner_length, [(4, 5, 3), (2, 8, 3)])}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(OPEN_STEPS))
def test_time_distributed_over_any_length(name, dtype, rng, tmp_path):
    """One file run at two lengths (batches of 1 and 7): the folded batch's sizes read with Shape."""
    make, samples = OPEN_STEPS[name]
    model = _jitter(make(gn, dtype), rng)
    _, session = _exported(model, tmp_path)
    for sample in samples:
        x = rng.normal(size=(7, *sample)).astype(dtype)
        for rows in (slice(0, 1), slice(0, 7)):
            (got,) = session.run(None, {session.get_inputs()[0].name: x[rows]})
            # (predict's own batch size: its default is worked out from sizes, which an open
            # length inside the wrapped model leaves unknown)
            np.testing.assert_allclose(got, model.predict(x[rows], batch_size=7, verbose=0), **TOLERANCES[dtype])


@pytest.mark.parametrize("name", ["dense", "conv2d"])
def test_time_distributed_over_any_length_against_keras(name, keras, rng, tmp_path):
    """Keras' model called on each batch (Keras 3.15's ``predict`` of a second length after a first
    returned (7, 7, 3) for a (7, 9, 4) batch here: its traced function kept a size)."""
    make, samples = OPEN_STEPS[name]
    model = _jitter(make(gn), rng)
    theirs = make(keras)
    theirs.set_weights(model.get_weights())
    _, session = _exported(model, tmp_path)
    for sample in samples:
        x = rng.normal(size=(7, *sample)).astype("float32")
        (got,) = session.run(None, {session.get_inputs()[0].name: x})
        np.testing.assert_allclose(got, np.asarray(theirs(x)), rtol=1e-5, atol=1e-5)


def test_stateful_inside_time_distributed_over_any_length_refused(tmp_path):
    x = gn.Input((None, 4, 3), batch_size=2)
    _refused(gn.Model(x, L.TimeDistributed(L.GRU(2, stateful=True))(x)), tmp_path,
            "a stateful layer inside a TimeDistributed over a sequence of any length is not exported")


# -- layers of the data: identities at inference, normalizations ---------------------------------
AUGMENTATION = [lambda k: k.layers.RandomFlip(), lambda k: k.layers.RandomRotation(0.2),
                lambda k: k.layers.RandomZoom(0.2), lambda k: k.layers.RandomTranslation(0.1, 0.1),
                lambda k: k.layers.RandomContrast(0.3), lambda k: k.layers.RandomBrightness(0.2),
                lambda k: k.layers.RandomHue(0.2), lambda k: k.layers.RandomSaturation(0.2),
                lambda k: k.layers.RandomGrayscale(), lambda k: k.layers.RandomColorDegeneration(0.2),
                lambda k: k.layers.RandomColorJitter(brightness_factor=0.2),
                lambda k: k.layers.RandomSharpness(0.2), lambda k: k.layers.RandomShear(0.2),
                lambda k: k.layers.RandomPerspective(), lambda k: k.layers.RandomElasticTransform(),
                lambda k: k.layers.RandomErasing(), lambda k: k.layers.RandomGaussianBlur(),
                lambda k: k.layers.RandomInvert(), lambda k: k.layers.RandomPosterization(4),
                lambda k: k.layers.Solarization(), lambda k: k.layers.RandAugment(), lambda k: k.layers.AugMix(),
                lambda k: k.layers.CutMix(), lambda k: k.layers.MixUp(), lambda k: k.layers.Identity()]


def _augmented(k, dtype=None):
    """A keras.io image classifier's head: every augmentation layer (identities at inference),
    Rescaling, a convolution and StochasticDepth (glassnet's; Keras 3.15 has none)."""
    x = k.Input((8, 8, 3))
    y = x
    for make in AUGMENTATION:
        y = make(k)(y)
    y = k.layers.Conv2D(4, 3)(k.layers.Rescaling(1 / 255)(y))
    if k is gn:
        y = L.StochasticDepth(0.3)(y)
    return k.Model(x, k.layers.GlobalAveragePooling2D()(y), **({"dtype": dtype} if dtype else {}))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_augmentation_layers_are_identities(dtype, rng, tmp_path):
    model = _jitter(_augmented(gn, dtype), rng)
    _check(model, rng.uniform(0, 255, size=(7, 8, 8, 3)).astype(dtype), tmp_path, dtype)


def test_augmentation_layers_against_keras(keras, rng, tmp_path):
    model = _jitter(_augmented(gn), rng)
    theirs = _augmented(keras)
    theirs.set_weights(model.get_weights())
    _against_keras(model, theirs, rng.uniform(0, 255, size=(7, 8, 8, 3)).astype("float32"), tmp_path)


def _normalized(k, dtype=None):
    """Normalization (adapted over the features; given, over two axes; inverted), UnitNormalization,
    RMSNormalization, LayerNormalization(rms_scaling=True), PReLU (a slope shared over the steps)
    and GroupNormalization (2 groups of 2 channels) over (batch, 5, 6) samples."""
    x = k.Input((5, 6))
    adapted = k.layers.Normalization()
    given = k.layers.Normalization(axis=(1, 2), mean=np.linspace(-1, 1, 30).reshape(5, 6),
                                   variance=np.linspace(0.5, 2, 30).reshape(5, 6))
    inverted = k.layers.Normalization(axis=None, mean=0.5, variance=4.0, invert=True)
    y = inverted(given(adapted(x)))
    y = k.layers.UnitNormalization(axis=(1, 2))(k.layers.UnitNormalization()(y) + y)
    y = k.layers.RMSNormalization()(y)
    y = k.layers.LayerNormalization(rms_scaling=True, axis=(1, 2))(k.layers.Dense(4)(y))
    y = k.layers.GroupNormalization(groups=2)(k.layers.PReLU(shared_axes=[1])(y))
    return k.Model(x, y, **({"dtype": dtype} if dtype else {})), adapted


RMS_SCALING = pytest.mark.filterwarnings("ignore:LayerNormalization. rms_scaling=True is deprecated",
                                         "ignore:You passed .rms_scaling=True.")


@RMS_SCALING
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_normalizations(dtype, rng, tmp_path):
    model, adapted = _normalized(gn, dtype)
    adapted.adapt(rng.normal(loc=2.0, scale=3.0, size=(50, 5, 6)).astype(dtype))
    model = _jitter(model, rng)
    _check(model, rng.normal(loc=1.0, scale=2.0, size=(7, 5, 6)).astype(dtype), tmp_path, dtype)


@RMS_SCALING
def test_normalizations_against_keras(keras, rng, tmp_path):
    """Keras' Normalization adapted to the same data (its statistics its own: Keras keeps a third
    weight, count), the other layers given glassnet's weights."""
    model, adapted = _normalized(gn)
    data = rng.normal(loc=2.0, scale=3.0, size=(50, 5, 6)).astype("float32")
    adapted.adapt(data)
    model = _jitter(model, rng)
    theirs, their_adapted = _normalized(keras)
    their_adapted.adapt(data)
    ours = [w for layer in model.layers if layer is not adapted for w in layer.get_weights()]
    theirs.set_weights(their_adapted.get_weights() + ours)
    _against_keras(model, theirs, rng.normal(loc=1.0, scale=2.0, size=(7, 5, 6)).astype("float32"), tmp_path)


# -- more ops functions drawn on tensors: one ONNX operator each, and the value checks -------------
# name -> the data's map into the function's domain
UNARY = {"arccos": np.tanh, "arccosh": lambda x: 1 + np.abs(x), "arcsin": np.tanh, "arcsinh": None, "arctan": None,
         "arctanh": lambda x: 0.9 * np.tanh(x), "ceil": None, "cosh": None, "sinh": None, "tan": None, "fabs": None,
         "stop_gradient": None}
IN_FLOAT64 = ("ceil", "fabs", "stop_gradient")      # onnxruntime 1.32's other kernels are float32 only


def _unary_model(k, name, dtype=None):
    x = k.Input((4, 3))
    return k.Model(x, getattr(k.ops, name)(x) + x, **({"dtype": dtype} if dtype else {}))


def _unary_data(rng, name, dtype):
    return (UNARY[name] or (lambda x: x))(2 * rng.normal(size=(7, 4, 3))).astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_more_unary_ops(name, dtype, rng, tmp_path):
    model = _unary_model(gn, name, dtype)
    if dtype == "float64" and name not in IN_FLOAT64:
        # a valid file (onnx's checker passes), which onnxruntime 1.32 does not run (as Erf's)
        path = tmp_path / "model.onnx"
        model.export(path, format="onnx")
        onnx.checker.check_model(onnx.load(str(path)), full_check=True)
        return
    _check(model, _unary_data(rng, name, dtype), tmp_path, dtype)


@pytest.mark.parametrize("name", ["arccos", "arcsinh", "arctanh", "ceil", "cosh", "tan"])
def test_more_unary_ops_against_keras(name, keras, rng, tmp_path):
    _against_keras(_unary_model(gn, name), _unary_model(keras, name), _unary_data(rng, name, "float32"), tmp_path)


def _checks_model(k, dtype=None):
    """isnan, isinf and isfinite of values the model makes NaN (log below 0) and inf (exp's overflow)."""
    x = k.Input((4, 3))
    odd = k.ops.log(x) + k.ops.exp(x * 1000.0)
    outputs = [k.ops.cast(f(odd), "float32") for f in (k.ops.isnan, k.ops.isinf, k.ops.isfinite)]
    return k.Model(x, outputs, **({"dtype": dtype} if dtype else {}))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_value_checks(dtype, rng, tmp_path):
    data = rng.normal(size=(7, 4, 3)).astype(dtype)
    data[0, 0] = [0.0, 1e-4, -0.0]
    _check(_checks_model(gn, dtype), data, tmp_path, dtype)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_value_checks_against_keras(keras, rng, tmp_path):
    _against_keras(_checks_model(gn), _checks_model(keras), rng.normal(size=(7, 4, 3)).astype("float32"), tmp_path,
                   rtol=0, atol=0)


def test_stateful_layers_of_one_name(rng, tmp_path):
    """A stateful GRU in a wrapped model and one after the wrapper, both named gru (each model
    names its own): the second's states get a suffix, as a second output of one name does."""
    inner = gn.Sequential([gn.Input((4, 3)), L.GRU(2, stateful=True)])
    x = gn.Input((5, 4, 3), batch_size=7)
    after = L.GRU(3, stateful=True)
    model = _jitter(gn.Model(x, after(L.TimeDistributed(inner)(x))), rng)
    assert inner.layers[0].name == after.name == "gru"
    _, session = _exported(model, tmp_path)
    assert [i.name for i in session.get_inputs()[1:]] == ["gru/state_0", "gru_1/state_0"]
    assert [o.name for o in session.get_outputs()[1:]] == ["gru/state_0_last", "gru_1/state_0_last"]
    _against_predict(model, session, _batches(rng, (5, 4, 3), False, "float32"), "float32",
                     [inner.layers[0], after], folded=True)


# -- ReLU's negative_slope and threshold; LayerScale ----------------------------------------------
RELU = [dict(negative_slope=0.2), dict(negative_slope=0.2, max_value=6.0), dict(threshold=0.5),
        dict(negative_slope=0.3, threshold=0.5), dict(negative_slope=0.3, max_value=1.5, threshold=0.5),
        dict(max_value=1.0, threshold=0.25)]


def _relus(k, dtype=None):
    x = k.Input((5, 4))
    return k.Model(x, [k.layers.ReLU(**options)(x) for options in RELU], **({"dtype": dtype} if dtype else {}))


def _relu_data(rng, dtype):
    """Values on both sides of each threshold and ceiling, and on them."""
    x = 2 * rng.normal(size=(7, 5, 4))
    x[0, 0] = [0.0, 0.5, 1.5, 6.0]
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_relu_settings(dtype, rng, tmp_path):
    _check(_relus(gn, dtype), _relu_data(rng, dtype), tmp_path, dtype)


def test_relu_settings_against_keras(keras, rng, tmp_path):
    _against_keras(_relus(gn), _relus(keras), _relu_data(rng, "float32"), tmp_path, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_layer_scale(dtype, rng, tmp_path):
    """keras.io's LayerScale (Keras 3.15 has no such layer: against predict, x * gamma by hand too)."""
    x = gn.Input((5, 4))
    model = _jitter(gn.Model(x, L.LayerScale(0.1, 4)(x), dtype=dtype), rng)
    data = rng.normal(size=(7, 5, 4)).astype(dtype)
    session = _check(model, data, tmp_path, dtype)
    (got,) = session.run(None, {session.get_inputs()[0].name: data})
    np.testing.assert_allclose(got, data * model.layers[-1].params["gamma"], **TOLERANCES[dtype])


def _softmaxes(k, dtype=None):
    x = k.Input((3, 4, 5))
    return k.Model(x, [k.layers.Softmax(axis=(1, 2))(x), k.layers.Softmax(axis=[-1, 1])(x)],
                   **({"dtype": dtype} if dtype else {}))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_over_several_axes(dtype, rng, tmp_path):
    _check(_softmaxes(gn, dtype), (3 * rng.normal(size=(7, 3, 4, 5))).astype(dtype), tmp_path, dtype)


def test_softmax_over_several_axes_against_keras(keras, rng, tmp_path):
    _against_keras(_softmaxes(gn), _softmaxes(keras), (3 * rng.normal(size=(7, 3, 4, 5))).astype("float32"), tmp_path,
                   atol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_linalg_loop_of_stacks_vectors_and_constants(dtype, rng, tmp_path):
    """Stacks of open-size matrices with a vector b (run at 4 and 1), and a constant 70 x 70 a."""
    x, v = gn.Input((2, None, None)), gn.Input((2, None))
    stacked = gn.Model([x, v], [gn.ops.inv(x), gn.ops.det(x), gn.ops.slogdet(x)[1], gn.ops.solve(x, v),
                                gn.ops.solve_triangular(x, v, lower=True)], dtype=dtype)
    for n in (4, 1):
        (tmp_path / str(n)).mkdir()
        _check(stacked, [_triangular(rng, (7, 2), n).astype(dtype), rng.normal(size=(7, 2, n)).astype(dtype)],
               tmp_path / str(n), dtype)
    y = gn.Input((70, 3))
    _check(gn.Model(y, gn.ops.solve(_general(rng, (), 70), y), dtype=dtype), rng.normal(size=(7, 70, 3)).astype(dtype),
           tmp_path, dtype)


# -- Dot ------------------------------------------------------------------------------------------
def _dots(k, dtype=None):
    """Dot of vectors (plain, cosine) and of sequences along each pair of axes (normalized or not)."""
    u, v = k.Input((6,)), k.Input((6,))
    q, s = k.Input((4, 3)), k.Input((5, 3))
    p, r = k.Input((3, 4)), k.Input((3, 5))
    outputs = [k.layers.Dot(axes=1)([u, v]), k.layers.Dot(axes=-1, normalize=True)([u, v]),
               k.layers.Dot(axes=2)([q, s]), k.layers.Dot(axes=(2, 2), normalize=True)([q, s]),
               k.layers.Dot(axes=1)([p, r]), k.layers.Dot(axes=(2, 1))([q, r])]
    return k.Model([u, v, q, s, p, r], outputs, **({"dtype": dtype} if dtype else {}))


def _dot_data(rng, dtype):
    return [rng.normal(size=(7, *shape)).astype(dtype) for shape in ((6,), (6,), (4, 3), (5, 3), (3, 4), (3, 5))]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dot(dtype, rng, tmp_path):
    _check(_dots(gn, dtype), _dot_data(rng, dtype), tmp_path, dtype)


def test_dot_against_keras(keras, rng, tmp_path):
    _against_keras(_dots(gn), _dots(keras), _dot_data(rng, "float32"), tmp_path, atol=1e-6)
