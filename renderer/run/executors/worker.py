"""The worker side of the pooled executors: each worker process holds its own decoder (opened
once) and the renderers of the tracks it has seen (built once per track), then renders jobs with
:func:`~renderer.run.executors.jobs.render_job`.

The model reaches a worker either as a folder on a shared disk (``processes``) or as the bytes of
``meta.json`` and the backend's artefact shipped once through Ray's object store (``ray``), written
to a private temporary folder and verified against their sha256 like any model folder.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import pickle
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from renderer.decode.cpu_features import prepare_render_process
from renderer.run.executors.jobs import (
    ChunkJob,
    ChunkOutput,
    DecoderSpec,
    TrackContext,
    render_job,
    worker_name,
)
from renderer.run.frames import TrackRenderer

KEEP_RENDERERS = 2  # tracks a worker keeps ready (the current one and the one before)
ARTEFACT_KIND = {"onnx": "onnx", "torch": "safetensors"}


def model_bundle(model_dir: Path, *, backend: str) -> dict[str, bytes]:
    """``{relative name: bytes}`` of ``meta.json``, the artefact ``backend`` loads and the learned
    upscaler where ``meta.json`` lists one (nothing for a backend that needs no model folder, such
    as ``cppn``)."""
    from renderer.decode.model_meta import load_model_meta

    if backend not in ARTEFACT_KIND:
        return {}
    meta = load_model_meta(model_dir)
    kinds = [ARTEFACT_KIND[backend], *(["upscaler"] if "upscaler" in meta.artefacts else [])]
    paths = [meta.artefact_path(kind) for kind in kinds]
    root = Path(model_dir).resolve()
    return {"meta.json": (Path(model_dir) / "meta.json").read_bytes(),
            **{str(p.relative_to(root)): p.read_bytes() for p in paths}}  # fmt: skip


def materialise(bundle: dict[str, bytes], *, root: Path | None = None) -> Path:
    """Write ``bundle`` into a fresh private folder under ``root`` (default: the temporary
    folder), removed when the process exits normally (a private Ray cluster's whole folder is
    removed by the driver, for workers that Ray kills)."""
    digest = hashlib.sha256(bundle.get("meta.json", b"")).hexdigest()[:12]
    if root is not None:
        Path(root).mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"nts-model-{digest}-", dir=root))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    for name, data in bundle.items():
        target = (folder / name).resolve()
        if folder.resolve() not in target.parents:
            raise ValueError(f"model bundle: {name!r} leaves the model folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return folder


def open_worker_decoder(spec: DecoderSpec, model_dir: Path):
    """The worker's own decoder; the hashes in ``meta.json`` are verified as in the driver."""
    from renderer.decode.decoder import open_decoder

    if spec.threads:  # read by torch/OpenMP when they start; ORT gets its count explicitly
        os.environ.setdefault("OMP_NUM_THREADS", str(spec.threads))
    prepare_render_process()
    return open_decoder(model_dir, backend=spec.backend, provider=spec.provider,
                        batch_size=spec.batch_size, threads=spec.threads,
                        compile=spec.compile)  # fmt: skip


class WorkerState:
    """One worker process's decoder and its most recent tracks' renderers."""

    def __init__(self) -> None:
        self.decoder = None
        self.decoder_key: str | None = None
        self.renderers: OrderedDict[str, TrackRenderer] = OrderedDict()

    def ensure_decoder(self, key: str, opener: Callable[[], object]) -> None:
        if self.decoder_key != key:
            self.decoder, self.decoder_key = opener(), key
            self.renderers.clear()

    def renderer(self, key: str, load: Callable[[], TrackContext]) -> TrackRenderer:
        if key not in self.renderers:
            context = load()
            self.renderers[key] = TrackRenderer(context.config, context.prepared,
                                                decoder=self.decoder)  # fmt: skip
            while len(self.renderers) > KEEP_RENDERERS:
                self.renderers.popitem(last=False)
        self.renderers.move_to_end(key)
        return self.renderers[key]


STATE = WorkerState()


def init_process_worker(spec: DecoderSpec, model_dir: str, driver_pid: int) -> None:
    """``ProcessPoolExecutor`` initializer: open this worker's decoder once, and leave when the
    driver is gone (a killed driver must not leave workers behind: they are the fork server's
    children, not the driver's, and would otherwise wait on the pool's queue for ever)."""
    threading.Thread(
        target=_exit_with, args=(driver_pid,), name="driver-watch", daemon=True
    ).start()
    STATE.ensure_decoder(model_dir, lambda: open_worker_decoder(spec, Path(model_dir)))


def _exit_with(pid: int, *, every: float = 1.0) -> None:
    while True:
        time.sleep(every)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:  # alive, under another user (cannot happen for our driver)
            pass


def worker_ready() -> str:
    """A pool's warm-up task: returns once this worker's initializer has opened its decoder."""
    return worker_name()


def process_job(key: str, context: bytes, job: ChunkJob, scratch: str) -> ChunkOutput:
    """One chunk in a pool worker; ``context`` is the pickled :class:`TrackContext` (unpickled
    only the first time this worker sees the track)."""
    renderer = STATE.renderer(key, lambda: pickle.loads(context))
    return render_job(renderer, job, scratch=Path(scratch))
