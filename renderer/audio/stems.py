"""Stems: a track's drum, bass and harmonic parts in place of the mix's HPSS split.

A track's stems are audio files named by their part in one folder (``album/stems/<track id>/`` by
default, or ``tracks[].stems`` in render.yaml): ``drums``, ``bass``, ``other``, ``vocals`` — any
subset, any audio format the decoder reads. Where a part has a stem, the features the controller
reads come from it (:func:`apply_stems`), at the seam where the mix's come in
(:class:`~renderer.audio.features.Features`), so the controller does not know the difference:

- ``drums`` → ``onset`` and ``percussive`` (the pulses);
- ``bass`` → ``rms`` (the energy that the wander's motion follows);
- ``other`` + ``vocals`` → ``chroma`` and ``harmonic`` (colour and the anchor drift).

Everything else, and every part without a stem, stays the mix's: its HPSS split stands in.

Each stem is decoded, resampled to the analysis rate, downmixed, trimmed like the mix and padded
or cut to the mix's exact length. A stem whose length differs from the mix's source by more than
decoding slack is the wrong file: :class:`StemMismatchError` names it. A stem that cannot be
decoded at all gives an :class:`~renderer.audio.decode.AudioWarning` and the HPSS stand-in, so
the album keeps rendering.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from renderer.audio.decode import AudioStream, AudioWarning, file_sha256, stream_audio
from renderer.audio.features import Features, loudness_gate, robust_normalise
from renderer.audio.spectral import N_FFT, compute_timeline
from renderer.errors import AudioError, ConfigError

STEM_PARTS = ("drums", "bass", "other", "vocals")
HARMONIC_PARTS = ("other", "vocals")
STEM_VERSION = 1


class StemMismatchError(AudioError):
    """A stem that does not belong to its mix (its length is not the mix's)."""


@dataclass(frozen=True)
class StemSignals:
    """What one stem contributes, per analysis frame ``[T]`` (chroma ``[12, T]``), raw."""

    onset: np.ndarray  # log-mel flux (the mix's ``onset`` definition)
    level: np.ndarray  # RMS
    power: np.ndarray  # mean |STFT|², the weight of its chroma among the harmonic stems
    harmonic: np.ndarray  # RMS of its HPSS harmonic part
    chroma: np.ndarray


def find_stems(folder: Path | None) -> dict[str, Path]:
    """``{part: file}`` for the stem files in ``folder`` (``{}`` when there is no such folder).

    A file counts when its name without the extension is a part name (any case); two files for
    one part are a :class:`ConfigError` naming both."""
    if folder is None or not Path(folder).is_dir():
        return {}
    found: dict[str, Path] = {}
    for path in sorted(Path(folder).iterdir()):
        part = path.stem.lower()
        if not path.is_file() or path.name.startswith(".") or part not in STEM_PARTS:
            continue
        if part in found:
            raise ConfigError(f"{folder}: two files for the {part} stem ({found[part].name}, "
                              f"{path.name}); keep one")  # fmt: skip
        found[part] = path
    return found


def _tolerance(seconds: float) -> float:
    """Decoding slack between a stem and its mix: encoder padding, MP3 priming, frame rounding."""
    return max(0.5, 0.02 * seconds)


def _aligned_source(path: Path, *, sr: int, n_samples: int, start: int,
                    reference: float | None):  # fmt: skip
    """A ``compute_timeline`` source: the stem's mono samples ``[start, start + n_samples)`` at
    ``sr``, zero-padded to exactly ``n_samples``; after the last block the stem's whole length is
    checked against ``reference`` seconds (the mix's source), else against the trimmed mix."""

    def source() -> Iterator[np.ndarray]:
        blocks, _ = stream_audio(path, sr=sr, mono=True)
        pos = out = 0
        stop = start + n_samples
        for block in blocks:
            y = block[0]
            a, pos = pos, pos + len(y)
            lo, hi = max(a, start), min(pos, stop)
            if hi > lo:
                yield y[lo - a : hi - a]
                out += hi - lo
        if out < n_samples:
            yield np.zeros(n_samples - out, np.float32)
        seconds = pos / sr
        if reference is not None and abs(seconds - reference) > _tolerance(reference):
            raise StemMismatchError(
                f"{path}: the stem is {seconds:.2f} s long, its mix {reference:.2f} s; stems "
                "must be exported from the same session as the mix, at its length"
            )
        short = (n_samples - out) / sr
        if reference is None and short > _tolerance(n_samples / sr):
            raise StemMismatchError(f"{path}: the stem ends {short:.2f} s before the (trimmed) "
                                    "mix does; stems must be as long as the mix")  # fmt: skip

    return source


def stem_signals(path: Path, *, sr: int, hop_length: int, n_samples: int, trim_start: float,
                 reference: float | None, cache_dir: Path | None) -> StemSignals:  # fmt: skip
    """The :class:`StemSignals` of the stem ``path`` aligned to a mix of ``n_samples`` at ``sr``
    (cached by the stem's content hash and the alignment)."""
    path = Path(path)
    start = int(round(trim_start * sr))
    params = {"sr": sr, "hop": hop_length, "n": n_samples, "start": start,
              "reference": reference, "version": STEM_VERSION}  # fmt: skip
    entry = None
    if cache_dir is not None:
        key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
        entry = Path(cache_dir) / f"{file_sha256(path)[:24]}-{key}.npz"
        if entry.is_file():
            try:
                with np.load(entry, allow_pickle=False) as data:
                    return StemSignals(**{k: data[k] for k in StemSignals.__dataclass_fields__})
            except (OSError, KeyError, ValueError, EOFError):
                pass  # corrupt entry: recompute
    source = _aligned_source(path, sr=sr, n_samples=n_samples, start=start, reference=reference)
    timeline = compute_timeline(source, sr=sr, hop_length=hop_length)
    signals = StemSignals(onset=timeline.onset.astype(np.float32),
                          level=np.sqrt(timeline.power * 2.0 / N_FFT).astype(np.float32),
                          power=timeline.power.astype(np.float32),
                          harmonic=timeline.harmonic.astype(np.float32),
                          chroma=timeline.chroma.astype(np.float32))  # fmt: skip
    if entry is not None:
        from renderer.files import atomic_path

        with atomic_path(entry) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **signals.__dict__)
    return signals


def harmonic_chroma(parts: list[StemSignals]) -> np.ndarray:
    """Chroma ``[T, 12]`` of the harmonic stems together: each stem's (per-frame max-normalised)
    chroma weighted by its power, max-normalised again and loudness-gated like the mix's."""
    power = np.sum([p.power for p in parts], axis=0)
    chroma = np.sum([p.chroma * p.power[None, :] for p in parts], axis=0)
    chroma /= np.maximum(chroma.max(axis=0, keepdims=True), 1e-20)
    chroma *= loudness_gate(np.sqrt(power * 2.0 / N_FFT))[None, :]
    return np.clip(chroma.T, 0.0, 1.0).astype(np.float32)


def apply_stems(mix: Features, stems: dict[str, Path], *, src: Path | None = None,
                trim_start: float = 0.0, trim_end: float | None = None,
                cache_dir: Path | None = None) -> Features:  # fmt: skip
    """``mix`` with the signals of each part that has a usable stem substituted (module
    docstring); ``Features.stems`` lists the parts used. ``src`` is the mix's source file (its
    stated length is what a stem must match; with ``trim_end`` only the trimmed span is checked).
    """
    if not stems:
        return mix
    n_samples = int(round(mix.duration * mix.sample_rate))
    reference = None
    if src is not None and trim_end is None:
        reference = AudioStream(src).stated_seconds
    parts: dict[str, StemSignals] = {}
    for part, path in sorted(stems.items()):
        try:
            signals = stem_signals(path, sr=mix.sample_rate, hop_length=mix.hop_length,
                                   n_samples=n_samples, trim_start=trim_start,
                                   reference=reference, cache_dir=cache_dir)  # fmt: skip
        except StemMismatchError:
            raise
        except AudioError as exc:
            warnings.warn(AudioWarning(f"{exc}; the mix's HPSS split stands in for the {part} "
                                       "stem"), stacklevel=2)  # fmt: skip
            continue
        if signals.onset.shape[0] != mix.n_frames:
            raise StemMismatchError(f"{path}: {signals.onset.shape[0]} analysis frames, the mix "
                                    f"{mix.n_frames}")  # fmt: skip
        parts[part] = signals
    changes: dict[str, object] = {}
    if "drums" in parts:
        changes["onset"] = robust_normalise(parts["drums"].onset)
        changes["percussive"] = robust_normalise(parts["drums"].level)
    if "bass" in parts:
        changes["rms"] = robust_normalise(parts["bass"].level)
    harmonic = [parts[p] for p in HARMONIC_PARTS if p in parts]
    if harmonic:
        changes["chroma"] = harmonic_chroma(harmonic)
        level = np.sqrt(np.sum([p.harmonic.astype(np.float64) ** 2 for p in harmonic], axis=0))
        changes["harmonic"] = robust_normalise(level)
    return replace(mix, stems=tuple(sorted(parts)), **changes)
