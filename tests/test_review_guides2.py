"""Found porting more of keras.io's guides to glassnet (session 46, guides2): "Introduction to Keras
for researchers" (custom layers and metrics, GradientTape loops, the VAE, the hypernetwork),
"Working with preprocessing layers", "Customizing what happens in evaluate()", "Migrating Keras 2
code", mixed precision and quantization; each snippet run in Keras 3.15 too."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops


# -- "Introduction to Keras for researchers" ------------------------------------------------------

def _f1_score(lib, lib_ops):
    """The guide's F1Score metric as written (it casts to ``self.dtype``)."""
    class F1Score(lib.metrics.Metric):
        def __init__(self, name="f1_score", dtype="float32", threshold=0.5, **kwargs):
            super().__init__(name=name, dtype=dtype, **kwargs)
            self.threshold = 0.5
            self.true_positives = self.add_weight(name="tp", dtype=dtype, initializer="zeros")
            self.false_positives = self.add_weight(name="fp", dtype=dtype, initializer="zeros")
            self.false_negatives = self.add_weight(name="fn", dtype=dtype, initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_pred = lib_ops.greater_equal(y_pred, self.threshold)
            y_true = lib_ops.cast(y_true, "bool")
            y_pred = lib_ops.cast(y_pred, "bool")
            tp = lib_ops.cast(y_true & y_pred, self.dtype)
            fp = lib_ops.cast(~y_true & y_pred, self.dtype)
            fn = lib_ops.cast(y_true & ~y_pred, self.dtype)
            if sample_weight is not None:
                sample_weight = lib_ops.cast(sample_weight, self.dtype)
                tp, fp, fn = tp * sample_weight, fp * sample_weight, fn * sample_weight
            self.true_positives.assign_add(lib_ops.sum(tp))
            self.false_positives.assign_add(lib_ops.sum(fp))
            self.false_negatives.assign_add(lib_ops.sum(fn))

        def result(self):
            precision = self.true_positives / (self.true_positives + self.false_positives)
            recall = self.true_positives / (self.true_positives + self.false_negatives)
            return precision * recall * 2.0 / (precision + recall)

        def reset_state(self):
            for v in (self.true_positives, self.false_positives, self.false_negatives):
                v.assign(0)
    return F1Score


def _run_f1(f1_class):
    m = f1_class()
    m.update_state([0, 1, 0, 0], [0.3, 0.5, 0.8, 0.9])
    values = [float(m.result())]
    m.update_state([1, 1, 1, 1], [0.1, 0.7, 0.6, 0.0])
    values.append(float(m.result()))
    m.update_state(np.array([1, 0]), np.array([0.9, 0.9]), sample_weight=np.array([2.0, 0.5]))
    values.append(float(m.result()))
    m.reset_state()
    return values, float(np.asarray(m.true_positives))


def test_the_researchers_guide_f1_score_reads_the_metric_dtype():
    """The guide's F1Score casts with ``ops.cast(..., self.dtype)``: glassnet's Metric had no
    ``dtype`` (AttributeError). It is Keras' (the dtype given, else floatx)."""
    values, reset = _run_f1(_f1_score(gn, ops))
    np.testing.assert_allclose(values, [0.5, 0.6, 20 / 29], rtol=1e-6)      # worked by hand, as Keras' below
    assert reset == 0.0
    assert gn.metrics.Mean().dtype == "float32" and gn.metrics.Mean(dtype="float64").dtype == "float64"


def test_the_researchers_guide_f1_score_as_keras(keras):
    ours = _run_f1(_f1_score(gn, ops))
    theirs = _run_f1(_f1_score(keras, keras.ops))
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-6)
    assert keras.metrics.Mean().dtype == gn.metrics.Mean().dtype


@pytest.mark.parametrize("name, kwargs", [("Zeros", {}), ("Ones", {}), ("Constant", {"value": 0.5}),
                                          ("Identity", {"gain": 2.0})])
def test_initializers_called_as_keras_calls_them(name, kwargs):
    """The guide's ``tf.zeros_initializer()(shape=(units,), dtype="float32")``, in Keras 3
    ``keras.initializers.Zeros()(shape, dtype=None)``: glassnet's Zeros, Ones, Constant and
    Identity took ``(shape, rng, dtype)`` only (TypeError: missing 'rng'), and a random
    initializer given Keras' positional dtype took it for a generator."""
    init = getattr(gn.initializers, name)(**kwargs)
    expected = {"Zeros": np.zeros((3, 3)), "Ones": np.ones((3, 3)), "Constant": np.full((3, 3), 0.5),
                "Identity": 2 * np.eye(3)}[name]
    for value, dtype in [(init(shape=(3, 3), dtype="float32"), "float32"), (init((3, 3), "float64"), "float64"),
                         (init((3, 3)), "float32"), (init((3, 3), None, "float16"), "float16")]:
        assert value.dtype == dtype
        np.testing.assert_array_equal(value, expected)
    w = gn.initializers.RandomNormal(seed=3)((2, 2), "float64")
    assert w.dtype == "float64"
    np.testing.assert_array_equal(w, gn.initializers.RandomNormal(seed=3)((2, 2), dtype="float64"))
    with pytest.raises(TypeError, match="dtype given twice"):
        init((3, 3), "float32", "float64")


# -- "Training & evaluation with the built-in methods": LogisticEndpoint --------------------------

def _endpoint_model(lib, make_loss, glassnet_order, targets_shape, seed=0):
    """The guide's LogisticEndpoint model (a loss object called in call on the targets, the
    logits and the sample weights, then add_loss), compiled without a loss."""
    class LogisticEndpoint(lib.layers.Layer):
        def __init__(self, name=None):
            super().__init__(name=name)
            self.loss_fn = make_loss(lib)

        def call(self, targets, logits, sample_weights=None):
            if glassnet_order:
                loss = self.loss_fn(logits, targets, sample_weights)
            else:
                loss = self.loss_fn(targets, logits, sample_weights)
            self.add_loss(loss)
            return lib.ops.softmax(logits)

    inputs = lib.Input(shape=(3,), name="inputs")
    targets = lib.Input(shape=targets_shape, name="targets",
                        dtype="int32" if targets_shape == () else "float32")
    logits = lib.layers.Dense(4)(inputs)
    sample_weights = lib.Input(shape=(1,), name="sample_weights")
    preds = LogisticEndpoint()(targets, logits, sample_weights)
    model = lib.Model(inputs=[inputs, targets, sample_weights], outputs=preds)
    r = np.random.default_rng(seed)
    model.set_weights([r.normal(0, 0.5, np.shape(w)).astype("float32") for w in model.get_weights()])
    model.compile(optimizer=lib.optimizers.Adam(1e-2))
    return model


def _endpoint_data(targets_shape):
    r = np.random.default_rng(1)
    # rows of soft targets summing to 1: TF's softmax_cross_entropy_with_logits, under Keras'
    # CategoricalCrossentropy, back-propagates softmax - targets, the gradient only for such rows
    soft = r.random((8, 4))
    targets = (r.integers(0, 4, 8).astype("int32") if targets_shape == ()
               else (soft / soft.sum(axis=1, keepdims=True)).astype("float32"))
    return {"inputs": r.random((8, 3)).astype("float32"), "targets": targets,
            "sample_weights": r.random((8, 1)).astype("float32")}


_ENDPOINT_LOSSES = {
    "bce_logits": (lambda lib: lib.losses.BinaryCrossentropy(from_logits=True), (4,)),
    "bce_smoothed": (lambda lib: lib.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.2), (4,)),
    "cce_logits": (lambda lib: lib.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1), (4,)),
    "sparse_logits": (lambda lib: lib.losses.SparseCategoricalCrossentropy(from_logits=True), ()),
    "mse_sum": (lambda lib: lib.losses.MeanSquaredError(reduction="sum"), (4,)),
    "mae": (lambda lib: lib.losses.MeanAbsoluteError(), (4,)),
}


@pytest.mark.parametrize("kind", sorted(_ENDPOINT_LOSSES))
def test_logistic_endpoint_loss_object_in_call_trains_as_keras(keras, kind):
    """keras.io's LogisticEndpoint (``loss = self.loss_fn(targets, logits, sample_weights)``,
    ``self.add_loss(loss)``, compile without a loss) was refused: a glassnet Loss object computed on
    arrays only ("... holds no values"), and a third positional sample_weight was a TypeError. In
    glassnet's order, ``self.loss_fn(logits, targets, sample_weights)``, it is now drawn with
    glassnet.ops, and fits as Keras 3.15's guide model does (the same weights, 1e-5)."""
    make_loss, shape = _ENDPOINT_LOSSES[kind]
    data = _endpoint_data(shape)
    ours = _endpoint_model(gn, make_loss, True, shape).fit(data, epochs=3, batch_size=4, shuffle=False, verbose=0)
    theirs = _endpoint_model(keras, make_loss, False, shape).fit(data, epochs=3, batch_size=4, shuffle=False,
                                                                 verbose=0)
    np.testing.assert_allclose(ours.history["loss"], theirs.history["loss"], rtol=1e-5)


def test_logistic_endpoint_in_keras_order_is_refused_by_name():
    make_loss, shape = _ENDPOINT_LOSSES["bce_logits"]
    with pytest.raises(TypeError, match=r"y_pred is a model input and y_true is not.*self\.loss_fn\(logits, targets"):
        _endpoint_model(gn, make_loss, False, shape)


def test_a_loss_object_in_call_not_drawn_is_refused_by_name():
    with pytest.raises(NotImplementedError, match=r"Huber: not drawn on a call's tensors"):
        _endpoint_model(gn, lambda lib: lib.losses.Huber(), True, (4,))


def test_a_loss_object_takes_keras_third_positional_sample_weight():
    """Keras' ``loss_fn(y_true, y_pred, sample_weight)``: the third positional argument is the
    weights, as the keyword (it was a TypeError: 3 positional arguments, 4 given)."""
    r = np.random.default_rng(0)
    p, y, w = r.random((5, 2)), r.random((5, 2)), r.random(5)
    for loss in (gn.losses.MeanSquaredError(), gn.losses.BinaryCrossentropy()):
        assert loss(p, y, w) == loss(p, y, sample_weight=w)
        assert loss(p, y, w) != loss(p, y)


def _compute_sum_with_variable(lib, lib_ops):
    """The researchers guide's ComputeSum, its state a Variable made in __init__ (the guide's
    ``tf.Variable(initial_value=tf.zeros((input_dim,)), trainable=False)``, Keras 3's ``keras.Variable``)."""
    class ComputeSum(lib.layers.Layer):
        def __init__(self, input_dim):
            super().__init__()
            self.total = lib.Variable(lib_ops.zeros((input_dim,)), trainable=False)

        def call(self, inputs):
            self.total.assign_add(lib_ops.sum(inputs, axis=0))
            return self.total
    return ComputeSum


def test_compute_sum_with_a_variable_runs_eagerly_as_keras(keras):
    """``self.total.assign_add(ops.sum(inputs, axis=0))`` on a ``gn.Variable`` failed called alone
    on arrays with "a batch vector used as an array" (the update met the draw's tensor); it now
    runs eagerly as the add_weight form does, [2, 2] then [4, 4], as Keras 3.15's."""
    results = []
    for lib, lib_ops in ((gn, ops), (keras, keras.ops)):
        my_sum = _compute_sum_with_variable(lib, lib_ops)(2)
        x = lib_ops.ones((2, 2))
        results.append([my_sum(x).numpy(), my_sum(x).numpy()])
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], [[2.0, 2.0], [4.0, 4.0]])


@pytest.mark.parametrize("how", ["assign", "assign_add", "assign_sub"])
def test_a_variable_updated_in_call_is_refused_by_name_in_a_model(how):
    class Updates(gn.layers.Layer):
        def __init__(self):
            super().__init__()
            self.total = gn.Variable(np.zeros(2, "float32"), trainable=False)

        def call(self, inputs):
            getattr(self.total, how)(ops.sum(inputs, axis=0))
            return inputs * 2.0
    # (the variable is the block's weight since guides3, glassnet._attr_variables: the weight's refusal)
    with pytest.raises(NotImplementedError, match=rf"updates/variable shape=\(2,\)>\.{how}: 'updates' updates a "
                                                  rf"weight in call.*forward"):
        gn.Sequential([gn.Input((2,)), Updates()]).predict(np.ones((2, 2), "float32"), verbose=0)


# -- "Customizing saving and serialization": a compile of one's own -------------------------------

def _custom_compile_class(lib, lib_ops, received=None):
    """The saving guide's ModelWithCustomCompile: ``compile(self, optimizer, loss_fn, metrics)``
    calling ``super().compile(optimizer=..., loss=..., metrics=...)``, its own ``get_compile_config``
    and ``compile_from_config`` (which records each config it is given in ``received``), registered
    as the guide registers it; and its ``small_square_sum_loss``. (The guide's ``__init__`` takes
    no arguments, and Keras 3.15 then fails to load it: here it takes Keras' ``**kwargs``.)"""
    @lib.saving.register_keras_serializable(package="my_custom_package")
    def small_square_sum_loss(y_true, y_pred):
        loss = lib_ops.square(y_pred - y_true)
        loss = loss / 10.0
        return lib_ops.sum(loss, axis=1)

    @lib.saving.register_keras_serializable(package="my_custom_package")
    class ModelWithCustomCompile(lib.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense1 = lib.layers.Dense(8, activation="relu")
            self.dense2 = lib.layers.Dense(4, activation="softmax")

        def call(self, inputs):
            return self.dense2(self.dense1(inputs))

        def compile(self, optimizer, loss_fn, metrics):
            super().compile(optimizer=optimizer, loss=loss_fn, metrics=metrics)
            self.model_optimizer, self.loss_fn, self.loss_metrics = optimizer, loss_fn, metrics

        def get_compile_config(self):
            return {"model_optimizer": self.model_optimizer, "loss_fn": self.loss_fn, "metric": self.loss_metrics}

        def compile_from_config(self, config):
            if received is not None:
                received.append(config)
            optimizer = lib.utils.deserialize_keras_object(config["model_optimizer"])
            loss_fn = lib.utils.deserialize_keras_object(config["loss_fn"])
            metrics = lib.utils.deserialize_keras_object(config["metric"])
            self.compile(optimizer=optimizer, loss_fn=loss_fn, metrics=metrics)
    return ModelWithCustomCompile, small_square_sum_loss


def test_a_compile_override_of_its_own_signature_before_the_draw(keras):
    """Compiled before its call was drawn, glassnet replayed the compile when it drew the model
    through the subclass' own ``compile(optimizer, loss_fn, metrics)``, with glassnet's keywords:
    TypeError "unexpected keyword argument 'loss'" at fit (Keras fits). The replay is glassnet's
    own compile now (the override ran when called); it fits as Keras 3.15's from the same weights."""
    r = np.random.default_rng(0)
    x, y = r.random((8, 8)).astype("float32"), r.random((8, 4)).astype("float32")
    histories, weights = [], None
    for lib, lib_ops in ((keras, keras.ops), (gn, ops)):
        cls, loss_fn = _custom_compile_class(lib, lib_ops)
        model = cls()
        model.compile(optimizer=lib.optimizers.SGD(0.1), loss_fn=loss_fn, metrics=["mae"])
        model(x[:1])                   # builds (draws) it: the compile given before runs then
        if weights is None:
            weights = [np.asarray(w) for w in model.get_weights()]
        else:
            model.set_weights(weights)
        histories.append(model.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history)
        assert model.loss_fn is loss_fn
    np.testing.assert_allclose(histories[1]["loss"], histories[0]["loss"], rtol=1e-5)
    np.testing.assert_allclose(histories[1]["mae"], histories[0]["mae"], rtol=1e-5)


# -- "Customizing quantization with QuantizationConfig" ------------------------------------------

def _quantization_guide_model(lib):
    model = lib.Sequential([lib.Input(shape=(10,)), lib.layers.Dense(32, activation="relu"), lib.layers.Dense(1)])
    r = np.random.default_rng(5)
    model.set_weights([r.normal(0, 0.4, np.shape(w)).astype("float32") for w in model.get_weights()])
    return model


def _percentile_quantizer(lib, lib_ops):
    """The guide's PercentileQuantizer (a Quantizer subclass of one's own), as written."""
    class PercentileQuantizer(lib.quantizers.Quantizer):
        def __init__(self, percentile=99.9, value_range=(-127, 127), epsilon=1e-7, output_dtype="int8"):
            super().__init__(output_dtype=output_dtype)
            self.percentile, self.value_range, self.epsilon = percentile, value_range, epsilon

        def __call__(self, x, axis, to_numpy=False):
            max_val = lib_ops.quantile(lib_ops.abs(x), self.percentile / 100, axis=axis, keepdims=True)
            scale = lib_ops.divide(self.value_range[1], lib_ops.add(max_val, self.epsilon))
            scale = lib_ops.cast(scale, lib.backend.standardize_dtype(x.dtype))
            outputs = lib_ops.clip(lib_ops.round(lib_ops.multiply(x, scale)), *self.value_range)
            return lib_ops.cast(outputs, self.output_dtype), scale

        def get_config(self):
            return {"percentile": self.percentile, "value_range": self.value_range, "epsilon": self.epsilon,
                    "output_dtype": self.output_dtype}
    return PercentileQuantizer


def test_quantized_dense_has_keras_inputs_quantizer(tmp_path):
    """``model.layers[0].inputs_quantizer`` (the guide's check of weight-only int4 and of its
    custom quantizer) was an AttributeError; it is the config's activation quantizer, as Keras'."""
    q = gn.quantizers
    model = _quantization_guide_model(gn)
    model.quantize("int8")
    assert isinstance(model.layers[0].inputs_quantizer, q.AbsMaxQuantizer)
    model.save(tmp_path / "q.keras")
    assert isinstance(gn.saving.load_model(tmp_path / "q.keras").layers[0].inputs_quantizer, q.AbsMaxQuantizer)
    model = _quantization_guide_model(gn)
    model.quantize(config=q.Int4QuantizationConfig(
        weight_quantizer=q.AbsMaxQuantizer(value_range=(-8, 7), output_dtype="int8", axis=0),
        activation_quantizer=None, block_size=-1))
    assert model.layers[0].inputs_quantizer is None
    custom = _percentile_quantizer(gn, ops)(percentile=99.9)
    model = _quantization_guide_model(gn)
    model.quantize(config=q.Int8QuantizationConfig(weight_quantizer=q.AbsMaxQuantizer(axis=0),
                                                   activation_quantizer=custom))
    assert model.layers[0].inputs_quantizer is custom and model.layers[1].inputs_quantizer is custom


def _guide_config(lib, lib_ops, kind):
    q = lib.quantizers
    if kind == "int8_range":
        return q.Int8QuantizationConfig(weight_quantizer=q.AbsMaxQuantizer(value_range=(-100, 100), axis=0),
                                        activation_quantizer=q.AbsMaxQuantizer(value_range=(-100, 100), axis=-1))
    if kind == "int4_weights":
        return q.Int4QuantizationConfig(weight_quantizer=q.AbsMaxQuantizer(value_range=(-8, 7), output_dtype="int8",
                                                                           axis=0),
                                        activation_quantizer=None, block_size=-1)
    return q.Int8QuantizationConfig(weight_quantizer=q.AbsMaxQuantizer(axis=0),
                                    activation_quantizer=_percentile_quantizer(lib, lib_ops)(percentile=99.9))


@pytest.mark.parametrize("kind", ["int8_range", "int4_weights", "percentile"])
def test_the_quantization_guide_custom_quantizers_as_keras(keras, kind):
    x = np.random.default_rng(0).random((4, 10)).astype("float32")
    outs = []
    for lib, lib_ops in ((gn, ops), (keras, keras.ops)):
        model = _quantization_guide_model(lib)
        model.quantize(config=_guide_config(lib, lib_ops, kind))
        outs.append(lib_ops.convert_to_numpy(model(x)))     # (Keras' predict traces a function: slow)
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5, atol=1e-6)


# -- the researchers guide's VAE, trained by a GradientTape loop ----------------------------------

def _vae(lib, lib_ops):
    """The guide's Encoder / Decoder / VariationalAutoEncoder (a KL add_loss in call), the
    sampling's epsilon 0 so that the two libraries draw the same."""
    layers = lib.layers

    class Sampling(layers.Layer):
        def call(self, inputs):
            z_mean, z_log_var = inputs
            return z_mean + lib_ops.exp(0.5 * z_log_var) * 0.0

    class Encoder(layers.Layer):
        def __init__(self, latent_dim, intermediate_dim, **kwargs):
            super().__init__(**kwargs)
            self.dense_proj = layers.Dense(intermediate_dim, activation=lib_ops.relu)
            self.dense_mean = layers.Dense(latent_dim)
            self.dense_log_var = layers.Dense(latent_dim)
            self.sampling = Sampling()

        def call(self, inputs):
            x = self.dense_proj(inputs)
            z_mean, z_log_var = self.dense_mean(x), self.dense_log_var(x)
            return z_mean, z_log_var, self.sampling((z_mean, z_log_var))

    class Decoder(layers.Layer):
        def __init__(self, original_dim, intermediate_dim, **kwargs):
            super().__init__(**kwargs)
            self.dense_proj = layers.Dense(intermediate_dim, activation=lib_ops.relu)
            self.dense_output = layers.Dense(original_dim, activation=lib_ops.sigmoid)

        def call(self, inputs):
            return self.dense_output(self.dense_proj(inputs))

    class VariationalAutoEncoder(layers.Layer):
        def __init__(self, original_dim, intermediate_dim=8, latent_dim=4, **kwargs):
            super().__init__(**kwargs)
            self.encoder = Encoder(latent_dim, intermediate_dim)
            self.decoder = Decoder(original_dim, intermediate_dim)

        def call(self, inputs):
            z_mean, z_log_var, z = self.encoder(inputs)
            reconstructed = self.decoder(z)
            self.add_loss(-0.5 * lib_ops.mean(z_log_var - lib_ops.square(z_mean) - lib_ops.exp(z_log_var) + 1))
            return reconstructed
    return VariationalAutoEncoder


def test_the_researchers_guide_vae_loop_as_keras(keras):
    tf = pytest.importorskip("tensorflow")
    x = np.random.default_rng(0).random((32, 12)).astype("float32")
    runs = []
    for lib, lib_ops, tape in ((keras, keras.ops, tf.GradientTape), (gn, ops, gn.GradientTape)):
        vae = _vae(lib, lib_ops)(original_dim=12)
        vae(x[:2])
        r = np.random.default_rng(5)
        vae.set_weights([r.normal(0, 0.2, np.shape(w)).astype("float32") for w in vae.get_weights()])
        loss_fn, optimizer = lib.losses.MeanSquaredError(), lib.optimizers.SGD(learning_rate=0.1)
        losses = []
        for step in range(4):
            batch = x[step * 8:(step + 1) * 8]
            with tape() as t:
                reconstructed = vae(batch)
                # (glassnet's Loss order is (y_pred, y_true): docs/keras_parity.md)
                loss = loss_fn(batch, reconstructed) if lib is keras else loss_fn(reconstructed, batch)
                loss += sum(vae.losses)
            grads = t.gradient(loss, vae.trainable_weights)
            optimizer.apply_gradients(zip(grads, vae.trainable_weights))
            losses.append(float(loss))
        runs.append((losses, len(vae.losses)))
    np.testing.assert_allclose(runs[1][0], runs[0][0], rtol=1e-5)
    assert runs[1][1] == runs[0][1] == 1
