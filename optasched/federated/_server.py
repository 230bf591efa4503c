"""Server optimizers over client deltas: FedAvg, FedAvgM, FedAdam and FedYogi.

The server treats the negated, example-weighted mean of the clients' model
deltas as a gradient (the pseudo-gradient of Reddi et al. 2021) and applies an
optax optimizer to it once per round. Each is built with
:func:`~optasched.inject`, so every hyperparameter (learning rate, momentum,
``b1``, ``b2``, ``eps``) may be a schedule of the round and swept.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from ..bridge import inject

__all__ = [
    "ServerAdamState",
    "fedadam",
    "fedavg",
    "fedavgm",
    "fedyogi",
    "scale_by_server_adam",
    "server_adam",
]


class ServerAdamState(NamedTuple):
    """State of :func:`scale_by_server_adam`.

    Attributes:
        mu: first moment of the pseudo-gradient (the params' tree).
        nu: second moment (the params' tree), starting at ``eps**2``.
    """

    mu: Any
    nu: Any


def scale_by_server_adam(
    b1: float | jax.Array = 0.9,
    b2: float | jax.Array = 0.99,
    eps: float | jax.Array = 1e-3,
    yogi: bool = False,
) -> optax.GradientTransformation:
    r"""Reddi et al.'s adaptive server direction, without bias correction.

    For a pseudo-gradient :math:`g_r` (round :math:`r`):

    .. math::

        m_r = \beta_1 m_{r-1} + (1 - \beta_1) g_r, \qquad
        v_r = \begin{cases}
            \beta_2 v_{r-1} + (1 - \beta_2) g_r^2 & \text{Adam} \\
            v_{r-1} - (1 - \beta_2) g_r^2 \operatorname{sign}(v_{r-1} - g_r^2) & \text{Yogi}
        \end{cases}, \qquad
        u_r = \frac{m_r}{\sqrt{v_r} + \tau}

    with :math:`m_{-1} = 0`, :math:`v_{-1} = \tau^2` (``tau`` is ``eps``).

    Args:
        b1: first-moment decay :math:`\beta_1`.
        b2: second-moment decay :math:`\beta_2`.
        eps: :math:`\tau`, the adaptivity floor (Reddi et al. tune it; 1e-3 default).
        yogi: Yogi's additive second-moment update instead of Adam's average.

    Returns:
        An optax transformation (to be scaled by minus the server learning rate).

    Reference: Reddi et al., Adaptive Federated Optimization, ICLR 2021, Algorithm 2.
    """

    def init(params):
        return ServerAdamState(
            mu=jax.tree.map(jnp.zeros_like, params),
            nu=jax.tree.map(lambda p: jnp.full_like(p, jnp.square(eps)), params),
        )

    def update(updates, state, params=None):
        del params
        mu = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, updates)
        if yogi:
            nu = jax.tree.map(
                lambda v, g: v - (1 - b2) * jnp.square(g) * jnp.sign(v - jnp.square(g)), state.nu, updates
            )
        else:
            nu = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * jnp.square(g), state.nu, updates)
        direction = jax.tree.map(lambda m, v: m / (jnp.sqrt(v) + eps), mu, nu)
        return direction, ServerAdamState(mu, nu)

    return optax.GradientTransformation(init, update)


def server_adam(
    learning_rate: optax.ScalarOrSchedule,
    b1: float | jax.Array = 0.9,
    b2: float | jax.Array = 0.99,
    eps: float | jax.Array = 1e-3,
    yogi: bool = False,
) -> optax.GradientTransformation:
    """The FedAdam / FedYogi server optimizer: :func:`scale_by_server_adam` times ``-learning_rate``.

    Args:
        learning_rate: the server learning rate :math:`\\eta`.
        b1: first-moment decay.
        b2: second-moment decay.
        eps: Reddi et al.'s :math:`\\tau`.
        yogi: Yogi's second moment instead of Adam's.

    Returns:
        An optax transformation of the pseudo-gradient.
    """
    return optax.chain(scale_by_server_adam(b1, b2, eps, yogi), optax.scale_by_learning_rate(learning_rate))


def fedavg(learning_rate: ArrayLike | optax.Schedule = 1.0) -> optax.GradientTransformationExtraArgs:
    r"""FedAvg's server: :math:`x_{r+1} = x_r - \eta_r g_r` with :math:`g_r = -\bar\Delta_r`.

    With ``learning_rate=1`` the new model is the weighted mean of the clients'
    models (McMahan et al. 2017).

    Args:
        learning_rate: server learning rate, a number or a schedule of the round.

    Returns:
        An :func:`~optasched.inject` optimizer (``optax.sgd``) of the pseudo-gradient.

    Example:
        >>> import jax.numpy as jnp, optasched as osd
        >>> server = osd.fedavg(1.0)
        >>> state = server.init(jnp.zeros(2))
        >>> updates, state = server.update(-jnp.array([0.5, -1.0]), state)  # minus the mean delta
        >>> updates.tolist()
        [0.5, -1.0]

    Reference: McMahan et al., Communication-Efficient Learning of Deep Networks
    from Decentralized Data, AISTATS 2017.
    """
    return inject(optax.sgd)(learning_rate=learning_rate)


def fedavgm(
    learning_rate: ArrayLike | optax.Schedule = 1.0, momentum: ArrayLike | optax.Schedule = 0.9
) -> optax.GradientTransformationExtraArgs:
    r"""FedAvgM's server: heavy-ball momentum on the pseudo-gradient.

    .. math:: v_r = \beta v_{r-1} + g_r, \qquad x_{r+1} = x_r - \eta_r v_r

    Args:
        learning_rate: server learning rate, a number or a schedule of the round.
        momentum: :math:`\beta`, a number or a schedule of the round.

    Returns:
        An :func:`~optasched.inject` optimizer (``optax.sgd`` with momentum).

    Reference: Hsu et al., Measuring the Effects of Non-Identical Data
    Distribution for Federated Visual Classification, 2019.
    """
    return inject(optax.sgd)(learning_rate=learning_rate, momentum=momentum)


def fedadam(
    learning_rate: ArrayLike | optax.Schedule = 10**-2.5,
    b1: ArrayLike | optax.Schedule = 0.9,
    b2: ArrayLike | optax.Schedule = 0.99,
    eps: ArrayLike | optax.Schedule = 1e-3,
) -> optax.GradientTransformationExtraArgs:
    r"""FedAdam's server (Reddi et al. 2021): :math:`x_{r+1} = x_r - \eta_r\, m_r / (\sqrt{v_r} + \tau)`.

    The moments are :func:`scale_by_server_adam`'s (Adam's second moment, no
    bias correction, :math:`v_{-1} = \tau^2`); ``eps`` is :math:`\tau`.

    Args:
        learning_rate: server learning rate (default :math:`10^{-2.5}`, Reddi
            et al.'s EMNIST choice), a number or a schedule of the round.
        b1: first-moment decay.
        b2: second-moment decay.
        eps: :math:`\tau`.

    Returns:
        An :func:`~optasched.inject` optimizer of the pseudo-gradient.

    Example:
        >>> import jax.numpy as jnp, optasched as osd
        >>> server = osd.fedadam(learning_rate=osd.cosine(0.01, 100), eps=1e-4)
        >>> state = server.init(jnp.zeros(2))
        >>> updates, state = server.update(jnp.array([1.0, -1.0]), state)
        >>> [round(u, 4) for u in updates.tolist()]  # -0.01 * 0.1 g / (sqrt(0.01) g + 1e-4)
        [-0.01, 0.01]

    Reference: Reddi et al., Adaptive Federated Optimization, ICLR 2021.
    """
    return inject(server_adam)(learning_rate=learning_rate, b1=b1, b2=b2, eps=eps, yogi=False)


def fedyogi(
    learning_rate: ArrayLike | optax.Schedule = 10**-2.5,
    b1: ArrayLike | optax.Schedule = 0.9,
    b2: ArrayLike | optax.Schedule = 0.99,
    eps: ArrayLike | optax.Schedule = 1e-3,
) -> optax.GradientTransformationExtraArgs:
    r"""FedYogi's server (Reddi et al. 2021): FedAdam with Yogi's second moment.

    .. math:: v_r = v_{r-1} - (1 - \beta_2) g_r^2 \operatorname{sign}(v_{r-1} - g_r^2)

    Args:
        learning_rate: server learning rate, a number or a schedule of the round.
        b1: first-moment decay.
        b2: second-moment decay.
        eps: :math:`\tau` (also the square root of the initial second moment).

    Returns:
        An :func:`~optasched.inject` optimizer of the pseudo-gradient.

    Reference: Reddi et al., Adaptive Federated Optimization, ICLR 2021;
    Zaheer et al., Adaptive Methods for Nonconvex Optimization, 2018 (Yogi).
    """
    return inject(server_adam)(learning_rate=learning_rate, b1=b1, b2=b2, eps=eps, yogi=True)
