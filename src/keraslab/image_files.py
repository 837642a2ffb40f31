"""PNG files a run logs: a grid of images, a bar chart of how often each code was chosen, and
the shared pieces for any figure (headless pyplot, saving a figure)."""

from collections.abc import Mapping
from pathlib import Path

import numpy as np


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path: Path) -> Path:
    """Lay ``figure`` out, write it to ``path`` (folders made) at 100 dpi and free it."""
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    pyplot().close(figure)
    return path


def save_grid(path: Path, rows: list[np.ndarray], scale: int = 4) -> Path:
    """``rows`` of (N, H, W, C) images in [0, 1] (clipped), one grid row each, 2-pixel white
    gaps, every pixel ``scale`` × ``scale``; grey images (C = 1) are drawn grey."""
    plt = pyplot()

    count, height, width, channels = rows[0].shape
    gap = 2
    grid = np.ones((len(rows) * (height + gap) - gap, count * (width + gap) - gap, 3), np.float32)
    for r, images in enumerate(rows):
        for c, image in enumerate(np.clip(images, 0, 1)):
            top, left = r * (height + gap), c * (width + gap)
            grid[top : top + height, left : left + width] = (
                np.repeat(image, 3, axis=-1) if channels == 1 else image
            )
    grid = np.repeat(np.repeat(grid, scale, axis=0), scale, axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    plt.imsave(path, grid)
    return path


def save_usage_histogram(path: Path, panels: Mapping[str, np.ndarray]) -> Path:
    """A panel per entry of ``panels`` (title -> counts), a bar per code: how many times it was
    chosen, codes sorted from most to least used."""
    plt = pyplot()

    figure, axes = plt.subplots(len(panels), 1, figsize=(8, 3 * len(panels)), squeeze=False)
    for axis, (title, counts) in zip(axes[:, 0], panels.items(), strict=True):
        ordered = np.sort(np.asarray(counts))[::-1]
        axis.bar(np.arange(len(ordered)), ordered, width=1.0, color="#3182bd")
        axis.set_xlabel("code, most used first")
        axis.set_ylabel("times chosen")
        axis.set_title(title)
    return save_figure(figure, path)
