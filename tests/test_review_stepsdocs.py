"""Review of Keras 3's train_step/test_step support (glassnet.own_steps) against its docs and Keras 3.15."""
import numpy as np
import pytest

import glassnet as gn

X = np.linspace(0, 1, 48, dtype="float32").reshape(16, 3)
Y = X.sum(axis=1, keepdims=True)


class Counting(gn.Model):
    """Trackers held as attributes, no ``@property def metrics`` (Keras 3 tracks them itself)."""
    def __init__(self):
        super().__init__()
        self.b_count = gn.metrics.Sum(name="b_count")
        self.a_count = gn.metrics.Sum(name="a_count")

    def train_step(self, data):
        self.b_count.update_state(1.0)
        return {"b_count": self.b_count.result()}

    def test_step(self, data):
        self.b_count.update_state(1.0)
        self.a_count.update_state(2.0)
        return {"a_count": self.a_count.result(), "b_count": self.b_count.result()}


def test_trackers_held_as_attributes_are_reset_each_epoch_as_keras_does():
    # Keras 3.15 (checked): model.metrics == ['loss', 'b_count', 'a_count'], fit logs b_count
    # [2.0, 2.0, 2.0] (reset each epoch), evaluate gives [2.0, 4.0] (reset first; trackers' order)
    model = Counting()
    model.compile()
    history = model.fit(X, epochs=3, batch_size=8, verbose=0)
    assert history.history["b_count"] == [2.0, 2.0, 2.0]
    assert model.evaluate(X, batch_size=8) == [2.0, 4.0]


def test_several_targets_are_several_arrays_and_a_list_of_numbers_is_one():
    # several arrays are now taken as Keras 3 takes them (tests/test_train_step_nested.py); what
    # must not happen is NumPy stacking them into len(list) "samples", nor a list of numbers
    # (targets, as before) being read as several arrays
    model = Counting()
    model.compile()
    model.fit(X, [Y, Y], epochs=1, verbose=0)
    model.fit(X, list(range(16)), epochs=1, verbose=0)
    with pytest.raises(TypeError, match=r"^sample_weight: Counting with its own train_step takes one array"):
        model.fit(X, Y, sample_weight=[np.ones(16), np.ones(16)], epochs=1, verbose=0)


class WithCall(gn.Model):
    def __init__(self):
        super().__init__(seed=0)
        self.dense = gn.layers.Dense(1)

    def call(self, inputs):
        return self.dense(inputs)

    def train_step(self, data):
        x, y = data
        return self.train_on_batch(x, y, return_dict=True)


def test_evaluate_without_test_step_or_loss_names_what_to_do():
    model = WithCall()
    model.compile()         # Keras' super().compile(): compiled, without a loss
    with pytest.raises(ValueError, match="evaluate: WithCall defines train_step but no test_step.*compile it with a loss"):
        model.evaluate(X, Y)


def test_model_checkpoint_of_a_subclass_drawn_by_its_first_step(tmp_path):
    model = WithCall()
    model.compile(loss="mse")
    path = str(tmp_path / "m.npz")
    model.fit(X, Y, epochs=2, batch_size=8, verbose=0, callbacks=[gn.callbacks.ModelCheckpoint(path)])
    np.testing.assert_allclose(gn.load_model(path).predict(X, verbose=0), model.predict(X, verbose=0))
