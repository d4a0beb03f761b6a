"""Per-track audio for muxing: decode, trim, loudness-normalise, write a 48 kHz WAV in the run dir.

Loudness is measured with pyloudnorm (ITU-R BS.1770 integrated loudness) and a single gain brings
the track to the target LUFS; the gain is then capped so sample peaks stay below −1 dBFS (a quiet
track with loud transients ends up under target rather than clipped, and says so: an
:class:`~renderer.audio.decode.AudioWarning` with the level reached and the shortfall, which the
run lists under the summary and in ``meta.json``). Silence keeps unity gain. The WAV is the same
bytes on every run (PCM_24, no timestamps).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from renderer.audio.decode import AudioWarning, load_audio
from renderer.files import atomic_path

PEAK_CEILING_DB = -1.0
SHORTFALL_LU = 0.5  # below the target by more than this: the run warns


@dataclass(frozen=True)
class MasteredAudio:
    path: Path
    duration: float
    loudness_in: float | None  # LUFS before normalisation (None for silence / too short)
    gain_db: float
    peak_db: float


def master_track(
    src: Path,
    out: Path,
    *,
    target_lufs: float = -14.0,
    sample_rate: int = 48000,
    trim_start: float = 0.0,
    trim_end: float | None = None,
) -> MasteredAudio:
    """Write the trimmed, normalised stereo WAV ``out``; returns what was done."""
    import pyloudnorm
    import soundfile as sf

    y, sr = load_audio(src, sr=sample_rate)
    if y.shape[0] == 1:
        y = np.repeat(y, 2, axis=0)
    elif y.shape[0] > 2:  # fold multichannel down to stereo
        y = np.stack([y[0::2].mean(axis=0), y[1::2].mean(axis=0)])
    start = int(round(trim_start * sr))
    stop = y.shape[1] if trim_end is None else min(y.shape[1], int(round(trim_end * sr)))
    y = y[:, start:stop]
    loudness = None
    gain_db = 0.0
    if y.shape[1] >= int(0.4 * sr) and np.abs(y).max() > 1e-6:
        loudness = float(pyloudnorm.Meter(sr).integrated_loudness(y.T.astype(np.float64)))
        if np.isfinite(loudness):
            gain_db = target_lufs - loudness
        else:
            loudness = None
    peak = float(np.abs(y).max()) if y.size else 0.0
    if peak > 0:
        wanted, gain_db = gain_db, min(gain_db, PEAK_CEILING_DB - 20 * np.log10(peak))
        if loudness is not None and wanted - gain_db > SHORTFALL_LU:
            warnings.warn(AudioWarning(
                f"{src}: loudness reaches {loudness + gain_db:.1f} LUFS, {wanted - gain_db:.1f} LU "
                f"short of the {target_lufs:g} LUFS target: its peaks ({20 * np.log10(peak):.1f} "
                f"dBFS at {loudness:.1f} LUFS) allow no more gain under the {PEAK_CEILING_DB:g} "
                "dBFS ceiling; a louder master (or a limiter before rendering) reaches it"),
                stacklevel=2)  # fmt: skip
    y = y * (10 ** (gain_db / 20))
    with atomic_path(out) as tmp:
        sf.write(str(tmp), y.T, sr, subtype="PCM_24", format="WAV")
    peak_db = 20 * np.log10(max(peak * 10 ** (gain_db / 20), 1e-9))
    return MasteredAudio(out, y.shape[1] / sr, loudness, round(gain_db, 3), round(peak_db, 3))
