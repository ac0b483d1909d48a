"""The proof of the correctness rule: every layer, activation and loss is compared with PyTorch autograd.

The rule (docs/testing.md): every built-in layer, activation and loss has a float64 finite-difference
gradient check and a parity test against PyTorch autograd, values AND the gradients of the inputs
and of every weight. The finite differences are tests/test_layer_contract.py's table (every layer)
and test_activations.py / test_losses.py (every activation, every loss); this file is the ledger of
the torch side, which is spread over many files.

Each registered name -- every class of ``glassnet.layers.LAYERS``, every activation name and
keyword setting of ``glassnet.activations``, every loss class and each of its settings
(``from_logits``, ``label_smoothing``, ``reduction``, ...), every Keras loss function and its
settings -- has one entry:

- ``T(test, ...)``: the tests that compare it with PyTorch autograd; each named test must exist and
  reach ``torch`` (a ``torch`` argument, or ``torch`` in its body, its decorators or a module-level
  helper it uses) and a gradient (``backward`` or ``torch.autograd.grad``);
- ``K(reason, test, ...)``: where PyTorch has no equivalent computation (no gradient, strings,
  Keras' own bookkeeping), a one-line reason and the tests that compare it with Keras 3.15; each
  must exist and reach ``keras``;
- ``N(reason, test, ...)``: neither oracle applies (a layer holding the user's own code); the
  reason says why, and the named tests must exist.

The check reads the test files' syntax trees only (cheap: nothing is imported or run). A new layer,
activation, loss or setting without an entry fails here, as does an entry naming a test that was
renamed or removed. Tests are named ``file.py::test_function`` (``file.py::Class::test_method``),
without parameter ids.
"""
import ast
import functools
import inspect
import pathlib

import pytest

from glassnet import activations, layers, losses
from glassnet.losses import functions as loss_functions

HERE = pathlib.Path(__file__).parent


class T(tuple):
    """Tests comparing values and gradients with PyTorch autograd."""
    oracle = "torch"

    def __new__(cls, *tests):
        return super().__new__(cls, tests)


class K(tuple):
    """Where PyTorch has no equivalent computation: the reason, and tests against Keras 3.15."""
    oracle = "keras"

    def __new__(cls, reason, *tests):
        self = super().__new__(cls, tests)
        self.reason = reason
        return self


class N(K):
    """Neither oracle applies: the reason, and the tests that check it otherwise."""
    oracle = None


# -- layers: every class of glassnet.layers.LAYERS ------------------------------------------------
_MERGE = "test_merging.py::test_values_and_gradients_match_torch_autograd"
_STATELESS = "test_review_coverage.py::test_stateless_layers_match_torch"
_NCHW = "test_data_format.py::test_values_and_gradients_equal_torch_nchw"
_NOISE = "test_review_coverage.py::test_noise_layers_backward_is_the_derivative_of_their_draw"
_ADAPTIVE = "test_adaptive_pooling.py::test_values_and_gradients_match_torch"
_GEOMETRIC = "test_review_coverage.py::test_geometric_augmentations_match_torch_grid_sample"
_FLIP = "test_review_coverage.py::test_flip_brightness_and_contrast_match_torch_for_their_draws"
_CONV_FUZZ = "test_review_convmemrev.py::test_random_settings_chunked_equal_unchunked_and_torch"
_RECURRENT = ("test_recurrent.py::test_gradients_match_torch_autograd",
              "test_masking.py::test_right_padded_gradients_match_torch_packed_sequences",
              "test_recurrent_states.py::test_gradients_of_the_states_in_and_out_match_torch_autograd",
              "test_parity_gaps.py::test_recurrent_masks_with_holes_match_torch",
              "test_parity_gaps.py::test_recurrent_dropout_in_training_matches_torch_given_its_masks")
_CONV_LSTM = ("test_conv_lstm.py::test_gradients_match_torch_autograd",
              "test_conv_lstm_mask.py::test_masked_gradients_match_torch_autograd",
              "test_conv_lstm_states.py::test_gradients_with_masks_and_states_match_torch_autograd")
_GLOBAL = ("test_pooling.py::test_global_pooling_gradcheck_and_torch",
           "test_global_pooling_channels_first.py::test_gradients_match_torch_autograd")
_GLOBAL3D = ("test_volumes.py::test_global_pooling3d_matches_torch",
             "test_global_pooling_channels_first.py::test_gradients_match_torch_autograd")
_DISCRETE = "integer or string outputs: no gradient to compare"
_LORA = "test_parity_gaps.py::test_lora_matches_torch"
_ATTENTION_DROPOUT = "test_parity_gaps.py::test_attention_dropout_in_training_matches_torch_given_its_mask"

LAYERS = {
    "Activation": T("test_parity_gaps.py::test_activation_layer_matches_torch_for_every_name"),
    "ActivityRegularization": T(_STATELESS, "test_parity_gaps.py::test_activity_regularization_layer_in_a_model_matches_torch"),
    "AdaptiveAveragePooling1D": T(_ADAPTIVE),
    "AdaptiveAveragePooling2D": T(_ADAPTIVE),
    "AdaptiveAveragePooling3D": T(_ADAPTIVE),
    "AdaptiveMaxPooling1D": T(_ADAPTIVE),
    "AdaptiveMaxPooling2D": T(_ADAPTIVE,
                              "test_adaptive_pooling.py::test_a_window_of_several_nans_sends_its_gradient_to_the_last_as_torch"),
    "AdaptiveMaxPooling3D": T(_ADAPTIVE),
    "Add": T(_MERGE),
    "AdditiveAttention": T("test_attention.py::test_attention_and_additive_attention_match_keras_and_torch",
                           _ATTENTION_DROPOUT),
    "AlphaDropout": T("test_noise_layers.py::test_alpha_dropout_matches_torch_and_keras_for_the_same_mask"),
    "Attention": T("test_attention.py::test_attention_and_additive_attention_match_keras_and_torch", _ATTENTION_DROPOUT),
    # the scores an attention layer returns, read by a node of their own in a functional model
    "AttentionScores": T("test_parity_gaps.py::test_attention_scores_node_matches_torch",
                         "test_attention_axes.py::test_gradients_match_torch_autograd_with_the_returned_scores"),
    "AugMix": T("test_aug_mix.py::test_gradient_matches_torch_for_the_picks_written_in_torch"),
    "AutoContrast": T("test_color_augmentation.py::test_auto_contrast_gradient_matches_torch"),
    "Average": T(_MERGE),
    "AveragePooling1D": T("test_pooling.py::test_pool_matches_torch", _NCHW),
    "AveragePooling2D": T("test_pooling.py::test_pool_matches_torch", _NCHW),
    "AveragePooling3D": T("test_volumes.py::test_pooling3d_values_and_gradients_match_torch", _NCHW),
    # the backward reader's output of a Bidirectional(merge_mode=None), read by a node of its own
    "BackwardOutput": T("test_parity_gaps.py::test_backward_output_node_matches_torch"),
    "BatchNormalization": T("test_regularization.py::test_batchnorm_matches_torch",
                            "test_batchnorm_axis.py::test_gradients_match_torch_autograd",
                            "test_batchnorm_options.py::test_gradients_match_torch_autograd",
                            "test_parity_gaps.py::test_batch_normalization_both_modes_and_settings_match_torch"),
    "Bidirectional": T("test_review_coverage.py::test_bidirectional_matches_torch",
                       "test_parity_gaps.py::test_bidirectional_with_masks_with_holes_matches_torch",
                       "test_bidirectional.py::test_gradients_match_torch_bidirectional_lstm",
                       "test_bidirectional_conv_lstm.py::test_gradients_match_torch_autograd"),
    # a functional model's node calling a block with its mask: Keras' bookkeeping, no maths of its own
    "CallMask": K("hands a mask to a block's call: no maths of its own",
                  "test_block_masks.py::test_masked_mean_of_an_lstm_after_a_masked_embedding_trains_as_keras",
                  "test_block_masks.py::test_the_mask_given_to_call_is_the_masking_layers"),
    "CallWeights": K("reads weights made by add_weight in a drawn call: the maths is the ops around them",
                     "test_call_weights.py::test_the_guides_linear_layer_in_a_functional_model_trains_as_keras",
                     "test_call_weights.py::test_a_layer_norm_by_hand_with_its_scale_and_offset_trains_as_keras"),
    "CategoryEncoding": K(_DISCRETE, "test_category_encoding.py::test_outputs_match_keras"),
    "CenterCrop": T(_STATELESS),
    "Concatenate": T(_MERGE, "test_merging.py::test_concatenate_along_other_axes"),
    "ContrastLimitedAdaptiveHistogramEqualization": T("test_clahe.py::test_gradient_is_zero_as_torch_s_through_its_tables"),
    "Conv1D": T("test_conv.py::test_conv_matches_torch", "test_conv.py::test_dilated_and_causal_convolutions_match_torch",
                "test_grouped_conv.py::test_outputs_and_gradients_match_torch", _CONV_FUZZ, _LORA),
    "Conv1DTranspose": T("test_review_coverage.py::test_conv1d_transpose_matches_torch", _NCHW, _CONV_FUZZ),
    "Conv2D": T("test_conv.py::test_conv_matches_torch", "test_conv.py::test_dilated_and_causal_convolutions_match_torch",
                "test_grouped_conv.py::test_outputs_and_gradients_match_torch", _CONV_FUZZ, _LORA),
    "Conv2DTranspose": T("test_conv_transpose.py::test_values_and_gradients_match_torch", _NCHW, _CONV_FUZZ),
    "Conv3D": T("test_volumes.py::test_conv3d_values_and_gradients_match_torch",
                "test_grouped_conv.py::test_outputs_and_gradients_match_torch", _CONV_FUZZ),
    "Conv3DTranspose": T("test_conv_transpose.py::test_values_and_gradients_match_torch", _NCHW, _CONV_FUZZ),
    "ConvLSTM1D": T(*_CONV_LSTM),
    "ConvLSTM2D": T(*_CONV_LSTM),
    "ConvLSTM3D": T(*_CONV_LSTM),
    "Cropping1D": T(_STATELESS, "test_more_layers.py::test_one_dimensional_padding_cropping_and_upsampling_match_torch"),
    "Cropping2D": T("test_more_layers.py::test_zero_padding_and_cropping_2d_match_torch", _NCHW),
    "Cropping3D": T(_STATELESS, _NCHW),
    "CustomScaleLayer": T(_MERGE),
    "CutMix": T("test_mixing.py::test_cutmix_gradient_matches_torch"),
    "Dense": T("test_dense.py::test_dense_matches_torch_linear", "test_dense.py::test_dense_without_bias_matches_torch",
               _LORA),
    "DepthToSpace": T("test_depth_to_space.py::test_ported_conv_and_pixel_shuffle_compute_and_differentiate_as_pytorch"),
    "DepthwiseConv1D": T(_NCHW, "test_parity_gaps.py::test_one_dimensional_depthwise_and_separable_convolutions_match_torch"),
    "DepthwiseConv2D": T("test_depthwise.py::test_values_and_gradients_match_torch", _NCHW),
    "Discretization": K(_DISCRETE, "test_discretization.py::test_outputs_match_keras"),
    "Dot": T(_MERGE, "test_merging.py::test_dot_matches_torch_autograd_and_finite_differences"),
    "Dropout": T(_NOISE),
    "ELU": T("test_more_layers.py::test_elu_matches_torch"),
    "EinsumDense": T("test_einsum_dense.py::test_gradients_match_torch_autograd", _LORA),
    "Embedding": T("test_embedding.py::test_gradient_matches_torch_with_repeated_indices", _LORA),
    "Equalization": T("test_equalization.py::test_gradient_is_zero_but_for_channels_left_as_they_are"),
    "Flatten": T(_STATELESS, _NCHW),
    "GRU": T(*_RECURRENT),
    "GaussianDropout": T(_NOISE),
    "GaussianNoise": T(_NOISE),
    "GlobalAveragePooling1D": T(*_GLOBAL, "test_parity_gaps.py::test_global_average_pooling_1d_with_a_mask_matches_torch"),
    "GlobalAveragePooling2D": T(*_GLOBAL),
    "GlobalAveragePooling3D": T(*_GLOBAL3D),
    "GlobalMaxPooling1D": T(*_GLOBAL),
    "GlobalMaxPooling2D": T(*_GLOBAL),
    "GlobalMaxPooling3D": T(*_GLOBAL3D),
    "GroupNormalization": T("test_group_normalization.py::test_gradients_match_torch_group_norm",
                            "test_review_coverage.py::test_group_normalization_settings_match_torch"),
    "GroupedQueryAttention": T("test_grouped_query_attention.py::test_gradients_match_torch_autograd",
                               "test_grouped_query_attention.py::test_sliding_window_gradients_match_torch_autograd_and_finite_differences",
                               _ATTENTION_DROPOUT),
    "HashedCrossing": K(_DISCRETE, "test_hashed_crossing.py::test_bins_equal_keras_for_strings_and_integers"),
    "Hashing": K(_DISCRETE, "test_hashing.py::test_strings_hash_as_keras", "test_hashing.py::test_integers_hash_as_keras"),
    "Identity": T(_STATELESS),
    "IntegerLookup": K(_DISCRETE, "test_integer_lookup.py::test_adapt_and_outputs_match_keras"),
    "LSTM": T(*_RECURRENT, "test_bidirectional.py::test_gradients_match_torch_bidirectional_lstm"),
    "Lambda": N("holds the user's own function, through which a gradient is refused by name",
                "test_lambda.py::test_a_gradient_through_it_is_refused_before_any_weight_changes"),
    # a recurrent layer's returned states, read by nodes of their own in a functional model
    "LastState": T("test_parity_gaps.py::test_last_state_nodes_match_torch",
                   "test_recurrent_states.py::test_gradients_of_the_states_in_and_out_match_torch_autograd",
                   "test_conv_lstm_states.py::test_gradients_with_masks_and_states_match_torch_autograd"),
    "LayerNormalization": T("test_layer_normalization.py::test_matches_torch_layer_norm",
                            "test_layer_norm_rms_scaling.py::test_gradients_match_torch_autograd",
                            "test_review_coverage.py::test_layer_normalization_settings_match_torch"),
    "LayerScale": T("test_parity_gaps.py::test_layer_scale_matches_torch"),
    "LeakyReLU": T("test_dense.py::test_leaky_relu_layer_matches_torch_and_keras_defaults"),
    "Masking": T("test_review_coverage.py::test_masking_matches_torch"),
    "MaxNumBoundingBoxes": T("test_parity_gaps.py::test_max_num_bounding_boxes_is_the_identity_on_arrays_as_torch"),
    "MaxPooling1D": T("test_pooling.py::test_pool_matches_torch", _NCHW,
                      "test_review_conv.py::test_max_pooling_all_minus_inf_gradient_matches_torch"),
    "MaxPooling2D": T("test_pooling.py::test_pool_matches_torch", _NCHW,
                      "test_review_conv.py::test_max_pooling_never_gives_a_gradient_to_padding"),
    "MaxPooling3D": T("test_volumes.py::test_pooling3d_values_and_gradients_match_torch", _NCHW),
    "Maximum": T(_MERGE),
    "MelSpectrogram": T("test_spectrogram.py::test_gradients_match_torch_autograd"),
    "Minimum": T(_MERGE),
    "MixUp": T("test_mixing.py::test_mixup_gradient_matches_torch"),
    "MultiHeadAttention": T("test_attention.py::test_gradients_match_finite_differences_and_torch_autograd",
                            _ATTENTION_DROPOUT,
                            "test_attention_axes.py::test_gradients_match_torch_autograd_with_the_returned_scores",
                            "test_graph_masks.py::test_eager_masks_of_multi_head_attention_match_keras_and_torch"),
    "Multiply": T(_MERGE),
    "Normalization": T("test_normalization_layer.py::test_values_and_input_gradient_match_torch"),
    "PReLU": T("test_more_layers.py::test_prelu_matches_torch"),
    "Permute": T(_STATELESS),
    "Pipeline": T("test_review_coverage.py::test_pipeline_matches_torch"),
    "RMSNormalization": T("test_layer_normalization.py::test_rms_normalization_matches_torch_autograd"),
    "RNN": T("test_recurrent.py::test_gradients_match_torch_autograd",
             "test_parity_gaps.py::test_rnn_of_stacked_cells_with_a_mask_matches_torch",
             "test_rnn_cells.py::test_stacked_gradients_match_the_cells_step_by_step_in_torch"),
    "RandAugment": T("test_rand_augment.py::test_gradient_matches_torch_for_the_picks_written_in_torch"),
    "RandomBrightness": T(_FLIP),
    "RandomColorDegeneration": T("test_color_augmentation.py::test_color_degeneration_gradient_matches_torch_through_the_clip"),
    "RandomColorJitter": T("test_color_jitter.py::test_gradient_matches_torch_through_the_four_steps"),
    "RandomContrast": T(_FLIP),
    "RandomCrop": T("test_parity_gaps.py::test_random_crop_matches_torch_in_training_and_inference"),
    "RandomDraw": T("test_parity_gaps.py::test_random_draw_dropout_matches_torch"),
    "RandomElasticTransform": T("test_elastic.py::test_gradient_matches_torch_grid_sample"),
    "RandomErasing": T("test_image_augmentation_more.py::test_erasing_gradient_matches_torch_autograd"),
    "RandomFlip": T(_FLIP),
    "RandomGaussianBlur": T("test_image_augmentation_more.py::test_blur_gradient_matches_torch_autograd"),
    "RandomGrayscale": T("test_color_augmentation.py::test_grayscale_gradient_matches_torch"),
    "RandomHue": T("test_color_augmentation.py::test_hue_gradient_matches_torch"),
    "RandomInvert": T("test_color_augmentation.py::test_invert_gradient_matches_torch"),
    "RandomPerspective": T("test_random_perspective.py::test_gradient_matches_torch_grid_sample"),
    "RandomPosterization": T("test_color_augmentation.py::test_posterization_passes_the_zero_gradient_of_its_steps"),
    "RandomRotation": T(_GEOMETRIC),
    "RandomSaturation": T("test_color_augmentation.py::test_saturation_gradient_matches_torch_in_both_branches"),
    "RandomSharpness": T("test_sharpness.py::test_gradient_matches_torch_through_the_clip"),
    "RandomShear": T("test_image_augmentation_more.py::test_shear_gradient_matches_torch_grid_sample"),
    "RandomTranslation": T(_GEOMETRIC),
    "RandomZoom": T(_GEOMETRIC),
    "ReLU": T("test_more_layers.py::test_relu_matches_torch"),
    "RepeatVector": T(_STATELESS),
    "Rescaling": T(_STATELESS, "test_more_layers.py::test_rescaling_per_channel_matches_keras_and_torch"),
    "Reshape": T(_STATELESS),
    "Resizing": T(_STATELESS),
    "ReversibleEmbedding": T("test_reversible_embedding.py::test_reverse_with_soft_cap_matches_torch_autograd",
                             "test_reversible_embedding.py::test_a_tied_table_gets_the_lookup_s_and_the_reverse_s_gradients"),
    "STFTSpectrogram": T("test_stft_spectrogram.py::test_gradients_match_torch_autograd"),
    "SeparableConv1D": T(_NCHW, "test_parity_gaps.py::test_one_dimensional_depthwise_and_separable_convolutions_match_torch"),
    "SeparableConv2D": T("test_depthwise.py::test_values_and_gradients_match_torch", _NCHW),
    "SetMask": K("hands on a mask a block computed: no maths of its own",
                 "test_block_masks2.py::test_a_block_follows_keras_mask_rule_in_a_masked_tagger"),
    "SimpleRNN": T(*_RECURRENT),
    "Softmax": T("test_more_layers.py::test_softmax_matches_torch"),
    "Solarization": T("test_color_augmentation.py::test_solarization_gradient_matches_torch_through_the_clip"),
    "SpaceToDepth": T("test_depth_to_space.py::test_ported_pixel_unshuffle_and_conv_compute_and_differentiate_as_pytorch"),
    "SpatialDropout1D": T(_NOISE),
    "SpatialDropout2D": T(_NOISE),
    "SpatialDropout3D": T(_NOISE),
    "SpectralNormalization": T("test_review_coverage.py::test_spectral_normalization_matches_torch"),
    "StochasticDepth": T("test_parity_gaps.py::test_stochastic_depth_matches_torch_in_training_and_inference"),
    "StringLookup": K(_DISCRETE, "test_string_lookup.py::test_adapt_and_outputs_match_keras"),
    "Subtract": T(_MERGE),
    "TensorFunction": T("test_ops.py::test_symbolic_ops_match_pytorch_autograd", "test_ops_more2.py::test_node_gradients_are_torch_autograd"),
    "TensorOp": T("test_tensor_ops.py::test_one_input_ops_match_pytorch_autograd",
                  "test_tensor_ops.py::test_two_tensor_ops_match_pytorch_autograd"),
    "TextVectorization": K(_DISCRETE, "test_text_vectorization.py::test_vocabulary_and_outputs_match_keras"),
    "TimeDistributed": T("test_review_coverage.py::test_time_distributed_dense_and_conv_match_torch",
                         "test_parity_gaps.py::test_time_distributed_recurrent_layer_with_a_mask_matches_torch"),
    "TrainingSwitch": K("picks a branch by the training flag: no maths of its own",
                        "test_training_branch.py::test_augment_block_flips_in_training_only_as_keras",
                        "test_training_branch.py::test_drop_path_drops_whole_samples_as_keras"),
    "UnitNormalization": T("test_layer_normalization.py::test_unit_normalization_matches_torch_normalize"),
    "UpSampling1D": T("test_more_layers.py::test_one_dimensional_padding_cropping_and_upsampling_match_torch"),
    "UpSampling2D": T("test_more_layers.py::test_upsampling_2d_matches_torch_nearest",
                      "test_more_layers.py::test_bilinear_upsampling_matches_torch_keras_and_finite_differences", _NCHW),
    "UpSampling3D": T("test_volumes.py::test_upsampling3d_matches_torch_nearest", _NCHW),
    "ZeroPadding1D": T("test_more_layers.py::test_one_dimensional_padding_cropping_and_upsampling_match_torch", _NCHW),
    "ZeroPadding2D": T("test_more_layers.py::test_zero_padding_and_cropping_2d_match_torch", _NCHW),
    "ZeroPadding3D": T(_STATELESS, _NCHW),
}

# -- activations: every name and every keyword setting --------------------------------------------
_ACT = "test_activations.py::test_matches_torch"
_ACT_KINKS = "test_activations_keras.py::test_gradients_match_torch_also_at_the_kinks"
_ACT_SETTINGS = "test_parity_gaps.py::test_activation_settings_match_torch"
ACTIVATIONS = {
    **{name: T(_ACT) for name in ("elu", "exponential", "hard_sigmoid", "hard_silu", "hard_tanh", "leaky_relu", "linear",
                                  "log_sigmoid", "log_softmax", "mish", "relu", "relu6", "selu", "sigmoid", "silu",
                                  "softmax", "softplus", "softsign", "tanh")},
    **{name: T(_ACT, _ACT_KINKS) for name in ("celu", "gelu", "glu", "hard_shrink", "soft_shrink", "sparse_plus",
                                              "sparse_sigmoid", "sparsemax", "squareplus", "tanh_shrink")},
    "threshold": T("test_activations_keras.py::test_threshold_matches_torch"),
    "celu(alpha)": T(_ACT_KINKS, _ACT_SETTINGS),
    "elu(alpha)": T(_ACT_SETTINGS, "test_more_layers.py::test_elu_matches_torch"),
    "gelu(approximate)": T(_ACT_KINKS, _ACT_SETTINGS),
    "glu(axis)": T(_ACT_KINKS),
    "hard_shrink(threshold)": T(_ACT_KINKS),
    "leaky_relu(negative_slope)": T(_ACT_SETTINGS),
    "log_softmax(axis)": T(_ACT_SETTINGS),
    "relu(negative_slope)": T(_ACT_SETTINGS, "test_more_layers.py::test_relu_matches_torch"),
    "relu(max_value)": T(_ACT_SETTINGS, "test_more_layers.py::test_relu_matches_torch"),
    "relu(threshold)": T(_ACT_SETTINGS, "test_more_layers.py::test_relu_matches_torch"),
    "soft_shrink(threshold)": T(_ACT_KINKS),
    "softmax(axis)": T(_ACT_SETTINGS, "test_more_layers.py::test_softmax_matches_torch"),
    "sparsemax(axis)": T(_ACT_KINKS),
    "squareplus(b)": T(_ACT_KINKS),
    "threshold(threshold)": T("test_activations_keras.py::test_threshold_matches_torch"),
    "threshold(default_value)": T("test_activations_keras.py::test_threshold_matches_torch"),
}

# -- losses: every class (each name of glassnet.losses.LOSSES is one) and each of its settings -----
# (Keras' dtype=None and axis=-1, which the classes take at those values alone, change nothing:
# tests/test_review_gradaudit.py; they are not in the classes' signatures, so not ledgered)
_PER_NAME = "test_losses.py::test_matches_torch"
_REDUCED = "test_loss_reduction.py::test_value_and_gradient_match_torch"
_WEIGHTED = "test_losses.py::test_weighted_matches_torch"
_FUSED = "test_loss_reduction.py::test_fused_path_matches_torch"
_LOGITS = "test_losses.py::test_from_logits_values_and_gradients_match_torch"
_SMOOTHING = "test_losses.py::test_label_smoothing_values_and_gradients_match_torch"
_FOCAL_GAPS = "test_parity_gaps.py::test_focal_losses_from_logits_and_label_smoothing_match_torch"
_OVERLAP = "test_overlap_losses.py::test_values_and_gradients_match_torch_autograd_and_finite_differences"
_OVERLAP_REDUCED = "test_parity_gaps.py::test_dice_and_tversky_reductions_match_torch"
_CIRCLE = "test_sequence_and_metric_losses.py::test_circle_values_and_gradients_match_torch_autograd_and_finite_differences"
_GCE = "test_sequence_and_metric_losses.py::test_generalized_cross_entropy_gradients_match_torch_fused_and_not"
_CTC = "test_sequence_and_metric_losses.py::test_ctc_values_and_gradients_match_torch_ctc_loss_and_finite_differences"
_PLAIN = {"reduction": T(_REDUCED, _WEIGHTED)}
LOSSES = {
    "MeanSquaredError": (T(_PER_NAME, _REDUCED), _PLAIN),
    "SquaredError": (T(_PER_NAME, _REDUCED), _PLAIN),
    "MeanAbsoluteError": (T(_PER_NAME, _REDUCED), _PLAIN),
    "MeanAbsolutePercentageError": (T(_PER_NAME, _REDUCED), _PLAIN),
    "MeanSquaredLogarithmicError": (T(_PER_NAME, _REDUCED), _PLAIN),
    "Huber": (T(_PER_NAME, _REDUCED), {**_PLAIN, "delta": T("test_review_coverage.py::test_huber_with_another_delta_matches_torch")}),
    "LogCosh": (T(_PER_NAME, _REDUCED), _PLAIN),
    "Poisson": (T(_PER_NAME, _REDUCED), _PLAIN),
    "Hinge": (T(_PER_NAME, _REDUCED), _PLAIN),
    "SquaredHinge": (T(_PER_NAME, _REDUCED), _PLAIN),
    "CategoricalHinge": (T(_PER_NAME, _REDUCED), _PLAIN),
    "KLDivergence": (T(_PER_NAME, _REDUCED), _PLAIN),
    "CosineSimilarity": (T(_PER_NAME, _REDUCED), {**_PLAIN, "axis": T(
        "test_keras_args46.py::test_cosine_similarity_axis_matches_torch")}),
    "BinaryCrossentropy": (T(_PER_NAME, _REDUCED, _FUSED), {
        "reduction": T(_REDUCED, _FUSED), "from_logits": T(_LOGITS), "label_smoothing": T(_SMOOTHING)}),
    "CategoricalCrossentropy": (T(_PER_NAME, _REDUCED, _FUSED), {
        "reduction": T(_REDUCED, _FUSED), "from_logits": T(_LOGITS), "label_smoothing": T(_SMOOTHING)}),
    "SparseCategoricalCrossentropy": (T(_PER_NAME, _REDUCED, _FUSED), {
        "reduction": T(_REDUCED, _FUSED), "from_logits": T(_LOGITS),
        "ignore_class": T("test_loss_reduction.py::test_ignore_class_gradients_match_torch")}),
    "BinaryFocalCrossentropy": (T(_PER_NAME, _REDUCED), {
        **_PLAIN, "apply_class_balancing": T("test_losses.py::test_binary_focal_settings_match_torch", _FOCAL_GAPS),
        "alpha": T("test_losses.py::test_binary_focal_settings_match_torch", _FOCAL_GAPS),
        "gamma": T("test_losses.py::test_binary_focal_settings_match_torch", _FOCAL_GAPS),
        "from_logits": T(_FOCAL_GAPS), "label_smoothing": T(_FOCAL_GAPS)}),
    "CategoricalFocalCrossentropy": (T(_PER_NAME, _REDUCED), {
        **_PLAIN, "alpha": T("test_losses.py::test_categorical_focal_settings_gradient_matches_torch",
                             "test_focal_class_alpha.py::test_gradient_matches_torch_autograd", _FOCAL_GAPS),
        "gamma": T("test_losses.py::test_categorical_focal_settings_gradient_matches_torch", _FOCAL_GAPS),
        "from_logits": T(_FOCAL_GAPS), "label_smoothing": T(_FOCAL_GAPS)}),
    "CategoricalGeneralizedCrossEntropy": (T(_GCE, _REDUCED, _FUSED), {"reduction": T(_REDUCED, _FUSED), "q": T(_GCE)}),
    "Dice": (T(_OVERLAP), {"reduction": T(_OVERLAP_REDUCED), "axis": T(_OVERLAP, _OVERLAP_REDUCED)}),
    "Tversky": (T(_OVERLAP), {"reduction": T(_OVERLAP_REDUCED), "axis": T(_OVERLAP, _OVERLAP_REDUCED),
                              "alpha": T(_OVERLAP, _OVERLAP_REDUCED), "beta": T(_OVERLAP, _OVERLAP_REDUCED)}),
    "Circle": (T(_CIRCLE, _REDUCED), {"reduction": T(_REDUCED), "gamma": T(_CIRCLE), "margin": T(_CIRCLE),
                                      "remove_diagonal": T(_CIRCLE)}),
    "CTC": (T(_CTC, _REDUCED), _PLAIN),
}

# -- Keras' loss functions (glassnet.losses.functions): per-sample values, no gradient of their own
# (their gradients are the classes' above, which compile(loss=function) trains on); against Keras
_FN_REASON = "a per-sample value without a gradient of its own: its gradient is its class's, ledgered above"
_FN = K(_FN_REASON, "test_loss_functions.py::test_values_and_shapes_match_keras")
_FN_RARE = K(_FN_REASON, "test_loss_functions.py::test_ctc_circle_and_generalized_cross_entropy_match_keras")
LOSS_FUNCTIONS = {name: _FN for name in loss_functions.__all__}
LOSS_FUNCTIONS.update(ctc=_FN_RARE, circle=_FN_RARE, categorical_generalized_cross_entropy=_FN_RARE)
LOSS_FUNCTION_SETTINGS = {
    "sparse_categorical_crossentropy(ignore_class)": K(
        _FN_REASON, "test_loss_functions.py::test_sparse_labels_per_position_and_ignore_class_match_keras"),
    **{f"circle({name})": _FN_RARE for name in ("ref_labels", "ref_embeddings", "remove_diagonal", "gamma", "margin")},
    "categorical_generalized_cross_entropy(q)": _FN_RARE,
}


# -- what is registered -----------------------------------------------------------------------------
def _keywords(fn, skip):
    return [p.name for p in inspect.signature(fn).parameters.values()
            if p.name not in skip and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]


def registered_activations():
    names = set(activations.ACTIVATIONS) | {"threshold"}
    for name in sorted(names):
        names |= {f"{name}({p})" for p in _keywords(getattr(activations, name), {"z"})}
    return names


def registered_loss_settings():
    return {(cls, p) for cls in losses.CLASS_NAMES for p in _keywords(getattr(losses, cls), {"name"})}


def registered_loss_function_settings():
    return {f"{name}({p})" for name in loss_functions.__all__
            for p in _keywords(getattr(loss_functions, name), {"y_true", "y_pred"})}


def built_in_layers():
    """The registry's glassnet classes: other tests register classes of their own in the same process."""
    return {name for name, cls in layers.LAYERS.items() if cls.__module__.startswith("glassnet.")}


def test_every_registered_layer_has_an_entry():
    assert sorted(built_in_layers() - set(LAYERS)) == []
    assert sorted(set(LAYERS) - built_in_layers()) == []      # no entry for a layer that is gone


def test_every_activation_and_setting_has_an_entry():
    expected = registered_activations()
    assert sorted(expected - set(ACTIVATIONS)) == []
    assert sorted(set(ACTIVATIONS) - expected) == []
    assert set(activations.ALIASES.values()) <= set(ACTIVATIONS)   # swish, hard_swish: silu's, hard_silu's


def test_every_loss_class_and_setting_has_an_entry():
    assert sorted(set(losses.CLASS_NAMES) ^ set(LOSSES)) == []
    # each name compile takes, and each alias, is one of these classes
    assert set(losses.CLASS_NAMES.values()) == set(losses.LOSSES)
    assert set(losses.ALIASES.values()) <= set(losses.LOSSES)
    ledgered = {(cls, setting) for cls, (_, settings) in LOSSES.items() for setting in settings}
    assert sorted(registered_loss_settings() ^ ledgered) == []


def test_every_loss_function_and_setting_has_an_entry():
    assert sorted(set(loss_functions.__all__) ^ set(LOSS_FUNCTIONS)) == []
    # settings the classes share (from_logits, label_smoothing, axis, ...) are checked with the
    # function's values against Keras by test_values_and_shapes_match_keras; the others are named
    shared = {f"{name}({p})" for name in loss_functions.__all__ for p in _keywords(getattr(loss_functions, name), {"y_true", "y_pred"})
              if p in ("from_logits", "label_smoothing", "axis", "delta", "alpha", "beta", "gamma", "apply_class_balancing")
              and name not in ("circle",)}
    assert sorted(registered_loss_function_settings() - shared - set(LOSS_FUNCTION_SETTINGS)) == []


# -- what each entry names ----------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _module(filename):
    path = HERE / filename
    if not path.is_file():
        return None
    source = path.read_text()
    tree = ast.parse(source)
    top = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            top[node.name] = node
        elif isinstance(node, ast.ImportFrom):          # from glassnet.layers import X as Y: Y reaches X
            for alias in node.names:
                top[alias.asname or alias.name] = ast.Constant(alias.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                if isinstance(target, ast.Name):
                    top[target.id] = node
    return tree, top


def _names(node):
    found = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            found.add(sub.id)
        elif isinstance(sub, ast.arg):
            found.add(sub.arg)
        elif isinstance(sub, ast.Attribute):
            found.add(sub.attr)
        elif (isinstance(sub, ast.Call) and getattr(sub.func, "attr", getattr(sub.func, "id", None)) == "importorskip"
              and sub.args and isinstance(sub.args[0], ast.Constant)):
            found.add(sub.args[0].value)            # pytest.importorskip("torch"): not a docstring's word
    return found


def _follows(filename, node, words_of, wanted):
    """Whether ``node`` or the module-level helpers, tables and imports it uses (followed through
    each other) have one of the ``wanted`` words, as ``words_of`` reads a node's words."""
    _, top = _module(filename)
    seen, todo = set(), [node]
    while todo:
        words = words_of(todo.pop())
        if words & wanted:
            return True
        for word in words & set(top):
            if word not in seen:
                seen.add(word)
                todo.append(top[word])
    return False


def _reaches(filename, node, oracle):
    """Whether the test's own code, its decorators, or the module-level helpers and tables it uses
    (followed through each other) name the oracle."""
    return _follows(filename, node, _names, {oracle})


def _words(node):
    """Names, attributes and string constants (not docstrings) in ``node``."""
    docstrings = {id(sub.value) for sub in ast.walk(node) if isinstance(sub, ast.Expr) and isinstance(sub.value, ast.Constant)}
    found = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            found.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            found.add(sub.attr)
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str) and id(sub) not in docstrings:
            found.add(sub.value)
    return found


def _mentions(filename, node, names):
    """Whether the test, or the module-level helpers, tables and imports it uses, names one of ``names``
    in its code (a docstring does not count)."""
    return _follows(filename, node, _words, names)


def _find(test):
    filename, *path = test.split("::")
    module = _module(filename)
    if module is None or not path:
        return filename, None
    node = module[1].get(path[0])
    for part in path[1:]:
        node = next((n for n in getattr(node, "body", []) if isinstance(n, ast.FunctionDef) and n.name == part), None)
    if not isinstance(node, ast.FunctionDef) or not path[-1].startswith("test_"):
        return filename, None
    return filename, node


def _entries():
    for name, entry in LAYERS.items():
        yield f"layer {name}", entry
    for name, entry in ACTIVATIONS.items():
        yield f"activation {name}", entry
    for name, (entry, settings) in LOSSES.items():
        yield f"loss {name}", entry
        for setting, setting_entry in settings.items():
            yield f"loss {name}({setting})", setting_entry
    for name, entry in {**LOSS_FUNCTIONS, **LOSS_FUNCTION_SETTINGS}.items():
        yield f"loss function {name}", entry


def _problems(entries):
    problems = []
    for what, entry in entries:
        if not isinstance(entry, (T, K)) or not entry:
            problems.append(f"{what}: an entry is T(tests...), K(reason, tests...) or N(reason, tests...)")
            continue
        if isinstance(entry, K) and not (isinstance(entry.reason, str) and entry.reason.strip()):
            problems.append(f"{what}: says no reason why PyTorch has no equivalent")
        for test in entry:
            filename, node = _find(test)
            if node is None:
                problems.append(f"{what}: {test} is not a test in tests/")
            elif entry.oracle is not None and not _reaches(filename, node, entry.oracle):
                problems.append(f"{what}: {test} never reaches {entry.oracle}")
            elif entry.oracle == "torch" and not (_reaches(filename, node, "backward") or _reaches(filename, node, "grad")):
                problems.append(f"{what}: {test} compares no gradient (no backward, no torch.autograd.grad)")
    return problems


def test_every_entry_names_tests_that_exist_and_reach_their_oracle():
    assert _problems(_entries()) == []


# layers whose tests make the class from its name in pieces (getattr(layers, f"Adaptive...{rank}D")):
# the one check the syntax tree cannot make, done here by the reason
_NAMED_IN_PIECES = {f"Adaptive{kind}Pooling{rank}D": "test_adaptive_pooling.py's CLASSES: getattr(layers, f'Adaptive...')"
                    for kind in ("Average", "Max") for rank in (1, 2, 3)}


def test_each_layer_entry_names_a_test_of_that_layer():
    """An entry must not lean on a test of other layers alone: one of its tests names the class (or
    one of Keras' other names for it, or an import alias of it) in code."""
    from glassnet.layers.base import ALIASES as LAYER_ALIASES
    problems = []
    for name, entry in LAYERS.items():
        names = {name} | {alias for alias, target in LAYER_ALIASES.items() if target == name}
        if name in _NAMED_IN_PIECES or isinstance(entry, K):
            continue
        if not any(_mentions(*_find(test), names) for test in entry):
            problems.append(f"{name}: none of {list(entry)} names it")
    assert problems == []


def test_the_check_fails_on_a_missing_test_and_on_one_without_the_oracle():
    bad = [("layer A", T("test_dense.py::test_no_such_test")),
           ("layer B", T("test_no_such_file.py::test_x")),
           ("layer C", T("test_layer_contract.py::test_gradients_agree_with_finite_differences")),   # no torch
           ("layer D", K("", "test_dense.py::test_dense_matches_torch_linear")),                    # no reason, no keras
           ("layer E", T()), ("layer F", ("test_dense.py::test_dense_matches_torch_linear",)),
           ("layer G", T("test_activations_keras.py::test_sparsemax_in_torch_is_a_projection_too")),  # values alone
           ("layer H", T("test_dense.py::test_dense_matches_torch_linear"))]                        # good
    assert [problem.split(":")[0] for problem in _problems(bad)] == ["layer A", "layer B", "layer C", "layer D",
                                                                     "layer D", "layer E", "layer F", "layer G"]


@pytest.mark.parametrize("kind", ["layer", "activation", "loss"])
def test_most_entries_are_torch_parity(kind):
    """PyTorch autograd is the rule; Keras entries (with their reason) are the exception."""
    entries = [entry for what, entry in _entries() if what.startswith(kind + " ") and not what.startswith("loss function")]
    keras_only = [entry for entry in entries if isinstance(entry, K)]
    assert len(keras_only) <= len(entries) // 10
