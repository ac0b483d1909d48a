"""text_dataset_from_directory: Keras' files, labels, splits and batches (Keras 3.15 as the oracle),
texts read per batch, a model trained on a folder of texts, and the refusals."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import Dense, TextVectorization
from glassnet.utils import text_dataset_from_directory

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

WORDS = {"neg": ["dull", "bad", "awful"], "pos": ["fine", "great", "good"], "odd": ["strange", "weird"]}


@pytest.fixture
def folder(tmp_path, rng):
    """Three classes of .txt files, one with a sub-folder, texts with accents and line breaks."""
    for name, count in (("neg", 6), ("pos", 5), ("odd", 3)):
        for i in range(count):
            place = tmp_path / name / ("more" if name == "pos" and i % 2 else "")
            place.mkdir(parents=True, exist_ok=True)
            words = list(rng.choice(WORDS[name], 3)) + ["café", "naïve"][: i % 3]
            (place / f"{i}.txt").write_text(" ".join(words) + "\nsecond line", encoding="utf-8")
    (tmp_path / "neg" / "picture.png").write_bytes(b"not text")
    return tmp_path


@pytest.mark.parametrize("settings", [dict(), dict(label_mode="categorical"), dict(label_mode=None),
                                      dict(max_length=9), dict(class_names=["pos", "neg"]),
                                      dict(labels=[i % 4 for i in range(14)])], ids=str)
def test_the_batches_are_keras(folder, settings):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours = text_dataset_from_directory(folder, batch_size=4, shuffle=False, verbose=False, **settings)
    theirs = list(keras.utils.text_dataset_from_directory(folder, batch_size=4, shuffle=False, verbose=False,
                                                          **settings))
    assert len(ours) == len(theirs)
    for i, batch in enumerate(theirs):
        mine = ours[i] if isinstance(ours[i], tuple) else (ours[i],)
        batch = batch if isinstance(batch, tuple) else (batch,)
        # Keras serves the files' bytes; a cut inside "é" leaves half of it, which glassnet drops
        expected = [t.decode("utf-8", errors="ignore") for t in np.asarray(batch[0]).tolist()]
        assert mine[0].tolist() == expected
        if len(batch) > 1:
            np.testing.assert_array_equal(mine[1], np.asarray(batch[1]))


def test_files_labels_shuffle_and_split_by_hand(folder, capsys):
    train, val = text_dataset_from_directory(folder, batch_size=5, validation_split=0.25, subset="both", seed=2)
    assert capsys.readouterr().out.splitlines() == ["Found 14 files belonging to 3 classes.",
                                                   "Using 11 files for training.", "Using 3 files for validation."]
    listed = text_dataset_from_directory(folder, shuffle=False, verbose=False)
    order = np.arange(14)
    np.random.RandomState(2).shuffle(order)              # Keras' one shuffle of the file list
    assert train.file_paths + val.file_paths == [listed.file_paths[i] for i in order]
    assert train.class_names == ["neg", "odd", "pos"] and len(train) == 3 and len(val) == 1
    texts, labels = train[0]
    assert texts.shape == (5,) and labels.dtype == np.int32
    for text, label in zip(texts, labels):
        assert text.split()[0] in WORDS[train.class_names[label]] and text.endswith("\nsecond line")


def test_a_model_that_starts_with_a_text_vectorization_trains_on_the_folder(folder):
    train = text_dataset_from_directory(folder, batch_size=4, seed=0, verbose=False)
    vectorizer = TextVectorization(output_mode="multi_hot")
    vectorizer.adapt(train)                              # (texts, labels) batches: their texts
    assert {"dull", "great", "weird", "café", "second"} <= set(vectorizer.get_vocabulary())
    model = gn.Sequential([vectorizer, Dense(3, activation="softmax")], seed=0)
    model.compile("sparse_categorical_crossentropy", gn.optimizers.Adam(0.1), metrics=["accuracy"])
    model.fit(train, epochs=20, verbose=0)
    assert model.evaluate(train, verbose=0)[1] == 1.0


@pytest.mark.parametrize("settings, message", [
    (dict(max_length=0), "max_length must be a positive integer"),
    (dict(label_mode="binary"), "label_mode='binary' needs exactly 2 classes"),
    (dict(validation_split=0.2, subset="training"), "a validation split of shuffled files needs a seed"),
    (dict(batch_size=None), "batch_size must be a positive integer"),
])
def test_bad_settings_are_refused_naming_them(folder, settings, message):
    with pytest.raises(ValueError, match=f"^text_dataset_from_directory: {message}"):
        text_dataset_from_directory(folder, verbose=False, **settings)


def test_a_file_that_is_not_utf8_is_named_and_a_folder_without_texts_refused(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "latin.txt").write_bytes("caf\xe9".encode("latin-1"))
    data = text_dataset_from_directory(tmp_path, verbose=False)
    with pytest.raises(ValueError, match=r"latin.txt is not UTF-8 text"):
        data[0]
    cut = text_dataset_from_directory(tmp_path, max_length=3, verbose=False)
    assert cut[0][0].tolist() == ["caf"]                 # the bytes after the cut are never read
    (tmp_path / "a" / "latin.txt").write_bytes("h\u00e9\0\0".encode("utf-8"))
    assert text_dataset_from_directory(tmp_path, max_length=2, verbose=False)[0][0].tolist() == ["h"]   # é cut
    texts = text_dataset_from_directory(tmp_path, verbose=False)[0][0]
    assert texts.dtype == object and texts.tolist() == ["h\u00e9\0\0"]           # NULs kept (Keras)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "notes.md").write_text("no .txt here")
    with pytest.raises(ValueError, match=r"^text_dataset_from_directory: no text files found in .* \(formats .txt\)"):
        text_dataset_from_directory(tmp_path, class_names=["b"], verbose=False)


def test_keras_basic_text_classification_tutorial_end_to_end(tmp_path, rng):
    """Keras' "basic text classification" flow, step by step: folders of reviews, a TextVectorization
    adapted on the training texts, a model on ids ending in a logit, from_logits=True, accuracy at
    threshold 0, and the export model that takes raw strings (a model nested in a model)."""
    good, bad = ["great", "superb", "moving"], ["dull", "awful", "boring"]
    for split, n in (("train", 40), ("test", 20)):
        for label, words in (("neg", bad), ("pos", good)):
            (tmp_path / split / label).mkdir(parents=True)
            for i in range(n):
                text = f"<br />The film was {rng.choice(words)} and the plot {rng.choice(['was', 'is'])} {rng.choice(words)}."
                (tmp_path / split / label / f"{i}.txt").write_text(text)
    raw_train, raw_val = text_dataset_from_directory(tmp_path / "train", batch_size=8, validation_split=0.2,
                                                     subset="both", seed=42, verbose=False)
    raw_test = text_dataset_from_directory(tmp_path / "test", batch_size=8, verbose=False)
    vectorize_layer = TextVectorization(max_tokens=50, output_mode="int", output_sequence_length=12)
    vectorize_layer.adapt(raw_train)

    class Vectorized(gn.utils.PyDataset):            # Keras' dataset.map(vectorize_text)
        def __init__(self, dataset):
            super().__init__()
            self.dataset = dataset

        def __len__(self):
            return len(self.dataset)

        def __getitem__(self, index):
            texts, labels = self.dataset[index]
            return vectorize_layer(texts), labels
    vectorize = Vectorized
    model = gn.Sequential([gn.layers.Embedding(50, 8), gn.layers.Dropout(0.2), gn.layers.GlobalAveragePooling1D(),
                           gn.layers.Dropout(0.2), Dense(1)], seed=0)
    model.compile(loss=gn.losses.BinaryCrossentropy(from_logits=True), optimizer=gn.optimizers.Adam(0.05),
                  metrics=[gn.metrics.BinaryAccuracy(threshold=0.0)])
    history = model.fit(vectorize(raw_train), validation_data=vectorize(raw_val), epochs=15, verbose=0)
    assert history.history["val_binary_accuracy"][-1] == 1.0
    export_model = gn.Sequential([vectorize_layer, model, gn.layers.Activation("sigmoid")])
    export_model.compile(loss=gn.losses.BinaryCrossentropy(), optimizer="adam", metrics=["accuracy"])
    assert export_model.evaluate(raw_test, verbose=0)[1] == 1.0
    p = export_model.predict(["The film was superb", "The plot was awful and dull"], verbose=0).ravel()
    assert p[0] > 0.5 > p[1]
