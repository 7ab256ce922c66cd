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
