"""A subclass of Sequential whose call glassnet would never run is refused when the class is made.

glassnet's Sequential runs its layers in order: predict, fit and a graph drawn from it skip a call
written in a subclass (Keras' Sequential runs it), so the subclass computed something else silently."""
import numpy as np
import pytest

import glassnet as gn


def test_a_sequential_subclass_defining_call_is_refused_naming_model():
    with pytest.raises(TypeError, match=r"Doubled: a subclass of Sequential defines call.*subclass glassnet.Model"):
        class Doubled(gn.Sequential):
            def call(self, x, training=False):
                return 2 * x


def test_a_call_from_a_mixin_is_refused_too():
    class Scaling:
        def call(self, x):
            return 2 * x
    with pytest.raises(TypeError, match="Mixed: a subclass of Sequential defines call"):
        class Mixed(Scaling, gn.Sequential):
            pass


def test_sequential_subclasses_without_call_and_model_subclasses_with_one_still_work():
    class Named(gn.Sequential):                       # a Sequential of one's own, without call
        def __init__(self, **kwargs):
            super().__init__([gn.Input((3,)), gn.layers.Dense(2)], **kwargs)

    class Doubled(gn.Model):                          # Keras' model subclassing
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = gn.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    x = np.ones((4, 3), np.float32)
    assert Named(seed=0).predict(x, verbose=0).shape == (4, 2)
    assert Doubled(seed=0).predict(x, verbose=0).shape == (4, 2)
