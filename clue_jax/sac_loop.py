"""The online SAC loop behind train_sac.py: env steps, fused updates, evals, snapshots, resume.

Per env step the host steps MuJoCo once, then `sac.env_step` inserts the
transition into the device buffer and makes one jitted update + next-action
call. The run folder holds:

    config.json            flags and hyperparameters
    checkpoint.msgpack     agent + replay buffer + env physics state + step (atomic,
                           every checkpoint_interval); `resume=True` continues from it
                           exactly: a killed and resumed run equals an uninterrupted one
    actor_<step>.msgpack   actor snapshot at every evaluation (sac_actor format)
    snapshots.json         index of those snapshots with their evaluated returns
    replay/*.npz           every transition, D4RL layout (data.replay.ReplayLog)
    <seed>.txt, tb/        (step, return) rows and TensorBoard scalars

Evaluation is deterministic (tanh of the mean) on `eval_episodes` fixed seeds
and reports raw returns (the gen-* envs have no reference scores before the
expert exists).
"""

import dataclasses
import json
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from flax import serialization

from clue_jax import checkpoints, evaluation, interrupts
from clue_jax.agents import sac, sac_actor
from clue_jax.data import replay
from clue_jax.envs import registry
from clue_jax.logging import RunLogger
from clue_jax.types import Batch

SNAPSHOT_INDEX = "snapshots.json"
EVAL_SEED_OFFSET = 1_000_000  # eval env i is reset with seed + EVAL_SEED_OFFSET + i
_PHYSICS = mujoco.mjtState.mjSTATE_INTEGRATION


@dataclasses.dataclass(frozen=True)
class SACLoopConfig:
    """Length and cadence of a SAC run (all counts are env steps = updates after warm-up)."""

    env_name: str
    seed: int = 0
    max_steps: int = 1_000_000
    start_steps: int = 10_000
    batch_size: int = 256
    replay_capacity: int = 1_000_000
    log_interval: int = 1000
    eval_interval: int = 10_000
    eval_episodes: int = 10
    checkpoint_interval: int = 50_000
    progress: bool = False
    resume: bool = False


class EnvRunner:
    """The training env, with a state that can be saved and restored exactly.

    Episode k is reset with a seed derived from (seed, k), so the only state is
    the episode counter, the MuJoCo integration state (qpos, qvel, warm-start,
    ...) and the time-limit counter.
    """

    def __init__(self, env_name: str, seed: int):
        self.env = registry.make_env(env_name, seed)
        self.sim = self.env.unwrapped
        self.seed, self.episode = int(seed), 0
        self.episode_return, self.episode_length = 0.0, 0

    def reset(self) -> np.ndarray:
        seed = int(np.random.SeedSequence([self.seed, self.episode]).generate_state(1)[0])
        obs, _ = self.env.reset(seed=seed)
        self.episode += 1
        self.episode_return, self.episode_length = 0.0, 0
        return obs

    def physics(self) -> Tuple[np.ndarray, np.ndarray]:
        """(qpos, qvel) copies of the current MuJoCo state."""
        return self.sim.data.qpos.copy(), self.sim.data.qvel.copy()

    def step(self, action: np.ndarray) -> Tuple[np.ndarray, float, bool, bool]:
        obs, reward, terminated, truncated, _ = self.env.step(action)
        self.episode_return += reward
        self.episode_length += 1
        return obs, reward, terminated, truncated

    def state_dict(self) -> Dict[str, Any]:
        state = np.empty(mujoco.mj_stateSize(self.sim.model, _PHYSICS))
        mujoco.mj_getState(self.sim.model, self.sim.data, state, _PHYSICS)
        out = {"physics": state, "elapsed": self.env._elapsed_steps, "episode": self.episode,
               "episode_return": self.episode_return, "episode_length": self.episode_length}
        if hasattr(self.sim, "task_state"):  # an env with more than physics (a goal)
            out["task"] = self.sim.task_state()
        return out

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.episode = int(state["episode"]) - 1
        self.reset()  # the same episode's reset, then its saved physics
        mujoco.mj_setState(self.sim.model, self.sim.data, np.asarray(state["physics"]), _PHYSICS)
        self.env._elapsed_steps = int(state["elapsed"])
        self.episode_return = float(state["episode_return"])
        self.episode_length = int(state["episode_length"])
        if "task" in state:
            self.sim.set_task_state(state["task"])


def read_snapshots(run_dir) -> List[Dict[str, Any]]:
    """The snapshot index of a run: [{step, return, return_std, file}], by step."""
    path = Path(run_dir) / SNAPSHOT_INDEX
    if not path.exists():
        return []
    return json.loads(path.read_text())["snapshots"]


def _checkpoint(run_dir: Path, agent, buffer, step, obs, action, runner: EnvRunner) -> None:
    checkpoints.save(run_dir / checkpoints.CHECKPOINT_NAME, {
        "agent": agent, "buffer": replay.buffer_state(buffer), "step": step,
        "obs": np.asarray(obs), "action": np.asarray(action), "env": runner.state_dict()})


def _start(config: SACLoopConfig, agent_kwargs: Dict[str, Any], run_dir: Path):
    """(runner, agent, buffer, step, obs, pending action): fresh, or from the checkpoint."""
    spec = registry.get_spec(config.env_name)
    runner = EnvRunner(config.env_name, config.seed)
    agent = sac.create(config.seed, spec.obs_dim, spec.act_dim, **agent_kwargs)
    buffer = replay.create_buffer(config.replay_capacity, spec.obs_dim, spec.act_dim)
    step, obs = 0, runner.reset()
    agent, action = sac.jit_sample_action(agent, jnp.asarray(obs), random=config.start_steps > 0)
    ckpt = checkpoints.find(run_dir) if config.resume else None
    if ckpt is not None:
        raw = checkpoints.load_raw(ckpt)
        agent = serialization.from_state_dict(agent, raw["agent"])
        buffer = replay.buffer_from_state(raw["buffer"], config.replay_capacity, spec.obs_dim,
                                          spec.act_dim)
        step, obs, action = int(raw["step"]), raw["obs"], raw["action"]
        runner.load_state_dict(raw["env"])
        print(f"[train_sac] resumed {run_dir} at step {step}")
    return runner, agent, buffer, step, obs, action


class _Evaluator:
    """Deterministic evaluation on fixed seeds + actor snapshot + snapshots.json."""

    def __init__(self, config: SACLoopConfig, run_dir: Path, hidden_dims, step: int):
        self.config, self.run_dir, self.hidden_dims = config, run_dir, tuple(hidden_dims)
        self.spec = registry.get_spec(config.env_name)
        self.seeds = [config.seed + EVAL_SEED_OFFSET + i for i in range(config.eval_episodes)]
        self.envs = [registry.make_env(config.env_name, s) for s in self.seeds]
        self.snapshots = [s for s in read_snapshots(run_dir) if s["step"] <= step]

    def __call__(self, agent: sac.SACAgent, step: int) -> Tuple[float, float]:
        out = evaluation.run_episodes(lambda o: np.asarray(sac.eval_actions(agent.actor, o)),
                                      self.envs, self.seeds, self.spec.act_dim)
        mean, std = float(out["returns"].mean()), float(out["returns"].std())
        name = f"actor_{step}.msgpack"
        sac_actor.save_actor(self.run_dir / name, agent.actor.params, self.spec.obs_dim,
                             self.spec.act_dim, self.hidden_dims, env=self.config.env_name,
                             step=step, seed=self.config.seed, **{"return": mean})
        self.snapshots = [s for s in self.snapshots if s["step"] != step] + [
            {"step": step, "return": mean, "return_std": std, "file": name}]
        text = json.dumps({"env_name": self.config.env_name, "seed": self.config.seed,
                           "snapshots": self.snapshots}, indent=1)
        checkpoints.atomic_write_bytes(self.run_dir / SNAPSHOT_INDEX, text.encode())
        return mean, std

    def close(self) -> None:
        for env in self.envs:
            env.close()


def train_sac(config: SACLoopConfig, agent_kwargs: Dict[str, Any], run_dir
              ) -> Tuple[sac.SACAgent, List[Dict[str, Any]]]:
    """Run (or resume) SAC in `config.env_name`; returns the agent and the snapshot index."""
    from tqdm import tqdm

    run_dir = Path(run_dir)
    runner, agent, buffer, step, obs, action = _start(config, agent_kwargs, run_dir)
    log = replay.ReplayLog(run_dir / "replay")
    log.truncate(step)
    evaluate = _Evaluator(config, run_dir, agent_kwargs.get("hidden_dims", (256, 256)), step)
    logger = RunLogger(run_dir, config.seed, resumed_from=step or None)
    bar = tqdm(total=config.max_steps, initial=step, disable=not config.progress, unit="step",
               smoothing=0.05, dynamic_ncols=True)
    info, t0, t0_step = {}, time.perf_counter(), step
    try:
        while step < config.max_steps:
            interrupts.check()
            qpos, qvel = runner.physics()
            action = np.asarray(action)
            next_obs, reward, terminated, truncated = runner.step(action)
            log.append(obs, action, reward, terminated, truncated and not terminated, next_obs,
                       qpos, qvel)
            transition = Batch(obs, action, np.float32(reward), np.float32(1.0 - terminated),
                               next_obs)
            step += 1
            if terminated or truncated:
                logger.log({"train/episode_return": runner.episode_return,
                            "train/episode_length": runner.episode_length}, step)
                next_obs = runner.reset()
            agent, buffer, action, info = sac.env_step(
                agent, buffer, transition, next_obs, learn=step >= config.start_steps,
                random=step < config.start_steps, batch_size=config.batch_size)
            obs = next_obs
            bar.update(1)
            if step % config.log_interval == 0:
                rate = (step - t0_step) / max(time.perf_counter() - t0, 1e-9)
                t0, t0_step = time.perf_counter(), step
                logger.log({**{f"train/{k}": float(v) for k, v in jax.device_get(info).items()},
                            "train/env_steps_per_s": rate}, step)
                bar.set_postfix({"steps/s": f"{rate:.0f}"}, refresh=False)
            if step % config.eval_interval == 0 or step == config.max_steps:
                mean, std = evaluate(agent, step)
                logger.log({"eval/return": mean, "eval/return_std": std}, step)
                logger.write_scores([(s["step"], s["return"]) for s in evaluate.snapshots])
                bar.write(f"[train_sac] step {step}: eval return {mean:.1f} +- {std:.1f}")
            if step % config.checkpoint_interval == 0 or step == config.max_steps:
                log.flush(step)
                logger.flush()  # every point up to the checkpoint is on disk before it
                _checkpoint(run_dir, agent, buffer, step, obs, action, runner)
    finally:
        bar.close()
        logger.close()
        evaluate.close()
        runner.env.close()
    return agent, evaluate.snapshots
