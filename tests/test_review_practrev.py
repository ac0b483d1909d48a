"""A practitioner's review (session 45): the command line, datasets, scikit-learn wrappers,
callbacks and model files used as the README and docs say; each bug found is pinned here."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.cli import main


def _small_classifier():
    model = gn.Sequential([gn.layers.Dense(3, activation="softmax", input_dim=2)], seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


@pytest.mark.parametrize("save_format, name", [("keras", "model.keras"), ("h5", "model.h5")])
def test_info_reads_keras_files_as_predict_does(tmp_path, capsys, save_format, name):
    # `glassnet predict model.keras ...` worked, but `glassnet info model.keras` said "unexpected
    # member 'metadata.json'" (and of a .h5: "not a .npz (zip) file"), its own message listing the
    # .keras files among those glassnet reads: info's reader was given no Keras readers
    pytest.importorskip("h5py")
    path = str(tmp_path / name)
    _small_classifier().save(path, save_format=save_format)
    assert main(["info", path]) in (0, None)
    out = capsys.readouterr().out
    assert "loss: sparse_categorical_crossentropy" in out and "metrics: accuracy" in out
    assert "epochs trained: unknown" in out


@pytest.mark.parametrize("text, line", [("1 2\n3 4\n", 1), ("x y\n1 2\n", 2), ("1.5 2\n", 1)])
def test_predict_names_space_separated_values(tmp_path, capsys, text, line):
    # a space-separated file: its first line of numbers was taken as a header ("its one row, ['1 2'],
    # has no number"), the error then pointing at line 2 with "got 1" and no word of the spaces
    path = str(tmp_path / "model.npz")
    _small_classifier().save(path)
    data = tmp_path / "points.txt"
    data.write_text(text)
    assert main(["predict", path, str(data)]) == 2
    err = capsys.readouterr().err
    assert f"line {line}: expected 2 values" in err and "values separated by spaces are not read" in err


def test_predict_one_feature_space_separated_values(tmp_path, capsys):
    model = gn.Sequential([gn.layers.Dense(1, activation="sigmoid", input_dim=1)], seed=0)
    path = str(tmp_path / "model.npz")
    model.save(path)
    data = tmp_path / "points.txt"
    data.write_text("1 2\n")
    assert main(["predict", path, str(data)]) == 2
    assert "line 1: expected numbers, got ['1 2']; values separated by spaces" in capsys.readouterr().err
    data.write_text("x\n1\n0.5\n")          # a header and one value a line: still read
    assert main(["predict", path, str(data)]) in (0, None)
    assert capsys.readouterr().out.count("\n") == 3


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_regressor_sgd_at_half_the_rate_steps_as_mlpregressor(monkeypatch, alpha):
    # docs/scaling.md: mse is twice MLPRegressor's half squared error, so SGD at half the learning
    # rate (alpha weighed as MLPRegressor's) gives MLPRegressor's weights from its initial ones
    pytest.importorskip("sklearn")
    import warnings
    import glassnet.sklearn as gs
    from sklearn.neural_network import MLPRegressor
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    mlp = MLPRegressor(hidden_layer_sizes=(4,), activation="tanh", solver="sgd", learning_rate_init=0.05,
                       momentum=0.0, batch_size=40, alpha=alpha, max_iter=1, shuffle=False, random_state=0,
                       warm_start=True, tol=0.0, n_iter_no_change=10 ** 6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")           # ConvergenceWarning of max_iter
        mlp.fit(X, y)
        start = [w.copy() for pair in zip(mlp.coefs_, mlp.intercepts_) for w in pair]
        mlp.max_iter = 5
        mlp.fit(X, y)

    class FromMLP(gs.Sequential):
        def fit(self, *args, **kwargs):
            self.set_weights(start)
            return super().fit(*args, **kwargs)
    monkeypatch.setattr(gs, "Sequential", FromMLP)
    reg = gs.GlassnetRegressor(hidden_layer_sizes=(4,), activation="tanh", optimizer="sgd", learning_rate=0.025,
                               batch_size=None, alpha=alpha, epochs=5, dtype="float64", random_state=0).fit(X, y)
    expected = [w for pair in zip(mlp.coefs_, mlp.intercepts_) for w in pair]
    for got, want in zip(reg.model_.get_weights(), expected):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("loader", ["mnist", "mnist1d"])
@pytest.mark.parametrize("flag", ["no", "False", 0, None])
def test_dataset_image_shape_is_a_flag(loader, flag):
    # mnist(image_shape="no") gave the (n, 28, 28, 1) images: any non-empty string was read as True
    with pytest.raises(TypeError, match=rf"glassnet.datasets.{loader}\(\): image_shape: expected True or False"):
        getattr(gn.datasets, loader)(image_shape=flag)


@pytest.mark.parametrize("name", ["untar", "extract", "force_download"])
def test_get_file_flags_are_flags(tmp_path, name):
    # get_file(..., force_download="no") downloaded again over a cached file, extract="no" extracted:
    # any non-empty string was read as True; refused before anything is fetched
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "data.txt").write_text("cached")
    with pytest.raises(TypeError, match=rf"get_file: {name}: expected True or False, got 'no'"):
        gn.utils.get_file("data.txt", origin="http://example.invalid/data.txt", cache_dir=str(tmp_path), **{name: "no"})
    assert gn.utils.get_file("data.txt", origin="http://example.invalid/data.txt", cache_dir=str(tmp_path),
                             **{name: False}) == str(tmp_path / "datasets" / "data.txt")


def test_keras_keywords_of_save_save_weights_load_weights(tmp_path):
    # Keras code ports as written: model.save("m.keras", overwrite=True), save_weights(...,
    # overwrite=True), load_weights(..., skip_mismatch=False) failed with "unexpected keyword
    # argument"; the methods now take them as glassnet.saving's functions did
    model = _small_classifier()
    for path, save in ((tmp_path / "m.npz", model.save), (tmp_path / "w.npz", model.save_weights)):
        save(str(path), overwrite=True)
        before = path.read_bytes()
        with pytest.raises(FileExistsError, match="overwrite=False"):
            save(str(path), overwrite=False)
        assert path.read_bytes() == before
        with pytest.raises(TypeError, match="overwrite must be True or False, got 'no'"):
            save(str(tmp_path / "new.npz"), overwrite="no")
        save(str(path), overwrite=True)
    save(str(tmp_path / "fresh.npz"), overwrite=False)          # a new file is written
    model.load_weights(str(tmp_path / "w.npz"), skip_mismatch=False)
    with pytest.raises(ValueError, match="skip_mismatch=True is not implemented"):
        model.load_weights(str(tmp_path / "w.npz"), skip_mismatch=True)
    with pytest.raises(TypeError, match="include_optimizer"):    # positional: glassnet's order, checked
        model.save(str(tmp_path / "m2.npz"), "no")


def test_train_says_one_epoch_in_the_singular(tmp_path, capsys):
    # "trained iris for 1 epochs in 0.02 s"
    assert main(["train", "iris", "--epochs", "1", "--out", str(tmp_path), "--verbose", "0"]) in (0, None)
    assert "trained iris for 1 epoch in " in capsys.readouterr().out


def test_on_train_end_logs_are_the_last_epochs_own():
    # Keras' CallbackList hands on_epoch_end a copy of the epoch's logs, and on_train_end the
    # trainer's own: what a callback added (ReduceLROnPlateau's learning_rate) is not there, as in
    # Keras 3.15 (glassnet's on_train_end had it); History still records learning_rate
    ends = []
    model = gn.Sequential([gn.layers.Dense(1, input_dim=2)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    x = np.arange(8.0).reshape(4, 2)
    history = model.fit(x, x[:, :1], epochs=2, verbose=0, callbacks=[
        gn.callbacks.ReduceLROnPlateau(monitor="loss", patience=0),
        gn.callbacks.LambdaCallback(on_train_end=lambda logs: ends.append(sorted(logs)))])
    assert ends == [["loss"]]
    assert "learning_rate" in history.history


@pytest.mark.parametrize("field", ["{}", "{0}", "{0:02d}"])
def test_checkpoint_positional_field_is_named(tmp_path, field):
    # the message read "names Replacement index 0 out of range for positional args tuple, which is
    # not among the logged values"
    model = gn.Sequential([gn.layers.Dense(1, input_dim=2)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    x = np.arange(8.0).reshape(4, 2)
    checkpoint = gn.callbacks.ModelCheckpoint(str(tmp_path / f"m-{field}.npz"), monitor="loss")
    with pytest.raises(ValueError, match=r"has a positional field \('\{\}' or '\{0\}'\), which nothing fills; "
                                         r"name a logged value, such as \{epoch:02d\}"):
        model.fit(x, x[:, :1], epochs=1, verbose=0, callbacks=[checkpoint])
