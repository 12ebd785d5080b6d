r"""Transformers: attention plus position-wise (k = 1) convolutions, residuals and normalisation.

This module is the code of Chapter 14 of the book.
"""

from __future__ import annotations

__all__: list[str] = []
