"""The baselines' data set up as their reference scripts set it up: the expert block of
ORIL and SMODICE (SMODICE's run_oil_observations.py), absorbing states before the
labeller (the discriminator scores absorbing rows), ORIL's learner, DemoDICE's and
ValueDICE's details, IQ-Learn's per-env loss; each default pinned to the original's value."""

import dataclasses
from pathlib import Path

import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from clue_jax.agents import td3bc
from clue_jax.data.dataset import (add_absorbing_states, concatenate, make_dataset, real_rows,
                                   trajectory_bounds)
from clue_jax.data.experts import ExpertSelection
from clue_jax.envs import registry
from clue_jax.experiments import agents, domains, runner
from clue_jax.experiments import plan as plan_lib
from clue_jax.experiments.settings import RunSettings, SettingsError
from clue_jax.rewards import labellers, oril
from clue_jax.rewards.base import Labeller, Labels
from configs import (demodice_config, iqlearn_config, oril_config, oril_td3bc_config,
                     smodice_config, td3bc_config, valuedice_config)


def plan_of(settings: RunSettings, run_dir=None):
    """The settings' plan (run folder `run_dir` where given)."""
    plan = plan_lib.make_plan(settings)
    return dataclasses.replace(plan, run_dir=Path(run_dir)) if run_dir else plan


def episodes(lengths, obs_dim=2, offset=0.0, terminal_last=None, act=0.25):
    """Consecutive episodes of the given lengths; `terminal_last[i]` ends episode i in a
    terminal (else a time-limit end, an observation gap)."""
    obs, nxt, term = [], [], []
    for i, n in enumerate(lengths):
        o = offset + 10.0 * i + np.arange(n + 1, dtype=np.float32)[:, None] * np.ones(obs_dim)
        obs.append(o[:-1])
        nxt.append(o[1:])
        t = np.zeros(n, np.float32)
        t[-1] = 1.0 if terminal_last and terminal_last[i] else 0.0
        term.append(t)
    obs, nxt = np.concatenate(obs), np.concatenate(nxt)
    return make_dataset(obs, np.full((len(obs), 1), act, np.float32),
                        np.arange(len(obs), dtype=np.float32), np.concatenate(term), nxt)


# ----------------------------------------------------------------------------- defaults


def test_defaults_are_the_reference_scripts():
    assert agents.smodice_expert_block("gen-hopper-medium-v0") == 200
    assert agents.smodice_expert_block("gen-halfcheetah-medium-v0") == 200
    assert agents.smodice_expert_block("walker2d-medium-v2") == 100
    for name in ("oril", "smodice"):
        assert agents.AGENTS[name].expert_block is agents.smodice_expert_block
    for name in ("iql", "td3bc", "demodice", "valuedice", "iqlearn"):
        assert agents.AGENTS[name].expert_block("gen-hopper-medium-v0") == 0
    assert oril_config.get_config().absorbing is True
    learner = oril_td3bc_config.get_config()
    assert learner.absorbing is True and learner.normalize_eps == 1e-10
    assert agents.AGENTS["oril"].batch_size == 512
    assert agents.AGENTS["oril"].labellers == ("oril",)
    plain = td3bc_config.get_config()
    assert plain.absorbing is False and plain.normalize_eps == 1e-3
    assert {k: v for k, v in learner.items() if k not in ("absorbing", "normalize_eps")} == \
        {k: v for k, v in plain.items() if k not in ("absorbing", "normalize_eps")}
    assert demodice_config.get_config().normalize_over == "imperfect"
    assert valuedice_config.get_config().absorbing_actions == "zeros_random"
    assert "absorbing_actions" not in smodice_config.get_config()  # terminal's action
    assert iqlearn_config.get_config("gen-halfcheetah-medium-v0").value_loss == "value"
    assert iqlearn_config.get_config("halfcheetah-medium-v2").value_loss == "value"
    for env in ("gen-hopper-medium-v0", "walker2d-medium-v2", ""):
        assert iqlearn_config.get_config(env).value_loss == "v0"


def test_iqlearn_config_follows_the_dataset_name():
    domain = domains.DOMAINS["gen-locomotion"]
    for env, loss in (("gen-halfcheetah-medium-v0", "value"), ("gen-hopper-medium-v0", "v0")):
        settings = RunSettings(env_name=env, agent="iqlearn", labeller="none",
                               setting="imitation")
        assert plan_lib.resolved_agent_config(settings, domain).value_loss == loss
    given = RunSettings(env_name="gen-halfcheetah-medium-v0", agent="iqlearn", labeller="none",
                        setting="imitation", agent_config=iqlearn_config.get_config("x"))
    assert plan_lib.resolved_agent_config(given, domain).value_loss == "v0"  # a given config wins


def test_expert_sources():
    assert domains.expert_source("gen-hopper-medium-v0") == "gen-hopper-expert-v0"
    assert domains.expert_source("gen-walker2d-medium-replay-v0") == "gen-walker2d-expert-v0"
    assert domains.expert_source("halfcheetah-medium-v2") == "halfcheetah-expert-v2"
    assert domains.expert_source("gen-pointmaze-umaze-diverse-v0") is None
    assert domains.expert_source("antmaze-large-play-v2") is None


# ----------------------------------------------------------------------------- absorbing


def test_absorbing_actions_and_real_rows():
    data = episodes([3, 2], terminal_last=[True, True])
    rng = np.random.default_rng(0)
    zeros = add_absorbing_states(data, "zeros")
    rand = add_absorbing_states(data, "random", rng)
    term = add_absorbing_states(data)
    extra = ~real_rows(term.observations)
    assert extra.sum() == 2 and list(np.flatnonzero(extra)) == [3, 6]
    np.testing.assert_array_equal(term.actions[extra], [[0.25], [0.25]])
    np.testing.assert_array_equal(zeros.actions[extra], [[0.0], [0.0]])
    assert np.all(np.abs(rand.actions[extra]) <= 1.0) and not np.allclose(rand.actions[extra], 0.25)
    for out in (zeros, rand):  # only the absorbing rows' actions differ
        np.testing.assert_array_equal(out.actions[~extra], term.actions[~extra])
        np.testing.assert_array_equal(out.observations, term.observations)
    with pytest.raises(ValueError, match="rng"):
        add_absorbing_states(data, "random")


# ----------------------------------------------------------------------------- the expert block


class FakeTask:
    def __init__(self, env_name, dataset):
        self.env_name, self.dataset = env_name, dataset
        self.spec = registry.get_spec(env_name)
        self.domain = domains.domain_of(self.spec)


@pytest.fixture
def expert_file(monkeypatch):
    """gen-hopper-expert-v0 stood in for by 6 short episodes (lengths 4..9); the loads
    it serves are recorded."""
    source = episodes([4, 5, 6, 7, 8, 9], obs_dim=11, offset=1000.0)
    loads = []

    def load(name, **kwargs):
        loads.append(name)
        assert name == "gen-hopper-expert-v0"
        return source
    monkeypatch.setattr(domains, "load_dataset", load)
    return source, loads


def test_expert_block_takes_the_first_n_minus_k_trajectories(expert_file):
    source, loads = expert_file
    demos = episodes([3, 3], obs_dim=11)  # K = 2
    task = FakeTask("gen-hopper-medium-v0", episodes([5], obs_dim=11))
    settings = RunSettings(env_name=task.env_name, agent="smodice", labeller="oril",
                           setting="imitation", num_expert=2, expert_block=5)
    block = runner.expert_block(plan_of(settings), task, demos)
    assert block.size == 4 + 5 + 6  # 5 - 2 = 3 trajectories
    np.testing.assert_array_equal(block.observations, source.observations[:15])
    assert len(trajectory_bounds(block.dones_float)[0]) == 3
    # N <= K: the demonstrations are the whole block; N = 0: the dataset alone (no load)
    loads.clear()
    for n in (0, 1, 2):
        assert runner.expert_block(plan_of(dataclasses.replace(settings, expert_block=n)), task,
                                   demos) is None
    assert loads == []
    with pytest.raises(SettingsError, match="holds 6 trajectories"):
        runner.expert_block(plan_of(dataclasses.replace(settings, expert_block=9)), task, demos)
    # the learner's default: SMODICE's script, 200 (more than this stand-in holds)
    with pytest.raises(SettingsError, match="--expert_block=200"):
        runner.expert_block(plan_of(dataclasses.replace(settings, expert_block=None)), task, demos)
    # learners without a block, and envs without an expert dataset
    iqlearn = RunSettings(env_name=task.env_name, agent="iqlearn", labeller="none",
                          setting="imitation")
    assert runner.expert_block(plan_of(iqlearn), task, demos) is None
    maze = FakeTask("gen-pointmaze-umaze-diverse-v0", episodes([5], obs_dim=4))
    maze_settings = RunSettings(env_name=maze.env_name, agent="smodice", labeller="oril",
                                setting="imitation")
    assert runner.expert_block(plan_of(maze_settings), maze, episodes([3], obs_dim=4)) is None
    with pytest.raises(SettingsError, match="no expert dataset"):
        plan_of(dataclasses.replace(maze_settings, expert_block=3))  # refused by its plan


@pytest.fixture
def recording_labeller(monkeypatch):
    """The oril labeller replaced by one that records its requests and gives reward 1
    (2 on absorbing rows)."""
    requests = []

    def label(request):
        requests.append(request)
        rewards = np.ones(request.dataset.size, np.float32)
        if request.absorbing:
            rewards[~real_rows(request.dataset.observations)] = 2.0
        return Labels(rewards, {})
    fake = Labeller("oril", True, lambda d: oril_config.get_config(), label)
    monkeypatch.setitem(labellers.LABELLERS, "oril", fake)
    return requests


@pytest.mark.parametrize("agent", ["oril", "smodice"])
def test_oril_and_smodice_train_on_dataset_demos_and_block_with_absorbing_rows(
        agent, expert_file, recording_labeller, tmp_path):
    source, _ = expert_file
    dataset = episodes([5, 4], obs_dim=11, offset=500.0, terminal_last=[True, False])
    demos = episodes([3], obs_dim=11, offset=-50.0)
    task = FakeTask("gen-hopper-medium-v0", dataset)
    settings = RunSettings(env_name=task.env_name, agent=agent, labeller="oril",
                           setting="imitation", num_expert=1, expert_block=3, seed=3)
    selection = ExpertSelection(demos, np.array([[0, 3]]), "one demo")
    (data, agent_demos, labels), = runner.label_seeds(
        [plan_of(settings, tmp_path)], task, dataset, [selection], dataset.rewards)
    request, = recording_labeller
    # the labeller saw: dataset + demonstration + 2 expert trajectories, absorbing-augmented
    plain = concatenate([dataset, demos, source.select(np.arange(4 + 5))])
    assert request.absorbing
    np.testing.assert_array_equal(request.dataset.observations,
                                  add_absorbing_states(plain).observations)
    np.testing.assert_array_equal(request.expert.observations,
                                  add_absorbing_states(demos).observations)
    assert data.size == plain.size + 1  # one terminal in the dataset
    assert data.obs_dim == 12
    np.testing.assert_array_equal(data.rewards[~real_rows(data.observations)], [2.0])
    if agent == "smodice":  # it samples the demonstrations too
        np.testing.assert_array_equal(agent_demos.observations,
                                      add_absorbing_states(demos).observations)
    else:
        assert agent_demos is None
    # the learner built on it: statistics of the real states, the indicator kept
    config = plan_lib.resolved_agent_config(settings, task.domain).to_dict()
    built = agents.AGENTS[agent].create(0, data, config, 10, agent_demos)
    real = data.observations[real_rows(data.observations), :-1].astype(np.float64)
    np.testing.assert_allclose(built.obs_mean, real.mean(0), rtol=1e-6)
    eps = 1e-10
    np.testing.assert_allclose(built.obs_std, real.std(0) + eps, rtol=1e-6)


def test_dataset_only_setups_see_no_block(expert_file, recording_labeller, tmp_path):
    _, loads = expert_file
    dataset = episodes([5], obs_dim=11)
    demos = episodes([3], obs_dim=11, offset=-50.0)
    task = FakeTask("gen-hopper-medium-v0", dataset)
    selection = ExpertSelection(demos, np.array([[0, 3]]), "one demo")
    td3 = RunSettings(env_name=task.env_name, agent="td3bc", labeller="oril",
                      setting="imitation")
    (data, demo_out, _), = runner.label_seeds([plan_of(td3, tmp_path)], task, dataset,
                                              [selection], None)
    assert data.size == dataset.size and data.obs_dim == 11 and demo_out is None
    smodice = RunSettings(env_name=task.env_name, agent="smodice", labeller="oril",
                          setting="imitation", expert_block=0)
    (data, _, _), = runner.label_seeds([plan_of(smodice, tmp_path)], task, dataset, [selection],
                                       None)
    assert data.size == dataset.size + demos.size  # the union, as before the block
    assert loads == []


def test_a_true_reward_run_takes_the_first_n_trajectories_as_its_block(expert_file, tmp_path):
    """--expert_block without demonstrations (the true rewards, e.g. ORIL's learner set up
    as its reference on the dataset's own rewards): the block is the first N trajectories,
    with their own rewards, absorbing-augmented as the learner's config says."""
    source, loads = expert_file
    dataset = episodes([5, 4], obs_dim=11, offset=500.0, terminal_last=[True, False])
    task = FakeTask("gen-hopper-medium-v0", dataset)
    settings = RunSettings(env_name=task.env_name, agent="td3bc", labeller="true",
                           setting="sparse", expert_block=2,
                           agent_config=oril_td3bc_config.get_config())
    (data, demo_out, _), = runner.label_seeds([plan_of(settings, tmp_path)], task, dataset,
                                              [None], dataset.rewards)
    plain = concatenate([dataset, source.select(np.arange(4 + 5))])
    assert loads == ["gen-hopper-expert-v0"] and demo_out is None
    np.testing.assert_array_equal(data.observations, add_absorbing_states(plain).observations)
    real = real_rows(data.observations)
    np.testing.assert_array_equal(data.rewards[real], plain.rewards)
    with pytest.raises(SettingsError, match="holds 6 trajectories, 9 are needed;"):
        runner.expert_block(plan_of(dataclasses.replace(settings, expert_block=9)), task, None)
    # with the default (no block for TD3+BC), the dataset alone
    (data, _, _), = runner.label_seeds(
        [plan_of(dataclasses.replace(settings, expert_block=None), tmp_path)], task, dataset,
        [None], dataset.rewards)
    assert data.size == add_absorbing_states(dataset).size


# ----------------------------------------------------------------------------- the discriminator


ORIL_SMALL = dict(iterations=20, batch_size=8)


def small_config(**changes):
    config = oril_config.get_config()
    config.update(ORIL_SMALL)
    config.update(changes)
    return config


def test_discriminator_sees_the_indicator_and_scores_absorbing_rows():
    rng = np.random.default_rng(0)
    data = make_dataset(rng.normal(size=(40, 3)), rng.uniform(-1, 1, (40, 2)), np.zeros(40),
                        (np.arange(40) % 10 == 9).astype(np.float32), rng.normal(size=(40, 3)))
    expert = rng.normal(1.0, 1.0, (12, 3)).astype(np.float32)
    widened = add_absorbing_states(data)
    expert_w = np.concatenate([expert, np.zeros((12, 1), np.float32)], 1)
    mean = np.ones(3, np.float32)
    x = oril.discriminator_inputs(widened.observations, mean, np.ones(3, np.float32), True, True)
    real = real_rows(widened.observations)
    np.testing.assert_array_equal(x[~real], np.tile([0.0, 0.0, 0.0, 1.0], (4, 1)))
    np.testing.assert_allclose(x[real, :3], widened.observations[real, :3] - 1.0)
    assert np.all(x[real, 3] == 0.0)
    rewards, info = oril.oril_rewards(widened.observations, expert_w, small_config(), 0,
                                      data_absorbing=True)
    assert np.all(rewards[~real] == info["absorbing_reward"]) and rewards[~real][0] != 0.0
    # without the indicator: the discriminator of the dataset-only set-up, bit for bit,
    # and absorbing rows get 0
    old, _ = oril.oril_rewards(data.observations, expert, small_config(absorbing=False), 0)
    new, _ = oril.oril_rewards(widened.observations, expert_w, small_config(absorbing=False), 0,
                               data_absorbing=True)
    np.testing.assert_array_equal(new[real], old)
    assert np.all(new[~real] == 0.0)


# ----------------------------------------------------------------------------- learners


def test_td3bc_with_absorbing_states_keeps_the_indicator():
    obs = jnp.array([[1.0, 3.0, 0.0], [0.0, 0.0, 1.0]])
    agent = td3bc.create(0, obs[:1], jnp.zeros((1, 2)), obs_mean=np.array([1.0, 1.0]),
                         obs_std=np.array([2.0, 2.0]), absorbing=True)
    np.testing.assert_allclose(td3bc.normalize(agent, obs), [[0.0, 1.0, 0.0], [-0.5, -0.5, 1.0]])
    env_obs = jnp.array([[1.0, 3.0]])  # the env's observation gets a 0 indicator
    actions = agent.actor.apply_fn({"params": agent.actor.params},
                                   jnp.array([[0.0, 1.0, 0.0]]))
    np.testing.assert_allclose(td3bc.eval_actions(agent, env_obs), actions, rtol=1e-6)


def test_demodice_statistics_over_the_imperfect_set():
    dataset = episodes([6, 5], obs_dim=3)
    demos = episodes([4], obs_dim=3, offset=100.0)
    union = concatenate([dataset, demos])
    config = demodice_config.get_config().to_dict()
    agent = agents.AGENTS["demodice"].create(0, union, config, 10, demos)
    np.testing.assert_allclose(agent.obs_mean, dataset.observations.mean(0), rtol=1e-6)
    config["normalize_over"] = "union"
    agent = agents.AGENTS["demodice"].create(0, union, config, 10, demos)
    np.testing.assert_allclose(agent.obs_mean, union.observations.mean(0), rtol=1e-6)


def test_valuedice_absorbing_rows_act_as_its_code(recording_labeller, tmp_path, monkeypatch):
    none = Labeller("none", False, lambda d: ml_collections.ConfigDict(),
                    lambda r: Labels(np.zeros(r.dataset.size, np.float32), {}))
    monkeypatch.setitem(labellers.LABELLERS, "none", none)
    dataset = episodes([5], obs_dim=11, terminal_last=[True])
    demos = episodes([3], obs_dim=11, offset=-50.0, terminal_last=[True])
    task = FakeTask("gen-hopper-medium-v0", dataset)
    settings = RunSettings(env_name=task.env_name, agent="valuedice", labeller="none",
                           setting="imitation")
    selection = ExpertSelection(demos, np.array([[0, 3]]), "one demo")
    (data, demo_out, _), = runner.label_seeds([plan_of(settings, tmp_path)], task, dataset,
                                              [selection], None)
    np.testing.assert_array_equal(demo_out.actions[~real_rows(demo_out.observations)], [[0.0]])
    union_absorbing = data.actions[~real_rows(data.observations)]
    assert union_absorbing.shape == (2, 1) and np.all(np.abs(union_absorbing) <= 1.0)
    assert not np.any(union_absorbing == 0.25)


def test_command_lines_take_the_learners_own_labeller_and_env_config():
    from clue_jax.experiments import flags as run_flags
    oril = run_flags.parse_settings(["train_iql.py", "--agent=oril", "--setting=imitation",
                                     "--oril_config.absorbing=False", "--expert_block=50"])
    assert oril.labeller == "oril" and oril.labeller_config.absorbing is False
    assert oril.expert_block == 50
    assert run_flags.parse_settings(["train_iql.py", "--agent=td3bc"]).labeller == "true"
    assert run_flags.parse_settings(["train_iql.py", "--agent=smodice",
                                     "--labeller=oril"]).labeller == "oril"
    # a config field given alone loads the env's config file: HalfCheetah's loss stays 'value'
    cheetah = run_flags.parse_settings(["train_iql.py", "--agent=iqlearn", "--labeller=none",
                                        "--env_name=gen-halfcheetah-medium-v0",
                                        "--config.actor_lr=0.0001"])
    assert cheetah.agent_config.value_loss == "value" and cheetah.agent_config.actor_lr == 1e-4
    hopper = run_flags.parse_settings(["train_iql.py", "--agent=iqlearn", "--labeller=none",
                                       "--env_name=gen-hopper-medium-v0",
                                       "--config.actor_lr=0.0001"])
    assert hopper.agent_config.value_loss == "v0"
