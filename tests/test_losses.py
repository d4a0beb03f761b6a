"""GAN objectives on known logits and a linear discriminator, and the colour and detail regularisers."""

from __future__ import annotations

import math

import pytest
import torch

from training.losses import (
    band_energy,
    colour_regulariser,
    colour_stats,
    d_logistic,
    detail_regulariser,
    g_nonsaturating,
    r1_penalty,
)


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_d_logistic_on_known_logits() -> None:
    zero = torch.zeros(4)
    assert d_logistic(zero, zero).item() == pytest.approx(2 * math.log(2))
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, 3.0])
    expected = (softplus(0.5) + softplus(3.0)) / 2 + (softplus(-2.0) + softplus(1.0)) / 2
    assert d_logistic(real, fake).item() == pytest.approx(expected, rel=1e-6)
    # a confident, correct D has a loss near 0; a confidently wrong one a large loss
    assert d_logistic(torch.full((3,), 20.0), torch.full((3,), -20.0)).item() < 1e-6
    assert d_logistic(torch.full((3,), -20.0), torch.full((3,), 20.0)).item() == pytest.approx(40)


def test_g_nonsaturating_on_known_logits() -> None:
    logits = torch.tensor([-2.0, 0.0, 4.0])
    expected = (softplus(2.0) + softplus(0.0) + softplus(-4.0)) / 3
    assert g_nonsaturating(logits).item() == pytest.approx(expected, rel=1e-6)
    assert g_nonsaturating(torch.full((4,), 10.0)).item() < 1e-4
    # non-saturating: the gradient does not vanish when D confidently rejects the fakes
    x = torch.full((1,), -10.0, requires_grad=True)
    g_nonsaturating(x).backward()
    assert x.grad.item() == pytest.approx(-1.0, abs=1e-4)


class Linear(torch.nn.Module):
    """D(x) = <w, x> + b."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(*shape))
        self.b = torch.nn.Parameter(torch.randn(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.w).flatten(1).sum(1) + self.b


def test_r1_of_a_linear_discriminator_is_its_weight_norm_squared() -> None:
    torch.manual_seed(0)
    d = Linear((3, 8, 8))
    real = torch.randn(5, 3, 8, 8)
    r1 = r1_penalty(d, real)
    assert r1.item() == pytest.approx(d.w.detach().pow(2).sum().item(), rel=1e-5)
    # differentiable in D's parameters (create_graph): d r1 / d w = 2 w
    (grad,) = torch.autograd.grad(r1, d.w)
    torch.testing.assert_close(grad, 2 * d.w.detach())
    assert not real.requires_grad  # the caller's batch is left alone


def test_r1_of_a_constant_discriminator_is_zero() -> None:
    class Constant(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.b = torch.nn.Parameter(torch.ones(()))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return 0 * x.flatten(1).sum(1) + self.b

    assert r1_penalty(Constant(), torch.randn(2, 3, 4, 4)).item() == 0


def test_colour_stats_of_known_images() -> None:
    grey = torch.zeros(2, 3, 4, 4)  # mid-grey in [-1, 1]
    stats = colour_stats(grey)
    assert stats.shape == (8,)
    assert stats[0].item() == pytest.approx(0)  # saturation
    assert stats[1].item() == pytest.approx(0.5)  # luma
    assert stats[4:].abs().max().item() == pytest.approx(0)  # no spread
    red = torch.full((2, 3, 4, 4), -1.0)
    red[:, 0] = 1
    stats = colour_stats(red)
    assert stats[0].item() == pytest.approx(1 / 1.001, rel=1e-4)
    assert stats[2].item() == pytest.approx(1)  # red − green
    assert stats[3].item() == pytest.approx(0.5)  # (red + green)/2 − blue


def assert_pulls_fake_toward_real(regulariser, fake, real) -> None:
    """A regulariser's gradient moves the fakes' statistics toward the reals' and never moves
    the reals: one normalised gradient step lowers the loss."""
    fake = fake.clone().requires_grad_(True)
    target = real.clone().requires_grad_(True)
    loss = regulariser(fake, target)
    loss.backward()
    assert target.grad is None and fake.grad.abs().sum() > 0
    step = fake.detach() - 0.5 * fake.grad / fake.grad.abs().max()
    assert regulariser(step, real).item() < loss.item()


def test_colour_regulariser() -> None:
    torch.manual_seed(3)
    real = torch.rand(4, 3, 16, 16) * 2 - 1
    assert colour_regulariser(real, real).item() == 0
    assert colour_regulariser(real * 0.1, real).item() > 0
    assert_pulls_fake_toward_real(colour_regulariser, real * 0.1, real)


def test_band_energy_sees_a_blur_octave_by_octave() -> None:
    torch.manual_seed(4)
    sharp = torch.rand(3, 3, 32, 32) * 2 - 1
    soft = torch.nn.functional.avg_pool2d(sharp, 3, stride=1, padding=1, count_include_pad=False)
    e_sharp, e_soft = band_energy(sharp), band_energy(soft)
    assert e_sharp.shape == (6,)  # two octaves × three channels
    assert (e_soft < e_sharp).all()
    # a box blur removes most of the finest octave and less of the next
    assert (e_soft[:3] / e_sharp[:3]).max() < (e_soft[3:] / e_sharp[3:]).min()


def test_detail_regulariser_pulls_the_fakes_detail_to_the_reals() -> None:
    torch.manual_seed(5)
    real = torch.rand(4, 3, 32, 32) * 2 - 1
    assert detail_regulariser(real, real).item() == 0
    assert detail_regulariser(real * 0.5, real).item() == pytest.approx(
        math.log(0.5) ** 2, rel=1e-2
    )
    assert_pulls_fake_toward_real(detail_regulariser, real * 0.5, real)
