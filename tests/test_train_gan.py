"""A few real training iterations on tiny synthetic images: losses, lazy R1, EMA, resume, outputs."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT
from PIL import Image

from training.checkpoint_io import (
    CheckpointConfigError,
    UnsafeCheckpointError,
    load_checkpoint,
    load_ema_generator,
)


class _TrainGAN:
    """``training.train_gan``, imported at its first use rather than at collection: it imports
    Lightning (~5 s), which the xdist worker that runs none of these tests then never loads."""

    def __getattr__(self, name: str):
        if name.startswith("_"):  # pytest's probes while it collects the module
            raise AttributeError(name)
        from training import train_gan

        return getattr(train_gan, name)


tg = _TrainGAN()

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


def tiny_config(data: Path, out: Path, **overrides) -> tg.TrainConfig:
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
    return tg.TrainConfig(**values)


@pytest.fixture(scope="module")
def trained(tiny_images, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    module = tg.train(tiny_config(tiny_images, out), progress=False)
    return module, out


def test_losses_finite_and_r1_on_its_interval(trained) -> None:
    module, _ = trained
    history = module.history
    assert [h["iteration"] for h in history] == [0, 1, 2, 3]
    for h in history:
        assert all(np.isfinite(v) for v in h.values())
        assert (h["r1"] > 0) == (h["iteration"] % 2 == 0)  # lazy: only every r1_interval
        assert h["detail"] == 0  # off unless detail_weight is set
    assert int(module.iteration) == 4


def test_ema_updated_and_differs_from_g(trained) -> None:
    module, out = trained
    start = load_checkpoint(out / "checkpoints" / "last.ckpt")  # Lightning's own file loads safely
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


def test_resume_continues_from_checkpoint(trained, tiny_images, tmp_path) -> None:
    module, out = trained
    shutil.copytree(out, tmp_path, dirs_exist_ok=True)  # resumed in a copy: the fixture's run stays
    state = {k: v.clone() for k, v in module.state_dict().items()}
    ckpt = torch.load(
        tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False
    )
    assert all(torch.equal(ckpt["state_dict"][k], v) for k, v in state.items())
    resumed = tg.train(
        tiny_config(tiny_images, tmp_path, max_iterations=5), resume=True, progress=False
    )
    assert int(resumed.iteration) == 5
    assert [h["iteration"] for h in resumed.history] == [4]  # only the new iteration ran
    generator, info = load_ema_generator(tmp_path / "checkpoints" / "last.ckpt")
    assert info["iterations"] == 5 and info["crop"] == 32
    assert generator.config.channels == tuple(TINY_G["channels"])


def test_a_committed_checkpoint_finds_its_config_beside_it(trained, tmp_path, capsys) -> None:
    """``training/checkpoints/<name>-last.ckpt`` + ``<name>-config.json`` (how checkpoints are
    committed) export like a run folder; without the config the CLI names the file, no traceback."""
    from training.export_onnx import main as export_main

    _, out = trained
    shutil.copy(out / "checkpoints" / "last.ckpt", tmp_path / "tiny-last.ckpt")
    with pytest.raises(CheckpointConfigError, match="tiny-last.ckpt"):
        load_ema_generator(tmp_path / "tiny-last.ckpt")  # the default shape: does not fit
    assert export_main(["--checkpoint", str(tmp_path / "tiny-last.ckpt"),
                        "--out", str(tmp_path / "m")]) == 2  # fmt: skip
    assert "tiny-config.json" in capsys.readouterr().err and not (tmp_path / "m").exists()
    shutil.copy(out / "config.json", tmp_path / "tiny-config.json")
    generator, info = load_ema_generator(tmp_path / "tiny-last.ckpt")
    assert generator.config.channels == tuple(TINY_G["channels"]) and info["crop"] == 32


def test_noise_is_a_function_of_iteration(trained) -> None:
    module, _ = trained
    a = module.sample_z(2, it=7, stream=1)
    assert torch.equal(a, module.sample_z(2, it=7, stream=1))
    assert not torch.equal(a, module.sample_z(2, it=8, stream=1))


def test_config_loading_and_cli(tiny_images, tmp_path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("crop: 32\nbetas: [0.0, 0.99]\n")
    cfg = tg.load_train_config(path, {"lr": 1e-3})
    assert cfg.crop == 32 and cfg.betas == (0.0, 0.99) and cfg.lr == 1e-3
    path.write_text("bogus: 1\n")
    with pytest.raises(ValueError, match="bogus"):
        tg.load_train_config(path)
    with pytest.raises(FileNotFoundError, match="nope.ckpt"):
        tg.train(tiny_config(tiny_images, tmp_path / "y"), resume_from=tmp_path / "nope.ckpt")
    with pytest.raises(ValueError, match="too few"):
        tg.train(tiny_config(tiny_images, tmp_path / "x", holdout=10), progress=False)
    cfg_yaml = tmp_path / "tiny.yaml"
    cfg_yaml.write_text(json.dumps({**tiny_config(tiny_images, tmp_path / "cli").__dict__,
                                    "max_iterations": 1, "betas": [0.5, 0.999]}))  # fmt: skip
    assert tg.main(["--config", str(cfg_yaml), "--set", "sample_every=5"]) == 0
    assert (tmp_path / "cli" / "checkpoints" / "last.ckpt").is_file()


@pytest.mark.parametrize(
    "path", sorted((ROOT / "training" / "configs").glob("*.yaml")), ids=lambda p: p.stem
)
def test_shipped_recipes_load(path: Path) -> None:
    cfg = tg.load_train_config(path)
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
    assert all("edge_px" in row for row in table.values())


def test_evaluate_against_fresh_images(trained, tmp_path, capsys) -> None:
    from training.evaluate import fresh_images
    from training.evaluate import main as evaluate
    from training.procedural import generate
    from training.prompts import PROMPTS_PATH, build_jobs, load_prompts

    _, out = trained
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("file\na.png\nb.png\nc.png\n")  # a three-image dataset
    path = tmp_path / "table.json"
    args = ["--checkpoint", str(out / "checkpoints" / "last.ckpt"), "--manifest", str(manifest),
            "--fresh", "8", "--sizes", "32", "--seeds", "2", "--out", str(path)]  # fmt: skip
    assert evaluate(args) == 0
    result = json.loads(path.read_text())
    assert result["fresh"] == {"images": 8, "first_job": 3}
    assert result["spread"]["32px"]["seeds"] == 2
    assert result["32px"]["real_vs_real"]["swd_mean"] < result["32px"]["untrained_g"]["swd_mean"]
    # the fresh images are the jobs that follow the dataset's, not any of its own
    jobs = build_jobs(load_prompts(PROMPTS_PATH), 5)
    images = fresh_images(2, after=3, size=64)
    assert images.shape == (2, 64, 64, 3)
    for image, job in zip(images, jobs[3:], strict=True):
        assert np.array_equal(image, generate(job.bucket, job.seed, size=64))
    assert not np.array_equal(fresh_images(1, after=0, size=64)[0], images[0])
    with pytest.raises(SystemExit):
        evaluate([*args[:4], "--fresh", "7"])
    assert "--fresh must be an even count" in capsys.readouterr().err
    assert evaluate([*args[:4], "--fresh", "8", "--fresh-from", "2"]) == 2
    assert "are " + str(manifest) + "'s own training images" in capsys.readouterr().err
    missing = tmp_path / "none.csv"
    assert (
        evaluate([*args[:2], "--manifest", str(missing), "--fresh", "8", "--out", str(path)]) == 2
    )
    assert str(missing) in capsys.readouterr().err


def test_a_checkpoint_loads_with_another_detail_gain(trained, capsys) -> None:
    from training.evaluate import main as evaluate

    _, out = trained
    ckpt = out / "checkpoints" / "last.ckpt"
    plain, _ = load_ema_generator(ckpt)
    sharp, info = load_ema_generator(ckpt, detail_gain=0.5)
    assert plain.detail is None and sharp.detail.gain == 0.5
    assert info["generator"]["detail_gain"] == 0.5  # what export writes to meta.json
    z = torch.randn(1, 8, 2, 2)
    with torch.no_grad():  # the same weights under the filter
        torch.testing.assert_close(sharp(z), sharp.detail(plain(z)))
    assert evaluate(["--checkpoint", str(ckpt), "--detail-gain", "-1"]) == 2
    assert "detail_gain must be in [0, 2]" in capsys.readouterr().err


def test_edge_px_reads_a_generators_softness() -> None:
    import torch.nn.functional as F

    from training.evaluate import edge_px

    hard = -torch.ones(2, 3, 64, 64)
    hard[..., 32:] = 1.0  # a white half: an edge one pixel wide
    soft = F.avg_pool2d(F.pad(hard, (3, 3, 3, 3), mode="replicate"), 7, stride=1)
    assert edge_px(hard) == pytest.approx(1.0)
    assert edge_px(soft) > 4.0
    assert edge_px(torch.zeros(2, 3, 64, 64)) is None  # flat grey: no edge to measure


def test_module_classes_are_module_level(tiny_images, tmp_path) -> None:
    cfg = tiny_config(tiny_images, tmp_path)
    module = tg.make_module(cfg)
    assert type(module) is tg.GANModule and module.__class__.__qualname__ == "GANModule"
    assert tg.SamplerCallback.__qualname__ == "SamplerCallback"
    sampler = tg.SamplerCallback(
        cfg, torch.zeros(2, 3, 32, 32), torch.zeros(2, 3, 32, 32), tmp_path
    )
    assert "<locals>" not in type(sampler.callback).__qualname__


def test_cpu2_recipe(repo_root: Path) -> None:
    cfg = tg.load_train_config(repo_root / "training" / "configs" / "cpu2.yaml")
    assert cfg.out_dir == "training/outputs/cpu2" and cfg.max_minutes is None
    assert cfg.checkpoint_every == 100 and cfg.sample_every == 500 and cfg.max_iterations >= 100_000
    assert set(cfg.diffaug.split(",")) == {"color", "cutout"}  # no translation: crops translate
    assert cfg.generator["upsample"] == "bilinear"
    # the old recipe keeps today's behaviour: no augmentation of D's inputs, original generator
    old = tg.load_train_config(repo_root / "training" / "configs" / "cpu.yaml")
    assert old.diffaug == "" and old.generator == {}


AUG_G = {**TINY_G, "upsample": "bilinear", "stem_blocks": 1}


@pytest.fixture(scope="module")
def trained_aug(tiny_images, tmp_path_factory):
    out = tmp_path_factory.mktemp("run_aug")
    cfg = tiny_config(tiny_images, out, diffaug="color,translation,cutout", generator=AUG_G,
                      max_iterations=3, precision="bf16-mixed", channels_last=True,
                      detail_weight=1.0)  # fmt: skip
    return tg.train(cfg, progress=False), out


def test_diffaug_run_trains_and_resumes(trained_aug, tiny_images) -> None:
    module, out = trained_aug
    assert [h["iteration"] for h in module.history] == [0, 1, 2]
    assert all(np.isfinite(v) for h in module.history for v in h.values())
    assert all(h["detail"] > 0 for h in module.history)  # the detail regulariser is on here
    generator, info = load_ema_generator(out / "checkpoints" / "last.ckpt")
    assert generator.config.upsample == "bilinear" and generator.config.stem_blocks == 1
    assert info["diffaug"] == "color,translation,cutout" and info["iterations"] == 3
    cfg = tiny_config(tiny_images, out, diffaug="color,translation,cutout", generator=AUG_G,
                      max_iterations=4, precision="bf16-mixed", channels_last=True,
                      detail_weight=1.0)  # fmt: skip
    resumed = tg.train(cfg, resume=True, progress=False)
    assert int(resumed.iteration) == 4 and [h["iteration"] for h in resumed.history] == [3]
    assert resumed.G.stem.weight.is_contiguous(memory_format=torch.channels_last)
    # the EMA weights load into a plain (contiguous, fp32) generator and decode like the module's
    generator, _ = load_ema_generator(out / "checkpoints" / "last.ckpt")
    z = torch.randn(1, 8, 2, 2)
    with torch.no_grad():
        torch.testing.assert_close(generator(z), resumed.G_ema(z), atol=1e-5, rtol=0)


def test_diffaug_is_a_function_of_iteration_and_stream(trained_aug) -> None:
    module, _ = trained_aug
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    a = module.augment(x, it=5, stream=0)
    assert a.shape == x.shape and not torch.equal(a, x)
    assert torch.equal(a, module.augment(x, it=5, stream=0))
    assert not torch.equal(a, module.augment(x, it=6, stream=0))
    assert not torch.equal(a, module.augment(x, it=5, stream=1))
    # without a policy D sees the images as they are (the old recipe)
    plain = tg.make_module(tg.TrainConfig(generator=TINY_G, discriminator=TINY_D))
    assert plain.augment(x, it=5, stream=0) is x


class Marker:
    """Unpickling this writes a file: what a crafted checkpoint could do."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.write_text, (self.path, "pwned"))


def test_crafted_checkpoint_is_refused(tmp_path) -> None:
    marker = tmp_path / "marker"
    ckpt = tmp_path / "run" / "checkpoints" / "crafted.ckpt"
    ckpt.parent.mkdir(parents=True)
    torch.save({"state_dict": {"iteration": torch.tensor(1)}, "hook": Marker(marker)}, ckpt)
    with pytest.raises(UnsafeCheckpointError, match="crafted.ckpt") as err:
        load_ema_generator(ckpt)
    assert "refusing" in str(err.value)
    assert not marker.exists()
    torch.load(ckpt, weights_only=False)  # the payload is live: an unsafe load runs it
    assert marker.read_text() == "pwned"
    with pytest.raises(UnsafeCheckpointError, match="no state_dict"):
        torch.save({"weights": torch.zeros(1)}, tmp_path / "other.ckpt")
        load_checkpoint(tmp_path / "other.ckpt")


def test_lightning_hyper_parameters_load_and_plain_files_skip_lightning(tmp_path) -> None:
    """Lightning's ``AttributeDict`` (the loop state of an empty ``hparams``) is allowed; the
    allow-list imports Lightning only for a file that names it."""
    from lightning_fabric.utilities.data import AttributeDict

    from training.checkpoint_io import checkpoint_safe_globals

    ckpt = tmp_path / "hp.ckpt"
    state = {"state_dict": {"iteration": torch.tensor(3)}, "hyper_parameters": AttributeDict()}
    torch.save(state, ckpt)
    assert isinstance(load_checkpoint(ckpt)["hyper_parameters"], AttributeDict)
    torch.save({"state_dict": {"iteration": torch.tensor(3)}}, tmp_path / "plain.ckpt")
    assert AttributeDict not in checkpoint_safe_globals(tmp_path / "plain.ckpt")
    assert AttributeDict in checkpoint_safe_globals(ckpt)


def test_diffaug_ops() -> None:
    from training.diffaug import cutout, diff_augment, parse_policy, translation

    assert parse_policy("color, translation,cutout") == ("color", "translation", "cutout")
    assert parse_policy("") == ()
    with pytest.raises(ValueError, match="rotate"):
        parse_policy("rotate")
    x = torch.rand(6, 3, 16, 16) * 2 - 1 + 3  # offset: no pixel is 0 before augmentation
    # translation: every image is a shifted copy with a zero border of at most 2 px (⅛ of 16)
    moved = translation(x, torch.Generator().manual_seed(0))
    for a, b in zip(x, moved, strict=True):
        ys, xs = (b[0] != 0).nonzero(as_tuple=True)
        y0, x0 = int(ys.min()), int(xs.min())
        h, w = int(ys.max()) - y0 + 1, int(xs.max()) - x0 + 1
        assert h >= 14 and w >= 14 and (b == 0).sum() == 3 * (256 - h * w)
        src_y, src_x = (0 if y0 > 0 else 16 - h), (0 if x0 > 0 else 16 - w)
        assert torch.equal(
            b[:, y0 : y0 + h, x0 : x0 + w], a[:, src_y : src_y + h, src_x : src_x + w]
        )
    # cutout: one square of at most 8×8 zeroed (clipped at the border), the rest untouched
    cut = cutout(x, torch.Generator().manual_seed(1), ratio=0.5)
    zeroed = cut[:, 0] == 0
    assert zeroed.any() and (zeroed.flatten(1).sum(1) <= 64).all()
    assert torch.equal(cut[~zeroed[:, None].expand_as(cut)], x[~zeroed[:, None].expand_as(x)])
    # the whole policy: deterministic for a generator, differentiable
    y = x.clone().requires_grad_(True)
    out = diff_augment(y, "color,translation,cutout", torch.Generator().manual_seed(2))
    again = diff_augment(x, "color,translation,cutout", torch.Generator().manual_seed(2))
    assert torch.equal(out.detach(), again) and out.shape == x.shape
    out.square().sum().backward()
    assert y.grad is not None and y.grad.abs().sum() > 0
    assert torch.equal(diff_augment(x, ""), x)


def test_lr_schedule_holds_then_anneals() -> None:
    from training.train_gan import lr_factor

    assert lr_factor(0, start=0, end=100) == 1.0
    assert lr_factor(50, start=0, end=100) == pytest.approx(0.5)
    assert lr_factor(100, start=0, end=100) == 0.0
    # a resumed anneal: constant up to its start, then a cosine over the rest
    assert lr_factor(41_000, start=42_000, end=43_500) == 1.0
    assert lr_factor(42_000, start=42_000, end=43_500) == 1.0
    assert lr_factor(42_750, start=42_000, end=43_500) == pytest.approx(0.5)
    assert lr_factor(43_400, start=42_000, end=43_500) < lr_factor(43_000, start=42_000, end=43_500)
    assert lr_factor(50_000, start=42_000, end=43_500) == 0.0
