"""Bugs the owner found while merging session 47's work, each with the test that failed before its fix."""
import numpy as np
import pytest

import glassnet as gn


def test_predict_sizes_a_time_distributed_model_of_open_length():
    """predict without a batch_size sizes its chunks from each layer's numbers per sample: a
    TimeDistributed model whose inner model takes any length counted its layers at their built
    input_shape, None there, and raised a TypeError; now at the data's length."""
    inner = gn.Sequential([gn.Input((None, 4)), gn.layers.LSTM(3, return_sequences=True)])
    x = gn.Input((5, None, 4))
    model = gn.Model(x, gn.layers.TimeDistributed(inner)(x))
    data = np.random.default_rng(0).normal(size=(7, 5, 9, 4)).astype("float32")
    got = model.predict(data, verbose=0)
    np.testing.assert_array_equal(got, model.predict(data, batch_size=7, verbose=0))
    assert got.shape == (7, 5, 9, 3)
    # the count is the inner layers' at 9 steps, times the 5 outer steps
    wrapper = model.layers[-1]
    assert wrapper.numbers_per_sample((5, 9, 4)) == 5 * inner.layers[-1].numbers_per_sample((9, 4))


def test_set_state_into_a_model_laid_out_otherwise():
    """A state taken while a layer is frozen, set into a twin frozen the same way but not yet laid
    out again (no compile or fit since the freeze), then both unfrozen and fitted: the twin should
    train as the original (it failed on the slots' size, 10 trained values against 26, before get_state
    recorded which weight each block belongs to: glassnet._state_weights)."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 3)).astype("float32"), rng.normal(size=(16, 2)).astype("float32")

    def make():
        model = gn.Sequential([gn.layers.Dense(4, activation="tanh", input_dim=3), gn.layers.Dense(2)], seed=1)
        model.compile(loss="mse", optimizer=gn.optimizers.Adam(0.01))
        return model

    model = make()
    model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    model.layers[0].trainable = False
    model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    state = model.optimizer.get_state()
    twin = make()
    twin.set_weights(model.get_weights())
    twin.layers[0].trainable = False
    twin.optimizer.set_state(state)
    for m in (model, twin):
        m.layers[0].trainable = True
        m.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for got, want in zip(twin.get_weights(), model.get_weights()):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_one_image_with_boxes_is_refused_naming_the_images():
    """The dict form with boxes takes batches: one (height, width, channels) image beside batched boxes
    was refused with a message reading its height as the batch ("expected boxes (8, num_boxes, 4)");
    now it names the images and how to batch them (newrev47's note)."""
    layer = gn.layers.RandomFlip(bounding_box_format="xyxy", seed=0)
    data = {"images": np.zeros((8, 6, 3), "float32"),
            "bounding_boxes": {"boxes": np.zeros((1, 2, 4), "float32"), "labels": np.zeros((1, 2), "float32")}}
    with pytest.raises(ValueError, match=r"^RandomFlip: images: with bounding_boxes the dict form takes a batch "
                                         r"\(batch, height, width, channels\), got one image of shape \(8, 6, 3\)"):
        layer(data)
    batched = {"images": data["images"][None], "bounding_boxes": data["bounding_boxes"]}
    assert layer(batched)["bounding_boxes"]["boxes"].shape == (1, 2, 4)
