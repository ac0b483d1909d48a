"""Keras 3.15's run settings of ``compile``: ``run_eagerly``, ``steps_per_execution``,
``jit_compile`` and ``auto_scale_loss``, taken and kept on the model, changing nothing.

They say how Keras runs a step, not what it computes: glassnet always runs NumPy eagerly, one
batch per step, compiles nothing and has no mixed precision whose loss it would scale. They are
checked (a misspelt value fails here, where Keras keeps anything), kept as the model's
``run_eagerly``, ``jit_compile`` and ``steps_per_execution`` and reported by
``get_compile_config`` as Keras' is (``auto_scale_loss`` is not in Keras' config either).
Nothing reads them in a step.
"""
import numbers
import warnings

from ._validation import check_flag

# Keras 3.15's Model.compile defaults
DEFAULTS = {"run_eagerly": False, "steps_per_execution": 1, "jit_compile": "auto", "auto_scale_loss": True}
# the settings get_compile_config reports, in Keras' order
IN_CONFIG = ("run_eagerly", "steps_per_execution", "jit_compile")


def checked_run_settings(run_eagerly, steps_per_execution, jit_compile, auto_scale_loss):
    """``{setting: value}`` of compile's run settings, checked: flags True or False (``jit_compile``
    also ``"auto"``, which reads False: Keras 3.15 on TensorFlow's CPU resolves it so), and
    ``steps_per_execution`` an int >= 1. ``run_eagerly`` with ``jit_compile=True`` turns
    ``jit_compile`` off with Keras' warning."""
    settings = {"run_eagerly": check_flag(run_eagerly, "compile: run_eagerly"),
                "auto_scale_loss": check_flag(auto_scale_loss, "compile: auto_scale_loss")}
    if isinstance(jit_compile, str):
        if jit_compile != "auto":
            raise ValueError(f"compile: jit_compile: expected True, False or 'auto', got {jit_compile!r:.40}")
        jit_compile = False
    settings["jit_compile"] = check_flag(jit_compile, "compile: jit_compile")
    if isinstance(steps_per_execution, bool) or not isinstance(steps_per_execution, numbers.Integral):
        raise TypeError(f"compile: steps_per_execution: expected an int >= 1, got {steps_per_execution!r:.40}")
    if steps_per_execution < 1:
        raise ValueError(f"compile: steps_per_execution: expected an int >= 1, got {steps_per_execution}")
    settings["steps_per_execution"] = int(steps_per_execution)
    if settings["run_eagerly"] and settings["jit_compile"]:
        warnings.warn("If `run_eagerly` is True, then `jit_compile` cannot also be True. Disabling `jit_compile`.",
                      stacklevel=3)
        settings["jit_compile"] = False
    return settings


def keep_run_settings(model, settings):
    """Keep the checked ``settings`` on ``model`` (what its properties and config report)."""
    model._run_eagerly = settings["run_eagerly"]
    model._jit_compile = settings["jit_compile"]
    model._steps_per_execution = settings["steps_per_execution"]
    model._auto_scale_loss = settings["auto_scale_loss"]


def run_settings_config(model):
    """``{"run_eagerly", "steps_per_execution", "jit_compile"}`` as Keras' compile config holds them."""
    return {"run_eagerly": model.run_eagerly, "steps_per_execution": model.steps_per_execution,
            "jit_compile": model.jit_compile}
