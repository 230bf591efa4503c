"""Keras 3: an optasched schedule as a ``keras.optimizers.schedules.LearningRateSchedule``.

Keras optimizers call a learning rate with the step only if it is a
``LearningRateSchedule``; any other callable they call with no arguments, so
an optasched schedule given as it is fails at the first training step with a
``TypeError``. :func:`to_keras` wraps a schedule in one. Keras is imported
only when :func:`to_keras` is called, so ``import optasched`` never imports it.
"""

from __future__ import annotations

import functools
from typing import Any

from ..schedules import Schedule, StatefulSchedule

__all__ = ["to_keras"]


@functools.cache
def _schedule_class():
    """The adapter class, defined on first use (it subclasses a Keras class)."""
    try:
        import keras
    except ImportError as err:
        raise ImportError(
            f"optasched.to_keras needs Keras 3 with the JAX backend (pip install keras; "
            f"KERAS_BACKEND=jax before keras is first imported): {err}"
        ) from err

    @keras.saving.register_keras_serializable(package="optasched")
    class OptaschedSchedule(keras.optimizers.schedules.LearningRateSchedule):
        """An optasched schedule as a Keras learning-rate schedule (JAX backend)."""

        def __init__(self, schedule: Schedule):
            super().__init__()
            self.schedule = schedule

        def __call__(self, step):
            # On the JAX backend the step is a jax array (a tracer inside the
            # compiled train step), which the schedule evaluates as it is.
            return self.schedule(keras.ops.convert_to_tensor(step))

        def get_config(self) -> dict[str, Any]:
            from ..schedules import to_config

            return {"schedule": to_config(self.schedule)}

        @classmethod
        def from_config(cls, config: dict[str, Any]) -> OptaschedSchedule:
            from ..schedules import from_config

            return cls(from_config(config["schedule"]))

        def __repr__(self) -> str:
            return f"to_keras({self.schedule!r})"

    return OptaschedSchedule


def to_keras(schedule: Schedule):
    """Wrap a schedule as a Keras 3 ``LearningRateSchedule`` (JAX backend).

    ``keras.optimizers.Adam(learning_rate=schedule)`` fails at the first
    training step with ``TypeError`` (Keras calls callables other than a
    ``LearningRateSchedule`` with no arguments);
    ``keras.optimizers.Adam(learning_rate=osd.to_keras(schedule))`` works:
    Keras calls it with ``optimizer.iterations`` (the number of updates done,
    as optax's count) inside its compiled train step. It serialises with the
    model (``get_config`` holds :func:`optasched.to_config` of the schedule)
    and loads back with ``keras.saving.load_model``.

    Keras must use the JAX backend (``KERAS_BACKEND=jax``): the schedule is
    JAX code.

    Args:
        schedule: any optasched schedule (one member, not a stacked sweep).

    Returns:
        A ``keras.optimizers.schedules.LearningRateSchedule``.

    Raises:
        ValueError: if ``schedule`` is not a schedule, is a stacked sweep, or
            Keras runs another backend.
        ImportError: if Keras 3 cannot be imported.

    Example:
        >>> import os; os.environ.setdefault("KERAS_BACKEND", "jax")  # doctest: +ELLIPSIS
        '...'
        >>> import keras, optasched as osd
        >>> lr = osd.to_keras(osd.warmup(osd.cosine(1e-3, 900), warmup_steps=100))
        >>> optimizer = keras.optimizers.Adam(learning_rate=lr)
        >>> round(float(lr(100)), 6)
        0.001
    """
    if not isinstance(schedule, Schedule):
        raise ValueError(f"to_keras: schedule must be an optasched schedule, got {schedule!r}")
    if isinstance(schedule, StatefulSchedule):
        raise ValueError(
            f"to_keras: a {schedule.family} schedule follows a monitored value, which a Keras learning-rate "
            "schedule never sees; use keras.callbacks.ReduceLROnPlateau for that"
        )
    if schedule.batch_shape:
        raise ValueError(
            f"to_keras: schedule is a stacked sweep of shape {schedule.batch_shape}; Keras trains one "
            "configuration at a time: give one member (sweep[i])"
        )
    cls = _schedule_class()
    import keras

    if keras.backend.backend() != "jax":
        raise ValueError(
            f"to_keras: Keras runs the {keras.backend.backend()!r} backend; optasched schedules are JAX code, "
            "so set KERAS_BACKEND=jax before keras is first imported"
        )
    return cls(schedule)
