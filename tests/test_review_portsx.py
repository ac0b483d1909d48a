"""Review portsx: keras.io examples not ported before (Grad-CAM class activation maps, ...) run
beside Keras 3.15 from the same weights: what the ports met."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops

L = gn.layers


# -- keras.io's Grad-CAM: ``model.layers[-1].activation = None`` ------------------------------------
_ACTIVATED = [
    (lambda a: L.Dense(3, activation=a), (2, 4)),
    (lambda a: L.Conv2D(3, 2, activation=a), (2, 5, 5, 2)),
    (lambda a: L.Conv1D(3, 2, activation=a), (2, 5, 2)),
    (lambda a: L.Conv2DTranspose(3, 2, activation=a), (2, 4, 4, 2)),
    (lambda a: L.DepthwiseConv2D(2, activation=a), (2, 5, 5, 2)),
    (lambda a: L.SeparableConv2D(3, 2, activation=a), (2, 5, 5, 2)),
    (lambda a: L.EinsumDense("ab,bc->ac", 3, activation=a), (2, 4)),
    (lambda a: L.SimpleRNN(3, activation=a), (2, 4, 2)),
    (lambda a: L.LSTM(3, activation=a), (2, 4, 2)),
    (lambda a: L.GRU(3, activation=a), (2, 4, 2)),
    (lambda a: L.ConvLSTM2D(2, 2, activation=a), (2, 3, 4, 4, 1)),
]


@pytest.mark.parametrize("make, shape", _ACTIVATED)
@pytest.mark.parametrize("value", [None, "linear", gn.activations.linear])
def test_an_activation_set_after_construction_is_the_one_computed(make, shape, value):
    # keras.io's Grad-CAM and integrated gradients take the logits by `model.layers[-1].activation =
    # None` on a built model; glassnet kept the None and the next call failed with "'NoneType' object
    # has no attribute 'forward'"
    x = np.random.default_rng(0).normal(size=shape)
    layer, plain = make("tanh"), make(None)
    plain(x), layer(x)
    layer.set_weights(plain.get_weights())
    layer.activation = value
    np.testing.assert_allclose(layer(x), plain(x), rtol=1e-6, atol=1e-7)
    assert layer.get_config()["activation"] == "linear"
    layer.activation = "relu"
    assert layer.activation.name == "relu"


def test_a_recurrent_activation_set_after_construction_is_the_one_computed():
    x = np.random.default_rng(1).normal(size=(2, 4, 2))
    layer, plain = L.LSTM(3), L.LSTM(3, recurrent_activation="hard_sigmoid")
    plain(x), layer(x)
    layer.set_weights(plain.get_weights())
    layer.recurrent_activation = gn.activations.hard_sigmoid
    np.testing.assert_allclose(layer(x), plain(x), rtol=1e-6, atol=1e-7)


def test_an_activation_set_to_something_unknown_is_refused_by_name():
    layer = L.Dense(2)
    with pytest.raises(ValueError, match=r"Dense: activation: expected one of .*got 'rleu'"):
        layer.activation = "rleu"
    with pytest.raises(ValueError, match=r"GRU: recurrent_activation: expected one of"):
        L.GRU(2).recurrent_activation = "sigmoidd"
    assert layer.activation.name == "linear"


def _gradcam_model(lib):
    Ls = lib.layers
    inp = lib.Input((12, 12, 3))
    x = Ls.Rescaling(1 / 255.0)(inp)
    x = Ls.Conv2D(6, 3, activation="relu")(x)
    x = Ls.SeparableConv2D(8, 3, padding="same")(x)
    x = Ls.BatchNormalization()(x)
    x = Ls.Activation("relu", name="last_conv")(x)
    x = Ls.GlobalAveragePooling2D()(x)
    return lib.Model(inp, Ls.Dense(5, activation="softmax", name="predictions")(Ls.Dropout(0.5)(x)))


def test_keras_io_grad_cam_heatmap_as_keras(keras):
    tf = pytest.importorskip("tensorflow")

    def make_gradcam_heatmap(lib, tape_class, img_array, model, last_conv_layer_name, pred_index=None):
        # keras.io's function, tf.* written as keras.ops (glassnet.ops) and the tape passed in
        grad_model = lib.models.Model(model.inputs, [model.get_layer(last_conv_layer_name).output, model.output])
        with tape_class() as tape:
            last_conv_layer_output, preds = grad_model(img_array)
            if pred_index is None:
                pred_index = lib.ops.argmax(preds[0])
            class_channel = preds[:, pred_index]
        grads = tape.gradient(class_channel, last_conv_layer_output)
        pooled_grads = lib.ops.mean(grads, axis=(0, 1, 2))
        last_conv_layer_output = last_conv_layer_output[0]
        heatmap = last_conv_layer_output @ pooled_grads[..., None]
        heatmap = lib.ops.squeeze(heatmap)
        heatmap = lib.ops.maximum(heatmap, 0) / lib.ops.max(heatmap)
        return lib.ops.convert_to_numpy(heatmap)

    keras.utils.set_random_seed(0)
    kmodel, gmodel = _gradcam_model(keras), _gradcam_model(gn)
    gmodel.set_weights(kmodel.get_weights())
    img = np.random.default_rng(0).uniform(0, 255, (1, 12, 12, 3)).astype("float32")
    kmodel.layers[-1].activation = None
    gmodel.layers[-1].activation = None
    np.testing.assert_allclose(gmodel.predict(img, verbose=0), kmodel(img), rtol=1e-5, atol=1e-6)
    for index in (None, 2):
        expected = make_gradcam_heatmap(keras, tf.GradientTape, img, kmodel, "last_conv", index)
        got = make_gradcam_heatmap(gn, gn.GradientTape, img, gmodel, "last_conv", index)
        assert got.shape == expected.shape == (10, 10)
        # (in [0, 1], divided by their maximum: float32 noise of the gradients grows by 1 / max)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


# -- keras.io's neural style transfer: an image held in a Variable, optimized by a tape -------------
def test_a_variable_of_ones_own_read_under_a_tape_gets_its_gradient(keras):
    # gn.Variable as a source: "GradientTape.gradient: sources[0]: expected a weight array, a recorded
    # value or a watched array, got Variable"; and the ops on it were constants (TF watches a trainable
    # variable read under a tape); apply_gradients refused it ("must be a weight array")
    tf = pytest.importorskip("tensorflow")
    start = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")

    def loss_of(K, v):
        a = K.ops.square(v[:, :3, :] - v[:, 1:, :])
        return (K.ops.sum(K.ops.power(a + 1.0, 1.25)) + K.ops.sum(K.ops.concatenate([v, -v * 2], axis=0) ** 2)
                + K.ops.sum(abs(v)) + K.ops.sum(K.ops.matmul(v, K.ops.transpose(v, (0, 2, 1)))))

    tv, gv = tf.Variable(start.copy()), gn.Variable(start.copy())
    kopt = keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(0.05, decay_steps=1, decay_rate=0.5))
    gopt = gn.optimizers.SGD(gn.optimizers.schedules.ExponentialDecay(0.05, decay_steps=1, decay_rate=0.5))
    for _ in range(3):
        with tf.GradientTape() as tape:
            expected_loss = loss_of(keras, tv)
        expected = tape.gradient(expected_loss, tv)
        with gn.GradientTape() as tape:
            got_loss = loss_of(gn, gv)
        got = tape.gradient(got_loss, gv)
        np.testing.assert_allclose(float(got_loss), float(expected_loss), rtol=1e-5)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
        kopt.apply_gradients([(expected, tv)])
        gopt.apply_gradients([(got, gv)])
        np.testing.assert_allclose(gv.numpy(), tv.numpy(), rtol=1e-5, atol=1e-6)


def test_a_variable_is_watched_as_tf_watches_it():
    v = gn.Variable(np.ones((2, 3), "float32"))
    frozen = gn.Variable(np.ones(3, "float32"), trainable=False)
    with gn.GradientTape(watch_accessed_variables=False) as tape:
        loss = ops.sum(ops.square(v))
    assert tape.gradient(loss, v) is None           # TF's: not watched
    with gn.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(v)
        loss = ops.sum(ops.square(v))
    np.testing.assert_allclose(tape.gradient(loss, v), 2 * np.ones((2, 3)))
    with gn.GradientTape() as tape:
        loss = ops.sum(frozen * 3.0)
    assert tape.gradient(loss, frozen) is None      # a variable not trainable is not watched (TF's)
    with gn.GradientTape() as tape:
        loss = ops.sum(v * 3.0)
    assert tape.gradient(loss, [v, frozen])[1] is None
    assert isinstance(v * 2, np.ndarray) and not isinstance(v[0], gn.tape.Recorded)   # no tape: plain values


def test_keras_io_style_transfer_step_as_keras(keras):
    tf = pytest.importorskip("tensorflow")
    rows = cols = 8

    def extractor(K):
        inp = K.Input((rows, cols, 3))
        x = K.layers.Conv2D(4, 3, padding="same", activation="relu", name="block1_conv1")(inp)
        x = K.layers.MaxPooling2D(name="pool")(x)
        x = K.layers.Conv2D(6, 3, padding="same", activation="relu", name="block2_conv1")(x)
        model = K.Model(inp, x)
        return K.Model(inputs=model.inputs, outputs={layer.name: layer.output for layer in model.layers})

    def step_fn(K, tape_class, feature_extractor):
        ops = K.ops

        def gram_matrix(x):
            x = ops.transpose(x, (2, 0, 1))
            features = ops.reshape(x, (ops.shape(x)[0], -1))
            return ops.matmul(features, ops.transpose(features))

        def compute_loss(combination_image, base_image, style_reference_image):
            features = feature_extractor(ops.concatenate([base_image, style_reference_image, combination_image], axis=0))
            loss = ops.zeros(shape=())
            layer_features = features["block2_conv1"]
            loss = loss + 2.5e-2 * ops.sum(ops.square(layer_features[2, :, :, :] - layer_features[0, :, :, :]))
            for name in ("block1_conv1", "block2_conv1"):
                layer_features = features[name]
                S, C = gram_matrix(layer_features[1, :, :, :]), gram_matrix(layer_features[2, :, :, :])
                loss += (1e-2 / 2) * ops.sum(ops.square(S - C)) / (4.0 * (3 ** 2) * ((rows * cols) ** 2))
            x = combination_image
            a = ops.square(x[:, : rows - 1, : cols - 1, :] - x[:, 1:, : cols - 1, :])
            b = ops.square(x[:, : rows - 1, : cols - 1, :] - x[:, : rows - 1, 1:, :])
            loss += 1e-3 * ops.sum(ops.power(a + b, 1.25))
            return loss

        def compute_loss_and_grads(combination_image, base_image, style_reference_image):
            with tape_class() as tape:
                loss = compute_loss(combination_image, base_image, style_reference_image)
            return loss, tape.gradient(loss, combination_image)
        return compute_loss_and_grads

    rng = np.random.default_rng(1)
    base, style = (rng.uniform(-1, 1, (1, rows, cols, 3)).astype("float32") for _ in range(2))
    kx, gx = extractor(keras), extractor(gn)
    gx.set_weights(kx.get_weights())
    kstep, gstep = step_fn(keras, tf.GradientTape, kx), step_fn(gn, gn.GradientTape, gx)
    kimg, gimg = tf.Variable(base.copy()), gn.Variable(base.copy())
    kopt = keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(1.0, decay_steps=100, decay_rate=0.96))
    gopt = gn.optimizers.SGD(gn.optimizers.schedules.ExponentialDecay(1.0, decay_steps=100, decay_rate=0.96))
    for _ in range(3):
        kloss, kgrads = kstep(kimg, base, style)
        gloss, ggrads = gstep(gimg, base, style)
        np.testing.assert_allclose(float(gloss), float(kloss), rtol=1e-5)
        np.testing.assert_allclose(ggrads, kgrads, rtol=1e-4, atol=1e-6)
        kopt.apply_gradients([(kgrads, kimg)])
        gopt.apply_gradients([(ggrads, gimg)])
    np.testing.assert_allclose(gimg.numpy(), kimg.numpy(), rtol=1e-5, atol=1e-6)


# -- keras.io's deep dream: ``loss = ops.zeros(shape=())`` then ``loss += ...`` on a tape -----------
def test_plus_equals_on_a_plain_array_records_the_sum():
    # "numpy.add on a value a GradientTape records: the tape does not see NumPy functions" for the
    # deep dream's compute_loss; TF's += makes a new tensor (Python binds the name to it)
    x = np.array([[1.0, -2.0, 3.0]], dtype="float32")
    with gn.GradientTape() as tape:
        tape.watch(x)
        loss = ops.zeros(shape=())
        start = loss
        for coeff in (1.0, 1.5):
            loss += coeff * ops.sum(ops.square(x))
    np.testing.assert_allclose(tape.gradient(loss, x), 2.5 * 2 * x)
    assert float(start) == 14.0             # NumPy's in-place write into the plain array, kept
    with gn.GradientTape() as tape:
        tape.watch(x)
        t = ops.convert_to_tensor(x)
        total = np.ones((1, 3), "float32")
        total *= t                          # the other operators too
        total -= t * 3.0
    np.testing.assert_allclose(tape.gradient(total, x), [[-2.0, -2.0, -2.0]])
    np.testing.assert_allclose(total, -2 * x)


def test_keras_io_deep_dream_as_keras(keras):
    tf = pytest.importorskip("tensorflow")
    settings = {"mixed4": 1.0, "mixed5": 1.5}

    def base_model(K):
        inp = K.Input((None, None, 3))
        x = K.layers.Conv2D(4, 3, activation="relu", name="mixed4")(inp)
        x = K.layers.Conv2D(4, 3, activation="relu", name="mixed5", padding="same")(x)
        return K.Model(inp, K.layers.GlobalAveragePooling2D()(x))

    def dream(K, tape_class, model, original_img):
        ops = K.ops
        feature_extractor = K.Model(inputs=model.inputs,
                                    outputs={name: model.get_layer(name).output for name in settings})

        def compute_loss(input_image):
            features = feature_extractor(input_image)
            loss = ops.zeros(shape=())
            for name in features.keys():
                activation = features[name]
                scaling = ops.prod(ops.cast(ops.shape(activation), "float32"))
                loss += settings[name] * ops.sum(ops.square(activation[:, 2:-2, 2:-2, :])) / scaling
            return loss

        img = original_img
        for shape in [(10, 10), (14, 14)]:
            img = ops.image.resize(img, shape)
            for _ in range(2):
                with tape_class() as tape:
                    tape.watch(img)
                    loss = compute_loss(img)
                grads = tape.gradient(loss, img)
                grads = grads / ops.maximum(ops.mean(ops.abs(grads)), 1e-6)
                img += 0.01 * grads
        return ops.convert_to_numpy(img), float(loss)

    image = np.random.default_rng(2).uniform(-1, 1, (1, 14, 14, 3)).astype("float32")
    kmodel, gmodel = base_model(keras), base_model(gn)
    gmodel.set_weights(kmodel.get_weights())
    expected, expected_loss = dream(keras, tf.GradientTape, kmodel, tf.convert_to_tensor(image))
    got, got_loss = dream(gn, gn.GradientTape, gmodel, image.copy())
    np.testing.assert_allclose(got_loss, expected_loss, rtol=1e-5)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


# -- keras.io's EANet (external attention) and SimSiam, as written but for the documented changes --
def _eanet(K, is_glassnet):
    layers, ops = K.layers, K.ops

    class PatchExtract(layers.Layer):
        def __init__(self, patch_size, **kwargs):
            super().__init__(**kwargs)
            self.patch_size = patch_size

        def call(self, x):
            B, C = ops.shape(x)[0], ops.shape(x)[-1]
            x = ops.image.extract_patches(x, self.patch_size)
            return ops.reshape(x, (B, -1, self.patch_size * self.patch_size * C))

    class PatchEmbedding(layers.Layer):
        def __init__(self, num_patch, embed_dim, **kwargs):
            super().__init__(**kwargs)
            self.num_patch = num_patch
            self.proj = layers.Dense(embed_dim)
            self.pos_embed = layers.Embedding(input_dim=num_patch, output_dim=embed_dim)

        def call(self, patch):
            pos = ops.arange(start=0, stop=self.num_patch, step=1)
            if is_glassnet:     # docs/layers.md: a weighted layer on a constant takes the batch axis
                pos = ops.cast(patch[:, :, 0] * 0, "int32") + pos
            return self.proj(patch) + self.pos_embed(pos)

    def external_attention(x, dim, num_heads, dim_coefficient=4):
        _, num_patch, channel = x.shape
        num_heads = num_heads * dim_coefficient
        x = layers.Dense(dim * dim_coefficient)(x)
        x = ops.reshape(x, (-1, num_patch, num_heads, dim * dim_coefficient // num_heads))
        x = ops.transpose(x, axes=[0, 2, 1, 3])
        attn = layers.Dense(dim // dim_coefficient)(x)
        attn = layers.Softmax(axis=2)(attn)

        def double_normalization(attn):
            return ops.divide(attn, ops.convert_to_tensor(1e-9) + ops.sum(attn, axis=-1, keepdims=True))
        # docs/layers.md: a Lambda passes no gradient back; the function is called on the tensor
        attn = double_normalization(attn) if is_glassnet else layers.Lambda(double_normalization)(attn)
        x = layers.Dense(dim * dim_coefficient // num_heads)(attn)
        x = ops.transpose(x, axes=[0, 2, 1, 3])
        x = ops.reshape(x, [-1, num_patch, dim * dim_coefficient])
        return layers.Dense(dim)(x)

    inputs = layers.Input(shape=(8, 8, 3))
    x = PatchEmbedding(16, 8)(PatchExtract(2)(inputs))
    residual = x
    x = layers.add([external_attention(layers.LayerNormalization(epsilon=1e-5)(x), 8, 2), residual])
    residual = x
    x = layers.Dense(8)(layers.Dense(16, activation=ops.gelu)(layers.LayerNormalization(epsilon=1e-5)(x)))
    x = layers.GlobalAveragePooling1D()(layers.add([x, residual]))
    return K.Model(inputs=inputs, outputs=layers.Dense(4, activation="softmax")(x))


def test_keras_io_eanet_trains_as_keras(keras):
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, (24, 8, 8, 3)).astype("float32")
    y = np.eye(4, dtype="float32")[rng.integers(0, 4, 24)]
    keras.utils.set_random_seed(0)
    kmodel, gmodel = _eanet(keras, False), _eanet(gn, True)
    gmodel.set_weights(kmodel.get_weights())
    np.testing.assert_allclose(gmodel.predict(x, verbose=0), kmodel.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    kmodel.compile(optimizer=keras.optimizers.AdamW(learning_rate=1e-2, weight_decay=1e-4),
                   loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1), metrics=["accuracy"],
                   run_eagerly=True)       # (no tracing: faster for a model this small)
    gmodel.compile(optimizer=gn.optimizers.AdamW(learning_rate=1e-2, weight_decay=1e-4, rule="keras"),
                   loss=gn.losses.CategoricalCrossentropy(label_smoothing=0.1), metrics=["accuracy"])
    expected = kmodel.fit(x, y, batch_size=8, epochs=2, validation_split=0.25, shuffle=False, verbose=0).history
    got = gmodel.fit(x, y, batch_size=8, epochs=2, validation_split=0.25, shuffle=False, verbose=0).history
    for key in ("loss", "val_loss", "accuracy"):
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-5)


def _simsiam(K, tape_class):
    layers, ops = K.layers, K.ops

    def get_encoder():
        inputs = layers.Input((6, 6, 3))
        x = layers.Rescaling(scale=1.0 / 127.5, offset=-1)(inputs)
        x = layers.Conv2D(4, 3, padding="same", use_bias=False)(x)
        x = layers.Activation("relu")(layers.BatchNormalization()(x))
        x = layers.GlobalAveragePooling2D(name="backbone_pool")(x)
        x = layers.ReLU()(layers.BatchNormalization()(layers.Dense(8, use_bias=False)(x)))
        outputs = layers.BatchNormalization()(layers.Dense(8, use_bias=False)(x))
        return K.Model(inputs, outputs, name="encoder")

    def get_predictor():
        return K.Sequential([layers.Input((8,)), layers.Dense(4, use_bias=False), layers.ReLU(),
                             layers.BatchNormalization(), layers.Dense(8)], name="predictor")

    def compute_loss(p, z):
        z = ops.stop_gradient(z)
        p = ops.normalize(p, axis=1, order=2)
        z = ops.normalize(z, axis=1, order=2)
        return -ops.mean(ops.sum((p * z), axis=1))

    class SimSiam(K.Model):
        def __init__(self, encoder, predictor):
            super().__init__()
            self.encoder = encoder
            self.predictor = predictor
            self.loss_tracker = K.metrics.Mean(name="loss")

        @property
        def metrics(self):
            return [self.loss_tracker]

        def train_step(self, data):
            ds_one, ds_two = data
            with tape_class() as tape:
                z1, z2 = self.encoder(ds_one, training=True), self.encoder(ds_two, training=True)
                p1, p2 = self.predictor(z1, training=True), self.predictor(z2, training=True)
                loss = compute_loss(p1, z2) / 2 + compute_loss(p2, z1) / 2
            learnable_params = self.encoder.trainable_variables + self.predictor.trainable_variables
            gradients = tape.gradient(loss, learnable_params)
            self.optimizer.apply_gradients(zip(gradients, learnable_params))
            self.loss_tracker.update_state(loss)
            return {"loss": self.loss_tracker.result()}

    return get_encoder(), get_predictor(), SimSiam


def test_keras_io_simsiam_trains_as_keras(keras):
    # two views as fit(x1, x2) (keras.io zips two tf.data pipelines); SGD's momentum with a changing
    # rate is Keras' under rule="keras" (docs/optimizers.md: the default is PyTorch's)
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(4)
    x1, x2 = (rng.uniform(0, 255, (24, 6, 6, 3)).astype("float32") for _ in range(2))
    keras.utils.set_random_seed(0)
    kenc, kpred, KSim = _simsiam(keras, tf.GradientTape)
    genc, gpred, GSim = _simsiam(gn, gn.GradientTape)
    genc.set_weights(kenc.get_weights())
    gpred.set_weights(kpred.get_weights())
    kmodel, gmodel = KSim(kenc, kpred), GSim(genc, gpred)
    kmodel.compile(optimizer=keras.optimizers.SGD(keras.optimizers.schedules.CosineDecay(0.03, 6), momentum=0.6),
                   run_eagerly=True)
    gmodel.compile(optimizer=gn.optimizers.SGD(gn.optimizers.schedules.CosineDecay(0.03, 6), momentum=0.6,
                                               rule="keras"))
    expected = kmodel.fit(x1, x2, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]
    got = gmodel.fit(x1, x2, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    for mine, theirs in zip(genc.get_weights() + gpred.get_weights(), kenc.get_weights() + kpred.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-6)


# -- keras.io's mixture density network: Dense(..., activation=elu_plus_one_plus_epsilon) ----------
def test_a_function_activation_of_ones_own_is_refused_with_the_port():
    # the message listed the 29 names and "None or an Activation", saying nothing of the function
    def elu_plus_one_plus_epsilon(x):
        return gn.activations.elu(x) + 1 + gn.backend.epsilon()

    with pytest.raises(ValueError, match=r"Dense: activation: the function 'elu_plus_one_plus_epsilon' gives the "
                                         r"forward pass alone.*f\(Dense\(units\)\(x\)\).*Activation\(name, forward"):
        L.Dense(3, activation=elu_plus_one_plus_epsilon)
    with pytest.raises(ValueError, match=r"Conv2D: activation: the function '<lambda>'"):
        L.Conv2D(3, 2, activation=lambda x: x)
    # the port the message gives trains: the function called on the layer's output
    inputs = gn.Input((2,))
    outputs = elu_plus_one_plus_epsilon(L.Dense(3)(inputs))
    model = gn.Model(inputs, outputs, seed=0)
    x = np.random.default_rng(0).normal(size=(8, 2))
    # (gn.activations' functions on a model's tensor, or on a value a tape records, are glassnet.ops')
    kernel, bias = model.get_weights()
    expected = np.where(x @ kernel + bias > 0, x @ kernel + bias, np.expm1(x @ kernel + bias)) + 1 + 1e-7
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5)
    w = np.array([[1.0, -2.0]], "float32")
    with gn.GradientTape() as tape:
        tape.watch(w)
        value = ops.sum(elu_plus_one_plus_epsilon(ops.convert_to_tensor(w) * 2.0))
    np.testing.assert_allclose(tape.gradient(value, w), [[2.0, 2 * np.exp(-4.0)]], rtol=1e-5)
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, np.ones((8, 3)), epochs=1, verbose=0)
