"""Found porting Keras 3's guides "Transfer learning & fine-tuning" and "Writing your own
callbacks" to glassnet (review guides)."""
import numpy as np

import glassnet as gn


def _net():
    """Dense -> BatchNormalization -> Dense on 3 features, seeded, compiled with plain SGD."""
    model = gn.Sequential([gn.layers.Dense(4, input_dim=3, name="d1"), gn.layers.BatchNormalization(name="bn"),
                           gn.layers.Dense(1, name="d2")], seed=0)
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(learning_rate=0.05))
    return model


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(1.0, 2.0, (16, 3))
    return x, x.sum(axis=1, keepdims=True)


class _SetTrainable(gn.callbacks.Callback):
    """Gradual (un)freezing: sets the named layers' flag when epoch ``at`` begins."""
    def __init__(self, names, value, at=1):
        super().__init__()
        self.names, self.value, self.at = names, value, at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            for name in self.names:
                self.model.get_layer(name).trainable = self.value


def test_a_layer_unfrozen_by_a_callback_trains_from_then_on_as_in_a_second_fit():
    # the callback's unfreezing was not taken up before the next fit: d1 stayed fixed while the
    # BatchNormalization after it switched to batch statistics at once (its flag is read live)
    x, y = _data()
    one = _net()
    one.get_layer("d1").trainable = one.get_layer("bn").trainable = False
    one.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0,
            callbacks=[_SetTrainable(["d1", "bn"], True)])
    two = _net()
    two.get_layer("d1").trainable = two.get_layer("bn").trainable = False
    two.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    two.get_layer("d1").trainable = two.get_layer("bn").trainable = True
    two.fit(x, y, epochs=2, initial_epoch=1, batch_size=8, shuffle=False, verbose=0)
    for mine, expected in zip(one.get_weights(), two.get_weights()):
        np.testing.assert_allclose(mine, expected, rtol=1e-12)
    assert len(one.trainable_weights) == 6


def test_a_layer_frozen_by_a_callback_stops_training_at_once():
    # BatchNormalization went to inference mode at once but its gamma and beta (and d1) kept
    # being updated until the fit ended
    x, y = _data()
    model = _net()
    kept = []

    class Snapshot(gn.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            kept.append(model.get_weights())

    model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0,
              callbacks=[_SetTrainable(["d1", "bn"], False), Snapshot()])
    for before, after in zip(kept[0][:6], kept[2][:6]):      # d1's kernel, bias; bn's four
        np.testing.assert_array_equal(before, after)
    assert not np.array_equal(kept[0][6], kept[2][6])          # d2 trains on
