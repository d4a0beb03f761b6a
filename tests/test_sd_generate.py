"""training/sd_generate.py on a tiny randomly initialised SD pipeline and CLIP model (offline)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from training import sd_generate
from training.make_dataset import read_manifest, verify

PROMPTS_YAML = """
resolution: 512
steps: [20, 20]
cfg: [7.0, 7.5]
seed: 3
negative_prompt: text, logo, watermark, people, object
buckets:
  abstract: {weight: 1, prompts: [swirling ink, warm gradients]}
  glitch: {weight: 1, prompts: [pixel sorting glitch]}
"""


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread: on a loaded 2-core machine intra-op threads spin against each other
    (a 20-step tiny run took ~60 s with 2 threads, ~1 s with one)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _write_tokenizer(folder: Path) -> Path:
    """A tiny CLIP BPE vocabulary: letters (word-final and not), a few merges, the specials."""
    import string

    tokens = ["<|startoftext|>", "<|endoftext|>", "!"]
    tokens += list(string.ascii_lowercase) + [c + "</w>" for c in string.ascii_lowercase]
    tokens += ["in", "ing</w>", "th", "the</w>", ",</w>", ","]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\ni n\nin g</w>\nt h\nth e</w>\n")
    return folder


def _tokenizer(folder: Path):
    from transformers import CLIPTokenizer

    vocab = _write_tokenizer(folder)
    return CLIPTokenizer(str(vocab / "vocab.json"), str(vocab / "merges.txt"), model_max_length=16)


def _text_config(vocab_size: int):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=vocab_size, hidden_size=32, intermediate_size=37, num_attention_heads=4,
        num_hidden_layers=2, max_position_embeddings=16, bos_token_id=0, eos_token_id=1, pad_token_id=1,
        projection_dim=16,
    )  # fmt: skip


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory) -> Path:
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, sample_size=16, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, norm_num_groups=4, attention_head_dim=4,
    )  # fmt: skip
    vae = AutoencoderKL(
        block_out_channels=[8, 16], in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=4,
        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
    )  # fmt: skip
    tmp = tmp_path_factory.mktemp("tiny_sd")
    tokenizer = _tokenizer(tmp / "tok")
    text_encoder = CLIPTextModel(_text_config(len(tokenizer))).eval()
    scheduler = DDIMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
        set_alpha_to_one=False, steps_offset=1,
    )  # fmt: skip
    pipe = StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )  # fmt: skip
    out = tmp / "model"
    pipe.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> Path:
    from transformers import (
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        CLIPProcessor,
        CLIPVisionConfig,
    )

    tmp = tmp_path_factory.mktemp("tiny_clip")
    tokenizer = _tokenizer(tmp / "tok")
    vision = CLIPVisionConfig(
        hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
        image_size=32, patch_size=8, projection_dim=16,
    )  # fmt: skip
    config = CLIPConfig(
        text_config=_text_config(len(tokenizer)).to_dict(),
        vision_config=vision.to_dict(),
        projection_dim=16,
    )
    torch.manual_seed(1)
    model = CLIPModel(config).eval()
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    out = tmp / "clip"
    model.save_pretrained(out)
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(out)
    return out


def _prompts(tmp_path: Path) -> Path:
    path = tmp_path / "prompts.yaml"
    path.write_text(PROMPTS_YAML)
    return path


def _args(model: Path, out: Path, prompts: Path, count: int) -> list[str]:
    return ["--model", str(model), "--out", str(out), "--count", str(count), "--prompts", str(prompts),
            "--resolution", "32", "--steps", "2", "--device", "cpu"]  # fmt: skip


def test_generates_resumes_and_is_reproducible(tiny_sd: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "sd"
    args = _args(tiny_sd, out, _prompts(tmp_path), 2)
    assert sd_generate.main(args) == 0
    assert "2/2" in capsys.readouterr().out
    rows = read_manifest(out / "manifest.csv")
    assert [r["bucket"] for r in rows] == ["abstract", "glitch"]
    for row in rows:
        meta = json.loads((out / "full" / row["file"]).with_suffix(".json").read_text())
        assert set(meta) >= {"prompt", "negative_prompt", "bucket", "seed", "steps", "cfg", "model"}
        assert meta["model"] == str(tiny_sd) == row["model"] and meta["steps"] == 2
        assert 7.0 <= meta["cfg"] <= 7.5 and meta["prompt"] == row["prompt"]
        assert meta["negative_prompt"].startswith("text") and meta["seed"] == int(row["seed"])
        assert (meta["width"], meta["height"]) == (32, 32)
        img = np.asarray(Image.open(out / "full" / row["file"]))
        assert img.shape == (32, 32, 3) and img.dtype == np.uint8 and img.std() > 0
    assert verify(out / "full", out / "manifest.csv") == []
    first = (out / "full" / rows[0]["file"]).read_bytes()
    mtime = (out / "full" / rows[1]["file"]).stat().st_mtime_ns

    # Resume: nothing to do when every file matches the manifest.
    assert sd_generate.main([*args, "--quiet"]) == 0
    assert "/2 " not in capsys.readouterr().out
    assert (out / "full" / rows[1]["file"]).stat().st_mtime_ns == mtime
    # The intact image is skipped; a deleted one comes back with the same bytes (seeded per job).
    (out / "full" / rows[0]["file"]).unlink()
    assert sd_generate.main([*args, "--quiet"]) == 0
    assert (out / "full" / rows[0]["file"]).read_bytes() == first
    assert (out / "full" / rows[1]["file"]).stat().st_mtime_ns == mtime
    assert read_manifest(out / "manifest.csv") == rows

    # Determinism across runs: a fresh folder gets identical pixels; other seeds differ.
    again = tmp_path / "again"
    assert sd_generate.main([*_args(tiny_sd, again, _prompts(tmp_path), 2), "--quiet"]) == 0
    assert read_manifest(again / "manifest.csv") == rows
    a, b = (np.asarray(Image.open(out / "full" / r["file"]), np.int16) for r in rows)
    assert np.abs(a - b).max() > 0


def test_clip_culling(tiny_sd: Path, tiny_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "sd"
    args = [*_args(tiny_sd, out, _prompts(tmp_path), 4), "--quiet"]
    assert sd_generate.main([*args, "--clip-model", str(tiny_clip), "--cull", "0.25"]) == 0
    kept = read_manifest(out / "manifest.csv")
    culled = sorted(p.name for p in (out / "culled").glob("*.png"))
    assert len(kept) == 3 and len(culled) == 1
    assert (out / "culled" / culled[0]).with_suffix(".json").is_file()
    assert [r["file"] for r in read_manifest(out / "culled" / "manifest.csv")] == culled
    assert verify(out / "culled", out / "culled" / "manifest.csv") == []
    assert verify(out / "full", out / "manifest.csv") == []
    lines = (out / "clip_scores.csv").read_text().splitlines()
    assert lines[0] == "file,clip_score,culled"
    values = {ln.split(",")[0]: (float(ln.split(",")[1]), ln.split(",")[2]) for ln in lines[1:]}
    assert all(-1.0 <= v <= 1.0 for v, _ in values.values())
    assert values[culled[0]] == (min(v for v, _ in values.values()), "1")
    # A resumed run neither regenerates what was culled nor culls a second time.
    assert sd_generate.main([*args, "--clip-model", str(tiny_clip), "--cull", "0.25"]) == 0
    assert not (out / "full" / culled[0]).exists()
    assert read_manifest(out / "manifest.csv") == kept
    assert sorted(p.name for p in (out / "culled").glob("*.png")) == culled


def test_errors_name_the_input(tmp_path: Path) -> None:
    from renderer.errors import ModelError

    with pytest.raises(ModelError, match="nope"):
        sd_generate.load_pipeline(str(tmp_path / "nope"), device="cpu")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="empty: cannot load a Stable Diffusion pipeline"):
        sd_generate.load_pipeline(str(tmp_path / "empty"), device="cpu")
    with pytest.raises(ModelError, match="no such model folder"):
        sd_generate.load_pipeline("./missing-sd15", device="cpu")
    args = ["--model", str(tmp_path / "nope"), "--out", str(tmp_path / "o"), "--count", "1"]
    assert sd_generate.main(args) == 2
    with pytest.raises(ModelError, match="clip"):
        sd_generate.clip_scores([], [], clip_dir=tmp_path / "clip")
    with pytest.raises(ValueError, match="fraction"):
        sd_generate.cull([], np.zeros(0), out_dir=tmp_path, fraction=1.5)
    with pytest.raises(ValueError, match="scores"):
        sd_generate.cull([{"file": "a.png"}], np.zeros(2), out_dir=tmp_path, fraction=0.1)
    with pytest.raises(SystemExit):
        sd_generate.main(["--model", "x", "--steps", "0"])
    with pytest.raises(SystemExit):
        sd_generate.main(["--model", "x", "--cull", "2"])
    with pytest.raises(SystemExit):
        sd_generate.main(["--model", "x", "--count", "0"])
    with pytest.raises(SystemExit):
        sd_generate.main(["--model", "x", "--resolution", "33"])
    assert sd_generate.pick_device("cpu") == "cpu"
    assert sd_generate.pick_device("auto") in {"cpu", "cuda"}
