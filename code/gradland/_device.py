"""The one place that decides where tensors live."""

import os

import torch

#: Name of the environment variable that overrides the automatic choice.
ENV_VAR = "GRADLAND_DEVICE"
#: Name of the environment variable that asks chapters for their full-size runs.
FULL_VAR = "GRADLAND_FULL"


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
        If ``GRADLAND_DEVICE`` does not name a device PyTorch knows, names a
        CUDA device that this machine does not have, or names a device other
        than the CPU and CUDA.

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
        raise ValueError(f"{ENV_VAR} must name a torch device such as 'cpu' or 'cuda:0'; got {requested!r}") from err
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"{ENV_VAR}={requested!r} asks for CUDA, but torch.cuda.is_available() is False on this machine"
        )
    if chosen.type == "cuda" and chosen.index is not None and chosen.index >= torch.cuda.device_count():
        raise ValueError(
            f"{ENV_VAR}={requested!r} asks for CUDA device {chosen.index}, but this machine "
            f"has {torch.cuda.device_count()}"
        )
    if chosen.type == "cpu" and chosen.index not in (None, 0):
        raise ValueError(f"{ENV_VAR}={requested!r}: there is one CPU device, 'cpu'")
    if chosen.type not in ("cpu", "cuda"):
        raise ValueError(f"{ENV_VAR}={requested!r} names a {chosen.type} device; the book runs on 'cpu' or 'cuda'")
    return chosen


def full_size() -> bool:
    """Whether chapters should train at full size rather than their small CPU size.

    Every chapter that trains a model runs a small seeded version by default,
    so that it executes in about a minute on a laptop CPU. Setting the
    environment variable ``GRADLAND_FULL`` to ``1`` (or ``true``, ``yes``)
    selects the full-size runs: more data, larger models, more steps, meant for
    a GPU. The glued numbers and the figures change, and so do the few words
    that a cell writes because the outcome depends on the size of the run
    (which of two methods is faster, for instance); the rest of the text does
    not.

    Returns
    -------
    bool
        True when ``GRADLAND_FULL`` is set to ``1``, ``true`` or ``yes``
        (any case), False when it is unset, empty, ``0``, ``false`` or ``no``.

    Raises
    ------
    ValueError
        If ``GRADLAND_FULL`` holds any other value.

    Examples
    --------
    >>> import os, gradland
    >>> os.environ["GRADLAND_FULL"] = "1"
    >>> gradland.full_size()
    True
    >>> del os.environ["GRADLAND_FULL"]
    >>> gradland.full_size()
    False
    """
    value = os.environ.get(FULL_VAR, "").strip().lower()
    if value in {"", "0", "false", "no"}:
        return False
    if value in {"1", "true", "yes"}:
        return True
    raise ValueError(f"{FULL_VAR} must be 1/true/yes or 0/false/no; got {value!r}")


def device_name(where: torch.device | str | None = None) -> str:
    """Return a reader's name for the machine that computes on ``where``.

    Timings hold for one machine only, so a chapter that states one names the
    machine that built the page: the GPU's model for a CUDA device (for example
    ``"an NVIDIA H200 GPU"``), the processor's model for the CPU.

    Parameters
    ----------
    where : torch.device or str, optional
        The device; by default :func:`device`.

    Returns
    -------
    str
        A phrase that fits after "on", such as ``"an NVIDIA H200 GPU"`` or
        ``"a 2-core AMD EPYC 7B13 CPU"``.

    Examples
    --------
    >>> import gradland
    >>> gradland.device_name("cpu").endswith("CPU")
    True
    """
    where = torch.device(device() if where is None else where)
    if where.type == "cuda":
        name = torch.cuda.get_device_name(where)
        return f"{_article(name)} {name} GPU"
    model = _cpu_model()
    cores = os.cpu_count() or 1
    text = f"{cores}-core {model} CPU" if model else f"{cores}-core CPU"
    return f"{_article(text)} {text}"


def _article(phrase: str) -> str:
    """ "a" or "an", by the sound that starts ``phrase``: an NVIDIA, an AMD, an 8-core,
    an 11-core, a Tesla."""
    word = phrase.split(maxsplit=1)[0] if phrase.strip() else ""
    if word[:1].isdigit():
        vowel = word.startswith(("8", "11", "18")) and not word.startswith(("111", "181"))
    elif len(word) > 1 and word.isupper() and word.isalpha() and word not in {"NVIDIA"} and len(word) <= 4:
        vowel = word[0] in "AEFHILMNORSX"  # an acronym spelt letter by letter: an HP, an AMD
    else:
        vowel = word[:1].upper() in "AEIOU" or word == "NVIDIA"  # "en-vidia"
    return "an" if vowel else "a"


def _cpu_model() -> str:
    """The processor's model name, from /proc/cpuinfo or platform, without
    trademarks."""
    import platform
    import re

    name = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.lower().startswith("model name"):
                    name = line.split(":", 1)[1]
                    break
    except OSError:
        name = platform.processor()
    name = re.sub(r"\((R|TM|tm)\)|\bCPU\b|\bProcessor\b|@.*|\d+-Core", " ", name)
    return " ".join(name.split())
