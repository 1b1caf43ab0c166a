"""Tests of mlqa_debug.data.images: pixel rows as pictures, checked against sklearn digits."""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from mlqa_debug.data import images as images
from mlqa_debug.data.predictions import Predictions, load_predictions
from mlqa_debug.data.schema import ImageSpec, Roles
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.errors import SchemaError


def decode(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as im:
        assert im.format == "PNG" and im.mode == "L"
        return np.asarray(im)


def test_rows_are_the_original_digits(digits: Predictions) -> None:
    reference = load_digits().images  # (1797, 8, 8), what the sample's pixel columns hold
    positions = np.array([0, 7, 448, 898])
    got = images.image_arrays(digits, positions)
    assert got.shape == (4, 8, 8)
    for picture, row in zip(got, digits.frame["id"].iloc[positions], strict=True):
        np.testing.assert_array_equal(picture, reference[int(row[1:])])
    assert images.image_arrays(digits, []).shape == (0, 8, 8)
    with pytest.raises(IndexError, match="row positions"):
        images.image_arrays(digits, [899])


def test_row_images_are_enlarged_pngs(digits: Predictions) -> None:
    pngs = images.row_images(digits, [448, 68], size=56)
    assert len(pngs) == 2
    pixels = images.image_arrays(digits, [448])[0]
    decoded = decode(pngs[0])
    assert decoded.shape == (56, 56)  # 8x8 enlarged 7 times, pixels stay square
    np.testing.assert_array_equal(decoded[::7, ::7], np.round(pixels / 16 * 255).astype(np.uint8))
    assert np.all(decoded[:7, :7] == decoded[0, 0])
    assert images.intensity_range(digits) == (0.0, 16.0)
    inverted = decode(images.row_images(digits, [448], size=8, invert=True)[0])
    np.testing.assert_array_equal(inverted, 255 - decoded[::7, ::7])


def test_data_uris_decode_to_the_png(digits: Predictions) -> None:
    uri = images.row_image_uris(digits, [3])[0]
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    assert base64.b64decode(uri[len(prefix) :]) == images.row_images(digits, [3])[0]


@pytest.mark.parametrize(
    ("values", "invert", "expected"),
    [
        ([0.0, 8.0, 16.0], False, [0, 128, 255]),
        ([-5.0, 20.0, np.nan], False, [0, 255, 0]),  # clipped; missing is the lowest intensity
        ([0.0, 16.0], True, [255, 0]),
    ],
)
def test_to_uint8(values: list[float], invert: bool, expected: list[int]) -> None:
    got = images.to_uint8(np.array(values), vmin=0, vmax=16, invert=invert)
    assert got.dtype == np.uint8 and got.tolist() == expected


def test_constant_images_do_not_divide_by_zero() -> None:
    assert images.to_uint8(np.full(3, 7.0), vmin=7, vmax=7).tolist() == [0, 0, 0]


def test_png_bytes_round_trip_and_refusals() -> None:
    picture = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    np.testing.assert_array_equal(decode(images.png_bytes(picture)), picture)
    np.testing.assert_array_equal(decode(images.png_bytes(picture, scale=3))[::3, ::3], picture)
    with pytest.raises(ValueError, match="2-d uint8"):
        images.png_bytes(picture.astype(np.float64))
    with pytest.raises(ValueError, match="scale"):
        images.png_bytes(picture, scale=0)


def test_image_grid_layout() -> None:
    tiles = np.stack([np.full((2, 3), v, np.uint8) for v in (10, 20, 30)])
    grid = images.image_grid(tiles, n_columns=2, scale=2, pad=1, background=255)
    # 2 columns of 6 px and 2 rows of 4 px, with 1 px of padding around every tile
    assert grid.shape == (2 * 4 + 3, 2 * 6 + 3)
    assert (grid[1:5, 1:7] == 10).all() and (grid[1:5, 8:14] == 20).all()
    assert (grid[6:10, 1:7] == 30).all() and (grid[6:10, 8:14] == 255).all()
    assert (grid[0] == 255).all() and (grid[:, 7] == 255).all()
    assert images.image_grid(tiles[:1], n_columns=10).shape == (4, 5)
    with pytest.raises(ValueError, match="uint8"):
        images.image_grid(tiles[0])
    with pytest.raises(ValueError, match="n_columns"):
        images.image_grid(tiles, n_columns=0)


def test_datasets_without_images_are_refused(tmp_path) -> None:
    loans = Workspace(tmp_path).load("loans")
    assert not images.has_images(loans)
    with pytest.raises(SchemaError, match="declares no image columns"):
        images.row_images(loans, [0])


def test_rectangular_images_with_missing_pixels(tmp_path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        rng.integers(0, 100, (5, 6)).astype(float), columns=[f"px{i}" for i in range(6)]
    )
    frame.iloc[2, 3] = np.nan
    frame["label"] = ["a", "b", "a", "b", "a"]
    frame["prediction"] = ["a", "a", "a", "b", "b"]
    path = tmp_path / "tiny.csv"
    frame.to_csv(path, index=False)
    predictions = load_predictions(path, roles=Roles(image=ImageSpec(("px*",), (2, 3))))
    arrays = images.image_arrays(predictions, [2])
    assert arrays.shape == (1, 2, 3) and np.isnan(arrays[0, 1, 0])
    decoded = decode(images.row_images(predictions, [2], size=30)[0])
    assert decoded.shape == (20, 30)  # the long edge reaches 30 px; scale 10
    assert decoded[10, 0] == 0  # the missing pixel shows as the lowest intensity
