"""Reading training checkpoints safely: ``torch.load(weights_only=True)`` with an explicit
allow-list of the few extra types a Lightning checkpoint of this project holds, so a crafted file
cannot run code; and the EMA generator out of one (for ``evaluate.py`` and ``export_onnx.py``)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch

from training.models import Generator, GeneratorConfig


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint that does not load with ``torch.load(weights_only=True)``."""


class CheckpointConfigError(ValueError):
    """A checkpoint whose generator does not fit the training config found for it."""


_ATTRIBUTE_DICT = "lightning_fabric.utilities.data.AttributeDict"


def checkpoint_safe_globals(checkpoint: Path) -> list:
    """Types a Lightning checkpoint of this project may hold beyond tensors and containers
    (``hyper_parameters`` / loop state can carry these); nothing that executes code. Lightning's
    ``AttributeDict`` is imported only when the file names it (importing Lightning costs seconds)."""
    import collections
    import pathlib

    allowed: list = [collections.OrderedDict, collections.defaultdict, pathlib.PosixPath,
                     pathlib.WindowsPath, pathlib.PurePosixPath, pathlib.PureWindowsPath]  # fmt: skip
    if _ATTRIBUTE_DICT in torch.serialization.get_unsafe_globals_in_checkpoint(checkpoint):
        try:
            from lightning_fabric.utilities.data import AttributeDict
        except ImportError:  # pragma: no cover - Lightning layout changes
            return allowed
        allowed.append(AttributeDict)
    return allowed


def load_checkpoint(checkpoint: str | Path) -> dict:
    """A checkpoint's contents, loaded with ``weights_only=True`` (no arbitrary unpickling: a
    crafted file cannot run code) and an explicit allow-list of extra types. Anything else is
    refused with an error naming the file."""
    checkpoint = Path(checkpoint)
    try:
        with torch.serialization.safe_globals(checkpoint_safe_globals(checkpoint)):
            state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # pickle.UnpicklingError and friends
        raise UnsafeCheckpointError(
            f"{checkpoint}: refusing to load this checkpoint — it is not a plain weights file "
            f"(torch.load(weights_only=True) failed: {str(exc).splitlines()[0]})"
        ) from exc
    if not isinstance(state, dict) or not isinstance(state.get("state_dict"), dict):
        raise UnsafeCheckpointError(f"{checkpoint}: not a training checkpoint (no state_dict)")
    return state


def config_candidates(checkpoint: Path) -> list[Path]:
    """Where the training config of ``checkpoint`` may be: ``<run>/config.json`` for a run's
    ``<run>/checkpoints/*.ckpt``, and ``<name>-config.json`` beside a committed
    ``<name>-last.ckpt`` (``training/checkpoints/``)."""
    checkpoint = Path(checkpoint)
    candidates = [checkpoint.parents[1] / "config.json"] if len(checkpoint.parents) > 1 else []
    name, dash, _ = checkpoint.stem.rpartition("-")
    if dash:
        candidates.append(checkpoint.with_name(f"{name}-config.json"))
    return candidates


def run_config_path(checkpoint: Path) -> Path | None:
    """The first of :func:`config_candidates` that exists, or ``None``."""
    return next((path for path in config_candidates(checkpoint) if path.is_file()), None)


def load_ema_generator(
    checkpoint: Path, *, detail_gain: float | None = None
) -> tuple[Generator, dict]:
    """EMA generator + training info from a Lightning checkpoint, loaded safely
    (:func:`load_checkpoint`); the generator's shape comes from :func:`run_config_path`.
    ``detail_gain`` replaces the config's (the weightless output filter, ``DetailStage``), so a
    generator trained without one can be measured and exported with one; ``info["generator"]``
    then records the gain it was loaded with."""
    params = load_checkpoint(checkpoint)["state_dict"]
    cfg_path = run_config_path(checkpoint)
    info = json.loads(cfg_path.read_text()) if cfg_path else {}
    gcfg = (
        GeneratorConfig.from_dict(info["generator"]) if info.get("generator") else GeneratorConfig()
    )
    if detail_gain is not None:
        gcfg = dataclasses.replace(gcfg, detail_gain=float(detail_gain))
        info["generator"] = gcfg.to_dict()
    g = Generator(gcfg)
    ema = {k[len("G_ema.") :]: v for k, v in params.items() if k.startswith("G_ema.")}
    try:
        g.load_state_dict(ema)
    except RuntimeError as exc:
        where = f"the generator config of {cfg_path}" if cfg_path else "the default generator"
        first = str(exc).splitlines()[1].strip() if "\n" in str(exc) else str(exc)
        looked = " or ".join(str(path) for path in config_candidates(checkpoint))
        raise CheckpointConfigError(
            f"{checkpoint}: its EMA generator does not fit {where} ({first}); "
            f"the run's config.json belongs at {looked}"
        ) from exc
    info["iterations"] = int(params.get("iteration", torch.tensor(0)))
    return g.eval(), info
