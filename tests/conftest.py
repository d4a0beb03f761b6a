"""Shared fixtures (paths, seeded RNGs, the tiny model, one shared album render) and how the suite
is split over pytest-xdist workers (``-n`` in pyproject.toml's addopts, ``--dist loadgroup``)."""

from __future__ import annotations

import fcntl
import functools
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_AUDIO = ROOT.parent / "shared" / "audio"

# decoder.compile "auto" would spend ~10 s compiling the generator and the upscaler in every render
# a test starts (subprocesses inherit this); tests/test_compile.py compiles on purpose.
os.environ["NTS_TORCH_COMPILE"] = "0"


# Session fixtures that cost a real render: every test using one runs on one worker, so it is made
# once per run, not once per worker.
SHARED_RENDERS = ("album_run",)


def xdist_group(item: pytest.Item) -> str | None:
    """The xdist group of ``item``: the shared render it uses, else its module when that module
    sets up a fixture for several of its tests (module or class scope: a render, a cluster, a
    trained checkpoint), else None (the test can run on any worker)."""
    names = getattr(item, "fixturenames", ())
    for name in SHARED_RENDERS:
        if name in names:
            return name
    module = item.nodeid.split("::")[0]
    info = getattr(item, "_fixtureinfo", None)
    for defs in info.name2fixturedefs.values() if info else ():
        if any(d.scope in ("module", "class", "package") and d.baseid == module for d in defs):
            return module
    return None


@pytest.hookimpl(tryfirst=True)  # before xdist reads the marks to group the tests
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if group := xdist_group(item):
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


def export_tiny_model(out: Path) -> Path:
    """A tiny random generator exported into ``out`` exactly like the real one (ONNX +
    safetensors + meta.json), by ``training/export_onnx.py``'s code; widths (16, 8, 8, 8, 8) keep
    the real ×16 scale, so a (8, 4, 4) latent decodes to 64² in a few milliseconds."""
    import contextlib
    import io

    import torch

    from renderer.decode.generator import build_generator
    from training.export_onnx import export_artefacts

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: thread hand-offs cost more than they save
    torch.manual_seed(0)
    generator = build_generator({"channels": [16, 8, 8, 8, 8], "groups": 4})
    with contextlib.redirect_stdout(io.StringIO()):
        # samples_png=False: the renderer never reads the preview sheets (a third of the export's
        # time); test_export.py's CLI test checks that they are written
        export_artefacts(generator, out, anchors=6, candidates=12, training_info={"tiny": True},
                         samples_png=False)  # fmt: skip
    torch.set_num_threads(threads)
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """The tiny model (:func:`export_tiny_model`), exported once per run: under pytest-xdist the
    first worker to get here exports it into the run's folder (which all workers share) while the
    others wait on a lock, instead of every worker spending ~15 s on its own export. CI exports it
    ahead, beside the browser install, and names it in ``NTS_TEST_TINY_MODEL`` (.ci/warm.py). Tests
    only read it (one that changes a model copies it first)."""
    ahead = os.environ.get("NTS_TEST_TINY_MODEL")
    if ahead and (Path(ahead) / "meta.json").is_file():
        return Path(ahead)
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # one process: nothing to share
        return export_tiny_model(tmp_path_factory.mktemp("tiny_model"))
    shared = tmp_path_factory.getbasetemp().parent  # pytest-N/, above each worker's popen-gwK/
    out = shared / "tiny_model"
    with open(shared / "tiny_model.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not out.is_dir():
            partial = shared / "tiny_model.partial"
            shutil.rmtree(partial, ignore_errors=True)  # left by a worker that crashed mid-export
            os.replace(export_tiny_model(partial), out)
    return out


def add_tiny_upscaler(model_dir: Path, *, width: int = 4, depth: int = 1) -> Path:
    """``model_dir`` with a random (seeded, non-trivial) learned upscaler installed by
    ``training/train_upscaler.py``'s own ``install``."""
    import torch

    from renderer.decode.upscaler import build_net
    from training.train_upscaler import install

    torch.manual_seed(1)
    net = build_net(width, depth)
    with torch.no_grad():
        net.body[-1].weight.normal_(0.0, 0.3)
    install(net, model_dir, width=width, depth=depth, info={"tiny": True})
    return model_dir


@pytest.fixture(scope="session")
def upscaler_model_dir(tmp_path_factory, tiny_model_dir) -> Path:
    """A copy of the tiny model with a tiny learned upscaler (:func:`add_tiny_upscaler`)."""
    out = tmp_path_factory.mktemp("upscaler_model") / "models"
    shutil.copytree(tiny_model_dir, out)
    return add_tiny_upscaler(out)


@pytest.fixture(scope="session")
def album_run(tmp_path_factory, tiny_model_dir):
    """The tiny album (2 tracks × 3 s at 128×72, MP4 + WebM, album film) rendered once through
    the real CLI; for tests that read its outputs (a test that changes the run folder copies it or
    renders its own). Returns a :class:`render_fixtures.AlbumRun`."""
    from render_fixtures import render_album_once

    return render_album_once(tmp_path_factory.mktemp("album_run"), tiny_model_dir)


def load_benchmark(name: str):
    """``benchmarks/<name>.py`` as a module (``benchmarks/`` is a folder of scripts, not a
    package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def untraced(call: Callable) -> Callable:
    """``call`` run with this thread's trace function (coverage's tracer, when it measures) taken
    off and put back: for a third-party call that runs no project line but a lot of Python, such
    as torch's dynamo ONNX export (~5 of its ~15 s under the tracer). The tracer object stays the
    same, so the frames around the call go on being measured when it returns (``coverage.stop()``
    and ``start()`` would forget them)."""

    @functools.wraps(call)
    def paused(*args, **kwargs):
        tracer = sys.gettrace()
        sys.settrace(None)
        try:
            return call(*args, **kwargs)
        finally:
            sys.settrace(tracer)

    return paused


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny tensors gain nothing from intra-op threads, and on a busy 2-core machine the thread
    hand-offs dominate (a 2-step tiny SD run: 21 s with 2 threads, 0.9 s with 1)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
