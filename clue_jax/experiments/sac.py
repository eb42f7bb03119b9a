"""Online SAC runs (the policies behind the generated datasets), from frozen settings.

    run_sac(SACSettings(env_name="Hopper-v5", seed=0, max_steps=1_000_000, save_dir="runs"))
    run_sac(SACSettings(env_name="gen-antgoal-v0", ...))   # the goal-reaching ant

Writes <save_dir>/sac/<gymnasium id or gen-antgoal-v0>/seed_<seed>/ (see
clue_jax/sac_loop.py).
"""

import dataclasses
from typing import Any, Dict, List, Optional, Sequence, Tuple

import ml_collections

from clue_jax import sac_loop, training
from clue_jax.envs import locomotion, registry
from clue_jax.experiments.plan import run_dir_for
from configs import sac_config


@dataclasses.dataclass(frozen=True)
class SACSettings:
    """One SAC run; `config` None = configs/sac_config.py."""

    env_name: str = "Hopper-v5"
    seed: int = 0
    max_steps: int = 1_000_000
    save_dir: str = "./runs/"
    checkpoint_interval: int = 50_000
    eval_interval: int = 10_000
    eval_episodes: int = 10
    resume: bool = False
    progress: bool = True
    config: Optional[ml_collections.FrozenConfigDict] = None
    argv: Sequence[str] = ()

    def __post_init__(self):
        if self.config is not None and not isinstance(self.config,
                                                      ml_collections.FrozenConfigDict):
            object.__setattr__(self, "config", ml_collections.FrozenConfigDict(self.config))


def sac_env(name: str) -> Tuple[str, str]:
    """(run-folder name, registry name of the env SAC trains in) for --env_name: a
    locomotion env (Hopper-v5, hopper, gen-hopper-medium-v0, ...) or the goal-reaching ant
    (gen-antgoal-v0, envs/antgoal.py). ValueError naming the choices otherwise."""
    if name == registry.ANTGOAL:
        return name, name
    try:
        stem = locomotion.env_stem(name)
    except ValueError as err:
        raise ValueError(f"{err} Or {registry.ANTGOAL}, the goal-reaching ant.") from None
    return locomotion.ENVS[stem][0], locomotion.env_name_for(stem)


def run_sac(settings: SACSettings) -> List[Dict[str, Any]]:
    """Train SAC; returns the evaluated actor snapshots."""
    config = settings.config if settings.config is not None else sac_config.get_config()
    gym_id, env_name = sac_env(settings.env_name)
    run_dir = run_dir_for(settings.save_dir, "sac", gym_id, settings.seed)
    loop = sac_loop.SACLoopConfig(
        env_name=env_name, seed=settings.seed,
        max_steps=settings.max_steps, start_steps=config.start_steps,
        batch_size=config.batch_size, replay_capacity=config.replay_capacity,
        log_interval=config.log_interval, eval_interval=settings.eval_interval,
        eval_episodes=settings.eval_episodes, checkpoint_interval=settings.checkpoint_interval,
        progress=settings.progress, resume=settings.resume)
    command = {"env_name": settings.env_name, "seed": settings.seed,
               "max_steps": settings.max_steps,
               "checkpoint_interval": settings.checkpoint_interval,
               "eval_interval": settings.eval_interval, "eval_episodes": settings.eval_episodes}
    training.prepare_run_dir(run_dir, {"algo": "sac", "gym_id": gym_id, "flags": command,
                                       "argv": list(settings.argv), "sac": config.to_dict()},
                             settings.resume)
    _, snapshots = sac_loop.train_sac(loop, config.agent.to_dict(), run_dir)
    best = max(snapshots, key=lambda s: s["return"]) if snapshots else None
    print(f"[train_sac] {gym_id} seed {settings.seed}: {len(snapshots)} snapshots, best return "
          f"{best and round(best['return'], 1)} at step {best and best['step']} -> {run_dir}\n"
          f"next: python select_policies.py --run_dir={run_dir}")
    return snapshots
