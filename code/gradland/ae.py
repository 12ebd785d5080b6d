"""Autoencoders as energy-based models (Chapter 10)."""
