"""The executor seam (ARCHITECTURE §8): the same frames and segment bytes from ``local``,
``processes`` and ``ray``; a worker SIGKILLed mid-chunk under ``processes`` and under ``ray`` costs
only the chunk it was rendering; the driver resumes a Ray run from the manifest.

The kill is real: the job for a chosen chunk carries a test-only hook (``NTS_TEST_WORKER_FAULT``)
that makes the first worker to pick it up SIGKILL itself halfway through the chunk, recording its
pid in ``<folder>/killed``; every job start is logged to ``<folder>/starts.log``, which is how the
tests see that no finished chunk was rendered twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from render_fixtures import FPS, make_album, read_meta

from renderer.encode.media import probe_media
from renderer.render_track import main as track_main
from renderer.run.executors.jobs import FAULT_ENV, worker_threads

SECONDS = 3.0
N_CHUNKS = 3
KILLED_CHUNK = 2  # the last: it starts only once a chunk has finished (two workers, three chunks)


@pytest.fixture(scope="module")
def album(tmp_path_factory, tiny_model_dir) -> Path:
    return make_album(tmp_path_factory.mktemp("executors"), tiny_model_dir, seconds=SECONDS)


def render(album: Path, root: str, *extra: str) -> dict:
    argv = ["--config", str(album), "--track", "t1", "--output-root", root, "--keep-frames",
            *extra]  # fmt: skip
    assert track_main(argv) == 0
    return read_meta(album, root)["tracks"][0]


def manifest_chunks(track: dict) -> dict[str, dict]:
    manifest = Path(track["output"]).parent / "manifest.json"
    return json.loads(manifest.read_text())["tracks"]["t1"]["chunks"]


def assert_same_output(track: dict, reference: dict) -> None:
    assert track["ok"] and track["frames"] == SECONDS * FPS
    assert [c["frame_hashes"] for c in track["chunks"]] == [
        c["frame_hashes"] for c in reference["chunks"]
    ]
    assert [c["segment_sha256"] for c in track["chunks"]] == [
        c["segment_sha256"] for c in reference["chunks"]
    ]
    assert probe_media(track["output"])["frames"] == SECONDS * FPS
    names = [Path(p).name for p in track["previews"]["keyframes"]]
    assert names == [Path(p).name for p in reference["previews"]["keyframes"]]
    assert all(Path(p).is_file() for p in track["previews"]["keyframes"])
    run_dir = Path(track["output"]).parent
    assert not list(run_dir.glob("**/*.partial*"))
    assert not (run_dir / "segments" / "_work").exists() or not any(
        (run_dir / "segments" / "_work").iterdir()
    )


@pytest.fixture(scope="module")
def reference(album) -> dict:
    """``local``: one process, the driver's decoder."""
    track = render(album, "local", "--executor", "local")
    assert {c["worker"].rpartition(":")[2] for c in manifest_chunks(track).values()} == {
        str(os.getpid())
    }
    return track


def fault(monkeypatch, folder: Path) -> Path:
    folder.mkdir()
    monkeypatch.setenv(FAULT_ENV, f"t1:{KILLED_CHUNK}:{folder}")
    return folder


def assert_killed_once_and_nothing_redone(folder: Path, track: dict) -> None:
    """The worker died in the chunk, only that chunk ran again, a chunk that had finished before
    the kill ran once (and there was one)."""
    killed = int((folder / "killed").read_text())
    assert killed != os.getpid()
    starts = [line.split(":") for line in (folder / "starts.log").read_text().split()]
    per_chunk = {i: [pid for _, c, pid in starts if int(c) == i] for i in range(N_CHUNKS)}
    assert per_chunk[KILLED_CHUNK][0] == str(killed) and len(per_chunk[KILLED_CHUNK]) == 2
    records = manifest_chunks(track)
    assert records[str(KILLED_CHUNK)]["worker"].rpartition(":")[2] != str(killed)
    assert str(os.getpid()) not in {c["worker"].rpartition(":")[2] for c in records.values()}
    kill_time = (folder / "dying").stat().st_mtime_ns
    run_dir = Path(track["output"]).parent
    finished_before = [
        i for i in range(N_CHUNKS)
        if (run_dir / records[str(i)]["segment"]).stat().st_mtime_ns < kill_time
    ]  # fmt: skip
    assert finished_before and KILLED_CHUNK not in finished_before
    assert all(len(per_chunk[i]) == 1 for i in finished_before)  # not rendered again
    assert track["chunks_rendered"] == N_CHUNKS


def test_worker_threads_split_the_cores():
    assert worker_threads(workers=2, cores=2) == 1
    assert worker_threads(workers=4, cores=16) == 4
    assert worker_threads(workers=3, cores=16) == 5  # 3 × 5 = 15 ≤ 16
    assert worker_threads(workers=32, cores=16) == 1


def test_processes_give_the_local_frames_and_survive_a_killed_worker(album, reference, tmp_path,
                                                                      monkeypatch):  # fmt: skip
    """Two pool workers (other processes than this one); one is SIGKILLed mid-chunk."""
    folder = fault(monkeypatch, tmp_path / "fault")
    track = render(album, "processes-killed", "--executor", "processes", "--workers", "2")
    assert_killed_once_and_nothing_redone(folder, track)
    assert_same_output(track, reference)


def test_the_fault_hook_fires_once_at_its_chunk(tmp_path, monkeypatch):
    from renderer.run.chunks import Chunk
    from renderer.run.executors.jobs import ChunkJob, _fault

    folder = fault(monkeypatch, tmp_path / "fault")
    chunk = Chunk(KILLED_CHUNK, 2 * FPS, 3 * FPS)
    job = ChunkJob(run_id="r", track_id="t1", chunk=chunk, ext="mp4", fault=os.environ[FAULT_ENV])
    other = ChunkJob(run_id="r", track_id="t1", chunk=Chunk(0, 0, FPS), ext="mp4",
                     fault=job.fault)  # fmt: skip
    assert _fault(other) is None
    assert _fault(job) == FPS // 2  # the first worker to reach the chunk dies halfway …
    assert _fault(job) is None  # … and only that one
    assert int((folder / "killed").read_text()) == os.getpid()
    assert (folder / "starts.log").read_text().split() == [
        f"t1:{i}:{os.getpid()}" for i in (0, 2, 2)
    ]
    assert _fault(ChunkJob(run_id="r", track_id="t1", chunk=job.chunk, ext="mp4")) is None


def test_a_killed_driver_leaves_no_workers_and_resumes(album, reference):
    """SIGKILL the driver of a ``processes`` run after its first chunk: its pool workers leave
    within seconds, and ``--resume`` reuses what the manifest recorded."""
    script = Path(__file__).parents[1] / "renderer" / "render_track.py"
    argv = [sys.executable, str(script), "--config", str(album), "--track", "t1",
            "--output-root", "driver-killed", "--keep-frames", "--executor", "processes",
            "--workers", "2"]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    before = {}
    deadline = time.time() + 300
    try:
        while time.time() < deadline and proc.poll() is None and not before:
            for found in (album.parent / "driver-killed").glob("*/manifest.json"):
                tracks = json.loads(found.read_text())["tracks"]
                before = tracks.get("t1", {}).get("chunks", {})
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert before and len(before) < N_CHUNKS, "killed too late to test resume"
    workers = {int(c["worker"].rpartition(":")[2]) for c in before.values()}
    deadline = time.time() + 30
    while time.time() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in workers)
    track = render(album, "driver-killed", "--executor", "processes", "--workers", "2",
                   "--resume")  # fmt: skip
    assert track["chunks_skipped"] == len(before)
    assert_same_output(track, reference)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# ------------------------------------------------------------------------------------------- Ray


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray cluster for the module: 2 CPUs, no dashboard, loopback, no usage stats."""
    ray = pytest.importorskip("ray")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False, configure_logging=False)  # fmt: skip
    yield ray
    ray.shutdown()


def test_ray_gives_the_local_frames_and_resumes_from_the_manifest(album, reference, ray_cluster):
    """Chunks as Ray tasks: the local frames and bytes. Then a driver that died: its finished
    chunks are reused from the manifest, the missing one is rendered on Ray."""
    first = render(album, "ray", "--executor", "ray")
    assert_same_output(first, reference)
    assert ray_cluster.is_initialized()  # a cluster the run found is left running
    run_dir = Path(first["output"]).parent
    records = manifest_chunks(first)
    kept = {i: (run_dir / c["segment"]).stat().st_mtime_ns for i, c in records.items() if i != "2"}
    (run_dir / records["2"]["segment"]).unlink()
    Path(first["output"]).unlink()  # the track is unfinished, as when the driver died
    track = render(album, "ray", "--executor", "ray", "--resume")
    assert (track["chunks_skipped"], track["chunks_rendered"]) == (N_CHUNKS - 1, 1)
    assert {i: (run_dir / records[i]["segment"]).stat().st_mtime_ns for i in kept} == kept
    assert_same_output(track, reference)


def test_ray_retries_a_worker_killed_mid_chunk(album, reference, ray_cluster, tmp_path,
                                               monkeypatch):  # fmt: skip
    folder = fault(monkeypatch, tmp_path / "fault")
    track = render(album, "ray-killed", "--executor", "ray")
    assert_killed_once_and_nothing_redone(folder, track)
    assert_same_output(track, reference)
