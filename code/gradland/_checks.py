"""What the input checks of the package say about a value that came in."""

import torch


def describe(value: object) -> str:
    """A tensor's shape, dtype and device, or the type of anything else, for an error
    message."""
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}, dtype {value.dtype}, on {value.device}"
    return type(value).__name__
