"""Generated locomotion datasets: layout, determinism, cache checks, demonstrations, errors.

Tiny randomly initialised actors (8, 8) stand in for the trained SAC policies,
in a temporary policy dir ($CLUE_JAX_POLICY_DIR).
"""

import os

import h5py
import numpy as np
import pytest

from clue_jax import networks
from clue_jax.agents import sac_actor
from clue_jax.data import d4rl_io, experts, factory
from clue_jax.generation import generated
from clue_jax.generation import locomotion_datasets as loco
from clue_jax.envs import locomotion, registry
from clue_jax.experiments import domains

KEYS = {"observations": ((11,), np.float32), "actions": ((3,), np.float32),
        "rewards": ((), np.float32), "terminals": ((), np.bool_), "timeouts": ((), np.bool_),
        "next_observations": ((11,), np.float32), "infos/qpos": ((6,), np.float32),
        "infos/qvel": ((6,), np.float32), "infos/action_log_probs": ((), np.float32)}


def _save_tiny_actor(folder, quality, seed):
    actor = sac_actor.random_actor(seed, 11, 3, hidden_dims=(8, 8))
    sac_actor.save_actor(folder / "hopper" / f"{quality}.msgpack", actor.params, 11, 3, (8, 8),
                         step=seed, **{"return": float(seed)})


@pytest.fixture()
def policies(tmp_path, monkeypatch):
    folder = tmp_path / "policies"
    _save_tiny_actor(folder, "medium", 1)
    _save_tiny_actor(folder, "expert", 2)
    monkeypatch.setenv("CLUE_JAX_POLICY_DIR", str(folder))
    return folder


@pytest.fixture(scope="module")
def expert_data():
    with pytest.MonkeyPatch.context() as mp, __import__("tempfile").TemporaryDirectory() as d:
        from pathlib import Path
        mp.setenv("CLUE_JAX_POLICY_DIR", d)
        _save_tiny_actor(Path(d), "expert", 2)
        yield loco.generate("hopper", "expert", 2500, seed=3), loco.policy_path("hopper", "expert")


def test_layout_dtypes_and_episode_streams(expert_data):
    (data, meta), _ = expert_data
    assert {k: (v.shape[1:], v.dtype) for k, v in data.items()} == KEYS
    assert all(len(v) == 2500 for v in data.values())
    assert meta["num_envs"] == 2 and meta["sampling"] == "stochastic"  # 2 envs x 1250 steps
    ends = data["terminals"] | data["timeouts"]
    assert ends[1249] and ends[2499] and not (data["terminals"] & data["timeouts"]).any()
    same = ~ends[:-1]  # within an episode s' is the next row's s
    np.testing.assert_array_equal(data["next_observations"][:-1][same],
                                  data["observations"][1:][same])
    # Hopper-v5 observation = qpos[1:] + clip(qvel, -10, 10)
    np.testing.assert_allclose(data["observations"][:, :5], data["infos/qpos"][:, 1:], atol=1e-6)
    np.testing.assert_allclose(data["observations"][:, 5:], np.clip(data["infos/qvel"], -10, 10),
                               atol=1e-6)
    assert np.abs(data["actions"]).max() < 1.0


def test_actions_are_stochastic_samples_with_their_log_probs(expert_data):
    (data, _), path = expert_data
    actor = sac_actor.load_actor(path)
    rows = slice(0, 50)
    means, log_stds = actor.module.apply({"params": actor.params}, data["observations"][rows])
    u = np.arctanh(data["actions"][rows].astype(np.float64))
    logp = networks.tanh_gaussian_log_prob(means, log_stds, u.astype(np.float32))
    np.testing.assert_allclose(logp, data["infos/action_log_probs"][rows], rtol=1e-3, atol=1e-3)
    assert np.abs(u - np.asarray(means)).max() > 0.1  # sampled, not the mean


def test_deterministic_per_seed(policies):
    a, _ = loco.generate("hopper", "medium", 600, seed=5)
    b, _ = loco.generate("hopper", "medium", 600, seed=5)
    c, _ = loco.generate("hopper", "medium", 600, seed=6)
    assert generated.array_checksum(a) == generated.array_checksum(b)
    assert not np.array_equal(a["actions"], c["actions"])


def test_random_needs_no_policy_and_medium_expert_concatenates(policies, tmp_path, monkeypatch):
    medium, _ = loco.generate("hopper", "medium", 300, seed=4)
    expert, _ = loco.generate("hopper", "expert", 300, seed=4)
    cache = str(tmp_path / "cache")
    path = generated.ensure_generated("gen-hopper-medium-expert-v0", cache_dir=cache, size=600,
                                      seed=4)
    both = d4rl_io.load_hdf5(path)
    for key in KEYS:
        np.testing.assert_array_equal(both[key], np.concatenate([medium[key], expert[key]]))
    assert (both["metadata/medium_policy_step"], both["metadata/expert_policy_step"]) == (1, 2)
    # its parts were made in the same cache, as the medium and expert datasets themselves
    for quality in ("medium", "expert"):
        part = generated.dataset_path(f"gen-hopper-{quality}-v0", cache, size=300, seed=4)
        assert generated.check_cached(part, generated.GENERATED[f"gen-hopper-{quality}-v0"]) is None
    monkeypatch.setenv("CLUE_JAX_POLICY_DIR", str(tmp_path / "empty"))
    random, meta = loco.generate("hopper", "random", 300, seed=4)
    assert len(random["rewards"]) == 300 and meta["policy_init_seed"] == 4


def test_missing_policy_names_file_and_commands(tmp_path, monkeypatch):
    monkeypatch.setenv("CLUE_JAX_POLICY_DIR", str(tmp_path / "none"))
    for name, file in (("gen-hopper-medium-v0", "hopper/medium.msgpack"),
                       ("gen-walker2d-expert-demos-v0", "walker2d/expert.msgpack"),
                       ("gen-halfcheetah-medium-expert-v0", "halfcheetah/medium.msgpack"),
                       ("gen-hopper-medium-replay-v0", "hopper/medium_replay.hdf5")):
        with pytest.raises(loco.PolicyNotFoundError) as err:
            generated.ensure_generated(name, cache_dir=str(tmp_path / "cache"), size=100)
        text = str(err.value)
        assert name in text and str(tmp_path / "none" / file) in text
        assert "python train_sac.py --env_name=" in text and "select_policies.py" in text


def test_cache_checksum_and_policy_fingerprint(policies, tmp_path):
    name, cache = "gen-hopper-expert-v0", str(tmp_path / "cache")
    path = generated.ensure_generated(name, cache_dir=cache, size=400, seed=1)
    original = d4rl_io.load_hdf5(path)
    assert original["metadata/generator_version"].startswith(loco.GENERATOR_VERSION + "+")
    stamp = os.stat(path).st_mtime_ns
    assert generated.ensure_generated(name, cache_dir=cache, size=400, seed=1) == path
    assert os.stat(path).st_mtime_ns == stamp  # verified, not remade
    with h5py.File(path, "r+") as f:
        f["rewards"][3] += 1.0
    assert "checksum" in generated.check_cached(path, generated.GENERATED[name])
    generated.ensure_generated(name, cache_dir=cache, size=400, seed=1)
    np.testing.assert_array_equal(d4rl_io.load_hdf5(path)["rewards"], original["rewards"])
    _save_tiny_actor(policies, "expert", 9)  # a new expert: the cached file is stale
    assert "generator version" in generated.check_cached(path, generated.GENERATED[name])
    remade = d4rl_io.load_hdf5(generated.ensure_generated(name, cache_dir=cache, size=400, seed=1))
    assert not np.array_equal(remade["actions"], original["actions"])


def test_demonstrations_are_whole_episodes_and_first_k_are_selected(policies, tmp_path):
    name = locomotion.demos_name("hopper")
    assert generated.GENERATED[name].default_size == 11_000
    path = generated.ensure_generated(name, cache_dir=str(tmp_path), size=1200, seed=0)
    raw = d4rl_io.load_hdf5(path)
    ends = np.flatnonzero(raw["terminals"] | raw["timeouts"])
    assert ends[-1] == len(raw["rewards"]) - 1 <= 1199 and len(ends) >= 10
    lengths = np.diff(np.concatenate([[-1], ends]))
    # every episode ended by itself: a termination, or the 1000-step limit
    assert np.all(raw["terminals"][ends] | (lengths == 1000))
    assert raw["metadata/episodes"] == len(ends)
    demos = factory.load_dataset(name, dataset_path=path)
    selection = experts.expert_from_demonstrations(demos, 10)
    starts = np.concatenate([[0], ends[:-1] + 1])
    np.testing.assert_array_equal(selection.segments, np.stack([starts, ends + 1], 1)[:10])
    assert "first 10" in selection.message


def test_medium_replay_comes_from_the_replay_file(policies):
    n = 50
    rows = {"observations": np.arange(n * 11, dtype=np.float32).reshape(n, 11),
            "actions": np.zeros((n, 3), np.float32), "rewards": np.arange(n, dtype=np.float32),
            "terminals": np.zeros(n, bool), "timeouts": np.zeros(n, bool),
            "next_observations": np.zeros((n, 11), np.float32),
            "infos/qpos": np.zeros((n, 6), np.float32), "infos/qvel": np.zeros((n, 6), np.float32)}
    d4rl_io.save_hdf5(str(loco.medium_replay_path("hopper")), rows, {"medium_step": n}, gzip=True)
    data, meta = loco.generate_medium_replay("hopper", 30, seed=0)
    np.testing.assert_array_equal(data["rewards"], np.arange(30))
    assert data["timeouts"][-1] and not data["timeouts"][:-1].any()  # cut at 30 rows
    assert meta["source_rows"] == n and meta["medium_step"] == n


def test_env_specs_and_unmeasured_scores():
    spec = registry.get_spec("gen-walker2d-medium-replay-v0")
    domain = domains.domain_of(spec)
    assert (spec.family, spec.obs_dim, spec.act_dim, domain.reward_scaling, domain.iql_config) == (
        "gen-locomotion", 17, 6, "return_range", "mujoco")
    assert set(registry.list_envs("gen-locomotion")) == {
        locomotion.gen_name(e, q) for e in locomotion.ENVS
        for q in locomotion.QUALITIES + ("expert-demos",)}
    assert locomotion.env_stem("HalfCheetah-v5") == "halfcheetah"
    assert locomotion.env_stem("gen-hopper-medium-v0") == "hopper"
    with pytest.raises(ValueError, match="Ant-v5"):
        locomotion.env_stem("Ant-v5")
    for env, refs in locomotion.LOCOMOTION_REFS.items():
        assert registry.reference_scores_measured(locomotion.gen_name(env, "medium"))
        name = locomotion.gen_name(env, "medium-replay")
        assert registry.normalized_score(name, refs["random"]) == pytest.approx(0.0)
        assert registry.normalized_score(name, refs["expert"]) == pytest.approx(100.0)
    assert registry.normalized_score("hopper-medium-v2", 3234.3) == pytest.approx(100.0)
