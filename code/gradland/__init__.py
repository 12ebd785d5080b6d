"""gradland: the companion package of *Gradland*, an executable textbook of deep
learning.

Every model, algorithm and figure style used by the book lives here, one module
per idea, so that a chapter only imports what it teaches.
"""

from gradland._device import device, device_name, full_size

__version__ = "0.1.0"

__all__ = ["__version__", "device", "device_name", "full_size"]
