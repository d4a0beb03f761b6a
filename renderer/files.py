"""Writing files so that a crash or a full disk never leaves a half-written one.

Every output is written to a temporary name beside it and renamed into place only when complete
(``os.replace`` is atomic on one filesystem). When the write fails, the temporary file is removed
and the failure becomes a :class:`WriteError` that names the final path and says what to do, for a
full disk too: the run can then be resumed (``--resume``) once there is space.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from renderer.errors import NoiseToSignalError

_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class WriteError(NoiseToSignalError):
    """An output file could not be written (the message names it)."""


def describe_write_failure(path: Path, exc: BaseException) -> str:
    """``<path>: no space left on the device (…)`` or ``<path>: cannot write it (…)``."""
    code = getattr(exc, "errno", None)
    if code in _FULL or _disk_full(path):
        return (f"{path}: no space left on the device ({exc}); free some space and run again "
                "with --resume to continue where it stopped")  # fmt: skip
    return f"{path}: cannot write it ({type(exc).__name__}: {exc})"


def _disk_full(path: Path) -> bool:
    """libsndfile reports a full disk as "System error." with no errno: ask the filesystem."""
    import shutil

    for folder in (path.parent, *path.parents):
        if folder.exists():
            try:
                return shutil.disk_usage(folder).free < (1 << 16)
            except OSError:
                return False
    return False


@contextmanager
def atomic_path(path: Path, *, tmp: Path | None = None) -> Iterator[Path]:
    """Yield a temporary path to write ``path`` through; renamed to ``path`` on success, removed
    on any failure. ``OSError`` and library write errors (libsndfile's, which are
    ``RuntimeError``) become :class:`WriteError` naming ``path``."""
    path = Path(path)
    # the real extension stays last, so PIL, libsndfile and FFmpeg still pick the format from it
    tmp = tmp or path.with_name(f".{path.stem}.{os.getpid()}.partial{path.suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:
        if isinstance(exc, NoiseToSignalError):
            _remove(tmp)
            raise
        message = describe_write_failure(path, exc)  # before the partial file frees its space
        _remove(tmp)
        raise WriteError(message) from exc
    except BaseException:
        _remove(tmp)
        raise


def write_text_atomic(path: Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def remove_partials(run_dir: Path) -> list[Path]:
    """Delete temporary files left in ``run_dir`` by a write that was cut short (ours are named
    ``*.partial*`` or ``.*.tmp``); returns what was removed. Only ever inside the run folder."""
    removed = []
    if not Path(run_dir).is_dir():
        return removed
    for p in Path(run_dir).rglob("*"):
        if p.is_file() and (
            ".partial" in p.name or (p.name.startswith(".") and p.name.endswith(".tmp"))
        ):
            _remove(p)
            removed.append(p)
    return removed
