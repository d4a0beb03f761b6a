"""Procedural abstract images for the five prompt buckets (the offline stand-in for SD 1.5).

Every generator is a pure function of a ``numpy.random.Generator`` and returns uint8
``[size, size, 3]``; :func:`generate` derives that generator from ``(seed, bucket)`` so the same
seed always gives the same pixels.

- ``reaction-diffusion``: Gray–Scott on a 128² torus or spectral Turing synthesis (reaction_diffusion.py)
- ``abstract``: domain-warped fBm, curl-noise flow streaks, marbled bands (abstract.py)
- ``colour-field``: soft stacked rectangles, soak stains, bands with brush texture (colour_field.py)
- ``glitch``: pixel sorting, RGB split, block/slice shifts, macroblocks, scanlines (glitch.py)
- ``monochrome-noise``: fBm, ridged, Worley, turbulence with grain (monochrome.py)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from training.procedural.abstract import abstract
from training.procedural.colour_field import colour_field
from training.procedural.glitch import glitch
from training.procedural.monochrome import monochrome_noise
from training.procedural.reaction_diffusion import reaction_diffusion

MODEL_ID = "procedural-v1"
BUCKETS = ("abstract", "glitch", "colour-field", "reaction-diffusion", "monochrome-noise")

GENERATORS: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "abstract": abstract,
    "glitch": glitch,
    "colour-field": colour_field,
    "reaction-diffusion": reaction_diffusion,
    "monochrome-noise": monochrome_noise,
}


def generate(bucket: str, seed: int, *, size: int = 256) -> np.ndarray:
    """Image ``[size, size, 3]`` uint8 for ``bucket`` from ``seed`` (same seed → same pixels).

    Raises ``ValueError`` naming the bucket when it is unknown, or the size when it is < 32.
    """
    if bucket not in GENERATORS:
        raise ValueError(f"bucket: unknown bucket {bucket!r}; valid: {', '.join(BUCKETS)}")
    if size < 32:
        raise ValueError(f"size: must be ≥ 32 (got {size})")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), BUCKETS.index(bucket)]))
    img = GENERATORS[bucket](rng, size)
    for _ in range(3):  # a degenerate (near-flat) draw is redrawn from the same stream
        if img.std() > 8.0:
            break
        img = GENERATORS[bucket](rng, size)
    return img
