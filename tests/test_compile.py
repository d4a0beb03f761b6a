"""decoder.compile: torch.compile for the generator and the learned upscaler, eager on failure."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest

from renderer.decode import compile as nts_compile
from renderer.decode.compile import Compiled, compiler_available, wants_compile


def test_modes(monkeypatch) -> None:
    assert wants_compile("on", "cuda") and not wants_compile("off", "cpu")
    assert not wants_compile("auto", "cuda")  # auto compiles on the CPU only
    monkeypatch.setenv("NTS_TORCH_COMPILE", "0")
    assert not wants_compile("auto", "cpu")
    monkeypatch.setenv("NTS_TORCH_COMPILE", "1")
    monkeypatch.setattr(nts_compile, "compiler_available", lambda: True)
    assert wants_compile("auto", "cpu")
    with pytest.raises(ValueError, match="'fast' unknown"):
        wants_compile("fast")


def test_no_compiler_means_no_auto(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no c++ / g++ / clang++ on it
    monkeypatch.delenv("CXX", raising=False)
    assert not compiler_available()


def test_a_failed_compile_runs_eager_and_says_so(monkeypatch, caplog) -> None:
    import torch

    def broken(fn):
        def run(*args):
            raise RuntimeError("InductorError: no C++ compiler\nmore lines")

        return run

    monkeypatch.setattr(torch, "compile", broken)
    calls = []
    fn = Compiled(lambda x: calls.append(x) or x * 2, name="generator")
    with caplog.at_level(logging.WARNING, logger="renderer.decode.compile"):
        assert fn(3) == 6 and fn(4) == 8
    assert calls == [3, 4] and not fn.active
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "generator: torch.compile failed" in warnings[0]
    assert "no C++ compiler" in warnings[0] and "more lines" not in warnings[0]


@pytest.mark.skipif(not compiler_available(), reason="needs a C++ compiler and Python.h")
def test_compiled_paths_match_eager(upscaler_model_dir, monkeypatch, tmp_path) -> None:
    """A real Inductor build of the tiny generator and upscaler: the generator within one level
    of eager, the upscaler byte for byte; the generated code stays out of the default cache."""
    import torch

    from renderer.decode.decoder import open_decoder
    from renderer.decode.model_meta import load_model_meta
    from renderer.decode.upscaler import upscaler_spec

    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    latents = np.random.default_rng(0).standard_normal((3, 8, 3, 5)).astype(np.float32)
    kw = {"backend": "torch", "provider": "cpu", "precision": "fp32", "batch_size": 3}
    eager = open_decoder(upscaler_model_dir, compile="off", **kw).decode(latents)
    compiled_decoder = open_decoder(upscaler_model_dir, compile="on", **kw)
    assert compiled_decoder.backend._forward is not compiled_decoder.backend.model
    got = compiled_decoder.decode(latents)
    assert compiled_decoder.backend._forward.active
    assert np.abs(got.astype(int) - eager.astype(int)).max() <= 1
    assert "nts-inductor-" in os.environ["TORCHINDUCTOR_CACHE_DIR"]

    meta = load_model_meta(upscaler_model_dir)
    frames = torch.from_numpy(got)
    plain = upscaler_spec(meta, compile="off").runner("cpu")(frames)
    fused = upscaler_spec(meta, compile="on").runner("cpu")
    assert fused._run.active is not False
    assert torch.equal(fused(frames), plain)
