"""Three small gaps against Keras 3.15: ``Model.reset_metrics()``, Keras' warning where a layer that
does not support masking is handed a mask, and ops mixing entries along the steps (``cumsum``)
refused where a mask reaches them (kept along axes within the steps)."""
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L, ops


def _floats(value):
    if isinstance(value, dict):
        return {k: float(np.asarray(v)) for k, v in value.items()}
    return float(np.asarray(value))


# -- 1. reset_metrics -------------------------------------------------------------------------------
def _step_model(lib, lops):
    class Tracked(lib.Model):
        def __init__(self):
            super().__init__()
            self.dense = lib.layers.Dense(1)
            self.extra = lib.metrics.Mean(name="extra")

        def call(self, x):
            return self.dense(x)

        def test_step(self, data):
            x, y = data[0], data[1]      # (test_on_batch hands (x, y, None), as Keras')
            y_pred = self(x, training=False)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                elif metric.name == "extra":
                    metric.update_state(lops.mean(y_pred))
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}
    return Tracked()


def test_reset_metrics_zeroes_a_step_models_trackers_as_keras(keras, rng):
    x = rng.normal(size=(10, 3)).astype("float32")
    y = rng.normal(size=(10, 1)).astype("float32")
    ours, theirs = _step_model(gn, ops), _step_model(keras, keras.ops)
    for model in (ours, theirs):
        model.compile(loss="mse", optimizer="sgd", metrics=["mae"])
    theirs(x[:1])
    ours(x[:1])
    ours.set_weights([np.asarray(w) for w in theirs.get_weights()])
    for a, b in zip([ours.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)],
                    [theirs.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)]):
        assert a.keys() == b.keys()
        np.testing.assert_allclose([a[k] for k in sorted(a)], [b[k] for k in sorted(b)], rtol=1e-5)
    for a, b in zip(ours.metrics, theirs.metrics):
        assert _floats(a.result()) == pytest.approx(_floats(b.result()), rel=1e-5)
    assert ours.reset_metrics() is None and theirs.reset_metrics() is None
    after_ours = {k: float(v) for k, v in ours.get_metrics_result().items()}
    after_theirs = {k: float(np.asarray(v)) for k, v in theirs.get_metrics_result().items()}
    assert after_ours == after_theirs == {"loss": 0.0, "mae": 0.0, "extra": 0.0}
    # test_on_batch after the reset counts its batch alone, as Keras'
    a = ours.test_on_batch(x[:3], y[:3], return_dict=True)
    b = theirs.test_on_batch(x[:3], y[:3], return_dict=True)
    np.testing.assert_allclose([a[k] for k in sorted(a)], [_floats(b[k]) for k in sorted(b)], rtol=1e-5)


def test_an_override_of_reset_metrics_runs_where_keras_calls_it(keras, rng):
    x = rng.normal(size=(8, 3)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")

    def counting(lib, lops):
        base = type(_step_model(lib, lops))

        class Counting(base):
            calls = 0

            def train_step(self, data):
                return self.test_step(data)

            def reset_metrics(self):
                type(self).calls += 1
                super().reset_metrics()
        return Counting
    counts = []
    for lib, lops in ((gn, ops), (keras, keras.ops)):
        cls = counting(lib, lops)
        model = cls()
        model.compile(loss="mse", optimizer="sgd")
        model.fit(x, y, epochs=3, batch_size=4, verbose=0)
        model.evaluate(x, y, verbose=0)
        model.train_on_batch(x, y)
        model.test_on_batch(x, y)
        counts.append(cls.calls)
    assert counts[0] == counts[1] and counts[0] >= 6


def test_reset_metrics_on_a_plain_compiled_model(keras, rng):
    x = rng.normal(size=(9, 3)).astype("float32")
    y = rng.normal(size=(9, 1)).astype("float32")
    ours = gn.Sequential([gn.Input((3,)), L.Dense(1)])
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    ours.set_weights([np.asarray(w) for w in theirs.get_weights()])
    held = gn.metrics.MeanAbsoluteError()
    ours.compile(loss="mse", optimizer="sgd", metrics=[held, "mse"])
    theirs.compile(loss="mse", optimizer="sgd", metrics=[keras.metrics.MeanAbsoluteError(), "mse"])
    held.update_state(y, y + 1.0)
    assert float(held.result()) == pytest.approx(1.0)
    assert ours.reset_metrics() is None
    assert float(held.result()) == 0.0          # compile's Metric object, reset as Keras resets its own
    theirs.evaluate(x, y, verbose=0)
    theirs.reset_metrics()
    gn.Sequential([L.Dense(1)]).reset_metrics()         # not compiled: nothing to reset, as Keras
    # after a reset, evaluate and train_on_batch count from nothing, as Keras'
    np.testing.assert_allclose(ours.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0), rtol=1e-5)
    np.testing.assert_allclose(ours.train_on_batch(x, y), theirs.train_on_batch(x, y), rtol=1e-5)
    ours.reset_metrics()
    theirs.reset_metrics()
    np.testing.assert_allclose(ours.test_on_batch(x, y), theirs.test_on_batch(x, y), rtol=1e-5)


# -- 2. Keras' warning where a mask is dropped --------------------------------------------------------
def _blocks(lib):
    class Block(lib.layers.Layer):              # supports_masking False: Keras' default
        def call(self, x):
            return x * 2.0

    class TakesMask(lib.layers.Layer):          # call takes mask, no compute_mask: still False
        def call(self, x, mask=None):
            return x * 2.0

    class Supports(lib.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, x):
            return x * 2.0
    return {"Block": Block, "TakesMask": TakesMask, "Supports": Supports,
            "Flatten": lambda: lib.layers.Flatten(), "Conv1D": lambda: lib.layers.Conv1D(2, 2),
            "Reshape": lambda: lib.layers.Reshape((20,)), "Dense": lambda: lib.layers.Dense(2),
            "GlobalAveragePooling1D": lambda: lib.layers.GlobalAveragePooling1D(),
            "LSTM": lambda: lib.layers.LSTM(2, return_sequences=True)}


def _mask_warnings(caught):
    return [str(w.message) for w in caught if "does not support masking" in str(w.message)]


@pytest.mark.parametrize("kind", ["Block", "TakesMask", "Supports", "Flatten", "Conv1D", "Reshape", "Dense",
                                  "GlobalAveragePooling1D", "LSTM"])
def test_a_layer_not_supporting_masks_warns_where_keras_does(keras, kind):
    found = []
    for lib in (gn, keras):
        ids = lib.Input((5,), dtype="int32")
        h = lib.layers.Embedding(10, 4, mask_zero=True)(ids)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _blocks(lib)[kind]()(h)
        found.append(_mask_warnings(caught))
    ours, theirs = found
    assert len(ours) == len(theirs) <= 1
    if theirs:      # Keras' text, the layer named (its name up to Keras' per-session counter)
        assert ours[0].split("'")[2:] == theirs[0].split("'")[2:]
        assert f"(of type {type(_blocks(gn)[kind]()).__name__})" in ours[0]


def test_the_warning_comes_once_per_layer_and_not_without_a_mask():
    ids = gn.Input((5,), dtype="int32")
    h = L.Embedding(10, 4, mask_zero=True)(ids)
    block = _blocks(gn)["Block"](name="twice")
    flat = L.Flatten(name="flat")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        block(h)
        block(h)
        flat(h)
        flat(h)
        L.Flatten()(L.Dense(3)(gn.Input((5, 4))))        # no mask: no warning
        _blocks(gn)["Block"]()(gn.Input((5, 4)))
    got = _mask_warnings(caught)
    assert len(got) == 2
    assert sum("'twice'" in m for m in got) == 1 and sum("'flat'" in m for m in got) == 1


def test_a_sequential_warns_once_in_keras_words_when_drawn_on_an_input(keras):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gn.Sequential([gn.Input((5,), dtype="int32"), L.Embedding(10, 4, mask_zero=True), L.Flatten(), L.Dense(1)])
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        keras.Sequential([keras.Input((5,), dtype="int32"), keras.layers.Embedding(10, 4, mask_zero=True),
                          keras.layers.Flatten(), keras.layers.Dense(1)])
    assert len(_mask_warnings(caught)) == len(_mask_warnings(theirs)) == 1


# -- 3. ops along the steps refused where a mask reaches them -----------------------------------------
@pytest.mark.parametrize("make", [lambda h: ops.cumsum(h, axis=1), lambda h: ops.cumprod(h, axis=-2),
                                  lambda h: ops.sort(h, axis=1), lambda h: ops.argsort(h, axis=1)])
def test_an_op_along_the_steps_of_a_masked_sequence_is_refused(make):
    ids = gn.Input((4,))
    h = L.Embedding(10, 3, mask_zero=True)(ids)
    with pytest.raises(ValueError, match=r"along the steps' axis 1 .*apply it before the mask is made"):
        gn.Model(ids, L.LSTM(2)(make(h)))


def test_why_cumsum_along_the_steps_is_refused(keras):
    # front padding: Keras' cumsum along the steps puts the padding's embeddings into the real steps
    emb = keras.layers.Embedding(10, 3, mask_zero=True)
    padded, short = np.array([[0, 0, 1, 2]]), np.array([[1, 2]])
    run = keras.ops.convert_to_numpy
    assert not np.allclose(run(keras.ops.cumsum(emb(padded), axis=1))[:, 2:], run(keras.ops.cumsum(emb(short), axis=1)))


@pytest.mark.parametrize("op", ["cumsum", "cumprod"])
def test_cumsum_within_the_steps_keeps_the_mask_as_keras_given_it(keras, op):
    ids = np.array([[0, 0, 3, 2, 5], [4, 1, 2, 0, 0], [1, 2, 3, 4, 5]])

    def make(lib, lops, explicit):
        inp = lib.Input((5,), dtype="int32")
        h = lib.layers.Embedding(10, 3, mask_zero=True)(inp)
        c = getattr(lops, op)(h, axis=-1)
        # Keras' ops drop the mask: its LSTM is handed it explicitly (glassnet carries it on)
        out = lib.layers.LSTM(2)(c, mask=lops.not_equal(inp, 0)) if explicit else lib.layers.LSTM(2)(c)
        return lib.Model(inp, lib.layers.Dense(1)(out))
    theirs = make(keras, keras.ops, True)
    ours = make(gn, ops, False)
    ours.set_weights([np.asarray(w) for w in theirs.get_weights()])
    np.testing.assert_allclose(ours.predict(ids, verbose=0), theirs.predict(ids, verbose=0), rtol=1e-5, atol=1e-6)
    # front or back padding gives the same output: the mask reached the LSTM
    short = ours.predict(np.array([[3, 2, 5, 0, 0]]), verbose=0)
    np.testing.assert_allclose(ours.predict(ids[:1], verbose=0), short, rtol=1e-5, atol=1e-6)


def test_masked_cumsum_within_the_steps_gradient_against_finite_differences(rng):
    inp = gn.Input((4,), dtype="int32")
    h = L.Embedding(6, 3, mask_zero=True)(inp)
    model = gn.Model(inp, L.Dense(1)(L.LSTM(2)(ops.cumsum(h, axis=-1))), seed=3, dtype="float64")
    ids = np.array([[0, 1, 2, 3], [4, 5, 0, 0]])
    model.build((None, 4))
    weights = model.get_weights()

    def total(ws):
        model.set_weights(ws)
        return float(np.sum(model.predict(ids, verbose=0)))
    with gn.GradientTape() as tape:
        loss = ops.sum(model(ids))
    grads = tape.gradient(loss, model.trainable_variables)
    table = np.asarray(grads[0])
    eps = 1e-6
    for index in [(1, 0), (2, 2), (4, 1), (0, 1)]:     # row 0 is the padding id: no gradient
        plus = [w.copy() for w in weights]
        minus = [w.copy() for w in weights]
        plus[0][index] += eps
        minus[0][index] -= eps
        numeric = (total(plus) - total(minus)) / (2 * eps)
        assert table[index] == pytest.approx(numeric, rel=1e-6, abs=1e-9)
