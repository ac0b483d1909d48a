"""Review of Keras' text classification examples ported to glassnet (TOPIC textcls)."""

import glassnet as gn
from glassnet import layers

TEXTS = ["A great movie!<br />Loved it.", "Awful, boring film.", "The plot was fine", "Not bad at all"]


def end_to_end(output_sequence_length=6):
    """Keras' end-to-end text model: Input((1,), dtype="string") -> TextVectorization -> model."""
    vectorizer = layers.TextVectorization(max_tokens=20, output_sequence_length=output_sequence_length)
    vectorizer.adapt(TEXTS)
    ids = gn.Input((None,), dtype="int64")
    scores = layers.Dense(1, activation="sigmoid")(layers.GlobalMaxPooling1D()(layers.Embedding(20, 4)(ids)))
    inner = gn.Model(ids, scores)
    texts = gn.Input((1,), dtype="string")
    return gn.Model(texts, inner(vectorizer(texts)))


def test_one_text_input_is_shown_and_built_as_declared():
    # the Input of strings is (None, 1), as Keras' summary and plot_model show it; its reader's
    # ids (None, 6) were shown instead, and build((None, 1)), Keras' form, was refused
    for length in (6, None):
        model = end_to_end(length)
        lines = []
        model.summary(print_fn=lines.append)
        row = next(line for line in lines[0].splitlines() if "(InputLayer)" in line)
        assert "(None, 1)" in row, row
        assert "Output shape: <b>(None, 1)</b>" in gn.utils.model_to_dot(model, show_shapes=True)
        model.build((None, 1))
        assert model.predict(TEXTS, verbose=0).shape == (4, 1)
