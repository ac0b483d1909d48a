"""Review of model files (glassnet.io): a crafted config of a few bytes must not make loading
build or allocate without bound before the file's checks apply."""
import json
import tracemalloc

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import AugMix, RandAugment, STFTSpectrogram


def _description(layer_config, input_shape):
    return json.dumps({"class_name": "Sequential", "config": {
        "name": "s", "seed": 0, "dtype": "float32", "input_shape": input_shape, "layers": [layer_config]}})


@pytest.mark.parametrize("layer_config", [
    {"class_name": "RandAugment", "config": {"value_range": [0, 1], "num_ops": 3000}},
    {"class_name": "AugMix", "config": {"value_range": [0, 1], "num_chains": 1000, "chain_depth": 3}},
    {"class_name": "Pipeline", "config": {"layers": [
        {"class_name": "RandAugment", "config": {"value_range": [0, 1], "num_ops": 3000}}]}},
], ids=["RandAugment", "AugMix", "in a Pipeline"])
def test_a_config_asking_for_thousands_of_augmentation_operations_is_refused(layer_config):
    # each operation is a dozen layers, made by the constructor: num_ops=10**6 in a 100-byte JSON
    # string (or model file) made load_model build ten million layers (hours, tens of GB)
    with pytest.raises(gn.ModelFileError, match="groups of operations"):
        gn.model_from_json(_description(layer_config, [8, 8, 3]))


def test_a_model_file_asking_for_thousands_of_operations_is_refused(tmp_path):
    model = gn.Sequential([RandAugment(value_range=(0, 1), num_ops=2, input_shape=(8, 8, 3))], seed=0)
    model.save(tmp_path / "ok.npz")
    arrays = dict(np.load(tmp_path / "ok.npz"))
    meta = json.loads(arrays["config"].tobytes())
    meta["model"]["layers"][0]["config"]["num_ops"] = 3000
    arrays["config"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    with open(tmp_path / "crafted.npz", "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(gn.ModelFileError, match="num_ops"):
        gn.load_model(tmp_path / "crafted.npz")


def test_a_model_with_more_operations_than_a_file_may_hold_is_not_saved(tmp_path):
    model = gn.Sequential([RandAugment(value_range=(0, 1), num_ops=300, input_shape=(8, 8, 3))], seed=0)
    with pytest.raises((TypeError, ValueError), match="num_ops"):       # never a file load_model refuses
        model.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()
    # the configs a model file holds within the cap still load, as the layer itself
    ok = gn.Sequential([AugMix(value_range=(0, 1), num_chains=4, chain_depth=4, input_shape=(8, 8, 3))], seed=0)
    ok.save(tmp_path / "ok.npz")
    assert gn.load_model(tmp_path / "ok.npz").layers[0].get_config() == ok.layers[0].get_config()


def _peak_bytes(make):
    tracemalloc.start()
    try:
        make()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_a_huge_stft_frame_length_is_refused_before_its_kernels_are_made():
    # the kernels, (frame_length, fft_length // 2 + 1) float64 each, were computed before add_weight
    # saw their shape: a refused config of frame_length 8192 still allocated 1.3 GB
    description = _description({"class_name": "STFTSpectrogram", "config": {"frame_length": 8192,
                                                                             "mode": "magnitude"}}, [8192, 1])

    def load():
        with pytest.raises(gn.ModelFileError, match="real_kernel"):
            gn.model_from_json(description, max_params=1000)
    assert _peak_bytes(load) < 50e6


def test_a_huge_stft_frame_length_makes_no_window_in_the_constructor():
    # the all-zeros check made the whole window (frame_length float64 values) in __init__, before
    # any cap: 8 GB for frame_length=10**9 in a config; only a window of 2 samples can be all zeros
    assert _peak_bytes(lambda: STFTSpectrogram.from_config({"frame_length": 20_000_000})) < 50e6
    with pytest.raises(ValueError, match="all zeros"):          # the refusal it is there for stays
        STFTSpectrogram(frame_length=2, periodic=False, scaling="density")


def test_stft_kernels_made_lazily_are_the_same():
    x = np.random.default_rng(0).normal(size=(2, 64, 1)).astype(np.float32)
    for mode in ("magnitude", "real", "imag", "stft"):
        layer = STFTSpectrogram(mode=mode, frame_length=16, frame_step=8, window="hamming")
        layer(x)
        for side in ("real", "imag"):
            if f"{side}_kernel" in layer.params:
                np.testing.assert_array_equal(layer.params[f"{side}_kernel"],
                                              gn.initializers.STFT(side, "hamming")((16, 1, 9)))


def _file_with_metric_config(tmp_path, change):
    model = gn.Sequential([gn.layers.Dense(3, activation="softmax", input_shape=(2,))], seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam",
                  metrics=[gn.metrics.MeanIoU(num_classes=3, sparse_y_pred=False)])
    model.save(tmp_path / "ok.npz")
    arrays = dict(np.load(tmp_path / "ok.npz"))
    meta = json.loads(arrays["config"].tobytes())
    change(meta["model"]["compile"]["metrics"][0]["config"])
    arrays["config"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    with open(tmp_path / "crafted.npz", "wb") as f:
        np.savez(f, **arrays)
    return tmp_path / "crafted.npz"


def test_a_file_naming_an_iou_of_a_huge_number_of_classes_is_refused_without_allocating(tmp_path):
    # the constructor makes the (num_classes, num_classes) float64 confusion matrix: 30000 classes
    # in a few bytes of compile settings loaded with 7.2 GB allocated; 10**8 first listed every id
    for classes in (30_000, 10 ** 8):
        path = _file_with_metric_config(tmp_path, lambda config: config.update(num_classes=classes))

        def load():
            with pytest.raises(gn.ModelFileError, match="num_classes"):
                gn.load_model(path)
        assert _peak_bytes(load) < 50e6
    assert gn.load_model(path, compile=False).count_params() == 9          # the network itself loads


def test_an_iou_of_more_classes_than_a_file_may_name_is_refused_at_save_saying_why(tmp_path):
    model = gn.Sequential([gn.layers.Dense(3, activation="softmax", input_shape=(2,))], seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam",
                  metrics=[gn.metrics.MeanIoU(num_classes=20_000, sparse_y_pred=False)])
    with pytest.raises(ValueError, match="num_classes"):
        model.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()
    model.save_weights(tmp_path / "w.npz")          # the weights alone name no metric


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="named pipes are POSIX")
def test_saving_onto_a_named_pipe_is_refused_instead_of_replacing_it(tmp_path):
    # the atomic rename put a regular file where the pipe was (as root, model.save("/dev/null")
    # replaced /dev/null itself), where open(path, "wb") writes into it
    import os
    import stat
    from glassnet._atomic import write_text_atomically
    os.mkfifo(tmp_path / "pipe")
    model = gn.Sequential([gn.layers.Dense(1, input_shape=(2,))], seed=0)
    with pytest.raises(OSError, match="Not a regular file") as info:
        model.save(tmp_path / "pipe")
    assert info.value.filename == str(tmp_path / "pipe")
    with pytest.raises(OSError, match="Not a regular file"):
        write_text_atomically(tmp_path / "pipe", "a,b\n")
    assert stat.S_ISFIFO(os.stat(tmp_path / "pipe").st_mode)
    assert sorted(os.listdir(tmp_path)) == ["pipe"]             # no temporary file left either
    os.symlink(tmp_path / "pipe", tmp_path / "link")              # a link to one: its target counts
    with pytest.raises(OSError, match="Not a regular file"):
        model.save(tmp_path / "link")
