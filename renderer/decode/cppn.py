"""A compositional pattern-producing network (CPPN): latents ``[B, 8, 4, 4]`` + frame times →
uint8 frames ``[B, H, W, 3]`` evaluated per pixel at the output size (no enlargement).

The network (weights seeded by :class:`~renderer.config.models.CPPNConfig` ``seed``)::

    coordinates  x, y (pixel centres; y in [-1, 1], x scaled by the aspect ratio), r = √(x²+y²)
    layer 0      K - R plane waves sin(a_k·x + b_k·y + φ_k) and R radial units f(w_r·r + φ_r)
    layers 1..L  act(W_l h + b_l), act per unit one of sine / Gaussian / tanh (seeded)
    output       (Y, Cb, Cr) = (tanh, chroma·tanh, chroma·tanh)(W_o h + b_o) → RGB (BT.601)

Per frame, from the controller's latent z (see :func:`latent_features`) and the frame time t:

    style f      [3C - 3]: the channel means of z and its x/y moments over the cells (channel 0
                 left out: it carries the pulse)
    pulse a      mean of channel 0 / √C (the controller pushes the pulse along ``pca_axes[0]``
                 = channel 0, so a = pulse_strength · p(t))
    phases       φ = φ0 + phase_gain·P f + flow_speed·ω·t            (the waves flow and morph)
    geometry     (a_k, b_k) = zoom·Rot(θ)(base frequency vector), θ = rotate_gain·ρ·f,
                 log zoom = zoom_gain·ζ·f + pulse_zoom·a
    amplitude    W_1 columns × (1 + pulse_gain·a)                     (beats fold the field)
    biases       b_l = b0_l + bias_gain·Q_l f

So frame i depends only on latent i, time i and the config: any chunk renders alone. Every unit
of layer 0 whose frequency comes near the pixel grid's Nyquist limit is faded out (linearly
from 0.25 to 0.5 cycles per pixel), so a smaller render approximates a downscaled larger one
instead of aliasing.
"""

from __future__ import annotations

import functools
import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from renderer.config.models import CPPNConfig
from renderer.decode import cppn_kernel
from renderer.decode.model_meta import Anchor, ModelMeta

LATENT_SHAPE = (8, 4, 4)  # (C, h, w) the controller produces for this backend at any output size
N_ANCHORS = 12
_WEIGHTS_TAG = zlib.crc32(b"cppn-weights")
_ANCHORS_TAG = zlib.crc32(b"cppn-anchors")
_CELL = (np.arange(4) - 1.5) / np.sqrt(1.25)  # cell coordinates with zero mean and unit RMS
PROBE_HEIGHT = 72  # rows of the render that auto_levels measures
START_CHROMA = 0.35  # colour-difference amplitude before auto_levels adjusts it


@dataclass(frozen=True)
class CPPNNet:
    """The seeded parameters of one CPPN (shapes with K = width, R = radial, L = layers,
    F = 3C - 3 style features)."""

    config: CPPNConfig
    wave_freq: np.ndarray  # [K-R, 2] base (a, b) in rad per unit
    wave_phase: np.ndarray  # [K-R]
    rad_freq: np.ndarray  # [R]
    rad_phase: np.ndarray  # [R]
    omega: np.ndarray  # [K] flow rate per unit, in [-1, 1]
    weights: np.ndarray  # [L, K, K]
    biases: np.ndarray  # [L, K]
    kinds: np.ndarray  # [L, K] int64 (cppn_kernel.KIND_*)
    w_out: np.ndarray  # [3, K]
    b_out: np.ndarray  # [3]
    p_phase: np.ndarray  # [K, F]
    p_bias: np.ndarray  # [L, K, F]
    p_rotate: np.ndarray  # [F]
    p_zoom: np.ndarray  # [F]


@functools.lru_cache(maxsize=16)
def build_net(config: CPPNConfig) -> CPPNNet:
    """The network of ``config`` (deterministic: the same config gives the same weights)."""
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, _WEIGHTS_TAG]))
    k, n_rad, n_layers = config.width, config.radial, config.layers
    n_wave, n_feat = k - n_rad, 3 * LATENT_SHAPE[0] - 3
    lo, hi = np.log(config.min_frequency), np.log(config.max_frequency)
    # Two bands: broad waves (the shapes, up to 8× min_frequency) and fine ones (the crisp
    # interference lines that make detail at the output size, from max_frequency / 4).
    n_fine = int(round(config.fine_share * n_wave))
    magnitude = np.exp(np.concatenate([
        rng.uniform(lo, min(hi, lo + np.log(8.0)), n_wave - n_fine),
        rng.uniform(max(lo, hi - np.log(4.0)), hi, n_fine),
    ]))  # fmt: skip
    angle = rng.uniform(0.0, np.pi, n_wave)
    wave_freq = np.stack([magnitude * np.cos(angle), magnitude * np.sin(angle)], axis=1)
    # Rings: a quarter of the band at most, so they read as rings, not as a moiré of the centre.
    rad_freq = np.exp(rng.uniform(lo, min(hi, lo + np.log(16.0)), n_rad))
    kinds = np.stack([rng.permutation(np.arange(k) % 3) for _ in range(n_layers)])
    weights = rng.standard_normal((n_layers, k, k)) * config.weight_scale / np.sqrt(k)
    # Sine units take biases over a whole period, the others near their bend.
    biases = np.where(kinds == cppn_kernel.KIND_SIN, rng.uniform(-np.pi, np.pi, (n_layers, k)),
                      rng.normal(0.0, 0.5, (n_layers, k)))  # fmt: skip
    # Output in luma + colour differences: brightness and contrast come from the luma row and
    # saturation is bounded by ``chroma``, whatever the seed (raw RGB outputs swung from grey to
    # rainbow between seeds).
    w_out = rng.standard_normal((3, k)) / np.sqrt(k)
    return CPPNNet(
        config=config,
        wave_freq=wave_freq,
        wave_phase=rng.uniform(0.0, 2 * np.pi, n_wave),
        rad_freq=rad_freq,
        rad_phase=rng.uniform(0.0, 2 * np.pi, n_rad),
        omega=rng.uniform(-1.0, 1.0, k),
        weights=weights,
        biases=biases,
        kinds=kinds.astype(np.int64),
        w_out=w_out,
        b_out=rng.normal(0.0, 0.15, 3),
        p_phase=rng.standard_normal((k, n_feat)) / np.sqrt(n_feat),
        p_bias=rng.standard_normal((n_layers, k, n_feat)) / np.sqrt(n_feat),
        p_rotate=rng.standard_normal(n_feat) / np.sqrt(n_feat),
        p_zoom=rng.standard_normal(n_feat) / np.sqrt(n_feat),
    )


def latent_features(latent: np.ndarray) -> tuple[np.ndarray, float]:
    """``[C, 4, 4]`` → (style ``[3C - 3]``, pulse amplitude): channel means and x/y moments."""
    z = np.asarray(latent, dtype=np.float64)
    if z.shape != LATENT_SHAPE:
        raise ValueError(f"cppn latent must be {list(LATENT_SHAPE)}, got {list(z.shape)}")
    mean = z.mean(axis=(1, 2))
    gx = (z * _CELL[None, None, :]).mean(axis=(1, 2))
    gy = (z * _CELL[None, :, None]).mean(axis=(1, 2))
    style = np.concatenate([mean[1:], gx[1:], gy[1:]])
    return style, float(mean[0] / np.sqrt(z.shape[0]))


def coordinates(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates ``xs [W]``, ``ys [H]`` of an output ``(W, H)``: y in [-1, 1]."""
    width, height = size
    xs = (2.0 * (np.arange(width) + 0.5) - width) / height
    ys = (2.0 * (np.arange(height) + 0.5) - height) / height
    return xs.astype(np.float32), ys.astype(np.float32)


def _nyquist_fade(freq: np.ndarray, *, height: int) -> np.ndarray:
    """1 up to 0.25 cycles/pixel, 0 from 0.5 (``freq`` in rad per unit = rad per height/2 px)."""
    cycles_per_px = np.abs(freq) / (np.pi * height)
    return np.clip(2.0 - 4.0 * cycles_per_px, 0.0, 1.0)


@dataclass(frozen=True)
class FrameParams:
    """One frame's inputs to the kernel that do not depend on the output size."""

    ab: np.ndarray  # [Kw, 2] wave vectors
    wave_phase: np.ndarray  # [Kw]
    rad_w: np.ndarray  # [R]
    rad_phase: np.ndarray  # [R]
    gain: float  # amplitude of the first hidden layer's input (the pulse)
    biases: np.ndarray  # [L, K]


def frame_params(net: CPPNNet, latent: np.ndarray, *, time: float) -> FrameParams:
    """Latent ``[8, 4, 4]`` and ``time`` (s) → the frame's waves, phases, gain and biases."""
    cfg = net.config
    style, pulse = latent_features(latent)
    zoom = np.exp(cfg.zoom_gain * (net.p_zoom @ style) + cfg.pulse_zoom * pulse)
    theta = cfg.rotate_gain * (net.p_rotate @ style)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    phase = cfg.phase_gain * (net.p_phase @ style) + cfg.flow_speed * net.omega * time
    n_wave = len(net.wave_freq)
    return FrameParams(
        ab=zoom * net.wave_freq @ rot.T,
        wave_phase=net.wave_phase + phase[:n_wave],
        rad_w=zoom * net.rad_freq,
        rad_phase=net.rad_phase + phase[n_wave:],
        gain=1.0 + cfg.pulse_gain * pulse,
        biases=net.biases + cfg.bias_gain * (net.p_bias @ style),
    )


def _evaluate(net: CPPNNet, p: FrameParams, *, size: tuple[int, int], w_out: np.ndarray,
              b_out: np.ndarray, chroma: float, out: np.ndarray) -> np.ndarray:  # fmt: skip
    width, height = size
    xs, ys = coordinates((width, height))
    ax = p.ab[:, :1] * xs[None, :].astype(np.float64) + p.wave_phase[:, None]
    by = p.ab[:, 1:] * ys[None, :].astype(np.float64)
    fade = np.concatenate([
        _nyquist_fade(np.hypot(p.ab[:, 0], p.ab[:, 1]), height=height),
        _nyquist_fade(p.rad_w, height=height),
    ])  # fmt: skip
    weights = net.weights.copy()
    weights[0] *= (fade * p.gain)[None, :]
    f32 = functools.partial(np.ascontiguousarray, dtype=np.float32)
    cppn_kernel.render_frame(
        xs, ys, f32(np.sin(ax)), f32(np.cos(ax)), f32(np.sin(by)), f32(np.cos(by)),
        f32(p.rad_w), f32(p.rad_phase), f32(weights), f32(p.biases), net.kinds,
        f32(w_out), f32(b_out), np.float32(chroma), out,
    )  # fmt: skip
    return out


def auto_levels(net: CPPNNet, p: FrameParams, *, aspect: float
                ) -> tuple[np.ndarray, np.ndarray, float]:  # fmt: skip
    """Output weights, biases and chroma that put the frame's mean grey, grey spread and mean
    saturation on the config's targets, measured on a ``PROBE_HEIGHT``-row render (≈1 % of a
    720p frame). The probe size depends only on the aspect ratio, so the levels — like the
    pattern — are the same at every output size; two secant-free steps (the luma row is
    rescaled around its inverse-tanh mean) land within a few levels of the targets."""
    cfg = net.config
    w_out, b_out, chroma = cfg.colour_gain * net.w_out, net.b_out.copy(), START_CHROMA
    size = (max(2, int(round(PROBE_HEIGHT * aspect))), PROBE_HEIGHT)
    probe = np.empty((size[1], size[0], 3), np.uint8)
    target_mean = np.arctanh(np.clip(2.0 * cfg.luma - 1.0, -0.95, 0.95))
    for _ in range(2):
        rgb = _evaluate(net, p, size=size, w_out=w_out, b_out=b_out, chroma=chroma,
                        out=probe).astype(np.float64)  # fmt: skip
        grey = rgb @ np.array([0.299, 0.587, 0.114])
        hi, lo = rgb.max(axis=2), rgb.min(axis=2)
        sat = np.where(hi > 0, (hi - lo) / np.maximum(hi, 1e-9), 0.0).mean()
        mean = np.arctanh(np.clip(grey.mean() / 127.5 - 1.0, -0.95, 0.95))
        gain = np.clip(cfg.contrast * 255.0 / max(grey.std(), 1.0), 0.5, 3.0)
        w_out = w_out.copy()
        w_out[0] *= gain
        b_out[0] = gain * (b_out[0] - mean) + target_mean
        chroma = float(np.clip(chroma * cfg.saturation / max(sat, 0.01), 0.05, 1.0))
    return w_out, b_out, chroma


def render_frame(net: CPPNNet, latent: np.ndarray, *, time: float, size: tuple[int, int],
                 out: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """One frame: latent ``[8, 4, 4]``, ``time`` in seconds → uint8 ``[H, W, 3]``."""
    width, height = int(size[0]), int(size[1])
    p = frame_params(net, latent, time=time)
    w_out, b_out, chroma = auto_levels(net, p, aspect=width / height)
    if out is None:
        out = np.empty((height, width, 3), np.uint8)
    return _evaluate(net, p, size=(width, height), w_out=w_out, b_out=b_out, chroma=chroma,
                     out=out)  # fmt: skip


def render_frames(net: CPPNNet, latents: np.ndarray, *, times: np.ndarray,
                  size: tuple[int, int]) -> np.ndarray:  # fmt: skip
    """Latents ``[B, 8, 4, 4]`` and times ``[B]`` (seconds) → uint8 ``[B, H, W, 3]``."""
    latents = np.asarray(latents)
    times = np.asarray(times, dtype=np.float64)
    if latents.ndim != 4 or times.shape != (len(latents),):
        raise ValueError(
            f"cppn: latents [B, 8, 4, 4] and times [B] expected, got {latents.shape}, {times.shape}"
        )
    out = np.empty((len(latents), int(size[1]), int(size[0]), 3), np.uint8)
    for i, (latent, t) in enumerate(zip(latents, times, strict=True)):
        render_frame(net, latent, time=float(t), size=size, out=out[i])
    return out


def cppn_meta() -> ModelMeta:
    """What the controller needs to drive the CPPN: seeded anchors ``[8, 4, 4]`` (channel 0 empty,
    the others a level plus an x and a y slope per channel, so :func:`latent_features` reads them
    back), ``pca_axes`` = the channel axes (the pulse goes along channel 0 by default) and an
    artefact hash of the code that evaluates the network (a changed CPPN is a changed model)."""
    rng = np.random.default_rng(np.random.SeedSequence([0, _ANCHORS_TAG]))
    c, h, w = LATENT_SHAPE
    anchors = []
    for i in range(N_ANCHORS):
        level, gx, gy = rng.standard_normal((3, c))
        level[0] = gx[0] = gy[0] = 0.0
        field = level[:, None, None] + gx[:, None, None] * _CELL[None, None, :]
        field = field + gy[:, None, None] * _CELL[None, :, None]
        anchors.append(Anchor(id=f"cppn-{i:02d}", latent=field.astype(np.float32), seed=i))
    here = Path(__file__).resolve()
    digest = hashlib.sha256()
    for source in (here, here.with_name("cppn_kernel.py")):
        digest.update(source.read_bytes())
    return ModelMeta(
        model_dir=Path("(cppn)"),
        latent_channels=c,
        base_latent_hw=(h, w),
        scale=1,
        anchors=tuple(anchors),
        pca_axes=np.eye(c, dtype=np.float32),
        artefacts={"cppn": {"path": "renderer/decode/cppn.py", "sha256": digest.hexdigest()}},
        generator_config={},
        output_range=(0.0, 1.0),
    )
