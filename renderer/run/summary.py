"""What a run reports: ``meta.json`` (how every output was made), the end-of-run summary table
and the ``--dry-run`` plan table."""

from __future__ import annotations

import json
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Rough end-to-end throughput at 1080p on the 2-core reference CPU (ARCHITECTURE §10: ~10 fps);
# the dry-run estimate scales it by pixel count. An estimate only, printed as such.
REFERENCE_FPS_1080P = 10.0


def versions(*, ffmpeg_path: str | None) -> dict[str, str]:
    """Versions that decide whether a rerun gives the same bytes (ARCHITECTURE §3)."""
    import numpy

    from renderer import __version__
    from renderer.encode.ffmpeg_bin import ffmpeg_version, find_ffmpeg

    ffmpeg = find_ffmpeg(ffmpeg_path)
    return {
        "noise_to_signal": __version__,
        "python": platform.python_version(),
        # from the package metadata (the same strings as ``__version__``): importing torch costs
        # ~2 s and ONNX Runtime starts its telemetry, both the backends' business alone
        "torch": _dist_version("torch"),
        "onnxruntime": _dist_version("onnxruntime-gpu", "onnxruntime"),
        "numpy": numpy.__version__,
        "librosa": _dist_version("librosa"),
        "ffmpeg": ".".join(map(str, ffmpeg_version(ffmpeg))),
        "ffmpeg_path": ffmpeg,
        "platform": platform.platform(),
    }


def _dist_version(*names: str) -> str:
    from importlib import metadata

    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "not installed"


def _chunk_records(manifest: dict[str, Any], track_id: str) -> list[dict[str, Any]]:
    chunks = manifest["tracks"].get(track_id, {}).get("chunks", {})
    keys = ("start", "stop", "chunk_hash", "segment_sha256", "seconds", "frame_hashes")
    return [
        {"index": int(i), **{k: c[k] for k in keys}}
        for i, c in sorted(chunks.items(), key=lambda kv: int(kv[0]))
    ]


def write_meta(
    run_dir: Path,
    *,
    config,
    plans: Sequence,
    results: Sequence,
    decoder,
    versions: dict[str, str],
    seconds: float,
    album: Path | None,
) -> Path:
    """Write ``<run_dir>/meta.json`` atomically: config, seeds, versions, model, per-chunk hashes."""
    from renderer.run.chunks import RunManifest

    manifest = RunManifest(run_dir).data
    meta: dict[str, Any] = {
        "run_id": config.run_identity(),
        "created_by": "noise-to-signal renderer",
        "config": config.to_dict(),
        "seed": config.seed,
        "model": {
            "dir": str(decoder.meta.model_dir),
            "artefacts": decoder.meta.artefacts,
            "backend": config.model.backend,
            "provider": decoder.provider,
        },
        "versions": versions,
        "render_seconds": round(seconds, 2),
        "album": str(album) if album else None,
        "tracks": [],
    }
    for plan, r in zip(plans, results, strict=True):
        meta["tracks"].append(
            {
                **plan.to_dict(),
                "ok": r.ok,
                "error": r.error,
                "warnings": r.warnings,
                "output": r.output,
                "webm": r.webm,
                "frames": r.frames,
                "duration": r.duration,
                "render_seconds": round(r.seconds, 2),
                "fps": round(r.fps, 2),
                "chunks_rendered": r.chunks_rendered,
                "chunks_skipped": r.chunks_skipped,
                "sync_error_ms": r.sync_error_ms,
                "loudness": r.loudness,
                "analysis": r.analysis,
                "reactivity": r.reactivity,
                "previews": r.previews,
                "chunks": _chunk_records(manifest, plan.id),
            }
        )
    from renderer.files import write_text_atomic

    return write_text_atomic(run_dir / "meta.json", json.dumps(meta, indent=1))


def print_summary(
    console, results: Sequence, *, run_dir: Path, album: Path | None, seconds: float, provider: str
) -> None:
    """The end-of-run table (fits 80 columns; long cells fold, nothing is cut), then the files,
    errors and warnings in full below it. With ``-q`` only the files, errors and warnings."""
    from rich.table import Table

    quiet = getattr(console, "verbosity", 0) < 0
    table = Table(title="render summary", title_justify="left", padding=(0, 1))
    for col, justify in (("track", "left"), ("status", "left"), ("length", "right"),
                         ("render", "right"), ("fps", "right"), ("chunks\nnew+old", "right"),
                         ("sync\nms", "right"), ("onset\nr", "right"), ("beats\nhit", "right")):  # fmt: skip
        table.add_column(col, justify=justify, overflow="fold")
    for r in results:
        react = r.reactivity or {}
        corr, hit = react.get("onset_pearson"), react.get("beat_accent_rate")
        title = r.title if r.title and r.title != r.id else ""
        table.add_row(
            f"{r.id}\n{title}" if title else r.id,
            "[green]ok[/green]" if r.ok else "[red]failed[/red]",
            f"{r.duration:.1f} s",
            f"{r.seconds:.0f} s",
            f"{r.fps:.1f}",
            f"{r.chunks_rendered}+{r.chunks_skipped}",
            "—" if r.sync_error_ms is None else f"{r.sync_error_ms:.1f}",
            "—" if corr is None else f"{corr:.2f}",
            "—" if hit is None else f"{hit:.0%}",
        )
    if not quiet:
        console.print(table)
    console.print(f"run folder: {run_dir}", soft_wrap=True)
    for r in results:
        if r.ok and r.output:
            console.print(f"  {r.id}: {Path(r.output).name}", soft_wrap=True)
    for r in results:
        if not r.ok:
            console.print(f"[red]failed[/red] {r.id}: {r.error}", soft_wrap=True)
        for warning in r.warnings:
            console.print(f"[yellow]warning[/yellow] {r.id}: {warning}", soft_wrap=True)
    frames = sum(r.frames for r in results if r.ok)
    if album is not None or len(results) > 1:
        console.print(f"album film: {album or '—'}", soft_wrap=True)
    if not quiet:
        console.print(f"total {frames} frames in {seconds:.0f} s "
                      f"({frames / max(seconds, 1e-9):.1f} fps) on {provider}")  # fmt: skip


def planned_frames(plan, *, fps: int) -> int | None:
    """Frames the track will have (``round(trimmed duration × fps)``) from the audio header, or
    ``None`` when the header states no duration (the exact count comes once it is decoded)."""
    from renderer.audio.features import n_video_frames

    duration = audio_duration(plan.track.src)
    if duration is None:
        return None
    end = plan.trim.end if plan.trim.end is not None else duration
    return n_video_frames(max(0.0, min(end, duration) - plan.trim.start), fps)


def audio_duration(path: Path) -> float | None:
    """Duration from the file header (no decode); ``None`` when the header cannot be read."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except (RuntimeError, OSError, sf.LibsndfileError):
        return _tag_duration(path)  # m4a, opus, wma…: formats libsndfile does not read
    return info.frames / info.samplerate if info.samplerate else None


def _tag_duration(path: Path) -> float | None:
    from renderer.config.discover import read_tags

    duration = read_tags(path).duration
    return duration if duration and duration > 0 else None


def print_plan(console, *, config, plans: Sequence, run_dir: Path, dry_run: bool = True) -> None:
    """The plan table (``--dry-run``, and before a ``-v`` render): tracks, frames, chunks and an
    estimated render time. Long cells (paths) fold at 80 columns rather than being cut."""
    import math

    from rich.table import Table

    fps, (w, h) = config.frame_rate, config.resolution
    est_fps = REFERENCE_FPS_1080P * (1920 * 1080) / (w * h) / config.render.oversample
    console.print(
        f"plan — {run_dir} ({w}×{h} @ {fps} fps, {config.encode.profile})", soft_wrap=True
    )
    table = Table(padding=(0, 1))
    for col in ("track", "src", "preset", "seed", "length", "frames", "chunks", "est.\ntime"):
        table.add_column(col, overflow="fold")
    total_frames = 0
    chunk = max(1, round(config.render.chunk_seconds * fps))
    for p in plans:
        frames = planned_frames(p, fps=fps)
        total_frames += frames or 0
        table.add_row(
            p.id,
            str(p.track.src),
            p.preset,
            str(p.seed),
            "?" if frames is None else f"{frames / fps:.1f} s",
            "?" if frames is None else str(frames),
            "?" if frames is None else f"{math.ceil(frames / chunk)} × {chunk}",
            "?" if frames is None else f"~{frames / est_fps:.0f} s",
        )
    console.print(table)
    console.print(
        f"{len(plans)} track(s), {total_frames} frames; estimated ~{total_frames / est_fps / 60:.1f} "
        f"min at ~{est_fps:.0f} fps (reference 2-core CPU; a GPU is much faster)."
        + (" Nothing rendered." if dry_run else "")
    )
