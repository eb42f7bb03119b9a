"""D4RL HDF5 I/O, d4rl.qlearning_dataset semantics, the dataset factory, Minari.

The tiny hand-made file used throughout (N = 8 rows, obs = (i, 10 i)):
    rows 0-2: episode A, row 2 has timeouts=1   -> row 2 dropped
    rows 3-4: episode B, row 4 terminal          -> mask 0
    rows 5-7: episode C, row 7 is the last row   -> dropped
Kept rows 0, 1, 3, 4, 5, 6 with s' = obs[i + 1]; rewards 1..8 by row.
"""

import os
import warnings

import h5py
import numpy as np
import pytest

from clue_jax.data.d4rl_io import (D4RL_URLS, DatasetNotFoundError, d4rl_cache_dir, d4rl_path,
                                   load_hdf5, qlearning_dataset, save_hdf5)
from clue_jax.data.dataset import DatasetError
from clue_jax.data.factory import check_dims, load_dataset, load_raw
from clue_jax.envs import registry


def tiny_raw():
    n = 8
    obs = np.stack([np.arange(n), 10 * np.arange(n)], axis=1).astype(np.float32)
    return {
        "observations": obs,
        # +-1 exactly: clipped to +-(1 - 1e-5) by make_dataset (the reference's rule)
        "actions": np.array([-1, 1, 0.5, -0.5, 0.25, -0.25, 1, -1], np.float32)[:, None],
        "rewards": np.arange(1, n + 1, dtype=np.float32)[:, None],  # stored (N, 1)
        "terminals": np.array([0, 0, 0, 0, 1, 0, 0, 0], bool),
        "timeouts": np.array([0, 0, 1, 0, 0, 0, 0, 0], bool),
        "next_observations": obs + 0.5,  # deliberately wrong: d4rl ignores it
        "infos/qpos": np.arange(3 * n, dtype=np.float64).reshape(n, 3),
    }


@pytest.fixture
def tiny_file(tmp_path):
    return save_hdf5(str(tmp_path / "tiny.hdf5"), tiny_raw(),
                     metadata={"algorithm": "hand", "seed": 3})


# ----------------------------------------------------------------------------- HDF5 layout


@pytest.mark.parametrize("gzip", [False, True])
def test_hdf5_round_trip_flattens_groups_metadata_and_squeezes(tmp_path, gzip):
    path = save_hdf5(str(tmp_path / "sub" / "d.hdf5"), tiny_raw(), {"algorithm": "hand", "seed": 3},
                     gzip=gzip)
    assert sorted(os.listdir(tmp_path / "sub")) == ["d.hdf5"]  # no temp file left behind
    raw = load_hdf5(path)
    assert raw["rewards"].shape == (8,) and raw["rewards"][3] == 4.0
    assert raw["observations"].shape == (8, 2) and raw["actions"].shape == (8, 1)  # stay 2-D
    np.testing.assert_array_equal(raw["infos/qpos"], tiny_raw()["infos/qpos"])
    assert raw["metadata/algorithm"] == "hand" and raw["metadata/seed"] == 3
    with h5py.File(path, "r") as f:
        assert isinstance(f["infos"], h5py.Group)
        assert (f["observations"].compression == "gzip") is gzip


def test_load_hdf5_errors_name_path_and_keys(tmp_path):
    missing = str(tmp_path / "nope.hdf5")
    with pytest.raises(DatasetNotFoundError, match="nope.hdf5"):
        load_hdf5(missing)
    junk = tmp_path / "junk.hdf5"
    junk.write_bytes(b"not an hdf5 file" * 10)
    with pytest.raises(DatasetError,
                       match=r"junk\.hdf5.*cannot be read as HDF5.*download it again"):
        load_hdf5(str(junk))
    partial = {k: v for k, v in tiny_raw().items() if k not in ("actions", "terminals")}
    path = save_hdf5(str(tmp_path / "partial.hdf5"), partial)
    with pytest.raises(DatasetError) as err:
        load_hdf5(path)
    assert "partial.hdf5" in str(err.value) and "['actions', 'terminals']" in str(err.value)


# ----------------------------------------------------------------------------- qlearning_dataset


def test_qlearning_dataset_hand_made(tiny_file):
    q = qlearning_dataset(load_hdf5(tiny_file))
    kept = [0, 1, 3, 4, 5, 6]
    obs = tiny_raw()["observations"]
    np.testing.assert_array_equal(q["observations"], obs[kept])
    np.testing.assert_array_equal(q["next_observations"], obs[[1, 2, 4, 5, 6, 7]])  # not stored s'
    np.testing.assert_array_equal(q["rewards"], [1, 2, 4, 5, 6, 7])
    np.testing.assert_array_equal(q["terminals"], [0, 0, 0, 1, 0, 0])
    assert q["terminals"].dtype == bool and q["observations"].dtype == np.float32
    # other per-row keys come back for the same rows
    carried = qlearning_dataset(load_hdf5(tiny_file), carry=("infos/qpos",))
    np.testing.assert_array_equal(carried["infos/qpos"], tiny_raw()["infos/qpos"][kept])
    with pytest.raises(DatasetError, match=r"no \['infos/goal'\]"):
        qlearning_dataset(load_hdf5(tiny_file), carry=("infos/goal",))


def reference_qlearning(raw, terminate_on_end=False, max_steps=None):
    """d4rl.qlearning_dataset as a plain row loop (written from its documented behaviour)."""
    keep, step = [], 0
    use_timeouts = "timeouts" in raw
    for i in range(len(raw["rewards"]) - 1):
        final = bool(raw["timeouts"][i]) if use_timeouts else step == max_steps - 1
        if not terminate_on_end and final:
            step = 0
            continue
        if raw["terminals"][i] or final:
            step = 0
        keep.append(i)
        step += 1
    return np.array(keep, dtype=np.int64)


@pytest.mark.parametrize("terminate_on_end", [False, True])
@pytest.mark.parametrize("legacy_steps", [None, 4, 1])
def test_qlearning_dataset_matches_row_loop(terminate_on_end, legacy_steps):
    rng = np.random.default_rng(0)
    n = 300
    raw = {"observations": rng.normal(size=(n, 3)), "actions": rng.normal(size=(n, 2)),
           "rewards": rng.normal(size=n), "terminals": rng.random(n) < 0.08,
           "timeouts": rng.random(n) < 0.1}
    if legacy_steps is not None:
        del raw["timeouts"]
    keep = reference_qlearning(raw, terminate_on_end, legacy_steps)
    q = qlearning_dataset(raw, terminate_on_end=terminate_on_end, max_episode_steps=legacy_steps)
    assert len(q["rewards"]) == len(keep) < n - 1 or (terminate_on_end and len(keep) == n - 1)
    assert len(keep) > 0 or (legacy_steps == 1 and not terminate_on_end)  # every row final
    np.testing.assert_allclose(q["observations"], raw["observations"][keep].astype(np.float32))
    np.testing.assert_allclose(q["next_observations"],
                               raw["observations"][keep + 1].astype(np.float32))
    np.testing.assert_allclose(q["rewards"], raw["rewards"][keep].astype(np.float32))
    np.testing.assert_array_equal(q["terminals"], raw["terminals"][keep])


# ----------------------------------------------------------------------------- factory


def test_actions_beyond_the_bounds_are_refused_naming_the_file(tmp_path):
    raw = tiny_raw()
    raw["actions"] = raw["actions"] * 2.0
    path = save_hdf5(str(tmp_path / "loud.hdf5"), raw)
    with pytest.raises(DatasetError, match=r"loud\.hdf5: actions reach 2 in \d+ rows"):
        load_dataset("x", dataset_path=str(path))


def test_load_dataset_masks_boundaries_and_actions(tiny_file):
    ds = load_dataset("hopper-medium-v2", dataset_path=tiny_file)
    assert ds.size == 6 and ds.obs_dim == 2 and ds.act_dim == 1
    np.testing.assert_array_equal(ds.masks, [1, 1, 1, 0, 1, 1])
    # row 1's s' = obs[2] differs from the next kept obs[3] (timeout row 2 dropped);
    # row 4 is terminal; the last transition always ends a trajectory.
    np.testing.assert_array_equal(ds.dones_float, [0, 1, 0, 1, 0, 1])
    assert ds.actions.max() == pytest.approx(1 - 1e-5)
    assert ds.actions.min() == pytest.approx(-(1 - 1e-5))
    raw = load_raw("hopper-medium-v2", dataset_path=tiny_file)
    assert raw["observations"].shape == (8, 2) and "infos/qpos" in raw


def test_true_reward_processing_per_domain_on_loaded_dataset(tiny_file):
    from clue_jax.experiments import domains
    from clue_jax.rewards.processing import postprocess_rewards
    ds = load_dataset("x", dataset_path=tiny_file)
    np.testing.assert_allclose(ds.rewards, [1, 2, 4, 5, 6, 7])  # stored rewards, unprocessed

    def true(family):
        d = domains.DOMAINS[family]
        return postprocess_rewards(ds.rewards, ds.dones_float, d.reward_scaling, d.reward_shift)
    np.testing.assert_allclose(true("antmaze"), [0, 1, 3, 4, 5, 6])
    # trajectory returns 1+2=3, 4+5=9, 6+7=13 -> scale 1000 / (13 - 3) = 100
    np.testing.assert_allclose(true("locomotion"), [100, 200, 400, 500, 600, 700], rtol=1e-6)
    np.testing.assert_allclose(true("adroit"), ds.rewards)


def test_nan_error_names_key_and_rows(tmp_path):
    raw = tiny_raw()
    raw["observations"][3, 1] = np.nan  # row 3 is kept; obs[3] is s' only of dropped row 2
    path = save_hdf5(str(tmp_path / "nan.hdf5"), raw)
    with pytest.raises(DatasetError,
                       match=r"nan\.hdf5: key 'observations' has NaN/Inf in 1 of 6 rows"):
        load_dataset("x", dataset_path=path)


def test_empty_dataset_error(tmp_path):
    raw = {k: v[:2] for k, v in tiny_raw().items()}
    raw["timeouts"] = np.array([1, 0], bool)  # the only candidate row (0) is a timeout
    path = save_hdf5(str(tmp_path / "empty.hdf5"), raw)
    with pytest.raises(DatasetError, match="empty.hdf5: the dataset has no transitions"):
        load_dataset("x", dataset_path=path)


def test_missing_file_error_lists_places_and_fixes(tmp_path, monkeypatch):
    monkeypatch.setenv("D4RL_DATASET_DIR", str(tmp_path / "cache"))
    with pytest.raises(DatasetNotFoundError) as err:
        load_dataset("antmaze-umaze-v2")
    msg = str(err.value)
    expected = "Ant_maze_u-maze_noisy_multistart_False_multigoal_False_sparse_fixed.hdf5"
    assert os.path.join(str(tmp_path / "cache"), expected) in msg
    assert os.path.join(str(tmp_path / "cache"), "antmaze-umaze-v2.hdf5") in msg
    for fix in ("let it download", "$D4RL_DATASET_DIR", "--dataset_path",
                D4RL_URLS["antmaze-umaze-v2"]):
        assert fix in msg
    with pytest.raises(DatasetNotFoundError, match="--dataset_path .*nope.hdf5 does not exist"):
        load_dataset("antmaze-umaze-v2", dataset_path=str(tmp_path / "nope.hdf5"))


def test_cache_dir_names_and_lookup(tmp_path, monkeypatch):
    monkeypatch.delenv("D4RL_DATASET_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert d4rl_cache_dir() == os.path.join(str(tmp_path), ".d4rl", "datasets")
    monkeypatch.setenv("D4RL_DATASET_DIR", str(tmp_path / "c"))
    assert os.path.basename(d4rl_path("hopper-medium-replay-v2")) == "hopper_medium_replay-v2.hdf5"
    assert os.path.basename(d4rl_path("pen-human-v1")) == "pen-human-v1.hdf5"
    assert os.path.basename(d4rl_path("maze2d-umaze-v1")) == "maze2d-umaze-sparse-v1.hdf5"
    assert D4RL_URLS["ant-medium-v2"].endswith("/gym_mujoco_v2/ant_medium-v2.hdf5")
    assert len([k for k in D4RL_URLS if k.startswith("antmaze-")]) == 18 and len(D4RL_URLS) == 65
    # D4RL's own file names (d4rl/infos.py), under which a D4RL cache holds them
    assert os.path.basename(d4rl_path("pen-human-v0")) == "pen-v0_demos_clipped.hdf5"
    assert os.path.basename(d4rl_path("door-cloned-v0")) == "door-demos-v0-bc-combined.hdf5"
    assert D4RL_URLS["relocate-expert-v0"].endswith("/hand_dapg/relocate-v0_expert_clipped.hdf5")
    assert D4RL_URLS["antmaze-medium-play-v0"].endswith(
        "/ant_maze_new/Ant_maze_big-maze_noisy_multistart_True_multigoal_False_sparse.hdf5")
    assert D4RL_URLS["antmaze-large-diverse-v1"].endswith(
        "/ant_maze_v1/Ant_maze_large_noisy_multistart_True_multigoal_True_sparse.hdf5")
    # every D4RL name registered here has its file, and every file its name
    d4rl_names = {n for n in registry.list_envs() if not n.startswith("gen-")}
    assert d4rl_names == set(D4RL_URLS)
    save_hdf5(d4rl_path("walker2d-expert-v2"), tiny_raw())  # where d4rl would have put it
    assert load_dataset("walker2d-expert-v2").size == 6
    with pytest.raises(DatasetError, match="unknown D4RL dataset name 'walker9-v2'"):
        d4rl_path("walker9-v2")


def many_episodes_file(tmp_path, n_episodes=10, length=3):
    n = n_episodes * length
    obs = np.arange(2 * n, dtype=np.float32).reshape(n, 2)
    timeouts = np.zeros(n, bool)
    timeouts[length - 1::length] = True
    raw = {"observations": obs, "actions": np.zeros((n, 1), np.float32),
           "rewards": np.arange(n, dtype=np.float32), "terminals": np.zeros(n, bool),
           "timeouts": timeouts}
    return save_hdf5(str(tmp_path / "many.hdf5"), raw)


def test_fraction_subsampling_is_deterministic_per_seed(tmp_path):
    path = many_episodes_file(tmp_path)
    full = load_dataset("x", dataset_path=path)
    assert full.size == 20 and full.dones_float.sum() == 10  # 10 trajectories of 2 transitions
    a = load_dataset("x", dataset_path=path, fraction=0.3, seed=1)
    b = load_dataset("x", dataset_path=path, fraction=0.3, seed=1)
    assert a.size == 6 and a.dones_float.sum() == 3
    np.testing.assert_array_equal(a.observations, b.observations)
    picks = {tuple(load_dataset("x", dataset_path=path, fraction=0.3, seed=s).rewards)
             for s in range(5)}
    assert len(picks) > 1  # the seed matters
    # whole trajectories, kept in file order: each pair (r, r + 1) starts a 3-row episode
    starts = a.rewards[::2]
    assert np.all(starts % 3 == 0) and np.all(np.diff(starts) > 0)
    np.testing.assert_array_equal(a.rewards[1::2], starts + 1)


def test_check_dims_error_names_both_shapes(tiny_file):
    ds = load_dataset("x", dataset_path=tiny_file)
    check_dims(ds, 2, 1, "hopper-medium-v2")
    with pytest.raises(DatasetError, match=r"'hopper-medium-v2'.*dim 2.*dim 1.*expects 11 and 3"):
        check_dims(ds, 11, 3, "hopper-medium-v2")


def test_generated_names_use_ensure_generated(tiny_file, monkeypatch):
    from clue_jax import experiments, generation
    calls = []
    monkeypatch.setattr(generation, "is_generated", lambda name: name.startswith("gen-"))
    monkeypatch.setattr(generation, "ensure_generated",
                        lambda name: calls.append(name) or tiny_file)
    ds = experiments.load_dataset("gen-maze2d-umaze-v1")
    assert calls == ["gen-maze2d-umaze-v1"] and ds.size == 6
    np.testing.assert_allclose(ds.rewards, [1, 2, 4, 5, 6, 7])
    with pytest.raises(DatasetError, match="clue_jax.experiments.load_dataset"):
        load_dataset("gen-maze2d-umaze-v1")  # data/ itself never generates


# ----------------------------------------------------------------------------- Minari


def make_minari_dataset(root, monkeypatch):
    minari = pytest.importorskip("minari")
    pytest.importorskip("minari.data_collector.episode_buffer")
    from gymnasium import spaces
    from minari.data_collector.episode_buffer import EpisodeBuffer
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    box = lambda d: spaces.Box(-1e3, 1e3, (d,), np.float32)  # noqa: E731
    obs_space = spaces.Dict({"observation": box(3), "achieved_goal": box(2),
                             "desired_goal": box(2)})
    offset = {"observation": 0, "achieved_goal": 10, "desired_goal": 20}
    buffers = []
    for e, steps in enumerate([3, 4]):  # episode 0 terminates, episode 1 is truncated
        obs = {k: (100 * e + offset[k] + np.arange((steps + 1) * s.shape[0], dtype=np.float32)
                   .reshape(steps + 1, -1)) for k, s in obs_space.items()}
        buffers.append(EpisodeBuffer(
            id=e, observations=obs, actions=np.full((steps, 2), 0.1 * e, np.float32),
            rewards=list(np.arange(steps, dtype=np.float64) + 10 * e),
            terminations=[False] * (steps - 1) + [e == 0],
            truncations=[False] * (steps - 1) + [e == 1], infos={}))
    with warnings.catch_warnings():  # minari warns about metadata a test does not need
        warnings.simplefilter("ignore")
        minari.create_dataset_from_buffers(
            "test/tiny-v0", buffers, observation_space=obs_space, action_space=box(2),
            algorithm_name="hand", author="t", author_email="t@example.com",
            code_permalink="https://example.com")


def test_load_minari_flattens_dict_observations(tmp_path, monkeypatch):
    from clue_jax.data.minari_io import load_minari
    make_minari_dataset(tmp_path / "minari", monkeypatch)
    raw = load_minari("test/tiny-v0")
    assert raw["observations"].shape == (7, 7) and raw["actions"].shape == (7, 2)
    # episode 0, step 0: observation (0, 1, 2), achieved_goal 10 + (0, 1), desired_goal 20 + (0, 1)
    np.testing.assert_array_equal(raw["observations"][0], [0, 1, 2, 10, 11, 20, 21])
    np.testing.assert_array_equal(raw["next_observations"][2], [9, 10, 11, 16, 17, 26, 27])
    np.testing.assert_array_equal(raw["observations"][3, :3], [100, 101, 102])  # episode 1 starts
    np.testing.assert_array_equal(raw["terminals"], [0, 0, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(raw["timeouts"], [0, 0, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(raw["rewards"], [0, 1, 2, 10, 11, 12, 13])
    np.testing.assert_array_equal(raw["infos/desired_goal"][0], [20, 21])
    ds = load_dataset("minari:test/tiny-v0")  # stored s' is true: every step kept
    assert ds.size == 7
    np.testing.assert_array_equal(ds.masks, [1, 1, 0, 1, 1, 1, 1])
    np.testing.assert_array_equal(ds.dones_float, [0, 0, 1, 0, 0, 0, 1])
    with pytest.raises(DatasetNotFoundError, match=r"test/absent-v0.*MINARI_DATASETS_PATH"):
        load_minari("test/absent-v0")
