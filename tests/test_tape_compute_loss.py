"""``Model.compute_loss`` under a GradientTape (glassnet._tape_losses, _tape_activity): models of
several outputs (list and dict outputs, per-output losses, ``loss_weights``, an unscored output),
activity regularizers (in ``compute_loss`` and ``model.losses``), masked sequence outputs and
per-position sample weights. Each compared with Keras 3.15's ``compute_loss`` under
``tf.GradientTape`` (same weights: losses, ``model.losses``, gradients, weights after steps), with
glassnet's own ``fit`` (a custom ``train_step`` against plain fit), and with float64 central finite
differences."""
import numpy as np
import pytest

import glassnet as gn

N = 8


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, 5)).astype(np.float32)
    labels = rng.integers(0, 3, size=N)
    flags = (rng.random((N, 1)) > 0.5).astype(np.float32)
    values = rng.normal(size=(N, 2)).astype(np.float32)
    return x, labels, flags, values, rng.random(N).astype(np.float32)


def _heads_model(lib, as_dict=False, scored_c=False, dtype=None, seed=0, cls=None):
    """Three outputs: softmax (sparse CE), sigmoid (BCE, weight penalty), linear (mse or unscored);
    the hidden layer has an activity regularizer. ``cls``: the model class (a step model)."""
    i = lib.Input((5,))
    h = lib.layers.Dense(6, activation="tanh", name="h", activity_regularizer=lib.regularizers.L2(0.05))(i)
    a = lib.layers.Dense(3, activation="softmax", name="a")(h)
    b = lib.layers.Dense(1, activation="sigmoid", name="b", kernel_regularizer=lib.regularizers.L2(0.01))(h)
    c = lib.layers.Dense(2, name="c")(h)
    outputs = {"a": a, "b": b, "c": c} if as_dict else [a, b, c]
    cls = cls or lib.Model
    model = cls(i, outputs, seed=seed, **({} if dtype is None else {"dtype": dtype})) if lib is gn else cls(i, outputs)
    losses = ["sparse_categorical_crossentropy", "binary_crossentropy", "mse" if scored_c else None]
    weights = [0.7, 2.0, 0.5]
    if as_dict:
        losses, weights = dict(zip("abc", losses)), dict(zip("abc", weights))
        if not scored_c:
            del losses["c"], weights["c"]
    model.compile(loss=losses, loss_weights=weights, optimizer="sgd")
    return model


def _tf_dense(grad):
    import tensorflow as tf
    return None if grad is None else tf.convert_to_tensor(grad).numpy()


@pytest.mark.parametrize("as_dict", [False, True])
@pytest.mark.parametrize("weighting", [None, "shared", "per_output"])
def test_several_outputs_match_keras(keras, as_dict, weighting):
    """Keras 3's compute_loss sums each scored output's loss x its weight (None: unscored), plus
    model.losses (the activity penalty, the kernel penalty): value, model.losses, every gradient."""
    import tensorflow as tf
    x, labels, flags, values, sw = _data()
    mine, theirs = _heads_model(gn, as_dict, scored_c=weighting == "per_output"), \
        _heads_model(keras, as_dict, scored_c=weighting == "per_output")
    theirs.set_weights(mine.get_weights())
    y = [labels, flags, values]
    w = {None: None, "shared": sw, "per_output": [sw, 1 - sw, sw * 2]}[weighting]
    if as_dict:
        y = dict(zip("abc", y))
        w = dict(zip("abc", w)) if isinstance(w, list) else w
    given = y if weighting == "per_output" else (
        {k: v for k, v in y.items() if k != "c"} if as_dict else [labels, flags, None])
    with gn.GradientTape() as tape:
        y_pred = mine(x, training=True)
        loss = mine.compute_loss(y=given, y_pred=y_pred, sample_weight=w)
        listed = mine.losses
    grads = tape.gradient(loss, mine.trainable_weights)
    with tf.GradientTape() as k_tape:
        k_pred = theirs(x, training=True)
        k_loss = theirs.compute_loss(y=y, y_pred=k_pred, sample_weight=w)
        k_listed = theirs.losses
    k_grads = k_tape.gradient(k_loss, theirs.trainable_weights)
    assert float(loss) == pytest.approx(float(k_loss), rel=1e-6)
    np.testing.assert_allclose([float(v) for v in listed], [float(v) for v in k_listed], rtol=1e-6)
    assert len(grads) == len(k_grads) == 8
    for g, k in zip(grads, k_grads):
        if k is None:        # the unscored output's layer: no path from the loss (zeros here, None in TF)
            assert g is None or not np.any(g)
        else:
            np.testing.assert_allclose(g, _tf_dense(k), rtol=1e-5, atol=1e-7)


def _fd(f, params, eps=1e-6, picks=4, seed=0):
    """Central finite differences of f() at ``picks`` entries of each param (float64), with the indices."""
    rng = np.random.default_rng(seed)
    out = []
    for p in params:
        idx = [tuple(rng.integers(0, s) for s in p.shape) for _ in range(picks)]
        est = []
        for i in idx:
            keep = p[i]
            p[i] = keep + eps
            up = f()
            p[i] = keep - eps
            down = f()
            p[i] = keep
            est.append((up - down) / (2 * eps))
        out.append((idx, est))
    return out


def _check_fd(loss_of, model):
    """tape.gradient of loss_of() against float64 central differences at a few entries of every weight."""
    with gn.GradientTape() as tape:
        loss = loss_of()
    grads = tape.gradient(loss, model.trainable_weights)
    params = model.trainable_weights
    for g, (idx, est) in zip(grads, _fd(lambda: float(loss_of()), params)):
        assert g is not None
        np.testing.assert_allclose([g[i] for i in idx], est, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("as_dict", [False, True])
def test_several_outputs_finite_differences(as_dict):
    x, labels, flags, values, sw = _data(1)
    model = _heads_model(gn, as_dict, scored_c=True, dtype="float64")
    y = [labels, flags, values]
    w = [sw, 1 - sw, sw * 2]
    if as_dict:
        y, w = dict(zip("abc", y)), dict(zip("abc", w))
    _check_fd(lambda: model.compute_loss(y=y, y_pred=model(x.astype(np.float64), training=True),
                                         sample_weight=w), model)


class _StepModel(gn.Model):
    """Keras' guide step: compute_loss under a tape, the compiled optimizer's apply, a loss tracker
    (the epoch's mean, as fit logs it; held as an attribute, fit resets it at each epoch's start,
    as Keras 3 tracks it: a ``metrics`` property would make compile the step's own, which keeps
    no loss_weights)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_tracker = gn.metrics.Mean(name="loss")

    def train_step(self, data):
        x, y, w = gn.utils.unpack_x_y_sample_weight(data)
        with gn.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred, sample_weight=w)
        self.optimizer.apply(tape.gradient(loss, self.trainable_variables), self.trainable_variables)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}


def _keras_step_model(keras):
    import tensorflow as tf

    class KStep(keras.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.loss_tracker = keras.metrics.Mean(name="loss")

        def train_step(self, data):
            x, y, w = keras.utils.unpack_x_y_sample_weight(data)
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred, sample_weight=w)
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply(grads, self.trainable_variables)
            self.loss_tracker.update_state(loss)
            return {"loss": self.loss_tracker.result()}

        @property
        def metrics(self):
            return [self.loss_tracker]
    return KStep


@pytest.mark.parametrize("as_dict", [False, True])
def test_several_outputs_step_equals_fit_and_keras(keras, as_dict):
    """A custom train_step using compute_loss: the same per-batch losses and weights as glassnet's
    own fit of the same model (3 epochs, SGD), and as Keras 3.15's same step."""
    x, labels, flags, values, sw = _data(2)
    y = [labels, flags.reshape(-1), values]
    if as_dict:
        y = dict(zip("abc", y))

    def make(lib, cls=None):
        model = _heads_model(lib, as_dict, scored_c=True, cls=cls)
        losses = ["sparse_categorical_crossentropy", "binary_crossentropy", "mse"]
        weights = [0.7, 2.0, 0.5]
        if as_dict:
            losses, weights = dict(zip("abc", losses)), dict(zip("abc", weights))
        model.compile(loss=losses, loss_weights=weights, optimizer=lib.optimizers.SGD(0.1))
        return model
    plain, custom, theirs = make(gn), make(gn, _StepModel), make(keras, _keras_step_model(keras))
    custom.set_weights(plain.get_weights())
    theirs.set_weights(plain.get_weights())
    kw = dict(epochs=3, batch_size=4, shuffle=False, verbose=0, sample_weight=sw)
    h_plain = plain.fit(x, y, **kw).history["loss"]
    h_custom = custom.fit(x, y, **kw).history["loss"]
    h_keras = theirs.fit(x, y, **kw).history["loss"]
    np.testing.assert_allclose(h_custom, h_plain, rtol=1e-5)
    np.testing.assert_allclose(h_custom, h_keras, rtol=1e-5)
    for a, b, c in zip(custom.get_weights(), plain.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-6)


def _activity_model(lib, dtype=None, cls=None):
    """Two hidden layers with activity regularizers (one also a kernel penalty), a linear output."""
    i = lib.Input((5,))
    h = lib.layers.Dense(6, activation="tanh", activity_regularizer=lib.regularizers.L1L2(0.02, 0.1))(i)
    h = lib.layers.Dense(4, activation="relu", activity_regularizer=lib.regularizers.L2(0.03),
                         kernel_regularizer=lib.regularizers.L2(0.01))(h)
    out = lib.layers.Dense(1)(h)
    cls = cls or lib.Model
    return cls(i, out, seed=3, **({} if dtype is None else {"dtype": dtype})) if lib is gn else cls(i, out)


def test_activity_penalties_match_keras(keras):
    """model.losses lists each activity penalty (after the add_loss terms, before the weights'
    penalties, as Keras), outside a tape and while one records; compute_loss adds them; the
    gradient of sum(model.losses) alone, and of compute_loss, equal tf.GradientTape's."""
    import tensorflow as tf
    x, _, _, values, sw = _data(3)
    y = values[:, :1]
    mine, theirs = _activity_model(gn), _activity_model(keras)
    mine.compile(loss="mse", optimizer="sgd")
    theirs.compile(loss="mse", optimizer="sgd")
    theirs.set_weights(mine.get_weights())
    mine(x)
    theirs(x)
    np.testing.assert_allclose([float(v) for v in mine.losses], [float(v) for v in theirs.losses], rtol=1e-6)
    for which in ("losses", "compute_loss"):
        with gn.GradientTape() as tape:
            out = mine(x, training=True)
            loss = sum(mine.losses) if which == "losses" else mine.compute_loss(y=y, y_pred=out, sample_weight=sw)
        grads = tape.gradient(loss, mine.trainable_weights)
        with tf.GradientTape() as k_tape:
            k_out = theirs(x, training=True)
            k_loss = sum(theirs.losses) if which == "losses" else theirs.compute_loss(y=y, y_pred=k_out, sample_weight=sw)
        k_grads = k_tape.gradient(k_loss, theirs.trainable_weights)
        assert float(loss) == pytest.approx(float(k_loss), rel=1e-6)
        for g, k in zip(grads, k_grads):
            if k is None:       # the last layer: sum(model.losses) does not reach it
                assert g is None or not np.any(g)
            else:
                np.testing.assert_allclose(g, _tf_dense(k), rtol=1e-5, atol=1e-7)


def test_activity_penalty_read_twice_and_scaled_finite_differences():
    """A penalty read from model.losses weighed by 3 beside compute_loss (which adds it once more):
    each read adds its share of the gradient, float64 central differences."""
    x, _, _, values, _ = _data(4)
    x, y = x.astype(np.float64), values[:, :1].astype(np.float64)
    model = _activity_model(gn, "float64")
    model.compile(loss="mse", optimizer="sgd")

    def loss_of():
        out = model(x, training=True)
        listed = model.losses
        return model.compute_loss(y=y, y_pred=out) + 3.0 * listed[1]
    _check_fd(loss_of, model)


def test_activity_step_equals_fit_and_keras(keras):
    """compute_loss's activity penalties in a custom step: the same losses and weights as fit
    (which adds them itself) and as Keras' same step, SGD, 2 epochs."""
    x, _, _, values, _ = _data(5)
    y = values[:, :1]

    def make(lib, cls):
        model = _activity_model(lib, cls=cls)
        model.compile(loss="mse", optimizer=lib.optimizers.SGD(0.05))
        return model
    plain, custom, theirs = make(gn, None), make(gn, _StepModel), make(keras, _keras_step_model(keras))
    custom.set_weights(plain.get_weights())
    theirs.set_weights(plain.get_weights())
    kw = dict(epochs=2, batch_size=4, shuffle=False, verbose=0)
    h = [m.fit(x, y, **kw).history["loss"] for m in (plain, custom, theirs)]
    np.testing.assert_allclose(h[1], h[0], rtol=1e-5)
    np.testing.assert_allclose(h[1], h[2], rtol=1e-5)
    for a, b, c in zip(custom.get_weights(), plain.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-6)


def _tagger_data(seed=6):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 10, size=(6, 7))
    for i, length in enumerate([7, 5, 3, 6, 2, 4]):
        x[i, length:] = 0           # padding: masked by mask_zero
    return x, rng.integers(0, 4, size=(6, 7)), rng.random(6).astype(np.float32), rng.random((6, 7)).astype(np.float32)


def _tagger(lib, dtype=None, cls=None):
    i = lib.Input((7,))
    h = lib.layers.LSTM(5, return_sequences=True)(lib.layers.Embedding(10, 4, mask_zero=True)(i))
    out = lib.layers.Dense(4, activation="softmax")(h)
    cls = cls or lib.Model
    model = cls(i, out, seed=4, **({} if dtype is None else {"dtype": dtype})) if lib is gn else cls(i, out)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    return model


@pytest.mark.parametrize("per_position", [False, True])
def test_masked_output_matches_keras(keras, per_position):
    """Embedding(mask_zero) -> LSTM(return_sequences) -> Dense softmax: the loss scores the real
    steps alone (and weights per position), as Keras' compute_loss; value and every gradient."""
    import tensorflow as tf
    x, y, _, pw = _tagger_data()
    w = pw if per_position else None
    mine, theirs = _tagger(gn), _tagger(keras)
    theirs.set_weights(mine.get_weights())
    with gn.GradientTape() as tape:
        loss = mine.compute_loss(y=y, y_pred=mine(x, training=True), sample_weight=w)
    grads = tape.gradient(loss, mine.trainable_weights)
    with tf.GradientTape() as k_tape:
        k_loss = theirs.compute_loss(y=y, y_pred=theirs(x, training=True), sample_weight=w)
    k_grads = k_tape.gradient(k_loss, theirs.trainable_weights)
    assert float(loss) == pytest.approx(float(k_loss), rel=1e-6)
    for g, k in zip(grads, k_grads):
        np.testing.assert_allclose(g, _tf_dense(k), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("weights", [None, "per_sample", "per_position"])
def test_masked_output_step_equals_fit(weights):
    """compute_loss under a tape equals fit's compiled loss on the masked tagger: a loop of tape
    steps against train_on_batch (fit's step) batch by batch, with no weights, one per sample (n,)
    or one per position (n, steps); and a custom train_step's fit against plain fit (fit hands a
    step weights (n,) only)."""
    x, y, sw, pw = _tagger_data()
    w = {None: None, "per_sample": sw, "per_position": pw}[weights]
    plain, looped = _tagger(gn), _tagger(gn)
    for model in (plain, looped):
        model.compile(loss="sparse_categorical_crossentropy", optimizer=gn.optimizers.Adam(0.05))
    looped.set_weights(plain.get_weights())
    for _ in range(2):
        for b in range(0, 6, 3):
            wb = None if w is None else w[b:b + 3]
            with gn.GradientTape() as tape:
                loss = looped.compute_loss(y=y[b:b + 3], y_pred=looped(x[b:b + 3], training=True), sample_weight=wb)
            grads = tape.gradient(loss, looped.trainable_weights)
            looped.optimizer.apply_gradients(zip(grads, looped.trainable_weights))
            assert float(loss) == pytest.approx(plain.train_on_batch(x[b:b + 3], y[b:b + 3], sample_weight=wb), rel=1e-6)
    for a, b in zip(looped.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    if weights == "per_position":
        return
    plain, custom = _tagger(gn), _tagger(gn, cls=_StepModel)
    for model in (plain, custom):
        model.compile(loss="sparse_categorical_crossentropy", optimizer=gn.optimizers.SGD(0.5))
    custom.set_weights(plain.get_weights())
    kw = dict(epochs=2, batch_size=3, shuffle=False, verbose=0, sample_weight=w)
    np.testing.assert_allclose(custom.fit(x, y, **kw).history["loss"], plain.fit(x, y, **kw).history["loss"],
                               rtol=1e-6)
    for a, b in zip(custom.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_masked_output_finite_differences():
    x, y, _, pw = _tagger_data(7)
    model = _tagger(gn, "float64")
    _check_fd(lambda: model.compute_loss(y=y, y_pred=model(x, training=True), sample_weight=pw.astype(np.float64)),
              model)


def test_masked_output_every_step_padding_gives_zero():
    """A batch whose every step is padding: a loss of 0 and zero gradients (fit's and Keras')."""
    x, y, _, _ = _tagger_data()
    model = _tagger(gn)
    with gn.GradientTape() as tape:
        loss = model.compute_loss(y=y[:2], y_pred=model(np.zeros_like(x[:2]), training=True))
    assert float(loss) == 0.0
    assert all(g is None or not np.any(g) for g in tape.gradient(loss, model.trainable_weights))


def test_several_outputs_bad_arguments_named():
    x, labels, flags, values, sw = _data()
    model = _heads_model(gn)
    with gn.GradientTape():
        y_pred = model(x, training=True)
        # (a list of the two scored outputs' targets alone is Keras' form too: test_default_steps_outputs.py)
        with pytest.raises(ValueError, match=r"compute_loss: y: the model has 3 outputs .*got a list of 1"):
            model.compute_loss(y=[labels], y_pred=y_pred)
        with pytest.raises(ValueError, match=r"compute_loss: y: output 'b' has a loss, so it needs targets, got None"):
            model.compute_loss(y=[labels, None, None], y_pred=y_pred)
        with pytest.raises(ValueError, match=r"compute_loss: y_pred: the model has 3 outputs .*got a list of 1"):
            model.compute_loss(y=[labels, flags, None], y_pred=[y_pred[0]])
        with pytest.raises(ValueError, match=r"compute_loss: sample_weight: a dict needs the outputs' names"):
            model.compute_loss(y=[labels, flags, None], y_pred=y_pred, sample_weight={"zz": sw})
