"""Review s34new3: Keras' sample_weight= keyword on losses (the __call__ wrapper of every Loss
subclass), the sklearn wrappers' zero-weight rows."""
import inspect

import numpy as np
import pytest

import glassnet as gn


def _data():
    p = np.array([[2.0], [-1.0], [0.5]])
    y = np.array([[0.0], [1.0], [1.0]])
    return p, y


def test_a_loss_of_yours_called_by_its_own_keywords_gets_them_by_name():
    # the wrapper's own (y_pred, y_true) took the keywords and passed them on by position: a loss
    # written in Keras' order, called by keyword, had its arguments silently swapped
    class KerasOrder(gn.losses.Loss):
        def __call__(self, y_true, y_pred):
            return float(np.mean(np.maximum(y_pred, 0) - y_true))

        def gradient(self, y_pred, y_true):
            return 0 * y_pred

    class OwnNames(gn.losses.Loss):
        def __call__(self, pred, target):
            return float(np.mean(pred - target))

        def gradient(self, y_pred, y_true):
            return 0 * y_pred

    p, y = _data()
    assert KerasOrder()(y_true=y, y_pred=p) == pytest.approx(float(np.mean(np.maximum(p, 0) - y)))
    assert OwnNames()(pred=p, target=y) == pytest.approx(float(np.mean(p - y)))


def test_the_keyword_with_further_arguments_is_refused_not_dropped():
    # weighted(y_pred, y_true, sample_weight) takes no mask: the wrapper dropped it silently
    class Masked(gn.losses.Loss):
        def __call__(self, y_pred, y_true, mask):
            return float(np.mean(((y_pred - y_true) ** 2)[mask]))

        def gradient(self, y_pred, y_true):
            return 0 * y_pred

        def weighted(self, y_pred, y_true, sample_weight):
            return float(np.mean(np.asarray(sample_weight)[:, None] * (y_pred - y_true) ** 2))

    p, y = _data()
    mask = np.array([True, False, True])
    loss = Masked()
    assert loss(p, y, mask) == pytest.approx(float(np.mean(((p - y) ** 2)[mask])))
    with pytest.raises(TypeError, match="mask"):
        loss(p, y, mask, sample_weight=np.ones(3))
    # keywords in glassnet's or the loss's own names still reach weighted
    w = np.array([1.0, 0.0, 2.0])
    assert gn.losses.MeanSquaredError()(y_true=y, y_pred=p, sample_weight=w) == \
        gn.losses.MeanSquaredError().weighted(p, y, w)


@pytest.mark.parametrize("loss", [gn.losses.MeanSquaredError(), gn.losses.MeanSquaredError(reduction="sum"),
                                  gn.losses.SparseCategoricalCrossentropy(ignore_class=0)])
def test_the_signature_shows_the_keyword(loss):
    # help() and inspect.signature followed functools.wraps to the unwrapped (y_pred, y_true)
    parameters = inspect.signature(loss).parameters
    assert list(parameters) == ["y_pred", "y_true", "sample_weight"]
    assert parameters["sample_weight"].kind is inspect.Parameter.KEYWORD_ONLY
    assert parameters["sample_weight"].default is None


def test_sklearn_validation_fraction_error_counts_the_samples_left_out():
    pytest.importorskip("sklearn")
    from glassnet.sklearn import GlassnetClassifier
    X = np.random.default_rng(0).normal(size=(40, 2))
    y = np.arange(40) % 2
    w = np.zeros(40)
    w[:2] = 1.0
    # "out of n_samples=2" for 40 samples given: the zero weights' samples had been left out unsaid
    with pytest.raises(ValueError, match="38 samples of weight 0"):
        GlassnetClassifier(hidden_layer_sizes=(2,), epochs=1, validation_fraction=0.2,
                           random_state=0).fit(X, y, sample_weight=w)
