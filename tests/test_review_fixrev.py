"""Review of the feat_noticed merge: cases its changes missed."""
import numpy as np
import pytest

from glassnet import optimizers


@pytest.mark.parametrize("pattern", [
    "(?:a?){20}a{20}$",                 # 2^20 ways at each place: minutes on a name of 1000 "a"s
    "a?" * 20 + "a" * 20 + "c",
    "(?=(?:a?){20}a{20}$)",             # the same inside a lookahead
    "(?:a|a){20}b",
    "(?:a?){12}a{900}$",                # 4096 ways, each trying 900 characters
])
def test_patterns_of_a_million_ways_at_each_place_are_refused(pattern):
    """The guard bounded the ways to match at one place (2 * 10^6), but re.search tries each of a
    name's 1000 places: these passed and each search of a 1000-character name took minutes."""
    with pytest.raises(ValueError, match=r"var_names holds .* which `re` could take very long"):
        optimizers.AdamW().exclude_from_weight_decay(var_names=[pattern])
    with pytest.raises(ValueError, match=r"exclude_layers holds .* which `re` could take very long"):
        optimizers.Muon(exclude_layers=[pattern])


@pytest.mark.parametrize("pattern", ["bias", "(?i)bias", "layer_normalization", r"dense_[0-9]+/kernel", "дense",
                                     ".*bias.*", ".*(bias|norm).*", r"(?:dense|conv)_\d+/(?:kernel|bias)$",
                                     r"^(?!output).*kernel$", "layer.*norm.*gamma", r"\bbias\b", "(?x) bias # a comment"])
def test_patterns_users_write_are_kept(pattern):
    opt = optimizers.AdamW()
    opt.exclude_from_weight_decay(var_names=[pattern])
    assert opt.get_config()["exclude_from_weight_decay"] == [pattern]


@pytest.mark.parametrize("mode, expected", [("int", (None,)), ("one_hot", (None, 5)), ("multi_hot", (5,)),
                                            ("count", (5,)), ("tf_idf", (5,))])
@pytest.mark.parametrize("strings", [True, False])
def test_lookup_compute_output_shape_of_1d_values_is_what_the_call_gives(mode, expected, strings):
    """Called on 1-D values the layers answer (Keras' n values, or one sample of n); their
    compute_output_shape refused (None,) (expected: Keras 3.15's answer, and the call's shape)."""
    from glassnet import layers
    layer = layers.StringLookup(output_mode=mode) if strings else layers.IntegerLookup(output_mode=mode)
    layer.adapt(np.array(["the", "cat", "sat", "dog"]) if strings else np.array([1, 2, 3, 4]))
    assert layer.compute_output_shape((None,)) == expected
    values = np.array(["cat", "dog"]) if strings else np.array([1, 2])
    assert layer(values).shape == tuple(2 if n is None else n for n in expected)
