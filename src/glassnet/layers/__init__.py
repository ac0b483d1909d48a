"""Layers: each owns its parameters, gradients and forward cache (see ``base.Layer``)."""
from .base import LAYERS, Layer, get
from .dense import Dense
from .embedding import Embedding
from .masking import Masking
from .recurrent import GRU, LSTM, LastState, SimpleRNN
from .wrappers import Bidirectional, TimeDistributed
from .activation import ELU, Activation, LeakyReLU, PReLU, ReLU, Softmax
from .input import Input, InputLayer
from .conv import Conv1D, Conv1DTranspose, Conv2D, Conv2DTranspose
from .depthwise import DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D
from .pooling import (AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D, GlobalAveragePooling2D,
                      GlobalMaxPooling1D, GlobalMaxPooling2D, MaxPooling1D, MaxPooling2D)
from .reshape import Flatten, Permute, RepeatVector, Reshape
from .regularization import (BatchNormalization, Dropout, GaussianDropout, GaussianNoise, SpatialDropout1D,
                             SpatialDropout2D)
from .spatial import Cropping1D, Cropping2D, UpSampling1D, UpSampling2D, ZeroPadding1D, ZeroPadding2D
from .normalization import GroupNormalization, LayerNormalization, RMSNormalization, UnitNormalization
from .preprocessing import Normalization
from .text import TextVectorization
from .encoding import CategoryEncoding
from .utility import ActivityRegularization, Identity, Lambda, Rescaling
from .merging import Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract
from .attention import AttentionScores, AdditiveAttention, Attention, MultiHeadAttention
from .resizing import CenterCrop, RandomCrop, Resizing
from .augmentation import (RandomBrightness, RandomContrast, RandomFlip, RandomRotation, RandomTranslation,
                           RandomZoom)

# Keras' other names for the same classes (a model file names the class: "MaxPooling2D")
MaxPool1D, MaxPool2D, AvgPool1D, AvgPool2D = MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D
GlobalMaxPool1D, GlobalMaxPool2D = GlobalMaxPooling1D, GlobalMaxPooling2D
GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D
Convolution1D, Convolution2D = Conv1D, Conv2D
Convolution1DTranspose, Convolution2DTranspose = Conv1DTranspose, Conv2DTranspose
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D

__all__ = ["Layer", "Dense", "MultiHeadAttention", "Attention", "AdditiveAttention", "AttentionScores", "Embedding", "Masking", "SimpleRNN", "LSTM", "GRU", "LastState", "Bidirectional", "TimeDistributed", "Activation", "LeakyReLU", "ReLU", "ELU", "Softmax", "PReLU", "Conv1D", "Conv2D", "Conv1DTranspose", "Conv2DTranspose", "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D", "MaxPooling2D", "AveragePooling2D",
           "MaxPooling1D", "AveragePooling1D", "GlobalAveragePooling2D",
           "GlobalAveragePooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling1D", "Flatten", "Reshape", "Permute", "RepeatVector",
           "Dropout", "SpatialDropout1D", "SpatialDropout2D", "ZeroPadding1D", "ZeroPadding2D", "Cropping1D",
           "Cropping2D", "UpSampling1D", "UpSampling2D", "GaussianNoise", "GaussianDropout", "BatchNormalization", "LayerNormalization", "RMSNormalization", "GroupNormalization", "UnitNormalization", "Normalization", "TextVectorization", "CategoryEncoding", "Identity", "Lambda", "Rescaling", "ActivityRegularization", "Resizing", "CenterCrop", "RandomCrop", "RandomFlip", "RandomTranslation", "RandomRotation", "RandomZoom", "RandomContrast", "RandomBrightness", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot", "MaxPool1D", "MaxPool2D",
           "AvgPool1D", "AvgPool2D", "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalAvgPool1D", "GlobalAvgPool2D",
           "Convolution1D", "Convolution2D", "Convolution1DTranspose", "Convolution2DTranspose", "SeparableConvolution1D", "SeparableConvolution2D", "Input", "InputLayer", "LAYERS", "get"]
