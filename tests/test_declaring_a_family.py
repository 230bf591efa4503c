"""What a family gets from declaring its fields: a constructor with the real
signature, a registry entry under a name no other class can take, and sweep
axes that stay right for parameter trees of any rank."""

from __future__ import annotations

import inspect

import jax.numpy as jnp
import numpy as np
import pytest

import optasched as osd
from optasched.schedules import Schedule, families, real, static, steps


class Ramp(Schedule, family="ramp_for_declaration_tests"):
    """A ramp from 0 to ``peak_value`` over ``length`` steps."""

    peak_value: float = real(gt=0)
    length: int = steps(default=10, ge=1)
    shape: str = static(default="linear", choices=("linear",))

    def _value(self, step):
        return self.peak_value * jnp.clip(step / self.length, 0.0, 1.0)


def test_the_constructor_has_the_declared_signature():
    signature = inspect.signature(Ramp)
    assert str(signature) == "(peak_value, length=10, shape='linear')"
    assert Ramp.__init__.__doc__ == Ramp.__doc__
    assert float(Ramp(2.0, length=4)(2)) == 1.0
    assert float(Ramp(peak_value=2.0)(5)) == 1.0
    assert str(inspect.signature(osd.cosine)) == "(init_value, decay_steps, end_value=0.0, exponent=1.0)"


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: Ramp(), "missing a required argument: 'peak_value'"),
        (lambda: Ramp(1.0, 10, "linear", 4), "too many positional arguments"),
        (lambda: Ramp(1.0, size=3), "got an unexpected keyword argument 'size'"),
        (lambda: Ramp(1.0, peak_value=2.0), "multiple values for argument 'peak_value'"),
    ],
)
def test_a_call_that_does_not_fit_the_signature_is_a_type_error_naming_the_family(call, message):
    with pytest.raises(TypeError, match=f"^ramp_for_declaration_tests: {message}"):
        call()


def test_every_family_is_registered_under_its_public_name():
    registered = families()
    assert registered["ramp_for_declaration_tests"] is Ramp
    assert registered["cosine"] is osd.cosine and registered["plateau"] is osd.plateau
    assert registered["constant"] is osd.constant and registered["add"] is type(osd.constant(1.0) + 1.0)
    assert list(registered) == sorted(registered)
    assert all(not cls.__name__.startswith("_") for cls in registered.values())


def test_a_second_class_cannot_take_a_family_name():
    expected = r"family name 'cosine' is already taken by optasched\.schedules\._families\.Cosine"
    with pytest.raises(ValueError, match=expected):

        class Cosine(Schedule, family="cosine"):  # noqa: F811 (the clash is the point)
            init_value: float = real()

    assert families()["cosine"] is osd.cosine


def test_redefining_the_same_class_replaces_it():
    """As when a module (or a notebook cell) is run again: same module, same qualified name."""

    def declare():
        class Twice(Schedule, family="twice_for_declaration_tests"):
            value: float = real()

            def _value(self, step):
                return self.value + 0.0 * step

        return Twice

    first, second = declare(), declare()
    assert families()["twice_for_declaration_tests"] is second is not first


def test_a_parameter_tree_keeps_its_core_ranks_through_sweeps_and_edits():
    """from_function's params may hold vectors: their rank given at construction is the core
    rank, so stacking adds one sweep axis, and indexing or editing inside keeps it."""
    s = osd.from_function(lambda t, p: p["w"].sum() * t + p["b"], {"w": jnp.array([1.0, 2.0]), "b": 0.0})
    assert s.batch_shape == ()
    other = s.replace(**{"params.w": jnp.array([3.0, 4.0])})
    assert other.batch_shape == ()
    stacked = osd.stack([s, other])
    assert stacked.batch_shape == (2,) and len(stacked) == 2
    np.testing.assert_allclose(stacked(2), [6.0, 14.0])
    assert stacked[1].batch_shape == () and float(stacked[1](1)) == 7.0
    edited = stacked.replace(**{"params.b": jnp.array([1.0, 2.0])})
    assert edited.batch_shape == (2,)
    np.testing.assert_allclose(edited(0), [1.0, 2.0])
    renewed = s.replace(params={"w": jnp.array([[1.0, 1.0], [2.0, 2.0]]), "b": 0.0})
    assert renewed.batch_shape == ()  # a tree given anew: its ranks are its own core ranks
