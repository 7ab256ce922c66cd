"""Many paths of an SDE at once: ``common.sde.simulate`` (JAX: jit, vmap, scan) against NumPy and
``torchsde``, relative to NumPy vectorised over paths.

The same Euler-Maruyama simulation (dt = eta = 0.01) of two SDEs on the notes' quadratic
(d = 10, h = linspace(0.5, 5, 10), sigma = linspace(0.5, 2, 10), x0 = 2), 10,000 paths x 1,000
steps (``--quick``: the SignSGD SDE only, 500 x 50), float32 everywhere, returning the final mean
loss:

- the SGD SDE, dX = -H X dt - sqrt(eta) Sigma^{1/2} dW (additive noise: the cost is the normals);
- the SignSGD SDE, dX = -erf(H X / (sqrt 2 sigma)) dt - sqrt(eta) sqrt(1 - erf(.)^2) dW.

Implementations: ``common.sde.simulate`` (compiled once; the compile time is reported apart);
the same in hand-written JAX (one normal draw for all paths per step: what per-path keys, vmap and
the records cost); NumPy, one array operation per step over all paths (the fair baseline, and the
reference of the ratios); NumPy one path at a time (extrapolated from a few paths: it is 10^4
times too slow to run in full); ``torchsde.sdeint`` (method "euler", fixed dt, a
``BrownianInterval``); ``common.sde.simulate`` with a ``philox4x32`` key (the repository's
default key since issue 29, ``common.experiment.jax_key``) and with JAX's threefry key
(``jax.random.PRNGKey``, the default before; :func:`layout_profile` shows what the paths-minor
layout buys); diffrax's ``Euler`` solver with an
``UnsafeBrownianPath`` (the JAX SDE library's fastest fixed-step setting). The JAX rows, diffrax
and vectorised NumPy are timed in interleaved rounds (every implementation once per round, the
order rotated), each row's ratio being the median over rounds of its time over NumPy's in the same
round, so that load from the rest of a shared machine falls on all of them alike; the slow rows
(per-path NumPy, torchsde) are the median of ``torch.utils.benchmark.Timer.blocked_autorange``
(torch with one thread) over NumPy's interleaved median. NumPy is single-threaded; the 1-minute
load average is recorded with the rows. The final mean loss of each implementation is reported so
that the runs can be seen to simulate the same thing.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
from torch.utils import benchmark

LR = 0.01
D = 10


def _sizes(quick: bool):
    return (500, 50) if quick else (10_000, 1_000)


def _problem():
    return np.linspace(0.5, 5.0, D, dtype=np.float32), np.linspace(0.5, 2.0, D, dtype=np.float32)


# --- JAX (the library)

def _jax_runner(kind, num_paths, num_steps, impl="threefry2x32"):
    import jax
    import jax.numpy as jnp

    from common import sde

    h, sigma = _problem()
    f, noise = sde.DiagQuadratic(jnp.asarray(h)), sde.Gaussian(jnp.asarray(sigma))
    model = sde.SGDSDE(f, noise, LR) if kind == "SGD" else sde.SignSGDSDE(f, noise, LR)
    x0 = jnp.full(D, 2.0)
    key = jax.random.key(0, impl=impl)

    def run():
        traj = sde.simulate(model, x0, key, num_steps=num_steps, num_paths=num_paths,
                            record_every=num_steps)
        return float(traj.mean[-1])

    return run


def _jax_minimal_runner(kind, num_paths, num_steps):
    """The same simulation hand-written in JAX: one (paths, d) normal draw per step from one key
    per step (paths then depend on ``num_paths``), no vmap, no records."""
    import jax
    import jax.numpy as jnp

    h, sigma = (jnp.asarray(a) for a in _problem())
    sqrt_lr = math.sqrt(LR)

    @jax.jit
    def simulate(key):
        def step(x, k):
            xi = jax.random.normal(jax.random.fold_in(key, k), x.shape)
            if kind == "SGD":
                return x - LR * h * x - sqrt_lr * sigma * sqrt_lr * xi, None
            m = jax.scipy.special.erf(h * x / (math.sqrt(2.0) * sigma))
            return x - LR * m - sqrt_lr * jnp.sqrt(jnp.clip(1 - m * m, 0, 1)) * sqrt_lr * xi, None

        x, _ = jax.lax.scan(step, jnp.full((num_paths, D), 2.0), jnp.arange(num_steps))
        return jnp.mean(0.5 * jnp.sum(h * x * x, axis=1))

    key = jax.random.PRNGKey(0)
    return lambda: float(simulate(key))


# --- diffrax

def _diffrax_runner(kind, num_paths, num_steps):
    """diffrax's ``Euler`` solver (Euler-Maruyama for an Ito SDE), fixed step dt = eta, with an
    ``UnsafeBrownianPath`` of shape (paths, d) (independent N(0, dt) increments, the same law as
    the other rows; diffrax's fastest Brownian path for a fixed-step solve) and the diagonal
    diffusion as a ``lineax.DiagonalLinearOperator``; only the final state is saved."""
    import diffrax
    import jax
    import jax.numpy as jnp
    import lineax

    h, sigma = (jnp.asarray(a) for a in _problem())
    sqrt_lr = math.sqrt(LR)
    t1 = num_steps * LR

    def drift(t, y, args):
        if kind == "SGD":
            return -h * y
        return -jax.scipy.special.erf(h * y / (math.sqrt(2.0) * sigma))

    def diffusion(t, y, args):
        if kind == "SGD":
            g = jnp.broadcast_to(sqrt_lr * sigma, y.shape)
        else:
            m = jax.scipy.special.erf(h * y / (math.sqrt(2.0) * sigma))
            g = sqrt_lr * jnp.sqrt(jnp.clip(1 - m * m, 0, 1))
        return lineax.DiagonalLinearOperator(-g)

    @jax.jit
    def solve(key):
        bm = diffrax.UnsafeBrownianPath(shape=(num_paths, D), key=key)
        terms = diffrax.MultiTerm(diffrax.ODETerm(drift), diffrax.ControlTerm(diffusion, bm))
        sol = diffrax.diffeqsolve(terms, diffrax.Euler(), 0.0, t1, dt0=LR,
                                  y0=jnp.full((num_paths, D), 2.0),
                                  saveat=diffrax.SaveAt(t1=True), max_steps=num_steps + 1,
                                  adjoint=diffrax.ForwardMode())
        x = sol.ys[-1]
        return jnp.mean(0.5 * jnp.sum(h * x * x, axis=1))

    key = jax.random.PRNGKey(0)
    return lambda: float(solve(key))


# --- NumPy

def _drift_diffusion_np(kind, x, h, sigma):
    from scipy.special import erf

    if kind == "SGD":
        return -h * x, np.float32(math.sqrt(LR)) * sigma
    m = erf(h * x / (np.float32(math.sqrt(2.0)) * sigma))
    return -m, np.float32(math.sqrt(LR)) * np.sqrt(np.clip(1 - m * m, 0, 1))


def _numpy_runner(kind, num_paths, num_steps):
    h, sigma = _problem()

    def run():
        rng = np.random.default_rng(0)
        x = np.full((num_paths, D), 2.0, dtype=np.float32)
        sqrt_dt = np.float32(math.sqrt(LR))
        for _ in range(num_steps):
            b, g = _drift_diffusion_np(kind, x, h, sigma)
            xi = rng.standard_normal((num_paths, D), dtype=np.float32)
            x = x + np.float32(LR) * b - g * sqrt_dt * xi
        return float(np.mean(0.5 * np.sum(h * x * x, axis=1)))

    return run


def _numpy_per_path_runner(kind, num_paths, num_steps):
    h, sigma = _problem()

    def run():
        rng = np.random.default_rng(0)
        sqrt_dt = np.float32(math.sqrt(LR))
        total = 0.0
        for _ in range(num_paths):
            x = np.full(D, 2.0, dtype=np.float32)
            for _ in range(num_steps):
                b, g = _drift_diffusion_np(kind, x, h, sigma)
                x = x + np.float32(LR) * b - g * sqrt_dt * rng.standard_normal(D, np.float32)
            total += float(0.5 * np.sum(h * x * x))
        return total / num_paths

    return run


# --- torchsde

def _torchsde_runner(kind, num_paths, num_steps):
    import torch
    import torchsde

    h, sigma = (torch.as_tensor(a) for a in _problem())
    sqrt_lr = math.sqrt(LR)

    class TorchSDE(torch.nn.Module):
        noise_type, sde_type = "diagonal", "ito"

        def f(self, t, y):
            return -h * y if kind == "SGD" else -torch.erf(h * y / (math.sqrt(2.0) * sigma))

        def g(self, t, y):
            if kind == "SGD":
                return (sqrt_lr * sigma).expand_as(y)
            m = torch.erf(h * y / (math.sqrt(2.0) * sigma))
            return sqrt_lr * torch.sqrt(torch.clamp(1 - m * m, 0, 1))

    model = TorchSDE()
    t1 = num_steps * LR
    ts = torch.tensor([0.0, t1])

    def run():
        y0 = torch.full((num_paths, D), 2.0)
        bm = torchsde.BrownianInterval(0.0, t1, size=(num_paths, D), entropy=0)
        with torch.no_grad():
            ys = torchsde.sdeint(model, y0, ts, method="euler", dt=LR, bm=bm)
        return float((0.5 * (h * ys[-1] ** 2).sum(1)).mean())

    return run


def _time(run, min_run_time):
    timer = benchmark.Timer(stmt="run()", globals={"run": run})
    return timer.blocked_autorange(min_run_time=min_run_time).median


def _interleaved(runners: dict, rounds: int, ref: str) -> dict:
    """Time ``runners`` in ``rounds`` interleaved rounds (each round runs every implementation once,
    in an order rotated from round to round, so that load from the rest of a shared machine falls
    on all of them alike). Returns per implementation the median time and the median over rounds
    of its ratio to ``ref`` timed in the same round."""
    names = list(runners)
    times = {n: [] for n in names}
    for r in range(rounds):
        for n in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.perf_counter()
            runners[n]()
            times[n].append(time.perf_counter() - t0)
    return {n: (float(np.median(times[n])),
                float(np.median(np.asarray(times[n]) / np.asarray(times[ref])))) for n in names}


def run(quick: bool = False) -> list[dict]:
    num_paths, num_steps = _sizes(quick)
    per_path_paths = 2 if quick else 20
    min_run_time = 0.05 if quick else 2.0
    rounds = 3 if quick else 5
    ref_name = "NumPy, vectorised over paths"
    rows = []
    for kind in ("SignSGD",) if quick else ("SGD", "SignSGD"):
        load_before = os.getloadavg()[0]
        runners, losses, compile_s = {}, {}, {}
        builders = {
            "JAX (common.sde.simulate, threefry2x32 key)": (_jax_runner, {}),
            "JAX (common.sde.simulate, philox4x32: the default key)": (_jax_runner,
                                                                     {"impl": "philox4x32"}),
            "diffrax (Euler, UnsafeBrownianPath)": (_diffrax_runner, {}),
        }
        if not quick:
            builders["JAX, hand-written scan (no vmap, one key per step)"] = (
                _jax_minimal_runner, {})
        for name, (build, kw) in builders.items():
            t0 = time.perf_counter()
            try:
                runner = build(kind, num_paths, num_steps, **kw)
                losses[name] = runner()  # compiles, then runs once
            except ImportError:  # diffrax is an optional (reference) dependency
                continue
            compile_s[name] = time.perf_counter() - t0
            runners[name] = runner
        runners[ref_name] = _numpy_runner(kind, num_paths, num_steps)
        losses[ref_name], compile_s[ref_name] = runners[ref_name](), None
        timed = _interleaved(runners, rounds, ref_name)
        ref = timed[ref_name][0]
        results = {n: (timed[n][0], losses[n], compile_s[n], timed[n][1]) for n in runners}
        loop = _numpy_per_path_runner(kind, per_path_paths, num_steps)
        loop_s = _time(loop, min_run_time / 4) * num_paths / per_path_paths
        results[f"NumPy, one path at a time (x{num_paths // per_path_paths} from "
                f"{per_path_paths} paths)"] = (loop_s, loop(), None, loop_s / ref)
        ts_run = _torchsde_runner(kind, num_paths, num_steps)
        ts_s = _time(ts_run, min_run_time)
        results["torchsde.sdeint (euler)"] = (ts_s, ts_run(), None, ts_s / ref)
        load_after = os.getloadavg()[0]
        print(f"sde_paths {kind}: 1-minute load average {load_before:.2f} before, "
              f"{load_after:.2f} after")
        for impl, (seconds, loss, comp, ratio) in results.items():
            rows.append({"sde": kind, "implementation": impl, "paths": num_paths,
                         "steps": num_steps, "seconds": seconds, "ratio_to_numpy": ratio,
                         "path_steps_per_s": num_paths * num_steps / seconds,
                         "final_mean_loss": loss, "compile_seconds": comp,
                         "rounds": rounds if impl in runners else None,
                         "load_avg_1min_before": load_before, "load_avg_1min_after": load_after})
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| SDE | implementation | paths x steps | time | ratio to NumPy (vectorised) | "
             "path-steps / s | final E f |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        extra = (f" (first call, with compilation: {r['compile_seconds']:.1f} s)"
                 if r["compile_seconds"] else "")
        lines.append(f"| {r['sde']} | {r['implementation']} | {r['paths']:,} x {r['steps']:,} | "
                     f"{r['seconds']:.3g} s{extra} | {r['ratio_to_numpy']:.2f} | "
                     f"{r['path_steps_per_s']:.3g} | {r['final_mean_loss']:.4f} |")
    return "\n".join(lines)


def _noise_runner(impl, what, num_paths, num_steps):
    """The noise alone, drawn as ``simulate`` draws it (per-path keys, ``fold_in`` of the step,
    ``D`` values per path-step), summed so that nothing is dead code: ``what`` is "bits" (raw
    uint32 bits) or "normal" (``jax.random.normal``)."""
    import jax
    import jax.numpy as jnp

    path_keys = jax.random.split(jax.random.key(0, impl=impl), num_paths)
    draw = ((lambda k: jax.random.bits(k, (D,))) if what == "bits"
            else (lambda k: jax.random.normal(k, (D,))))
    zero = jnp.zeros((num_paths, D), jnp.uint32 if what == "bits" else jnp.float32)

    @jax.jit
    def noise(path_keys):
        def body(acc, k):
            keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(path_keys, k)
            xi = jax.vmap(draw)(keys)
            return (acc ^ xi if what == "bits" else acc + xi), None
        acc, _ = jax.lax.scan(body, zero, jnp.arange(num_steps))
        return acc.sum()

    noise(path_keys).block_until_ready()
    return lambda: float(noise(path_keys))


def noise_profile(rounds: int = 2, quick: bool = False) -> dict:
    """What limits the library (benchmarks/README.md, ``sde_paths`` profile): the noise alone
    (raw bits and normals, threefry and philox keys) against NumPy's ``standard_normal`` and the
    full simulations, in interleaved rounds. Returns {name: (median s, ratio to NumPy normals)}."""
    num_paths, num_steps = _sizes(quick)

    def numpy_normals():
        rng = np.random.default_rng(0)
        acc = np.zeros((num_paths, D), np.float32)
        for _ in range(num_steps):
            acc += rng.standard_normal((num_paths, D), dtype=np.float32)
        return float(acc.sum())

    runners = {"NumPy normals": numpy_normals}
    for impl in ("threefry2x32", "philox4x32"):
        for what in ("bits", "normal"):
            runners[f"JAX {what}, {impl}"] = _noise_runner(impl, what, num_paths, num_steps)
    for kind in ("SGD", "SignSGD"):
        for impl in ("threefry2x32", "philox4x32"):
            runners[f"{kind} SDE, library, {impl}"] = _jax_runner(kind, num_paths, num_steps, impl)
            runners[f"{kind} SDE, library, {impl}"]()
        runners[f"{kind} SDE, NumPy"] = _numpy_runner(kind, num_paths, num_steps)
    return _interleaved(runners, rounds, "NumPy normals")


def _layout_runner(impl, paths_minor, num_paths, num_steps):
    """The SGD SDE hand-written in JAX with the library's noise stream (one key per path,
    ``fold_in`` of the step, a (d,) normal per path under ``vmap``), the state (paths, d) or,
    with ``paths_minor``, (d, paths) (``vmap(..., out_axes=1)``: the same values, transposed)."""
    import jax
    import jax.numpy as jnp

    h, sigma = (jnp.asarray(a) for a in _problem())
    if paths_minor:
        h, sigma = h[:, None], sigma[:, None]
    shape = (D, num_paths) if paths_minor else (num_paths, D)
    path_keys = jax.random.split(jax.random.key(0, impl=impl), num_paths)
    scale = math.sqrt(LR) * math.sqrt(LR)  # sqrt(eta) * sqrt(dt), dt = eta

    @jax.jit
    def simulate(path_keys):
        def step(x, k):
            keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(path_keys, k)
            xi = jax.vmap(lambda key: jax.random.normal(key, (D,)),
                          out_axes=1 if paths_minor else 0)(keys)
            return x - LR * h * x - scale * sigma * xi, None

        x, _ = jax.lax.scan(step, jnp.full(shape, 2.0), jnp.arange(num_steps))
        return jnp.mean(0.5 * jnp.sum(h * x * x, axis=0 if paths_minor else 1))

    simulate(path_keys).block_until_ready()
    return lambda: float(simulate(path_keys))


def layout_profile(rounds: int = 3, num_paths: int = 10_000, num_steps: int = 100) -> dict:
    """Where the library's time goes (benchmarks/README.md, ``sde_paths`` profile): the SGD SDE
    with the library's per-path noise stream, hand-written with paths as the major axis (the
    layout ``vmap`` over paths gives) and as the minor axis, threefry and philox keys, against
    ``common.sde.simulate`` and vectorised NumPy, interleaved. Returns {name: (median s, ratio to
    NumPy)}."""
    runners = {"NumPy, vectorised over paths": _numpy_runner("SGD", num_paths, num_steps)}
    for impl in ("threefry2x32", "philox4x32"):
        runners[f"library, {impl}"] = _jax_runner("SGD", num_paths, num_steps, impl)
        runners[f"library, {impl}"]()
        for minor in (False, True):
            layout = "minor (d, paths)" if minor else "major (paths, d)"
            name = f"hand-written, paths {layout}, {impl}"
            runners[name] = _layout_runner(impl, minor, num_paths, num_steps)
    return _interleaved(runners, rounds, "NumPy, vectorised over paths")
