"""Keras 3.15's attributes left out at stop 52, beside Keras 3.15: the image augmentation layers'
seed states, R2Score's variables, ``metrics_variables`` of models with their own ``train_step``,
per-output losses and batch calls, the state tree's ``"metrics_variables"`` (read and written),
F1Score's per-class result, and the writable step count and rate of ``optimizer.variables``."""
import inspect

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet._model_state import weight_paths
from glassnet.metrics.keras_variables import metric_variable_items, model_metric_items
from test_guide_metrics_loop import _loop_metrics
from test_keras_surface_attrs import _flat


@pytest.fixture(autouse=True)
def _fresh_names():
    gn.utils.clear_session()
    yield
    gn.utils.clear_session()


def _xy(n=8, k=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)).astype("float32"), rng.normal(size=(n, k)).astype("float32")


def _same_items(g_items, k_variables, rtol=2e-5, atol=2e-5, what=""):
    """glassnet's ``[(path, array)]`` as Keras' Variables: paths, order, shapes and values."""
    assert [p for p, _ in g_items] == [v.path for v in k_variables], what
    for (path, a), b in zip(g_items, k_variables):
        assert np.shape(a) == tuple(b.shape), f"{what} {path}"
        np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=rtol, atol=atol,
                                   err_msg=f"{what} {path}")


# -- 1. the image augmentation layers' seed state ----------------------------------------------------

IMAGE_LAYERS = ["AugMix", "CutMix", "MixUp", "RandAugment", "RandomBrightness", "RandomColorDegeneration",
                "RandomColorJitter", "RandomContrast", "RandomCrop", "RandomElasticTransform", "RandomErasing",
                "RandomFlip", "RandomGaussianBlur", "RandomGrayscale", "RandomHue", "RandomInvert",
                "RandomPerspective", "RandomPosterization", "RandomRotation", "RandomSaturation",
                "RandomSharpness", "RandomShear", "RandomTranslation", "RandomZoom", "Solarization",
                "AutoContrast", "Equalization"]


def _made(module, name, seed):
    cls = getattr(module, name)
    parameters = inspect.signature(cls.__init__).parameters
    args = {p.name: {"height": 4, "width": 4}.get(p.name, 0.2) for p in list(parameters.values())[1:]
            if p.default is inspect.Parameter.empty and p.kind is p.POSITIONAL_OR_KEYWORD}
    if name == "RandomPosterization":
        args = {"factor": (1, 4)}
    if name == "RandomColorJitter":         # (glassnet refuses one given no factor: it would change nothing)
        args = {"brightness_factor": 0.2, "hue_factor": 0.1, "value_range": (0, 1)}
    if "seed" in parameters:
        args["seed"] = seed
    return cls(**args)


@pytest.mark.parametrize("name", IMAGE_LAYERS)
def test_image_layer_seed_state_as_keras(keras, name):
    keras.utils.clear_session()
    kl, gl = _made(keras.layers, name, 7), _made(L, name, 7)
    kv = kl.variables
    assert [(v.shape, v.tolist()) for v in gl.variables] == [(tuple(v.shape), np.asarray(v).tolist()) for v in kv]
    assert [g.name for g, _, _ in __import__("glassnet.layers.keras_state", fromlist=["x"]).variable_entries(gl)] \
        == [v.path.split("/")[0] for v in kv]           # seed_generator, seed_generator_1, ... in Keras' order
    assert gl.weights == [] and gl.trainable_variables == [] and len(gl.non_trainable_variables) == len(kv)


def test_image_model_state_tree_as_keras(keras):
    """A model of random image layers: Keras' paths and order (each layer's own state first, a
    wrapper's members' after it, numbered in the order made), and Keras' tree sets into glassnet's."""
    keras.utils.clear_session()
    k = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.RandomFlip(seed=1),
                          keras.layers.RandAugment(value_range=(0, 1), seed=2),
                          keras.layers.Pipeline([keras.layers.RandomRotation(0.1), keras.layers.RandomCrop(6, 6)]),
                          keras.layers.Flatten(name="f"), keras.layers.Dense(2, name="d"),
                          keras.layers.Dropout(0.5, seed=4)], name="s")
    g = gn.Sequential([L.Input((8, 8, 3)), L.RandomFlip(seed=1), L.RandAugment(value_range=(0, 1), seed=2),
                       L.Pipeline([L.RandomRotation(0.1), L.RandomCrop(6, 6)], seed=3),
                       L.Flatten(name="f"), L.Dense(2, name="d"), L.Dropout(0.5, seed=4)], name="s")
    k.compile(optimizer="sgd", loss="mse")
    g.compile(optimizer="sgd", loss="mse")
    assert [p for p, _ in weight_paths(g)] == [v.path for v in k.variables]
    assert len(k.variables) == 1 + 10 + 2 + 2 + 1
    for path, v in zip([p for p, _ in weight_paths(g)], k.variables):
        if "seed" in path and path not in ("seed_generator_11/seed_generator_state",
                                           "seed_generator_12/seed_generator_state"):  # (Keras draws the Pipeline's)
            assert np.asarray(dict(weight_paths(g))[path]).tolist() == np.asarray(v).tolist(), path
    tree = k.get_state_tree("numpy_array")
    assert list(_flat(g.get_state_tree()["non_trainable_variables"])) == list(_flat(tree["non_trainable_variables"]))
    g.set_state_tree({"trainable_variables": tree["trainable_variables"],
                      "non_trainable_variables": tree["non_trainable_variables"]})
    for a, b in zip(g.get_weights(), k.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_seed_records_draw_nothing_and_count_once():
    """Only one set of an AugMix's operations holds records (Keras makes one; glassnet one per
    chain step): the next seed generator is numbered as Keras' would be. Making them draws nothing
    from set_random_seed's stream."""
    gn.utils.set_random_seed(3)
    first = gn.Sequential([L.Input((3,)), L.Dense(2)]).get_weights()
    gn.utils.set_random_seed(3)
    layer = L.AugMix(value_range=(0, 1), seed=5)
    L.RandomColorJitter(brightness_factor=0.1)
    second = gn.Sequential([L.Input((3,)), L.Dense(2)]).get_weights()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert len(layer.variables) == 10 and sum(1 for _ in layer._inner_layers()) == 99
    assert L.Dropout(0.1).seed_generator.name == "seed_generator_12"       # (10 + the jitter's 2 before it)
    assert not hasattr(L.AutoContrast(), "seed_generator") and L.RandomFlip().variables[0].tolist() == [0, 0]


# -- 2. R2Score's variables ------------------------------------------------------------------------

@pytest.mark.parametrize("aggregation", ["uniform_average", "variance_weighted_average"])
@pytest.mark.parametrize("weighted", [False, True])
def test_r2_variables_as_keras(keras, aggregation, weighted):
    km, gm = keras.metrics.R2Score(aggregation), gn.metrics.R2Score(aggregation)
    assert [n for n, _ in metric_variable_items(gm)] == [v.name for v in km.variables] == ["num_samples"]
    rng = np.random.default_rng(1)
    for _ in range(3):
        y = (rng.normal(size=(7, 3)) * 3 + 10).astype("float32")
        p = y + rng.normal(size=(7, 3)).astype("float32") * 0.5
        w = rng.random(7).astype("float32") if weighted else None
        km.update_state(y, p, sample_weight=w)
        gm.update_state(y, p, sample_weight=w)
    items = metric_variable_items(gm)
    assert [n for n, _ in items] == [v.name for v in km.variables]
    assert [(np.shape(a), a.dtype) for _, a in items] == [(tuple(v.shape), np.dtype(v.dtype)) for v in km.variables]
    for (name, a), b in zip(items, km.variables):
        np.testing.assert_allclose(a, np.asarray(b), rtol=2e-6, atol=1e-5, err_msg=name)
    np.testing.assert_allclose(float(gm.result()), float(km.result()), rtol=1e-5)
    # Keras' sums set into a fresh R2Score give Keras' score (its moments worked out from them)
    fresh = gn.metrics.R2Score(aggregation)
    from glassnet.metrics.keras_assign import assign_metric_variables
    assign_metric_variables(fresh, {v.name: np.asarray(v) for v in km.variables})
    np.testing.assert_allclose(float(fresh.result()), float(km.result()), rtol=1e-4)
    np.testing.assert_allclose(fresh.count, gm.count, rtol=1e-6)


def test_r2_result_unchanged_by_listing():
    """The moments stay glassnet's (float64, Chan's merge): the result is today's exactly, and an
    output of constant targets still scores by scikit-learn's rule."""
    from sklearn.metrics import r2_score
    rng = np.random.default_rng(2)
    y = np.c_[rng.normal(size=20) + 1e4, np.full(20, 3.0)]
    p = y + np.c_[rng.normal(size=20) * 0.1, np.zeros(20)]
    m = gn.metrics.R2Score()
    m.update_state(y[:10], p[:10])
    m.update_state(y[10:], p[10:])
    metric_variable_items(m)
    assert float(m.result()) == pytest.approx(r2_score(y, p), rel=1e-12)


# -- 3. metrics_variables of batch calls, per-output losses and models with their own steps ----------

def _sequential_pair(keras, metrics_k, metrics_g, units=2):
    keras.utils.clear_session()
    k = keras.Sequential([keras.Input((3,)), keras.layers.Dense(units, name="d")], name="s")
    g = gn.Sequential([L.Input((3,)), L.Dense(units, name="d")], name="s")
    g.set_weights(k.get_weights())
    k.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=metrics_k)
    g.compile(optimizer=gn.optimizers.SGD(0.05), loss="mse", metrics=metrics_g)
    return k, g


def test_batch_calls_metrics_variables_as_keras(keras):
    k, g = _sequential_pair(keras, ["mae", keras.metrics.RootMeanSquaredError()],
                            ["mae", gn.metrics.RootMeanSquaredError()])
    x, y = _xy()
    for call, args in [("train_on_batch", (x[:4], y[:4])), ("train_on_batch", (x[4:], y[4:])),
                       ("test_on_batch", (x[:3], y[:3]))]:
        getattr(k, call)(*args)
        getattr(g, call)(*args)
        _same_items(model_metric_items(g), k.metrics_variables, what=call)      # each call's batch alone
    k.predict_on_batch(x)
    g.predict_on_batch(x)
    _same_items(model_metric_items(g), k.metrics_variables, what="predict_on_batch")       # (left as they were)
    k.fit(x, y, batch_size=4, shuffle=False, verbose=0)
    g.fit(x, y, batch_size=4, shuffle=False, verbose=0)
    _same_items(model_metric_items(g), k.metrics_variables, rtol=1e-4, what="fit")
    k.train_on_batch(x[:5], y[:5])
    g.train_on_batch(x[:5], y[:5])
    _same_items(model_metric_items(g), k.metrics_variables, rtol=1e-4, what="train_on_batch after fit")


@pytest.mark.parametrize("form", ["dict", "list", "one loss"])
def test_per_output_losses_as_keras(keras, form):
    keras.utils.clear_session()
    x, y = _xy()
    models = []
    for lib in (keras, gn):
        i = lib.Input((3,))
        a, b = lib.layers.Dense(2, name="a")(i), lib.layers.Dense(1, name="b")(i)
        if form == "dict":
            model = lib.Model(i, {"a": a, "b": b})
            model.compile(optimizer=lib.optimizers.SGD(0.05), loss={"a": "mse", "b": "mae"}, metrics={"a": ["mae"]},
                          loss_weights={"a": 1.0, "b": 0.5})
        elif form == "list":
            model = lib.Model(i, [a, b])
            model.compile(optimizer=lib.optimizers.SGD(0.05), loss=["mse", "mae"], metrics=[["mae"], []])
        else:
            model = lib.Model(i, [a, b])
            model.compile(optimizer=lib.optimizers.SGD(0.05), loss="mse")
        models.append(model)
    k, g = models
    g.set_weights(k.get_weights())
    targets = {"a": y, "b": y[:, :1]} if form == "dict" else [y, y[:, :1]]
    k.fit(x, targets, batch_size=4, shuffle=False, verbose=0)
    g.fit(x, targets, batch_size=4, shuffle=False, verbose=0)
    _same_items(model_metric_items(g), k.metrics_variables, rtol=1e-4, what=form)
    assert any(v.path.startswith("compile_loss/a_loss") for v in k.metrics_variables)


def _step_models(lib):
    """Two models with steps of their own, written against ``lib`` (gn or keras): ``Looped``, whose
    ``test_step`` runs keras.io's loop over ``self.metrics`` on compile's loss and metrics, and
    ``Tracked``, keras.io's "Customizing what happens in fit()" with trackers of its own listed by a
    ``metrics`` property (no update in its step: the weights stay, the metrics alone are compared)."""

    class Looped(lib.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.d = lib.layers.Dense(2, name="d")

        def call(self, x):
            return self.d(x)

        def test_step(self, data):
            x, y = data
            y_pred = self(x, training=False)
            return _loop_metrics(self, self.compute_loss(y=y, y_pred=y_pred), y, y_pred)

    class Tracked(Looped):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.loss_tracker = lib.metrics.Mean(name="loss")
            self.mae_metric = lib.metrics.MeanAbsoluteError(name="mae")

        def train_step(self, data):
            x, y = data
            y_pred = self(x, training=True)
            self.loss_tracker.update_state(lib.ops.mean((y - y_pred) ** 2))
            self.mae_metric.update_state(y, y_pred)
            return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

        @property
        def metrics(self):
            return [self.loss_tracker, self.mae_metric]
    return Looped, Tracked


def test_own_test_step_metrics_variables_as_keras(keras):
    keras.utils.clear_session()
    x, y = _xy()
    k, g = _step_models(keras)[0](), _step_models(gn)[0]()
    k(x[:1])
    g(x[:1])
    g.set_weights(k.get_weights())
    k.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    g.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    _same_items(model_metric_items(g), k.metrics_variables, what="fresh")
    k.evaluate(x, y, batch_size=4, verbose=0)
    g.evaluate(x, y, batch_size=4, verbose=0)
    _same_items(model_metric_items(g), k.metrics_variables, rtol=1e-5, what="evaluate")      # loss: 2 steps
    assert [float(v) for v in g.metrics_variables][1] == 2.0


def test_own_trackers_metrics_variables_as_keras(keras):
    keras.utils.clear_session()
    x, y = _xy()
    k, g = _step_models(keras)[1](), _step_models(gn)[1]()
    k(x[:1])
    g(x[:1])
    g.set_weights(k.get_weights())
    k.compile(optimizer=keras.optimizers.SGD(0.05))
    g.compile(optimizer=gn.optimizers.SGD(0.05))
    _same_items(model_metric_items(g), k.metrics_variables, what="fresh")
    k.fit(x, y, batch_size=4, shuffle=False, epochs=2, verbose=0)
    g.fit(x, y, batch_size=4, shuffle=False, epochs=2, verbose=0)
    _same_items(model_metric_items(g), k.metrics_variables, rtol=1e-4, what="fit")
    assert float(g.metrics_variables[1]) == 2.0        # (the loss tracker counts the last epoch's steps)


# -- 4. the state tree's metrics_variables ----------------------------------------------------------

def test_state_tree_metrics_variables_as_keras_and_set(keras):
    k, g = _sequential_pair(keras, ["mae", keras.metrics.Precision(thresholds=0.0), keras.metrics.R2Score()],
                            ["mae", gn.metrics.Precision(thresholds=0.0), gn.metrics.R2Score()])
    x, y = _xy()
    k.fit(x, y, batch_size=4, shuffle=False, epochs=2, verbose=0)
    g.fit(x, y, batch_size=4, shuffle=False, epochs=2, verbose=0)
    kt, gt = k.get_state_tree("numpy_array"), g.get_state_tree("numpy_array")
    kf, gf = _flat(kt["metrics_variables"]), _flat(gt["metrics_variables"])
    assert list(gf) == list(kf)
    for path in kf:
        assert gf[path].shape == kf[path].shape and gf[path].dtype == kf[path].dtype, path
        np.testing.assert_allclose(gf[path], kf[path], rtol=1e-4, atol=1e-4, err_msg=path)
    # Keras' tree after an evaluate of its own, set into glassnet's: the metrics read Keras' state
    k.evaluate(x[:5], y[:5], verbose=0)
    tree = k.get_state_tree("numpy_array")
    g.set_state_tree(tree)
    _same_items(model_metric_items(g), k.metrics_variables, rtol=1e-6, atol=1e-6, what="set")
    results = {name: float(fn.result()) for name, fn in g._compiled_metrics if hasattr(fn, "result")}
    np.testing.assert_allclose(results["precision"], float(k.metrics[1].metrics[1].result()), rtol=1e-6)
    np.testing.assert_allclose(results["r2_score"], float(k.metrics[1].metrics[2].result()), rtol=1e-4, atol=1e-5)


def test_set_metrics_variables_into_a_model_not_run_and_refusals():
    model = gn.Sequential([L.Input((3,)), L.Dense(2)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae", gn.metrics.MeanAbsoluteError(name="m")])
    assert model.get_state_tree()["metrics_variables"] == {"loss": {"total": 0.0, "count": 0.0}}
    model.set_state_tree({"metrics_variables": {"loss": {"total": np.float32(6.0), "count": np.float32(3.0)},
                                                "mean_absolute_error": {"total": np.float32(2.0),
                                                                        "count": np.float32(4.0)},
                                                "m": {"total": np.float32(1.0), "count": np.float32(2.0)}}})
    assert [float(v) for v in model.metrics_variables] == [6.0, 3.0, 2.0, 4.0, 1.0, 2.0]
    assert float(model._compiled_metrics[1][1].result()) == 0.5
    weights = [w.copy() for w in model.get_weights()]
    for bad, words in [({"los": {"total": np.zeros(())}}, "no metric variable of this model has the path 'los/total'"),
                       ({"loss": {"total": np.zeros(2)}}, r"loss/total has shape \(\), the tree gives \(2,\)")]:
        tree = {"trainable_variables": {"sequential": {"dense": {"kernel": np.ones((3, 2))}}}, "metrics_variables": bad}
        with pytest.raises(ValueError, match=words):
            model.set_state_tree(tree)
        np.testing.assert_array_equal(model.get_weights()[0], weights[0])      # nothing written
    assert float(model.metrics_variables[0]) == 6.0


# -- 5. F1Score's per-class result ----------------------------------------------------------------

@pytest.mark.parametrize("name", ["F1Score", "FBetaScore"])
def test_per_class_result_as_keras(keras, name):
    rng = np.random.default_rng(4)
    y = np.eye(3)[[0, 1, 2, 1, 0, 2]].astype("float32")
    p = rng.random((6, 3)).astype("float32")
    km, gm = getattr(keras.metrics, name)(threshold=0.5), getattr(gn.metrics, name)(threshold=0.5)
    km.update_state(y, p)
    gm.update_state(y, p)
    kr, gr = km.result(), gm.result()
    assert gr.shape == tuple(kr.shape) == (3,) and repr(gr).startswith("array(")
    assert type(gr.numpy()) is type(kr.numpy()) is np.ndarray and gr.numpy().dtype == kr.numpy().dtype
    np.testing.assert_allclose(gr.numpy(), kr.numpy(), rtol=1e-6, atol=1e-7)
    assert type(gr + 1) is np.ndarray and type(gr[:2]) is np.ndarray
    np.testing.assert_array_equal(gr, gm.scores())          # the values themselves: float64, unrounded
    macro = getattr(gn.metrics, name)(threshold=0.5, average="macro")
    macro.update_state(y, p)
    assert float(macro.result()) == pytest.approx(float(np.mean(gr)), rel=1e-6)


# -- 6. the step count and rate of optimizer.variables ------------------------------------------------

def test_optimizer_step_count_and_rate_written_as_keras(keras):
    keras.utils.clear_session()
    x, y = _xy()
    k = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")], name="s")
    g = gn.Sequential([L.Input((3,)), L.Dense(2, name="d")], name="s")
    g.set_weights(k.get_weights())
    k.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    g.compile(optimizer=gn.optimizers.Adam(0.01, rule="keras"), loss="mse")
    for _ in range(3):
        k.train_on_batch(x, y)
        g.train_on_batch(x, y)
    k.optimizer.variables[0].assign(0)                  # Adam's bias correction starts again
    k.optimizer.variables[1].assign(0.05)
    step, rate = g.optimizer.variables[:2]
    step.assign(0)
    rate[...] = 0.05
    assert g.optimizer.iterations == 0 and g.optimizer.learning_rate == pytest.approx(0.05)
    k.train_on_batch(x, y)
    g.train_on_batch(x, y)
    for a, b in zip(g.get_weights(), k.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g.optimizer.variables[2], np.asarray(k.optimizer.variables[2]), rtol=1e-5, atol=1e-7)
    assert int(g.optimizer.variables[0]) == int(k.optimizer.iterations) == 1


def test_optimizer_scalars_write_through_and_refuse():
    model = gn.Sequential([L.Input((3,)), L.Dense(2)], seed=0)
    model.compile(optimizer=gn.optimizers.SGD(0.1), loss="mse")
    model.train_on_batch(*_xy())
    step, rate = model.optimizer.variables
    assert (step.dtype, rate.dtype, step.shape) == (np.int64, np.float32, ())
    step += 4
    assert model.optimizer.iterations == 5 and int(step) == 5
    step.assign_add(1)
    assert model.optimizer.iterations == 6
    doubled = rate * 2                          # a result: a plain number, not written anywhere
    assert not isinstance(doubled, type(rate)) and model.optimizer.learning_rate == pytest.approx(0.1)
    copy = np.array(rate)
    copy[...] = 9.0
    assert model.optimizer.learning_rate == pytest.approx(0.1)
    for bad, words in [((rate, -1.0), "learning rate must be a finite number >= 0"),
                       ((rate, np.inf), "learning rate"), ((step, -2), r"step count \(iteration\)")]:
        with pytest.raises(ValueError, match=words):
            bad[0].assign(bad[1])
    assert model.optimizer.iterations == 6 and int(step) == 6 and float(rate) == pytest.approx(0.1)
    x, y = _xy()
    before = model.get_weights()[0].copy()
    rate.assign(0.0)                            # no step size: the weights stay
    model.train_on_batch(x, y)
    np.testing.assert_array_equal(model.get_weights()[0], before)
