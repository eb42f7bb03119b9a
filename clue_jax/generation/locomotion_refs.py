"""Reference returns of the generated locomotion datasets: what LOCOMOTION_REFS holds.

`measure_refs` rolls out uniform random actions and the installed medium and
expert actors (deterministic, and sampled as in the datasets) and returns
their mean and std returns; `refs_row` formats the LOCOMOTION_REFS line
(clue_jax/envs/locomotion.py). Used by select_policies.py and
bench/measure_locomotion_refs.py.
"""

from pathlib import Path
from typing import Dict, Tuple

import numpy as np

from clue_jax.generation import locomotion_datasets as loco
from clue_jax.envs import locomotion


def measure_refs(env: str, episodes: int, seed: int = 0, policy_folder=None
                 ) -> Dict[str, Tuple[float, float]]:
    """Mean and std of the raw returns that define and describe the normalized scores.

    'random': uniform actions in [-1, 1] (LOCOMOTION_REFS' 0); 'expert' and
    'medium': the installed actors' deterministic tanh(mean) actions ('expert' is
    LOCOMOTION_REFS' 100); 'expert_stochastic' / 'medium_stochastic': the same
    actors sampled as the datasets are. Each over `episodes` episodes, env i
    reset with seed + i. `policy_folder` defaults to policy_dir().
    """
    from clue_jax import evaluation
    from clue_jax.agents import sac_actor
    name, act_dim = locomotion.gen_name(env, "expert"), locomotion.ENVS[env][2]
    rng = np.random.default_rng(seed)
    policies = {"random": lambda o: rng.uniform(-1.0, 1.0, (len(o), act_dim))}
    folder = Path(policy_folder) if policy_folder is not None else loco.policy_dir()
    for quality in loco.POLICY_QUALITIES:
        path = loco.require_file(folder / env / f"{quality}.msgpack", env,
                                 f"measuring {env}'s reference returns")
        actor = sac_actor.load_actor(path)
        policies[quality] = sac_actor.deterministic_policy(actor)
        sample = sac_actor.batched_policy(actor)
        policies[f"{quality}_stochastic"] = (
            lambda o, sample=sample: sample(o, rng.standard_normal((len(o), act_dim)))[0])
    out = {}
    for key, policy in policies.items():
        returns = evaluation.episode_stats(policy, name, episodes, seed)["returns"]
        out[key] = (float(returns.mean()), float(returns.std()))
    return out


def refs_row(env: str, refs: Dict[str, Tuple[float, float]]) -> str:
    """The LOCOMOTION_REFS line for `env` from `measure_refs`' output."""
    return f'"{env}": {{"random": {refs["random"][0]:.6f}, "expert": {refs["expert"][0]:.6f}}},'
