"""Unfreezing, ``pop``, ``add`` after training, a MultiOptimizer, Adafactor and an optimizer shared by
two models keep the optimizer's state per weight, as Keras 3.15's slots per variable
(glassnet._state_carry): whole fits against Keras 3.15 (TensorFlow) from the same weights where it is
installed, and self-contained checks of the state carried that run without it."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops

L = gn.layers
TOL = 1e-6          # float32 weights after 6 to 12 steps (measured: at most 1.3e-7 apart)


def _data(n=16, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 4)).astype(np.float32)
    return x, (x.sum(1, keepdims=True) - 2.0).astype(np.float32)


def _ours(weights=None):
    model = gn.Sequential([gn.Input((4,)), L.Dense(3, activation="tanh", name="a"),
                           L.Dense(2, activation="tanh", name="b"), L.Dense(1, name="c")], seed=0)
    if weights is not None:
        model.set_weights(weights)
    return model


def _pair(keras):
    keras.utils.set_random_seed(0)
    kl = keras.layers
    theirs = keras.Sequential([keras.Input((4,)), kl.Dense(3, activation="tanh", name="a"),
                               kl.Dense(2, activation="tanh", name="b"), kl.Dense(1, name="c")])
    return theirs, _ours(theirs.get_weights())


# each optimizer as Keras computes it (glassnet's rule="keras" where PyTorch's differs)
OPTIMIZERS = {
    "adam": (lambda k: k.Adam(0.01), lambda: gn.optimizers.Adam(0.01, rule="keras")),
    "sgd_momentum": (lambda k: k.SGD(0.05, momentum=0.9), lambda: gn.optimizers.SGD(0.05, momentum=0.9, rule="keras")),
    "rmsprop": (lambda k: k.RMSprop(0.01, momentum=0.5),
                lambda: gn.optimizers.RMSprop(0.01, momentum=0.5, rule="keras")),
    "adafactor": (lambda k: k.Adafactor(0.05), lambda: gn.optimizers.Adafactor(0.05)),
}


def _setup(keras, name):
    """Keras' model and ours from the same weights, and the optimizer ``name`` of each."""
    theirs, ours = _pair(keras)
    return theirs, ours, OPTIMIZERS[name][0](keras.optimizers), OPTIMIZERS[name][1]()


def _fit_change_fit(pairs, change, outputs=1):
    """For each ``(model, optimizer)``: compile, two epochs, ``change(model)``, compile again with
    the same optimizer, two epochs on targets of ``outputs`` columns."""
    x, y = _data()
    for model, optimizer in pairs:
        model.compile(optimizer, "mse")
        _fit(model, x, y)
        change(model)
        model.compile(optimizer, "mse")
        _fit(model, x, np.repeat(y, outputs, axis=1))


def _fit(model, x, y, epochs=2):
    model.fit(x, y, epochs=epochs, batch_size=8, shuffle=False, verbose=0)


def _close(ours, theirs, tol=TOL):
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


# -- against Keras 3.15, the same optimizer instance throughout -----------------------------------------
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_unfreezing_takes_the_state_back_as_keras(keras, name):
    """fit, freeze, compile, fit, unfreeze, compile, fit: the unfrozen layer resumes with the slots
    it had when frozen (Keras kept its variables' slots untouched), the count goes on."""
    theirs, ours, k_opt, g_opt = _setup(keras, name)
    x, y = _data()
    for model, optimizer in ((theirs, k_opt), (ours, g_opt)):
        model.compile(optimizer, "mse")
        _fit(model, x, y)
        for trainable in (False, True):
            model.layers[1].trainable = trainable
            model.compile(optimizer, "mse")
            _fit(model, x, y)
    assert g_opt.iterations == int(k_opt.iterations) == 12
    _close(ours, theirs)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_a_weight_never_stepped_starts_from_zeros_as_keras(keras, name):
    """A layer frozen from the first fit, then unfrozen: its slots start at zeros with the count at 4,
    Keras' state for a variable its optimizer was built with and never stepped (its optimizer built
    on the layer too: without that Keras refuses the layer, "Unknown variable")."""
    theirs, ours, k_opt, g_opt = _setup(keras, name)
    k_opt.build(theirs.trainable_variables)
    for model in (theirs, ours):
        model.layers[0].trainable = False
    _fit_change_fit(((theirs, k_opt), (ours, g_opt)), lambda model: setattr(model.layers[0], "trainable", True))
    assert g_opt.iterations == int(k_opt.iterations) == 8
    _close(ours, theirs)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_pop_keeps_the_state_as_keras(keras, name):
    theirs, ours, k_opt, g_opt = _setup(keras, name)
    _fit_change_fit(((theirs, k_opt), (ours, g_opt)), lambda model: model.pop(), outputs=2)
    assert g_opt.iterations == int(k_opt.iterations) == 8
    _close(ours, theirs)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_add_after_training_gives_the_new_layer_zeros_as_keras(keras, name):
    """``add`` after training: the old layers keep their state, the new one starts from zeros, the
    count goes on, as Keras' optimizer built on the new layer's variables beforehand (without that
    Keras refuses them with the same optimizer)."""
    theirs, ours, k_opt, g_opt = _setup(keras, name)
    k_new, g_new = keras.layers.Dense(2, name="d"), L.Dense(2, name="d")
    k_new.build((None, 1))
    g_new.build((None, 1))
    g_new.set_weights(k_new.get_weights())
    k_opt.build(theirs.trainable_variables + k_new.trainable_variables)
    added = {id(theirs): k_new, id(ours): g_new}
    _fit_change_fit(((theirs, k_opt), (ours, g_opt)), lambda model: model.add(added[id(model)]), outputs=2)
    assert g_opt.iterations == int(k_opt.iterations) == 8
    _close(ours, theirs)


def test_an_optimizer_shared_by_two_models_as_keras(keras):
    """Two models on one base, one Adam: a layer of the base frozen, then unfrozen, each model
    compiled again and fitted in turn; the base's weights keep one state each (Keras' optimizer
    built on both models' variables)."""
    kl = keras.layers
    keras.utils.set_random_seed(0)
    k_base = keras.Sequential([keras.Input((4,)), kl.Dense(3, activation="tanh", name="a"),
                               kl.Dense(2, activation="tanh", name="b")], name="base")
    theirs = [keras.Sequential([k_base, kl.Dense(1, name=f"h{i}")]) for i in (1, 2)]
    base = gn.Sequential([gn.Input((4,)), L.Dense(3, activation="tanh", name="a"),
                          L.Dense(2, activation="tanh", name="b")], name="base")
    ours = [gn.Sequential([base, L.Dense(1, name=f"h{i}")]) for i in (1, 2)]
    for k_model, g_model in zip(theirs, ours):
        k_model.build((None, 4))
        g_model.set_weights(k_model.get_weights())
    k_opt, g_opt = keras.optimizers.Adam(0.01), gn.optimizers.Adam(0.01, rule="keras")
    k_opt.build(theirs[0].trainable_variables + theirs[1].layers[-1].trainable_variables)
    x, y = _data()
    for models, optimizer, nested in ((theirs, k_opt, k_base), (ours, g_opt, base)):
        for trainable in (True, False, True):
            nested.layers[0].trainable = trainable
            for model in models:
                model.compile(optimizer, "mse")
            for model in models:
                _fit(model, x, y, epochs=1)
    assert g_opt.iterations == int(k_opt.iterations) == 12
    for k_model, g_model in zip(theirs, ours):
        _close(g_model, k_model)


def multi_as_keras_loop(keras, k_body, g_body, frozen):
    """A MultiOptimizer stepping ``a`` and ``b`` with ``g_body`` (and ``c`` with SGD with momentum),
    its layer ``frozen`` frozen for the second of three epochs, each compiled, against a loop of
    Keras' own stepping the trainable variables of ``a`` and ``b`` with ``k_body`` and ``c``'s with
    an SGD: both sub-optimizers' step counts equal Keras', then the weights to 1e-6."""
    tf = pytest.importorskip("tensorflow")
    theirs, ours = _pair(keras)
    k_sgd = keras.optimizers.SGD(0.05, momentum=0.9)
    x, y = _data()

    def keras_epoch():
        for at in (0, 8):
            with tf.GradientTape() as tape:
                loss = keras.ops.mean(keras.ops.square(theirs(x[at:at + 8], training=True) - y[at:at + 8]))
            variables = theirs.trainable_variables
            grads = tape.gradient(loss, variables)
            for opt, head in ((k_body, False), (k_sgd, True)):
                pairs = [(g, v) for g, v in zip(grads, variables) if ("/c/" in v.path) == head]
                if pairs:
                    opt.apply(*zip(*pairs))
    k_body.build([v for v in theirs.trainable_variables if "/c/" not in v.path])
    k_sgd.build([v for v in theirs.trainable_variables if "/c/" in v.path])
    multi = gn.optimizers.MultiOptimizer(gn.optimizers.OptimizerMap(
        gn.optimizers.SGD(0.05, momentum=0.9, rule="keras"), {".*/(a|b)/.*": g_body}))
    ours.compile(multi, "mse")
    for trainable in (True, False, True):
        for model in (theirs, ours):
            model.layers[frozen].trainable = trainable
        ours.compile(multi, "mse")
        keras_epoch()
        _fit(ours, x, y, epochs=1)
    assert [o.iterations for o in multi.optimizers] == [int(k_body.iterations), int(k_sgd.iterations)] == [6, 6]
    _close(ours, theirs)


def test_a_multi_optimizer_as_keras_per_variable(keras):
    """Keras 3.15's MultiOptimizer refuses a freeze ("Gradients must match trainable variables
    one-to-one"); its sub-optimizers' per-variable slots are the oracle: a loop of Keras' own
    stepping the trainable variables of ``a`` and ``b`` with one Adam and ``c``'s with one SGD."""
    multi_as_keras_loop(keras, keras.optimizers.Adam(0.01), gn.optimizers.Adam(0.01, rule="keras"), 0)


# -- without Keras: the state carried is the state kept -------------------------------------------------
def _state(model):
    return {n: a.copy() for n, a in model.optimizer.get_state()["slots"]["params"].items()}


def test_an_unfrozen_layer_takes_back_the_state_it_had():
    """b's runs of Adam's m and v when frozen come back unchanged at the unfreeze; a's and c's are
    those they had after training on without b; the count never restarts."""
    x, y = _data()
    model = _ours()
    model.compile(gn.optimizers.Adam(0.01), "mse")
    _fit(model, x, y)
    before = _state(model)                  # a: 0..15, b: 15..23, c: 23..26
    model.layers[1].trainable = False
    model.compile(model.optimizer, "mse")
    _fit(model, x, y)
    assert model.optimizer.iterations == 8
    frozen = _state(model)                  # a: 0..15, c: 15..18
    model.layers[1].trainable = True
    model.compile(model.optimizer, "mse")
    after = _state(model)
    for name in ("m", "v"):
        np.testing.assert_array_equal(after[name][15:23], before[name][15:23])
        np.testing.assert_array_equal(after[name][:15], frozen[name][:15])
        np.testing.assert_array_equal(after[name][23:], frozen[name][15:])
    assert model.optimizer.iterations == 8


def test_a_new_weight_starts_from_the_rules_initial_state():
    """Adagrad's accumulator starts at initial_accumulator_value, not 0, for a layer unfrozen that it
    never stepped; the others keep theirs."""
    x, y = _data()
    model = _ours()
    model.layers[0].trainable = False
    model.compile(gn.optimizers.Adagrad(0.05, initial_accumulator_value=0.3), "mse")
    _fit(model, x, y)
    trained = _state(model)["sum"]
    model.layers[0].trainable = True
    model.compile(model.optimizer, "mse")
    accumulator = _state(model)["sum"]
    np.testing.assert_array_equal(accumulator[:15], np.float32(0.3))
    np.testing.assert_array_equal(accumulator[15:], trained)
    assert model.optimizer.iterations == 4


def test_a_model_sharing_the_optimizer_keeps_its_state_through_the_others_freeze():
    """A freeze in one of two models sharing a base and an optimizer leaves the other model's state
    and the count as they were (it reset every model's before)."""
    x, y = _data()
    base = gn.Sequential([gn.Input((4,)), L.Dense(3, name="a")], name="base")
    first, second = gn.Sequential([base, L.Dense(1, name="h1")]), gn.Sequential([base, L.Dense(1, name="h2")])
    opt = gn.optimizers.Adam(0.01)
    for model in (first, second):
        model.compile(opt, "mse")
        _fit(model, x, y, epochs=1)
    second_state = {n: a.copy() for n, a in opt.get_state()["slots"][second._triples[0][0]].items()}
    first.layers[-1].trainable = False
    first.compile(opt, "mse")
    assert opt.iterations == 4
    for n, a in opt.get_state()["slots"][second._triples[0][0]].items():
        np.testing.assert_array_equal(a, second_state[n])


# -- a list of trainable_variables held across a new layout ---------------------------------------------
def _loop_step(model, optimizer, variables, x, y):
    with gn.GradientTape() as tape:
        loss = ops.mean(ops.square(model(x, training=True) - y))
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))


def test_a_list_held_across_the_fit_that_lays_it_out_anew_is_refused_by_name():
    x, y = _data()
    model = _ours()
    model.compile(gn.optimizers.SGD(0.1), "mse")
    _fit(model, x, y, epochs=1)
    held = model.trainable_variables
    optimizer = gn.optimizers.SGD(0.1)
    _loop_step(model, optimizer, held, x, y)            # the same layout: the list is the model's
    model.layers[1].trainable = False
    _loop_step(model, optimizer, held, x, y)            # still (no fit since): b gets None, no step
    _fit(model, x, y, epochs=1)                         # the layout changes here
    with pytest.raises(ValueError, match=r"gradient: weight 0 \(a/kernel, shape \(4, 3\)\) is an array model "
                                         r"'sequential' no longer computes with: .* Read model.trainable_variables "
                                         r"again after that call"):
        _loop_step(model, optimizer, held, x, y)
    with pytest.raises(ValueError, match=r"apply_gradients: weight 0 \(a/kernel"):
        optimizer.apply_gradients([(np.zeros((4, 3), np.float32), held[0])])
    before = model.get_weights()
    _loop_step(model, optimizer, model.trainable_variables, x, y)    # read again: trains
    assert not np.array_equal(model.get_weights()[0], before[0])
    np.testing.assert_array_equal(model.get_weights()[2], before[2])   # b frozen


def test_a_multi_optimizer_keeps_a_popped_layers_state_until_it_is_added_back():
    """pop: the sub-optimizers' counts go on; the popped head's SGD momentum is kept aside and comes
    back with it (``add``), equal to what it was before the pop."""
    x, y = _data()
    model = _ours()
    multi = gn.optimizers.MultiOptimizer(gn.optimizers.OptimizerMap(
        gn.optimizers.SGD(0.05, momentum=0.9), {".*/(a|b)/.*": gn.optimizers.Adam(0.01)}))
    model.compile(multi, "mse")
    _fit(model, x, y, epochs=1)
    head_momentum = multi.get_state()["slots"]["params"]["1/momentum"][-3:].copy()    # c: 2 + 1 values
    head = model.pop()
    _fit(model, x, np.repeat(y, 2, axis=1), epochs=1)
    assert [opt.iterations for opt in multi.optimizers] == [4, 2]
    model.add(head)
    model.compile(multi, "mse")
    np.testing.assert_array_equal(multi.get_state()["slots"]["params"]["1/momentum"][-3:], head_momentum)
    _fit(model, x, y, epochs=1)
    assert [opt.iterations for opt in multi.optimizers] == [6, 4]


def test_a_model_with_kept_aside_state_pickles_and_copies_with_it():
    """The state of a frozen layer is kept aside by the layer's id, referenced weakly (a popped layer
    nobody holds is freed: tests/test_review_sumrev.py): a pickle or a deep copy carries it with its
    copy of the layer (optstate4; before, it carried none), and the copy trains on after an unfreeze
    as the original does."""
    import copy
    import pickle
    x, y = _data()
    model = _ours()
    model.compile(gn.optimizers.Adam(0.01), "mse")
    model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    model.layers[0].trainable = False
    model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    assert len(model.optimizer.__dict__["_parked"]) == 2          # kernel and bias of "a"
    copies = [pickle.loads(pickle.dumps(model)), copy.deepcopy(model)]
    for other in [model] + copies:
        assert len(other.optimizer.__dict__["_parked"]) == 2
        other.layers[0].trainable = True
        other.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for other in copies:
        for got, want in zip(other.get_weights(), model.get_weights()):
            np.testing.assert_array_equal(got, want)
