"""Rows of image-like data (``schema.image``: pixel columns + shape) as small pictures.

A dataset declares its pixel columns and their ``(height, width)`` in the sidecar
(``[image] columns = "px_*", shape = [8, 8]``). These helpers turn chosen rows
into grey ``uint8`` arrays, PNG bytes or ``data:`` URIs (what
``st.column_config.ImageColumn`` and ``st.image`` show), and lay several out as
one grid. Intensities are scaled with one range for the whole dataset (its
smallest and largest pixel value), so a faint digit looks faint next to a bold one.
Missing pixels show as the lowest intensity. Small images are enlarged by an
integer factor with nearest-neighbour sampling, so pixels stay square and sharp.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence

import numpy as np

from mlqa_debug.data.predictions import Predictions
from mlqa_debug.data.schema import ImageSpec
from mlqa_debug.errors import SchemaError

__all__ = [
    "data_uri",
    "has_images",
    "image_arrays",
    "image_grid",
    "intensity_range",
    "png_bytes",
    "row_image_uris",
    "row_images",
    "to_uint8",
]

DEFAULT_SIZE = 56
"""Default displayed edge (pixels) of one image: 8x8 digits are enlarged 7 times."""


def has_images(predictions: Predictions) -> bool:
    """Whether the dataset declares image columns."""
    return predictions.schema.image is not None


def _spec(predictions: Predictions) -> ImageSpec:
    spec = predictions.schema.image
    if spec is None:
        raise SchemaError(
            "this dataset declares no image columns; add an [image] table to its sidecar "
            '(columns = "px_*", shape = [height, width]) to see rows as images',
            file=predictions.source,
            expected="an [image] table with columns and shape",
        )
    return spec


def image_arrays(predictions: Predictions, positions: Sequence[int] | np.ndarray) -> np.ndarray:
    """``(len(positions), height, width)`` float pixel values of the rows at ``positions``."""
    spec = _spec(predictions)
    positions = np.asarray(positions, dtype=np.int64)
    height, width = spec.shape
    if positions.size == 0:
        return np.empty((0, height, width))
    if positions.min() < 0 or positions.max() >= predictions.n_samples:
        raise IndexError(f"row positions must be in [0, {predictions.n_samples})")
    block = predictions.frame[list(spec.columns)].iloc[positions]
    values = block.to_numpy(dtype=np.float64, na_value=np.nan)
    return values.reshape(len(positions), height, width)


def intensity_range(predictions: Predictions) -> tuple[float, float]:
    """The smallest and largest pixel value of the dataset (computed once per dataset)."""
    spec = _spec(predictions)

    def build() -> tuple[float, float]:
        values = predictions.frame[list(spec.columns)].to_numpy(dtype=np.float64, na_value=np.nan)
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            return 0.0, 1.0
        return float(finite.min()), float(finite.max())

    return predictions.memo("images.range", build)


def to_uint8(
    images: np.ndarray,
    *,
    vmin: float,
    vmax: float,
    invert: bool = False,
) -> np.ndarray:
    """Pixel values scaled from ``[vmin, vmax]`` to ``0..255`` (clipped; nan -> 0).

    ``invert`` maps ``vmax`` to black instead (dark ink on white paper).
    """
    values = np.asarray(images, dtype=np.float64)
    span = vmax - vmin if vmax > vmin else 1.0
    scaled = np.clip((values - vmin) / span, 0.0, 1.0)
    scaled = np.where(np.isfinite(scaled), scaled, 0.0)
    grey = np.round(scaled * 255).astype(np.uint8)
    return 255 - grey if invert else grey


def _scale_for(shape: tuple[int, int], size: int) -> int:
    return max(1, math.ceil(size / max(shape)))


def png_bytes(image: np.ndarray, *, scale: int = 1) -> bytes:
    """One grey ``uint8`` image ``(height, width)`` as PNG, enlarged ``scale`` times."""
    from PIL import Image

    array = np.asarray(image)
    if array.ndim != 2 or array.dtype != np.uint8:
        raise ValueError(f"expected a 2-d uint8 image, got {array.dtype} {array.shape}")
    if scale < 1:
        raise ValueError(f"scale must be at least 1, got {scale}")
    if scale > 1:
        array = np.kron(array, np.ones((scale, scale), dtype=np.uint8))
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for PNG bytes."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def row_images(
    predictions: Predictions,
    positions: Sequence[int] | np.ndarray,
    *,
    size: int = DEFAULT_SIZE,
    invert: bool = False,
) -> list[bytes]:
    """PNG bytes of the rows at ``positions``, each about ``size`` pixels on its long edge."""
    arrays = image_arrays(predictions, positions)
    vmin, vmax = intensity_range(predictions)
    grey = to_uint8(arrays, vmin=vmin, vmax=vmax, invert=invert)
    scale = _scale_for(_spec(predictions).shape, size)
    return [png_bytes(g, scale=scale) for g in grey]


def row_image_uris(
    predictions: Predictions,
    positions: Sequence[int] | np.ndarray,
    *,
    size: int = DEFAULT_SIZE,
    invert: bool = False,
) -> list[str]:
    """:func:`row_images` as ``data:`` URIs (for ``st.column_config.ImageColumn``)."""
    return [data_uri(p) for p in row_images(predictions, positions, size=size, invert=invert)]


def image_grid(
    images: np.ndarray,
    *,
    n_columns: int = 10,
    scale: int = 1,
    pad: int = 1,
    background: int = 255,
) -> np.ndarray:
    """Grey ``uint8`` images ``(m, height, width)`` tiled row by row into one image.

    Tiles are enlarged ``scale`` times and separated by ``pad`` pixels of
    ``background``; the last row is filled with background.
    """
    images = np.asarray(images)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"expected (m, height, width) uint8 images, got {images.dtype} {images.shape}"
        )
    if n_columns < 1 or scale < 1 or pad < 0:
        raise ValueError("n_columns and scale must be at least 1, pad at least 0")
    m, height, width = images.shape
    if scale > 1:
        images = np.kron(images, np.ones((1, scale, scale), dtype=np.uint8))
    th, tw = height * scale, width * scale
    cols = max(1, min(n_columns, m))
    rows = max(1, math.ceil(m / cols))
    grid = np.full(
        (rows * th + (rows + 1) * pad, cols * tw + (cols + 1) * pad), background, np.uint8
    )
    for i in range(m):
        r, c = divmod(i, cols)
        top, left = pad + r * (th + pad), pad + c * (tw + pad)
        grid[top : top + th, left : left + tw] = images[i]
    return grid
