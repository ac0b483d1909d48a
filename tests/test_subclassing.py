"""Keras' model subclassing: a subclass of ``gn.Model`` with layers made in ``__init__`` and used in
``call``, drawn as a functional model on its first data (graph.Model._draw)."""
import pickle

import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_model

L = gn.layers


class Residual(gn.Model):
    """dense -> [dense + shortcut] -> dropout -> softmax: a graph, not a chain."""

    def __init__(self, units=8, classes=3, **kwargs):
        super().__init__(**kwargs)
        self.first = L.Dense(units, activation="tanh")
        self.second = L.Dense(units, activation="tanh")
        self.drop = L.Dropout(0.2)
        self.head = L.Dense(classes, activation="softmax")

    def call(self, inputs, training=None):
        h = self.first(inputs)
        return self.head(self.drop(L.Add()([h, self.second(h)])))


def _functional(units=8, classes=3, **kwargs):
    inputs = gn.Input((5,))
    h = L.Dense(units, activation="tanh")(inputs)
    out = L.Dense(classes, activation="softmax")(L.Dropout(0.2)(L.Add()([h, L.Dense(units, activation="tanh")(h)])))
    return gn.Model(inputs, out, **kwargs)


def test_drawn_on_first_data_it_trains_as_the_same_functional_model(rng):
    x, y = rng.standard_normal((40, 5)).astype(np.float32), rng.integers(0, 3, 40)
    gn.utils.clear_session()        # default names are numbered per session, as Keras': the first is "residual"
    mine, same = Residual(seed=3), _functional(seed=3)
    assert mine.name == "residual" and not mine.built and mine.layers == []
    mine.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])   # before drawn
    same.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    history = mine.fit(x, y, epochs=3, batch_size=8, verbose=0).history
    # Keras' order for a subclass: its attributes as assigned, then (glassnet) the Add its call made
    assert mine.built and [type(layer).__name__ for layer in mine.layers] == ["Dense", "Dense", "Dropout", "Dense", "Add"]
    assert mine.layers[0] is mine.first and mine.input_shape == (None, 5)
    np.testing.assert_array_equal(history["loss"], same.fit(x, y, epochs=3, batch_size=8, verbose=0).history["loss"])
    np.testing.assert_array_equal(mine.predict(x), same.predict(x))


def test_gradients_files_copies_and_the_functional_model_it_loads_as(rng, tmp_path):
    x, y = rng.standard_normal((10, 5)), rng.integers(0, 3, 10)
    model = Residual(seed=0, dtype="float64")
    model.build((None, 5))                  # Keras' form, as a functional model's
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    assert check_model(model, x, y)["max_error"] < 1e-7
    model.save(str(tmp_path / "m.npz"))
    with pytest.warns(UserWarning, match="Residual.*custom_objects"):
        loaded = gn.load_model(str(tmp_path / "m.npz"))
    assert type(loaded) is gn.Model        # no code in a file: the same graph and weights, as a Model
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    # the class given: made again from the arguments it was made with (Keras' auto config)
    again = gn.load_model(str(tmp_path / "m.npz"), custom_objects={"Residual": Residual})
    assert type(again) is Residual and again.layers[0] is again.first
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    assert type(Residual.from_config(model.get_config())) is Residual
    copied = pickle.loads(pickle.dumps(model))
    assert type(copied) is Residual and copied.layers[0] is copied.first
    np.testing.assert_array_equal(copied.predict(x), model.predict(x))


def test_several_inputs_and_outputs_and_nesting(rng):
    class TwoWays(gn.Model):
        def __init__(self):
            super().__init__(seed=0)
            self.a, self.b = L.Dense(4), L.Dense(4)
            self.score, self.value = L.Dense(1, activation="sigmoid", name="score"), L.Dense(2, name="value")

        def call(self, inputs):
            left, right = inputs
            h = L.Add()([self.a(left), self.b(right)])
            return [self.score(h), self.value(h)]

    model = TwoWays()
    assert model.name == "two_ways"
    model.compile(loss=["binary_crossentropy", "mse"], loss_weights=[1, 0.5], optimizer="adam", metrics={"score": "accuracy"})
    xa, xb = rng.standard_normal((16, 3)), rng.standard_normal((16, 2))
    history = model.fit([xa, xb], [rng.integers(0, 2, 16), rng.standard_normal((16, 2))], epochs=2, verbose=0).history
    assert model.input_shapes == [(3,), (2,)] and {"score_accuracy", "value_loss"} <= set(history)
    # a subclassed model called on tensors, inside a functional one: its call runs there, its
    # layers join (built by the outer model, with its seed and dtype); it is drawn on its own use
    inner = Residual(seed=1, dtype="float64")
    inputs = gn.Input((5,))
    outer = gn.Model(inputs, L.Dense(1)(inner(inputs)), seed=4, dtype="float64")
    # built once the model around it is, as Keras marks a layer called on tensors
    assert inner.built and outer.layers[0] is inner.first and inner.first.dtype == np.float64
    x = rng.standard_normal((3, 5))
    np.testing.assert_array_equal(gn.Model(inputs, inner.head.output, dtype="float64").predict(x), inner.predict(x))


def test_what_call_cannot_do_is_refused_by_name(rng):
    class Doubles(gn.Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(2)

        def call(self, inputs):
            return self.dense(inputs) * 2

    # arithmetic on the tensors in call is a TensorOp call now (tests/test_tensor_ops.py); what
    # glassnet has no layer for is still refused by name
    doubles, x = Doubles(), rng.standard_normal((3, 4))
    np.testing.assert_allclose(doubles.predict(x), 2 * doubles.dense(x), rtol=1e-6)

    class Floors(Doubles):
        def call(self, inputs):
            return self.dense(inputs) // 2          # ops.floor_divide's node, as Keras 3's

    floors = Floors()
    np.testing.assert_allclose(floors.predict(x), np.floor_divide(floors.dense(x), 2), rtol=1e-6)

    class Iterates(Doubles):
        def call(self, inputs):
            return sum(self.dense(inputs))

    with pytest.raises(TypeError, match="holds no values yet.*Layer of your own"):
        Iterates().predict(x)

    class Numbers(gn.Model):
        def call(self, inputs):
            return np.zeros(3)

    with pytest.raises(TypeError, match="must return what its layers returned"):
        Numbers().build((4,))
    with pytest.raises(TypeError, match="subclass Model and define call"):
        gn.Model()
    with pytest.raises(TypeError, match="give both inputs and outputs"):
        gn.Model(gn.Input((3,)))
    with pytest.raises(ValueError, match="loss: expected one of"):
        Residual().compile(loss="nope")
    with pytest.raises(ValueError, match="loss: expected a loss, got 'adam', an optimizer"):
        Residual().compile("adam")
    model = Residual()
    with pytest.raises(ValueError, match="compile"):
        model.fit(rng.standard_normal((4, 5)), [0, 1, 2, 0])
    # a dict of arrays is handed to call as it is (Keras 3's); this call gives it to a Dense
    with pytest.raises(TypeError, match=r"layer Dense: takes one input, got a dict of 1 \(\['a'\]\)"):
        model.predict({"a": rng.standard_normal((4, 5))})
    assert not model.built and model.layers == []       # a refused draw leaves nothing behind


def test_the_readme_example_trains_on_digits():
    import re
    from pathlib import Path
    pytest.importorskip("sklearn", reason="the digits dataset comes with scikit-learn")
    readme = Path(__file__).resolve().parents[1] / "docs" / "guide" / "subclassing.md"
    if not readme.exists():
        pytest.skip("docs/guide/subclassing.md is not next to the tests")
    text = readme.read_text(encoding="utf-8")
    section = text[text.index("Keras' model subclassing works too"):]
    (x, labels), (x_test, labels_test) = gn.datasets.digits()
    namespace = {"gn": gn, "x": x, "labels": labels}
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1).replace("epochs=5)", "epochs=5, verbose=0)")
    gn.utils.clear_session()        # (default names are numbered per session, as Keras': a fresh one)
    exec(compile(code, str(readme), "exec"), namespace)
    model = namespace["model"]
    assert model.name == "residual" and model.layers[0] is model.first
    assert np.mean(model.predict(x_test).argmax(axis=1) == labels_test) > 0.9


class Encoder(gn.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = L.Dense(3, activation="tanh")
        self.drop = L.Dropout(0.5)

    def call(self, inputs):
        return self.drop(self.dense(inputs))


class AutoEncoder(gn.Model):
    def __init__(self, freeze=False, **kwargs):
        super().__init__(**kwargs)
        self.encoder = Encoder()
        if freeze:
            self.encoder.trainable = False          # before anything is drawn: Keras' transfer learning
        self.decoder = L.Dense(6)

    def call(self, inputs):
        return self.decoder(self.encoder(inputs))


def test_nested_subclasses_take_the_outer_seed_dtype_and_freezing(rng):
    x = rng.standard_normal((16, 6))
    first, second = AutoEncoder(seed=0), AutoEncoder(seed=0)
    first.build((None, 6)), second.build((None, 6))
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)         # one seed, the same weights, nested layers too
    assert AutoEncoder(seed=0, dtype="float64").predict(x).dtype == np.float64
    frozen = AutoEncoder(freeze=True, seed=0)
    frozen.compile(loss="mse", optimizer="sgd")
    before = frozen.encoder.dense if frozen.built else None
    assert before is None
    frozen.fit(x, x, epochs=2, verbose=0)
    kernel = frozen.encoder.dense.params["kernel"].copy()
    frozen.fit(x, x, epochs=2, verbose=0)
    np.testing.assert_array_equal(frozen.encoder.dense.params["kernel"], kernel)
    assert not frozen.layers[0].trainable and frozen.layers[-1].trainable
    whole = Residual(seed=0)
    whole.trainable = False                         # a whole subclass frozen before its draw
    whole.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    whole.fit(rng.standard_normal((8, 5)), rng.integers(0, 3, 8), verbose=0)
    assert not whole.trainable and all(not layer.trainable for layer in whole.layers)


def test_first_data_from_batches_json_sweeps_and_what_an_undrawn_model_refuses(rng, tmp_path):
    x, y = rng.standard_normal((24, 5)), rng.integers(0, 3, 24)

    class Batches(gn.utils.PyDataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return x[8 * i:8 * i + 8], y[8 * i:8 * i + 8]

    model = Residual(seed=0)
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    assert set(model.evaluate(Batches(), return_dict=True)) == {"loss", "accuracy"}     # drawn by its first batch
    assert gn.model_from_json(model.to_json()).count_params() == model.count_params()
    assert '"class_name": "Model"' in model.to_json()
    with pytest.raises(ValueError, match="is not drawn yet"):
        Residual().save(str(tmp_path / "undrawn.npz"))
    pytest.importorskip("dask", reason="dask not installed")
    from glassnet.dask import best_model, sweep

    def build(units=4):
        built = Residual(units=units, seed=0)
        built.compile(loss="sparse_categorical_crossentropy", optimizer="adam")     # before its draw
        return built

    results = sweep(build, {"units": [2, 4]}, x, y, scheduler="synchronous", fit_kwargs={"epochs": 1, "verbose": 0})
    np.testing.assert_allclose(best_model(results, build).predict(x), best_model(results).predict(x), rtol=1e-6)


def test_call_conventions_and_what_a_draw_refuses(rng):
    class WithTraining(gn.Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(2)

        def call(self, inputs, training):           # no default: Keras fills it in
            return self.dense(inputs)

    assert WithTraining().predict(rng.standard_normal((3, 4))).shape == (3, 2)

    class FixedMode(gn.Model):
        def __init__(self):
            super().__init__(seed=0)
            self.norm, self.out = L.BatchNormalization(), L.Dense(1)

        def call(self, inputs):
            return self.out(self.norm(inputs, training=False))      # Keras: this call infers, in fit too

    fixed = FixedMode()
    fixed.compile(loss="mse", optimizer="sgd")
    fixed.fit(rng.standard_normal((16, 4)) * 3 + 1, rng.standard_normal((16, 1)), epochs=2, verbose=0)
    np.testing.assert_array_equal(fixed.norm.state["moving_mean"], 0)          # never updated
    assert not np.allclose(fixed.norm.params["gamma"], 1)                        # but trained

    class TwoInputs(gn.Model):
        def __init__(self):
            super().__init__()
            self.a, self.b = L.Dense(2), L.Dense(2)

        def call(self, inputs):
            return L.Add()([self.a(inputs[0]), self.b(inputs[1])])

    two = TwoInputs()
    two.build([(None, 3), (None, 4)])
    assert [given.name for given in two.inputs] == ["input_layer", "input_layer_1"]

    class Scales(gn.Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(2)

        def call(self, inputs):
            return self.dense(inputs / 255.0)

    scales = Scales()       # a TensorOp now, as Keras 3's true_divide
    scales.build((None, 4))
    # the layers __init__ assigned first (Keras' order, which lists only those), then the call's own
    assert [layer.name for layer in scales.layers] == ["dense", "true_divide"]

    class Mods(Scales):
        def call(self, inputs):
            return self.dense(inputs % 255.0)        # ops.mod's node, as Keras 3's

    mods = Mods()
    mods.build((None, 4))
    assert [layer.name for layer in mods.layers] == ["dense", "mod"]

    class Iterates(Scales):
        def call(self, inputs):
            return self.dense(list(inputs)[0])

    with pytest.raises(TypeError, match="holds no values.*Layer of your own"):
        Iterates().build((None, 4))

    class Custom(gn.Model):
        def call(self, inputs):
            return inputs

        def compute_loss(self, x=None, y=None, y_pred=None):
            return 0.0

    # (Keras' steps are run: tests/test_train_step.py, tests/test_default_steps.py)
    assert Custom()._own_steps
    with pytest.raises(ValueError, match="build: expected the shape of the inputs"):
        Residual().build(5)
    assert [type(m).__name__ for m in ()] == [] and gn.Model.__name__ == "Model"

    class MyCNNModel(Residual):
        pass

    assert MyCNNModel().name == "my_cnn_model"
    failing = Residual()
    with pytest.raises(ValueError, match="optimizer"):
        failing.compile(loss="mse", optimizer="nope")
    with pytest.raises(TypeError, match="metrics: expected a list"):
        failing.compile(loss="mse", metrics="accuracy")
    with pytest.raises(ValueError, match="metric: expected one of"):
        failing.compile(loss="mse", metrics=["nope"])
    assert failing._deferred_compile is None and failing.optimizer is None


def test_a_failed_draw_leaves_no_trace_and_a_retry_works(rng):
    class Flaky(gn.Model):
        def __init__(self):
            super().__init__()
            self.dense, self.fail = L.Dense(2), True

        def call(self, inputs):
            h = self.dense(inputs)
            if self.fail:
                raise RuntimeError("not yet")
            return h

    model = Flaky()
    with pytest.raises(RuntimeError):
        model.build((None, 4))
    model.fail = False
    model.build((None, 4))
    assert gn.Model(model.input, model.dense.output).predict(rng.standard_normal((2, 4))).shape == (2, 2)


def test_review_of_the_fixes_nesting_names_compiles_and_modes(rng, tmp_path):
    # two Sequentials not built yet, each naming its layers dense, dense_1: renamed in the graph
    encode = gn.Sequential([L.Dense(8), L.Dense(2)])
    decode = gn.Sequential([L.Dense(8), L.Dense(4)])
    inputs = gn.Input((4,))
    assert [layer.name for layer in gn.Model(inputs, decode(encode(inputs))).layers] == \
        ["dense", "dense_1", "dense_2", "dense_3"]
    # a compile that fails when the model is drawn is dropped, with a clear error
    model = Residual()
    model.compile(loss="sparse_categorical_crossentropy", loss_weights=[1.0, 0.5])
    x, y = rng.standard_normal((8, 5)), rng.integers(0, 3, 8)
    with pytest.raises(ValueError, match="the compile given before Residual was drawn; it is dropped"):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="call compile"):
        model.fit(x, y, verbose=0)
    # [x] is one input
    listed = Residual(seed=0)
    assert listed.predict([x]).shape == (8, 3) and listed.input_shape == (None, 5)
    # a nested subclass frozen, then unfrozen for fine-tuning after the outer model was drawn
    model = AutoEncoder(freeze=True, seed=0)
    model.compile(loss="mse", optimizer="sgd")
    data = rng.standard_normal((8, 6))
    model.fit(data, data, verbose=0)
    assert not model.encoder.trainable
    model.encoder.trainable = True
    model.compile(loss="mse", optimizer="sgd")
    kernel = model.encoder.dense.params["kernel"].copy()
    model.fit(data, data, verbose=0)
    assert model.encoder.trainable and not np.array_equal(model.encoder.dense.params["kernel"], kernel)


def test_a_call_s_training_mode_is_kept_as_keras_keeps_it(rng, tmp_path):
    base = gn.Sequential([L.Dense(4, input_dim=3), L.BatchNormalization(), L.Dropout(0.5)], seed=0)
    inputs = gn.Input((3,))
    model = gn.Model(inputs, L.Dense(1)(base(inputs, training=False)), seed=0)      # Keras' transfer learning
    assert model.get_config()["modes"] == [False, False, False, None]
    model.compile(loss="mse", optimizer="sgd")
    x, y = rng.standard_normal((16, 3)) * 2 + 1, rng.standard_normal((16, 1))
    model.fit(x, y, epochs=2, verbose=0)
    np.testing.assert_array_equal(base.layers[1].state["moving_mean"], 0)      # inference mode in fit
    np.testing.assert_array_equal(model.predict(x), model(x, training=True))    # no dropout either
    model.save(str(tmp_path / "m.npz"))
    again = gn.load_model(str(tmp_path / "m.npz"))
    assert again._call_modes == [False, False, False, None]
    np.testing.assert_array_equal(again.predict(x), model.predict(x))


def test_a_call_s_own_mode_stays_inside_a_model_called_with_another(rng, tmp_path):
    class Inner(gn.Model):
        def __init__(self):
            super().__init__()
            self.dense, self.drop = L.Dense(4), L.Dropout(0.5)

        def call(self, inputs):
            return self.drop(self.dense(inputs), training=False)

    for drawn in (False, True):
        inner = Inner()
        if drawn:
            inner.build((None, 4))
        inputs = gn.Input((4,))
        model = gn.Model(inputs, L.Dense(1)(inner(inputs, training=True)))
        assert model._call_modes == [True, False, None], drawn        # the inner call's own False stays
    with pytest.raises(TypeError, match="training"):
        gn.Model(inputs, L.Dense(1)(Inner()(inputs, training="no")))
    # BackupAndRestore refuses the backup of a model whose calls ran in other modes
    base = gn.Sequential([L.Dense(3, input_dim=4), L.BatchNormalization()])
    x, y = rng.standard_normal((16, 4)), rng.standard_normal((16, 1))

    def make(mode):
        made_inputs = gn.Input((4,))
        made = gn.Model(made_inputs, L.Dense(1, name="head")(base(made_inputs, training=mode)), seed=0)
        made.compile(loss="mse", optimizer="sgd")
        return made

    class Interrupt(gn.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    backup = str(tmp_path / "backup")
    with pytest.raises(KeyboardInterrupt):
        make(False).fit(x, y, epochs=3, verbose=0, callbacks=[gn.callbacks.BackupAndRestore(backup), Interrupt()])
    with pytest.raises(ValueError, match="backup"):
        make(None).fit(x, y, epochs=3, verbose=0, callbacks=[gn.callbacks.BackupAndRestore(backup)])



def test_a_model_called_on_a_tensor_without_training_gives_its_calls_no_mode(rng):
    base_inputs = gn.Input((3,))
    base = gn.Model(base_inputs, L.Dropout(0.5)(L.Dense(4)(base_inputs)), seed=0)
    inputs = gn.Input((3,))
    for nested in (base, gn.Sequential([L.Dense(4, input_dim=3), L.Dropout(0.5)])):
        top = gn.Model(inputs, L.Dense(1)(nested(inputs)), seed=0)
        assert top._call_modes is None                   # fit trains them, predict infers: the pass decides
        x = rng.standard_normal((64, 3))
        assert not np.allclose(top(x, training=True), top(x))      # its Dropout drops in training
