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
    import librosa
    import numpy
    import torch

    from renderer import __version__
    from renderer.encode.ffmpeg_bin import ffmpeg_version, find_ffmpeg

    ffmpeg = find_ffmpeg(ffmpeg_path)
    return {
        "noise_to_signal": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        # from the package metadata: importing ONNX Runtime (and its telemetry) is the onnx
        # backend's business alone
        "onnxruntime": _dist_version("onnxruntime-gpu", "onnxruntime"),
        "numpy": numpy.__version__,
        "librosa": librosa.__version__,
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
    """The end-of-run table: files, durations, render time, fps, sync and reactivity."""
    from rich.table import Table

    table = Table(title=f"render summary — {run_dir}")
    for col in ("track", "status", "file", "duration", "render", "fps", "chunks", "sync ms",
                "onset corr", "beats hit"):  # fmt: skip
        table.add_column(col)
    for r in results:
        react = r.reactivity or {}
        corr, hit = react.get("onset_pearson"), react.get("beat_accent_rate")
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
    for r in results:
        for warning in r.warnings:
            console.print(f"[yellow]warning[/yellow] {r.id}: {warning}")
    frames = sum(r.frames for r in results if r.ok)
    console.print(
        f"album film: {album or '—'}   total {frames} frames in {seconds:.0f} s "
        f"({frames / max(seconds, 1e-9):.1f} fps) on {provider}"
    )


def audio_duration(path: Path) -> float | None:
    """Duration from the file header (no decode); ``None`` when the header cannot be read."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except (RuntimeError, OSError, sf.LibsndfileError):
        return None
    return info.frames / info.samplerate if info.samplerate else None


def print_plan(console, *, config, plans: Sequence, run_dir: Path) -> None:
    """The ``--dry-run`` table: tracks, frames, chunks and an estimated render time."""
    import math

    from rich.table import Table

    fps, (w, h) = config.frame_rate, config.resolution
    est_fps = REFERENCE_FPS_1080P * (1920 * 1080) / (w * h) / config.render.oversample
    table = Table(title=f"plan — {run_dir} ({w}×{h} @ {fps} fps, {config.encode.profile})")
    for col in ("track", "src", "preset", "seed", "duration", "frames", "chunks", "est. time"):
        table.add_column(col)
    total_frames = 0
    for p in plans:
        duration = audio_duration(p.track.src)
        if duration is not None:
            end = p.trim.end if p.trim.end is not None else duration
            duration = max(0.0, min(end, duration) - p.trim.start)
        frames = round(duration * fps) if duration is not None else None
        total_frames += frames or 0
        chunk = max(1, round(config.render.chunk_seconds * fps))
        table.add_row(
            p.id,
            str(p.track.src),
            p.preset,
            str(p.seed),
            "?" if duration is None else f"{duration:.1f} s",
            "?" if frames is None else str(frames),
            "?" if frames is None else f"{math.ceil(frames / chunk)} × {chunk}",
            "?" if frames is None else f"~{frames / est_fps:.0f} s",
        )
    console.print(table)
    console.print(
        f"{len(plans)} track(s), {total_frames} frames; estimated ~{total_frames / est_fps / 60:.1f} "
        f"min at ~{est_fps:.0f} fps (reference 2-core CPU; a GPU is much faster). Nothing rendered."
    )
