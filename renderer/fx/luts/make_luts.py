"""Regenerate the bundled ``.cube`` grading LUTs: ``python renderer/luts/make_luts.py``.

Each LUT is a small analytic grade sampled on a 17³ grid (enough for smooth grades; the renderer
interpolates trilinearly). The files are committed; this script documents how they were made.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

SIZE = 17
HERE = Path(__file__).resolve().parent
LUMA = np.array([0.2126, 0.7152, 0.0722])  # BT.709


def _luma(rgb: np.ndarray) -> np.ndarray:
    return (rgb @ LUMA)[..., None]


def teal_orange(rgb: np.ndarray) -> np.ndarray:
    """Shadows pushed to teal, highlights to orange; skin-ish mids kept."""
    y = _luma(rgb)
    shadows = np.clip(1.0 - 2.0 * y, 0.0, 1.0)
    highlights = np.clip(2.0 * y - 1.0, 0.0, 1.0)
    return (
        rgb
        + 0.12 * shadows * np.array([-1.0, 0.3, 0.6])
        + 0.12 * highlights * np.array([0.6, 0.2, -0.8])
    )


def bleach_bypass(rgb: np.ndarray) -> np.ndarray:
    """Half desaturated, contrast overlay of luma: silvery, hard."""
    y = _luma(rgb)
    overlay = np.where(y < 0.5, 2.0 * y * rgb, 1.0 - 2.0 * (1.0 - y) * (1.0 - rgb))
    return 0.5 * overlay + 0.5 * (0.4 * rgb + 0.6 * y)


def warm_fade(rgb: np.ndarray) -> np.ndarray:
    """Lifted, warm blacks and softened whites (faded print)."""
    faded = 0.08 + 0.86 * rgb
    return faded * np.array([1.05, 1.0, 0.9]) + np.array([0.02, 0.01, 0.0])


def cool_night(rgb: np.ndarray) -> np.ndarray:
    """Blue-green cast, darker mids, reduced saturation."""
    y = _luma(rgb)
    mixed = 0.7 * rgb + 0.3 * y
    return np.power(np.clip(mixed, 0.0, 1.0), 1.15) * np.array([0.88, 0.98, 1.1])


GRADES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "teal_orange": teal_orange,
    "bleach_bypass": bleach_bypass,
    "warm_fade": warm_fade,
    "cool_night": cool_night,
}


def write_cube(path: Path, grade: Callable[[np.ndarray], np.ndarray], *, size: int = SIZE) -> None:
    """Sample ``grade`` on a ``size³`` grid and write it in .cube order (red fastest)."""
    axis = np.linspace(0.0, 1.0, size)
    b, g, r = np.meshgrid(axis, axis, axis, indexing="ij")
    rgb = np.stack([r.ravel(), g.ravel(), b.ravel()], axis=1)
    out = np.clip(grade(rgb), 0.0, 1.0)
    lines = [f'TITLE "{path.stem}"', f"LUT_3D_SIZE {size}", "DOMAIN_MIN 0 0 0", "DOMAIN_MAX 1 1 1"]
    lines += [f"{v[0]:.6f} {v[1]:.6f} {v[2]:.6f}" for v in out]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    for name, grade in GRADES.items():
        write_cube(HERE / f"{name}.cube", grade)
        print(f"wrote {HERE / f'{name}.cube'}")


if __name__ == "__main__":
    main()
