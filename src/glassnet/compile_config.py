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
from .describing import compile_arguments

# Keras' compile arguments about how it runs, not what it computes: nothing in glassnet to set
_KERAS_RUN_SETTINGS = ("run_eagerly", "steps_per_execution", "jit_compile", "auto_scale_loss")


class CompileConfigMixin:

    def get_compile_config(self):
        """The compile settings as a config (JSON values, as ``get_config()["compile"]`` holds
        them): the loss, the optimizer (its ``get_config()``) and the metrics; ``{}`` before
        ``compile`` (Keras' value). ``compile_from_config`` compiles a model from it."""
        return {} if self.loss is None else self._compile_config()

    def compile_from_config(self, config):
        """``compile`` from ``get_compile_config()``'s settings, or from Keras' own
        (``keras_model.get_compile_config()``: its optimizer, loss and metrics as
        ``keras.*.serialize`` writes them, read by ``optimizers.get``, ``losses.get`` and
        ``metrics.get``). Keras' run settings (``run_eagerly``, ``steps_per_execution``,
        ``jit_compile``, ``auto_scale_loss``) have nothing to set here and are skipped; an empty
        config (an uncompiled model's) compiles nothing, as in Keras. The optimizer is a new one,
        without the state of the model the config came from."""
        if not isinstance(config, dict):
            raise TypeError(f"compile_from_config: config must be a dict (get_compile_config()'s), "
                            f"got {type(config).__name__}")
        if not config:
            return
        settings = {key: value for key, value in config.items() if key not in _KERAS_RUN_SETTINGS}
        if "loss" not in settings or "optimizer" not in settings:
            raise ValueError(f"compile_from_config: config must hold 'loss' and 'optimizer' "
                             f"(get_compile_config()'s), got the keys {sorted(config)}")
        if not isinstance(settings["loss"], list) and settings.get("loss_weights") is not None:
            raise ValueError(f"compile_from_config: loss_weights={settings['loss_weights']!r:.60} needs a model "
                             f"of several outputs (a list of losses); a single loss takes none")
        self.compile(**compile_arguments(settings))

    @property
    def metrics_names(self):
        """The names of what ``evaluate`` returns, in its order: ``["loss", *metric names]``
        (the keys of ``evaluate(..., return_dict=True)``); ``[]`` before ``compile``. Keras 3
        gives ``["loss", "compile_metrics"]`` here, Keras 2 gave this list."""
        if self.loss is None:
            return []
        return ["loss", *(name for name, _ in self.metrics)]
