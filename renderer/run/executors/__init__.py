"""Where chunks render (ARCHITECTURE §8): one seam, three executors, the same frames from each.

``open_executor(config, decoder=…, run_dir=…)`` returns the executor ``render.executor`` names:

- ``local`` (:class:`LocalExecutor`): this process, the driver's decoder;
- ``processes`` (:mod:`.processes`): a local pool, each worker with its own decoder and FFmpeg;
- ``ray`` (:mod:`.ray_executor`): Ray tasks on a local or running cluster (the ``[ray]`` extra).

Every executor has ``render(context, jobs, on_frames=…) -> Iterator[ChunkOutput]`` (outputs as they
complete, in any order), ``describe() -> str``, ``close()`` and ``pooled`` (whether the driver
should overlap its own work with the chunks: :mod:`renderer.run.schedule`); all of them run
:func:`~renderer.run.executors.jobs.render_job` on their workers. The orchestrator
(:mod:`renderer.run.track`) plans the chunks, writes each returned segment atomically and records
it in the manifest; nothing else differs between executors.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from renderer.run.executors.jobs import ChunkJob, ChunkOutput, TrackContext, render_job
from renderer.run.frames import TrackRenderer

EXECUTORS = ("local", "processes", "ray")
log = logging.getLogger(__name__)


def scratch_dir(run_dir: Path) -> Path:
    """Where local workers encode before the bytes go back (inside the run folder's
    ``segments/``, which a successful run deletes; track ids cannot start with ``_``)."""
    return Path(run_dir) / "segments" / "_work"


def open_executor(config, *, decoder, run_dir: Path):
    """The executor ``config.render.executor`` names; raises :class:`RenderError` when it cannot
    start (Ray not installed, a cluster address that does not answer)."""
    name = config.render.executor
    if name == "processes":
        from renderer.run.executors.processes import ProcessExecutor

        executor = ProcessExecutor(config, model_dir=decoder.meta.model_dir,
                                   scratch=scratch_dir(run_dir))  # fmt: skip
    elif name == "ray":
        from renderer.run.executors.ray_executor import RayExecutor

        executor = RayExecutor(config, model_dir=decoder.meta.model_dir)
    else:
        executor = LocalExecutor(decoder=decoder, scratch=scratch_dir(run_dir))
    log.info("chunks render on %s", executor.describe())
    return executor


class LocalExecutor:
    """``render.executor: local``: chunks one after another in this process with the driver's
    decoder; decoding, post-processing and FFmpeg still overlap inside each chunk
    (:mod:`renderer.run.frames`), and progress is reported per decoded batch."""

    name = "local"
    pooled = False  # the tracks run one after another (renderer.run.schedule)

    def __init__(self, *, decoder, scratch: Path) -> None:
        self.decoder = decoder
        self.scratch = Path(scratch)
        self._renderer: tuple[str, TrackRenderer] | None = None

    def describe(self) -> str:
        return "local: this process"

    def render(self, context: TrackContext, jobs: list[ChunkJob], *,
               on_frames: Callable[[int], None]) -> Iterator[ChunkOutput]:  # fmt: skip
        if self._renderer is None or self._renderer[0] != context.key:
            renderer = TrackRenderer(context.config, context.prepared, decoder=self.decoder)
            self._renderer = (context.key, renderer)
        for job in jobs:  # a test's fault hook is not passed on: it would kill the driver
            yield render_job(self._renderer[1], job, scratch=self.scratch, on_frames=on_frames)

    def close(self) -> None:
        self._renderer = None
        remove_empty(self.scratch)


def remove_empty(folder: Path) -> None:
    """Remove the scratch folder if nothing is left in it (never anything else)."""
    try:
        folder.rmdir()
    except OSError:
        pass  # absent, or not empty (a file a killed worker's FFmpeg left, removed as partial)
