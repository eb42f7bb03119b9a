"""Environments by D4RL dataset name: `EnvSpec`, `make_env`, normalized scores.

Every name the CLUE paper uses is built in (antmaze, locomotion, adroit, maze2d).
Other modules add names with `register(spec, factory)`; modules listed in
`_PLUGIN_MODULES` are imported on first use so their names appear by
themselves (clue_jax.envs.pointmaze registers gen-pointmaze-* names and the
maze2d factories; clue_jax.envs.locomotion the gen-{hopper,halfcheetah,walker2d}-*
names). maze2d-* specs are built in, but their factory comes from that module:
`make_env` says so when it is missing. A spec whose reference returns are not
measured yet holds NaN; `normalized_score` then raises `UnmeasuredScoreError`.

Observations are flat float32 and actions live in [-1, 1] for every env.

Every name is also registered with gymnasium as 'clue_jax/<name>':

    import clue_jax.envs
    env = gymnasium.make("clue_jax/hopper-medium-v2")     # or, without the import:
    env = gymnasium.make("clue_jax.envs:clue_jax/hopper-medium-v2")

(`gymnasium_id(name)` gives the id; a `minari:` name's ':' and '/' become '-'.)

D4RL's hopper/halfcheetah/walker2d-*-v2, antmaze and maze2d names carry D4RL's
compiled models (clue_jax.envs.d4rl_models); the gen-* names keep the models
their datasets were generated in (gymnasium's v5 locomotion, gymnasium-robotics'
point maze), so their data, shipped policies and reference returns stay valid.
"""

import dataclasses
import difflib
import functools
import importlib
from typing import Dict, List, Optional, Tuple, Union

import gymnasium
import numpy as np

from clue_jax.envs.gym_envs import Factory, gymnasium_factory

FAMILIES = ("antmaze", "locomotion", "adroit", "maze2d", "gen-pointmaze", "gen-locomotion")
_PLUGIN_MODULES = ("clue_jax.envs.pointmaze", "clue_jax.envs.locomotion")
# name -> how to measure its reference returns, for specs registered with NaN (not measured).
UNMEASURED_SCORE_HINTS: Dict[str, str] = {}


class UnknownEnvError(ValueError):
    """An environment name that is not registered."""


class UnmeasuredScoreError(ValueError):
    """A normalized score asked of an env whose reference returns are not measured (NaN)."""


@dataclasses.dataclass(frozen=True)
class EnvSpec:
    """What the rest of the project needs to know about a dataset's environment.

    Attributes:
        name: dataset / env name, e.g. 'hopper-medium-v2'.
        family: one of FAMILIES.
        obs_dim, act_dim: flat observation and action sizes.
        max_episode_steps: evaluation episode length.
        ref_min_score, ref_max_score: D4RL reference returns (normalized 0 and 100).
        success_based: the score is a success rate (episodes report info['success']).
    """

    name: str
    family: str
    obs_dim: int
    act_dim: int
    max_episode_steps: int
    ref_min_score: float
    ref_max_score: float
    success_based: bool

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"EnvSpec {self.name!r}: family={self.family!r}, expected one of "
                             f"{FAMILIES} (per-family defaults: clue_jax.experiments.domains).")
        if self.ref_max_score == self.ref_min_score:
            raise ValueError(f"EnvSpec {self.name!r}: ref_max_score equals ref_min_score "
                             f"({self.ref_min_score}); normalized scores would divide by 0.")


_REGISTRY: Dict[str, Tuple[EnvSpec, Optional[Factory]]] = {}
_BUILTIN_READY = False


def register(spec: EnvSpec, factory: Optional[Factory], *, overwrite: bool = False) -> None:
    """Add `spec.name` with `factory(seed) -> gymnasium.Env`.

    A built-in name whose factory is missing (maze2d-*) takes a factory when
    registered again with an equal spec. Any other existing name needs
    `overwrite=True`.
    """
    _ensure_builtin()
    old = _REGISTRY.get(spec.name)
    if old is not None and not overwrite:
        old_spec, old_factory = old
        if old_factory is not None or old_spec != spec:
            diff = [f.name for f in dataclasses.fields(spec)
                    if getattr(spec, f.name) != getattr(old_spec, f.name)]
            raise ValueError(f"register: {spec.name!r} is already registered (fields that "
                             f"differ: {diff or 'none'}); pass overwrite=True to replace it.")
    _REGISTRY[spec.name] = (spec, factory)
    _register_gymnasium(spec)


GYMNASIUM_NAMESPACE = "clue_jax"


def _make_for_gymnasium(name: str, **kwargs) -> gymnasium.Env:
    """gymnasium.make's entry point for 'clue_jax/<name>' (gymnasium adds the TimeLimit)."""
    factory = _REGISTRY[name][1]
    if factory is None:
        raise RuntimeError(f"{name!r} has no env factory (see make_env).")
    return factory(0)


def gymnasium_id(name: str) -> str:
    """'clue_jax/<name>', with ':' and '/' as '-' (gymnasium ids allow neither in a name):
    'minari:D4RL/door/expert-v2' -> 'clue_jax/minari-D4RL-door-expert-v2'."""
    return f"{GYMNASIUM_NAMESPACE}/{name.replace(':', '-').replace('/', '-')}"


def _register_gymnasium(spec: EnvSpec) -> None:
    """Make `gymnasium.make(gymnasium_id(name))` build the same env as make_env (unseeded)."""
    env_id = gymnasium_id(spec.name)
    gymnasium.registry.pop(env_id, None)  # re-registration (overwrite=True) replaces it
    gymnasium.register(id=env_id, entry_point=functools.partial(_make_for_gymnasium, spec.name),
                       max_episode_steps=spec.max_episode_steps)


def list_envs(family: Optional[str] = None) -> List[str]:
    """Sorted registered names, optionally of one family."""
    _ensure_builtin()
    return sorted(n for n, (s, _) in _REGISTRY.items() if family is None or s.family == family)


def get_spec(name: str) -> EnvSpec:
    """The EnvSpec of `name`; raises UnknownEnvError with the closest names."""
    _ensure_builtin()
    if name not in _REGISTRY and name.startswith("minari:"):
        from clue_jax.envs import minari_envs  # lazy: reads the local dataset's metadata
        minari_envs.register_minari(name)
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.0)
        raise UnknownEnvError(
            f"Unknown environment {name!r}. Closest registered names: {close}. "
            "List every name with clue_jax.envs.registry.list_envs().")
    return _REGISTRY[name][0]


def make_env(name: str, seed: int, max_episode_steps: Optional[int] = None) -> gymnasium.Env:
    """A D4RL-compatible env for `name`, its RNGs seeded with `seed`.

    The env is reset once with `seed` (so later resets without a seed are
    deterministic) and wrapped in a TimeLimit of `max_episode_steps`
    (default: the spec's). Observations are float32 (obs_dim,), actions are
    clipped to [-1, 1].
    """
    spec = get_spec(name)
    factory = _REGISTRY[name][1]
    if factory is None:
        raise RuntimeError(
            f"{name!r} has a spec but no env factory: it comes from one of "
            f"{list(_PLUGIN_MODULES)}, which did not register it. Check that module imports.")
    env = factory(seed)
    env = gymnasium.wrappers.TimeLimit(env, max_episode_steps or spec.max_episode_steps)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    return env


def normalized_score(name: str, raw_return: Union[float, np.ndarray]) -> Union[float, np.ndarray]:
    """D4RL normalized score: 100 * (return - ref_min) / (ref_max - ref_min).

    Raises:
        UnmeasuredScoreError: the spec's reference returns are NaN (not measured yet).
    """
    spec = get_spec(name)
    if not reference_scores_measured(name):
        raise UnmeasuredScoreError(
            f"{name}: no normalized score, its reference returns are not measured yet "
            f"(ref_min_score={spec.ref_min_score}, ref_max_score={spec.ref_max_score}); "
            + UNMEASURED_SCORE_HINTS.get(name, "register the spec with measured values."))
    score = 100.0 * (np.asarray(raw_return, np.float64) - spec.ref_min_score) / (
        spec.ref_max_score - spec.ref_min_score)
    return float(score) if score.ndim == 0 else score


def reference_scores_measured(name: str) -> bool:
    """Whether `name` has finite reference returns (check before a long run that evaluates)."""
    spec = get_spec(name)
    return bool(np.isfinite(spec.ref_min_score) and np.isfinite(spec.ref_max_score))


def _antmaze_factory(maze: str) -> Factory:
    def factory(seed: int) -> gymnasium.Env:
        del seed
        from clue_jax.envs.antmaze import D4RLAntMazeEnv  # lazy: builds MuJoCo models
        return D4RLAntMazeEnv(maze)
    return factory


def _antgoal_factory(seed: int) -> gymnasium.Env:
    del seed
    from clue_jax.envs.antgoal import AntGoalEnv  # lazy: builds a MuJoCo model
    return AntGoalEnv()


# The goal-reaching ant's training env (envs/antgoal.py): not a dataset; its returns are raw.
ANTGOAL = "gen-antgoal-v0"
UNMEASURED_SCORE_HINTS[ANTGOAL] = ("it is the goal-reaching ant's training env "
                                   "(train_sac.py reports its raw returns), not a dataset.")

# name stem -> (obs_dim, act_dim, ref_min, ref_max, gymnasium id)
_LOCOMOTION = {
    "hopper": (11, 3, -20.272305, 3234.3, "Hopper-v5"),
    "halfcheetah": (17, 6, -280.178953, 12135.0, "HalfCheetah-v5"),
    "walker2d": (17, 6, 1.629008, 4592.3, "Walker2d-v5"),
    "ant": (27, 8, -325.6, 3879.7, "Ant-v5"),
}
_ADROIT = {  # task -> (obs_dim, act_dim, episode steps, ref_min, ref_max, gymnasium id)
    "pen": (45, 24, 100, 96.262799, 3076.8331017826877, "AdroitHandPen-v1"),
    "door": (39, 28, 200, -56.512833, 2880.5693087298737, "AdroitHandDoor-v1"),
    "hammer": (46, 26, 200, -274.856578, 12794.134825156867, "AdroitHandHammer-v1"),
    "relocate": (39, 30, 200, -6.425911, 4233.877797728884, "AdroitHandRelocate-v1"),
}
_ANTMAZE = {  # dataset stem -> (maze, episode steps)
    "umaze": ("umaze", 700), "umaze-diverse": ("umaze", 700),
    "medium-play": ("medium", 1000), "medium-diverse": ("medium", 1000),
    "large-play": ("large", 1000), "large-diverse": ("large", 1000),
}
_MAZE2D = {"umaze": (300, 23.85, 161.86), "medium": (600, 13.13, 277.39),
           "large": (800, 6.7, 273.99)}


def _builtin_entries():
    """Yield (EnvSpec, factory or None) for every built-in name."""
    for stem, (maze, steps) in _ANTMAZE.items():
        for version in ("v0", "v1", "v2"):
            yield (EnvSpec(f"antmaze-{stem}-{version}", "antmaze", 29, 8, steps, 0.0, 1.0, True),
                   _antmaze_factory(maze))
        # the generated AntMaze datasets (generation/antmaze_datasets.py) evaluate as v2
        for version in ("v0", "v1"):
            yield (EnvSpec(f"gen-antmaze-{stem}-{version}", "antmaze", 29, 8, steps, 0.0, 1.0,
                           True), _antmaze_factory(maze))
    for stem, (obs, act, lo, hi, env_id) in _LOCOMOTION.items():
        # D4RL's compiled models for its hopper/halfcheetah/walker2d (envs/d4rl_models.py)
        extra = ({"include_cfrc_ext_in_observation": False} if stem == "ant"
                 else {"d4rl_model": stem})
        for quality in ("random", "medium", "medium-replay", "medium-expert", "expert"):
            yield (EnvSpec(f"{stem}-{quality}-v2", "locomotion", obs, act, 1000, lo, hi, False),
                   gymnasium_factory(env_id, obs, **extra))
    for task, (obs, act, steps, lo, hi, env_id) in _ADROIT.items():
        for quality in ("human", "cloned", "expert"):
            for version in ("v0", "v1"):
                yield (EnvSpec(f"{task}-{quality}-{version}", "adroit", obs, act, steps, lo, hi,
                               False),
                       gymnasium_factory(env_id, obs, robotics=True,
                                         adroit_fix="" if task == "pen" else task))
    for maze, (steps, lo, hi) in _MAZE2D.items():
        yield (EnvSpec(f"maze2d-{maze}-v1", "maze2d", 4, 2, steps, lo, hi, False), None)
    yield (EnvSpec(ANTGOAL, "antmaze", 29, 8, 500, float("nan"), float("nan"), False),
           _antgoal_factory)


def _ensure_builtin() -> None:
    """Register the built-in names once, then import the plugin modules."""
    global _BUILTIN_READY
    if _BUILTIN_READY:
        return
    _BUILTIN_READY = True  # before the imports: plugins call register() while importing
    for spec, factory in _builtin_entries():
        _REGISTRY[spec.name] = (spec, factory)
        _register_gymnasium(spec)
    for module in _PLUGIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name != module:
                raise
