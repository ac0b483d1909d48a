"""The README's short example runs as written (in a temporary folder: it writes its files there)."""
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_short_example_runs_as_written(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib", reason="the example plots: pip install 'glassnet[plot]'")
    pytest.importorskip("sklearn", reason="the example's moons: pip install 'glassnet[datasets]'")
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## A short example"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(code, str(README), "exec"), namespace)
    assert namespace["same"].count_params() == namespace["model"].count_params()
    assert len(namespace["same"].history.history["loss"]) == 50          # the resume trained 50 more
    assert {"moons.npz", "curve.png", "boundary.png"} <= {p.name for p in tmp_path.iterdir()}
    assert "Epoch 100/100" in capsys.readouterr().out
