"""The executor seam (ARCHITECTURE §8): the same frames and segment bytes from ``local``,
``processes`` and ``ray``; a worker SIGKILLed mid-chunk under ``processes`` and under ``ray`` costs
only the chunk it was rendering; the driver resumes a Ray run from the manifest; with a pool the
album run overlaps one track's tail with the next track's chunks (``local`` does not); a private
Ray cluster listens on loopback only and leaves no file behind.

The kill is real: the job for a chosen chunk carries a test-only hook (``NTS_TEST_WORKER_FAULT``)
that makes the first worker to pick it up SIGKILL itself halfway through the chunk, recording its
pid in ``<folder>/killed``; every job start is logged to ``<folder>/starts.log``, which is how the
tests see that no finished chunk was rendered twice.
"""

from __future__ import annotations

import importlib.util
import ipaddress
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
from renderer.render_album import main as album_main
from renderer.render_track import main as track_main
from renderer.run.executors.jobs import FAULT_ENV, worker_name, worker_threads

SECONDS = 3.0
N_CHUNKS = 3
KILLED_CHUNK = 2  # the last: it starts only once a chunk has finished (two workers, three chunks)


@pytest.fixture(scope="module")
def album(tmp_path_factory, tiny_model_dir) -> Path:
    return make_album(tmp_path_factory.mktemp("executors"), tiny_model_dir, seconds=SECONDS)


def render(album: Path, root: str, *extra: str) -> dict:
    """Track t1 alone; its meta.json row."""
    argv = ["--config", str(album), "--track", "t1", "--output-root", root, "--keep-frames",
            *extra]  # fmt: skip
    assert track_main(argv) == 0
    return read_meta(album, root)["tracks"][0]


def render_both(album: Path, root: str, *extra: str) -> dict[str, dict]:
    """The album run (t0, then t1, then the film); meta.json's rows by track id."""
    argv = ["--config", str(album), "--output-root", root, "--keep-frames", *extra]
    assert album_main(argv) == 0
    meta = read_meta(album, root)
    assert meta["album"] and Path(meta["album"]).is_file()
    return {t["id"]: t for t in meta["tracks"]}


def manifest_chunks(track: dict, track_id: str = "t1") -> dict[str, dict]:
    manifest = Path(track["output"]).parent / "manifest.json"
    return json.loads(manifest.read_text())["tracks"][track_id]["chunks"]


def first_segment_ns(track: dict, track_id: str) -> int:
    run_dir = Path(track["output"]).parent
    return min((run_dir / c["segment"]).stat().st_mtime_ns
               for c in manifest_chunks(track, track_id).values())  # fmt: skip


def tail_end_ns(track: dict) -> int:
    """When the track's tail had written its GIF and its reactivity series."""
    run_dir = Path(track["output"]).parent
    return max(Path(track["previews"]["gif"]).stat().st_mtime_ns,
               (run_dir / "analysis" / f"{track['id']}.reactivity.json").stat().st_mtime_ns)  # fmt: skip


def assert_same_output(track: dict, reference: dict, *, track_id: str = "t1") -> None:
    """Same frames, segment bytes, previews (by name; by bytes too when no chunk was reused),
    reactivity and files as ``reference``."""
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
    if not track["chunks_skipped"]:  # (a reused chunk's preview frames are read back from H.264)
        previews = [*track["previews"]["keyframes"], track["previews"]["gif"]]
        expected = [*reference["previews"]["keyframes"], reference["previews"]["gif"]]
        assert [Path(p).read_bytes() for p in previews] == [Path(p).read_bytes() for p in expected]
    assert track["reactivity"] == reference["reactivity"]
    assert len(manifest_chunks(track, track_id)) == len(track["chunks"])
    run_dir = Path(track["output"]).parent
    assert not list(run_dir.glob("**/*.partial*"))
    assert not (run_dir / "segments" / "_work").exists() or not any(
        (run_dir / "segments" / "_work").iterdir()
    )


@pytest.fixture(scope="module")
def local_album(album) -> dict[str, dict]:
    """``local``: one process, the driver's decoder; both tracks and the film."""
    tracks = render_both(album, "local", "--executor", "local")
    for track_id, track in tracks.items():
        workers = {
            c["worker"].rpartition(":")[2] for c in manifest_chunks(track, track_id).values()
        }
        assert workers == {str(os.getpid())}
    return tracks


@pytest.fixture(scope="module")
def reference(local_album) -> dict:
    return local_album["t1"]


def test_local_runs_the_tracks_one_after_another(local_album):
    """t1's first chunk is written only after t0's tail (GIF, reactivity) has ended."""
    assert first_segment_ns(local_album["t1"], "t1") > tail_end_ns(local_album["t0"])


def fault(monkeypatch, folder: Path) -> Path:
    folder.mkdir()
    monkeypatch.setenv(FAULT_ENV, f"t1:{KILLED_CHUNK}:{folder}")
    return folder


def assert_killed_once_and_nothing_redone(folder: Path, track: dict) -> None:
    """The worker died in t1's chunk, only that chunk ran again, a chunk that had finished before
    the kill ran once (and there was one)."""
    killed = int((folder / "killed").read_text())
    assert killed != os.getpid()
    starts = [line.split(":") for line in (folder / "starts.log").read_text().split()]
    per_chunk = {i: [pid for t, c, pid in starts if t == "t1" and int(c) == i]
                 for i in range(N_CHUNKS)}  # fmt: skip
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


def test_processes_give_the_local_album_overlapped_and_survive_a_killed_worker(
    album, local_album, tmp_path, monkeypatch
):
    """The album on two pool workers (other processes than this one), one SIGKILLed mid-chunk
    in t1: the same frames, bytes and files as ``local``, and t1's chunks rendered while t0's
    tail ran in the driver."""
    folder = fault(monkeypatch, tmp_path / "fault")
    tracks = render_both(album, "processes-killed", "--executor", "processes", "--workers", "2")
    assert_killed_once_and_nothing_redone(folder, tracks["t1"])
    for track_id in ("t0", "t1"):
        assert_same_output(tracks[track_id], local_album[track_id], track_id=track_id)
    assert first_segment_ns(tracks["t1"], "t1") < tail_end_ns(tracks["t0"])
    run_dir = Path(tracks["t0"]["output"]).parent
    done = json.loads((run_dir / "manifest.json").read_text())["tracks"]
    assert all(done[t]["done"]["result"]["ok"] for t in ("t0", "t1"))  # both recorded finished


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
    if before:  # what the manifest held when the driver died (another chunk may have come in)
        (found,) = (album.parent / "driver-killed").glob("*/manifest.json")
        before = json.loads(found.read_text())["tracks"]["t1"]["chunks"]
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


def listening(pids: set[int]) -> list[str]:
    """``host:port`` of every TCP socket that ``pids`` listen on (from /proc, Linux)."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:  # gone, or not ours to read
            continue
    found = []
    for table in ("tcp", "tcp6"):
        for row in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            cols = row.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A: LISTEN
                host, port = cols[1].split(":")
                raw = bytes.fromhex(host)
                words = [raw[i : i + 4][::-1] for i in range(0, len(raw), 4)]  # per-word order
                found.append(f"{ipaddress.ip_address(b''.join(words))}:{int(port, 16)}")
    return found


def descendants(pid: int) -> set[int]:
    children: dict[int, set[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, set()).add(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address.rpartition(":")[0])
    return ip.is_loopback or (ip.version == 6 and ip.ipv4_mapped is not None
                              and ip.ipv4_mapped.is_loopback)  # fmt: skip


@pytest.fixture(scope="module")
def ray_executor(album, tmp_path_factory):
    """A ``ray`` executor that started its own cluster (none ran yet in this process: 2 CPUs,
    loopback, no dashboard, no usage stats, its files in its own folder), which the runs below
    find running; ``HOME`` is a fresh folder meanwhile. Closed at the end of the module: its
    folder is gone and nothing was written to ``~/.ray``."""
    if importlib.util.find_spec("ray") is None:
        pytest.skip("ray not installed")
    from renderer.config.loading import load_config
    from renderer.run.executors.ray_executor import RayExecutor

    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(home))
        config = load_config(album, overrides={"executor": "ray", "workers": 2})
        executor = RayExecutor(config, model_dir=album.parent / "models")
        assert executor.cluster is not None and executor.started
        folder = executor.cluster.folder
        try:
            yield executor
        finally:
            executor.close()
    assert not folder.exists()
    assert not (home / ".ray").exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_private_ray_cluster_listens_on_loopback(ray_executor):
    """Every socket the executor's cluster processes and this one listen on is loopback; its
    session and the chunk scratch live in its own folder (removed by ``close``: the fixture)."""
    ray = ray_executor.ray
    worker = ray.get(ray.remote(worker_name).remote())  # a worker process is up
    assert worker.rpartition(":")[2] != str(os.getpid())
    folder = ray_executor.cluster.folder
    session = Path(ray._private.worker._global_node.get_session_dir_path())
    assert folder in session.parents and ray_executor.scratch.startswith(str(folder))
    sockets = listening({os.getpid(), *descendants(os.getpid())})
    assert len(sockets) >= 3  # the driver, the GCS and the raylet at least
    assert all(is_loopback(s) for s in sockets), sockets


def test_ray_gives_the_local_frames_and_resumes_from_the_manifest(album, reference, ray_executor):
    """Chunks as Ray tasks: the local frames and bytes. Then a driver that died: its finished
    chunks are reused from the manifest, the missing one is rendered on Ray."""
    first = render(album, "ray", "--executor", "ray")
    assert_same_output(first, reference)
    assert ray_executor.ray.is_initialized()  # a cluster the run found is left running
    run_dir = Path(first["output"]).parent
    records = manifest_chunks(first)
    kept = {i: (run_dir / c["segment"]).stat().st_mtime_ns for i, c in records.items() if i != "2"}
    (run_dir / records["2"]["segment"]).unlink()
    Path(first["output"]).unlink()  # the track is unfinished, as when the driver died
    track = render(album, "ray", "--executor", "ray", "--resume")
    assert (track["chunks_skipped"], track["chunks_rendered"]) == (N_CHUNKS - 1, 1)
    assert {i: (run_dir / records[i]["segment"]).stat().st_mtime_ns for i in kept} == kept
    assert_same_output(track, reference)


def test_ray_retries_a_worker_killed_mid_chunk(album, reference, ray_executor, tmp_path,
                                               monkeypatch):  # fmt: skip
    folder = fault(monkeypatch, tmp_path / "fault")
    track = render(album, "ray-killed", "--executor", "ray")
    assert_killed_once_and_nothing_redone(folder, track)
    assert_same_output(track, reference)


def test_the_model_bundle_carries_the_upscaler(upscaler_model_dir, tmp_path) -> None:
    """Ray workers get the model as bytes: the learned upscaler must travel with the generator,
    or every worker's track renderer fails the upscaler's hash check."""
    from renderer.decode.model_meta import load_model_meta
    from renderer.decode.upscaler import upscaler_spec
    from renderer.run.executors.worker import materialise, model_bundle

    bundle = model_bundle(upscaler_model_dir, backend="torch")
    assert sorted(bundle) == ["generator.safetensors", "meta.json", "upscaler.safetensors"]
    folder = materialise(bundle, root=tmp_path)
    spec = upscaler_spec(load_model_meta(folder))  # verifies the sha256
    assert spec is not None and spec.weights.parent == folder.resolve()
