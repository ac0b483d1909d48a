"""Every Keras 3.15 constructor argument that glassnet refuses, for every layer, loss and metric class
the two libraries share by name, is one this file lists (and docs/keras_parity.md's table of what is
still refused explains): a class made with each of Keras' arguments at Keras' default, where Keras
takes it and glassnet takes the class without it. A new refusal (a new class, a changed signature)
fails here, and so does an argument listed that glassnet now takes (the list is kept exact)."""
import inspect

import pytest

import glassnet as gn

# what each class needs to be made at all (Keras' required arguments), by argument name
SAMPLE = dict(units=2, filters=2, kernel_size=3, pool_size=2, rate=0.5, stddev=0.1, output_dim=2, input_dim=5,
              num_heads=2, key_dim=2, n=2, target_shape=(2,), dims=(1,), height=4, width=4, size=2, cropping=1,
              padding=1, num_tokens=3, num_bins=3, axes=1, num_query_heads=2, num_key_value_heads=1, head_dim=2,
              function=lambda x: x, equation="ab,bc->ac", output_shape=2, factor=0.2, value_range=(0, 1), scale=1.0,
              max_tokens=5, depth_multiplier=1, num_groups=1, groups=1, alpha=0.3, l1=0.0, l2=0.0, theta=0.5,
              mean=0.0, variance=1.0, brightness_factor=0.1, contrast_factor=0.1, saturation_factor=0.1,
              hue_factor=0.1, lower=0.0, upper=1.0, height_factor=0.1, width_factor=0.1, fill_value=0, keys=[1, 2],
              values=[1, 2], vocabulary=["a", "b"], bin_boundaries=[0.0, 1.0], shape=(2,), max_boxes=3)

# the classes made around another layer: (glassnet's or Keras' module) -> the wrapped layer
WRAPS = {"Bidirectional": lambda m: m.LSTM(2), "TimeDistributed": lambda m: m.Dense(2),
         "RNN": lambda m: m.SimpleRNNCell(2), "SpectralNormalization": lambda m: m.Dense(2),
         "StackedRNNCells": lambda m: [m.SimpleRNNCell(2)]}

# the image layers that do not move bounding boxes (the mixing ones, the elastic warp: docs/bounding_boxes.md)
IMAGE_LAYERS_WITHOUT_BOXES = {"AugMix", "ContrastLimitedAdaptiveHistogramEqualization", "CutMix",
                              "RandomElasticTransform"}
CELLS = {"SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells"}

# argument -> the classes that refuse it ("layers" family), with why (docs/keras_parity.md); taken
# since session 47: autocast (every layer), data_format of the four image layers, ConvLSTM's unroll,
# MultiHeadAttention's use_gate, the cells' dtype and trainable (tests/test_keras_args47.py)
KNOWN_LAYERS = {
    "bounding_box_format": IMAGE_LAYERS_WITHOUT_BOXES,     # boxes ride through no augmentation layer
    # Keras' own constructors refuse any value but None here
    "factor": {"AutoContrast", "CenterCrop", "ContrastLimitedAdaptiveHistogramEqualization", "Equalization",
               "MaxNumBoundingBoxes", "MixUp", "RandomCrop", "RandomFlip", "RandomShear", "RandomTranslation",
               "RandomZoom", "Resizing", "Solarization"},
    # a cell's activity penalty is its RNN layer's
    "activity_regularizer": CELLS,
    "gptq_unpacked_column_size": {"EinsumDense"},
}   # (taken since session 48: AdditiveAttention's score_mode, quantization_config of Dense, EinsumDense and
    # Embedding, both changing nothing as in Keras 3.15: tests/test_keras_args48.py)
KNOWN_OTHERS = {("losses", "Loss", "dtype")}    # the base class: a Loss of one's own sets no dtype here


def _required(cls):
    return {p.name: SAMPLE.get(p.name, 2) for p in inspect.signature(cls.__init__).parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.default is p.empty}


def _keras_arguments(cls):
    """Each argument Keras' class takes, with its default, through the base classes its **kwargs reach."""
    found = {}
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters.values()
        for p in params:
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self":
                found.setdefault(p.name, p.default)
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return found


def _make(cls, module, name, args):
    if name in WRAPS:
        return cls(WRAPS[name](module), **args)
    return cls(**args)


def _refused(keras):
    """``(refused, made)``: the (family, class, argument) refused, and how many layer classes were
    made at Keras' required arguments (how far the sweep reached)."""
    refused, made = set(), set()
    for family, theirs, ours in (("layers", keras.layers, gn.layers), ("losses", keras.losses, gn.losses),
                                 ("metrics", keras.metrics, gn.metrics)):
        for name in sorted(dir(theirs)):
            k_cls, g_cls = getattr(theirs, name), getattr(ours, name, None)
            if (not inspect.isclass(k_cls) or name.startswith("_") or not inspect.isclass(g_cls)
                    or name in ("Layer", "Wrapper", "InputLayer", "Input", "InputSpec")):
                continue
            required = {} if name in WRAPS else _required(k_cls)
            for argument, default in _keras_arguments(k_cls).items():
                if argument in required or default is inspect.Parameter.empty:
                    continue
                args = {**required, argument: default}
                try:
                    _make(k_cls, theirs, name, args)
                except Exception:       # not one Keras takes so (or it needs more than its default)
                    continue
                try:
                    _make(g_cls, ours, name, args)
                except Exception:
                    try:
                        _make(g_cls, ours, name, required)
                    except Exception:   # glassnet's class needs more to be made at all: not this argument
                        continue
                    refused.add((family, name, argument))
                else:
                    made.add((family, name))
    return refused, made


def test_the_keras_arguments_glassnet_refuses_are_the_documented_ones():
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    if not keras.__version__.startswith("3.15"):
        pytest.skip(f"the list is Keras 3.15's; this is {keras.__version__}")
    refused, made = _refused(keras)
    known = set(KNOWN_OTHERS)
    for argument, classes in KNOWN_LAYERS.items():
        known |= {("layers", name, argument) for name in classes}
    assert sorted(refused - known) == [], "refused, not listed (take it, or list it and say why in the docs)"
    assert sorted(known - refused) == [], "listed, now taken (take it off the list and the docs' table)"
    # the sweep reached every shared layer class (over a hundred) with some argument glassnet takes
    assert sum(1 for family, _ in made if family == "layers") > 100
