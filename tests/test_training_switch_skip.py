"""A pass runs only its mode's branch of a ``call`` branching on ``training`` (glassnet._switch_skips):
the calls only a TrainingSwitch's unread input needs are skipped, those both draws share run once.

Compared with Keras 3.15, which runs ``call`` with the pass's flag: predict, the SeedGenerator's
state after predict (unchanged) and after a training pass (moved on), a sub-model called with
training=False inside fit; with glassnet running every call (the plan emptied, as before this
change): the same outputs in both modes from the same generator state; gradients (GradientTape,
train_on_batch) against float64 central differences; save and load; which layers run (counted)."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops
from glassnet._switch_skips import skipped_calls
from central_differences import numeric as _central      # float64 central differences


def _stochastic_depth(lib):
    """keras.io's StochasticDepth (ConvNeXt, CCT, Swin), as written."""
    class StochasticDepth(lib.layers.Layer):
        def __init__(self, drop_prop, **kwargs):
            super().__init__(**kwargs)
            self.drop_prob = drop_prop
            self.seed_generator = lib.random.SeedGenerator(1337)

        def call(self, x, training=None):
            if training:
                keep_prob = 1 - self.drop_prob
                shape = (lib.ops.shape(x)[0],) + (1,) * (len(lib.ops.shape(x)) - 1)
                random_tensor = keep_prob + lib.random.uniform(shape, 0, 1, seed=self.seed_generator)
                random_tensor = lib.ops.floor(random_tensor)
                return (x / keep_prob) * random_tensor
            return x
    return StochasticDepth


def _convnext(lib, drop=0.3):
    """A small ConvNeXt-like model, a StochasticDepth in each of its two blocks."""
    StochasticDepth = _stochastic_depth(lib)

    class Block(lib.layers.Layer):
        def __init__(self, dim, **kwargs):
            super().__init__(**kwargs)
            self.dw = lib.layers.DepthwiseConv2D(3, padding="same")
            self.ln = lib.layers.LayerNormalization(epsilon=1e-6)
            self.pw1 = lib.layers.Dense(2 * dim, activation="gelu")
            self.pw2 = lib.layers.Dense(dim)
            self.drop_path = StochasticDepth(drop)

        def call(self, x):
            return x + self.drop_path(self.pw2(self.pw1(self.ln(self.dw(x)))))

    inputs = lib.Input((6, 6, 3))
    x = lib.layers.Conv2D(4, 2, strides=2)(inputs)
    x = Block(4)(x)
    x = Block(4)(x)
    outputs = lib.layers.Dense(3)(lib.layers.GlobalAveragePooling2D()(x))
    return lib.Model(inputs, outputs, **({"seed": 0} if lib is gn else {}))


def _generators(model):
    """The SeedGenerators of the model's StochasticDepth layers: Keras' by their attribute, glassnet's
    on the draws of its graph (a drawn block's layers are the model's)."""
    if isinstance(model, gn.Sequential):
        found = []
        for layer in model._node_layers:
            generator = getattr(layer, "draw_seed", None)
            if isinstance(generator, gn.random.SeedGenerator) and all(generator is not g for g in found):
                found.append(generator)
        return found
    found = []
    for layer in model.layers:
        for inner in [layer, *vars(layer).values()]:
            generator = getattr(inner, "seed_generator", None)
            if generator is not None and all(generator is not g for g in found):
                found.append(generator)
    return found


def _states(model):
    return [np.asarray(g.state).tolist() for g in _generators(model)]


def _run_everything(model):
    """The model walking every call, as glassnet did before the skips (both draws at each pass)."""
    # (each pass kind, glassnet._switch_skips.plan: no call skipped, the modes as planned)
    model._switch_plan = (len(model._node_layers), {training: (None, model._pass_plan(training)[1])
                                                    for training in (False, True, None)})


def _images(n=16, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 6, 6, 3)).astype("float32")


def test_predict_equals_keras_and_leaves_the_seed_generators_as_keras(keras):
    x = _images()
    theirs, mine = _convnext(keras), _convnext(gn)
    mine.set_weights(theirs.get_weights())
    assert len(_generators(theirs)) == len(_generators(mine)) == 2
    keras_before, mine_before = _states(theirs), _states(mine)
    expected = np.asarray(theirs.predict(x, verbose=0))
    np.testing.assert_allclose(mine.predict(x, verbose=0), expected, atol=1e-5)
    np.testing.assert_allclose(np.asarray(mine(x)), expected, atol=1e-5)
    # Keras' generators do not move in predict (its branch is not run): glassnet's neither
    assert _states(theirs) == keras_before
    assert _states(mine) == mine_before
    # a training pass draws once per block in both libraries
    theirs(x, training=True)
    mine(x, training=True)
    assert [s[1] for s in _states(theirs)] == [s[1] + 1 for s in keras_before]
    assert [s[1] for s in _states(mine)] == [s[1] + 1 for s in mine_before]


def test_evaluate_and_fit_validation_leave_the_generators_unmoved(keras):
    x, y = _images(12), np.random.default_rng(1).normal(size=(12, 3)).astype("float32")
    made = []
    for lib in (keras, gn):
        model = _convnext(lib)
        model.compile(loss="mse", optimizer=lib.optimizers.SGD(0.01))
        before = _states(model)
        model.evaluate(x, y, batch_size=4, verbose=0)
        assert _states(model) == before, lib.__name__
        # 3 training batches draw 3 times; the validation passes nothing
        model.fit(x, y, batch_size=4, epochs=1, validation_data=(x, y), shuffle=False, verbose=0)
        made.append([s[1] - b[1] for s, b in zip(_states(model), before)])
    assert made[0] == made[1] == [3, 3]


def test_outputs_equal_those_of_running_every_call_in_both_modes():
    """From the same generator states, a pass skipping gives what a pass running both draws gave
    (the skipped calls fed nothing that ran): predict and training mode, value for value."""
    x = _images()
    skipping, everything = _convnext(gn), _convnext(gn)
    everything.set_weights(skipping.get_weights())
    _run_everything(everything)
    np.testing.assert_array_equal(skipping.predict(x, verbose=0), everything.predict(x, verbose=0))
    assert _states(skipping) == [[1337, 0]] * 2 and _states(everything) == [[1337, 1]] * 2
    for generator in _generators(everything):       # the old walk drew in predict: back to the same state
        generator.state[...] = [1337, 0]
    for _ in range(3):
        np.testing.assert_array_equal(np.asarray(skipping(x, training=True)), np.asarray(everything(x, training=True)))
    assert _states(skipping) == _states(everything) == [[1337, 3]] * 2


def _counting(lib_dense):
    class Counted(lib_dense):
        runs = 0

        def forward(self, x, training=False):
            type(self).runs += 1
            return super().forward(x, training)
    return Counted


def _two_branches(dead=False):
    """A block with weights in each branch and a trunk both share: trunk -> (a, then a random drop
    with an int seed: the same mask at every pass) in training, trunk -> b otherwise; ``dead``: a
    call in the training branch whose result goes nowhere (kept for its weights, glassnet._dead_calls)."""
    Trunk, A, B, Probe = (_counting(gn.layers.Dense) for _ in range(4))

    class Branching(gn.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.trunk = Trunk(4, activation="tanh")
            self.a = A(4, activation="tanh")
            self.b = B(4)
            self.probe = Probe(2)

        def call(self, x, training=None):
            h = self.trunk(x)
            if training:
                h = self.a(h)
                if dead:
                    self.probe(h)
                keep = ops.floor(0.5 + gn.random.uniform((ops.shape(h)[0], 1), 0, 1, seed=3))
                return h * keep * 2.0
            return self.b(h)
    return Branching, (Trunk, A, B, Probe)


def _branching_model(dtype="float32", dead=False):
    Branching, counters = _two_branches(dead=dead)
    inputs, block = gn.Input((3,)), Branching()
    outputs = gn.layers.Dense(2)(block(inputs))
    return gn.Model(inputs, outputs, seed=1, dtype=dtype), counters, block


def _runs(counters):
    return [c.runs for c in counters]


def test_each_pass_runs_its_branch_and_the_shared_calls_once():
    model, counters, _ = _branching_model(dead=True)
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    before = _runs(counters)
    model.predict(x, verbose=0)
    assert np.subtract(_runs(counters), before).tolist() == [1, 0, 1, 0]     # trunk, a, b, probe
    before = _runs(counters)
    model(x, training=True)
    assert np.subtract(_runs(counters), before).tolist() == [1, 1, 0, 1]     # the dead call runs with its branch
    model.compile(loss="mse", optimizer="sgd")
    before = _runs(counters)
    model.fit(x, np.zeros((8, 2), "float32"), batch_size=4, epochs=1, verbose=0)
    assert np.subtract(_runs(counters), before).tolist() == [2, 2, 0, 2]
    # the probe's weights stay listed and saved (Keras keeps them); no gradient reaches them
    assert any(w.shape == (4, 2) for w in model.get_weights()[:-2])




@pytest.mark.parametrize("training", [True, False])
def test_tape_gradients_of_each_mode_match_central_differences(training):
    """float64: the gradient of each mode's output (the skipped branch's weights get None, as
    Keras' tape gives for variables its pass did not read) against central differences."""
    rng = np.random.default_rng(2)
    x, w = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    model, _, branch = _branching_model("float64")
    model.predict(x, verbose=0)
    weights = model.trainable_weights
    unread = {id(p) for p in (branch.b if training else branch.a).params.values()}

    def loss():
        return float(np.sum(np.asarray(model(x, training=training)) * w))

    xs = x.copy()
    with gn.GradientTape() as tape:
        tape.watch(xs)
        value = ops.sum(model(xs, training=training) * w)
    grads = tape.gradient(value, weights + [xs])
    assert float(value) == pytest.approx(loss(), rel=1e-12)
    expected = _central(loss, weights + [x])
    for p, g, e in zip(weights + [xs], grads, expected):
        if id(p) in unread:
            assert g is None
            np.testing.assert_array_equal(e, 0)
        else:
            np.testing.assert_allclose(np.asarray(g), e, rtol=1e-6, atol=1e-9)


def test_a_training_step_moves_the_weights_by_the_central_difference_gradient():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    model, counters, block = _branching_model("float64")
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(0.5))

    def mse():
        return float(np.mean((np.asarray(model(x, training=True)) - y) ** 2))

    expected = _central(mse, model.trainable_weights)
    before = [a.copy() for a in model.trainable_weights]
    b_runs = counters[2].runs
    model.train_on_batch(x, y)
    assert counters[2].runs == b_runs           # the inference branch did not run
    b_weights = {id(p) for p in block.b.params.values()}
    for p, old, e in zip(model.trainable_weights, before, expected):
        np.testing.assert_allclose((old - p) / 0.5, e, rtol=1e-6, atol=1e-9)
        if id(p) in b_weights:
            np.testing.assert_array_equal(p, old)


def test_save_and_load_skip_as_the_model_saved(tmp_path):
    x = _images()
    model = _convnext(gn)
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    # derived from the file's graph alone: the same calls skipped in each mode
    for training in (False, True):
        assert loaded._skipped_calls(training) == model._skipped_calls(training)
    assert len(model._skipped_calls(False)) == 2 * 5 and model._skipped_calls(True) is None
    draws = [layer for layer in loaded._calls if type(layer).__name__ == "RandomDraw"]
    before = [np.asarray(d.draw_seed.state).tolist() for d in draws]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, atol=1e-6)
    assert [np.asarray(d.draw_seed.state).tolist() for d in draws] == before
    np.testing.assert_array_equal(np.asarray(loaded(x, training=True)), np.asarray(model(x, training=True)))


def test_a_sub_model_called_with_training_false_inside_fit_skips_its_training_draw(keras):
    """A subclass' call handing training=False to a model holding branching blocks: in fit Keras
    runs their inference branch (no draw), and so does glassnet (the switches' own mode)."""
    def outer(lib):
        class Outer(lib.Model):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.inner = _convnext(lib)
                self.head = lib.layers.Dense(3)

            def call(self, x):
                return self.head(self.inner(x, training=False))
        return Outer()
    x, y = _images(8), np.zeros((8, 3), "float32")
    for lib in (keras, gn):
        model = outer(lib)
        model.compile(loss="mse", optimizer=lib.optimizers.SGD(0.01))
        model.predict(x[:2], verbose=0)
        before = _states(model.inner)
        model.fit(x, y, batch_size=4, epochs=1, verbose=0)
        assert _states(model.inner) == before, lib.__name__


def test_a_branch_inside_a_branch_skips_both_inner_draws_in_predict(keras):
    """A subclass' call branching on training whose training branch calls a branching block:
    predict runs neither draw of the inner block, and equals Keras'."""
    def net(lib):
        StochasticDepth = _stochastic_depth(lib)

        class Net(lib.Model):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.d1 = lib.layers.Dense(5, activation="relu")
                self.sd = StochasticDepth(0.5)
                self.d2 = lib.layers.Dense(2)

            def call(self, x, training=None):
                h = self.d1(x)
                if training:
                    h = self.sd(h) + 0.5
                return self.d2(h)
        return Net
    x = np.random.default_rng(4).normal(size=(32, 4)).astype("float32")
    theirs, mine = net(keras)(), net(gn)(seed=0)
    theirs(x[:2])
    mine.predict(x[:2], verbose=0)
    mine.set_weights(theirs.get_weights())
    before = _states(mine)
    np.testing.assert_allclose(mine.predict(x, verbose=0), np.asarray(theirs.predict(x, verbose=0)), atol=1e-5)
    assert _states(mine) == before
    skipped = mine._skipped_calls(False)
    kinds = sorted(type(mine._calls[k]).__name__ for k in skipped)
    assert "RandomDraw" in kinds and "TrainingSwitch" in kinds      # the inner switch and its draws
    trained = np.asarray(mine(x, training=True))
    assert _states(mine)[0][1] == before[0][1] + 1
    kept = np.asarray(mine.d2(np.asarray(mine.d1(x)) * 2 + 0.5))
    dropped = np.asarray(mine.d2(np.full((32, 5), 0.5, np.float32)))
    is_kept = np.isclose(trained, kept, atol=1e-5).all(axis=1)
    assert (is_kept | np.isclose(trained, dropped, atol=1e-5).all(axis=1)).all() and 0 < is_kept.sum() < 32


def test_a_sequential_holding_a_branching_block_skips_and_plans_anew_after_add_and_pop():
    Branching, counters = _two_branches()
    model = gn.Sequential([gn.Input((3,)), Branching(), gn.layers.Dense(2)], seed=0)
    x = np.ones((4, 3), "float32")
    before = _runs(counters)
    model.predict(x, verbose=0)
    model(x, training=True)
    assert np.subtract(_runs(counters), before).tolist() == [2, 1, 1, 0]
    skipped = model._skipped_calls(False)
    model.add(gn.layers.Dense(5))
    assert model.predict(x, verbose=0).shape == (4, 5)
    assert model._skipped_calls(False) == skipped         # the calls added run; the same skipped
    model.pop()
    model.pop()
    assert model.predict(x, verbose=0).shape == (4, 4)
    assert model._switch_plan[0] == len(model._node_layers)


def test_models_without_a_switch_skip_nothing():
    inputs = gn.Input((3,))
    model = gn.Model(inputs, gn.layers.Dense(2)(gn.layers.Dropout(0.5)(inputs)))
    model.predict(np.ones((2, 3), "float32"), verbose=0)
    assert model._skipped_calls(False) is None and model._skipped_calls(True) is None
    chain = gn.Sequential([gn.Input((3,)), gn.layers.Dense(2)])
    chain.predict(np.ones((2, 3), "float32"), verbose=0)
    assert chain._skipped_calls(False) is None


def test_trace_of_a_branching_model_keeps_one_record_per_call():
    model, _, _ = _branching_model()
    model.compile(loss="mse", optimizer="sgd")
    x, y = np.ones((4, 3), "float32"), np.zeros((4, 2), "float32")
    records = model.trace(x, y)
    assert len(records) == len(model._calls)
    skipped = model._skipped_calls(True)
    assert skipped and all(records[k]["A"] is None for k in skipped)
    assert all(records[k]["A"] is not None for k in range(len(records)) if k not in skipped)
    assert "loss" in str(records)


def test_skipped_calls_on_hand_made_graphs():
    """The rule itself: the unread input's calls are skipped unless something read needs them; a
    call going nowhere runs unless it reads a skipped call; a switch's own mode wins."""
    from glassnet.layers import Dense
    from glassnet.layers.training_switch import TrainingSwitch
    d, s = Dense(1), TrainingSwitch()
    # 0 trunk; 1 train branch; 2 dead call on 1; 3 infer branch; 4 dead call on trunk; 5 switch [1, 3]
    calls, inbound = [d, d, d, d, d, s], [[-1], [0], [1], [0], [0], [1, 3]]
    assert skipped_calls(calls, inbound, None, {5}, training=True) == {3}
    assert skipped_calls(calls, inbound, None, {5}, training=False) == {1, 2}
    # the switch fixed in inference mode: the training branch never runs
    modes = [None] * 5 + [False]
    assert skipped_calls(calls, inbound, modes, {5}, training=True) == {1, 2}
    # the unread input read by an output too: it runs
    assert skipped_calls(calls + [d], inbound + [[3]], None, {5, 6}, training=True) == set()
    # a switch whose inference input is the trunk itself (return f(x) if training else x)
    assert skipped_calls([d, d, s], [[-1], [0], [1, 0]], None, {2}, training=False) == {1}
    assert skipped_calls([d, d, s], [[-1], [0], [1, 0]], None, {2}, training=True) == set()


def test_a_switch_given_none_for_the_input_its_mode_reads_is_refused_by_name():
    from glassnet.layers.training_switch import TrainingSwitch
    switch = TrainingSwitch()
    np.testing.assert_array_equal(switch.forward([np.ones((2, 3)), None], training=True), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"forward got None for input 1, the one an inference pass reads"):
        switch.forward([np.ones((2, 3)), None], training=False)
