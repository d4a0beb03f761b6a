"""How rendering scales over executors and workers (ARCHITECTURE §8), and what N machines take.

``python benchmarks/scaling.py [--seconds 40] [--resolution 1920x1080] [--fps 30]
[--chunk-seconds 10] [--runs local:1,processes:2] [--json FILE]``

Renders one excerpt of the bundled album's first track (its preset, the real model) with each of
``local``, ``processes`` and ``ray`` with 1 and 2 workers (Ray when installed), each
into its own fresh run folder, after one untimed preparation of the audio (so every run finds the
features and analysis cached, and the preparation is timed once on its own). For each run:

- chunks/s over the chunk phase (first job handed over → last segment recorded);
- end-to-end fps of the track (prepare from cache, chunks, concat + mux, probe, reactivity,
  previews);
- per-chunk overhead of the executor: with one worker, the gap between two consecutive segments
  arriving minus the worker's own render time of the later chunk (IPC, pickling, the object store,
  the orchestrator's atomic write and manifest record), as ms and as % of the chunk's render time;
  the one-off start (pool / cluster start, each worker opening its decoder) is reported apart.

Then a projection for N machines, each rendering chunks as fast as ``local`` does here, from the
measured chunk time and overhead, with every serial part included: per track the audio preparation
(uncached) and the track's tail (concat + mux + probe + reactivity), and at the end the album film
(video copy + one continuous audio encode), each scaled by the audio's duration. The orchestrator
fans out one track's chunks at a time, so a track's ``ceil(chunks / N)`` rounds are followed by its
serial tail. Prints a Markdown table; ``--json FILE`` writes the figures.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # `python benchmarks/scaling.py`
    sys.path[0] = str(Path(__file__).resolve().parents[1])

ROOT = Path(__file__).resolve().parents[1]
RUNS = [("local", 1), ("processes", 1), ("processes", 2), ("ray", 1), ("ray", 2)]


def write_config(folder: Path, *, seconds: float, resolution: str, fps: int, chunk: float) -> Path:
    """A render.yaml for one trimmed track of the bundled album (absolute paths)."""
    import yaml

    from renderer.config.reading import read_yaml

    raw = read_yaml(ROOT / "render.yaml")
    first = raw["tracks"][0]
    width, height = (int(v) for v in resolution.lower().split("x"))
    raw.update(output_root=str(folder / "renders"), frame_rate=fps, resolution=[width, height],
               album={"root": str(ROOT / "album"), "tracklist": str(ROOT / "album/tracklist.json")},
               tracks=[{**first, "trim": {"start": 0.0, "end": float(seconds)}}])  # fmt: skip
    raw["model"] = {**raw.get("model", {}), "dir": str(ROOT / "models")}
    raw["render"] = {**raw.get("render", {}), "chunk_seconds": chunk}
    raw["run"] = {"tracks": [first["id"]]}
    path = folder / "render.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


class Timed:
    """An executor wrapper that timestamps every output as it arrives."""

    def __init__(self, inner) -> None:
        self.inner, self.arrivals, self.started = inner, [], None

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
    if executor == "ray":  # each task gets a worker's share of this machine, as `processes` does
        from renderer.run.executors.jobs import worker_threads

        share = {"task_cpus": float(worker_threads(workers=workers))}
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


def prepare_seconds(config_path: Path) -> float:
    """Features + analysis + mastering of the excerpt, uncached (the cache is the run's own)."""
    from renderer.config.loading import load_config
    from renderer.config.tracklist import load_tracklist, resolve_track, select_tracks
    from renderer.run.prepare import prepare_track

    config = load_config(config_path, overrides={"output_root": "prepare"})
    tracks = load_tracklist(config.path(config.album.tracklist),
                            album_root=config.path(config.album.root))  # fmt: skip
    (plan,) = [resolve_track(config, t) for t in select_tracks(config, tracks)]
    t0 = time.perf_counter()
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

    ``overlap=False``: today's orchestrator, one track's chunks at a time, so each track's audio
    preparation and tail are serial. ``overlap=True``: the bound if the driver prepared and
    finished tracks while the machines render other tracks' chunks (the driver's work hidden
    unless it is the longer part); the album film stays serial either way."""
    tracks = max(1, round(album_s / track_s))
    chunks = math.ceil(track_s / chunk_seconds)
    driver = (prepare_per_s + tail_per_s) * track_s
    if overlap:
        rendering = math.ceil(tracks * chunks / machines) * (chunk_s + overhead_s)
        return max(rendering, tracks * driver) + film_per_s * album_s
    per_track = driver + math.ceil(chunks / machines) * (chunk_s + overhead_s)
    return tracks * per_track + film_per_s * album_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0, help="excerpt length")
    parser.add_argument("--resolution", default="1920x1080")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--chunk-seconds", type=float, default=10.0)
    parser.add_argument("--runs", default=",".join(f"{e}:{w}" for e, w in RUNS),
                        help="executor:workers list")  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="nts-scaling-"))
    config = write_config(folder, seconds=args.seconds, resolution=args.resolution, fps=args.fps,
                          chunk=args.chunk_seconds)  # fmt: skip
    prep = prepare_seconds(config)
    runs = []
    for spec in args.runs.split(","):
        executor, workers = spec.split(":")
        if executor == "ray":
            try:
                import ray  # noqa: F401
            except ImportError:
                print("ray not installed: skipping the ray runs", file=sys.stderr)
                continue
        runs.append(one_run(config, executor=executor, workers=int(workers),
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
    inputs = {"chunk_s": base["chunk_render_s"] * args.chunk_seconds * base["chunks"] / duration,
              "prepare_per_s": prep / duration, "tail_per_s": base["tail_s"] / duration,
              "film_per_s": film / (2 * duration)}  # fmt: skip
    overheads = [r["overhead_s"] for r in runs if r["executor"] == "ray" and r["overhead_s"]]
    inputs["overhead_s"] = max(overheads or [base["overhead_s"] or 0.0])
    print(f"\nprojection inputs: chunk {inputs['chunk_s']:.1f} s per {args.chunk_seconds:g} s "
          f"chunk, overhead {inputs['overhead_s'] * 1000:.0f} ms per chunk, prepare "
          f"{inputs['prepare_per_s']:.3f} s and track tail {inputs['tail_per_s']:.3f} s per second "
          f"of audio, album film {inputs['film_per_s']:.4f} s per second\n")  # fmt: skip
    print("| machines | 60-minute album (12 × 5 min), today | × realtime | tracks overlapped "
          "(bound) | × realtime |\n|---|---|---|---|---|")  # fmt: skip
    projection = {}
    for n in (1, 2, 4, 8, 16, 32):
        today, bound = (
            project(**inputs, album_s=3600, track_s=300, machines=n, overlap=o,
                    chunk_seconds=args.chunk_seconds)
            for o in (False, True)
        )  # fmt: skip
        projection[n] = {"today_s": today, "overlapped_s": bound}
        print(f"| {n} | {today / 60:.0f} min | {3600 / today:.2f} | {bound / 60:.0f} min "
              f"| {3600 / bound:.2f} |")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)},
                                         "prepare_s": prep, "film_s": film, "runs": runs,
                                         "inputs": inputs, "projection_s": projection,
                                         "identical": same}, indent=1, default=str))  # fmt: skip
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
