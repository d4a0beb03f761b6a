"""Stems → stereo master: pedalboard effects per bus, sidechain ducking, master chain, loudness.

The master is normalised to ``TARGET_LUFS`` integrated (pyloudnorm, BS.1770) and then held under
``CEILING_DBTP`` true peak by a look-ahead limiter measured on a 4× oversampled signal, so an MP3
decoder's overshoot stays below −1 dBTP.
"""

from __future__ import annotations

import numpy as np
import pedalboard as pb
import pyloudnorm
from scipy import ndimage, signal

from album.arrange import Arranger, Stems, section_cutoffs
from album.songs import Song
from album.synth import SR, sweep_filter

TARGET_LUFS = -14.0
# Measured: the decoded 192 kb/s MP3 reads ~0.25 LU quieter than the PCM master (LAME drops
# masked detail); mastering that much hotter makes the MP3 itself measure -14 LUFS.
MP3_LOUDNESS_LOSS_LU = 0.25
CEILING_DBTP = -2.0  # MP3 decoding overshoots by up to ~0.8 dB


def _pan(x: np.ndarray, pan: float) -> np.ndarray:
    """Mono [n] → stereo [2, n], constant-power pan in [-1, 1]."""
    angle = (pan + 1) * np.pi / 4
    return np.stack([x * np.cos(angle), x * np.sin(angle)])


def _fx(board: list, x: np.ndarray) -> np.ndarray:
    """Run a pedalboard chain over a stereo float64 [2, n] buffer."""
    return pb.Pedalboard(board)(x.astype(np.float32), SR).astype(np.float64)


def duck_curve(stems: Stems, *, depth: float, release: float) -> np.ndarray:
    """Sidechain-style gain [n] in (0, 1]: dips by ``depth`` at every kick, recovers in ``release`` s.

    Driven by the kick onsets the arranger placed (exact, no envelope follower needed); a 4 ms
    attack ramp keeps the dip from clicking.
    """
    n = stems.n
    trig = np.zeros(n)
    for start, gain in stems.kicks:
        trig[start] += gain
    attack = int(0.004 * SR)
    shape = np.concatenate(
        [np.linspace(0, 1, attack), np.exp(-np.arange(int(4 * release * SR)) / (release * SR))]
    )
    env = signal.fftconvolve(trig, shape)[:n] if n else trig
    # Shift back by the attack so the deepest point of the dip meets the kick's transient.
    env = np.concatenate([env[attack:], np.zeros(min(attack, n))])[:n]
    return 1.0 - depth * np.clip(env, 0.0, 1.0)


def mix_buses(song: Song, stems: Stems) -> dict[str, np.ndarray]:
    """The buses with their effects and mix levels: stereo float64 [2, n] each, in mix order."""
    n, beat = stems.n, song.beat_seconds
    m = stems.mono
    cut = section_cutoffs(song, n=n)
    duck = duck_curve(stems, depth=0.55, release=0.6 * beat)

    drums = _pan(m["kick"], 0.0) * 0.65 + _pan(m["hats"], 0.25) * 0.6 + _pan(m["crash"], -0.1) * 0.5
    claps = _pan(m["clap"] * 0.4 + m["snare"] * 0.55, 0.0)
    claps = _fx([pb.Reverb(room_size=0.35, wet_level=0.25, dry_level=0.8, width=1.0)], claps)
    drums = _fx(
        [pb.Compressor(threshold_db=-10, ratio=3, attack_ms=5, release_ms=80)], drums + claps
    )

    bass = _pan(sweep_filter(m["bass"], cutoff=3500.0) * duck, 0.0)
    bass = _fx([pb.Compressor(threshold_db=-14, ratio=4, attack_ms=3, release_ms=60)], bass)

    pad = np.stack([sweep_filter(ch, cutoff=cut, q=0.9) for ch in stems.stereo["pad"]]) * duck
    pad = _fx(
        [pb.Chorus(rate_hz=0.4, depth=0.3, mix=0.4), pb.Reverb(room_size=0.85, wet_level=0.35)],
        pad,
    )
    arp = np.stack([sweep_filter(ch, cutoff=cut * 1.5, q=0.9) for ch in stems.stereo["arp"]])
    arp = _fx(
        [
            pb.Delay(delay_seconds=0.75 * beat, feedback=0.35, mix=0.3),
            pb.Reverb(room_size=0.6, wet_level=0.25),
        ],
        arp * (0.4 + 0.6 * duck),
    )
    lead_dry = _pan(m["lead"], 0.0)
    lead = np.stack(
        [
            _fx([pb.Delay(delay_seconds=0.5 * beat, feedback=0.3, mix=0.22)], lead_dry)[0],
            _fx([pb.Delay(delay_seconds=0.75 * beat, feedback=0.3, mix=0.22)], lead_dry)[1],
        ]
    )
    lead = _fx([pb.Reverb(room_size=0.7, wet_level=0.3, dry_level=0.85)], lead)
    riser = _fx([pb.Reverb(room_size=0.9, wet_level=0.5)], _pan(m["riser"], 0.0))
    return {"drums": drums, "bass": bass * 0.8, "pad": pad * 1.5, "arp": arp * 0.8,
            "lead": lead * 0.75, "riser": riser * 0.6}  # fmt: skip


def mix_stems(song: Song, stems: Stems) -> np.ndarray:
    """Buses with their effects, summed: stereo float64 [2, n] before the master chain."""
    return sum_buses(mix_buses(song, stems))


# The stems a separation tool would give (renderer/audio/stems.py reads them): the drum bus, the
# bass bus and everything harmonic; this album has no vocals.
STEM_BUSES = {"drums": ("drums",), "bass": ("bass",), "other": ("pad", "arp", "lead", "riser")}


def true_peak(x: np.ndarray) -> float:
    """True peak of [2, n] in dBTP (4× oversampled, as BS.1770 suggests)."""
    up = signal.resample_poly(x, 4, 1, axis=-1)
    return float(20 * np.log10(max(np.max(np.abs(up)), 1e-12)))


def limit(x: np.ndarray, *, ceiling_db: float, lookahead_s: float = 0.005) -> np.ndarray:
    """Look-ahead peak limiter on [2, n]: the gain keeps the 4× oversampled peak under the ceiling.

    The gain is the windowed minimum (±``lookahead_s``) of the reduction each sample needs, then
    a box average of the same half-width, so the smoothed gain is still at or below what every
    sample needs while ramping over ~2 × lookahead instead of stepping.
    """
    ceiling = 10 ** (ceiling_db / 20)
    up = np.max(np.abs(signal.resample_poly(x, 4, 1, axis=-1)), axis=0)
    peak = up.reshape(-1, 4).max(axis=1)[: x.shape[-1]]
    need = np.minimum(1.0, ceiling / np.maximum(peak, 1e-12))
    w = max(1, int(lookahead_s * SR))
    held = ndimage.minimum_filter1d(need, size=2 * w + 1)
    return x * ndimage.uniform_filter1d(held, size=2 * w + 1)[None, :]


def master(x: np.ndarray) -> np.ndarray:
    """Master chain on [2, n]: low cut, glue compression, loudness to −14 LUFS, true-peak limit."""
    x = _fx(
        [
            pb.HighpassFilter(cutoff_frequency_hz=28),
            pb.LowShelfFilter(cutoff_frequency_hz=120, gain_db=1.5),
            # LAME's ~19.5 kHz low-pass removed ~0.35 LU of K-weighted air from the hats; rolling
            # it off here keeps the decoded MP3's loudness equal to the master's.
            pb.LowpassFilter(cutoff_frequency_hz=16500),
            pb.Compressor(threshold_db=-12, ratio=2.0, attack_ms=15, release_ms=150),
        ],
        x,
    )
    meter = pyloudnorm.Meter(SR)
    gain_db = 0.0
    for _ in range(6):  # the limiter lowers loudness a little; re-measure and push the gain up
        y = limit(x * 10 ** (gain_db / 20), ceiling_db=CEILING_DBTP)
        loud = meter.integrated_loudness(y.T) if y.shape[-1] > SR // 2 else float("-inf")
        if not np.isfinite(loud) or abs(loud - TARGET_LUFS - MP3_LOUDNESS_LOSS_LU) < 0.05:
            break
        gain_db += TARGET_LUFS + MP3_LOUDNESS_LOSS_LU - loud
    return y


def render_pcm(song: Song, *, seconds_limit: float | None = None) -> np.ndarray:
    """The mastered track: float32 [2, n] at 48 kHz (first ``seconds_limit`` seconds if given)."""
    return render_parts(song, seconds_limit=seconds_limit, stems=False)[0]


def render_parts(song: Song, *, seconds_limit: float | None = None, stems: bool = True
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:  # fmt: skip
    """The mastered track and (``stems``) its stems ``{drums, bass, other}``, float32 [2, n].

    The stems are the buses before the master chain, at the master's level (scaled by the
    master-to-mix RMS ratio), all by one further factor if needed so none peaks above −1 dBFS.
    """
    n = int(round(song.duration * SR))
    if seconds_limit is not None:
        n = min(n, max(1, int(round(seconds_limit * SR))))
    arranged = Arranger(song, n=n).render()
    buses = mix_buses(song, arranged)
    mix = sum_buses(buses)
    out = master(mix)
    fade = np.linspace(1.0, 0.0, min(n, int(0.01 * SR)))  # 10 ms: a cut excerpt does not click
    out[:, n - len(fade) :] *= fade
    parts: dict[str, np.ndarray] = {}
    if stems:
        scale = np.sqrt(np.mean(out**2) / max(np.mean(mix**2), 1e-20))
        for name, members in STEM_BUSES.items():
            parts[name] = scale * sum_buses({m: buses[m] for m in members})
            parts[name][:, n - len(fade) :] *= fade
        peak = max(float(np.max(np.abs(p))) for p in parts.values())
        factor = min(1.0, 10 ** (-1.0 / 20) / max(peak, 1e-12))
        parts = {k: (v * factor).astype(np.float32) for k, v in parts.items()}
    return out.astype(np.float32), parts


def sum_buses(buses: dict[str, np.ndarray]) -> np.ndarray:
    """The buses added left to right (the same float sums as :func:`mix_stems`)."""
    values = list(buses.values())
    out = values[0]
    for bus in values[1:]:
        out = out + bus
    return out
