"""A few real training iterations on tiny synthetic images: losses, lazy R1, EMA, resume, outputs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("pytorch_lightning")

from training.train_gan import TrainConfig, load_ema_generator, load_train_config, main, train  # noqa: E402

TINY_G = {"channels": [16, 8, 8, 8, 8], "groups": 4}
TINY_D = {"channels": [8, 8, 8]}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_images(tmp_path_factory) -> Path:
    """20 striped/blobby 32² colour images."""
    root = tmp_path_factory.mktemp("tiny_images")
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:32, 0:32] / 32.0
    for i in range(20):
        freq, phase = rng.uniform(1, 4, 2), rng.uniform(0, 6.3, 3)
        img = np.stack(
            [np.sin(2 * np.pi * freq[0] * xx + phase[c]) * np.cos(freq[1] * yy) for c in range(3)],
            axis=2,
        )
        Image.fromarray(((img + 1) * 127.5).astype(np.uint8)).save(root / f"{i:03d}.png")
    return root


def tiny_config(data: Path, out: Path, **overrides) -> TrainConfig:
    values = dict(
        data_dir=str(data),
        manifest=str(data / "missing.csv"),
        out_dir=str(out),
        crop=32,
        batch_size=4,
        r1_interval=2,
        max_iterations=4,
        sample_every=2,
        checkpoint_every=1,
        log_every=1,
        holdout=4,
        threads=1,
        ema_warmup=0,
        generator=TINY_G,
        discriminator=TINY_D,
    )
    values.update(overrides)
    return TrainConfig(**values)


@pytest.fixture(scope="module")
def trained(tiny_images, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    module = train(tiny_config(tiny_images, out), progress=False)
    return module, out


def test_losses_finite_and_r1_on_its_interval(trained) -> None:
    module, _ = trained
    history = module.history
    assert [h["iteration"] for h in history] == [0, 1, 2, 3]
    for h in history:
        assert all(np.isfinite(v) for v in h.values())
        assert (h["r1"] > 0) == (h["iteration"] % 2 == 0)  # lazy: only every r1_interval
    assert int(module.iteration) == 4


def test_ema_updated_and_differs_from_g(trained) -> None:
    module, out = trained
    start = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    init = type(module.G)(module.G.config)  # reference: fresh weights are not what EMA holds
    ema = dict(module.G_ema.named_parameters())
    g = dict(module.G.named_parameters())
    assert any(not torch.equal(ema[k], g[k]) for k in g)
    assert any(not torch.equal(ema[k], p) for k, p in init.named_parameters())
    saved = {k[6:]: v for k, v in start["state_dict"].items() if k.startswith("G_ema.")}
    assert all(torch.equal(saved[k], ema[k]) for k in ema)


def test_outputs_written(trained) -> None:
    _, out = trained
    assert (out / "samples" / "grid_000004.png").is_file()
    assert (out / "samples" / "sweep_000002.png").is_file()
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [int(r["iteration"]) for r in rows][:3] == [1, 2, 4]
    assert all(float(r["swd_mean"]) > 0 for r in rows)
    refs = json.loads((out / "metrics.json").read_text())
    assert set(refs) >= {"real_vs_real", "untrained_g"}
    assert json.loads((out / "config.json").read_text())["crop"] == 32


def test_resume_continues_from_checkpoint(tiny_images, tmp_path) -> None:
    first = train(tiny_config(tiny_images, tmp_path, max_iterations=2), progress=False)
    state = {k: v.clone() for k, v in first.state_dict().items()}
    ckpt = torch.load(
        tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False
    )
    assert all(torch.equal(ckpt["state_dict"][k], v) for k, v in state.items())
    resumed = train(
        tiny_config(tiny_images, tmp_path, max_iterations=3), resume=True, progress=False
    )
    assert int(resumed.iteration) == 3
    assert [h["iteration"] for h in resumed.history] == [2]  # only the new iteration ran
    generator, info = load_ema_generator(tmp_path / "checkpoints" / "last.ckpt")
    assert info["iterations"] == 3 and info["crop"] == 32
    assert generator.config.channels == tuple(TINY_G["channels"])


def test_noise_is_a_function_of_iteration(trained) -> None:
    module, _ = trained
    a = module.sample_z(2, it=7, stream=1)
    assert torch.equal(a, module.sample_z(2, it=7, stream=1))
    assert not torch.equal(a, module.sample_z(2, it=8, stream=1))


def test_config_loading_and_cli(tiny_images, tmp_path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("crop: 32\nbetas: [0.0, 0.99]\n")
    cfg = load_train_config(path, {"lr": 1e-3})
    assert cfg.crop == 32 and cfg.betas == (0.0, 0.99) and cfg.lr == 1e-3
    path.write_text("bogus: 1\n")
    with pytest.raises(ValueError, match="bogus"):
        load_train_config(path)
    with pytest.raises(FileNotFoundError, match="nope.ckpt"):
        train(tiny_config(tiny_images, tmp_path / "y"), resume_from=tmp_path / "nope.ckpt")
    with pytest.raises(ValueError, match="too few"):
        train(tiny_config(tiny_images, tmp_path / "x", holdout=10), progress=False)
    cfg_yaml = tmp_path / "tiny.yaml"
    cfg_yaml.write_text(json.dumps({**tiny_config(tiny_images, tmp_path / "cli").__dict__,
                                    "max_iterations": 1, "betas": [0.5, 0.999]}))  # fmt: skip
    assert main(["--config", str(cfg_yaml), "--set", "sample_every=5"]) == 0
    assert (tmp_path / "cli" / "checkpoints" / "last.ckpt").is_file()


@pytest.mark.parametrize("name", ["cpu", "gpu256", "gpu512"])
def test_shipped_recipes_load(repo_root: Path, name: str) -> None:
    cfg = load_train_config(repo_root / "training" / "configs" / f"{name}.yaml")
    assert cfg.crop % 16 == 0 and cfg.r1_interval == 16 and cfg.betas == (0.5, 0.999)


def test_evaluate_writes_swd_table(trained, tiny_images, tmp_path) -> None:
    from training.evaluate import main as evaluate

    _, out = trained
    path = tmp_path / "table.json"
    args = ["--checkpoint", str(out / "checkpoints" / "last.ckpt"), "--data", str(tiny_images),
            "--manifest", str(tiny_images / "missing.csv"), "--holdout", "4", "--sizes", "32",
            "--out", str(path)]  # fmt: skip
    assert evaluate(args) == 0
    result = json.loads(path.read_text())
    table = result["32px"]
    assert result["iterations"] == 4
    assert set(table) == {"real_vs_real", "untrained_g", "trained_g", "holdout"}
    # the floor: two real batches are closer than the untrained generator is to the data
    assert table["real_vs_real"]["swd_mean"] < table["untrained_g"]["swd_mean"]
