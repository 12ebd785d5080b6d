r"""The variational autoencoder (Chapter 10): a free energy by a lower bound.

The encoder of a variational autoencoder returns a distribution over the
latent, :math:`q(\bm{z} \mid \bm{y}) = \mathcal{N}(\bm{\mu}(\bm{y}),
\operatorname{diag} \bm{\sigma}^2(\bm{y}))`, rather than one latent, and the
energy is the negative evidence lower bound,

.. math::

   E(\bm{y}) = \E_{q(\bm{z} \mid \bm{y})} \bigl[ -\log p(\bm{y} \mid \bm{z}) \bigr]
   + D_{\mathrm{KL}}\bigl( q(\bm{z} \mid \bm{y}) \,\|\, p(\bm{z}) \bigr),

a free energy: reconstruction plus the price of the latent's information.
The module follows the chapter's section on it:

* :func:`gaussian_kl`, the divergence from the prior in closed form;
* :func:`reparameterise`, the reparameterisation trick, which samples
  :math:`\bm{z}` differentiably;
* :class:`VariationalAutoencoder`, a :class:`gradland.ae.Autoencoder` whose
  energy is the negative ELBO, trained by :func:`gradland.ae.train` as the
  others are.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gradland import _checks
from gradland._checks import describe as _describe
from gradland.ae import Autoencoder

__all__ = ["gaussian_kl", "reparameterise", "VariationalAutoencoder"]


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
        If ``mu`` or ``logvar`` is not a floating tensor, or they differ in dtype.
    ValueError
        If ``mu`` and ``logvar`` differ in shape or device.

    Examples
    --------
    >>> import torch
    >>> from gradland.vae import gaussian_kl
    >>> gaussian_kl(torch.zeros(1, 2), torch.zeros(1, 2))
    tensor([0.])
    >>> gaussian_kl(torch.tensor([[3.0, 4.0]]), torch.zeros(1, 2))  # (9 + 16) / 2
    tensor([12.5000])
    """
    _checks.tensor("mu", mu, floating=True)
    _checks.tensor("logvar", logvar, floating=True)
    _checks.alike(mu=mu, logvar=logvar, same_shape=True)
    return 0.5 * (logvar.exp() + mu.square() - 1.0 - logvar).sum(dim=-1)


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
        If ``mu`` or ``logvar`` is not a floating tensor, they differ in dtype, or
        ``samples`` is not an int.
    ValueError
        If ``mu`` and ``logvar`` differ in shape or device, or ``samples`` < 1.

    Examples
    --------
    >>> import torch
    >>> from gradland.vae import reparameterise
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
        As in :class:`~gradland.ae.Autoencoder`.
    likelihood : {"gaussian", "bernoulli"}
        The family of :math:`p(\bm{y} \mid \bm{z})`. The Bernoulli one takes
        :math:`\bm{y}` with entries in :math:`[0, 1]` (grey levels are read as
        probabilities, the usual cross-entropy).
    scale : float
        Standard deviation :math:`s > 0` of the Gaussian likelihood, finite.

    Raises
    ------
    TypeError
        If ``scale`` is not a real number; as in :class:`~gradland.ae.Autoencoder`.
    ValueError
        If ``likelihood`` is unknown, ``scale`` not finite and positive, or,
        for a Bernoulli likelihood, a ``y`` has an entry outside
        :math:`[0, 1]`; as in :class:`~gradland.ae.Autoencoder`.

    Examples
    --------
    >>> import torch
    >>> from gradland.vae import VariationalAutoencoder
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

    def check_data(self, data: object) -> torch.Tensor:
        r"""Check a training set once, before the steps of
        :func:`gradland.ae.train`: for the Bernoulli likelihood, its values too.

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
            As in :meth:`gradland.ae.Autoencoder.check_data`.
        ValueError
            As in :meth:`gradland.ae.Autoencoder.check_data`, or if, for the
            Bernoulli likelihood, ``data`` has an entry outside :math:`[0, 1]`.
        """
        data = super().check_data(data)
        if self.likelihood == "bernoulli":
            _checks.entries("data", data, minimum=0, maximum=1, why=" for the Bernoulli likelihood")
        return data

    def encode(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r"""The mean and log-variance of the posterior :math:`q(\bm{z} \mid \bm{y})`.

        Parameters
        ----------
        y : torch.Tensor
            The batch, shape ``(n, d_y)``.

        Returns
        -------
        mu : torch.Tensor
            The means :math:`\bm{\mu}(\bm{y})`, shape ``(n, d_z)``.
        logvar : torch.Tensor
            The log-variances :math:`\log \bm{\sigma}^2(\bm{y})`, shape ``(n, d_z)``.

        Raises
        ------
        ValueError
            If the encoder's output is not of shape ``(n, 2 d_z)``; for ``y``, as in
            :class:`~gradland.ae.Autoencoder`.
        """
        out = self.encoder(self.check(y))
        if out.ndim != 2 or out.shape[1] != 2 * self.d_z:
            raise ValueError(
                f"the encoder must output (n, 2 d_z) = (n, {2 * self.d_z}): means then log-variances; "
                f"got {_describe(out)}"
            )
        return out[:, : self.d_z], out[:, self.d_z :]

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        r"""The mean of :math:`p(\bm{y} \mid \bm{z})`: the decoder's output, through a
        sigmoid for Bernoulli.

        Parameters
        ----------
        z : torch.Tensor
            Latents, shape ``(n, d_z)``.

        Returns
        -------
        torch.Tensor
            Shape ``(n, d_y)``.
        """
        out = self.decode(z)
        return torch.sigmoid(out) if self.likelihood == "bernoulli" else out

    def reconstruct(self, y: torch.Tensor) -> torch.Tensor:
        r"""The mean of :math:`p(\bm{y} \mid \bm{\mu}(\bm{y}))`, decoded from the
        posterior mean.

        Parameters
        ----------
        y : torch.Tensor
            The batch, shape ``(n, d_y)``.

        Returns
        -------
        torch.Tensor
            Shape ``(n, d_y)``.
        """
        mu, _ = self.encode(y)
        return self.mean(mu)

    def log_likelihood(self, y: torch.Tensor, z: torch.Tensor, *, checked: bool = False) -> torch.Tensor:
        r"""The log-likelihood :math:`\log p(\bm{y} \mid \bm{z})` of each row.

        Parameters
        ----------
        y : torch.Tensor
            The batch, shape ``(n, d_y)``.
        z : torch.Tensor
            One latent per row of ``y``, shape ``(n, d_z)``.
        checked : bool
            Skip the check that ``y`` lies in :math:`[0, 1]` for the Bernoulli
            likelihood, as in :meth:`elbo`.

        Returns
        -------
        torch.Tensor
            Shape ``(n,)``.

        Raises
        ------
        ValueError
            If ``z`` has not one row per row of ``y``, or, for the Bernoulli
            likelihood and unless ``checked``, ``y`` has an entry outside
            :math:`[0, 1]`; for ``y`` and ``z``, as in
            :class:`~gradland.ae.Autoencoder`.
        """
        y, out = self.check(y), self.decode(z)
        if len(out) != len(y):
            raise ValueError(f"z must have one row per row of y, ({len(y)}, {self.d_z}); got {_describe(z)}")
        return self._log_likelihood(y, out, checked)

    def _log_likelihood(self, y: torch.Tensor, out: torch.Tensor, checked: bool = False) -> torch.Tensor:
        if self.likelihood == "bernoulli" and not checked:
            _checks.entries("y", y, minimum=0, maximum=1, why=" for the Bernoulli likelihood")
        if self.likelihood == "bernoulli":
            return -nn.functional.binary_cross_entropy_with_logits(out, y.expand_as(out), reduction="none").sum(dim=-1)
        s2 = self.scale**2
        return -0.5 * ((y - out).square().sum(dim=-1) / s2 + self.d_y * math.log(2 * math.pi * s2))

    def elbo(self, y: torch.Tensor, samples: int = 1, *, checked: bool = False) -> torch.Tensor:
        r"""The evidence lower bound of each row, with ``samples`` reparameterised
        samples.

        Parameters
        ----------
        y : torch.Tensor
            The data, shape ``(n, d_y)``.
        samples : int
            Number of samples of :math:`\bm{z}` per example in the Monte-Carlo
            estimate of the expected log-likelihood, at least 1.
        checked : bool
            Skip the check that ``y`` lies in :math:`[0, 1]` for the Bernoulli
            likelihood, which reads its values (a device synchronisation on a
            GPU): :meth:`check_data` has checked them, as in
            :func:`gradland.ae.train`.

        Returns
        -------
        torch.Tensor
            Shape ``(n,)``: a random estimate.

        Raises
        ------
        TypeError
            If ``samples`` is not an int; for ``y``, as in
            :class:`~gradland.ae.Autoencoder`.
        ValueError
            If ``samples`` is below 1, or, for the Bernoulli likelihood and unless
            ``checked``, ``y`` has an entry outside :math:`[0, 1]`; for ``y``, as in
            :class:`~gradland.ae.Autoencoder`.
        """
        mu, logvar = self.encode(y)
        samples = _checks.integer("samples", samples, minimum=1)
        z = reparameterise(mu, logvar, samples)  # (samples, n, d_z)
        out = self.decoder(z.reshape(-1, self.d_z)).reshape(samples, len(mu), self.d_y)
        expected = self._log_likelihood(y, out, checked).mean(dim=0)  # Monte Carlo over the samples
        return expected - gaussian_kl(mu, logvar)

    def energy(self, y: torch.Tensor, samples: int = 1, *, checked: bool = False) -> torch.Tensor:
        r"""The free energy :math:`-\operatorname{ELBO}(\bm{y})` of each row.

        Parameters
        ----------
        y, samples, checked
            As in :meth:`elbo`.

        Returns
        -------
        torch.Tensor
            Shape ``(n,)``: a random estimate.
        """
        return -self.elbo(y, samples, checked=checked)

    def loss(self, y: torch.Tensor, *, checked: bool = False) -> torch.Tensor:
        r"""The training loss: the mean negative ELBO of the batch, with one sample
        each.

        Parameters
        ----------
        y, checked
            As in :meth:`elbo`.

        Returns
        -------
        torch.Tensor
            A scalar.
        """
        return self.energy(y, checked=checked).mean()

    def sample(self, n: int) -> torch.Tensor:
        r"""Decode ``n`` latents drawn from the prior: the means
        :math:`\operatorname{dec}(\bm{z})` (through a sigmoid for Bernoulli).

        Parameters
        ----------
        n : int
            Number of samples, at least 1.

        Returns
        -------
        torch.Tensor
            Shape ``(n, d_y)``.

        Raises
        ------
        TypeError
            If ``n`` is not an int.
        ValueError
            If ``n`` is below 1.
        """
        n, ref = _checks.integer("n", n, minimum=1), self._reference()
        z = torch.randn(n, self.d_z, dtype=ref.dtype).to(ref.device)  # drawn on the CPU, as everywhere
        return self.mean(z)
