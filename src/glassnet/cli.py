"""The ``glassnet`` command: train a network on a built-in dataset, predict from a CSV, inspect a model.

    glassnet demo                                   # seed 000's moons network, plots and model
    glassnet train moons --epochs 100 --out runs/m  # any dataset in glassnet.datasets.DATASETS
    glassnet train --config examples/moons.toml     # seed 000's list-of-dicts architecture in TOML
    glassnet predict runs/m/model.npz points.csv    # labels and probabilities, or a regressor's outputs
    glassnet info runs/m/model.npz                  # summary and compile settings
    glassnet info model.npz --import mylayers       # a model with layers of your own: import them first

Every failure the user can cause (a bad option, dataset, layer spec, CSV or model file, a missing
optional extra) is reported as one ``glassnet: error: ...`` line on stderr with exit status 2.
"""
import argparse
import codecs
import contextlib
import csv
import io
import math
import os
import sys
import time
import traceback

import numpy as np

from . import __version__, backend, losses, optimizers
from ._atomic import write_text_atomically
# the settings live in their own module; their names stay importable from here too
from ._cli_settings import (PRESETS, SETTINGS, build_model, parse_batch_size, parse_layers,
                            check_output_fits, read_config, resolve_settings, targets_for)
from ._validation import check_positive_int
from .callbacks import LambdaCallback
from .errors import ModelFileError, NonFiniteError, UnknownObjectError

__all__ = ["main", "run", "make_parser", "train", "predict", "info", "write_outputs", "read_features",
           "is_classifier", "prediction_table", "csv_text", "every_nth_epoch", "CLIError", "PRESETS",
           "SETTINGS", "build_model", "parse_batch_size", "parse_layers", "read_config",
           "resolve_settings", "targets_for"]


class CLIError(Exception):
    """A usage error: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):          # one line instead of argparse's usage block
        raise CLIError(f"{message} (see '{self.prog} --help')")


def every_nth_epoch(n, epochs):
    """A callback printing one line every ``n`` epochs: a 5,000-epoch full-batch run would otherwise
    print 5,000 lines."""
    def report(epoch, logs):
        if (epoch + 1) % n == 0 or epoch + 1 == epochs:
            print(f"Epoch {epoch + 1}/{epochs} - " + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
    return LambdaCallback(on_epoch_end=report)


def train(settings, out, verbose=1, animate=False):
    """Train as ``settings`` say, print the final metrics and write the model, history and plots."""
    from . import datasets, plot
    _check_out_folder(out)                                 # fail before training, not after
    plot._require_matplotlib("learning_curve")
    if animate:
        try:
            import PIL  # noqa: F401
        except ImportError:
            raise ImportError("--animate needs Pillow: pip install 'glassnet[plot]'") from None
    (X, y), (X_test, y_test) = datasets.load(settings["dataset"])
    model = build_model(settings, X.shape[1])
    check_output_fits(model, y, settings)
    y_fit, y_test_fit = targets_for(model, y), targets_for(model, y_test)
    callbacks, fit_verbose = [], verbose
    if verbose == 1 and settings["epochs"] > 500:
        callbacks, fit_verbose = [every_nth_epoch(settings["epochs"] // 20, settings["epochs"])], 0
    recorder = None
    if animate:
        if X.shape[1] != 2:
            raise ValueError(f"--animate: needs 2-D data, {settings['dataset']} has {X.shape[1]} features")
        recorder = plot.BoundaryRecorder(X, y, every=max(1, settings["epochs"] // 40))
        callbacks.append(recorder)
    start = time.perf_counter()
    # NumPy's overflow warnings would only precede the NonFiniteError that explains them
    with np.errstate(all="ignore"):
        history = model.fit(X, y_fit, epochs=settings["epochs"], batch_size=settings["batch_size"],
                            verbose=fit_verbose, callbacks=callbacks)
    seconds = time.perf_counter() - start
    results = {"seconds": seconds, "epochs": len(history.epoch)}
    for split, (xs, ys) in (("train", (X, y_fit)), ("test", (X_test, y_test_fit))):
        loss, accuracy = model.evaluate(xs, ys)
        results.update({f"{split}_loss": loss, f"{split}_accuracy": accuracy})
    epochs = results["epochs"]
    print(f"trained {settings['dataset']} for {epochs} epoch{'' if epochs == 1 else 's'} in {seconds:.2f} s")
    print(f"train: loss {results['train_loss']:.4f} - accuracy {results['train_accuracy']:.4f}")
    print(f"test:  loss {results['test_loss']:.4f} - accuracy {results['test_accuracy']:.4f}")
    write_outputs(model, history, out, X, y, recorder)
    return model, results


def _check_out_folder(out):
    """``out`` must be a folder, or a path that ``os.makedirs`` can create (no file on the way), and
    the folder that exists must be writable: a read-only one would otherwise fail only after training."""
    if not isinstance(out, str) or not out:
        raise ValueError(f"--out: expected a folder to write into, got {out!r}")
    existing = out
    while existing and not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if existing and not os.path.isdir(existing):
        found = "a file" if existing == out else f"a path under the file {existing!r}"
        raise ValueError(f"--out: expected a folder to write into (or a path that does not exist yet), "
                         f"got {out!r}, {found}")
    folder = existing or os.curdir            # "runs/moons" with no "runs" yet: the current folder
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"--out: permission denied: cannot write into the folder {folder!r}, so {out!r} could "
                         f"not hold the files training writes")


OPTIONAL_OUTPUTS = ("decision_boundary.png", "decision_boundary.gif")   # only some runs write them


def write_outputs(model, history, out, X, y, recorder=None):
    """model.npz, history.csv, learning_curve.png, and for 2-D data decision_boundary.png (+ .gif)."""
    from . import plot
    from .io import save_model
    os.makedirs(out, exist_ok=True)
    paths = [os.path.join(out, "model.npz"), os.path.join(out, "history.csv"),
             os.path.join(out, "learning_curve.png")]
    save_model(model, paths[0], epoch=len(history.epoch))
    keys = list(history.history)
    write_text_atomically(paths[1], csv_text(
        [["epoch", *keys]] + [[epoch + 1, *(f"{history.history[k][i]:.6g}" for k in keys)]
                              for i, epoch in enumerate(history.epoch)]))
    plot.learning_curve(history, path=paths[2])
    if X.ndim == 2 and X.shape[1] == 2:
        paths.append(os.path.join(out, "decision_boundary.png"))
        plot.decision_boundary(model, X, y, path=paths[-1])
    if recorder is not None:
        paths.append(os.path.join(out, "decision_boundary.gif"))
        plot.animate_decision_boundary(recorder, paths[-1], fps=8)
    print("wrote " + ", ".join(paths))
    # an earlier run's optional plots are not this model's; say so rather than delete a user's file
    stale = [name for name in OPTIONAL_OUTPUTS
             if os.path.join(out, name) not in paths and os.path.exists(os.path.join(out, name))]
    if stale:
        print(f"note: {', '.join(stale)} in {out} {'is' if len(stale) == 1 else 'are'} from an earlier "
              f"run, not this one (left as {'it was' if len(stale) == 1 else 'they were'})",
              file=sys.stderr)


# -- predicting and inspecting --------------------------------------------------------------------
_DECIMAL_COMMA_HINT = "; decimal commas are not read: write 0.5, not 0,5"
_SPACES_HINT = "; values separated by spaces are not read: separate them by commas (or semicolons or tabs)"


def _spaced_numbers(row):
    """Whether ``row`` is one value holding several numbers separated by spaces ("1.5 2 3"): a
    space-separated file, which the CSV reader reads as one value a line."""
    return len(row) == 1 and len(row[0].split()) > 1 and _numeric(row[0].split())


def read_features(path, n_features):
    """Rows of numbers from a CSV file. A first row none of whose values is a number is a header;
    one with some numbers is data (a typo in it is an error, not a silently skipped row)."""
    rows = _csv_rows(path)
    header = None
    # a first line of numbers separated by spaces is data, not a header: its error below says why
    if rows and not any(_numeric([value]) for value in rows[0][1]) and not _spaced_numbers(rows[0][1]):
        header, rows = rows[0][1], rows[1:]
    if not rows:
        seen = (f" (its one row, {str(header)[:80]}, has no number, so it was read as a header; values "
                f"are separated by commas, or by semicolons or tabs)" if header is not None else "")
        raise ValueError(f"{path}: no data rows{seen}")
    data = []
    for line, row in rows:
        if len(row) != n_features:
            hint = ""
            if any(";" in value for value in row):       # "0,5;1,5": decimal commas beside semicolons
                hint = _DECIMAL_COMMA_HINT
            elif _spaced_numbers(row):                   # "0.5 1.5": read as one value
                hint = _SPACES_HINT
            elif len(row) == n_features + 1 and not row[-1].strip():
                hint = "; the line ends with a separator"
            raise ValueError(f"{path} line {line}: expected {n_features} values (the model's input "
                             f"features), got {len(row)}{hint}")
        values = _floats(row)
        if values is None:
            hint = _DECIMAL_COMMA_HINT if _numeric([c.replace(",", ".") for c in row]) else \
                _SPACES_HINT if _spaced_numbers(row) else ""
            raise ValueError(f"{path} line {line}: expected numbers, got {str(row)[:80]}{hint}")
        # float() reads "nan" and "inf": named here by the file's line, not later as "x: sample 0"
        if not all(map(math.isfinite, values)):
            raise ValueError(f"{path} line {line}: expected finite numbers (no NaN or infinity), got {str(row)[:80]}")
        data.append(values)
    return np.array(data)


def _csv_rows(path):
    """(line, row) for each non-blank row of a UTF-8 CSV file."""
    with open(path, "rb") as f:
        raw = f.read()
    # Excel's "CSV UTF-8" starts with a BOM, which would glue itself to the first value and make
    # the first data row look like a header
    bom = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    try:
        # decoded whole: a decoding error's offset is then the file's (a text file's reader decodes
        # in chunks, and reports the offset within the chunk)
        f = io.StringIO(raw[bom:].decode("utf-8"), newline="")
    except UnicodeDecodeError as exc:
        offset = bom + exc.start
        line = raw.count(b"\n", 0, offset) + 1
        raise ValueError(f"{path} line {line}: expected UTF-8 text, got byte "
                         f"{raw[offset]:#04x} at offset {offset}") from None
    try:
        reader = csv.reader(f, delimiter=_delimiter(f))
        return [(i, row) for i, row in enumerate(reader, 1) if any(c.strip() for c in row)]
    except csv.Error as exc:             # e.g. a field over csv.field_size_limit()
        raise ValueError(f"{path} line {reader.line_num}: not readable as CSV ({exc})") from None


def _delimiter(f):
    """"," unless the first non-blank line of the open file ``f`` has no comma but semicolons or tabs
    (spreadsheets in locales with a decimal comma write ";"); rewinds ``f``."""
    first = next((line for line in f if line.strip()), "")
    f.seek(0)
    if "," not in first:
        for candidate in (";", "\t"):
            if candidate in first:
                return candidate
    return ","


def _floats(row):
    """The row's values as floats, or None when one is no number."""
    try:
        return [float(c) for c in row]
    except ValueError:
        return None


def _numeric(row):
    return _floats(row) is not None


def is_classifier(model):
    """Whether ``predict`` should write class labels next to the outputs for ``model``.

    Only when the output is a probability (one sigmoid unit: of class 1) or a distribution (a
    softmax over a flat output). The label column is added, never substituted: a sigmoid trained
    as a regressor of values in (0, 1) still gets its raw output in the probability column. Several
    sigmoid units (multi-label) do not form one distribution, so they get raw columns.
    """
    activation = getattr(getattr(model._output_layer, "activation", None), "name", None)
    # trained on logits (no activation: a Dense's "linear", or a layer with none, a tied
    # embedding's reverse call): predict turns them into probabilities
    if getattr(model.loss, "from_logits", False) is True and activation in ("linear", None):
        activation = model.loss.applies
    if activation == "softmax":
        return len(model._sample_output_shape) == 1
    return activation == "sigmoid" and model._sample_output_shape == (1,)


def prediction_table(outputs, classifier=True):
    """Header and rows. A classifier's: the class label and the probabilities (sigmoid: of class 1);
    any other model's: its raw outputs, one column per output unit, ``y0, y1, ...``."""
    p = np.asarray(outputs).reshape(len(outputs), -1)
    if not classifier:
        return [f"y{k}" for k in range(p.shape[1])], [[f"{q:.6g}" for q in row] for row in p]
    if p.shape[1] == 1:
        return ["label", "probability"], [[int(q > 0.5), f"{q:.6g}"] for q in p[:, 0]]
    header = ["label", *(f"p{k}" for k in range(p.shape[1]))]
    return header, [[int(row.argmax()), *(f"{q:.6g}" for q in row)] for row in p]


def predict(model_path, data_path, out=None):
    from .io import load_model
    model = load_model(model_path)
    model._require_built("predict")
    if model._takes_text():          # its TextVectorization reads the texts: one a line
        try:
            with open(data_path, encoding="utf-8-sig", newline="") as f:
                lines = f.read().split("\n")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{data_path}: not UTF-8 text ({exc})") from None
        texts = [line.rstrip("\r") for line in (lines[:-1] if lines[-1] == "" else lines)]
        if not texts:
            raise ValueError(f"{data_path}: no texts (the model takes one text a line)")
        X = np.array(texts, dtype=object)
    elif model._heads is not None:
        raise CLIError(f"predict: the model has {len(model._heads)} outputs ({', '.join(model._output_labels())}), and "
                       f"the table holds one; use model.predict(x) in Python, which gives one array per output")
    elif len(getattr(model, "input_shapes", [None])) > 1:
        raise CLIError(f"predict: the model has {len(model.input_shapes)} inputs ({', '.join(model._input_names)}), "
                       f"which one CSV of rows cannot tell apart; call model.predict([x1, x2, ...]) in Python")
    elif None in model._sample_input_shape:
        raise CLIError(f"predict: the model reads samples of shape {model._sample_input_shape} (None: any length), which "
                       f"a CSV of one fixed-size row per sample cannot hold; call model.predict in Python")
    else:
        X = read_features(data_path, int(np.prod(model._sample_input_shape))).reshape(-1, *model._sample_input_shape)
    outputs = model.predict(X)
    if isinstance(outputs, dict):       # one output given as a dict (glassnet._dictoutputs): its array
        (outputs,) = outputs.values()
    if getattr(model.loss, "from_logits", False) is True and is_classifier(model):
        outputs = model.loss.probabilities(outputs)      # the logits of a model trained on them
    header, rows = prediction_table(outputs, is_classifier(model))
    text = csv_text([header, *rows])          # whole, before anything is written
    if out:
        write_text_atomically(out, text)
        print(f"wrote {len(rows)} predictions to {out}")
    else:
        sys.stdout.write(text)


def csv_text(rows):
    """The rows as one CSV text with "\\n" line ends (the whole table is built before any file is
    opened, and written with ``write_text_atomically``: never half a file)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def info(model_path):
    from .io import _read_for_info
    model, meta, headers = _read_for_info(model_path)
    if model is None:           # a weights-only file (save_weights of a model whose config a file cannot store)
        _print_weights_only(meta, headers)
        return
    model.summary()
    compiled = model.get_config()["compile"]
    if compiled is None:
        print("not compiled")
    else:
        _print_compile(model, compiled)
    # only ModelCheckpoint, the CLI and save_model(epoch=) record it; model.save() writes null
    # Keras' .keras and .h5 files have no epoch entry (their meta is Keras' version)
    epochs = "unknown (not recorded in the file)" if meta.get("epoch") is None else meta["epoch"]
    print(f"seed: {model.seed}\nepochs trained: {epochs}")


def _print_weights_only(meta, headers):
    """What ``info`` says of a weights-only file: that it is one, why, and its weights' shapes."""
    import math
    from ._weightsfile import printable      # the file's names and reason, escapes and all, shown as text
    reason = printable(" ".join(str(meta["reason"] or "not recorded").split()), 300)
    total = sum(math.prod(shape) for shape, _ in headers.values())
    print(f"weights only: no model to show (the model's config could not be stored: {reason})")
    print("build the model in code and call model.load_weights(path)")
    print(f"{len(meta['weights'])} weights, {total:,} values:")
    for i, entry in enumerate(meta["weights"]):
        shape, dtype = headers[f"weights/{i:03d}.npy"]
        print(f"  {printable(entry['layer'])}/{printable(entry['name'])}  {shape}  {dtype}")
    epochs = "unknown (not recorded in the file)" if meta["epoch"] is None else meta["epoch"]
    print(f"epochs trained: {epochs}")


def _registered_text(spec):
    """A loss's or optimizer's entry in a config as it reads: a built-in's name as it is, a class of
    the user's own (``{"registered_name": ..., "config": {...}}``) as ``Name(key=value, ...)``."""
    if not isinstance(spec, dict):
        return spec
    settings = ", ".join(f"{k}={v}" for k, v in (spec.get("config") or {}).items() if v is not None)
    return f"{spec['registered_name']}({settings})"


def _print_compile(model, compiled):
    """The loss, optimizer and metrics ``compiled`` (the model's config's "compile") records."""
    opt = compiled["optimizer"]
    if "registered_name" in opt:            # an optimizer of the user's own: its name, its settings
        opt = {"name": opt["registered_name"], **opt.get("config", {})}
    # a schedule as it reads in code, ExponentialDecay(...), not as its config dict
    opt_args = ", ".join(f"{k}={model.optimizer.schedule!r}" if k == "learning_rate" and model.optimizer.schedule
                         is not None else f"{k}={v}" for k, v in opt.items() if k != "name")
    if isinstance(compiled["loss"], list):      # one per output (glassnet.outputs): "name x weight"
        loss = ", ".join(f"{name}: {_registered_text(spec)}" + "".join(f" {key}={value}" for key, value in (changed or {}).items())
                         + (f" x {weight:g}" if weight != 1 else "") for name, spec, weight, changed in
                         zip(model._output_labels(), compiled["loss"], compiled["loss_weights"],
                             compiled.get("loss_config") or [None] * len(compiled["loss"])))
    else:
        loss = _registered_text(compiled["loss"]) + "".join(f" {key}={value}" for key, value in (compiled.get("loss_config") or {}).items())
        loss += f" x {compiled['loss_weights']:g}" if compiled.get("loss_weights") is not None else ""
    print(f"loss: {loss}\noptimizer: {opt['name']}({opt_args}), "
          f"{model.optimizer.iterations} steps taken\nmetrics: {', '.join(name for name, _ in model._compiled_metrics) or 'none'}")


def import_modules(names):
    """Import each of ``names`` (``--import``): a module name, found as ``python -m`` finds it (the
    working folder first), or a path to a ``.py`` file. Its classes and functions register
    themselves as they are defined (a ``Layer`` subclass), or by its ``register_serializable``
    decorators, so that a model file naming them can be read.

    Why an option: a model file never holds code, and loading one never imports what it names (a
    file could name any module); the user names the module to run, as ``custom_objects=`` does in
    Python."""
    for name in names:
        if name.endswith(".py") and not os.path.isfile(name):
            raise CLIError(f"--import: {name!r} is not a file")
        stem = os.path.splitext(os.path.basename(name))[0]
        if name.endswith(".py") and stem in sys.modules:
            # the file runs as the module of its name: a csv.py or json.py of the user's would
            # take the place of the module the program has already imported
            raise CLIError(f"--import {name!r}: a module named {stem!r} is already imported; rename the file, "
                           f"or give its module name (--import package.{stem})")
        try:
            _import_one(name)
        except Exception as exc:
            # one line naming the option and the module (a missing module, a SyntaxError or an
            # error its own code raised), not a traceback, nor a bare "No module named ..."
            raise CLIError(f"--import {name!r}: {type(exc).__name__}: {exc}{_raised_at(exc)}") from exc


def _raised_at(exc):
    """Where ``exc`` was raised, " (at FILE, line N)": the deepest line of the user's code in its
    traceback (not the import machinery's nor this module's); "" where there is none (a module
    not found), or where the message says it (a SyntaxError)."""
    import importlib
    machinery = os.path.dirname(importlib.__file__)
    frames = [] if isinstance(exc, SyntaxError) else [
        f for f in traceback.extract_tb(exc.__traceback__)
        if not (f.filename.startswith("<") or f.filename.startswith(machinery) or f.filename == __file__)]
    return f" (at {frames[-1].filename}, line {frames[-1].lineno})" if frames else ""


def _import_one(name):
    """Import the module ``name`` or the ``.py`` file at path ``name`` (see ``import_modules``)."""
    import importlib
    import importlib.util
    if name.endswith(".py"):
        spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(name))[0], name)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module        # as an import would: its classes' pickling, dataclasses
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(spec.name, None)   # as a failed import leaves no half-run module behind
            raise
    else:
        if os.getcwd() not in sys.path and "" not in sys.path:      # the `glassnet` script's path lacks it
            sys.path.insert(0, os.getcwd())
        importlib.import_module(name)


@contextlib.contextmanager
def _unknown_names_as_usage(command):
    """A model file that names a class or function of the user's own, unknown here: say how to give
    it from the command line (the library's message suggests ``custom_objects=``, a Python argument)."""
    try:
        yield
    except UnknownObjectError as exc:
        raise CLIError(f"{exc.name[:100]!r} is a class or function of your own, which the model file names and "
                       f"glassnet does not know: give the module that defines or registers it, 'glassnet {command} "
                       f"--import MODULE' (a module name, or a path to its .py file)") from None


# -- the command line -----------------------------------------------------------------------------
def make_parser():
    parser = _Parser(prog="glassnet", description="Neural networks in nothing but NumPy.")
    parser.add_argument("--version", action="version", version=f"glassnet {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    t = sub.add_parser("train", help="train a network on a built-in dataset")
    t.add_argument("dataset", nargs="?", help=f"one of {', '.join(sorted(PRESETS))}")
    t.add_argument("--config", help="a TOML file: architecture = [{input_dim=..}, ..] (or its [training] "
                   "layers = \"25:relu,1:sigmoid\") and [training] settings")
    t.add_argument("--layers", help="units:activation, comma-separated, e.g. 25:relu,1:sigmoid")
    t.add_argument("--loss", help=f"one of {', '.join(losses.LOSSES)}; or ce (crossentropy): the one the "
                                  f"labels and the last layer pick, as Keras' compile picks it")
    t.add_argument("--optimizer", help=f"one of {', '.join(optimizers.OPTIMIZERS)}")
    t.add_argument("--lr", type=float, help="learning rate")
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", dest="batch_size", help="an integer, or 'full' for full-batch")
    t.add_argument("--init", help="kernel initializer, e.g. glorot_uniform, he, xavier, plain")
    t.add_argument("--l2", type=float, help="L2 penalty factor on every kernel: l2 * sum(W^2) joins the loss")
    t.add_argument("--seed", type=int, help="fixes initial weights and shuffling (default 0)")
    t.add_argument("--out", help="output folder (default runs/DATASET)")
    t.add_argument("--animate", action="store_true", help="also write decision_boundary.gif (2-D data)")
    t.add_argument("--backend", choices=("numpy", "cupy"), default="numpy",
                   help="cupy: train on a GPU (pip install 'glassnet[gpu]'); the files written are the same")
    t.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                   help="0 silent, 1 progress bar (default), 2 one line per epoch")
    p = sub.add_parser("predict", help="predict the rows of a CSV file with a saved model")
    p.add_argument("model")
    p.add_argument("data", help="CSV of features, one sample per row (optional header); for a model that "
                   "starts with a TextVectorization, StringLookup or Hashing: a UTF-8 text file, one value a line")
    p.add_argument("--out", help="write the predictions to this CSV instead of printing them")
    i = sub.add_parser("info", help="print a saved model's summary and compile settings")
    i.add_argument("model")
    for command in (p, i):
        command.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                             help="import a module of your own first (a name, or a path to its .py file): one "
                             "that defines or registers the layers, losses or metrics the model file names")
    d = sub.add_parser("demo", help="train seed 000's moons network and write its plots")
    d.add_argument("--out", default="glassnet-demo", help="output folder (default glassnet-demo)")
    d.add_argument("--epochs", type=int, help="fewer epochs for a quicker look (default 200)")
    return parser


def run(args):
    if args.command == "train":
        settings = resolve_settings(args)
        previous = backend.get_backend()
        backend.set_backend(args.backend)       # an ImportError without CuPy: one line, from main
        try:
            # --out "" is refused by _check_out_folder (it names no folder), not read as "not given"
            out = os.path.join("runs", settings["dataset"]) if args.out is None else args.out
            train(settings, out, args.verbose, args.animate)
        finally:                                # main() may run inside a longer program (the tests)
            backend.set_backend(previous)
    elif args.command == "predict":
        import_modules(args.imports)
        with _unknown_names_as_usage("predict"):
            predict(args.model, args.data, args.out)
    elif args.command == "info":
        import_modules(args.imports)
        with _unknown_names_as_usage("info"):
            info(args.model)
    else:
        settings = {"seed": 0, "dataset": "moons", **PRESETS["moons"]}
        if args.epochs is not None:            # checked before the banner: an error is one line
            settings["epochs"] = check_positive_int(args.epochs, "--epochs")
        print("glassnet demo: seed 000's 2-25-50-50-25-1 network on two moons, SGD lr 0.1, batch 32")
        _, results = train(settings, args.out)
        print(f"test accuracy {results['test_accuracy']:.1%}; open {args.out}/decision_boundary.png")


def main(argv=None):
    """Entry point of the ``glassnet`` command; returns the exit status (0 ok, 2 error)."""
    try:
        run(make_parser().parse_args(argv))
        sys.stdout.flush()             # here, where a closed pipe is handled, rather than at exit
    except SystemExit as exc:          # --help and --version
        return exc.code
    except BrokenPipeError:            # `glassnet info m.npz | head -2`: the reader has had enough
        # Python would report the failed flush of stdout at exit: point stdout at nothing first
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (CLIError, ValueError, TypeError, ModelFileError, NonFiniteError, ImportError, OSError,
            MemoryError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        if isinstance(exc, MemoryError):
            message = f"out of memory ({message})"
        if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in message:
            message += f": {exc.filename}"
        print(f"glassnet: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("glassnet: interrupted", file=sys.stderr)
        return 130
    return 0
