"""``render.executor: processes``: chunks on a local pool of worker processes.

Each worker (a ``ProcessPoolExecutor`` process from a ``forkserver`` context on Linux, ``spawn``
elsewhere: no fork of a driver that already runs decoder and FFmpeg threads) opens its own decoder
once and starts its own FFmpeg per chunk. Decoder threads per worker are ``cores // workers``
(:func:`~renderer.run.executors.jobs.worker_threads`) unless ``decoder.threads`` is set, so the
pool does not oversubscribe the machine; FFmpeg keeps ``encode.threads`` (the bytes depend on it).

A worker that dies (OOM killer, SIGKILL) breaks a ``ProcessPoolExecutor`` for every job in flight:
the chunks that had already come back are kept (the orchestrator has written them), the pool is
rebuilt and only the unfinished chunks are submitted again, at most ``render.max_retries`` times
per track.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path

from renderer.errors import RenderError
from renderer.run.executors.jobs import (
    FAULT_ENV,
    ChunkJob,
    ChunkOutput,
    DecoderSpec,
    TrackContext,
    available_cores,
    worker_threads,
)
from renderer.run.executors.worker import init_process_worker, process_job, worker_ready

log = logging.getLogger(__name__)


# Imported once by the fork server, so a worker (and a replacement for a dead one) starts without
# importing the render stack again. The decoder backend's library too (torch alone takes seconds
# to import, in every worker): importing it starts no thread pool (torch's and ONNX Runtime's
# start at first use, in the worker, with the worker's thread count); models load in the worker.
PRELOAD = ["renderer.run.executors.worker", "renderer.control.controller", "renderer.fx.postfx",
           "renderer.encode.frame_writer"]  # fmt: skip
BACKEND_PRELOAD = {"torch": ["torch"], "onnx": ["onnxruntime"]}


def pool_context(backend: str = "") -> multiprocessing.context.BaseContext:
    """``forkserver`` on Linux (workers fork from a clean server process), else ``spawn``."""
    if not sys.platform.startswith("linux"):
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    # (No effect once this process's server runs: the first pool's backend decides.)
    ctx.set_forkserver_preload(PRELOAD + BACKEND_PRELOAD.get(backend, []))
    return ctx


class ProcessExecutor:
    """A pool of ``workers`` processes (default: one per core) rendering chunks."""

    name = "processes"
    pooled = True  # the run overlaps its tracks' phases (renderer.run.schedule)

    def __init__(self, config, *, model_dir: Path, scratch: Path) -> None:
        self.workers = config.render.workers or available_cores()
        self.threads = config.decoder.threads or worker_threads(workers=self.workers)
        self.spec = DecoderSpec(
            backend=config.model.backend,
            provider=config.decoder.execution_provider,
            batch_size=config.decoder.batch_size,
            threads=self.threads,
            compile=config.decoder.compile,
        )
        self.model_dir = str(Path(model_dir).resolve())
        self.scratch = str(scratch)
        self.max_retries = config.render.max_retries
        self.fault = os.environ.get(FAULT_ENV) or None
        self._pool: ProcessPoolExecutor | None = None
        self._warming: threading.Thread | None = None
        self.warm()

    def warm(self) -> None:
        """Start the pool's workers now, in a thread (starting the fork server and each worker
        takes seconds), so they import the render stack and open their decoders while the driver
        prepares the first track's audio. The pool lives for the whole run; only a broken one is
        replaced."""
        pool = self._get_pool()

        def start() -> None:
            try:
                for _ in range(self.workers):  # each submit starts a worker while none is idle
                    pool.submit(worker_ready)
            except (RuntimeError, BrokenProcessPool):  # closed or broken meanwhile: nothing to warm
                pass

        self._warming = threading.Thread(target=start, name="pool-warm", daemon=True)
        self._warming.start()

    def describe(self) -> str:
        return f"processes: {self.workers} workers × {self.threads} decoder threads"

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = pool_context(self.spec.backend)
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context,
                                             initializer=init_process_worker,
                                             initargs=(self.spec, self.model_dir, os.getpid()))  # fmt: skip
        return self._pool

    def render(self, context: TrackContext, jobs: list[ChunkJob], *,
               on_frames: Callable[[int], None]) -> Iterator[ChunkOutput]:  # fmt: skip
        """Yield each job's output as it completes (not in order)."""
        blob = pickle.dumps(context, protocol=pickle.HIGHEST_PROTOCOL)  # once per track
        pending = {job.chunk.index: replace(job, fault=self.fault) for job in jobs}
        restarts = 0
        while pending:
            pool = self._get_pool()
            futures: dict[Future, int] = {
                pool.submit(process_job, context.key, blob, job, self.scratch): index
                for index, job in pending.items()
            }
            try:
                broken = yield from self._collect(futures, pending, on_frames)
            finally:
                for future in futures:  # the consumer stopped early, or the pool broke
                    future.cancel()
            if broken is None:
                continue
            self.close()
            restarts += 1
            if restarts > self.max_retries:
                raise RenderError(
                    f"{context.prepared.plan.id}: a worker process died {restarts} times "
                    f"(render.max_retries is {self.max_retries}): {broken}"
                )
            log.warning("a worker process died (%s); %d chunk(s) go to a new pool",
                        broken, len(pending))  # fmt: skip

    @staticmethod
    def _collect(futures: dict[Future, int], pending: dict[int, ChunkJob],
                 on_frames: Callable[[int], None]):  # fmt: skip
        """Yield finished outputs; returns the BrokenProcessPool error if the pool broke."""
        waiting = set(futures)
        while waiting:
            done, waiting = wait(waiting, return_when=FIRST_COMPLETED)
            broken = None
            for future in done:
                error = future.exception()
                if isinstance(error, BrokenProcessPool):
                    broken = error
                    continue
                out = future.result()  # a worker's own error (RenderError, …) is raised here
                del pending[futures[future]]
                on_frames(len(out.frame_hashes))
                yield out
            if broken is not None:  # outputs that had come back are kept; the rest is redone
                for future in waiting:
                    if future.done() and future.exception() is None:
                        out = future.result()
                        del pending[futures[future]]
                        on_frames(len(out.frame_hashes))
                        yield out
                return broken
        return None

    def close(self) -> None:
        if self._warming is not None:
            self._warming.join()
            self._warming = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        from renderer.run.executors import remove_empty

        remove_empty(Path(self.scratch))
