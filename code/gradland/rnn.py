r"""Recurrent networks: the Elman network as one linear map of the stacked input and state.

This module is the code of Chapter 12 of the book.
"""

from __future__ import annotations

__all__: list[str] = []
