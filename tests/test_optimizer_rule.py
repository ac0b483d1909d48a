"""``rule="keras"``: the optimizers whose update differs between torch.optim and Keras 3.15 (SGD's
and RMSprop's momentum, Adam's, AdamW's and Nadam's bias corrections, Adamax's u, RMSprop's and
Adagrad's epsilon) compute Keras' ``update_step`` on request, and Keras files compile with it.

Each Keras comparison steps both optimizers on the same arrays with tiny gradients (1e-7 to 1e-3,
where the two forms differ most): within 1e-5 in float32 and 1e-10 in float64 over 6 steps, where
the default rule is far off (checked, so the comparison can fail). The tests without the ``keras``
fixture (the argument's checks, configs, files) run in CI.
"""
import json
import zipfile

import numpy as np
import pytest

import glassnet as gn
from glassnet import optimizers as o

# name: (Keras' optimizer, glassnet's of the same settings given a rule, whether the default rule is
# visibly off Keras' with these gradients)
CASES = {
    "sgd_momentum": (lambda k: k.optimizers.SGD(0.05, momentum=0.9),
                     lambda r: o.SGD(0.05, momentum=0.9, rule=r), False),
    "sgd_nesterov": (lambda k: k.optimizers.SGD(0.05, momentum=0.8, nesterov=True),
                     lambda r: o.SGD(0.05, momentum=0.8, nesterov=True, rule=r), False),
    "adam": (lambda k: k.optimizers.Adam(0.01), lambda r: o.Adam(0.01, rule=r), True),
    "amsgrad": (lambda k: k.optimizers.Adam(0.01, amsgrad=True), lambda r: o.Adam(0.01, amsgrad=True, rule=r), True),
    "adamw": (lambda k: k.optimizers.AdamW(0.01, weight_decay=0.1),
              lambda r: o.AdamW(0.01, weight_decay=0.1, rule=r), True),
    "adamax": (lambda k: k.optimizers.Adamax(0.01, epsilon=1e-4), lambda r: o.Adamax(0.01, epsilon=1e-4, rule=r), True),
    "nadam": (lambda k: k.optimizers.Nadam(0.01), lambda r: o.Nadam(0.01, rule=r), True),
    "rmsprop": (lambda k: k.optimizers.RMSprop(0.01), lambda r: o.RMSprop(0.01, rule=r), True),
    "rmsprop_centered_momentum": (lambda k: k.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
                                  lambda r: o.RMSprop(0.01, momentum=0.5, centered=True, rule=r), True),
    "adagrad": (lambda k: k.optimizers.Adagrad(0.05, initial_accumulator_value=1e-6, epsilon=1e-3),
                lambda r: o.Adagrad(0.05, initial_accumulator_value=1e-6, epsilon=1e-3, rule=r), True),
}


def _steps(dtype, seed=0, n=6):
    rng = np.random.default_rng(seed)
    start = rng.normal(size=(4, 3)).astype(dtype)
    grads = [(rng.normal(size=(4, 3)) * 10.0 ** rng.integers(-7, -2, size=(4, 3))).astype(dtype) for _ in range(n)]
    return start, grads


def _glassnet(optimizer, start, grads):
    param = start.copy()
    for grad in grads:
        optimizer.apply([("w", param, grad)])
    return param


@pytest.mark.parametrize("dtype, tol", [("float32", 1e-5), ("float64", 1e-10)])
@pytest.mark.parametrize("case", sorted(CASES))
def test_keras_rule_steps_as_keras(keras, case, dtype, tol):
    make_keras, make, differs = CASES[case]
    start, grads = _steps(dtype)
    variable = keras.Variable(start.copy(), dtype=dtype)
    optimizer = make_keras(keras)
    for grad in grads:
        optimizer.apply([keras.ops.convert_to_tensor(grad)], [variable])
    expected = np.asarray(variable.numpy())
    np.testing.assert_allclose(_glassnet(make("keras"), start, grads), expected, rtol=0, atol=tol)
    if differs and dtype == "float64":      # the default (torch.optim's) rule is not Keras': the test can fail
        assert np.abs(_glassnet(make("pytorch"), start, grads) - expected).max() > 100 * tol


def test_keras_rule_state_is_keras_slots(keras):
    """The slots kept under the Keras rule are Keras' own (SGD's velocity, RMSprop's momentum,
    Adamax's u), not converted."""
    start, grads = _steps("float32")
    for make_keras, make in [(lambda k: k.optimizers.SGD(0.05, momentum=0.9), lambda: o.SGD(0.05, 0.9, rule="keras")),
                             (lambda k: k.optimizers.RMSprop(0.01, momentum=0.5),
                              lambda: o.RMSprop(0.01, momentum=0.5, rule="keras")),
                             (lambda k: k.optimizers.Adamax(0.01), lambda: o.Adamax(0.01, rule="keras"))]:
        variable = keras.Variable(start.copy())
        theirs = make_keras(keras)
        for grad in grads:
            theirs.apply([keras.ops.convert_to_tensor(grad)], [variable])
        ours = make()
        _glassnet(ours, start, grads)
        slots = ours.get_state()["slots"]["w"]
        keras_slots = [np.asarray(v.numpy()) for v in theirs.variables[2:]]
        kept = [slots[name] for name in ours.slot_names if name in slots]
        assert len(kept) == len(keras_slots)
        for a, b in zip(kept, keras_slots):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-12)


def test_default_rule_unchanged_and_config():
    for cls in (o.SGD, o.Adam, o.AdamW, o.RMSprop, o.Adagrad, o.Adamax, o.Nadam):
        assert cls().rule == "pytorch"
        assert "rule" not in cls().get_config()         # files stay those of a glassnet before rule
        made = cls(rule="keras")
        assert made.get_config()["rule"] == "keras"
        assert type(made).from_config(made.get_config()).rule == "keras"
    assert o.Nadam().momentum_decay == 0.004 and o.Nadam(rule="keras").momentum_decay == 1.0
    # the default rule is torch.optim's: Adam's first step with tiny gradients, by hand
    g = np.full((3,), 1e-6)
    p = np.zeros(3)
    o.Adam(0.01, epsilon=1e-7).apply([("w", p, g)])
    np.testing.assert_allclose(p, -0.01 * 1e-6 / (1e-6 + 1e-7), rtol=1e-12)
    p = np.zeros(3)
    o.Adam(0.01, epsilon=1e-7, rule="keras").apply([("w", p, g)])
    # Keras: lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps), the betas and the rate through float32
    c, b1 = np.sqrt(1 - np.float64(np.float32(0.999))), np.float64(np.float32(0.9))
    m, v = (1 - 0.9) * 1e-6, (1 - 0.999) * 1e-12
    np.testing.assert_allclose(p, -np.float64(np.float32(0.01)) * c / (1 - b1) * m / (np.sqrt(v) + 1e-7), rtol=1e-12)


def test_bad_rule_refused():
    with pytest.raises(ValueError, match="rule must be one of 'pytorch', 'keras', got 'tf'"):
        o.Adam(rule="tf")
    with pytest.raises(TypeError, match="rule must be one of .* got bool True"):
        o.SGD(rule=True)
    with pytest.raises(ValueError, match="momentum_decay=1.0.*got momentum_decay=0.004"):
        o.Nadam(momentum_decay=0.004, rule="keras")
    optimizer = o.RMSprop(0.01, momentum=0.5)
    optimizer.apply([("w", np.zeros(3), np.ones(3))])
    with pytest.raises(ValueError, match="rule='keras' after updates made under rule='pytorch'"):
        optimizer.rule = "keras"
    optimizer.reset()
    optimizer.rule = "keras"            # before training: taken
    assert optimizer.rule == "keras"


def _dense(seed=0):
    return gn.Sequential([gn.Input((3,)), gn.layers.Dense(4, activation="tanh"), gn.layers.Dense(1)], seed=seed)


def test_glassnet_file_keeps_rule(tmp_path):
    model = _dense()
    model.compile(loss="mse", optimizer=o.Adam(0.01, rule="keras"))
    model.save(str(tmp_path / "m.npz"))
    assert gn.load_model(str(tmp_path / "m.npz")).optimizer.rule == "keras"
    model.compile(loss="mse", optimizer=o.Adam(0.01))
    model.save(str(tmp_path / "d.npz"))             # no "rule" in it: an older file's form
    assert gn.load_model(str(tmp_path / "d.npz")).optimizer.rule == "pytorch"


def test_keras_writer_leaves_rule_out(tmp_path):
    pytest.importorskip("h5py")
    model = _dense()
    model.compile(loss="mse", optimizer=o.RMSprop(0.01, momentum=0.5, rule="keras"))
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    model.train_on_batch(x, x[:, :1])
    path = str(tmp_path / "m.keras")
    model.save(path, save_format="keras")
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    assert "rule" not in config["compile_config"]["optimizer"]["config"]
    loaded = gn.load_model(path)                    # a Keras file: Keras' rule, the slots 1:1
    assert loaded.optimizer.rule == "keras"
    for a, b in zip(loaded.optimizer.get_state()["slots"].values(), model.optimizer.get_state()["slots"].values()):
        for name in b:
            np.testing.assert_array_equal(a[name], b[name])


# -- Keras models: a fraud-detection-like fit, files loaded and trained on ---------------------------
def test_fraud_like_class_weights_adam(keras):
    """keras.io's imbalanced-classification example in small: class weights 1 / count give
    gradients ~1e-4, where torch.optim's Adam and Keras' differ; one epoch apart 0.4 at full size."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 10)).astype("float32")
    y = (x[:, 0] + 0.5 * rng.normal(size=512) > 1.6).astype("float32")[:, None]
    counts = np.bincount(y[:, 0].astype(int))
    weights = {0: 1.0 / counts[0], 1: 1.0 / counts[1]}
    keras.utils.set_random_seed(0)
    theirs = keras.Sequential([keras.Input((10,)), keras.layers.Dense(16, activation="relu"),
                               keras.layers.Dense(1, activation="sigmoid")])
    theirs.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
    start = theirs.get_weights()
    predictions = {}
    for rule in ("keras", "pytorch"):
        ours = gn.Sequential([gn.Input((10,)), gn.layers.Dense(16, activation="relu"),
                              gn.layers.Dense(1, activation="sigmoid")], seed=0)
        ours.compile(optimizer=o.Adam(1e-2, rule=rule), loss="binary_crossentropy")
        ours.set_weights(start)
        ours.fit(x, y, batch_size=64, epochs=2, shuffle=False, class_weight=weights, verbose=0)
        predictions[rule] = ours.predict(x)
    theirs.fit(x, y, batch_size=64, epochs=2, shuffle=False, class_weight=weights, verbose=0)
    expected = theirs.predict(x, verbose=0)
    np.testing.assert_allclose(predictions["keras"], expected, rtol=0, atol=1e-5)
    assert np.abs(predictions["pytorch"] - expected).max() > 1e-3


def _conv_bn(k):
    # no bias before the batch norm: its gradient is 0 but for rounding, which Adam scales up to
    # steps of the rate's size, in Keras and glassnet alike, from noise that differs between the two
    return k.Sequential([k.Input((6, 6, 2)), k.layers.Conv2D(3, 3, use_bias=False), k.layers.BatchNormalization(),
                         k.layers.ReLU(), k.layers.Flatten(), k.layers.Dense(2)])


def _embedding_conv1d(k):
    return k.Sequential([k.Input((7,), dtype="int32"), k.layers.Embedding(60, 4), k.layers.Conv1D(3, 3),
                         k.layers.GlobalAveragePooling1D(), k.layers.Dense(2)])


def _lstm(k):
    return k.Sequential([k.Input((5, 3)), k.layers.LSTM(4), k.layers.Dense(2)])


FILES = {
    "conv_bn_adam": (_conv_bn, lambda k: k.optimizers.Adam(1e-3)),
    "conv_bn_amsgrad": (_conv_bn, lambda k: k.optimizers.Adam(1e-3, amsgrad=True)),
    "embedding_adamax": (_embedding_conv1d, lambda k: k.optimizers.Adamax(1e-2)),
    "embedding_rmsprop": (_embedding_conv1d, lambda k: k.optimizers.RMSprop(1e-3, momentum=0.5)),
    "lstm_rmsprop": (_lstm, lambda k: k.optimizers.RMSprop(1e-3)),
}


def _data(kind):
    rng = np.random.default_rng(1)
    if kind is _conv_bn:
        x = rng.normal(size=(24, 6, 6, 2)).astype("float32")
    elif kind is _lstm:
        x = rng.normal(size=(24, 5, 3)).astype("float32")
    else:
        # no index twice in a batch of 8: Keras' Embedding gradient is sparse (tf.IndexedSlices), and
        # for an index seen twice its Adam/RMSprop second moment sums the squares of each sighting's
        # gradient, not the square of their sum (glassnet's dense gradient): not reproduced
        x = np.concatenate([rng.permutation(60)[:56].reshape(8, 7) for _ in range(3)]).astype("int32")
    return x, (1e-3 * rng.normal(size=(24, 2))).astype("float32")     # small targets: small gradients


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("case", sorted(FILES))
def test_keras_file_continues_as_keras(keras, tmp_path, case, suffix):
    kind, make_optimizer = FILES[case]
    keras.utils.set_random_seed(0)
    theirs = kind(keras)
    theirs.compile(optimizer=make_optimizer(keras), loss="mean_squared_error")     # (Keras' .h5 misreads "mse")
    x, y = _data(kind)
    theirs.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)         # 3 steps
    path = str(tmp_path / f"m{suffix}")
    theirs.save(path)
    ours = gn.load_model(path)
    assert ours.optimizer.rule == "keras"
    if suffix == ".h5":         # Keras 3's .h5 keeps no optimizer state: both start one afresh
        # (Keras 3.15's own compiled .h5 model then refuses its variables: compiled here instead)
        theirs = keras.saving.load_model(path, compile=False)
        theirs.compile(optimizer=make_optimizer(keras), loss="mean_squared_error")
    theirs.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)         # 3 more
    ours.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)


def test_adadelta_takes_the_rule_and_steps_alike_under_both():
    # Keras 3.15 and PyTorch compute Adadelta alike: rule= is taken (a loop giving every optimizer
    # rule="keras" works) and changes nothing; an unknown rule is refused as elsewhere
    rng = np.random.default_rng(0)
    grads = [rng.normal(scale=1e-3, size=(3, 4)) for _ in range(4)]
    weights = {}
    for rule in ("pytorch", "keras"):
        param = np.ones((3, 4))
        opt = gn.optimizers.Adadelta(rho=0.95, epsilon=1e-7, rule=rule)
        for g in grads:
            opt.apply([("w", param, g.copy())])
        weights[rule] = param
    np.testing.assert_array_equal(weights["pytorch"], weights["keras"])
    assert gn.optimizers.Adadelta(rule="keras").get_config()["rule"] == "keras"
    assert "rule" not in gn.optimizers.Adadelta().get_config()
    with pytest.raises(ValueError, match="rule must be one of 'pytorch', 'keras', got 'tf'"):
        gn.optimizers.Adadelta(rule="tf")
