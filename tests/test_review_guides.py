"""Found porting Keras 3's guides "Transfer learning & fine-tuning" and "Writing your own
callbacks" to glassnet (review guides); then (session 45) "Making new layers and models via
subclassing" and the other core guides, each snippet run in Keras 3.15 too."""
import numpy as np
import pytest

import glassnet as gn


def _net():
    """Dense -> BatchNormalization -> Dense on 3 features, seeded, compiled with plain SGD."""
    model = gn.Sequential([gn.layers.Dense(4, input_dim=3, name="d1"), gn.layers.BatchNormalization(name="bn"),
                           gn.layers.Dense(1, name="d2")], seed=0)
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(learning_rate=0.05))
    return model


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(1.0, 2.0, (16, 3))
    return x, x.sum(axis=1, keepdims=True)


class _SetTrainable(gn.callbacks.Callback):
    """Gradual (un)freezing: sets the named layers' flag when epoch ``at`` begins."""
    def __init__(self, names, value, at=1):
        super().__init__()
        self.names, self.value, self.at = names, value, at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            for name in self.names:
                self.model.get_layer(name).trainable = self.value


def test_a_layer_unfrozen_by_a_callback_trains_from_then_on_as_in_a_second_fit():
    # the callback's unfreezing was not taken up before the next fit: d1 stayed fixed while the
    # BatchNormalization after it switched to batch statistics at once (its flag is read live)
    x, y = _data()
    one = _net()
    one.get_layer("d1").trainable = one.get_layer("bn").trainable = False
    one.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0,
            callbacks=[_SetTrainable(["d1", "bn"], True)])
    two = _net()
    two.get_layer("d1").trainable = two.get_layer("bn").trainable = False
    two.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    two.get_layer("d1").trainable = two.get_layer("bn").trainable = True
    two.fit(x, y, epochs=2, initial_epoch=1, batch_size=8, shuffle=False, verbose=0)
    for mine, expected in zip(one.get_weights(), two.get_weights()):
        np.testing.assert_allclose(mine, expected, rtol=1e-12)
    assert len(one.trainable_weights) == 6


def test_a_layer_frozen_by_a_callback_stops_training_at_once():
    # BatchNormalization went to inference mode at once but its gamma and beta (and d1) kept
    # being updated until the fit ended
    x, y = _data()
    model = _net()
    kept = []

    class Snapshot(gn.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            kept.append(model.get_weights())

    model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0,
              callbacks=[_SetTrainable(["d1", "bn"], False), Snapshot()])
    for before, after in zip(kept[0][:6], kept[2][:6]):      # d1's kernel, bias; bn's four
        np.testing.assert_array_equal(before, after)
    assert not np.array_equal(kept[0][6], kept[2][6])          # d2 trains on


# -- session 45: "Making new layers and models via subclassing", run as Keras 3.15 runs it ----------

def _activity_regularization(base, ops):
    """The guide's ActivityRegularizationLayer and OuterLayer, on ``base`` (keras or glassnet)."""
    class ActivityRegularizationLayer(base.layers.Layer):
        def __init__(self, rate=1e-2):
            super().__init__()
            self.rate = rate

        def call(self, inputs):
            self.add_loss(self.rate * ops.mean(inputs))
            return inputs

    class OuterLayer(base.layers.Layer):
        def __init__(self):
            super().__init__()
            self.activity_reg = ActivityRegularizationLayer(1e-2)

        def call(self, inputs):
            return self.activity_reg(inputs)
    return ActivityRegularizationLayer, OuterLayer


def test_the_guides_activity_regularization_on_its_raw_input_is_listed_and_logged_as_keras(keras):
    """A term reading the layer's raw input (an Input: no weight changes it) was refused ("add_loss:
    a term reads the Input ... itself"); Keras lists it in ``losses`` and adds it to the logged loss,
    a constant that moves no weight. It now reads the Input through an Identity call of the block."""
    from glassnet import ops
    _, outer = _activity_regularization(gn, ops)
    layer = outer()
    layer(np.ones((2, 3), "float32"))
    layer(np.full((2, 3), 2.0, "float32"))
    np.testing.assert_allclose([float(v) for v in layer.losses], [0.02], rtol=1e-6)   # the latest call's, once
    rng = np.random.default_rng(0)
    x, y = rng.random((8, 3)).astype("float32"), rng.random((8, 2)).astype("float32")
    results = []
    for base, bops in ((keras, keras.ops), (gn, ops)):
        reg, _ = _activity_regularization(base, bops)
        inputs = base.Input(shape=(3,))
        outputs = base.layers.Dense(2, kernel_initializer="ones")(reg(0.5)(inputs))
        model = base.Model(inputs, outputs)
        model.compile(optimizer=base.optimizers.SGD(0.1), loss="mse")
        history = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
        results.append((history, model.get_weights(), model.evaluate(x, y, verbose=0)))
    (kh, kw, ke), (gh, gw, ge) = results
    np.testing.assert_allclose(gh, kh, rtol=1e-5)
    for a, b in zip(gw, kw):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ge, ke, rtol=1e-5)


def test_a_term_of_the_raw_input_first_in_a_sequential_and_in_a_model_subclass(keras):
    """The same term in a Sequential (the block first) and in a Model subclass' own call
    (``self.add_loss(0.1 * ops.mean(x))``, ``self.add_loss(x)`` summed whole): as Keras 3.15."""
    from glassnet import ops
    rng = np.random.default_rng(1)
    x, y = rng.random((8, 3)).astype("float32"), rng.random((8, 2)).astype("float32")

    def subclass(base, bops):
        class M(base.Model):
            def __init__(self):
                super().__init__()
                self.d = base.layers.Dense(2, kernel_initializer="ones")

            def call(self, inputs):
                self.add_loss(0.1 * bops.mean(inputs))
                self.add_loss(inputs)
                return self.d(inputs)
        return M()
    got = []
    for base, bops in ((keras, keras.ops), (gn, ops)):
        reg, _ = _activity_regularization(base, bops)
        seq = base.Sequential([base.Input((3,)), reg(0.5), base.layers.Dense(2, kernel_initializer="ones")])
        model = subclass(base, bops)
        for m in (seq, model):
            m.compile(optimizer=base.optimizers.SGD(0.01), loss="mse")
            got.append(m.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"])
    np.testing.assert_allclose(got[2:], got[:2], rtol=1e-5)


def test_compile_without_a_loss_trains_on_the_add_loss_terms_as_keras(keras):
    """Keras' ``compile(optimizer)`` (loss=None, its default) trains a model with add_loss terms on
    them alone: glassnet said "missing 1 required positional argument: 'loss'". A subclass compiled
    before its draw, loss None, took no ``train_on_batch(x)`` without targets either."""
    import warnings
    from glassnet import ops
    warnings.simplefilter("ignore", UserWarning)        # (both warn: the first model has no weights)
    rng = np.random.default_rng(2)
    x = rng.random((8, 3)).astype("float32")

    def subclass(base, bops):
        class M(base.Model):
            def __init__(self):
                super().__init__()
                self.d = base.layers.Dense(2, kernel_initializer="ones")
                self.e = base.layers.Dense(2, kernel_initializer="ones")

            def call(self, inputs):
                h = self.d(inputs)
                self.add_loss(bops.mean(bops.square(h)))
                return self.e(h)
        return M()
    got = []
    for base, bops in ((keras, keras.ops), (gn, ops)):
        reg, _ = _activity_regularization(base, bops)
        inputs = base.Input(shape=(3,))
        functional = base.Model(inputs, reg(0.5)(inputs))        # the guide's: no weight at all
        functional.compile(optimizer=base.optimizers.SGD(0.1))
        drawn = subclass(base, bops)
        drawn.compile(optimizer=base.optimizers.SGD(0.01))       # before its draw
        fresh = subclass(base, bops)
        fresh.compile(optimizer=base.optimizers.SGD(0.01), loss=None)
        got.append([functional.fit(x, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"],
                    drawn.fit(x, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"],
                    [float(fresh.train_on_batch(x)), float(fresh.test_on_batch(x))]])
    np.testing.assert_allclose(got[1], got[0], rtol=1e-5)


def _compute_sum(base, ops):
    """The guide's ComputeSum, and a block updating its weight before its Dense reads it."""
    class ComputeSum(base.layers.Layer):
        def __init__(self, input_dim):
            super().__init__()
            self.total = self.add_weight(initializer="zeros", shape=(input_dim,), trainable=False)

        def call(self, inputs):
            self.total.assign_add(ops.sum(inputs, axis=0))
            return self.total

    class Scale(base.layers.Layer):
        def __init__(self):
            super().__init__()
            self.total = self.add_weight(initializer="zeros", shape=(2,), trainable=False)
            self.d = base.layers.Dense(2, kernel_initializer="ones")

        def call(self, inputs):
            self.total.assign_add(ops.mean(inputs, axis=0))
            h = self.d(inputs)
            self.total.assign(self.total + ops.mean(h, axis=0))
            self.total.assign_sub(ops.ones((2,)))
            return h * self.total + self.total
    return ComputeSum, Scale


def test_the_guides_compute_sum_called_on_arrays_runs_eagerly_as_keras(keras):
    """ComputeSum (``self.total.assign_add(ops.sum(inputs, axis=0))``, ``return self.total``) was
    refused (NotImplementedError: call is drawn once); called alone on arrays Keras runs it eagerly,
    [2, 2] then [4, 4]. It now runs so here too; in a model it stays refused by name."""
    from glassnet import ops
    results = []
    for base, bops in ((keras, keras.ops), (gn, ops)):
        compute_sum, scale = _compute_sum(base, bops)
        x = bops.ones((2, 2))
        my_sum = compute_sum(2)
        first, second = np.array(my_sum(x)), np.array(my_sum(x))
        counts = (len(my_sum.weights), len(my_sum.non_trainable_weights), len(my_sum.trainable_weights))
        s = scale()
        s(x)
        results.append((first, second, counts, np.array(s(x)), [np.asarray(w) for w in s.get_weights()]))
    (k1, k2, kc, ks, kw), (g1, g2, gc, gs, gw) = results
    np.testing.assert_array_equal(g1, [2.0, 2.0])
    np.testing.assert_array_equal(g1, k1)
    np.testing.assert_array_equal(g2, k2)
    assert gc == kc == (1, 1, 0)
    np.testing.assert_allclose(gs, ks)
    for a, b in zip(gw, kw):
        np.testing.assert_allclose(a, b)
    compute_sum, _ = _compute_sum(gn, ops)
    with pytest.raises(NotImplementedError, match=r"assign_add: .*updates a weight in call.*forward"):
        gn.Sequential([gn.Input((2,)), compute_sum(2)]).fit(np.ones((4, 2)), np.ones((4, 2)), verbose=0)


def test_a_block_weight_assigned_outside_call_as_keras():
    """``block.total.assign(value)`` outside any call sets the weight, as a Keras variable's does
    (it was refused as an update in call); a value of another shape is refused, not broadcast."""
    from glassnet import ops
    compute_sum, _ = _compute_sum(gn, ops)
    block = compute_sum(2)
    block.total.assign_add(np.ones(2, "float32"))
    block.total.assign_sub(np.full(2, 0.25))
    np.testing.assert_array_equal(block.total.numpy(), [0.75, 0.75])
    np.testing.assert_array_equal(block.get_weights()[0], [0.75, 0.75])
    with pytest.raises(ValueError, match=r"assign: the value has shape \(3,\), the weight \(2,\)"):
        block.total.assign(np.ones(3))


# -- session 45: "Serialization and saving" --------------------------------------------------------

def test_the_saving_guides_build_calling_super_first_then_making_weights():
    """The guide's LayerWithCustomBuild: ``build(self, input_shape, layer_init)`` calls
    ``super().build(input_shape)`` first, then makes ``self.w`` and ``self.b``; the user calls
    ``custom_layer.build(input_shape=(8,), layer_init="random_normal")``. glassnet drew call inside
    that super().build, before self.w existed (AttributeError); Keras' Layer.build only marks the
    layer built. Now the block is drawn at its first call, its own build not run again there."""
    class LayerWithCustomBuild(gn.layers.Layer):
        def __init__(self, units=32, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def call(self, inputs):
            return gn.ops.matmul(inputs, self.w) + self.b

        def get_config(self):
            return dict(units=self.units, **super().get_config())

        def build(self, input_shape, layer_init):
            super().build(input_shape)
            self._input_shape = input_shape
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer=layer_init, trainable=True)
            self.b = self.add_weight(shape=(self.units,), initializer=layer_init, trainable=True)
            self.layer_init = layer_init

    custom_layer = LayerWithCustomBuild(units=16)
    custom_layer.build(input_shape=(8,), layer_init="random_normal")
    kernel, bias = custom_layer.get_weights()
    assert kernel.shape == (8, 16) and bias.shape == (16,) and np.any(bias != 0)    # random_normal, both
    model = gn.Sequential([custom_layer, gn.layers.Dense(1, activation="sigmoid")])
    x = np.random.default_rng(0).random((16, 8)).astype("float32")
    np.testing.assert_allclose(model(x), 1 / (1 + np.exp(-((x @ kernel + bias) @ model.get_weights()[2]
                                                            + model.get_weights()[3]))), rtol=1e-5)
    np.testing.assert_array_equal(model.get_weights()[0], kernel)
    np.testing.assert_allclose(custom_layer(x), x @ kernel + bias, rtol=1e-5)


def test_save_refuses_a_layer_with_keras_saving_hooks(tmp_path):
    """The guide's LayerWithCustomAssets (a Dense keeping ``vocab`` through Keras' save_assets /
    load_assets) saved and loaded with ``vocab`` None, silently: glassnet's files call no such hook.
    Refused by name at save now, saying what to write; to_json and clone_model, which write no file
    (and do not call the hooks in Keras either), still take it."""
    class LayerWithCustomAssets(gn.layers.Dense):
        def __init__(self, vocab=None, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.vocab = vocab

        def save_assets(self, inner_path):
            pass

        def load_assets(self, inner_path):
            pass

    model = gn.Sequential([LayerWithCustomAssets(vocab="Mary had a <unk> lamb.", units=5)])
    model(np.ones((2, 10), "float32"))
    # model.save's own file keeps what the hooks keep since session 48 (tests/test_guides4.py): the
    # refusal stays for a layer wrapped in another, whose hooks a file does not call
    model.save(str(tmp_path / "m.npz"))
    wrapped = gn.Sequential([gn.Input((3, 10)), gn.layers.TimeDistributed(LayerWithCustomAssets(vocab="a", units=5))])
    with pytest.raises(TypeError, match=r"defines \['save_assets', 'load_assets'\], Keras' saving hooks"):
        wrapped.save(str(tmp_path / "w.npz"))
    assert model.to_json()


# -- session 45: "Training & evaluation with the built-in methods" ----------------------------------

def test_a_scalar_variable_keeps_shape_empty():
    """``gn.Variable("zeros", shape=())`` and ``gn.Variable(0.0)`` had shape (1,)
    (np.ascontiguousarray makes a 0-d array 1-d); Keras' keep shape ()."""
    for variable in (gn.Variable("zeros", shape=()), gn.Variable(0.0), gn.Variable(np.float32(3))):
        assert variable.shape == () and variable.numpy().shape == ()
    v = gn.Variable("zeros", shape=())
    v.assign_add(np.float32(2.0))
    assert float(v.value) == 2.0


def test_the_guides_categorical_true_positives_metric_as_keras(keras):
    """The guide's stateful metric: ``self.add_variable(shape=(), name="ctp", initializer="zeros")``
    after ``super().__init__``, ``assign_add`` in update_state, ``assign(0.0)`` in reset_state.
    glassnet's Metric had no add_variable, and its __init__ called reset_state before the variable
    existed (AttributeError). Logged as Keras 3.15 logs it."""
    rng = np.random.default_rng(0)
    x = rng.random((32, 8)).astype("float32")
    y = rng.integers(0, 4, 32)
    logs = []
    for base in (keras, gn):
        ops = base.ops

        class CategoricalTruePositives(base.metrics.Metric):
            def __init__(self, name="categorical_true_positives", **kwargs):
                super().__init__(name=name, **kwargs)
                self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

            def update_state(self, y_true, y_pred, sample_weight=None):
                y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
                values = ops.cast(ops.cast(y_true, "int32") == ops.cast(y_pred, "int32"), "float32")
                self.true_positives.assign_add(ops.sum(values))

            def result(self):
                return self.true_positives.value

            def reset_state(self):
                self.true_positives.assign(0.0)

        inputs = base.Input(shape=(8,))
        h = base.layers.Dense(6, activation="relu", kernel_initializer="ones")(inputs)
        outputs = base.layers.Dense(4, activation="softmax", kernel_initializer="ones")(h)
        model = base.Model(inputs, outputs)
        model.compile(optimizer=base.optimizers.SGD(1e-2), loss="sparse_categorical_crossentropy",
                      metrics=[CategoricalTruePositives()])
        logs.append(model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history)
    np.testing.assert_allclose(logs[1]["categorical_true_positives"], logs[0]["categorical_true_positives"])
    np.testing.assert_allclose(logs[1]["loss"], logs[0]["loss"], rtol=1e-5)


def test_only_a_class_of_yours_defining_keras_saving_hooks_is_refused(tmp_path):
    """Every glassnet layer has Keras' save_own_variables/load_own_variables (layers/keras_state.py):
    the refusal above is for a class of yours defining one, never for the library's own (the merge of
    the two features refused every save until this check looked at where the method comes from)."""
    model = gn.Sequential([gn.layers.Dense(3, input_dim=2), gn.layers.BatchNormalization(), gn.layers.Dense(1)])
    for path in ("m.npz", "m.keras"):
        model.save(str(tmp_path / path), save_format="keras" if path.endswith(".keras") else None)

    class KeepsItsOwn(gn.layers.Dense):
        def save_own_variables(self, store):
            store["0"] = self.kernel

    mine = gn.Sequential([gn.layers.Input((2,)), KeepsItsOwn(1)])
    mine.save(str(tmp_path / "mine.npz"))        # (kept by model.save since session 48: tests/test_guides4.py)
    wrapped = gn.Sequential([gn.layers.Input((3, 2)), gn.layers.TimeDistributed(KeepsItsOwn(1))])
    with pytest.raises(TypeError, match=r"defines \['save_own_variables'\], Keras' saving hooks"):
        wrapped.save(str(tmp_path / "wrapped.npz"))
