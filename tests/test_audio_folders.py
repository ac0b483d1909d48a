"""audio_dataset_from_directory: Keras' files, labels, splits and padded batches (Keras 3.15 as the
oracle), WAV read with the wave module per batch, a Conv1D trained on a folder, and the refusals."""
import os
import struct
import wave

import numpy as np
import pytest

import glassnet as gn
from glassnet.utils import audio_dataset_from_directory

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def write_wav(path, samples, width=2, rate=8000):
    """``samples`` (frames, channels) of integers as a PCM WAV file of ``width`` bytes a sample."""
    samples = np.asarray(samples)
    samples = samples.reshape(len(samples), -1)
    path.parent.mkdir(parents=True, exist_ok=True)
    if width == 3:
        raw = samples.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    else:
        raw = samples.astype({1: np.uint8, 2: "<i2", 4: "<i4"}[width]).tobytes()
    with wave.open(str(path), "wb") as f:
        f.setnchannels(samples.shape[1])
        f.setsampwidth(width)
        f.setframerate(rate)
        f.writeframes(raw)


@pytest.fixture
def folder(tmp_path, rng):
    """Three classes of 16-bit WAV of 5 to 40 frames: "no" and "yes" mono ("yes" with a sub-folder and
    an upper-case .WAV), "up" stereo; and a text file, which is skipped."""
    for name, count, channels in (("no", 5, 1), ("up", 3, 2), ("yes", 4, 1)):
        for i in range(count):
            place = tmp_path / name / ("more" if name == "yes" and i % 2 else "")
            file = f"{i}.WAV" if name == "yes" and i == 2 else f"{i}.wav"
            write_wav(place / file, rng.integers(-32768, 32768, (rng.integers(5, 41), channels)))
    (tmp_path / "no" / "notes.txt").write_text("not audio")
    return tmp_path


def keras_batches(folder, **settings):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    datasets = keras.utils.audio_dataset_from_directory(folder, verbose=False, **settings)
    return [[batch if isinstance(batch, tuple) else (batch,) for batch in dataset]
            for dataset in (datasets if settings.get("subset") == "both" else [datasets])]


def assert_same_batches(ours, theirs):
    assert len(ours) == len(theirs)
    for i, batch in enumerate(theirs):
        mine = ours[i] if isinstance(ours[i], tuple) else (ours[i],)
        assert len(mine) == len(batch)
        assert mine[0].dtype == np.float32
        np.testing.assert_array_equal(mine[0], np.asarray(batch[0]))      # the same samples, the same padding
        if len(batch) > 1:
            assert mine[1].dtype == np.asarray(batch[1]).dtype
            np.testing.assert_array_equal(mine[1], np.asarray(batch[1]))


SETTINGS = [dict(), dict(label_mode="categorical"), dict(label_mode=None), dict(batch_size=5),
            dict(class_names=["yes", "no"], output_sequence_length=20),
            dict(class_names=["no", "yes"], label_mode="binary", output_sequence_length=7),
            dict(labels=[2, 0, 1, 1, 0, 2, 2, 0, 1, 1, 0, 1]), dict(labels=[i % 3 for i in range(12)],
                                                                     label_mode="categorical"),
            dict(validation_split=0.3, subset="validation"), dict(validation_split=0.3, subset="training")]


@pytest.mark.parametrize("settings", SETTINGS, ids=str)
def test_the_batches_are_keras(folder, settings):
    settings = {"batch_size": 4, **settings}
    ours = audio_dataset_from_directory(folder, shuffle=False, verbose=False, **settings)
    theirs, = keras_batches(folder, shuffle=False, **settings)
    assert_same_batches(ours, theirs)


def test_a_batch_of_mono_and_stereo_is_padded_on_both_axes_as_keras_pads_it(folder):
    audio, labels = audio_dataset_from_directory(folder, batch_size=4, shuffle=False, verbose=False)[1]
    assert labels.tolist() == [0, 1, 1, 1] and audio.shape[2] == 2
    with wave.open(str(folder / "no" / "4.wav")) as f:
        frames = f.getnframes()
        mono = np.frombuffer(f.readframes(frames), "<i2") / 32768
    np.testing.assert_array_equal(audio[0, :frames, 0], mono)
    assert not audio[0, frames:].any() and not audio[0, :, 1].any()     # zeros after it and in its 2nd channel


def test_the_seeded_split_is_keras(folder):
    # Keras shuffles the file list once (NumPy's RandomState, as glassnet), then the training files again
    # inside TensorFlow (and the validation files, unless subset="both"): its validation batches of
    # subset="both" are glassnet's, its training files the same set
    settings = dict(class_names=["no", "yes"], validation_split=0.4, subset="both", seed=7, batch_size=3,
                    output_sequence_length=30)
    train, val = audio_dataset_from_directory(folder, verbose=False, **settings)
    their_train, their_val = keras_batches(folder, **settings)
    assert_same_batches(val, their_val)

    def clips(batches):
        return sorted((int(y), x.tobytes()) for audio, labels in batches
                      for x, y in zip(np.asarray(audio), np.asarray(labels)))
    assert len(train.file_paths) == 6 and clips(train[i] for i in range(len(train))) == clips(their_train)


def test_files_labels_shuffle_and_split_by_hand(folder, capsys):
    train, val = audio_dataset_from_directory(folder, batch_size=5, validation_split=0.25, subset="both", seed=2)
    assert capsys.readouterr().out.splitlines() == ["Found 12 files belonging to 3 classes.",
                                                   "Using 9 files for training.", "Using 3 files for validation."]
    listed = audio_dataset_from_directory(folder, shuffle=False, verbose=False)
    assert not any(path.endswith(".txt") for path in listed.file_paths)
    assert sum(path.endswith(".WAV") for path in listed.file_paths) == 1
    order = np.arange(12)
    np.random.RandomState(2).shuffle(order)              # Keras' one shuffle of the file list
    assert train.file_paths + val.file_paths == [listed.file_paths[i] for i in order]
    assert train.class_names == val.class_names == ["no", "up", "yes"] and (len(train), len(val)) == (2, 1)
    for data in (train, val):
        for i in range(len(data)):
            audio, labels = data[i]
            assert audio.shape[0] == len(labels) and audio.shape[2] == (2 if 1 in labels else 1)
            assert np.abs(audio).max() <= 1


def test_the_sample_widths_that_wave_reads(tmp_path):
    # TensorFlow reads 16-bit only; 8-bit WAV is unsigned (128 is silence), 24 and 32 bits signed
    cases = {1: ([0, 64, 128, 255], [-1, -0.5, 0, 127 / 128]),
             2: ([-32768, -1, 0, 16384, 32767], [-1, -2 ** -15, 0, 0.5, 1 - 2 ** -15]),
             3: ([-2 ** 23, -1, 0, 2 ** 22, 2 ** 23 - 1], [-1, -2 ** -23, 0, 0.5, 1 - 2 ** -23]),
             4: ([-2 ** 31, -2 ** 8, 0, 2 ** 30, 2 ** 31 - 1], [-1, -2 ** -23, 0, 0.5, 1])}
    for width, (stored, expected) in cases.items():
        write_wav(tmp_path / str(width) / "c" / "a.wav", stored, width=width)
        audio, _ = audio_dataset_from_directory(tmp_path / str(width), verbose=False)[0]
        assert audio.dtype == np.float32 and audio.shape == (1, len(stored), 1)
        np.testing.assert_array_equal(audio[0, :, 0], np.float32(expected))
    # stereo frames interleave left and right
    write_wav(tmp_path / "st" / "c" / "a.wav", [[1, -1], [2, -2], [3, -3]])
    audio, _ = audio_dataset_from_directory(tmp_path / "st", verbose=False)[0]
    np.testing.assert_array_equal(audio[0] * 32768, [[1, -1], [2, -2], [3, -3]])


def test_sampling_rate_is_checked_against_every_file(folder):
    plain = audio_dataset_from_directory(folder, shuffle=False, verbose=False)
    checked = audio_dataset_from_directory(folder, sampling_rate=8000, shuffle=False, verbose=False)
    for i in range(len(plain)):
        np.testing.assert_array_equal(plain[i][0], checked[i][0])
    write_wav(folder / "up" / "fast.wav", np.zeros((4, 2), int), rate=16000)
    data = audio_dataset_from_directory(folder, sampling_rate=8000, shuffle=False, verbose=False)
    with pytest.raises(ValueError, match=r"fast.wav is sampled at 16000 Hz, sampling_rate=8000 was asked"):
        [data[i] for i in range(len(data))]


def test_a_conv1d_model_trains_on_a_folder_of_audio(tmp_path, rng):
    # low and high tones of random phase, amplitude and length: a Conv1D filter learns to tell them apart
    for name, cycles in (("high", 0.35), ("low", 0.04)):
        for i in range(12):
            frames = rng.integers(60, 100)
            tone = rng.uniform(0.3, 0.9) * np.sin(2 * np.pi * cycles * np.arange(frames) + rng.uniform(0, 6.3))
            write_wav(tmp_path / name / f"{i}.wav", np.round(tone * 32767))
    data = audio_dataset_from_directory(tmp_path, batch_size=8, seed=0, label_mode="binary", verbose=False)
    model = gn.Sequential([gn.Input((None, 1)), gn.layers.Conv1D(4, 3, activation="relu"),
                           gn.layers.GlobalAveragePooling1D(), gn.layers.Dense(1, activation="sigmoid")], seed=0)
    model.compile("binary_crossentropy", gn.optimizers.Adam(0.05), metrics=["accuracy"])
    history = model.fit(data, epochs=30, verbose=0).history
    assert history["loss"][-1] < history["loss"][0] / 3 and model.evaluate(data, verbose=0)[1] == 1.0


@pytest.mark.parametrize("settings, message", [
    (dict(ragged=True), "ragged=True is not implemented"),
    (dict(ragged="no"), "ragged: expected True or False"),
    (dict(sampling_rate=0), r"sampling_rate \(Hz\): expected a positive integer"),
    (dict(sampling_rate=8000.0), r"sampling_rate \(Hz\): expected a positive integer"),
    (dict(output_sequence_length=0), "output_sequence_length: expected a positive integer"),
    (dict(label_mode="sparse"), "label_mode must be one of"),
    (dict(batch_size=None), "batch_size must be a positive integer"),
    (dict(labels="folders"), "labels must be 'inferred'"),
    (dict(labels=["a", "b"]), "labels must be 'inferred'"),
    (dict(labels=[[0, 1], [1]]), "labels must be 'inferred'"),
    (dict(labels=[-1] * 12), "labels must be 'inferred'"),
    (dict(labels=[0, 1]), "labels must hold one label per file, got 2 labels for the 12 files"),
    (dict(labels=[0, 5] * 6, label_mode="categorical"), "needs the labels to run 0, 1"),
    (dict(labels=[0, 1] * 6, class_names=["no", "up"]), "class_names need labels='inferred'"),
    (dict(label_mode="binary"), "label_mode='binary' needs exactly 2 classes"),
    (dict(validation_split=0.2), "give validation_split and subset together"),
    (dict(validation_split=0.2, subset="training"), "a validation split of shuffled files needs a seed"),
    (dict(class_names=["no", "maybe"]), r"class_names \['no', 'maybe'\] are not among the sub-folders"),
])
def test_bad_settings_are_refused_naming_them(folder, settings, message):
    with pytest.raises(ValueError, match=message):
        audio_dataset_from_directory(folder, verbose=False, **settings)


def test_keras_refuses_ragged_with_a_length_and_a_list_of_labels_with_class_names(folder):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    with pytest.raises(ValueError, match="ragged"):
        keras.utils.audio_dataset_from_directory(folder, ragged=True, output_sequence_length=4)
    with pytest.raises(ValueError, match="class_names"):
        keras.utils.audio_dataset_from_directory(folder, labels=[0, 1] * 6, class_names=["no", "up"])


def test_empty_and_missing_folders_are_refused(tmp_path):
    with pytest.raises(ValueError, match="is not a folder"):
        audio_dataset_from_directory(tmp_path / "nowhere")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "b.mp3").write_bytes(b"ID3")          # not .wav: skipped, as Keras skips it
    with pytest.raises(ValueError, match=r"no audio files found in .* \(formats \.wav\)"):
        audio_dataset_from_directory(tmp_path, verbose=False)


def float_wav(path):
    """A WAV of 32-bit floats (format tag 3), which the wave module cannot read."""
    data = np.float32([0.5, -0.5]).tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, 8000, 32000, 4, 32)
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data)) + b"WAVE"
                     + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data)


@pytest.mark.parametrize("spoil, message", [
    (lambda path: path.write_bytes(b"not a wav file at all"), r"cannot read .*bad.wav as WAV"),
    (lambda path: path.write_bytes(b"RIFF"), r"cannot read .*bad.wav as WAV"),
    (float_wav, r"cannot read .*bad.wav as WAV of integer PCM samples \(unknown format: 3\)"),
    (lambda path: path.write_bytes(path.read_bytes()[:-3]), r"bad.wav is cut short: its header promises 5 frames"),
])
def test_a_file_that_is_no_readable_wav_is_named_when_its_batch_is_read(tmp_path, spoil, message):
    write_wav(tmp_path / "c" / "good.wav", [1, 2, 3])
    write_wav(tmp_path / "c" / "bad.wav", [1, 2, 3, 4, 5])
    spoil(tmp_path / "c" / "bad.wav")
    data = audio_dataset_from_directory(tmp_path, batch_size=1, shuffle=False, verbose=False)
    with pytest.raises(ValueError, match=message):
        data[0]
    assert data[1][0].shape == (1, 3, 1)                   # the good file still reads


def test_one_length_for_clips_of_different_channels_is_refused_as_keras_fails(folder):
    data = audio_dataset_from_directory(folder, batch_size=4, shuffle=False, output_sequence_length=10,
                                        verbose=False)
    assert data[0][0].shape == (4, 10, 1)
    with pytest.raises(ValueError, match=r"4.wav with 1 channel\(s\) and .*0.wav with 2"):
        data[1]
