"""Part E's training program: a supervised-contrastive encoder on long-tailed MNIST-1D whose loss
temperature is a schedule read at the optimizer's step.

The training set keeps ``round(n_max * imbalance ** (-k / 9))`` examples of class k (class 0 the head,
9 the rarest); validation and test stay balanced. The zoo CNN's 10 outputs, L2-normalised, are the
embedding; the loss is Khosla et al. 2020's supervised contrastive loss (``L_out``: the positives of an
anchor are the other batch members of its class) at temperature tau; the read-out is the nearest class
mean (cosine to the normalised mean embedding of each class's training examples). SGD with momentum:
the loss's gradient scales as 1 / tau, so tau multiplies the effective step (the mission's claim (3)).

Every arm is one structure: the LR is ``cosine(peak, T, end_value)`` (``end_value = peak`` holds it
fixed), and tau is either Kukleva et al. 2023's periodic cosine between ``tau_low`` and ``tau_high``
(arm ``cosine_tau``; ``tau_low == tau_high`` is a constant) or ``osd.coupled_temperature`` of that LR,
both read with ``osd.schedule_values``, so every (arm, seed) is one sweep.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

import optasched as osd
from experiments.common.models import CNN

from .configs.default import TEMPERATURE_ARMS

__all__ = ["NUM_CLASSES", "long_tail_counts", "long_tail", "kukleva", "member", "supcon_loss", "make_train"]

NUM_CLASSES = 10


def long_tail_counts(n_max: int, imbalance: float, num_classes: int = NUM_CLASSES) -> list[int]:
    """Examples kept per class: ``round(n_max * imbalance ** (-k / (num_classes - 1)))`` for class k.

    Args:
      n_max: examples of class 0 (the head).
      imbalance: the ratio of the head's count to the rarest class's (Cui et al. 2019's CIFAR-LT rule).
      num_classes: classes.
    """
    if n_max < 1 or imbalance < 1:
        raise ValueError(f"long_tail_counts: n_max must be >= 1 and imbalance >= 1, got {n_max}, {imbalance}")
    k = np.arange(num_classes)
    return [max(1, int(c)) for c in np.round(n_max * imbalance ** (-k / (num_classes - 1)))]


def long_tail(data: dict[str, np.ndarray], n_max: int, imbalance: float) -> dict[str, np.ndarray]:
    """The first ``long_tail_counts(...)[k]`` training examples of each class k (order kept); the
    validation and test sets unchanged.

    Args:
      data: MNIST-1D arrays with a validation split.
      n_max: examples of class 0.
      imbalance: head count over the rarest class's count.
    """
    y = np.asarray(data["y_train"])
    keep = np.zeros(len(y), bool)
    for k, count in enumerate(long_tail_counts(n_max, imbalance)):
        where = np.flatnonzero(y == k)
        if len(where) < count:
            raise ValueError(f"long_tail: n_max={n_max} needs {count} examples of class {k}, "
                             f"the training set has {len(where)}")  # fmt: skip
        keep[where[:count]] = True
    return {**data, "x_train": data["x_train"][keep], "y_train": y[keep]}


def kukleva(low, high, period) -> osd.Schedule:
    r"""Kukleva et al. 2023's periodic cosine temperature, built from library pieces.

    .. math:: \tau(t) = \tau_- + (\tau_+ - \tau_-)\,\tfrac12\bigl(1 + \cos(2\pi t / P)\bigr)

    It starts at ``high``, reaches ``low`` at ``P / 2`` and ``high`` again at ``P``: a cosine from high to
    low over half a period joined to one from low to high, cycled. ``low == high`` is a constant.

    Args:
      low: tau_-, the temperature at mid-period.
      high: tau_+, the temperature at the start of every period.
      period: P, an even number of steps (static or traced).
    """
    half = period // 2
    down = osd.cosine(high, half, end_value=low)
    up = osd.cosine(low, half, end_value=high)
    return osd.cycle(osd.join([down, up], jnp.reshape(half, (1,))), period)  # boundaries: one array


def member(arm: str, lr_schedule: str, seed: int, config, peak_lr: float | None = None) -> dict:
    """One (arm, LR schedule, seed) of part E as a sweep member (every value a leaf).

    Args:
      arm: one of ``configs.default.TEMPERATURE_ARMS`` (``coupled`` only with the cosine LR).
      lr_schedule: ``"fixed"`` (the peak throughout) or ``"cosine"`` (to 0).
      seed: the seed (init and data order).
      config: the study's config (``temp_*`` fields).
      peak_lr: part EL's per-member peak LR (a leaf); None: ``config.temp_lr``, built into the
        program as part E has it.
    """
    if arm not in TEMPERATURE_ARMS:
        raise ValueError(f"synchronized: temperature arm must be one of {TEMPERATURE_ARMS}, got {arm!r}")
    if lr_schedule not in ("fixed", "cosine"):
        raise ValueError(f"synchronized: lr_schedule must be 'fixed' or 'cosine', got {lr_schedule!r}")
    if arm == "coupled" and lr_schedule == "fixed":
        raise ValueError("synchronized: the coupled temperature needs a moving LR (lr_schedule='cosine')")
    low, high = config.temp_tau_min, config.temp_tau_max
    if arm == "cosine_tau_shifted":  # tau_- at the start and end of every period
        low, high = high, low
    elif arm.startswith("const_"):
        low = high = float(arm.removeprefix("const_"))
    peak = config.temp_lr if peak_lr is None else peak_lr
    if not peak > 0:
        raise ValueError(f"synchronized: peak_lr must be positive, got {peak_lr}")
    m = {"seed": seed, "lr_end": peak if lr_schedule == "fixed" else 0.0, "tau_low": low, "tau_high": high,
         "period": config.temp_period, "coupled": arm == "coupled"}  # fmt: skip
    if peak_lr is not None:
        m["peak_lr"] = peak_lr
    return m


def supcon_loss(z: jax.Array, labels: jax.Array, tau: jax.Array) -> jax.Array:
    r"""Khosla et al. 2020's supervised contrastive loss (``L_out``) of unit embeddings ``z``.

    .. math:: L = \frac{1}{|A|}\sum_{i \in A} \frac{-1}{|P(i)|}\sum_{p \in P(i)}
              \log\frac{e^{z_i \cdot z_p / \tau}}{\sum_{a \ne i} e^{z_i \cdot z_a / \tau}}

    P(i): the other batch members of i's class; A: the anchors with at least one positive. No
    ``tau / base_tau`` factor (the reference code's), so the gradient scales as 1 / tau.

    Args:
      z: ``[batch, dim]`` unit-norm embeddings.
      labels: ``[batch]`` integer classes.
      tau: the temperature (a traced scalar).
    """
    n = z.shape[0]
    others = ~jnp.eye(n, dtype=bool)
    logits = jnp.where(others, z @ z.T / tau, -jnp.inf)
    log_prob = logits - jax.nn.logsumexp(logits, axis=1, keepdims=True)
    positive = (labels[:, None] == labels[None, :]) & others
    count = positive.sum(1)
    per_anchor = -jnp.where(positive, log_prob, 0.0).sum(1) / jnp.maximum(count, 1)
    anchors = count > 0
    return jnp.where(anchors, per_anchor, 0.0).sum() / jnp.maximum(anchors.sum(), 1)


def _embed(model, params, x):
    out = model.apply({"params": params}, x)
    return out / jnp.linalg.norm(out, axis=-1, keepdims=True).clip(1e-12)


def make_train(config, data, steps: int):
    """``train(member, key) -> metrics`` after ``steps`` steps (per-class test accuracy included).

    Args:
      config: the study's config.
      data: long-tailed MNIST-1D (``long_tail``) with balanced validation and test sets.
      steps: training steps.
    """
    model = CNN()
    x_train, y_train = jnp.asarray(data["x_train"]), jnp.asarray(data["y_train"])
    onehot = jax.nn.one_hot(y_train, NUM_CLASSES)

    def per_class_accuracy(params, x, y):
        z = _embed(model, params, jnp.asarray(x))
        means = onehot.T @ _embed(model, params, x_train)  # nearest class mean on the training set
        means = means / jnp.linalg.norm(means, axis=-1, keepdims=True).clip(1e-12)
        correct = jnp.argmax(z @ means.T, -1) == jnp.asarray(y)
        y_onehot = jax.nn.one_hot(jnp.asarray(y), NUM_CLASSES)
        return (y_onehot * correct[:, None]).sum(0) / y_onehot.sum(0)

    def train(m, key):
        init_key, data_key = jax.random.split(jax.random.fold_in(key, m["seed"]))
        params = model.init(init_key, x_train[:1])["params"]
        lr = osd.cosine(m.get("peak_lr", config.temp_lr), steps, end_value=m["lr_end"])
        optimizer = osd.inject(optax.sgd)(learning_rate=lr, momentum=config.temp_momentum)
        temperatures = {"periodic": kukleva(m["tau_low"], m["tau_high"], m["period"]),
                        "coupled": osd.coupled_temperature(lr, config.temp_tau_min, config.temp_tau_max)}

        def step(state, t):
            params, opt_state = state
            values = osd.schedule_values(opt_state, temperatures)  # this update's step
            tau = jnp.where(m["coupled"], values["coupled"], values["periodic"])
            index = jax.random.randint(jax.random.fold_in(data_key, t), (config.batch_size,), 0,
                                       x_train.shape[0])  # fmt: skip

            def loss_fn(p):
                return supcon_loss(_embed(model, p, x_train[index]), y_train[index], tau)

            loss, grads = jax.value_and_grad(loss_fn)(params)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), {"loss": loss, "tau": tau}

        def evaluate(state):
            return {"validation": per_class_accuracy(state[0], data["x_val"], data["y_val"]),
                    "test": per_class_accuracy(state[0], data["x_test"], data["y_test"])}  # fmt: skip

        result = osd.train_loop(step, (params, optimizer.init(params)), steps,
                                record_every=steps // config.temp_records, evaluate=evaluate)  # fmt: skip
        evaluation = result.history["evaluation"]
        return {"diverged_at": result.diverged_at, "tau": result.history["train"]["tau"],
                "loss": result.history["train"]["loss"],
                "validation_per_class": evaluation["validation"][-1],
                "test_per_class": evaluation["test"][-1]}  # fmt: skip

    return train
