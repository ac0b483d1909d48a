"""Keras 3.15's scopes: ``name_scope``, ``device``, ``SymbolicScope``, ``StatelessScope``,
``RematScope`` and ``remat``, as far as they mean something for a NumPy library.

- ``name_scope(name)``: nests names as Keras' does. A layer built inside one keeps the scope's
  path, as Keras' weights do: a model's Keras weight paths (a ``MultiOptimizer``'s patterns, the
  Keras .h5 writer) read ``"block/dense/kernel"`` for a ``Dense`` built in ``name_scope("block")``
  (``"block/sequential/dense/kernel"`` for a Sequential built in it). Layer names are unchanged,
  as in Keras.
- ``device(name)``: "cpu" ("cpu:0", any case) runs on NumPy, the only device there is, unless the
  CuPy backend is in force (``set_backend("cupy")``), where it is refused rather than silently
  computing on the GPU; "gpu"/"cuda" ("gpu:1") runs under ``cupy.cuda.Device(index)`` when the
  CuPy backend is in force, else it is refused by name.
- ``SymbolicScope()``: Keras marks its symbolic tracing with it; glassnet's drawing of a model
  needs no such mark, so it is an empty context manager (``in_symbolic_scope()`` says whether
  one is open).
- ``StatelessScope``: refused. Keras' JAX-style scope collects variable assignments instead of
  applying them; glassnet's layers and optimizers update their arrays in place.
- ``remat(f)`` and ``RematScope(mode=...)``: rematerialization (recomputing activations in the
  backward pass to save memory) changes no value, only memory. glassnet keeps each layer's
  forward cache, so both are documented no-ops: ``remat(f)`` returns ``f`` itself and
  ``RematScope`` checks its arguments as Keras does and changes nothing.
"""
import re

__all__ = ["name_scope", "current_path", "device", "SymbolicScope", "in_symbolic_scope", "StatelessScope",
           "RematScope", "remat"]

_stack = []             # the open name scopes, outermost first
_symbolic = []          # open SymbolicScopes


class name_scope:
    """Keras' ``name_scope(name)``: a context manager; ``name`` a string without "/"."""

    def __init__(self, name, **kwargs):
        if not isinstance(name, str) or "/" in name:
            raise ValueError(f"name_scope: name: expected a string without '/', got {name!r:.60}")
        unknown = set(kwargs) - {"caller", "deduplicate", "override_parent"}
        if unknown:
            raise TypeError(f"name_scope: unexpected argument(s) {sorted(unknown)}")
        self.name = name
        self.override_parent = kwargs.get("override_parent")

    def __enter__(self):
        _stack.append(self)
        return self

    def __exit__(self, *exc):
        if self in _stack:
            _stack.remove(self)


def current_path():
    """The open scopes' names joined by "/" ("" outside any): Keras' ``current_path()``."""
    parts = []
    for scope in _stack:
        if scope.override_parent is not None:
            parts = [p for p in scope.override_parent.split("/") if p]
        parts.append(scope.name)
    return "/".join(parts)


def record_build_scope(layer):
    """Called when ``layer`` is built: keep the scope path it was built in (Keras fixes a weight's
    path when the weight is made), once."""
    if _stack and getattr(layer, "_scope_path", None) is None:
        layer._scope_path = current_path()


_DEVICE = re.compile(r"^(cpu|gpu|cuda)(?::(\d+))?$")


class device:
    """Keras' ``device(device_name)``: see the module docstring."""

    def __init__(self, device_name):
        match = _DEVICE.match(device_name.lower()) if isinstance(device_name, str) else None
        if match is None:
            raise ValueError(f"device: device_name: expected 'cpu', 'gpu' or 'cuda', optionally with ':index', got "
                             f"{device_name!r:.60}")
        from .backend import get_backend
        kind, index = match.group(1), int(match.group(2) or 0)
        backend = get_backend()
        if kind == "cpu" and backend != "numpy":
            raise ValueError(f"device: device_name: {device_name!r} while the {backend!r} backend is in force: "
                             "glassnet would compute on the GPU; set_backend('numpy') to compute on the CPU")
        if kind != "cpu" and backend != "cupy":
            raise ValueError(f"device: device_name: {device_name!r} needs the CuPy backend "
                             "(glassnet.set_backend('cupy'), docs/scaling.md); the NumPy backend computes on the CPU")
        self.device_name, self._context = device_name, None
        if kind != "cpu":
            import cupy
            self._context = cupy.cuda.Device(index)

    def __enter__(self):
        if self._context is not None:
            self._context.__enter__()
        return self

    def __exit__(self, *exc):
        if self._context is not None:
            return self._context.__exit__(*exc)


class SymbolicScope:
    """Keras' ``SymbolicScope()``: an empty context manager here (see the module docstring)."""

    def __enter__(self):
        _symbolic.append(self)
        return self

    def __exit__(self, *exc):
        if self in _symbolic:
            _symbolic.remove(self)


def in_symbolic_scope():
    """Whether a ``SymbolicScope`` is open now (Keras' ``in_symbolic_scope``)."""
    return bool(_symbolic)


class StatelessScope:
    """Keras' ``StatelessScope(state_mapping=None, collect_losses=False, initialize_variables=True)``:
    refused (see the module docstring)."""

    def __init__(self, state_mapping=None, collect_losses=False, initialize_variables=True):
        raise NotImplementedError("StatelessScope: glassnet updates weights and optimizer states in place; it has "
                                  "no stateless mode collecting assignments (Keras' JAX-style scope)")


_MODES = ("full", "activations", "larger_than", "list_of_layers", None)


class RematScope:
    """Keras' ``RematScope(mode="full", output_size_threshold=1024, layer_names=None)``: its
    arguments checked as Keras does; a no-op (see the module docstring)."""

    def __init__(self, mode="full", output_size_threshold=1024, layer_names=None):
        if mode not in _MODES:
            raise ValueError(f"RematScope: mode: expected one of 'full', 'activations', 'larger_than', "
                             f"'list_of_layers' or None, got {mode!r:.40}")
        self.mode, self.output_size_threshold = mode, output_size_threshold
        self.layer_names = list(layer_names or [])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


def remat(f):
    """Keras' ``remat(f)``: ``f`` itself (rematerialization changes memory, not values)."""
    if not callable(f):
        raise TypeError(f"remat: f: expected a callable, got {type(f).__name__}")
    return f
