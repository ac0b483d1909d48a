"""Review (docs walkthrough, second pass): error messages that sent a reader of the README the wrong way.

- A ``call`` that tests ``training`` is drawn twice (README, subclassing paragraph), so its layers
  count as called twice and an ``activity_regularizer`` on one is refused "as a shared layer's is".
  The refusal said only that the layer "is called more than once", which the user's ``call``
  (one call of it) contradicts; it now says why.
- A ``Sequential`` subclass defining ``predict_step`` was refused as a step "which a Sequential's fit
  does not call": ``predict`` runs ``predict_step``, not fit.
"""
import numpy as np
import pytest

import glassnet as gn


class _Branching(gn.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = gn.layers.Dense(2, activity_regularizer="l2")

    def call(self, x, training=None):
        h = self.dense(x)
        if training:
            h = h * 2.0
        return h


def test_activity_regularizer_in_training_branch_names_the_two_draws():
    model = _Branching(seed=0)
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(NotImplementedError, match="tests training") as info:
        model.fit(np.ones((4, 3), "float32"), np.zeros((4, 2), "float32"), verbose=0)
    assert "activity_regularizer" in str(info.value)


def test_activity_regularizer_shared_layer_message_unchanged():
    # a layer really called twice in a functional model keeps the plain message
    dense = gn.layers.Dense(3, activity_regularizer="l2")
    inputs = gn.Input((3,))
    with pytest.raises(NotImplementedError, match="called more than once") as info:
        gn.Model(inputs, dense(dense(inputs)))
    assert "training" not in str(info.value)


@pytest.mark.parametrize("step, runner", [("predict_step", "predict"), ("test_step", "evaluate"),
                                          ("train_step", "fit")])
def test_sequential_subclass_step_is_run_by_its_runner(step, runner):
    """A Sequential subclass's own step was refused by name (this test checked the refusal named
    its runner); Sequential subclasses now run Keras' steps of their own as Model subclasses do
    (tests/test_augdef.py against Keras 3.15): the runner calls the step."""
    calls = []

    def own_step(self, data):
        calls.append(step)
        return {"loss": 0.0} if step != "predict_step" else np.zeros((len(data[0]) if isinstance(data, tuple)
                                                                        else len(data), 1), np.float32)
    model = type("Stepped", (gn.Sequential,), {step: own_step})([gn.layers.Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    x, y = np.ones((4, 2), np.float32), np.ones((4, 1), np.float32)
    getattr(model, runner)(*((x,) if runner == "predict" else (x, y)), verbose=0)
    assert calls and set(calls) == {step}
