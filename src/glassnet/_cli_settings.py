"""What ``glassnet train`` trains: the dataset presets, the option and TOML parsing, the model built.

Settings come from three layers, later ones winning: the dataset's preset (the seeds' networks), a
TOML config file (seed 000's list-of-dicts ``architecture`` and a ``[training]`` table), and the
options given on the command line. Errors are ``ValueError``s naming the option; ``glassnet.cli``
turns them into one-line messages.
"""
from . import initializers, losses, optimizers, regularizers
from ._validation import check_non_negative_int, check_number, check_positive_int
from .layers import Dense
from .model import Sequential
from .utils import to_categorical

_MOONS = dict(layers="25:relu,50:relu,50:relu,25:relu,1:sigmoid", loss="binary_crossentropy",
              optimizer="sgd", lr=0.1, epochs=200, batch_size=32, init="glorot_uniform")
_GATE = dict(loss="squared_error", optimizer="sgd", lr=1.0, epochs=5000, batch_size="full", init="xavier")
_SPARSE = "sparse_categorical_crossentropy"
# What `glassnet train DATASET` runs when no option is given: the seeds' networks (exact keys).
PRESETS = {
    "moons": _MOONS,
    "circles": {**_MOONS, "epochs": 100},
    "xor": {**_GATE, "layers": "3:sigmoid,1:sigmoid"},
    "or": {**_GATE, "layers": "1:sigmoid"},
    "or_gate": {**_GATE, "layers": "1:sigmoid"},
    "digits": dict(layers="128:sigmoid,128:sigmoid,10:softmax", loss=_SPARSE, optimizer="adam", lr=0.001,
                   epochs=40, batch_size=32, init="glorot_uniform"),
    "iris": dict(layers="16:relu,3:softmax", loss=_SPARSE, optimizer="adam", lr=0.01, epochs=100,
                 batch_size=16, init="he"),
    "mnist": dict(layers="100:tanh,50:tanh,10:softmax", loss=_SPARSE, optimizer="sgd", lr=0.1, epochs=20,
                  batch_size=32, init="glorot_uniform"),
    "mnist1d": dict(layers="100:relu,100:relu,10:softmax", loss=_SPARSE, optimizer="adam", lr=0.01,
                    epochs=30, batch_size=100, init="glorot_uniform"),
}
SETTINGS = ("dataset", "loss", "optimizer", "lr", "epochs", "batch_size", "seed", "init", "l2")



# -- parsing the settings -------------------------------------------------------------------------
def parse_layers(spec):
    """``"25:relu,1:sigmoid"`` -> ``[(25, "relu"), (1, "sigmoid")]``; a bare ``"10"`` is linear."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"--layers: expected units:activation items such as 25:relu,1:sigmoid, got {spec!r}")
    layers = []
    for item in spec.split(","):
        units, colon, activation = item.strip().partition(":")
        # isdecimal, not isdigit: int() cannot read every digit, "²" (then Python's words, unnamed)
        if not units.isdecimal() or int(units) <= 0 or (colon and not activation):
            raise ValueError(f"--layers: bad item {item!r} in {spec!r}; expected units:activation "
                             f"such as 25:relu (units a positive integer)")
        layers.append((int(units), activation or None))
    return layers


def parse_batch_size(value, name="--batch-size"):
    """An int, or ``"full"``/None for full-batch gradient descent; ``name`` is where it was given."""
    if value is None or value == "full":
        return None
    if isinstance(value, str) and value.isdecimal():     # (isdigit's "²" is no int())
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name}: expected a positive integer or 'full', got {value!r}")
    return value


def read_config(path):
    """A TOML training file: ``architecture`` (seed 000's list of dicts) and a ``[training]`` table."""
    try:
        import tomllib
    except ImportError:                 # Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise ImportError("reading TOML on Python 3.10 needs tomli: pip install 'glassnet[cli]'") from None
    try:
        f = open(path, "rb")
    except OSError as exc:              # Python's "[Errno 2] No such file..." would not name the option
        raise ValueError(f"--config: cannot read {str(path)!r}: {exc.strerror or exc}") from None
    with f:
        try:
            config = tomllib.load(f)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:     # TOML files are UTF-8
            raise ValueError(f"{path}: not valid TOML ({exc})") from None
        except RecursionError:          # tomllib parses nested arrays and tables recursively
            raise ValueError(f"{path}: not readable TOML: arrays or tables nested too deeply") from None
    unknown = set(config) - {"architecture", "training"}
    training = config.get("training", {})
    if unknown or not isinstance(training, dict):
        raise ValueError(f"{path}: expected only 'architecture' and a [training] table, got {sorted(config)}")
    # "layers": --layers' text ("25:relu,1:sigmoid"), the short form of an architecture
    unknown = set(training) - {*SETTINGS, "layers"}
    if unknown:
        raise ValueError(f"{path}: unknown [training] keys {sorted(unknown)}; known: {[*SETTINGS, 'layers']}")
    if "architecture" in config and "layers" in training:
        raise ValueError(f"{path}: give an architecture or [training] layers, not both")
    if "layers" in training:
        # checked here, so that an error names the file's key, not the --layers option not given
        try:
            parse_layers(training["layers"])
        except ValueError as exc:
            raise ValueError(f"{path}: [training] layers{str(exc).removeprefix('--layers')}") from None
    return config


def resolve_settings(args):
    """Dataset preset <- config file <- options given on the command line (later ones win)."""
    # None: not given ("" is given, and refused by name as any other path that cannot be read)
    config = read_config(args.config) if args.config is not None else {}
    training = config.get("training", {})
    given = {k: getattr(args, k) for k in SETTINGS if getattr(args, k, None) is not None}
    dataset = given.get("dataset", training.get("dataset"))
    if dataset is None:
        raise ValueError("train: give a DATASET (or 'dataset' in the config's [training] table)")
    if not isinstance(dataset, str) or dataset not in PRESETS:
        where = "DATASET" if "dataset" in given else f"{args.config}: [training] dataset"
        raise ValueError(f"{where}: expected one of {sorted(PRESETS)}, got {dataset!r}")
    settings = {"seed": 0, **PRESETS[dataset], **training, **given, "dataset": dataset}
    # where each setting came from, for errors: the option, the config's key, or the preset (whose
    # values are valid: never named)
    settings["origin"] = {**{key: f"{args.config}: [training] {key}" for key in training},
                          **{key: option_name(key) for key in given}}
    if "architecture" in config:
        if args.layers is not None:
            raise ValueError("give --layers or an architecture in the config file, not both")
        settings["architecture"] = config["architecture"]
    elif args.layers is not None:           # --layers "" too: parse_layers refuses it by name
        settings["layers"] = args.layers
    settings["batch_size"] = parse_batch_size(settings["batch_size"], origin(settings, "batch_size"))
    settings["epochs"] = check_positive_int(settings["epochs"], origin(settings, "epochs"))
    # here, so that the error names --seed or the file's key (Sequential's would say "seed")
    settings["seed"] = check_non_negative_int(settings["seed"], origin(settings, "seed"))
    return settings


def option_name(key):
    """The command-line option of the setting ``key``: ``"batch_size"`` -> ``"--batch-size"``."""
    return "--" + key.replace("_", "-")


def origin(settings, key):
    """Where the setting ``key`` was given (``"--lr"``, ``"run.toml: [training] lr"``), for an error
    to name: the option by default (settings made in Python, the demo's)."""
    return settings.get("origin", {}).get(key, option_name(key))


def _named(where, exc, said=""):
    """``exc`` (a library error such as ``"SGD: learning_rate must be ..."``) as a ValueError that
    first names the option or key that gave the value; ``said``: the library's own name for it
    (``"loss"``), dropped from the front of the message rather than named twice."""
    return ValueError(f"{where}: {str(exc).removeprefix(f'{said}: ') if said else exc}")


# -- building and training ------------------------------------------------------------------------
def build_model(settings, n_features):
    """A compiled Sequential from ``settings`` (a layer spec or a list-of-dicts architecture)."""
    init, seed = settings["init"], settings["seed"]
    # each name checked before anything is built, its error naming the option that gave it
    for key, get, said in (("init", initializers.get, "initializer"), ("loss", losses.get, "loss"),
                           ("optimizer", optimizers.get, "optimizer")):
        if key == "loss" and losses.names_pending(settings[key]):
            continue        # "ce"/"crossentropy": compile picks the loss from the targets, as Keras' does
        try:
            get(settings[key])
        except (ValueError, TypeError) as exc:
            raise _named(origin(settings, key), exc, said) from None
    l2 = settings.get("l2")
    # an L2 penalty on every kernel, as Keras' kernel_regularizer=l2(...) (0 or none: no penalty)
    penalty = regularizers.L2(check_number(l2, origin(settings, "l2"), ">= 0")) if l2 else None
    try:
        if "architecture" in settings:
            model = Sequential.from_architecture(settings["architecture"], seed=seed, kernel_initializer=init,
                                                 kernel_regularizer=penalty)
        else:
            layers = parse_layers(settings["layers"])
            model = Sequential([_dense(units, act, init, penalty, n_features if i == 0 else None, settings)
                                for i, (units, act) in enumerate(layers)], seed=seed)
    except MemoryError as exc:          # "10000000000:relu" parses, but its weights cannot be allocated
        source = "architecture" if "architecture" in settings else origin(settings, "layers")
        raise ValueError(f"{source}: the network's weights do not fit in memory ({exc})") from None
    if "architecture" in settings and model.built and model._sample_input_shape != (n_features,):
        raise ValueError(f"architecture[0].input_dim: is {model._sample_input_shape[0]}, but {settings['dataset']} "
                         f"has {n_features} features per sample")
    # get() took the name (and takes "Adam" as Keras does); the rate is the settings' own
    try:
        optimizer = type(optimizers.get(settings["optimizer"]))(learning_rate=settings["lr"])
    except (ValueError, TypeError) as exc:
        raise _named(origin(settings, "lr"), exc) from None
    model.compile(loss=settings["loss"], optimizer=optimizer, metrics=["accuracy"])
    return model


def _dense(units, activation, init, penalty, input_dim, settings):
    """One layer of a ``--layers`` spec; an activation Dense refuses names its item."""
    try:
        return Dense(units, activation=activation, kernel_initializer=init, kernel_regularizer=penalty,
                     input_dim=input_dim)
    except (ValueError, TypeError) as exc:
        raise _named(f"{origin(settings, 'layers')} item '{units}:{activation}'", exc) from None


def check_output_fits(model, y, settings):
    """Refuse, before training, a network whose output cannot score the dataset's classes.

    ``y``: the integer labels (n,), classes 0..K-1. A categorical loss needs one output unit per class,
    so at least 2; one unit (sigmoid) fits two classes; fewer units than classes fit no loss. Checked
    here because the losses' own checks, made on the targets fit sees, speak of what the CLI user never
    gave (y's rows summing to 0, sample_weight, a metric), and the focal one would train a loss that
    is always 0. Circle (labels are identities) and CTC (sequences) read the output otherwise.
    """
    if isinstance(model.loss, (losses.Circle, losses.CTC)):
        return
    units, classes = model._sample_output_shape[-1], int(y.max()) + 1
    fix = f"end the layers with {classes}:softmax"
    categorical = isinstance(model.loss, (losses.CategoricalCrossentropy,
                                          losses.CategoricalGeneralizedCrossEntropy))
    if units == 1 and categorical:
        if classes == 2:
            fix += ", or keep the one unit with a binary loss such as binary_crossentropy"
        # named where it was given: the option as typed, or the config file's key
        where = origin(settings, "loss")
        given = f"{where} {settings['loss']}" if where.startswith("--") else f"{where} = {settings['loss']!r}"
        raise ValueError(f"{given}: needs one output unit per class, but the network's last "
                         f"layer has 1 unit; {settings['dataset']} has {classes} classes: {fix}")
    if units < classes and not (units == 1 and classes == 2):
        raise ValueError(f"the network's last layer has {units} unit{'s' if units > 1 else ''}, but "
                         f"{settings['dataset']} has {classes} classes (labels 0 to {classes - 1}): {fix}")


def targets_for(model, y):
    """Integer labels as the loss wants them: one-hot for a non-sparse loss on several outputs."""
    # (a loss still to pick, "ce": the labels as they are, from which it picks sparse_categorical_
    # crossentropy, or binary_crossentropy for one unit, as Keras' compile does)
    if not model.loss.sparse and not isinstance(model.loss, losses.PendingCrossentropy) and model._sample_output_shape[-1] > 1:
        return to_categorical(y, model._sample_output_shape[-1])
    return y
