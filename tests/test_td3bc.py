"""TD3+BC: losses and target by hand, policy delay, normalisation, init, fused = single, vmap."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax.training.train_state import TrainState

from clue_jax.agents import td3bc
from clue_jax.types import Batch

from learner_checks import assert_fused_equals_single, assert_vmapped_equals_separate

OBS, ACT = 3, 2


def random_batch(key, n=8):
    k = jax.random.split(key, 5)
    return Batch(jax.random.normal(k[0], (n, OBS)), jax.random.uniform(k[1], (n, ACT), minval=-1),
                 jax.random.normal(k[2], (n,)), (jax.random.uniform(k[3], (n,)) > 0.2) * 1.0,
                 jax.random.normal(k[4], (n, OBS)))


def tiny(seed=0, **kw):
    return td3bc.create(seed, jnp.zeros((1, OBS)), jnp.zeros((1, ACT)), hidden_dims=(16, 16), **kw)


# Hand-checkable stand-ins for the networks: pi(s) = w * s[:, :2]; Q1 = sum(s) + sum(a) * c,
# Q2 = Q1 + 1.
def actor_fn(variables, s):
    return variables["params"]["w"] * s[:, :ACT]


def critic_fn(variables, s, a):
    q1 = s.sum(-1) + a.sum(-1) * variables["params"]["c"]
    return q1, q1 + 1.0


def test_critic_loss_by_hand():
    s = jnp.array([[1.0, 0, 0], [0, 2.0, 0]])
    a = jnp.array([[1.0, 1.0], [0.0, -1.0]])
    # q1 = [1 + 2*0.5, 2 - 0.5] = [2, 1.5]; q2 = [3, 2.5]; y = [1, 1]
    loss, info = td3bc.critic_loss({"c": 0.5}, critic_fn, s, a, jnp.array([1.0, 1.0]))
    assert float(loss) == pytest.approx(((1 + 0.25) / 2) + ((4 + 2.25) / 2))
    assert float(info["q1"]) == pytest.approx(1.75)


def test_actor_loss_by_hand():
    s = jnp.array([[1.0, 2.0, 0.0], [-1.0, 0.0, 1.0]])
    a = jnp.array([[0.0, 1.0], [1.0, 0.0]])
    # pi = 0.5 * s[:, :2] = [[.5, 1], [-.5, 0]]; Q1(s, pi) = sum(s) + sum(pi) * 2 = [3 + 3, 0 - 1]
    loss, info = td3bc.actor_loss({"w": 0.5}, actor_fn, critic_fn, {"c": 2.0}, s, a, alpha=2.5)
    q = np.array([6.0, -1.0])
    lmbda = 2.5 / np.abs(q).mean()
    bc = np.mean((np.array([[.5, 1], [-.5, 0]]) - np.asarray(a)) ** 2)
    assert float(info["lambda"]) == pytest.approx(lmbda)
    assert float(info["bc_loss"]) == pytest.approx(bc)
    assert float(loss) == pytest.approx(-lmbda * q.mean() + bc)
    # lambda is a constant for the gradient: d loss / d w = -lambda * mean d Q1 / d w + d bc / d w
    grad = jax.grad(lambda w: td3bc.actor_loss({"w": w}, actor_fn, critic_fn, {"c": 2.0}, s, a,
                                               2.5)[0])(0.5)
    dq = np.array([2 * (1 + 2), 2 * (-1 + 0)])  # d sum(w * s[:, :2]) * 2 / dw
    dbc = np.mean(2 * (np.array([[.5, 1], [-.5, 0]]) - np.asarray(a)) * np.asarray(s[:, :2]))
    assert float(grad) == pytest.approx(-lmbda * dq.mean() + dbc, rel=1e-5)


def stub_agent(**kw):
    actor = TrainState.create(apply_fn=actor_fn, params={"w": jnp.float32(1.0)},
                              tx=optax.sgd(0.1))
    critic = TrainState.create(apply_fn=critic_fn, params={"c": jnp.float32(1.0)},
                               tx=optax.sgd(0.1))
    return td3bc.TD3BCAgent(actor=actor, critic=critic, target_actor_params={"w": jnp.float32(2.0)},
                            target_critic_params={"c": jnp.float32(3.0)},
                            obs_mean=jnp.zeros(OBS), obs_std=jnp.ones(OBS),
                            rng=jax.random.PRNGKey(0), step=jnp.int32(0), **kw)


def test_critic_target_noise_clip_and_min_by_hand():
    agent = stub_agent(discount=0.9)
    batch = Batch(jnp.zeros((2, OBS)), jnp.zeros((2, ACT)), jnp.array([1.0, 2.0]),
                  jnp.array([1.0, 0.0]), jnp.array([[0.1, 0.2, 1.0], [0.4, -0.45, 0.0]]))
    noise = jnp.array([[10.0, -10.0], [0.5, 0.5]])  # *0.2 -> [2, -2] clipped to +-0.5; [.1, .1]
    # pi_targ(s') = 2 * s'[:, :2] = [[.2, .4], [.8, -.9]]; + noise -> [[.7, -.1], [.9, -.8]]
    # clipped to +-1 (unchanged); Q1_targ = sum(s') + 3 * sum(a~') = [1.3 + 1.8, -0.05 + 0.3]
    q1 = np.array([1.3 + 3 * 0.6, -0.05 + 3 * 0.1])
    expected = np.array([1.0, 2.0]) + 0.9 * np.array([1.0, 0.0]) * q1  # min(q1, q1 + 1) = q1
    np.testing.assert_allclose(td3bc.critic_target(agent, batch, noise), expected, rtol=1e-6)


def test_actor_and_targets_move_only_every_second_update():
    agent = tiny()
    batch = random_batch(jax.random.PRNGKey(1))
    one, info1 = td3bc.jit_update(agent, batch)
    two, info2 = td3bc.jit_update(one, batch)
    same = lambda x, y: all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(x),
                                                                   jax.tree.leaves(y)))
    assert not same(one.critic.params, agent.critic.params)            # critic every step
    assert same(one.actor.params, agent.actor.params)                  # no actor at t = 1
    assert same(one.target_critic_params, agent.target_critic_params)  # nor targets
    assert float(info1["actor_loss"]) == 0.0 and float(info2["actor_loss"]) != 0.0
    assert not same(two.actor.params, one.actor.params)                # actor at t = 2
    for t, o, s in zip(jax.tree.leaves(two.target_critic_params),
                       jax.tree.leaves(one.target_critic_params),
                       jax.tree.leaves(two.critic.params)):
        np.testing.assert_allclose(t, 0.005 * s + 0.995 * o, rtol=1e-5, atol=1e-7)
    assert int(two.step) == 2


def test_state_normalisation_and_eval_actions():
    obs = np.random.default_rng(0).normal(3.0, 2.0, size=(500, OBS)).astype(np.float32)
    mean, std = td3bc.state_statistics(obs)
    np.testing.assert_allclose(std, obs.astype(np.float64).std(0) + 1e-3, rtol=1e-6)
    agent = tiny(obs_mean=mean, obs_std=std)
    probe = obs[:4]
    expected = agent.actor.apply_fn({"params": agent.actor.params}, (probe - mean) / std)
    np.testing.assert_allclose(td3bc.eval_actions(agent, probe), expected, rtol=1e-6)
    assert np.all(np.abs(np.asarray(expected)) <= 1.0)


def test_pytorch_default_init_bounds():
    agent = td3bc.create(0, jnp.zeros((1, 11)), jnp.zeros((1, 3)))
    first = agent.actor.params["MLP_0"]["TorchDense_0"]
    bound = 1 / np.sqrt(11)
    for x in (first["kernel"], first["bias"]):
        assert np.abs(x).max() <= bound and np.abs(x).max() > 0.8 * bound
    hidden = agent.critic.params["critic1"]["MLP_0"]["TorchDense_1"]["bias"]
    assert np.abs(hidden).max() <= 1 / np.sqrt(256)


def test_fused_steps_equal_single_steps():
    assert_fused_equals_single(td3bc, tiny(), random_batch(jax.random.PRNGKey(3), n=64), 5, 16)


@pytest.mark.slow
def test_vmap_over_seeds_matches_individual_runs():
    make = functools.partial(td3bc.create, observations=jnp.zeros((1, OBS)),
                             actions=jnp.zeros((1, ACT)), hidden_dims=(16, 16))
    _, infos = assert_vmapped_equals_separate(
        td3bc, make, random_batch(jax.random.PRNGKey(3), n=64), 3, 4, 8)
    assert infos["critic_loss"].shape == (3,)
