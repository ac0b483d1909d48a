"""compile(loss="crossentropy") and loss="ce" (any case): the cross-entropy the first batch picks,
as Keras 3.15 picks it (keras/src/trainers/compile_utils.py get_loss), checked against Keras itself:
the rule, the histories and final weights of the same fits, the logs' names and the compile config."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.losses import PendingCrossentropy
from glassnet.losses.picked import picked_class
from keras_twins import assert_same_logs

# (output units, activation, targets' kind): every branch of Keras' rule
CASES = [(3, "softmax", "labels"), (3, "softmax", "labels column"), (3, "softmax", "one-hot"),
         (1, "sigmoid", "labels"), (1, "sigmoid", "labels column")]
NAMED = {(3, "labels"): "sparse_categorical_crossentropy", (3, "labels column"): "sparse_categorical_crossentropy",
         (3, "one-hot"): "categorical_crossentropy", (1, "labels"): "binary_crossentropy",
         (1, "labels column"): "binary_crossentropy"}


def targets(rng, units, kind, n=24):
    """Targets of ``kind`` for an output of ``units`` units: labels (n,), a column of them (n, 1),
    or one-hot rows (n, units); 0/1 for one unit."""
    labels = rng.integers(0, max(units, 2), n)
    if kind == "one-hot":
        return np.eye(units)[labels]
    return labels if kind == "labels" else labels[:, None]


def data(rng, n=24):
    return rng.standard_normal((n, 4)).astype(np.float32)


def ours_model(units, activation, dtype="float32"):
    return gn.Sequential([gn.layers.Dense(8, activation="tanh", input_dim=4),
                          gn.layers.Dense(units, activation=activation)], seed=0, dtype=dtype)


def keras_twin(keras, ours):
    """Keras' Sequential of ``ours``' layers, with ``ours``' weights."""
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh"),
                               keras.layers.Dense(ours.layers[-1].units, activation=ours.layers[-1].activation.name)])
    theirs.set_weights(ours.get_weights())
    return theirs


@pytest.mark.parametrize("target_shape, output_shape", [
    ((8,), (8, 1)), ((8, 1), (8, 1)), ((8, 2), (8, 1)), ((8,), (8, 3)), ((8, 1), (8, 3)), ((8, 3), (8, 3)),
    ((8, 5), (8, 5, 3)), ((8, 5, 1), (8, 5, 3)), ((8, 5, 3), (8, 5, 3)), ((8, 5), (8, 5, 1)), ((8, 5, 1), (8, 5, 1))])
def test_the_rule_is_keras(keras, target_shape, output_shape):
    from keras.src.trainers.compile_utils import is_binary_or_sparse_categorical
    is_binary, is_sparse = is_binary_or_sparse_categorical(np.zeros(target_shape), np.zeros(output_shape))
    expected = "binary_crossentropy" if is_binary else "sparse_categorical_crossentropy" if is_sparse \
        else "categorical_crossentropy"
    assert picked_class(target_shape, output_shape).name == expected


@pytest.mark.parametrize("units, activation, kind", CASES)
@pytest.mark.parametrize("name", ["crossentropy", "CE"])
def test_fit_matches_keras(keras, rng, units, activation, kind, name):
    x, y = data(rng), targets(rng, units, kind)
    ours = ours_model(units, activation)
    theirs = keras_twin(keras, ours)
    ours.compile(loss=name, optimizer=gn.optimizers.SGD(0.5), metrics=["Acc"])
    theirs.compile(loss=name, optimizer=keras.optimizers.SGD(0.5), metrics=["Acc"])
    mine = ours.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history
    their = theirs.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history
    assert list(mine) == ["loss", "Acc"]
    assert_same_logs(mine, their, rtol=1e-6, atol=1e-6)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert ours.loss.name == NAMED[units, kind]
    # the name as given, before and after the pick, as Keras' config keeps it
    assert ours.get_compile_config()["loss"] == theirs.get_compile_config()["loss"] == name
    assert_same_logs(ours.evaluate(x, y, verbose=0, return_dict=True),
                     theirs.evaluate(x, y, verbose=0, return_dict=True), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("units, activation, kind", CASES)
def test_trains_as_the_loss_named_fused(rng, units, activation, kind):
    # bit for bit the loss Keras' rule names, on its fused sigmoid/softmax path (compile plans it
    # for a loss named; the pick plans it again)
    x, y = data(rng), targets(rng, units, kind)
    picked, named = ours_model(units, activation), ours_model(units, activation)
    picked.compile(loss="Crossentropy", optimizer="adam", metrics=["accuracy"])
    named.compile(loss=NAMED[units, kind], optimizer="adam", metrics=["accuracy"])
    assert not picked._fused and named._fused         # nothing picked yet: nothing to fuse
    a = picked.fit(x, y, epochs=2, batch_size=8, verbose=0, validation_split=0.25).history
    b = named.fit(x, y, epochs=2, batch_size=8, verbose=0, validation_split=0.25).history
    assert picked._fused
    assert a == b
    for u, v in zip(picked.get_weights(), named.get_weights()):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("call", ["evaluate", "train_on_batch", "test_on_batch"])
def test_the_first_call_of_any_kind_picks(rng, call):
    x, y = data(rng), targets(rng, 3, "one-hot")
    picked, named = ours_model(3, "softmax"), ours_model(3, "softmax")
    picked.compile(loss="ce", optimizer="sgd")
    named.compile(loss="categorical_crossentropy", optimizer="sgd")
    assert getattr(picked, call)(x, y, **({"verbose": 0} if call == "evaluate" else {})) == \
        getattr(named, call)(x, y, **({"verbose": 0} if call == "evaluate" else {}))
    assert type(picked.loss) is type(named.loss) and picked._fused


@pytest.mark.parametrize("units, activation, kind", CASES[::2])
def test_gradient_of_the_picked_loss_float64(rng, units, activation, kind):
    model = ours_model(units, activation, dtype="float64")
    model.compile(loss="ce", optimizer="sgd")
    report = gn.gradcheck.check_model(model, data(rng, 6).astype(np.float64), targets(rng, units, kind, 6))
    assert model._fused and report["max_error"] < 1e-5


def test_several_outputs_list_and_dict_match_keras(keras, rng):
    x = data(rng)
    y = {"a": targets(rng, 3, "labels column"), "b": targets(rng, 1, "labels")}

    def build(lib):
        inputs = lib.Input((4,))
        hidden = lib.layers.Dense(8, activation="tanh", name="h")(inputs)
        return inputs, [lib.layers.Dense(3, activation="softmax", name="a")(hidden),
                        lib.layers.Dense(1, activation="sigmoid", name="b")(hidden)]

    for loss, metrics, given in ((["ce", "CrossEntropy"], [["acc"], ["accuracy"]], [y["a"], y["b"]]),
                                 ({"a": "CE", "b": "ce"}, {"a": ["accuracy"]}, y)):
        ours = gn.Model(*build(gn), seed=0)
        theirs = keras.Model(*build(keras))
        for layer in ours.layers:
            if layer.params:
                theirs.get_layer(layer.name).set_weights(layer.get_weights())
        ours.compile(loss=loss, optimizer=gn.optimizers.SGD(0.5), metrics=metrics)
        theirs.compile(loss=loss, optimizer=keras.optimizers.SGD(0.5), metrics=metrics)
        mine = ours.fit(x, given, epochs=2, batch_size=8, shuffle=False, verbose=0).history
        their = theirs.fit(x, given, epochs=2, batch_size=8, shuffle=False, verbose=0).history
        assert_same_logs(mine, their, rtol=1e-6, atol=1e-6)
        assert [type(head.loss).__name__ for head in ours._heads] == ["SparseCategoricalCrossentropy",
                                                                       "BinaryCrossentropy"]
        assert all(head.fused for head in ours._heads)
        # glassnet's config lists the outputs' losses in their order, each as given
        assert ours.get_compile_config()["loss"] == (loss if isinstance(loss, list) else [loss["a"], loss["b"]])
        assert theirs.get_compile_config()["loss"] == loss


def test_model_file_keeps_the_name_and_picks_again(tmp_path, rng):
    x, y = data(rng), targets(rng, 3, "labels")
    model = ours_model(3, "softmax")
    model.compile(loss="CE", optimizer="sgd")
    model.save(tmp_path / "before.npz")             # not picked yet: saved all the same
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "after.npz")
    for file in ("before.npz", "after.npz"):
        loaded = gn.load_model(tmp_path / file)
        assert isinstance(loaded.loss, PendingCrossentropy) and loaded.get_compile_config()["loss"] == "CE"
        # a new pick, from these targets: one-hot rows this time
        loaded.fit(x, np.eye(3)[y], epochs=1, verbose=0)
        assert type(loaded.loss).__name__ == "CategoricalCrossentropy"
    twin = gn.models.clone_model(model)
    twin.compile_from_config(model.get_compile_config())
    assert isinstance(twin.loss, PendingCrossentropy)


def test_not_a_metric_nor_a_loss_outside_compile_as_in_keras(keras, rng):
    for name in ("crossentropy", "ce", "CE"):
        with pytest.raises(ValueError, match="metric"):
            ours_model(3, "softmax").compile(loss="ce", metrics=[name])
        theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
        theirs.compile(loss="ce", metrics=[name])
        with pytest.raises(ValueError, match="Could not interpret metric identifier"):
            theirs.fit(data(rng), targets(rng, 3, "labels"), verbose=0)
        with pytest.raises(ValueError, match="compile"):
            gn.losses.get(name)
        with pytest.raises(ValueError, match="Could not interpret loss identifier"):
            keras.losses.get(name)
    with pytest.raises(ValueError, match="first batch"):
        PendingCrossentropy("ce")(np.ones((2, 3)) / 3, np.array([0, 1]))
    with pytest.raises(ValueError, match="given must be one of"):
        PendingCrossentropy("bce")


def test_subclass_compiled_before_its_draw(rng):
    class Net(gn.Model):
        def __init__(self):
            super().__init__(seed=0)
            self.hidden, self.out = gn.layers.Dense(8, activation="tanh"), gn.layers.Dense(1, activation="sigmoid")

        def call(self, x):
            return self.out(self.hidden(x))

    model = Net()
    model.compile(loss="ce", optimizer="sgd")
    model.fit(data(rng), targets(rng, 1, "labels"), epochs=1, verbose=0)
    assert type(model.loss).__name__ == "BinaryCrossentropy" and model._fused
    assert model.get_compile_config()["loss"] == "ce"


def test_refused_where_the_model_runs_its_own_train_step():
    # a model of no layers of its own (Keras' GAN): compile keeps the loss for its own train_step
    # to call, and a placeholder has nothing to give it (Keras picks when compute_loss first runs)
    class Stepper(gn.Model):
        def __init__(self):
            super().__init__()
            self.net = ours_model(1, "sigmoid")

        def train_step(self, data):
            return {}

    with pytest.raises(ValueError, match="own train_step does not run"):
        Stepper().compile(loss="CE", optimizer="sgd")


def test_backup_and_restore_resumes(tmp_path, rng):
    # the backup file keeps "ce" (not picked when loaded); the model fit picked from the same name
    x, y = data(rng), targets(rng, 3, "labels")

    class Crash(gn.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    def make():
        model = ours_model(3, "softmax")
        model.compile(loss="ce", optimizer="sgd")
        return model

    with pytest.raises(KeyboardInterrupt):
        make().fit(x, y, epochs=4, verbose=0, callbacks=[gn.callbacks.BackupAndRestore(tmp_path), Crash()])
    resumed = make().fit(x, y, epochs=4, verbose=0, callbacks=[gn.callbacks.BackupAndRestore(tmp_path)])
    whole = make().fit(x, y, epochs=4, verbose=0)
    assert resumed.epoch == [2, 3]
    np.testing.assert_allclose(resumed.history["loss"], whole.history["loss"][2:], rtol=1e-6)
    # another loss named is still another run's backup (a run that ended left none: crash again)
    with pytest.raises(KeyboardInterrupt):
        make().fit(x, y, epochs=4, verbose=0, callbacks=[gn.callbacks.BackupAndRestore(tmp_path), Crash()])
    other = ours_model(3, "softmax")
    other.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    with pytest.raises(ValueError, match="was made with the loss"):
        other.fit(x, y, epochs=4, verbose=0, callbacks=[gn.callbacks.BackupAndRestore(tmp_path)])
