"""``trainable`` flags take effect as in Keras 3.15: a model's ``trainable_weights``,
``non_trainable_weights`` and ``trainable_variables`` follow a flag at once (glassnet._trainable_fresh),
training takes it up at the next ``compile``, ``fit`` or ``train_on_batch``, a ``GradientTape`` loop of
one's own trains what the lists name, and a frozen BatchNormalization runs in inference mode.
Each case against Keras 3.15 (TensorFlow) where it is installed, from the same weights, and
self-contained checks that run without it."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops

L = gn.layers


def _data(n=16, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 4)).astype(np.float32)
    return x, (x.sum(1, keepdims=True) - 2.0).astype(np.float32)


def _ours(weights=None):
    model = gn.Sequential([gn.Input((4,)), L.Dense(3, name="a"), L.Dense(2, name="b"), L.Dense(1, name="c")], seed=0)
    if weights is not None:
        model.set_weights(weights)
    return model


def _theirs(keras):
    keras.utils.set_random_seed(0)
    kl = keras.layers
    return keras.Sequential([keras.Input((4,)), kl.Dense(3, name="a"), kl.Dense(2, name="b"), kl.Dense(1, name="c")])


def _pair(keras, theirs_optimizer, ours_optimizer):
    """Keras' model and ours from the same weights, each compiled with its optimizer for the mse,
    and the data."""
    theirs = _theirs(keras)
    ours = _ours(theirs.get_weights())
    theirs.compile(theirs_optimizer, "mse")
    ours.compile(ours_optimizer, "mse")
    return theirs, ours, *_data()


def _names(model, weights):
    """'layer/weight' of each array of ``weights`` (ours: found by identity among the model's)."""
    known = {id(a): name for name, a in model._weight_items()}
    names = [known.get(id(w)) for w in weights]
    assert None not in names, "a list holds an array that is not one of the model's weights"
    return names


def _keras_names(weights):
    return ["/".join(w.path.split("/")[-2:]) for w in weights]


def _lists(model):
    return _names(model, model.trainable_weights), _names(model, model.non_trainable_weights)


def _close(ours, theirs, tol):
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


# -- (1) the lists, right after a flag changes --------------------------------------------------------
@pytest.mark.parametrize("compiled", ["no", "compile", "fit"])
def test_a_frozen_layer_leaves_the_trainable_list_at_once(compiled):
    model = _ours()
    x, y = _data()
    if compiled != "no":
        model.compile(gn.optimizers.SGD(0.1), "mse")
    if compiled == "fit":
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    everything = ["a/kernel", "a/bias", "b/kernel", "b/bias", "c/kernel", "c/bias"]
    assert _lists(model) == (everything, [])
    model.layers[0].trainable = False
    assert _lists(model) == (everything[2:], everything[:2])
    assert _names(model, model.trainable_variables) == everything[2:]
    assert _names(model, model.non_trainable_variables) == everything[:2]
    assert model.count_params() == 4 * 3 + 3 + 3 * 2 + 2 + 2 + 1      # every weight, frozen or not
    model.trainable = False
    assert _lists(model) == ([], everything)
    model.trainable = True
    assert _lists(model) == (everything, [])
    # the lists are the live arrays the layers compute with
    for layer in model.layers:
        for key, param in layer.params.items():
            assert any(param is w for w in model.trainable_weights), (layer.name, key)


def test_a_nested_model_frozen_or_a_layer_of_it():
    inner = gn.Sequential([gn.Input((4,)), L.Dense(3, name="ia"), L.Dense(2, name="ib")], name="inner")
    outer = gn.Sequential([gn.Input((4,)), inner, L.Dense(1, name="top")], name="outer")
    outer.compile(gn.optimizers.SGD(0.1), "mse")
    inner.trainable = False
    assert _lists(outer) == (["top/kernel", "top/bias"], ["ia/kernel", "ia/bias", "ib/kernel", "ib/bias"])
    assert inner.trainable_weights == [] and len(inner.non_trainable_weights) == 4
    inner.trainable = True
    inner.layers[0].trainable = False
    assert _lists(outer)[0] == ["ib/kernel", "ib/bias", "top/kernel", "top/bias"]
    assert _names(inner, inner.trainable_weights) == ["ib/kernel", "ib/bias"]


def test_a_functional_model_follows_too():
    inputs = gn.Input((4,))
    hidden = L.Dense(3, name="h")(inputs)
    model = gn.Model(inputs, [L.Dense(1, name="p")(hidden), L.Dense(2, name="q")(hidden)])
    model.compile(gn.optimizers.SGD(0.1), "mse")
    model.get_layer("h").trainable = False
    assert _lists(model)[0] == ["p/kernel", "p/bias", "q/kernel", "q/bias"]
    assert _lists(model)[1] == ["h/kernel", "h/bias"]


def test_reading_the_lists_leaves_training_as_it_was():
    """The lists are made again where they are read; the optimizer keeps its state: a GAN's D,
    frozen for the combined model, read, then unfrozen, goes on with its Adam moments."""
    model = _ours()
    x, y = _data()
    model.compile(gn.optimizers.Adam(0.01), "mse")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    slots = {k: {n: np.array(a) for n, a in v.items()} if isinstance(v, dict) else v
             for k, v in model.optimizer.slots.items()}
    model.layers[0].trainable = False
    assert len(model.trainable_weights) == 4 and len(model.non_trainable_weights) == 2
    model.summary(print_fn=lambda *_: None)
    model.layers[0].trainable = True
    assert model.optimizer.iterations == 2 and model.optimizer.slots.keys() == slots.keys()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert model.optimizer.iterations == 4          # not reset: the layout is the one it trained with


def test_fit_without_compile_takes_the_flag_up():
    """glassnet's rule: every fit and train_on_batch reads the flags (Keras 3.15 trains a layer frozen
    between two fits of the same batch shapes: its traced train function still lists it)."""
    model = _ours()
    x, y = _data()
    model.compile(gn.optimizers.SGD(0.1), "mse")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    before = [w.copy() for w in model.get_weights()]
    model.layers[0].trainable = False
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    after = model.get_weights()
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_array_equal(after[1], before[1])
    assert not np.array_equal(after[2], before[2])
    model.layers[0].trainable = True
    model.train_on_batch(x, y)
    assert not np.array_equal(model.get_weights()[0], before[0])


def _loop(model, optimizer, x, y, steps, variables=None):
    """A training loop of one's own: the gradient of the mse over ``model.trainable_variables``
    (read every step, or ``variables`` held from before the loop)."""
    for _ in range(steps):
        with gn.GradientTape() as tape:
            loss = ops.mean(ops.square(model(x, training=True) - y))
        weights = model.trainable_variables if variables is None else variables
        optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))


def _by_hand_sgd(weights, x, y, frozen, steps, rate):
    """Plain gradient descent on the mse of three linear Dense layers, in float64, ``frozen``
    layers (indices) left as they are: the gradient worked out by the chain rule."""
    w = [np.asarray(a, np.float64).copy() for a in weights]
    x, y = x.astype(np.float64), y.astype(np.float64)
    for _ in range(steps):
        h1 = x @ w[0] + w[1]
        h2 = h1 @ w[2] + w[3]
        out = h2 @ w[4] + w[5]
        g = 2 * (out - y) / out.size
        grads = [None] * 6
        grads[4], grads[5] = h2.T @ g, g.sum(0)
        g2 = g @ w[4].T
        grads[2], grads[3] = h1.T @ g2, g2.sum(0)
        g1 = g2 @ w[2].T
        grads[0], grads[1] = x.T @ g1, g1.sum(0)
        for k in range(6):
            if k // 2 not in frozen:
                w[k] -= rate * grads[k]
    return w


@pytest.mark.parametrize("held", [False, True])
def test_a_loop_of_ones_own_after_freezing_and_unfreezing(held):
    """Frozen after fit laid the weights out (no compile since): the tape's gradients and the step
    leave the layer; unfrozen again without fit, it trains: against gradient descent by hand."""
    model = gn.Sequential([gn.Input((4,)), L.Dense(3, name="a"), L.Dense(2, name="b"), L.Dense(1, name="c")],
                          seed=0, dtype="float64")
    x, y = _data()
    model.compile(gn.optimizers.SGD(0.05), "mse")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)          # the buffer laid out with every layer
    start = [w.copy() for w in model.get_weights()]
    model.layers[0].trainable = False
    _loop(model, gn.optimizers.SGD(0.1), x, y, 3, model.trainable_variables if held else None)
    np.testing.assert_array_equal(model.get_weights()[0], start[0])
    expected = _by_hand_sgd(start, x, y, frozen={0}, steps=3, rate=0.1)
    _close(model.get_weights(), expected, 1e-12)
    # frozen at the layout (fit), unfrozen since: its own arrays get gradients and steps
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    start = [w.copy() for w in model.get_weights()]
    model.layers[0].trainable = True
    _loop(model, gn.optimizers.SGD(0.1), x, y, 3)
    expected = _by_hand_sgd(start, x, y, frozen=set(), steps=3, rate=0.1)
    _close(model.get_weights(), expected, 1e-12)


# -- (4) BatchNormalization frozen, summary's counts --------------------------------------------------
def _bn_model(seed=0):
    return gn.Sequential([gn.Input((4,)), L.Dense(3, name="d"), L.BatchNormalization(name="bn"),
                          L.Dense(1, name="out")], seed=seed)


def test_a_frozen_batchnorm_runs_in_inference_mode_and_summary_counts_it():
    model = _bn_model()
    x, y = _data()
    model.compile(gn.optimizers.SGD(0.1), "mse")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    bn = model.get_layer("bn")
    bn.trainable = False
    np.testing.assert_allclose(model(x, training=True), model(x, training=False), rtol=1e-6, atol=1e-6)
    before = [w.copy() for w in bn.get_weights()]
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    for a, b in zip(bn.get_weights(), before):         # gamma, beta and the moving statistics
        np.testing.assert_array_equal(a, b)
    # Dense 4*3+3, BN 4*3 (gamma, beta, moving mean and variance), Dense 3+1
    assert _counts(model) == (31, 19, 12)
    assert len(model.trainable_weights) == 4 and len(model.non_trainable_weights) == 4
    assert model.count_params() == 31


def _counts(model):
    """(total, trainable, non-trainable) as ``model.summary`` prints them (Keras adds the bytes)."""
    import re
    lines = []
    model.summary(print_fn=lambda line, *_, **__: lines.append(line))
    text = "\n".join(lines)
    return tuple(int(re.search(rf"^\s*{name} params: ([0-9,]+)", text, re.M).group(1).replace(",", ""))
                 for name in ("Total", "Trainable", "Non-trainable"))


# -- against Keras 3.15 ---------------------------------------------------------------------------------
@pytest.mark.parametrize("compiled", [False, True])
def test_the_lists_are_keras(keras, compiled):
    theirs = _theirs(keras)
    ours = _ours()
    if compiled:
        theirs.compile("sgd", "mse")
        ours.compile("sgd", "mse")
    steps = [lambda m: setattr(m.layers[0], "trainable", False),
             lambda m: setattr(m.layers[2], "trainable", False),
             lambda m: setattr(m.layers[0], "trainable", True),
             lambda m: setattr(m, "trainable", False),
             lambda m: setattr(m, "trainable", True)]
    for step in steps:
        step(theirs)
        step(ours)
        assert _lists(ours) == (_keras_names(theirs.trainable_weights), _keras_names(theirs.non_trainable_weights))
        assert len(ours.trainable_variables) == len(theirs.trainable_variables)
        assert ours.count_params() == theirs.count_params()


def test_nested_lists_are_keras(keras):
    kl = keras.layers
    k_inner = keras.Sequential([keras.Input((4,)), kl.Dense(3, name="ia"), kl.Dense(2, name="ib")], name="inner")
    k_outer = keras.Sequential([keras.Input((4,)), k_inner, kl.Dense(1, name="top")], name="outer")
    inner = gn.Sequential([gn.Input((4,)), L.Dense(3, name="ia"), L.Dense(2, name="ib")], name="inner")
    outer = gn.Sequential([gn.Input((4,)), inner, L.Dense(1, name="top")], name="outer")
    for model in (k_outer, outer):
        model.compile("sgd", "mse")
    for change in (lambda i: setattr(i, "trainable", False),
                   lambda i: (setattr(i, "trainable", True), setattr(i.layers[0], "trainable", False))):
        change(k_inner)
        change(inner)
        assert _lists(outer) == (_keras_names(k_outer.trainable_weights), _keras_names(k_outer.non_trainable_weights))
        assert _names(inner, inner.trainable_weights) == _keras_names(k_inner.trainable_weights)


def test_compile_freeze_fit_is_keras(keras):
    """Frozen after compile, before the first fit (Keras traces its train function then): Adam
    trains the other layers alike."""
    theirs, ours, x, y = _pair(keras, keras.optimizers.Adam(0.01), gn.optimizers.Adam(0.01, rule="keras"))
    for model in (theirs, ours):
        model.layers[0].trainable = False
        model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    _close(ours.get_weights(), theirs.get_weights(), 1e-5)


def test_fit_after_freezing_is_keras_retraced(keras):
    """Frozen between two fits with no compile: glassnet's second fit equals Keras' once Keras'
    train function is made again (``make_train_function(force=True)``, what its docstring of
    ``trainable`` asks for); SGD with momentum, whose velocity of the frozen layer both keep."""
    theirs, ours, x, y = _pair(keras, keras.optimizers.SGD(0.05, momentum=0.9), gn.optimizers.SGD(0.05, momentum=0.9))
    for model in (theirs, ours):
        model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
        model.layers[0].trainable = False
    theirs.make_train_function(force=True)
    frozen = ours.get_weights()[0].copy()
    for model in (theirs, ours):
        model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    np.testing.assert_array_equal(ours.get_weights()[0], frozen)
    _close(ours.get_weights(), theirs.get_weights(), 1e-5)


def test_a_loop_of_ones_own_is_keras(keras):
    """A GradientTape loop over ``trainable_variables`` after freezing, then after unfreezing with a
    new optimizer (Keras' first one, built without the frozen layer, refuses its variables)."""
    import tensorflow as tf
    theirs = _theirs(keras)
    ours = _ours(theirs.get_weights())
    x, y = _data()
    ours.compile(gn.optimizers.SGD(0.1), "mse")
    ours.fit(x, y, epochs=1, batch_size=16, verbose=0)     # laid out with every layer
    theirs.set_weights(ours.get_weights())

    def keras_loop(optimizer, steps):
        for _ in range(steps):
            with tf.GradientTape() as tape:
                loss = keras.ops.mean(keras.ops.square(theirs(x, training=True) - y))
            grads = tape.gradient(loss, theirs.trainable_variables)
            optimizer.apply_gradients(zip(grads, theirs.trainable_variables))
    for model in (theirs, ours):
        model.layers[0].trainable = False
    keras_loop(keras.optimizers.SGD(0.05, momentum=0.9), 3)
    _loop(ours, gn.optimizers.SGD(0.05, momentum=0.9), x, y, 3)
    _close(ours.get_weights(), theirs.get_weights(), 1e-5)
    for model in (theirs, ours):
        model.layers[0].trainable = True
    keras_loop(keras.optimizers.Adam(0.01), 3)
    _loop(ours, gn.optimizers.Adam(0.01, rule="keras"), x, y, 3)
    _close(ours.get_weights(), theirs.get_weights(), 1e-5)


def test_frozen_batchnorm_is_keras(keras):
    kl = keras.layers
    keras.utils.set_random_seed(0)
    theirs = keras.Sequential([keras.Input((4,)), kl.Dense(3, name="d"), kl.BatchNormalization(name="bn"),
                               kl.Dense(1, name="out")])
    ours = _bn_model()
    x, y = _data(32)
    rng = np.random.default_rng(5)
    weights = [rng.normal(size=w.shape).astype(np.float32) for w in theirs.get_weights()]
    weights[5] = np.abs(weights[5]) + 0.5          # a positive moving variance
    theirs.set_weights(weights)
    ours.set_weights(weights)
    theirs.compile(keras.optimizers.SGD(0.05), "mse")
    ours.compile(gn.optimizers.SGD(0.05), "mse")
    for model in (theirs, ours):
        model.get_layer("bn").trainable = False
        model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    _close(ours.get_weights(), theirs.get_weights(), 1e-5)
    np.testing.assert_array_equal(ours.get_layer("bn").get_weights()[2], weights[4])    # moving mean kept
    _close([ours.predict(x, verbose=0)], [theirs.predict(x, verbose=0)], 1e-5)
    # summary's counts, as Keras' own summary prints them (its total adds the optimizer's variables)
    assert _counts(ours)[1:] == _counts(theirs)[1:] == (19, 12)
    assert _counts(ours)[0] == ours.count_params() == theirs.count_params()
    assert _lists(ours) == (_keras_names(theirs.trainable_weights), _keras_names(theirs.non_trainable_weights))


def test_freeze_then_compile_again_with_the_same_adam_is_keras(keras):
    """Keras' optimizer keeps each variable's slots and its step count through a freeze and a new
    ``compile`` with the same instance; glassnet's carries the others' runs into the new layout."""
    theirs = _theirs(keras)
    ours = _ours(theirs.get_weights())
    x, y = _data()
    k_adam, g_adam = keras.optimizers.Adam(0.01), gn.optimizers.Adam(0.01, rule="keras")
    theirs.compile(k_adam, "mse")
    ours.compile(g_adam, "mse")
    for model, optimizer in ((theirs, k_adam), (ours, g_adam)):
        model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
        model.layers[1].trainable = False
        model.compile(optimizer, "mse")
        model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    assert ours.optimizer.iterations == int(theirs.optimizer.iterations) == 8
    _close(ours.get_weights(), theirs.get_weights(), 1e-5)


def test_the_state_carried_is_the_state_kept():
    """Without Keras: freezing the middle layer after two Adam steps, then two more, equals two
    more steps of an optimizer given the kept runs of the state by hand (set_state)."""
    x, y = _data()
    model = _ours()
    model.compile(gn.optimizers.Adam(0.01), "mse")
    model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    state = model.optimizer.get_state()
    twin = _ours(model.get_weights())
    twin.layers[1].trainable = False
    twin.compile(gn.optimizers.Adam(0.01), "mse")
    twin.build((None, 4))
    keep = np.r_[0:15, 23:26]           # a's 12 + 3 and c's 2 + 1 values of the 26 (b's 6 + 2 frozen)
    twin.optimizer.set_state({"iterations": state["iterations"],
                              "slots": {"params": {n: a[keep] for n, a in state["slots"]["params"].items()}}})
    model.layers[1].trainable = False
    for m in (model, twin):
        m.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    assert model.optimizer.iterations == 4
    _close(model.get_weights(), twin.get_weights(), 0)


def test_transfer_learning_with_a_nested_base_is_keras(keras):
    """keras.io's recipe: a base model called in a functional model, frozen after compile and a
    fit, the lists read at once, then compile again and fit: the head alone trains, as Keras'."""
    kl = keras.layers
    keras.utils.set_random_seed(0)
    k_base = keras.Sequential([keras.Input((4,)), kl.Dense(5, activation="relu", name="b1"),
                               kl.Dense(3, activation="tanh", name="b2")], name="base")
    k_in = keras.Input((4,))
    theirs = keras.Model(k_in, kl.Dense(1, name="head")(k_base(k_in)))
    base = gn.Sequential([gn.Input((4,)), L.Dense(5, activation="relu", name="b1"),
                          L.Dense(3, activation="tanh", name="b2")], name="base")
    g_in = gn.Input((4,))
    ours = gn.Model(g_in, L.Dense(1, name="head")(base(g_in)))
    ours.set_weights(theirs.get_weights())
    x, y = _data(32)
    theirs.compile(keras.optimizers.Adam(0.01), "mse")
    ours.compile(gn.optimizers.Adam(0.01, rule="keras"), "mse")
    for model in (theirs, ours):
        model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    _close(ours.get_weights(), theirs.get_weights(), 1e-5)
    k_base.trainable = False
    base.trainable = False
    assert _lists(ours) == (_keras_names(theirs.trainable_weights), _keras_names(theirs.non_trainable_weights))
    assert _lists(ours)[0] == ["head/kernel", "head/bias"]
    theirs.compile(keras.optimizers.Adam(0.001), "mse")
    ours.compile(gn.optimizers.Adam(0.001, rule="keras"), "mse")
    frozen = [w.copy() for w in base.get_weights()]
    for model in (theirs, ours):
        model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(base.get_weights(), frozen):
        np.testing.assert_array_equal(a, b)
    _close(ours.get_weights(), theirs.get_weights(), 1e-5)


def test_unfreeze_then_compile_with_a_new_optimizer_is_keras(keras):
    """Frozen from the first fit, then unfrozen: Keras 3.15 refuses its first optimizer (built
    without the layer: "Unknown variable"), so both compile a new one and train every layer alike."""
    theirs, ours, x, y = _pair(keras, keras.optimizers.SGD(0.05, momentum=0.9), gn.optimizers.SGD(0.05, momentum=0.9))
    for model in (theirs, ours):
        model.layers[0].trainable = False
        model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
        model.layers[0].trainable = True
    theirs.compile(keras.optimizers.Adam(0.01), "mse")
    ours.compile(gn.optimizers.Adam(0.01, rule="keras"), "mse")
    before = ours.get_weights()[0].copy()
    for model in (theirs, ours):
        model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    assert not np.array_equal(ours.get_weights()[0], before)
    _close(ours.get_weights(), theirs.get_weights(), 1e-5)
