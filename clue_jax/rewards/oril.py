"""ORIL as a labeller: a state-only discriminator's logit is the reward (SMODICE's ORIL).

Faithful to JasonMa2016/SMODICE (oril_pytorch.py, discriminator_pytorch.py;
../shared/reference/baselines.md §4-5):

    D(s) = sigmoid(f(s)),  f: d -> 256 tanh -> 256 tanh -> 1 (PyTorch default init)
    L = BCE(f(s_E), 1) + BCE(f(s_O), 0) + 10 * E[(||grad_x f(x^)||_2 - 1)^2],
        x^ = u s_E + (1 - u) s_O,  u ~ U(0, 1) per row
    r(s) = f(s) = log D(s) - log(1 - D(s))     (no scaling, no clipping)

States are standardised with the mean and std (+ 1e-10) of dataset and expert
states together. With `absorbing` (the code's MuJoCo default), the discriminator's
input carries the absorbing indicator: real states (x, 0), the absorbing state
(0, ..., 0, 1); where the learner's data hold absorbing rows (SMODICE, ORIL's
learner), they are among the negatives and their reward is the discriminator's
logit, as in the code. Without it, the discriminator sees real states only and
absorbing rows get reward 0. As in SMODICE's code, the first layer keeps its random init
(its optimizer holds only the later layers; `train_first_layer=False`).
Adam 3e-4, batch 256; `iterations` passes over the expert data (1000), each
ceil(expert rows / batch) steps, batches drawn uniformly with replacement (the
code's shuffled loaders; the difference is the sampling, not the objective).
The discriminator is the one SMODICE shares (its rewards are this labeller's):
`clue_jax.agents.imitation.discriminator_loss` and `networks.Discriminator`.
"""

import functools
import math
from pathlib import Path
from typing import Dict, Tuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training.train_state import TrainState

from clue_jax import networks, rules
from clue_jax.agents.imitation import discriminator_loss
from clue_jax.data.dataset import real_rows
from clue_jax.rewards import storage
from clue_jax.rewards.base import REWARD_FILE, LabelRequest, Labels, saved_rewards
from clue_jax.rewards.processing import REWARD_RULES, postprocess_rewards
from clue_jax.types import InfoDict, Params, PRNGKey

FIRST_LAYER = ("MLP_0", "TorchDense_0")
# SMODICE's `--state False` path cannot run: it trains the discriminator on states only
# (disc_cutoff = state_dim) while Discriminator_SA then sizes its state trunk for
# state + action features (128 wide into a 256-wide layer), a shape error at the first
# update; so there is no reference (s, a) ORIL to match.
NO_SA_REFERENCE = ("True (SMODICE's ORIL code has no working (s, a) discriminator: its "
                   "`--state False` path trains on states only and feeds 128 state features "
                   "into a 256-wide layer, so there is no reference to match)")
CONFIG_RULES = {**REWARD_RULES, "state_only": (lambda v: v is True, NO_SA_REFERENCE),
                "learning_rate": rules.positive(), "batch_size": rules.positive(),
                "iterations": rules.positive(), "gp_weight": rules.non_negative(),
                "normalize_eps": rules.non_negative(), "hidden_dims": rules.sizes(),
                "train_first_layer": rules.boolean(), "absorbing": rules.boolean()}


def _freeze_first_layer(grads: Params) -> Params:
    outer, inner = FIRST_LAYER
    frozen = jax.tree_util.tree_map(jnp.zeros_like, grads[outer][inner])
    return {**grads, outer: {**grads[outer], inner: frozen}}


@functools.partial(jax.jit, static_argnames=("num_steps", "batch_size", "gp_weight",
                                             "train_first_layer"))
def train_discriminator(state: TrainState, expert_x: jax.Array, offline_x: jax.Array,
                        key: PRNGKey, *, num_steps: int, batch_size: int, gp_weight: float,
                        train_first_layer: bool) -> Tuple[TrainState, InfoDict]:
    """`num_steps` Adam steps in one lax.scan; returns the state and the last step's info."""

    def body(state, key):
        ke, ko, ku = jax.random.split(key, 3)
        e = expert_x[jax.random.randint(ke, (batch_size,), 0, expert_x.shape[0])]
        o = offline_x[jax.random.randint(ko, (batch_size,), 0, offline_x.shape[0])]
        u = jax.random.uniform(ku, (batch_size, 1))
        grads, info = jax.grad(discriminator_loss, has_aux=True)(state.params, state.apply_fn,
                                                                 e, o, u, gp_weight)
        if not train_first_layer:
            grads = _freeze_first_layer(grads)
        return state.apply_gradients(grads=grads), info

    state, infos = jax.lax.scan(body, state, jax.random.split(key, num_steps))
    return state, jax.tree_util.tree_map(lambda x: x[-1], infos)


def standardize(dataset_obs: np.ndarray, expert_obs: np.ndarray, eps: float
                ) -> Tuple[np.ndarray, np.ndarray]:
    """Mean and std + eps of dataset and expert states together, float32 (d,)."""
    both = np.concatenate([dataset_obs, expert_obs]).astype(np.float64)
    return both.mean(0).astype(np.float32), (both.std(0) + eps).astype(np.float32)


def discriminator_inputs(observations: np.ndarray, mean: np.ndarray, std: np.ndarray,
                         data_absorbing: bool, indicator: bool) -> np.ndarray:
    """Standardised discriminator inputs, one per row in order: real states (x - mean) / std,
    with a 0 indicator when `indicator`; absorbing rows (present when `data_absorbing`: the
    last column is their indicator) as (0, ..., 0, 1) (or zeros without `indicator`, unused)."""
    observations = np.asarray(observations, np.float32)
    real = real_rows(observations) if data_absorbing else np.ones(len(observations), bool)
    states = observations[:, :-1] if data_absorbing else observations
    x = np.zeros((len(observations), states.shape[1] + (1 if indicator else 0)), np.float32)
    x[real, :states.shape[1]] = (states[real] - mean) / std
    if indicator:
        x[~real, -1] = 1.0
    return x


def oril_rewards(dataset_obs: np.ndarray, expert_obs: np.ndarray, config, seed: int,
                 data_absorbing: bool = False) -> Tuple[np.ndarray, Dict[str, float]]:
    """Train the discriminator and return r(s) = logit for every dataset row, (N,) float32.

    `data_absorbing`: the observations end in an absorbing indicator (absorbing rows are
    among them, `dataset.add_absorbing_states`)."""
    real_o = real_rows(dataset_obs) if data_absorbing else np.ones(len(dataset_obs), bool)
    real_e = real_rows(expert_obs) if data_absorbing else np.ones(len(expert_obs), bool)
    strip = (lambda x: x[:, :-1]) if data_absorbing else (lambda x: x)  # noqa: E731
    mean, std = standardize(strip(dataset_obs)[real_o], strip(expert_obs)[real_e],
                            config.normalize_eps)
    indicator = bool(config.absorbing)
    x_o = discriminator_inputs(dataset_obs, mean, std, data_absorbing, indicator)
    x_e = discriminator_inputs(expert_obs, mean, std, data_absorbing, indicator)
    if not indicator:  # the discriminator sees real states only
        x_o, x_e = x_o[real_o], x_e[real_e]
    x_o, x_e = jnp.asarray(x_o), jnp.asarray(x_e)
    module = networks.Discriminator(tuple(config.hidden_dims))
    init_key, train_key = jax.random.split(jax.random.PRNGKey(seed))
    state = TrainState.create(apply_fn=module.apply, tx=optax.adam(config.learning_rate),
                              params=module.init(init_key, x_o[:1])["params"])
    steps = int(config.iterations) * math.ceil(expert_obs.shape[0] / config.batch_size)
    state, info = train_discriminator(state, x_e, x_o, train_key, num_steps=steps,
                                      batch_size=int(config.batch_size),
                                      gp_weight=float(config.gp_weight),
                                      train_first_layer=bool(config.train_first_layer))
    logits = jax.jit(lambda p, x: module.apply({"params": p}, x))
    chunk = 65536
    scored = np.concatenate([np.asarray(logits(state.params, x_o[i:i + chunk]))
                             for i in range(0, x_o.shape[0], chunk)]).astype(np.float32)
    rewards = np.zeros(len(dataset_obs), np.float32)
    if indicator:
        rewards[:] = scored
    else:
        rewards[real_o] = scored
    out = {k: float(v) for k, v in jax.device_get(info).items()}
    out.update(discriminator_steps=steps, raw_reward_mean=float(rewards.mean()),
               raw_reward_min=float(rewards.min()), raw_reward_max=float(rewards.max()))
    if data_absorbing and (~real_o).any():
        out["absorbing_reward"] = float(rewards[~real_o][0])
    return rewards, out


def label(request: LabelRequest) -> Labels:
    """The ORIL labeller (state-only discriminator logit; rewards saved, reused on resume)."""
    restored = saved_rewards(request)
    if restored is not None:
        return restored
    cfg, data = request.config, request.dataset
    problems = rules.problems(cfg, CONFIG_RULES)
    if problems:
        raise ValueError(f"oril config {problems[0]}.")
    raw, info = oril_rewards(data.observations, request.expert.observations, cfg, request.seed,
                             data_absorbing=request.absorbing)
    rewards = postprocess_rewards(raw, data.dones_float, cfg.reward_scaling, cfg.reward_shift)
    info["reward_mean"] = float(rewards.mean())
    storage.save_rewards(Path(request.run_dir) / REWARD_FILE, rewards, data, metadata=info)
    return Labels(rewards, info)
