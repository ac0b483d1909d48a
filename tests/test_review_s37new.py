"""Review of the day's new code (model names, count_params, attention call order, CLI ce, lazy
blocks) against Keras 3.15."""
import pytest

import glassnet as gn


def _residual_block_class(module):
    """A block of a Dense and a LayerNormalization with a residual sum: a Keras Layer, or a
    glassnet Model subclass (drawn from its call)."""
    L = module.layers
    base = L.Layer if module.__name__ == "keras" else gn.Model

    class Block(base):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.d = L.Dense(units)
            self.n = L.LayerNormalization()

        def call(self, x):
            return x + self.n(self.d(x))
    return Block


def _fresh(module):
    """``module`` (keras or glassnet) with its session's names started again (Keras numbers layers
    per session, glassnet per model)."""
    module.utils.clear_session()
    return module


def _keras_layer_names(model):
    """The names of the layers holding ``model``'s weights, in order (Keras' weight paths end
    with ``layer/weight``)."""
    return list(dict.fromkeys(w.path.split("/")[-2] for w in model.weights))


@pytest.mark.parametrize("before", [False, True], ids=["blocks-first", "after-a-dense"])
def test_layers_of_lazily_drawn_blocks_are_named_as_keras_names_them(keras, before):
    # The lazy draw added the block's layers, none named yet, through a rename loop that took a
    # missing name (None) for a clash: the first block's LayerNormalization was
    # "layer_normalization_1" (and its sum "add_1"), though the model held no other
    def make(module):
        Block = _residual_block_class(_fresh(module))
        first = [module.layers.Dense(4)] if before else []
        model = module.Sequential([*first, Block(4), Block(4)])
        model.build((None, 4))
        return model
    theirs, ours = make(keras), make(gn)
    names = [layer.name for layer in ours.layers if layer.params]
    assert names == _keras_layer_names(theirs)
    assert ours.get_layer("layer_normalization") is ours.layers[2 if before else 1]
    # the sums are named as a drawn block's are ("add", "add_1"), not from _1
    assert [layer.name for layer in ours.layers if type(layer).__name__ == "TensorOp"] == ["add", "add_1"]


def test_a_lazy_block_in_a_functional_model_names_its_layers_as_keras(keras):
    def make(module):
        L = _fresh(module).layers
        Block = _residual_block_class(module)
        blocks = module.Sequential([Block(4)])
        inputs = L.Input((4,))
        return module.Model(inputs, L.Dense(2)(blocks(inputs)))
    theirs, ours = make(keras), make(gn)
    assert [layer.name for layer in ours.layers if layer.params] == _keras_layer_names(theirs)


def test_get_layer_of_a_nested_model_s_name_says_its_layers_joined(keras):
    # Keras' get_layer finds a model nested in another by its name (keras.io:
    # model.get_layer("mlp_mixer_layer")); glassnet's nested models are no layers (their layers
    # join the outer model), and the error only said that no layer had that name
    Block = _residual_block_class(_fresh(gn))
    blocks = gn.Sequential([Block(4), Block(4)], name="blocks")
    inputs = gn.layers.Input((4,))
    model = gn.Model(inputs, gn.layers.Dense(2)(blocks(inputs)))
    k_blocks = keras.Sequential([_residual_block_class(keras)(4)], name="blocks")
    k_inputs = keras.layers.Input((4,))
    assert keras.Model(k_inputs, k_blocks(k_inputs)).get_layer("blocks") is k_blocks
    # a nested Sequential is given, as Keras gives it (test_nested_configs: also once read back)
    assert model.get_layer("blocks") is blocks
    # a block inside it (numbered per session, as Keras': block, block_1)
    with pytest.raises(ValueError, match=r"'block_1' is a model nested in this one \(Block\).*\['dense_1'"):
        model.get_layer("block_1")
    with pytest.raises(ValueError, match="no layer named 'nothing'"):
        model.get_layer("nothing")
