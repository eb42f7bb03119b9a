"""OTR labeller: rewards against a plain numpy log-domain Sinkhorn, padding, top-1 expert, squash."""

import numpy as np
import pytest
from scipy.special import logsumexp

from clue_jax.data.dataset import Dataset, DatasetError
from clue_jax.rewards import otr
from configs import otr_config


def numpy_otr_costs(x, y, T, eps=0.01, iters=100):
    """OTR's per-step costs for one (episode, expert) pair, padded to T, written out in numpy."""
    n, m = len(x), len(y)
    X = np.zeros((T, x.shape[1])); X[:n] = x
    Y = np.zeros((T, y.shape[1])); Y[:m] = y
    a = np.zeros(T); a[:n] = 1.0 / T
    b = np.zeros(T); b[:m] = 1.0 / T
    C = 1.0 - (X @ Y.T) / (np.linalg.norm(X, axis=1)[:, None] * np.linalg.norm(Y, axis=1)[None]
                           + 1e-8)
    f, g = np.zeros(T), np.zeros(T)
    with np.errstate(divide="ignore"):
        la, lb = np.log(a), np.log(b)
    for _ in range(iters):  # g (expert side) then f (agent side), log domain
        lse = eps * logsumexp((f[:, None] - C) / eps, axis=0)
        g = eps * lb - np.where(np.isfinite(lse), lse, 0.0)
        lse = eps * logsumexp((g[None, :] - C) / eps, axis=1)
        f = eps * la - np.where(np.isfinite(lse), lse, 0.0)
    P = np.exp((f[:, None] + g[None, :] - C) / eps)
    return (P * C).sum(1)[:n]


def make_dataset(obs, dones):
    n = len(obs)
    z = np.zeros(n, np.float32)
    return Dataset(observations=obs.astype(np.float32), actions=np.zeros((n, 1), np.float32),
                   rewards=z, masks=z + 1, dones_float=np.asarray(dones, np.float32),
                   next_observations=obs.astype(np.float32))


def two_episodes(rng, d=3):
    obs = rng.normal(size=(12, d)) + 1.0
    dones = np.zeros(12); dones[6] = 1; dones[-1] = 1   # episodes of 7 and 5 steps
    return make_dataset(obs, dones)


def expert_of(rng, lengths, d=3):
    obs = rng.normal(size=(sum(lengths), d)) + 1.0
    dones = np.zeros(len(obs)); dones[np.cumsum(lengths) - 1] = 1
    return make_dataset(obs, dones)


@pytest.mark.parametrize("pad_to_T", [True, False])
def test_rewards_equal_numpy_sinkhorn(pad_to_T):
    rng = np.random.default_rng(0)
    data, expert = two_episodes(rng), expert_of(rng, [6])
    config = otr_config.get_config("locomotion")
    config.episode_length, config.pad_to_episode_length, config.chunk_cells = 40, pad_to_T, 3000
    rewards, info = otr.otr_rewards(data, expert, config)
    beta_eff = config.beta * 40 / 3
    expected = np.concatenate([
        config.alpha * np.exp(-beta_eff * numpy_otr_costs(data.observations[s:e],
                                                          expert.observations, 40))
        for s, e in ((0, 7), (7, 12))])
    np.testing.assert_allclose(rewards, expected, rtol=1e-5, atol=1e-5)
    assert info["episodes"] == 2 and info["beta_eff"] == pytest.approx(beta_eff)


def test_padding_weights_and_lengths():
    obs = np.arange(10, dtype=np.float32).reshape(5, 2)
    atoms, weights = otr.pack(obs, np.array([0, 3]), np.array([3, 5]), 4, episode_length=1000)
    np.testing.assert_array_equal(weights, np.float32([[1e-3] * 3 + [0], [1e-3] * 2 + [0, 0]]))
    np.testing.assert_array_equal(atoms[1, :2], obs[3:5])
    assert not atoms[0, 3].any() and not atoms[1, 2:].any()
    assert otr.padded_length(1, 1000, False) == 16
    assert otr.padded_length(17, 1000, False) == 32
    assert otr.padded_length(999, 1000, False) == 1000
    assert otr.padded_length(3, 1000, True) == 1000


def test_top1_expert_chosen_by_episode_sum():
    rng = np.random.default_rng(1)
    data = two_episodes(rng)
    # expert 0: far from the data (negated); expert 1: the first episode itself
    far = make_dataset(-data.observations[:7], np.eye(7)[-1])
    near = make_dataset(data.observations[:7], np.eye(7)[-1])
    both = make_dataset(np.concatenate([far.observations, near.observations]),
                        np.concatenate([far.dones_float, near.dones_float]))
    config = otr_config.get_config("locomotion")
    config.episode_length = 16
    r_both, _ = otr.otr_rewards(data, both, config)
    r_near, _ = otr.otr_rewards(data, near, config)
    r_far, _ = otr.otr_rewards(data, far, config)
    np.testing.assert_allclose(r_both[:7], r_near[:7], rtol=1e-6)
    assert r_near[:7].sum() > r_far[:7].sum()
    for s, e in ((0, 7), (7, 12)):  # per episode, the better of the two
        best = r_near if r_near[s:e].sum() >= r_far[s:e].sum() else r_far
        np.testing.assert_allclose(r_both[s:e], best[s:e], rtol=1e-6)


def test_antmaze_beta_eff_and_bias():
    ant, loco = otr_config.get_config("antmaze"), otr_config.get_config("locomotion")
    assert otr.beta_eff(ant, 29) == 1000.0          # beta * T, no per-dim division
    assert otr.beta_eff(loco, 11) == pytest.approx(5000 / 11)   # hopper: 454.5
    assert otr.beta_eff(loco, 17) == pytest.approx(5000 / 17)   # walker2d: 294.1
    assert (ant.alpha, ant.reward_shift, loco.reward_shift) == (5.0, -2.0, 0.0)
    assert (ant.epsilon, ant.max_iterations, ant.episode_length) == (0.01, 100, 1000)


def test_episode_longer_than_T_is_rejected():
    rng = np.random.default_rng(2)
    data, expert = two_episodes(rng), expert_of(rng, [3])
    config = otr_config.get_config("locomotion")
    config.episode_length = 6
    with pytest.raises(DatasetError, match="episode_length"):
        otr.otr_rewards(data, expert, config)
