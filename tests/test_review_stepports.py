"""Review by porting Keras 3 code that uses the overridable steps (keras.io's "Customizing what
happens in fit()", its Knowledge Distillation with ``compute_loss``, a step that does its own work
then returns ``super().train_step(data)``, a Monte-Carlo ``predict_step``, jacobians), side by side
with Keras 3.15 from the same weights.

Found: ``predict_on_batch`` ignored a ``predict_step`` override (it returned the model's call, where
Keras runs the step); the Distiller's ``compute_loss``, whose targets are a teacher's predictions
made under the tape, was refused with a message telling the user to swap the arguments they had in
the right order (the way out is ``ops.stop_gradient``)."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops


def _net(lib, cls, **kwargs):
    inputs = lib.Input((5,))
    hidden = lib.layers.Dense(6, activation="relu")(inputs)
    return cls(inputs, lib.layers.Dense(2)(hidden), **kwargs)


def test_predict_on_batch_runs_predict_step_as_keras(keras):
    seen = []

    class Both(gn.Model):
        def predict_step(self, data):
            seen.append(data)
            probs = super().predict_step(data)
            return {"probs": probs, "doubled": probs * 2}

    class KBoth(keras.Model):
        def predict_step(self, data):
            probs = super().predict_step(data)
            return {"probs": probs, "doubled": probs * 2}

    x = np.random.default_rng(0).normal(size=(7, 5)).astype(np.float32)
    model = _net(gn, Both, seed=0)
    other = _net(keras, KBoth)
    other.set_weights(model.get_weights())
    mine, theirs = model.predict_on_batch(x), other.predict_on_batch(x)
    assert isinstance(mine, dict) and set(mine) == set(theirs)
    for key in theirs:
        assert isinstance(mine[key], np.ndarray)
        np.testing.assert_allclose(mine[key], np.asarray(theirs[key]), rtol=1e-5, atol=1e-6)
    assert isinstance(seen[-1], tuple) and len(seen[-1]) == 1       # Keras hands (x,)
    # a model overriding nothing keeps its plain call
    plain = _net(gn, gn.Model, seed=0)
    np.testing.assert_allclose(plain.predict_on_batch(x), mine["probs"], rtol=1e-6)


def _distiller(swapped):
    """keras.io's Knowledge Distillation, Keras 3 version: compute_loss(x, y, y_pred, sample_weight,
    allow_empty) computing the teacher's predictions itself, under the default step's tape."""
    class Distiller(gn.Model):
        def __init__(self, student, teacher):
            super().__init__()
            self.teacher, self.student = teacher, student

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, allow_empty=False):
            teacher_pred = self.teacher(x, training=False)
            soft_teacher, soft_student = ops.softmax(teacher_pred / 3, axis=1), ops.softmax(y_pred / 3, axis=1)
            student_loss = self.student_loss_fn(y_pred, y)
            pair = (soft_teacher, soft_student) if swapped else (soft_student, soft_teacher)
            return 0.1 * student_loss + 0.9 * 9 * self.distillation_loss_fn(*pair)

        def call(self, x):
            return self.student(x)

    teacher = gn.Sequential([gn.Input((5,)), gn.layers.Dense(3)], seed=0)
    teacher.trainable = False
    model = Distiller(gn.Sequential([gn.Input((5,)), gn.layers.Dense(3)], seed=1), teacher)
    model.compile(optimizer="sgd", metrics=["accuracy"])
    model.student_loss_fn = gn.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.distillation_loss_fn = gn.losses.KLDivergence()
    return model


@pytest.mark.parametrize("swapped", [False, True])
def test_targets_recorded_under_the_tape_are_refused_pointing_at_stop_gradient(swapped):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 5)).astype(np.float32), rng.integers(0, 3, size=8)
    with pytest.raises(TypeError, match="y_true is a recorded value") as info:
        _distiller(swapped).fit(x, y, epochs=1, verbose=0)
    message = str(info.value)
    # y_pred is recorded too: either order may be the mistake; for the Distiller (glassnet's order, a
    # teacher's predictions as the targets) the way out is stop_gradient, not swapping
    assert "stop_gradient" in message and "(y_pred, y_true)" in message


def test_keras_loss_function_given_recorded_targets_points_at_stop_gradient():
    model = gn.Sequential([gn.Input((3,)), gn.layers.Dense(2, activation="sigmoid")], seed=0)
    teacher = gn.Sequential([gn.Input((3,)), gn.layers.Dense(2, activation="sigmoid")], seed=1)
    x = np.ones((4, 3), np.float32)
    with gn.GradientTape() as tape:
        with pytest.raises(TypeError, match="stop_gradient"):
            gn.losses.binary_crossentropy(teacher(x), model(x))
    del tape
    with gn.GradientTape():       # a recorded value alone, as the targets: the order is what to fix
        with pytest.raises(TypeError, match="the targets first"):
            gn.losses.binary_crossentropy(model(x), np.ones((4, 2), np.float32))
