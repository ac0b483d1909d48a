"""Layers: each owns its parameters, gradients and forward cache (see ``base.Layer``)."""
from .base import ALIASES, LAYERS, Layer, get
from .dense import Dense
from .einsum_dense import EinsumDense
from .embedding import Embedding
from .reversible_embedding import ReversibleEmbedding
from .masking import Masking
from .recurrent import GRU, LSTM, LastState, SimpleRNN
from .wrappers import Bidirectional, SpectralNormalization, TimeDistributed
from .rnn import RNN, GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from .cell_loop import Cell
from .conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D
from .activation import ELU, Activation, LeakyReLU, PReLU, ReLU, Softmax
from .input import Input, InputLayer
from .conv import Conv1D, Conv1DTranspose, Conv2D, Conv2DTranspose, Conv3D, Conv3DTranspose
from .depthwise import DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D
from .pooling import (AveragePooling1D, AveragePooling2D, AveragePooling3D, GlobalAveragePooling1D,
                      GlobalAveragePooling2D, GlobalAveragePooling3D, GlobalMaxPooling1D, GlobalMaxPooling2D,
                      GlobalMaxPooling3D, MaxPooling1D, MaxPooling2D, MaxPooling3D)
from .adaptive_pooling import (AdaptiveAveragePooling1D, AdaptiveAveragePooling2D, AdaptiveAveragePooling3D,
                               AdaptiveMaxPooling1D, AdaptiveMaxPooling2D, AdaptiveMaxPooling3D)
from .reshape import Flatten, Permute, RepeatVector, Reshape
from .regularization import (AlphaDropout, BatchNormalization, Dropout, GaussianDropout, GaussianNoise,
                             SpatialDropout1D, SpatialDropout2D, SpatialDropout3D)
from .spatial import (Cropping1D, Cropping2D, Cropping3D, UpSampling1D, UpSampling2D, UpSampling3D, ZeroPadding1D,
                      ZeroPadding2D, ZeroPadding3D)
from .normalization import GroupNormalization, LayerNormalization, RMSNormalization, UnitNormalization
from .preprocessing import Normalization
from .text import TextVectorization
from .encoding import CategoryEncoding
from .discretization import Discretization
from .lookup import IntegerLookup, StringLookup
from .hashing import Hashing
from .hashed_crossing import HashedCrossing
from .pipeline import Pipeline
from .utility import ActivityRegularization, Identity, Lambda, Rescaling
from .merging import Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract
from .attention import AttentionScores, AdditiveAttention, Attention, GroupedQueryAttention, MultiHeadAttention
from .resizing import CenterCrop, RandomCrop, Resizing
from .augmentation import (RandomBrightness, RandomContrast, RandomFlip, RandomRotation, RandomShear,
                           RandomTranslation, RandomZoom)
from .blur import RandomGaussianBlur
from .perspective import RandomPerspective
from .erasing import RandomErasing
from .color_augmentation import (AutoContrast, RandomColorDegeneration, RandomGrayscale, RandomInvert,
                                 RandomPosterization, Solarization)
from .hsv_augmentation import RandomHue, RandomSaturation
from .spectrogram import MelSpectrogram
from .stft_spectrogram import STFTSpectrogram

# Keras' other names for the same classes (a model file names the class: "MaxPooling2D")
MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D
GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D = GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D
Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D
Convolution1DTranspose, Convolution2DTranspose, Convolution3DTranspose = Conv1DTranspose, Conv2DTranspose, Conv3DTranspose
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D
GroupQueryAttention = GroupedQueryAttention       # Keras' public name; its class (and configs) say Grouped
# ... which a config may name too (Keras' loader takes them): each public name above bound to a
# registered class under another name
ALIASES.update({name: value.__name__ for name, value in list(globals().items())
                if isinstance(value, type) and LAYERS.get(value.__name__) is value and name != value.__name__})

__all__ = ["Layer", "Dense", "EinsumDense", "MultiHeadAttention", "GroupedQueryAttention", "Attention", "AdditiveAttention", "AttentionScores", "Embedding", "ReversibleEmbedding", "Masking", "SimpleRNN", "LSTM", "GRU", "LastState", "RNN", "SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells", "Cell", "Bidirectional", "TimeDistributed", "Pipeline", "SpectralNormalization", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "Activation", "LeakyReLU", "ReLU", "ELU", "Softmax", "PReLU", "Conv1D", "Conv2D", "Conv1DTranspose", "Conv2DTranspose", "Conv3D", "Conv3DTranspose", "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D", "MaxPooling2D", "AveragePooling2D",
           "MaxPooling1D", "AveragePooling1D", "MaxPooling3D", "AveragePooling3D", "GlobalAveragePooling2D",
           "GlobalAveragePooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling1D", "GlobalAveragePooling3D", "GlobalMaxPooling3D", "AdaptiveAveragePooling1D", "AdaptiveAveragePooling2D",
           "AdaptiveAveragePooling3D", "AdaptiveMaxPooling1D", "AdaptiveMaxPooling2D", "AdaptiveMaxPooling3D", "Flatten", "Reshape", "Permute", "RepeatVector",
           "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D",
           "Cropping2D", "Cropping3D", "UpSampling1D", "UpSampling2D", "UpSampling3D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "BatchNormalization", "LayerNormalization", "RMSNormalization", "GroupNormalization", "UnitNormalization", "Normalization", "TextVectorization", "CategoryEncoding", "Discretization", "IntegerLookup", "StringLookup", "Hashing", "HashedCrossing", "MelSpectrogram", "STFTSpectrogram", "Identity", "Lambda", "Rescaling", "ActivityRegularization", "Resizing", "CenterCrop", "RandomCrop", "RandomFlip", "RandomTranslation", "RandomRotation", "RandomZoom", "RandomContrast", "RandomBrightness", "RandomShear", "RandomPerspective", "RandomGaussianBlur", "RandomErasing", "RandomGrayscale", "RandomInvert", "Solarization", "RandomColorDegeneration", "RandomSaturation", "RandomHue", "RandomPosterization", "AutoContrast", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot", "MaxPool1D", "MaxPool2D", "MaxPool3D",
           "AvgPool1D", "AvgPool2D", "AvgPool3D", "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D", "GlobalAvgPool1D",
           "GlobalAvgPool2D", "GlobalAvgPool3D", "Convolution1D", "Convolution2D", "Convolution3D", "Convolution1DTranspose",
           "Convolution2DTranspose", "Convolution3DTranspose", "SeparableConvolution1D", "SeparableConvolution2D", "GroupQueryAttention", "Input", "InputLayer", "LAYERS", "get"]
