"""Fixtures for the picture tests: a place for a PNG, and a check that it is a real one."""

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture
def png(tmp_path):
    """``png("name")`` is a path in a fresh folder; ``png.check(path)`` asserts a decodable PNG."""

    class Png:
        def __call__(self, name: str) -> Path:
            return tmp_path / f"{name}.png"

        @staticmethod
        def check(path: Path) -> np.ndarray:
            from matplotlib.image import imread

            assert Path(path).read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), path
            pixels = imread(path)
            assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100
            assert [p.name for p in Path(path).parent.iterdir() if p.name.startswith(".")] == []
            return pixels

    return Png()
