"""Colour palettes and gradient maps: curated harmonious palettes plus constrained cosine palettes.

Random RGB triples look garish; curated palettes (a few related hues, one accent, a dark and a light
anchor) and cosine palettes with one shared frequency and phase offsets ≤ 1/3 keep images harmonious.
"""

from __future__ import annotations

import numpy as np

# Five stops each, dark → light where that reads naturally. Written for this project.
_HEX = {
    "ember": ["1a0b0c", "5c1a1b", "a8321e", "e0702b", "f6c76b"],
    "deep-sea": ["04141f", "0b3a53", "17708a", "5fb3b3", "d7efe6"],
    "moss": ["10170d", "2f3d1e", "667a36", "b3b56a", "ece4b8"],
    "dusk": ["1b1029", "46275a", "8c3f6e", "d8735f", "f7c59f"],
    "ink-and-rust": ["0f1419", "2b3a42", "8a4b2a", "c9823d", "efe0c2"],
    "glacier": ["0d1b2a", "1b3a5b", "4f7cac", "a7c4e5", "f2f7fb"],
    "orchid": ["1d0f1e", "5a1f4f", "a6447f", "e38fb0", "fbe1e8"],
    "saffron": ["2b1405", "7a3b08", "c8700e", "f2b632", "fff1c4"],
    "teal-coral": ["092327", "0b5351", "00a9a5", "ff8966", "ffe5d4"],
    "nocturne": ["06070e", "1a1f3c", "3c4a7d", "8a86b8", "e3d9f0"],
    "desert": ["2d1e17", "6e4a33", "b98b5d", "e3c18f", "f6ead2"],
    "lagoon": ["03262c", "05668d", "028090", "02c39a", "f0f3bd"],
    "rothko-red": ["1e0606", "5e0f0f", "9b1d1d", "d1482c", "f09a5a"],
    "rothko-blue": ["070b1c", "14214d", "2c3f83", "6a5d9e", "c9a6c9"],
    "olive-plum": ["1c1424", "4a2c4f", "7b6a3a", "b5a55a", "e9e2c0"],
    "citrus": ["142a1a", "2f6b3a", "9bbf3a", "f4d35e", "fff8d6"],
    "magma": ["000004", "3b0f70", "8c2981", "de4968", "fcfdbf"],
    "verdigris": ["0f1e1c", "24544d", "4f9a8a", "a9d3c4", "f1efe3"],
    "sakura": ["2a1b2e", "6b3f63", "c47a9a", "f2b8c6", "fff0f3"],
    "iron": ["121212", "3a3533", "6e625a", "b0a08f", "ebe3d7"],
    "aurora": ["050d1a", "0f3d5c", "1f8a70", "bedb39", "f6f7d7"],
    "terracotta": ["24130d", "6b2d1c", "b5543a", "de9b72", "f3dcc4"],
    "indigo-gold": ["0b0a24", "23205f", "4b3f96", "c99a2e", "f5dd8c"],
    "sea-glass": ["16302b", "386150", "58b09c", "caf7e2", "f8fff4"],
}
PALETTES: dict[str, np.ndarray] = {
    name: np.array([[int(h[i : i + 2], 16) / 255.0 for i in (0, 2, 4)] for h in stops], np.float32)
    for name, stops in _HEX.items()
}


def _rgb_to_hsv(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(rgb.reshape(1, -1, 3).astype(np.float32), cv2.COLOR_RGB2HSV).reshape(-1, 3)


def _hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(hsv.reshape(1, -1, 3).astype(np.float32), cv2.COLOR_HSV2RGB).reshape(-1, 3)


def pick_palette(rng: np.random.Generator, *, hue_jitter: float = 25.0) -> np.ndarray:
    """Colour stops ``[K, 3]`` in [0, 1]: a curated palette (hue-rotated a little, sometimes
    reversed) or, one time in four, a harmonious cosine palette sampled at 5 stops."""
    if rng.random() < 0.25:
        return cosine_palette(np.linspace(0.0, 1.0, 5), rng)
    names = sorted(PALETTES)
    stops = PALETTES[names[int(rng.integers(len(names)))]].copy()
    hsv = _rgb_to_hsv(stops)
    hsv[:, 0] = (hsv[:, 0] + rng.uniform(-hue_jitter, hue_jitter)) % 360.0
    hsv[:, 1] = np.clip(hsv[:, 1] * rng.uniform(0.8, 1.1), 0, 1)
    stops = np.clip(_hsv_to_rgb(hsv), 0, 1)
    return stops[::-1].copy() if rng.random() < 0.3 else stops


def cosine_palette(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``t`` ``[...]`` in [0, 1] → RGB ``[..., 3]`` via ``a + b·cos(2π(c·t + d))`` (Quílez), with
    one shared frequency and phase offsets spread ≤ 1/3 so the hues stay related."""
    a = rng.uniform(0.45, 0.55) + rng.uniform(-0.05, 0.05, 3)
    b = rng.uniform(0.3, 0.45) + rng.uniform(-0.05, 0.05, 3)
    c = np.full(3, rng.choice([0.5, 0.8, 1.0]))
    d = rng.uniform(0, 1) + np.array([0.0, 1.0, 2.0]) * rng.uniform(0.08, 0.33)
    rgb = a + b * np.cos(2 * np.pi * (c * np.asarray(t, np.float32)[..., None] + d))
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)


def gradient_map(t: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Map ``t`` ``[H, W]`` in [0, 1] through colour ``stops`` ``[K, 3]`` → ``[H, W, 3]`` float32."""
    lut_t = np.linspace(0.0, 1.0, 256)
    pos = np.linspace(0.0, 1.0, len(stops))
    lut = np.stack([np.interp(lut_t, pos, stops[:, c]) for c in range(3)], axis=1)
    idx = np.clip(t * 255.0 + 0.5, 0, 255).astype(np.intp)
    return lut.astype(np.float32)[idx]


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """Float RGB in [0, 1] → uint8 with rounding."""
    return np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)
