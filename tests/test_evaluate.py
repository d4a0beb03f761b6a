"""The SWD table: a generator that reproduces the held-out images scores 0, an untrained one far
from the floor; the CLI refuses unsafe checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from renderer.decode.generator import GeneratorConfig, build_generator
from training.evaluate import main, swd_table

TINY = {"channels": [16, 8, 8, 8, 8], "groups": 4}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def textures(n: int, seed: int, size: int = 32) -> torch.Tensor:
    """Smooth random colour fields with hard-edged stripes, in [-1, 1]."""
    gen = torch.Generator().manual_seed(seed)
    base = torch.nn.functional.interpolate(torch.rand(n, 3, 4, 4, generator=gen), size=size,
                                           mode="bilinear", align_corners=False)  # fmt: skip
    stripes = (torch.arange(size) // 4 % 2).float()[None, None, None, :]
    return (base * 1.6 - 0.8 + 0.2 * stripes).clamp(-1, 1)


class Replay(torch.nn.Module):
    """A 'generator' that returns fixed images, in chunks, whatever latents it gets."""

    def __init__(self, images: torch.Tensor) -> None:
        super().__init__()
        self.config = GeneratorConfig(**TINY)
        self.images, self.cursor = images, 0

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.images[self.cursor : self.cursor + len(z)]
        self.cursor += len(z)
        return out


def test_swd_table_rows_and_ordering() -> None:
    holdout, reference = textures(16, 0), textures(16, 1)
    torch.manual_seed(0)
    untrained = build_generator(TINY)
    table = swd_table(Replay(holdout.clone()), untrained, holdout=holdout, reference=reference,
                      batch=5)  # fmt: skip
    assert set(table) == {"real_vs_real", "untrained_g", "trained_g", "holdout"}
    for name in ("real_vs_real", "untrained_g", "trained_g"):
        row = table[name]
        assert len(row["swd"]) == 3 and row["swd_mean"] == pytest.approx(
            sum(row["swd"]) / 3, abs=0.01
        )
        assert 0 <= row["saturation"] <= 1
    # a perfect generator sits at 0, the floor above it, random weights far above the floor
    assert table["trained_g"]["swd_mean"] == 0
    assert 0 < table["real_vs_real"]["swd_mean"] < table["untrained_g"]["swd_mean"]
    same = ("edge_px", "saturation", "chroma_spread")  # the replaying generator is the holdout
    assert table["holdout"] == {k: table["trained_g"][k] for k in same}


def test_swd_table_decodes_at_the_holdout_size() -> None:
    holdout = textures(4, 2, size=32)
    torch.manual_seed(0)
    g = build_generator(TINY)
    seen = []
    g.register_forward_hook(lambda m, args, out: seen.append((args[0].shape, out.shape)))
    swd_table(g, g, holdout=holdout, reference=holdout, batch=3)
    # 32 px at 16 px per cell: (2, 2) latents, decoded in chunks of 3
    assert [s[0][0] for s in seen] == [3, 1, 3, 1]
    assert all(z[-2:] == (2, 2) and out[-2:] == (32, 32) for z, out in seen)


class Marker:
    """Unpickling this writes a file: what a crafted checkpoint could do."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.write_text, (self.path, "pwned"))


def test_cli_refuses_a_crafted_pickle(tmp_path: Path, capsys) -> None:
    marker = tmp_path / "marker"
    ckpt = tmp_path / "run" / "checkpoints" / "evil.ckpt"
    ckpt.parent.mkdir(parents=True)
    torch.save({"state_dict": {"iteration": torch.tensor(1)}, "x": Marker(marker)}, ckpt)
    with open(ckpt, "rb") as fh:  # the file really is hostile: a plain unpickle runs it
        torch.load(fh, weights_only=False)
    assert marker.read_text() == "pwned"
    marker.unlink()
    assert main(["--checkpoint", str(ckpt), "--data", str(tmp_path), "--sizes", "32"]) == 2
    assert "evil.ckpt" in capsys.readouterr().err  # named, without a traceback
    assert not marker.exists()


def test_cli_on_a_plain_checkpoint(tmp_path: Path) -> None:
    from PIL import Image

    data = tmp_path / "data"
    data.mkdir()
    for i, img in enumerate(textures(8, 3)):
        arr = ((img.permute(1, 2, 0) + 1) * 127.5).round().byte().numpy()
        Image.fromarray(arr).save(data / f"{i:03d}.png")
    torch.manual_seed(0)
    g = build_generator(TINY)
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    state = {f"G_ema.{k}": v for k, v in g.state_dict().items()} | {"iteration": torch.tensor(9)}
    torch.save({"state_dict": state}, run / "checkpoints" / "last.ckpt")
    (run / "config.json").write_text(json.dumps({"generator": TINY, "seed": 0}))
    args = ["--checkpoint", str(run / "checkpoints" / "last.ckpt"), "--data", str(data),
            "--manifest", str(data / "none.csv"), "--holdout", "4", "--sizes", "32"]  # fmt: skip
    assert main(args) == 0
    result = json.loads((run / "swd_table.json").read_text())
    assert result["iterations"] == 9
    # seed 0 in config.json: the "untrained" row is exactly this untrained generator
    assert result["32px"]["trained_g"] == result["32px"]["untrained_g"]
    # five seeds by default; the first is the table above, the others draw other latents and
    # projections, so the estimates differ
    rows = result["spread"]["32px"]
    assert (
        rows["seeds"] == 5
        and rows["trained_g"]["per_seed"][0] == result["32px"]["trained_g"]["swd_mean"]
    )
    values = rows["trained_g"]["per_seed"]
    assert len(set(values)) == 5
    assert rows["trained_g"]["min"] == min(values) < rows["trained_g"]["mean"] < max(values)
    assert rows["ratio"] == pytest.approx(
        rows["trained_g"]["mean"] / rows["real_vs_real"]["mean"], abs=1e-3
    )
    assert main([*args, "--seeds", "1"]) == 0
    assert json.loads((run / "swd_table.json").read_text())["spread"]["32px"]["seeds"] == 1
    with pytest.raises(SystemExit):
        main([*args, "--seeds", "0"])
