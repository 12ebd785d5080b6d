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
* :func:`reparameterise`, :func:`gaussian_kl` and
  :class:`VariationalAutoencoder`, whose negative evidence lower bound is a
  free energy: reconstruction plus Kullback--Leibler divergence;
* :func:`train`, which trains any of the four with :func:`gradland.train.fit`.
"""

from __future__ import annotations

import math

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
    "reparameterise",
    "gaussian_kl",
    "VariationalAutoencoder",
    "train",
]


# --------------------------------------------------------------------------
# The checks of the module's own; the others are in gradland._checks
# --------------------------------------------------------------------------


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
        """Return ``y`` if it is a floating ``(n, d_y)`` batch on the model's device and
        dtype; raise otherwise."""
        return _checks.rows("y", y, self.d_y, self._reference())

    def encode(self, y: torch.Tensor) -> torch.Tensor:
        r"""The latents :math:`\operatorname{enc}(\bm{y})`, shape ``(n, d_z)``."""
        return self.encoder(self.check(y))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        r"""The points :math:`\operatorname{dec}(\bm{z})`, shape ``(n, d_y)``."""
        return self.decoder(_checks.rows("z", z, self.d_z, self._reference()))

    def reconstruct(self, y: torch.Tensor) -> torch.Tensor:
        r"""The reconstruction :math:`\operatorname{dec}(\operatorname{enc}(\bm{y}))`,
        shape ``(n, d_y)``."""
        return self.decode(self.encode(y))

    def energy(self, y: torch.Tensor) -> torch.Tensor:
        r"""The energy :math:`E(\bm{y}) = \lVert \bm{y} -
        \operatorname{dec}(\operatorname{enc}(\bm{y})) \rVert^2` of each row, shape
        ``(n,)``."""
        return (self.check(y) - self.reconstruct(y)).square().sum(dim=1)

    def loss(self, y: torch.Tensor) -> torch.Tensor:
        r"""The training loss: the mean energy of the batch, a scalar."""
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
        """
        y = self.check(y)
        keep = 1.0
        if self.mask > 0:
            keep = (torch.rand(y.shape, dtype=y.dtype).to(y.device) >= self.mask).to(y.dtype)
        return keep * y + self.noise * torch.randn(y.shape, dtype=y.dtype).to(y.device)

    def loss(self, y: torch.Tensor) -> torch.Tensor:
        r"""The denoising loss: mean of :math:`\lVert \bm{y} -
        \operatorname{dec}(\operatorname{enc}(\tilde{\bm{y}})) \rVert^2`."""
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
        z = encoder(y)
        _checks.returned("the encoder", z, ndim=(2,), shape=f"({len(y)}, d_z) for this y")
        if len(z) != len(y):
            raise ValueError(f"the encoder must return a tensor of shape ({len(y)}, d_z) for this y; got {_describe(z)}")
        if not z.requires_grad:
            raise ValueError("the encoder's output must depend on y through autograd; it has no gradient")
        rows = []
        for k in range(z.shape[1]):
            (row,) = torch.autograd.grad(
                z[:, k].sum(), y, create_graph=create_graph, retain_graph=True
            )
            rows.append(row)
        return torch.stack(rows, dim=1)


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
        \rVert_{\mathrm{F}}^2` at each row, shape ``(n,)``."""
        return encoder_jacobian(self.encoder, self.check(y)).square().sum(dim=(1, 2))

    def loss(self, y: torch.Tensor) -> torch.Tensor:
        r"""Mean reconstruction error plus :math:`\lambda` times the mean penalty."""
        return self.energy(y).mean() + self.lam * self.contraction(y).mean()


# --------------------------------------------------------------------------
# The variational autoencoder
# --------------------------------------------------------------------------


def reparameterise(mu: torch.Tensor, logvar: torch.Tensor, samples: int | None = None) -> torch.Tensor:
    r"""A differentiable sample of
    :math:`\mathcal{N}(\bm{\mu}, \operatorname{diag} \bm{\sigma}^2)`: the
    reparameterisation trick.

    The reparameterisation trick (Kingma and Welling, 2014; Rezende et al., 2014)
    moves the randomness into a standard normal
    :math:`\bm{\epsilon} \sim \mathcal{N}(\bm{0}, \Id)` that does not depend
    on the parameters, and writes

    .. math::

       \bm{z} = \bm{\mu} + \bm{\sigma} \odot \bm{\epsilon},
       \qquad \bm{\sigma} = \exp(\tfrac{1}{2} \log \bm{\sigma}^2),

    so that gradients flow to :math:`\bm{\mu}` and :math:`\log \bm{\sigma}^2`.

    Parameters
    ----------
    mu, logvar : torch.Tensor
        Means and log-variances, floating, of one shape ``s``.
    samples : int, optional
        If given, draw that many samples, returned along a new first dimension.

    Returns
    -------
    torch.Tensor
        Shape ``s``, or ``(samples,) + s``.

    Raises
    ------
    TypeError
        If ``mu`` or ``logvar`` is not a floating tensor, or ``samples`` not an int.
    ValueError
        If ``mu`` and ``logvar`` differ in shape or device, or ``samples`` < 1.

    Examples
    --------
    >>> import torch
    >>> from gradland.ae import reparameterise
    >>> mu = torch.zeros(2, requires_grad=True)
    >>> logvar = torch.zeros(2, requires_grad=True)
    >>> _ = torch.manual_seed(0)
    >>> z = reparameterise(mu, logvar, samples=10_000)
    >>> z.shape
    torch.Size([10000, 2])
    >>> z.sum().backward(); mu.grad  # dz/dmu = 1 for every sample
    tensor([10000., 10000.])
    """
    if samples is not None:
        samples = _checks.integer("samples", samples, minimum=1)
    _checks.tensor("mu", mu, floating=True)
    _checks.tensor("logvar", logvar, floating=True)
    _checks.alike(mu=mu, logvar=logvar, same_shape=True)
    shape = mu.shape if samples is None else (samples, *mu.shape)
    # drawn on the CPU: the same samples on any device
    eps = torch.randn(shape, dtype=mu.dtype).to(mu.device)
    return mu + torch.exp(0.5 * logvar) * eps


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    r"""The divergence of
    :math:`\mathcal{N}(\bm{\mu}, \operatorname{diag} \bm{\sigma}^2)` from
    :math:`\mathcal{N}(\bm{0}, \Id)`, in closed form.

    .. math::

       D_{\mathrm{KL}} = \frac{1}{2} \sum_{j=1}^{d_z}
       \bigl( \sigma_j^2 + \mu_j^2 - 1 - \log \sigma_j^2 \bigr).

    Parameters
    ----------
    mu, logvar : torch.Tensor
        Means and log-variances, shape ``(..., d_z)``.

    Returns
    -------
    torch.Tensor
        Shape ``(...)``: the last dimension is summed; zero exactly when
        :math:`\bm{\mu} = \bm{0}` and :math:`\bm{\sigma} = \bm{1}`.

    Raises
    ------
    TypeError
        If ``mu`` or ``logvar`` is not a floating tensor.
    ValueError
        If ``mu`` and ``logvar`` differ in shape or device.

    Examples
    --------
    >>> import torch
    >>> from gradland.ae import gaussian_kl
    >>> gaussian_kl(torch.zeros(1, 2), torch.zeros(1, 2))
    tensor([0.])
    >>> gaussian_kl(torch.tensor([[3.0, 4.0]]), torch.zeros(1, 2))  # (9 + 16) / 2
    tensor([12.5000])
    """
    _checks.tensor("mu", mu, floating=True)
    _checks.tensor("logvar", logvar, floating=True)
    _checks.alike(mu=mu, logvar=logvar, same_shape=True)
    return 0.5 * (logvar.exp() + mu.square() - 1.0 - logvar).sum(dim=-1)


class VariationalAutoencoder(Autoencoder):
    r"""A variational autoencoder: a Gaussian encoder, a decoder, and the ELBO.

    The encoder outputs :math:`2 d_z` numbers per example, the mean
    :math:`\bm{\mu}(\bm{y})` and the log-variance :math:`\log
    \bm{\sigma}^2(\bm{y})` of the approximate posterior
    :math:`q(\bm{z} \mid \bm{y}) = \mathcal{N}(\bm{\mu}, \operatorname{diag}
    \bm{\sigma}^2)`. The prior is :math:`p(\bm{z}) = \mathcal{N}(\bm{0}, \Id)`
    and the likelihood :math:`p(\bm{y} \mid \bm{z})` is either Gaussian,
    :math:`\mathcal{N}(\operatorname{dec}(\bm{z}), s^2 \Id)`, or Bernoulli with
    logits :math:`\operatorname{dec}(\bm{z})`. The evidence lower bound is

    .. math::

       \operatorname{ELBO}(\bm{y})
       = \E_{q(\bm{z} \mid \bm{y})} \bigl[ \log p(\bm{y} \mid \bm{z}) \bigr]
       - D_{\mathrm{KL}}\bigl( q(\bm{z} \mid \bm{y}) \,\|\, p(\bm{z}) \bigr)
       \le \log p(\bm{y}),

    estimated with reparameterised samples and the closed-form
    :func:`gaussian_kl`. Its negative is the model's energy, a free energy:
    reconstruction plus the price of the latent's information.

    Parameters
    ----------
    encoder : torch.nn.Module
        Maps ``(n, d_y)`` to ``(n, 2 d_z)``: means first, then log-variances.
    decoder : torch.nn.Module
        Maps ``(n, d_z)`` to ``(n, d_y)``: the Gaussian mean, or the Bernoulli logits.
    d_y, d_z : int, optional
        As in :class:`Autoencoder`.
    likelihood : {"gaussian", "bernoulli"}
        The family of :math:`p(\bm{y} \mid \bm{z})`. The Bernoulli one takes
        :math:`\bm{y}` with entries in :math:`[0, 1]` (grey levels are read as
        probabilities, the usual cross-entropy).
    scale : float
        Standard deviation :math:`s > 0` of the Gaussian likelihood, finite.

    Raises
    ------
    TypeError
        If ``scale`` is not a real number; as in :class:`Autoencoder`.
    ValueError
        If ``likelihood`` is unknown, ``scale`` not finite and positive, or,
        for a Bernoulli likelihood, a ``y`` has an entry outside
        :math:`[0, 1]`; as in :class:`Autoencoder`.

    Examples
    --------
    >>> import torch
    >>> from gradland.ae import VariationalAutoencoder
    >>> from gradland.layers import mlp
    >>> vae = VariationalAutoencoder(mlp([4, 16, 2 * 2]), mlp([2, 16, 4], seed=1))
    >>> mu, logvar = vae.encode(torch.zeros(3, 4))
    >>> mu.shape, logvar.shape
    (torch.Size([3, 2]), torch.Size([3, 2]))
    >>> vae.elbo(torch.zeros(3, 4)).shape
    torch.Size([3])
    """

    def __init__(
        self,
        encoder: torch.nn.Module,
        decoder: torch.nn.Module,
        d_y: int | None = None,
        d_z: int | None = None,
        *,
        likelihood: str = "gaussian",
        scale: float = 1.0,
    ):
        super().__init__(encoder, decoder, d_y, d_z)
        self.likelihood = _checks.choice("likelihood", likelihood, ("gaussian", "bernoulli"))
        self.scale = _checks.real("scale", scale, positive=True)

    def encode(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r"""The posterior's mean and log-variance, two tensors of shape ``(n, d_z)``."""
        out = self.encoder(self.check(y))
        if out.ndim != 2 or out.shape[1] != 2 * self.d_z:
            raise ValueError(
                f"the encoder must output (n, 2 d_z) = (n, {2 * self.d_z}): means then log-variances; "
                f"got {_describe(out)}"
            )
        return out[:, : self.d_z], out[:, self.d_z :]

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        r"""The mean of :math:`p(\bm{y} \mid \bm{z})`: the decoder's output, through a
        sigmoid for Bernoulli."""
        out = self.decode(z)
        return torch.sigmoid(out) if self.likelihood == "bernoulli" else out

    def reconstruct(self, y: torch.Tensor) -> torch.Tensor:
        r"""The mean of :math:`p(\bm{y} \mid \bm{\mu}(\bm{y}))`, decoded from the
        posterior mean, shape ``(n, d_y)``."""
        mu, _ = self.encode(y)
        return self.mean(mu)

    def log_likelihood(self, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        r"""The log-likelihood :math:`\log p(\bm{y} \mid \bm{z})` of each row, shape
        ``(n,)``; ``z`` has shape ``(n, d_z)``."""
        y, out = self.check(y), self.decode(z)
        if len(out) != len(y):
            raise ValueError(f"z must have one row per row of y, ({len(y)}, {self.d_z}); got {_describe(z)}")
        return self._log_likelihood(y, out)

    def _log_likelihood(self, y: torch.Tensor, out: torch.Tensor, checked: bool = False) -> torch.Tensor:
        if self.likelihood == "bernoulli" and not checked:
            _checks.entries("y", y, minimum=0, maximum=1, why=" for the Bernoulli likelihood")
        if self.likelihood == "bernoulli":
            return -nn.functional.binary_cross_entropy_with_logits(out, y.expand_as(out), reduction="none").sum(dim=-1)
        s2 = self.scale**2
        return -0.5 * ((y - out).square().sum(dim=-1) / s2 + self.d_y * math.log(2 * math.pi * s2))

    def elbo(self, y: torch.Tensor, samples: int = 1, *, checked: bool = False) -> torch.Tensor:
        r"""The evidence lower bound of each row, shape ``(n,)``, with ``samples``
        reparameterised samples.

        Parameters
        ----------
        y : torch.Tensor
            The data, shape ``(n, d_y)``.
        samples : int
            Number of samples of :math:`\bm{z}` per example in the Monte-Carlo
            estimate of the expected log-likelihood.
        checked : bool
            Skip the check that ``y`` lies in :math:`[0, 1]` for the Bernoulli
            likelihood, which reads its values (a device synchronisation on a
            GPU): :func:`train` checks the data once and passes True.
        """
        mu, logvar = self.encode(y)
        samples = _checks.integer("samples", samples, minimum=1)
        z = reparameterise(mu, logvar, samples)  # (samples, n, d_z)
        out = self.decoder(z.reshape(-1, self.d_z)).reshape(samples, len(mu), self.d_y)
        expected = self._log_likelihood(y, out, checked).mean(dim=0)  # Monte Carlo over the samples
        return expected - gaussian_kl(mu, logvar)

    def energy(self, y: torch.Tensor, samples: int = 1, *, checked: bool = False) -> torch.Tensor:
        r"""The free energy :math:`-\operatorname{ELBO}(\bm{y})` of each row, shape
        ``(n,)``: a random estimate (``checked`` as in :meth:`elbo`)."""
        return -self.elbo(y, samples, checked=checked)

    def loss(self, y: torch.Tensor, *, checked: bool = False) -> torch.Tensor:
        r"""The training loss: the mean negative ELBO of the batch with one sample
        each (``checked`` as in :meth:`elbo`)."""
        return self.energy(y, checked=checked).mean()

    def sample(self, n: int) -> torch.Tensor:
        r"""Decode ``n`` latents drawn from the prior: the means
        :math:`\operatorname{dec}(\bm{z})`, shape ``(n, d_y)``."""
        n, ref = _checks.integer("n", n, minimum=1), self._reference()
        z = torch.randn(n, self.d_z, dtype=ref.dtype).to(ref.device)  # drawn on the CPU, as everywhere
        return self.mean(z)


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
    r"""Train any autoencoder of the module by Adam on random mini-batches of ``data``.

    Each step draws ``batch_size`` rows without replacement and takes one
    step on ``model.loss`` of that batch, by :func:`gradland.train.fit`. The
    run is seeded: the batches are drawn from a CPU generator seeded with
    ``seed``, and the corruption of a :class:`DenoisingAutoencoder` and the
    samples of a :class:`VariationalAutoencoder` from the global random
    state, seeded with ``seed`` and restored afterwards.

    Parameters
    ----------
    model : Autoencoder
        The model; its parameters are updated in place.
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
        Bernoulli :class:`VariationalAutoencoder`, or ``steps``, ``batch_size``
        or ``lr`` is out of range.
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
    data = _checks.rows("data", data, model.d_y, model._reference())
    checked = {}
    if isinstance(model, VariationalAutoencoder):  # check the values once, not at every step
        if model.likelihood == "bernoulli":
            _checks.entries("data", data, minimum=0, maximum=1, why=" for the Bernoulli likelihood")
        checked = {"checked": True}
    steps = _checks.integer("steps", steps, minimum=1)
    lr = _checks.real("lr", lr, positive=True)
    batch_size = min(_checks.integer("batch_size", batch_size, minimum=1), len(data))
    seed = _checks.integer("seed", seed)
    generator = torch.Generator().manual_seed(seed)  # the batches, drawn on the CPU

    def loss(k: int) -> torch.Tensor:
        rows = torch.randperm(len(data), generator=generator)[:batch_size].to(data.device)
        return model.loss(data[rows], **checked)

    return fit(loss, torch.optim.Adam(model.parameters(), lr=lr), steps, seed=seed)
