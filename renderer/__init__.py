"""noise-to-signal renderer: album audio → features/analysis → latents → frames → video."""

__version__ = "0.1.0"
