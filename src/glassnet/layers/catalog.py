"""Where each built-in layer lives, so that ``glassnet.layers`` can import a module only when one of
its layers is first asked for.

``import glassnet`` needs a handful of layer modules (the base class, Input, Dense, masks); the
other forty or so hold layers a given program mostly never touches (spectrograms, colour
augmentations, lookups), and importing them all cost about a third of ``import glassnet``. So
``glassnet.layers.Conv2D`` imports ``glassnet.layers.conv`` on first use (PEP 562's module
``__getattr__``), and ``load_all`` imports every module where the whole registry is needed: a
model file or config naming a class not loaded yet, or ``glassnet.layers.LAYERS`` read by a user.

This module imports nothing: ``base`` reads it while it is itself being imported.
"""

# module of glassnet.layers -> the public names it defines (a test holds this table to the modules)
HOMES = {
    "input": ("Input", "InputLayer"),
    "dense": ("Dense",),
    "einsum_dense": ("EinsumDense",),
    "attention": ("AdditiveAttention", "Attention", "AttentionScores", "GroupedQueryAttention",
                  "MultiHeadAttention"),
    "embedding": ("Embedding",),
    "masking": ("Masking",),
    "recurrent": ("GRU", "LSTM", "LastState", "SimpleRNN"),
    "rnn": ("GRUCell", "LSTMCell", "RNN", "SimpleRNNCell", "StackedRNNCells"),
    "cell_loop": ("Cell",),
    "wrappers": ("Bidirectional", "SpectralNormalization", "TimeDistributed", "Wrapper"),
    "unmerged": ("BackwardOutput",),
    "pipeline": ("Pipeline",),
    "conv_lstm": ("ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"),
    "activation": ("Activation", "ELU", "LeakyReLU", "PReLU", "ReLU", "Softmax"),
    "conv": ("Conv1D", "Conv1DTranspose", "Conv2D", "Conv2DTranspose", "Conv3D", "Conv3DTranspose"),
    "depthwise": ("DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D"),
    "pooling": ("AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "GlobalAveragePooling1D",
                "GlobalAveragePooling2D", "GlobalAveragePooling3D", "GlobalMaxPooling1D",
                "GlobalMaxPooling2D", "GlobalMaxPooling3D", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D"),
    "adaptive_pooling": ("AdaptiveAveragePooling1D", "AdaptiveAveragePooling2D", "AdaptiveAveragePooling3D",
                         "AdaptiveMaxPooling1D", "AdaptiveMaxPooling2D", "AdaptiveMaxPooling3D"),
    "reshape": ("Flatten", "Permute", "RepeatVector", "Reshape"),
    "depth_space": ("DepthToSpace", "SpaceToDepth"),
    "regularization": ("AlphaDropout", "BatchNormalization", "Dropout", "GaussianDropout", "GaussianNoise",
                       "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"),
    "spatial": ("Cropping1D", "Cropping2D", "Cropping3D", "UpSampling1D", "UpSampling2D", "UpSampling3D",
                "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D"),
    "layer_scale": ("LayerScale",),
    "custom_scale": ("CustomScaleLayer",),
    "stochastic_depth": ("StochasticDepth",),
    "normalization": ("GroupNormalization", "LayerNormalization", "RMSNormalization", "UnitNormalization"),
    "preprocessing": ("Normalization",),
    "text": ("TextVectorization",),
    "encoding": ("CategoryEncoding",),
    "discretization": ("Discretization",),
    "lookup": ("IntegerLookup", "StringLookup"),
    "hashing": ("Hashing",),
    "hashed_crossing": ("HashedCrossing",),
    "reversible_embedding": ("ReversibleEmbedding",),
    "spectrogram": ("MelSpectrogram",),
    "stft_spectrogram": ("STFTSpectrogram",),
    "utility": ("ActivityRegularization", "Identity", "Lambda", "Rescaling"),
    "resizing": ("CenterCrop", "RandomCrop", "Resizing"),
    "augmentation": ("RandomBrightness", "RandomContrast", "RandomFlip", "RandomRotation", "RandomShear",
                     "RandomTranslation", "RandomZoom"),
    "perspective": ("RandomPerspective",),
    "blur": ("RandomGaussianBlur",),
    "erasing": ("RandomErasing",),
    "color_augmentation": ("AutoContrast", "RandomColorDegeneration", "RandomGrayscale", "RandomInvert",
                           "RandomPosterization", "Solarization"),
    "hsv_augmentation": ("RandomHue", "RandomSaturation"),
    "mixing": ("CutMix", "MixUp"),
    "sharpness": ("RandomSharpness",),
    "equalization": ("Equalization",),
    "clahe": ("ContrastLimitedAdaptiveHistogramEqualization",),
    "color_jitter": ("RandomColorJitter",),
    "rand_augment": ("RandAugment",),
    "aug_mix": ("AugMix",),
    "max_boxes": ("MaxNumBoundingBoxes",),
    "elastic": ("RandomElasticTransform",),
    "tensor_ops": ("TensorOp",),
    "tensor_functions": ("TensorFunction",),
    "tensor_random": ("RandomDraw",),
    "training_switch": ("TrainingSwitch",),
    "block_masks": ("CallMask", "SetMask"),
    "merging": ("Add", "Average", "Concatenate", "Dot", "Maximum", "Minimum", "Multiply", "Subtract"),
}

# Keras' other names of built-in classes, which a config may use as Keras' own loader takes them:
# each is also a name in glassnet.layers, bound to the same class
ALIASES = {
    **{f"MaxPool{d}D": f"MaxPooling{d}D" for d in (1, 2, 3)},
    **{f"AvgPool{d}D": f"AveragePooling{d}D" for d in (1, 2, 3)},
    **{f"GlobalMaxPool{d}D": f"GlobalMaxPooling{d}D" for d in (1, 2, 3)},
    **{f"GlobalAvgPool{d}D": f"GlobalAveragePooling{d}D" for d in (1, 2, 3)},
    **{f"Convolution{d}D": f"Conv{d}D" for d in (1, 2, 3)},
    **{f"Convolution{d}DTranspose": f"Conv{d}DTranspose" for d in (1, 2, 3)},
    **{f"SeparableConvolution{d}D": f"SeparableConv{d}D" for d in (1, 2)},
    "GroupQueryAttention": "GroupedQueryAttention",   # Keras' public name; its class (and configs) say Grouped
}

# public name -> its module
HOME_OF = {name: module for module, names in HOMES.items() for name in names}


def load_all():
    """Import every built-in layer module (each registers its classes in ``base.LAYERS``): what
    looking up a class by name needs. The list is this fixed table, never a name from a file."""
    import importlib
    for module in HOMES:
        importlib.import_module(f"{__package__}.{module}")
