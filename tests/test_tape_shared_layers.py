"""GradientTape with layers that several models share (glassnet._tape_weights): each model lays the
layers' weights out in a buffer of its own, so the same kernel is a different array in each model's
``trainable_weights``; TF's models hold the same variable. Compared with tf.GradientTape on Keras 3.15
models holding the same weights (a feature extractor beside its base model, the extractor alone, a
GAN's combined model, a Sequential of another model's layers), and with float64 central finite
differences; ``apply_gradients`` on either model's arrays then reaches both."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops
from central_differences import numeric as central_differences      # float64


def _base_and_extractor(lib, dtype="float32"):
    """A model x -> h -> o and the extractor x -> h drawn from its layers (Keras' pattern)."""
    i = lib.Input((4,))
    h = lib.layers.Dense(3, activation="tanh", name="h")(i)
    o = lib.layers.Dense(2, name="o")(h)
    base = lib.Model(i, o, **({"seed": 1, "dtype": dtype} if lib is gn else {}))
    feat = lib.Model(base.inputs, base.get_layer("h").output, **({"dtype": dtype} if lib is gn else {}))
    return base, feat


def _gan(lib, seed=0):
    """G: z (2) -> 3, D: 3 -> 1 (sigmoid), and combined = Model(z, D(G(z)))."""
    if lib is gn:
        g = gn.Sequential([gn.layers.Dense(4, activation="tanh", input_dim=2), gn.layers.Dense(3)], seed=seed)
        d = gn.Sequential([gn.layers.Dense(4, activation="tanh", input_dim=3),
                           gn.layers.Dense(1, activation="sigmoid")], seed=seed + 1)
    else:
        g = lib.Sequential([lib.Input((2,)), lib.layers.Dense(4, activation="tanh"), lib.layers.Dense(3)])
        d = lib.Sequential([lib.Input((3,)), lib.layers.Dense(4, activation="tanh"),
                            lib.layers.Dense(1, activation="sigmoid")])
    z = lib.Input((2,))
    return g, d, lib.Model(z, d(g(z)))


def _x(n=8, features=4, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).normal(size=(n, features)).astype(dtype)


def _close(mine, theirs, rtol=1e-5, atol=1e-6):
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs):
        if b is None:
            assert a is None
        else:
            assert a is not None, "glassnet gave None where TF gives a gradient"
            np.testing.assert_allclose(a, b.numpy(), rtol=rtol, atol=atol)


def _numeric(value, layers, eps=1e-6):
    """Central differences of ``value()`` for each weight of ``layers``, perturbing the array each
    layer computes with now (whichever model's view it holds)."""
    grads = []
    for layer in layers:
        for key in layer.params:
            w, g = layer.params[key], np.zeros(layer.params[key].shape)
            for idx in np.ndindex(w.shape):
                old = w[idx]
                w[idx] = old + eps
                up = value()
                w[idx] = old - eps
                down = value()
                w[idx] = old
                g[idx] = (up - down) / (2 * eps)
            grads.append(g)
    return grads


# -- gradients against TensorFlow -----------------------------------------------------------------------
@pytest.mark.parametrize("asked", ["base", "feat", "layer"])
def test_extractor_and_base_in_one_loss_match_tensorflow(keras, asked):
    """sum(base(x)**2) + sum(feat(x)**3): the shared layer's gradient is both paths' sum, whichever
    model's arrays (or the layer's own trainable_weights) are the sources."""
    import tensorflow as tf
    x = _x()
    base, feat = _base_and_extractor(gn)
    kbase, kfeat = _base_and_extractor(keras)
    kbase.set_weights(base.get_weights())
    sources = {"base": lambda m, f: m.trainable_weights, "feat": lambda m, f: f.trainable_weights,
               "layer": lambda m, f: m.get_layer("h").trainable_weights}[asked]
    with gn.GradientTape() as tape:
        loss = ops.sum(base(x) ** 2) + ops.sum(feat(x) ** 3)
    grads = tape.gradient(loss, sources(base, feat))
    with tf.GradientTape() as ktape:
        kloss = tf.reduce_sum(kbase(x) ** 2) + tf.reduce_sum(kfeat(x) ** 3)
    kgrads = ktape.gradient(kloss, sources(kbase, kfeat))
    assert float(loss) == pytest.approx(float(kloss), rel=1e-5)
    _close(grads, kgrads)


def test_extractor_alone_matches_tensorflow(keras):
    """Only the extractor called, base's weights asked: h's gradient, None for o (TF's)."""
    import tensorflow as tf
    x = _x(seed=1)
    base, feat = _base_and_extractor(gn)
    kbase, kfeat = _base_and_extractor(keras)
    kbase.set_weights(base.get_weights())
    base.predict(x, verbose=0)          # (base ran last outside the tape: its views are the layer's)
    with gn.GradientTape() as tape:
        loss = ops.mean(ops.square(feat(x) - 0.5))
    grads = tape.gradient(loss, base.trainable_weights)
    with tf.GradientTape() as ktape:
        kloss = tf.reduce_mean(tf.square(kfeat(x) - 0.5))
    kgrads = ktape.gradient(kloss, kbase.trainable_weights)
    assert grads[2] is None and grads[3] is None
    _close(grads, kgrads)
    # "zero" gives zeros for o, and the same arrays' gradient twice (base's and feat's view of h)
    with gn.GradientTape() as tape:
        loss = ops.mean(ops.square(feat(x) - 0.5))
    both = tape.gradient(loss, [base.trainable_weights, feat.trainable_weights], unconnected_gradients="zero")
    np.testing.assert_array_equal(both[1][0], both[0][0])
    np.testing.assert_array_equal(both[0][3], np.zeros(2, np.float32))


def test_sequential_of_another_models_layers_matches_tensorflow(keras):
    """seq = Sequential([base's layers]) called with the extractor: gradients as base's arrays."""
    import tensorflow as tf
    x = _x(seed=2)
    base, feat = _base_and_extractor(gn)
    kbase, kfeat = _base_and_extractor(keras)
    kbase.set_weights(base.get_weights())
    seq = gn.Sequential([base.get_layer("h"), base.get_layer("o")])
    kseq = keras.Sequential([kbase.get_layer("h"), kbase.get_layer("o")])
    with gn.GradientTape() as tape:
        loss = ops.sum(ops.tanh(seq(x))) + ops.sum(feat(x) ** 2)
    grads = tape.gradient(loss, [base.trainable_weights, seq.trainable_weights])
    with tf.GradientTape() as ktape:
        kloss = tf.reduce_sum(tf.tanh(kseq(x))) + tf.reduce_sum(kfeat(x) ** 2)
    kgrads = ktape.gradient(kloss, [kbase.trainable_weights, kseq.trainable_weights])
    _close(grads[0] + grads[1], kgrads[0] + kgrads[1])


def test_combined_gan_model_matches_tensorflow(keras):
    """combined = Model(z, D(G(z))): G's and D's own arrays get the gradient of combined's call."""
    import tensorflow as tf
    z = _x(6, 2, seed=3)
    g, d, combined = _gan(gn)
    kg, kd, kcombined = _gan(keras)
    kg.set_weights(g.get_weights())
    kd.set_weights(d.get_weights())
    real = _x(6, 3, seed=4)
    with gn.GradientTape() as tape:
        g_loss = -ops.mean(ops.log(combined(z, training=True)))
        d_loss = -ops.mean(ops.log(d(real, training=True)))
    grads = tape.gradient(g_loss + d_loss, [g.trainable_weights, d.trainable_weights])
    with tf.GradientTape() as ktape:
        kg_loss = -tf.reduce_mean(tf.math.log(kcombined(z, training=True)))
        kd_loss = -tf.reduce_mean(tf.math.log(kd(real, training=True)))
    kgrads = ktape.gradient(kg_loss + kd_loss, [kg.trainable_weights, kd.trainable_weights])
    _close(grads[0] + grads[1], kgrads[0] + kgrads[1])


def test_gan_persistent_tape_after_a_step_through_the_other_model(keras):
    """A persistent tape over combined(z) and D(real): D steps (apply_gradients on D's arrays),
    then G's gradient through combined's call, at the values that call used (TF's tape keeps them)."""
    import tensorflow as tf
    z, real = _x(6, 2, seed=5), _x(6, 3, seed=6)
    g, d, combined = _gan(gn)
    kg, kd, kcombined = _gan(keras)
    kg.set_weights(g.get_weights())
    kd.set_weights(d.get_weights())
    opt, kopt = gn.optimizers.SGD(learning_rate=0.5), keras.optimizers.SGD(learning_rate=0.5)
    with gn.GradientTape(persistent=True) as tape:
        g_loss = -ops.mean(ops.log(combined(z)))
        d_loss = -ops.mean(ops.log(d(real))) - ops.mean(ops.log(1.0 - combined(z)))
    opt.apply_gradients(zip(tape.gradient(d_loss, d.trainable_weights), d.trainable_weights))
    g_grads = tape.gradient(g_loss, g.trainable_weights)
    with tf.GradientTape(persistent=True) as ktape:
        kg_loss = -tf.reduce_mean(tf.math.log(kcombined(z)))
        kd_loss = -tf.reduce_mean(tf.math.log(kd(real))) - tf.reduce_mean(tf.math.log(1.0 - kcombined(z)))
    kopt.apply_gradients(zip(ktape.gradient(kd_loss, kd.trainable_weights), kd.trainable_weights))
    kg_grads = ktape.gradient(kg_loss, kg.trainable_weights)
    _close(g_grads, kg_grads)
    # the step reached combined's computation as D's
    np.testing.assert_allclose(combined.predict(z, verbose=0), kcombined.predict(z, verbose=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(d.predict(real, verbose=0), kd.predict(real, verbose=0), rtol=1e-5, atol=1e-6)


def test_watch_accessed_variables_false_watches_the_weight_in_every_model(keras):
    """watch(feat.trainable_weights), gradient for base's arrays: the same weights (TF's variables)."""
    import tensorflow as tf
    x = _x(seed=7)
    base, feat = _base_and_extractor(gn)
    kbase, kfeat = _base_and_extractor(keras)
    kbase.set_weights(base.get_weights())
    with gn.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(feat.trainable_weights)
        loss = ops.sum(base(x) ** 2) + ops.sum(feat(x))
    grads = tape.gradient(loss, base.trainable_weights)
    with tf.GradientTape(watch_accessed_variables=False) as ktape:
        ktape.watch([v.value for v in kfeat.trainable_weights])      # (Keras 3 variables: their tf.Variable)
        kloss = tf.reduce_sum(kbase(x) ** 2) + tf.reduce_sum(kfeat(x))
    kgrads = ktape.gradient(kloss, kbase.trainable_weights)
    assert grads[2] is None and kgrads[2] is None
    _close(grads, kgrads)


# -- finite differences -----------------------------------------------------------------------------------
def test_extractor_and_base_against_finite_differences():
    x = _x(dtype=np.float64)
    base, feat = _base_and_extractor(gn, dtype="float64")

    def value():
        return float(np.sum(base.predict(x, verbose=0) ** 2) + np.sum(feat.predict(x, verbose=0) ** 3))
    for sources in (base.trainable_weights, feat.trainable_weights):
        with gn.GradientTape() as tape:
            loss = ops.sum(base(x) ** 2) + ops.sum(feat(x) ** 3)
        grads = tape.gradient(loss, sources)
        numeric = _numeric(value, [base.get_layer("h"), base.get_layer("o")])
        for mine, num in zip(grads, numeric):
            assert mine.dtype == np.float64
            np.testing.assert_allclose(mine, num, rtol=1e-6, atol=1e-8)


def test_combined_gan_against_finite_differences():
    z, real = _x(5, 2, seed=8, dtype=np.float64), _x(5, 3, seed=11, dtype=np.float64)
    g = gn.Sequential([gn.layers.Dense(4, activation="tanh", input_dim=2), gn.layers.Dense(3)], seed=0,
                      dtype="float64")
    d = gn.Sequential([gn.layers.Dense(4, activation="tanh", input_dim=3),
                       gn.layers.Dense(1, activation="sigmoid")], seed=1, dtype="float64")
    inp = gn.Input((2,))
    combined = gn.Model(inp, d(g(inp)), dtype="float64")

    def value():
        return float(np.sum(np.log(combined.predict(z, verbose=0))) + np.sum(d.predict(real, verbose=0) ** 2))
    with gn.GradientTape() as tape:
        loss = ops.sum(ops.log(combined(z))) + ops.sum(d(real) ** 2)
    grads = tape.gradient(loss, g.trainable_weights + d.trainable_weights)
    numeric = _numeric(value, g.layers + d.layers)
    for mine, num in zip(grads, numeric):
        np.testing.assert_allclose(mine, num, rtol=1e-6, atol=1e-8)


# -- apply_gradients reaches every model holding the layer ----------------------------------------------
@pytest.mark.parametrize("which", ["feat", "base", "some"])
def test_apply_gradients_on_either_models_arrays_reaches_both(keras, which):
    """Steps on feat's arrays (the whole set), base's, or one of base's arrays alone while the layer
    computes with feat's view: base.predict and feat.predict then match Keras' after the same step."""
    import tensorflow as tf
    x = _x(seed=9)
    base, feat = _base_and_extractor(gn)
    kbase, kfeat = _base_and_extractor(keras)
    kbase.set_weights(base.get_weights())
    opt, kopt = gn.optimizers.SGD(learning_rate=0.1), keras.optimizers.SGD(learning_rate=0.1)
    pick = {"feat": lambda m, f: f.trainable_weights, "base": lambda m, f: m.trainable_weights,
            "some": lambda m, f: m.trainable_weights[:1]}[which]
    for step in range(2):
        weights = pick(base, feat)      # (taken before the calls: the layer then holds feat's view)
        with gn.GradientTape() as tape:
            loss = ops.sum(base(x) ** 2) + ops.sum(feat(x) ** 3)
        opt.apply_gradients(zip(tape.gradient(loss, weights), weights))
        kweights = pick(kbase, kfeat)
        with tf.GradientTape() as ktape:
            kloss = tf.reduce_sum(kbase(x) ** 2) + tf.reduce_sum(kfeat(x) ** 3)
        kopt.apply_gradients(zip(ktape.gradient(kloss, kweights), kweights))
        # (float32 steps on gradients of size ~10: rounding reaches 1e-5 of the values)
        np.testing.assert_allclose(base.predict(x, verbose=0), kbase.predict(x, verbose=0), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(feat.predict(x, verbose=0), kfeat.predict(x, verbose=0), rtol=1e-4, atol=1e-5)
    for mine, theirs in zip(base.get_weights() + feat.get_weights(), kbase.get_weights() + kfeat.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-5)


def test_a_step_is_not_undone_by_the_other_models_fit():
    """apply_gradients on feat's arrays, then base.fit: base trains from the stepped values (its
    next re-attach takes them up, not its own older view)."""
    x = _x(seed=10)
    base, feat = _base_and_extractor(gn)
    base.compile(loss="mse", optimizer=gn.optimizers.SGD(learning_rate=0.0))
    base.fit(x, np.zeros((8, 2), np.float32), epochs=1, verbose=0)    # (the layer holds base's view)
    weights = feat.trainable_weights
    before = [w.copy() for w in weights]
    grads = [np.ones_like(w) for w in weights]
    gn.optimizers.SGD(learning_rate=0.1).apply_gradients(zip(grads, weights))
    base.fit(x, np.zeros((8, 2), np.float32), epochs=1, verbose=0)    # a step of 0: the values stay
    for w, old in zip(base.get_layer("h").get_weights(), before):
        np.testing.assert_allclose(w, old - 0.1, rtol=1e-6)


# -- FeatureDistillation(student_layer_name=...): the student's extractor shares its layers -------------
def _distillers(keras, student_loss_weight):
    from glassnet import distillation as gd
    from test_distillation import _net
    teacher, student = _net(gn, 8, "t", seed=0), _net(gn, 5, "s", seed=1)
    kteacher, kstudent = _net(keras, 8, "t"), _net(keras, 5, "s")
    kteacher.set_weights(teacher.get_weights())
    kstudent.set_weights(student.get_weights())

    def losses(lib, module):
        return [module.FeatureDistillation(loss="mse", teacher_layer_name="t_feat", student_layer_name="s_feat"),
                module.LogitsDistillation(temperature=2.0, loss=lib.losses.KLDivergence())]
    ours = gd.Distiller(teacher, student, losses(gn, gd), distillation_loss_weights=[1.0, 0.5],
                        student_loss_weight=student_loss_weight)
    theirs = keras.distillation.Distiller(kteacher, kstudent, losses(keras, keras.distillation),
                                          distillation_loss_weights=[1.0, 0.5], student_loss_weight=student_loss_weight)
    ours.compile(optimizer=gn.optimizers.SGD(0.1), loss=gn.losses.SparseCategoricalCrossentropy(from_logits=True))
    theirs.compile(optimizer=keras.optimizers.SGD(0.1),
                   loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return ours, theirs


@pytest.mark.parametrize("student_loss_weight", [0.0, 0.4])
def test_distiller_with_a_student_layer_matches_keras(keras, student_loss_weight):
    """FeatureDistillation(teacher_layer_name="t_feat", student_layer_name="s_feat") beside a
    LogitsDistillation, against Keras 3.15's Distiller from the same weights (shuffle=False)."""
    from test_distillation import _data
    x, y = _data()
    ours, theirs = _distillers(keras, student_loss_weight)
    before = [w.copy() for w in ours.student.get_weights()]
    fit = dict(epochs=3, batch_size=8, shuffle=False, verbose=0, validation_data=(x[:10], y[:10]))
    history, keras_history = ours.fit(x, y, **fit).history, theirs.fit(x, y, **fit).history
    assert sorted(history) == sorted(keras_history)
    for key in keras_history:
        np.testing.assert_allclose(history[key], keras_history[key], rtol=1e-5, atol=1e-6, err_msg=key)
    assert max(np.abs(a - b).max() for a, b in zip(ours.student.get_weights(), before)) > 1e-2    # (it trained)
    for mine, theirs_w in zip(ours.student.get_weights(), theirs.student.get_weights()):
        np.testing.assert_allclose(mine, theirs_w, atol=1e-5)
    mine, their = ours.evaluate(x, y, verbose=0, return_dict=True), theirs.evaluate(x, y, verbose=0, return_dict=True)
    for key in their:
        assert mine[key] == pytest.approx(float(their[key]), rel=1e-5, abs=1e-6), key
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)


def test_distiller_with_a_student_layer_step_against_finite_differences():
    """One full-batch SGD step moves each student weight by lr times the float64 central-difference
    gradient of compute_loss, the student's intermediate features distilled."""
    from glassnet import distillation as gd
    from test_distillation import _data
    x, y = _data(10)
    x = x.astype(np.float64)

    def net(units, name, seed):
        i = gn.Input((4,))
        h = gn.layers.Dense(units, activation="tanh", name=name + "_hidden")(i)
        f = gn.layers.Dense(6, activation="tanh", name=name + "_feat")(h)
        return gn.Model(i, gn.layers.Dense(3, name=name + "_out")(f), seed=seed, dtype="float64")
    teacher, student = net(8, "t", 0), net(5, "s", 1)
    distiller = gd.Distiller(teacher, student, [gd.FeatureDistillation("mse", "t_feat", "s_feat"),
                                                gd.LogitsDistillation(temperature=3.0)],
                             distillation_loss_weights=[1.0, 0.3], student_loss_weight=0.4, dtype="float64")
    lr = 0.5
    distiller.compile(optimizer=gn.optimizers.SGD(lr), loss=gn.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = [a.copy() for a in student.get_weights()]

    def loss_at(weights):
        student.set_weights(weights)
        return float(distiller.compute_loss(x, y, student.predict(x, verbose=0)))
    probe = [a.copy() for a in before]      # each entry moved in turn, the others at before
    numeric = central_differences(lambda: loss_at(probe), probe)
    student.set_weights(before)
    distiller.fit(x, y, epochs=1, batch_size=10, shuffle=False, verbose=0)
    for b, a, g in zip(before, student.get_weights(), numeric):
        assert a.dtype == np.float64
        np.testing.assert_allclose((b - a) / lr, g, rtol=1e-6, atol=1e-8)
