"""A subclass of Model with its own train_step/test_step outside fit's loop: train_on_batch and
test_on_batch run the step once, as Keras 3.15's do (glassnet._own_batch); fit's packing of
weights without y, nested float64 batches from a PyDataset or a generator, validation_freq that
never validates, save's refusals, and BackupAndRestore (glassnet.own_steps). Each compared with
Keras 3.15 where Keras runs the same subclass."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L

X = np.arange(12, dtype=np.float64).reshape(4, 3) / 10      # float64: comes in the model's float32
Y = np.array([[0.0], [1.0], [1.0], [0.0]])
W = np.array([1.0, 2.0, 0.5, 1.0])


def _describe(data):
    """The batch's structure, each array as (shape, values as float64), None as None."""
    if data is None:
        return None
    if isinstance(data, dict):
        return {key: _describe(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return tuple(_describe(value) for value in data)
    return np.asarray(data).shape, np.asarray(data, np.float64).round(6).tolist()


class Recording(gn.Model):
    """Records each step's data; logs two trackers held as attributes and a constant."""

    def __init__(self):
        super().__init__(seed=0)
        self.seen = []
        self.b = gn.metrics.Mean(name="b")      # set first: Keras lists held trackers in this order
        self.a = gn.metrics.Mean(name="a")

    def train_step(self, data):
        self.seen.append(data)
        self.a.update_state(2.0)
        self.b.update_state(1.0)
        return {"zeta": 3.0, "b": self.b.result(), "a": self.a.result()}

    def test_step(self, data):
        self.seen.append(data)
        return {"b": 5.0}


def _keras_recording(keras):
    class KRecording(keras.Model):
        def __init__(self):
            super().__init__()
            self.seen = []
            self.b = keras.metrics.Mean(name="b")
            self.a = keras.metrics.Mean(name="a")

        def train_step(self, data):
            self.seen.append(keras.tree.map_structure(lambda t: None if t is None else np.asarray(t), data))
            self.a.update_state(2.0)
            self.b.update_state(1.0)
            return {"zeta": 3.0, "b": self.b.result(), "a": self.a.result()}

        def test_step(self, data):
            self.seen.append(keras.tree.map_structure(lambda t: None if t is None else np.asarray(t), data))
            return {"b": 5.0}

    model = KRecording()
    model.compile(optimizer="sgd", run_eagerly=True)
    return model


@pytest.mark.parametrize("kwargs", [dict(x=X), dict(x=X, y=Y), dict(x=X, y=Y, sample_weight=W),
                                    dict(x=X, sample_weight=W), dict(x=X, y=Y, return_dict=True)])
def test_train_on_batch_runs_train_step_once_as_keras(keras, kwargs):
    ours, theirs = Recording(), _keras_recording(keras)
    ours.compile()
    for model in (ours, theirs):
        model.a.update_state(100.0)         # reset before the step: the logs are this batch's
    mine, keras_result = ours.train_on_batch(**kwargs), theirs.train_on_batch(**kwargs)
    # Keras: the step gets (x, y, sample_weight) unpacked, None for what is missing; the list is
    # the held trackers in model.metrics' order (b, a), then the rest by sorted key
    assert mine == keras_result
    assert mine == ({"a": 2.0, "b": 1.0, "zeta": 3.0} if kwargs.get("return_dict") else [1.0, 2.0, 3.0])
    assert len(ours.seen) == len(theirs.seen) == 1
    assert _describe(ours.seen[0]) == _describe(theirs.seen[0])
    assert isinstance(ours.seen[0], tuple) and len(ours.seen[0]) == 3
    # different: float arrays in the model's dtype (Keras hands train_on_batch's float64 as given)
    assert ours.seen[0][0].dtype == np.float32 and theirs.seen[0][0].dtype == np.float64


@pytest.mark.parametrize("kwargs", [dict(x=X), dict(x=X, y=Y, sample_weight=W), dict(x=X, y=Y, return_dict=True)])
def test_test_on_batch_runs_test_step_once_as_keras(keras, kwargs):
    ours, theirs = Recording(), _keras_recording(keras)
    ours.compile()
    mine, keras_result = ours.test_on_batch(**kwargs), theirs.test_on_batch(**kwargs)
    assert mine == keras_result == ({"b": 5.0} if kwargs.get("return_dict") else 5.0)   # one value: itself
    assert type(mine) is (dict if kwargs.get("return_dict") else float)
    assert _describe(ours.seen) == _describe(theirs.seen)


def test_nested_batch_for_train_on_batch_keeps_its_structure():
    model = Recording()
    model.compile()
    model.train_on_batch({"p": X, "q": X[:, :1].astype(np.int64)}, [Y, Y])
    x, y, w = model.seen[0]
    assert set(x) == {"p", "q"} and x["p"].dtype == np.float32 and x["q"].dtype == np.int64
    assert isinstance(y, list) and len(y) == 2 and w is None
    with pytest.raises(ValueError, match=r"x\['q'\]: expected as many samples as x\['p'\] \(4\), got 3"):
        model.train_on_batch({"p": X, "q": X[:3]})


class Compiled(gn.Model):
    """A model with layers of its own whose step is glassnet's compiled step on the batch."""

    def __init__(self):
        super().__init__(seed=0)
        self.dense = L.Dense(1, activation="sigmoid")

    def call(self, x):
        return self.dense(x)

    def train_step(self, data):
        x, y, w = gn.utils.unpack_x_y_sample_weight(data)
        return self.train_on_batch(x, y, w, return_dict=True)      # inside the step: the compiled step

    def test_step(self, data):
        x, y, w = gn.utils.unpack_x_y_sample_weight(data)
        return self.test_on_batch(x, y, w, return_dict=True)


def test_a_step_calling_self_train_on_batch_is_the_compiled_step():
    ours = Compiled()
    ours.compile(loss="binary_crossentropy", optimizer=gn.optimizers.SGD(0.5), metrics=["accuracy"])
    ours.build((None, 3))
    plain = gn.Sequential([L.Dense(1, activation="sigmoid", input_dim=3)])
    plain.compile(loss="binary_crossentropy", optimizer=gn.optimizers.SGD(0.5), metrics=["accuracy"])
    plain.set_weights(ours.get_weights())
    x, y = X.astype(np.float32), Y.astype(np.float32)
    for _ in range(3):
        # the outer call runs train_step once; the step's self.train_on_batch steps the layers
        assert ours.train_on_batch(x, y, W) == pytest.approx(plain.train_on_batch(x, y, W), rel=1e-6)
    for a, b in zip(ours.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert ours.test_on_batch(x, y, return_dict=True) == pytest.approx(plain.test_on_batch(x, y, return_dict=True))


def test_train_on_batch_refusals():
    model = Recording()
    with pytest.raises(ValueError, match=r"train_on_batch: call compile\(\) first"):
        model.train_on_batch(X, Y)
    model.compile()
    with pytest.raises(ValueError, match=r"class_weight: it weighs a compiled loss, and Recording.train_step"):
        model.train_on_batch(X, Y, class_weight={0: 1.0, 1: 2.0})
    with pytest.raises(TypeError, match=r"train_on_batch: x is one batch of arrays; a generator gives many"):
        model.train_on_batch(iter([(X, Y)]))
    assert model.seen == []
    # an ordinary compiled model still needs its targets: y=None is refused by name
    plain = gn.Sequential([L.Dense(1, input_dim=3)])
    plain.compile(loss="mse")
    for call in (plain.train_on_batch, plain.test_on_batch):
        with pytest.raises(ValueError, match=r"_on_batch: y: expected the targets of x's samples .* got None"):
            call(X)


def test_test_on_batch_without_test_step_or_call_is_refused():
    class GAN(gn.Model):
        def train_step(self, data):
            return {"loss": 0.0}
    gan = GAN()
    gan.compile()
    with pytest.raises(NotImplementedError, match=r"test_on_batch: GAN defines train_step but neither test_step"):
        gan.test_on_batch(X)
    assert gan.train_on_batch(X) == 0.0


def test_fit_with_weights_but_no_y_hands_x_alone_as_keras(keras):
    ours, theirs = Recording(), _keras_recording(keras)
    ours.compile()
    with pytest.warns(UserWarning, match=r"fit: sample_weight given without y: Keras 3 hands Recording's step "
                                         r"the x batch alone"):
        ours.fit(X, sample_weight=W, epochs=1, batch_size=4, shuffle=False, verbose=0)
    theirs.fit(X, sample_weight=W, epochs=1, batch_size=4, shuffle=False, verbose=0)
    assert _describe(ours.seen) == _describe(theirs.seen) == (_describe(X),)
    with pytest.warns(UserWarning, match=r"evaluate: sample_weight given without y"):
        ours.evaluate(X, sample_weight=W, verbose=0)
    assert _describe(ours.seen[-1]) == _describe(X)
    with pytest.raises(ValueError, match=r"sample_weight"):         # still checked
        ours.fit(X, sample_weight=W[:3], epochs=1, verbose=0)


def _nested_dataset(base):
    """A PyDataset (glassnet's or Keras', ``base``) of two batches of nested float64 arrays."""
    class Nested(base):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return ({"p": X[:2] + i, "n": np.arange(2)}, (Y[:2], (Y[:2] * 2,)))
    return Nested()


def _nested_generator(base):
    while True:
        yield ({"p": X[:2], "n": np.arange(2)}, (Y[:2], (Y[:2] * 2,)))


@pytest.mark.parametrize("data", [lambda base: dict(x=_nested_dataset(base), shuffle=False),
                                  lambda base: dict(x=_nested_generator(base), steps_per_epoch=2, shuffle=False)])
def test_nested_float64_leaves_from_batches_come_in_the_model_dtype(keras, data):
    ours, theirs = Recording(), _keras_recording(keras)
    ours.compile()
    ours.fit(**data(gn.utils.PyDataset), epochs=1, verbose=0)
    theirs.fit(**data(keras.utils.PyDataset), epochs=1, verbose=0)
    assert _describe(ours.seen) == _describe(theirs.seen)      # the same values
    x, y = ours.seen[0]
    # every float leaf in the model's float32, as fit's arrays are (Keras hands these as float64)
    assert x["p"].dtype == y[0].dtype == y[1][0].dtype == np.float32 and x["n"].dtype.kind == "i"
    assert theirs.seen[0][0]["p"].dtype == np.float64


def test_validation_freq_validating_after_no_epoch_warns_as_ordinary_fit():
    model = Recording()
    model.compile()
    with pytest.warns(UserWarning, match=r"fit: validation_freq=5 validates after none of epochs 1 to 3"):
        history = model.fit(X, Y, epochs=3, validation_data=(X, Y), validation_freq=5, verbose=0)
    assert set(history.history) == {"a", "b", "zeta"}       # Keras 3.15: the same keys, no val_
    plain = gn.Sequential([L.Dense(1, input_dim=3)])
    plain.compile(loss="mse")
    with pytest.warns(UserWarning, match=r"fit: validation_freq=5 validates after none of epochs 1 to 3"):
        plain.fit(X, Y, epochs=3, validation_data=(X, Y), validation_freq=5, verbose=0)


def test_save_refusals_are_prefixed_as_save_models(tmp_path):
    class GAN(gn.Model):
        def train_step(self, data):
            return {"loss": 0.0}
    gan, undrawn = GAN(), Compiled()
    gan.compile()
    undrawn.compile(loss="mse")
    with pytest.raises(ValueError, match=r"^save_model: GAN has no call"):
        gan.save(tmp_path / "gan.npz")
    with pytest.raises(ValueError, match=r"^save_weights: GAN has no call, so no weights of its own"):
        gan.save_weights(tmp_path / "gan.npz")
    with pytest.raises(ValueError, match=r"^save_model: Compiled is not drawn yet"):
        undrawn.save(tmp_path / "c.npz")
    with pytest.raises(ValueError, match=r"^to_json: Compiled is not drawn yet"):
        undrawn.to_json()
    assert not list(tmp_path.iterdir())


class _Stop(gn.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt


def _compiled():
    model = Compiled()
    model.build((None, 3))
    model.compile(loss="binary_crossentropy", optimizer="adam")
    return model


def test_backup_and_restore_resumes_a_step_of_its_own_exactly(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3)).astype(np.float32)
    y = (x.sum(1, keepdims=True) > 0).astype(np.float32)
    whole = _compiled()
    history = whole.fit(x, y, epochs=4, batch_size=5, verbose=0).history["loss"]
    cut = _compiled()
    with pytest.raises(KeyboardInterrupt):
        cut.fit(x, y, epochs=4, batch_size=5, verbose=0,
                callbacks=[_Stop(), gn.callbacks.BackupAndRestore(tmp_path)])
    resumed = _compiled()
    rest = resumed.fit(x, y, epochs=4, batch_size=5, verbose=0,
                       callbacks=[gn.callbacks.BackupAndRestore(tmp_path)]).history["loss"]
    # the backup held one epoch: epochs 2 to 4 run again, shuffled as the whole run's were
    assert rest == history[1:]
    for a, b in zip(whole.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_backup_and_restore_refused_where_a_resume_would_be_wrong(tmp_path):
    backup = [gn.callbacks.BackupAndRestore(tmp_path)]
    undrawn = Compiled()
    undrawn.compile(loss="mse")
    with pytest.raises(ValueError, match=r"BackupAndRestore reads a backup into Compiled as fit starts, and "
                                         r"Compiled is not drawn yet"):
        undrawn.fit(X, Y, epochs=1, verbose=0, callbacks=backup)

    class WithCritic(Compiled):
        def __init__(self):
            super().__init__()
            self.critic = gn.Sequential([L.Dense(1, input_dim=3)])
            self.critic.compile(loss="mse", optimizer="sgd")
    drawn = WithCritic()
    drawn.build((None, 3))
    drawn.compile(loss="mse")
    with pytest.raises(ValueError, match=r"BackupAndRestore backs up WithCritic's own layers and compiled "
                                         r"optimizer, not self.critic"):
        drawn.fit(X, Y, epochs=1, verbose=0, callbacks=backup)
    no_loss = Compiled()
    no_loss.build((None, 3))
    no_loss.compile()       # Keras' super().compile(): its step trains something else
    with pytest.raises(ValueError, match=r"BackupAndRestore backs up Compiled's own layers and compiled "
                                         r"optimizer, and Compiled was compiled without a loss"):
        no_loss.fit(X, Y, epochs=1, verbose=0, callbacks=backup)

    class GAN(gn.Model):
        def train_step(self, data):
            return {"loss": 0.0}
    gan = GAN()
    gan.compile()
    with pytest.raises(ValueError, match=r"callbacks: BackupAndRestore saves or restores the model's weights, "
                                         r"and GAN has none"):
        gan.fit(X, epochs=1, verbose=0, callbacks=backup)
    assert not list(tmp_path.iterdir())
