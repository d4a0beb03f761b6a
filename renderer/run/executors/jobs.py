"""What passes between the orchestrator and an executor (ARCHITECTURE §8), and the one function
every executor runs to render a chunk, wherever it runs.

The orchestrator (:mod:`renderer.run.track`) describes a track once (:class:`TrackContext`: the
resolved config and the prepared track) and each chunk to render (:class:`ChunkJob`); a worker
turns a job into a :class:`ChunkOutput`: the encoded segment's bytes, the hash of every frame and
the few frames the previews need. Workers write nothing the orchestrator reads from disk, so a Ray
worker on another machine needs no shared filesystem; the orchestrator alone writes segments and
the manifest. ``render_job`` is the same code in every executor, so the frames and the segment
bytes are the same whichever executor ran it.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from renderer.errors import RenderError
from renderer.run.chunks import Chunk
from renderer.run.frames import TrackRenderer
from renderer.run.records import PreparedTrack

# Tests only: "<track>:<chunk index>:<folder>" makes the worker that picks up that chunk first
# SIGKILL itself halfway through it (once: the first to create <folder>/killed, which holds its
# pid; <folder>/dying is touched just before the kill), and every job start is logged to
# <folder>/starts.log. Read by the driver and carried in the job, so it reaches
# workers however they were started; the in-process executor ignores it.
FAULT_ENV = "NTS_TEST_WORKER_FAULT"


@dataclass(frozen=True)
class TrackContext:
    """What a worker needs to render any chunk of one track; ``key`` names it in worker caches
    (unique per track and run, so a long-lived worker never reuses a stale one)."""

    key: str
    config: Any  # renderer.config.models.RenderConfig
    prepared: PreparedTrack


@dataclass(frozen=True)
class ChunkJob:
    run_id: str
    track_id: str
    chunk: Chunk
    ext: str  # the segment's container extension ("mp4", "webm", "mkv")
    wanted: tuple[int, ...] = ()  # frame indices whose pictures come back (for the previews)
    debug: bool = False  # every frame comes back as PNG bytes (--debug-frames)
    fault: str | None = None  # see FAULT_ENV


@dataclass(frozen=True)
class ChunkOutput:
    """A rendered chunk: ``segment`` (the encoded file's bytes), ``frame_hashes`` (one per frame,
    in order), ``frames`` (index → uint8 ``[h, w, 3]`` for the wanted indices), ``pngs`` (index →
    PNG bytes when debugging), the render's wall ``seconds`` and the ``worker`` (host:pid)."""

    track_id: str
    index: int
    segment: bytes
    frame_hashes: list[str]
    frames: dict[int, np.ndarray] = field(default_factory=dict)
    pngs: dict[int, bytes] = field(default_factory=dict)
    seconds: float = 0.0
    worker: str = ""


@dataclass(frozen=True)
class DecoderSpec:
    """How a worker opens its own decoder (the driver's settings, the worker's thread count)."""

    backend: str = "onnx"
    provider: str = "auto"
    batch_size: int = 8
    threads: int | None = None
    compile: str = "off"


def available_cores() -> int:
    """Cores this process may run on (the affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def worker_threads(*, workers: int, cores: int | None = None) -> int:
    """Decoder (ONNX Runtime / torch intra-op) threads per worker so that workers × threads ≈
    cores: ``max(1, cores // workers)``. FFmpeg keeps its fixed thread count (``encode.threads``):
    x264's output depends on it, and segment bytes must not depend on the executor."""
    return max(1, (cores or available_cores()) // max(1, workers))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def png_bytes(frame: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="PNG")
    return buffer.getvalue()


def render_job(
    renderer: TrackRenderer,
    job: ChunkJob,
    *,
    scratch: Path,
    on_frames: Callable[[int], None] = lambda n: None,
) -> ChunkOutput:
    """Render ``job`` with ``renderer`` into a file in ``scratch`` and return its bytes (the file is
    removed); raises :class:`RenderError` when the chunk came out short."""
    start = time.perf_counter()
    chunk = job.chunk
    scratch.mkdir(parents=True, exist_ok=True)
    segment = scratch / f"{job.run_id}-{job.track_id}-{chunk.index:04d}.{job.ext}"
    kill_after = _fault(job)
    wanted = set(job.wanted)
    frames: dict[int, np.ndarray] = {}
    pngs: dict[int, bytes] = {}
    seen = [0]

    def on_frame(frame: np.ndarray, index: int) -> None:
        if index in wanted:
            frames[index] = frame.copy()
        if job.debug:
            pngs[index] = png_bytes(frame)
        seen[0] += 1
        if seen[0] == kill_after:  # tests only: a worker dying mid-chunk
            Path(job.fault.split(":", 2)[2], "dying").touch()
            os.kill(os.getpid(), signal.SIGKILL)

    try:
        hashes = renderer.render_chunk(chunk, segment, on_frames=on_frames, on_frame=on_frame)
        if len(hashes) != chunk.frames:
            raise RenderError(
                f"{job.track_id}: chunk {chunk.index} wrote {len(hashes)} of {chunk.frames} frames"
            )
        data = segment.read_bytes()
    finally:
        segment.unlink(missing_ok=True)
    return ChunkOutput(job.track_id, chunk.index, data, hashes, frames, pngs,
                       time.perf_counter() - start, worker_name())  # fmt: skip


def _fault(job: ChunkJob) -> int | None:
    """Frames after which this worker kills itself (tests only, see FAULT_ENV), or ``None``."""
    if not job.fault:
        return None
    track_id, index, folder = job.fault.split(":", 2)
    with open(Path(folder) / "starts.log", "a", encoding="utf-8") as log:
        log.write(f"{job.track_id}:{job.chunk.index}:{os.getpid()}\n")
    if (track_id, int(index)) != (job.track_id, job.chunk.index):
        return None
    try:  # only the first worker to reach the chunk dies
        fd = os.open(Path(folder) / "killed", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return None
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    return max(1, job.chunk.frames // 2)
