"""glassnet.distillation against Keras 3.15's keras.distillation: the same teacher and student
weights, data and settings (shuffle=False): histories, evaluate, predict and final weights to
float32 rounding; the default step's gradient against float64 central differences; bad arguments
refused as Keras refuses them."""
import subprocess
import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet import distillation as gd
from central_differences import numeric as central_differences      # float64


def _net(lib, units, name, seed=None):
    inputs = lib.Input((4,))
    hidden = lib.layers.Dense(units, activation="tanh", name=name + "_hidden")(inputs)
    feat = lib.layers.Dense(6, activation="relu", name=name + "_feat")(hidden)
    out = lib.layers.Dense(3, name=name + "_out")(feat)
    return lib.Model(inputs, out, name=name) if seed is None else lib.Model(inputs, out, name=name, seed=seed)


def _data(n=20):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 4)).astype(np.float32), rng.integers(0, 3, n)


def _strategies(lib, module, which):
    return {"logits": [module.LogitsDistillation(temperature=4.0, loss=lib.losses.KLDivergence())],
            "features": [module.FeatureDistillation(loss="mae")],
            "cce": [module.LogitsDistillation(temperature=1.5,
                                              loss=lib.losses.CategoricalCrossentropy(from_logits=True))],
            "several": [module.LogitsDistillation(temperature=2.5, loss=lib.losses.KLDivergence()),
                        module.FeatureDistillation(loss="mse"),
                        module.LogitsDistillation(temperature=1.5,
                                                  loss=lib.losses.CategoricalCrossentropy(from_logits=True))]}[which]


def _pair(keras, which, student_loss_weight, weights=None):
    teacher, student = _net(gn, 8, "t", seed=0), _net(gn, 5, "s", seed=1)
    kteacher, kstudent = _net(keras, 8, "t"), _net(keras, 5, "s")
    kteacher.set_weights(teacher.get_weights())
    kstudent.set_weights(student.get_weights())
    ours = gd.Distiller(teacher, student, _strategies(gn, gd, which), distillation_loss_weights=weights,
                        student_loss_weight=student_loss_weight)
    theirs = keras.distillation.Distiller(kteacher, kstudent, _strategies(keras, keras.distillation, which),
                                          distillation_loss_weights=weights, student_loss_weight=student_loss_weight)
    ours.compile(optimizer=gn.optimizers.SGD(0.1), loss=gn.losses.SparseCategoricalCrossentropy(from_logits=True),
                 metrics=["accuracy"])
    theirs.compile(optimizer=keras.optimizers.SGD(0.1),
                   loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return ours, theirs


# "cce" and "several" hold a LogitsDistillation whose loss is CategoricalCrossentropy(from_logits=True):
# its targets are the teacher's logits, rows that sum to anything. Keras 3.15 on TensorFlow
# differentiates it with its kernel's softmax(z) - y, the loss's own gradient only for rows summing
# to 1; glassnet takes the loss's own, softmax(z) * sum(y) - y (PyTorch's, and Keras' on its torch
# and JAX backends; docs/losses.md). So their training is compared with Keras' values only
# (test_cce_on_teacher_logits_values_match_keras) and with central differences
# (test_default_step_gradient_matches_finite_differences), not with Keras-TF's trajectory.
@pytest.mark.parametrize("which, student_loss_weight, weights", [
    ("logits", 0.1, None), ("features", 0.5, None), ("logits", 0.0, None), ("logits", 1.0, None)])
def test_fit_evaluate_predict_match_keras(keras, which, student_loss_weight, weights):
    x, y = _data()
    ours, theirs = _pair(keras, which, student_loss_weight, weights)
    fit = dict(epochs=3, batch_size=8, shuffle=False, verbose=0, validation_data=(x[:10], y[:10]))
    history, keras_history = ours.fit(x, y, **fit).history, theirs.fit(x, y, **fit).history
    assert sorted(history) == sorted(keras_history)
    for key in keras_history:
        np.testing.assert_allclose(history[key], keras_history[key], rtol=1e-5, atol=1e-6, err_msg=key)
    for mine, their in zip(ours.student.get_weights(), theirs.student.get_weights()):
        np.testing.assert_allclose(mine, their, atol=1e-5)
    for mine, their in zip(ours.teacher.get_weights(), theirs.teacher.get_weights()):
        np.testing.assert_array_equal(mine, their)      # frozen: never moved
    mine, their = ours.evaluate(x, y, verbose=0, return_dict=True), theirs.evaluate(x, y, verbose=0, return_dict=True)
    assert set(mine) == set(their)
    for key in their:
        assert mine[key] == pytest.approx(float(their[key]), rel=1e-5, abs=1e-6), key
    np.testing.assert_allclose(ours.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-6)
    np.testing.assert_allclose(ours(x), ours.student.predict(x, verbose=0), atol=1e-7)


@pytest.mark.parametrize("which, weights", [("cce", None), ("several", [1.0, 0.5, 0.25])])
def test_cce_on_teacher_logits_values_match_keras(keras, which, weights):
    """The losses of the same weights as Keras 3.15's: only the gradient of these differs (above)."""
    x, y = _data()
    ours, theirs = _pair(keras, which, 0.3, weights)
    got, want = ours.evaluate(x, y, verbose=0, return_dict=True), theirs.evaluate(x, y, verbose=0, return_dict=True)
    assert sorted(got) == sorted(want)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-6, err_msg=key)


def test_teacher_layer_features_match_keras(keras):
    """A teacher's intermediate layer against the student's final outputs (3 features each side)."""
    x, _ = _data()
    teacher, student = _net(gn, 3, "t", seed=0), gn.Sequential([gn.layers.Dense(3, input_dim=4)], seed=2)
    kteacher = _net(keras, 3, "t")
    kstudent = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    kteacher.set_weights(teacher.get_weights())
    kstudent.set_weights(student.get_weights())
    ours = gd.Distiller(teacher, student, gd.FeatureDistillation(teacher_layer_name="t_hidden"), student_loss_weight=0.0)
    theirs = keras.distillation.Distiller(kteacher, kstudent,
                                          keras.distillation.FeatureDistillation(teacher_layer_name="t_hidden"),
                                          student_loss_weight=0.0)
    ours.compile(optimizer=gn.optimizers.SGD(0.05), loss="mse")
    theirs.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    fit = dict(epochs=2, batch_size=7, shuffle=False, verbose=0)
    history, keras_history = ours.fit(x, x[:, :3], **fit).history, theirs.fit(x, x[:, :3], **fit).history
    for key in keras_history:
        np.testing.assert_allclose(history[key], keras_history[key], rtol=1e-5, atol=1e-6, err_msg=key)
    for mine, their in zip(student.get_weights(), kstudent.get_weights()):
        np.testing.assert_allclose(mine, their, atol=1e-5)


def test_default_kl_is_keras_kl_object_and_keras_name_skips_the_softmax(keras):
    """glassnet's default loss, the name "kl_divergence", is Keras' KLDivergence() object (softmax,
    T^2); Keras 3.15 resolves the name to its function and skips both (documented difference)."""
    rng = np.random.default_rng(3)
    t, s = (rng.normal(size=(6, 3)).astype(np.float32) for _ in range(2))
    ours = float(gd.LogitsDistillation(temperature=2.0).compute_loss(t, s))
    keras_object = float(keras.distillation.LogitsDistillation(
        temperature=2.0, loss=keras.losses.KLDivergence()).compute_loss(t, s))
    keras_name = float(keras.distillation.LogitsDistillation(temperature=2.0).compute_loss(t, s))
    assert ours == pytest.approx(keras_object, rel=1e-6)
    assert keras_name == pytest.approx(float(np.mean(keras.losses.kl_divergence(t / 2.0, s / 2.0))), rel=1e-6)
    assert abs(keras_name - ours) > 1e-3


@pytest.mark.parametrize("cce", [False, True])
def test_default_step_gradient_matches_finite_differences(cce):
    """One full-batch SGD step moves each student weight by lr times the float64 central-difference
    gradient of compute_loss (the student's loss and two distillation losses; with ``cce``, a third:
    CategoricalCrossentropy(from_logits=True) on the teacher's logits, rows not summing to 1)."""
    x, y = _data(10)
    x = x.astype(np.float64)
    teacher = _net(gn, 8, "t", seed=0)
    teacher = gn.Model(teacher.inputs, teacher.outputs)
    student = gn.Sequential([gn.layers.Dense(5, activation="tanh", input_dim=4), gn.layers.Dense(3)], seed=1,
                            dtype="float64")
    t64 = gn.Sequential([gn.layers.Dense(8, activation="tanh", input_dim=4), gn.layers.Dense(6, activation="relu"),
                         gn.layers.Dense(3)], seed=0, dtype="float64")
    losses, weights = [gd.LogitsDistillation(temperature=3.0), gd.FeatureDistillation("mse")], [1.0, 0.3]
    if cce:
        losses.append(gd.LogitsDistillation(temperature=1.5, loss=gn.losses.CategoricalCrossentropy(from_logits=True)))
        weights.append(0.5)
    distiller = gd.Distiller(t64, student, losses, distillation_loss_weights=weights, student_loss_weight=0.4,
                             dtype="float64")
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


def _refusals(lib, module):
    """Each bad call, made on one library's classes."""
    def make(units_out=3):
        t = _net(lib, 8, "t") if lib is not gn else _net(gn, 8, "t", seed=0)
        i = lib.Input((4,))
        s = lib.Model(i, lib.layers.Dense(units_out, name="s_out")(i))
        return t, s
    return {
        "temperature": lambda: module.LogitsDistillation(temperature=0.0),
        "temperature type": lambda: module.LogitsDistillation(temperature="3"),
        "all None": lambda: module.FeatureDistillation(loss=[None, None]),
        "logits all None": lambda: module.LogitsDistillation(loss=None),
        "weights length": lambda: module.Distiller(*make(), [module.LogitsDistillation()] * 2,
                                                   distillation_loss_weights=[1.0]),
        "student weight": lambda: module.Distiller(*make(), module.LogitsDistillation(), student_loss_weight=1.5),
        "no losses": lambda: module.Distiller(*make(), None),
        "output shapes": lambda: module.Distiller(*make(4), module.LogitsDistillation()),
        "teacher layer": lambda: module.Distiller(*make(), module.FeatureDistillation(teacher_layer_name="nope")),
        "student layer": lambda: module.Distiller(*make(), module.FeatureDistillation(student_layer_name="nope")),
        "compile loss": lambda: module.Distiller(*make(), module.LogitsDistillation()).compile(optimizer="sgd"),
        "compile metrics": lambda: module.Distiller(*make(), module.LogitsDistillation()).compile(
            optimizer="sgd", loss="mse", metrics="mae"),
        "not a model": lambda: module.Distiller(object(), make()[1], module.LogitsDistillation()),
    }


def test_bad_arguments_refused_as_keras_refuses_them(keras):
    mine, theirs = _refusals(gn, gd), _refusals(keras, keras.distillation)
    for case in theirs:
        with pytest.raises(ValueError) as keras_error:
            theirs[case]()
        with pytest.raises(ValueError) as error:
            mine[case]()
        # the same words where Keras names the argument or the layer
        for word in ("temperature", "non-`None`", "distillation_loss_weights", "student_loss_weight",
                     "distillation_losses", "incompatible", "In teacher model", "In student model", "'loss'",
                     "metrics must be", "Teacher must be"):
            if word in str(keras_error.value):
                assert word in str(error.value), (case, str(error.value))


def test_more_refusals_by_name():
    t, s = _net(gn, 8, "t", seed=0), _net(gn, 5, "s", seed=1)
    with pytest.raises(TypeError, match=r"distillation_losses\[0\]: expected a DistillationLoss"):
        gd.Distiller(t, s, ["kl_divergence"])
    with pytest.raises(ValueError, match="LogitsDistillation: loss: unknown loss 'nope'"):
        gd.LogitsDistillation(loss="nope")
    with pytest.raises(TypeError, match="teacher_layer_name: expected a layer's name"):
        gd.FeatureDistillation(teacher_layer_name=3)
    with pytest.raises(ValueError, match="compile"):
        gd.Distiller(t, s, gd.LogitsDistillation()).compute_loss(np.zeros((2, 4), np.float32), None)


def test_config_round_trip_without_pickle():
    import json
    t, s = _net(gn, 8, "t", seed=0), _net(gn, 5, "s", seed=1)
    distiller = gd.Distiller(t, s, [gd.LogitsDistillation(temperature=2.0),
                                    gd.FeatureDistillation(loss="cosine_similarity", teacher_layer_name="t_out")],
                             distillation_loss_weights=[1.0, 0.5], student_loss_weight=0.25)
    config = json.loads(json.dumps(distiller.get_config()))      # JSON all through
    again = gd.Distiller.from_config(config)
    assert again.student_loss_weight == 0.25 and again.distillation_loss_weights == [1.0, 0.5]
    assert [type(loss) for loss in again.distillation_losses] == [gd.LogitsDistillation, gd.FeatureDistillation]
    assert again.distillation_losses[0].temperature == 2.0
    assert isinstance(again.distillation_losses[1].loss, gn.losses.CosineSimilarity)
    assert [l.name for l in again.student.layers] == [l.name for l in s.layers]
    assert again.teacher.trainable is False


def test_import_glassnet_does_not_load_distillation():
    code = "import sys, glassnet; assert 'glassnet.distillation' not in sys.modules; glassnet.distillation.Distiller"
    subprocess.run([sys.executable, "-c", code], check=True)
