"""One track: audio → features/analysis → latents → frames → segments → ``<id>.mp4``.

Three phases, each returning a frozen record or a failed :class:`TrackResult`:
:func:`begin_track` (reuse a finished track, or prepare the audio side), :func:`render_track_chunks`
(the chunks go to an executor, :mod:`renderer.run.executors`: this process, a local pool or Ray,
through :mod:`renderer.run.dispatch`, which writes and records every segment that comes back) and
:func:`finish_track` (the tail: previews, mux, probe, reactivity, run here whichever executor
rendered the chunks). :func:`render_track` runs them one after another; the album run
(:mod:`renderer.run.album`) overlaps them across tracks when the chunks render on a pool.

Finished chunks are recorded in the run manifest and skipped on ``--resume`` after their segment
hash is verified; a finished track is recorded with the hashes of its files and reused whole.
No phase raises for a bad track (the error is in the result), so one broken track does not stop
the album.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import TypeVar

from renderer.errors import NoiseToSignalError, RenderError
from renderer.run.chunks import RunManifest, plan_chunks
from renderer.run.dispatch import render_chunks, segment_path
from renderer.run.prepare import prepare_track
from renderer.run.records import PreparedTrack, RenderedTrack, StartedTrack, TrackResult

T = TypeVar("T")


def render_track(
    config,
    plan,
    *,
    decoder,
    run_dir: Path,
    manifest: RunManifest,
    cache_root: Path = Path("cache"),
    on_frames: Callable[[int], None] = lambda n: None,
    on_start: Callable[[str, int], None] = lambda track_id, n: None,
    executor=None,
) -> TrackResult:
    """Render one track into ``run_dir``, its three phases one after another; errors are caught
    and returned in the result, and problems with the input that did not stop it
    (:class:`AudioWarning`) are listed in it. ``executor``
    (:func:`renderer.run.executors.open_executor`) renders the chunks; default: this process
    with ``decoder``."""
    begun = begin_track(config, plan, decoder=decoder, run_dir=run_dir, manifest=manifest,
                        cache_root=cache_root)  # fmt: skip
    if isinstance(begun, TrackResult):
        if begun.ok:  # reused whole
            on_start(plan.id, begun.frames)
            on_frames(begun.frames)
        return begun
    own = None
    if executor is None:
        from renderer.run.executors import LocalExecutor, scratch_dir

        executor = own = LocalExecutor(decoder=decoder, scratch=scratch_dir(run_dir))
    try:
        rendered = render_track_chunks(config, begun, executor=executor, run_dir=run_dir,
                                       manifest=manifest, on_frames=on_frames,
                                       on_start=on_start)  # fmt: skip
    finally:
        if own is not None:
            own.close()
    if isinstance(rendered, TrackResult):
        return rendered
    return finish_track(config, rendered, run_dir=run_dir, manifest=manifest)


def begin_track(config, plan, *, decoder, run_dir: Path, manifest: RunManifest,
                cache_root: Path) -> StartedTrack | TrackResult:  # fmt: skip
    """Phase 1: the finished result when ``--resume`` finds the whole track intact, a failed
    result for audio that cannot be read, else the prepared audio side (master, features,
    analysis). Touches no executor, so it may run in a thread while other chunks render."""
    from renderer.audio.decode import AudioWarning

    start = time.perf_counter()

    def work() -> StartedTrack | TrackResult:
        key = _completion_key(plan, decoder)
        if config.run.resume and (done := _reuse_finished(manifest, plan, key)) is not None:
            return replace(done, seconds=time.perf_counter() - start)
        # Not thread-safe in general (module-level state), but the only other warnings hooks
        # of a run are this one, which runs in one thread at a time.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", AudioWarning)
            prepared = prepare_track(config, plan, run_dir=run_dir, cache_root=cache_root)
        for w in caught:  # anything but ours goes on to the usual handlers
            if not issubclass(w.category, AudioWarning):
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)
        notes = [str(w.message) for w in caught if issubclass(w.category, AudioWarning)]
        return StartedTrack(prepared, key, notes, time.perf_counter() - start)

    return _guarded(plan, work, notes=[], since=start)


def render_track_chunks(config, started: StartedTrack, *, executor, run_dir: Path,
                        manifest: RunManifest, on_frames: Callable[[int], None],
                        on_start: Callable[[str, int], None]
                        ) -> RenderedTrack | TrackResult:  # fmt: skip
    """Phase 2: every chunk rendered on ``executor`` (or reused) and recorded; the preview
    frames collected."""
    from renderer.run.previews import PreviewCollector

    began = time.perf_counter()
    prepared = started.prepared
    plan, fps, n, a = prepared.plan, config.frame_rate, prepared.n_frames, prepared.analysis

    def work() -> RenderedTrack:
        chunks = plan_chunks(n, fps=fps, chunk_seconds=config.render.chunk_seconds)
        manifest.track(plan.id, n_frames=n, key=started.key)
        loud = max(a.sections, key=lambda s: s.end - s.start, default=None)
        previews = PreviewCollector.for_track(
            run_dir / "previews", plan.id, fps=fps, n_frames=n,
            sections=[(s.start, s.label) for s in a.sections] or [(0.0, "start")],
            highlight=(loud.start + 2.0) if loud else 0.0,
        )  # fmt: skip
        on_start(plan.id, n)
        hashes, rendered = render_chunks(config, prepared, chunks, executor=executor,
                                         run_dir=run_dir, manifest=manifest,
                                         previews=previews, on_frames=on_frames)  # fmt: skip
        return RenderedTrack(started, chunks, hashes, rendered, previews, began)

    return _guarded(plan, work, notes=started.notes, since=began - started.prepare_s)


def finish_track(config, rendered: RenderedTrack, *, run_dir: Path, manifest: RunManifest,
                 previews_aside: bool = False) -> TrackResult:  # fmt: skip
    """Phase 3, the track's tail: previews, concat + mux, probe, WebM, reactivity; the finished
    track recorded in the manifest. ``previews_aside``: write the previews in a second thread
    while the rest runs (the pooled executors' driver, which has cores to spare; ``local``
    keeps one step after another). The result's ``seconds``: the preparation plus the time from
    the start of the chunk phase to the end of the tail."""
    started = rendered.started
    plan = started.prepared.plan
    since = rendered.began - started.prepare_s

    def work() -> TrackResult:
        result = _tail(config, rendered, run_dir=run_dir, previews_aside=previews_aside)
        result = replace(result, warnings=started.notes, seconds=time.perf_counter() - since)
        manifest.complete(plan.id, key=started.key, result=asdict(result),
                          files=_result_files(result))  # fmt: skip
        return result

    return _guarded(plan, work, notes=started.notes, since=since)


def _guarded(plan, work: Callable[[], T], *, notes: list[str], since: float) -> T | TrackResult:
    """``work()``, or a failed result naming the error (one broken track does not stop the
    album)."""
    try:
        return work()
    except NoiseToSignalError as exc:
        error = str(exc)
    except OSError as exc:
        from renderer.files import describe_write_failure

        error = describe_write_failure(Path(exc.filename or plan.track.src), exc)
    except ValueError as exc:
        error = f"{plan.track.src}: {type(exc).__name__}: {exc}"
    return TrackResult(id=plan.id, title=plan.track.title, warnings=list(notes), error=error,
                       seconds=time.perf_counter() - since)  # fmt: skip


def _tail(config, rendered: RenderedTrack, *, run_dir: Path, previews_aside: bool) -> TrackResult:
    """Previews → muxed file → probe, webm, reactivity."""
    from renderer.encode.frame_writer import concat_and_mux, probe_media
    from renderer.encode.mux import track_metadata

    prepared, previews = rendered.started.prepared, rendered.previews
    plan, fps, n, a = prepared.plan, config.frame_rate, prepared.n_frames, prepared.analysis
    segments = [segment_path(config, run_dir, plan.id, c) for c in rendered.chunks]

    def write_previews() -> dict:
        if not (config.render.previews and previews.kept):
            return {}
        return previews.write(run_dir / "thumbnails")

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="previews") as aside:
        pending = aside.submit(write_previews) if previews_aside else None
        written = write_previews() if pending is None else {}
        out = run_dir / f"{plan.id}.{container(config)}"
        ffmpeg_path = str(config.encode.ffmpeg_path) if config.encode.ffmpeg_path else None
        concat_and_mux(segments, prepared.audio.path, out, profile=config.encode.profile,
                       ffmpeg_path=ffmpeg_path, duration=n / fps,
                       title=plan.track.title or plan.id,
                       metadata=track_metadata(plan.track))  # fmt: skip
        probe = probe_media(out, ffmpeg_path=ffmpeg_path)
        if probe["frames"] != n:
            raise RenderError(f"{out}: has {probe['frames']} video frames, expected {n}")
        webm = None
        if config.encode.webm and config.encode.profile != "webm":
            webm = str(transcode_webm(out, fps=fps, size=tuple(config.resolution),
                                      ffmpeg_path=ffmpeg_path))  # fmt: skip
        reactivity = _reactivity(out, prepared, duration=n / fps, ffmpeg_path=ffmpeg_path)
        if pending is not None:
            written = pending.result()
    audio = prepared.audio
    return TrackResult(
        id=plan.id, title=plan.track.title, ok=True, output=str(out), webm=webm,
        audio=str(audio.path), frames=n, duration=n / fps,
        chunks_rendered=rendered.rendered, chunks_skipped=len(rendered.chunks) - rendered.rendered,
        sync_error_ms=round(1000 * abs(probe["video_duration"] - probe["audio_duration"]), 2),
        reactivity=reactivity,
        previews=written,
        loudness={"input_lufs": audio.loudness_in, "gain_db": audio.gain_db,
                  "output_lufs": audio.loudness_out, "limiting_db": audio.limiting_db,
                  "true_peak_db": audio.peak_db, "peak_db": audio.peak_db,
                  "target_lufs": config.audio.normalization},
        analysis={"tempo": a.tempo, "tempo_confidence": a.tempo_confidence, "key": a.key,
                  "key_confidence": a.key_confidence, "beats": len(a.beats),
                  "sections": [(s.start, s.label) for s in a.sections]},
        chunk_hashes=rendered.chunk_hashes,
    )  # fmt: skip


def _completion_key(plan, decoder) -> dict:
    """What a finished track was made from beyond the run's config (which names the run folder):
    the source audio's bytes, the model's artefacts and, where the track has stems, their bytes
    (a changed stem changes the pulses, so the track renders again)."""
    from renderer.audio.decode import file_sha256
    from renderer.audio.stems import find_stems

    model = {kind: a.get("sha256") for kind, a in sorted(decoder.meta.artefacts.items())}
    key = {"src_sha256": file_sha256(plan.track.src), "model": model}
    if stems := find_stems(getattr(plan, "stems", None)):
        key["stems_sha256"] = {part: file_sha256(path) for part, path in sorted(stems.items())}
    return key


def _result_files(result: TrackResult) -> list[Path]:
    """The files a finished track's result points to (outputs and previews)."""
    paths = [result.output, result.webm]
    for value in result.previews.values():
        paths += value if isinstance(value, list) else [value]
    return [Path(p) for p in paths if isinstance(p, str) and Path(p).is_file()]


def _reuse_finished(manifest: RunManifest, plan, key: dict) -> TrackResult | None:
    """The recorded result of a track this run already finished, if its files are intact."""
    row = manifest.completed(plan.id, key=key)
    if row is None:
        return None
    known = {f.name for f in fields(TrackResult)}
    result = TrackResult(**{k: v for k, v in row.items() if k in known})
    return replace(result, chunks_skipped=result.chunks_skipped + result.chunks_rendered,
                   chunks_rendered=0)  # fmt: skip


def _reactivity(
    video: Path, prepared: PreparedTrack, *, duration: float, ffmpeg_path: str | None
) -> dict:
    """Reactivity figures; the analysis and the series they came from go beside the video, in
    ``analysis/<id>.json`` and ``analysis/<id>.reactivity.json``, for the run page."""
    import numpy as np

    from renderer.run.page_data import write_track_data
    from renderer.run.reactivity import measure_reactivity_series

    plan = prepared.plan
    reference = plan.track.reference_beats(start=plan.trim.start, duration=duration)
    figures, series = measure_reactivity_series(
        video,
        frames=prepared.frames,
        analysis=prepared.analysis,
        ffmpeg_path=ffmpeg_path,
        reference_beats=np.asarray(reference) if reference else None,
    )
    write_track_data(video.parent, prepared.plan.id, analysis=prepared.analysis.to_dict(),
                     series=series)  # fmt: skip
    return figures


def transcode_webm(
    mp4: Path, *, fps: float, size: tuple[int, int], ffmpeg_path: str | None
) -> Path:
    """VP9 + Opus copy of a finished track (the ``webm`` profile's settings)."""
    from renderer.encode.ffmpeg_bin import find_ffmpeg
    from renderer.encode.ffmpeg_proc import ffmpeg_to
    from renderer.encode.profiles import get_profile

    prof = get_profile("webm")
    out = mp4.with_suffix(".webm")
    args = ["-i", str(mp4), *prof.video_args(width=size[0], height=size[1], fps=fps, threads=4),
            *prof.audio_args]  # fmt: skip
    return ffmpeg_to(find_ffmpeg(ffmpeg_path), out, args, what=f"{out}: webm transcode")


def container(config) -> str:
    from renderer.encode.profiles import get_profile

    return get_profile(config.encode.profile).container
