"""Keras 3.15's attributes left out at stop 51, beside Keras 3.15 on the same small models:
``model.metrics_variables`` and ``metric.variables`` (glassnet.metrics.keras_variables), the result
type of ``metric.result()`` (glassnet.metrics.result_value), models' ``supports_masking`` and
``compute_mask``, compile's run settings (glassnet._run_settings), the random layers' seed state,
and the stop-51 attributes in float64 and on wrappers."""
import json
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet.metrics.keras_variables import metric_variable_items, model_metric_items
from test_keras_surface_attrs import _flat


@pytest.fixture(autouse=True)
def _fresh_names():
    gn.utils.clear_session()
    yield
    gn.utils.clear_session()


def _data(n=12):
    rng = np.random.default_rng(1)
    return rng.normal(size=(n, 3)).astype("float32"), (rng.random((n, 2)) > 0.5).astype("float32")


def _pair(keras, metrics_k, metrics_g):
    keras.utils.clear_session()
    k = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, "relu", name="d1"),
                          keras.layers.Dense(2, "sigmoid", name="d2")], name="seq")
    g = gn.Sequential([L.Input((3,)), L.Dense(4, "relu", name="d1"), L.Dense(2, "sigmoid", name="d2")], name="seq")
    g.set_weights(k.get_weights())
    k.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", metrics=metrics_k)
    g.compile(optimizer=gn.optimizers.SGD(0.1), loss="mse", metrics=metrics_g)
    return k, g


# -- model.metrics_variables ------------------------------------------------------------------

def test_metrics_variables_as_keras(keras):
    keras.utils.clear_session()         # (Keras numbers a metric's name after others made: "precision_1")
    k, g = _pair(keras, ["mae", "accuracy", keras.metrics.Precision(), keras.metrics.AUC(num_thresholds=5)],
                 ["mae", "accuracy", gn.metrics.Precision(), gn.metrics.AUC(num_thresholds=5)])
    # compiled, before any run: the loss tracker alone (Keras builds the compiled metrics at the first batch)
    assert [p for p, _ in model_metric_items(g)] == [v.path for v in k.metrics_variables] == ["loss/total",
                                                                                            "loss/count"]
    assert all(float(v) == 0 for v in g.metrics_variables)
    x, y = _data()
    for run in ("fit", "evaluate"):
        if run == "fit":        # one epoch of batches of 4: the variables hold the epoch's counts
            k.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
            g.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
        else:                   # evaluate resets them and holds its own
            k.evaluate(x[:8], y[:8], batch_size=3, verbose=0)
            g.evaluate(x[:8], y[:8], batch_size=3, verbose=0)
        paths = [v.path for v in k.metrics_variables]
        assert [p for p, _ in model_metric_items(g)] == paths, run
        assert len(g.metrics_variables) == len(paths) == 12
        for (path, a), b in zip(model_metric_items(g), k.metrics_variables):
            assert a.shape == tuple(b.shape) and a.dtype == np.dtype(b.dtype), path
            np.testing.assert_allclose(a, np.asarray(b), rtol=2e-5, atol=2e-5, err_msg=f"{run} {path}")


def test_metric_variables_per_class_as_keras(keras):
    rng = np.random.default_rng(3)
    y = (rng.random((20, 3)) > 0.5).astype("float32")
    p = rng.random((20, 3)).astype("float32")
    w = rng.random(20).astype("float32")
    cases = [("Mean", (), {}), ("Sum", (), {}), ("BinaryAccuracy", (), {}), ("CategoricalAccuracy", (), {}),
             ("Precision", (), {"thresholds": 0.3}), ("Recall", (), {}), ("AUC", (), {"num_thresholds": 7}),
             ("TruePositives", (), {}), ("FalseNegatives", (), {"thresholds": 0.7}),
             ("PrecisionAtRecall", (0.5,), {"num_thresholds": 9}), ("RootMeanSquaredError", (), {}),
             ("MeanAbsoluteError", (), {}), ("F1Score", (), {"threshold": 0.5, "average": "macro"}), ("MeanIoU", (2,), {}),
             ("Hinge", (), {})]
    for name, args, kwargs in cases:
        km, gm = getattr(keras.metrics, name)(*args, **kwargs), getattr(gn.metrics, name)(*args, **kwargs)
        if name in ("Mean", "Sum"):
            km.update_state(p[:, 0], sample_weight=w)
            gm.update_state(p[:, 0], sample_weight=w)
        elif name == "MeanIoU":
            km.update_state(y[:, 0], (p[:, 0] > 0.5).astype("float32"))
            gm.update_state(y[:, 0], (p[:, 0] > 0.5).astype("float32"))
        else:
            km.update_state(y, p)
            gm.update_state(y, p)
        items = metric_variable_items(gm)
        assert [n for n, _ in items] == [v.name for v in km.variables], name
        assert [v.shape for v in gm.variables] == [tuple(v.shape) for v in km.variables], name
        assert [v.dtype for v in gm.variables] == [np.dtype(v.dtype) for v in km.variables], name
        for (key, a), b in zip(items, km.variables):
            np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-5, err_msg=f"{name} {key}")
        # the result too, and as Keras code reads it
        np.testing.assert_allclose(float(gm.result()), float(km.result()), rtol=1e-5, atol=1e-6, err_msg=name)
        assert gm.result().numpy().dtype == km.result().numpy().dtype == np.float32


def test_metric_of_yours_lists_its_variables():
    class Hits(gn.metrics.Metric):
        def __init__(self, name="hits", **kwargs):
            super().__init__(name=name, **kwargs)
            self.hits = self.add_variable(shape=(), initializer="zeros", name="hits")
            self.seen = self.add_variable(shape=(2,), initializer="zeros", name="seen")

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.hits.assign_add(float(np.sum(np.round(y_pred) == y_true)))

        def reset_state(self):
            self.hits.assign(0.0)

        def result(self):
            return self.hits.numpy()

    m = Hits()
    assert [v.name for v in m.variables] == ["hits", "seen"] and m.variables[0] is m.hits
    m.update_state(np.array([1.0, 0.0]), np.array([0.9, 0.8]))
    assert float(m.variables[0].numpy()) == 1.0


def test_metrics_variables_uncompiled_and_loss_only():
    model = gn.Sequential([L.Input((3,)), L.Dense(2)])
    assert model.metrics_variables == []
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((5, 3), "float32"), np.zeros((5, 2), "float32")
    loss = model.evaluate(x, y, verbose=0)
    total, count = model.metrics_variables
    assert count == 5 and np.isclose(total, 5 * loss, rtol=1e-6)


# -- metric.result() ---------------------------------------------------------------------------

def test_result_reads_as_keras_code_reads_it(keras):
    km, gm = keras.metrics.Mean(), gn.metrics.Mean()
    km.update_state([1.0, 2.0, 4.0])
    gm.update_state([1.0, 2.0, 4.0])
    r = gm.result()
    assert isinstance(r, float) and r == 7 / 3             # a float: logs, History, callbacks as before
    assert r.numpy() == km.result().numpy() and type(r.numpy()) is np.float32
    assert float(r) == pytest.approx(float(km.result()))
    assert f"{r:.4f}" == "2.3333" and json.loads(json.dumps({"m": r})) == {"m": 7 / 3}
    assert r > 2 and r.shape == () and r.dtype == "float32"
    assert float(gn.ops.add(r, 1.0)) == pytest.approx(float(keras.ops.add(km.result(), 1.0)), rel=1e-6)
    assert float(gn.ops.convert_to_numpy(r)) == pytest.approx(7 / 3)
    # fit's History and logs hold plain numbers, as before
    model = gn.Sequential([L.Input((3,)), L.Dense(1)], seed=0)
    model.compile(optimizer="sgd", loss="mse", metrics=[gn.metrics.MeanAbsoluteError()])
    history = model.fit(np.ones((4, 3)), np.ones((4, 1)), epochs=1, verbose=0)
    assert type(history.history["mean_absolute_error"][0]) is float
    assert model._compiled_metrics[0][1].result().numpy().dtype == np.float32


# -- supports_masking, compute_mask --------------------------------------------------------------

def test_models_supports_masking_and_compute_mask_as_keras(keras):
    keras.utils.clear_session()
    x = np.array([[1, 2, 0, 0], [3, 0, 0, 0]])
    given = np.array([[True, True, True, False], [True] * 4])
    ks = keras.Sequential([keras.Input((4,), dtype="int32"), keras.layers.Embedding(10, 3, mask_zero=True),
                           keras.layers.LSTM(2, return_sequences=True)])
    gs = gn.Sequential([L.Input((4,), dtype="int32"), L.Embedding(10, 3, mask_zero=True),
                        L.LSTM(2, return_sequences=True)])
    ki = keras.Input((4,), dtype="int32")
    km = keras.Model(ki, keras.layers.LSTM(2, return_sequences=True)(keras.layers.Embedding(10, 3, mask_zero=True)(ki)))
    gi = gn.Input((4,), dtype="int32")
    gm = gn.Model(gi, L.LSTM(2, return_sequences=True)(L.Embedding(10, 3, mask_zero=True)(gi)))
    for k, g in ((ks, gs), (km, gm)):
        assert g.supports_masking is k.supports_masking is False
        assert g.compute_mask(x, None) is None and k.compute_mask(x, None) is None     # (not the output's)
        assert np.array_equal(g.compute_mask(x, given), np.asarray(k.compute_mask(x, given)))
    gs.supports_masking = True
    assert gs.supports_masking is True and "supports_masking" in vars(gs)
    with pytest.raises(TypeError, match="supports_masking"):
        gs.supports_masking = "yes"


def test_subclass_compute_mask_and_super():
    class Block(gn.Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(2)

        def call(self, x):
            return self.dense(x)

    class Masked(Block):
        def compute_mask(self, inputs, mask=None):
            return super().compute_mask(inputs, mask)

    assert Block().supports_masking is False
    assert Masked().supports_masking is True           # a class defining compute_mask (Keras' default)
    assert Masked().compute_mask(None, "m") == "m"
    from glassnet import _block_masks
    assert not _block_masks.is_masked_block(Block()) and _block_masks.is_masked_block(Masked())


# -- compile's run settings ---------------------------------------------------------------------

def test_compile_run_settings_as_keras(keras):
    keras.utils.clear_session()
    k = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    g = gn.Sequential([L.Input((3,)), L.Dense(2)])
    run = ("run_eagerly", "steps_per_execution", "jit_compile")
    k.compile(optimizer="adam", loss="mse")
    g.compile(optimizer="adam", loss="mse")
    assert {key: g.get_compile_config()[key] for key in run} == {key: k.get_compile_config()[key] for key in run}
    settings = dict(run_eagerly=True, steps_per_execution=4, jit_compile=False, auto_scale_loss=False)
    k.compile(optimizer="adam", loss="mse", **settings)
    g.compile(optimizer="adam", loss="mse", **settings)
    assert {key: g.get_compile_config()[key] for key in run} == {key: k.get_compile_config()[key] for key in run}
    assert (g.run_eagerly, g.steps_per_execution, g.jit_compile) == (k.run_eagerly, k.steps_per_execution,
                                                                     k.jit_compile) == (True, 4, False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        g.compile(optimizer="adam", loss="mse", run_eagerly=True, jit_compile=True)
    assert g.jit_compile is False and "Disabling `jit_compile`" in str(caught[0].message)
    k.compile(optimizer="adam", loss="mse", run_eagerly=True, jit_compile=True)
    assert bool(k.jit_compile) is False
    # Keras' positional order, every argument
    g.compile("sgd", "mse", None, None, None, True, 2, False, True)
    assert (g.run_eagerly, g.steps_per_execution) == (True, 2)
    # compile_from_config keeps them (Keras' config too)
    twin = gn.Sequential([L.Input((3,)), L.Dense(2)])
    twin.compile_from_config(k.get_compile_config())
    assert (twin.run_eagerly, twin.steps_per_execution, twin.jit_compile) == (True, 1, False)


def test_run_settings_change_nothing_and_refusals():
    x, y = _data()
    weights = []
    for settings in ({}, dict(run_eagerly=True, steps_per_execution=3, jit_compile=True, auto_scale_loss=False)):
        model = gn.Sequential([L.Input((3,)), L.Dense(2)], seed=0)
        if settings.get("run_eagerly"):
            settings["jit_compile"] = False
        model.compile(optimizer="adam", loss="mse", **settings)
        model.fit(x, y, epochs=2, batch_size=4, verbose=0)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)
    i = gn.Input((3,))
    functional = gn.Model(i, L.Dense(2)(i))
    functional.compile(optimizer="adam", loss="mse", steps_per_execution=8)
    assert functional.get_compile_config()["steps_per_execution"] == 8
    for bad, error, words in [(dict(steps_per_execution=0), ValueError, "steps_per_execution"),
                              (dict(steps_per_execution=2.5), TypeError, "steps_per_execution"),
                              (dict(run_eagerly="x"), TypeError, "run_eagerly"),
                              (dict(jit_compile="x"), ValueError, "jit_compile"),
                              (dict(auto_scale_loss=1), TypeError, "auto_scale_loss")]:
        with pytest.raises(error, match=words):
            functional.compile(optimizer="adam", loss="mse", **bad)
    with pytest.raises(TypeError, match="steps_per_execution"):
        functional.steps_per_execution = "2"


# -- the random layers' seed state --------------------------------------------------------------

@pytest.mark.parametrize("name, args", [("Dropout", (0.5,)), ("GaussianNoise", (0.1,)), ("GaussianDropout", (0.1,)),
                                        ("AlphaDropout", (0.1,)), ("SpatialDropout1D", (0.1,))])
def test_seed_state_listed_as_keras(keras, name, args):
    keras.utils.clear_session()
    kl, gl = getattr(keras.layers, name)(*args, seed=5), getattr(L, name)(*args, seed=5)
    assert [v.path for v in kl.variables] == ["seed_generator/seed_generator_state"]
    assert [v.shape for v in gl.variables] == [tuple(v.shape) for v in kl.variables] == [(2,)]
    assert gl.variables[0].tolist() == np.asarray(kl.variables[0]).tolist() == [5, 0]
    assert gl.weights == [] and len(gl.non_trainable_variables) == 1 and gl.trainable_variables == []
    store = {}
    gl.save_own_variables(store)
    assert store == {}


def test_model_with_dropout_state_tree_as_keras(keras):
    keras.utils.clear_session()
    k = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, name="d"), keras.layers.Dropout(0.5, seed=1),
                          keras.layers.GaussianNoise(0.1, seed=2), keras.layers.Dense(1, name="o")], name="s")
    g = gn.Sequential([L.Input((3,)), L.Dense(4, name="d"), L.Dropout(0.5, seed=1), L.GaussianNoise(0.1, seed=2),
                       L.Dense(1, name="o")], name="s")
    k.compile(optimizer="sgd", loss="mse")
    g.compile(optimizer="sgd", loss="mse")
    from glassnet._model_state import weight_paths
    assert [p for p, _ in weight_paths(g)] == [v.path for v in k.variables]
    assert [v.shape for v in g.variables] == [tuple(v.shape) for v in k.variables]
    for group in ("trainable_variables", "non_trainable_variables"):
        assert list(_flat(g.get_state_tree()[group])) == list(_flat(k.get_state_tree()[group])), group
    # Keras' tree (its int64 seed states) sets into glassnet's
    tree = k.get_state_tree("numpy_array")
    tree.pop("metrics_variables")
    tree.pop("optimizer_variables")
    g.set_state_tree(tree)
    for a, b in zip(g.get_weights(), k.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_seed_state_moves_no_seeded_result():
    """Made without drawing: a layer made without a seed takes none from set_random_seed's stream."""
    gn.utils.set_random_seed(4)
    first = gn.Sequential([L.Input((3,)), L.Dense(2)]).get_weights()
    gn.utils.set_random_seed(4)
    L.Dropout(0.5)
    L.GaussianNoise(0.2)
    second = gn.Sequential([L.Input((3,)), L.Dense(2)]).get_weights()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert L.Dropout(0.1).variables[0].tolist() == [0, 0]


# -- the stop-51 attributes in float64 and on wrappers -------------------------------------------

def test_float64_attributes_as_keras(keras):
    keras.utils.clear_session()
    k = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, dtype="float64", name="d1"),
                          keras.layers.BatchNormalization(dtype="float64", name="bn"),
                          keras.layers.Dense(2, dtype="float64", name="d2")], name="seq")
    g = gn.Sequential([L.Input((3,)), L.Dense(4, name="d1"), L.BatchNormalization(name="bn"), L.Dense(2, name="d2")],
                      name="seq", dtype="float64")
    g.set_weights(k.get_weights())
    k.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    g.compile(optimizer=gn.optimizers.Adam(0.01, rule="keras"), loss="mse")
    x, y = _data()
    k.fit(x.astype("float64"), y.astype("float64"), epochs=1, batch_size=4, shuffle=False, verbose=0)
    g.fit(x.astype("float64"), y.astype("float64"), epochs=1, batch_size=4, shuffle=False, verbose=0)
    for kl, gl in zip(k.layers, g.layers):
        assert (gl.compute_dtype, gl.variable_dtype) == (kl.compute_dtype, kl.variable_dtype) == ("float64",) * 2
        assert [v.dtype for v in gl.variables] == [np.dtype(v.dtype) for v in kl.variables]
    kt, gt = k.get_state_tree("numpy_array"), g.get_state_tree("numpy_array")
    for group in ("trainable_variables", "non_trainable_variables", "optimizer_variables"):
        kf, gf = _flat(kt[group]), _flat(gt[group])
        assert list(gf) == list(kf), group
        for path in kf:
            assert gf[path].dtype == kf[path].dtype and gf[path].shape == kf[path].shape, path
            np.testing.assert_allclose(gf[path], kf[path], rtol=1e-6, atol=1e-8, err_msg=path)
    assert [np.asarray(v).dtype for v in g.optimizer.variables] == [np.dtype(v.dtype) for v in k.optimizer.variables]


@pytest.mark.parametrize("wrapper", ["Bidirectional", "TimeDistributed"])
def test_wrapper_attributes_as_keras(keras, wrapper):
    keras.utils.clear_session()
    if wrapper == "Bidirectional":
        kw = keras.layers.Bidirectional(keras.layers.LSTM(3, name="lstm"), name="bi")
        gw = L.Bidirectional(L.LSTM(3, name="lstm"), name="bi")
        shape = (5, 2)
    else:
        kw = keras.layers.TimeDistributed(keras.layers.Dense(3, name="dense"), name="td")
        gw = L.TimeDistributed(L.Dense(3, name="dense"), name="td")
        shape = (5, 2)
    k = keras.Sequential([keras.Input(shape), kw, keras.layers.Flatten(name="f"), keras.layers.Dense(1, name="o")],
                         name="s")
    g = gn.Sequential([L.Input(shape), gw, L.Flatten(name="f"), L.Dense(1, name="o")], name="s")
    g.set_weights(k.get_weights())
    k.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="mse")
    g.compile(optimizer=gn.optimizers.SGD(0.05, momentum=0.9), loss="mse")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, *shape)).astype("float32"), rng.normal(size=(8, 1)).astype("float32")
    k.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    g.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    assert gw.path == kw.path
    assert [v.shape for v in gw.variables] == [tuple(v.shape) for v in kw.variables]
    from glassnet._model_state import weight_paths
    assert [p for p, _ in weight_paths(g)] == [v.path for v in k.variables]
    assert len(gw.trainable_variables) == len(kw.trainable_variables)
    assert gw.get_build_config() == kw.get_build_config()
    kt, gt = k.get_state_tree("numpy_array"), g.get_state_tree("numpy_array")
    for group in ("trainable_variables", "non_trainable_variables", "optimizer_variables"):
        kf, gf = _flat(kt[group]), _flat(gt[group])
        assert list(gf) == list(kf), group
        for path in kf:
            assert gf[path].shape == kf[path].shape, path
            if not path.endswith("seed_generator_state"):       # (Keras' LSTM drew its seed: no value to compare)
                np.testing.assert_allclose(gf[path], kf[path], rtol=1e-4, atol=2e-5, err_msg=path)


# -- optimizer.variables of the optimizers stop 51 listed only the step and rate of ------------------

@pytest.mark.parametrize("name, kwargs, values", [
    ("Nadam", {}, "first step"), ("Adafactor", {}, "all"), ("Muon", {}, "all"),
    ("Adam", {"use_ema": True, "rule": "keras"}, "all"), ("SGD", {"use_ema": True, "momentum": 0.9}, "all"),
])
def test_optimizer_variables_complete_as_keras(keras, name, kwargs, values):
    """Keras 3.15's paths, order, shapes and dtypes; values after two steps from the same weights
    (glassnet's default Nadam warms its momentum up otherwise than Keras': its m and v agree after
    the first step, its momentum product is its own)."""
    keras.utils.clear_session()
    k = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")], name="s")
    g = gn.Sequential([L.Input((3,)), L.Dense(2, name="d")], name="s")
    g.set_weights(k.get_weights())
    k.compile(optimizer=getattr(keras.optimizers, name)(**{a: b for a, b in kwargs.items() if a != "rule"}),
              loss="mse")
    g.compile(optimizer=getattr(gn.optimizers, name)(**kwargs), loss="mse")
    x, y = _data(8)
    for _ in range(1 if values == "first step" else 2):
        k.train_on_batch(x, y)
        g.train_on_batch(x, y)
    from glassnet.optimizers.keras_variables import keras_variable_items
    items = keras_variable_items(g.optimizer)
    kv = k.optimizer.variables
    assert [p for p, _ in items] == [v.path for v in kv]
    assert [(np.shape(v), np.asarray(v).dtype) for _, v in items] == [(tuple(v.shape), np.dtype(v.dtype)) for v in kv]
    for (path, a), b in zip(items, kv):
        if name == "Nadam" and path.endswith("/variable"):
            continue                # (the momentum product of glassnet's own warm-up)
        np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=1e-4, atol=1e-6,
                                   err_msg=path)
    assert len(g.optimizer.variables) == len(kv)


def _stepped(optimizer):
    """A small model compiled with ``optimizer``, after one step."""
    model = gn.Sequential([L.Input((3,)), L.Dense(2)], seed=0)
    model.compile(optimizer=optimizer, loss="mse")
    model.train_on_batch(*_data(8))
    return model


def test_listed_slots_are_live_views():
    model = _stepped(gn.optimizers.Adam(use_ema=True))
    opt = model.optimizer
    buffers = opt.slots[model._triples[0][0]]
    average = opt.variables[2]
    assert any(np.shares_memory(average, b) for b in buffers.values())
    average[...] = 7.0
    assert (opt.variables[2] == 7.0).all()
    with pytest.raises(ValueError, match="use_ema"):       # the .keras layout maps no use_ema state either
        opt.set_weights([np.asarray(v) for v in opt.variables])


def test_slots_in_keras_meaning_are_live_others_copies():
    model = _stepped(gn.optimizers.Adam(amsgrad=True))
    x, y = _data(8)
    opt = model.optimizer
    buffers = list(opt.slots[model._triples[0][0]].values())
    assert all(any(np.shares_memory(v, b) for b in buffers) for v in opt.variables[2:])
    before = [v.copy() for v in model.get_weights()]
    opt.variables[2][...] = 0.0         # the kernel's momentum, as Keras' v.assign(zeros)
    assert not opt.variables[2].any()
    model.train_on_batch(x, y)
    assert not np.allclose(model.get_weights()[0], before[0])
    sgd = _stepped(gn.optimizers.SGD(0.1, momentum=0.9))
    buffers = list(sgd.optimizer.slots[sgd._triples[0][0]].values())
    assert not any(np.shares_memory(v, b) for v in sgd.optimizer.variables[2:] for b in buffers)    # converted
