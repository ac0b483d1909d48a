"""Save and load models: one ``.npz`` file holding a JSON config and plain arrays; never pickle.

File format (``format_version`` 1)
---------------------------------
A zip archive as ``numpy.savez`` writes it (members stored uncompressed). Every member is a ``.npy``
array of a plain numeric dtype, so ``np.load(..., allow_pickle=False)`` reads all of it::

    config.npy          uint8 (n,): the UTF-8 bytes of one JSON object, below
    weights/000.npy     model.get_weights()[0], then 001, ...: each layer's params, then its state
                        (BatchNormalization's running statistics), in layer order
    optimizer/000.npy   the optimizer's slot arrays (Adam's m and v, ...), in the order of
                        optimizer_state["slots"]

The JSON object has exactly these keys::

    format            "glassnet-model"
    format_version    1; a reader refuses a larger number
    glassnet_version  the version that wrote the file, e.g. "0.1.0"
    model             model.get_config(): name, seed, dtype, input_shape, "subclass" for a subclass of
                      gn.Model of the user's ({"class_name", "registered_name", "module", and "config":
                      its constructor's arguments when known; glassnet._subclass_files), layers
                      [{"class_name", "config"}, and "trainable": false for a frozen layer, and
                      "seed_origin" for a layer whose random streams a nested seeded model gave it:
                      {"weights"/"draws": {"entropy", "spawn_key"}}, see glassnet._seeding], compile
                      {"loss", "optimizer", "metrics", and "weighted_metrics" when compiled with
                      any} or null (a metric: its name, or {"class_name", "config"} for a
                      Precision, Recall or AUC with settings)
    weights           ["dense/kernel", "dense/bias", ...]: the name of each weights/NNN member
    trainable         [true, ...]: each layer's ``trainable`` flag
    optimizer_state   null, or {"iterations": int, "keys": [every parameter key the optimizer has
                      seen], "slots": [[key, slot name], ...]: one per optimizer/NNN member,
                      then, when a layer frozen after training has its state set aside,
                      "parked": [["<layer name>/<weight name>", slot name], ...]: one per
                      optimizer/NNN member after the slots' (1-D; glassnet._parked_state),
                      and for Nadam "scalars": {"momentum_product": float}; with
                      gradient_accumulation_steps, "accumulated_steps": int, the calls since
                      the last update, when not 0 (their sum is the "gradient_accumulator" slot)}
    rng_states        {"shuffle": model.shuffle_rng state, "layers": [each layer.rng state or null]}:
                      ``bit_generator.state`` dicts (arrays written as lists), so training resumes exactly
    epoch             completed epochs when ModelCheckpoint wrote the file (or ``save_model(epoch=)``),
                      else null; the loaded model has it as ``model.initial_epoch`` (0 when null)

A loss, metric, initializer, regularizer, constraint, optimizer or learning-rate schedule of your
own is recorded where the name of a built-in one would be (an optimizer: where its config would be),
as ``{"registered_name": "package>name", "config": its get_config()}`` (a function:
``{"registered_name": ...}`` alone), once registered (``glassnet.saving``); an optimizer of yours
has its state in ``optimizer_state`` and ``optimizer/NNN`` as a built-in one, under the slot names
it declares.

Loading trusts nothing in the file: layer classes are looked up in ``glassnet.layers.LAYERS`` only
(custom ``Layer`` subclasses register themselves when their class statement runs), other objects of
your own in ``custom_objects`` and the registry only (built by their constructors), every array's
header is checked against the config before any data is read, and parameter allocation is capped by
what the file actually holds, so a small file cannot make ``load_model`` allocate gigabytes. A file
holds at most ``MAX_LAYERS`` layers and ``MAX_LAYERS`` layer calls, and the weight-name patterns of its optimizer
(``exclude_from_weight_decay``) must search its weights' names in a bounded time.

Numbers in a layer's config that size arrays without being weights the file must hold are bounded
when the model is built for its input shape (which loading does for a model of fixed-size inputs),
before any ``predict`` (``glassnet._bounds``): every layer's output sample holds at most
``MAX_SAMPLE_VALUES = 2 ** 32`` numbers (16 GiB of float32 per sample; UpSampling ``size``,
ZeroPadding ``padding``, RepeatVector ``n``, Resizing/CenterCrop/RandomCrop ``height``/``width``,
CategoryEncoding ``num_tokens``, Conv*Transpose ``strides``, AdaptivePooling ``output_size``,
TextVectorization ``output_sequence_length``), and so does each working array whose size the
output does not show: a convolution's zero-padded input (its ``dilation_rate`` with "same" or
"causal" padding), the interpolation matrices and padded images of a resize, MelSpectrogram's filter
bank (``num_mel_bins``) and frames, Equalization's histograms (``bins``), CLAHE's tile tables and
tiled image (``tile_grid_size``), MultiHeadAttention's scores and projections (``num_heads``,
``key_dim``), and lookup or TextVectorization vectors padded to ``max_tokens``, Hashing and
HashedCrossing vectors (``num_bins``) and TextVectorization ids (``output_sequence_length``)
(these last refused as the layer is made). A refusal is a ValueError naming the layer, the shape or array, its
settings and the cap. A "valid" window (pool, or kernel with its dilation) larger than its input is
refused as Keras refuses it; a "same" pool larger than its input, which Keras takes, loops over the
window offsets that reach the input only (fewer than twice its size per axis), and adaptive pooling
over its distinct windows only.
"""
import contextlib
import errno
import json
import math
import os
import stat

import numpy as np

from . import _bounds, _subclass_files as subclass_files, backend, saving
from ._validation import check_flag, check_positive_int
from ._atomic import write_atomically
from ._saveable import check_saveable, check_text_widths
from ._weightsfile import WeightsMismatch, order_by_name, read_weights, write_weights_only
from .describing import compile_arguments, take_seed_origin
from ._own_compile import compile_own_way, own_compile_config
from ._modelfile import (FORMAT, FORMAT_VERSION, KERAS_FILES, WEIGHTS_FORMAT, check_members,
                         generator_from_state, json_bytes, read_array, read_config, read_header, read_json)
from .errors import ModelFileError, UnknownObjectError
from .layers.base import LAYERS, _assign as _assign_weights, lookup
from .layers._norm_layout import older_shapes
from .layers.catalog import load_all
from .model import Sequential

MAX_BYTES = 2 ** 31                 # default cap on a file's total (uncompressed) size: 2 GiB
# the layers a file or JSON description may hold: a config of tiny layer entries (a ReLU is 35
# bytes) would otherwise make millions of layers, and joining a model takes time growing faster
# than their number (each layer's name is checked against those before it): seconds at this cap
MAX_LAYERS = 5000
# the numbers one sample may hold in a layer's output or working arrays (see the module docstring)
MAX_SAMPLE_VALUES = _bounds.MAX_SAMPLE_VALUES

# -- saving ---------------------------------------------------------------------------------------
# the parameters model_from_json lets a description allocate (400 MB in float32): a JSON string
# holds no weights to measure a model by, as a file's do (load_model's budget)
JSON_MAX_PARAMS = 100_000_000


def model_from_json(json_string, max_params=JSON_MAX_PARAMS, custom_objects=None):
    """The network ``Sequential.to_json`` described, uncompiled and with new weights (Keras'
    ``model_from_json``); or the one Keras 3's ``keras_model.to_json()`` describes, a Sequential or
    functional model of layers glassnet has (``glassnet._keras_models``; Keras' ``Lambda`` and
    classes glassnet lacks are refused by name). The string is read as ``load_model`` reads a file's config, trusting
    nothing in it: only glassnet's registered layer classes can be named, so it cannot run code,
    and building it may allocate at most ``max_params`` parameter values (None: no limit).
    ``custom_objects``: as ``load_model``'s. Raises ``glassnet.ModelFileError`` (a ``ValueError``)
    for anything else.

    >>> import glassnet as gn
    >>> model = gn.Sequential([gn.layers.Dense(3, input_shape=(2,))], seed=0)
    >>> model_from_json(model.to_json()).output_shape
    (None, 3)
    """
    if not isinstance(json_string, (str, bytes, bytearray)):
        raise TypeError(f"model_from_json: expected a JSON string, got {type(json_string).__name__}")
    max_params = None if max_params is None else check_positive_int(max_params, "max_params")
    try:
        spec = json.loads(json_string)
    except (ValueError, RecursionError) as exc:
        raise ModelFileError(f"model_from_json: not JSON ({type(exc).__name__}: {str(exc)[:100]})") from None
    from ._keras_models import is_keras, model_from_keras
    if is_keras(spec):          # what Keras 3's to_json writes (glassnet._keras_models)
        cap = math.inf if max_params is None else max_params
        with _keras_errors("model_from_json"):
            return model_from_keras(spec, "model_from_json", cap, f"max_params={max_params} allows", custom_objects)
    if not isinstance(spec, dict) or spec.get("class_name") not in ("Sequential", "Model") or not isinstance(spec.get("config"), dict):
        raise ModelFileError(f"model_from_json: expected {{\"class_name\": \"Sequential\" or \"Model\", \"config\": "
                             f"{{...}}}}, as to_json writes, got {str(json_string)[:80]!r}")
    config = spec["config"]
    with saving.scope_of(custom_objects, "model_from_json"):
        return _model_from_config(spec, config, max_params)


@contextlib.contextmanager
def _keras_errors(where):
    """Reading a Keras model: a layer's own checks of its config (TypeError, ValueError, ...) all
    mean "not a model glassnet can read", a ModelFileError naming ``where``."""
    try:
        yield
    except ModelFileError:
        raise
    except Exception as exc:
        raise ModelFileError(f"{where}: not a Keras model glassnet can read ({type(exc).__name__}: "
                             f"{str(exc)[:300]})") from exc


def _model_from_config(spec, config, max_params):
    try:
        found, subclass = subclass_files.resolve(config, "model_from_json")
        cap = math.inf if max_params is None else max_params
        model, listed = _build(config, cap, f"max_params={max_params} allows", state_budget=cap,
                               target=subclass_files.graph_class(found, subclass) or Sequential)
        with subclass_files.capped_like(model, cap):     # the constructor's arguments are data too
            made = subclass_files.construct(found, subclass, "model_from_json")
            if made is not None:        # the user's class, drawn, its weights checked against the graph's
                made = subclass_files.draw_like(made, model, "model_from_json")
        if made is not None:
            model, listed = subclass_files.swap(made, model, listed, subclass)
        # beside each layer's config (glassnet's to_json), or inside it (Keras' configs): the layer has it
        flags = [spec.get("trainable", layer.trainable) for spec, layer in zip(config["layers"], listed)]
        if len(config["layers"]) == len(model.layers):
            _restore_trainable(model, _in_model_order(model, listed, flags))
    except ModelFileError as exc:
        raise exc.prefixed("model_from_json: ") from exc.__cause__
    except Exception as exc:        # a layer's own checks of its config: all mean "not a valid description"
        raise ModelFileError(f"model_from_json: not a glassnet model description ({type(exc).__name__}: "
                             f"{str(exc)[:300]})") from exc
    return model


def save_model(model, path, epoch=None, include_optimizer=True, save_format=None):
    """Write ``model`` (config, weights, optimizer state, RNG states) to ``path``, atomically.

    ``include_optimizer=False`` (Keras' argument) leaves out the compile settings and the optimizer's
    state: the file holds the network and its weights, ``load_model`` gives it back uncompiled, and
    ``Sequential.load_weights`` reads its weights into a model of the same shapes. This is what
    ``Sequential.save_weights`` writes for a model whose config a file can store (``save_weights``,
    below, for the others); a custom loss, metric or optimizer does not stop it.

    The file is written to a temporary file in the same directory, flushed to disk, then renamed
    over ``path``: a crash leaves either the old file or the new one, never half of one.
    ``path`` (str or os.PathLike) is used exactly as given: no ``.npz`` is appended, and any name
    (``.keras`` too, as Keras scripts name their checkpoints) gets glassnet's own format.
    ``save_format="keras"`` writes Keras 3.15's ``.keras`` format instead, for
    ``keras.saving.load_model`` (the name must end in ``.keras``; needs h5py; no optimizer state,
    ``epoch`` not kept; what Keras cannot express is refused by name; see glassnet._keras_write).
    ``save_format="h5"`` writes Keras' legacy HDF5 model file (``keras.models.load_model``'s ``.h5``;
    the name must end in ``.h5`` or ``.hdf5``; the same refusals, no optimizer state; see
    glassnet._keras_h5_write); without it a ``.h5`` name gets glassnet's own file too.
    ``epoch`` (completed epochs, optional) is stored for ``fit(initial_epoch=...)`` after loading.

    Example
    -------
    >>> model.save("moons.npz")                   # doctest: +SKIP
    >>> same = glassnet.load_model("moons.npz")   # doctest: +SKIP
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"model: expected a glassnet Sequential, got {type(model).__name__}")
    path = _fspath(path)
    _check_epoch(epoch)
    # a trainable flag changed since the last compile or fit: take it up now, as the next fit
    # would; the optimizer state saved below then lines up with the parameters the file records
    # as trainable (otherwise load_model would refuse the file it was given)
    model._apply_trainable_flags()
    include_optimizer = check_flag(include_optimizer, "include_optimizer")
    kind = _save_format(save_format, path)
    from ._attr_variables import warn_untracked
    warn_untracked(model, "save_model")         # gn.Variables no file keeps: set after build, or integers
    if kind == "keras":     # Keras 3.15's format, for Keras to load (glassnet._keras_write)
        from ._keras_write import save_keras
        save_keras(model, path, include_optimizer)
        return
    if kind == "h5":        # Keras' legacy HDF5 model file (glassnet._keras_h5_write)
        from ._keras_h5_write import save_h5
        save_h5(model, path, include_optimizer)
        return
    _write_model_file(model, path, _metadata(model, epoch, include_optimizer, own_hooks=True), None, include_optimizer,
                      own_saving=True)


def _save_format(save_format, path):
    """"glassnet" (glassnet's own file, whatever its name: the default, so a ``ModelCheckpoint("best.keras")``
    of a ported Keras script keeps the optimizer state and the custom layers it resumes with) or "keras"
    (Keras 3.15's ``.keras`` format, asked for by name: the name must end in ``.keras``, which
    ``keras.saving.load_model`` insists on) or "h5" (Keras' legacy HDF5 model file, the name ending in
    ``.h5`` or ``.hdf5``, as Keras' loader picks that format by)."""
    if save_format is None:
        return "glassnet"
    if save_format not in ("glassnet", "keras", "h5"):
        raise ValueError(f"save_format: expected None, 'glassnet', 'keras' or 'h5', got {save_format!r:.60}")
    if save_format == "keras" and not path.endswith(".keras"):
        raise ValueError(f"save_format='keras': Keras' loader reads only names ending in .keras, got {path!r:.200}")
    if save_format == "h5" and not path.endswith((".h5", ".hdf5")):
        raise ValueError(f"save_format='h5': Keras' loader reads the legacy format only from names ending in .h5 or "
                         f".hdf5, got {path!r:.200}")
    return save_format


def _config_array(meta):
    """A model file's JSON config as the bytes of ``config.npy``; refused when not JSON or larger
    than a reader takes."""
    return json_bytes(meta, "save_model", "the model's config takes {size:,} bytes, more than a model file holds "
                      "({limit:,}); a TextVectorization's vocabulary is the likely reason: give it max_tokens")


def _write_model_file(model, path, meta, config, include_optimizer, own_saving=False):
    """Write the model file of ``meta`` (``_metadata``) and ``config`` (``_config_array(meta)``, or
    None to make it here): the weights, and the optimizer's state when ``include_optimizer``; with
    ``own_saving``, what the saving hooks of layers of yours keep (glassnet._own_saving)."""
    arrays = {"config": config}        # config first, for people who unzip
    for i, (name, w) in enumerate(zip(meta["weights"], model.get_weights() if model.built else [])):
        if not np.isfinite(w).all():      # load_model refuses such weights: never write a file it cannot load
            raise ValueError(f"save_model: weights[{i}] ({name}) holds NaN or infinite values, which "
                             f"load_model refuses; the training that made them diverged (see NonFiniteError)")
        arrays[f"weights/{i:03d}"] = w
    state = model.optimizer.get_state() if model.optimizer is not None and include_optimizer else None
    if state is not None:
        # the state of the model's own trained weights only: its optimizer may have stepped other
        # arrays too (apply_gradients on the weights of another model sharing its layers, or of
        # none), whose keys load_model cannot place, and refused the whole file for
        own = {key for key, _, _ in (model._triples if model.built else [])}
        # (under "params", the key a loaded model steps its buffer under: a model sharing its
        # optimizer with another steps under a key of its own, "params#1", glassnet._optimizer_claims)
        state["slots"] = {"params": named for key, named in state["slots"].items() if key in own}
        slots = [(key, name, a) for key, named in state["slots"].items() for name, a in named.items()]
        meta["optimizer_state"] = {"iterations": int(state["iterations"]), "keys": list(state["slots"]),
                                   "slots": [[key, name] for key, name, _ in slots]}
        if "scalars" in state:          # Nadam's momentum product: JSON floats round-trip exactly
            meta["optimizer_state"]["scalars"] = {name: float(v) for name, v in state["scalars"].items()}
        if state.get("accumulated_steps"):      # calls since the last update (gradient accumulation)
            meta["optimizer_state"]["accumulated_steps"] = int(state["accumulated_steps"])
        # the state of the model's weights frozen after training, by weight name (Keras' file holds
        # every variable's slots): members after the slots' (glassnet._parked_state)
        frozen = _frozen_weights(model)
        from ._parked_state import of_model     # (this model's layers', by identity: not another's of one name)
        parked = [(weight, name, a) for weight, named in sorted(of_model(model).items())
                  if weight in frozen for name, a in named.items()]
        if parked:
            meta["optimizer_state"]["parked"] = [[weight, name] for weight, name, _ in parked]
        for i, (key, name, a) in enumerate(slots + parked):
            a = backend.to_numpy(a)
            if not np.isfinite(a).all():
                raise ValueError(f"save_model: the optimizer's {name!r} state of {key!r} holds NaN or "
                                 f"infinite values, which load_model refuses")
            arrays[f"optimizer/{i:03d}"] = a
    if own_saving and model.built:
        from ._own_saving import collect
        entries, own = collect(model)
        if entries:
            meta["model"]["own_saving"] = entries
            arrays.update((f"own/{i:03d}", a) for i, a in enumerate(own))
    if config is None or state is not None:     # (made again with the state's list)
        arrays["config"] = _config_array(meta)
    for name, a in arrays.items():       # what load_model will accept: never an object array
        if a.dtype.hasobject or a.dtype.kind not in "biuf":
            raise TypeError(f"save_model: {name} has dtype {a.dtype}, expected a numeric dtype")
    # a file object: numpy appends no ".npz" to the name
    write_atomically(path, lambda f: np.savez(f, **arrays))


def _check_epoch(epoch):
    if epoch is not None and (isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0):
        raise ValueError(f"epoch: expected a non-negative integer or None, got {epoch!r}")


def _fspath(path):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a str or os.PathLike, got {type(path).__name__}")
    return os.fspath(path)


def _metadata(model, epoch, include_optimizer=True, own_hooks=False):
    from . import __version__
    # (own_hooks: a model file of save_model keeps what layers' saving hooks keep: glassnet._own_saving)
    check_saveable(model, include_optimizer, own_hooks=own_hooks)
    if len(model.layers) > MAX_LAYERS:      # load_model would refuse the file: never write it
        raise ValueError(f"save_model: the model has {len(model.layers)} layers, more than a model file "
                         f"holds ({MAX_LAYERS})")
    config = model._config(with_compile=include_optimizer)
    own = own_compile_config(model) if include_optimizer else None
    if own is not None:         # the class' own get_compile_config(), for its compile_from_config (Keras')
        config["own_compile_config"] = own
    if _calls_of(config) > MAX_LAYERS:
        raise ValueError(f"save_model: the model makes {_calls_of(config)} layer calls, more than a model file "
                         f"holds ({MAX_LAYERS})")
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "glassnet_version": __version__,
            "model": config,
            "weights": _weight_names(model) if model.built else [],
            "trainable": [bool(layer.trainable) for layer in model.layers],
            "optimizer_state": None,
            "rng_states": {"shuffle": _rng_state(model.shuffle_rng),
                           "layers": [_rng_state(getattr(layer, "rng", None)) for layer in model.layers]},
            "epoch": None if epoch is None else int(epoch)}


def _weight_names(model):
    # "layer/key" for each array of get_weights(), in its order (Sequential._weight_items)
    return [name for name, _ in model._weight_items()]


def _rng_state(rng):
    if not isinstance(rng, np.random.Generator):
        return None

    def plain(value):          # arrays (MT19937, Philox) and numpy ints -> JSON lists and ints
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value.tolist() if isinstance(value, (np.ndarray, np.generic)) else value
    return plain(rng.bit_generator.state)


# -- loading --------------------------------------------------------------------------------------
def load_model(path, compile=True, max_bytes=MAX_BYTES, custom_objects=None, safe_mode=True):
    """Read a model written by ``save_model`` / ``Sequential.save`` / ``ModelCheckpoint``, or a
    Keras 3 ``.keras`` file (``keras_model.save("model.keras")``: its layers, weights and compile
    settings, not its optimizer state; needs h5py, ``pip install "glassnet[keras]"``; read as
    warily, see ``glassnet._keras_file``).

    The model predicts exactly as the saved one did; compiled (unless ``compile=False``) with the same
    loss, optimizer (and its state) and metrics, with the same random streams, so that
    ``fit(..., initial_epoch=model.initial_epoch)`` continues the saved run bit for bit (from a save
    at an epoch's end; callbacks' own state, such as EarlyStopping's patience, starts afresh, as in
    Keras: see ``ModelCheckpoint``).
    ``model.initial_epoch`` is the number of completed epochs the file records (0 when none).

    ``custom_objects`` (Keras'): ``{registered name: class or function}`` for the losses, metrics,
    initializers, regularizers, constraints, optimizers and schedules of your own that the file names (by the names
    ``save`` wrote, ``"Custom>MyLoss"``) and that are not registered with
    ``glassnet.saving.register_serializable``; looked up first, then the registry. A name found in
    neither is refused, naming it. Only the constructors of those classes run, on the file's JSON.
    A ``Layer`` subclass given under a layer's class name (``{"CustomLayer": CustomLayer}``, Keras'
    guide) is built for it, ahead of the class defined under that name: a renamed class loads.

    ``safe_mode`` (Keras') is taken, True or False, and changes nothing: Keras' ``safe_mode=False``
    lets its files run the code of a ``Lambda``; glassnet's files never hold code.

    Raises ``glassnet.ModelFileError`` (a ``ValueError``) for anything that is not a valid model
    file of this version, with the underlying error as ``__cause__``; files larger than
    ``max_bytes`` are refused, and so are compressed members (glassnet never writes them). ``OSError`` (e.g. a missing file) passes through.

    Example
    -------
    >>> model = glassnet.load_model("moons.npz")      # doctest: +SKIP
    >>> model.fit(X, y, epochs=20, initial_epoch=model.initial_epoch)   # doctest: +SKIP
    """
    if isinstance(compile, dict):       # Keras' second argument: load_model(path, custom_objects)
        raise TypeError("load_model: compile: expected True or False, got a dict; pass custom_objects= by keyword")
    if not isinstance(safe_mode, bool):
        raise TypeError(f"load_model: safe_mode: expected True or False, got {safe_mode!r:.60}")
    with saving.scope_of(custom_objects, "load_model"):
        return _load_file(path, compile, max_bytes)[0]


def _load_file(path, compile=True, max_bytes=MAX_BYTES, caller="load_model"):
    """``load_model``'s work: the model and the file's JSON config (for what the model does not
    keep, such as whether the file recorded its epoch at all). A weights-only file is refused."""
    compile = check_flag(compile, "compile")
    keras, hdf5 = _keras_readers(max_bytes, compile)
    return _open_file(path, max_bytes, caller, lambda npz, infos, meta: _load(npz, infos, meta, compile), keras,
                      hdf5)


def _keras_readers(max_bytes, compile):
    """The readers ``_open_file`` takes for Keras' own model files: ``keras(archive)`` of a Keras 3
    ``.keras`` zip and ``hdf5(data)`` of a legacy ``.h5`` file's bytes, each ``(model, metadata)``."""
    def keras(archive):         # a Keras 3 .keras file (glassnet._keras_file)
        from ._keras_file import load_keras
        return load_keras(archive, max_bytes, compile)

    def hdf5(data):             # a legacy Keras .h5 model file (glassnet._keras_legacy)
        from ._keras_legacy import load_legacy
        return load_legacy(data, compile)
    return keras, hdf5


def _read_for_info(path, max_bytes=MAX_BYTES):
    """``glassnet info``'s reading: ``(model, meta, None)`` for a model file (as ``_load_file``),
    ``(None, meta, headers)`` for a weights-only file (its JSON and each weight's checked ``.npy``
    header, ``{member: (shape, dtype)}``; no weight is read)."""
    def read(npz, infos, meta):
        if meta.get("format") == WEIGHTS_FORMAT:
            return None, meta, read_weights(npz, infos, meta)[1]
        return (*_load(npz, infos, meta, compile=True), None)
    # Keras' own files too, as load_model (and so ``glassnet predict``) reads them; they record no
    # epoch count ("epoch" None: info says it is unknown)
    read_keras, read_hdf5 = _keras_readers(max_bytes, True)
    return _open_file(path, max_bytes, "load_model", read, lambda archive: (*read_keras(archive), None),
                      lambda data: (*read_hdf5(data), None))


def _open_file(path, max_bytes, caller, read, keras=None, hdf5=None):
    """``read(npz, infos, meta)`` on the glassnet file at ``path``, after the checks every such file
    passes (a regular file, within ``max_bytes``, a zip of stored members whose sizes fit the file,
    a JSON object of bounded size: ``meta``), its errors as ModelFileErrors naming ``caller``."""
    path = _fspath(path)              # an int would open a file descriptor: refuse it here
    max_bytes = check_positive_int(max_bytes, "max_bytes")
    # a FIFO or a device would block open() or read() forever, waiting for a writer: opened without
    # blocking, anything but a regular file is refused by what was opened (a check of the path
    # before opening it could be raced). A missing file or a folder raises the OSError open() would.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "Is a directory", path)
        raise ModelFileError(f"{caller}({path!r}): not a regular file")
    with os.fdopen(fd, "rb") as f:
        try:
            return _open_archive(f, max_bytes, read, keras, hdf5)
        except ImportError:         # h5py missing, for a .keras file: its message says what to install
            raise
        except ModelFileError as exc:
            raise exc.prefixed(f"{caller}({path!r}): ") from exc.__cause__
        except Exception as exc:   # zipfile, zlib, numpy, json, a layer's own checks: all mean "bad file"
            if isinstance(exc, WeightsMismatch):    # a sound file, of another network: load_weights' own error
                raise ValueError(f"{caller}({path!r}): {exc}") from None
            detail = str(exc)[:300]
            raise ModelFileError(f"{caller}({path!r}): not a readable glassnet model file "
                                 f"({type(exc).__name__}: {detail})") from exc


def _open_archive(f, max_bytes, read, keras=None, hdf5=None):
    file_size = os.fstat(f.fileno()).st_size
    if file_size > max_bytes:
        raise ModelFileError(f"the file is larger than max_bytes={max_bytes}")
    magic = f.read(8)
    if magic == b"\x89HDF\r\n\x1a\n" and hdf5 is not None:     # Keras' .weights.h5 or legacy .h5 (glassnet._keras_h5)
        data = magic + f.read(file_size)        # (read whole, within max_bytes: h5py walks it in memory)
        if len(data) != file_size:
            raise ModelFileError(f"the file changed size while read ({file_size} bytes, then {len(data)})")
        try:
            return hdf5(data)
        except (ModelFileError, ImportError, WeightsMismatch):
            raise
        except Exception as exc:    # h5py's errors on a damaged file, a layer's own checks
            raise ModelFileError(f"not a readable Keras HDF5 file ({type(exc).__name__}: {str(exc)[:300]})") from exc
    if magic[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):   # checked first: np.load would try pickle next
        # Keras' legacy .h5 and its .weights.h5 files are HDF5: say so to whoever ports a Keras program
        hint = f"; an HDF5 file (Keras' .h5 or .weights.h5?): {KERAS_FILES}" if magic == b"\x89HDF\r\n\x1a\n" else ""
        raise ModelFileError(f"not a .npz (zip) file{hint}")
    f.seek(0)
    if keras is not None:       # load_model reads Keras 3's .keras zip too (``keras(archive)``)
        import zipfile
        from ._keras_file import is_keras_archive
        with zipfile.ZipFile(f) as archive:
            if is_keras_archive(archive):
                try:
                    return keras(archive)
                except (ModelFileError, ImportError, WeightsMismatch):
                    raise
                except Exception as exc:    # zipfile (CRC, truncation), h5py, a layer's own checks: a bad .keras file
                    raise ModelFileError(f"not a readable Keras .keras file ({type(exc).__name__}: "
                                         f"{str(exc)[:300]})") from exc
        f.seek(0)
    with np.load(f, allow_pickle=False) as npz:
        infos = check_members(npz.zip.infolist(), max_bytes, file_size)
        return read(npz, infos, read_json(npz, infos))


def _load(npz, infos, meta, compile):
    """The model of a model file (``meta``: its JSON object, unchecked yet) and ``meta``."""
    meta = read_config(npz, infos, meta)
    n_weights, slots = len(meta["weights"]), (meta["optimizer_state"] or {}).get("slots", [])
    parked = (meta["optimizer_state"] or {}).get("parked", [])      # (absent from older files)
    for what, pairs in (("slots", slots), ("parked", parked)):
        if not isinstance(pairs, list):         # (counted next: an int had "no len()")
            raise ModelFileError(f"optimizer_state: {what} must be a list of [{'key' if what == 'slots' else 'weight'}, "
                                 f"slot name], got {pairs!r:.100}")
    slots = slots + parked
    # what layers' saving hooks kept (glassnet._own_saving; absent from most files)
    own_entries = meta["model"].pop("own_saving", [])
    from ._own_saving import check as check_own, count as own_count, restore as restore_own
    n_own = own_count(own_entries) if isinstance(own_entries, list) and all(
        isinstance(e, dict) and isinstance(e.get("variables"), list) and isinstance(e.get("assets"), list)
        for e in own_entries) else 0
    if len(infos) != 1 + n_weights + len(slots) + n_own:      # cheap, before naming a million members
        raise ModelFileError(f"the file's {len(infos)} members disagree with the config, which "
                             f"names {1 + n_weights + len(slots) + n_own}")
    expected = {"config.npy", *(f"weights/{i:03d}.npy" for i in range(n_weights)),
                *(f"optimizer/{i:03d}.npy" for i in range(len(slots))), *(f"own/{i:03d}.npy" for i in range(n_own))}
    if set(infos) != expected:
        raise ModelFileError(f"the members {sorted(set(infos) ^ expected)} disagree with the config")
    headers = {name: read_header(npz, infos[name]) for name in sorted(expected - {"config.npy"})}
    # the parameters the file's weight bytes can hold in the model's dtype: counted in values,
    # uint8 "weights" for a float64 model would buy eight times their size in parameters (and
    # their gradients) before their dtype is compared (a 38 MiB file allocated 921 MiB)
    itemsize = backend.resolve_dtype(meta["model"].get("dtype", "float32")).itemsize   # "f8" too
    # (a quantized layer's int8 weights count as the float values they stand for, two a byte for
    # int4's packed ones: the layer makes its float kernel before quantizing it, layers/quantized.py;
    # the other integer dtypes still count by their bytes)
    budget = sum(math.prod(shape) * (2 * itemsize if dtype == np.int8 else dtype.itemsize) for shape, dtype in
                 (headers[f"weights/{i:03d}.npy"] for i in range(n_weights))) // itemsize
    found, subclass = subclass_files.resolve(meta["model"], "load_model")
    model, listed = _build(meta["model"], budget, target=subclass_files.graph_class(found, subclass) or Sequential)
    weights, missing = [], ()
    if model.built:
        # the file's weights go layer by layer in the config's order of layers, which a file of an
        # older glassnet may list in another order than model.layers (Keras' since): each layer's
        # own, wherever the file has them
        members = _weights_in_model_order(model, listed, n_weights)
        names = _weight_names(model)
        # a layer whose get_weights order changed to Keras' since (SpectralNormalization's
        # vector_u): a file of before holds the same names in another order, each read by its name
        order = order_by_name(names, [meta["weights"][i] for i in members])
        if order is not None:
            members = [members[i] for i in order]
        if [meta["weights"][i] for i in members] != names:
            # a file of a glassnet before session 47 holds no weight for a gn.Variable that a layer of
            # yours holds as an attribute (glassnet._attr_variables): those keep their values
            members = _without_adopted(model, meta["weights"], names) or members
            missing = {name for name, i in zip(names, members) if i is None}
        if [names[k] if i is None else meta["weights"][i] for k, i in enumerate(members)] != names:
            raise ModelFileError(f"the weights {meta['weights']!r:.300} are not those the config "
                                 f"builds: {names!r:.300}")
        # a LayerNormalization of an axis list that Keras orders otherwise: shaped so by a glassnet
        # before session 48, reshaped on the way in (glassnet.layers._norm_layout)
        older = older_shapes(model)
        for i, (_, target) in zip(members, model._weight_items()):
            if i is not None and headers[f"weights/{i:03d}.npy"][0] == older.get(id(target)):
                read = read_array(npz, headers, f"weights/{i:03d}", _Expected(older[id(target)], target.dtype))
                weights.append(read.reshape(target.shape))
                continue
            weights.append(target.copy() if i is None else read_array(npz, headers, f"weights/{i:03d}", target))
        model.set_weights(weights)
    elif n_weights:
        raise ModelFileError("the file holds weights but its config builds no model (no input_shape)")
    with subclass_files.capped_like(model, JSON_MAX_PARAMS):    # the constructor's arguments are data too
        made = subclass_files.construct(found, subclass, "load_model")
        if made is not None:        # the user's class, drawn, with the weights just checked against its graph
            made = subclass_files.draw_like(made, model, "load_model")
    if made is not None:
        model, listed = subclass_files.swap(made, model, listed, subclass)
    _restore_trainable(model, _in_model_order(model, listed, meta["trainable"]))
    if own_entries:         # the layers' own saving hooks, after their weights (Keras' order)
        check_own(own_entries, model.layers)
        restore_own(own_entries, model.layers, lambda k: npz[f"own/{k:03d}"])
    if compile and meta["model"].get("compile"):
        try:        # the class' own compile_from_config, as Keras' load_model calls it (glassnet._own_compile)
            own_way = compile_own_way(model, meta["model"].get("own_compile_config"), meta["model"]["compile"])
        except UnknownObjectError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{type(model).__name__}.compile_from_config: {exc}; load with compile=False and "
                                 f"compile the model yourself") from exc
        if not own_way:
            _compile(model, meta["model"]["compile"])
        if meta["optimizer_state"] is not None:
            _restore_optimizer(model, npz, headers, meta["optimizer_state"], _gaps(model, missing))
        try:        # the optimizer's weight-name patterns, searched in these names at the first step
            model.optimizer.check_search_cost(_weight_names(model) if model.built else [])
        except ValueError as exc:
            raise ModelFileError(f"compile: {exc}") from None
    states = meta["rng_states"]
    if isinstance(states, dict) and "layers" in states:     # (each layer's, as the flags: checked by _restore_rngs)
        states = {**states, "layers": _in_model_order(model, listed, states.get("layers"))}
    _restore_rngs(model, states)
    epoch = meta["epoch"]
    if epoch is not None and (isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0):
        raise ModelFileError(f"epoch: expected a non-negative integer or null, got {epoch!r}")
    model.initial_epoch = epoch or 0
    return model, meta


def load_weights(model, path, max_bytes=MAX_BYTES):
    """Read the weights of a glassnet file (``save_weights``, ``save``, ``ModelCheckpoint``) into
    the built ``model``, in layer order, checking the count and every shape before writing any (as
    ``set_weights``); the file's compile settings and optimizer state are not used. The file is
    read as ``load_model`` reads it, trusting nothing in it. A weights-only file (what
    ``save_weights`` writes for a model whose config a file cannot store, ``glassnet._weightsfile``)
    has its list of weights and their shapes compared with the model's before any is read. Keras'
    HDF5 weights (``keras_model.save_weights("x.weights.h5")``; a legacy ``.h5`` model or weights
    file of Keras 2) are read as Keras' ``load_weights`` reads them (glassnet._keras_h5; needs h5py).

    The model must be built: building it for a shape the file names would let a small file make
    this model allocate what the file's own model never holds (a 1 KB file naming 20 million
    inputs, read into a ``Dense(4)``)."""
    path = _fspath(path)
    caller = f"load_weights({path!r})"
    if not model.built:
        raise ValueError(f"{caller}: the model is not built; give its first layer an input shape (or "
                         f"an Input), call model.build(input_shape), or read the whole model with "
                         f"glassnet.load_model")
    items = model._weight_items()

    def read(npz, infos, meta):     # the weights, and what to add to a count's error
        if meta.get("format") == WEIGHTS_FORMAT:
            return read_weights(npz, infos, meta, items), ""
        source = _load(npz, infos, meta, compile=False)[0]
        if not source.built:
            raise ModelFileError("the file holds no weights (its model was never built)")
        weights = source.get_weights()
        # a Sequential nesting a functional Model, saved by a glassnet from before Keras' order of
        # layers (glassnet._layer_order), lists that model's layers at their first calls: the same
        # weights as this model's, in another order; each goes to its own (as for a weights-only file)
        order = order_by_name([name for name, _ in items], [name for name, _ in source._weight_items()])
        if order is not None:
            weights = [weights[i] for i in order]
        elif len(weights) < len(items):
            # a file of before session 47: no weights for the gn.Variables a block of yours holds
            weights = _with_adopted(model, items, weights)
        return weights, f"; the file's model has the layers {[layer.name for layer in source.layers]}"
    def hdf5(data):     # Keras' .weights.h5 (or a legacy .h5): each layer's, checked, read, then set
        from ._keras_h5 import read_weights_h5
        return read_weights_h5(model, data), None
    weights, hint = _open_file(path, max_bytes, "load_weights", read, hdf5=hdf5)
    if hint is None:
        from .layers.lora import set_keras_weights
        # each layer's weights are checked as they are set (NaN, infinity, too large for the dtype):
        # a refusal at a later layer put back the earlier layers' weights, which were already the
        # file's, so that the model is left as it was, as for glassnet's own files
        before = model.get_weights()
        try:
            for layer, arrays in weights:
                if isinstance(arrays, dict):    # a layer of yours' store: as Keras' load_weights, no assets
                    layer.load_own_variables(arrays)
                else:
                    set_keras_weights(layer, arrays)        # with LoRA: Keras' merged kernel, A and B zeroed
        except (ValueError, TypeError) as exc:
            model.set_weights(before)
            raise ModelFileError(f"{caller}: {exc}") from exc
        return
    _assign_weights(items, weights, caller, hint)


def save_weights(model, path, epoch=None):
    """Write ``model``'s weights to ``path``, atomically, without compile settings or optimizer state
    (Keras' ``save_weights``); ``load_weights`` reads them back.

    A model whose config a model file can store gets a model file (``save_model(...,
    include_optimizer=False)``), which ``load_model`` also rebuilds, uncompiled. Any other (a
    ``Lambda``, a ``TextVectorization`` with a ``standardize`` function of yours, a layer of yours
    that does not rebuild from its ``get_config()``: whatever ``save_model`` refuses for the config)
    gets a weights-only file (``glassnet._weightsfile``): the weights, and each one's layer, name
    and shape, which ``load_weights`` reads into the model built again by the same code, and which
    ``load_model`` refuses, saying so. Neither holds a ``TextVectorization``'s vocabulary in a
    weights-only file: adapt the layer again (or give it ``vocabulary=``) before ``load_weights``.
    ``epoch``: completed epochs, recorded as ``save_model`` records it (``ModelCheckpoint``).
    ``path`` is used exactly as given, as ``save_model``'s: any name, no suffix required or appended.
    A name ending in ``.weights.h5`` gets Keras 3's weights file instead (``keras_model.save_weights``'
    HDF5 layout, glassnet._keras_h5; needs h5py), which ``keras_model.load_weights`` and this
    ``load_weights`` read; ``epoch`` is not recorded there.

    >>> model.save_weights("w.npz")           # doctest: +SKIP
    >>> same_code_model.load_weights("w.npz")  # doctest: +SKIP
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"model: expected a glassnet Sequential, got {type(model).__name__}")
    if getattr(model, "_own_steps", False) and not getattr(model, "_calls", True) and not model._subclass():
        # Keras' GAN: "the model is not built" would send its user to build what has no call
        raise ValueError(f"save_weights: {type(model).__name__} has no call, so no weights of its own to save (its "
                         f"train_step steps sub-models); save each sub-model's (gan.generator.save_weights(...))")
    path = _fspath(path)
    _check_epoch(epoch)
    from ._attr_variables import warn_untracked
    warn_untracked(model, "save_weights")       # gn.Variables no file keeps: set after build, or integers
    if path.endswith(".weights.h5"):     # Keras 3's format, for keras_model.load_weights (glassnet._keras_h5)
        from ._keras_h5 import save_weights_h5
        save_weights_h5(model, path)
        return
    _refuse_own_hooks(model, path)
    # not a question of the config: a vocabulary re-adapted to ids of another width, which the
    # weights no longer fit; refused as save_model refuses it
    check_text_widths(model, "save_weights")
    model._apply_trainable_flags()          # as save_model does
    try:
        # every refusal of the config (check_config_storable's, and a file's caps on the layers and
        # the config's size) is a ValueError or a TypeError raised here, before anything is written
        meta = _metadata(model, epoch, include_optimizer=False)
        config = _config_array(meta)
    # (NotImplementedError: Keras' get_config of a layer that has not written its own, in a port)
    except (ValueError, TypeError, NotImplementedError) as exc:     # no config to store: the weights alone
        write_weights_only(model, path, reason=str(exc).removeprefix("save_model: "), epoch=epoch)
        return
    _write_model_file(model, path, meta, config, include_optimizer=False)


def _refuse_own_hooks(model, path):
    """Refuse a glassnet weights file of a model with a layer of yours defining Keras' saving
    hooks: it would keep the weights without what the hooks keep. Keras' ``.weights.h5`` calls
    ``save_own_variables`` (glassnet._keras_hooks), and ``model.save`` keeps both stores and assets."""
    from ._own_saving import own_hooks
    for layer in model.layers:
        hooks = own_hooks(layer)
        if hooks:
            raise TypeError(f"save_weights({path!r}): layer {layer.name!r} ({type(layer).__name__}) defines "
                            f"{hooks}, Keras' saving hooks, which glassnet's weights file does not call (it would "
                            f"keep the weights alone, silently); save_weights to a name ending in .weights.h5 "
                            f"(Keras' layout: it keeps save_own_variables' store, as Keras', no assets) or "
                            f"model.save(...) (both)")


def _build(config, budget, limit="the file's weights hold", state_budget=JSON_MAX_PARAMS, target=Sequential):
    """The model of ``config``, built with at most ``budget`` parameter values allocated (``limit``
    says what set the budget, for the error), and at most ``state_budget`` values of what layers
    make besides weights (``Layer._reserve``: statistics, whose size the input shape sets).
    ``target``: the class whose ``_from_config_layers`` makes it (a functional subclass of the
    user's, given or registered: glassnet._subclass_files)."""
    specs = config.get("layers")
    if not isinstance(specs, list) or not all(isinstance(s, dict) and isinstance(s.get("class_name"), str)
                                              and isinstance(s.get("config"), dict) for s in specs):
        raise ModelFileError("config: 'layers' must be a list of {'class_name': str, 'config': dict}")
    if len(specs) > MAX_LAYERS:         # before any is made
        raise ModelFileError(f"config: {len(specs)} layers, more than a model file holds ({MAX_LAYERS})")
    calls = _calls_of(config)
    if calls > MAX_LAYERS:              # one layer called a million times: a 10 MB config replaying for minutes
        raise ModelFileError(f"config: {calls} layer calls, more than a model file holds ({MAX_LAYERS})")
    left, state_left = [budget], [state_budget]
    layers = []
    for spec in specs:
        cls = lookup(spec["class_name"])        # a registered name: never import or eval a name from a file
        if cls is None:
            load_all()          # the list below names every built-in class, not only those imported yet
            raise UnknownObjectError(f"unknown layer class {spec['class_name'][:100]!r}; known: {sorted(LAYERS)} "
                                     f"(define or import a custom Layer subclass before loading, or pass "
                                     f"custom_objects={{{spec['class_name'][:100]!r}: YourLayer}})",
                                     spec["class_name"])
        layer = cls.from_config(spec["config"])
        take_seed_origin(layer, spec)
        layer.add_weight = _capped(layer.add_weight, left, limit)
        layer._reserve = _capped(layer._reserve, state_left, f"glassnet's cap on statistics ({state_budget} values) "
                                                              f"allows")
        layers.append(layer)
    try:
        model = target._from_config_layers(config, layers)
    finally:
        for layer in layers:
            del layer.add_weight, layer._reserve     # back to the class's methods
    return model, layers


def _in_model_order(model, listed, values):
    """``values``, one per layer of ``listed`` (the config's order of the layers), in the order of
    ``model.layers``: a functional Model of a file of an older glassnet lists its layers at their
    first calls, and model.layers is now in Keras' order (glassnet._layer_order). ``values`` that
    are not a list of one per layer pass unchanged (their own check refuses them)."""
    if not isinstance(values, list) or len(values) != len(listed) or len(listed) != len(model.layers):
        return values
    position = {id(layer): i for i, layer in enumerate(listed)}
    return [values[position[id(layer)]] for layer in model.layers]


def _adopted_names(model):
    """``"layer/key"`` of ``model``'s weights made of ``gn.Variable`` attributes of the user's
    layers (glassnet._attr_variables): weights since session 47, which older files do not hold."""
    return {f"{layer.name}/{key}" for layer in model.layers for key in vars(layer).get("_adopted_weights", ())}


def _with_adopted(model, items, weights):
    """``weights`` (an older file's model's, in order) with the current values of ``model``'s
    adopted weights (``_adopted_names``) put in at their places of ``items`` (``_weight_items``),
    when the file holds exactly the others, each of its shape; else ``weights`` unchanged (the
    count's refusal follows)."""
    adopted = _adopted_names(model)
    others = [(name, a) for name, a in items if name not in adopted]
    if not adopted or len(others) != len(weights) or any(np.shape(w) != a.shape for (_, a), w in zip(others, weights)):
        return weights
    given = iter(weights)
    return [np.array(a) if name in adopted else next(given) for name, a in items]


def _without_adopted(model, held, names):
    """For each of ``names`` (``model``'s weights), the index of its name in the file's ``held``,
    None for a weight made of a ``gn.Variable`` attribute (glassnet._attr_variables) that an older
    file, written when such a variable was no weight, does not hold; None (no such file) unless
    the file holds exactly the other weights."""
    adopted = _adopted_names(model)
    missing = [name for name in names if name not in held]
    if not missing or not set(missing) <= adopted or len(held) != len(names) - len(missing) \
            or len(set(held)) != len(held):
        return None
    return [None if name in missing else held.index(name) for name in names]


def _weights_in_model_order(model, listed, count):
    """For each of ``model.get_weights()``, the index of its ``weights/NNN`` member in a file whose
    ``count`` weights go layer by layer in the order of ``listed`` (``_in_model_order``)."""
    start, first = {}, 0
    for layer in listed:
        start[id(layer)] = first
        first += len(layer._weight_items())
    if first != count or len(listed) != len(model.layers) or any(id(layer) not in start for layer in model.layers):
        return list(range(count))       # another model altogether: the names' check refuses it
    return [start[id(layer)] + k for layer in model.layers for k in range(len(layer._weight_items()))]


def _calls_of(config):
    """How many layer calls a config's graph lists (a functional Model's ``"calls"``, a Sequential's
    ``"graph"`` ``"calls"``): 0 for a chain, or for lists of another form, which the graph's own
    checks refuse by name."""
    graph = config.get("graph")
    calls = graph.get("calls") if isinstance(graph, dict) else config.get("calls")
    return len(calls) if isinstance(calls, list) else 0


def _capped(make, left, limit):
    # add_weight (parameters) and _reserve (statistics) are where layers allocate: refuse before
    # numpy allocates an absurd array
    def capped(name=None, shape=None, *args, **kwargs):    # initializer, ...: passed on as given
        try:            # (add_weight's defaults: no name, shape () for a scalar)
            size = math.prod(int(d) for d in (() if shape is None else shape))
        except (TypeError, ValueError):
            size = 0            # not a shape: add_weight refuses it, by name
        if size > left[0]:
            raise ModelFileError(f"the config declares more parameters than {limit} (at parameter {name!r} "
                                 f"of shape {tuple(shape)}): corrupt or crafted")
        left[0] -= size
        return make(name, shape, *args, **kwargs)
    return capped


def _restore_trainable(model, flags):
    if len(flags) != len(model.layers) or not all(isinstance(t, bool) for t in flags):
        raise ModelFileError(f"trainable: expected {len(model.layers)} booleans, got {flags!r:.200}")
    if any(layer.trainable != t for layer, t in zip(model.layers, flags)):
        for layer, t in zip(model.layers, flags):
            layer.trainable = t
        if model.built:
            model._build_samples(model._sample_input_shape)          # rebuilds the optimizer's list of parameters


def _metric_names(value):
    return isinstance(value, list) and all(isinstance(m, (str, dict)) for m in value)


def _loss_settings(value):
    # numbers and flags, and lists of numbers (Dice's axis, a focal loss's per-class alpha); None for a setting at None; short
    # strings (reduction, name)
    return value is None or isinstance(value, dict) and all(
        isinstance(k, str) and (isinstance(v, (bool, int, float, type(None))) or isinstance(v, str) and len(v) <= 200
                                or isinstance(v, list) and all(type(a) in (int, float) for a in v)) for k, v in value.items())


def _compile(model, settings):
    # the shape first: a string or a list here failed as "string indices must be integers"
    several = isinstance(settings, dict) and isinstance(settings.get("loss"), list)     # one per output

    def named(loss):                # a built-in's name, the entry of a registered loss of yours, or of a LossFunctionWrapper
        return isinstance(loss, str) or saving.is_entry(loss) or (
            isinstance(loss, dict) and set(loss) == {"class_name", "config"}
            and loss["class_name"] == "LossFunctionWrapper" and isinstance(loss["config"], dict))

    def listed(metrics):
        return metrics is None or (isinstance(metrics, list) and all(_metric_names(m) for m in metrics)
                                   if several else _metric_names(metrics))
    if not (isinstance(settings, dict)
            and (named(settings.get("loss"))
                 # (None: compile(loss=None), the model's add_loss terms alone)
                 or not several and "loss" in settings and settings["loss"] is None
                 # (None: an output compiled without a loss, kept for predict)
                 or several and all(name is None or named(name) for name in settings["loss"]))
            and isinstance(settings.get("optimizer"), dict)
            and (isinstance(settings["optimizer"].get("name"), str) or saving.is_entry(settings["optimizer"]))
            and listed(settings.get("metrics")) and listed(settings.get("weighted_metrics"))):
        raise ModelFileError(f"compile: expected {{'loss': name, 'optimizer': {{'name': name, ...}}, "
                             f"'metrics': [names or {{'class_name': ..., 'config': ...}}] or null, and "
                             f"'weighted_metrics' as 'metrics' if any}} (for a model of several outputs a "
                             f"list of names or null, and of such lists, one per output; loss null: compile(loss=None), "
                             f"add_loss terms alone), got {settings!r:.200}")
    loss_config = settings.get("loss_config")      # a built-in loss's own settings: numbers and flags
    if not (_loss_settings(loss_config) if not several else loss_config is None or (
            isinstance(loss_config, list) and len(loss_config) == len(settings["loss"])
            and all(_loss_settings(c) for c in loss_config))):
        raise ModelFileError(f"compile: expected the loss's settings as {{name: number or flag}} (a list of "
                             f"them, one per output, for a model of several), got {loss_config!r:.200}")
    try:
        model.compile(**compile_arguments(settings))
    except UnknownObjectError:          # a loss or metric of the user's own: its own message says what to do
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"cannot compile the saved settings ({exc}); load with compile=False "
                             f"and compile the model yourself") from exc


class _Expected:
    """What ``read_array`` checks a member against: a shape and a dtype."""

    def __init__(self, shape, dtype):
        self.shape, self.dtype = tuple(shape), dtype


def _gaps(model, missing):
    """``[(offset, size)]`` of the trained weights named ``missing`` (held by an older file without
    them: ``_without_adopted``) in the model's flat parameters, where its optimizer state had none."""
    if not missing:
        return []
    gaps, offset = [], 0
    for layer, key, param, _ in model._views:
        if f"{layer.name}/{key}" in missing:
            gaps.append((offset, int(param.size)))
        offset += int(param.size)
    return gaps


def _with_gaps(array, gaps):
    """``array`` (an older file's flat optimizer state) with zeros at ``gaps``: the state of
    weights it did not hold starts as a new weight's (``_gaps``)."""
    pieces, start = [], 0
    for offset, size in gaps:
        pieces += [array[start:offset - sum(s for o, s in gaps if o < offset)], np.zeros(size, array.dtype)]
        start = offset - sum(s for o, s in gaps if o < offset)
    return np.concatenate(pieces + [array[start:]])


def _restore_optimizer(model, npz, headers, state, gaps=()):
    params = {key: param for key, param, _ in (model._triples if model.built else [])}
    shapes_of = dict(zip(params, model._weight_shapes())) if model.built else {}
    keys, slots, iterations = state.get("keys"), state.get("slots"), state.get("iterations")
    # below 2 ** 63, Keras' int64 count: JSON's integers have no bound, and 10 ** 400 loaded, then
    # Adam's bias correction (beta ** iterations) failed at the first step with an OverflowError
    if isinstance(iterations, bool) or not isinstance(iterations, int) or not 0 <= iterations < 2 ** 63:
        raise ModelFileError(f"optimizer_state: iterations must be a non-negative integer below 2**63, got "
                             f"{iterations!r:.60}")
    # (strings before the sets: a list among the keys was "unhashable type: 'list'")
    if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys) or not set(keys) <= set(params) \
            or len(set(keys)) != len(keys):
        raise ModelFileError(f"optimizer_state: keys {keys!r:.200} are not among the model's parameters "
                             f"{sorted(params)}")
    restored = {key: {} for key in keys}
    for i, pair in enumerate(slots):
        if (not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[0], str) or pair[0] not in restored
                or not isinstance(pair[1], str) or pair[1] in restored[pair[0]]):
            raise ModelFileError(f"optimizer_state: slots[{i}] = {pair!r:.100} is not a new [key, slot name]")
        # onto the parameters' device: a CuPy model's update cannot mix in NumPy state; of the
        # shape the optimizer keeps it in (the parameters', but for Adafactor's factored moments)
        param = params[pair[0]]
        shape = model.optimizer.slot_shape(pair[1], param, shapes_of.get(pair[0]))
        if gaps and len(shape) == 1 and pair[0] == next(iter(params)):     # (an older file: _gaps)
            shape = (shape[0] - sum(size for _, size in gaps),)
            read = _with_gaps(read_array(npz, headers, f"optimizer/{i:03d}", _Expected(shape, param.dtype)), gaps)
        else:
            read = read_array(npz, headers, f"optimizer/{i:03d}", _Expected(shape, param.dtype))
        restored[pair[0]][pair[1]] = backend.get_array_module(param).asarray(read)
    optimizer = model.optimizer
    for key, named in restored.items():
        # a slot the optimizer does not know would be kept and never used, and one it always keeps
        # but the file lacks would silently restart at zero: either way not the saved run
        # (before the first update, gradient accumulation's calls have only summed gradients)
        known = optimizer.kept_slots()
        if not set(optimizer.required_slots(iterations)) <= set(named) <= set(known):
            raise ModelFileError(f"optimizer_state: {type(optimizer).__name__} keeps the state "
                                 f"{list(known)} (always {list(optimizer.always_slots)}), "
                                 f"the file has {sorted(named)!r:.200} for {key!r:.100}")
        for name, a in named.items():
            if not np.isfinite(a).all() or (name in optimizer.non_negative_slots and (a < 0).any()):
                raise ModelFileError(f"optimizer_state: the {name!r} state of {key!r:.100} holds NaN, "
                                     f"infinite{' or negative' if name in optimizer.non_negative_slots else ''} "
                                     f"values")
    scalars = state.get("scalars", {})          # absent from files of older glassnets: recomputed
    if not (isinstance(scalars, dict) and set(scalars) <= set(optimizer.scalar_names)
            and all(isinstance(v, float) and math.isfinite(v) for v in scalars.values())):
        raise ModelFileError(f"optimizer_state: scalars {scalars!r:.200} are not finite numbers named "
                             f"among {list(optimizer.scalar_names)}")
    accumulated = state.get("accumulated_steps", 0)     # (set_state checks it against the setting)
    if isinstance(accumulated, bool) or not isinstance(accumulated, int):
        raise ModelFileError(f"optimizer_state: accumulated_steps must be an integer, got {accumulated!r:.40}")
    parked = _read_parked(model, npz, headers, state.get("parked", []), len(slots))
    try:
        optimizer.set_state({"iterations": iterations, "slots": restored, "scalars": scalars,
                             "accumulated_steps": accumulated, "parked": parked})
    except ValueError as exc:
        raise ModelFileError(f"optimizer_state: {exc}") from None
    from ._state_carry import resolve_parked
    resolve_parked(optimizer, model)


def _frozen_weights(model):
    """``{"<layer name>/<weight name>": (layer, key)}`` of the model's frozen layers' weights: those
    whose optimizer state a file keeps aside (``optimizer_state["parked"]``)."""
    return {f"{layer.name}/{key}": (layer, key) for layer in (model.layers if model.built else [])
            if not layer.trainable for key in layer.params}


def _read_parked(model, npz, headers, pairs, first):
    """``{"<layer>/<weight>": {slot: array}}`` of ``optimizer_state["parked"]`` (members from
    ``optimizer/<first>``): each a frozen weight's, a state the optimizer keeps, of the size it
    keeps for that weight, finite (and >= 0 for a sum of squares)."""
    from ._state_carry import _length
    optimizer, frozen, parked = model.optimizer, _frozen_weights(model), {}
    dtype = model._triples[0][1].dtype if model.built and model._triples else model.dtype
    for i, pair in enumerate(pairs, first):
        if (not isinstance(pair, list) or len(pair) != 2 or pair[0] not in frozen or not isinstance(pair[1], str)
                or pair[1] not in optimizer.kept_slots() or pair[1] in parked.get(pair[0], {})):
            raise ModelFileError(f"optimizer_state: parked[{i - first}] = {pair!r:.100} is not a new [weight of a "
                                 f"frozen layer ({sorted(frozen)!r:.200}), slot name among "
                                 f"{list(optimizer.kept_slots())!r:.100}]")
        layer, key = frozen[pair[0]]
        length = _length(optimizer, pair[1], tuple(layer.params[key].shape), dtype)
        a = read_array(npz, headers, f"optimizer/{i:03d}", _Expected((length,), dtype))
        if not np.isfinite(a).all() or (pair[1] in optimizer.non_negative_slots and (a < 0).any()):
            raise ModelFileError(f"optimizer_state: the parked {pair[1]!r} state of {pair[0]!r:.100} holds NaN, "
                                 f"infinite or negative values")
        parked.setdefault(pair[0], {})[pair[1]] = a
    return parked


def _restore_rngs(model, states):
    layer_states = states.get("layers")
    if set(states) != {"shuffle", "layers"} or not isinstance(layer_states, list) \
            or len(layer_states) != len(model.layers):
        raise ModelFileError(f"rng_states: expected 'shuffle' and one state per layer ({len(model.layers)})")
    if states["shuffle"] is not None:
        model.shuffle_rng = generator_from_state(states["shuffle"])
    for layer, state in zip(model.layers, layer_states):
        if state is not None:
            layer.rng = generator_from_state(state)
