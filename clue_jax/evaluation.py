"""Vectorized deterministic evaluation: raw return, normalized score, success rate.

`evaluate` runs all episodes at once: E envs (env i reset with seed + i) step
together and the policy is called once per step on the (E, obs_dim) array of
every env's current observation. Envs whose episode has ended keep their last
observation in that array and their actions are ignored.
"""

from typing import Callable, Dict, List, Optional, Sequence, Tuple

import gymnasium
import numpy as np

from clue_jax.envs.registry import get_spec, make_env, normalized_score

PolicyFn = Callable[[np.ndarray], np.ndarray]


def _check_actions(actions: np.ndarray, num_envs: int, act_dim: int) -> np.ndarray:
    actions = np.asarray(actions, dtype=np.float32)
    if actions.shape != (num_envs, act_dim):
        raise ValueError(f"policy_fn returned actions of shape {actions.shape}; expected "
                         f"({num_envs}, {act_dim}): one action per env for the whole "
                         "(num_episodes, obs_dim) batch it was given.")
    return np.clip(actions, -1.0, 1.0)


def run_episodes(policy_fn: PolicyFn, envs: List[gymnasium.Env], seeds: List[int],
                 act_dim: int, record: bool = False) -> Dict[str, np.ndarray]:
    """Run one episode in each env, all stepped together.

    Args:
        policy_fn: (E, obs_dim) float32 -> (E, act_dim) deterministic actions.
        envs: E envs with a time limit; env i is reset with seeds[i].
        seeds: E reset seeds.
        act_dim: action size, to check the policy's output.
        record: also return 'observations', a list of E arrays (T_i + 1, obs_dim).

    Returns:
        returns (E,) float64, lengths (E,) int64, successes (E,) bool: an
        episode succeeds when any step's info['success'] is true, or, for envs
        that report no 'success', when it ends by termination; final_observations
        (E, obs_dim) float32, each episode's last observation.
    """
    num_envs = len(envs)
    obs = np.stack([env.reset(seed=s)[0] for env, s in zip(envs, seeds)]).astype(np.float32)
    returns = np.zeros(num_envs)
    lengths = np.zeros(num_envs, dtype=np.int64)
    successes = np.zeros(num_envs, dtype=bool)
    running = np.ones(num_envs, dtype=bool)
    paths = [[o.copy()] for o in obs] if record else None
    while running.any():
        actions = _check_actions(policy_fn(obs), num_envs, act_dim)
        for i in np.flatnonzero(running):
            next_obs, reward, terminated, truncated, info = envs[i].step(actions[i])
            obs[i] = next_obs
            if record:
                paths[i].append(obs[i].copy())
            returns[i] += reward
            lengths[i] += 1
            successes[i] |= bool(info.get("success", terminated))
            running[i] = not (terminated or truncated)
    out = {"returns": returns, "lengths": lengths, "successes": successes,
           "final_observations": obs.copy()}
    if record:
        out["observations"] = [np.asarray(p) for p in paths]
    return out


def episode_stats(policy_fn: PolicyFn, env_name: str, num_episodes: int, seed: int,
                  max_steps: Optional[int] = None) -> Dict[str, np.ndarray]:
    """`run_episodes` on `num_episodes` fresh envs of `env_name`, env i reset with seed + i.

    Needs no reference scores (raw returns, lengths, successes), so it also
    measures the returns that define them. The envs are closed afterwards.
    """
    return grouped_episode_stats(policy_fn, env_name, num_episodes, [seed], max_steps)[0]


def grouped_episode_stats(policy_fn: PolicyFn, env_name: str, num_episodes: int,
                          seeds: Sequence[int], max_steps: Optional[int] = None
                          ) -> List[Dict[str, np.ndarray]]:
    """`episode_stats` for several groups (e.g. seeds of a vmapped run) stepped together.

    Group g has `num_episodes` envs, env i reset with seeds[g] + i, exactly as a
    separate `episode_stats(..., seed=seeds[g])`; all G * E envs step together and
    `policy_fn` gets the (G * E, obs_dim) array, group g in rows g * E to (g + 1) * E.
    Returns one dict per group.
    """
    if num_episodes < 1:
        raise ValueError(f"num_episodes: got {num_episodes}, expected at least 1.")
    spec = get_spec(env_name)
    reset_seeds = [int(seed) + i for seed in seeds for i in range(num_episodes)]
    envs = [make_env(env_name, s, max_episode_steps=max_steps) for s in reset_seeds]
    try:
        out = run_episodes(policy_fn, envs, reset_seeds, spec.act_dim)
    finally:
        for env in envs:
            env.close()
    return [{k: v[g * num_episodes:(g + 1) * num_episodes] for k, v in out.items()}
            for g in range(len(seeds))]


def eval_seed(run_seed: int, step: int) -> int:
    """The reset seed of a run's evaluation at `step`: a new start-state draw per evaluation
    (the reference keeps one env whose RNG runs on), reproducible per run seed and step
    (so a resumed run evaluates as an uninterrupted one). Env i is reset with it + i."""
    return int(np.random.SeedSequence([int(run_seed), int(step)]).generate_state(1)[0] >> 1)


def evaluate(policy_fn: PolicyFn, env_name: str, num_episodes: int, seed: int,
             max_steps: Optional[int] = None) -> Dict[str, float]:
    """The metrics of `evaluate_episodes` (see there)."""
    return evaluate_episodes(policy_fn, env_name, num_episodes, seed, max_steps)[0]


def evaluate_episodes(policy_fn: PolicyFn, env_name: str, num_episodes: int, seed: int,
                      max_steps: Optional[int] = None
                      ) -> Tuple[Dict[str, float], Dict[str, np.ndarray]]:
    """Evaluate a deterministic policy on `num_episodes` episodes of `env_name`.

    Args:
        policy_fn: (num_episodes, obs_dim) float32 -> (num_episodes, act_dim);
            called once per step for all envs; actions are clipped to [-1, 1].
        env_name: a registered name (see clue_jax.envs.registry.list_envs()).
        num_episodes: number of envs run in parallel, one episode each.
        seed: env i is reset with seed + i.
        max_steps: episode length; default the spec's max_episode_steps.

    Returns:
        metrics: 'return' (mean raw return), 'return_std', 'normalized_score'
            (D4RL x100, mean), 'length' (mean steps), and 'success_rate' for
            success-based envs;
        episodes: the per-episode arrays of `run_episodes` (returns, lengths,
            successes, final_observations).
    """
    return evaluate_groups(policy_fn, env_name, num_episodes, [seed], max_steps)[0]


def evaluate_groups(policy_fn: PolicyFn, env_name: str, num_episodes: int,
                    seeds: Sequence[int], max_steps: Optional[int] = None
                    ) -> List[Tuple[Dict[str, float], Dict[str, np.ndarray]]]:
    """`evaluate_episodes` for several groups stepped together (see grouped_episode_stats):
    one (metrics, episodes) per group, each equal to a separate evaluation with seeds[g]."""
    spec = get_spec(env_name)
    results = []
    for out in grouped_episode_stats(policy_fn, env_name, num_episodes, seeds, max_steps):
        result = {
            "return": float(out["returns"].mean()),
            "return_std": float(out["returns"].std()),
            "normalized_score": float(np.mean(normalized_score(env_name, out["returns"]))),
            "length": float(out["lengths"].mean()),
        }
        if spec.success_based:
            result["success_rate"] = float(out["successes"].mean())
        results.append((result, out))
    return results
