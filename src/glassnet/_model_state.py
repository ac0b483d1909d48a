"""Keras 3.15's model attributes about state, dtypes and run settings, on ``Sequential`` and
``Model``: ``variables``, ``path``, ``dtype_policy``, ``compute_dtype``, ``variable_dtype``,
``input_dtype``, ``compiled``, ``run_eagerly``, ``jit_compile``, ``get_build_config``/
``build_from_config``, ``save_own_variables``/``load_own_variables``, ``get_state_tree``/
``set_state_tree``.

Weights are NumPy arrays (what ``weights`` gives), not Variables; the state tree's leaves are the
live arrays (``value_format="backend_tensor"``) or copies (``"numpy_array"``), keyed by Keras'
variable paths split at "/" (``{"trainable_variables": {"sequential": {"dense": {"kernel": ...}}}}``).
``run_eagerly`` and ``jit_compile`` are taken and kept, and change nothing: glassnet runs NumPy
eagerly and compiles nothing. Properties and methods read on demand: no step reads them.
"""
import numpy as np

from ._validation import check_flag
from .layers.keras_state import DTypeNames


def weight_paths(model):
    """``[(Keras' path, live array)]`` of each layer's variables in turn (its weights, and the states
    of the SeedGenerators it and the layers it wraps hold), as Keras' ``model.variables`` orders them."""
    from .layers.keras_state import variable_entries
    from .variables import layer_path
    items = []
    for layer in model.layers:
        for owner, name, value in variable_entries(layer):
            path = f"{owner.name}/seed_generator_state" if name is None else \
                "/".join([*layer_path(owner), *owner.keras_weight_path(name)])
            items.append((path, value))
    return items


def _nested(items, value_format):
    """Keras' ``_create_nested_dict``: ``{part: {part: ... value}}`` from ``[(path, value)]``."""
    if value_format not in ("backend_tensor", "numpy_array"):
        raise ValueError(f"get_state_tree: value_format: expected 'backend_tensor' or 'numpy_array', got "
                         f"{value_format!r:.40}")
    tree, seen = {}, set()
    for path, value in items:
        if path in seen:
            raise ValueError(f"get_state_tree: the variable path {path!r} is found twice in the model; give unique "
                             f"names to its layers")
        seen.add(path)
        *parents, last = path.split("/")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = np.array(value) if value_format == "numpy_array" else value
    return tree


def _flat(tree, where, prefix=""):
    """``{path: value}`` of a nested dict (Keras' ``_flatten_nested_dict``)."""
    if not isinstance(tree, dict):
        raise TypeError(f"{where}: expected a dict of dicts of arrays, got {type(tree).__name__} at {prefix!r:.80}")
    out = {}
    for key, value in tree.items():
        path = f"{prefix}/{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(_flat(value, where, path))
        else:
            out[path] = value
    return out


class ModelStateMixin(DTypeNames):

    _run_eagerly = _jit_compile = False
    _steps_per_execution, _auto_scale_loss = 1, True

    @property
    def variables(self):
        """Keras' ``model.variables``: each layer's ``variables`` in turn (its weights, live, then the
        state of each SeedGenerator it holds)."""
        self._require_built("variables")
        return [value for _, value in weight_paths(self)]

    @property
    def metrics_variables(self):
        """Keras' ``model.metrics_variables``: the loss tracker's ``total`` and ``count``, then each
        compiled metric's variables, as the last fit epoch, validation or evaluate left them
        (copies in Keras' float32; ``[]`` before compile). Their Keras paths:
        glassnet.metrics.keras_variables.model_metric_items."""
        from .metrics.keras_variables import model_metric_items
        return [value for _, value in model_metric_items(self)]

    @property
    def path(self):
        """Keras' ``model.path``: the model's name once built (None before), as a top-level model's."""
        return self.name if self.built else None

    @property
    def dtype_policy(self):
        """Keras' ``model.dtype_policy``: ``<DTypePolicy "float32">`` (the model's dtype)."""
        from . import dtype_policies
        return dtype_policies.get(np.dtype(self.dtype).name)

    @property
    def compiled(self):
        """Keras' flag: whether ``compile`` was called."""
        return self.optimizer is not None or getattr(self, "_deferred_compile", None) is not None

    @property
    def run_eagerly(self):
        """Keras' setting, kept and unused: glassnet always runs eagerly (NumPy), so True and False
        train alike. False by default, as Keras' after compile."""
        return self._run_eagerly

    @run_eagerly.setter
    def run_eagerly(self, value):
        self._run_eagerly = check_flag(value, "run_eagerly")

    @property
    def jit_compile(self):
        """Keras' setting, kept and unused: glassnet compiles nothing. False by default (Keras 3.15
        on TensorFlow's CPU reads False after compile); ``"auto"`` is taken and reads False."""
        return self._jit_compile

    @jit_compile.setter
    def jit_compile(self, value):
        self._jit_compile = False if value == "auto" and isinstance(value, str) else check_flag(value, "jit_compile")

    @property
    def steps_per_execution(self):
        """Keras' setting (``compile(steps_per_execution=...)``), kept and unused: glassnet runs one
        batch per step, whatever it says. 1 by default."""
        return self._steps_per_execution

    @steps_per_execution.setter
    def steps_per_execution(self, value):
        from ._run_settings import checked_run_settings
        self._steps_per_execution = checked_run_settings(False, value, False, True)["steps_per_execution"]

    @property
    def supports_masking(self):
        """Keras 3.15's ``supports_masking``: False for a Sequential and a functional Model (neither
        defines ``compute_mask``); a subclass's is what it sets (``self.supports_masking = True``,
        or in its class), else whether its class defines ``compute_mask``. A model's run hands
        masks through its layers whatever it says (as Keras'); a drawn block plans by it."""
        from ._block_masks import supports_masking
        return supports_masking(self)

    @supports_masking.setter
    def supports_masking(self, value):
        self.__dict__["supports_masking"] = check_flag(value, "supports_masking")     # (what _block_masks reads)

    def compute_mask(self, inputs, mask=None):
        """Keras 3.15's ``compute_mask(inputs, previous_mask)`` of a Sequential or functional Model:
        the mask given, unchanged (Keras' Layer default, which its models keep: not the output's
        mask its layers would make). A subclass may define its own (glassnet._block_masks)."""
        return mask

    compute_mask.keras_default = True         # (_block_masks: not a class's own compute_mask)

    def get_build_config(self):
        """Keras' ``get_build_config()``: ``{"input_shape": (None, *sample)}`` for a built Sequential or
        subclass of one input (a list of shapes for several); a functional model's is
        ``{"input_shape": None}``, as Keras'; None before the model is built."""
        if not self.built:
            return None
        from ._summary import kind_of
        if kind_of(self) == "Functional":
            return {"input_shape": None}        # (Keras' Functional builds itself, given no shape, when made)
        shapes = getattr(self, "input_shapes", None)
        shape = getattr(self, "input_shape", None)
        if shapes is not None and len(shapes) > 1:
            return {"input_shape": [tuple(s) for s in shapes]}
        return None if shape is None else {"input_shape": tuple(shape)}

    def build_from_config(self, config):
        """Keras' ``build_from_config(config)``: ``build(config["input_shape"])``; nothing for an
        empty config, or for a model built already."""
        if not config or self.built:
            return
        if not isinstance(config, dict) or "input_shape" not in config:
            raise ValueError(f"build_from_config: expected get_build_config's dict {{'input_shape': (None, ...)}}, "
                             f"got {config!r:.80}")
        self.build(config["input_shape"])

    def save_own_variables(self, store):
        """Keras' ``save_own_variables(store)``: a model holds no variables of its own (its layers
        do: each layer's ``save_own_variables``), so nothing is written, as Keras'."""

    def load_own_variables(self, store):
        """Keras' ``load_own_variables(store)``: a model's own store is empty; a store holding
        arrays is refused (they belong to its layers)."""
        if len(store):
            raise ValueError(f"load_own_variables: a model holds no variables of its own (its layers do: load each "
                             f"with layer.load_own_variables), got {len(store)} entries")

    def get_state_tree(self, value_format="backend_tensor"):
        """Keras' ``get_state_tree(value_format)``: ``{"trainable_variables": ...,
        "non_trainable_variables": ..., "optimizer_variables": ...}``, each a dict nested by the
        variables' Keras paths (``tree["trainable_variables"]["sequential"]["dense"]["kernel"]``).
        ``"backend_tensor"``: the live arrays (optimizer variables as ``optimizer.variables`` lists them);
        ``"numpy_array"``: copies; ``"metrics_variables"``: ``model.metrics_variables`` by their Keras
        paths (``tree["metrics_variables"]["loss"]["total"]``), copies in either format (glassnet's
        metrics keep their counts as numbers: metrics.keras_variables). Different: ``"optimizer_variables"``
        only once compiled."""
        self._require_built("get_state_tree")
        trained = {id(a) for a in self.trainable_variables}
        items = weight_paths(self)
        tree = {"trainable_variables": _nested([(p, v) for p, v in items if id(v) in trained], value_format),
                "non_trainable_variables": _nested([(p, v) for p, v in items if id(v) not in trained],
                                                   value_format)}
        if self.optimizer is not None:
            from .optimizers.keras_variables import keras_variable_items
            tree["optimizer_variables"] = _nested(keras_variable_items(self.optimizer), value_format)
        from .metrics.keras_variables import model_metric_items
        tree["metrics_variables"] = _nested(model_metric_items(self), value_format)
        return tree

    def set_state_tree(self, state_tree):
        """Keras' ``set_state_tree(state_tree)``: the values of a tree as ``get_state_tree`` gives
        it (Keras' too, of the same model), written in place by path; every path, shape and key
        checked before anything is written. ``"metrics_variables"``: the metrics' counts, written
        into the metrics and the record of the last run (metrics.keras_assign), which the metrics'
        ``result()`` and ``metrics_variables`` read until the next run resets them, as Keras'. A
        path this model has none of is refused (Keras skips it), but for those of compiled
        metrics not yet run, which are written (Keras builds them at the first batch)."""
        self._require_built("set_state_tree")
        if not isinstance(state_tree, dict):
            raise TypeError(f"set_state_tree: expected a dict, got {type(state_tree).__name__}")
        known = ("trainable_variables", "non_trainable_variables", "optimizer_variables", "metrics_variables")
        unknown = [key for key in state_tree if key not in known]
        if unknown:
            raise ValueError(f"set_state_tree: {unknown[0]!r}: glassnet's state tree holds {', '.join(known)}")
        trained = {id(a) for a in self.trainable_variables}
        items = weight_paths(self)
        writes = []
        for group in ("trainable_variables", "non_trainable_variables"):
            if group not in state_tree:
                continue
            mine = {p: v for p, v in items if (id(v) in trained) == (group == "trainable_variables")}
            given = _flat(state_tree[group], f"set_state_tree: {group}")
            for path, value in given.items():
                if path not in mine:
                    raise ValueError(f"set_state_tree: {group}: no variable of this model has the path {path!r:.100} "
                                     f"(its paths: {sorted(mine)[:6]})")
                value = np.asarray(value)
                if value.shape != mine[path].shape:
                    raise ValueError(f"set_state_tree: {group}: {path} has shape {mine[path].shape}, the tree gives "
                                     f"{value.shape}")
                writes.append((mine[path], value))
        optimizer_values = None
        if "optimizer_variables" in state_tree:
            if self.optimizer is None:
                raise ValueError("set_state_tree: optimizer_variables: the model is not compiled")
            from .optimizers.keras_variables import keras_variable_items
            given = _flat(state_tree["optimizer_variables"], "set_state_tree: optimizer_variables")
            order = [path for path, _ in keras_variable_items(self.optimizer, as_built=len(given) > 2)]
            if set(given) != set(order):
                missing, extra = sorted(set(order) - set(given)), sorted(set(given) - set(order))
                raise ValueError(f"set_state_tree: optimizer_variables: expected the paths of optimizer.variables; "
                                 f"missing {missing[:4]}, unknown {extra[:4]}")
            optimizer_values = [np.asarray(given[path]) for path in order]
        write_metrics = None
        if "metrics_variables" in state_tree:
            from .metrics.keras_assign import checked_metric_writes
            write_metrics = checked_metric_writes(self, _flat(state_tree["metrics_variables"],
                                                              "set_state_tree: metrics_variables"))
        if optimizer_values is not None:
            self.optimizer.set_weights(optimizer_values)        # (checks all before it changes anything)
        if write_metrics is not None:
            write_metrics()
        for target, value in writes:
            target[...] = value
