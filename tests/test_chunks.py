"""Chunk planning and the run manifest: atomic records, verification before reuse."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from renderer.run.chunks import Chunk, RunManifest, combine_hashes, frame_hash, plan_chunks


@given(n=st.integers(1, 5000), fps=st.sampled_from([24, 30, 60]), secs=st.floats(0.5, 20))
def test_chunks_tile_the_track(n, fps, secs):
    chunks = plan_chunks(n, fps=fps, chunk_seconds=secs)
    assert chunks[0].start == 0 and chunks[-1].stop == n
    assert all(a.stop == b.start for a, b in zip(chunks, chunks[1:], strict=False))
    assert [c.index for c in chunks] == list(range(len(chunks)))
    size = max(1, round(secs * fps))
    assert all(c.frames == size for c in chunks[:-1]) and 0 < chunks[-1].frames <= size


def test_plan_rejects_empty_tracks():
    with pytest.raises(ValueError, match="n_frames"):
        plan_chunks(0, fps=30, chunk_seconds=10)


def test_frame_hash_is_over_rgb_bytes():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (8, 6, 3), dtype=np.uint8)
    assert frame_hash(frame) == frame_hash(frame.copy())
    assert frame_hash(frame[:, ::-1]) == frame_hash(np.ascontiguousarray(frame[:, ::-1]))
    other = frame.copy()
    other[0, 0, 0] ^= 1
    assert frame_hash(other) != frame_hash(frame)
    assert combine_hashes(["a", "b"]) != combine_hashes(["b", "a"])


def _record(manifest: RunManifest, chunk: Chunk, payload: bytes) -> None:
    segment = manifest.run_dir / "segments" / "t" / f"{chunk.index:04d}.mp4"
    segment.parent.mkdir(parents=True, exist_ok=True)
    segment.write_bytes(payload)
    from renderer.decode.model_meta import sha256_file

    manifest.record("t", chunk, segment=str(segment.relative_to(manifest.run_dir)),
                    segment_sha256=sha256_file(segment), frame_hashes=["x"], chunk_hash="h")  # fmt: skip


def test_manifest_round_trip_and_verification(tmp_path):
    manifest = RunManifest(tmp_path)
    manifest.track("t", n_frames=20)
    chunk = Chunk(0, 0, 10)
    _record(manifest, chunk, b"segment bytes")
    assert not list(tmp_path.glob(".manifest*"))  # the temp file was renamed into place
    reloaded = RunManifest(tmp_path)
    assert reloaded.finished("t", chunk)["chunk_hash"] == "h"
    assert reloaded.finished("t", Chunk(1, 10, 20)) is None  # never recorded
    assert reloaded.finished("t", Chunk(0, 0, 12)) is None  # same index, other frame range
    assert reloaded.finished("other", chunk) is None
    (tmp_path / "segments" / "t" / "0000.mp4").write_bytes(b"tampered")
    assert reloaded.finished("t", chunk) is None  # hash mismatch → recompute
    (tmp_path / "segments" / "t" / "0000.mp4").unlink()
    assert reloaded.finished("t", chunk) is None  # missing → recompute


def test_changed_plan_discards_records(tmp_path):
    manifest = RunManifest(tmp_path)
    manifest.track("t", n_frames=20)
    _record(manifest, Chunk(0, 0, 10), b"x")
    assert manifest.track("t", n_frames=20)["chunks"]
    assert manifest.track("t", n_frames=30)["chunks"] == {}


def test_chunks_of_another_model_or_audio_are_not_reused(tmp_path):
    """A resumed track keeps its chunks only if they were made from the same audio and model bytes
    (the run folder's name comes from the config, which a swapped model folder leaves unchanged)."""
    key = {"src_sha256": "a" * 64, "model": {"onnx": "m1"}}
    manifest = RunManifest(tmp_path)
    manifest.track("t", n_frames=20, key=key)
    _record(manifest, Chunk(0, 0, 10), b"x")
    reloaded = RunManifest(tmp_path)  # the key survives the JSON round trip
    assert reloaded.track("t", n_frames=20, key=dict(key))["chunks"]
    assert reloaded.finished("t", Chunk(0, 0, 10)) is not None
    assert reloaded.track("t", n_frames=20, key={**key, "model": {"onnx": "m2"}})["chunks"] == {}
    assert reloaded.finished("t", Chunk(0, 0, 10)) is None


@pytest.mark.parametrize("content", ["{not json", json.dumps({"version": 99, "tracks": {"t": 1}})])
def test_corrupt_or_foreign_manifest_only_costs_rerendering(tmp_path, content):
    (tmp_path / "manifest.json").write_text(content)
    manifest = RunManifest(tmp_path)
    assert manifest.data["tracks"] == {}
    assert manifest.finished("t", Chunk(0, 0, 10)) is None
