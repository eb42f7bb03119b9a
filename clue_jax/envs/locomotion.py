"""The project's own locomotion datasets' environments: gen-{env}-{quality}-v0 names.

Hopper-v5, HalfCheetah-v5 and Walker2d-v5 (gymnasium + the `mujoco`
bindings) have D4RL v2's observation layouts (shared/reference/d4rl.md), so
the generated datasets (`clue_jax.generation.locomotion_datasets`) and the SAC that
makes them (`train_sac.py`) use them through the same factories as the
built-in hopper-*-v2 names: flat float32 observations, actions clipped to
[-1, 1], 1000-step episodes.

Their normalized scores need reference returns measured on these envs by
this project, kept in `LOCOMOTION_REFS` and nowhere else: 'random' = mean
return of uniformly random actions, 'expert' = mean return of the shipped
expert actor (deterministic actions), both printed by `select_policies.py`.
An unmeasured entry is None; the env spec then holds NaN and
`registry.normalized_score` raises `UnmeasuredScoreError` instead of
inventing a number. Raw returns work either way.
"""

from typing import Dict, Optional, Tuple

from clue_jax.envs import registry
from clue_jax.envs.gym_envs import gymnasium_factory

FAMILY = "gen-locomotion"
EPISODE_STEPS = 1000
QUALITIES = ("random", "medium", "expert", "medium-expert", "medium-replay")

# env stem -> (gymnasium id, obs_dim, act_dim)
ENVS: Dict[str, Tuple[str, int, int]] = {
    "hopper": ("Hopper-v5", 11, 3),
    "halfcheetah": ("HalfCheetah-v5", 17, 6),
    "walker2d": ("Walker2d-v5", 17, 6),
}

# env stem -> measured reference returns, or None while not measured. Measured 2026-11-26 over
# 100 episodes each (env i reset with seed i) with the shipped actors of clue_jax/policies:
#   PYTHONPATH=. python bench/measure_locomotion_refs.py --episodes 100
# (select_policies.py prints the same row). Replacing a policy means measuring again.
LOCOMOTION_REFS: Dict[str, Dict[str, Optional[float]]] = {
    "hopper": {"random": 15.353401, "expert": 2944.015668},
    "halfcheetah": {"random": -289.618129, "expert": 6848.930479},
    "walker2d": {"random": 0.910087, "expert": 1298.322909},
}


def gen_name(env: str, quality: str) -> str:
    """'gen-hopper-medium-v0'; quality may also be 'expert-demos'."""
    return f"gen-{env}-{quality}-v0"


def demos_name(env: str) -> str:
    """Expert demonstrations of `env`, for CLUE's imitation setting."""
    return gen_name(env, "expert-demos")


def env_stem(name: str) -> str:
    """'hopper' from 'Hopper-v5', 'hopper', 'gen-hopper-medium-v0' or 'hopper-medium-v2'.

    Raises:
        ValueError: `name` is none of the three locomotion envs.
    """
    low = name.lower()
    for stem, (gym_id, _, _) in ENVS.items():
        if low in (stem, gym_id.lower()) or low.startswith((f"gen-{stem}-", f"{stem}-")):
            return stem
    raise ValueError(f"env_name={name!r}: expected one of {[v[0] for v in ENVS.values()]}, "
                     f"{sorted(ENVS)} or a dataset name of one of them (e.g. "
                     "'gen-hopper-medium-v0').")


def env_name_for(name: str) -> str:
    """The registry name whose env `train_sac.py` trains in: gen-<stem>-expert-v0."""
    return gen_name(env_stem(name), "expert")


def _ref(stem: str, key: str) -> float:
    value = LOCOMOTION_REFS[stem][key]
    return float("nan") if value is None else float(value)


def _register() -> None:
    """Add gen-{env}-{quality}-v0 and gen-{env}-expert-demos-v0 to the env registry."""
    for stem, (gym_id, obs_dim, act_dim) in ENVS.items():
        lo, hi = _ref(stem, "random"), _ref(stem, "expert")
        hint = (f"measure them with `python select_policies.py --run_dir=<the {gym_id} SAC run>` "
                f"and fill LOCOMOTION_REFS['{stem}'] in clue_jax/envs/locomotion.py; report raw "
                "returns until then.")
        for quality in QUALITIES + ("expert-demos",):
            name = gen_name(stem, quality)
            spec = registry.EnvSpec(name, FAMILY, obs_dim, act_dim, EPISODE_STEPS, lo, hi,
                                    success_based=False)
            registry.register(spec, gymnasium_factory(gym_id, obs_dim), overwrite=True)
            registry.UNMEASURED_SCORE_HINTS[name] = hint


_register()
