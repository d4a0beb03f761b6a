"""The frozen records that pass between the run's stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from renderer.analysis.core import Analysis
    from renderer.audio.features import FrameFeatures
    from renderer.audio.master import MasteredAudio
    from renderer.config.tracklist import TrackPlan
    from renderer.run.chunks import Chunk
    from renderer.run.previews import PreviewCollector


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
class StartedTrack:
    """A track whose audio side is ready (:func:`renderer.run.track.begin_track`)."""

    prepared: PreparedTrack
    key: dict  # what a finished track was made from (the manifest's completion key)
    notes: list[str]  # input problems that did not stop it (AudioWarning messages)
    prepare_s: float  # wall seconds of the preparation


@dataclass(frozen=True)
class RenderedTrack:
    """A track whose chunks are all recorded; its tail (previews, mux, probe, reactivity) is
    still to run (:func:`renderer.run.track.finish_track`)."""

    started: StartedTrack
    chunks: list[Chunk]
    chunk_hashes: list[str]  # one per chunk, in order
    rendered: int  # chunks rendered by this invocation (the others were reused)
    previews: PreviewCollector  # holds the frames the previews use
    began: float  # time.perf_counter() when the chunk phase began


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
