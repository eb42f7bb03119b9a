"""The learners a run can train, by name: how to build one, update it and act with it.

    iql        Implicit Q-Learning (the reference port; every CLUE / OTR table)
    td3bc      TD3+BC (sfujim/TD3_BC; the learner of the SQIL baseline, and of ORIL on
               the dataset alone)
    oril       ORIL's TD3+BC as SMODICE's script sets it up (expert block, absorbing
               states, batch 512; rewards: the `oril` labeller)
    smodice    SMODICE (its discriminator reward is the `oril` labeller's)
    demodice   DemoDICE      } learn from the demonstrations themselves:
    valuedice  ValueDICE     } labeller `none`
    iqlearn    IQ-Learn      }

Agents differ only here; the loop, data, evaluation, checkpoints and logging
are shared (clue_jax/training.py). `true_reward` is how the `true` labeller
processes the dataset's own rewards for this learner, as its reference does.

The imitation learners (`learns_from_demos`) train on the union of the dataset
and the chosen demonstrations (labelled as one dataset by the labeller), and
sample a DemoData batch: B union rows, B demonstration rows and B initial
states of the union (`make_data`).
"""

import dataclasses
import functools
from typing import Any, Callable, Dict, Optional, Tuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from clue_jax import rules
from clue_jax.evaluation import JaxPolicy
from clue_jax.agents import demodice, imitation, iql, iqlearn, smodice, td3bc, valuedice
from clue_jax.data.dataset import (Dataset, DemoData, MixedBatch, initial_observations,
                                   real_states, to_device)
from clue_jax.experiments import domains
from configs import (demodice_config, iqlearn_config, oril_td3bc_config, smodice_config,
                     td3bc_config, valuedice_config)


@dataclasses.dataclass(frozen=True)
class AgentSpec:
    """A learner.

    Attributes:
        name: the --agent value.
        default_config: Domain -> the learner's config for that domain.
        create: (seed, dataset, config dict, max_steps) -> agent pytree.
        update_n: the jitted fused update (agent, data, key, num_steps, batch_size).
        act: (agent, observations (E, obs_dim) jax) -> deterministic actions (E, act_dim),
            pure and jittable (vmapped over stacked seeds' agents by the seeds loop).
        true_reward: Domain -> (reward_scaling, reward_shift) of the dataset's own rewards.
        batch_size: the reference's batch size (rows per source), used when
            --batch_size is not given.
        labellers: the labellers this learner works with (None: any that gives rewards).
        learns_from_demos: trains on dataset + demonstrations (DemoData batches).
        make_data: (dataset, expert_data or None, config) -> the device data it samples.
        config_rules: field -> (check, what is expected) for its config (clue_jax.rules);
            a run whose config breaks one is refused before any data is read.
        env_config: dataset name -> the learner's config, where its reference's config
            depends on the env (IQ-Learn's loss on HalfCheetah); used instead of
            `default_config` when set.
        expert_block: dataset name -> N, the expert trajectories its reference adds to
            the offline data (RunSettings.expert_block; ORIL's and SMODICE's script: 200,
            walker2d 100).
        config_file: its config file under configs/, or a path (`--config.<field>=...`
            alone loads it); default '<name>_config.py'.
    """

    name: str
    default_config: Callable[[domains.Domain], ml_collections.ConfigDict]
    create: Callable[[int, Dataset, Dict[str, Any], int], Any]
    update_n: Callable
    act: Callable[[Any, jax.Array], jax.Array]
    true_reward: Callable[[domains.Domain], Tuple[str, float]]
    batch_size: int = 256
    labellers: Optional[Tuple[str, ...]] = None
    learns_from_demos: bool = False
    make_data: Optional[Callable[[Dataset, Optional[Dataset], Dict[str, Any]], Any]] = None
    config_rules: Optional[rules.Rules] = None
    env_config: Optional[Callable[[str], ml_collections.ConfigDict]] = None
    expert_block: Callable[[str], int] = lambda env_name: 0
    config_file: str = ""

    def __post_init__(self):
        if not self.config_file:
            object.__setattr__(self, "config_file", f"{self.name}_config.py")

    def policy(self, agent) -> JaxPolicy:
        """Batched deterministic policy of one agent: (E, obs_dim) -> (E, act_dim)."""
        return JaxPolicy(self.act, agent)

    def stacked_policy(self, agents) -> JaxPolicy:
        """One call for S stacked agents (leading axis S): (S * E, obs_dim), run s's envs in
        rows s * E to (s + 1) * E, -> (S * E, act_dim)."""
        return JaxPolicy(_stacked(self.act), agents)


@functools.lru_cache(maxsize=None)
def _stacked(act: Callable) -> Callable:
    """(stacked agents, obs (S * E, obs_dim)) -> actions: `act` vmapped over the S agents."""
    def fn(agents, obs):
        num = jax.tree_util.tree_leaves(agents)[0].shape[0]
        actions = jax.vmap(act)(agents, obs.reshape(num, -1, obs.shape[-1]))
        return actions.reshape(obs.shape[0], -1)
    return fn


def iql_act(agent: iql.IQLAgent, observations: jax.Array) -> jax.Array:
    return iql.eval_actions(agent.actor, observations)


def default_data(dataset: Dataset, expert_data: Optional[Dataset], config) -> Any:
    """The dataset on the device; with `expert_data`, both side by side (SQIL's MixedBatch)."""
    del config
    return to_device(dataset) if expert_data is None else MixedBatch(to_device(dataset),
                                                                     to_device(expert_data))


def demo_data(union: Dataset, expert: Dataset, config) -> DemoData:
    """DemoData of the union and the demonstrations (with absorbing states already added
    by the runner where the config says `absorbing`)."""
    del config
    return DemoData(to_device(union), to_device(expert), jnp.asarray(initial_observations(union)))


def state_statistics(observations: np.ndarray, absorbing: bool, eps: float
                     ) -> Tuple[np.ndarray, np.ndarray]:
    """Mean and std + eps of the real states' own dims: with `absorbing`, the rows that are
    not the absorbing state, without the indicator column (which stays unscaled)."""
    return td3bc.state_statistics(real_states(observations, absorbing), eps=eps)


def smodice_expert_block(env_name: str) -> int:
    """SMODICE's script (run_oil_observations.py): 200 expert-v2 trajectories, 100 on walker2d."""
    return 100 if "walker2d" in env_name else 200


# Where each imitation learner takes its state statistics, as its reference code does:
# SMODICE the union; DemoDICE its "imperfect" set (`normalize_over`: the union without the
# demonstrations, or the union); ValueDICE the demonstrations; IQ-Learn none.
_STATS = {"smodice": "union", "demodice": "config", "valuedice": "expert", "iqlearn": None}
_IMITATION_MODULES = {"smodice": smodice, "demodice": demodice, "valuedice": valuedice,
                      "iqlearn": iqlearn}


def _create_imitation(name: str):
    module = _IMITATION_MODULES[name]

    def create(seed, union: Dataset, config, max_steps, expert_data: Optional[Dataset] = None):
        del max_steps  # constant learning rates
        cfg = dict(config)
        eps = cfg.pop("normalize_eps", None)
        absorbing = bool(cfg.get("absorbing", False))
        where = _STATS[name]
        if where == "config":
            where = cfg.pop("normalize_over")
        source = {"union": union.observations, "expert": expert_data.observations,
                  # the union is dataset + demonstrations, the demonstrations last
                  "imperfect": union.observations[:union.size - expert_data.size]}.get(where)
        real_dim = union.obs_dim - (1 if absorbing else 0)
        if source is None:
            mean, std = np.zeros(real_dim, np.float32), np.ones(real_dim, np.float32)
        else:
            mean, std = state_statistics(source, absorbing, eps)
        return module.create(seed, union.obs_dim, union.act_dim, mean, std, cfg)

    return create


def _create_iql(seed, dataset: Dataset, config, max_steps, expert_data=None):
    return iql.create_from_config(seed, jnp.asarray(dataset.observations[:1]),
                                  jnp.asarray(dataset.actions[:1]), config, max_steps=max_steps)


def _create_td3bc(seed, dataset: Dataset, config, max_steps, expert_data=None):
    stats = real_states(dataset.observations, bool(config.get("absorbing", False)))
    return td3bc.create_from_config(seed, jnp.asarray(dataset.observations[:1]),
                                    jnp.asarray(dataset.actions[:1]), config, max_steps,
                                    all_observations=stats)


# How the runner's absorbing rows act ('terminal': their terminal's action; 'zeros_random':
# ValueDICE's code, zeros on the demonstrations and uniform random on the union).
ABSORBING_ACTIONS = ("terminal", "zeros_random")

# The learners' config fields that can be wrong (a field a config lacks is not checked).
_SHARED_RULES = {"discount": rules.within(0.0, 1.0), "tau": rules.within(0.0, 1.0, open_low=True),
                 "hidden_dims": rules.sizes(), "normalize_eps": rules.non_negative(),
                 **{lr: rules.positive() for lr in ("actor_lr", "critic_lr", "value_lr", "nu_lr",
                                                    "alpha_lr", "cost_lr")}}
IQL_RULES = {**_SHARED_RULES, "expectile": rules.within(0.0, 1.0, open_low=True, open_high=True),
             "temperature": rules.non_negative(),  # 0: every weight 1, behaviour cloning
             "dropout_rate": (lambda v: v is None or rules.within(0.0, 1.0, open_high=True)[0](v),
                              "None or a number in [0.0, 1.0)"),
             "opt_decay_schedule": rules.one_of(iql.DECAY_SCHEDULES)}
TD3BC_RULES = {**_SHARED_RULES, "alpha": rules.non_negative(), "policy_freq": rules.positive(),
               "policy_noise": rules.non_negative(), "noise_clip": rules.non_negative(),
               "max_action": rules.positive(), "normalize_states": rules.boolean(),
               "absorbing": rules.boolean()}
IMITATION_RULES = {**_SHARED_RULES, "temperature": rules.positive(), "alpha": rules.non_negative(),
                   "nu_gp_weight": rules.non_negative(), "cost_gp_weight": rules.non_negative(),
                   "absorbing": rules.boolean(), "mean_clip": rules.positive(),
                   "log_prob_eps": rules.positive(), "value_weight_decay": rules.non_negative(),
                   "f_divergence": rules.one_of(smodice.F_DIVERGENCES),
                   "orthogonal_weight": rules.non_negative(),
                   "replay_regularization": rules.within(0.0, 1.0),
                   "value_loss": rules.one_of(iqlearn.VALUE_LOSSES),
                   "chi2_rows": rules.one_of(iqlearn.CHI2_ROWS),
                   "chi2_weight": rules.non_negative(),
                   "actor_states": rules.one_of(iqlearn.ACTOR_STATES),
                   "absorbing_actions": rules.one_of(ABSORBING_ACTIONS),
                   "normalize_over": rules.one_of(("imperfect", "union"))}

AGENTS: Dict[str, AgentSpec] = {
    "iql": AgentSpec("iql", domains.iql_config, _create_iql, iql.jit_update_n, iql_act,
                     lambda d: (d.reward_scaling, d.reward_shift), config_rules=IQL_RULES),
    "td3bc": AgentSpec("td3bc", lambda d: td3bc_config.get_config(), _create_td3bc,
                       td3bc.jit_update_n, td3bc.eval_actions, lambda d: ("none", 0.0),
                       config_rules=TD3BC_RULES),
    # ORIL as SMODICE's script trains it (oril_pytorch.py): TD3+BC on the expert block and
    # the dataset, absorbing states, states standardised over them (std + 1e-10), batch 512.
    "oril": AgentSpec("oril", lambda d: oril_td3bc_config.get_config(), _create_td3bc,
                      td3bc.jit_update_n, td3bc.eval_actions, lambda d: ("none", 0.0),
                      batch_size=512, labellers=("oril",), config_rules=TD3BC_RULES,
                      expert_block=smodice_expert_block, config_file="oril_td3bc_config.py"),
}


def _imitation_spec(name: str, config_module, batch_size: int, labeller: str) -> AgentSpec:
    return AgentSpec(name, lambda d: config_module.get_config(), _create_imitation(name),
                     _IMITATION_MODULES[name].jit_update_n, imitation.eval_actions,
                     lambda d: ("none", 0.0), batch_size=batch_size, labellers=(labeller,),
                     learns_from_demos=True, make_data=demo_data, config_rules=IMITATION_RULES)


AGENTS.update({
    "smodice": dataclasses.replace(_imitation_spec("smodice", smodice_config, 512, "oril"),
                                   expert_block=smodice_expert_block),
    "demodice": _imitation_spec("demodice", demodice_config, 512, "none"),
    "valuedice": _imitation_spec("valuedice", valuedice_config, 256, "none"),
    "iqlearn": dataclasses.replace(_imitation_spec("iqlearn", iqlearn_config, 256, "none"),
                                   env_config=iqlearn_config.get_config),
})
IMITATION_AGENTS = tuple(n for n, spec in AGENTS.items() if spec.learns_from_demos)


def register(spec: AgentSpec) -> None:
    """Add a learner under `spec.name` (`--agent=<name>`; see experiments/plugins.py)."""
    if spec.name in AGENTS:
        raise ValueError(f"a learner named {spec.name!r} is already registered.")
    AGENTS[spec.name] = spec
