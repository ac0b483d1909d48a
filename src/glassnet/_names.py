"""Keras' default model names, numbered per session: ``sequential``, ``sequential_1``, ...,
``functional``, ``functional_1``, ..., and a subclass' class name in snake case (``MyNet`` ->
``my_net``, ``my_net_1``), one counter per name, as Keras' ``auto_name`` counts them
(keras/src/backend/common/global_state.py, ``get_uid``). A name given is kept and counts nothing,
so a model loaded from a file keeps the name it was saved with.

``clear_session()`` starts every counter again (Keras' ``keras.utils.clear_session``). Layer names
are not counted here: a model names its layers among its own (``dense``, ``dense_1``), so that a
model built again (``load_model``) names them the same.
"""
import re
import threading

_COUNTS = {}
_LOCK = threading.Lock()       # two threads making models must not take one name


def to_snake_case(name):
    """Keras' ``to_snake_case``: "MyCNNModel" -> "my_cnn_model", "Sequential" -> "sequential"."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def auto_name(prefix):
    """``prefix`` in snake case the first time, then with ``_1``, ``_2``, ... (until ``clear_session``)."""
    base = to_snake_case(prefix)
    with _LOCK:
        k = _COUNTS.get(base, 0)
        _COUNTS[base] = k + 1
    return base if k == 0 else f"{base}_{k}"


def get_uid(prefix=""):
    """Keras' ``keras.backend.get_uid(prefix)``: 1, 2, 3, ... on successive calls with one prefix,
    counted with the default model names (after one ``Sequential`` was made, ``get_uid("sequential")``
    is 2, as in Keras) and started again by ``clear_session``. glassnet does not count layer names
    here (a model names its layers among its own), where Keras does: ``get_uid("dense")`` is 1
    after Dense layers were made, Keras' more."""
    if not isinstance(prefix, str):
        raise TypeError(f"get_uid: prefix: expected a str, got {type(prefix).__name__} {prefix!r:.40}")
    with _LOCK:
        _COUNTS[prefix] = _COUNTS.get(prefix, 0) + 1
        return _COUNTS[prefix]


def clear_session():
    """Start the default model names again from ``sequential``, ``functional``, ... (Keras'
    ``keras.utils.clear_session()``; glassnet keeps no other global state it could clear)."""
    with _LOCK:
        _COUNTS.clear()
