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
