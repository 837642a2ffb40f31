"""Image data for autoencoders: patches of real photographs, and scikit-learn's digits.

Both come from pinned packages, so nothing downloads: the photographs that scikit-image bundles
(``skimage.data``) and scikit-learn's two sample photos (``china``, ``flower``); the digits are
scikit-learn's 1,797 8 × 8 grey images. Pixels are scaled to [0, 1]. Each split's images are its
inputs and its targets (the model reconstructs them).
"""

from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np

from keraslab.config_checks import Check, integer, optional
from keraslab.data.encoded import EncodedSplit
from keraslab.data.module import DataModule
from keraslab.errors import ConfigError

# Photographs bundled with scikit-image (by their skimage.data name; "cat" is chelsea again).
SKIMAGE_PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
)
SKLEARN_PHOTOS = ("china", "flower")
PHOTOS = SKIMAGE_PHOTOS + SKLEARN_PHOTOS


def load_photo(name: str) -> np.ndarray:
    """The RGB photograph ``name`` (one of :data:`PHOTOS`) as uint8 (H, W, 3)."""
    if name in SKIMAGE_PHOTOS:
        import skimage.data

        return getattr(skimage.data, name)()
    from sklearn.datasets import load_sample_image

    return load_sample_image(f"{name}.jpg")


def patches(image: np.ndarray, size: int, stride: int) -> np.ndarray:
    """Every ``size`` × ``size`` window of ``image`` at multiples of ``stride``, (N, size, size, C)."""
    height, width = image.shape[:2]
    return np.stack(
        [
            image[top : top + size, left : left + size]
            for top in range(0, height - size + 1, stride)
            for left in range(0, width - size + 1, stride)
        ]
    )


class ImageData(DataModule):
    """The base: :meth:`images` gives each split's (N, H, W, C) floats in [0, 1]; the model gets
    the image shape, and ``variance`` is the train split's pixel variance (for MSE / variance)."""

    splits_needed = ("train", "valid")

    def __init__(self, batch_size: int):
        super().__init__(batch_size)
        self.variance = 0.0

    def images(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def setup(self, **options) -> "ImageData":
        for split, images in self.images().items():
            images = images.astype(np.float32)
            self.examples[split] = images
            self.splits[split] = EncodedSplit({"images": images}, images)
        self.variance = float(np.var(self.examples["train"]))
        shapes = {s: e.shape for s, e in self.examples.items()}
        print(f"data: {shapes}, train pixel variance {self.variance:.5f}", flush=True)
        return self

    @property
    def model_arguments(self) -> dict:
        return {"image_shape": tuple(self.examples["train"].shape[1:])}


class ImagePatchData(ImageData):
    """``patch_size`` square RGB patches of photographs, split by photograph (no test pixel is
    in a training patch): ``photos`` maps split -> photo names (:data:`PHOTOS`). Training patches
    overlap (``train_stride``), the others tile their photo (``eval_stride``)."""

    config_checks: ClassVar[dict[str, Check]] = {
        "patch_size": integer(2),
        "train_stride": integer(1),
        "eval_stride": integer(1),
        "batch_size": integer(1),
        "max_train_samples": optional(integer(1)),
    }

    def __init__(
        self,
        photos: Mapping[str, Sequence[str]],
        patch_size: int = 32,
        train_stride: int = 16,
        eval_stride: int = 32,
        batch_size: int = 64,
        max_train_samples: int | None = None,
    ):
        super().__init__(batch_size)
        self.photos = {split: list(names) for split, names in photos.items()}
        self.patch_size = patch_size
        self.strides = {"train": train_stride}
        self.eval_stride = eval_stride
        self.max_train_samples = max_train_samples
        self._check_photos()

    def _check_photos(self) -> None:
        problems = [
            f"data.photos lacks a {split} list"
            for split in self.splits_needed
            if not self.photos.get(split)
        ]
        unknown = sorted({n for names in self.photos.values() for n in names} - set(PHOTOS))
        if unknown:
            problems.append(
                f"data.photos names {', '.join(unknown)}, not one of {', '.join(PHOTOS)}"
            )
        seen: dict[str, str] = {}
        for split, names in self.photos.items():
            for name in names:
                if name in seen and seen[name] != split:
                    problems.append(f"photo {name!r} is in both {seen[name]} and {split}")
                seen.setdefault(name, split)
        if problems:
            raise ConfigError("; ".join(problems) + ". Each split needs its own photographs.")

    def images(self) -> dict[str, np.ndarray]:
        found = {}
        for split, names in self.photos.items():
            stride = self.strides.get(split, self.eval_stride)
            found[split] = np.concatenate(
                [patches(load_photo(name), self.patch_size, stride) for name in names]
            ) / np.float32(255)
        found["train"] = found["train"][: self.max_train_samples]
        return found


class DigitsData(ImageData):
    """scikit-learn's handwritten digits, (8, 8, 1) in [0, 1], split by a seeded permutation into
    ``valid_size`` and ``test_size`` images and the rest for training."""

    config_checks: ClassVar[dict[str, Check]] = {
        "valid_size": integer(1),
        "test_size": integer(1),
        "batch_size": integer(1),
    }

    def __init__(
        self, valid_size: int = 270, test_size: int = 270, batch_size: int = 64, split_seed: int = 0
    ):
        super().__init__(batch_size)
        self.valid_size = valid_size
        self.test_size = test_size
        self.split_seed = split_seed

    def images(self) -> dict[str, np.ndarray]:
        from sklearn.datasets import load_digits

        images = load_digits().images[..., None] / np.float32(16)
        order = np.random.default_rng(self.split_seed).permutation(len(images))
        test, valid = (
            order[: self.test_size],
            order[self.test_size : self.test_size + self.valid_size],
        )
        train = order[self.test_size + self.valid_size :]
        if not len(train):
            raise ConfigError(
                f"data.valid_size + data.test_size ({self.valid_size} + {self.test_size}) leave "
                f"no training image of the {len(images)}."
            )
        return {"train": images[train], "valid": images[valid], "test": images[test]}
