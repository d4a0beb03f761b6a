"""Render the whole album: every track's video, then ``album.mp4`` with one chapter per track.

``python renderer/render_album.py --config render.yaml [--resume] [--dry-run] [--quality full] …``

Writes ``renders/<run-id>/``: ``<id>.mp4`` per track (+ ``.webm`` when configured), ``album.mp4``,
``previews/`` (PNG keyframes at section starts, a GIF per track), ``thumbnails/<id>.jpg``
(1280×720), ``manifest.json`` (finished chunks, for ``--resume``) and ``meta.json`` (resolved
config, seeds, versions, model hashes, provider, per-chunk frame hashes, timings, reactivity). A
track that fails is reported and the others still render; the exit code is 1 if anything failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

from renderer.errors import NoiseToSignalError


def _versions(ffmpeg_path: str | None) -> dict:
    import librosa
    import numpy
    import onnxruntime
    import torch

    from renderer import __version__
    from renderer.ffmpeg_bin import ffmpeg_version, find_ffmpeg

    ffmpeg = find_ffmpeg(ffmpeg_path)
    return {
        "noise_to_signal": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "numpy": numpy.__version__,
        "librosa": librosa.__version__,
        "ffmpeg": ".".join(map(str, ffmpeg_version(ffmpeg))),
        "ffmpeg_path": ffmpeg,
        "platform": platform.platform(),
    }


def build_album_film(results, run_dir: Path, *, config) -> Path | None:
    """``album.mp4``: track videos stream-copied, one continuous audio stream, chapters."""
    import numpy as np
    import soundfile as sf

    from renderer.frame_writer import Chapter, concat_and_mux

    done = [r for r in results if r.ok]
    if not done:
        return None
    # One audio stream for the whole film: concatenating the per-track AAC streams would insert
    # encoder priming gaps at every boundary, so the mastered PCM is joined and encoded once.
    parts, sr = [], config.audio.sample_rate
    chapters, t = [], 0.0
    for r in done:
        y, sr = sf.read(r.audio, dtype="float32", always_2d=True)
        n = int(round(r.duration * sr))
        y = y[:n] if len(y) >= n else np.pad(y, ((0, n - len(y)), (0, 0)))
        parts.append(y)
        chapters.append(Chapter(t, t + r.duration, r.title or r.id))
        t += r.duration
    album_wav = run_dir / "audio" / "album.wav"
    sf.write(str(album_wav), np.concatenate(parts), sr, subtype="PCM_24")
    container = Path(done[0].output).suffix
    out = run_dir / f"album{container}"
    ffmpeg_path = str(config.encode.ffmpeg_path) if config.encode.ffmpeg_path else None
    concat_and_mux([Path(r.output) for r in done], album_wav, out, profile=config.encode.profile,
                   chapters=chapters, ffmpeg_path=ffmpeg_path, duration=t, title="noise-to-signal")  # fmt: skip
    return out


def write_meta(run_dir: Path, *, config, plans, results, decoder, versions, seconds, album) -> Path:
    from renderer.chunks import RunManifest

    manifest = RunManifest(run_dir).data
    meta = {
        "run_id": config.run_identity(),
        "created_by": "noise-to-signal renderer",
        "config": config.to_dict(),
        "tracks": [],
        "model": {
            "dir": str(decoder.meta.model_dir),
            "artefacts": decoder.meta.artefacts,
            "backend": config.model.backend,
            "provider": decoder.provider,
        },
        "versions": versions,
        "render_seconds": round(seconds, 2),
        "album": str(album) if album else None,
    }
    for plan, r in zip(plans, results, strict=True):
        chunks = manifest["tracks"].get(plan.id, {}).get("chunks", {})
        meta["tracks"].append({
            **plan.to_dict(), "ok": r.ok, "error": r.error, "output": r.output, "webm": r.webm,
            "frames": r.frames, "duration": r.duration, "render_seconds": round(r.seconds, 2),
            "fps": round(r.fps, 2), "chunks_rendered": r.chunks_rendered,
            "chunks_skipped": r.chunks_skipped, "sync_error_ms": r.sync_error_ms,
            "loudness": r.loudness, "analysis": r.analysis, "reactivity": r.reactivity,
            "previews": r.previews,
            "chunks": [{"index": int(i), **{k: c[k] for k in ("start", "stop", "chunk_hash",
                        "segment_sha256", "seconds", "frame_hashes")}} for i, c in sorted(chunks.items(), key=lambda kv: int(kv[0]))],
        })  # fmt: skip
    path = run_dir / "meta.json"
    tmp = path.with_name(".meta.json.partial")
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, path)
    return path


def print_summary(
    console, results, *, run_dir: Path, album: Path | None, seconds: float, provider: str
) -> None:
    from rich.table import Table

    table = Table(title=f"render summary — {run_dir}")
    for col in ("track", "status", "file", "duration", "render", "fps", "chunks", "sync ms",
                "onset corr", "beats hit"):  # fmt: skip
        table.add_column(col)
    for r in results:
        react = r.reactivity or {}
        corr = react.get("onset_pearson")
        hit = react.get("beat_accent_rate")
        table.add_row(
            r.id,
            "[green]ok[/green]" if r.ok else f"[red]failed[/red]: {r.error}",
            Path(r.output).name if r.output else "—",
            f"{r.duration:.1f} s",
            f"{r.seconds:.0f} s",
            f"{r.fps:.1f}",
            f"{r.chunks_rendered} new / {r.chunks_skipped} reused",
            "—" if r.sync_error_ms is None else f"{r.sync_error_ms:.1f}",
            "—" if corr is None else f"{corr:.2f}",
            "—" if hit is None else f"{hit:.0%}",
        )
    console.print(table)
    frames = sum(r.frames for r in results if r.ok)
    console.print(f"album film: {album or '—'}   total {frames} frames in {seconds:.0f} s "
                  f"({frames / max(seconds, 1e-9):.1f} fps) on {provider}")  # fmt: skip


def run_album(args, *, album_film: bool = True) -> int:
    """The body of both CLIs: returns the process exit code."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,  # fmt: skip
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from renderer.chunks import RunManifest
    from renderer.config_schema import load_config, overrides_from_args
    from renderer.decoder import open_decoder
    from renderer.tracklist import load_tracklist, resolve_track, select_tracks

    console = Console(stderr=True)
    try:
        config = load_config(args.config, overrides=overrides_from_args(args))
        tracks = load_tracklist(
            config.path(config.album.tracklist), album_root=config.path(config.album.root)
        )
        plans = [resolve_track(config, t) for t in select_tracks(config, tracks)]
    except NoiseToSignalError as exc:
        console.print(f"[red]error[/red] {exc}")
        return 2
    run_dir = config.run_dir()
    if config.run.dry_run:
        from rich.table import Table

        table = Table(
            title=f"plan — {run_dir} ({config.resolution[0]}×{config.resolution[1]} @ {config.frame_rate} fps)"
        )
        for col in ("track", "src", "preset", "seed", "chunks"):
            table.add_column(col)
        for p in plans:
            table.add_row(
                p.id,
                str(p.track.src),
                p.preset,
                str(p.seed),
                f"{config.render.chunk_seconds:g} s each",
            )
        console.print(table)
        return 0
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.resolved.json").write_text(json.dumps(config.to_dict(), indent=1))
    start = time.perf_counter()
    try:
        decoder = open_decoder(config.path(config.model.dir), backend=config.model.backend,
                               provider=config.decoder.execution_provider,
                               batch_size=config.decoder.batch_size, threads=config.decoder.threads)  # fmt: skip
        ffmpeg_path = str(config.encode.ffmpeg_path) if config.encode.ffmpeg_path else None
        versions = _versions(ffmpeg_path)
    except NoiseToSignalError as exc:
        console.print(f"[red]error[/red] {exc}")
        return 2
    console.print(
        f"model {decoder.meta.model_dir} on [bold]{decoder.provider}[/bold]; run dir {run_dir}"
    )
    manifest = RunManifest(run_dir)
    cache_root = config.path("cache")
    results = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
               TextColumn("{task.fields[fps]:>5.1f} fps"), TimeElapsedColumn(), TextColumn("ETA"),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("album", total=None, fps=0.0)
        t0 = time.perf_counter()
        done_frames = [0]

        def on_frames(n: int) -> None:
            done_frames[0] += n
            elapsed = time.perf_counter() - t0
            progress.update(task, advance=n, fps=done_frames[0] / max(elapsed, 1e-9))

        def on_start(track_id: str, n: int) -> None:
            progress.update(task, description=track_id, total=(progress.tasks[0].total or 0) + n)

        from renderer.render_track import render_track

        for plan in plans:
            result = render_track(config, plan, decoder=decoder, run_dir=run_dir, manifest=manifest,
                                  cache_root=cache_root, on_frames=on_frames, on_start=on_start)  # fmt: skip
            if not result.ok:
                progress.console.print(f"[red]track {plan.id} failed:[/red] {result.error}")
            results.append(result)
    album = None
    if album_film and len(plans) > 1:
        try:
            album = build_album_film(results, run_dir, config=config)
        except NoiseToSignalError as exc:
            console.print(f"[red]album film failed:[/red] {exc}")
    seconds = time.perf_counter() - start
    write_meta(run_dir, config=config, plans=plans, results=results, decoder=decoder,
               versions=versions, seconds=seconds, album=album)  # fmt: skip
    if all(r.ok for r in results) and not (config.render.keep_frames or config.render.debug_frames):
        for folder in ("segments", "audio"):  # intermediates, only ever inside the run dir
            shutil.rmtree(run_dir / folder, ignore_errors=True)
    print_summary(
        console, results, run_dir=run_dir, album=album, seconds=seconds, provider=decoder.provider
    )
    return 0 if all(r.ok for r in results) else 1


def main(argv: list[str] | None = None) -> int:
    from renderer.config_schema import add_cli_arguments

    parser = argparse.ArgumentParser(prog="nts-render-album", description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("render.yaml"), help="render config")
    add_cli_arguments(parser)
    return run_album(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
