r"""Graph convolutional networks: attention whose coefficients are given by the graph.

This module is the code of Chapter 15 of the book.
"""

from __future__ import annotations

__all__: list[str] = []
