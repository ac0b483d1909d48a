"""keras.io examples ported to glassnet beside Keras 3.15 (collaborative filtering for movie
recommendations, conditional GAN, timeseries weather forecasting, ...): what the ports met."""
import numpy as np
import pytest

import glassnet as gn


def _recommender(framework, per_sample):
    """keras.io's RecommenderNet, its call as the example writes it (``per_sample=False``) or with
    the per-sample dot product glassnet's message gives."""
    layers, ops = framework.layers, framework.ops

    class RecommenderNet(framework.Model):
        def __init__(self, num_users, num_movies, embedding_size, **kwargs):
            super().__init__(**kwargs)
            self.user_embedding = layers.Embedding(num_users, embedding_size, embeddings_initializer="he_normal",
                                                   embeddings_regularizer=framework.regularizers.l2(1e-6))
            self.user_bias = layers.Embedding(num_users, 1)
            self.movie_embedding = layers.Embedding(num_movies, embedding_size, embeddings_initializer="he_normal",
                                                    embeddings_regularizer=framework.regularizers.l2(1e-6))
            self.movie_bias = layers.Embedding(num_movies, 1)

        def call(self, inputs):
            user_vector = self.user_embedding(inputs[:, 0])
            user_bias = self.user_bias(inputs[:, 0])
            movie_vector = self.movie_embedding(inputs[:, 1])
            movie_bias = self.movie_bias(inputs[:, 1])
            if per_sample:
                dot_user_movie = ops.sum(user_vector * movie_vector, axis=-1, keepdims=True)
            else:
                dot_user_movie = ops.tensordot(user_vector, movie_vector, 2)
            return ops.nn.sigmoid(dot_user_movie + user_bias + movie_bias)

    return RecommenderNet(9, 11, 6)


def _ratings():
    rng = np.random.default_rng(0)
    x = np.stack([rng.integers(0, 9, 200), rng.integers(0, 11, 200)], 1)         # int64, as pandas gives
    return x, (rng.integers(1, 11, 200) / 2.0 - 0.5) / 4.5                        # float64 in [0, 1]


def test_the_recommenders_tensordot_is_refused_with_the_per_sample_dot_that_trains_as_keras(keras):
    # keras.io's collaborative filtering: ops.tensordot(user_vector, movie_vector, 2) was refused
    # suggesting ops.einsum('bij,bjk->bik', x1, x2), which does not fit (batch, n) vectors, and
    # without saying that Keras' contraction sums over the batch axis too
    x, y = _ratings()
    with pytest.raises(TypeError, match=r"(?s)the batch axis too.*ops\.sum\(x1 \* x2, axis=-1, keepdims=True\)"):
        _recommender(gn, per_sample=False).predict(x[:4], verbose=0)
    models = [_recommender(framework, per_sample=True) for framework in (keras, gn)]
    for model, framework in zip(models, (keras, gn)):
        model.compile(loss=framework.losses.BinaryCrossentropy(), optimizer=framework.optimizers.SGD(0.5))
        model(x[:2])
    models[1].set_weights(models[0].get_weights())
    np.testing.assert_allclose(models[1].predict(x, verbose=0), models[0].predict(x, verbose=0), atol=1e-6)
    losses = [model.fit(x, y, batch_size=64, epochs=3, shuffle=False, verbose=0).history["loss"] for model in models]
    np.testing.assert_allclose(losses[1], losses[0], atol=1e-5)


class _Recorder(gn.Model):
    """A model whose step records the targets of each batch fit hands it, in order."""
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = []

    def train_step(self, data):
        self.seen.append(np.asarray(data[1]).ravel().tolist())
        return {"batches": float(len(self.seen))}


def _batches_fit_reads(dataset, **fit_options):
    model = _Recorder(seed=0)
    model.compile()
    model.fit(dataset, epochs=2, verbose=0, **fit_options)
    return model.seen


def test_a_timeseries_dataset_made_without_shuffle_is_read_in_order_as_keras_reads_its_dataset():
    # Keras' timeseries_dataset_from_array returns a tf.data Dataset, which fit never shuffles;
    # glassnet's (a PyDataset) had its batches' order shuffled by fit's default shuffle=True, so
    # keras.io's weather forecast trained on other batch orders, silently
    series = np.arange(40.0)
    dataset = gn.utils.timeseries_dataset_from_array(series, series[3:], sequence_length=3, batch_size=8)
    in_order = [[float(v) for v in series[3 + 8 * i: 3 + 8 * i + 8]] for i in range(len(dataset))]
    assert _batches_fit_reads(dataset) == in_order * 2
    # made with shuffle=True, fit's shuffling of the batches still stands in for Keras' reshuffle
    shuffled = gn.utils.timeseries_dataset_from_array(series, series[3:], sequence_length=3, batch_size=4,
                                                      shuffle=True, seed=1)
    seen = _batches_fit_reads(shuffled)
    assert seen[:len(shuffled)] != [list(map(float, shuffled[i][1])) for i in range(len(shuffled))]


def test_a_text_folder_made_without_shuffle_is_read_in_order(tmp_path):
    for name in ("neg", "pos"):
        (tmp_path / name).mkdir()
        for i in range(5):
            (tmp_path / name / f"{i}.txt").write_text(f"{name} {i}", encoding="utf-8")
    dataset = gn.utils.text_dataset_from_directory(tmp_path, batch_size=2, shuffle=False, verbose=False)
    assert _batches_fit_reads(dataset) == [[0, 0], [0, 0], [0, 1], [1, 1], [1, 1]] * 2


def test_the_weather_forecast_trains_as_keras(keras):
    # keras.io's timeseries weather forecasting: LSTM(32) on timeseries_dataset_from_array windows,
    # fit with its defaults (shuffle=True, which Keras ignores for its tf.data Dataset)
    rng = np.random.default_rng(0)
    features = np.sin(np.arange(600)[:, None] / (20.0 + 7 * np.arange(3))) + rng.normal(0, 0.2, (600, 3))
    step, past, future = 3, 30, 6
    x_train, y_train = features[:400], features[past + future: past + future + 400, 1:2]
    datasets = [framework.preprocessing.timeseries_dataset_from_array(
        x_train, y_train, sequence_length=past // step, sampling_rate=step, batch_size=32) for framework in (keras, gn)]
    models = []
    for framework in (keras, gn):
        inputs = framework.layers.Input(shape=(past // step, 3))
        outputs = framework.layers.Dense(1)(framework.layers.LSTM(8)(inputs))
        model = framework.Model(inputs=inputs, outputs=outputs)
        model.compile(optimizer=framework.optimizers.SGD(0.05), loss="mse")
        models.append(model)
    models[1].set_weights(models[0].get_weights())
    with pytest.warns(UserWarning, match="shuffle"):        # Keras': its Dataset is not shuffled
        keras_history = models[0].fit(datasets[0], epochs=3, verbose=0).history["loss"]
    np.testing.assert_allclose(models[1].fit(datasets[1], epochs=3, verbose=0).history["loss"], keras_history,
                               rtol=1e-5)


@pytest.mark.parametrize("from_logits", [True, False])
def test_a_binary_crossentropy_called_in_keras_order_on_logits_says_so(from_logits):
    # keras.io's GANs call loss_fn(labels, predictions); glassnet's Loss takes (y_pred, y_true),
    # and outside a GradientTape (a test_step, a value logged) that call gave a plausible number
    # from the logits taken as targets, silently
    loss = gn.losses.BinaryCrossentropy(from_logits=from_logits)
    labels, logits = np.array([[1.0], [0.0], [1.0]]), np.array([[2.3], [-1.2], [0.4]])
    with pytest.raises(ValueError, match=r"targets in \[0, 1\].*\(y_pred, y_true\)"):
        loss(labels, logits)
    with pytest.raises(ValueError, match=r"targets in \[0, 1\]"):
        loss.weighted(labels, logits, np.ones(3))
    if from_logits:     # glassnet's order gives the loss, as Keras' call in its own order does
        expected = np.mean(np.logaddexp(0, logits) - logits * labels)
        np.testing.assert_allclose(loss(logits, labels), expected, rtol=1e-12)
