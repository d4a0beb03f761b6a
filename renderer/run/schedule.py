"""When each phase of each track runs (ARCHITECTURE §8): one after another, or overlapped so a
pool of workers never waits on the driver.

A track has three phases (:mod:`renderer.run.track`): ``begin`` (reuse, or prepare the audio
side), ``chunks`` (the executor renders, the driver writes and records each segment) and
``finish`` (previews, mux, probe, WebM, reactivity). With ``local`` the chunks already use the
driver's cores (decoding, post-processing and FFmpeg overlap inside each chunk), so the tracks run
one after another, exactly as a single :func:`~renderer.run.track.render_track` does.

With a pool (``processes``, ``ray``: the executor's ``pooled`` is true) the driver's own work
would leave the workers idle, so it runs beside them: while track *i*'s chunks render, a prefetch
thread prepares track *i + 1* and a finisher thread runs track *i − 1*'s tail (whose GIF is
written in a thread of its own, beside the mux and the reactivity measure); a second finisher
takes the next tail if one is still running, so a slow tail never delays the last one. Chunks still go to
the executor one track at a time, in album order, from the main thread, which alone advances the
progress bar and reports results (in album order, as their tails end). Frames and files are the
same either way: only the order of the driver's work changes. The manifest is shared between the
threads behind one lock (:class:`~renderer.run.dispatch.SharedManifest`); a driver killed at any
point resumes from what it recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from renderer.run.records import RenderedTrack, StartedTrack, TrackResult
from renderer.run.track import begin_track, finish_track, render_track, render_track_chunks

FINISHERS = 2  # tails that may run at once (each writes only its own track's files)


def overlaps(executors: dict) -> bool:
    """Whether the run overlaps its tracks' phases: every executor is a pool."""
    return bool(executors) and all(getattr(e, "pooled", False) for e in executors.values())


def render_tracks(config, plans, *, decoders: dict, executors: dict, run_dir: Path, manifest,
                  cache_root: Path, progress,
                  report: Callable[[TrackResult], None]) -> list[TrackResult]:  # fmt: skip
    """Render ``plans`` (each with its backend's decoder and executor); ``report`` is called with
    each result in album order; returns the results in album order."""
    if not overlaps(executors):
        results = []
        for plan in plans:
            result = render_track(config, plan, decoder=decoders[plan.backend], run_dir=run_dir,
                                  manifest=manifest, cache_root=cache_root,
                                  on_frames=progress.advance, on_start=progress.start,
                                  executor=executors[plan.backend])  # fmt: skip
            progress.finish(plan.id)
            report(result)
            results.append(result)
        return results
    return _overlapped(config, plans, decoders=decoders, executors=executors, run_dir=run_dir,
                       manifest=manifest, cache_root=cache_root, progress=progress,
                       report=report)  # fmt: skip


def _overlapped(config, plans, *, decoders: dict, executors: dict, run_dir: Path, manifest,
                cache_root: Path, progress,
                report: Callable[[TrackResult], None]) -> list[TrackResult]:  # fmt: skip
    results: list[TrackResult] = []
    tails: list[Future] = []  # one per track, in album order (a finished one for a reused track)

    def begin(plan) -> StartedTrack | TrackResult:
        return begin_track(config, plan, decoder=decoders[plan.backend], run_dir=run_dir,
                           manifest=manifest, cache_root=cache_root)  # fmt: skip

    def drain(*, block: bool) -> None:
        while tails and (block or tails[0].done()):
            results.append(tails.pop(0).result())
            report(results[-1])

    prefetch = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prepare")
    # Two: a long tail (a colourful GIF) does not hold the next track's back.
    finisher = ThreadPoolExecutor(max_workers=FINISHERS, thread_name_prefix="finish")
    try:
        ahead = prefetch.submit(begin, plans[0]) if plans else None
        for i, plan in enumerate(plans):
            step: StartedTrack | RenderedTrack | TrackResult = ahead.result()
            if i + 1 < len(plans):  # prepared while this track's chunks render
                ahead = prefetch.submit(begin, plans[i + 1])
            if isinstance(step, StartedTrack):
                step = render_track_chunks(config, step, executor=executors[plan.backend],
                                           run_dir=run_dir, manifest=manifest,
                                           on_frames=progress.advance,
                                           on_start=progress.start)  # fmt: skip
            elif step.ok:  # reused whole
                progress.start(plan.id, step.frames)
                progress.advance(step.frames)
            progress.finish(plan.id)
            if isinstance(step, RenderedTrack):  # its tail runs while the next chunks render
                tails.append(finisher.submit(finish_track, config, step, run_dir=run_dir,
                                             manifest=manifest, previews_aside=True))  # fmt: skip
            else:
                tails.append(Future())
                tails[-1].set_result(step)
            drain(block=False)
        drain(block=True)
    finally:  # an error or Ctrl-C: no new phase starts, the running ones end
        prefetch.shutdown(wait=True, cancel_futures=True)
        finisher.shutdown(wait=True, cancel_futures=True)
    return results
