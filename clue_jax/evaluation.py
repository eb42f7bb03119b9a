"""Vectorized deterministic evaluation: raw return, normalized score, success rate.

`evaluate` runs all episodes at once: E envs (env i reset with seed + i) step
together and the policy is called once per step on the (E, obs_dim) array of
every env's current observation. Envs whose episode has ended keep their last
observation in that array and their actions are ignored. The envs step through
`clue_jax.envs.batched.BatchStepper` (MuJoCo on host threads, the rest vectorized;
the same episodes as each env's own `step`). A training run keeps one `Evaluator`
(its envs made once) for all its evaluations.
"""

import functools
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np

from clue_jax import interrupts
from clue_jax.envs.batched import BatchStepper
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
    """Run one episode in each env, all stepped together (`BatchStepper` over `envs`).

    Args:
        policy_fn: (E, obs_dim) float32 -> (E, act_dim) deterministic actions.
        envs: E envs with a time limit (from `registry.make_env`); env i is reset with seeds[i].
        seeds: E reset seeds.
        act_dim: action size, to check the policy's output.
        record: also return 'observations', a list of E arrays (T_i + 1, obs_dim).

    Returns:
        returns (E,) float64, lengths (E,) int64, successes (E,) bool: an
        episode succeeds when any step's info['success'] is true, or, for envs
        that report no 'success', when it ends by termination; final_observations
        (E, obs_dim) float32, each episode's last observation.
    """
    stepper = BatchStepper(envs)
    try:
        return stepper_episodes(policy_fn, stepper, seeds, act_dim, record)
    finally:
        stepper.close(envs=False)


def stepper_episodes(policy_fn: PolicyFn, stepper: BatchStepper, seeds: Sequence[int],
                     act_dim: int, record: bool = False) -> Dict[str, np.ndarray]:
    """`run_episodes` on the envs of `stepper` (one per seed)."""
    num_envs = len(seeds)
    if num_envs != len(stepper.envs):
        raise ValueError(f"{num_envs} reset seeds for {len(stepper.envs)} envs; expected one "
                         "seed per env.")
    obs = np.stack([stepper.reset(i, int(s)) for i, s in enumerate(seeds)])
    returns = np.zeros(num_envs)
    lengths = np.zeros(num_envs, dtype=np.int64)
    successes = np.zeros(num_envs, dtype=bool)
    running = np.ones(num_envs, dtype=bool)
    paths = [[o.copy()] for o in obs] if record else None
    while running.any():
        interrupts.check()
        actions = _check_actions(policy_fn(obs), num_envs, act_dim)
        rows = np.flatnonzero(running)
        out = stepper.step(actions[rows], rows)
        obs[rows] = out.observations
        returns[rows] += out.rewards
        lengths[rows] += 1
        successes[rows] |= out.success
        running[rows] = ~(out.terminated | out.truncated)
        if record:
            for i in rows:
                paths[i].append(obs[i].copy())
    out = {"returns": returns, "lengths": lengths, "successes": successes,
           "final_observations": obs.copy()}
    if record:
        out["observations"] = [np.asarray(p) for p in paths]
    return out


BACKENDS = ("host", "reference", "device")


class JaxPolicy:
    """A deterministic policy as a pure JAX function `fn(params, obs (N, obs_dim)) ->
    actions (N, act_dim)` and its parameters. Called on a NumPy batch it is a PolicyFn (one
    jitted call); the device backend calls `fn` inside its own program. Keep `fn` one
    object across evaluations (e.g. cached per learner) so nothing is compiled twice."""

    def __init__(self, fn: Callable, params: Any):
        self.fn, self.params = fn, params

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return np.asarray(_jitted(self.fn)(self.params, jnp.asarray(obs, jnp.float32)))


@functools.lru_cache(maxsize=None)
def _jitted(fn: Callable) -> Callable:
    return jax.jit(fn)


class Evaluator:
    """The envs of one run's evaluations, made once and reset for every evaluation.

    Args:
        env_name: a registered name.
        num_envs: envs in all (groups x episodes per group).
        max_steps: episode length; default the spec's max_episode_steps.
        backend: 'host' (default): MuJoCo steps on host threads, observations, rewards
            and terminations vectorized (clue_jax.envs.batched); envs without a batched
            kernel step through their own `step`. 'reference': every env through its own
            `step` and wrappers (what the evaluator did before; the same episodes).
            'device': whole episodes as one JAX program with MuJoCo XLA (locomotion only,
            needs a `JaxPolicy`; float32 physics, so not the host's episodes:
            clue_jax.envs.mjx_backend).
        threads: worker threads of the host backend (default: the usable cores).
    """

    def __init__(self, env_name: str, num_envs: int, max_steps: Optional[int] = None,
                 backend: str = "host", threads: Optional[int] = None):
        if backend not in BACKENDS:
            raise ValueError(f"eval backend: got {backend!r}, expected one of {BACKENDS}.")
        if num_envs < 1:
            raise ValueError(f"num_envs: got {num_envs}, expected at least 1.")
        self.env_name, self.num_envs, self.max_steps = env_name, num_envs, max_steps
        self.spec = get_spec(env_name)
        envs = [make_env(env_name, i, max_episode_steps=max_steps) for i in range(num_envs)]
        self.stepper = BatchStepper(envs, threads=threads, reference=backend == "reference")
        self.device = None
        if backend == "device":
            from clue_jax.envs import mjx_backend  # lazy: needs mujoco-mjx
            self.device = mjx_backend.DeviceEpisodes(self.stepper)

    def run(self, policy_fn: PolicyFn, seeds: Sequence[int], record: bool = False
            ) -> Dict[str, np.ndarray]:
        """One episode per env, env i reset with seeds[i] (see `run_episodes`)."""
        if self.device is None:
            return stepper_episodes(policy_fn, self.stepper, seeds, self.spec.act_dim, record)
        if record or not isinstance(policy_fn, JaxPolicy):
            raise ValueError("the device backend runs a JaxPolicy and records no paths; use "
                             "backend='host' for a NumPy policy or recorded observations.")
        if len(seeds) != self.num_envs:
            raise ValueError(f"{len(seeds)} reset seeds for {self.num_envs} envs.")
        return self.device.run(policy_fn, seeds)

    def close(self) -> None:
        self.stepper.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def episode_stats(policy_fn: PolicyFn, env_name: str, num_episodes: int, seed: int,
                  max_steps: Optional[int] = None) -> Dict[str, np.ndarray]:
    """`run_episodes` on `num_episodes` envs of `env_name`, env i reset with seed + i.

    Needs no reference scores (raw returns, lengths, successes), so it also
    measures the returns that define them.
    """
    return grouped_episode_stats(policy_fn, env_name, num_episodes, [seed], max_steps)[0]


def grouped_episode_stats(policy_fn: PolicyFn, env_name: str, num_episodes: int,
                          seeds: Sequence[int], max_steps: Optional[int] = None,
                          evaluator: Optional[Evaluator] = None
                          ) -> List[Dict[str, np.ndarray]]:
    """`episode_stats` for several groups (e.g. seeds of a vmapped run) stepped together.

    Group g has `num_episodes` envs, env i reset with seeds[g] + i, exactly as a
    separate `episode_stats(..., seed=seeds[g])`; all G * E envs step together and
    `policy_fn` gets the (G * E, obs_dim) array, group g in rows g * E to (g + 1) * E.
    `evaluator`: the run's envs (G * E of `env_name`), reused; default: envs made for
    this call and closed after it. Returns one dict per group.
    """
    if num_episodes < 1:
        raise ValueError(f"num_episodes: got {num_episodes}, expected at least 1.")
    reset_seeds = [int(seed) + i for seed in seeds for i in range(num_episodes)]
    own = evaluator is None
    if own:
        evaluator = Evaluator(env_name, len(reset_seeds), max_steps)
    elif (evaluator.env_name, evaluator.num_envs, evaluator.max_steps) != (
            env_name, len(reset_seeds), max_steps):
        raise ValueError(f"evaluator holds {evaluator.num_envs} envs of "
                         f"{evaluator.env_name!r} (max_steps {evaluator.max_steps}); this "
                         f"evaluation needs {len(reset_seeds)} of {env_name!r} (max_steps "
                         f"{max_steps}).")
    try:
        out = evaluator.run(policy_fn, reset_seeds)
    finally:
        if own:
            evaluator.close()
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
                    seeds: Sequence[int], max_steps: Optional[int] = None,
                    evaluator: Optional[Evaluator] = None
                    ) -> List[Tuple[Dict[str, float], Dict[str, np.ndarray]]]:
    """`evaluate_episodes` for several groups stepped together (see grouped_episode_stats):
    one (metrics, episodes) per group, each equal to a separate evaluation with seeds[g]."""
    spec = get_spec(env_name)
    results = []
    for out in grouped_episode_stats(policy_fn, env_name, num_episodes, seeds, max_steps,
                                     evaluator):
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
