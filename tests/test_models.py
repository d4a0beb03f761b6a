"""Generator/discriminator shapes, budgets and options (losses: test_losses.py; SWD: test_swd.py)."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from renderer.decode.generator import Generator, GeneratorConfig, build_generator, sample_latents
from training.models import Discriminator, DiscriminatorConfig

TINY = {"channels": [16, 8, 8, 8, 8], "groups": 4}
# the cpu2 recipe's generator (training/configs/cpu2.yaml)
CPU2 = {"channels": [160, 128, 64, 32, 16], "stem_blocks": 1, "upsample": "bilinear"}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def flops(model: torch.nn.Module, x: torch.Tensor) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    return counter.get_total_flops()


def test_default_generator_budget() -> None:
    # counted on the meta device: exact FLOPs, no arithmetic on this 2-core machine
    with torch.device("meta"):
        g = Generator()
        z = torch.empty(1, 8, 16, 16)
    params = sum(p.numel() for p in g.parameters())
    assert 0.2e6 < params < 0.6e6
    gflop = flops(g, z) / 1e9
    assert gflop <= 4.0, gflop  # renderer budget per 256² frame
    with torch.device("meta"):
        wide = torch.empty(1, 8, 17, 30)
    assert g(wide).shape == (1, 3, 272, 480)  # 16:9 canvas from a 16:9 latent grid
    assert flops(g, wide) / 1e9 == pytest.approx(gflop * (17 * 30) / 256, rel=0.01)


def test_tiny_generator_values_and_canvas() -> None:
    torch.manual_seed(0)
    g = build_generator(TINY).eval()
    with torch.no_grad():
        out = g(torch.randn(2, 8, 2, 3) * 3)
    assert out.shape == (2, 3, 32, 48)
    assert out.abs().max() <= 1.0 and out.std() > 0
    # batch items are independent (both norms normalise per sample)
    z = torch.randn(3, 8, 2, 2)
    with torch.no_grad():
        assert torch.allclose(g(z)[1:2], g(z[1:2]), atol=1e-5)


def test_generator_config_round_trip_and_errors() -> None:
    cfg = GeneratorConfig(channels=(32, 16, 8), groups=4)
    assert cfg.scale == 4
    assert GeneratorConfig.from_dict(cfg.to_dict()) == cfg
    assert build_generator(cfg.to_dict()).config == cfg
    assert build_generator(None).config == GeneratorConfig()
    with pytest.raises(ValueError, match="widths"):
        GeneratorConfig.from_dict({"widths": [1]})


@pytest.mark.parametrize("norm", ["channel", "group"])
def test_canvas_size_independence(norm: str) -> None:
    """With per-pixel (channel) normalisation the picture inside a latent region does not depend
    on how large the canvas around it is — what lets a generator trained on 64² crops render a
    272×480 canvas. GroupNorm's canvas-wide statistics break this."""
    torch.manual_seed(2)
    g = build_generator({**TINY, "norm": norm}).eval()
    z = torch.randn(1, 8, 16, 16)
    with torch.no_grad():
        big = g(z)  # 16 px per cell
        small = g(z[:, :, 4:12, 4:12])
    # cells 7..9 are ≥ 3 cells (the receptive field) from the border of both canvases
    same = torch.allclose(big[..., 7 * 16 : 9 * 16, 7 * 16 : 9 * 16],
                          small[..., 3 * 16 : 5 * 16, 3 * 16 : 5 * 16], atol=1e-5)  # fmt: skip
    assert same == (norm == "channel")


def test_latent_prior_shares_a_style_across_the_grid() -> None:
    cfg = GeneratorConfig(style_share=0.75)
    z = sample_latents(512, cfg, (8, 8), generator=torch.Generator().manual_seed(0))
    assert z.shape == (512, 8, 8, 8)
    assert z.std().item() == pytest.approx(1.0, abs=0.03)  # every cell is N(0, 1)
    # two cells of one grid correlate by style_share; of different grids, not at all
    a, b = z[:, :, 0, 0].flatten(), z[:, :, 5, 3].flatten()
    assert torch.corrcoef(torch.stack([a, b]))[0, 1].item() == pytest.approx(0.75, abs=0.05)
    other = z.roll(1, dims=0)[:, :, 5, 3].flatten()
    assert abs(torch.corrcoef(torch.stack([a, other]))[0, 1].item()) < 0.06
    iid = sample_latents(512, GeneratorConfig(style_share=0.0), (8, 8))
    assert abs(torch.corrcoef(torch.stack([iid[:, :, 0, 0].flatten(),
                                            iid[:, :, 5, 3].flatten()]))[0, 1].item()) < 0.06  # fmt: skip


def test_generator_config_rejects_unknown_norm_and_bad_share() -> None:
    with pytest.raises(ValueError, match="norm must be one of"):
        GeneratorConfig(norm="batch")
    with pytest.raises(ValueError, match="style_share"):
        GeneratorConfig(style_share=1.0)


def test_gradient_checkpointing_matches() -> None:
    torch.manual_seed(1)
    g = build_generator(TINY)
    z = torch.randn(2, 8, 2, 2)
    plain = g(z)
    (ga,) = torch.autograd.grad(plain.square().mean(), g.stem.weight)
    g.checkpointing = True
    ckpt = g(z)
    (gb,) = torch.autograd.grad(ckpt.square().mean(), g.stem.weight)
    assert torch.allclose(plain, ckpt) and torch.allclose(ga, gb, atol=1e-6)


def test_discriminator_shapes_and_size() -> None:
    d = Discriminator()
    assert sum(p.numel() for p in d.parameters()) < 1e6
    torch.manual_seed(2)
    small = Discriminator(DiscriminatorConfig((8, 8, 8)))
    for size in (32, 64):
        assert small(torch.randn(3, 3, size, size)).shape == (3,)
    with torch.device("meta"):
        assert Discriminator()(torch.empty(2, 3, 256, 256)).shape == (2,)


def test_cpu2_generator_budget(repo_root) -> None:
    from training.train_gan import load_train_config

    recipe = load_train_config(repo_root / "training" / "configs" / "cpu2.yaml").generator
    assert recipe == CPU2
    with torch.device("meta"):
        base, g = Generator(), build_generator(CPU2)
        z = torch.empty(1, 8, 17, 30)  # the renderer's 272×480 canvas
    ratio = flops(g, z) / flops(base, z)
    assert 1.05 < ratio <= 1.3, ratio  # a little more capacity, at most ~1.3× the decode cost
    assert flops(g, torch.empty(1, 8, 16, 16, device="meta")) / 1e9 <= 4.0


def test_default_state_dict_is_the_original() -> None:
    """The options default to the original network: the committed weights' keys, nothing more."""
    keys = list(Generator().state_dict())
    assert keys[:2] == ["stem.weight", "stem.bias"] and not any("stem_blocks" in k for k in keys)
    assert len(keys) == 2 + 4 * 10 + 4
    g = build_generator({**TINY, "stem_blocks": 2})
    assert sum(k.startswith("stem_blocks.") for k in g.state_dict()) == 2 * 8


def test_bilinear_upsampling_has_no_blocks() -> None:
    """Nearest ×2 repeats pixels (2-px blocks: the checkerboard); bilinear interpolates."""
    from renderer.decode.generator import Upsample2x

    ramp = torch.arange(8.0).reshape(1, 1, 1, 8).expand(1, 1, 8, 8)
    nearest, bilinear = Upsample2x("nearest")(ramp), Upsample2x("bilinear")(ramp)
    assert nearest.shape == bilinear.shape == (1, 1, 16, 16)
    step_n = nearest[0, 0, 0].diff()
    step_b = bilinear[0, 0, 0, 1:-1].diff()
    assert set(step_n.tolist()) == {0.0, 1.0}  # alternating: flat, jump, flat, jump
    assert torch.allclose(step_b, torch.full_like(step_b, 0.5))  # a smooth ramp


def test_generator_options_round_trip_and_validate() -> None:
    cfg = GeneratorConfig(**{**CPU2, "channels": tuple(CPU2["channels"])})
    assert GeneratorConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.to_dict()["upsample"] == "bilinear" and cfg.scale == 16
    # an old meta.json (no option keys) builds the original network
    old = {"latent_channels": 8, "channels": [128, 96, 64, 32, 16], "groups": 8,
           "norm": "channel", "style_share": 0.75}  # fmt: skip
    assert build_generator(old).config == GeneratorConfig()
    with pytest.raises(ValueError, match="upsample must be one of"):
        GeneratorConfig(upsample="bicubic")
    with pytest.raises(ValueError, match="stem_blocks"):
        GeneratorConfig(stem_blocks=-1)


@pytest.mark.parametrize(
    "options", [{"upsample": "bilinear"}, {"stem_blocks": 1, "upsample": "bilinear"}]
)
def test_options_keep_the_canvas_properties(options: dict) -> None:
    torch.manual_seed(2)
    g = build_generator({**TINY, **options}).eval()
    z = torch.randn(1, 8, 24, 24)
    with torch.no_grad():
        big, small = g(z), g(z[:, :, 4:20, 4:20])
        assert g(torch.randn(2, 8, 17, 30)).shape == (2, 3, 272, 480)
    # bilinear and one more block widen the receptive field a little: a cell ≥ 7 cells inside
    torch.testing.assert_close(big[..., 12 * 16 : 13 * 16, 12 * 16 : 13 * 16],
                               small[..., 8 * 16 : 9 * 16, 8 * 16 : 9 * 16], atol=1e-5, rtol=0)  # fmt: skip
    z = torch.randn(3, 8, 2, 2)
    with torch.no_grad():
        assert torch.allclose(g(z)[1:2], g(z[1:2]), atol=1e-5)


def test_reflect_padding_gives_the_edges_no_cue() -> None:
    """A spatially constant latent: with zero padding the borders come out different from the
    middle (the cue that painted frames round cpu2's samples); with reflect padding every 3×3
    convolution sees a constant neighbourhood at the edge too, so the image is flat."""
    torch.manual_seed(4)
    z = torch.randn(1, 8, 1, 1).expand(1, 8, 6, 6).contiguous()
    out = {}
    for mode in ("zeros", "reflect"):
        torch.manual_seed(5)  # the same weights for both
        g = build_generator({**CPU2, "padding_mode": mode}).eval()
        with torch.no_grad():
            out[mode] = g(z)[0]
    border = lambda x: torch.cat([x[:, 0], x[:, -1], x[:, :, 0], x[:, :, -1]], dim=1)  # noqa: E731
    middle = lambda x: x[:, 40:56, 40:56].reshape(3, -1)  # noqa: E731
    gap = {m: (border(x).mean(1) - middle(x).mean(1)).abs().max().item() for m, x in out.items()}
    assert gap["zeros"] > 0.01
    assert out["reflect"].std(dim=(1, 2)).max().item() < 1e-4 and gap["reflect"] < 1e-4
    assert Generator(GeneratorConfig(padding_mode="reflect")).state_dict().keys() == (
        Generator().state_dict().keys()
    )
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        GeneratorConfig(padding_mode="circular")


def test_detail_stage_restores_the_finest_octave_and_adds_no_weights() -> None:
    from renderer.decode.generator import DetailStage
    from training.losses import band_energy

    torch.manual_seed(6)
    plain = build_generator({**TINY, "upsample": "bilinear"}).eval()
    sharp = build_generator({**TINY, "upsample": "bilinear", "detail_gain": 0.75}).eval()
    assert sharp.state_dict().keys() == plain.state_dict().keys()  # weightless: checkpoints load
    sharp.load_state_dict(plain.state_dict())
    assert plain.detail is None and "gain=0.75" in repr(sharp.detail)
    z = torch.randn(2, 8, 4, 4)
    with torch.no_grad():
        y, y_sharp = plain(z), sharp(z)
    # y + g·(y − B y), clamped: the same picture, with more energy in the finest octave
    assert y_sharp.abs().max() <= 1.0
    energy, energy_sharp = band_energy(y), band_energy(y_sharp)
    assert (energy_sharp[:3] > 1.2 * energy[:3]).all()
    assert (y_sharp - y).abs().mean() < 0.25 * y.abs().mean()
    # flat areas and linear ramps pass unchanged (the kernel sums to 1 and is symmetric)
    ramp = torch.linspace(-0.5, 0.5, 16).expand(1, 3, 16, 16).contiguous()
    torch.testing.assert_close(DetailStage(1.0)(ramp)[..., 2:-2], ramp[..., 2:-2])
    flat = torch.full((1, 3, 8, 8), 0.3)
    torch.testing.assert_close(DetailStage(1.0)(flat), flat)
    # the renderer's channels_last layout is kept (the fast depthwise kernel), with equal values
    nhwc = y.contiguous(memory_format=torch.channels_last)
    out = sharp.detail(nhwc)
    assert out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, sharp.detail(y.contiguous()), atol=1e-6, rtol=0)
    assert GeneratorConfig.from_dict(sharp.config.to_dict()).detail_gain == 0.75
    with pytest.raises(ValueError, match="detail_gain"):
        GeneratorConfig(detail_gain=-0.1)
