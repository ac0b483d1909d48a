"""Where randomness comes from when no seed is given: fresh from the operating system, or, after
``glassnet.utils.set_random_seed(seed)`` (Keras' ``keras.utils.set_random_seed``), from one root
seed, so that a script whose models and layers take no seed runs the same every time.

A model or a layer given its own ``seed`` never reads this; one given none asks ``entropy()`` once,
when it is made (a model) or first draws (a layer used alone), in the order the script makes them.
"""
import random

import numpy as np

_root = None        # the SeedSequence set_random_seed made, or None: entropy from the OS


def set_random_seed(seed):
    """Seed Python's ``random``, NumPy's global generator (``np.random.seed``) and glassnet's root,
    from which every model and layer made without a seed from now on draws its own entropy in
    turn. As Keras' function: an integer >= 0 (None and floats are refused)."""
    global _root
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"set_random_seed: expected an integer >= 0, got {seed!r:.60}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2 ** 32)         # the legacy global generator takes 32 bits
    _root = np.random.SeedSequence(int(seed))


def entropy():
    """The entropy of something made without a seed (an int for ``np.random.SeedSequence``): the
    next child of the root set by ``set_random_seed``, or fresh from the operating system."""
    if _root is None:
        return np.random.SeedSequence().entropy
    child, = _root.spawn(1)
    return int.from_bytes(child.generate_state(4, np.uint32).tobytes(), "little")


# -- where a layer's stream comes from, so that a copy rebuilt from a config draws the same --------
# A model gives each layer without a seed of its own the stream SeedSequence(entropy, spawn_key=(1, i))
# of its own entropy (its seed's). A layer of a seeded model nested in another keeps the stream its
# first model gave it, which the outer model's seed does not derive; so the layer records the origin
# (entropy, spawn_key) of its stream (``_stream_origin``) and of the stream its weights were drawn
# from (``_weights_origin``), and a config writes them (``"seed_origin"``) where they are not the
# model's own: ``from_config``, ``clone_model`` and ``model_from_json`` then draw as the original did.

_MAX_ENTROPY_BITS = 16384       # more than any seed a JSON file can hold (Python reads 4300 digits)
_MAX_SPAWN_KEY = 16


def stream(origin):
    """A fresh generator on the stream ``origin = (entropy, spawn_key)`` names, as a model makes one."""
    entropy, spawn_key = origin
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=spawn_key))


def origin_config(origins, derived):
    """The ``"seed_origin"`` of a layer's config entry: ``{"weights": ..., "draws": ...}``, each
    ``{"entropy": int, "spawn_key": [int, ...]}``, for the streams in ``origins`` (a dict of those
    two keys, an origin or None each) that a seed fixed and that are not ``derived`` (the model's
    own stream for the layer); None when there is none, so that other configs stay as they were."""
    entry = {key: {"entropy": int(origin[0]), "spawn_key": [int(k) for k in origin[1]]}
             for key, origin in origins.items() if origin is not None and origin != derived}
    return entry or None


def _short(value):
    """``value``'s repr, cut short; its type where Python will not write it (an integer of more than
    4300 digits, which a crafted file may hold)."""
    try:
        return f"{value!r:.100}"
    except ValueError:
        return f"a {type(value).__name__} too long to show"


def read_origin_config(value, where):
    """``(weights, draws)`` from a config's ``"seed_origin"`` (``origin_config``'s form), each an
    origin ``(entropy, spawn_key)`` or None; a ValueError naming ``where`` for anything else (a
    file may say anything)."""
    def refuse(what):
        raise ValueError(f"{where}: 'seed_origin' {what}; expected {{'weights' and/or 'draws': {{'entropy': an "
                         f"integer >= 0 of at most {_MAX_ENTROPY_BITS} bits, 'spawn_key': a list of at most "
                         f"{_MAX_SPAWN_KEY} integers in [0, 2**32 - 1]}}}}")

    def is_int(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))

    if not isinstance(value, dict) or not value or not set(value) <= {"weights", "draws"}:
        refuse(f"is {_short(value)}")
    origins = {}
    for key, origin in value.items():
        if not isinstance(origin, dict) or set(origin) != {"entropy", "spawn_key"}:
            refuse(f"has {key!r}: {_short(origin)}")
        entropy, spawn_key = origin["entropy"], origin["spawn_key"]
        if not is_int(entropy) or entropy < 0 or int(entropy).bit_length() > _MAX_ENTROPY_BITS:
            refuse(f"has {key!r} of entropy " + ("a negative integer" if is_int(entropy) and entropy < 0
                                                 else f"{int(entropy).bit_length()} bits long" if is_int(entropy)
                                                 else _short(entropy)))
        if (not isinstance(spawn_key, list) or len(spawn_key) > _MAX_SPAWN_KEY
                or not all(is_int(k) and 0 <= k < 2 ** 32 for k in spawn_key)):
            refuse(f"has {key!r} of spawn_key {_short(spawn_key)}")
        origins[key] = int(entropy), tuple(int(k) for k in spawn_key)
    return origins.get("weights"), origins.get("draws")
