"""Post-processing of decoded frames: grading, trails, vignette, chroma shift, grain.

All per-pixel work is uint8 OpenCV calls on precomputed tables and masks (≈15 ms per 1080p frame
on the development machine instead of 50 ms for a float numpy chain; ARCHITECTURE §10). Effects
are registered by name in :data:`EFFECTS` and run in :data:`ORDER`.

Determinism and chunking. Grain is drawn from a bank generated once from ``(seed, track_id)``;
each frame picks its tile and offset from ``(seed, track_id, frame index)``, so any frame can be
rendered alone. The only stateful effect is ``persistence`` (trails: ``s ← p·s + (1−p)·x``, kept in
float32). A chunk that starts at frame ``a`` must first run ``warmup_frames`` frames before ``a``
(their output is discarded): the state then differs from the unchunked one by at most
``255·p**warmup_frames < 0.5`` levels, so the chunk's frames equal the unchunked render exactly or
— when a value sits on a rounding boundary — within one 8-bit level (tested).
"""

from __future__ import annotations

import functools
import math
import zlib
from collections.abc import Callable, Mapping

import cv2
import numpy as np

from renderer.config.models import PostFXConfig
from renderer.fx.grading import cube_delta_table, load_cube, resolve_lut, tone_lut

RESIDUAL = 1.0 / 512.0  # state weight that is below half an 8-bit level
MAX_PERSISTENCE = 0.98
GRAIN_BANK = 4  # pre-generated grain tiles per track
GRAIN_PAD = 64  # tiles are this much larger than the frame; each frame crops at a random offset
GRAIN_SIGMA = 40.0  # grain std in 8-bit levels at grain_intensity = 1
EXPOSURE_STEP = 1.0 / 64.0  # pulse exposure is quantised so tone tables can be cached


def _seed_words(seed: int, track_id: str, *extra: int) -> list[int]:
    return [int(seed) & 0xFFFFFFFF, zlib.crc32(track_id.encode("utf-8")), *extra]


class _Ctx:
    """What effects see: settings, frame size (W, H) and seeds."""

    def __init__(self, settings: PostFXConfig, size: tuple[int, int], seed: int, track_id: str):
        self.settings, self.size, self.seed, self.track_id = settings, size, seed, track_id


Effect = Callable[[np.ndarray, int, Mapping[str, float]], np.ndarray]
EffectFactory = Callable[[_Ctx], Effect | None]
EFFECTS: dict[str, EffectFactory] = {}
ORDER: list[str] = []


def register(name: str) -> Callable[[EffectFactory], EffectFactory]:
    """Register an effect factory; it returns ``None`` when the settings switch the effect off."""

    def deco(factory: EffectFactory) -> EffectFactory:
        EFFECTS[name] = factory
        ORDER.append(name)
        return factory

    return deco


@register("tone")
def _tone(ctx: _Ctx) -> Effect | None:
    s = ctx.settings
    if s.tone_curve == "none" and s.exposure == s.pulse_exposure == s.cut_exposure == 0.0:
        return None
    cache: dict[int, np.ndarray] = {}

    def apply(frame: np.ndarray, index: int, signals: Mapping[str, float]) -> np.ndarray:
        stops = (
            s.exposure
            + s.pulse_exposure * float(signals.get("pulse", 0.0))
            + s.cut_exposure * float(signals.get("scene_cut", 0.0))
        )
        key = round(stops / EXPOSURE_STEP)
        if key not in cache:
            cache[key] = tone_lut(s.tone_curve, exposure=key * EXPOSURE_STEP)
        return cv2.LUT(frame, cache[key])

    tone_lut(s.tone_curve)  # fail early on an unknown curve name
    return apply


@register("lut")
def _lut(ctx: _Ctx) -> Effect | None:
    s = ctx.settings
    if s.lut is None or s.lut_strength == 0.0:
        return None
    add, sub = cube_delta_table(load_cube(resolve_lut(s.lut)), strength=s.lut_strength)
    # Packed RGBA words so one np.take gathers a pixel's three offsets.
    add32 = np.zeros((len(add), 4), np.uint8)
    sub32 = np.zeros((len(sub), 4), np.uint8)
    add32[:, :3], sub32[:, :3] = add, sub
    add32, sub32 = add32.view(np.uint32).ravel(), sub32.view(np.uint32).ravel()
    v = np.arange(256) >> 3  # 5-bit bins (grading.CUBE_BITS)
    bin_lut = np.stack([v << 10, v << 5, v], axis=-1).astype(np.uint16).reshape(1, 256, 3)

    def apply(frame: np.ndarray, index: int, signals: Mapping[str, float]) -> np.ndarray:
        parts = cv2.LUT(frame, bin_lut)
        idx = parts[..., 0] + parts[..., 1] + parts[..., 2]
        rgba = (*idx.shape, 4)
        plus = cv2.cvtColor(np.take(add32, idx).view(np.uint8).reshape(rgba), cv2.COLOR_RGBA2RGB)
        minus = cv2.cvtColor(np.take(sub32, idx).view(np.uint8).reshape(rgba), cv2.COLOR_RGBA2RGB)
        return cv2.subtract(cv2.add(frame, plus), minus)

    return apply


@register("saturation")
def _saturation(ctx: _Ctx) -> Effect | None:
    amount = ctx.settings.saturation
    if amount == 1.0:
        return None

    def apply(frame: np.ndarray, index: int, signals: Mapping[str, float]) -> np.ndarray:
        grey = cv2.cvtColor(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
        return cv2.addWeighted(frame, amount, grey, 1.0 - amount, 0.0)

    return apply


class _Trail:
    """Trailing persistence ``s ← p·s + (1−p)·x``; the state is float32 so it decays exactly."""

    def __init__(self, decay: float) -> None:
        self.decay = decay
        self.state: np.ndarray | None = None  # [H, W, 3] float32; None until the first frame

    def __call__(self, frame: np.ndarray, index: int, signals: Mapping[str, float]) -> np.ndarray:
        if self.state is None:
            self.state = frame.astype(np.float32)
        else:
            cv2.accumulateWeighted(frame, self.state, 1.0 - self.decay)
        return cv2.convertScaleAbs(self.state)  # round + saturate to uint8

    def reset(self) -> None:
        self.state = None


@register("persistence")
def _persistence(ctx: _Ctx) -> Effect | None:
    decay = ctx.settings.persistence
    return _Trail(decay) if decay > 0.0 else None


@register("vignette")
def _vignette(ctx: _Ctx) -> Effect | None:
    amount = ctx.settings.vignette
    if amount == 0.0:
        return None
    width, height = ctx.size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    # Distance from the centre, 1.0 at the corners; smooth quadratic-quartic falloff.
    r2 = ((x - (width - 1) / 2) / (width / 2)) ** 2 + ((y - (height - 1) / 2) / (height / 2)) ** 2
    r2 /= r2.max()
    gain = 1.0 - amount * (0.6 * r2 + 0.4 * r2 * r2)
    mask = np.repeat(np.round(gain * 255.0).astype(np.uint8)[..., None], 3, axis=2)

    def apply(frame: np.ndarray, index: int, signals: Mapping[str, float]) -> np.ndarray:
        return cv2.multiply(frame, mask, scale=1.0 / 255.0)

    return apply


@register("chroma_shift")
def _chroma_shift(ctx: _Ctx) -> Effect | None:
    amount = ctx.settings.chroma_shift
    if amount == 0.0:
        return None
    width, height = ctx.size
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0

    def zoom(scale: float) -> np.ndarray:
        return np.float32([[scale, 0, cx * (1 - scale)], [0, scale, cy * (1 - scale)]])

    # Lateral chromatic aberration: red magnified, blue shrunk about the centre.
    red, blue = zoom(1.0 + amount), zoom(1.0 - amount)

    def apply(frame: np.ndarray, index: int, signals: Mapping[str, float]) -> np.ndarray:
        r, g, b = cv2.split(frame)
        flags, border = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, cv2.BORDER_REFLECT
        r = cv2.warpAffine(r, red, (width, height), flags=flags, borderMode=border)
        b = cv2.warpAffine(b, blue, (width, height), flags=flags, borderMode=border)
        return cv2.merge([r, g, b])

    return apply


@functools.lru_cache(maxsize=2)
def _grain_bank(seed: int, track_id: str, width: int, height: int, sigma: float):
    """Read-only (add, subtract) uint8 planes ``[GRAIN_BANK, H+pad, W+pad, 3]`` for a track.

    Cached: a chunked render builds one PostFX per chunk, and a 1080p bank takes ≈1 s to draw.
    """
    rng = np.random.default_rng(np.random.SeedSequence(_seed_words(seed, track_id)))
    shape = (GRAIN_BANK, height + GRAIN_PAD, width + GRAIN_PAD, 3)
    # Symmetric clipping keeps the grain zero-mean; split into saturating add/subtract planes.
    noise = np.clip(np.round(rng.standard_normal(shape, dtype=np.float32) * sigma), -255, 255)
    plus = np.maximum(noise, 0).astype(np.uint8)
    minus = np.maximum(-noise, 0).astype(np.uint8)
    plus.flags.writeable = minus.flags.writeable = False
    return plus, minus


@register("grain")
def _grain(ctx: _Ctx) -> Effect | None:
    amount = ctx.settings.grain_intensity
    if amount == 0.0:
        return None
    width, height = ctx.size
    plus, minus = _grain_bank(ctx.seed, ctx.track_id, width, height, GRAIN_SIGMA * amount)

    def apply(frame: np.ndarray, index: int, signals: Mapping[str, float]) -> np.ndarray:
        pick = np.random.default_rng(_seed_words(ctx.seed, ctx.track_id, index))
        k, dy, dx = pick.integers(0, (GRAIN_BANK, GRAIN_PAD + 1, GRAIN_PAD + 1))
        window = (k, slice(dy, dy + height), slice(dx, dx + width))
        return cv2.subtract(cv2.add(frame, plus[window]), minus[window])

    return apply


def warmup_for(persistence: float) -> int:
    """Frames before a chunk start so the trail state residual ``p**n`` is below 1/512."""
    if persistence <= 0.0:
        return 0
    # Smallest n with p**n strictly below the bound (p = 0.5 → 10, 0.9 → 60, 0.98 → 309).
    return math.floor(math.log(RESIDUAL) / math.log(persistence)) + 1


class PostFX:
    """The configured effect chain for one track at one output size ``(W, H)``."""

    def __init__(
        self, settings: PostFXConfig, *, size: tuple[int, int], seed: int, track_id: str
    ) -> None:
        self.settings = settings
        self.size = (int(size[0]), int(size[1]))
        ctx = _Ctx(settings, self.size, int(seed), str(track_id))
        self._chain = [(n, fx) for n in ORDER if (fx := EFFECTS[n](ctx)) is not None]
        self.warmup_frames = warmup_for(settings.persistence)

    @property
    def effects(self) -> list[str]:
        """Names of the active effects, in order."""
        return [name for name, _ in self._chain]

    def reset(self) -> None:
        """Forget trail state (call before a chunk's warm-up frames)."""
        for _, fx in self._chain:
            if hasattr(fx, "reset"):
                fx.reset()

    def apply(
        self,
        frames: np.ndarray,
        *,
        frame_indices: np.ndarray,
        signals: Mapping[str, np.ndarray] | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Process ``uint8 [B, H, W, 3]`` frames with their track frame indices ``[B]``.

        ``signals`` maps names (``"pulse"``, …) to per-frame values ``[B]`` in [0, 1]. Frames must
        be passed in order; stateful effects carry over between calls until :meth:`reset`.
        ``out`` (may be ``frames`` itself) receives the result: reusing buffers saves the page
        faults of a fresh 1080p batch, which cost as much as the effects (measured).
        """
        width, height = self.size
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[1:] != (height, width, 3):
            raise ValueError(
                f"frames must be uint8 [B, {height}, {width}, 3], got {frames.dtype} {frames.shape}"
            )
        indices = np.asarray(frame_indices)
        if indices.shape != (len(frames),):
            raise ValueError(f"frame_indices must be [{len(frames)}], got {indices.shape}")
        signals = signals or {}
        for name, values in signals.items():
            if np.shape(values) != (len(frames),):
                raise ValueError(f"signal {name!r} must be [{len(frames)}], got {np.shape(values)}")
        if out is None:
            out = np.empty_like(frames)
        elif out.shape != frames.shape or out.dtype != np.uint8:
            raise ValueError(f"out must be uint8 {frames.shape}, got {out.dtype} {out.shape}")
        for i, frame in enumerate(frames):
            per_frame = {name: float(values[i]) for name, values in signals.items()}
            for _, fx in self._chain:
                frame = fx(frame, int(indices[i]), per_frame)
            out[i] = frame
        return out


def average_subframes(frames: np.ndarray, *, factor: int) -> np.ndarray:
    """Oversampling (motion blur): mean of each run of ``factor`` frames, rounded.

    ``uint8 [B·factor, H, W, 3]`` rendered at ``factor``× the frame rate → ``uint8 [B, H, W, 3]``.
    Apply before :meth:`PostFX.apply`, so grain and trails stay per output frame.
    """
    if factor < 1 or len(frames) % factor:
        raise ValueError(f"{len(frames)} frames cannot be averaged in groups of factor={factor}")
    if factor == 1:
        return frames
    groups = frames.reshape(-1, factor, *frames.shape[1:]).astype(np.uint16)
    return ((groups.sum(axis=1) + factor // 2) // factor).astype(np.uint8)
