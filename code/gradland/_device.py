"""The one place that decides where tensors live."""

import os

import torch

#: Name of the environment variable that overrides the automatic choice.
ENV_VAR = "GRADLAND_DEVICE"


def device() -> torch.device:
    """Return the :class:`torch.device` that gradland and the book compute on.

    The choice is CUDA when a GPU is present and CPU otherwise. Setting the
    environment variable ``GRADLAND_DEVICE`` (for example to ``cpu``,
    ``cuda`` or ``cuda:1``) overrides it; the variable is read at every call,
    so a notebook can change it on the fly.

    Returns
    -------
    torch.device
        The device to put models and tensors on.

    Raises
    ------
    ValueError
        If ``GRADLAND_DEVICE`` does not name a device PyTorch knows, or names
        a CUDA device on a machine without one.

    Examples
    --------
    >>> import os, gradland
    >>> os.environ["GRADLAND_DEVICE"] = "cpu"
    >>> gradland.device()
    device(type='cpu')
    >>> del os.environ["GRADLAND_DEVICE"]
    >>> gradland.device().type in {"cpu", "cuda"}
    True
    """
    requested = os.environ.get(ENV_VAR, "").strip()
    if not requested:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(requested)
    except RuntimeError as err:
        raise ValueError(
            f"{ENV_VAR} must name a torch device such as 'cpu' or 'cuda:0'; "
            f"got {requested!r}"
        ) from err
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"{ENV_VAR}={requested!r} asks for CUDA, but torch.cuda.is_available() "
            "is False on this machine"
        )
    return chosen
