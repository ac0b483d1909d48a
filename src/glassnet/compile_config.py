"""Keras' compile bookkeeping on a model: ``get_compile_config`` / ``compile_from_config`` and
``metrics_names``. A mixin of ``glassnet.model.Sequential`` (and so of the functional ``Model``).

>>> import glassnet as gn
>>> model = gn.Sequential([gn.layers.Dense(1, input_dim=2)], seed=0)
>>> model.compile(loss="mse", optimizer="adam", metrics=["mae"])
>>> model.metrics_names
['loss', 'mae']
>>> twin = gn.models.clone_model(model)
>>> twin.compile_from_config(model.get_compile_config())
"""
from ._run_settings import DEFAULTS, checked_run_settings, keep_run_settings, run_settings_config
from .describing import compile_arguments

# Keras' compile arguments about how it runs, not what it computes: nothing in glassnet to set
_KERAS_RUN_SETTINGS = ("run_eagerly", "steps_per_execution", "jit_compile", "auto_scale_loss")
# what get_compile_config writes (and Keras' compile config holds besides its run settings)
_SETTINGS = {"loss", "optimizer", "metrics", "weighted_metrics", "loss_weights", "loss_config"}


class CompileConfigMixin:

    def get_compile_config(self):
        """The compile settings as a config (JSON values, as ``get_config()["compile"]`` holds
        them): the loss, the optimizer (its ``get_config()``) and the metrics, then Keras' run
        settings ``run_eagerly``, ``steps_per_execution`` and ``jit_compile`` as compile kept them
        (glassnet._run_settings; a model file does not keep them); ``{}`` before ``compile``
        (Keras' value). ``compile_from_config`` compiles a model from it."""
        if self.loss is None and getattr(self, "_deferred_compile", None) is not None:
            # compiled, but a subclass not drawn yet resolves its losses and metrics per output only
            # when it is: {} would read as "not compiled", and compile_from_config({}) compiles nothing
            raise ValueError(f"get_compile_config: {type(self).__name__} was compiled before its call drew the "
                             f"graph, so its outputs' losses and metrics are not set yet; call the model on a "
                             f"batch first (model(x), fit or evaluate)")
        return {} if self.loss is None else {**self._compile_config(), **run_settings_config(self)}

    def compile_from_config(self, config):
        """``compile`` from ``get_compile_config()``'s settings, or from Keras' own
        (``keras_model.get_compile_config()``: its optimizer, loss and metrics as
        ``keras.*.serialize`` writes them, read by ``optimizers.get``, ``losses.get`` and
        ``metrics.get``). Keras' run settings (``run_eagerly``, ``steps_per_execution``,
        ``jit_compile``, ``auto_scale_loss``) are checked and kept, as ``compile`` keeps them
        (they change nothing); an empty config (an uncompiled model's) compiles nothing, as in
        Keras. The optimizer is a new one, without the state of the model the config came from."""
        if not isinstance(config, dict):
            raise TypeError(f"compile_from_config: config must be a dict (get_compile_config()'s), "
                            f"got {type(config).__name__}")
        if not config:
            return
        settings = {key: value for key, value in config.items() if key not in _KERAS_RUN_SETTINGS}
        run = checked_run_settings(**{**DEFAULTS, **{key: config[key] for key in _KERAS_RUN_SETTINGS if key in config}})
        if "loss" not in settings or "optimizer" not in settings:
            raise ValueError(f"compile_from_config: config must hold 'loss' and 'optimizer' "
                             f"(get_compile_config()'s), got the keys {sorted(config)}")
        unknown = sorted(set(settings) - _SETTINGS)
        if unknown:         # compile_arguments reads only its own: a misspelt one would be dropped silently
            raise ValueError(f"compile_from_config: unknown settings {unknown}; expected {sorted(_SETTINGS)} "
                             f"(and Keras' run settings {list(_KERAS_RUN_SETTINGS)})")
        loss = settings["loss"]
        # one loss per output: a list, or Keras' dict by output name (a single loss's dict names its class)
        per_output = isinstance(loss, list) or (isinstance(loss, dict) and not {"class_name", "registered_name"} & set(loss))
        # (a single loss's loss_weights, Keras' w, [w] or {output: w}, weigh the one output's: compile reads them)
        arguments = compile_arguments(settings)
        if isinstance(loss, dict) and per_output:       # compile_arguments passes them on for a list only
            arguments["loss_weights"] = settings.get("loss_weights")
        self.compile(**arguments)
        keep_run_settings(self, run)        # (after: a compile of your own need not take them)

    @property
    def metrics_names(self):
        """The names of what ``evaluate`` returns, in its order: ``["loss", *metric names]``
        (the keys of ``evaluate(..., return_dict=True)``); ``[]`` before ``compile``. Keras 3
        gives ``["loss", "compile_metrics"]`` here, Keras 2 gave this list."""
        if self.loss is None:
            return []
        return ["loss", *(name for name, _ in self._compiled_metrics)]
