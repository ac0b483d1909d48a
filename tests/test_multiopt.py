"""MultiOptimizer and OptimizerMap against Keras 3.15's (keras.optimizers.MultiOptimizer, OptimizerMap)."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import optimizers as O


def _data(dtype, n=32):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 5)).astype(dtype), rng.normal(size=(n, 1)).astype(dtype)


def _glassnet_model(dtype="float32"):
    enc = gn.Sequential([gn.Input((5,)), gn.layers.Dense(8, activation="tanh"),
                         gn.layers.Dense(4, activation="tanh")], name="encoder", dtype=dtype)
    i = gn.Input((5,))
    return gn.Model(i, gn.layers.Dense(1, name="head")(enc(i)), dtype=dtype)


def _keras_model(keras):
    enc = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="tanh"),
                            keras.layers.Dense(4, activation="tanh")], name="encoder")
    i = keras.Input((5,))
    return keras.Model(i, keras.layers.Dense(1, name="head")(enc(i)))


def _multi(module, adam=None, sgd=None):
    # rates exact in float32: Keras keeps learning_rate in a float32 variable
    return module.MultiOptimizer(module.OptimizerMap(module.SGD(0.0625, momentum=0.9, **(sgd or {})),
                                                     {"encoder/.*": module.Adam(0.0078125, **(adam or {}))}))


def test_fit_matches_keras_float32(keras):
    keras.backend.clear_session()       # Keras numbers optimizer names per session ("sgd_2" after other tests)
    X, y = _data("float32")
    km, gm = _keras_model(keras), _glassnet_model()
    gm.set_weights(km.get_weights())
    # (an epsilon that never counts: glassnet's Adam adds it where torch.optim does, Keras elsewhere,
    # which alone moved a weight with tiny gradients by 1e-4 here)
    km.compile(optimizer=_multi(keras.optimizers, adam={"epsilon": 1e-12}), loss="mse")
    gm.compile(optimizer=_multi(O, adam={"epsilon": 1e-12}), loss="mse")
    km.fit(X, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    gm.fit(X, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(km.get_weights(), gm.get_weights()):
        np.testing.assert_allclose(b, a, atol=1e-5, rtol=1e-5)
    assert gm.optimizer.iterations == int(km.optimizer.iterations) == 12
    assert [o.iterations for o in gm.optimizer.optimizers] == [int(o.iterations) for o in km.optimizer.optimizers]
    assert [o.name for o in gm.optimizer.optimizers] == [o.name for o in km.optimizer.optimizers] == ["adam", "sgd"]


def test_steps_match_keras_float64_with_clipping_decay_schedule(keras):
    """The same gradients given to both: each sub-optimizer's clipnorm, weight decay and schedule."""
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float64")
    try:
        km = _keras_model(keras)
    finally:
        keras.config.set_dtype_policy(policy)
    gm = _glassnet_model("float64")
    gm.set_weights(km.get_weights())
    kwargs = dict(adam={"clipnorm": 0.5, "weight_decay": 0.125, "epsilon": 1e-14},
                  sgd={"clipnorm": 0.25, "weight_decay": 0.0625})
    kopt = _multi(keras.optimizers, **kwargs)
    gopt = _multi(O, **kwargs)
    rng = np.random.default_rng(3)
    weights = gm.trainable_weights
    for _ in range(6):
        grads = [rng.normal(size=w.shape) for w in weights]
        kopt.apply([keras.ops.convert_to_tensor(g) for g in grads], km.trainable_variables)
        gopt.apply_gradients(zip(grads, weights))
    for k, (a, b) in enumerate(zip(km.get_weights(), gm.get_weights())):
        # the head's SGD to 1e-8 (2e-9 measured); the encoder's Adam to 1e-6: glassnet's Adam alone, outside any
        # MultiOptimizer, is 3e-7 from Keras' in float64 after these 6 steps (measured)
        np.testing.assert_allclose(b, a, atol=1e-8 if k >= 4 else 1e-6, rtol=0)


def test_each_part_steps_as_its_optimizer_alone():
    gm, ref = _glassnet_model("float64"), _glassnet_model("float64")
    ref.set_weights(gm.get_weights())
    multi = _multi(O, adam={"clipnorm": 0.5}, sgd={"weight_decay": 0.0625})
    adam, sgd = O.Adam(0.0078125, clipnorm=0.5), O.SGD(0.0625, momentum=0.9, weight_decay=0.0625)
    rng = np.random.default_rng(5)
    for _ in range(5):
        grads = [rng.normal(size=w.shape) for w in gm.trainable_weights]
        multi.apply_gradients(zip(grads, gm.trainable_weights))
        ws = [w.copy() for w in ref.get_weights()]
        adam.apply([(f"w{i}", ws[i], grads[i]) for i in range(4)])
        sgd.apply([(f"w{i}", ws[i], grads[i]) for i in range(4, 6)])
        ref.set_weights(ws)
    for a, b in zip(ref.get_weights(), gm.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)


def test_schedule_per_sub_optimizer_matches_keras(keras):
    K = keras.optimizers
    km, gm = _keras_model(keras), _glassnet_model()
    gm.set_weights(km.get_weights())
    kopt = K.MultiOptimizer(K.OptimizerMap(K.SGD(K.schedules.ExponentialDecay(0.0625, 2, 0.5)),
                                           {"head/.*": K.SGD(0.03125)}))
    gopt = O.MultiOptimizer(O.OptimizerMap(O.SGD(O.schedules.ExponentialDecay(0.0625, 2, 0.5)),
                                           {"head/.*": O.SGD(0.03125)}))
    rng = np.random.default_rng(4)
    for _ in range(5):
        grads = [rng.normal(size=w.shape).astype("float32") for w in gm.trainable_weights]
        kopt.apply(grads, km.trainable_variables)
        gopt.apply_gradients(zip(grads, gm.trainable_weights))
    for a, b in zip(km.get_weights(), gm.get_weights()):
        np.testing.assert_allclose(b, a, atol=1e-6)


def test_paths_are_keras_paths(keras):
    gs = gn.Sequential([gn.Input((3,)), gn.layers.Dense(2, name="a")], name="seq")
    ks = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="a")], name="seq")
    gs.build((None, 3))
    assert gs._weight_paths() == [v.path for v in ks.trainable_variables]
    km, gm = _keras_model(keras), _glassnet_model()
    # (Keras numbers Dense layers across the whole session: compare the structure)
    kp = [p.split("/") for p in (v.path for v in km.trainable_variables)]
    gp = [p.split("/") for p in gm._weight_paths()]
    assert [(p[0], len(p), p[-1]) for p in kp] == [(p[0], len(p), p[-1]) for p in gp]


def test_optimizer_map_lookup_as_keras(keras):
    for mod in (keras.optimizers, O):
        m = mod.OptimizerMap(mod.RMSprop())
        m["encoder/layer_0/dense"] = mod.Adam()
        m["encoder/.*"] = mod.SGD()
        m["decoder"] = mod.Adam()
        names = [m[p].name.rstrip("_0123456789").replace("_", "") for p in ("decoder", "encoder/layer_0/dense",
                                                          "encoder/layer_0/attention/query", "decoder/layer_0/dense")]
        assert names == ["adam", "adam", "sgd", "rmsprop"]
        m["enc.*"] = mod.Adam()
        with pytest.raises(ValueError):        # several patterns match
            m["encoder/x"]
        with pytest.raises(ValueError):        # a repeated key
            m["decoder"] = mod.SGD()
        with pytest.raises(ValueError):
            m[3] = mod.SGD()
        with pytest.raises(ValueError):
            m["x"] = 3
        with pytest.raises(TypeError):
            mod.OptimizerMap(3)
        opt = mod.MultiOptimizer(mod.OptimizerMap(mod.Adam()))
        with pytest.raises(AttributeError, match="(?i)learning.rate"):
            opt.learning_rate
        with pytest.raises(AttributeError):
            opt.learning_rate = 0.1
        with pytest.raises(TypeError):
            opt["x"] = mod.SGD()
        with pytest.raises(ValueError):
            mod.OptimizerMap(mod.Adam())["m"] = opt


def test_callable_form_trains_as_the_map_and_cannot_be_saved(tmp_path):
    X, y = _data("float32")
    a, b = _glassnet_model(), _glassnet_model()
    b.set_weights(a.get_weights())
    a.compile(optimizer=_multi(O), loss="mse")
    adam, sgd = O.Adam(0.0078125), O.SGD(0.0625, momentum=0.9)
    seen = []

    def pick(weight):
        seen.append((weight.path, weight.name, weight.shape))
        return adam if weight.path.startswith("encoder/") else sgd
    b.compile(optimizer=O.MultiOptimizer(pick), loss="mse")
    for model in (a, b):
        model.fit(X, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert len(seen) == 6 and seen[0][1] == "kernel" and seen[-1][0] == "head/bias"   # once per weight
    with pytest.raises(TypeError, match="callable"):
        b.save(tmp_path / "m.npz")


def test_save_load_resumes_exactly(tmp_path):
    X, y = _data("float32")
    a, b = _glassnet_model(), _glassnet_model()
    b.set_weights(a.get_weights())
    for model in (a, b):
        model.compile(optimizer=_multi(O, adam={"gradient_accumulation_steps": 3}), loss="mse")
    a.fit(X, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    b.fit(X, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    b.save(tmp_path / "m.npz")
    c = gn.load_model(tmp_path / "m.npz")
    assert isinstance(c.optimizer, O.MultiOptimizer)
    assert [type(o).__name__ for o in c.optimizer.optimizers] == ["Adam", "SGD"]
    assert [o.iterations for o in c.optimizer.optimizers] == [o.iterations for o in b.optimizer.optimizers]
    c.fit(X, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for wa, wc in zip(a.get_weights(), c.get_weights()):
        np.testing.assert_array_equal(wa, wc)


def test_backup_and_restore(tmp_path):
    X, y = _data("float32")
    a, b = _glassnet_model(), _glassnet_model()
    b.set_weights(a.get_weights())
    for model in (a, b):
        model.compile(optimizer=_multi(O), loss="mse")
    a.fit(X, y, epochs=3, batch_size=8, shuffle=False, verbose=0)

    class Stop(gn.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt
    backup = gn.callbacks.BackupAndRestore(str(tmp_path / "bk"))
    with pytest.raises(KeyboardInterrupt):
        b.fit(X, y, epochs=3, batch_size=8, shuffle=False, verbose=0, callbacks=[backup, Stop()])
    c = _glassnet_model()
    c.compile(optimizer=_multi(O), loss="mse")
    c.fit(X, y, epochs=3, batch_size=8, shuffle=False, verbose=0, callbacks=[gn.callbacks.BackupAndRestore(str(tmp_path / "bk"))])
    for wa, wc in zip(a.get_weights(), c.get_weights()):
        np.testing.assert_allclose(wc, wa, atol=1e-7)


def test_frozen_layer_and_tape_loop():
    X, y = _data("float32")
    a, b = _glassnet_model(), _glassnet_model()
    b.set_weights(a.get_weights())
    head = a.get_layer("head")
    head.trainable = False
    before = [w.copy() for w in head.get_weights()]
    a.compile(optimizer=_multi(O), loss="mse")
    a.fit(X, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for w0, w1 in zip(before, head.get_weights()):
        np.testing.assert_array_equal(w0, w1)
    assert a.optimizer.optimizers[1].iterations == 0      # SGD had no weight to step
    # a GradientTape loop steps as train_on_batch does
    c = _glassnet_model()
    c.set_weights(b.get_weights())
    b.compile(optimizer=_multi(O), loss="mse")
    opt = _multi(O)
    for k in range(4):
        xb, yb = X[k * 8:(k + 1) * 8], y[k * 8:(k + 1) * 8]
        b.train_on_batch(xb, yb)
        with gn.GradientTape() as tape:
            loss = gn.ops.mean((c(xb, training=True) - yb) ** 2)
        opt.apply_gradients(zip(tape.gradient(loss, c.trainable_weights), c.trainable_weights))
    for wb, wc in zip(b.get_weights(), c.get_weights()):
        np.testing.assert_allclose(wc, wb, atol=1e-6)


def test_bad_arguments():
    with pytest.raises(TypeError, match="optimizer_map"):
        O.MultiOptimizer(3)
    with pytest.raises(ValueError, match="loss_scale_factor"):
        O.MultiOptimizer(O.OptimizerMap(O.SGD()), loss_scale_factor=2.0)
    opt = O.MultiOptimizer(lambda w: "adam")
    with pytest.raises(ValueError, match="Optimizer instance"):
        opt.apply_gradients([(np.ones(2, np.float32), np.zeros(2, np.float32))])
    with pytest.raises(AttributeError, match="clipnorm"):
        O.MultiOptimizer(O.OptimizerMap(O.SGD())).clipnorm = 1.0
    with pytest.raises(ValueError, match="re.* take very long|regular expression"):
        O.OptimizerMap.from_config({"default_optimizer": {"name": "sgd"}, "optimizer_map": {"(a+)+": {"name": "adam"}}})


def test_reads_keras_config(keras):
    K = keras.optimizers
    entry = K.serialize(_multi(K))
    opt = O.deserialize(entry)
    assert isinstance(opt, O.MultiOptimizer)
    assert [type(o).__name__ for o in opt.optimizers] == ["Adam", "SGD"]
    assert opt.optimizers[1].momentum == 0.9 and opt.optimizer_map["encoder/x"] is opt.optimizers[0]


def test_import_glassnet_does_not_import_the_multi_optimizer_module():
    """glassnet.optimizers.multi (regular expressions, the map) loads on first use of its names, so
    that `import glassnet` keeps under 0.3 s."""
    import subprocess
    import sys
    code = ("import sys, glassnet; a = 'glassnet.optimizers.multi' in sys.modules; "
            "glassnet.optimizers.OptimizerMap; print(a, 'glassnet.optimizers.multi' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split() == \
        ["False", "True"]
