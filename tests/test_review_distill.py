"""Review by porting keras.io's Knowledge Distillation (a Distiller whose train_step trains a student
on alpha * its loss against the labels + (1 - alpha) * T^2 * KL(softmax(teacher / T), softmax(student
/ T)), and whose test_step scores the student) to glassnet's train_step, against Keras 3.15 running
the example's own GradientTape step from the same weights on the same batches.

Found: the port needs Keras' ``softmax(x, axis=1)``, which glassnet's activation functions did not
take (nor ``log_softmax``'s axis); a loss called in Keras' order, ``loss(labels, logits)``, was
refused with a message about one-hot targets rather than the order. The README shows the port."""
import re
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn

README = Path(__file__).resolve().parents[1] / "docs" / "guide" / "custom_training.md"     # the port moved there from the README


@pytest.mark.parametrize("axis", [0, 1, -2, 2, -1])
def test_softmax_and_log_softmax_take_keras_axis(keras, torch, axis):
    z = np.random.default_rng(0).normal(size=(2, 3, 4)).astype(np.float32)
    for ours, theirs, torchs in ((gn.activations.softmax, keras.activations.softmax, torch.softmax),
                                 (gn.activations.log_softmax, keras.activations.log_softmax, torch.log_softmax)):
        a = ours(z, axis=axis)
        assert a.dtype == np.float32 and a.shape == z.shape
        np.testing.assert_allclose(a, theirs(z, axis=axis), rtol=1e-6, atol=3e-7)
        # the backward pass along the same axis, against autograd (float64)
        z64, g = z.astype(np.float64), np.random.default_rng(1).normal(size=z.shape)
        zt = torch.tensor(z64, requires_grad=True)
        (torchs(zt, axis) * torch.tensor(g)).sum().backward()
        backward = getattr(gn.activations, "backprop_" + ours.__name__)
        np.testing.assert_allclose(backward(g, z64, ours(z64, axis=axis), axis=axis), zt.grad.numpy(), atol=1e-12)


def test_softmax_refuses_an_axis_it_does_not_have_by_name():
    with pytest.raises(ValueError, match="softmax: axis: .* has 2, got 2"):
        gn.activations.softmax(np.zeros((2, 3)), axis=2)
    with pytest.raises(TypeError, match="log_softmax: axis: expected an integer"):
        gn.activations.log_softmax(np.zeros((2, 3)), axis=1.0)


def test_a_loss_called_in_keras_order_says_the_order_is_the_other():
    # keras.io's test_step writes student_loss_fn(y, y_prediction); glassnet's losses take (y_pred, y_true)
    loss = gn.losses.SparseCategoricalCrossentropy(from_logits=True)
    with pytest.raises(ValueError, match=r"takes \(y_pred, y_true\)"):
        loss(np.array([0, 2, 1]), np.zeros((3, 4), np.float32))


# -- the documented port (README, "keras.io's Knowledge Distillation") -----------------------------

def _keras_distiller(keras):
    """keras.io's Distiller, its train_step and test_step as written there (tf.GradientTape), the
    compiled metrics its step updates held in a list (Keras 3 has no ``compiled_metrics``)."""
    import tensorflow as tf
    from keras import ops

    class Distiller(keras.Model):
        def __init__(self, student, teacher):
            super().__init__()
            self.teacher, self.student = teacher, student

        def compile(self, optimizer, metrics, student_loss_fn, distillation_loss_fn, alpha=0.1, temperature=3):
            super().compile(optimizer=optimizer)
            self.student_metrics = metrics
            self.student_loss_fn, self.distillation_loss_fn = student_loss_fn, distillation_loss_fn
            self.alpha, self.temperature = alpha, temperature

        def train_step(self, data):
            x, y = data
            teacher_predictions = self.teacher(x, training=False)
            with tf.GradientTape() as tape:
                student_predictions = self.student(x, training=True)
                student_loss = self.student_loss_fn(y, student_predictions)
                distillation_loss = self.distillation_loss_fn(
                    ops.softmax(teacher_predictions / self.temperature, axis=1),
                    ops.softmax(student_predictions / self.temperature, axis=1)) * self.temperature ** 2
                loss = self.alpha * student_loss + (1 - self.alpha) * distillation_loss
            gradients = tape.gradient(loss, self.student.trainable_variables)
            self.optimizer.apply_gradients(zip(gradients, self.student.trainable_variables))
            for metric in self.student_metrics:
                metric.update_state(y, student_predictions)
            results = {m.name: m.result() for m in self.student_metrics}
            results.update({"student_loss": student_loss, "distillation_loss": distillation_loss})
            return results

        def test_step(self, data):
            x, y = data
            y_prediction = self.student(x, training=False)
            student_loss = self.student_loss_fn(y, y_prediction)
            for metric in self.student_metrics:
                metric.update_state(y, y_prediction)
            results = {m.name: m.result() for m in self.student_metrics}
            results.update({"student_loss": student_loss})
            return results

    return Distiller


def _keras_conv_net(keras, filters, weights):
    L = keras.layers
    model = keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(filters, (3, 3), strides=(2, 2), padding="same"),
                              L.LeakyReLU(negative_slope=0.2),
                              L.MaxPooling2D(pool_size=(2, 2), strides=(1, 1), padding="same"),
                              L.Conv2D(2 * filters, (3, 3), strides=(2, 2), padding="same"),
                              L.Flatten(), L.Dense(10)])
    model.set_weights(weights)
    return model


def _readme_code():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("keras.io's Knowledge Distillation"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def _few_digits():
    (x, y), (x_test, y_test) = gn.datasets.digits()
    return (x[:96], y[:96]), (x_test[:48], y_test[:48])


def test_the_readme_distiller_trains_as_keras_io_distiller(keras):
    code = _readme_code()
    for old, new in (("gn.datasets.digits()", "_few_digits()"),
                     ("epochs=5)", "epochs=2, verbose=0, shuffle=False)"),
                     ("epochs=3)", "epochs=2, verbose=0, shuffle=False)"),
                     ("student_scratch = gn.models.clone_model(student)\n",
                      "student_scratch = gn.models.clone_model(student)\n"
                      "start = [m.get_weights() for m in (teacher, student, student_scratch)]\n"),
                     ("distiller.evaluate(x_test, y_test)", "distilled = distiller.evaluate(x_test, y_test, verbose=0)"),
                     # epsilon ~0: Keras adds it before Adam's bias correction, glassnet (PyTorch) after it
                     ("gn.optimizers.Adam()", "gn.optimizers.Adam(epsilon=1e-10)")):
        assert old in code
        code = code.replace(old, new)
    space = {"_few_digits": _few_digits}
    exec(compile(code, str(README), "exec"), space)

    (x, y), (x_test, y_test) = _few_digits()
    x, x_test = x.reshape(-1, 8, 8, 1), x_test.reshape(-1, 8, 8, 1)
    teacher, student, scratch = (_keras_conv_net(keras, f, w) for f, w in zip((32, 4, 4), space["start"]))
    scce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    teacher.compile(optimizer=keras.optimizers.Adam(epsilon=1e-10), loss=scce, metrics=[keras.metrics.SparseCategoricalAccuracy()])
    teacher.fit(x, y, epochs=2, verbose=0, shuffle=False)
    distiller = _keras_distiller(keras)(student=student, teacher=teacher)
    distiller.compile(optimizer=keras.optimizers.Adam(epsilon=1e-10), metrics=[keras.metrics.SparseCategoricalAccuracy()],
                      student_loss_fn=scce, distillation_loss_fn=keras.losses.KLDivergence(), alpha=0.1,
                      temperature=10)
    theirs = distiller.fit(x, y, epochs=2, verbose=0, shuffle=False).history
    ours = space["distiller"].history.history
    assert sorted(ours) == ["distillation_loss", "sparse_categorical_accuracy", "student_loss"] == sorted(theirs)
    for key in theirs:
        # the KL divergence of two near-equal distributions cancels: float32 rounding of each term,
        # ~1e-7, times T^2 = 100
        np.testing.assert_allclose(ours[key], theirs[key], rtol=2e-5, atol=5e-5 if key == "distillation_loss" else 0,
                                   err_msg=key)
    # evaluate: the test_step's logs in sorted order, [accuracy, student_loss]
    np.testing.assert_allclose(space["distilled"], distiller.evaluate(x_test, y_test, verbose=0), rtol=2e-5)
    # the weights, to a tenth of one Adam step (lr 1e-3): Adam divides a weight's gradient by its
    # root mean square, so where the gradients are ~0 float32 rounding moves its step
    for mine, their in ((space["teacher"], teacher), (space["student"], student)):
        for a, b in zip(mine.get_weights(), their.get_weights()):
            np.testing.assert_allclose(a, b, atol=1e-4)
    moved = max(np.abs(a - b).max() for a, b in zip(space["student"].get_weights(), space["start"][1]))
    assert moved > 1e-3                                 # the student trained: several steps
