"""``render.executor: ray``: chunks as Ray tasks, on this machine or on a running cluster.

With :mod:`.ray_cluster`, the only modules that import ``ray`` (the optional ``[ray]`` extra).
``render.address`` names a cluster started with ``ray start --head`` (``auto``: the one on this
machine); without it a private cluster is started for the run, on loopback, with its files in a
temporary folder removed after it (:class:`~renderer.run.executors.ray_cluster.PrivateCluster`).
Usage statistics are off (``RAY_USAGE_STATS_ENABLED=0``) and no dashboard is started.

What travels: the model's ``meta.json`` and artefact go into the object store once per run
(``ray.put``); each track's :class:`~renderer.run.executors.jobs.TrackContext` once per track;
each task returns a :class:`~renderer.run.executors.jobs.ChunkOutput` (segment bytes, frame hashes,
preview frames), so the workers need no shared filesystem, only the project installed at the same
versions. Both references travel wrapped in a list, so a worker fetches them only the first time
it needs them. Ray re-runs a task whose worker died (``render.max_retries``); a task that failed
with an error of ours is not retried (the same inputs would fail the same way). If the driver
dies, ``--resume`` continues from the manifest like any run.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from renderer.errors import NoiseToSignalError, RenderError
from renderer.run.executors.jobs import (
    FAULT_ENV,
    ChunkJob,
    ChunkOutput,
    DecoderSpec,
    TrackContext,
    available_cores,
    render_job,
)
from renderer.run.executors.ray_cluster import PrivateCluster, import_ray
from renderer.run.executors.worker import STATE, materialise, model_bundle, open_worker_decoder


def ray_chunk(
    spec: DecoderSpec, model: list, key: str, context: list, job: ChunkJob, scratch: str | None
) -> ChunkOutput:
    """The Ray task: ``model`` and ``context`` are ``[ObjectRef]``, fetched only when this worker
    has not seen them yet; ``scratch``: the private cluster's work folder (``None`` on a cluster
    of the user's: the worker's temporary folder)."""
    import ray

    root = Path(scratch) if scratch else Path(tempfile.gettempdir())
    model_key = model[0].hex()
    STATE.ensure_decoder(
        model_key,
        lambda: open_worker_decoder(spec, materialise(ray.get(model[0]), root=root)),
    )
    renderer = STATE.renderer(key, lambda: ray.get(context[0]))
    return render_job(renderer, job, scratch=root / "nts-chunks")


def local_cpus(opts) -> int:
    """CPUs of a private cluster: ``workers`` tasks of ``task_cpus`` each, else every core (and
    never fewer than one task needs, or its tasks would wait forever)."""
    wanted = opts.workers * opts.task_cpus if opts.workers else available_cores()
    return max(math.ceil(wanted), math.ceil(opts.task_cpus))


class RayExecutor:
    """Chunk tasks with ``render.task_cpus`` / ``render.task_gpus`` each."""

    name = "ray"
    pooled = True  # the run overlaps its tracks' phases (renderer.run.schedule)

    def __init__(self, config, *, model_dir: Path) -> None:
        opts = config.render
        ray = self.ray = import_ray(private=not opts.address)
        self.cluster: PrivateCluster | None = None  # the private one this executor started
        self.started = False  # whether this executor connected (and so disconnects)
        if not ray.is_initialized():
            common = {"log_to_driver": False, "configure_logging": False}
            try:
                if opts.address:
                    ray.init(address=opts.address, include_dashboard=False, **common)
                else:  # a private cluster on loopback, for this run only
                    self.cluster = PrivateCluster(num_cpus=local_cpus(opts), **common)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = opts.address or "a local cluster"
                raise RenderError(f"render.address: cannot start Ray on {where} ({exc})") from exc
            self.started = True
        ours = self.cluster or PrivateCluster.current
        self.scratch = ours.scratch if ours is not None else None
        threads = max(1, int(opts.task_cpus))
        self.spec = DecoderSpec(backend=config.model.backend,
                                provider=config.decoder.execution_provider,
                                batch_size=config.decoder.batch_size, threads=threads,
                                compile=config.decoder.compile)  # fmt: skip
        self.model = ray.put(model_bundle(Path(model_dir), backend=config.model.backend))
        self.task = ray.remote(ray_chunk).options(num_cpus=opts.task_cpus,
                                                  num_gpus=opts.task_gpus,
                                                  max_retries=opts.max_retries,
                                                  retry_exceptions=False)  # fmt: skip
        self.max_retries = opts.max_retries
        self.fault = os.environ.get(FAULT_ENV) or None

    def describe(self) -> str:
        cpus = self.ray.cluster_resources().get("CPU", 0)
        return f"ray: cluster with {cpus:g} CPUs, {self.spec.threads} decoder threads per task"

    def render(self, context: TrackContext, jobs: list[ChunkJob], *,
               on_frames: Callable[[int], None]) -> Iterator[ChunkOutput]:  # fmt: skip
        """Submit every job at once; yield outputs as they complete (not in order)."""
        ray = self.ray
        ref = ray.put(context)
        refs = {self.task.remote(self.spec, [self.model], context.key, [ref],
                                 replace(job, fault=self.fault), self.scratch): job
                for job in jobs}  # fmt: skip
        try:
            while refs:
                done, _ = ray.wait(list(refs), num_returns=1)
                for finished in done:
                    job = refs.pop(finished)
                    out = self._result(finished, job)
                    on_frames(len(out.frame_hashes))
                    yield out
        finally:
            for left in refs:  # the consumer stopped early (a failed chunk, Ctrl-C)
                ray.cancel(left, force=True)

    def _result(self, ref, job: ChunkJob) -> ChunkOutput:
        ray = self.ray
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, NoiseToSignalError):
                raise cause from None
            raise RenderError(f"{job.track_id}: chunk {job.chunk.index} failed on Ray: "
                              f"{cause or exc}") from exc  # fmt: skip
        except ray.exceptions.RayError as exc:  # the worker died more often than retried
            raise RenderError(
                f"{job.track_id}: chunk {job.chunk.index}: Ray gave up after "
                f"{self.max_retries} retries ({type(exc).__name__}: {str(exc)[:300]})"
            ) from exc

    def close(self) -> None:
        if self.cluster is not None:  # shut down, its folder removed
            self.cluster.close()
            self.cluster = None
        elif self.started:
            self.ray.shutdown()
        self.started = False
