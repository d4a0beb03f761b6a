"""The chunk model (ARCHITECTURE §2): a track's frames cut into independent chunks, and the run
manifest that records finished chunks so a resumed run skips them after verifying their files.

``renders/<run-id>/manifest.json``::

    {"version": 1, "tracks": {"<id>": {"n_frames": N, "chunks": {"0": {
        "start": 0, "stop": 300, "segment": "segments/<id>/0000.mp4", "segment_sha256": "…",
        "frame_hashes": ["…", …], "chunk_hash": "…", "seconds": 12.3,
        "worker": "<host>:<pid>"}, …}}}}

The orchestrator alone writes segments and this file, whichever executor rendered the chunk
(``worker`` says where: :mod:`renderer.run.executors`).

The file is rewritten atomically (temp file + ``os.replace``) after every chunk, so a SIGKILL at
any moment leaves either the previous or the new manifest, never a torn one.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from renderer.decode.model_meta import sha256_file

MANIFEST_VERSION = 1


@dataclass(frozen=True)
class Chunk:
    index: int
    start: int  # first frame (inclusive)
    stop: int  # last frame (exclusive)

    @property
    def frames(self) -> int:
        return self.stop - self.start


def plan_chunks(n_frames: int, *, fps: float, chunk_seconds: float) -> list[Chunk]:
    """Cut ``[0, n_frames)`` into chunks of ``round(chunk_seconds × fps)`` frames (last shorter)."""
    if n_frames < 1:
        raise ValueError(f"n_frames must be ≥ 1 (got {n_frames})")
    size = max(1, int(round(chunk_seconds * fps)))
    count = math.ceil(n_frames / size)
    return [Chunk(i, i * size, min(n_frames, (i + 1) * size)) for i in range(count)]


def frame_hash(frame) -> str:
    """sha256 of one frame's RGB bytes (hex, first 32 characters)."""
    return hashlib.sha256(
        memoryview(frame).cast("B") if frame.flags.c_contiguous else frame.tobytes()
    ).hexdigest()[:32]


def combine_hashes(hashes: list[str]) -> str:
    return hashlib.sha256("".join(hashes).encode()).hexdigest()


class RunManifest:
    """Finished chunks of a run, persisted in ``<run_dir>/manifest.json``."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / "manifest.json"
        self.data: dict[str, Any] = {"version": MANIFEST_VERSION, "tracks": {}}
        if self.path.exists():
            try:
                loaded = json.loads(self.path.read_text())
                if loaded.get("version") == MANIFEST_VERSION:
                    self.data = loaded
            except json.JSONDecodeError:
                pass  # a corrupt manifest only costs re-rendering, never wrong output

    def track(self, track_id: str, *, n_frames: int, key: dict[str, Any] | None = None
              ) -> dict[str, Any]:  # fmt: skip
        """The track's entry, emptied if it was recorded for another frame count or another
        ``key`` (what the frames are made from beyond the config: the audio's and the model's
        bytes): chunks of a replaced model or audio file are never mixed into a resumed track."""
        fresh = {"n_frames": n_frames, "chunks": {}, **({"key": key} if key is not None else {})}
        entry = self.data["tracks"].setdefault(track_id, dict(fresh))
        if entry.get("n_frames") != n_frames or entry.get("key") != key:
            entry.clear()  # the plan or its inputs changed: nothing recorded is reusable
            entry.update(fresh)
        return entry

    def finished(self, track_id: str, chunk: Chunk) -> dict[str, Any] | None:
        """The chunk's record if its segment exists and still has the recorded hash."""
        record = self.data["tracks"].get(track_id, {}).get("chunks", {}).get(str(chunk.index))
        if not record or (record["start"], record["stop"]) != (chunk.start, chunk.stop):
            return None
        segment = self.run_dir / record["segment"]
        if not segment.is_file() or sha256_file(segment) != record["segment_sha256"]:
            return None
        return record

    def record(self, track_id: str, chunk: Chunk, **fields: Any) -> None:
        entry = self.data["tracks"][track_id]
        entry["chunks"][str(chunk.index)] = {"start": chunk.start, "stop": chunk.stop, **fields}
        self.save()

    # ---------------------------------------------------------------- finished tracks and film
    def complete(self, track_id: str, *, key: dict[str, Any], result: dict[str, Any],
                 files: list[Path]) -> None:  # fmt: skip
        """Record a finished track: ``key`` (what it was made from), its result row and the
        sha256 of each output file, so a resumed finished run reuses it without rendering."""
        entry = self.data["tracks"][track_id]
        entry["done"] = {"key": key, "result": result,
                         "files": {str(Path(f).relative_to(self.run_dir)): sha256_file(f)
                                   for f in files}}  # fmt: skip
        self.save()

    def completed(self, track_id: str, *, key: dict[str, Any]) -> dict[str, Any] | None:
        """The finished track's result row, if it was made from ``key`` and its files are intact."""
        done = self.data["tracks"].get(track_id, {}).get("done")
        if not done or done.get("key") != key or not self._intact(done["files"]):
            return None
        return done["result"]

    def complete_film(self, film: Path, *, parts: list[str]) -> None:
        """Record ``album.<ext>`` made from the track files with sha256 ``parts`` (in order)."""
        self.data["film"] = {"parts": parts,
                             "files": {str(film.relative_to(self.run_dir)): sha256_file(film)}}  # fmt: skip
        self.save()

    def completed_film(self, *, parts: list[str]) -> Path | None:
        film = self.data.get("film")
        if not film or film.get("parts") != parts or not self._intact(film["files"]):
            return None
        return self.run_dir / next(iter(film["files"]))

    def output_sha256(self, track_id: str, path: Path) -> str | None:
        done = self.data["tracks"].get(track_id, {}).get("done") or {}
        return done.get("files", {}).get(str(Path(path).relative_to(self.run_dir)))

    def _intact(self, files: dict[str, str]) -> bool:
        return all((self.run_dir / rel).is_file() and sha256_file(self.run_dir / rel) == sha
                   for rel, sha in files.items())  # fmt: skip

    def save(self) -> None:
        from renderer.files import write_text_atomic

        write_text_atomic(self.path, json.dumps(self.data))
