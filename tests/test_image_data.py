"""Image data: patches split by photograph, pixel range and variance, digits, bad photo names."""

import numpy as np
import pytest

from keraslab.data import DigitsData, ImagePatchData
from keraslab.data.images import load_photo, patches
from keraslab.errors import ConfigError


def test_patches_tile_an_image_at_the_stride():
    image = np.arange(6 * 8).reshape(6, 8, 1)
    found = patches(image, 4, 2)
    assert found.shape == (2 * 3, 4, 4, 1)
    np.testing.assert_array_equal(found[4], image[2:6, 2:6])


def test_photo_patches_are_split_by_photograph_and_scaled_to_unit_range():
    data = ImagePatchData(
        {"train": ["coffee"], "valid": ["chelsea"], "test": ["flower"]}, batch_size=8
    ).setup()
    coffee = load_photo("coffee")  # 400 x 600
    assert data.examples["train"].shape == (24 * 36, 32, 32, 3)
    assert data.examples["valid"].shape == (9 * 14, 32, 32, 3)  # chelsea, 300 x 451, tiled
    np.testing.assert_allclose(data.examples["train"][1], coffee[0:32, 16:48] / 255, atol=1e-7)
    for split in ("train", "valid", "test"):
        images = data.examples[split]
        assert images.dtype == np.float32 and images.min() >= 0 and images.max() <= 1
    assert data.variance == pytest.approx(float(np.var(data.examples["train"])))
    assert data.model_arguments == {"image_shape": (32, 32, 3)}
    inputs, targets = data.batches("valid", seed=0).batch(0, 0)
    np.testing.assert_array_equal(inputs["images"], targets)


@pytest.mark.parametrize(
    "photos, message",
    [
        ({"train": ["coffee"], "valid": ["mona_lisa"]}, "names mona_lisa, not one of astronaut"),
        ({"train": ["coffee"], "valid": ["coffee"]}, "photo 'coffee' is in both train and valid"),
        ({"train": ["coffee"]}, "data.photos lacks a valid list"),
    ],
)
def test_bad_photo_lists_are_refused_with_what_was_expected(photos, message):
    with pytest.raises(ConfigError, match=message):
        ImagePatchData(photos)


def test_digits_split_into_disjoint_parts_in_unit_range():
    data = DigitsData(valid_size=200, test_size=100).setup()
    sizes = {split: len(images) for split, images in data.examples.items()}
    assert sizes == {"train": 1797 - 300, "valid": 200, "test": 100}
    assert data.model_arguments["image_shape"] == (8, 8, 1)
    from sklearn.datasets import load_digits

    everything = np.concatenate(list(data.examples.values())).reshape(1797, -1)
    original = load_digits().images.reshape(1797, -1) / 16
    # The three splits together are the data set, each image once (as a multiset of rows).
    for got, want in zip(
        np.unique(everything, axis=0, return_counts=True),
        np.unique(original.astype(np.float32), axis=0, return_counts=True),
        strict=True,
    ):
        np.testing.assert_array_equal(got, want)
    assert data.examples["train"].max() == 1.0 and data.examples["train"].min() == 0.0
    with pytest.raises(ConfigError, match="leave no training image"):
        DigitsData(valid_size=1000, test_size=797).setup()


def test_code_usage_and_reconstruction_scores_by_hand():
    from keraslab.tasks.vqvae import code_usage, reconstruction_scores

    usage = code_usage(np.array([[0, 0], [1, 3]]), 5)
    p = np.array([0.5, 0.25, 0.25])
    assert usage["perplexity"] == pytest.approx(np.exp(-(p * np.log(p)).sum()))
    assert usage["codes_used"] == 3 / 5 and usage["dead_codes"] == 2
    assert code_usage(np.arange(8), 8)["perplexity"] == pytest.approx(8.0)
    scores = reconstruction_scores(0.01, 0.05)
    assert scores == {"mse_variance": pytest.approx(0.2), "psnr": pytest.approx(20.0)}
