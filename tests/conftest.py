"""Shared fixtures: paths, seeded RNGs and tiny synthetic audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_AUDIO = ROOT.parent / "shared" / "audio"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny random generator exported exactly like the real one (ONNX + safetensors + meta.json).

    Same code path as ``training/export_onnx.py``; widths (16, 8, 8, 8, 8) keep the real ×16 scale,
    so a (8, 4, 4) latent decodes to 64² in a few milliseconds.
    """
    import contextlib
    import io

    import torch

    from renderer.decode.generator import build_generator
    from training.export_onnx import export_artefacts

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: thread hand-offs cost more than they save
    torch.manual_seed(0)
    generator = build_generator({"channels": [16, 8, 8, 8, 8], "groups": 4})
    out = tmp_path_factory.mktemp("tiny_model")
    with contextlib.redirect_stdout(io.StringIO()):
        export_artefacts(generator, out, anchors=6, candidates=12, training_info={"tiny": True})
    torch.set_num_threads(threads)
    return out


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny tensors gain nothing from intra-op threads, and on a busy 2-core machine the thread
    hand-offs dominate (a 2-step tiny SD run: 21 s with 2 threads, 0.9 s with 1)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
