"""Keras' six arguments of a normalisation layer's ``gamma`` (scale) and ``beta`` (shift):
``beta_initializer``, ``gamma_initializer``, their regularizers and their constraints, taken alike
by BatchNormalization, LayerNormalization and GroupNormalization (Keras' defaults: zeros, ones,
no penalty, no constraint). Kept here once so that the three read, check and write them the same.
"""

from .. import constraints, initializers, regularizers

# the defaults, as the constructors' signatures give them
INITIAL = {"beta_initializer": "zeros", "gamma_initializer": "ones"}
PENALTIES = ("beta_regularizer", "gamma_regularizer")
BOUNDS = ("beta_constraint", "gamma_constraint")


def set_affine_arguments(layer, owner, beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                         gamma_regularizer=None, beta_constraint=None, gamma_constraint=None):
    """Check the six arguments and set them on ``layer`` as attributes of the same names (an
    ``Initializer``, a ``Regularizer`` or None, a ``Constraint`` or None); errors start with
    ``owner`` (the class's name) and the argument's."""
    for key, value in (("beta_initializer", beta_initializer), ("gamma_initializer", gamma_initializer)):
        setattr(layer, key, initializers.get(value, f"{owner}: {key}"))
    for key, value in zip(PENALTIES, (beta_regularizer, gamma_regularizer)):
        setattr(layer, key, regularizers.get(value, f"{owner}: {key}"))
    for key, value in zip(BOUNDS, (beta_constraint, gamma_constraint)):
        setattr(layer, key, constraints.get(value, f"{owner}: {key}"))


def affine_config(layer, initial=INITIAL):
    """The config entries of those of the arguments that differ from the defaults (``initial``:
    {key: the default initializer's name}), so that a default layer's config and model files stay
    those written before the layer took them (and still load in a glassnet from before)."""
    config = {}
    for key, default in initial.items():
        name = initializers.name_of(getattr(layer, key))
        # Keras' Zeros() and Ones() (what its configs hold) are the defaults too
        if name not in (default, initializers.name_of(initializers.get(default.capitalize()))):
            config[key] = name
    return {**config, **regularizers.config_entries(layer, PENALTIES), **constraints.config_entries(layer, BOUNDS)}
