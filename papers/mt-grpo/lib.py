"""Code only the MT-GRPO reproduction needs: the mechanics simulations (notebook 01), the toy
multi-task RL runs (notebook 02) and the Exp 1 configuration (notebook 03).

Every algorithmic piece lives in :mod:`common.rl` (advantages, loss, filters, samplers, task
weights, the training step); this module wires them into the paper's experiments.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from common import plotting
from common.data.toy_reasoning import ToyTaskSet
from common.experiment import (
    DEVICE_CHOICES,
    Config,
    ConfigError,
    SweepResult,
    derive_seed,
    param,
    resolve_device,
    sweep,
)
from common.models import GPT, GPTConfig
from common.rl import (
    METHODS,
    CausalLMPolicy,
    GRPOSettings,
    IWUSettings,
    aas_inflation,
    evaluate,
    get_method,
    get_sampler,
    init_state,
    iwu_step,
    strict_step,
    supervised_warm_start,
    task_weights_init,
    train_step,
    update_filter_rate,
)

__all__ = ["MechanicsConfig", "weight_trajectory", "strict_trajectory", "simulate_sampler",
           "min_flow_omega", "ToyConfig", "ToyRun", "train_toy", "toy_sweep", "plot_weights",
           "summarise_toy", "EXP1", "verl_command", "PaperScaleConfig", "synthetic_sec_rows",
           "trl_loss_check", "paper_scale_model", "paper_scale_train"]


# ---------------------------------------------------------------------------------------------
# Notebook 01: mechanics
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MechanicsConfig(Config):
    """Settings of ``01_mechanics`` (the notes' section 5 values)."""

    accuracy: tuple[float, ...] = param((0.8, 0.5, 0.3), ge=0, le=1, doc="fixed task accuracies J")
    improvement: tuple[float, ...] = param((0.0, 0.0, 0.5), doc="fixed improvements I (IWU run)")
    lam_strict: float = param(1.0, gt=0, doc="lambda of the strict run (I = 0)")
    lam_iwu: float = param(0.2, ge=0, doc="lambda of the improvement-aware run")
    logit_lr: float = param(0.025, gt=0, doc="Adam learning rate of the logits")
    weight_updates: int = param(200, ge=1, doc="logit updates")
    z: tuple[float, ...] = param((0.2, 0.5, 0.3), ge=0, le=1, doc="target weights of the sampler")
    filter_rate: tuple[float, ...] = param((0.2, 0.8, 0.5), ge=0, lt=1, doc="per-task filter rates")
    batch_size: int = param(32, ge=1, doc="prompt groups per batch B")
    oversample: int = param(3, ge=1, doc="M_os")
    max_rounds: int = param(10, ge=1, doc="generation batches per step (N_rs)")
    num_batches: int = param(2000, ge=1, doc="simulated batches")
    lp_trials: int = param(20, ge=1, doc="random z for the Omega / LP check")
    seed: int = param(0, ge=0, doc="seed of the simulations")

    def __post_init__(self):
        super().__post_init__()
        k = len(self.accuracy)
        for name in ("improvement", "z", "filter_rate"):
            if len(getattr(self, name)) != k:
                raise ConfigError(f"{name} has {len(getattr(self, name))} entries; "
                                  f"accuracy has {k}")
        if abs(sum(self.z) - 1) > 1e-9:
            raise ConfigError(f"z={self.z}: must sum to 1")


def weight_trajectory(accuracy, improvement, *, lam: float, lr: float, num_updates: int
                      ) -> np.ndarray:
    """Task weights ``(num_updates + 1, K)`` under the IWU with fixed ``I`` and ``J``."""
    state = task_weights_init(len(accuracy))
    out = [state.z]
    for _ in range(num_updates):
        state, info = iwu_step(state, improvement, accuracy, lam=lam, lr=lr)
        out.append(info["z"])
    return np.array(out)


def strict_trajectory(accuracy, *, lr: float, num_updates: int) -> np.ndarray:
    """Task weights ``(num_updates + 1, K)`` under the strict worst-task update (eqs. 6-7)."""
    state = task_weights_init(len(accuracy))
    out = [state.z]
    for _ in range(num_updates):
        state, info = strict_step(state, accuracy, lr=lr)
        out.append(info["z"])
    return np.array(out)


def simulate_sampler(name: str, z, filter_rate, *, batch_size: int, oversample: int,
                     max_rounds: int, num_batches: int, seed: int, aas: bool = False) -> dict:
    """Batches of a sampler when task k's groups pass the filter with probability ``1 - rho_k``.

    With ``aas``, the inflation uses the EMA of the *observed* filter rates (starting at 0), as
    in training. Returns the mean realised ratio, its spread over batches, the mean number of
    generation rounds and the mean batch size.
    """
    rng = np.random.default_rng(seed)
    rho = np.asarray(filter_rate, dtype=np.float64)
    K = rho.size
    est = np.zeros(K)
    sampler = get_sampler(name)
    ratios, rounds, sizes = [], [], []
    for _ in range(num_batches):
        def draw(tasks):
            return rng.random(tasks.size) >= rho[tasks]
        res = sampler(z, batch_size, draw, rng, oversample=oversample, max_rounds=max_rounds,
                      inflation=aas_inflation(est) if aas else None)
        drawn = np.bincount(res.drawn_tasks, minlength=K)
        dropped = np.bincount(res.drawn_tasks[~res.accepted], minlength=K)
        observed = np.where(drawn > 0, dropped / np.maximum(drawn, 1), np.nan)
        est = update_filter_rate(est, observed)
        ratios.append(res.ratio(K))
        rounds.append(res.rounds)
        sizes.append(res.indices.size)
    ratios = np.array(ratios)
    return {"ratio": ratios.mean(0), "ratio_sd": ratios.std(0), "rounds": float(np.mean(rounds)),
            "batch": float(np.mean(sizes))}


def min_flow_omega(z) -> float:
    """``Omega(z)`` as the optimum of the min-flow LP (App. C.1, eq. 22; reconstructed):

    ``min sum_{k != j} mu_kj``  s.t.  ``mu >= 0``,  ``sum_j mu_kj - sum_j mu_jk = z_k - 1/K``

    (``mu_kj`` is the multiplier of the constraint ``J_j - J_k <= eps``; the coefficient of
    ``J_k`` in the Lagrangian is then ``z_k``). Solved with SciPy's HiGHS, independently of
    :func:`common.rl.omega`'s closed form.
    """
    from scipy.optimize import linprog

    z = np.asarray(z, dtype=np.float64)
    K = z.size
    pairs = [(k, j) for k in range(K) for j in range(K) if k != j]
    A = np.zeros((K, len(pairs)))
    for col, (k, j) in enumerate(pairs):
        A[k, col] += 1.0
        A[j, col] -= 1.0
    res = linprog(np.ones(len(pairs)), A_eq=A, b_eq=z - 1.0 / K, bounds=(0, None),
                  method="highs")
    if not res.success:
        raise RuntimeError(f"min-flow LP failed: {res.message}")
    return float(res.fun)


# ---------------------------------------------------------------------------------------------
# Notebook 02: a tiny transformer trained by GRPO, DAPO and MT-GRPO on three toy tasks
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _ToyShared(Config):
    """The settings every run of ``02_toy_policy`` shares."""

    tasks: tuple[str, ...] = param(("sum-1", "minmax-1", "induction-1"), doc="toy tasks")
    n_layer: int = param(2, ge=1, doc="transformer blocks")
    n_head: int = param(4, ge=1, doc="attention heads")
    d_model: int = param(64, ge=8, doc="width")
    sft_steps: int = param(300, ge=0, doc="supervised warm-start steps")
    sft_batch_size: int = param(64, ge=1, doc="warm-start batch")
    sft_lr: float = param(3e-3, gt=0, doc="warm-start AdamW learning rate")
    rl_steps: int = param(60, ge=1, doc="RL steps")
    lr: float = param(1e-3, gt=0, doc="policy AdamW learning rate (RL)")
    group_size: int = param(8, ge=2, doc="rollouts per prompt G")
    batch_size: int = param(16, ge=1, doc="prompt groups per step")
    num_minibatches: int = param(2, ge=1, doc="optimiser steps per RL step")
    oversample: int = param(3, ge=1, doc="M_os (DAPO, MT-GRPO)")
    max_rounds: int = param(10, ge=1, doc="generation batches per step (DAPO, MT-GRPO)")
    lam: float = param(0.2, ge=0, doc="IWU lambda (MT-GRPO)")
    improvement_clip: float = param(100.0, gt=0, doc="IWU clip of I_k (code: 0.1 x lr / 1e-6)")
    logit_lr: float = param(0.025, gt=0, doc="IWU logit learning rate")
    logit_weight_decay: float = param(1e-5, ge=0, doc="IWU coupled L2 on the logits")
    eval_prompts: int = param(200, ge=1, doc="test prompts per task")
    eval_samples: int = param(2, ge=1, doc="samples per test prompt (temperature 1)")
    eval_every: int = param(30, ge=1, doc="evaluate every this many RL steps")
    device: str = param("cpu", choices=DEVICE_CHOICES, doc="torch device ('auto': CUDA if any)")

    def __post_init__(self):
        super().__post_init__()
        from common.data.toy_reasoning import make_task

        for t in self.tasks:
            try:
                make_task(t)
            except ValueError as err:
                raise ConfigError(f"tasks: {err}") from None
        if self.d_model % self.n_head:
            raise ConfigError(f"d_model={self.d_model} must be divisible by n_head={self.n_head}")


@dataclass(frozen=True)
class ToyRun(_ToyShared):
    """One run: a method and a seed with the shared settings (the seed fixes the warm start,
    so every method of a seed starts from the same policy)."""

    method: str = param("MT-GRPO", choices=tuple(METHODS), doc="training method")
    seed: int = param(0, ge=0, doc="warm start, rollouts and evaluation prompts")

    def method_spec(self):
        iwu = IWUSettings(lam=self.lam, lr=self.logit_lr, weight_decay=self.logit_weight_decay,
                          improvement_clip=self.improvement_clip)
        base = METHODS[self.method]
        return get_method(self.method, oversample=self.oversample, max_rounds=self.max_rounds,
                          iwu=iwu if base.iwu is not None else None)

    def settings(self) -> GRPOSettings:
        return GRPOSettings(group_size=self.group_size, batch_size=self.batch_size,
                            num_minibatches=self.num_minibatches)


@dataclass(frozen=True)
class ToyConfig(_ToyShared):
    """Settings of ``02_toy_policy``: a :class:`ToyRun` for every method and seed."""

    methods: tuple[str, ...] = param(("GRPO", "DAPO", "MT-GRPO"), choices=tuple(METHODS),
                                     doc="methods compared")
    seeds: tuple[int, ...] = param((20, 21, 22), ge=0, doc="seeds (paired across methods)")

    def runs(self) -> list[ToyRun]:
        shared = {f: getattr(self, f) for f in _ToyShared.__dataclass_fields__}
        return [ToyRun(method=m, seed=s, **shared) for s in self.seeds for m in self.methods]


def _policy(run: ToyRun, tasks: ToyTaskSet) -> CausalLMPolicy:
    torch.manual_seed(derive_seed(run.seed, "toy-init"))
    model = GPT(GPTConfig(vocab_size=tasks.vocab_size,
                          context=tasks.prompt_len + tasks.max_new_tokens,
                          n_layer=run.n_layer, n_head=run.n_head, d_model=run.d_model))
    return CausalLMPolicy(model.to(resolve_device(run.device)), eos_id=tasks.eos_id,
                          pad_id=tasks.pad_id)


@lru_cache(maxsize=4)
def _warm_start(run: ToyRun) -> dict:
    """The warm-started weights of a seed (a pure function of the seed and the SFT settings;
    cached so the methods of one seed share the computation in one process)."""
    tasks = ToyTaskSet(run.tasks)
    policy = _policy(run, tasks)
    opt = torch.optim.AdamW(policy.parameters(), lr=run.sft_lr)
    rng = np.random.default_rng(derive_seed(run.seed, "toy-sft"))
    supervised_warm_start(policy, opt, tasks, num_steps=run.sft_steps,
                          batch_size=run.sft_batch_size, rng=rng)
    return {k: v.detach().clone() for k, v in policy.model.state_dict().items()}


def train_toy(run: ToyRun) -> dict:
    """Warm start, then ``rl_steps`` steps of the run's method; returns the per-step weights,
    realised ratios, rounds, batch sizes, and test accuracies every ``eval_every`` steps."""
    tasks = ToyTaskSet(run.tasks)
    policy = _policy(run, tasks)
    sft_key = ToyRun(**{f: getattr(run, f) for f in ("tasks", "n_layer", "n_head", "d_model",
                                                      "sft_steps", "sft_batch_size", "sft_lr",
                                                      "device", "seed")})
    policy.model.load_state_dict(_warm_start(sft_key))
    opt = torch.optim.AdamW(policy.parameters(), lr=run.lr, weight_decay=0.0)
    rng = np.random.default_rng(derive_seed(run.seed, "toy-rl", run.method))
    gen = torch.Generator().manual_seed(derive_seed(run.seed, "toy-rollouts", run.method))
    method, settings, state = run.method_spec(), run.settings(), init_state(tasks.num_tasks)

    def test_acc():
        return evaluate(policy, tasks, num_prompts=run.eval_prompts,
                        num_samples=run.eval_samples, seed=derive_seed(run.seed, "toy-test"))
    evals = {0: test_acc()}
    for step in range(run.rl_steps):
        train_step(policy, opt, tasks, method, settings, state, rng, gen)
        if (step + 1) % run.eval_every == 0 or step + 1 == run.rl_steps:
            evals[step + 1] = test_acc()
    h = state.history
    return {"tasks": list(tasks.names),
            "z": np.array([x["z"] for x in h]), "ratio": np.array([x["ratio"] for x in h]),
            "rounds": np.array([x["rounds"] for x in h]),
            "groups": np.array([x["groups"] for x in h]),
            "drawn_accuracy": np.array([x["drawn_accuracy"] for x in h]),
            "eval_steps": list(evals), "test_acc": np.array(list(evals.values())),
            "final_z": state.weights.z}


def toy_sweep(cfg: ToyConfig, *, store_dir, executor="debug", resume: bool = False,
              progress: bool = False) -> tuple[list[dict], SweepResult]:
    """Every (seed, method) run of ``cfg`` through :func:`common.experiment.sweep`; one record
    per run (method, seed and :func:`train_toy`'s output as arrays)."""
    runs = cfg.runs()
    result = sweep(train_toy, runs, store_dir=store_dir, executor=executor, resume=resume,
                   progress=progress, desc="toy MT-GRPO").raise_for_failures()
    records = []
    for run, out in zip(runs, result.results()):
        rec = {"method": run.method, "seed": run.seed}
        rec.update({k: (np.asarray(v) if isinstance(v, list) and k != "tasks" else v)
                    for k, v in out.items()})
        records.append(rec)
    return records, result


def summarise_toy(records: list[dict], hard: int = -1):
    """One row per run: final per-task, worst-task and average test accuracy, the hard task's
    mean weight, the bias of the realised batch ratios ``max_k |mean_t (ratio_t - z_t)_k|``,
    the mean rounds and batch size (a pandas DataFrame)."""
    import pandas as pd

    from common.metrics import average_accuracy, worst_task_accuracy

    rows = []
    for r in records:
        final = np.asarray(r["test_acc"])[-1]
        z, ratio = np.asarray(r["z"]), np.asarray(r["ratio"])
        row = {"method": r["method"], "seed": r["seed"]}
        row.update({f"acc {t}": a for t, a in zip(r["tasks"], final)})
        row.update({"worst": worst_task_accuracy(final), "average": average_accuracy(final),
                    "z hard (mean)": float(z[:, hard].mean()),
                    "ratio bias": float(np.abs((ratio - z).mean(0)).max()),
                    "rounds": float(np.mean(r["rounds"])), "groups": float(np.mean(r["groups"]))})
        rows.append(row)
    return pd.DataFrame(rows)


def plot_weights(ax, z: np.ndarray, names, *, title: str) -> None:
    """Task weights along training (one line per task)."""
    for k, name in enumerate(names):
        ax.plot(np.arange(len(z)), z[:, k], label=name, color=plotting.color(name))
    ax.set_xlabel("update")
    ax.set_ylabel("task weight z")
    ax.set_ylim(0, 1)
    ax.set_title(title)


# ---------------------------------------------------------------------------------------------
# Notebook 03: the Exp 1 configuration (paper scale)
# ---------------------------------------------------------------------------------------------

#: Exp 1 of the paper (§6, App. E) and its official script ``scripts/exp-1/main/
#: run_mt-grpo_0.2.sh``: (setting, value, where it is stated).
EXP1: tuple[tuple[str, str, str], ...] = (
    ("policy", "Qwen2.5-3B (base)", "§6"),
    ("tasks", "Countdown, Zebra, ARC (medium: '2-countdown', '2-zebra', '2-arc')", "§6; script"),
    ("steps", "720", "§6; script"),
    ("prompts per step B", "32", "App. E; data.train_batch_size"),
    ("rollouts per prompt G", "72", "App. E; rollout.n"),
    ("minibatch (prompts)", "8 (4 optimiser steps per step)", "ppo_mini_batch_size"),
    ("policy optimiser", "AdamW, lr 1e-6, betas (0.9, 0.99)", "App. E; actor.optim.lr"),
    ("clip eps_low / eps_high", "0.2 / 0.28", "App. B; clip_ratio_high"),
    ("KL coefficient", "0 (low_var_kl)", "kl_loss_coef"),
    ("entropy coefficient", "0", "entropy_coeff"),
    ("loss aggregation", "token mean", "verl default"),
    ("sampling", "temperature 1.0, max prompt 1024, max response 4096", "§6; script"),
    ("zero-advantage filter", "strict, x3 oversampling, up to 10 generation batches",
     "rejection_sample_multiplier; max_num_gen_batches"),
    ("ratio-preserving sampler", "on (AAS off in the released Exp 1 scripts)",
     "ensure_famo_ratio"),
    ("IWU", "lambda 0.2 or 0.25; logit Adam lr 0.025, coupled L2 1e-5; clip 0.1 x lr/1e-6",
     "Subroutine 1; sec.bandit.*"),
    ("task accuracy J_k", "EMA (0.5) of batch accuracy", "batch_acc_decay_rate"),
    ("evaluation", "every 10 steps, 8 samples at T = 1.0, 200 test prompts per task",
     "§6; n_val, test_freq"),
    ("hardware", "2 x H200, about 80-145 h", "§6; Table 1"),
)

_VERL_OVERRIDES: tuple[str, ...] = (
    "algorithm.adv_estimator=grpo",
    'data.train_files="[data/combined/train_countdown.parquet,data/combined/train_zebra.parquet,'
    'data/combined/train_arc.parquet]"',
    'data.val_files="[data/combined/test_countdown.parquet,data/combined/test_zebra.parquet,'
    'data/combined/test_arc.parquet]"',
    "trainer.sec.bandit.type=joint", 'trainer.sec.bandit.feature="[difficulty,type]"',
    "data.train_batch_size=32", "data.val_batch_size=256", "data.max_prompt_length=1024",
    "data.max_response_length=4096", "actor_rollout_ref.model.path=Qwen/Qwen2.5-3B",
    "actor_rollout_ref.actor.optim.lr=1e-6", "actor_rollout_ref.model.use_remove_padding=True",
    "actor_rollout_ref.actor.ppo_mini_batch_size=8",
    "actor_rollout_ref.actor.ppo_micro_batch_size=8",
    "actor_rollout_ref.actor.use_dynamic_bsz=True",
    "actor_rollout_ref.actor.ppo_max_token_len_per_gpu=65536",
    "actor_rollout_ref.actor.use_kl_loss=True", "actor_rollout_ref.actor.kl_loss_coef=0.000",
    "actor_rollout_ref.actor.kl_loss_type=low_var_kl",
    "actor_rollout_ref.actor.ulysses_sequence_parallel_size=1",
    "actor_rollout_ref.model.enable_gradient_checkpointing=True",
    "actor_rollout_ref.actor.fsdp_config.param_offload=False",
    "actor_rollout_ref.actor.fsdp_config.grad_offload=False",
    "actor_rollout_ref.actor.fsdp_config.optimizer_offload=False",
    "actor_rollout_ref.rollout.tensor_model_parallel_size=1",
    "actor_rollout_ref.rollout.name=vllm", "actor_rollout_ref.rollout.temperature=1.0",
    "actor_rollout_ref.rollout.val_temperature=1.0",
    "actor_rollout_ref.rollout.gpu_memory_utilization=0.7", "actor_rollout_ref.rollout.n=72",
    "actor_rollout_ref.rollout.n_val=8", "actor_rollout_ref.ref.fsdp_config.param_offload=True",
    "algorithm.kl_ctrl.kl_coef=0.00", "actor_rollout_ref.actor.entropy_coeff=0.000",
    "trainer.critic_warmup=0", "trainer.logger=['wandb']", "trainer.project_name='mt-grpo'",
    "trainer.experiment_name=$exp_name", "trainer.val_before_train=False",
    "trainer.n_gpus_per_node=2", "trainer.nnodes=1", "trainer.test_freq=10",
    "trainer.default_hdfs_dir=null", "trainer.total_epochs=1",
    "trainer.total_training_steps=720", "actor_rollout_ref.actor.log_task_wise_kl=True",
    "trainer.famo.enable='decay'", "actor_rollout_ref.actor.famo.enable=True",
    "trainer.sec.strategy=bandit", "trainer.sec.enable=True", "trainer.sec.bandit.lr=0.025",
    "trainer.sec.bandit.gamma=1e-5", "trainer.sec.bandit.max_rate=False",
    "trainer.sec.bandit.ensure_famo_ratio=True",
    "trainer.sec.bandit.decay_type='soft_half_opt_conv_mask'",
    "trainer.sec.bandit.bias_metric='batch_acc'", "trainer.sec.bandit.fixed_p_each=0.0",
    "trainer.sec.bandit.decay_rate=0.5", "trainer.sec.bandit.opt_threshold=0.5",
    "trainer.sec.bandit.opt_decay_rate=0.5", "trainer.sec.bandit.solve_none_decay_rate=0.5",
    "trainer.sec.bandit.solve_all_decay_rate=0.5",
    "trainer.sec.bandit.batch_acc_decay_rate=0.5",
    "trainer.sec.bandit.SNR_update_step_threshold=0",
    "trainer.sec.bandit.update_object='task_diff_bias'",
    "trainer.sec.bandit.lambda_bias={lam}", "trainer.sec.bandit.lambda_bias_type='add'",
    "trainer.sec.bandit.groups_to_train=\"['2-countdown', '2-zebra', '2-arc']\"",
    "actor_rollout_ref.actor.clip_ratio_high=0.28", "trainer.rejection_sample=True",
    "trainer.rejection_sample_multiplier=3.0", "trainer.save_freq=180",
    "algorithm.filter_groups.max_num_gen_batches=10",
)


def verl_command(lam: float = 0.2) -> str:
    """The training command of the official ``run_mt-grpo_<lam>.sh`` (Exp 1) in the authors'
    verl fork (``rsshyam/MT-GRPO``), one override per line."""
    lines = ["python -m verl.trainer.main_ppo"] + [
        "    " + o.replace("{lam}", f"{lam:g}") for o in _VERL_OVERRIDES]
    return " \\\n".join(lines)


@dataclass(frozen=True)
class PaperScaleConfig(Config):
    """Settings of ``03_paper_config``: the TRL / Hugging Face path (cpu: a tiny random model
    built locally and synthetic SEC-format rows; paper: Qwen2.5-3B and the official data)."""

    model_id: str = param("tiny-random", doc="'tiny-random' or a model in the local HF cache")
    data_files: tuple[str, ...] = param((), doc="verl parquet files (empty: synthetic rows)")
    groups: tuple[str, ...] = param(("2-countdown", "2-zebra", "2-arc"), doc="tasks")
    lam: float = param(0.2, ge=0, doc="IWU lambda")
    steps: int = param(2, ge=0, doc="MT-GRPO steps to run")
    group_size: int = param(4, ge=2, doc="rollouts per prompt G")
    prompts_per_step: int = param(3, ge=1, doc="prompt groups per step B")
    num_minibatches: int = param(1, ge=1, doc="optimiser steps per step")
    micro_batch_size: int = param(4, ge=1, doc="sequences per forward/backward")
    max_new_tokens: int = param(12, ge=1, doc="response budget")
    max_rounds: int = param(2, ge=1, doc="generation batches per step")
    filter: str = param("strict", choices=("strict", "lenient", "none"),
                        doc="zero-advantage filter (cpu: none, the random model earns no reward)")
    device: str = param("cpu", choices=DEVICE_CHOICES, doc="torch device ('auto': CUDA if any)")
    seed: int = param(0, ge=0, doc="seed")


def synthetic_sec_rows(n: int, seed: int):
    """SEC-format rows (the verl parquet schema) of tiny Countdown / Zebra / ARC-like problems,
    for running the paper-scale code path without the official data (a pandas DataFrame)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    head = ("A conversation between User and Assistant. Return the final answer in \\boxed{}.\n"
            "User: ")
    tail = "\nAssistant: Let me solve this step by step."
    rows = []
    for _ in range(n):
        a, b, c = (int(x) for x in rng.integers(1, 10, size=3))
        rows.append({"prompt": [{"role": "user", "content": f"{head}Use {a}, {b}, {c} to make "
                                 f"{a * b + c}.{tail}"}],
                     "reward_model": {"ground_truth": {"numbers": f"{a},{b},{c}",
                                                       "target": a * b + c}},
                     "extra_info": {"difficulty": 2, "type": "countdown"}})
        name = ["alice", "bob", "carol"][int(rng.integers(3))]
        rows.append({"prompt": [{"role": "user", "content": f"{head}{name.title()} lives in "
                                 f"house 1. Who lives in house 1?{tail}"}],
                     "reward_model": {"ground_truth": {"target": name}},
                     "extra_info": {"difficulty": 2, "type": "zebra"}})
        grid = " ".join(str(int(x)) for x in rng.integers(0, 10, size=4))
        rows.append({"prompt": [{"role": "user", "content": f"{head}Copy the grid: {grid}{tail}"}],
                     "reward_model": {"ground_truth": {"target": grid}},
                     "extra_info": {"difficulty": 2, "type": "arc"}})
    return pd.DataFrame(rows)


def trl_loss_check(model, tokenizer, output_dir, *, seed: int = 0) -> dict:
    """Our clipped token loss and TRL's ``GRPOTrainer._compute_loss`` on one random batch of the
    model (unpadded prompts, so both use the same positions; KL off, as in the paper)."""
    from datasets import Dataset
    from trl import GRPOTrainer

    from common.rl import clipped_token_loss
    from common.rl.hf import HFPolicy, paper_grpo_config

    cfg = paper_grpo_config(output_dir, num_generations=4, prompts_per_step=2,
                            num_minibatches=1, per_device_train_batch_size=4,
                            max_completion_length=8, use_cpu=not torch.cuda.is_available(),
                            bf16=False)
    with warnings.catch_warnings():  # transformers' deprecation of a field TRL sets
        warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")
        trainer = GRPOTrainer(model=model, reward_funcs=[lambda completions, **kw: [0.0] *
                                                         len(completions)],
                              args=cfg,
                              train_dataset=Dataset.from_dict({"prompt": ["1+2="] * 2}),
                              processing_class=tokenizer)
    g = torch.Generator().manual_seed(seed)
    B, P, T = 6, 5, 7
    vocab = min(len(tokenizer), 1000)
    dev = next(model.parameters()).device
    prompt_ids = torch.randint(3, vocab, (B, P), generator=g).to(dev)
    completion_ids = torch.randint(3, vocab, (B, T), generator=g).to(dev)
    mask = (torch.arange(T)[None] < torch.tensor([7, 3, 5, 1, 7, 6])[:, None]).long().to(dev)
    policy = HFPolicy(model, eos_id=tokenizer.eos_token_id, pad_id=tokenizer.pad_token_id)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logp = policy.token_logprobs(prompt_ids, completion_ids)
        old = logp + 0.3 * torch.randn(B, T, generator=g).to(dev)
        adv = torch.randn(B, generator=g).to(dev)
        inputs = dict(prompt_ids=prompt_ids, prompt_mask=torch.ones_like(prompt_ids),
                      completion_ids=completion_ids, completion_mask=mask, advantages=adv,
                      old_per_token_logps=old, num_items_in_batch=mask.sum())
        theirs = float(trainer._compute_loss(model, inputs))
        ours, info = clipped_token_loss(logp, old, adv, mask, eps_low=cfg.epsilon,
                                        eps_high=cfg.epsilon_high)
    model.train(was_training)
    return {"ours": float(ours), "trl": theirs, "clip_frac": float(info["clip_frac"]),
            "config": cfg}


def paper_scale_model(cfg: PaperScaleConfig, folder):
    """``(model, tokenizer)``: the tiny random model written to ``folder`` (cpu scale) or
    ``cfg.model_id`` from the local Hugging Face cache (a clear error when absent)."""
    from common.rl.hf import load_causal_lm, save_tiny_random_lm

    device = resolve_device(cfg.device)
    if cfg.model_id == "tiny-random":
        return load_causal_lm(str(save_tiny_random_lm(folder, seed=cfg.seed)), device=device)
    return load_causal_lm(cfg.model_id, device=device,
                          dtype=torch.bfloat16 if device.type == "cuda" else None)


def paper_scale_train(cfg: PaperScaleConfig, model, tokenizer) -> list[dict]:
    """``cfg.steps`` MT-GRPO steps with :func:`common.rl.train_step` on the SEC tasks."""
    from common.rl.hf import HFPolicy, SECTaskSet

    rows = synthetic_sec_rows(8, cfg.seed) if not cfg.data_files else None
    kw = dict(max_new_tokens=cfg.max_new_tokens)
    tasks = (SECTaskSet(rows, cfg.groups, tokenizer, **kw) if rows is not None else
             SECTaskSet.from_parquet(cfg.data_files, cfg.groups, tokenizer, **kw))
    policy = HFPolicy(model, eos_id=tasks.eos_id, pad_id=tasks.pad_id)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-6, betas=(0.9, 0.99), weight_decay=0.0)
    method = get_method("MT-GRPO", max_rounds=cfg.max_rounds, filter=cfg.filter,
                        iwu=IWUSettings(lam=cfg.lam, improvement_clip=0.1))
    settings = GRPOSettings(group_size=cfg.group_size, batch_size=cfg.prompts_per_step,
                            num_minibatches=cfg.num_minibatches,
                            micro_batch_size=cfg.micro_batch_size)
    state = init_state(tasks.num_tasks)
    rng = np.random.default_rng(derive_seed(cfg.seed, "paper-scale"))
    gen = torch.Generator().manual_seed(derive_seed(cfg.seed, "paper-scale-rollouts"))
    return [train_step(policy, opt, tasks, method, settings, state, rng, gen)
            for _ in range(cfg.steps)]
