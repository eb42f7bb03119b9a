"""Vectorized evaluation: exact returns, masking, seeds, scores and success rates."""

import gymnasium
import numpy as np
import pytest

from clue_jax import evaluation
from clue_jax.envs import antmaze, registry
from clue_jax.envs.registry import EnvSpec


class CountdownEnv(gymnasium.Env):
    """obs = (t, seed); reward = action[0] * (t + 1); terminates after 2 + seed % 3 steps."""

    observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (2,), np.float32)
    action_space = gymnasium.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.seed_, self.t = seed, 0
        return np.array([0.0, seed], np.float32), {}

    def step(self, action):
        reward = float(action[0]) * (self.t + 1)
        self.t += 1
        done = self.t >= 2 + self.seed_ % 3
        return np.array([self.t, self.seed_], np.float32), reward, done, False, {}


@pytest.fixture
def scratch_registry(monkeypatch):
    registry._ensure_builtin()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


@pytest.fixture
def countdown(scratch_registry):
    spec = EnvSpec("countdown-v0", "locomotion", 2, 1, 50, 0.0, 10.0, False)
    registry.register(spec, lambda seed: CountdownEnv())
    return spec.name


def test_returns_lengths_and_masking_by_hand(countdown):
    calls = []

    def policy(obs):
        calls.append(obs.copy())
        return np.full((obs.shape[0], 1), 0.5)

    out = evaluation.evaluate(policy, countdown, num_episodes=3, seed=10)
    # seeds 10, 11, 12 -> lengths 3, 4, 2; return = 0.5 * (1 + ... + length)
    returns = np.array([0.5 * 6, 0.5 * 10, 0.5 * 3])
    assert out["return"] == pytest.approx(returns.mean())
    assert out["return_std"] == pytest.approx(returns.std())
    assert out["length"] == pytest.approx(3.0)
    assert out["normalized_score"] == pytest.approx(10.0 * returns.mean())
    assert "success_rate" not in out
    assert len(calls) == 4 and all(c.shape == (3, 2) for c in calls)  # one call per step
    np.testing.assert_array_equal(calls[0][:, 1], [10, 11, 12])
    np.testing.assert_array_equal(calls[3], [[3, 10], [3, 11], [2, 12]])  # finished ones frozen
    metrics, episodes = evaluation.evaluate_episodes(policy, countdown, num_episodes=3, seed=10)
    assert metrics == out
    np.testing.assert_array_equal(episodes["lengths"], [3, 4, 2])
    np.testing.assert_allclose(episodes["returns"], returns)
    np.testing.assert_array_equal(episodes["final_observations"], [[3, 10], [4, 11], [2, 12]])


def test_actions_are_clipped_and_shape_checked(countdown):
    big = evaluation.evaluate(lambda o: np.full((len(o), 1), 7.0), countdown, 2, seed=0)
    unit = evaluation.evaluate(lambda o: np.ones((len(o), 1)), countdown, 2, seed=0)
    assert big == unit
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        evaluation.evaluate(lambda o: np.ones(len(o)), countdown, 2, seed=0)


def test_hopper_matches_stepping_by_hand():
    def policy(obs):  # elementwise, so batched and single-row calls agree bit for bit
        return np.tanh(3.0 * obs[:, 2:5] - obs[:, 5:8])

    out = evaluation.evaluate(policy, "hopper-medium-v2", num_episodes=2, seed=7, max_steps=15)
    returns, lengths = [], []
    for i in range(2):
        env = registry.make_env("hopper-medium-v2", 7 + i, max_episode_steps=15)
        obs, _ = env.reset(seed=7 + i)
        total, steps, done = 0.0, 0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy(obs[None])[0])
            total, steps, done = total + reward, steps + 1, terminated or truncated
        returns.append(total)
        lengths.append(steps)
    assert out["return"] == np.mean(returns) and out["return_std"] == np.std(returns)
    assert out["length"] == np.mean(lengths)
    assert out["normalized_score"] == pytest.approx(
        registry.normalized_score("hopper-medium-v2", np.mean(returns)))


def test_antmaze_failure_and_success(scratch_registry):
    zero = lambda obs: np.zeros((obs.shape[0], 8))
    out = evaluation.evaluate(zero, "antmaze-umaze-v2", num_episodes=2, seed=0, max_steps=3)
    assert out == {"return": 0.0, "return_std": 0.0, "normalized_score": 0.0, "length": 3.0,
                   "success_rate": 0.0}
    # A goal at the start: the ant begins within 0.1 of (0, 0), so step 1 succeeds.
    spec = EnvSpec("antmaze-at-start-v0", "antmaze", 29, 8, 700, 0.0, 1.0, True)
    registry.register(spec, lambda seed: antmaze.D4RLAntMazeEnv("umaze", goal=(0.0, 0.0)))
    out = evaluation.evaluate(zero, spec.name, num_episodes=2, seed=0)
    assert out == {"return": 1.0, "return_std": 0.0, "normalized_score": 100.0, "length": 1.0,
                   "success_rate": 1.0}


def test_each_evaluation_draws_new_start_states_reproducibly():
    from clue_jax.evaluation import eval_seed
    seeds = [eval_seed(0, step) for step in (5000, 10000, 15000)]
    assert len(set(seeds)) == 3 and seeds == [eval_seed(0, s) for s in (5000, 10000, 15000)]
    assert eval_seed(1, 5000) != eval_seed(0, 5000)
    assert all(0 <= s < 2 ** 31 for s in seeds)
