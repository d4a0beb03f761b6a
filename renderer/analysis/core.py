"""``Analysis`` record and the one-pass analyser that fills it (shared STFT, cached JSON)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from renderer.analysis import beats as beats_mod
from renderer.analysis.chords import recognise_chords
from renderer.analysis.key import estimate_key
from renderer.analysis.structure import segment
from renderer.audio.decode import file_sha256, load_audio
from renderer.audio.features import loudness_gate
from renderer.errors import AudioError

ANALYSIS_VERSION = 10
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

    def to_dict(self) -> dict:
        data = asdict(self)
        data["beats"] = [round(float(t), 4) for t in self.beats]
        data["downbeats"] = [round(float(t), 4) for t in self.downbeats]
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
        )


def analyze_signal(y: np.ndarray, *, sr: int = SAMPLE_RATE, hop_length: int = HOP) -> Analysis:
    """Analyse mono audio ``y`` ``[N]`` at ``sr``."""
    import librosa

    y = np.asarray(y, dtype=np.float32)
    duration = len(y) / sr
    frame_rate = sr / hop_length
    stft = np.abs(librosa.stft(y, n_fft=2048, hop_length=hop_length))
    power = stft**2
    mel = librosa.feature.melspectrogram(S=power, sr=sr, n_mels=96)
    log_mel = librosa.power_to_db(mel, top_db=80)
    env = beats_mod.onset_envelope(log_mel)
    low_energy = mel[:12].sum(axis=0)  # linear bass energy: kicks mark downbeats
    low_onset = beats_mod.onset_envelope(log_mel[:16], n_bands=1)
    rms = np.sqrt(power.mean(axis=0))
    # Near-silent frames (fade-outs, dither) fade to zero chroma, i.e. towards the "N" chord.
    chroma = librosa.feature.chroma_stft(S=power, sr=sr, tuning=0.0) * loudness_gate(rms)[None, :]
    if rms.max() < 1e-5:  # silence is music too: an empty but valid analysis
        return Analysis(duration, 0.0, np.zeros(0), np.zeros(0), "C", 0.0,
                        sections=[Segment(0.0, duration, "silence (A)")])  # fmt: skip

    tempo, tempo_conf = beats_mod.estimate_tempo(env, frame_rate=frame_rate)
    if tempo_conf < beats_mod.MIN_TEMPO_CONFIDENCE:  # no pulse (a drone, a tone): no grid
        beat_times = np.zeros(0)
    else:
        beat_times = beats_mod.track_beats(env, frame_rate=frame_rate, bpm=tempo)
    # Constant-tempo music (most of what gets a video) is better served by the exact grid than
    # by frame-quantised DP beats; tempo then comes from the grid's sub-frame period.
    beat_env = env / (env.max() + 1e-9) + low_onset / (low_onset.max() + 1e-9)
    fitted = beats_mod.fit_grid(beat_times, env=beat_env, frame_rate=frame_rate, bpm=tempo)
    if fitted is not None:
        beat_times, tempo = fitted
        beat_times = beats_mod.choose_phase(beat_times, chroma=chroma, frame_rate=frame_rate)
    elif len(beat_times) > 8:  # varying tempo: a robust local average
        tempo = 60.0 / float(np.median(np.diff(beat_times)))
    downbeats = beats_mod.find_downbeats(
        beat_times, low_onset=low_energy, chroma=chroma, frame_rate=frame_rate
    )

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

    mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=13)
    sync_mfcc = librosa.util.sync(mfcc, frames)
    sync_rms = librosa.util.sync(rms[None, :], frames)
    sync_low = librosa.util.sync(low_onset[None, :], frames)
    loud = np.log(sync_rms + 1e-6)
    feats = np.vstack([sync_mfcc[1:], 0.5 * sync_chroma, 3 * loud, 2 * sync_low])
    seg_times = starts[: feats.shape[1]]
    energy = (loud[0] - loud.min()) / (np.ptp(loud) + 1e-9)
    sections = segment(
        feats, beat_times=seg_times, downbeats=downbeats, energy=energy, duration=duration
    )
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
    )


def analyze_track(path: str | Path, *, cache_dir: Path | None = Path("cache/analysis")) -> Analysis:
    """Analyse the audio file at ``path``; results are cached as JSON by content hash."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: audio file not found")
    sha = file_sha256(path)
    entry = Path(cache_dir) / f"{sha[:24]}-v{ANALYSIS_VERSION}.json" if cache_dir else None
    if entry is not None and entry.exists():
        try:
            data = json.loads(entry.read_text())
            if data.get("sha256") == sha and data.get("version") == ANALYSIS_VERSION:
                return Analysis.from_dict(data)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            pass  # corrupt entry: recompute below
    y, sr = load_audio(path, sr=SAMPLE_RATE, mono=True)
    result = analyze_signal(y[0], sr=sr)
    result = Analysis.from_dict({**result.to_dict(), "source": str(path), "sha256": sha})
    if entry is not None:
        from renderer.files import write_text_atomic

        write_text_atomic(entry, json.dumps(result.to_dict()))
    return result
