"""Review (ports3h): Keras examples ported to glassnet (text classification, multi-label, a
warm-up cosine schedule) that failed for a reason glassnet claims to support."""
import math

import numpy as np
import pytest

import glassnet as gn


class _WarmUpCosineNP(gn.optimizers.schedules.LearningRateSchedule):
    """keras.io's WarmUpCosine with keras.ops replaced by NumPy: np.where returns a 0-d array."""

    def __init__(self, base, total_steps, warmup_steps):
        self.base, self.total_steps, self.warmup_steps = base, total_steps, warmup_steps

    def __call__(self, step):
        step = np.asarray(step, "float32")
        cos = np.cos(np.pi * (step - self.warmup_steps) / float(self.total_steps - self.warmup_steps))
        lr = np.where(step < self.warmup_steps, self.base * step / self.warmup_steps, 0.5 * self.base * (1 + cos))
        return np.where(step > self.total_steps, 0.0, lr)

    def get_config(self):
        return {"base": self.base, "total_steps": self.total_steps, "warmup_steps": self.warmup_steps}


class _AsFloat(_WarmUpCosineNP):
    """The same rates as plain floats."""

    def __call__(self, step):
        return float(super().__call__(step))


def test_schedule_returning_a_0d_array_trains_as_its_float():
    # before: the optimizer refused np.where's 0-d array as "not a finite number >= 0"
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 3)); y = (X[:, :1] > 0).astype(float)
    runs = []
    for schedule in (_WarmUpCosineNP(0.2, 20, 4), _AsFloat(0.2, 20, 4)):
        model = gn.Sequential([gn.Input((3,)), gn.layers.Dense(1, activation="sigmoid")], seed=0)
        model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.SGD(schedule))
        runs.append(model.fit(X, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"])
        assert isinstance(model.optimizer.learning_rate, float)
        assert math.isclose(model.optimizer.learning_rate, float(schedule(12)), rel_tol=1e-6)
    assert runs[0] == runs[1]


def test_schedule_returning_a_bool_array_is_still_refused():
    class Bad(gn.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            return np.array(True)

        def get_config(self):
            return {}
    with pytest.raises(ValueError, match="finite number"):
        gn.optimizers.SGD(Bad())


def test_lookup_adapt_on_ragged_label_lists_names_the_layer_and_the_way_round():
    # keras.io's multi-label example adapts a StringLookup to lists of labels of different lengths;
    # before: NumPy's "setting an array element with a sequence ... inhomogeneous shape"
    terms = [["cs.LG", "cs.CV"], ["stat.ML"], ["cs.LG", "cs.AI", "stat.ML"]]
    lookup = gn.layers.StringLookup(output_mode="multi_hot")
    with pytest.raises(ValueError, match=r"StringLookup.*adapt: data.*different lengths.*np\.array\(s\) for s in samples"):
        lookup.adapt(terms)
    lookup.adapt(np.array(t) for t in terms)            # the way the message gives
    hot = np.stack([lookup(np.array(t)) for t in terms])
    vocab = np.array(lookup.get_vocabulary())
    assert [sorted(vocab[row == 1]) for row in hot] == [sorted(t) for t in terms]
