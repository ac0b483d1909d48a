"""Review of the day's new code (Lambda on lists, sample_weight per position, CLI --import,
SymbolicTensor.dtype, AUC PRGAIN, gelu approximate): each test failed before its fix."""
import numpy as np

import glassnet as gn
from glassnet import layers as L


def test_lambda_on_a_list_drops_a_mask_as_keras():
    # Keras' Lambda (no mask=) gives its output no mask: the pooling averages every step. The
    # mask planner asked the Lambda for a merge's reads_input_masks and crashed (AttributeError)
    a, b = L.Input((5,)), L.Input((5, 4))
    embedding = L.Embedding(10, 4, mask_zero=True)
    joined = L.Lambda(lambda t: t[0] + t[1])([embedding(a), b])
    model = gn.Model([a, b], L.GlobalAveragePooling1D()(joined))
    ids = np.array([[1, 2, 0, 0, 0]])
    table = embedding.get_weights()[0]
    np.testing.assert_allclose(model.predict([ids, np.zeros((1, 5, 4))]), table[ids[0]].mean(0, keepdims=True),
                               rtol=1e-6)


def test_cli_import_failures_name_the_option_in_one_line(tmp_path, capsys, monkeypatch):
    # a module not found said only "No module named ..."; one raising, or with a SyntaxError, printed
    # a traceback: each is now one line naming --import and the module
    from glassnet.cli import main
    monkeypatch.chdir(tmp_path)
    (tmp_path / "review_raises_mod.py").write_text("x = 1\nraise RuntimeError('boom in module')\n")
    (tmp_path / "review_syntax_mod.py").write_text("def f(:\n")
    cases = {"review_no_such_module": "ModuleNotFoundError: No module named 'review_no_such_module'",
             "review_raises_mod": "RuntimeError: boom in module (at ",
             "review_syntax_mod.py": "SyntaxError: "}
    try:
        for module, words in cases.items():
            status = main(["info", "m.npz", "--import", module])
            _, err = capsys.readouterr()
            assert status == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
            assert f"--import '{module}': {words}" in err
        assert "review_syntax_mod" not in __import__("sys").modules     # no half-run module is left
    finally:
        for name in ("review_raises_mod", "review_syntax_mod"):
            __import__("sys").modules.pop(name, None)
