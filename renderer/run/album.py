"""The album run: plan the tracks, render each (one broken track does not stop the others),
build ``album.mp4`` (one chapter per track), write ``meta.json`` and print the summary.

Writes ``renders/<run-id>/``: ``<id>.mp4`` per track (+ ``.webm`` when configured), ``album.mp4``,
``previews/`` (PNG keyframes at section starts, a GIF per track), ``thumbnails/<id>.jpg``
(1280×720), ``manifest.json`` (finished chunks and tracks, for ``--resume``) and ``meta.json``
(resolved config, seeds, versions, model hashes, provider, per-chunk frame hashes, timings,
reactivity). The exit code is 0 when everything rendered, 1 when something failed, 2 for bad
input (config, tracklist, model) before anything was rendered.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from renderer.errors import NoiseToSignalError
from renderer.run.page import publish_run_page
from renderer.run.prepare import remaster


def _film(results, plans, run_dir: Path, *, config, manifest) -> Path | None:
    """The album film, reused when this run already made it from the same track files."""
    parts = [manifest.output_sha256(r.id, Path(r.output)) or "" for r in results if r.ok]
    if config.run.resume and (film := manifest.completed_film(parts=parts)) is not None:
        return film
    audio = {}  # tracks finished by an earlier invocation lost their mastered WAV: remake it
    for plan, r in zip(plans, results, strict=True):
        if r.ok:
            audio[r.id] = (
                Path(r.audio) if Path(r.audio).is_file() else remaster(config, plan, run_dir)
            )
    film = album_film(results, run_dir, config=config, audio=audio)
    if film is not None and all(parts):
        manifest.complete_film(film, parts=parts)
    return film


def album_film(results, run_dir: Path, *, config, audio: dict[str, Path]) -> Path | None:
    """``album.mp4`` from the tracks that rendered and their mastered WAVs ``audio`` (by id),
    see :mod:`renderer.run.film`."""
    from renderer.encode.profiles import get_profile
    from renderer.run.film import FilmPart, build_album_film

    parts = [
        FilmPart(Path(r.output), audio[r.id], r.duration, r.title or r.id) for r in results if r.ok
    ]
    container = get_profile(config.encode.profile).container
    return build_album_film(
        parts,
        run_dir / f"album.{container}",
        work_dir=run_dir / "audio",
        profile=config.encode.profile,
        sample_rate=config.audio.sample_rate,
        ffmpeg_path=str(config.encode.ffmpeg_path) if config.encode.ffmpeg_path else None,
    )


def run_album(args, *, with_film: bool = True) -> int:
    """The body of both CLIs (``args`` from :func:`renderer.config.cli.add_cli_arguments` plus
    ``--config``): returns the process exit code."""
    from renderer.decode.cpu_features import prepare_render_process

    prepare_render_process()  # before any decoder library loads
    from renderer.config.cli import overrides_from_args
    from renderer.config.discover import load_run_inputs
    from renderer.config.tracklist import resolve_track, select_tracks
    from renderer.console import make_console, verbosity
    from renderer.files import remove_partials, write_text_atomic
    from renderer.run.decoders import close_all, open_decoders, open_executors
    from renderer.run.summary import print_plan, versions

    console = make_console(verbosity=verbosity(args))
    try:  # a config + tracklist, or (no config) the audio files named on the command line
        config, tracks = load_run_inputs(config_path=getattr(args, "config", None),
                                         source=getattr(args, "audio", None),
                                         overrides=overrides_from_args(args))  # fmt: skip
        plans = [resolve_track(config, t) for t in select_tracks(config, tracks)]
    except NoiseToSignalError as exc:
        console.print(f"[red]error[/red] {exc}")
        return 2
    run_dir = config.run_dir()
    if config.run.dry_run or console.verbosity > 0:
        print_plan(console, config=config, plans=plans, run_dir=run_dir,
                   dry_run=config.run.dry_run)  # fmt: skip
        if config.run.dry_run:
            return 0
    start = time.perf_counter()
    try:  # model and FFmpeg first: a run that cannot start leaves no folder behind
        decoders = open_decoders(config, plans)  # one per backend the tracks use
        ffmpeg_path = str(config.encode.ffmpeg_path) if config.encode.ffmpeg_path else None
        run_versions = versions(ffmpeg_path=ffmpeg_path)
        executors = open_executors(config, decoders, run_dir=run_dir)  # ARCHITECTURE §8
    except NoiseToSignalError as exc:
        console.print(f"[red]error[/red] {exc}")
        return 2
    try:
        write_text_atomic(run_dir / "config.resolved.json", json.dumps(config.to_dict(), indent=1))
    except NoiseToSignalError as exc:
        console.print(f"[red]error[/red] {exc}")
        return 1
    try:
        return _render_run(console, config, plans, decoders=decoders, run_dir=run_dir,
                           versions=run_versions, start=start, with_film=with_film,
                           executors=executors)  # fmt: skip
    finally:
        close_all(executors)
        remove_partials(run_dir)  # a write cut short (disk full, crash) leaves no litter


def _render_run(console, config, plans, *, decoders: dict, run_dir: Path, versions: dict,
                start: float, with_film: bool, executors: dict) -> int:  # fmt: skip
    """Render the planned tracks (each with its backend's decoder and executor) and the film,
    write meta.json and print the summary."""
    from renderer.console import AlbumProgress
    from renderer.files import describe_write_failure
    from renderer.run.decoders import primary
    from renderer.run.dispatch import SharedManifest
    from renderer.run.schedule import render_tracks
    from renderer.run.summary import planned_frames, print_summary, write_meta

    decoder = primary(decoders, config)
    console.info(f"model {decoder.meta.model_dir} on [bold]{decoder.provider}[/bold]; "
                 f"run dir {run_dir}", soft_wrap=True)  # fmt: skip
    manifest = SharedManifest(run_dir)  # threads share it when the tracks overlap
    # The whole album's frames from the start (header durations), exact once each track is read.
    estimates = {p.id: planned_frames(p, fps=config.frame_rate) for p in plans}
    with AlbumProgress(console, estimates=estimates) as progress:

        def report(result) -> None:
            if not result.ok:
                progress.note(f"[red]track {result.id} failed:[/red] {result.error}")
            else:
                console.detail(f"{result.id}: {result.frames} frames in {result.seconds:.0f} s "
                               f"-> {result.output}", soft_wrap=True)  # fmt: skip

        results = render_tracks(config, plans, decoders=decoders, executors=executors,
                                run_dir=run_dir, manifest=manifest,
                                cache_root=config.path("cache"), progress=progress,
                                report=report)  # fmt: skip
    album, film_ok = None, True
    if with_film and len(plans) > 1:
        try:
            album = _film(results, plans, run_dir, config=config, manifest=manifest)
        except (NoiseToSignalError, ValueError) as exc:
            film_ok = False
            console.print(f"[red]album film failed:[/red] {exc}")
        except (OSError, RuntimeError) as exc:  # e.g. libsndfile on a full disk
            film_ok = False
            film = run_dir / "album.mp4"
            console.print(f"[red]album film failed:[/red] {describe_write_failure(film, exc)}")
    seconds = time.perf_counter() - start
    try:
        write_meta(run_dir, config=config, plans=plans, results=results, decoder=decoder,
                   versions=versions, seconds=seconds, album=album)  # fmt: skip
    except NoiseToSignalError as exc:
        film_ok = False
        console.print(f"[red]error[/red] {exc}")
    ok = film_ok and all(r.ok for r in results)
    if ok and not (config.render.keep_frames or config.render.debug_frames):
        for folder in ("segments", "audio"):  # intermediates, only ever inside the run dir
            shutil.rmtree(run_dir / folder, ignore_errors=True)
    print_summary(
        console, results, run_dir=run_dir, album=album, seconds=seconds, provider=decoder.provider
    )
    ok = publish_run_page(console, run_dir) and ok  # index.html, rewritten by every run
    return 0 if ok else 1
