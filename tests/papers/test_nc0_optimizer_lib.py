"""papers/nc0-optimizer/lib.py: the optimizer table, the theory experiments against their closed
forms, the configs and params/paper.yaml, and the paper-scale code path (ResNet9 and VGG9 on
padded images, device "auto", a resumable sweep) at tiny size."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import yaml

from common import paths
from common.project import paper_module

lib = paper_module("nc0-optimizer")


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("name", sorted(lib.OPTIMIZER_TABLE))
def test_every_optimizer_of_the_table_steps(name):
    w = torch.nn.Parameter(torch.ones(3, 2))
    opt = lib.make_optimizer(name, [w], lr=0.1, momentum=0.9, weight_decay=0.1,
                             decoupled_weight_decay=0.1)
    w.grad = torch.full_like(w, 0.5)
    opt.step()
    assert torch.all(w < 1)


def test_make_optimizer_names_the_choices():
    with pytest.raises(ValueError, match="optimizer='Lion'"):
        lib.make_optimizer("Lion", [torch.nn.Parameter(torch.ones(1))], lr=0.1, momentum=0.0,
                           weight_decay=0.0)


def test_signgd_on_the_etf_model_follows_the_theorems():
    # Thm 3.3: the measured trajectory is the closed form; Thm 3.4: coupled decay rises, falls
    a = lib.signgd_etf_alpha(6, 0.05, 0.2, 200, decoupled=True)
    closed = lib.signgd_dwd_closed_form(6, 0.05, 0.2, 200)
    np.testing.assert_allclose(a, closed, rtol=1e-12, atol=0)
    c = lib.signgd_etf_alpha(6, 0.05, 0.2, 400, decoupled=False)
    assert c.max() > 10 * c[-1] and c[0] == 0


def test_row_sum_under_coupled_sgd_is_the_linear_recursion():
    r = lib.row_sum_trajectory("SGD", lr=0.05, momentum=0.7, weight_decay=0.1, num_steps=30,
                               batch_size=32)
    pred = lib.coupled_sgd_row_sum(r["m"][0], lr=0.05, momentum=0.7, weight_decay=0.1,
                                   num_steps=30)
    np.testing.assert_allclose(r["m"], pred, rtol=0, atol=1e-12 * np.abs(r["m"][0]).max())
    free = lib.row_sum_trajectory("SGD", lr=0.05, momentum=0.9, weight_decay=0.0, num_steps=30,
                                  batch_size=32)
    np.testing.assert_allclose(free["m"], np.broadcast_to(free["m"][0], free["m"].shape),
                               rtol=1e-12, atol=1e-14)


def test_configs_validate_and_paper_params_are_valid():
    for bad in ("Lion 0.1 0.9 0", "SGD 0.1 0.9", "SGD 0.1 0.9 x"):
        with pytest.raises(ValueError, match="settings"):
            lib.NCConfig(settings=(bad,))
    with pytest.raises(ValueError):
        lib.NCRun(optimizer="SGD", momentum=1.0)
    cfg = lib.NCConfig(settings=("SGD 0.1 0.9 0", "AdamW 1e-3 0.9 5"), seeds=(0, 1))
    assert [(r.optimizer, r.seed) for r in cfg.runs()] == [("SGD", 0), ("AdamW", 0),
                                                           ("SGD", 1), ("AdamW", 1)]
    params = yaml.safe_load((paths.paper_dir("nc0-optimizer") / "params" / "paper.yaml")
                            .read_text())
    fields = {f.name for f in dataclasses.fields(lib.NCConfig)}
    paper = lib.NCConfig(**{k: v for k, v in params["02_networks"].items() if k in fields})
    assert paper.arch == "resnet9" and len(paper.runs()) >= 6
    assert {r.optimizer for r in paper.runs()} == {"SGD", "SGDW", "Adam", "AdamW", "Signum",
                                                    "SignumW", "AdamCD"}
    lib.TheoryConfig(**params["01_theory"])


def _tiny_images(dataset):
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(60) % 10
    yt = torch.arange(20) % 10
    return (torch.randn(60, 1, 28, 28, generator=gen), y,
            torch.randn(20, 1, 28, 28, generator=gen), yt)


@pytest.mark.parametrize("arch", ["resnet9", "vgg9"])
def test_paper_scale_path_runs_at_tiny_size(arch, monkeypatch, tmp_path):
    monkeypatch.setattr(lib, "load_images", _tiny_images)
    cfg = lib.NCConfig(settings=("SignumW 1e-3 0.9 1", "AdamCD 1e-3 0.9 1e-3 1e-3"), arch=arch,
                       width=4, per_class=3, test_size=20, epochs=3, batch_size=10,
                       device="auto")
    records, result = lib.nc_sweep(cfg, store_dir=tmp_path, executor="debug", progress=False)
    assert len(records) == 2 and result.summary()
    for rec in records:
        for k in ("NC0", "NC1", "NC2", "NC3", "NC4", "init_NC0", "train_acc", "test_acc"):
            assert np.isfinite(rec[k]), k
    again, _ = lib.nc_sweep(cfg, store_dir=tmp_path, executor="debug", resume=True,
                            progress=False)
    assert again == records  # resumed from the stored runs


def test_trainable_ufm_run():
    out = lib.train_ufm(lib.UFMConfig(dim=8, per_class=5, num_steps=20), "AdamW", 5e-3)
    assert set(out) == {"init", "final"} and out["final"]["loss"] < out["init"]["loss"]
