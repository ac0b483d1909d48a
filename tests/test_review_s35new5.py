"""Review of the last merge (train_step's nested data, the trackers reset each epoch, the refusal
of a layer of one's own defining compute_mask), checked against Keras 3.15."""
import numpy as np
import pytest

import glassnet as gn

X = np.zeros((4, 2), dtype="float32")


def _trackers(lib, with_keras_compile):
    """A model whose Sum trackers sit in a list, a dict, an alias of one of them (held twice), a
    plain object (not tracked by Keras) and an attribute; each step adds 1 to each."""
    class Holder:
        pass

    class Trackers(lib.Model):
        def __init__(self):
            super().__init__()
            self.in_list = [lib.metrics.Sum(name="a"), lib.metrics.Sum(name="b")]
            self.in_dict = {"c": lib.metrics.Sum(name="c")}
            self.alias = self.in_list[0]
            self.holder = Holder()
            self.holder.tracker = lib.metrics.Sum(name="d")
            self.direct = lib.metrics.Sum(name="e")

        def _all(self):
            return [*self.in_list, self.in_dict["c"], self.holder.tracker, self.direct]

        def train_step(self, data):
            for tracker in self._all():
                tracker.update_state(1.0)
            return {tracker.name: tracker.result() for tracker in self._all()}

        def test_step(self, data):
            logs = self.train_step(data)
            return {"zz": 1.0, **logs}

    model = Trackers()
    if with_keras_compile:
        model.compile(run_eagerly=True)
    else:
        model.compile()
    return model


def test_trackers_held_in_lists_and_dicts_are_reset_and_listed_as_keras_tracks_them(keras):
    ours, theirs = _trackers(gn, False), _trackers(keras, True)
    h_ours = ours.fit(X, epochs=3, batch_size=2, verbose=0).history
    h_theirs = theirs.fit(X, epochs=3, batch_size=2, verbose=0).history
    # Keras 3.15: a, b, c, e reset each epoch ([2, 2, 2]); d, inside a plain object, is not ([2, 4, 6])
    assert h_ours == {key: [float(v) for v in values] for key, values in h_theirs.items()}
    assert h_ours["a"] == [2.0, 2.0, 2.0] and h_ours["d"] == [2.0, 4.0, 6.0]
    # evaluate's list: the trackers in Keras' order (a, b, c, e; a held twice listed once), then the
    # rest by sorted key (d, zz): Keras 3.15 gives [2.0, 2.0, 2.0, 2.0, 8.0, 1.0]
    mine = ours.evaluate(X, batch_size=2)
    assert mine == [float(v) for v in theirs.evaluate(X, batch_size=2, verbose=0)]
    assert mine == [2.0, 2.0, 2.0, 2.0, 8.0, 1.0]


def test_a_layer_passing_the_mask_on_is_told_to_delete_compute_mask_not_to_set_the_flag_it_has():
    class PassMask(gn.layers.Layer):            # Keras 2's idiom: the flag, and compute_mask returning mask
        supports_masking = True

        def forward(self, x, training=False):
            return x

        def backward(self, grad_output):
            return grad_output

        def compute_mask(self, inputs, mask=None):
            return mask

    with pytest.raises(TypeError, match=r"^PassMask: defines compute_mask.*supports_masking = True already hands "
                                        r"on the mask.*delete compute_mask") as info:
        PassMask()
    assert "set supports_masking = True" not in str(info.value)


class ListingItsTrackers(gn.Model):
    """Keras' guide's lower-level example, ported through the model's own train_on_batch: its
    trackers listed by ``@property def metrics``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_tracker = gn.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, data):
        x, y = data
        self.loss_tracker.update_state(self.train_on_batch(x, y))
        return {"loss": self.loss_tracker.result()}


class HoldingItsTrackers(gn.Model):
    """The same, as the refusal advises: the tracker held as an attribute, no property."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.trackers = [gn.metrics.Mean(name="loss"), gn.metrics.Sum(name="steps")]

    def train_step(self, data):
        x, y = data
        self.trackers[0].update_state(self.train_on_batch(x, y))
        self.trackers[1].update_state(1.0)
        return {tracker.name: tracker.result() for tracker in self.trackers}


def test_a_model_listing_its_metrics_is_refused_its_compiled_step_by_name():
    # it failed inside train_on_batch: "cannot unpack non-iterable Mean object"
    x = np.linspace(-1, 1, 24).reshape(8, 3)
    y = x.sum(axis=1, keepdims=True)
    inputs = gn.Input((3,))
    model = ListingItsTrackers(inputs, gn.layers.Dense(1)(inputs))
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(0.1))
    with pytest.raises(TypeError, match=r"^train_on_batch: ListingItsTrackers lists its own metrics \(@property "
                                        r"def metrics\).*hold the trackers as attributes"):
        model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    with pytest.raises(TypeError, match=r"^test_on_batch: ListingItsTrackers lists its own metrics"):
        model.test_on_batch(x, y)
    held = HoldingItsTrackers(inputs, gn.layers.Dense(1)(inputs))
    held.compile(loss="mse", optimizer=gn.optimizers.SGD(0.1))
    history = held.fit(x, y, epochs=2, batch_size=4, verbose=0).history
    assert history["steps"] == [2.0, 2.0] and history["loss"][1] < history["loss"][0]
