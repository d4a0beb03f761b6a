"""renderer/throughput.py runs on a tiny model and tiny frames and prints its table."""

from __future__ import annotations

import argparse
import subprocess
import sys

import numpy as np
import pytest

from renderer import throughput


def test_profile_table_on_tiny_inputs(tiny_model_dir, tmp_path, capsys):
    argv = ["--model-dir", str(tiny_model_dir), "--resolution", "256x144", "--frames", "6",
            "--batch-size", "4", "--out-dir", str(tmp_path), "--no-passive",
            "--encode-profiles", "draft,youtube"]  # fmt: skip
    assert throughput.main(argv) == 0
    out = capsys.readouterr().out
    for row in ("decode", "upscale", "postfx", "encode draft", "encode youtube", "e2e serial",
                "e2e overlapped", "ffmpeg scale", "fastest end to end"):  # fmt: skip
        assert row in out, row
    assert not list(tmp_path.glob("*.mp4"))  # timing outputs are removed


def test_profile_times_the_learned_upscaler(upscaler_model_dir, tmp_path):
    result = throughput.run_profile(model_dir=upscaler_model_dir, resolution=(256, 144),
                                    frames=3, batch_size=3, out_dir=tmp_path)  # fmt: skip
    assert result["upscale (learned ×4)"] > 0 and result["upscale (cv2 cubic)"] > 0
    # end to end through the renderer's own chain too (post-fx at the decode size, then the ×4)
    assert result["e2e serial, learned ×4"] > 0 and result["e2e overlapped, learned ×4"] > 0


def test_profile_json_and_passive_child(tiny_model_dir, tmp_path):
    result = throughput.run_profile(
        model_dir=tiny_model_dir, resolution=(256, 144), frames=5, batch_size=2, out_dir=tmp_path,
        e2e_only=True,
    )  # fmt: skip
    assert set(result) == {
        "_decoder_provider",
        "e2e serial",
        "e2e overlapped",
        "e2e overlapped, ffmpeg scale",
    }
    assert all(v > 0 for k, v in result.items() if k.startswith("e2e"))
    args = argparse.Namespace(
        model_dir=tiny_model_dir, resolution="256x144", frames=4, backend="onnx", batch_size=2,
        encode_profiles="draft", fps=30.0, out_dir=tmp_path, threads=1, compile="off",
    )  # fmt: skip
    passive = throughput._passive_child(args)
    assert set(passive) == {f"{k}, OMP passive" for k in result if k.startswith("e2e")}
    args.backend = "no-such-backend"  # the child exits with an argparse error
    assert throughput._passive_child(args) == {}


def test_script_entry_point_help(repo_root):
    proc = subprocess.run(
        [sys.executable, str(repo_root / "renderer" / "throughput.py"), "--help"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "--model-dir" in proc.stdout and "--backend" in proc.stdout


def test_pipeline_propagates_stage_errors():
    def boom(item):
        raise ValueError(f"stage failed on {item}")

    seen = []
    with pytest.raises(ValueError, match="stage failed on 1"):
        throughput._pipeline([boom, seen.append], [1, 2])
    assert seen == []
    throughput._pipeline([lambda x: x * 2, seen.append], [1, 2])
    assert seen == [2, 4]


@pytest.mark.slow
def test_random_model_dir_is_a_loadable_model(tmp_path):
    from renderer.decode.decoder import open_decoder

    model_dir = throughput.random_model_dir(tmp_path / "random-model")
    assert throughput.random_model_dir(model_dir) == model_dir  # reused, not re-exported
    dec = open_decoder(model_dir)
    frames = dec.decode(np.zeros((1, dec.meta.latent_channels, 4, 4), np.float32))
    assert frames.shape == (1, 4 * dec.scale, 4 * dec.scale, 3)
