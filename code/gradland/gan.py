"""A GAN as a contrastive energy-based model (Chapter 11)."""
