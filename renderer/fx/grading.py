"""Colour grading tables for :mod:`renderer.fx.postfx`: tone curves and ``.cube`` 3D LUTs.

Everything here is precomputed once per track so that per-frame work is a table lookup on uint8
pixels (``cv2.LUT`` for 1D curves, one gather for the 3D LUT).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from renderer.errors import ConfigError

LUT_DIR = Path(__file__).with_name("luts")
CUBE_BITS = 5  # 3D LUT is sampled on a 32³ grid of bins; see cube_delta_table
# Tone knees (display values): the identity holds between them; beyond, values that would leave
# [0, 1] (exposure gain, contrast) are rolled off smoothly rather than clipped.
SHADOW_KNEE = 0.06
HIGHLIGHT_KNEE = 0.75


def _filmlog(x: np.ndarray) -> np.ndarray:
    # Lifted toe (black at 3.5 %), highlights rolled off below 96 %, mids nearly unchanged
    # (0.5 → 0.54): the soft "film scan" look.
    shoulder = (1.0 - np.exp(-2.2 * x)) / (1.0 - np.exp(-2.2))
    return 0.035 + 0.925 * (0.8 * x + 0.2 * shoulder)


def _aces(x: np.ndarray) -> np.ndarray:
    # Narkowicz's fit of the ACES filmic curve applied in linear light (display gamma 2.2) and
    # normalised so 1 maps to 1: deeper shadows (0.1 → 0.07), punchier mids, soft highlights.
    def f(v: np.ndarray | float) -> np.ndarray | float:
        return (v * (2.51 * v + 0.03)) / (v * (2.43 * v + 0.59) + 0.14)

    exposure = 0.8
    return (f(np.power(x, 2.2) * exposure) / f(exposure)) ** (1.0 / 2.2)


def _contrast(x: np.ndarray) -> np.ndarray:
    # Symmetric S-curve (smoothstep blended with identity): deeper shadows, brighter highlights.
    return 0.5 * x + 0.5 * (x * x * (3.0 - 2.0 * x))


TONE_CURVES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "none": lambda x: x,
    "filmlog": _filmlog,
    "aces": _aces,
    "contrast": _contrast,
}


def _compress(t: np.ndarray, slope: float) -> np.ndarray:
    """Map [0, 1] onto [0, 1], monotone and smooth: start slope ``slope`` ≥ 1, ending at 1 with
    slope ``1 / slope``. A rational (Reinhard-like) knee: its tail keeps distinct input levels
    distinct where an exponential one would flatten them."""
    c = max(float(slope) - 1.0, 0.0)
    return (1.0 + c) * t / (1.0 + c * t)


def soft_range(v: np.ndarray, *, low: float, high: float, toe: float = SHADOW_KNEE,
               shoulder: float = HIGHLIGHT_KNEE) -> np.ndarray:  # fmt: skip
    """Values spanning ``[low, high]`` brought into [0, 1] without clipping: unchanged between
    ``toe`` and ``shoulder``; the part above ``shoulder`` (when ``high`` > 1) and below ``toe``
    (when ``low`` < 0) is compressed by an exponential knee that continues the identity with a
    matching slope and lands exactly on 1 (0) at ``high`` (``low``). Monotone, so gradients never
    turn into flat fields."""
    out = np.array(v, dtype=np.float64)
    if high > 1.0:
        top = out > shoulder
        t = (out[top] - shoulder) / (high - shoulder)
        out[top] = shoulder + (1.0 - shoulder) * _compress(t, (high - shoulder) / (1 - shoulder))
    if low < 0.0:
        bottom = out < toe
        t = (toe - out[bottom]) / (toe - low)
        out[bottom] = toe - toe * _compress(t, (toe - low) / toe)
    return np.clip(out, 0.0, 1.0)


def tone_lut(name: str, *, exposure: float = 0.0, contrast: float = 1.0,
             pivot: float = 0.5) -> np.ndarray:  # fmt: skip
    """256-entry uint8 table: exposure (``2**exposure`` gain, stops), contrast (slope about
    ``pivot``), the soft highlight/shadow knees of :func:`soft_range`, then tone curve ``name``.

    Every curve is monotone non-decreasing on [0, 1], so the table is too; a gain above 1 rolls
    the highlights off instead of clipping them to a flat white.
    """
    try:
        curve = TONE_CURVES[name]
    except KeyError:
        raise ConfigError(
            f"postfx.tone_curve: unknown curve {name!r}; choose one of {', '.join(TONE_CURVES)}"
        ) from None
    x = np.arange(256, dtype=np.float64) / 255.0 * 2.0**exposure
    v = pivot + contrast * (x - pivot)
    y = np.clip(curve(soft_range(v, low=float(v[0]), high=float(v[-1]))), 0.0, 1.0)
    return np.round(y * 255.0).astype(np.uint8)


def vignette_mask(size: tuple[int, int], *, amount: float) -> np.ndarray:
    """uint8 gain mask ``[H, W, 3]`` (255 = 1) for a frame of ``size = (W, H)``: a smooth
    quadratic-quartic falloff of the distance from the centre, ``1 − amount`` at the corners."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r2 = ((x - (width - 1) / 2) / (width / 2)) ** 2 + ((y - (height - 1) / 2) / (height / 2)) ** 2
    r2 /= r2.max()
    gain = 1.0 - amount * (0.6 * r2 + 0.4 * r2 * r2)
    return np.repeat(np.round(gain * 255.0).astype(np.uint8)[..., None], 3, axis=2)


def available_luts() -> list[str]:
    """Names of the bundled ``.cube`` files in ``renderer/luts/``."""
    return sorted(p.stem for p in LUT_DIR.glob("*.cube"))


def resolve_lut(name_or_path: str) -> Path:
    """A bundled LUT name (``"teal_orange"``) or a path to a ``.cube`` file."""
    path = Path(name_or_path)
    if path.suffix == ".cube" and path.is_file():
        return path
    bundled = LUT_DIR / f"{name_or_path}.cube"
    if bundled.is_file():
        return bundled
    raise ConfigError(
        f"postfx.lut: {name_or_path!r} is neither a .cube file nor a bundled LUT "
        f"({', '.join(available_luts()) or 'none'})"
    )


def load_cube(path: str | Path) -> np.ndarray:
    """Parse an Adobe/Resolve ``.cube`` 3D LUT → float32 ``[N, N, N, 3]`` indexed ``[r, g, b]``.

    The file lists rows with red varying fastest; ``DOMAIN_MIN``/``DOMAIN_MAX`` other than 0/1
    are rejected rather than silently rescaled.
    """
    path = Path(path)
    size = None
    rows: list[list[float]] = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#") or line.startswith("TITLE"):
            continue
        key, *rest = line.split()
        if key == "LUT_3D_SIZE":
            size = int(rest[0])
        elif key in ("DOMAIN_MIN", "DOMAIN_MAX"):
            expected = 0.0 if key == "DOMAIN_MIN" else 1.0
            if any(float(v) != expected for v in rest):
                raise ConfigError(f"{path}:{lineno}: {key} {rest} unsupported (need {expected:g})")
        elif key == "LUT_1D_SIZE":
            raise ConfigError(f"{path}:{lineno}: 1D .cube LUTs are not supported; use a 3D LUT")
        else:
            try:
                rows.append([float(v) for v in (key, *rest)])
            except ValueError:
                raise ConfigError(f"{path}:{lineno}: cannot parse {line!r}") from None
    if size is None:
        raise ConfigError(f"{path}: no LUT_3D_SIZE line")
    data = np.asarray(rows, dtype=np.float32)
    if data.shape != (size**3, 3):
        raise ConfigError(f"{path}: expected {size**3} rows of 3 values, found {data.shape}")
    # Rows run r fastest → reshape to [b, g, r, 3] then swap to [r, g, b, 3].
    return np.ascontiguousarray(data.reshape(size, size, size, 3).transpose(2, 1, 0, 3))


def sample_cube(cube: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """Trilinear lookup of ``cube [N, N, N, 3]`` at ``rgb [M, 3]`` in [0, 1] → ``[M, 3]``."""
    n = cube.shape[0]
    pos = np.clip(rgb, 0.0, 1.0) * (n - 1)
    lo = np.minimum(np.floor(pos).astype(np.intp), n - 2)
    frac = pos - lo
    out = np.zeros((len(rgb), 3), dtype=np.float64)
    for dr in (0, 1):
        wr = frac[:, 0] if dr else 1.0 - frac[:, 0]
        for dg in (0, 1):
            wg = frac[:, 1] if dg else 1.0 - frac[:, 1]
            for db in (0, 1):
                wb = frac[:, 2] if db else 1.0 - frac[:, 2]
                corner = cube[lo[:, 0] + dr, lo[:, 1] + dg, lo[:, 2] + db]
                out += (wr * wg * wb)[:, None] * corner
    return out


def cube_delta_table(cube: np.ndarray, *, strength: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin colour *offsets* of a 3D LUT, as two uint8 tables (add, subtract) ``[32768, 3]``.

    Pixels are binned to 5 bits per channel (32³ bins, 96 KiB per table: stays in cache) and the
    LUT's offset ``strength · (lut(c) − c)`` at the bin centre ``c`` is added to the *full-precision*
    pixel. Quantising the offset rather than the colour avoids banding: LUT offsets vary slowly,
    so the error is a fraction of a level for grading LUTs, while a 32³ colour table would step
    by 8 levels.
    """
    step = 1 << (8 - CUBE_BITS)
    bins = 1 << CUBE_BITS
    centres = (np.arange(bins) * step + (step - 1) / 2.0) / 255.0
    r, g, b = np.meshgrid(centres, centres, centres, indexing="ij")
    rgb = np.stack([r.ravel(), g.ravel(), b.ravel()], axis=1)
    delta = np.round(strength * (sample_cube(cube, rgb) - rgb) * 255.0)
    delta = np.clip(delta, -255, 255)
    return (
        np.maximum(delta, 0).astype(np.uint8),
        np.maximum(-delta, 0).astype(np.uint8),
    )
