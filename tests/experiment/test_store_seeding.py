from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from common import fileio as store_mod
from common.experiment import (
    ResultsStore,
    atomic_write_json,
    atomic_write_text,
    derive_seed,
    provenance,
    read_json,
    seed_everything,
    to_jsonable,
)


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "out.json"
    atomic_write_text(target, "old")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(store_mod.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_json(target, {"new": 1})
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # the temporary file is gone


def test_jsonable_types_round_trip(tmp_path):
    rec = {"a": np.float32(1.5), "b": np.arange(3), "c": torch.tensor([1.0, 2.0]),
           "d": (1, 2), "e": float("inf"), "f": np.int64(7), "g": tmp_path}
    atomic_write_json(tmp_path / "r.json", rec)
    back = read_json(tmp_path / "r.json")
    assert back == {"a": 1.5, "b": [0, 1, 2], "c": [1.0, 2.0], "d": [1, 2], "e": float("inf"),
                    "f": 7, "g": str(tmp_path)}
    with pytest.raises(TypeError, match="cannot store"):
        to_jsonable(object())


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5)
                    | st.floats(allow_nan=False),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=10))
def test_json_round_trip_property(value):
    assert json.loads(json.dumps(to_jsonable(value))) == to_jsonable(value)


def test_results_store(tmp_path):
    store = ResultsStore(tmp_path)
    store.save("runs/abc", {"x": 1})
    assert "runs/abc" in store and store.load("runs/abc") == {"x": 1}
    assert store.keys() == ["runs/abc"]
    for bad in ("../x", "/abs", ""):
        with pytest.raises(ValueError):
            store.path(bad)


def test_seed_everything_reproduces_streams():
    g1 = seed_everything(3)
    a = (np.random.rand(), torch.rand(1).item(), g1.random())  # noqa: NPY002
    g2 = seed_everything(3)
    assert a == (np.random.rand(), torch.rand(1).item(), g2.random())  # noqa: NPY002
    with pytest.raises(ValueError, match="seed"):
        seed_everything(-1)


def test_derive_seed_is_stable_and_distinct():
    assert derive_seed(0, "mlp", 3) == derive_seed(0, "mlp", 3)
    seeds = {derive_seed(s, name) for s in range(20) for name in ("a", "b")}
    assert len(seeds) == 40 and all(0 <= s < 2**63 for s in seeds)


def test_provenance_fields():
    info = provenance()
    assert {"git", "packages", "python", "platform", "device", "time_utc"} <= set(info)
    assert info["packages"]["torch"].startswith("2.13.0")


def test_resolve_device():
    from common.experiment import resolve_device

    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ValueError, match="allowed values"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda:0")
