"""Per-track audio for muxing: decode, trim, loudness-normalise, true-peak limit, write a 48 kHz
WAV in the run dir — all streamed, a block at a time, so memory does not grow with the track.

1. Measure: integrated loudness (ITU-R BS.1770, :class:`~renderer.audio.loudness.LoudnessMeter`)
   and true peak (4× oversampled) of the trimmed 48 kHz stereo input, in one pass.
2. Gain to the target LUFS. Where that puts the true peak above −1 dBTP, the
   :class:`~renderer.audio.limiter.Limiter` holds the peaks at the ceiling; limiting lowers the
   loudness a little, so the gain is corrected from a measuring pass through the limiter (one or
   two passes, until within 0.1 LU).
3. Write: gain + limiter → PCM_24 WAV through a partial file, measuring what was written.

The limiter never takes more than :data:`MAX_LIMITING_DB` off a peak (beyond that it audibly
flattens the transients); a track that would need more ends up under target and says so: an
:class:`~renderer.audio.decode.AudioWarning` with the level reached, the shortfall and why, which
the run lists under the summary and in ``meta.json``. Silence keeps unity gain. The WAV is the same
bytes on every run (PCM_24, no timestamps).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from renderer.audio.decode import AudioWarning, stream_audio
from renderer.audio.limiter import Limiter
from renderer.audio.loudness import LoudnessMeter, TruePeakMeter
from renderer.files import atomic_path

PEAK_CEILING_DB = -1.0  # true peak, dBTP
SHORTFALL_LU = 0.5  # below the target by more than this: the run warns
MAX_LIMITING_DB = 12.0  # the deepest peak reduction the limiter may apply
LIMITER_MARGIN_DB = 0.03  # the gain ramps' own overshoot of the detected peaks stays below this
TOLERANCE_LU = 0.1  # the limiter's loudness loss is corrected until within this
CORRECTIONS = 3  # measuring passes through the limiter, at most


@dataclass(frozen=True)
class MasteredAudio:
    path: Path
    duration: float
    loudness_in: float | None  # LUFS before normalisation (None for silence / too short)
    gain_db: float  # the gain before the limiter
    peak_db: float  # true peak of the written WAV, dBTP
    loudness_out: float | None = None  # LUFS of the written WAV
    limiting_db: float = 0.0  # the deepest gain reduction the limiter applied


def _blocks(src: Path, *, rate: int, trim_start: float, trim_end: float | None
            ) -> Iterator[np.ndarray]:  # fmt: skip
    """The trimmed stereo input at ``rate``, float32 ``[2, n]`` blocks."""
    blocks, _ = stream_audio(src, sr=rate, stereo=True)
    start = int(round(trim_start * rate))
    stop = None if trim_end is None else int(round(trim_end * rate))
    pos = 0
    for block in blocks:
        a, b = pos, pos + block.shape[1]
        pos = b
        lo, hi = max(a, start), b if stop is None else min(b, stop)
        if hi > lo:
            yield block[:, lo - a : hi - a]
        if stop is not None and pos >= stop:
            blocks.close()  # the rest is trimmed away: stop decoding (FFmpeg is reaped)
            return


@dataclass
class _Pass:
    loudness: float | None
    true_peak: float  # linear
    limiting_db: float
    frames: int


def _run_pass(src: Path, *, rate: int, trim: tuple[float, float | None], gain_db: float | None,
              sink=None) -> _Pass:  # fmt: skip
    """Stream the input through gain and limiter (``gain_db=None``: neither) and measure it."""
    meter, peak = LoudnessMeter(rate=rate, channels=2), TruePeakMeter(channels=2)
    ceiling = 10 ** ((PEAK_CEILING_DB - LIMITER_MARGIN_DB) / 20)
    limiter = None if gain_db is None else Limiter(rate=rate, channels=2, ceiling=ceiling)
    scale = 1.0 if gain_db is None else 10 ** (gain_db / 20)
    frames = 0

    def take(y: np.ndarray) -> None:
        nonlocal frames
        meter.add(y)
        peak.add(y)
        frames += y.shape[1]
        if sink is not None and y.shape[1]:
            sink.write(y.T.astype(np.float64))

    for block in _blocks(src, rate=rate, trim_start=trim[0], trim_end=trim[1]):
        y = block if limiter is None else limiter.process(block * scale)
        take(y)
    if limiter is not None:
        take(limiter.flush())
    depth = 0.0 if limiter is None else -20 * np.log10(limiter.min_gain)
    return _Pass(meter.integrated(), peak.finish(), round(float(depth), 3), frames)


def _db(x: float) -> float:
    return float(20 * np.log10(max(x, 1e-9)))


def _choose_gain(src: Path, *, rate: int, trim: tuple, target: float, measured: _Pass
                 ) -> tuple[float, bool]:  # fmt: skip
    """The gain that brings the limited output to ``target``; True when the depth cap bound it."""
    loudness, peak_db = measured.loudness, _db(measured.true_peak)
    gain = target - loudness
    cap = PEAK_CEILING_DB + MAX_LIMITING_DB - peak_db  # the most gain the limiter can absorb
    if gain >= cap:
        return cap, True
    if peak_db + gain <= PEAK_CEILING_DB - LIMITER_MARGIN_DB:
        return gain, False  # the limiter will not act: the gain alone reaches the target
    for _ in range(CORRECTIONS):
        got = _run_pass(src, rate=rate, trim=trim, gain_db=gain).loudness
        if got is None or abs(target - got) <= TOLERANCE_LU:
            break
        gain = gain + (target - got)
        if gain >= cap:
            return cap, True
    return gain, False


def master_track(
    src: Path,
    out: Path,
    *,
    target_lufs: float = -14.0,
    sample_rate: int = 48000,
    trim_start: float = 0.0,
    trim_end: float | None = None,
) -> MasteredAudio:
    """Write the trimmed, normalised, true-peak-limited stereo WAV ``out``; returns what was done."""
    import soundfile as sf

    src, trim = Path(src), (trim_start, trim_end)
    measured = _run_pass(src, rate=sample_rate, trim=trim, gain_db=None)
    gain, capped = 0.0, False
    if measured.loudness is not None:
        gain, capped = _choose_gain(src, rate=sample_rate, trim=trim, target=target_lufs,
                                    measured=measured)  # fmt: skip
    with atomic_path(out) as tmp, sf.SoundFile(str(tmp), "w", samplerate=sample_rate, channels=2,
                                               subtype="PCM_24", format="WAV") as sink:  # fmt: skip
        written = _run_pass(src, rate=sample_rate, trim=trim, gain_db=gain, sink=sink)
    reached = written.loudness
    if measured.loudness is not None and reached is not None:
        short = target_lufs - reached
        if short > SHORTFALL_LU:
            why = (f"its peaks ({_db(measured.true_peak):.1f} dBTP at {measured.loudness:.1f} "
                   f"LUFS) would need more than the {MAX_LIMITING_DB:g} dB of limiting the "
                   f"true-peak limiter applies under the {PEAK_CEILING_DB:g} dBTP ceiling (more "
                   "would audibly flatten the transients)" if capped else
                   "the limiter's gain reduction could not be made up")  # fmt: skip
            warnings.warn(AudioWarning(
                f"{src}: loudness reaches {reached:.1f} LUFS, {short:.1f} LU short of the "
                f"{target_lufs:g} LUFS target: {why}; a louder master (or one with softer "
                "peaks) reaches it"), stacklevel=2)  # fmt: skip
    return MasteredAudio(out, written.frames / sample_rate, measured.loudness, round(gain, 3),
                         round(_db(written.true_peak), 3),
                         None if reached is None else round(reached, 3),
                         written.limiting_db)  # fmt: skip
