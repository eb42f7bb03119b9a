"""Env registry, normalized scores, and the D4RL-compatible AntMaze."""

import dataclasses

import mujoco
import numpy as np
import pytest

from clue_jax.envs import antmaze, gym_envs, registry
from clue_jax.experiments import domains
from clue_jax.envs.registry import EnvSpec, UnknownEnvError

CLUE_NAMES = (
    [f"antmaze-{m}-v2" for m in ("umaze", "umaze-diverse", "medium-play", "medium-diverse",
                                  "large-play", "large-diverse")]
    + [f"{e}-{q}-v2" for e in ("hopper", "halfcheetah", "walker2d")
       for q in ("random", "medium", "medium-replay", "medium-expert", "expert")]
    + [f"{t}-{q}-v1" for t in ("pen", "door", "hammer", "relocate")
       for q in ("human", "cloned", "expert")]
    + [f"maze2d-{m}-v1" for m in ("umaze", "medium", "large")]
    + ["ant-random-v2", "ant-medium-v2"])


@pytest.fixture
def scratch_registry(monkeypatch):
    """Let a test register names without leaking them into other tests."""
    registry._ensure_builtin()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def test_every_clue_name_has_a_spec():
    for name in CLUE_NAMES:
        assert registry.get_spec(name).name == name
    assert registry.get_spec("antmaze-umaze-v0") == registry.get_spec("antmaze-umaze-v0")


@pytest.mark.parametrize("name,family,dims,steps,rule,config", [
    ("antmaze-umaze-v2", "antmaze", (29, 8), 700, ("none", -1.0), "antmaze"),
    ("antmaze-large-diverse-v2", "antmaze", (29, 8), 1000, ("none", -1.0), "antmaze"),
    ("hopper-medium-v2", "locomotion", (11, 3), 1000, ("return_range", 0.0), "mujoco"),
    ("walker2d-expert-v2", "locomotion", (17, 6), 1000, ("return_range", 0.0), "mujoco"),
    # the reference IQL normalises only hopper / halfcheetah / walker2d rewards, not ant's
    ("ant-medium-v2", "locomotion", (27, 8), 1000, ("none", 0.0), "mujoco"),
    ("pen-human-v1", "adroit", (45, 24), 100, ("none", 0.0), "kitchen"),
    ("hammer-cloned-v0", "adroit", (46, 26), 200, ("none", 0.0), "kitchen"),
    ("relocate-expert-v1", "adroit", (39, 30), 200, ("none", 0.0), "kitchen"),
    ("maze2d-medium-v1", "maze2d", (4, 2), 600, ("none", 0.0), "mujoco"),
])
def test_spec_facts(name, family, dims, steps, rule, config):
    spec = registry.get_spec(name)
    assert (spec.family, (spec.obs_dim, spec.act_dim), spec.max_episode_steps) == (
        family, dims, steps)
    domain = domains.domain_of(spec)
    assert ((domain.reward_scaling, domain.reward_shift), domain.iql_config) == (rule, config)
    assert spec.success_based == (family == "antmaze")


def test_unknown_name_lists_close_matches():
    with pytest.raises(UnknownEnvError) as err:
        registry.get_spec("hoper-medium-v2")
    assert isinstance(err.value, ValueError)
    assert "'hopper-medium-v2'" in str(err.value) and "list_envs()" in str(err.value)


def test_normalized_scores_by_hand():
    assert registry.normalized_score("hopper-medium-v2", 3234.3) == pytest.approx(100.0)
    assert registry.normalized_score("hopper-medium-v2", -20.272305) == pytest.approx(0.0)
    # maze2d-umaze: (92.855 - 23.85) / (161.86 - 23.85) = 0.5
    assert registry.normalized_score("maze2d-umaze-v1", 92.855) == pytest.approx(50.0)
    # ant: (1777.05 - (-325.6)) / (3879.7 + 325.6) = 0.5
    assert registry.normalized_score("ant-random-v2", 1777.05) == pytest.approx(50.0)
    np.testing.assert_allclose(registry.normalized_score("antmaze-umaze-v2", [0.0, 1.0, 0.5]),
                               [0.0, 100.0, 50.0])


def test_register_make_env_and_conflicts(scratch_registry):
    spec = EnvSpec("toy-v0", "locomotion", 11, 3, 7, 0.0, 10.0, False)
    registry.register(spec, gym_envs.gymnasium_factory("Hopper-v5", 11))
    env = registry.make_env("toy-v0", seed=0)
    steps = 0
    while True:  # zero torques: hopper stands for 7 steps, then the time limit ends it
        _, _, terminated, truncated, _ = env.step(np.zeros(3))
        steps += 1
        if terminated or truncated:
            break
    assert (steps, truncated) == (7, True)
    assert "toy-v0" in registry.list_envs("locomotion")
    with pytest.raises(ValueError, match="already registered"):
        registry.register(spec, gym_envs.gymnasium_factory("Hopper-v5", 11))
    pending = dataclasses.replace(spec, name="pending-v0")  # a spec without a factory yet
    registry.register(pending, None)
    with pytest.raises(RuntimeError, match="no env factory"):
        registry.make_env("pending-v0", seed=0)
    with pytest.raises(ValueError, match="max_episode_steps"):
        registry.register(dataclasses.replace(pending, max_episode_steps=1), lambda s: None)
    registry.register(pending, lambda seed: "factory-used")
    assert registry._REGISTRY["pending-v0"][1](0) == "factory-used"


def test_locomotion_env_is_float32_and_clips_actions():
    envs = [registry.make_env("hopper-medium-v2", seed=3) for _ in range(2)]
    obs = [env.reset(seed=3)[0] for env in envs]
    assert obs[0].dtype == np.float32 and obs[0].shape == (11,)
    np.testing.assert_array_equal(obs[0], obs[1])
    out_big = envs[0].step(np.array([5.0, -5.0, 0.5]))
    out_unit = envs[1].step(np.array([1.0, -1.0, 0.5]))
    np.testing.assert_array_equal(out_big[0], out_unit[0])
    assert out_big[1] == out_unit[1]


def test_ant_locomotion_obs_is_27():
    env = registry.make_env("ant-medium-v2", seed=0)
    assert env.reset(seed=0)[0].shape == (27,)


# ----------------------------------------------------------------------- antmaze


def test_coordinate_conversion_hand_numbers():
    # umaze 5x5, s=4: gym centre of cell (1, 1) is (1.5*4 - 10, 10 - 1.5*4) = (-4, 4).
    np.testing.assert_allclose(antmaze.gym_to_d4rl_xy([-4.0, 4.0], (5, 5)), [0.0, 0.0])
    np.testing.assert_allclose(antmaze.gym_to_d4rl_xy([-4.0, -4.0], (5, 5)), [0.0, 8.0])
    # large 9x12: cell (7, 9) -> gym (9.5*4 - 24, 18 - 7.5*4) = (14, -12) -> D4RL (32, 24).
    np.testing.assert_allclose(antmaze.gym_to_d4rl_xy([14.0, -12.0], (9, 12)), [32.0, 24.0])
    np.testing.assert_allclose(antmaze.d4rl_to_gym_xy([20.0, 20.0], (8, 8)), [10.0, -10.0])
    np.testing.assert_allclose(antmaze.cell_to_d4rl_xy(6, 6), [20.0, 20.0])
    pts = np.array([[0.3, -1.2], [7.0, 2.5]])
    np.testing.assert_allclose(
        antmaze.d4rl_to_gym_xy(antmaze.gym_to_d4rl_xy(pts, (8, 8)), (8, 8)), pts)


def test_conversion_agrees_with_gymnasium_robotics_cells():
    from gymnasium_robotics.envs.maze.maze_v4 import Maze
    grid = antmaze.maze_grid("large")
    maze = Maze(grid.tolist(), antmaze.MAZE_SIZE_SCALING, antmaze.MAZE_HEIGHT)
    for row, col in np.argwhere(grid == 0):
        xy_gym = maze.cell_rowcol_to_xy(np.array([row, col]))
        np.testing.assert_allclose(antmaze.gym_to_d4rl_xy(xy_gym, grid.shape),
                                   antmaze.cell_to_d4rl_xy(row, col), atol=1e-12)


# D4RL's U_MAZE_TEST, BIG_MAZE_TEST, HARDEST_MAZE_TEST walls (1 = wall; R/G cells free).
D4RL_GRIDS = {
    "umaze": ["11111", "10001", "11101", "10001", "11111"],
    "medium": ["11111111", "10011001", "10010001", "11000111", "10010001", "10100101",
               "10001001", "11111111"],
    "large": ["111111111111", "100001000001", "101101010101", "100000010001", "101111011101",
              "100101000001", "110101010111", "100100010001", "111111111111"],
}


@pytest.mark.parametrize("maze,walls", [("umaze", 18), ("medium", 38), ("large", 62)])
def test_maze_grids_are_d4rl_s(maze, walls):
    grid = antmaze.maze_grid(maze)
    expected = np.array([[int(c) for c in row] for row in D4RL_GRIDS[maze]])
    np.testing.assert_array_equal(grid, expected)
    _, start, goal = antmaze.MAZES[maze]
    assert grid.sum() == walls and grid[start] == 0 and grid[goal] == 0
    model = antmaze.build_model(maze)
    names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, i) for i in range(model.ngeom)]
    assert sum(n.startswith("block_") for n in names if n) == walls


def test_antmaze_physics_parameters():
    model = antmaze.build_model("umaze")
    assert model.opt.timestep == 0.02
    assert model.opt.integrator == mujoco.mjtIntegrator.mjINT_RK4
    assert antmaze.FRAME_SKIP * model.opt.timestep == pytest.approx(0.1)
    np.testing.assert_array_equal(model.actuator_gear[:, 0], np.ones(8))
    np.testing.assert_array_equal(model.actuator_ctrlrange, np.tile([-30.0, 30.0], (8, 1)))
    np.testing.assert_allclose(model.geom_solref, np.tile([0.02, 1.0], (model.ngeom, 1)))
    np.testing.assert_allclose(model.geom_solimp[:, :3],
                               np.tile([0.8, 0.8, 0.01], (model.ngeom, 1)))
    # D4RL's margin 0.01 per contact (MuJoCo 2.1: the larger of two; here: the sum of halves)
    np.testing.assert_allclose(model.geom_margin, 0.005)
    assert (model.nq, model.nv, model.nu) == (15, 14, 8)
    # ant geometry as D4RL's ant.xml: torso sphere 0.25, legs capsules 0.08, joint armature 1.
    torso = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "torso_geom")
    assert model.geom_size[torso, 0] == 0.25
    np.testing.assert_array_equal(model.dof_armature[6:], np.ones(8))
    np.testing.assert_array_equal(model.dof_damping[6:], np.ones(8))


def test_antmaze_reset_obs_and_action_scale():
    env = antmaze.D4RLAntMazeEnv("umaze")
    obs, info = env.reset(seed=5)
    again, _ = antmaze.D4RLAntMazeEnv("umaze").reset(seed=5)
    np.testing.assert_array_equal(obs, again)
    assert obs.shape == (29,) and obs.dtype == np.float32
    np.testing.assert_allclose(obs, np.concatenate([env.data.qpos, env.data.qvel]), atol=1e-6)
    assert np.all(np.abs(obs[:2]) <= 0.1) and 0.65 <= obs[2] <= 0.85
    action = np.array([2.0, -3.0, 0.5, 0.0, -0.25, 1.0, -1.0, 0.1])
    env.step(action)  # NormalizedBoxEnv: ctrl = 30 * clip(action, -1, 1)
    np.testing.assert_allclose(env.data.ctrl, 30.0 * np.clip(action, -1, 1))


def test_antmaze_goal_draw_follows_d4rl_v2():
    for maze, centre in (("umaze", (0.0, 8.0)), ("large", (32.0, 24.0))):
        env = antmaze.D4RLAntMazeEnv(maze)
        goals = np.array([env.reset(seed=s)[1]["goal"] for s in range(20)])
        # centre + U[0, 1) + U[0, 0.5) per axis
        assert np.all(goals >= centre) and np.all(goals < np.add(centre, 1.5))
        assert len(np.unique(goals[:, 0])) == 20
    fixed = antmaze.D4RLAntMazeEnv("medium", goal=(20.5, 20.5))
    assert tuple(fixed.reset(seed=0)[1]["goal"]) == (20.5, 20.5)


def test_antmaze_reward_and_termination_at_radius():
    env = antmaze.D4RLAntMazeEnv("umaze")
    env.reset(seed=0)
    env.goal = env.data.qpos[:2] + np.array([0.3, 0.0])  # one 0.1 s step moves it < 0.2
    obs, reward, terminated, truncated, info = env.step(np.zeros(8))
    assert (reward, terminated, truncated, info["success"]) == (1.0, True, False, True)
    assert info["distance"] == pytest.approx(np.linalg.norm(obs[:2] - env.goal), abs=1e-5)
    env.reset(seed=0)
    env.goal = env.data.qpos[:2] + np.array([1.0, 0.0])
    _, reward, terminated, _, info = env.step(np.zeros(8))
    assert (reward, terminated, info["success"]) == (0.0, False, False)


def _slide(env, xy, velocity, steps=20):
    """Throw the ant from `xy` with torso `velocity` and zero torques; (steps, 2) xy."""
    env.reset(seed=0)
    env.data.qpos[:2] = xy
    env.data.qvel[:] = 0.0
    env.data.qvel[:2] = velocity
    mujoco.mj_forward(env.model, env.data)
    return np.array([env.step(np.zeros(8))[0][:2] for _ in range(steps)])


def test_antmaze_walls_stop_the_torso_in_d4rl_units():
    """umaze corridor row 1 spans y in (-2, 2); row 2 is wall for x < 6, free at x = 8.

    Measured: thrown at 10 m/s, the torso stops 0.4-0.45 short of a wall face
    (its legs touch first): at y = -1.56 and +1.62, x = -1.61.
    """
    env = antmaze.D4RLAntMazeEnv("umaze")
    down = _slide(env, [0.0, 0.0], [0.0, -10.0])[:, 1].min()
    up = _slide(env, [0.0, 0.0], [0.0, 10.0])[:, 1].max()
    left = _slide(env, [4.0, 0.0], [-10.0, 0.0])[:, 0].min()
    assert -2.0 + 0.25 < -down < 2.0 and 1.0 < -down
    assert 1.0 < up < 2.0 - 0.25
    assert -2.0 + 0.25 < left < -1.0
    # Column 3 is open downwards in D4RL's frame (row 2 free): the ant passes y = 2.
    assert _slide(env, [8.0, 0.0], [0.0, 10.0])[:, 1].max() > 4.0


def test_antmaze_random_rollout_stays_physical():
    env = antmaze.D4RLAntMazeEnv("medium")
    obs, _ = env.reset(seed=1)
    rng = np.random.default_rng(0)
    heights = []
    for _ in range(60):
        obs, reward, terminated, _, _ = env.step(rng.uniform(-1, 1, 8))
        heights.append(obs[2])
        assert np.all(np.isfinite(obs)) and reward == 0.0 and not terminated
    assert 0.2 < min(heights) and max(heights) < 1.0  # D4RL's healthy z range
    assert np.linalg.norm(obs[:2]) < 2.0  # still in the start cell
    np.testing.assert_allclose(np.linalg.norm(env.data.qpos[3:7]), 1.0, atol=1e-6)


# ----------------------------------------------------------------------- adroit


def _wrapper_types(env):
    types = []
    while hasattr(env, "env"):
        types.append(type(env))
        env = env.env
    return types


def test_adroit_door_reward_is_d4rl_s():
    """D4RL door: -0.1 d(palm, handle) - 0.1 (hinge - 1.57)^2 - 1e-5 |qvel|^2 + bonuses."""
    env = registry.make_env("door-human-v1", seed=0)
    env.reset(seed=0)
    action = np.linspace(-1.0, 1.0, 28)
    _, reward, _, _, _ = env.step(action)
    door = env.unwrapped
    hinge = float(door.data.qpos[door.door_hinge_addrs])
    d = np.linalg.norm(door.data.site_xpos[door.grasp_site_id]
                       - door.data.site_xpos[door.handle_site_id])
    expected = (-0.1 * d - 0.1 * (hinge - 1.57) ** 2 - 1e-5 * np.sum(door.data.qvel ** 2)
                + 2 * (hinge > 0.2) + 8 * (hinge > 1.0) + 10 * (hinge > 1.35))
    assert reward == pytest.approx(expected, abs=1e-9)
    assert gym_envs.AdroitRewardFix in _wrapper_types(registry.make_env("relocate-cloned-v1", 0))
    assert gym_envs.AdroitRewardFix not in _wrapper_types(registry.make_env("pen-human-v1", 0))


@pytest.mark.parametrize("name,cell", [("gen-pointmaze-large-diverse-v0", 1.0),
                                       ("maze2d-medium-v1", 1.0), ("antmaze-umaze-v2", 4.0),
                                       ("gen-antmaze-medium-play-v1", 4.0)])
def test_maze_layouts_put_start_and_goal_in_free_cells(name, cell):
    from clue_jax.envs import antmaze, layout
    maze = layout.maze_layout(name)
    grid = antmaze.maze_grid(name.removeprefix("gen-").split("-")[1])
    assert len(maze.walls) == grid.sum() and np.all(maze.walls[:, 2:] == cell)
    for point in (maze.start, maze.goal):
        if point is None:
            continue
        inside = ((maze.walls[:, 0] <= point[0]) & (point[0] <= maze.walls[:, 0] + cell)
                  & (maze.walls[:, 1] <= point[1]) & (point[1] <= maze.walls[:, 1] + cell))
        assert not inside.any(), (name, point)
    assert layout.maze_layout("hopper-medium-v2") is None
