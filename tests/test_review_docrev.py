"""What the README and docs/ say, checked where they were wrong: the weight-name patterns the
README lists as refused are refused, and a TOML file's ``layers`` key is named in its errors."""
import re
from pathlib import Path

import pytest

import glassnet as gn
from glassnet.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_the_patterns_the_readme_lists_as_refused_are_refused():
    readme = ROOT / "docs" / "optimizers.md"      # the README's optimizers row moved there
    if not readme.exists():
        pytest.skip("docs/optimizers.md is not next to the tests")
    text = readme.read_text(encoding="utf-8")
    listed = re.search(r"a pattern that `re` could backtrack on for long — (.*?): over 10\^9 steps", text).group(1)
    # a "(...: `x` is fine)" aside names a pattern that is taken; "twenty `a?` in a row" is "a?" * 20
    listed = re.sub(r"\([^()`]*: `[^`]+` is fine\)", "", listed).replace("twenty `a?` in a row", "`" + "a?" * 20 + "`")
    refused = re.findall(r"`([^`]+)`", listed)
    assert len(refused) >= 4, listed
    for pattern in refused:
        with pytest.raises(ValueError, match="could take very long"):
            gn.optimizers.Adam(weight_decay=0.1).exclude_from_weight_decay(var_names=[pattern])


def test_the_error_message_s_example_is_refused_and_a_harmless_alternation_is_not():
    with pytest.raises(ValueError, match="could take very long") as info:
        gn.optimizers.Adam(weight_decay=0.1).exclude_from_weight_decay(var_names=["(a+)+"])
    examples = re.search(r"as in \(a\+\)\+ or (\S+),", str(info.value)).group(1)
    with pytest.raises(ValueError, match="could take very long"):
        gn.optimizers.Adam(weight_decay=0.1).exclude_from_weight_decay(var_names=[examples])
    # one way to match each character: re searches it in linear time per place, and it is taken
    gn.optimizers.Adam(weight_decay=0.1).exclude_from_weight_decay(var_names=["(a|b)*"])


def test_a_bad_layers_key_in_the_toml_file_is_named_as_the_file_s(tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text('[training]\nlayers = "25:relu,x"\n', encoding="utf-8")
    status = main(["train", "xor", "--config", str(config), "--out", str(tmp_path / "o"), "--verbose", "0"])
    err = capsys.readouterr().err
    assert status == 2
    assert "[training] layers" in err and str(config) in err and "--layers" not in err
    assert "bad item 'x'" in err
    config.write_text("[training]\nlayers = 5\n", encoding="utf-8")
    assert main(["train", "xor", "--config", str(config), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "[training] layers" in err and "--layers" not in err
