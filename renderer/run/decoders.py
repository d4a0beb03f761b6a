"""One decoder (and one executor) per decoder backend a run's tracks use.

A track chooses its backend (``TrackPlan.backend``: its block in ``render.yaml``, else its
tracklist entry, else ``model.backend``), so an album can mix the GAN (``onnx``/``torch``) and the
CPPN. :func:`open_decoders` opens each backend once, in album order, and only the backends some
track uses: an album of CPPN tracks needs no model folder. Each executor is opened with a copy of
the config whose ``model.backend`` is that backend, so worker pools (``processes``, ``ray``) open
the same decoder as the driver.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def backends_of(plans: Sequence) -> list[str]:
    """The backends ``plans`` use, each once, in album order."""
    return list(dict.fromkeys(plan.backend for plan in plans))


def with_backend(config, backend: str):
    """``config`` with ``model.backend`` set to ``backend`` (the same config when it already is)."""
    if config.model.backend == backend:
        return config
    model = config.model.model_copy(update={"backend": backend})
    return config.model_copy(update={"model": model})


def open_decoders(config, plans: Sequence) -> dict:
    """``{backend: Decoder}`` for every backend ``plans`` use (``model.backend`` when there are
    none); raises :class:`ModelError` for a model folder that does not load."""
    from renderer.decode.decoder import open_decoder

    names = backends_of(plans) or [config.model.backend]
    return {
        name: open_decoder(
            config.path(config.model.dir),
            backend=name,
            provider=config.decoder.execution_provider,
            batch_size=config.decoder.batch_size,
            threads=config.decoder.threads,
            compile=config.decoder.compile,
        )
        for name in names
    }


def open_executors(config, decoders: dict, *, run_dir: Path) -> dict:
    """``{backend: executor}`` (``render.executor`` for each backend's decoder). An executor that
    cannot start closes the ones already open before the error goes on."""
    from renderer.run.executors import open_executor

    executors: dict = {}
    try:
        for name, decoder in decoders.items():
            executors[name] = open_executor(
                with_backend(config, name), decoder=decoder, run_dir=run_dir
            )
    except BaseException:
        close_all(executors)
        raise
    return executors


def close_all(executors: dict) -> None:
    """Close every executor, each even when another's close fails (the first error goes on)."""
    error: BaseException | None = None
    for executor in executors.values():
        try:
            executor.close()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            error = error or exc
    if error is not None:
        raise error


def primary(decoders: dict, config):
    """The decoder ``meta.json``'s ``model`` block and the summary describe: ``model.backend``'s
    when a track uses it, else the first track's."""
    return decoders.get(config.model.backend) or next(iter(decoders.values()))
