from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.experiment import Config, ConfigError, param


@dataclass(frozen=True)
class Demo(Config):
    lr: float = param(0.1, gt=0, doc="step size")
    num_steps: int = param(10, ge=1)
    betas: tuple[float, ...] = param((0.9, 0.99), ge=0, lt=1)
    method: str = param("sgd", choices=("sgd", "adam"))
    flag: bool = param(False)
    budget: int | None = param(None, ge=0)


def test_defaults_and_coercion():
    cfg = Demo(lr=1, betas=[0.5])  # int -> float, list -> tuple
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)
    assert cfg.betas == (0.5,)
    assert hash(cfg) == hash(Demo(lr=1.0, betas=(0.5,)))


@pytest.mark.parametrize("kwargs,match", [
    ({"lr": -1}, r"Demo.lr = -1.0 is invalid: must be > 0 \(step size; notebook parameter `lr`\)"),
    ({"lr": float("nan")}, "nan"),
    ({"num_steps": 0}, r"num_steps = 0 is invalid: must be >= 1"),
    ({"num_steps": 2.5}, "expected an integer"),
    ({"num_steps": True}, "expected an integer"),
    ({"betas": (0.5, 1.0)}, r"betas\[1\] = 1.0 is invalid: must be >= 0 and < 1"),
    ({"method": "rmsprop"}, r"one of \['sgd', 'adam'\]"),
    ({"flag": 1}, "expected True or False"),
    ({"lr": "0.1"}, "expected a number"),
    ({"budget": -3}, "must be >= 0"),
])
def test_bad_values_name_the_parameter_and_the_range(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        Demo(**kwargs)


def test_frozen():
    with pytest.raises(AttributeError):
        Demo().lr = 3.0


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) \['lrr'\]"):
        Demo.from_dict({"lrr": 0.1})


def test_from_namespace_needs_every_field():
    ns = {"lr": 0.5, "num_steps": 3, "betas": (0.1,), "method": "adam", "flag": True,
          "budget": 4, "unrelated": object()}
    assert Demo.from_namespace(ns).method == "adam"
    del ns["budget"]
    with pytest.raises(ConfigError, match="budget"):
        Demo.from_namespace(ns)


@given(st.floats(min_value=1e-12, max_value=1e12), st.integers(min_value=1, max_value=10**9))
def test_hash_is_stable_and_sensitive(lr, n):
    a, b = Demo(lr=lr, num_steps=n), Demo(lr=lr, num_steps=n)
    assert a.config_hash() == b.config_hash()
    assert a.config_hash() != a.replace(num_steps=n + 1).config_hash()
    assert Demo.from_dict(a.to_dict()) == a


def test_describe_lists_ranges():
    text = Demo.describe()
    assert "lr: float = 0.1  [> 0]  # step size" in text


# ---- non-finite values (issue 16, case 7) --------------------------------------------------------


@dataclass(frozen=True)
class Bounds(Config):
    lr: float = param(0.1, gt=0, doc="step size")
    betas: tuple[float, ...] = param((0.9,), ge=0)
    plain: float = 1.0  # no param(): still a float field
    radius: float = param(1.0, gt=0, allow_inf=True, doc="clipping radius; inf: no clipping")
    offset: float | None = param(None)


@pytest.mark.parametrize("kwargs,match", [
    ({"lr": float("inf")}, r"Bounds.lr = inf is invalid: must be finite \(step size; notebook "
                           r"parameter `lr`\)"),
    ({"lr": float("-inf")}, r"Bounds.lr = -inf is invalid: must be finite"),
    ({"betas": (0.5, float("inf"))}, r"Bounds.betas\[1\] = inf is invalid: must be finite"),
    ({"plain": float("inf")}, r"Bounds.plain = inf is invalid: must be finite"),
    ({"plain": float("nan")}, r"Bounds.plain = nan is invalid"),
    ({"offset": float("-inf")}, r"Bounds.offset = -inf is invalid: must be finite"),
    ({"radius": float("nan")}, r"Bounds.radius = nan is invalid"),
    ({"radius": float("-inf")}, r"Bounds.radius = -inf is invalid: must be > 0"),
])
def test_non_finite_values_are_refused_unless_the_parameter_allows_them(kwargs, match):
    """``inf`` used to pass a ``gt=0`` bound (``-p sanity_lr inf`` in byz-clip21-sgd2m 01 then
    surfaced as a failed paper claim instead of bad input)."""
    with pytest.raises(ConfigError, match=match):
        Bounds(**kwargs)


def test_a_parameter_that_allows_inf_keeps_its_bounds():
    assert Bounds(radius=float("inf")).radius == float("inf")
    assert "radius: float = 1.0  [> 0, inf allowed]" in Bounds.describe()


def test_byz_clip21_sanity_lr_inf_is_bad_input():
    from common.project.notebooks import paper_module

    lib = paper_module("byz-clip21-sgd2m")
    with pytest.raises(ConfigError, match=r"sanity_lr = inf is invalid: must be finite"):
        lib.RobustnessConfig(sanity_lr=float("inf"))
