"""The labeller seam and the experiment layer: one agent code path for every labeller."""

import json
import subprocess
import sys

import ml_collections
import numpy as np
import pytest

from clue_jax import experiments
from clue_jax.data import experts
from clue_jax.data.dataset import Dataset, DatasetError
from clue_jax.experiments import RunSettings, domains, runner
from clue_jax.experiments.settings import SettingsError
from clue_jax.generation import generated
from clue_jax.rewards import labellers
from configs import antmaze_config, clue_config, otr_config, td3bc_config

ENV = "gen-pointmaze-umaze-diverse-v0"


@pytest.fixture(scope="module")
def maze_file(tmp_path_factory):
    return generated.ensure_generated(ENV, cache_dir=str(tmp_path_factory.mktemp("data")),
                                      size=3000, seed=0)


def tiny_settings(maze_file, save_dir, labeller, **kw):
    iql = kw.pop("agent_config", antmaze_config.get_config())
    iql.hidden_dims = (8, 8)
    cfg = {"clue": clue_config.get_config("pointmaze"), "otr": otr_config.get_config("pointmaze")}
    labeller_config = cfg.get(labeller)
    if labeller == "clue":
        labeller_config.hidden_dims, labeller_config.num_steps = (8, 8), 50
    return RunSettings(env_name=ENV, labeller=labeller, dataset_path=maze_file, seed=3,
                       save_dir=str(save_dir), max_steps=20, log_interval=10, eval_interval=10,
                       eval_episodes=0, batch_size=16, progress=False, agent_config=iql,
                       labeller_config=labeller_config, **kw)


@pytest.mark.slow
def test_every_labeller_feeds_the_same_agent_code_path(maze_file, tmp_path, monkeypatch):
    seen = {}
    real = runner.train_agents

    def spy(datasets, env_name, agent, config, loops, run_dirs, eval_episodes, expert_datas,
            **kw):
        assert expert_datas == [None]  # only SQIL adds a second source
        seen[run_dirs[0].parts[-3]] = datasets[0]
        return real(datasets, env_name, agent, config, loops, run_dirs, eval_episodes,
                    expert_datas, **kw)

    monkeypatch.setattr(runner, "train_agents", spy)
    for name in ("true", "clue", "otr"):
        experiments.run(tiny_settings(maze_file, tmp_path, name))
    assert sorted(seen) == ["clue-sparse-K1", "iql-true", "otr-sparse-K1"]
    base = seen["iql-true"]
    for method, data in seen.items():  # only the rewards differ
        for field in ("observations", "actions", "masks", "dones_float", "next_observations"):
            np.testing.assert_array_equal(getattr(data, field), getattr(base, field))
        if method != "iql-true":
            with np.load(tmp_path / method / ENV / "seed_3" / "rewards.npz") as f:
                np.testing.assert_array_equal(data.rewards, f["rewards"])
            assert not np.array_equal(data.rewards, base.rewards)
    np.testing.assert_array_equal(base.rewards, experiments.load_dataset(
        ENV, dataset_path=maze_file).rewards - 1.0)  # true: the reference's r - 1 here
    otr_rewards = seen["otr-sparse-K1"].rewards
    assert otr_rewards.max() <= 1000 + 1e-3 and otr_rewards.min() > -2.0 - 1e-6
    results = json.loads((tmp_path / "otr-sparse-K1" / ENV / "seed_3" / "results.json").read_text())
    assert results["labeller"] == "otr" and results["method"] == "otr-sparse-K1"


def test_constant_labeller_keeps_only_the_terminals(maze_file, tmp_path, monkeypatch):
    """'constant': value 0 plus the domain's shift on every row (mazes: -1, as the true
    rewards' r - 1 away from the goal); the data, masks included, are the true run's."""
    seen = {}
    real = runner.train_agents

    def spy(datasets, *args, **kw):
        seen["data"] = datasets[0]
        return real(datasets, *args, **kw)

    monkeypatch.setattr(runner, "train_agents", spy)
    experiments.run(tiny_settings(maze_file, tmp_path, "constant"))
    data, truth = seen["data"], experiments.load_dataset(ENV, dataset_path=maze_file)
    np.testing.assert_array_equal(data.rewards, np.full(truth.size, -1.0, np.float32))
    assert data.masks.min() == 0.0  # the goal rows' terminals stay
    results = json.loads((tmp_path / "constant-sparse-K1" / ENV / "seed_3" / "results.json")
                         .read_text())
    assert results["labeller"] == "constant" and results["labels"]["reward_mean"] == -1.0
    locomotion = labellers.get_labeller("constant").default_config(domains.DOMAINS["locomotion"])
    assert float(locomotion.value) + float(locomotion.reward_shift) == 0.0


def test_constant_value_is_a_flag_and_keeps_the_domains_shift(maze_file, tmp_path):
    """--constant_config.value sets the level; the shift stays the dataset domain's (mazes -1,
    locomotion 0) unless --constant_config.reward_shift or the file's key says otherwise."""
    from clue_jax.experiments import flags as run_flags

    def resolved(*argv):
        settings = run_flags.parse_settings(["train_iql.py", "--labeller=constant", *argv])
        config = experiments.make_plan(settings).labeller_config
        return float(config.value), float(config.reward_shift), settings

    assert resolved(f"--env_name={ENV}", "--constant_config.value=0.5")[:2] == (0.5, -1.0)
    assert resolved("--env_name=gen-hopper-medium-v0", "--constant_config.value=2")[:2] == (2.0, 0.0)
    assert resolved(f"--env_name={ENV}", "--constant_config.reward_shift=0")[:2] == (0.0, 0.0)
    assert resolved(f"--env_name={ENV}", "--constant_config=configs/constant_config.py:-2")[:2] \
        == (0.0, -2.0)
    _, _, settings = resolved(f"--env_name={ENV}", "--constant_config.value=0.5",
                              f"--dataset_path={maze_file}", f"--save_dir={tmp_path}",
                              "--seed=3", "--max_steps=20", "--log_interval=10",
                              "--eval_interval=10", "--eval_episodes=0", "--batch_size=16",
                              "--notqdm", "--tag=half", "--config.hidden_dims=(8,8)")
    experiments.run(settings)
    results = json.loads((tmp_path / "constant-sparse-K1-half" / ENV / "seed_3" / "results.json")
                         .read_text())
    assert results["labels"]["reward_mean"] == -0.5
    with pytest.raises(SettingsError, match="--constant_config.*value.*finite"):
        resolved(f"--env_name={ENV}", "--constant_config.value=nan")


def _control_runs(maze_file, tmp_path, monkeypatch, labeller, field):
    """CLUE's runs of seeds 3 and 4 under tmp_path/src, then `labeller`'s (a control) with its
    `field` naming them per seed ({task}/{seed}), seeds vmapped together: the rewards each
    control run's learner got, its settings and config."""
    import dataclasses
    experiments.run_seeds(tiny_settings(maze_file, tmp_path / "src", "clue"), [3, 4])
    seen = []
    real = runner.train_agents

    def spy(datasets, *args, **kw):
        seen.extend(np.asarray(d.rewards) for d in datasets)
        return real(datasets, *args, **kw)

    monkeypatch.setattr(runner, "train_agents", spy)
    config = labellers.get_labeller(labeller).default_config(domains.DOMAINS["gen-pointmaze"])
    config[field] = str(tmp_path / "src" / "clue-sparse-K1" / "{task}" / "seed_{seed}")
    settings = dataclasses.replace(tiny_settings(maze_file, tmp_path / "c", labeller),
                                   labeller_config=config)
    experiments.run_seeds(settings, [3, 4])
    return seen, settings, config


def _source_rewards(tmp_path, seed):
    path = tmp_path / "src" / "clue-sparse-K1" / ENV / f"seed_{seed}" / "rewards.npz"
    with np.load(path) as f:
        return np.asarray(f["rewards"]), path


def _control_labels(tmp_path, method, seed):
    return json.loads((tmp_path / "c" / method / ENV / f"seed_{seed}" / "results.json")
                      .read_text())["labels"]


def test_constant_level_from_reads_each_seeds_own_run(maze_file, tmp_path, monkeypatch):
    """--constant_config.level_from: the constant is the named run's mean reward as its
    learner saw it (rewards.npz, or results.json for a labeller that saves none), {task} and
    {seed} filled per run, seeds vmapped together each with its own source."""
    import dataclasses
    seen, constant, config = _control_runs(maze_file, tmp_path, monkeypatch, "constant",
                                           "level_from")
    expected = []
    for seed, rewards in zip((3, 4), seen):
        source, path = _source_rewards(tmp_path, seed)
        expected.append(float(source.astype(np.float64).mean()))
        labels = _control_labels(tmp_path, "constant-sparse-K1", seed)
        assert labels["reward_mean"] == expected[-1] and labels["level_from"] == str(path)
        assert np.all(rewards == rewards[0])  # one value on every row
        np.testing.assert_allclose(rewards, expected[-1], atol=1e-6)
    assert expected[0] != expected[1] and expected[0] != -1.0  # two levels, not the default
    true_run = dataclasses.replace(tiny_settings(maze_file, tmp_path / "src", "true"), seed=5)
    experiments.run(true_run)
    config.level_from = str(tmp_path / "src" / "iql-true" / ENV / "seed_5")  # no rewards.npz
    experiments.run(dataclasses.replace(constant, seed=5, labeller_config=config))
    truth = json.loads((tmp_path / "src" / "iql-true" / ENV / "seed_5" / "results.json")
                       .read_text())["labels"]["reward_mean"]
    assert seen[-1][0] == pytest.approx(truth) and truth != -1.0


def test_shuffled_permutes_each_seeds_own_run(maze_file, tmp_path, monkeypatch):
    """--labeller=shuffled: the named run's rewards (its rewards.npz), permuted over the rows
    with the run's seed ({task} and {seed} filled per run, seeds vmapped together), or with
    permutation_seed; the source and the seed recorded."""
    import dataclasses
    seen, shuffled, config = _control_runs(maze_file, tmp_path, monkeypatch, "shuffled",
                                           "rewards_from")
    for seed, rewards in zip((3, 4), seen):
        source, path = _source_rewards(tmp_path, seed)
        np.testing.assert_array_equal(
            rewards, source[np.random.default_rng(seed).permutation(source.size)])
        assert not np.array_equal(rewards, source)  # the same values, elsewhere
        labels = _control_labels(tmp_path, "shuffled-sparse-K1", seed)
        assert labels["rewards_from"] == str(path) and labels["permutation_seed"] == seed
        assert labels["reward_mean"] == pytest.approx(float(source.astype(np.float64).mean()))
    config.rewards_from = str(tmp_path / "src" / "clue-sparse-K1" / ENV / "seed_3")
    config.permutation_seed = 7
    experiments.run(dataclasses.replace(shuffled, seed=5, labeller_config=config))
    source, _ = _source_rewards(tmp_path, 3)
    np.testing.assert_array_equal(seen[-1], source[np.random.default_rng(7).permutation(source.size)])


def test_a_bad_rewards_from_is_refused_before_any_folder(maze_file, tmp_path):
    """No source named, a run without rewards.npz, another dataset's run, a bad permutation
    seed, or a run made from other transitions: one message naming the flag, no run folder."""
    import dataclasses
    from clue_jax.rewards.storage import RewardFileError
    experiments.run(tiny_settings(maze_file, tmp_path / "src", "true"))  # no rewards.npz
    experiments.run(tiny_settings(maze_file, tmp_path / "src", "clue"))
    true_run = tmp_path / "src" / "iql-true" / ENV / "seed_3"
    source = tmp_path / "src" / "clue-sparse-K1" / ENV / "seed_3"
    config = labellers.get_labeller("shuffled").default_config(domains.DOMAINS["gen-pointmaze"])

    def run(rewards_from, seed=-1, **kw):
        config.rewards_from, config.permutation_seed = str(rewards_from), seed
        experiments.run(dataclasses.replace(tiny_settings(maze_file, tmp_path / "s", "shuffled"),
                                            labeller_config=config, **kw))

    flag = "--shuffled_config.rewards_from"
    for rewards_from, kw, match in [
            ("", {}, f"{flag}: not set; name the run whose rewards to shuffle"),
            (true_run, {}, f"{flag}=.*seed_3: no rewards.npz there.*labeller \\('true'\\)"),
            (source, {"env_name": "gen-pointmaze-medium-diverse-v0"},
             f"{flag}=.*a run of gen-pointmaze-umaze-diverse-v0, and this run trains on")]:
        with pytest.raises(SettingsError, match=match):
            run(rewards_from, **kw)
    with pytest.raises(SettingsError, match="permutation_seed=-2: expected an integer >= 0"):
        run(source, seed=-2)
    record = json.loads((source / "config.json").read_text())
    record["provenance"]["data"]["sha256"] = "0" * 16
    (source / "config.json").write_text(json.dumps(record))
    with pytest.raises(RewardFileError, match=f"{flag}=.*other transitions of .*fingerprint 0000"):
        run(source)  # checked once the data is read, still before any folder
    assert not (tmp_path / "s").exists()


def test_a_bad_level_from_is_refused_before_any_folder(maze_file, tmp_path):
    """Another dataset's run, a seed without a run, an unknown placeholder, value set as well,
    a run without a level, or one made from other transitions: one message naming the flag,
    and no run folder."""
    import dataclasses
    from clue_jax.rewards.storage import RewardFileError
    experiments.run(tiny_settings(maze_file, tmp_path / "src", "constant"))
    source = tmp_path / "src" / "constant-sparse-K1" / ENV / "seed_3"
    config = labellers.get_labeller("constant").default_config(domains.DOMAINS["gen-pointmaze"])

    def run(level_from, value=0.0, **kw):
        config.level_from, config.value = str(level_from), value
        experiments.run(dataclasses.replace(tiny_settings(maze_file, tmp_path / "c", "constant"),
                                            labeller_config=config, **kw))

    cases = [(source, {"env_name": "gen-pointmaze-medium-diverse-v0"},
              "a run of gen-pointmaze-umaze-diverse-v0, and this run trains on gen-pointmaze-"),
             (str(source).replace("seed_3", "seed_{seed}"), {"seed": 4}, "seed_4: no such run"),
             (str(source).replace(ENV, "{env}"), {}, "{env}.*expected a run folder.*{task}"),
             (source.parent, {}, "not a run folder \\(no config.json\\)")]
    for level_from, kw, match in cases:
        with pytest.raises(SettingsError, match="--constant_config.level_from.*" + match):
            run(level_from, **kw)
    with pytest.raises(SettingsError, match="level_from and --constant_config.value=0.5 both"):
        run(source, value=0.5)
    results = source / "results.json"
    finished = results.read_text()
    results.write_text(json.dumps({"labels": {}}))
    with pytest.raises(SettingsError, match="no labels.reward_mean"):
        run(source)
    results.write_text(finished)
    record = json.loads((source / "config.json").read_text())
    record["provenance"]["data"]["sha256"] = "0" * 16
    (source / "config.json").write_text(json.dumps(record))
    with pytest.raises(RewardFileError, match="other transitions of .*fingerprint 0000"):
        run(source)  # checked once the data is read, still before any folder
    assert not (tmp_path / "c").exists()


def test_otr_resume_reuses_its_reward_file(maze_file, tmp_path):
    settings = tiny_settings(maze_file, tmp_path, "otr")
    experiments.run(settings)
    path = tmp_path / "otr-sparse-K1" / ENV / "seed_3" / "rewards.npz"
    before = path.stat().st_mtime_ns
    import dataclasses
    experiments.run(dataclasses.replace(settings, resume=True))
    assert path.stat().st_mtime_ns == before  # read back, not recomputed


def test_run_folder_names_the_labeller_and_settings_are_frozen():
    assert RunSettings(labeller="true").method() == "iql-true"
    assert RunSettings(labeller="clue", num_expert=5).method() == "clue-sparse-K5"
    assert RunSettings(labeller="clue", calibrate=False).method() == "clue-sparse-K1-nocalib"
    assert RunSettings(labeller="otr", setting="imitation").method() == "otr-imitation-K1"
    assert RunSettings(labeller="otr", expert_selection="top_return").method() == \
        "otr-sparse-K1-top_return"
    s = RunSettings(agent_config=ml_collections.ConfigDict({"a": 1}))
    assert isinstance(s.agent_config, ml_collections.FrozenConfigDict)
    assert RunSettings(agent="td3bc").method() == "td3bc-true"
    assert RunSettings(agent="td3bc", labeller="otr").method() == "td3bc-otr-sparse-K1"
    with pytest.raises(Exception):
        s.seed = 1
    with pytest.raises(ValueError, match="--setting"):
        RunSettings(setting="dense")


def test_expert_rule_resolves_the_setting_default():
    from clue_jax.experiments.settings import SPARSE_EXPERTS
    assert RunSettings(labeller="clue").expert_rule() == SPARSE_EXPERTS
    assert RunSettings(labeller="clue", setting="imitation").expert_rule() == "imitation"
    explicit = RunSettings(labeller="clue", expert_selection="episodes")
    assert explicit.expert_rule() == "episodes"
    assert explicit.method() == "clue-sparse-K1-episodes"  # named: the default may change
    for rule in ("episodes", "goal_segments"):
        with pytest.raises(ValueError, match=f"--expert_selection={rule}.*--setting=sparse"):
            RunSettings(labeller="clue", setting="imitation", expert_selection=rule)


def test_bad_combinations_fail_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="--labeller=true"):
        experiments.run(RunSettings(labeller="true", setting="imitation", save_dir=str(tmp_path)))
    with pytest.raises(ValueError, match="--labeller='nope'"):  # SettingsError is a ValueError
        experiments.run(RunSettings(labeller="nope", save_dir=str(tmp_path)))
    with pytest.raises(ValueError, match="--agent='sac'"):
        experiments.run(RunSettings(agent="sac", save_dir=str(tmp_path)))
    assert not any(tmp_path.iterdir())


def test_one_domain_table_drives_every_default():
    for family, domain in domains.DOMAINS.items():
        assert domains.iql_config(domain).to_dict()  # the config module exists
        for name, labeller in labellers.LABELLERS.items():
            assert labeller.default_config(domain) is not None
    true = labellers.LABELLERS["true"].default_config(domains.DOMAINS["locomotion"])
    assert (true.reward_scaling, true.reward_shift) == ("return_range", 0.0)
    assert domains.DOMAINS["gen-pointmaze"].max_steps == 50_000


def _episodes(returns, starts_xy):
    rows, dones, rewards = [], [], []
    for ret, xy in zip(returns, starts_xy):
        for t in range(3):
            rows.append([xy[0] + t, xy[1], 0.0, 0.0])
            rewards.append(ret / 3)
            dones.append(float(t == 2))
    obs = np.asarray(rows, np.float32)
    n = len(obs)
    return Dataset(obs, np.zeros((n, 2), np.float32), np.asarray(rewards, np.float32),
                   np.ones(n, np.float32), np.asarray(dones, np.float32), obs + 1)


def test_otr_expert_rule_top_return_and_start_distance():
    data = _episodes([3.0, 9.0, 6.0], [(5, 5), (9, 9), (1, 1)])
    by_return = experts.top_return_trajectories(data, 2)
    assert by_return.segments.tolist() == [[3, 6], [6, 9]]  # returns 9 then 6
    # maze rule: return / (1e-4 + distance of the start to (1, 1)): the third episode wins
    near = experts.top_return_trajectories(data, 1, xy=(0, 2), start_xy=(1.0, 1.0))
    assert near.segments.tolist() == [[6, 9]] and "OTR's rule" in near.message
    assert near.dataset.dones_float.tolist() == [0, 0, 1]
    # the sparse setting: only successful trajectories, at most K of them, none is an error
    mixed = _episodes([0.0, 3.0, 0.0], [(1, 1), (5, 5), (2, 2)])
    assert experts.top_return_trajectories(mixed, 2).segments.tolist() == [[3, 6], [0, 3]]
    only = experts.top_return_trajectories(mixed, 2, successful_only=True)
    assert only.segments.tolist() == [[3, 6]]
    with pytest.raises(DatasetError, match="no successful trajectory.*3 trajectories"):
        experts.top_return_trajectories(_episodes([0.0, 0.0, 0.0], [(1, 1)] * 3), 1,
                                        successful_only=True)


@pytest.mark.parametrize("field,value", [
    ("seed", -1), ("max_steps", 0), ("eval_interval", 0), ("log_interval", 0),
    ("batch_size", 0), ("dataset_fraction", 1.5), ("temperature", -1.0), ("num_expert", 0),
])
def test_out_of_range_settings_name_the_flag(field, value):
    from clue_jax.experiments.settings import SettingsError
    with pytest.raises(SettingsError, match=f"--{field}={value}: expected"):
        RunSettings(**{field: value})


@pytest.mark.slow
def test_sqil_batch_is_half_expert(maze_file, tmp_path, monkeypatch):
    import jax
    from clue_jax.data.dataset import MixedBatch, sample_batch, to_device
    settings = tiny_settings(maze_file, tmp_path, "sqil", agent="td3bc",
                             agent_config=td3bc_config.get_config().copy_and_resolve_references())
    seen = {}
    real = runner.train_agents

    def spy(datasets, env_name, agent, config, loops, run_dirs, eval_episodes, expert_datas,
            **kw):
        seen.update(dataset=datasets[0], expert=expert_datas[0])
        return real(datasets, env_name, agent, config, loops, run_dirs, eval_episodes,
                    expert_datas, **kw)

    monkeypatch.setattr(runner, "train_agents", spy)
    experiments.run(settings)
    assert np.all(seen["dataset"].rewards == 0) and np.all(seen["expert"].rewards == 1)
    sel = json.loads((tmp_path / "td3bc-sqil-sparse-K1" / ENV / "seed_3" / "experts.json")
                     .read_text())
    assert seen["expert"].size == sel["num_transitions"]
    batch = sample_batch(MixedBatch(to_device(seen["dataset"]), to_device(seen["expert"])),
                         jax.random.PRNGKey(0), 16)
    assert batch.rewards.shape == (32,)
    np.testing.assert_array_equal(batch.rewards, [0.0] * 16 + [1.0] * 16)


@pytest.mark.slow
def test_resume_refuses_changed_settings_unless_asked(maze_file, tmp_path):
    import dataclasses
    from clue_jax.experiments.settings import SettingsError
    settings = tiny_settings(maze_file, tmp_path, "clue")
    experiments.run(settings)
    run_dir = tmp_path / "clue-sparse-K1" / ENV / "seed_3"
    # settings that do not change training may differ, and so may the provenance
    config = json.loads((run_dir / "config.json").read_text())
    config["provenance"] = {"commit": "another", "versions": {"jax": "0.0"}, "device": "tpu"}
    (run_dir / "config.json").write_text(json.dumps(config))
    experiments.run(dataclasses.replace(settings, resume=True, eval_episodes=2, log_interval=5))
    changed = dataclasses.replace(settings, resume=True, temperature=1.0, max_steps=30)
    with pytest.raises(SettingsError) as err:
        experiments.run(changed)
    assert "labeller_config.temperature: 10.0 -> 1.0" in str(err.value)
    assert "settings.max_steps: 20 -> 30" in str(err.value) and "--resume_anyway" in str(err.value)
    assert not (run_dir / "resume_overrides.json").exists()
    results = experiments.run(dataclasses.replace(changed, resume_anyway=True))
    assert results["steps"] == 30
    overrides = json.loads((run_dir / "resume_overrides.json").read_text())
    assert any("temperature" in d for d in overrides[0]["differences"])


def test_a_field_added_after_a_run_was_recorded_keeps_its_resume():
    """A constant run recorded before `level_from` existed resumes: absent counts as '' (its
    value, not a level), while a level_from set on resume is a change."""
    from clue_jax.experiments.checks import settings_differences
    before = {"labeller_config": {"value": 0.5, "reward_shift": 0.0}}
    now = {"labeller_config": {"value": 0.5, "reward_shift": 0.0, "level_from": ""}}
    assert settings_differences(before, now) == []
    now["labeller_config"]["level_from"] = "runs/clue"
    assert settings_differences(before, now) == ["labeller_config.level_from:  -> runs/clue"]
    assert settings_differences({"labeller_config": {"temperature": 10.0}},
                                {"labeller_config": {"temperature": 10.0}}) == []


def test_a_runs_deadline_reaches_clues_cvae(maze_file, tmp_path):
    """The run's deadline (reproduce.py --time_limit) is passed to the labeller: a run
    whose deadline has passed stops before its CVAE trains, and --resume finishes it."""
    import dataclasses
    from clue_jax import training
    settings = tiny_settings(maze_file, tmp_path, "clue", deadline=1.0)
    with pytest.raises(training.StoppedAtDeadline, match="CVAE stopped at update 0 of 50"):
        experiments.run(settings)
    results = experiments.run(dataclasses.replace(settings, deadline=None, resume=True))
    assert results["steps"] == 20


def test_every_default_config_keeps_its_rules_and_a_broken_field_is_named():
    """Each learner's and labeller's default config, in every domain, passes its
    config_rules (so the rules refuse only what the references never use), and a field out
    of range is refused by `experiments.make_plan`, naming the flag, before any data is read."""
    from clue_jax import rules
    from clue_jax.experiments.agents import AGENTS
    checked = 0
    for domain in domains.DOMAINS.values():
        for spec in AGENTS.values():
            config = spec.default_config(domain)
            assert rules.problems(config, spec.config_rules) == []
            assert set(config.keys()) <= set(spec.config_rules), spec.name  # every field ruled
            checked += 1
        for labeller in labellers.LABELLERS.values():
            try:
                config = labeller.default_config(domain)
            except ValueError:  # a labeller without a config for this domain
                continue
            assert rules.problems(config, labeller.config_rules or {}) == []
            assert set(config.keys()) - {"domain"} <= set(labeller.config_rules or {}), \
                labeller.name
            checked += 1
    assert checked > 2 * len(domains.DOMAINS)
    # NumPy numbers count as numbers, bools and NaN do not
    ok = rules.positive()[0]
    assert ok(np.float32(0.5)) and ok(np.int64(2)) and not ok(True) and not ok(float("nan"))
    assert rules.sizes()[0]((np.int64(8), 8)) and not rules.sizes()[0](())
    assert rules.boolean()[0](np.bool_(True)) and not rules.boolean()[0](1)
    assert rules.problems({"tau": 0.0}, {"tau": rules.within(0.0, 1.0, open_low=True)}) == [
        "tau=0.0: expected a number in (0.0, 1.0]"]
    config = antmaze_config.get_config()
    config.expectile = 1.0  # IQL's expectile must lie in (0, 1)
    with pytest.raises(experiments.SettingsError, match=r"--config\.expectile=1\.0: expected"):
        experiments.make_plan(RunSettings(env_name=ENV, agent_config=config))
    otr = otr_config.get_config("pointmaze")
    otr.max_iterations = 0
    with pytest.raises(experiments.SettingsError, match=r"--otr_config\.max_iterations=0"):
        experiments.make_plan(RunSettings(env_name=ENV, labeller="otr", labeller_config=otr))


@pytest.mark.slow
def test_otr_runs_with_the_same_experts_share_one_coupling(maze_file, tmp_path, monkeypatch):
    """OTR has no seed: the seeds of a run (same experts) are labelled once, each run still
    writes its rewards.npz; another expert set is labelled on its own."""
    from clue_jax.rewards import otr
    calls = []
    real = otr.otr_rewards
    monkeypatch.setattr(otr, "otr_rewards", lambda *a, **k: calls.append(1) or real(*a, **k))
    import dataclasses
    settings = [dataclasses.replace(tiny_settings(maze_file, tmp_path, "otr", num_expert=k),
                                    seed=s) for k, s in ((1, 0), (1, 1), (2, 0))]
    results = experiments.run_group(settings)
    assert len(calls) == 2 and len(results) == 3
    files = [np.load(tmp_path / f"otr-sparse-K{k}" / ENV / f"seed_{s}" / "rewards.npz")["rewards"]
             for k, s in ((1, 0), (1, 1), (2, 0))]
    np.testing.assert_array_equal(files[0], files[1])
    assert not np.array_equal(files[0], files[2])


@pytest.mark.slow
def test_clue_runs_that_differ_only_in_c_share_one_cvae(maze_file, tmp_path, monkeypatch):
    """A sweep of c (Tables 6-7) as one group: one CVAE per seed and expert set, whatever c
    a run labels with; each run's CVAE and its rewards at its own c are the run's alone."""
    import dataclasses
    from clue_jax.rewards import clue_labeller
    widths = []
    real = clue_labeller._train_group

    def spy(config, data, experts, *args, **kwargs):
        widths.append(len(experts))
        return real(config, data, experts, *args, **kwargs)

    monkeypatch.setattr(clue_labeller, "_train_group", spy)
    runs = [(1.0, 3), (10.0, 3), (1.0, 4)]  # (c, seed)

    def settings(c, seed, where):
        return dataclasses.replace(tiny_settings(maze_file, tmp_path / where, "clue",
                                                 temperature=c, tag=f"c{c:g}"), seed=seed)

    experiments.run_group([settings(c, seed, "group") for c, seed in runs])
    assert widths == [2]  # seeds 3 and 4; c = 1 and 10 of seed 3 share theirs
    folder = {(c, seed): tmp_path / "group" / f"clue-sparse-K1-c{c:g}" / ENV / f"seed_{seed}"
              for c, seed in runs}
    assert ((folder[1.0, 3] / "cvae.msgpack").read_bytes()
            == (folder[10.0, 3] / "cvae.msgpack").read_bytes())
    assert (folder[10.0, 3] / "tb" / "cvae").is_dir()  # its scalars, as its own run's
    # each run's timing says its labelling program trained 2 models for 3 runs (--plan)
    timing = json.loads((folder[1.0, 4] / "results.json").read_text())["timing"]["labelling"]
    assert (timing["runs"], timing["models"]) == (3, 2)
    rewards = {k: np.load(f / "rewards.npz")["rewards"] for k, f in folder.items()}
    assert not np.allclose(rewards[1.0, 3], rewards[10.0, 3])
    for c, seed in runs:
        experiments.run(settings(c, seed, "alone"))
        alone = tmp_path / "alone" / f"clue-sparse-K1-c{c:g}" / ENV / f"seed_{seed}"
        np.testing.assert_allclose(np.load(alone / "rewards.npz")["rewards"], rewards[c, seed],
                                   atol=1e-3)


def test_the_stack_check_names_the_known_bad_pair_and_its_fix():
    from clue_jax import compat
    bad = compat.stack_problem({"jax": (0, 11, 2), "flax": (0, 12, 8)})
    assert "flax >= 0.12.10" in bad and "pip install 'flax>=0.12.10'" in bad
    assert compat.stack_problem({"jax": (0, 11, 2), "flax": (0, 12, 10)}) is None
    assert compat.stack_problem({"jax": (0, 10, 2), "flax": (0, 12, 8)}) is None  # the pins
    assert compat.stack_problem() is None  # what is installed here works


def test_a_labeller_that_cannot_import_its_dependency_is_refused_before_any_folder(
        monkeypatch, tmp_path):
    """OTR imports ott-jax only when a run uses it; a stack that cannot import it is named,
    with its fix, by the run checks, before any data is read or folder made."""
    import dataclasses
    from clue_jax import compat
    from clue_jax.experiments.settings import SettingsError

    def broken():
        raise compat.explain(ImportError("cannot import name 'HiPrimitive'"))

    monkeypatch.setattr(compat, "stack_problem", lambda: "jax 0.11.2 needs flax >= 0.12.10")
    monkeypatch.setitem(labellers.LABELLERS, "otr",
                        dataclasses.replace(labellers.LABELLERS["otr"], requires=broken))
    with pytest.raises(SettingsError, match="--labeller=otr cannot run on this installation: "
                                            "jax 0.11.2 needs flax >= 0.12.10"):
        experiments.run(RunSettings(env_name=ENV, labeller="otr", save_dir=str(tmp_path / "r"),
                                    max_steps=10, progress=False))
    assert not (tmp_path / "r").exists()


def test_the_run_modules_do_not_import_ott():
    """ott-jax (and the scipy.stats, jaxopt and matplotlib it pulls in, about 2 s) is imported
    by OTR's runs only: every other run and every refused input starts without it."""
    code = ("import sys, clue_jax.experiments, clue_jax.experiments.flags, clue_jax.grid; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('ott', 'jaxopt')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_goal_rows_are_reported_only_for_a_sparse_ground_truth():
    from clue_jax.experiments import records
    rewards = np.array([0.5, 0.25, 1.0, 0.0], np.float32)
    sparse = records.goal_row_rewards(rewards, np.array([0.0, 0.0, 1.0, 0.0]))
    assert sparse == {"goal_rows_reward_mean": 1.0, "other_rows_reward_mean": 0.25,
                      "goal_rows": 1}
    # a dense (locomotion) reward has no goal rows; nor has a truth without a positive row
    assert records.goal_row_rewards(rewards, np.array([4.1, -0.5, 5.2, 3.3])) == {}
    assert records.goal_row_rewards(rewards, np.zeros(4)) == {}
    assert records.goal_row_rewards(rewards, None) == {}
