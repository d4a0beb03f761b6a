"""noise-to-signal training: dataset generation, GAN training and model export."""
