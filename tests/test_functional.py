"""The functional API, ``gn.Model(inputs, outputs)``: graphs of layer calls (residual blocks, branches
that meet), checked by finite differences, PyTorch autograd and Keras' functional models, and
through the Sequential's whole surface (fit, evaluate, predict, trace, summary, files)."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import ModelFileError
from glassnet.gradcheck import check_model

L = gn.layers


def _residual_mlp(dtype="float64", seed=0, **compile_kw):
    """input -> dense -> [dense(dense) + dense] -> dense: a fan-out (``h`` read twice) and a merge."""
    inputs = gn.Input((3,))
    h = L.Dense(4, activation="tanh")(inputs)
    branch = L.Dense(4, activation="tanh")(L.Dense(5, activation="tanh")(h))
    outputs = L.Dense(1, activation="sigmoid")(L.Add()([h, branch]))
    model = gn.Model(inputs, outputs, seed=seed, dtype=dtype)
    model.compile(**{"loss": "binary_crossentropy", "optimizer": gn.optimizers.SGD(0.5), **compile_kw})
    return model


def test_layers_are_ordered_each_after_what_it_reads():
    model = _residual_mlp()
    # named in the order made, as Keras 3.15 names them: the branch's outer Dense is made first
    assert [layer.name for layer in model.layers] == ["dense", "dense_2", "dense_1", "add", "dense_3"]
    assert model._inbound == [[-1], [0], [1], [0, 2], [3]]
    assert model.built and model.input_shape == (None, 3) and model.output_shape == (None, 1)
    assert not model.layers[0].needs_input_gradient and model.layers[1].needs_input_gradient
    assert model.count_params() == 16 + 25 + 24 + 5


def test_symbolic_tensors_carry_shapes_and_refuse_what_a_layer_cannot_take():
    inputs = gn.Input((8, 8, 3))
    x = L.Conv2D(4, 3)(inputs)
    assert x.shape == (None, 6, 6, 4) and x.sample_shape == (6, 6, 4) and "Conv2D" in repr(x)
    with pytest.raises(ValueError, match="one shape"):
        L.Add()([x, inputs])
    with pytest.raises(TypeError, match="takes one input, got a list of 2"):
        L.Dense(2)([x, x])
    with pytest.raises(TypeError, match="merges a list of inputs"):
        L.Add()(x)
    with pytest.raises(ValueError, match=r"declares input samples of shape \(5,\), but is called on samples of shape \(6, 6, 4\)"):
        L.Dense(2, input_shape=(5,))(x)


@pytest.mark.parametrize("fused", [True, False])
def test_gradients_agree_with_finite_differences(fused, rng):
    model = _residual_mlp(**({} if fused else {"loss": "mse"}))
    assert model._fused is fused
    x, y = rng.standard_normal((10, 3)), rng.integers(0, 2, (10, 1))
    assert check_model(model, x, y)["max_error"] < 1e-7


def test_branches_merged_by_every_merge_layer_agree_with_finite_differences_and_round_trip(rng, tmp_path):
    inputs = gn.Input((4,))
    a = L.Dense(3, activation="tanh")(inputs)
    b = L.Dense(3, activation="sigmoid")(inputs)
    c = L.Dense(3)(a)
    merged = [L.Add()([a, b, c]), L.Subtract()([a, b]), L.Multiply()([a, b, c]), L.Average()([b, c]),
              L.Maximum()([a, c]), L.Minimum()([b, c]), L.Concatenate()([a, inputs]),
              L.Dot(axes=1, normalize=True)([a, c])]
    outputs = L.Dense(2, activation="softmax")(L.Concatenate()(merged))
    model = gn.Model(inputs, outputs, seed=3, dtype="float64")
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    x, y = rng.standard_normal((6, 4)), rng.integers(0, 2, 6)
    assert check_model(model, x, y)["max_error"] < 1e-7
    model.save(tmp_path / "merged.npz")
    loaded = gn.load_model(tmp_path / "merged.npz")
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def _torch_residual(torch, model):
    """The same network in PyTorch, with the model's weights."""
    nn = torch.nn
    dense = [nn.Linear(*layer.params["kernel"].shape) for layer in model.layers if "kernel" in layer.params]
    with torch.no_grad():
        for linear, layer in zip(dense, [layer for layer in model.layers if "kernel" in layer.params]):
            linear.weight.copy_(torch.tensor(layer.params["kernel"].T))
            linear.bias.copy_(torch.tensor(layer.params["bias"]))

    def forward(x):
        h = torch.tanh(dense[0](x))
        branch = torch.tanh(dense[2](torch.tanh(dense[1](h))))
        return torch.sigmoid(dense[3](h + branch))
    return dense, forward


def test_loss_gradients_and_training_match_torch_autograd(rng, torch):
    model = _residual_mlp()
    x, y = rng.standard_normal((16, 3)), rng.integers(0, 2, (16, 1)).astype(float)
    dense, forward = _torch_residual(torch, model)
    value, _ = model._loss_and_gradients(x, y)
    loss = torch.nn.functional.binary_cross_entropy(forward(torch.tensor(x)), torch.tensor(y))
    loss.backward()
    assert value == pytest.approx(loss.item(), rel=1e-12)
    ours = [layer for layer in model.layers if "kernel" in layer.params]
    for linear, layer in zip(dense, ours):
        np.testing.assert_allclose(layer.grads["kernel"], linear.weight.grad.numpy().T, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.grads["bias"], linear.bias.grad.numpy(), rtol=1e-10, atol=1e-12)
    # three epochs of plain SGD, batches in order: the same weights
    optimizer = torch.optim.SGD([p for linear in dense for p in linear.parameters()], lr=0.5)
    for _ in range(3):
        for start in range(0, 16, 4):
            optimizer.zero_grad()
            torch.nn.functional.binary_cross_entropy(forward(torch.tensor(x[start:start + 4])),
                                                     torch.tensor(y[start:start + 4])).backward()
            optimizer.step()
    model.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0)
    for linear, layer in zip(dense, ours):
        np.testing.assert_allclose(layer.params["kernel"], linear.weight.detach().numpy().T, rtol=1e-9, atol=1e-12)


def test_a_residual_cnn_trains_as_keras_functional_model(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")

    def draw(lib, **kw):
        inputs = lib.Input((8, 8, 1))
        x = lib.layers.Conv2D(4, 3, padding="same", activation="relu", **kw)(inputs)
        y = lib.layers.Conv2D(4, 3, padding="same", **kw)(x)
        x = lib.layers.Activation("relu")(lib.layers.Add()([x, y]))
        x = lib.layers.Concatenate()([lib.layers.MaxPooling2D(2)(x), lib.layers.AveragePooling2D(2)(x)])
        outputs = lib.layers.Dense(3, activation="softmax")(lib.layers.Flatten()(x))
        return inputs, outputs
    ours = gn.Model(*draw(gn), seed=0)
    theirs = keras.Model(*draw(keras))
    assert [type(layer).__name__ for layer in ours.layers] == [type(layer).__name__ for layer in theirs.layers
                                                              if type(layer).__name__ != "InputLayer"]
    theirs.set_weights(ours.get_weights())
    x, y = rng.standard_normal((24, 8, 8, 1)).astype(np.float32), rng.integers(0, 3, 24)
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    ours.compile(loss="sparse_categorical_crossentropy", optimizer=gn.optimizers.SGD(0.1))
    theirs.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(0.1))
    ours_loss = ours.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    their_loss = theirs.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(ours_loss, their_loss, rtol=1e-4)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


def test_fit_evaluate_predict_summary_and_trace(rng, capsys):
    model = _residual_mlp(dtype="float32", metrics=["accuracy"])
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = (x.sum(axis=1, keepdims=True) > 0).astype(np.float32)
    history = model.fit(x, y, epochs=40, batch_size=16, validation_split=0.25, verbose=0).history
    assert history["loss"][-1] < history["loss"][0] and history["accuracy"][-1] > 0.8
    loss, accuracy = model.evaluate(x, y)
    assert model.predict(x).shape == (64, 1) and model.predict(x).dtype == np.float32
    np.testing.assert_array_equal(model(x), model.predict(x))
    model.summary()
    printed = capsys.readouterr().out
    assert "Connected to" in printed and "add (Add)" in printed and "input_layer" in printed
    assert "dense, dense_1" in printed and "Total params: 70" in printed
    trace = model.trace(x[:2], y[:2])
    add = trace[3]
    assert len(add["input"]) == 2
    # the first dense layer's output is read twice: its dA is the sum of what both readers send back
    np.testing.assert_allclose(trace[0]["dA"], add["dA"] + trace[1]["dZ"] @ model.layers[1].params["kernel"].T,
                               rtol=1e-5, atol=1e-7)
    assert "input[1]" in str(trace)


def test_files_json_and_configs_rebuild_the_graph(rng, tmp_path):
    model = _residual_mlp(dtype="float32", metrics=["accuracy"])
    x, y = rng.standard_normal((20, 3)).astype(np.float32), rng.integers(0, 2, (20, 1))
    model.fit(x, y, epochs=2, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert type(loaded) is gn.Model and loaded._inbound == model._inbound
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    for m in (model, loaded):       # the optimizer's state came back: training goes on identically
        m.fit(x, y, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    again = gn.model_from_json(model.to_json())
    assert type(again) is gn.Model and again._inbound == model._inbound and again.loss is None
    copy = gn.Sequential.from_config(model.get_config())
    assert type(copy) is gn.Model and copy.loss is not None and copy.summary is not None


def test_a_crafted_graph_in_a_file_is_refused(tmp_path, edit_model_file):
    model = _residual_mlp(dtype="float32")
    model.save(tmp_path / "m.npz")
    for inbound, message in [([[0], [0], [1], [0, 2], [3]], "must list one earlier layer"),
                             ([[-1], [0], [1], [0], [3]], "Add merges at least 2 inputs"),
                             ([[-1], [0], [1], [0, 2]], "'inbound' must list each"),
                             # (a graph's file keeps no layer shapes: the weights then do not fit)
                             ([[-1], [-1], [1], [0, 2], [3]], r"weights/002: expected shape \(3, 5\)"),
                             ("x", "'inbound' must list each")]:
        edit_model_file(tmp_path / "m.npz", lambda config: config["model"].update(inbound=inbound), tmp_path / "bad.npz")
        with pytest.raises(ModelFileError, match=message):
            gn.load_model(tmp_path / "bad.npz")


def test_what_is_not_supported_yet_is_refused_by_name():
    a, b = gn.Input((3,)), gn.Input((3,))
    for outputs in (L.Add()([L.Dense(3)(a), L.Dense(3)(b)]), L.Dense(1)(b)):
        with pytest.raises(ValueError, match="depend on an Input that is not among the model's inputs"):
            gn.Model(a, outputs)
    # (an Input no layer reads is taken, as in Keras: tests/test_unused_inputs.py)
    with pytest.raises(ValueError, match=r"inputs\[1\] is listed twice"):
        gn.Model([a, a], L.Dense(3)(a))
    # (inputs of any length are taken: tests/test_open_inputs.py)
    # (a layer called more than once may make an output: tests/test_shared_outputs.py)
    with pytest.raises(ValueError, match="outputs is an Input itself"):
        gn.Model(a, a)
    sequences = gn.Input((4, 3))
    open_length = gn.Input((None, 3))
    with pytest.raises(NotImplementedError, match="joins a masked sequence to one without a mask whose length is open"):
        gn.Model(open_length, L.Concatenate(axis=1)([L.Masking()(open_length), open_length]))
    grid = gn.Input((4, 3))           # ids in a grid: Embedding's mask (batch, 4, 3) has an axis within the steps
    embedded = L.Embedding(10, 2, mask_zero=True)(grid)
    # (a merge that keeps masks: Concatenate refuses it by the shapes it joins; one that neither reads
    # nor keeps them, SetMask, takes it: tests/test_mask_argument.py)
    with pytest.raises(NotImplementedError, match=r"receives a mask, and joins samples of shapes \[\(4, 3, 2\), "
                                                  r"\(4, 3, 2\)\]; masked inputs are supported as sequences"):
        gn.Model(grid, L.Concatenate()([embedded, embedded]))
    with pytest.raises(ValueError, match="receives the mask that layer masking.* makes"):
        gn.Model(sequences, L.BatchNormalization()(L.Masking()(sequences)))
    reader = L.LSTM(2)
    with pytest.raises(NotImplementedError, match="called more than once cannot make or read a mask"):
        gn.Model(sequences, L.Add()([reader(L.Masking()(sequences)), reader(sequences)]))
    with pytest.raises(ValueError, match="this Input holds texts"):      # a TextVectorization reads them
        L.Dense(1)(gn.Input((1,), dtype="string"))
    with pytest.raises(ValueError, match="merges several inputs.*functional glassnet.Model"):
        gn.Sequential([L.Dense(3, input_dim=2), L.Add()])
    model = gn.Model(a, L.Dense(1)(a))
    with pytest.raises(TypeError, match="add: a functional Model is fixed"):
        model.add(L.Dense(1))
    with pytest.raises(TypeError, match="pop: a functional Model is fixed"):
        model.pop()
    # a built model's samples are fixed (a Dense inside would take other lengths: the model does not)
    chain = gn.Sequential([gn.Input((4, 8)), L.Dense(3)])
    with pytest.raises(ValueError, match=r"build: the model declares input samples of shape \(4, 8\), got \(5, 8\)"):
        chain.build((None, 5, 8))
    with pytest.raises(ValueError, match=r"takes input samples of shape \(4, 8\), called on samples of shape \(5, 8\)"):
        chain(gn.Input((5, 8)))
    built = gn.Sequential([L.Dense(3)])
    built.predict(np.ones((2, 4, 8)))
    with pytest.raises(ValueError, match=r"was built for input samples of shape \(4, 8\), got \(5, 8\)"):
        built.build((None, 5, 8))
    inner_in = gn.Input((4, 8))
    inner = gn.Model(inner_in, L.Dense(3)(inner_in))
    with pytest.raises(ValueError, match=r"takes input samples of shape \(4, 8\)"):
        inner(gn.Input((5, 8)))


def test_a_refused_model_leaves_its_layers_as_they_were():
    inputs = gn.Input((3,))
    named = L.Dense(2, name="first")
    clash = L.Dense(2, name="first")
    with pytest.raises(ValueError, match="already in this model"):
        gn.Model(inputs, clash(named(inputs)))
    assert named.name == clash.name == "first" and named.dtype is None and not named.built
    # drawn again without the clash, the same layers make a model
    model = gn.Model(inputs, L.Dense(1)(named(inputs)))
    assert model.layers[0] is named


def test_a_multiply_input_view_does_not_keep_the_data_alive(rng):
    inputs = gn.Input((3,))
    model = gn.Model(inputs, L.Dense(1)(L.Multiply()([inputs, L.Dense(3)(inputs)])), seed=0)
    model.compile(loss="mse", optimizer="sgd")
    x = rng.standard_normal((100, 3)).astype(np.float32)
    model.fit(x, x[:, :1], epochs=1, batch_size=10, shuffle=False, verbose=0)
    multiply = model.layers[1]
    assert not any(np.shares_memory(a, x) for a in multiply.inputs)


def test_a_config_out_of_graph_order_is_refused_and_a_call_leading_nowhere_kept():
    inputs = gn.Input((3,))
    a, b = L.Dense(3)(inputs), L.Dense(3)(inputs)
    model = gn.Model(inputs, L.Dense(1)(L.Add()([a, b])))
    config = model.get_config()
    assert config["inbound"] == [[-1], [-1], [0, 1], [2]]
    # the walk back from the output visits the Add's inputs in order: layer 1 would come first
    with pytest.raises(ValueError, match="not in the order of their graph"):
        gn.Sequential.from_config({**config, "inbound": [[-1], [-1], [1, 0], [2]]})
    dangling = {**config, "layers": [*config["layers"][:3], {"class_name": "Dense", "config": {"units": 3, "name": "extra"}},
                                      config["layers"][3]],
                "inbound": [[-1], [-1], [0, 1], [-1], [2]], "calls": [0, 1, 2, 3, 4]}
    # a call leading nowhere is kept, as a block's dead calls are (glassnet._dead_calls): computed,
    # its layer listed with its weights, the output the same
    rebuilt = gn.Sequential.from_config(dangling)
    assert [layer.name for layer in rebuilt.layers][-2:] == ["extra", model.layers[-1].name]
    x = np.random.default_rng(0).normal(size=(2, 3)).astype(np.float32)
    for layer in model.layers:
        rebuilt.get_layer(layer.name).set_weights(layer.get_weights())
    np.testing.assert_allclose(rebuilt.predict(x), model.predict(x), rtol=1e-6)


def test_the_readme_example_runs_and_trains(rng, capsys):
    import re
    from pathlib import Path
    readme = Path(__file__).resolve().parents[1] / "docs" / "guide" / "functional.md"
    if not readme.exists():
        pytest.skip("docs/guide/functional.md is not next to the tests")
    text = readme.read_text(encoding="utf-8")
    section = text[text.index("# Graphs of layers"):]     # the page's title (its H2 repeated it)
    namespace = {"gn": gn}
    exec(compile(re.search(r"```python\n(.*?)```", section, re.S).group(1), str(readme), "exec"), namespace)
    model = namespace["model"]
    assert "Connected to" in capsys.readouterr().out
    assert [type(layer).__name__ for layer in model.layers] == [
        "Conv2D", "Conv2D", "Add", "MaxPooling2D", "AveragePooling2D", "Concatenate", "Flatten", "Dense"]
    assert model.output_shape == (None, 10) and model.layers[5].output_shape([(14, 14, 16)] * 2) == (14, 14, 32)
    x, y = rng.random((32, 28, 28, 1)).astype(np.float32), rng.integers(0, 10, 32)
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]


def test_every_layer_of_the_contract_table_works_in_a_model(rng):
    from test_layer_contract import TABLE
    for name, (factory, shape, _) in sorted(TABLE.items()):
        layer = factory(dtype="float64", seed=0)
        if layer.makes_mask or getattr(layer, "takes_text", False):
            continue            # refused by name (test_what_is_not_supported_yet_is_refused_by_name)
        inputs = gn.Input(shape)
        model = gn.Model(inputs, layer(inputs), dtype="float64")
        twin = gn.Sequential([gn.Input(shape), factory(dtype="float64", seed=0)], dtype="float64")
        assert model.output_shape == twin.output_shape, name
        if getattr(layer, "discrete_input", False):
            x = rng.integers(0, getattr(layer, "input_dim", 8), (3, *shape)).astype(float)
        else:
            x = rng.standard_normal((3, *shape))
        np.testing.assert_allclose(model.predict(x), twin.predict(x), rtol=1e-12, err_msg=name)


def test_a_tensor_read_twice_by_one_merge_layer(rng):
    inputs = gn.Input((3,))
    h = L.Dense(3, activation="tanh")(inputs)
    outputs = L.Dense(1)(L.Concatenate()([L.Add()([h, h]), L.Multiply()([h, h]), L.Add()([inputs, inputs])]))
    model = gn.Model(inputs, outputs, seed=1, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    assert model._inbound[1] == [0, 0] and model._inbound[3] == [-1, -1]
    assert check_model(model, rng.standard_normal((5, 3)), rng.standard_normal((5, 1)))["max_error"] < 1e-7


def _wide_and_deep(lib, **kw):
    """Two inputs: 3 features (wide, straight to the output) and a 2x2 grid (deep)."""
    wide, grid = lib.Input((3,), name="wide"), lib.Input((2, 2), name="grid")
    deep = lib.layers.Dense(4, activation="tanh", **kw)(lib.layers.Flatten()(grid))
    joined = lib.layers.Concatenate()([wide, lib.layers.Dense(3, activation="tanh", **kw)(deep)])
    return [wide, grid], lib.layers.Dense(1, activation="sigmoid", **kw)(joined)


def test_several_inputs_check_pack_and_train_as_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours, theirs = gn.Model(*_wide_and_deep(gn), seed=0), keras.Model(*_wide_and_deep(keras))
    assert ours.input_shapes == [(3,), (2, 2)] and ours.input_shape == [(None, 3), (None, 2, 2)]
    assert ours.input_shape == [tuple(s) for s in theirs.input_shape]        # Keras': a list, batch axis first
    assert ours._sample_input_shape == (7,)         # inside, the packed row of both
    assert ours._inbound == [[-2], [0], [1], [-1, 2], [3]]
    theirs.set_weights(ours.get_weights())
    xa, xb = rng.standard_normal((32, 3)).astype(np.float32), rng.standard_normal((32, 2, 2)).astype(np.float32)
    y = rng.integers(0, 2, (32, 1)).astype(np.float32)
    np.testing.assert_allclose(ours.predict([xa, xb]), theirs.predict([xa, xb], verbose=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(ours.predict({"grid": xb, "wide": xa}), ours.predict((xa, xb)))
    ours.compile(loss="binary_crossentropy", optimizer=gn.optimizers.SGD(0.3), metrics=["accuracy"])
    theirs.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(0.3))
    ours_loss = ours.fit([xa, xb], y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    their_loss = theirs.fit([xa, xb], y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(ours_loss, their_loss, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_several_inputs_through_fit_evaluate_trace_files_and_batches(rng, tmp_path, capsys):
    model = gn.Model(*_wide_and_deep(gn), seed=0, dtype="float64")
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    xa, xb, y = rng.standard_normal((40, 3)), rng.standard_normal((40, 2, 2)), rng.integers(0, 2, (40, 1))
    assert check_model(model, [xa[:6], xb[:6]], y[:6])["max_error"] < 1e-7
    history = model.fit([xa, xb], y, epochs=3, batch_size=8, validation_split=0.25, verbose=0).history
    assert len(history["val_loss"]) == 3
    model.fit({"wide": xa, "grid": xb}, y, epochs=1, validation_data=([xa[:5], xb[:5]], y[:5]), verbose=0)
    assert model.evaluate([xa, xb], y, batch_size=7)[0] == pytest.approx(model.evaluate([xa, xb], y)[0], rel=1e-12)
    np.testing.assert_allclose(model.predict([xa, xb], batch_size=3), model([xa, xb]), rtol=1e-12)
    model.train_on_batch([xa[:4], xb[:4]], y[:4])
    trace = model.trace([xa[:2], xb[:2]], y[:2])
    np.testing.assert_array_equal(trace[0]["input"], xb[:2])               # Flatten reads the grid
    np.testing.assert_array_equal(trace[3]["input"][0], xa[:2])            # Concatenate: wide, then deep
    model.summary()
    assert "grid" in capsys.readouterr().out

    class Batches(gn.utils.PyDataset):
        def __len__(self):
            return 5

        def __getitem__(self, index):
            rows = slice(8 * index, 8 * index + 8)
            return [xa[rows], xb[rows]], y[rows]
    model.fit(Batches(), epochs=1, verbose=0)
    assert model.predict(Batches()).shape == (40, 1)
    model.save(tmp_path / "wd.npz")
    loaded = gn.load_model(tmp_path / "wd.npz")
    assert loaded.input_shapes == [(3,), (2, 2)] and loaded._input_names == ["wide", "grid"]
    np.testing.assert_array_equal(loaded.predict([xa, xb]), model.predict([xa, xb]))
    assert gn.model_from_json(model.to_json())._inbound == model._inbound


def test_several_inputs_refuse_what_does_not_fit_by_name(rng):
    model = gn.Model(*_wide_and_deep(gn), seed=0)
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    xa, xb, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 2, 2)), rng.integers(0, 2, (6, 1))
    with pytest.raises(TypeError, match=r"the model has 2 inputs \(wide, grid\); give a list of 2 arrays"):
        model.predict(xa)
    with pytest.raises(TypeError, match="got a list of 3"):
        model.predict([xa, xb, xb])
    with pytest.raises(ValueError, match=r"x\[1\]: input 'grid' takes samples of shape \(2, 2\), got samples of shape \(4,\)"):
        model.predict([xa, xb.reshape(6, 4)])
    with pytest.raises(ValueError, match="the same number of samples, got \\[6, 5\\]"):
        model.fit([xa, xb[:5]], y, verbose=0)
    with pytest.raises(ValueError, match=r"expected a dict with the keys \['wide', 'grid'\]"):
        model.predict({"wide": xa})
    with pytest.raises(ValueError, match="validation_data\\[0\\]\\[0\\]"):
        model.fit([xa, xb], y, validation_data=([xa[:, :2], xb], y), verbose=0)
    ids, grid = gn.Input((4,), name="ids"), gn.Input((2, 2))
    tagged = L.Concatenate()([L.Flatten()(L.Embedding(10, 2)(ids)), L.Flatten()(grid)])
    embedded = gn.Model([grid, ids], L.Dense(1)(tagged))
    with pytest.raises(ValueError, match=r"x\[1\].*whole|x\[1\].*integer|x\[1\].*index"):
        embedded.predict([xb[:2], np.full((2, 4), 1.5)])
    assert embedded.predict([xb[:2], np.ones((2, 4))]).shape == (2, 1)


def test_merge_layers_refuse_sequences_of_other_lengths_at_run_time(rng):
    inputs = gn.Input((None, 3))
    shorter = L.Conv1D(3, 3)(inputs)            # two steps fewer than the input: None both, when drawn
    model = gn.Model(inputs, L.Dense(1)(L.GlobalAveragePooling1D()(L.Add()([shorter, inputs]))))
    model.compile(loss="mse", optimizer="sgd")
    # (4 steps: 2 against 4 cannot broadcast; 3 steps would give 1 against 3, which broadcasts as in Keras)
    x = rng.random((4, 4, 3)).astype(np.float32)
    for call in (lambda: model.predict(x, batch_size=4), lambda: model(x),
                 lambda: model.fit(x, np.zeros((4, 1)), batch_size=4, verbose=0)):
        with pytest.raises(ValueError, match=r"Add needs inputs of one shape .or of size 1 on an axis, broadcast: "
                                             r"Keras' rule., got samples of shapes \[\(2, 3\), \(4, 3\)\]"):
            call()
    joined = gn.Model(inputs, L.Concatenate()([shorter, inputs]))
    with pytest.raises(ValueError, match="must match on every axis but axis=-1"):
        joined.predict(x)
    # sizes known on one side only are drawn: (None, 5) and (5, None) unknown on both axes, as Keras 3.15's
    # compute_output_shape gives them (None, None, None)
    assert L.Add()([gn.Input((None, 5)), L.Permute((2, 1))(gn.Input((None, 5)))]).shape == (None, None, None)


def test_a_model_is_not_called_on_symbolic_tensors_and_configs_say_which_class_rebuilds_them():
    inputs = gn.Input((4,))
    model = gn.Model(inputs, L.Dense(2)(inputs))
    for callee in (model, gn.Sequential([L.Dense(3, input_dim=4)])):
        with pytest.raises(TypeError, match="takes one symbolic tensor .an Input or a layer's output., got"):
            callee([gn.Input((4,)), gn.Input((4,))])
    with pytest.raises(ValueError, match="describes a Sequential"):
        gn.Model.from_config(gn.Sequential([L.Dense(2, input_dim=3)]).get_config())
    with pytest.raises(TypeError, match="Sequential.from_architecture"):
        gn.Model.from_architecture([{"input_dim": 2, "output_dim": 1, "activation": "sigmoid"}])

    class Mine(gn.Model):
        pass
    assert type(Mine.from_config(model.get_config())) is Mine


def test_backup_and_restore_refuses_the_backup_of_another_graph(rng, tmp_path):
    def draw(second_reads_input):
        inputs = gn.Input((4,))
        first = L.Dense(4, activation="tanh")(inputs)
        second = L.Dense(4, activation="tanh")(inputs if second_reads_input else first)
        model = gn.Model(inputs, L.Dense(1)(L.Add()([first, second])), seed=0)
        model.compile(loss="mse", optimizer="adam")
        return model

    class Stop(gn.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt
    x, y = rng.standard_normal((16, 4)), rng.standard_normal((16, 1))
    with pytest.raises(KeyboardInterrupt):
        draw(False).fit(x, y, epochs=5, verbose=0, callbacks=[Stop(), gn.BackupAndRestore(tmp_path)])
    with pytest.raises(ValueError, match="is the backup of another network"):
        draw(True).fit(x, y, epochs=5, verbose=0, callbacks=[gn.BackupAndRestore(tmp_path)])
    # the same graph resumes: the backup of epoch 1 (epoch 2 was stopped before its backup)
    assert len(draw(False).fit(x, y, epochs=5, verbose=0, callbacks=[gn.BackupAndRestore(tmp_path)]).history["loss"]) == 4


def test_feature_maps_run_the_graph_up_to_the_layer(rng):
    plot = pytest.importorskip("glassnet.plot")
    pytest.importorskip("matplotlib", reason="plots: pip install 'glassnet[plot]'")
    inputs = gn.Input((8, 8, 3))
    a = L.Conv2D(3, 3, padding="same", name="a")(inputs)
    b = L.Conv2D(4, 1, name="b")(inputs)
    model = gn.Model(inputs, L.Dense(2)(L.Flatten()(L.Concatenate()([a, b]))), seed=0)
    x = rng.random((8, 8, 3)).astype(np.float32)
    figure = plot.feature_maps(model, x, "b")
    np.testing.assert_allclose(model.get_layer("b").a[0], model.get_layer("b")(x[None])[0], rtol=1e-6)
    assert figure is not None
    plot.feature_maps(model, x, "concatenate")          # images with 7 channels: a's, then b's


def test_release_data_leaves_other_layers_lists_alone():
    vocabulary = [f"w{i}" for i in range(50)]
    vectorizer = L.TextVectorization(vocabulary=vocabulary, output_sequence_length=4)
    model = gn.Sequential([gn.Input((1,), dtype="string"), vectorizer, L.Embedding(52, 2), L.Flatten(), L.Dense(1)])
    tokens = vectorizer.tokens
    model.predict(np.array([["w1 w2"], ["w3"]]))
    assert vectorizer.tokens is tokens


def _siamese(lib, **kw):
    """Two inputs through ONE encoder (shared weights), compared: |ea - eb| squared, then a verdict."""
    a, b = lib.Input((4,), name="a"), lib.Input((4,), name="b")
    encoder = lib.layers.Dense(3, activation="tanh", **kw)
    difference = lib.layers.Subtract()([encoder(a), encoder(b)])
    squared = lib.layers.Multiply()([difference, difference])
    return [a, b], lib.layers.Dense(1, activation="sigmoid", **kw)(squared)


def test_a_shared_layer_sums_its_calls_gradients_and_trains_as_keras(rng):
    model = gn.Model(*_siamese(gn), seed=0, dtype="float64")
    assert [layer.name for layer in model.layers] == ["dense", "subtract", "multiply", "dense_1"]
    assert [layer.name for layer in model._calls] == ["dense", "dense", "subtract", "multiply", "dense_1"]
    assert model._inbound == [[-1], [-2], [0, 1], [2, 2], [3]] and model.count_params() == 15 + 4
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    xa, xb, y = rng.standard_normal((8, 4)), rng.standard_normal((8, 4)), rng.integers(0, 2, (8, 1))
    assert check_model(model, [xa, xb], y)["max_error"] < 1e-7
    trace = model.trace([xa[:3], xb[:3]], y[:3])
    assert [record["layer"] for record in trace][:2] == ["layer dense (Dense)"] * 2
    # each call's record holds its own share; the update uses their sum
    shares = trace[0]["grads"]["kernel"] + trace[1]["grads"]["kernel"]
    model._loss_and_gradients(*model._prepare_xy([xa[:3], xb[:3]], y[:3]))
    np.testing.assert_allclose(model.layers[0].grads["kernel"], shares, rtol=1e-12)
    np.testing.assert_array_equal(trace[0]["input"], xa[:3])
    np.testing.assert_array_equal(trace[1]["input"], xb[:3])
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours, theirs = gn.Model(*_siamese(gn), seed=0), keras.Model(*_siamese(keras))
    theirs.set_weights(ours.get_weights())
    xa, xb = xa.astype(np.float32), xb.astype(np.float32)
    ours.compile(loss="binary_crossentropy", optimizer=gn.optimizers.SGD(0.5))
    theirs.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(0.5))
    np.testing.assert_allclose(ours.fit([xa, xb], y, epochs=4, batch_size=4, shuffle=False, verbose=0).history["loss"],
                               theirs.fit([xa, xb], y, epochs=4, batch_size=4, shuffle=False, verbose=0).history["loss"],
                               rtol=1e-5)
    for mine, keras_weights in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, keras_weights, rtol=1e-4, atol=1e-6)


def test_a_shared_layer_in_files_summary_and_refusals(rng, tmp_path, capsys):
    model = gn.Model(*_siamese(gn), seed=0)
    model.compile(loss="binary_crossentropy", optimizer="adam")
    xa, xb, y = rng.standard_normal((8, 4)), rng.standard_normal((8, 4)), rng.integers(0, 2, (8, 1))
    model.fit([xa, xb], y, epochs=2, verbose=0)
    model.save(tmp_path / "siamese.npz")
    loaded = gn.load_model(tmp_path / "siamese.npz")
    assert loaded._inbound == model._inbound and loaded.get_config()["calls"] == [0, 0, 1, 2, 3]
    np.testing.assert_array_equal(loaded.predict([xa, xb]), model.predict([xa, xb]))
    assert model._call_caches == {}             # predict let go of each call's cache (views of the data)
    model.summary()
    dense_row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("dense (Dense)"))
    assert dense_row.endswith("a; b") and "(None, 3)" in dense_row           # both calls, each its input
    inputs = gn.Input((4,))
    regularized = L.Dense(4, activity_regularizer="l2")
    with pytest.raises(NotImplementedError, match="called more than once and has an activity_regularizer"):
        gn.Model(inputs, L.Dense(1)(L.Add()([regularized(inputs), regularized(inputs)])))
    stateful = L.SimpleRNN(2, stateful=True, return_sequences=True)
    sequences = gn.Input((3, 2))
    with pytest.raises(NotImplementedError, match="called more than once and is stateful"):
        gn.Model(sequences, L.Flatten()(stateful(stateful(sequences))))


def test_several_inputs_in_a_dask_sweep_the_cli_plots_build_and_batches(rng, tmp_path):
    model = gn.Model(*_wide_and_deep(gn), seed=0)
    xa, xb, y = rng.standard_normal((16, 3)), rng.standard_normal((16, 2, 2)), rng.integers(0, 2, (16, 1))
    model.build([(None, 3), (None, 2, 2)])                  # what it was built for: nothing to do
    with pytest.raises(ValueError, match="was built for its Inputs"):
        model.build((None, 3))
    with pytest.raises(ValueError, match="feature_maps shows what one image makes in a model of one input"):
        pytest.importorskip("glassnet.plot").feature_maps(model, [xa[0], xb[0]], "dense")

    class Inputs(gn.utils.PyDataset):           # predict's batches: x alone, as a dict by name
        def __len__(self):
            return 2

        def __getitem__(self, index):
            return {"wide": xa[8 * index:8 * index + 8], "grid": xb[8 * index:8 * index + 8]}
    np.testing.assert_allclose(model.predict(Inputs()), model.predict([xa, xb]), rtol=1e-6)
    # called on a dict of tensors: by the Inputs' names, as the data (inputs given as a dict: by
    # its keys, tests/test_dict_inputs.py)
    assert model({"wide": gn.Input((3,)), "grid": gn.Input((2, 2))}).shape == model.output.shape
    with pytest.raises(TypeError, match=r"takes the keys \['wide', 'grid'\].*missing \['grid'\]"):
        model({"wide": gn.Input((3,))})
    inputs = gn.Input((3,), name="only")
    single = gn.Model(inputs, L.Dense(2)(inputs), seed=0)
    np.testing.assert_array_equal(single.predict([xa]), single.predict(xa))
    np.testing.assert_array_equal(single.predict({"only": xa}), single.predict(xa))
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    model.save(tmp_path / "two.npz")
    np.savetxt(tmp_path / "rows.csv", np.hstack([xa, xb.reshape(16, 4)]), delimiter=",")
    from glassnet import cli
    assert cli.main(["predict", str(tmp_path / "two.npz"), str(tmp_path / "rows.csv")]) == 2
    dask = pytest.importorskip("dask", reason="the sweep needs dask: pip install 'glassnet[dask]'")
    assert dask is not None
    from glassnet.dask import sweep

    def build(learning_rate):
        built = gn.Model(*_wide_and_deep(gn), seed=1)
        built.compile(loss="binary_crossentropy", optimizer=gn.optimizers.SGD(learning_rate))
        return built
    results = sweep(build, {"learning_rate": [0.1]}, [xa, xb], y, fit_kwargs={"epochs": 2, "validation_split": 0.25},
                    scheduler="synchronous")
    assert results[0]["error"] is None and "val_loss" in results[0]["metrics"]


def test_a_sub_model_drawn_from_layer_outputs_shares_the_weights(rng, tmp_path):
    inputs = gn.Input((8, 8, 1))
    x = L.Conv2D(4, 3, activation="relu", name="c1")(inputs)
    x = L.Dropout(0.5)(L.MaxPooling2D(2)(x))
    model = gn.Model(inputs, L.Dense(2, activation="softmax")(L.Flatten()(x)), seed=0)
    assert model.input is inputs and model.output is model.outputs[0] and model.get_layer("c1").input is inputs
    dropout_rng = model.get_layer("dropout").rng
    features = gn.Model(model.input, model.get_layer("c1").output)
    assert model.get_layer("dropout").rng is dropout_rng                 # the model's Dropout draws as before
    x = rng.random((3, 8, 8, 1)).astype(np.float32)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    model.fit(x, np.array([0, 1, 0]), epochs=2, verbose=0)
    np.testing.assert_allclose(features.predict(x), model.get_layer("c1")(x), rtol=1e-6)   # trained weights
    assert [layer.name for layer in features.layers] == ["c1"]
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert gn.Model(loaded.input, loaded.get_layer("c1").output).output_shape == (None, 6, 6, 4)
    shared, first = L.Dense(2), gn.Input((3,))
    first_output = shared(first)
    shared(gn.Input((3,)))
    assert shared.output is first_output and shared.input is first      # Keras': the first call's
    with pytest.raises(AttributeError, match="never called on a tensor"):
        L.Dense(2).input


def _shared_model(encoder, shape, dtype="float64"):
    a, b = gn.Input(shape, name="a"), gn.Input(shape, name="b")
    joined = L.Concatenate()([L.Flatten()(encoder(a)), L.Flatten()(encoder(b))])
    model = gn.Model([a, b], L.Dense(1)(joined), seed=0, dtype=dtype)
    model.compile(loss="mse", optimizer="sgd")
    return model


class _CachingDense(L.Layer):
    """A layer of one's own that keeps its forward cache in a dict."""

    def build(self, input_shape):
        self.add_weight("kernel", (input_shape[-1], 2), "glorot_uniform")
        self.cache = {}
        super().build(input_shape)

    def output_shape(self, input_shape):
        return (*input_shape[:-1], 2)

    def forward(self, x, training=False):
        self.cache["x"] = x
        return x @ self.params["kernel"]

    def backward(self, grad_output):
        x = self.cache["x"].reshape(-1, self.params["kernel"].shape[0])
        self.grads["kernel"][...] = x.T @ grad_output.reshape(-1, 2)
        return grad_output @ self.params["kernel"].T


@pytest.mark.parametrize("encoder, shape", [
    (lambda: L.Bidirectional(L.LSTM(2)), (4, 2)), (lambda: L.TimeDistributed(L.Dense(2, activation="tanh")), (3, 2)),
    (lambda: L.LSTM(2, return_sequences=True, dropout=0.2), (3, 2)), (lambda: L.BatchNormalization(), (3,)),
    (lambda: _CachingDense(), (3, 2))])
def test_shared_wrappers_and_layers_caching_in_containers_agree_with_finite_differences(encoder, shape, rng):
    model = _shared_model(encoder(), shape)
    x = [rng.standard_normal((5, *shape)), rng.standard_normal((5, *shape))]
    assert check_model(model, x, rng.standard_normal((5, 1)))["max_error"] < 1e-6


def test_a_copied_shared_model_still_shares(rng):
    import copy
    import pickle
    model = _shared_model(L.Dense(3, activation="tanh"), (4,))
    x, y = [rng.standard_normal((6, 4)), rng.standard_normal((6, 4))], rng.standard_normal((6, 1))
    model.train_on_batch(x, y)
    assert model._call_caches == {}                 # used by the backward, then let go
    for twin in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert check_model(twin, x, y)["max_error"] < 1e-7
        np.testing.assert_allclose(twin.fit(x, y, epochs=3, verbose=0, shuffle=False).history["loss"],
                                   copy.deepcopy(model).fit(x, y, epochs=3, verbose=0, shuffle=False).history["loss"],
                                   rtol=1e-12)


def test_shared_layer_refusals_after_the_model_is_made(rng):
    model = _shared_model(L.Dense(3), (4,))
    model.layers[0].activity_regularizer = "l2"
    with pytest.raises(NotImplementedError, match="called more than once and has an activity_regularizer"):
        model.fit([rng.standard_normal((4, 4))] * 2, rng.standard_normal((4, 1)), verbose=0)
    with pytest.raises(NotImplementedError, match="is stateful"):
        _shared_model(L.Bidirectional(L.LSTM(2, stateful=True)), (3, 2))
    config = _shared_model(L.Dense(3), (4,)).get_config()
    with pytest.raises(ValueError, match="'calls' must list"):
        gn.Sequential.from_config({**config, "calls": [], "inbound": []})


def test_models_called_as_layers_share_their_weights_with_the_new_model(rng, tmp_path):
    augment = gn.Sequential([L.Rescaling(0.5), L.Dense(4, activation="tanh")], seed=1)    # built by the model drawn
    base_inputs = gn.Input((3,))
    base = gn.Model(base_inputs, L.Dense(5, activation="tanh")(L.Add()([base_inputs, L.Dense(3)(base_inputs)])),
                    seed=2, dtype="float32")
    inputs = gn.Input((3,))
    augmented, based = augment(inputs), base(inputs)
    outputs = L.Dense(1)(L.Concatenate()([augmented, based]))
    model = gn.Model(inputs, outputs, seed=0)
    # each model's layers join, the same objects; a name taken by the first is given anew
    assert [layer.name for layer in model.layers] == ["rescaling", "dense", "dense_1", "add", "dense_2",
                                                      "concatenate", "dense_3"]
    assert model.layers[1] is augment.layers[1] and model.layers[2] is base.layers[0]
    assert base.layers[2].name == "dense_2"          # renamed there too: it is the same layer
    x, y = rng.random((16, 3)).astype(np.float32), rng.random((16, 1)).astype(np.float32)
    model.compile(loss="mse", optimizer="adam")
    model.fit(x, y, epochs=3, verbose=0)
    # the nested models compute with the weights the new one trained
    np.testing.assert_allclose(base.predict(x), gn.Model(inputs, based).predict(x), rtol=1e-6)
    np.testing.assert_allclose(augment.predict(x), gn.Model(inputs, augmented).predict(x), rtol=1e-6)
    model.save(tmp_path / "nested.npz")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "nested.npz").predict(x), model.predict(x))
    double = gn.Model(inputs, L.Add()([base(inputs), base(inputs)]))         # one model called twice: shared
    assert double._shared and len(double.layers) == 4


def test_nesting_names_new_layers_clear_of_built_ones_and_builds_for_open_lengths(rng):
    base = gn.Sequential([L.Dense(3, input_dim=3)])          # built: its layer is 'dense'
    inputs = gn.Input((3,))
    model = gn.Model(inputs, base(L.Dense(3)(inputs)))        # a new Dense drawn before it
    assert [layer.name for layer in model.layers] == ["dense_1", "dense"] and base.layers[0].name == "dense"
    recurrent = gn.Sequential([L.LSTM(4)])                   # no input shape: the tensor gives (None, 8)
    sequences = gn.Input((None, 8))
    reader = gn.Model(sequences, recurrent(sequences), seed=3)
    # its layer joins the model drawn, which builds it (its seed, its dtype); the Sequential is
    # then built on it, for the open length it was called on (glassnet._nested_build)
    assert reader.layers[0] is recurrent.layers[0] and reader.layers[0].input_shape == (None, 8)
    assert recurrent.built and recurrent.input_shape == (None, None, 8)
    x = rng.random((2, 5, 8)).astype(np.float32)
    assert reader.predict(x).shape == (2, 4)
    np.testing.assert_array_equal(recurrent.predict(x), reader.predict(x))     # the same weights
    # a nested model's layer.output is still its first call's tensor (a feature extractor of it)
    inner_inputs = gn.Input((3,))
    inner = gn.Model(inner_inputs, L.Dense(1, name="out")(L.Dense(4, name="feat")(inner_inputs)))
    gn.Model(inputs, L.Dense(2)(inner(inputs)))
    assert gn.Model(inner.input, inner.get_layer("feat").output).output_shape == (None, 4)



def _masked_readers(lib):
    """Two inputs of padded ids (0: padding), each with its own Embedding(mask_zero=True): an LSTM
    after a Dense (which passes the mask on) reads one, a mean over the real steps the other."""
    a, b = lib.Input((7,), name="a"), lib.Input((5,), name="b")
    ea = lib.layers.Embedding(12, 4, mask_zero=True, name="ea")(a)
    eb = lib.layers.Embedding(12, 4, mask_zero=True, name="eb")(b)
    ha = lib.layers.LSTM(6, name="la")(lib.layers.Dense(4, activation="tanh", name="da")(ea))
    joined = lib.layers.Concatenate(name="j")([ha, lib.layers.GlobalAveragePooling1D(name="pb")(eb)])
    return [a, b], lib.layers.Dense(1, activation="sigmoid", name="out")(joined)


def _masked_tagger(lib):
    ids = lib.Input((7,))
    steps = lib.layers.LSTM(5, return_sequences=True, name="l")(lib.layers.Embedding(12, 4, mask_zero=True, name="e")(ids))
    return ids, lib.layers.Dense(3, activation="softmax", name="o")(steps)


def _masked_siamese(lib):
    """A Dense shared by two masked branches (it passes each branch's mask on to that branch's LSTM)."""
    a, b = lib.Input((7,), name="a"), lib.Input((7,), name="b")
    shared = lib.layers.Dense(4, activation="tanh", name="da")
    ha = lib.layers.LSTM(6, name="la")(shared(lib.layers.Embedding(12, 4, mask_zero=True, name="ea")(a)))
    hb = lib.layers.LSTM(6, name="lb")(shared(lib.layers.Embedding(12, 4, mask_zero=True, name="eb")(b)))
    return [a, b], lib.layers.Dense(1, activation="sigmoid", name="out")(lib.layers.Concatenate(name="j")([ha, hb]))


@pytest.mark.parametrize("draw", [_masked_readers, _masked_tagger, _masked_siamese])
def test_masks_follow_the_graph_and_train_as_keras(draw, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours, theirs = gn.Model(*draw(gn), seed=0), keras.Model(*draw(keras))
    for layer in ours.layers:
        if layer.params:
            theirs.get_layer(layer.name).set_weights(layer.get_weights())
    xa, xb = rng.integers(1, 12, (32, 7)), rng.integers(1, 12, (32, 5))
    xa[::2, 4:], xb[::3, 2:] = 0, 0                  # padding
    two = draw is not _masked_tagger
    x, y = ([xa, xb], rng.integers(0, 2, 32)) if two else (xa, rng.integers(0, 3, (32, 7)))
    if draw is _masked_siamese:
        x = [xa, xa[::-1].copy()]
    loss = "binary_crossentropy" if two else "sparse_categorical_crossentropy"
    ours.compile(loss=loss, optimizer=gn.optimizers.SGD(0.5), metrics=["accuracy"])
    theirs.compile(loss=loss, optimizer=keras.optimizers.SGD(0.5), metrics=["accuracy"])
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    mine = ours.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history
    their = theirs.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history
    for key in ("loss", "accuracy"):            # the tagger's loss and accuracy: real steps only
        np.testing.assert_allclose(mine[key], their[key], rtol=1e-5)


def test_inputs_named_by_default_are_told_apart_as_keras_does(tmp_path):
    """Two Inputs without names were both "input_layer": a dict could not feed them and summary
    showed one name twice. As Keras, the model names them input_layer, input_layer_1, ... in order
    (a name given is kept, and the default names skip it)."""
    a, b, c = gn.Input((3,)), gn.Input((3,)), gn.Input((3,), name="input_layer_1")
    model = gn.Model([a, b, c], gn.layers.Subtract()([gn.layers.Add()([a, b]), c]))
    assert model._input_names == ["input_layer", "input_layer_2", "input_layer_1"]
    x = {"input_layer": np.ones((2, 3)), "input_layer_2": np.full((2, 3), 2.0), "input_layer_1": np.full((2, 3), 5.0)}
    np.testing.assert_array_equal(model.predict(x, verbose=0), np.full((2, 3), -2.0))
    model.save(tmp_path / "m.npz")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "m.npz").predict(x, verbose=0), np.full((2, 3), -2.0))
    named = [gn.Input((3,), name="left"), gn.Input((3,), name="left")]
    with pytest.raises(ValueError, match="a dict needs Inputs of distinct names"):      # names given: theirs
        gn.Model(named, gn.layers.Add()(named)).predict({"left": np.ones((1, 3))}, verbose=0)
