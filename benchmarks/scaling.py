"""How rendering scales over executors and workers (ARCHITECTURE §8), and what N machines take.

``python benchmarks/scaling.py [--seconds 40] [--resolution 1920x1080] [--fps 30]
[--chunk-seconds 10] [--runs local:1,processes:2] [--album N] [--repeat K] [--json FILE]``

Two modes, both after one untimed preparation of the audio (so every run finds the features and
analysis cached), each run into its own fresh run folder (the folder is removed at the end unless
``--keep``):

- ``--album N`` (N ≥ 2): **the bar's comparison**: a real album run (``nts-render-album``: every
  track, the album film, meta.json, the run page) of the bundled album's first N tracks, each
  trimmed to ``--seconds``, timed end to end for each executor in ``--runs`` (default
  ``local:1,processes:2``), ``--repeat`` times interleaved (the median counts). Prints the
  end-to-end fps of each and the ratio ``processes × 2 / local`` (≥ 1: no slower). A real render
  has several tracks, so a pool can overlap one track's tail (previews, mux, reactivity) and the
  next track's audio preparation with chunks (:mod:`renderer.run.schedule`); a single short
  track cannot overlap anything, and its pool start-up is not amortised.
- default (one track): one excerpt of the first track with each of ``local``, ``processes`` and
  ``ray`` with 1 and 2 workers (Ray when installed). For each run: chunks/s over the chunk phase
  (first job handed over → last segment recorded); end-to-end fps of the track (prepare from
  cache, chunks, concat + mux, probe, reactivity, previews); the per-chunk overhead of the
  executor (with one worker, the gap between two consecutive segments arriving minus the worker's
  own render time of the later chunk: IPC, pickling, the object store, the orchestrator's atomic
  write and manifest record), as ms and as % of the chunk's render time; the one-off start (pool /
  cluster start, each worker opening its decoder) apart. Then a projection for N machines, each
  rendering chunks as fast as ``local`` does here, from the measured chunk time and overhead, with
  every serial part included: per track the audio preparation (uncached) and the track's tail
  (concat + mux + probe + reactivity + previews), and at the end the album film (video copy + one
  continuous audio encode), each scaled by the audio's duration. Chunks go out one track at a
  time (``ceil(chunks / N)`` rounds per track); with a pool the driver prepares the next track and
  finishes the previous one meanwhile, so only the first preparation, the last tail and the film
  are serial. Prints Markdown tables; ``--json FILE`` writes the figures.

Every timing on a machine shared with other work is "under load": say so next to it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # `python benchmarks/scaling.py`
    sys.path[0] = str(Path(__file__).resolve().parents[1])

ROOT = Path(__file__).resolve().parents[1]
RUNS = [("local", 1), ("processes", 1), ("processes", 2), ("ray", 1), ("ray", 2)]


def write_config(folder: Path, *, seconds: float, resolution: str, fps: int, chunk: float,
                 tracks: int = 1, render: dict | None = None, name: str = "render.yaml") -> Path:  # fmt: skip
    """A render.yaml for the bundled album's first ``tracks`` tracks, each trimmed to
    ``seconds`` (absolute paths); ``render`` overlays the ``render:`` block."""
    import yaml

    from renderer.config.reading import read_yaml

    raw = read_yaml(ROOT / "render.yaml")
    chosen = raw["tracks"][:tracks]
    if len(chosen) < tracks:
        raise SystemExit(f"--album {tracks}: the bundled album has {len(chosen)} tracks")
    width, height = (int(v) for v in resolution.lower().split("x"))
    trim = {"trim": {"start": 0.0, "end": float(seconds)}}
    raw.update(output_root=str(folder / "renders"), frame_rate=fps, resolution=[width, height],
               album={"root": str(ROOT / "album"), "tracklist": str(ROOT / "album/tracklist.json")},
               tracks=[{**t, **trim} for t in chosen])  # fmt: skip
    raw["model"] = {**raw.get("model", {}), "dir": str(ROOT / "models")}
    raw["render"] = {**raw.get("render", {}), "chunk_seconds": chunk, **(render or {})}
    raw["run"] = {"tracks": [t["id"] for t in chosen]}
    path = folder / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


class Timed:
    """An executor wrapper that timestamps every output as it arrives."""

    def __init__(self, inner) -> None:
        self.inner, self.arrivals, self.started = inner, [], None
        self.pooled = inner.pooled

    def render(self, context, jobs, *, on_frames):
        self.started = time.perf_counter()
        for out in self.inner.render(context, jobs, on_frames=on_frames):
            yield out
            self.arrivals.append((time.perf_counter(), out.seconds))  # after write + record

    def close(self) -> None:
        self.inner.close()


def one_run(config_path: Path, *, executor: str, workers: int, tag: str) -> dict:
    from renderer.config.loading import load_config
    from renderer.config.tracklist import load_tracklist, resolve_track, select_tracks
    from renderer.decode.decoder import open_decoder
    from renderer.run.chunks import RunManifest
    from renderer.run.executors import open_executor
    from renderer.run.track import render_track

    overrides = {"executor": executor, "workers": workers, "output_root": str(tag)}
    config = load_config(config_path, overrides=overrides)
    share = {"task_cpus": ray_share(workers)} if executor == "ray" else {}
    config = config.model_copy(update={"render": config.render.model_copy(update=share)})
    tracks = load_tracklist(config.path(config.album.tracklist),
                            album_root=config.path(config.album.root))  # fmt: skip
    (plan,) = [resolve_track(config, t) for t in select_tracks(config, tracks)]
    decoder = open_decoder(config.path(config.model.dir), backend=config.model.backend,
                           provider=config.decoder.execution_provider,
                           batch_size=config.decoder.batch_size,
                           threads=config.decoder.threads)  # fmt: skip
    run_dir = config.run_dir()
    t0 = time.perf_counter()
    timed = Timed(open_executor(config, decoder=decoder, run_dir=run_dir))
    started = time.perf_counter() - t0
    try:
        result = render_track(config, plan, decoder=decoder, run_dir=run_dir,
                              manifest=RunManifest(run_dir), cache_root=config.path("cache"),
                              executor=timed)  # fmt: skip
        wall = time.perf_counter() - t0
    finally:
        t1 = time.perf_counter()
        timed.close()
        stop = time.perf_counter() - t1
    if not result.ok:
        raise SystemExit(f"{executor} × {workers}: {result.error}")
    times = [t for t, _ in timed.arrivals]
    work = [s for _, s in timed.arrivals]
    phase = times[-1] - timed.started
    gaps = [b - a - s for a, b, s in zip(times, times[1:], work[1:], strict=False)]
    overhead = sorted(gaps)[len(gaps) // 2] if workers == 1 and gaps else None  # median
    first = times[0] - timed.started - work[0]  # start-up: pool/cluster, decoder, first hand-over
    return {"executor": executor, "workers": workers, "chunks": len(times), "frames": result.frames,
            "wall_s": wall, "start_s": started + first, "stop_s": stop, "chunk_phase_s": phase,
            "chunks_per_s": len(times) / max(phase - first, 1e-9),
            "e2e_fps": result.frames / wall,
            "chunk_render_s": sum(work) / len(work), "overhead_s": overhead,
            "tail_s": wall - (timed.started - t0) - phase,
            "chunk_hashes": result.chunk_hashes, "output": result.output}  # fmt: skip


def ray_share(workers: int) -> float:
    """CPUs per Ray task: a worker's share of this machine, as ``processes`` gives its workers."""
    from renderer.run.executors.jobs import worker_threads

    return float(worker_threads(workers=workers))


def album_run(config_path: Path, *, executor: str, workers: int, tag: str,
              config_args: dict) -> dict:  # fmt: skip
    """One real album run (``nts-render-album -q``), timed end to end in this process;
    ``config_args``: how ``config_path`` was written (for Ray's variant with its task share)."""
    from renderer.render_album import main as album_main

    if executor == "ray":
        config_path = write_config(config_path.parent, name=f"render-{tag}.yaml",
                                   render={"task_cpus": ray_share(workers)},
                                   **config_args)  # fmt: skip
    argv = ["--config", str(config_path), "--executor", executor, "--workers", str(workers),
            "--output-root", tag, "-q"]  # fmt: skip
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # the run's own summary
        code = album_main(argv)
    wall = time.perf_counter() - t0
    if code != 0:
        raise SystemExit(f"{executor} × {workers}: the album run exited with {code}")
    (meta,) = (config_path.parent / tag).glob("*/meta.json")
    tracks = json.loads(meta.read_text())["tracks"]
    frames = sum(t["frames"] for t in tracks)
    return {"executor": executor, "workers": workers, "tracks": len(tracks), "frames": frames,
            "wall_s": wall, "e2e_fps": frames / wall,
            "chunk_hashes": [[c["chunk_hash"] for c in t["chunks"]] for t in tracks]}  # fmt: skip


def prepare_seconds(config_path: Path) -> float:
    """Features + analysis + mastering of the excerpts, uncached (the cache is the run's own)."""
    from renderer.config.loading import load_config
    from renderer.config.tracklist import load_tracklist, resolve_track, select_tracks
    from renderer.run.prepare import prepare_track

    config = load_config(config_path, overrides={"output_root": "prepare"})
    tracks = load_tracklist(config.path(config.album.tracklist),
                            album_root=config.path(config.album.root))  # fmt: skip
    t0 = time.perf_counter()
    for plan in [resolve_track(config, t) for t in select_tracks(config, tracks)]:
        prepare_track(config, plan, run_dir=config.run_dir(), cache_root=config.path("cache"))
    return time.perf_counter() - t0


def film_seconds(config_path: Path, video: Path, audio: Path, *, duration: float) -> float:
    """The album film's serial tail for two copies of the track: video copy + audio encode."""
    from renderer.config.loading import load_config
    from renderer.run.film import FilmPart, build_album_film

    config = load_config(config_path)
    parts = [FilmPart(video, audio, duration, f"part {i}") for i in range(2)]
    work = Path(tempfile.mkdtemp(dir=config_path.parent))
    t0 = time.perf_counter()
    build_album_film(parts, work / "album.mp4", work_dir=work, profile=config.encode.profile,
                     sample_rate=config.audio.sample_rate)  # fmt: skip
    return time.perf_counter() - t0


def project(*, chunk_s: float, overhead_s: float, prepare_per_s: float, tail_per_s: float,
            film_per_s: float, album_s: float, track_s: float, chunk_seconds: float,
            machines: int, overlap: bool = False) -> float:  # fmt: skip
    """Wall seconds of an album of ``album_s`` seconds in tracks of ``track_s`` on ``machines``.

    Chunks go out one track at a time: ``ceil(chunks / machines)`` rounds per track.
    ``overlap=False`` (``local``'s schedule): each track's audio preparation and tail are serial.
    ``overlap=True`` (a pool's schedule, :mod:`renderer.run.schedule`): the next track is prepared
    and the previous one finished while a track's chunks render, so per track the longest of the
    three counts, plus the first preparation and the last tail. The film is serial either way."""
    tracks = max(1, round(album_s / track_s))
    rounds = math.ceil(math.ceil(track_s / chunk_seconds) / machines) * (chunk_s + overhead_s)
    prepare, tail = prepare_per_s * track_s, tail_per_s * track_s
    film = film_per_s * album_s
    if overlap:
        return prepare + tracks * max(rounds, prepare, tail) + tail + film
    return tracks * (prepare + rounds + tail) + film


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0, help="excerpt length (per track)")
    parser.add_argument("--resolution", default="1920x1080")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--chunk-seconds", type=float, default=10.0)
    parser.add_argument("--runs", help="executor:workers list (default: local:1,processes:2 "
                        "with --album, else all five)")  # fmt: skip
    parser.add_argument(
        "--album",
        type=int,
        default=0,
        metavar="N",
        help="time real album runs of the first N tracks (the bar's comparison)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="K",
        help="--album: run the list K times, interleaved (medians count)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the run folders")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.album == 1:
        parser.error("--album needs at least 2 tracks (one track is the default mode)")
    default = "local:1,processes:2" if args.album else ",".join(f"{e}:{w}" for e, w in RUNS)
    args.runs = [
        (e, int(w)) for e, w in (spec.split(":") for spec in (args.runs or default).split(","))
    ]
    return args


def runnable(runs: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """``runs`` less the Ray ones when Ray is not installed. Looked up, not imported: the private
    cluster keeps itself on loopback only when it is the first to import ``ray``."""
    if importlib.util.find_spec("ray") is None:
        if any(e == "ray" for e, _ in runs):
            print("ray not installed: skipping the ray runs", file=sys.stderr)
        return [(e, w) for e, w in runs if e != "ray"]
    return runs


def ratio_line(runs: list[dict]) -> str:
    """``processes × 2 / local`` end-to-end speed (medians), the bar's figure."""
    fps = {(r["executor"], r["workers"]): r["e2e_fps"] for r in runs}
    if ("local", 1) not in fps or ("processes", 2) not in fps:
        return "ratio processes × 2 / local: not measured (both runs are needed)"
    ratio = fps[("processes", 2)] / fps[("local", 1)]
    verdict = "no slower" if ratio >= 1.0 else "SLOWER"
    return f"ratio processes × 2 / local (end-to-end fps): {ratio:.3f} ({verdict}; bar ≥ 1.000)"


def main_album(args, folder: Path) -> int:
    config_args = {"seconds": args.seconds, "resolution": args.resolution, "fps": args.fps,
                   "chunk": args.chunk_seconds, "tracks": args.album}  # fmt: skip
    config = write_config(folder, **config_args)
    prep = prepare_seconds(config)
    every: dict[tuple[str, int], list[dict]] = {}
    for k in range(args.repeat):
        for executor, workers in runnable(args.runs):
            run = album_run(config, executor=executor, workers=workers,
                            tag=f"{executor}-{workers}-{k}", config_args=config_args)  # fmt: skip
            every.setdefault((executor, workers), []).append(run)
            print(f"{executor} × {workers} (round {k + 1}): {run['wall_s']:.1f} s, "
                  f"{run['e2e_fps']:.2f} fps", file=sys.stderr)  # fmt: skip
    runs = []
    for group in every.values():  # the median run of each
        runs.append(sorted(group, key=lambda r: r["wall_s"])[len(group) // 2] | {
            "walls_s": [r["wall_s"] for r in group]})  # fmt: skip
    same = len({json.dumps(r["chunk_hashes"]) for r in runs}) == 1
    frames = runs[0]["frames"]
    print(f"\nalbum run of {args.album} tracks × {args.seconds:g} s at {args.resolution} "
          f"{args.fps} fps, {args.chunk_seconds:g} s chunks, {frames} frames, {args.repeat} "
          f"round(s) interleaved, audio analysis cached ({prep:.1f} s uncached); identical "
          f"frames across runs: {same}\n")  # fmt: skip
    print("| executor | workers | wall s (median) | end-to-end fps | every round s |\n"
          "|---|---|---|---|---|")  # fmt: skip
    for r in runs:
        walls = ", ".join(f"{w:.1f}" for w in r["walls_s"])
        print(f"| {r['executor']} | {r['workers']} | {r['wall_s']:.1f} | {r['e2e_fps']:.2f} "
              f"| {walls} |")  # fmt: skip
    print("\n" + ratio_line(runs))
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)},
                                         "prepare_s": prep, "runs": runs, "identical": same},
                                        indent=1, default=str))  # fmt: skip
    return 0 if same else 1


def main_track(args, folder: Path) -> int:
    config = write_config(folder, seconds=args.seconds, resolution=args.resolution, fps=args.fps,
                          chunk=args.chunk_seconds)  # fmt: skip
    prep = prepare_seconds(config)
    runs = []
    for executor, workers in runnable(args.runs):
        runs.append(one_run(config, executor=executor, workers=workers,
                            tag=f"{executor}-{workers}"))  # fmt: skip
        print(f"{executor} × {workers}: {runs[-1]['wall_s']:.1f} s", file=sys.stderr)
    same = len({json.dumps(r["chunk_hashes"]) for r in runs}) == 1
    base = next(r for r in runs if r["executor"] == "local")
    duration = base["frames"] / args.fps
    film = film_seconds(config, Path(base["output"]),
                        Path(base["output"]).parent / "audio" / f"{Path(base['output']).stem}.wav",
                        duration=duration)  # fmt: skip
    print(f"\n{args.seconds:g} s excerpt at {args.resolution} {args.fps} fps, "
          f"{args.chunk_seconds:g} s chunks; identical frames across runs: {same}\n")  # fmt: skip
    print("| executor | workers | chunks/s | end-to-end fps | chunk render s | per-chunk overhead "
          "| start s | stop s |\n|---|---|---|---|---|---|---|---|")  # fmt: skip
    for r in runs:
        over = "–"
        if r["overhead_s"] is not None:
            share = 100 * r["overhead_s"] / r["chunk_render_s"]
            over = f"{1000 * r['overhead_s']:.0f} ms ({share:.1f} %)"
        print(f"| {r['executor']} | {r['workers']} | {r['chunks_per_s']:.3f} | {r['e2e_fps']:.1f} "
              f"| {r['chunk_render_s']:.1f} | {over} | {r['start_s']:.1f} "
              f"| {r['stop_s']:.1f} |")  # fmt: skip
    print("\n" + ratio_line(runs) + " — one track: nothing to overlap (use --album N for the bar)")
    inputs = {"chunk_s": base["chunk_render_s"] * args.chunk_seconds * base["chunks"] / duration,
              "prepare_per_s": prep / duration, "tail_per_s": base["tail_s"] / duration,
              "film_per_s": film / (2 * duration)}  # fmt: skip
    overheads = [r["overhead_s"] for r in runs if r["executor"] == "ray" and r["overhead_s"]]
    inputs["overhead_s"] = max(overheads or [base["overhead_s"] or 0.0])
    print(f"\nprojection inputs: chunk {inputs['chunk_s']:.1f} s per {args.chunk_seconds:g} s "
          f"chunk, overhead {inputs['overhead_s'] * 1000:.0f} ms per chunk, prepare "
          f"{inputs['prepare_per_s']:.3f} s and track tail {inputs['tail_per_s']:.3f} s per second "
          f"of audio, album film {inputs['film_per_s']:.4f} s per second\n")  # fmt: skip
    print("| machines | 60-minute album (12 × 5 min), one track after another | × realtime "
          "| pool schedule (tracks overlapped) | × realtime |\n|---|---|---|---|---|")  # fmt: skip
    projection = {}
    for n in (1, 2, 4, 8, 16, 32):
        serial, overlapped = (
            project(**inputs, album_s=3600, track_s=300, machines=n, overlap=o,
                    chunk_seconds=args.chunk_seconds)
            for o in (False, True)
        )  # fmt: skip
        projection[n] = {"serial_s": serial, "overlapped_s": overlapped}
        print(f"| {n} | {serial / 60:.0f} min | {3600 / serial:.2f} | {overlapped / 60:.0f} min "
              f"| {3600 / overlapped:.2f} |")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)},
                                         "prepare_s": prep, "film_s": film, "runs": runs,
                                         "inputs": inputs, "projection_s": projection,
                                         "identical": same}, indent=1, default=str))  # fmt: skip
    return 0 if same else 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="nts-scaling-"))
    try:
        return (main_album if args.album else main_track)(args, folder)
    finally:
        if args.keep:
            print(f"run folders kept in {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
