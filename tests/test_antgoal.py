"""The goal-reaching ant (envs/antgoal.py): D4RL's antmaze ant on an open floor, its
observation, goals, rewards, termination and exact episode state; SAC trains in it."""

import mujoco
import numpy as np
import pytest

from clue_jax import sac_loop
from clue_jax.envs import antgoal, antmaze, registry
from clue_jax.experiments import sac as sac_runs


@pytest.fixture(scope="module")
def env():
    return antgoal.AntGoalEnv()


def test_registered_as_the_goal_ants_training_env():
    spec = registry.get_spec(antgoal.NAME)
    assert (spec.obs_dim, spec.act_dim, spec.max_episode_steps) == (29, 8, antgoal.EPISODE_STEPS)
    assert not registry.reference_scores_measured(antgoal.NAME)  # raw returns: not a dataset
    made = registry.make_env(antgoal.NAME, 0)
    assert isinstance(made.unwrapped, antgoal.AntGoalEnv)
    assert sac_runs.sac_env(antgoal.NAME) == (antgoal.NAME, antgoal.NAME)
    assert sac_runs.sac_env("Hopper-v5") == ("Hopper-v5", "gen-hopper-expert-v0")
    with pytest.raises(ValueError, match="gen-antgoal-v0"):
        sac_runs.sac_env("Ant-v5")


def test_the_ant_is_the_antmaze_ant_without_walls(env):
    maze = antmaze.build_model("umaze")
    open_floor = env.model
    walls = int((antmaze.maze_grid("umaze") == 1).sum())
    assert open_floor.ngeom == maze.ngeom - walls
    assert open_floor.opt.timestep == maze.opt.timestep == antmaze.TIMESTEP
    for field in ("body_mass", "body_inertia", "actuator_gear", "actuator_ctrlrange",
                  "dof_damping", "dof_armature"):
        np.testing.assert_array_equal(getattr(open_floor, field), getattr(maze, field))
    np.testing.assert_array_equal(open_floor.geom_margin, maze.geom_margin[:open_floor.ngeom])
    # the same state and actions give the same motion, away from the maze's walls
    maze_data, data = mujoco.MjData(maze), mujoco.MjData(open_floor)
    rng = np.random.default_rng(0)
    qpos = maze.qpos0 + rng.uniform(-0.1, 0.1, maze.nq)
    for model, d in ((maze, maze_data), (open_floor, data)):
        d.qpos[:] = qpos
        mujoco.mj_forward(model, d)
    for action in rng.uniform(-1, 1, (10, 8)):
        antmaze.physics_step(maze, maze_data, action)
        antmaze.physics_step(open_floor, data, action)
    np.testing.assert_array_equal(data.qpos, maze_data.qpos)
    np.testing.assert_array_equal(data.qvel, maze_data.qvel)


def test_observation_layout_and_reset(env):
    obs, info = env.reset(seed=5)
    qpos, qvel = env.data.qpos, env.data.qvel
    assert obs.shape == (29,) and obs.dtype == np.float32
    np.testing.assert_allclose(obs[:13], qpos[2:15], rtol=1e-6)
    np.testing.assert_allclose(obs[13:27], qvel[:14], rtol=1e-6)
    np.testing.assert_allclose(obs[27:], env.goal - qpos[:2], rtol=1e-6)
    distance = np.linalg.norm(env.goal - qpos[:2])
    assert antgoal.GOAL_MIN <= distance <= antgoal.GOAL_MAX
    assert info["distance"] == pytest.approx(distance) and info["arrivals"] == 0
    again, _ = env.reset(seed=5)
    np.testing.assert_array_equal(again, obs)


def test_progress_reward_arrival_and_the_next_goal(env):
    env.reset(seed=1)
    before = np.linalg.norm(env.goal - env.data.qpos[:2])
    action = np.full(8, 0.2, np.float32)
    _, reward, terminated, truncated, info = env.step(action)
    after = np.linalg.norm(info["goal"] - env.data.qpos[:2])
    assert reward == pytest.approx((before - after) / antgoal.DT)
    assert not (terminated or truncated or info["success"])
    # a goal under the torso: arrival, the bonus, and a new goal 1-5 away
    env.set_goal(env.data.qpos[:2] + [0.1, 0.0])
    before = np.linalg.norm(env.goal - env.data.qpos[:2])
    _, reward, _, _, info = env.step(action)
    after = np.linalg.norm(info["goal"] - env.data.qpos[:2])
    assert info["success"] and info["arrivals"] == 1
    assert reward == pytest.approx((before - after) / antgoal.DT + antgoal.ARRIVAL_BONUS)
    new_distance = np.linalg.norm(env.goal - env.data.qpos[:2])
    assert antgoal.GOAL_MIN <= new_distance <= antgoal.GOAL_MAX
    assert not np.allclose(env.goal, info["goal"])


@pytest.mark.parametrize("reward_type", ["distance", "sparse"])
def test_d4rl_rewards(reward_type):
    env = antgoal.AntGoalEnv(reward_type)
    env.reset(seed=2)
    _, reward, _, _, info = env.step(np.zeros(8, np.float32))
    expected = -info["distance"] if reward_type == "distance" else 0.0
    assert reward == pytest.approx(expected)
    with pytest.raises(ValueError, match="reward_type"):
        antgoal.AntGoalEnv("dense")


def test_an_upside_down_torso_ends_the_episode(env):
    upright = np.zeros(15)
    upright[3] = 1.0
    flipped = upright.copy()
    flipped[3:7] = [0.0, 1.0, 0.0, 0.0]  # 180 degrees about x
    tilted = upright.copy()
    tilted[3:7] = [np.cos(np.pi / 6), np.sin(np.pi / 6), 0.0, 0.0]  # 60 degrees
    assert list(antgoal.upside_down(np.stack([upright, tilted, flipped]))) == [False, False, True]
    env.reset(seed=0)
    env.data.qpos[3:7] = [0.0, 1.0, 0.0, 0.0]
    env.data.qpos[2] = 1.0
    mujoco.mj_forward(env.model, env.data)
    assert env.step(np.zeros(8, np.float32))[2]


def test_sac_runner_restores_an_episode_exactly_goals_included():
    runner = sac_loop.EnvRunner(antgoal.NAME, seed=4)
    runner.reset()
    runner.sim.set_goal(runner.sim.data.qpos[:2] + [0.2, 0.0])  # an arrival on the first step
    actions = np.random.default_rng(0).uniform(-1, 1, (30, 8)).astype(np.float32)
    for a in actions[:15]:
        runner.step(a)
    assert runner.sim.arrivals == 1
    state = runner.state_dict()
    runner.sim.set_goal(runner.sim.data.qpos[:2] + [0.3, 0.0])  # a second arrival next step
    tail = [runner.step(a) for a in actions[15:]]
    assert runner.sim.arrivals == 2
    other = sac_loop.EnvRunner(antgoal.NAME, seed=4)
    other.load_state_dict(state)
    assert other.sim.arrivals == 1
    other.sim.set_goal(other.sim.data.qpos[:2] + [0.3, 0.0])
    again = [other.step(a) for a in actions[15:]]
    np.testing.assert_array_equal(np.stack([t[0] for t in again]), np.stack([t[0] for t in tail]))
    assert [t[1] for t in again] == [t[1] for t in tail]
    np.testing.assert_array_equal(other.sim.goal, runner.sim.goal)


def test_the_shipped_policy_matches_its_manifest_and_reaches_near_goals():
    """clue_jax/policies/antgoal/policy.msgpack: the snapshot policies.json names, and it
    reaches three goals 2 m away on the open floor (from rest, 150 steps each at most)."""
    import json
    from clue_jax.agents import sac_actor
    from clue_jax.generation import antmaze_datasets as gen
    entry = json.loads((gen.policy_path().parents[1] / "policies.json").read_text())["antgoal"]
    actor = gen.load_policy("gen-antmaze-umaze-v0")
    assert actor.meta["env"] == antgoal.NAME and int(actor.meta["step"]) == entry["step"]
    assert float(actor.meta["return"]) == pytest.approx(entry["eval_return"], abs=0.05)
    policy = sac_actor.deterministic_policy(actor)
    env = antgoal.AntGoalEnv()
    for i, heading in enumerate((0.0, 2.0, 4.0)):
        obs, _ = env.reset(seed=i)
        env.set_goal(env.data.qpos[:2] + 2.0 * np.array([np.cos(heading), np.sin(heading)]))
        obs = env._obs()
        for step in range(150):
            obs, _, terminated, _, info = env.step(policy(obs[None])[0])
            if info["success"] or terminated:
                break
        assert info["success"] and not terminated, (heading, step, info)
