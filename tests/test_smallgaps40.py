"""Three gaps closed against Keras/TensorFlow 3.15: a Sequential subclass in model files, a block's
``training=True`` default in a model called without ``training``, ``tape.jacobian`` of an empty target."""
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet import ops


# -- 3. tape.jacobian of an empty target -------------------------------------------------------------
def _tf_empty_jacobians(tf, unconnected):
    """TF's jacobian of a (0,)-shaped target read off x (connected) and of one read off c, for the
    sources x, u (never read) and c: the shapes, None where TF gives None."""
    x, u, c = tf.Variable([1.0, 2.0]), tf.Variable([[3.0]]), tf.Variable([5.0])
    out = {}
    for name, read in (("x", x), ("c", c)):
        with tf.GradientTape(persistent=True) as tape:
            target = (read * 2.0)[:0]
        grads = tape.jacobian(target, [x, u, c], unconnected_gradients=unconnected)
        out[name] = [None if g is None else tuple(g.shape) for g in grads]
    return out


@pytest.mark.parametrize("unconnected", ["none", "zero"])
def test_empty_target_jacobian_as_tensorflow(keras, unconnected):
    import tensorflow as tf
    expected = _tf_empty_jacobians(tf, unconnected)
    x, u, c = (np.array([1.0, 2.0], np.float32), np.array([[3.0]], np.float32), np.array([5.0], np.float32))
    for name, read in (("x", x), ("c", c)):
        for pfor in (True, False):      # (TF's loop without pfor fails on an empty target: pfor's answer)
            with gn.GradientTape(persistent=True) as tape:
                for s in (x, u, c):
                    tape.watch(s)
                target = ops.multiply(ops.convert_to_tensor(read), 2.0)[:0]
            grads = tape.jacobian(target, [x, u, c], unconnected_gradients=unconnected,
                                  experimental_use_pfor=pfor)
            assert [None if g is None else g.shape for g in grads] == expected[name], (name, pfor)
            for g, s in zip(grads, (x, u, c)):
                if g is not None:
                    assert g.dtype == s.dtype and g.size == 0


def test_empty_target_jacobian_of_weights():
    """A model's kernel the empty target reads: zeros of (0, *kernel.shape); a watched array it does
    not read: None, as TF's; unconnected_gradients="zero": zeros for it too."""
    model = gn.Sequential([gn.layers.Input((3,)), gn.layers.Dense(2)], seed=0)
    other = np.ones(4, np.float32)
    x = np.ones((5, 3), np.float32)
    with gn.GradientTape(persistent=True) as tape:
        tape.watch(other)
        target = model(x)[:0]
    kernel = model.trainable_variables[0]
    j_kernel, j_other = tape.jacobian(target, [kernel, other])
    assert j_kernel.shape == (0, 2, 3, 2) and j_other is None
    assert tape.jacobian(target, other, unconnected_gradients="zero").shape == (0, 2, 4)


# -- 1. a Sequential subclass in model files ---------------------------------------------------------
class _Seq(gn.Sequential):
    """A Sequential subclass of the user's: an attribute its constructor sets, a method of its own."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.made_by_init = True

    def doubled(self, x):
        return 2 * self.predict(x, verbose=0)


@gn.saving.register_serializable(package="Smallgaps40")
class _RegSeq(gn.Sequential):
    def doubled(self, x):
        return 2 * self.predict(x, verbose=0)


def _keras_classes(keras):
    class KSeq(keras.Sequential):
        def doubled(self, x):
            return 2 * self.predict(x, verbose=0)

    @keras.saving.register_keras_serializable(package="Smallgaps40")
    class KRegSeq(keras.Sequential):
        pass
    return KSeq, KRegSeq


def test_keras_gives_back_sequential_subclasses(keras, tmp_path):
    """What glassnet follows: Keras 3.15 loads a Sequential subclass as that class given custom_objects
    or registered (with or without custom_objects); an unregistered one without them it refuses,
    where glassnet warns and gives the plain Sequential (as for a gn.Model subclass)."""
    KSeq, KRegSeq = _keras_classes(keras)
    for cls in (KSeq, KRegSeq):
        model = cls([keras.Input((3,)), keras.layers.Dense(2)])
        path = str(tmp_path / f"{cls.__name__}.keras")
        model.save(path)
        assert type(keras.models.load_model(path, custom_objects={cls.__name__: cls})) is cls
        if cls is KRegSeq:
            assert type(keras.models.load_model(path)) is cls
        else:
            with pytest.raises(TypeError, match="Could not locate class 'KSeq'"):
                keras.models.load_model(path)


def _trained(cls, x, y):
    model = cls([gn.layers.Input((3,)), gn.layers.Dense(4, activation="tanh"), gn.layers.Dropout(0.3),
                 gn.layers.Dense(2)], seed=3)
    model.compile(loss="mse", optimizer="adam")
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    return model


@pytest.mark.parametrize("cls,given", [(_Seq, True), (_RegSeq, False), (_RegSeq, True)])
def test_sequential_subclass_comes_back(tmp_path, cls, given):
    x = np.random.default_rng(0).normal(size=(12, 3)).astype(np.float32)
    y = np.tanh(x[:, :2]).astype(np.float32)
    model = _trained(cls, x, y)
    path = str(tmp_path / "seq.npz")
    model.save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # found: no warning
        loaded = gn.models.load_model(path, custom_objects={cls.__name__: cls} if given else None)
    assert type(loaded) is cls and loaded.name == model.name
    assert getattr(loaded, "made_by_init", True)            # (its constructor ran)
    np.testing.assert_array_equal(loaded.doubled(x), model.doubled(x))
    # training goes on as the saved model's does: Adam's state, the Dropout's and shuffling's streams
    h1 = model.fit(x, y, epochs=2, batch_size=4, verbose=0).history["loss"]
    h2 = loaded.fit(x, y, epochs=2, batch_size=4, verbose=0).history["loss"]
    assert h1 == h2
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    # a config and JSON name it too
    assert type(gn.model_from_json(model.to_json(), custom_objects={cls.__name__: cls})) is cls
    assert type(gn.Sequential.from_config(model.get_config(), custom_objects={cls.__name__: cls})) is cls
    assert type(cls.from_config(model.get_config())) is cls


def test_sequential_subclass_not_given_warns(tmp_path):
    x = np.ones((4, 3), np.float32)
    model = _trained(_Seq, x, x[:, :2])
    path = str(tmp_path / "seq.npz")
    model.save(path)
    with pytest.warns(UserWarning, match=r"'_Seq' .*a subclass of gn.Sequential.*plain gn.Sequential.*"
                                         r"custom_objects=\{'_Seq': _Seq\}"):
        loaded = gn.models.load_model(path)
    assert type(loaded) is gn.Sequential
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_sequential_subclass_bad_constructor_or_class(tmp_path, edit_model_file):
    class Fixed(gn.Sequential):         # its constructor does not take Sequential's arguments
        def __init__(self, units=2):
            super().__init__([gn.layers.Input((3,)), gn.layers.Dense(units)])
    model = Fixed()
    path = str(tmp_path / "fixed.npz")
    model.save(path)
    with pytest.raises(gn.errors.ModelFileError, match=r"Fixed\(layers, name=\.\.\., seed=\.\.\., dtype=\.\.\.\) failed"):
        gn.models.load_model(path, custom_objects={"Fixed": Fixed})

    class NotSeq(gn.layers.Dense):
        pass
    with pytest.raises(gn.errors.ModelFileError, match="not a subclass of glassnet.Sequential"):
        gn.models.load_model(path, custom_objects={"Fixed": NotSeq})
    out = str(tmp_path / "edited.npz")
    edit_model_file(path, lambda config: config["model"]["subclass"].update(base="Model"), out)
    with pytest.raises(gn.errors.ModelFileError, match="'base': 'Sequential'"):
        gn.models.load_model(out, custom_objects={"Fixed": Fixed})
