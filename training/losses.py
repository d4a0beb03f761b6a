"""GAN objectives: non-saturating logistic loss, lazy R1, colour-statistics and detail regularisers."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def d_logistic(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """softplus(D(fake)) + softplus(−D(real)), averaged."""
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def g_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """softplus(−D(G(z))), averaged."""
    return F.softplus(-fake_logits).mean()


def r1_penalty(discriminator, real: torch.Tensor) -> torch.Tensor:
    """Mean squared gradient norm of D at real images (Mescheder et al. 2018)."""
    real = real.detach().requires_grad_(True)
    logits = discriminator(real)
    (grad,) = torch.autograd.grad(logits.sum(), real, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


def colour_stats(images: torch.Tensor) -> torch.Tensor:
    """Batch colour statistics ``[8]`` of images in [-1, 1]: mean/std of saturation, luma and the
    two opponent chroma axes."""
    rgb = (images.float() + 1) / 2
    mx, mn = rgb.max(dim=1).values, rgb.min(dim=1).values
    saturation = (mx - mn) / (mx + 1e-3)
    luma = 0.2126 * rgb[:, 0] + 0.7152 * rgb[:, 1] + 0.0722 * rgb[:, 2]
    a = rgb[:, 0] - rgb[:, 1]
    b = (rgb[:, 0] + rgb[:, 1]) / 2 - rgb[:, 2]
    stats = [t.mean() for t in (saturation, luma, a, b)] + [
        t.std() for t in (saturation, luma, a, b)
    ]
    return torch.stack(stats)


def colour_regulariser(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """L1 between fake and real batch colour statistics (chroma alignment + saturation)."""
    return (colour_stats(fake) - colour_stats(real).detach()).abs().sum()


def band_energy(images: torch.Tensor, levels: int = 2) -> torch.Tensor:
    """Per-colour-channel standard deviation of the ``levels`` finest Laplacian-pyramid bands
    (the band-pass levels of :func:`training.metrics.laplacian_pyramid`, finest first) of a
    batch in [-1, 1]: ``[levels · 3]``. How much detail a set of images has at each octave."""
    from training.metrics import laplacian_pyramid

    bands = laplacian_pyramid(images.float(), levels + 1)[:levels]
    return torch.cat([band.std(dim=(0, 2, 3)) for band in bands])


def detail_regulariser(fake: torch.Tensor, real: torch.Tensor, levels: int = 2) -> torch.Tensor:
    """Mean squared log-ratio of fake to real :func:`band_energy`. The cpu4 generator's finest
    octave at 256² holds two thirds of the training images' energy (its last bilinear stage
    smooths it), which the adversarial loss alone did not close in 40,000 iterations; this pulls
    the energy of each octave to the data's without prescribing where the detail goes."""
    eps = 1e-4
    target = torch.log(band_energy(real, levels).detach() + eps)
    return (torch.log(band_energy(fake, levels) + eps) - target).pow(2).mean()
