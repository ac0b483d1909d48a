"""Review of ``model.export(path, format="onnx")`` by a differential fuzzer (random Sequential and
functional models exported, checked by onnx's checker and run by onnxruntime against ``predict``):
the cases it found wrong, each against Keras 3.15 (or, for the file's own structure, onnx's checker
and glassnet's ``predict``)."""
import numpy as np
import pytest

import glassnet as gn

L = gn.layers
onnx = pytest.importorskip("onnx", reason="onnx (test oracle) not installed")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime (test oracle) not installed")


def _session(model, tmp_path):
    path = tmp_path / "model.onnx"
    model.export(path, format="onnx")
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("merge", ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"])
def test_merge_of_inputs_of_different_ranks_expands_after_the_batch_axis(merge, keras, tmp_path, rng):
    # Keras (and glassnet) expand_dims(x, axis=1) the input of fewer axes; ONNX's broadcasting put
    # its new axis before the batch's: batch 3 silently mixed samples up, batch 17 failed
    xa, xb = rng.normal(size=(17, 4)).astype("float32"), rng.normal(size=(17, 3, 4)).astype("float32")
    a, c = gn.Input((4,), name="a"), gn.Input((3, 4), name="c")
    session = _session(gn.Model([a, c], getattr(L, merge)()([a, c])), tmp_path)
    ka, kc = keras.Input((4,)), keras.Input((3, 4))
    oracle = keras.Model([ka, kc], getattr(keras.layers, merge)()([ka, kc]))
    for n in (1, 3, 17):
        got = session.run(None, {"a": xa[:n], "c": xb[:n]})[0]
        np.testing.assert_allclose(got, oracle.predict([xa[:n], xb[:n]], verbose=0), rtol=1e-6, atol=1e-7)


def test_outputs_of_one_name_get_distinct_names_in_the_file(tmp_path, rng):
    # two calls of a shared layer as outputs (output_names ['head', 'head'], as Keras'), and an
    # Input named as the output layer: ONNX's single assignment refused the file ("used as output
    # names multiple times")
    x = rng.normal(size=(5, 4)).astype("float32")
    i = gn.Input((4,), name="x")
    head = L.Dense(3, name="head")
    model = gn.Model(i, [head(i), head(L.Dense(4)(i))])
    assert model.output_names == ["head", "head"]
    session = _session(model, tmp_path)
    assert [o.name for o in session.get_outputs()] == ["head", "head_1"]
    for got, want in zip(session.run(None, {"x": x}), model.predict(x, verbose=0)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    gn.utils.clear_session()
    same = gn.Sequential([gn.Input((4,), name="dense"), L.Dense(3, name="dense")])
    session = _session(same, tmp_path)
    assert [i.name for i in session.get_inputs()] == ["dense"]
    assert [o.name for o in session.get_outputs()] == ["dense_1"]
    np.testing.assert_allclose(session.run(None, {"dense": x})[0], same.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_an_output_name_is_never_an_inner_tensor_name(tmp_path, rng):
    # a layer named like another layer's MatMul ("a/MatMul_2") wrote that name twice
    x = rng.normal(size=(5, 4)).astype("float32")
    i = gn.Input((4,), name="x")
    h = L.Dense(3, name="a")(i)
    model = gn.Model(i, [L.Dense(2, name="a/MatMul_2")(h), h])
    for got, want in zip(_session(model, tmp_path).run(None, {"x": x}), model.predict(x, verbose=0)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_integer_input_read_as_numbers(keras, tmp_path, rng):
    # an Input of dtype int32 read by a Dense (glassnet and Keras cast it): the file's MatMul took
    # int64 with a float kernel, a file onnx's checker and onnxruntime refuse
    ids = rng.integers(0, 9, size=(6, 3))
    i = gn.Input((3,), name="codes", dtype="int32")
    model = gn.Model(i, L.Dense(2, activation="tanh")(L.Add()([i, L.Dense(3)(i)])))
    ki = keras.Input((3,), dtype="int32")
    oracle = keras.Model(ki, keras.layers.Dense(2, activation="tanh")(keras.layers.Add()([ki, keras.layers.Dense(3)(ki)])))
    oracle.set_weights(model.get_weights())
    got = _session(model, tmp_path).run(None, {"codes": ids.astype(np.int64)})[0]
    np.testing.assert_allclose(got, oracle.predict(ids.astype(np.int32), verbose=0), rtol=1e-5, atol=1e-6)


def test_sequences_of_any_length(keras, tmp_path, rng):
    # Keras' text classifier: Input((None,)) of ids. The export died of a TypeError (int(None))
    # writing the input's shape
    model = gn.Sequential([gn.Input((None,), dtype="int32", name="ids"), L.Embedding(30, 4),
                           L.Conv1D(5, 3, padding="same", activation="relu"), L.GlobalAveragePooling1D(),
                           L.Dense(2, activation="softmax")], seed=0)
    oracle = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(30, 4),
                               keras.layers.Conv1D(5, 3, padding="same", activation="relu"),
                               keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(2, activation="softmax")])
    oracle.set_weights(model.get_weights())
    session = _session(model, tmp_path)
    assert [d.dim_param or d.dim_value for d in onnx.load(str(tmp_path / "model.onnx")).graph.input[0]
            .type.tensor_type.shape.dim] == ["batch", 0]        # 0: no size, any length
    for length in (3, 11):
        ids = rng.integers(0, 30, size=(4, length))
        got = session.run(None, {"ids": ids.astype(np.int64)})[0]
        np.testing.assert_allclose(got, oracle.predict(ids.astype(np.int32), verbose=0), rtol=1e-5, atol=1e-6)


# ("same" with strides over an open size is exported in float32 since session 44: auto_pad,
# tests/test_onnx_export4.py; float64's window slices still need the size)
@pytest.mark.parametrize("layer, dtype", [(lambda: L.Conv1D(2, 3, strides=2, padding="same"), "float64"),
                                          (lambda: L.AveragePooling1D(2, padding="same"), "float64")])
# (UpSampling1D and Cropping1D over open sizes, and float64's window slices without "same" strides
# (Conv1D(2, 3), AveragePooling1D(2)), are exported since onnx6: tests/test_onnx_six.py)
def test_open_sizes_a_layer_needs_are_refused_by_name_before_any_file(layer, dtype, tmp_path):
    # what needs the sizes (pads of "same" with strides, float64's window slices) is refused by
    # name, nothing written: the export died of a TypeError
    model = gn.Sequential([gn.Input((None, 3)), layer(), L.GlobalMaxPooling1D()], dtype=dtype)
    with pytest.raises(ValueError, match="fixed sizes only"):
        model.export(tmp_path / "model.onnx", format="onnx")
    assert list(tmp_path.iterdir()) == []


# session 44's review (the masks, "same" strides over open sizes, attention masks, ops functions
# and TimeDistributed models, fuzzed against onnxruntime and predict)

@pytest.mark.parametrize("shape, layer, sizes", [
    ((None, 2), lambda: L.MaxPooling1D(1, strides=3, padding="same"), [(2,), (5,), (6,), (7,)]),
    ((None, 2), lambda: L.AveragePooling1D(2, strides=3, padding="same"), [(3,), (4,), (8,)]),
    # the window smaller than its stride on the fixed axis, the open one's padding from its size
    ((None, 4, 2), lambda: L.MaxPooling2D((4, 1), strides=(3, 2), padding="same"), [(4, 4), (9, 4)]),
    ((None, None, 1), lambda: L.AveragePooling2D((1, 3), strides=(2, 2), padding="same"), [(5, 7), (6, 2)]),
])
def test_same_pooling_window_smaller_than_stride_over_open_sizes(shape, layer, sizes, keras, tmp_path, rng):
    # auto_pad="SAME_UPPER" came out negative there (k - n % s < 0), and onnxruntime's pooling
    # refused to run the file ("padding values must be non-negative"); TensorFlow pads nothing
    model = gn.Sequential([gn.Input(shape), layer()])
    model.save(tmp_path / "m.keras", save_format="keras")
    oracle = keras.models.load_model(tmp_path / "m.keras")
    session = _session(model, tmp_path)
    for size in sizes:
        x = rng.normal(size=(3, *size, shape[-1])).astype("float32")
        got = session.run(None, {session.get_inputs()[0].name: x})[0]
        np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got, np.asarray(oracle.predict(x, verbose=0)), rtol=1e-5, atol=1e-6)


def test_time_distributed_model_holding_a_bidirectional(keras, tmp_path, rng):
    # TimeDistributed refused a model with a Bidirectional ("already held by a wrapper (another
    # TimeDistributed of this model?)"): the Bidirectional's own readers are held by it, within
    # the model. Keras 3.15 runs it; so do predict and the ONNX file
    ids = gn.Input((4,), dtype="int32")
    inner = gn.Model(ids, L.Bidirectional(L.GRU(2), merge_mode="sum")(L.Embedding(7, 3, mask_zero=True)(ids)))
    model = gn.Sequential([gn.Input((3, 4), dtype="int32"), L.TimeDistributed(inner), L.Dense(2)], seed=0)
    k = keras.layers
    ki = keras.Input((4,), dtype="int32")
    kinner = keras.Model(ki, k.Bidirectional(k.GRU(2), merge_mode="sum")(k.Embedding(7, 3, mask_zero=True)(ki)))
    oracle = keras.Sequential([keras.Input((3, 4), dtype="int32"), k.TimeDistributed(kinner), k.Dense(2)])
    oracle.set_weights(model.get_weights())
    x = rng.integers(0, 7, size=(5, 3, 4))
    x[0, 0, 2:], x[1, 1] = 0, 0
    want = np.asarray(oracle.predict(x, verbose=0))
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)
    got = _session(model, tmp_path).run(None, {"input_layer": x.astype(np.int64)})[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_time_distributed_still_refuses_a_layer_another_wrapper_holds():
    inner = L.Dense(2)
    L.TimeDistributed(inner).build((None, 3, 4))
    with pytest.raises(ValueError, match="held by a wrapper"):
        L.TimeDistributed(gn.Sequential([gn.Input((4,)), inner]))


def test_returned_attention_scores_exported_and_left_out_of_the_exported_layers(tmp_path):
    # the scores were refused by name (the refusal named glassnet's own reader of them at first);
    # session 46 exports them (tests/test_onnx_three.py); the list of exported layers a refusal
    # gives still leaves out AttentionScores, a layer the user never made
    x = gn.Input((4, 5))
    out, scores = L.MultiHeadAttention(2, 2, name="mha")(x, x, return_attention_scores=True)
    gn.Model(x, [out, scores]).export(tmp_path / "m.onnx", format="onnx")
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]
    with pytest.raises(ValueError, match="exported layers: ") as info:       # the list leaves it out
        # (UnitNormalization, the layer refused here first, is exported since session 47, and
        # AutoContrast, the next, since session 48)
        gn.Sequential([gn.Input((4, 4, 1)), L.Equalization()]).export(tmp_path / "n.onnx", format="onnx")
    assert "AttentionScores" not in str(info.value) and "MultiHeadAttention" in str(info.value)


def test_a_calls_mask_argument_refusal_names_the_layer_reading_it(tmp_path):
    # it named glassnet's SetMask alone, not the user's layer called with mask= (a call's mask=
    # is exported since session 45, tests/test_onnx_more.py: a reader with no masked form is refused)
    x, given = gn.Input((4, 3)), gn.Input((4,))
    model = gn.Model([x, given], L.GlobalAveragePooling1D(data_format="channels_first", name="reader")(x, mask=given))
    with pytest.raises(ValueError, match=r"layer reader \(GlobalAveragePooling1D\): a mask with "
                                         r"data_format='channels_first' is not exported"):
        model.export(tmp_path / "m.onnx", format="onnx")
    assert list(tmp_path.iterdir()) == []


# (DepthwiseConv1D(3) and SeparableConv1D(2, 2, padding="same") in float64 over open sizes are
# exported since onnx6, the window slices' ends counted from the axis' end: tests/test_onnx_six.py)
@pytest.mark.parametrize("layer", [lambda: L.DepthwiseConv2D(2, strides=2, padding="same"),
                                   lambda: L.SeparableConv1D(2, 3, strides=2, padding="same")])
def test_float64_depthwise_over_open_sizes_refused_by_name(layer, tmp_path):
    # "same" with strides over an open size: its pads need the size (a TypeError, None + int, before)
    shape = (None, 3) if "1D" in type(layer()).__name__ else (None, None, 3)
    model = gn.Sequential([gn.Input(shape), layer()], dtype="float64")
    with pytest.raises(ValueError, match=r"float64 depthwise convolution with padding='same' and strides .* "
                                         r"\(window slices\) is exported for inputs of fixed sizes only"):
        model.export(tmp_path / "m.onnx", format="onnx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_time_distributed_model_scan_outputs_of_the_folded_batch(dtype, tmp_path, rng):
    # a Scan's body named its batch axis "batch", the graph's: inside a TimeDistributed model that
    # axis is batch * steps, and onnxruntime, taking both for one size, failed to run the file
    # ("Shape mismatch attempting to re-use buffer. {2,2,2} != {4,2,2}") for every batch size
    ids = gn.Input((2,), dtype="int32")
    h = L.LSTM(2, return_sequences=True, go_backwards=True)(L.Embedding(7, 3, mask_zero=True)(ids))
    inner = gn.Model(ids, L.GlobalAveragePooling1D()(h), dtype=dtype)
    model = gn.Sequential([gn.Input((2, 2), dtype="int32"), L.TimeDistributed(inner), L.Dense(2)], dtype=dtype, seed=1)
    session = _session(model, tmp_path)
    tolerance = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
    for n in (1, 2, 3):
        x = rng.integers(0, 7, size=(n, 2, 2))
        x[0, 0, 1] = 0
        got = session.run(None, {"input_layer": x.astype(np.int64)})[0]
        np.testing.assert_allclose(got, model.predict(x, verbose=0), **tolerance)
