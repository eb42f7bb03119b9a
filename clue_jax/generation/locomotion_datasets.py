"""Offline locomotion datasets gen-{hopper,halfcheetah,walker2d}-{quality}-v0, made as D4RL's.

D4RL's v2 locomotion recipe (Fu et al. 2020, Sec. 5), with this project's SAC
(`train_sac.py`) on gymnasium's Hopper/HalfCheetah/Walker2d-v5:
- random: a randomly initialised SAC actor (`sac_actor.random_actor(seed)`);
- medium: the actor snapshot whose return first reached about 1/3 of the expert's;
- expert: the fully trained actor;
- medium-expert: the medium then the expert dataset, concatenated (default 2M rows,
  read from the cache, so the policies are not rolled out twice);
- medium-replay: the training run's replay log up to the medium snapshot.
random/medium/expert roll out the STOCHASTIC policy (a = tanh(mean + std * eps),
as D4RL's files, which store infos/action_log_probs) for `size` transitions
(1M by default) over NUM_ENVS envs stepped together, one batched policy call
per step. Env i runs an even share of the steps, episode after episode
(1000-step limit); the streams are concatenated env by env, each one's last
episode cut (timeouts = True on its last row unless terminal).
Demonstrations gen-{env}-expert-demos-v0: whole episodes of the same stochastic
expert, the first episode of each env in env order (default 11,000 rows: at
least 10 episodes; CLUE's imitation setting takes the first K).

Actors come from `<policy dir>/<env>/{medium,expert}.msgpack` and the
medium-replay log from `<policy dir>/<env>/medium_replay.hdf5`; the policy dir is
$CLUE_JAX_POLICY_DIR or clue_jax/policies. `select_policies.py` puts them there.
Deterministic per (size, seed) on one platform; the files' SHA-256 are the
datasets' fingerprints in the cache (generated.py), so new policies remake them.
"""

import functools
import hashlib
import os
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from clue_jax import interrupts
from clue_jax.data.d4rl_io import DatasetNotFoundError
from clue_jax.envs import locomotion

GENERATOR_VERSION = "locomotion-v0.1"
NUM_ENVS = 50
DEMO_SIZE = 11_000  # episodes are at most 1000 steps: >= 10 whole episodes fit
POLICY_QUALITIES = ("medium", "expert")
Arrays = Dict[str, np.ndarray]


class PolicyNotFoundError(DatasetNotFoundError):
    """A policy (or replay) file a generated dataset needs is not in the policy dir."""


def policy_dir() -> Path:
    """$CLUE_JAX_POLICY_DIR, else the clue_jax/policies folder of the package."""
    return Path(os.environ.get("CLUE_JAX_POLICY_DIR")
                or Path(__file__).resolve().parents[1] / "policies")


def policy_path(env: str, quality: str) -> Path:
    """<policy dir>/<env>/<quality>.msgpack, quality 'medium' or 'expert'."""
    return policy_dir() / env / f"{quality}.msgpack"


def medium_replay_path(env: str) -> Path:
    """<policy dir>/<env>/medium_replay.hdf5 (written by select_policies.py)."""
    return policy_dir() / env / "medium_replay.hdf5"


def make_commands(env: str) -> str:
    """The commands that produce the policy files of `env`."""
    gym_id = locomotion.ENVS[env][0]
    return (f"  python train_sac.py --env_name={gym_id} --seed=0 --max_steps=1000000 "
            f"--save_dir=runs\n  python select_policies.py --run_dir=runs/sac/{gym_id}/seed_0"
            "\n(see clue_jax/policies/README.md)")


def require_file(path: Path, env: str, what: str) -> Path:
    if not path.is_file():
        raise PolicyNotFoundError(
            f"{what} needs {path}, which does not exist (policy dir: $CLUE_JAX_POLICY_DIR or "
            f"clue_jax/policies). Make it with:\n{make_commands(env)}")
    return path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint_files(paths: Callable[[], List[Path]]) -> str:
    """SHA-256 (first 16 hex) of the files, 'missing' if any is absent."""
    files = paths()
    if not all(p.is_file() for p in files):
        return "missing"
    return hashlib.sha256("".join(file_sha256(p) for p in files).encode()).hexdigest()[:16]


def load_policy(env: str, quality: str, dataset: Optional[str] = None):
    """The shipped actor of `env` ('medium' / 'expert'), or a PolicyNotFoundError.

    `dataset` names the dataset that needs it in the error (default gen-{env}-{quality}-v0).
    """
    from clue_jax.agents import sac_actor  # lazy: jax
    name = dataset or locomotion.gen_name(env, quality)
    path = require_file(policy_path(env, quality), env, name)
    return sac_actor.load_actor(path)


# ----------------------------------------------------------------------------- rollouts


def rollout(env: str, actor, budgets: List[int], rng: np.random.Generator,
            first_episode_only: bool = False) -> List[Arrays]:
    """Step len(budgets) envs together with the stochastic actor.

    The envs step through `envs.batched.BatchStepper` (MuJoCo on host threads; the
    same transitions as each env's own `step`).

    Args:
        budgets: steps of each env (its stream of consecutive episodes).
        first_episode_only: stop each env after its first episode instead.
    Returns:
        One dict per env, the D4RL keys (observations, actions, rewards,
        terminals, timeouts, next_observations, infos/qpos, infos/qvel,
        infos/action_log_probs) with that env's rows; its last row is a
        timeout unless terminal.
    """
    from clue_jax.agents import sac_actor
    from clue_jax.envs import batched, registry
    name, (_, obs_dim, act_dim) = locomotion.gen_name(env, "expert"), locomotion.ENVS[env]
    policy = sac_actor.batched_policy(actor)
    seeds = rng.integers(2**31, size=len(budgets))
    stepper = batched.BatchStepper([registry.make_env(name, int(s)) for s in seeds])
    model = stepper.envs[0].unwrapped.model
    longest, n_envs = max(budgets), len(budgets)
    out = {"observations": np.zeros((n_envs, longest, obs_dim), np.float32),
           "actions": np.zeros((n_envs, longest, act_dim), np.float32),
           "rewards": np.zeros((n_envs, longest), np.float32),
           "terminals": np.zeros((n_envs, longest), bool),
           "timeouts": np.zeros((n_envs, longest), bool),
           "next_observations": np.zeros((n_envs, longest, obs_dim), np.float32),
           "infos/qpos": np.zeros((n_envs, longest, model.nq), np.float32),
           "infos/qvel": np.zeros((n_envs, longest, model.nv), np.float32),
           "infos/action_log_probs": np.zeros((n_envs, longest), np.float32)}
    from tqdm import tqdm
    bar = tqdm(total=int(sum(budgets)), unit="step", desc=f"{env} rollouts",
               disable=sum(budgets) < 100_000, mininterval=2.0, leave=False)
    try:
        obs = np.stack([stepper.reset(i, int(s)) for i, s in enumerate(seeds)])
        rows = np.zeros(n_envs, np.int64)
        active = np.asarray(budgets) > 0
        while active.any():
            interrupts.check()
            bar.update(int(active.sum()))
            actions, log_probs = policy(obs, rng.standard_normal((n_envs, act_dim)))
            live = np.flatnonzero(active)
            at = (live, rows[live])
            out["observations"][at], out["actions"][at] = obs[live], actions[live]
            out["infos/qpos"][at], out["infos/qvel"][at] = stepper.state(live)
            out["infos/action_log_probs"][at] = log_probs[live]
            step = stepper.step(np.clip(np.asarray(actions[live], np.float32), -1, 1), live)
            out["rewards"][at], out["next_observations"][at] = step.rewards, step.observations
            out["terminals"][at] = step.terminated
            out["timeouts"][at] = step.truncated & ~step.terminated
            rows[live] += 1
            done = step.terminated | step.truncated
            stop = (rows[live] == np.asarray(budgets)[live]) | (done & first_episode_only)
            out["timeouts"][live[stop], rows[live[stop]] - 1] = ~step.terminated[stop]
            active[live[stop]] = False
            obs[live] = step.observations
            for i in live[done]:
                obs[i] = stepper.reset(i)
    finally:
        bar.close()
        stepper.close()
    return [{k: v[i, :rows[i]] for k, v in out.items()} for i in range(n_envs)]


def _concat(parts: List[Arrays]) -> Arrays:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _metadata(env: str, quality: str, actor, num_envs: int) -> dict:
    meta = {"env": env, "gym_id": locomotion.ENVS[env][0], "quality": quality,
            "generator_version": GENERATOR_VERSION, "sampling": "stochastic",
            "num_envs": num_envs, "episode_steps": locomotion.EPISODE_STEPS}
    for key in ("step", "return", "seed", "init_seed"):
        if key in actor.meta:
            meta[f"policy_{key}"] = actor.meta[key]
    return meta


def _actor(env: str, quality: str, seed: int, dataset: Optional[str]):
    if quality == "random":
        from clue_jax.agents import sac_actor
        _, obs_dim, act_dim = locomotion.ENVS[env]
        return sac_actor.random_actor(seed, obs_dim, act_dim)
    return load_policy(env, quality, dataset)


def generate(env: str, quality: str, size: int, seed: int, num_envs: int = NUM_ENVS,
             dataset: Optional[str] = None) -> Tuple[Arrays, dict]:
    """gen-{env}-{quality}-v0 for quality random / medium / expert: `size` rows.

    Uses min(num_envs, size // 1000) envs (at least 1), each running an even
    share of `size` steps. Deterministic in `seed` (one np.random.default_rng:
    env seeds and policy noise; the random actor is initialised with `seed`).
    `dataset` names the dataset asking, for a missing-policy error.

    Returns:
        (data, metadata): N = size rows; observations, next_observations
        (N, obs_dim) float32; actions (N, act_dim) float32 in (-1, 1); rewards,
        infos/action_log_probs (N,) float32; terminals, timeouts (N,) bool;
        infos/qpos (N, nq), infos/qvel (N, nv) float32 (MuJoCo state of the row's
        observation).
    """
    if size < 1:
        raise ValueError(f"size: got {size}, expected a positive number of transitions.")
    actor = _actor(env, quality, seed, dataset)
    n_envs = int(max(1, min(num_envs, size // locomotion.EPISODE_STEPS)))
    budgets = [size // n_envs + (i < size % n_envs) for i in range(n_envs)]
    data = _concat(rollout(env, actor, budgets, np.random.default_rng(seed)))
    meta = _metadata(env, quality, actor, n_envs)
    meta["episodes"] = int(np.sum(data["terminals"] | data["timeouts"]))
    return data, meta


def generate_medium_expert(env: str, size: int, seed: int) -> Tuple[Arrays, dict]:
    """gen-{env}-medium-v0 (size // 2 rows) then gen-{env}-expert-v0 (the rest), same seed.

    The two parts come from the cache being filled (`generated.generated_part`):
    at the default 2M rows they are the 1M-row medium and expert files,
    made first if missing, so this dataset is exactly their concatenation.
    """
    from clue_jax.generation import generated
    for quality in POLICY_QUALITIES:  # name this dataset in a missing-policy error
        require_file(policy_path(env, quality), env, locomotion.gen_name(env, "medium-expert"))
    medium, m_meta = generated.generated_part(locomotion.gen_name(env, "medium"), size // 2, seed)
    expert, e_meta = generated.generated_part(locomotion.gen_name(env, "expert"),
                                              size - size // 2, seed)
    meta = {"env": env, "quality": "medium-expert", "generator_version": GENERATOR_VERSION,
            "sampling": "stochastic", "medium_rows": size // 2, "expert_rows": size - size // 2,
            **{f"medium_{k}": v for k, v in m_meta.items() if k.startswith("policy_")},
            **{f"expert_{k}": v for k, v in e_meta.items() if k.startswith("policy_")}}
    return _concat([medium, expert]), meta


def generate_demos(env: str, size: int, seed: int, envs_per_round: int = 11
                   ) -> Tuple[Arrays, dict]:
    """Whole episodes of the stochastic expert, at most `size` rows, in env order.

    Rounds of `envs_per_round` envs each play one episode until the episodes
    fill `size` rows; the episodes that fit whole are kept, in order.
    """
    actor = load_policy(env, "expert", locomotion.demos_name(env))
    rng, episodes, rows = np.random.default_rng(seed), [], 0
    while rows < size:
        new = rollout(env, actor, [locomotion.EPISODE_STEPS] * envs_per_round, rng,
                      first_episode_only=True)
        episodes += new
        rows += sum(len(e["rewards"]) for e in new)
    lengths = np.cumsum([len(e["rewards"]) for e in episodes])
    keep = int(np.searchsorted(lengths, size, side="right"))
    if keep == 0:
        raise ValueError(f"size={size} holds no whole expert episode (the first has "
                         f"{lengths[0]} steps); ask for more rows.")
    meta = _metadata(env, "expert-demos", actor, envs_per_round)
    meta["episodes"] = keep
    return _concat(episodes[:keep]), meta


def generate_medium_replay(env: str, size: int, seed: int) -> Tuple[Arrays, dict]:
    """The first min(size, N) rows of <policy dir>/<env>/medium_replay.hdf5 (seed unused)."""
    del seed
    from clue_jax.data import d4rl_io
    path = require_file(medium_replay_path(env), env, locomotion.gen_name(env, "medium-replay"))
    raw = d4rl_io.load_hdf5(str(path))
    keys = ("observations", "actions", "rewards", "terminals", "timeouts", "next_observations",
            "infos/qpos", "infos/qvel")
    data = {k: np.asarray(raw[k])[:size].astype(
        bool if k in ("terminals", "timeouts") else np.float32) for k in keys}
    data["timeouts"][-1] |= ~data["terminals"][-1]
    meta = {"env": env, "quality": "medium-replay", "generator_version": GENERATOR_VERSION,
            "source_rows": len(raw["rewards"]), "source_sha256": file_sha256(path),
            **{k[len("metadata/"):]: v for k, v in raw.items()
               if k.startswith("metadata/policy_") or k == "metadata/medium_step"}}
    return data, meta


# ----------------------------------------------------------------------------- registration


def _generator(env: str, quality: str):
    if quality == "medium-expert":
        return functools.partial(generate_medium_expert, env)
    if quality == "medium-replay":
        return functools.partial(generate_medium_replay, env)
    return functools.partial(generate, env, quality)


def _inputs(env: str, quality: str) -> Optional[Callable[[], List[Path]]]:
    """The files a dataset is made from (None: none, e.g. random)."""
    files = {"medium": ("medium",), "expert": ("expert",), "expert-demos": ("expert",),
             "medium-expert": ("medium", "expert")}
    if quality == "medium-replay":
        return lambda: [medium_replay_path(env)]
    if quality in files:
        return lambda: [policy_path(env, q) for q in files[quality]]
    return None


def generators() -> Dict[str, Callable[[int, int], Tuple[Arrays, dict]]]:
    """name -> generate(size, seed) for every gen locomotion dataset and demonstration set."""
    out = {locomotion.gen_name(env, q): _generator(env, q)
           for env in locomotion.ENVS for q in locomotion.QUALITIES}
    out.update({locomotion.demos_name(env): functools.partial(generate_demos, env)
                for env in locomotion.ENVS})
    return out


DEFAULT_SIZES = {**{locomotion.gen_name(env, "medium-expert"): 2_000_000
                    for env in locomotion.ENVS},
                 **{locomotion.demos_name(env): DEMO_SIZE for env in locomotion.ENVS}}
FINGERPRINTS = {locomotion.gen_name(env, q): functools.partial(fingerprint_files, _inputs(env, q))
                for env in locomotion.ENVS for q in locomotion.QUALITIES + ("expert-demos",)
                if _inputs(env, q) is not None}
