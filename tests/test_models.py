"""Generator/discriminator shapes and budgets, losses, and the SWD metric's properties."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from renderer.generator import Generator, GeneratorConfig, build_generator, sample_latents
from training.losses import colour_regulariser, d_logistic, g_nonsaturating, r1_penalty
from training.metrics import laplacian_pyramid, sliced_wasserstein, swd_pyramid
from training.models import Discriminator, DiscriminatorConfig

TINY = {"channels": [16, 8, 8, 8, 8], "groups": 4}


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


def test_losses() -> None:
    torch.manual_seed(3)
    d = Discriminator(DiscriminatorConfig((8, 8, 8)))
    real, fake = torch.rand(4, 3, 16, 16) * 2 - 1, torch.rand(4, 3, 16, 16) * 2 - 1
    zero = torch.zeros(4)
    assert d_logistic(zero, zero).item() == pytest.approx(2 * np.log(2))
    assert g_nonsaturating(torch.full((4,), 10.0)).item() < 1e-4
    r1 = r1_penalty(d, real)
    assert r1.item() > 0 and r1.requires_grad
    assert colour_regulariser(real, real).item() == 0
    assert colour_regulariser(fake * 0.1, real).item() > 0


def test_swd_properties() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((512, 4)).astype(np.float32)
    assert sliced_wasserstein(a, a, projections=32, rng=rng) == 0
    assert sliced_wasserstein(a, a + 1, projections=32, rng=rng) > 0.3
    gen = torch.Generator().manual_seed(0)
    noise = torch.rand(8, 3, 32, 32, generator=gen) * 2 - 1
    smooth = torch.nn.functional.avg_pool2d(noise, 5, 1, 2) * 3
    same = swd_pyramid(noise, noise, patches_per_image=32, projections=64)
    assert len(same) == 3 and max(same) < 1e-6
    # two independent draws of the same distribution are much closer than different textures
    other = torch.rand(8, 3, 32, 32, generator=gen) * 2 - 1
    near = np.mean(swd_pyramid(noise, other, patches_per_image=32, projections=64))
    blocks = torch.nn.functional.interpolate(smooth[:, :, ::8, ::8], scale_factor=8)
    for different in (smooth, blocks):
        far = np.mean(swd_pyramid(noise, different, patches_per_image=32, projections=64))
        assert far > 2 * near
    levels = laplacian_pyramid(noise, 3)
    assert [lv.shape[-1] for lv in levels] == [32, 16, 8]
