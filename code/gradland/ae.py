r"""Autoencoders as energy-based models (Chapter 10).

A latent-variable energy :math:`E(\bm{y}, \bm{z})` asks for an inner
optimisation, :math:`\check{\bm{z}} = \argmin_{\bm{z}} E(\bm{y}, \bm{z})`,
every time a target :math:`\bm{y}` is scored. An autoencoder replaces that
search by a network, the *encoder*, that predicts the latent in one pass;
a *decoder* maps the latent back to the space of :math:`\bm{y}`, and the
energy is the reconstruction error

.. math::

   E(\bm{y}) = \lVert \bm{y} - \operatorname{dec}(\operatorname{enc}(\bm{y})) \rVert^2 .

The encoders and decoders are small :func:`gradland.layers.mlp`. The module
follows the chapter:

* :class:`Autoencoder`, the plain autoencoder, with its :meth:`~Autoencoder.energy`;
* :class:`DenoisingAutoencoder`, which reconstructs :math:`\bm{y}` from a
  corrupted :math:`\tilde{\bm{y}}`;
* :class:`ContractiveAutoencoder`, which penalises the Frobenius norm of the
  encoder's Jacobian :math:`\partial \operatorname{enc} / \partial \bm{y}`,
  computed with autograd (:func:`encoder_jacobian`);
* :func:`train`, which trains any autoencoder with :func:`gradland.train.fit`,
  the variational one of :mod:`gradland.vae` included.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from gradland import _checks
from gradland._checks import describe as _describe
from gradland.train import History, fit

__all__ = [
    "Autoencoder",
    "DenoisingAutoencoder",
    "encoder_jacobian",
    "ContractiveAutoencoder",
    "train",
]


# --------------------------------------------------------------------------
# The plain autoencoder
# --------------------------------------------------------------------------


class Autoencoder(nn.Module):
    r"""An autoencoder whose energy is its squared reconstruction error.

    The encoder predicts the latent, :math:`\bm{z} = \operatorname{enc}(\bm{y})`,
    in place of the search :math:`\argmin_{\bm{z}} E(\bm{y}, \bm{z})`; the
    decoder maps it back, and

    .. math::

       E(\bm{y})
       = \lVert \bm{y} - \operatorname{dec}(\operatorname{enc}(\bm{y})) \rVert^2 .

    Training minimises the mean energy of the data. Nothing in the loss pushes
    the energy *up* away from the data: unless the latent is narrower than
    :math:`\bm{y}` (a bottleneck) or regularised, the autoencoder is free to
    learn the identity and give every :math:`\bm{y}` zero energy.

    Parameters
    ----------
    encoder : torch.nn.Module
        Maps a batch ``(n, d_y)`` to latents ``(n, d_z)``.
    decoder : torch.nn.Module
        Maps latents ``(n, d_z)`` back to ``(n, d_y)``.
    d_y : int, optional
        Size of :math:`\bm{y}`; read from the encoder's first ``nn.Linear`` by default.
    d_z : int, optional
        Size of the latent; read from the decoder's first ``nn.Linear`` by default.

    Raises
    ------
    TypeError
        If ``encoder`` or ``decoder`` is not a module, or a size not an int;
        from a method, for a batch that is not floating, of the model's dtype.
    ValueError
        If a size is below 1, or not the module's; from a method, for a batch
        not of shape ``(n, d_y)`` (latents: ``(n, d_z)``), :math:`n \ge 1`, on
        the model's device.

    Examples
    --------
    >>> import torch
    >>> from gradland.ae import Autoencoder
    >>> from gradland.layers import mlp
    >>> model = Autoencoder(mlp([2, 16, 1]), mlp([1, 16, 2], seed=1))
    >>> model.d_y, model.d_z
    (2, 1)
    >>> model.energy(torch.zeros(3, 2)).shape
    torch.Size([3])
    """

    def __init__(
        self,
        encoder: torch.nn.Module,
        decoder: torch.nn.Module,
        d_y: int | None = None,
        d_z: int | None = None,
    ):
        super().__init__()
        self.d_y = _checks.size_of("d_y", d_y, "encoder", encoder)
        self.d_z = _checks.size_of("d_z", d_z, "decoder", decoder)
        self.encoder, self.decoder = encoder, decoder

    def _reference(self) -> torch.Tensor:
        return next(self.parameters())

    def check(self, y: object) -> torch.Tensor:
        r"""Check a batch against the model.

        Parameters
        ----------
        y : torch.Tensor
            A batch, shape ``(n, d_y)``.

        Returns
        -------
        torch.Tensor
            ``y`` itself.

        Raises
        ------
        TypeError
            If ``y`` is not a floating tensor of the model's dtype.
        ValueError
            If ``y`` is not of shape ``(n, d_y)``, :math:`n \ge 1`, on the model's
            device.
        """
        return _checks.rows("y", y, self.d_y, self._reference())

    def check_data(self, data: object) -> torch.Tensor:
        r"""Check a training set once, before the steps of :func:`train`.

        A model whose loss reads the values of its batch to check them overrides this
        method to check them here, once (a Bernoulli
        :class:`gradland.vae.VariationalAutoencoder` does), so that the steps can call
        :meth:`loss` with ``checked=True``; the plain one checks metadata only.

        Parameters
        ----------
        data : torch.Tensor
            The training set, shape ``(n, d_y)``.

        Returns
        -------
        torch.Tensor
            ``data`` itself.

        Raises
        ------
        TypeError
            If ``data`` is not a floating tensor of the model's dtype.
        ValueError
            If ``data`` is not of shape ``(n, d_y)``, :math:`n \ge 1`, on the model's
            device.
        """
        return _checks.rows("data", data, self.d_y, self._reference())

    def encode(self, y: torch.Tensor) -> torch.Tensor:
        r"""The latents :math:`\operatorname{enc}(\bm{y})`.

        Parameters
        ----------
        y : torch.Tensor
            The batch, shape ``(n, d_y)``.

        Returns
        -------
        torch.Tensor
            Shape ``(n, d_z)``.
        """
        return self.encoder(self.check(y))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        r"""The points :math:`\operatorname{dec}(\bm{z})`.

        Parameters
        ----------
        z : torch.Tensor
            Latents, shape ``(n, d_z)``.

        Returns
        -------
        torch.Tensor
            Shape ``(n, d_y)``.

        Raises
        ------
        TypeError
            If ``z`` is not a floating tensor of the model's dtype.
        ValueError
            If ``z`` is not of shape ``(n, d_z)``, :math:`n \ge 1`, on the model's
            device.
        """
        return self.decoder(_checks.rows("z", z, self.d_z, self._reference()))

    def reconstruct(self, y: torch.Tensor) -> torch.Tensor:
        r"""The reconstruction :math:`\operatorname{dec}(\operatorname{enc}(\bm{y}))`.

        Parameters
        ----------
        y : torch.Tensor
            The batch, shape ``(n, d_y)``.

        Returns
        -------
        torch.Tensor
            Shape ``(n, d_y)``.
        """
        return self.decode(self.encode(y))

    def energy(self, y: torch.Tensor) -> torch.Tensor:
        r"""The energy :math:`E(\bm{y}) = \lVert \bm{y} -
        \operatorname{dec}(\operatorname{enc}(\bm{y})) \rVert^2` of each row.

        Parameters
        ----------
        y : torch.Tensor
            The batch, shape ``(n, d_y)``.

        Returns
        -------
        torch.Tensor
            Shape ``(n,)``.
        """
        return (self.check(y) - self.reconstruct(y)).square().sum(dim=1)

    def loss(self, y: torch.Tensor, *, checked: bool = False) -> torch.Tensor:
        r"""The training loss: the mean energy of the batch.

        Parameters
        ----------
        y : torch.Tensor
            The batch, shape ``(n, d_y)``.
        checked : bool
            True when :meth:`check_data` has checked the values of ``y``, as
            :func:`train` does, so that a loss that reads them to check them (a
            Bernoulli VAE's: a device synchronisation on a GPU) skips it. This loss
            reads none.

        Returns
        -------
        torch.Tensor
            A scalar.
        """
        return self.energy(y).mean()


# --------------------------------------------------------------------------
# The denoising autoencoder
# --------------------------------------------------------------------------


class DenoisingAutoencoder(Autoencoder):
    r"""An autoencoder trained to undo a corruption: :math:`\lVert \bm{y} -
    \operatorname{dec}(\operatorname{enc}(\tilde{\bm{y}})) \rVert^2`.

    The corrupted input is
    :math:`\tilde{\bm{y}} = \bm{m} \odot \bm{y} + \sigma \bm{\epsilon}` with Gaussian
    noise :math:`\bm{\epsilon} \sim \mathcal{N}(\bm{0}, \Id)` and a mask :math:`\bm{m}`
    whose entries are 0 with probability ``mask`` and 1 otherwise (Vincent et al.,
    2008). The energy of a point is still its reconstruction error
    :meth:`Autoencoder.energy`; the corruption only enters the training loss.

    Parameters
    ----------
    encoder, decoder, d_y, d_z
        As in :class:`Autoencoder`.
    noise : float
        Standard deviation :math:`\sigma \ge 0` of the additive noise, finite.
    mask : float
        Probability in :math:`[0, 1)` of zeroing each entry of :math:`\bm{y}`.

    Raises
    ------
    TypeError
        If ``noise`` or ``mask`` is not a real number; as in :class:`Autoencoder`.
    ValueError
        If ``noise`` is not finite and :math:`\ge 0`, or ``mask`` not in
        :math:`[0, 1)`; as in :class:`Autoencoder`.

    Examples
    --------
    >>> import torch
    >>> from gradland.ae import DenoisingAutoencoder
    >>> from gradland.layers import mlp
    >>> model = DenoisingAutoencoder(mlp([2, 16, 2]), mlp([2, 16, 2], seed=1),
    ...                              noise=0.3)
    >>> y = torch.zeros(4, 2)
    >>> _ = torch.manual_seed(0)
    >>> y_tilde = model.corrupt(y)  # y plus noise of standard deviation 0.3
    >>> y_tilde.shape, bool(y_tilde.abs().sum() > 0)
    (torch.Size([4, 2]), True)
    """

    def __init__(
        self,
        encoder: torch.nn.Module,
        decoder: torch.nn.Module,
        d_y: int | None = None,
        d_z: int | None = None,
        *,
        noise: float = 0.1,
        mask: float = 0.0,
    ):
        super().__init__(encoder, decoder, d_y, d_z)
        self.noise = _checks.real("noise", noise, minimum=0)
        self.mask = _checks.real("mask", mask, minimum=0, below=1)

    def corrupt(self, y: torch.Tensor) -> torch.Tensor:
        r"""A corrupted copy :math:`\tilde{\bm{y}}` of the batch, drawn from the global
        random generator.

        The random numbers are drawn on the CPU and moved to the batch's device, so that
        a run on a GPU corrupts the data exactly as a run on the CPU does.

        Parameters
        ----------
        y : torch.Tensor
            The batch, shape ``(n, d_y)``.

        Returns
        -------
        torch.Tensor
            :math:`\tilde{\bm{y}}`, shape ``(n, d_y)``.
        """
        y = self.check(y)
        keep = 1.0
        if self.mask > 0:
            keep = (torch.rand(y.shape, dtype=y.dtype).to(y.device) >= self.mask).to(y.dtype)
        return keep * y + self.noise * torch.randn(y.shape, dtype=y.dtype).to(y.device)

    def loss(self, y: torch.Tensor, *, checked: bool = False) -> torch.Tensor:
        r"""The denoising loss: the mean of :math:`\lVert \bm{y} -
        \operatorname{dec}(\operatorname{enc}(\tilde{\bm{y}})) \rVert^2`.

        Parameters
        ----------
        y : torch.Tensor
            The clean batch, shape ``(n, d_y)``.
        checked : bool
            As in :meth:`Autoencoder.loss`; this loss reads no values to check.

        Returns
        -------
        torch.Tensor
            A scalar.
        """
        y_tilde = self.corrupt(y)
        return (y - self.reconstruct(y_tilde)).square().sum(dim=1).mean()


# --------------------------------------------------------------------------
# The contractive autoencoder
# --------------------------------------------------------------------------


def encoder_jacobian(encoder: torch.nn.Module, y: torch.Tensor, *, create_graph: bool = True) -> torch.Tensor:
    r"""The Jacobian
    :math:`\partial \operatorname{enc} / \partial \bm{y} \in \R^{d_z \times d_y}` at
    every row of ``y``.

    One reverse-mode pass per latent unit: the :math:`k`-th pass
    differentiates :math:`\sum_i \operatorname{enc}_k(\bm{y}_i)` with respect
    to the batch, and since the examples do not interact its row :math:`i`
    is the :math:`k`-th row of the Jacobian at :math:`\bm{y}_i`.

    Parameters
    ----------
    encoder : torch.nn.Module
        A map from ``(n, d_y)`` to ``(n, d_z)`` that treats rows independently;
        otherwise the result is not the Jacobian of each row. A batch
        normalisation in training mode, which mixes the rows, is refused;
        other layers that mix them cannot be told apart.
    y : torch.Tensor
        The points, shape ``(n, d_y)``, floating, with the dtype and device of
        the encoder's parameters.
    create_graph : bool
        Keep the graph of the Jacobian, so that a loss built from it can be
        differentiated with respect to the encoder's parameters.

    Returns
    -------
    torch.Tensor
        Shape ``(n, d_z, d_y)``: one :math:`d_z \times d_y` Jacobian per example.

    Raises
    ------
    TypeError
        If ``encoder`` is not callable, or ``y`` or the encoder's output is not
        a floating tensor (of the encoder's dtype).
    ValueError
        If ``y`` is not of shape ``(n, d_y)``, :math:`n \ge 1`, on the
        encoder's device, the encoder batch-normalises in training mode, or
        its output is not of shape ``(n, d_z)`` or not differentiable in ``y``.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from gradland.ae import encoder_jacobian
    >>> linear = nn.Linear(3, 2)
    >>> J = encoder_jacobian(linear, torch.randn(5, 3))
    >>> J.shape
    torch.Size([5, 2, 3])
    >>> # the Jacobian of a linear map is its matrix
    >>> torch.allclose(J[0], linear.weight)
    True
    >>> with torch.no_grad():  # autograd is switched back on inside
    ...     encoder_jacobian(linear, torch.randn(5, 3), create_graph=False).shape
    torch.Size([5, 2, 3])
    """
    _checks.function("encoder", encoder, "a torch.nn.Module (or a function)")
    module = encoder if isinstance(encoder, nn.Module) else nn.Sequential()
    _checks.rows("y", y, _checks.in_features(module), next(module.parameters(), None))
    _checks.rowwise("encoder", module)  # a row of the Jacobian per example
    with torch.enable_grad():  # also inside torch.no_grad(), e.g. when only evaluating
        y = y.detach().requires_grad_(True)
        z = _encoded(encoder, y)  # checked: (n, d_z), differentiable in y
        rows = []
        for k in range(z.shape[1]):
            (row,) = torch.autograd.grad(
                z[:, k].sum(),
                y,
                create_graph=create_graph,
                retain_graph=True,
            )
            rows.append(row)
        return torch.stack(rows, dim=1)


def _encoded(encoder: Callable[[torch.Tensor], torch.Tensor], y: torch.Tensor) -> torch.Tensor:
    """``encoder(y)``, refused unless it is a floating ``(n, d_z)`` tensor, one row per
    row of ``y``, that depends on ``y`` through autograd."""
    z = encoder(y)
    _checks.returned("the encoder", z, ndim=(2,), shape=f"({len(y)}, d_z) for this y")
    if len(z) != len(y):
        raise ValueError(f"the encoder must return a tensor of shape ({len(y)}, d_z) for this y; got {_describe(z)}")
    if not z.requires_grad:
        raise ValueError("the encoder's output must depend on y through autograd; it has no gradient")
    return z


class ContractiveAutoencoder(Autoencoder):
    r"""An autoencoder whose encoder is penalised for being sensitive to its input.

    The loss adds to the reconstruction error the squared Frobenius norm of
    the encoder's Jacobian (Rifai et al., 2011),

    .. math::

       \lVert \bm{y} - \operatorname{dec}(\operatorname{enc}(\bm{y})) \rVert^2
       + \lambda \Bigl\lVert \frac{\partial \operatorname{enc}}{\partial \bm{y}}
       \Bigr\rVert_{\mathrm{F}}^2 ,

    so that the encoder stays flat in every direction but those along which
    the data vary, which reconstruction needs. The energy is the
    reconstruction error, as in :class:`Autoencoder`.

    Parameters
    ----------
    encoder, decoder, d_y, d_z
        As in :class:`Autoencoder`.
    lam : float
        Weight :math:`\lambda \ge 0` of the penalty, finite.

    Raises
    ------
    TypeError
        If ``lam`` is not a real number; as in :class:`Autoencoder`.
    ValueError
        If ``lam`` is not finite and :math:`\ge 0`; as in :class:`Autoencoder`.

    Examples
    --------
    >>> import torch
    >>> from gradland.ae import ContractiveAutoencoder
    >>> from gradland.layers import mlp
    >>> model = ContractiveAutoencoder(mlp([2, 16, 2]), mlp([2, 16, 2], seed=1),
    ...                                lam=0.1)
    >>> model.contraction(torch.zeros(3, 2)).shape
    torch.Size([3])
    """

    def __init__(
        self,
        encoder: torch.nn.Module,
        decoder: torch.nn.Module,
        d_y: int | None = None,
        d_z: int | None = None,
        *,
        lam: float = 0.1,
    ):
        super().__init__(encoder, decoder, d_y, d_z)
        self.lam = _checks.real("lam", lam, minimum=0)

    def contraction(self, y: torch.Tensor) -> torch.Tensor:
        r"""The penalty :math:`\lVert \partial \operatorname{enc} / \partial \bm{y}
        \rVert_{\mathrm{F}}^2` at each row.

        Parameters
        ----------
        y : torch.Tensor
            The batch, shape ``(n, d_y)``.

        Returns
        -------
        torch.Tensor
            Shape ``(n,)``.
        """
        return encoder_jacobian(self.encoder, self.check(y)).square().sum(dim=(1, 2))

    def loss(self, y: torch.Tensor, *, checked: bool = False) -> torch.Tensor:
        r"""The mean reconstruction error plus :math:`\lambda` times the mean penalty.

        Parameters
        ----------
        y : torch.Tensor
            The batch, shape ``(n, d_y)``.
        checked : bool
            As in :meth:`Autoencoder.loss`; this loss reads no values to check.

        Returns
        -------
        torch.Tensor
            A scalar.
        """
        return self.energy(y).mean() + self.lam * self.contraction(y).mean()


# --------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------


def train(
    model: Autoencoder,
    data: torch.Tensor,
    *,
    steps: int = 500,
    lr: float = 1e-2,
    batch_size: int = 128,
    seed: int = 0,
) -> History:
    r"""Train any autoencoder by Adam on random mini-batches of ``data``.

    ``model.check_data`` checks the data once; then each step draws
    ``batch_size`` rows without replacement and takes one step on
    ``model.loss(batch, checked=True)``, by :func:`gradland.train.fit`. The
    run is seeded: the batches are drawn from a CPU generator seeded with
    ``seed``, and the corruption of a :class:`DenoisingAutoencoder` and the
    samples of a :class:`gradland.vae.VariationalAutoencoder` from the global
    random state, seeded with ``seed`` and restored afterwards.

    Parameters
    ----------
    model : Autoencoder
        The model, of any subclass; its parameters are updated in place.
    data : torch.Tensor
        Training set, shape ``(n, d_y)`` with :math:`n \ge 1`, on the model's
        device and dtype.
    steps : int
        Number of Adam steps, at least 1.
    lr : float
        Adam's learning rate, positive and finite.
    batch_size : int
        Rows per step, at least 1; the whole set if larger than ``n``.
    seed : int
        Seed of the run.

    Returns
    -------
    gradland.train.History
        ``loss``, the mini-batch loss at each step, before that step's update,
        and ``lr``, the learning rate.

    Raises
    ------
    TypeError
        If ``model`` is not an :class:`Autoencoder`, ``data`` not a floating
        tensor of the model's dtype, ``lr`` not a real number, or ``steps``,
        ``batch_size`` or ``seed`` not an int.
    ValueError
        If ``data`` is not of shape ``(n, d_y)`` with :math:`n \ge 1` or not on
        the model's device, has an entry outside :math:`[0, 1]` for a
        Bernoulli :class:`gradland.vae.VariationalAutoencoder`, or ``steps``,
        ``batch_size`` or ``lr`` is out of range.
    FloatingPointError
        If a loss is NaN or infinite: the run has diverged.

    Examples
    --------
    >>> from gradland.data import horn
    >>> from gradland.ae import Autoencoder, train
    >>> from gradland.layers import mlp
    >>> model = Autoencoder(mlp([2, 16, 1]), mlp([1, 16, 2], seed=1))
    >>> history = train(model, horn(256, x=1.0).y, steps=100, lr=0.02)
    >>> len(history.loss), history.loss[-1] < 0.5 * history.loss[0]
    (100, True)
    """
    _checks.instance("model", model, Autoencoder)
    data = model.check_data(data)  # once: the steps skip what it checked
    steps = _checks.integer("steps", steps, minimum=1)
    lr = _checks.real("lr", lr, positive=True)
    batch_size = min(_checks.integer("batch_size", batch_size, minimum=1), len(data))
    seed = _checks.integer("seed", seed)
    generator = torch.Generator().manual_seed(seed)  # the batches, drawn on the CPU

    def loss(k: int) -> torch.Tensor:
        rows = torch.randperm(len(data), generator=generator)[:batch_size].to(data.device)
        return model.loss(data[rows], checked=True)

    return fit(loss, torch.optim.Adam(model.parameters(), lr=lr), steps, seed=seed)
