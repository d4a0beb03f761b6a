"""The frozen records that pass between the run's stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from renderer.analysis.core import Analysis
    from renderer.audio.features import FrameFeatures
    from renderer.audio.master import MasteredAudio
    from renderer.config.tracklist import TrackPlan


@dataclass(frozen=True)
class PreparedTrack:
    """Audio-side inputs of a track, computed once (cached) before any frame is rendered."""

    plan: TrackPlan
    audio: MasteredAudio  # the trimmed, loudness-normalised WAV in the run folder
    frames: FrameFeatures  # features at the output frame rate, ``n_frames`` long
    sub_frames: FrameFeatures  # at fps × oversample (the controller's timeline)
    analysis: Analysis
    n_frames: int


@dataclass(frozen=True)
class TrackResult:
    """Outcome of one track's render (also the row of the summary table and of ``meta.json``).

    Paths are strings (JSON-able); ``chunk_hashes`` has one entry per chunk, in order."""

    id: str
    title: str = ""
    ok: bool = False
    output: str | None = None
    webm: str | None = None
    audio: str | None = None
    frames: int = 0
    duration: float = 0.0
    seconds: float = 0.0
    chunks_rendered: int = 0
    chunks_skipped: int = 0
    error: str | None = None
    sync_error_ms: float | None = None
    reactivity: dict = field(default_factory=dict)
    previews: dict = field(default_factory=dict)
    loudness: dict = field(default_factory=dict)
    analysis: dict = field(default_factory=dict)
    chunk_hashes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # problems that did not stop the render

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0
