"""FeatureSpace: a dict of raw columns (numbers, integer codes, strings) encoded as one float32
matrix, Keras' ``keras.utils.FeatureSpace`` (keras.io's "Structured data classification with
FeatureSpace" tutorial), composed of glassnet's preprocessing layers.

Each feature gets a preprocessor (Normalization, Discretization, IntegerLookup, StringLookup,
Hashing, Rescaling or Identity), ``adapt`` learns their statistics and vocabularies, crosses hash
pairs of *preprocessed* features with HashedCrossing, categorical results become one-hot vectors
(CategoryEncoding, "multi_hot" of one value), and everything is concatenated in Keras' order: the
features by sorted name, then the crosses by sorted name. The values equal Keras 3.15's.

    fs = FeatureSpace({"age": "float_discretized", "thal": "string_categorical"},
                      crosses=[("age", "thal")])
    fs.adapt({"age": ages, "thal": thals})           # dicts of arrays or lists, (n,) or (n, 1)
    x = fs({"age": ages, "thal": thals})             # float32 (n, total width)

``get_inputs()`` and ``get_encoded_features()`` give the same encoding as a graph of glassnet
layers, to draw a functional ``gn.Model`` on that takes the raw dicts (see ``FeatureSpace``).
"""
import json
from collections.abc import Mapping

import numpy as np

from . import backend
from ._atomic import write_atomically
from .layers import (CategoryEncoding, Concatenate, Discretization, Hashing, HashedCrossing, Identity, Input,
                     IntegerLookup, Normalization, Rescaling, StringLookup, TextVectorization)
from .layers.serializing import deserialize, serialize

OUTPUT_MODES = ("concat", "dict")
FEATURE_MODES = ("int", "one_hot", "float")
FEATURE_DTYPES = ("float32", "int32", "int64", "string")
# the feature types given by name, with FeatureSpace's own defaults (num_bins: num_discretization_bins, ...)
FEATURE_TYPES = ("float", "float_rescaled", "float_normalized", "float_discretized", "integer_categorical",
                 "string_categorical", "integer_hashed", "string_hashed")
FORMAT = "glassnet.FeatureSpace/1"      # what save writes and load checks


def _check_mode(value, name, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r:.60}")
    return value


def _check_count(value, name):
    """``value`` if a positive integer (a number of bins), else a ValueError naming ``name``: the
    argument the user gave, not the layer's ``num_bins`` it becomes."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer (a number of bins), got {value!r:.60}")
    return int(value)


class Cross:
    """Features crossed into ``crossing_dim`` hash bins (Keras' ``FeatureSpace.cross``): its name is
    the feature names joined by ``"_X_"``, e.g. ``"sex_X_age"``."""

    def __init__(self, feature_names, crossing_dim, output_mode="one_hot"):
        if isinstance(feature_names, str) or not all(isinstance(n, str) for n in feature_names):
            raise TypeError(f"FeatureSpace.cross: feature_names must be a tuple of feature names (str), got "
                            f"{feature_names!r:.80}")
        self.feature_names = tuple(feature_names)
        if len(self.feature_names) < 2:
            raise ValueError(f"FeatureSpace.cross: feature_names must name two or more features, got "
                             f"{self.feature_names}")
        self.crossing_dim = _check_count(crossing_dim, "FeatureSpace.cross: crossing_dim")
        self.output_mode = _check_mode(output_mode, "FeatureSpace.cross: output_mode", ("int", "one_hot"))

    @property
    def name(self):
        return "_X_".join(self.feature_names)

    def get_config(self):
        return {"feature_names": list(self.feature_names), "crossing_dim": self.crossing_dim,
                "output_mode": self.output_mode}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class Feature:
    """One feature: the ``dtype`` its column holds ("float32", "int32", "string"), the glassnet layer
    that preprocesses it, and ``output_mode``: "float" (the preprocessor's values), "int" (its
    integer codes) or "one_hot" (the codes as one-hot vectors)."""

    def __init__(self, dtype, preprocessor, output_mode):
        self.output_mode = _check_mode(output_mode, "FeatureSpace.feature: output_mode", FEATURE_MODES)
        self.dtype = _check_mode(dtype, "FeatureSpace.feature: dtype", FEATURE_DTYPES)
        if isinstance(preprocessor, dict):
            preprocessor = deserialize(preprocessor)
        if not callable(preprocessor):
            raise TypeError(f"FeatureSpace.feature: preprocessor must be a glassnet layer, got "
                            f"{type(preprocessor).__name__}")
        self.preprocessor = preprocessor

    def get_config(self):
        return {"dtype": self.dtype, "preprocessor": serialize(self.preprocessor), "output_mode": self.output_mode}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _layer_name(name, kind):
    return f"{name or kind}_preprocessor"


def _column(value, name, what):
    """A feature's values as a column (n, 1): ``(n,)`` and ``(n, 1)`` taken; scalars are the
    caller's to handle."""
    array = np.asarray(backend.to_numpy(value))
    if array.ndim == 1:
        return array.reshape(-1, 1)
    if array.ndim == 2 and array.shape[1] == 1:
        return array
    raise ValueError(f"FeatureSpace: {what}[{name!r}] must hold one value per sample, shape (n,) or (n, 1), "
                     f"got shape {array.shape}")


class FeatureSpace:
    """Raw structured data (a dict of columns) as one float32 matrix, Keras' ``FeatureSpace``.

    Parameters
    ----------
    features : dict {name: type}
        Each type a name from ``FEATURE_TYPES`` ("float", "float_normalized", "string_categorical",
        ...; with FeatureSpace's defaults) or what ``FeatureSpace.float_normalized()``,
        ``.integer_categorical(num_oov_indices=0)``, ... return (settings of your own).
    output_mode : {"concat", "dict"}
        "concat": one float32 array (n, total width); "dict": {name: (n, width)} per feature and cross.
    crosses : list, optional
        Tuples of feature names, crossed into ``crossing_dim`` bins, or ``FeatureSpace.cross(...)``.
    crossing_dim, hashing_dim, num_discretization_bins : int
        The defaults of crosses, of "*_hashed" and of "float_discretized" features given by name.
    name : str, optional

    Calling it on a dict of columns (each (n,) or (n, 1); one scalar per feature is one sample,
    and the batch axis is then dropped, as in Keras) gives the encoded features; keys of the dict
    that are not features are ignored (Keras raises a KeyError). ``adapt`` must come first when
    a preprocessor learns from data.

    ``get_inputs()`` gives ``{name: gn.Input((1,), dtype=...)}`` and ``get_encoded_features()`` the
    symbolic tensor (concat) or dict of them computed from those Inputs by the same layers, so
    ``gn.Model(fs.get_inputs(), Dense(1)(fs.get_encoded_features()))`` takes the raw dicts. Unlike
    Keras, glassnet cannot make a model whose input is ``get_encoded_features()`` itself (its
    models start at ``Input``s): train a model on ``gn.Input((width,))`` with ``fs(data)``, then
    call it on the encoded features for the model of raw dicts. The graph computes in the model's
    float32 (integer codes up to 2**24 are exact); Keras' DataLayer-on-tf.data machinery has no
    counterpart. ``save``/``load`` keep the adapted state in an .npz (no pickle); Keras'
    ``keras.models.load_model`` of a FeatureSpace is ``FeatureSpace.load`` here.

    Example
    -------
    >>> fs = FeatureSpace({"x": "float_normalized", "c": "string_categorical"})
    >>> fs.adapt({"x": [0.0, 2.0], "c": ["a", "b"]})
    >>> fs({"x": [0.0], "c": ["b"]}).tolist()     # "c" one-hot over [OOV, "b", "a"], then "x"
    [[0.0, 1.0, 0.0, -1.0]]
    """

    # -- feature types (Keras' class methods) ------------------------------------------------------
    @classmethod
    def cross(cls, feature_names, crossing_dim, output_mode="one_hot"):
        return Cross(feature_names, crossing_dim, output_mode=output_mode)

    @classmethod
    def feature(cls, dtype, preprocessor, output_mode):
        return Feature(dtype, preprocessor, output_mode)

    @classmethod
    def float(cls, name=None):
        return Feature("float32", Identity(name=_layer_name(name, "float")), "float")

    @classmethod
    def float_rescaled(cls, scale=1.0, offset=0.0, name=None):
        return Feature("float32", Rescaling(scale, offset=offset, name=_layer_name(name, "float_rescaled")), "float")

    @classmethod
    def float_normalized(cls, name=None):
        return Feature("float32", Normalization(axis=-1, name=_layer_name(name, "float_normalized")), "float")

    @classmethod
    def float_discretized(cls, num_bins, bin_boundaries=None, output_mode="one_hot", name=None):
        layer = Discretization(num_bins=num_bins, bin_boundaries=bin_boundaries,
                               name=_layer_name(name, "float_discretized"))
        return Feature("float32", layer, output_mode)

    @classmethod
    def integer_categorical(cls, max_tokens=None, num_oov_indices=1, output_mode="one_hot", name=None):
        layer = IntegerLookup(max_tokens=max_tokens, num_oov_indices=num_oov_indices,
                              name=_layer_name(name, "integer_categorical"))
        return Feature("int32", layer, output_mode)

    @classmethod
    def string_categorical(cls, max_tokens=None, num_oov_indices=1, output_mode="one_hot", name=None):
        layer = StringLookup(max_tokens=max_tokens, num_oov_indices=num_oov_indices,
                             name=_layer_name(name, "string_categorical"))
        return Feature("string", layer, output_mode)

    @classmethod
    def string_hashed(cls, num_bins, output_mode="one_hot", name=None):
        return Feature("string", Hashing(num_bins, name=_layer_name(name, "string_hashed")), output_mode)

    @classmethod
    def integer_hashed(cls, num_bins, output_mode="one_hot", name=None):
        return Feature("int32", Hashing(num_bins, name=_layer_name(name, "integer_hashed")), output_mode)

    # -- making one ---------------------------------------------------------------------------------
    def __init__(self, features, output_mode="concat", crosses=None, crossing_dim=32, hashing_dim=32,
                 num_discretization_bins=32, name=None):
        if not isinstance(features, Mapping) or not features:
            raise ValueError(f"FeatureSpace: features must be a non-empty dict {{name: type}}, got {features!r:.80}")
        if not all(isinstance(key, str) for key in features):
            raise ValueError(f"FeatureSpace: features' names must be strings (they name the Inputs), got "
                             f"{list(features)!r:.80}")
        self.output_mode = _check_mode(output_mode, "FeatureSpace: output_mode", OUTPUT_MODES)
        self.crossing_dim, self.hashing_dim = crossing_dim, hashing_dim
        self.num_discretization_bins = num_discretization_bins
        self.name = name or "feature_space"
        self.features = {key: self._standardize_feature(key, value) for key, value in features.items()}
        self.crosses = [self._standardize_cross(cross) for cross in crosses or []]
        self.crosses_by_name = {cross.name: cross for cross in self.crosses}
        for cross in self.crosses:
            # a feature and a cross of one name would share one slot of the output (the cross's codes)
            if cross.name in self.features:
                raise ValueError(f"FeatureSpace: crosses: the cross {cross.feature_names} is named {cross.name!r}, as "
                                 f"a feature is; rename that feature")
        if self.output_mode == "concat":
            # Keras finds this when it first builds; nothing concatenates integer codes
            coded = [n for n, s in [*self.features.items(), *self.crosses_by_name.items()] if s.output_mode == "int"]
            if coded:
                raise ValueError(f"FeatureSpace: cannot concatenate {coded[0]!r}, which has output_mode='int' "
                                 f"(integer codes, not encoded); use output_mode='dict' or its 'one_hot'")
        self.preprocessors = {key: feature.preprocessor for key, feature in self.features.items()}
        taken = set()
        for key, layer in self.preprocessors.items():
            # FeatureSpace.integer_categorical() twice names two layers alike (Keras numbers them);
            # a model drawn on the encoded features needs its layers' names distinct
            if layer.name in taken:
                layer.name, number = f"{key}_preprocessor", 1
                while layer.name in taken:      # (another feature's layer may have been named so)
                    layer.name, number = f"{key}_preprocessor_{number}", number + 1
            taken.add(layer.name)
        self.crossers = {cross.name: HashedCrossing(cross.crossing_dim, name=cross.name) for cross in self.crosses}
        # glassnet's graph hands the values of an Input of dtype "string" to the layer reading it
        # (a lookup, Hashing) as they come; the one Hashing an integer feature (Keras hashes the
        # digits) must read them so, codes and all
        self.inputs = {key: Input((1,), name=key, dtype="string" if getattr(feature.preprocessor, "takes_text", False)
                                  else feature.dtype) for key, feature in self.features.items()}
        # Keras' concatenation order: the features by sorted name, then the crosses by sorted name
        self._names = sorted(self.features) + sorted(self.crosses_by_name)
        self.one_hot_encoders, self.encoded_features = {}, None
        self._is_adapted = False

    def _standardize_feature(self, key, value):
        if isinstance(value, Feature):
            return value
        if isinstance(value, dict):
            return Feature.from_config(value.get("config", value))
        if not isinstance(value, str) or value not in FEATURE_TYPES:
            raise ValueError(f"FeatureSpace: features[{key!r}]: invalid feature type {value!r:.60}; expected one of "
                             f"{list(FEATURE_TYPES)} or a FeatureSpace.<type>(...) object")
        if value == "float_discretized":
            bins = _check_count(self.num_discretization_bins, "FeatureSpace: num_discretization_bins")
            return self.float_discretized(bins, name=key)
        if value in ("integer_hashed", "string_hashed"):
            return getattr(self, value)(_check_count(self.hashing_dim, "FeatureSpace: hashing_dim"), name=key)
        return getattr(self, value)(name=key)

    def _standardize_cross(self, cross):
        if isinstance(cross, dict):
            cross = Cross.from_config(cross.get("config", cross))
        if not isinstance(cross, Cross):
            if not self.crossing_dim:
                raise ValueError("FeatureSpace: crosses were given without a crossing_dim (the number of bins)")
            cross = Cross(cross, _check_count(self.crossing_dim, "FeatureSpace: crossing_dim"))
        unknown = [n for n in cross.feature_names if n not in self.features]
        if unknown:
            raise ValueError(f"FeatureSpace: crosses: {cross.feature_names} names {unknown[0]!r}, which is not in "
                             f"features ({sorted(self.features)})")
        return cross

    # -- learning from data -------------------------------------------------------------------------
    def _adaptable(self):
        """The features whose preprocessor learns from data and has not been given what it learns."""
        out = []
        for key, layer in self.preprocessors.items():
            if isinstance(layer, Normalization) and layer.input_mean is not None:
                continue        # mean and variance given
            if isinstance(layer, Discretization) and layer.num_bins is None:
                continue        # bin_boundaries given (Keras would fail in adapt here)
            if isinstance(layer, (IntegerLookup, TextVectorization)) and layer._given:
                continue        # vocabulary given (Keras skips a TextVectorization so too)
            if hasattr(layer, "adapt"):
                out.append(key)
        return out

    def adapt(self, data):
        """Learn each preprocessor's statistics or vocabulary from ``data``: a dict {name: column}
        of arrays or lists, (n,) or (n, 1), or a ``tf.data.Dataset`` yielding such dicts (batched or
        not; ``(x, y)`` pairs give their x). Keys that are no adaptable feature are ignored.

        The batches each layer sees are Keras': a dict's (n,) column is read 32 values at a time,
        an (n, 1) column one row at a time, a dataset's batches as they come; Discretization's
        approximate quantiles depend on them, so its boundaries equal Keras' this way."""
        names = self._adaptable()
        batches = self._adapt_batches(data, names)
        for key in names:
            layer = self.preprocessors[key]
            if self.features[key].dtype == "float32":
                batches[key] = [b.astype(np.float32) if b.dtype.kind in "biuf" else b for b in batches[key]]
            try:
                if isinstance(layer, Discretization):
                    layer.adapt(batches[key])
                else:       # vocabularies and moments do not depend on the batching: one array
                    layer.adapt(np.concatenate(batches[key], axis=0))
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"FeatureSpace: adapt: feature {key!r}: {exc}") from None
        self._is_adapted = True
        self._build_encoders()
        # adapted again: the one-hot widths may have changed, so the graph is drawn anew on the new
        # encoders (models drawn before keep the old ones)
        self.encoded_features = None

    def _adapt_batches(self, data, names):
        """{name: list of (b, 1) arrays}, batched as Keras' adapt batches them (see ``adapt``)."""
        out = {key: [] for key in names}
        if isinstance(data, Mapping):
            for key in names:
                if key not in data:
                    raise ValueError(f"FeatureSpace: adapt: data has no feature {key!r} (keys: {sorted(data)!r:.200})")
                array = np.asarray(backend.to_numpy(data[key]))
                if array.ndim == 1:
                    out[key] = [array[i:i + 32].reshape(-1, 1) for i in range(0, len(array), 32)]
                elif array.ndim == 2:       # each row an element of Keras' dataset: a batch of its own
                    out[key] = [row.reshape(-1, 1) for row in array]
                else:
                    raise ValueError(f"FeatureSpace: adapt: data[{key!r}] must have shape (n,) or (n, 1), got "
                                     f"{array.shape}")
                if not out[key]:
                    raise ValueError(f"FeatureSpace: adapt: data[{key!r}] holds no values")
            return out
        if not hasattr(data, "as_numpy_iterator"):
            raise TypeError(f"FeatureSpace: adapt: data must be a dict of arrays or lists {{name: column}} (or a "
                            f"tf.data.Dataset of such dicts), got {type(data).__name__}")
        scalars = {key: [] for key in names}
        for element in data.as_numpy_iterator():
            if isinstance(element, tuple):
                element = element[0]
            if not isinstance(element, Mapping):
                raise TypeError(f"FeatureSpace: adapt: the dataset must yield dicts of features, got "
                                f"{type(element).__name__}")
            for key in names:
                if key not in element:
                    raise ValueError(f"FeatureSpace: adapt: the dataset has no feature {key!r}")
                value = np.asarray(element[key])
                if value.ndim == 0:     # unbatched: Keras batches 32 of them
                    scalars[key].append(value)
                    if len(scalars[key]) == 32:
                        out[key].append(np.stack(scalars[key]).reshape(-1, 1))
                        scalars[key] = []
                else:
                    out[key].append(_column(value, key, "adapt: a batch"))
        for key in names:
            if scalars[key]:
                out[key].append(np.stack(scalars[key]).reshape(-1, 1))
            if not out[key]:
                raise ValueError(f"FeatureSpace: adapt: the dataset holds no values of {key!r}")
        return out

    def _check_if_adapted(self):
        if not self._is_adapted:
            if self._adaptable():
                raise ValueError("FeatureSpace: call adapt(data) before using it: its preprocessors "
                                 f"{self._adaptable()} learn from data")
            self._is_adapted = True
            self._build_encoders()

    def _cardinality(self, key, layer):
        """How many categories a one-hot feature or cross has (Keras' rule per layer type)."""
        if isinstance(layer, IntegerLookup):        # StringLookup too
            return layer.vocabulary_size()
        if isinstance(layer, CategoryEncoding):
            return layer.num_tokens
        if isinstance(layer, Discretization):
            return layer.num_bins if layer.num_bins is not None else layer.depth
        if isinstance(layer, (Hashing, HashedCrossing)):
            return layer.num_bins
        raise ValueError(f"FeatureSpace: feature {key!r} has output_mode='one_hot', but the size of its "
                         f"preprocessor's ({type(layer).__name__}) output is unknown; use output_mode='int'")

    def _build_encoders(self):
        self.one_hot_encoders = {}
        for key in self._names:
            spec = self.features.get(key) or self.crosses_by_name[key]
            if spec.output_mode == "one_hot":
                layer = self.preprocessors.get(key) or self.crossers[key]
                self.one_hot_encoders[key] = CategoryEncoding(self._cardinality(key, layer), output_mode="multi_hot",
                                                              name=f"{key}_one_hot")

    # -- encoding -----------------------------------------------------------------------------------
    def _as_dtype(self, key, column):
        if self.features[key].dtype == "float32" and column.dtype.kind in "biuf":
            return column.astype(np.float32)        # Keras' float features are float32
        return column

    def __call__(self, data):
        """data: {name: column} of one batch, each (n,) or (n, 1) (or one scalar per feature: one
        sample). Returns float32 (n, width) ("concat") or {name: (n, width)} ("dict"; "int"
        features (n, 1) int64), without the batch axis for scalars."""
        self._check_if_adapted()
        if not isinstance(data, Mapping):
            raise TypeError(f"FeatureSpace: data must be a dict {{name: column}}, got {type(data).__name__}")
        columns, rebatched = {}, False
        for key in self.features:
            if key not in data:
                raise ValueError(f"FeatureSpace: data has no feature {key!r} (keys: {sorted(data)!r:.200})")
            try:
                value = np.asarray(backend.to_numpy(data[key]))
            except NotImplementedError:
                # TensorFlow's refusal of a symbolic tf.Tensor: the call is inside tf.data's map,
                # Keras' tutorial's ds.map(lambda x, y: (feature_space(x), y)), which no NumPy code can run in
                raise TypeError(f"FeatureSpace: data[{key!r}] is a symbolic tf.Tensor (the call is inside a "
                                f"tf.data map?): glassnet's FeatureSpace computes in NumPy; encode arrays or "
                                f"a batch's eager tensors (feature_space(batch)), or fit the model drawn on "
                                f"get_inputs() and get_encoded_features() on the raw dataset") from None
            if value.ndim == 0:
                value, rebatched = value.reshape(1, 1), True
            columns[key] = self._as_dtype(key, _column(value, key, "data"))
        sizes = {len(c) for c in columns.values()}
        if len(sizes) > 1:
            raise ValueError(f"FeatureSpace: data's features must have one number of samples, got "
                             f"{ {k: len(c) for k, c in columns.items()} }")
        coded = {}
        for key, column in columns.items():
            try:
                out = np.asarray(self.preprocessors[key](column))
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"FeatureSpace: feature {key!r}: {exc}") from None
            if self.features[key].output_mode != "float" and out.dtype.kind == "f":
                out = out.astype(np.int64)      # Discretization's buckets come as floats: codes
            coded[key] = out
        for cross in self.crosses:
            try:
                coded[cross.name] = self.crossers[cross.name]([coded[n] for n in cross.feature_names])
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"FeatureSpace: cross {cross.name!r}: {exc}") from None
        encoded = {key: self.one_hot_encoders[key](coded[key]) if key in self.one_hot_encoders else coded[key]
                   for key in self._names}
        if self.output_mode == "concat":
            out = np.concatenate([encoded[key].astype(np.float32, copy=False) for key in self._names], axis=-1)
            return out[0] if rebatched else out
        if rebatched:
            encoded = {key: value[0] for key, value in encoded.items()}
        return encoded

    # -- as a graph of layers, for a functional Model -----------------------------------------------
    def get_inputs(self):
        """{name: gn.Input((1,), name=name, dtype=...)}: the inputs of a model drawn on
        ``get_encoded_features()`` (the same dict each time)."""
        self._check_if_adapted()
        return self.inputs

    def get_encoded_features(self):
        """The symbolic tensor (concat: shape (None, width)) or dict of them the same layers compute
        from ``get_inputs()``; drawn once, then the same each time."""
        self._check_if_adapted()
        if self.encoded_features is None:
            coded = {key: self.preprocessors[key](self.inputs[key]) for key in self.features}
            for cross in self.crosses:
                coded[cross.name] = self.crossers[cross.name]([coded[n] for n in cross.feature_names])
            encoded = {key: self.one_hot_encoders[key](coded[key]) if key in self.one_hot_encoders else coded[key]
                       for key in self._names}
            tensors = [encoded[k] for k in self._names]
            if self.output_mode == "dict":
                self.encoded_features = encoded
            elif len(tensors) == 1:      # Concatenate merges two or more; one is its own concatenation
                self.encoded_features = tensors[0]
            else:
                self.encoded_features = Concatenate(axis=-1, name=f"{self.name}_concat")(tensors)
        return self.encoded_features

    # -- settings and files -------------------------------------------------------------------------
    def get_config(self):
        """The settings, Keras' keys; each preprocessor's config holds its vocabulary or bin
        boundaries once adapted (a Normalization's mean and variance are weights: ``save`` keeps them)."""
        return {"features": {key: {"class_name": "Feature", "config": f.get_config()} for key, f in self.features.items()},
                "output_mode": self.output_mode,
                "crosses": [{"class_name": "Cross", "config": c.get_config()} for c in self.crosses],
                "crossing_dim": self.crossing_dim, "hashing_dim": self.hashing_dim,
                "num_discretization_bins": self.num_discretization_bins, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def save(self, filepath):
        """Write the settings and the adapted state to ``filepath`` (an .npz: JSON config and the
        Normalization statistics as arrays; no pickle), atomically. Read it back with ``load``."""
        self._check_if_adapted()
        arrays = {"format": np.frombuffer(FORMAT.encode(), np.uint8),
                  "config": np.frombuffer(json.dumps(self.get_config()).encode(), np.uint8)}
        for i, key in enumerate(sorted(self.features)):
            for what, value in getattr(self.preprocessors[key], "state", {}).items():
                arrays[f"state_{i}_{what}"] = np.asarray(backend.to_numpy(value))
        write_atomically(filepath, lambda f: np.savez(f, **arrays))

    @classmethod
    def load(cls, filepath):
        """The FeatureSpace ``save`` wrote to ``filepath``, adapted as it was."""
        with np.load(filepath, allow_pickle=False) as stored:
            if "format" not in stored or bytes(stored["format"]).decode() != FORMAT:
                raise ValueError(f"FeatureSpace.load: {filepath!r} is not a file FeatureSpace.save wrote")
            space = cls.from_config(json.loads(bytes(stored["config"]).decode()))
            for i, key in enumerate(sorted(space.features)):
                layer = space.preprocessors[key]
                state = {k.split("_", 2)[2]: stored[k] for k in stored.files if k.startswith(f"state_{i}_")}
                if state:       # a Normalization: build it for the stored shape, then its statistics
                    layer.dtype = np.dtype(np.float32) if layer.dtype is None else layer.dtype
                    layer.build(state["mean"].shape or (1,))
                    for what, value in state.items():
                        layer.state[what][...] = value
                    layer._adapted = True
        space._is_adapted = True
        space._build_encoders()
        return space
