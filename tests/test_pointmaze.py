"""The D4RL maze2d-compatible point maze, its planner, and the generated maze datasets."""

import os

import h5py
import numpy as np
import pytest

from clue_jax.data import d4rl_io
from clue_jax.generation import generated, pointmaze_datasets
from clue_jax.envs import maze_planner, pointmaze, registry
from clue_jax.experiments import domains

# D4RL's maze2d maps (d4rl/pointmaze/maze_model.py), 'G' = the maze2d target.
D4RL_MAPS = {
    "umaze": ["#####", "#GOO#", "###O#", "#OOO#", "#####"],
    "medium": ["########", "#OO##OO#", "#OO#OOO#", "##OOO###", "#OO#OOO#", "#O#OO#O#",
               "#OOO#OG#", "########"],
    "large": ["############", "#OOOO#OOOOO#", "#O##O#O#O#O#", "#OOOOOO#OOO#", "#O####O###O#",
              "#OO#O#OOOOO#", "##O#O#O#O###", "#OO#OOO#OGO#", "############"],
}


# ----------------------------------------------------------------------------- frames and maps


def test_position_mapping_by_hand():
    # umaze, H = W = 5: x = col + 0.2 - 2.5 + 0.5, y = 2.5 - 0.5 - (row + 0.2)
    np.testing.assert_allclose(pointmaze.d4rl_to_gym_pos([1.0, 1.0], (5, 5)), [-0.8, 0.8])
    np.testing.assert_allclose(pointmaze.d4rl_to_gym_pos([3.0, 2.0], (5, 5)), [0.2, -1.2])
    # large, H = 9, W = 12: (7, 9) -> (9.2 - 6 + 0.5, 4.5 - 0.5 - 7.2)
    np.testing.assert_allclose(pointmaze.d4rl_to_gym_pos([7.0, 9.0], (9, 12)), [3.7, -3.2])
    np.testing.assert_allclose(pointmaze.gym_to_d4rl_pos([3.7, -3.2], (9, 12)), [7.0, 9.0])
    batch = np.array([[1.3, 2.7], [6.1, 0.4]])
    np.testing.assert_allclose(
        pointmaze.gym_to_d4rl_pos(pointmaze.d4rl_to_gym_pos(batch, (8, 8)), (8, 8)), batch)


def test_velocity_action_and_obs_mapping_by_hand():
    # a_gym = (a_col, -a_row) and back
    np.testing.assert_allclose(pointmaze.d4rl_to_gym_vec([0.3, -0.5]), [-0.5, -0.3])
    np.testing.assert_allclose(pointmaze.gym_to_d4rl_vec([1.0, 2.0]), [-2.0, 1.0])
    obs = pointmaze.gym_to_d4rl_obs(np.array([-0.8, 0.8]), np.array([1.0, 2.0]), (5, 5))
    np.testing.assert_allclose(obs, [1.0, 1.0, -2.0, 1.0])


def test_cell_centres_sit_0_2_before_the_cell_index():
    env = pointmaze.make_maze2d_env("medium")
    centre = env._maze_env.maze.cell_rowcol_to_xy(np.array([3, 4]))  # gymnasium's own centre
    np.testing.assert_allclose(pointmaze.gym_to_d4rl_pos(centre, (8, 8)), [2.8, 3.8])
    # cell 3 spans qpos [2.3, 3.3), cell 4 [3.3, 4.3)
    np.testing.assert_array_equal(maze_planner.cell_of(np.array([[2.8, 3.8], [3.31, 3.29]])),
                                  [[3, 4], [4, 3]])


@pytest.mark.parametrize("maze", sorted(D4RL_MAPS))
def test_wall_grids_and_targets_are_d4rl_maze2d(maze):
    rows = D4RL_MAPS[maze]
    expected = np.array([[1 if ch == "#" else 0 for ch in row] for row in rows])
    np.testing.assert_array_equal(pointmaze.maze_grid(maze), expected)
    goal = [(r, c) for r, row in enumerate(rows) for c, ch in enumerate(row) if ch == "G"]
    assert goal == [pointmaze.MAZE2D_TARGETS[maze]]


def _push(env, qpos, action, steps=150):
    env.set_state(np.asarray(qpos, float), np.zeros(2))
    for _ in range(steps):
        obs = env.step(action)[0]
    return obs


def test_walls_stop_the_point_at_centre_plus_0_2_plus_minus_0_4():
    env = pointmaze.make_maze2d_env("umaze")
    # row-3 corridor (cells 2.5..3.5 around index 3): qpos rows 2.40 .. 3.20
    assert _push(env, [3.0, 2.0], [1.0, 0.0])[0] == pytest.approx(3.20, abs=0.01)
    assert _push(env, [3.0, 2.0], [-1.0, 0.0])[0] == pytest.approx(2.40, abs=0.01)
    # row 1 runs from col 1 to col 3: qpos cols 0.40 .. 3.20
    assert _push(env, [1.0, 1.0], [0.0, -1.0], 300)[1] == pytest.approx(0.40, abs=0.01)
    assert _push(env, [1.0, 1.0], [0.0, 1.0], 300)[1] == pytest.approx(3.20, abs=0.01)


# ----------------------------------------------------------------------------- envs


def test_maze2d_env_rewards_like_d4rl_and_never_terminates():
    env = registry.make_env("maze2d-umaze-v1", seed=0)
    obs, _ = env.reset()
    assert obs.shape == (4,) and obs.dtype == np.float32
    free = {tuple(c) for c in maze_planner.free_cells(pointmaze.maze_grid("umaze"))}
    assert tuple(np.round(obs[:2]).astype(int)) in free
    env.unwrapped.set_state(np.array([1.3, 1.3]), np.zeros(2))  # 0.42 from target (1, 1)
    _, reward, terminated, _, info = env.step(np.zeros(2))
    assert (reward, terminated, info["success"]) == (1.0, False, True)
    env.unwrapped.set_state(np.array([1.0, 1.6]), np.zeros(2))
    assert env.step(np.zeros(2))[1] == 0.0


def test_gen_specs_and_eval_env_end_on_success():
    spec = registry.get_spec("gen-pointmaze-medium-play-v0")
    assert (spec.family, spec.obs_dim, spec.act_dim, spec.max_episode_steps) == (
        "gen-pointmaze", 4, 2, 600)
    domain = domains.domain_of(spec)
    assert (domain.reward_shift, domain.iql_config, spec.success_based) == (-1.0, "antmaze", True)
    assert spec.ref_max_score > spec.ref_min_score
    env = registry.make_env("gen-pointmaze-umaze-diverse-v0", seed=3)
    obs, _ = env.reset()
    assert np.all(np.abs(obs[:2] - np.array([1.0, 1.0])) <= pointmaze.RESET_NOISE)
    env.unwrapped.set_state(np.array([3.0, 1.45]), np.zeros(2))
    _, reward, terminated, _, info = env.step(np.zeros(2))
    assert (reward, terminated, info["success"]) == (1.0, True, True)


def test_planner_and_controller_by_hand():
    table = maze_planner.next_cell_table(pointmaze.maze_grid("umaze"))
    assert maze_planner.path_length(table, (1, 1), (3, 1)) == 6
    np.testing.assert_array_equal(table[3, 1, 1, 1], [1, 2])
    np.testing.assert_array_equal(table[0, 0, 1, 1], [-1, -1])  # a wall is no goal
    # in cell (1, 3) heading to (3, 1): waypoint = centre of (2, 3) = (1.8, 2.8)
    obs = np.array([[0.8, 2.75, 0.0, 0.5], [2.95, 1.02, 0.1, -0.2]])
    actions = maze_planner.pd_actions(table, obs, np.array([[3, 1], [3, 1]]))
    # row: clip(10 * 1.0) = 1; col: 10 * 0.05 - 0.5 = 0. In the goal cell the
    # waypoint is the goal (3, 1): (10 * 0.05 - 0.1, 10 * -0.02 + 0.2) = (0.4, 0).
    np.testing.assert_allclose(actions, [[1.0, 0.0], [0.4, 0.0]], atol=1e-12)


@pytest.mark.parametrize("maze", sorted(pointmaze.MAZES))
def test_noiseless_controller_reaches_eval_goal_within_limit(maze):
    name = pointmaze.gen_name(maze, "diverse")
    env = registry.make_env(name, seed=1)
    table = maze_planner.next_cell_table(pointmaze.maze_grid(maze))
    goal = np.array([pointmaze.EVAL[maze].goal])
    for _ in range(2):
        obs, _ = env.reset()
        for step in range(registry.get_spec(name).max_episode_steps):
            obs, reward, terminated, truncated, _ = env.step(
                maze_planner.pd_actions(table, obs[None], goal)[0])
            if terminated or truncated:
                break
        assert reward == 1.0 and terminated
        assert step + 1 < 0.5 * registry.get_spec(name).max_episode_steps  # 2x slack at least


def test_batch_simulation_steps_like_the_env():
    env = pointmaze.make_eval_env("umaze")
    sim = pointmaze_datasets._PointBatch("umaze")
    rng = np.random.default_rng(0)
    qpos = np.array([[3.0, 2.0], [1.1, 0.5], [2.2, 3.0]])  # the last two touch walls
    qvel = rng.uniform(-6, 6, (3, 2))  # beyond the +-5 clip
    actions = rng.uniform(-1.5, 1.5, (3, 2))
    sim.set(qpos, qvel)
    for _ in range(5):
        batch_obs = sim.step(actions)
    for i in range(3):
        env.set_state(qpos[i], qvel[i])
        for _ in range(5):
            obs = env.step(actions[i])[0]
        np.testing.assert_allclose(obs, batch_obs[i], atol=1e-5)


# ----------------------------------------------------------------------------- datasets


@pytest.fixture(scope="module")
def umaze_data():
    return pointmaze_datasets.generate("umaze", "diverse", 5000, seed=7)


def test_dataset_layout_and_dtypes(umaze_data):
    data, meta = umaze_data
    shapes = {k: (v.shape, v.dtype) for k, v in data.items()}
    assert shapes == {
        "observations": ((5000, 4), np.float32), "next_observations": ((5000, 4), np.float32),
        "actions": ((5000, 2), np.float32), "rewards": ((5000,), np.float32),
        "terminals": ((5000,), np.bool_), "timeouts": ((5000,), np.bool_),
        "infos/goal": ((5000, 2), np.float32), "infos/qpos": ((5000, 2), np.float32),
        "infos/qvel": ((5000, 2), np.float32)}
    np.testing.assert_array_equal(np.flatnonzero(data["timeouts"]), [999, 1999, 2999, 3999, 4999])
    assert np.abs(data["actions"]).max() <= 1.0
    np.testing.assert_array_equal(data["infos/qpos"], data["observations"][:, :2])
    same_episode = ~data["timeouts"][:-1]
    np.testing.assert_array_equal(data["next_observations"][:-1][same_episode],
                                  data["observations"][1:][same_episode])
    assert (meta["maze"], meta["kind"], meta["episode_length"]) == ("umaze", "diverse", 1000)
    np.testing.assert_array_equal(meta["eval_goal"], [3, 1])


def test_rewards_are_the_fixed_goal_relabelling(umaze_data):
    data, _ = umaze_data
    distance = np.linalg.norm(data["next_observations"][:, :2] - np.array([3.0, 1.0]), axis=1)
    np.testing.assert_array_equal(data["rewards"], (distance <= 0.5).astype(np.float32))
    np.testing.assert_array_equal(data["terminals"], distance <= 0.5)
    assert 0 < data["rewards"].sum() < 5000


def test_goals_are_redrawn_on_arrival(umaze_data):
    data, _ = umaze_data
    goals = data["infos/goal"].reshape(5, 1000, 2)
    free = {tuple(c) for c in maze_planner.free_cells(pointmaze.maze_grid("umaze"))}
    assert {tuple(g) for g in goals.reshape(-1, 2).astype(int)} <= free
    changes = np.any(goals[:, 1:] != goals[:, :-1], axis=2)
    assert changes.sum(axis=1).min() >= 3  # noisy controller still reaches several goals
    rows = np.flatnonzero(changes[0])  # the goal changes right after arriving
    reached = data["observations"].reshape(5, 1000, 4)[0, rows + 1, :2]
    assert np.all(np.linalg.norm(reached - goals[0, rows], axis=1) <= 0.5)


def test_play_goals_come_from_the_hand_picked_cells():
    data, _ = pointmaze_datasets.generate("medium", "play", 2000, seed=0)
    assert {tuple(g) for g in data["infos/goal"].astype(int)} <= set(
        pointmaze_datasets.PLAY_GOALS["medium"])
    assert pointmaze.EVAL["medium"].goal in pointmaze_datasets.PLAY_GOALS["medium"]


def test_generation_is_deterministic_per_seed(umaze_data):
    again, _ = pointmaze_datasets.generate("umaze", "diverse", 5000, seed=7)
    other, _ = pointmaze_datasets.generate("umaze", "diverse", 5000, seed=8)
    assert generated.array_checksum(again) == generated.array_checksum(umaze_data[0])
    assert not np.array_equal(other["observations"], again["observations"])


def test_cache_generates_once_and_regenerates_a_corrupt_file(tmp_path):
    name = "gen-pointmaze-umaze-play-v0"
    assert generated.is_generated(name) and not generated.is_generated("maze2d-umaze-v1")
    path = generated.ensure_generated(name, cache_dir=str(tmp_path), size=2000, seed=1)
    assert os.path.basename(path) == f"{name}-n2000-s1.hdf5"
    original = d4rl_io.load_hdf5(path)
    assert original["metadata/generator_version"] == pointmaze_datasets.GENERATOR_VERSION
    stamp = os.stat(path).st_mtime_ns
    assert generated.ensure_generated(name, cache_dir=str(tmp_path), size=2000, seed=1) == path
    assert os.stat(path).st_mtime_ns == stamp  # verified, not remade
    with h5py.File(path, "r+") as f:
        f["rewards"][5] = 7.0
    assert "checksum" in generated.check_cached(path, generated.GENERATED[name])
    generated.ensure_generated(name, cache_dir=str(tmp_path), size=2000, seed=1)
    np.testing.assert_array_equal(d4rl_io.load_hdf5(path)["rewards"], original["rewards"])
    with open(path, "wb") as f:
        f.write(b"not an hdf5 file")
    generated.ensure_generated(name, cache_dir=str(tmp_path), size=2000, seed=1)
    assert d4rl_io.load_hdf5(path)["metadata/checksum"] == original["metadata/checksum"]


def test_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CLUE_JAX_DATA_DIR", str(tmp_path))
    assert generated.dataset_path("gen-pointmaze-large-diverse-v0") == str(
        tmp_path / "gen-pointmaze-large-diverse-v0.hdf5")


def test_expert_demonstrations_reach_the_eval_goal(tmp_path):
    from clue_jax.data import d4rl_io, experts, factory
    from clue_jax.generation import generated, pointmaze_datasets
    name = pointmaze_datasets.demos_name("umaze")
    path = generated.ensure_generated(name, cache_dir=str(tmp_path))
    raw = d4rl_io.load_hdf5(path)
    assert raw["observations"].shape == (2000, 4)
    goal = np.asarray(pointmaze.EVAL["umaze"].goal, np.float32)
    ends = np.flatnonzero(raw["terminals"])
    assert len(ends) >= 10
    # every episode ends at its first step within 0.5 of the goal, and only there
    dist = np.linalg.norm(raw["next_observations"][:, :2] - goal, axis=1)
    np.testing.assert_array_equal(raw["terminals"], dist <= pointmaze.GOAL_RADIUS)
    np.testing.assert_array_equal(raw["rewards"], raw["terminals"].astype(np.float32))
    starts = np.concatenate([[0], ends[:-1] + 1])
    start = np.asarray(pointmaze.EVAL["umaze"].start, np.float32)
    assert np.all(np.abs(raw["observations"][starts, :2] - start) <= pointmaze.RESET_NOISE + 1e-6)
    demos = factory.load_dataset(name, dataset_path=path)
    selection = experts.expert_from_demonstrations(demos, 10)
    assert len(selection.segments) == 10 and "first 10" in selection.message
    again = d4rl_io.load_hdf5(generated.ensure_generated(name, cache_dir=str(tmp_path / "b")))
    np.testing.assert_array_equal(again["actions"], raw["actions"])
