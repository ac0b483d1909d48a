"""What ``save_model`` refuses: a model that ``load_model`` could not rebuild as itself.

A model file records the loss, the metrics and the optimizer by their names and each layer by its
``get_config()``, never code. So a custom loss, metric function or optimizer, or a layer whose
config does not rebuild it, would save without complaint and then fail to load, or, worse, load as
the built-in it subclasses. A loss, metric, initializer, regularizer, constraint, optimizer or
learning-rate schedule of your own registered with ``glassnet.saving.register_serializable`` is
recorded by its registered name and its ``get_config()``, and saves. ``save_model`` and
``ModelCheckpoint`` (before the first epoch) run ``check_saveable``.
"""
import json
import inspect
import math
import numbers

from . import activations, losses, metrics, optimizers, saving
from .layers.base import Layer, own_arguments
from .parameters import code_held
from .outputs import each_output_metrics


def check_saveable(model, include_optimizer=True, files=True, own_hooks=False):
    """Raise what ``save_model`` would raise about ``model``'s loss, metrics, optimizer and layers,
    without writing anything: ``ModelCheckpoint`` calls it before the first epoch is spent. Without
    the optimizer (``save_weights``), the file names no loss, metrics or optimizer: layers only.
    ``files``: a file is written (not ``to_json``, ``clone_model``): Keras' saving hooks refused,
    but for ``own_hooks``, a model file of ``save_model``, which keeps what they keep (glassnet._own_saving)."""
    if getattr(model, "_own_steps", False) and not getattr(model, "_calls", True) and not model._subclass():
        # a model with its own train_step and no call (Keras' GAN): nothing of its own to save
        raise ValueError(f"save_model: {type(model).__name__} has no call, so no graph of layers to save (its "
                         f"train_step steps sub-models); save each sub-model (gan.generator.save(...))")
    if getattr(model, "_own_steps", False) and not getattr(model, "_calls", True):
        # a subclass with its own train_step is drawn by its call once the step passes it data
        # (self.train_on_batch), within fit's first batch: nothing to check before; the first save does
        return
    if include_optimizer:
        _check_loss_saveable(model)
        _check_metrics_saveable(model)
        _check_optimizer_saveable(model)
    check_text_widths(model)
    check_config_storable(model, include_optimizer)
    if files:
        for layer in getattr(model, "layers", ()):
            # (a model file keeps a layer's own hooks' values, not a wrapped layer's: glassnet._own_saving)
            for held in ((*layer.wrapped_layers(),) if own_hooks else (layer, *layer.wrapped_layers())):
                _check_keras_hooks(held)


def check_text_widths(model, where="save_model"):
    """Refuse a model whose text-reading layer now makes ids of another width than the model was
    built for (its vocabulary adapted anew): its weights no longer fit it, whatever the file holds.
    ``save_weights`` runs it before deciding which file to write: it is no question of the config.
    ``where``: the function the error names."""
    if model._takes_text() and model.built:     # a vocabulary of another width: its weights would not load
        model._check_text_ids(model.layers[0].ids_shape(), where)
    for j, reader in (getattr(model, "_text_readers", {}) if getattr(model, "_input_shapes", None) else {}).items():
        model._check_text_ids(reader.ids_shape(), where, j)   # texts beside other Inputs: each reader's


def check_config_storable(model, include_optimizer=True):
    """Raise a ValueError or TypeError (``save_model: ...``) unless a model file can store the
    network's config and ``load_model`` rebuild every layer from it: no layer holds code (a Lambda,
    a TextVectorization's own standardize), every config is JSON, and every layer rebuilds from its
    own. ``save_weights`` writes a weights-only file when this refuses (``glassnet._weightsfile``)."""
    held = next((code_held(layer) for layer in model.layers if code_held(layer) is not None), None)
    if held is not None:
        raise ValueError(f"save_model: {held.describe()} holds a Python function, which a model file never "
                         f"stores (loading a file must not run code); model.save_weights writes the weights "
                         f"alone, which model.load_weights reads into the model built again in code")
    try:
        config = model._config(with_compile=include_optimizer)
    except ValueError as exc:        # a custom initializer or regularizer: a file names them, never holds code
        raise ValueError(f"save_model: {exc}") from None
    except NotImplementedError as exc:      # a port of a Keras layer whose get_config says it has none
        raise TypeError(f"save_model: {_without_config(model)} has no get_config() ({exc}), so a model file "
                        f"cannot store it; model.save_weights writes the weights alone") from None
    try:
        config = json.loads(json.dumps(config))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"save_model: the model config is not JSON-serialisable ({exc})") from None
    _check_layers_rebuildable(model, config)



def _without_config(model):
    """The description of the first layer whose ``get_config()`` raises NotImplementedError (as
    Keras' does for a layer that has not written its own), or "a layer" if none does alone."""
    for layer in model.layers:
        try:
            layer.get_config()
        except NotImplementedError:
            return layer.describe()
    return "a layer"


def _check_loss_saveable(model):
    """Refuse a loss that load_model could not compile back as itself: the file records the loss
    by its name (``loss.get_config()``) and a built-in loss's settings other than its defaults
    (``Huber(delta=2.0)``, ``from_logits=True``), and loading looks that name up in
    ``losses.LOSSES``. A custom Loss has a name that is not there (loading would fail), and a
    subclass of a built-in loss keeps its parent's name (loading would silently give the parent)."""
    if model.loss is None:              # not compiled: the file records no loss
        return
    for _, loss in model._output_losses():          # (a model of several outputs: one each)
        _check_one_loss_saveable(loss)


def _check_one_loss_saveable(loss):
    if isinstance(loss, losses.PendingCrossentropy):
        return          # "crossentropy"/"ce" not picked yet: the file records the name, and loading picks again
    if getattr(loss, "added_losses_only", False):
        return          # compile(loss=None), add_loss terms alone: the file records None (the terms: the graph's)
    if isinstance(loss, losses.FunctionLoss):
        _check_function_loss_saveable(loss)
        return
    if type(loss) is losses.LossFunctionWrapper:
        _check_wrapper_saveable(loss)
        return
    entry = losses.serialize(loss)          # (a registered loss of yours: a TypeError for a config not JSON)
    if saving.is_entry(entry):
        try:
            rebuilt = losses.get(entry)
        except Exception as exc:
            raise ValueError(f"save_model: loss {loss!r:.80} ({type(loss).__name__}) would not load back from "
                             f"its entry {entry!r:.200} ({type(exc).__name__}: {exc})") from None
        if losses.plain_type(rebuilt) is losses.plain_type(loss):
            return
    name = loss.get_config()
    try:
        known = losses.get(name)
    except ValueError:
        known = None
    if known is not None and losses.plain_type(loss) is losses.plain_type(known):
        return          # exactly the class the name stands for (aliases included); its settings are recorded
    outcome = ("load_model would not know that name" if known is None else
               f"load_model would compile {type(known).__name__} instead")
    raise ValueError(f"save_model: loss {loss!r:.80} ({type(loss).__name__}) is not a built-in loss, so the file "
                     f"could not be loaded as saved: the file records the loss by its name {name!r:.80}, and "
                     f"{outcome}; only those can be saved: compile with one of {sorted(losses.LOSSES)}, register "
                     f"your class with @glassnet.saving.register_serializable() (its get_config() returning "
                     f"its constructor's arguments as a dict), or save the weights only (model.get_weights())")


def _check_function_loss_saveable(loss):
    """A function of yours is saved by name, as Keras saves it: loading needs it registered or in
    ``custom_objects``. Refused: a function without a name to find it by (a lambda: Keras saves
    its bytecode, glassnet never code), and a FunctionLoss with settings the name does not carry."""
    name = getattr(loss.fn, "__name__", None)
    if not isinstance(name, str) or not name.isidentifier():
        what = f"a function named {name!r:.60}" if isinstance(name, str) else f"a {type(loss.fn).__name__} object, no function"
        raise ValueError(f"save_model: loss {loss!r:.80} is {what}, which a model file cannot name for loading "
                         f"(glassnet never saves code); define it with def and a name")
    if loss.reduction != "sum_over_batch_size" or loss.name != name:
        raise ValueError(f"save_model: loss {loss!r:.80} has reduction={loss.reduction!r} and name={loss.name!r}, "
                         f"which the file, naming the function alone, would not keep; compile with the function "
                         f"itself, or write a Loss subclass (call(y_true, y_pred)) registered with "
                         f"@glassnet.saving.register_serializable()")


def _check_wrapper_saveable(loss):
    """A ``LossFunctionWrapper`` is saved as Keras saves it: its function by name (loading needs it
    registered or in ``custom_objects``), its keyword arguments beside, which must be JSON values."""
    name = getattr(loss.fn, "__name__", None)
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"save_model: loss {loss!r:.80} wraps {name!r:.60}, which a model file cannot name for "
                         f"loading (glassnet never saves code); define it with def and a name")
    try:
        json.dumps(loss.get_config(), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"save_model: loss {loss!r:.80}: its keyword arguments must be numbers, strings, lists, "
                         f"dicts or NumPy arrays for a model file to keep them: {exc}") from None


def _check_metrics_saveable(model):
    """Refuse what load_model could not compile back: the file records each metric by its name
    (a built-in ``Metric`` with settings by its class and config, ``metrics.serialize``), as it
    records initializers (``initializers.name_of`` refuses a custom one the same way)."""
    given = getattr(model, "_given_metric_names", None) or {}       # "mse_1" was given as "mse"
    compiled = [(given.get(name, name), fn) for name, fn in model._compiled_metrics] if model._heads is None else [
        pair for head in model._heads for pair in each_output_metrics(model._compiled_metrics, head)]
    for name, fn in compiled:
        if isinstance(fn, metrics.weighted.Weighted):       # recorded by what compile was given
            name, fn = fn.base, fn.named
        entry = refused = None
        try:
            entry = metrics.serialize(name, fn)
            _, known = metrics.get(entry)
        except ValueError as exc:       # e.g. settings beyond what a file may give (an IoU's num_classes)
            known, refused = None, exc
        # a loss or a Metric named in the file is a new instance when loaded: the same class with
        # the same settings (a loss's recorded beside its class: metrics.serialize) is what the file
        # can promise
        if not (fn is known or (isinstance(fn, metrics.LossMetric) and isinstance(known, metrics.LossMetric)
                                and losses.plain_type(fn.loss) is losses.plain_type(known.loss)
                                and losses.changed_settings(fn.loss) == losses.changed_settings(known.loss))
                or (isinstance(fn, metrics.Metric) and type(fn) is type(known)
                    and fn.get_config() == known.get_config())):
            if saving.is_entry(entry):      # registered, yet its entry gives something else back
                raise ValueError(f"save_model: metric {name!r} ({fn!r:.80}) is registered as "
                                 f"{entry['registered_name']!r:.100}, but the file could not be loaded as saved: "
                                 f"{refused if refused is not None else f'its entry gives {known!r:.80} back'}")
            if refused is not None and isinstance(fn, metrics.Metric) and type(fn).__name__ in metrics.METRIC_CLASSES:
                raise ValueError(f"save_model: metric {name!r} ({fn!r:.80}) could not be loaded from the file: "
                                 f"{refused}; save the weights only (model.save_weights)")
            raise ValueError(f"save_model: metric {name!r} ({fn!r:.80}) is not registered, so the file could "
                             f"not be loaded; only named metrics can be saved: compile with one of "
                             f"{sorted(metrics.METRICS)}, {sorted(metrics.METRIC_CLASSES)} or a loss name, "
                             f"register your function or Metric class with "
                             f"@glassnet.saving.register_serializable(), or save the weights only "
                             f"(model.get_weights())")


def _check_optimizer_saveable(model):
    """Refuse an optimizer that load_model could not rebuild as itself, state included. The file
    records a built-in one by its ``name`` and constructor arguments (loading looks the name up in
    ``optimizers.OPTIMIZERS``: a subclass keeps its parent's name, and would silently load as the
    parent), one of yours registered with ``glassnet.saving`` by its registered name and config, and
    a schedule likewise (``optimizers.serialize``); its state arrays by their slot names, which
    load_model takes only among those the optimizer declares (``slot_names``)."""
    optimizer = model.optimizer
    if optimizer is None:
        return
    schedule = optimizer.schedule
    if (schedule is not None and type(schedule) not in optimizers.schedules.SCHEDULES.values()
            and not saving.is_registered(schedule)):
        raise ValueError(f"save_model: the learning rate follows {schedule!r:.80} ({type(schedule).__name__}), a "
                         f"schedule of your own that is not registered, so a file cannot store it (it never holds "
                         f"code); register its class with @glassnet.saving.register_serializable() where it is "
                         f"defined (its get_config() returning its constructor's arguments as a dict), use one of "
                         f"{sorted(optimizers.schedules.SCHEDULES)}, or save the weights only (model.save_weights)")
    entry = optimizers.serialize(optimizer)   # (a TypeError for a registered one's config that is not JSON)
    if not saving.is_entry(entry) and type(optimizer) is not optimizers.OPTIMIZERS.get(optimizer.name) \
            and type(optimizer) is not optimizers.MultiOptimizer:
        known = optimizers.OPTIMIZERS.get(optimizer.name)
        outcome = ("load_model would not know that name" if known is None else
                   f"load_model would rebuild {known.__name__} instead")
        raise ValueError(f"save_model: optimizer {type(optimizer).__name__} is not a built-in optimizer, so the "
                         f"file could not be loaded as saved: the file records it by its name "
                         f"{optimizer.name!r:.80}, and {outcome}; register your class with "
                         f"@glassnet.saving.register_serializable() where it is defined (its get_config() "
                         f"returning its constructor's arguments as a dict, its state in self.slots under the "
                         f"names of its slot_names), compile with one of {sorted(optimizers.OPTIMIZERS)}, or "
                         f"save the weights only (model.save_weights)")
    _check_rebuilt(optimizer, entry)
    _check_state_declared(model, optimizer)


def _check_rebuilt(optimizer, entry):
    """The optimizer the file's entry gives back must be of ``optimizer``'s class and describe
    itself as the entry does (a get_config of yours that its constructor reads otherwise, a
    schedule's, would load another optimizer)."""
    entry = json.loads(json.dumps(entry))         # as the file holds it: tuples as lists
    what = f"optimizer {type(optimizer).__name__}"
    try:
        rebuilt = optimizers.from_config(entry)
        again = json.loads(json.dumps(optimizers.serialize(rebuilt)))
    except Exception as exc:
        raise ValueError(f"save_model: {what} would not load back from its entry {entry!r:.200} "
                         f"({type(exc).__name__}: {exc})") from None
    if type(rebuilt) is not type(optimizer) or again != entry:
        raise ValueError(f"save_model: {what} would load back as {type(rebuilt).__name__} described by "
                         f"{again!r:.200}, not as saved, {entry!r:.200}: its (or its schedule's) constructor "
                         f"must take back what get_config() returns")
    # the settings themselves, not only the configs: a get_config of yours that leaves out clipnorm
    # or use_ema (taken through **options) describes the rebuilt optimizer as well as this one
    lost = [name for name in ("_no_decay", *optimizer.hyper_parameters)
            if not (name == "learning_rate" and optimizer.schedule is not None)
            and getattr(rebuilt, name, None) != getattr(optimizer, name, None)]
    if lost:
        shown = {"_no_decay": "exclude_from_weight_decay"}         # what its patterns were given to
        raise ValueError(f"save_model: {what} would load back with "
                         f"{', '.join(f'{shown.get(n, n)}={getattr(rebuilt, n, None)!r:.40}' for n in lost)}, not "
                         f"{', '.join(f'{shown.get(n, n)}={getattr(optimizer, n, None)!r:.40}' for n in lost)} as "
                         f"saved: its get_config() {entry.get('config', entry)!r:.200} must hold them (return "
                         f"{{**super().get_config(), ...}})")


def _check_state_declared(model, optimizer):
    """Each state array must be one load_model takes back: a slot the optimizer declares (its
    ``slot_names``, and ``"average"`` with ``use_ema``, ``"gradient_accumulator"`` with
    ``gradient_accumulation_steps``: ``kept_slots``), of the shape ``slot_shape`` gives, and
    those of ``always_slots`` all there once an update was made (``required_slots``); numbers
    besides them named in ``scalar_names``."""
    state = optimizer.get_state()
    known = optimizer.kept_slots()
    params = {key: param for key, param, _ in (model._triples if model.built else [])}
    shapes_of = dict(zip(params, model._weight_shapes())) if model.built else {}
    name = type(optimizer).__name__
    for key, named in state["slots"].items():
        undeclared = [slot for slot in named if slot not in known]
        if undeclared:
            raise ValueError(f"save_model: optimizer {name} keeps the state {undeclared} for {key!r:.100}, which "
                             f"its slot_names {tuple(optimizer.slot_names)} do not declare, so load_model would "
                             f"refuse the file; declare them in the class: slot_names = "
                             f"{tuple(dict.fromkeys((*optimizer.slot_names, *undeclared)))}")
        # (none before the first update: gradient accumulation's first calls only sum gradients)
        lacking = [slot for slot in optimizer.required_slots(state["iterations"]) if slot not in named]
        if lacking:
            raise ValueError(f"save_model: optimizer {name} declares always_slots {tuple(optimizer.always_slots)}, "
                             f"yet keeps no {lacking} for {key!r:.100}, so load_model would refuse the file")
        if key in params:
            for slot, a in named.items():
                shape = tuple(optimizer.slot_shape(slot, params[key], shapes_of.get(key)))
                if tuple(a.shape) != shape:
                    raise ValueError(f"save_model: optimizer {name} keeps its {slot!r} state of {key!r:.100} "
                                     f"in shape {tuple(a.shape)}, but its slot_shape gives {shape}, which "
                                     f"load_model reads; override slot_shape(name, param, shapes)")
    scalars = state.get("scalars", {})
    if not (set(scalars) <= set(optimizer.scalar_names)
            and all(isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
                    for v in scalars.values())):       # (load_model refuses NaN and infinities, as in its slots)
        raise ValueError(f"save_model: optimizer {name}'s scalars {scalars!r:.200} must be finite numbers named among its "
                         f"scalar_names {tuple(optimizer.scalar_names)}")


def _check_layers_rebuildable(model, config):
    """Refuse a file that load_model could not read back: each layer must rebuild from its own
    get_config() as the file stores it (JSON). A custom layer whose constructor takes arguments but
    that does not override get_config saves without complaint otherwise, and fails only on loading."""
    for layer, spec in zip(model.layers, config["layers"]):
        try:
            type(layer).from_config(spec["config"])
        except Exception as exc:
            base_keys = set(Layer.get_config(layer))        # name, input_shape...: every layer's
            unexpected = [key for key in base_keys if f"unexpected keyword argument '{key}'" in str(exc)]
            hint = (f"its constructor must take **kwargs and pass them to super().__init__(**kwargs): "
                    f"every layer's config holds {sorted(base_keys)}" if unexpected else
                    "a layer whose constructor takes arguments must return them from get_config")
            raise TypeError(f"save_model: layer {layer.name!r} ({type(layer).__name__}) cannot be rebuilt from "
                            f"its get_config() {spec['config']!r:.200}, so the file could not be loaded "
                            f"({type(exc).__name__}: {exc}); {hint} (see glassnet.layers.Layer)") from None
        # a wrapper's layers (TimeDistributed's) rebuild from the configs the wrapper's holds: each
        # must return its own arguments as well
        for held in (layer, *layer.wrapped_layers()):
            _check_own_config(held)
            _check_activations(held)
            _check_build_signature(held)


# Keras' Layer hooks its saving calls on a layer of yours (the saving guide's LayerWithCustomAssets,
# LayerWithCustomVariable); glassnet's files call none of them
_KERAS_HOOKS = ("save_assets", "load_assets", "save_own_variables", "load_own_variables")


def _check_keras_hooks(layer):
    """Refuse a layer whose class defines Keras' saving hooks (``save_assets``/``load_assets``,
    ``save_own_variables``/``load_own_variables``): glassnet's files never call them, so what they
    keep (the saving guide's vocabulary) would be lost, silently, from the model loaded back.
    glassnet's own ``save_own_variables``/``load_own_variables`` (every layer has them, as Keras'
    do: layers/keras_state.py) read and write the weights the file keeps anyway: only a class of
    yours defining one is refused."""
    hooks = [name for name in _KERAS_HOOKS if callable(getattr(type(layer), name, None))
             and not getattr(getattr(type(layer), name), "__module__", "").startswith("glassnet.")]
    if hooks:
        raise TypeError(f"save_model: layer {layer.name!r} ({type(layer).__name__}) defines {hooks}, Keras' "
                        f"saving hooks, which this file does not call (model.save's file and the .keras format do, for "
                        f"the model's own layers, and a .weights.h5 file calls save_own_variables, as Keras': "
                        f"glassnet's weights file and a layer wrapped in another hold each layer's get_config and "
                        f"its weights only), so the layer would load without what they keep; return such values "
                        f"from get_config ({{**super().get_config(), 'vocab': self.vocab}}) and make the "
                        f"variables weights (add_weight), which files keep")


def _check_build_signature(layer):
    """Refuse a layer whose ``build`` needs arguments besides the input shape (the saving guide's
    ``build(self, input_shape, layer_init)``): load_model builds every layer with
    ``build(input_shape)`` alone (its files do not use ``get_build_config``/``build_from_config``),
    so the file would fail to load."""
    try:
        parameters = list(inspect.signature(type(layer).build).parameters.values())[2:]   # past self, input_shape
    except (TypeError, ValueError):     # a build inspect cannot read: let loading judge it
        return
    needed = [p.name for p in parameters if p.default is p.empty
              and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if needed:
        raise TypeError(f"save_model: layer {layer.name!r} ({type(layer).__name__}): its build takes {needed} "
                        f"besides the input shape, but load_model builds each layer with build(input_shape) "
                        f"alone (glassnet's files do not use get_build_config/build_from_config), so the file "
                        f"could not be loaded; take them in the constructor and return them from get_config")


def _check_activations(layer):
    """Refuse a layer holding an Activation of your own under a built-in name: the file records
    the name alone, so it would load as the built-in one (``Activation("celu", partial(celu,
    alpha=2.0), ...)`` as plain celu), silently another network."""
    for attribute, value in vars(layer).items():
        if not isinstance(value, activations.Activation):
            continue
        # the same functions, not the same object: a pickled model's copy of a built-in holds the
        # built-in's functions (pickled by name), an Activation of your own others (a partial)
        named_builtin = activations.ALIASES.get(value.name, value.name) in activations.ACTIVATIONS
        if named_builtin and activations.builtin_of(value) is None:
            raise TypeError(f"save_model: layer {layer.name!r} ({type(layer).__name__}): its {attribute} is an "
                            f"Activation of your own named {value.name!r}, a built-in activation's name, so the "
                            f"file would load it as the built-in one (a file holds names, never code, so it cannot "
                            f"store an activation of your own under any name: keep the weights with "
                            f"model.get_weights())")


def _check_own_config(layer):
    """Refuse a layer whose constructor takes arguments its (base) get_config leaves out: it would
    rebuild, but with the defaults of those arguments, silently another layer."""
    from .layers.wrappers import Wrapper
    own = own_arguments(type(layer))
    if type(layer).get_config is Wrapper.get_config:        # a wrapper of yours: the base returns "layer"
        own = [name for name in own if name != "layer"]
    if own and type(layer).get_config in (Layer.get_config, Wrapper.get_config):
        raise TypeError(f"save_model: layer {layer.name!r} ({type(layer).__name__}) takes the "
                        f"arguments {own} but keeps {type(layer).get_config.__qualname__.split('.')[0]}'s "
                        f"get_config, so the file would load it "
                        f"with their defaults; return them from get_config: "
                        f"{{**super().get_config(), {', '.join(f'{a!r}: self.{a}' for a in own)}}}")
