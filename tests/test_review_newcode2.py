"""Review of the newest code (newcode2): CTC's gradient with a -inf logit, Callback's batch-hook
aliases handing logs by keyword, and the "nothing trains" warning of a model without weights."""
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import Dense, Input, Rescaling
from glassnet.losses.connectionist import CTC


# -- CTC: a -inf logit (a class ruled out at a step) ----------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("where", [(0, 2, 0), (0, 2, 1), (1, 0, 2), (0, 3, 3)],
                         ids=["blank", "label in the sequence", "label of the other sample", "unused class"])
def test_ctc_gradient_with_a_minus_inf_logit_is_that_of_a_vanishing_probability(where, dtype):
    # a -inf logit is a probability of exactly 0: the loss and its gradient are the limit of a
    # very negative logit's (-1e30: its probability underflows to 0 too). The states of the ruled
    # out class had alpha + beta - emit = -inf - -inf = NaN, which made the whole step's gradient NaN
    rng = np.random.default_rng(0)
    z = rng.normal(size=(2, 5, 4)).astype(dtype)
    y = np.array([[1, 2], [2, 1]])
    z[where] = -np.inf
    finite = z.copy()
    finite[where] = -1e30
    ctc = CTC()
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # no 'invalid value' RuntimeWarning either
        grad = ctc.gradient(z, y)
        loss = ctc.per_sample(z, y)
    tol = 1e-12 if dtype is np.float64 else 1e-6
    np.testing.assert_allclose(loss, ctc.per_sample(finite, y), rtol=tol)
    np.testing.assert_allclose(grad, ctc.gradient(finite, y), atol=tol)
    assert grad[where] == 0                     # its softmax is 0 and no path goes through it


# -- callbacks: Keras' aliases hand the logs on by keyword ----------------------------------------
def _fit(callback):
    model = gn.Sequential([Input((2,)), Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=1, batch_size=2, verbose=0, callbacks=[callback])


def test_the_older_batch_hook_names_take_their_logs_by_keyword_as_keras_hands_them():
    # Keras' Callback.on_train_batch_end calls self.on_batch_end(batch, logs=logs): a hook written
    # def on_batch_end(self, batch, **kwargs) runs there; here it failed with 'takes 2 positional
    # arguments but 3 were given' (the keyword rule reached the new names only)
    class ByKeyword(gn.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seen = []

        def on_batch_begin(self, batch, *, logs=None):
            self.seen.append(("begin", batch, logs))

        def on_batch_end(self, batch, **kwargs):
            self.seen.append(("end", batch, sorted(kwargs["logs"])))

    callback = ByKeyword()
    _fit(callback)
    assert callback.seen == [("begin", 0, {}), ("end", 0, ["loss"]), ("begin", 1, {}), ("end", 1, ["loss"])]
    seen = []
    _fit(gn.callbacks.LambdaCallback(on_batch_end=lambda batch, **kwargs: seen.append(sorted(kwargs["logs"]))))
    assert seen == [["loss"], ["loss"]]


def test_the_older_batch_hook_names_still_take_logs_by_position_under_any_name():
    class ByPosition(gn.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seen = []

        def on_batch_end(self, batch, log):     # another name than logs: by position, as before
            self.seen.append(sorted(log))

    callback = ByPosition()
    _fit(callback)
    assert callback.seen == [["loss"], ["loss"]]


# -- the "nothing trains" warning -----------------------------------------------------------------
def test_a_model_without_weights_is_not_told_to_unfreeze_layers():
    # Keras 3.15 warns for it too ('does not have any trainable weights'), but it has no frozen
    # layer: the message said 'every layer with weights has trainable=False' and gave GAN advice
    model = gn.Sequential([Input((2,)), Rescaling(2.0)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    with pytest.warns(UserWarning, match="none of its layers has any") as record:
        model.fit(np.ones((4, 2)), np.ones((4, 2)), epochs=1, verbose=0)
    text = " ".join(str(w.message) for w in record)
    assert "trainable=False" not in text and "GAN" not in text
