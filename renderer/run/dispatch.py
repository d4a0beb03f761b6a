"""The orchestrator's half of the executor seam (ARCHITECTURE §8): the chunks of one track that
still need rendering go to the executor as jobs; each output that comes back (in any order) is
written atomically as the chunk's segment and recorded in the manifest at once, so a driver killed
at any moment resumes from what it recorded. Everything here is the same for every executor.

Previews take their frames in frame order whatever order the chunks finish in: outputs wait in a
small buffer until every chunk before them is in (finished chunks of a resumed run give their
frames from their segments, read back at the output size).
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

from renderer.errors import RenderError
from renderer.run.chunks import Chunk, RunManifest, combine_hashes
from renderer.run.executors.jobs import ChunkJob, ChunkOutput, TrackContext
from renderer.run.records import PreparedTrack


class SharedManifest(RunManifest):
    """A :class:`RunManifest` whose reads and writes hold one lock: the album run records chunks
    in its main thread while a finished track is recorded in its finisher thread and the next
    track's reuse is checked in its prefetch thread (:mod:`renderer.run.album`)."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__(run_dir)
        self.lock = threading.RLock()

    def track(self, *args, **kwargs):
        with self.lock:
            return super().track(*args, **kwargs)

    def finished(self, *args, **kwargs):
        with self.lock:
            return super().finished(*args, **kwargs)

    def record(self, *args, **kwargs) -> None:
        with self.lock:
            super().record(*args, **kwargs)

    def complete(self, *args, **kwargs) -> None:
        with self.lock:
            super().complete(*args, **kwargs)

    def completed(self, *args, **kwargs):
        with self.lock:
            return super().completed(*args, **kwargs)

    def complete_film(self, *args, **kwargs) -> None:
        with self.lock:
            super().complete_film(*args, **kwargs)

    def completed_film(self, *args, **kwargs):
        with self.lock:
            return super().completed_film(*args, **kwargs)

    def output_sha256(self, *args, **kwargs):
        with self.lock:
            return super().output_sha256(*args, **kwargs)


def segment_path(config, run_dir: Path, track_id: str, chunk: Chunk) -> Path:
    from renderer.encode.profiles import get_profile

    ext = get_profile(config.encode.profile).segment_ext
    return run_dir / "segments" / track_id / f"{chunk.index:04d}.{ext}"


class InOrder:
    """Hands each chunk's preview frames to ``offer`` in chunk order, as soon as every earlier
    chunk's frames have arrived."""

    def __init__(self, offer: Callable[[np.ndarray, int], None]) -> None:
        self.offer, self.next, self.waiting = offer, 0, {}

    def add(self, index: int, frames: dict[int, np.ndarray]) -> None:
        self.waiting[index] = frames
        while self.next in self.waiting:
            for frame_index, frame in sorted(self.waiting.pop(self.next).items()):
                self.offer(frame, frame_index)
            self.next += 1


def render_chunks(config, prepared: PreparedTrack, chunks: list[Chunk], *, executor,
                  run_dir: Path, manifest: RunManifest, previews,
                  on_frames: Callable[[int], None]) -> tuple[list[str], int]:  # fmt: skip
    """Render (or, on ``--resume``, reuse) ``chunks``; returns the chunk hashes in order and the
    number of chunks rendered."""
    plan = prepared.plan
    want_previews = config.render.previews
    ordered = InOrder(previews.offer)
    hashes: dict[int, str] = {}
    jobs = []
    ext = segment_path(config, run_dir, plan.id, chunks[0]).suffix[1:]
    for chunk in chunks:
        done = manifest.finished(plan.id, chunk) if config.run.resume else None
        if done is None:
            wanted = tuple(previews.wanted(chunk.start, chunk.stop)) if want_previews else ()
            jobs.append(ChunkJob(run_id=run_dir.name, track_id=plan.id, chunk=chunk, ext=ext,
                                 wanted=wanted, debug=config.render.debug_frames))  # fmt: skip
            continue
        hashes[chunk.index] = done["chunk_hash"]
        ordered.add(chunk.index, _frames_from_segment(previews, config, run_dir, plan.id, chunk)
                    if want_previews else {})  # fmt: skip
        on_frames(chunk.frames)
    context = TrackContext(key=uuid.uuid4().hex, config=config, prepared=prepared)
    by_index = {c.index: c for c in chunks}
    for out in executor.render(context, jobs, on_frames=on_frames):
        chunk = by_index[out.index]
        hashes[chunk.index] = _store(out, chunk, config=config, run_dir=run_dir,
                                     manifest=manifest)  # fmt: skip
        ordered.add(chunk.index, out.frames)
    missing = [c.index for c in chunks if c.index not in hashes]
    if missing:
        raise RenderError(f"{plan.id}: the executor returned no segment for chunk(s) {missing}")
    return [hashes[c.index] for c in chunks], len(jobs)


def _store(out: ChunkOutput, chunk: Chunk, *, config, run_dir: Path,
           manifest: RunManifest) -> str:  # fmt: skip
    """Write one returned segment atomically, record it, write its debug frames; returns the
    chunk hash."""
    from renderer.files import atomic_path

    if len(out.frame_hashes) != chunk.frames or not out.segment:
        raise RenderError(f"{out.track_id}: chunk {chunk.index} came back with "
                          f"{len(out.frame_hashes)} of {chunk.frames} frames")  # fmt: skip
    t0 = time.perf_counter()
    segment = segment_path(config, run_dir, out.track_id, chunk)
    with atomic_path(segment) as tmp:
        tmp.write_bytes(out.segment)
    if out.pngs:
        folder = run_dir / "frames" / out.track_id
        folder.mkdir(parents=True, exist_ok=True)
        for index, png in out.pngs.items():
            (folder / f"{index:06d}.png").write_bytes(png)
    chunk_hash = combine_hashes(out.frame_hashes)
    manifest.record(out.track_id, chunk, segment=str(segment.relative_to(run_dir)),
                    segment_sha256=hashlib.sha256(out.segment).hexdigest(),
                    frame_hashes=out.frame_hashes, chunk_hash=chunk_hash,
                    seconds=round(out.seconds + time.perf_counter() - t0, 3),
                    worker=out.worker)  # fmt: skip
    return chunk_hash


def _frames_from_segment(previews, config, run_dir: Path, track_id: str,
                         chunk: Chunk) -> dict[int, np.ndarray]:  # fmt: skip
    """The previews' frames of a finished chunk, read back from its segment."""
    from renderer.encode.media import read_frames

    wanted = previews.wanted(chunk.start, chunk.stop)
    if not wanted:
        return {}
    ffmpeg_path = str(config.encode.ffmpeg_path) if config.encode.ffmpeg_path else None
    local = read_frames(segment_path(config, run_dir, track_id, chunk),
                        [i - chunk.start for i in wanted], size=tuple(config.resolution),
                        ffmpeg_path=ffmpeg_path)  # fmt: skip
    return {chunk.start + offset: frame for offset, frame in local.items()}
