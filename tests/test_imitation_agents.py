"""SMODICE, DemoDICE, ValueDICE, IQ-Learn: every loss against numbers worked by hand
(linear networks, so each gradient is known), absorbing states, the DemoData batch,
fused = single steps and vmap over seeds for every learner."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from clue_jax import networks
from clue_jax.agents import demodice, imitation, iqlearn, smodice, valuedice
from clue_jax.data.dataset import (DemoData, add_absorbing_states, initial_observations,
                                   make_dataset, sample_batch)
from clue_jax.types import Batch
from configs import demodice_config, iqlearn_config, smodice_config, valuedice_config

from learner_checks import assert_fused_equals_single, assert_vmapped_equals_separate

W = np.array([0.5, -1.0], np.float32)


def linear_v(variables, x):
    return x @ variables["params"]["w"]


def linear_q(variables, s, a):
    return s @ variables["params"]["ws"] + a @ variables["params"]["wa"]


S = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], np.float32)
S_NEXT = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 0.0]], np.float32)
S0 = np.array([[1.0, 2.0], [0.0, 0.0]], np.float32)
R = np.array([0.2, -0.1, 0.4], np.float32)
M = np.array([1.0, 0.0, 1.0], np.float32)


# ----------------------------------------------------------------------------- shared pieces

def test_gradient_penalty_with_eps_and_orthogonal_penalty_by_hand():
    fn = lambda x: x @ jnp.array([3.0, 4.0])  # grad = (3, 4), norm 5  # noqa: E731
    assert float(imitation.gradient_penalty(fn, jnp.ones((4, 2)))) == pytest.approx(16.0)
    # eps added elementwise before the norm: ||(3.5, 4.5)|| = 5.70088
    assert float(imitation.gradient_penalty(fn, jnp.ones((4, 2)), eps=0.5)) == pytest.approx(
        (np.hypot(3.5, 4.5) - 1) ** 2, rel=1e-6)
    w = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)  # W^T W = [[10, 14], [14, 20]]
    params = {"Dense_0": {"kernel": w, "bias": np.ones(2)}, "head": {"kernel": np.eye(2)}}
    assert float(imitation.orthogonal_penalty(params)) == pytest.approx(2 * 14.0 ** 2)


def test_standardize_keeps_the_absorbing_indicator():
    x = jnp.array([[2.0, 4.0, 1.0]])
    out = imitation.standardize(x, jnp.array([1.0, 2.0]), jnp.array([2.0, 4.0]))
    np.testing.assert_allclose(out, [[0.5, 0.5, 1.0]])


def test_dataset_log_prob_matches_the_tanh_change_of_variables():
    means, log_stds = jnp.array([[0.1, -0.3]]), jnp.array([[-0.5, 0.2]])
    a = jnp.array([[0.4, -0.7]])
    got = networks.tanh_gaussian_log_prob_of_actions(means, log_stds, a, eps=1e-6)
    u = np.arctanh(np.array([0.4, -0.7]))
    std = np.exp([-0.5, 0.2])
    want = np.sum(-0.5 * ((u - [0.1, -0.3]) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi)
                  - np.log(1 - np.array([0.4, -0.7]) ** 2 + 1e-6))
    assert float(got[0]) == pytest.approx(want, rel=1e-5)


def test_imitation_actor_log_std_modes():
    x = jnp.ones((2, 3))
    for mode, low, high in (("clip", -5, 2), ("tanh", -5, 2)):
        actor = networks.ImitationActor((8,), 2, mode, 0.5 if mode == "clip" else None)
        params = actor.init(jax.random.PRNGKey(0), x)
        params = jax.tree.map(lambda p: p * 100.0, params)  # push the heads to their bounds
        means, log_stds = actor.apply(params, x)
        assert log_stds.min() >= low and log_stds.max() <= high
        if mode == "clip":
            assert np.abs(means).max() <= 0.5


def test_absorbing_states_and_initial_observations():
    obs = np.arange(10, dtype=np.float32).reshape(5, 2)
    next_obs = obs + 100
    next_obs[:-1] = obs[1:]
    terminals = np.array([0, 1, 0, 0, 1], np.float32)  # two episodes, both terminated
    data = make_dataset(obs, np.full((5, 1), 0.5), np.arange(5.0), terminals, next_obs,
                        clip_actions=False)
    out = add_absorbing_states(data)
    absorbing = [0.0, 0.0, 1.0]
    assert out.size == 7 and out.obs_dim == 3
    # rows: s0 s1(term) ABS s2 s3 s4(term) ABS
    np.testing.assert_array_equal(out.observations[2], absorbing)
    np.testing.assert_array_equal(out.next_observations[1], absorbing)
    np.testing.assert_array_equal(out.next_observations[6], absorbing)
    np.testing.assert_array_equal(out.observations[3], [4.0, 5.0, 0.0])
    np.testing.assert_array_equal(out.rewards, [0, 1, 0, 2, 3, 4, 0])
    np.testing.assert_array_equal(out.masks, [1, 0, 0, 1, 1, 0, 0])
    np.testing.assert_array_equal(out.dones_float, [0, 0, 1, 0, 0, 0, 1])
    np.testing.assert_array_equal(out.actions[[2, 6]], [[0.5], [0.5]])
    np.testing.assert_array_equal(initial_observations(out), [[0, 1, 0], [4, 5, 0]])


def test_demo_data_batch_draws_from_each_part():
    union = Batch(jnp.zeros((50, 2)), jnp.zeros((50, 1)), jnp.zeros(50), jnp.ones(50),
                  jnp.zeros((50, 2)))
    expert = jax.tree.map(lambda x: x[:5] + 1.0, union)
    data = DemoData(union, expert, jnp.full((3, 2), 7.0))
    batch = sample_batch(data, jax.random.PRNGKey(0), 16)
    assert batch.union.observations.shape == (16, 2) and batch.expert.actions.shape == (16, 1)
    assert float(batch.expert.observations.min()) == 1.0
    np.testing.assert_array_equal(batch.initial_observations, np.full((16, 2), 7.0))


# ----------------------------------------------------------------------------- SMODICE

@pytest.mark.parametrize("f", ["kl", "chi2"])
def test_smodice_value_loss_and_weights_by_hand(f):
    loss, (e, _) = smodice.value_loss({"w": jnp.asarray(W)}, linear_v, S, S_NEXT, R, M, S0,
                                      0.9, f)
    v, v_next, v0 = S @ W, S_NEXT @ W, S0 @ W
    e_hand = R + 0.9 * M * v_next - v
    np.testing.assert_allclose(e, e_hand, rtol=1e-6)
    linear = 0.1 * v0.mean()
    if f == "kl":
        want = linear + np.log(np.mean(np.exp(e_hand)))
        w_hand = np.exp(e_hand)
    else:
        want = linear + np.mean(0.5 * e_hand ** 2 + e_hand)
        w_hand = np.maximum(e_hand + 1, 0)
    assert float(loss) == pytest.approx(want, rel=1e-6)
    np.testing.assert_allclose(smodice.weights(e, f), w_hand, rtol=1e-6)
    # the chi-square weight is clipped at 0 where e < -1
    assert float(smodice.weights(jnp.array([-3.0]), "chi2")[0]) == 0.0


@pytest.mark.slow
def test_smodice_temperature_moves_toward_the_target_entropy():
    agent = make_agent("smodice", 0)
    data = demo_batch(absorbing=True)
    new, info = smodice.update(agent, sample_batch(data, jax.random.PRNGKey(0), 8))
    # L_theta = -theta * sg(E log pi + H), H = -|A|: log pi of a fresh actor is below |A|,
    # so theta's gradient -(E log pi + H) > 0 ... Adam's first step moves theta by -lr * sign.
    theta = float(new.log_alpha.params["theta"])
    assert abs(abs(theta) - 3e-4) < 1e-6
    assert np.isfinite(float(info["value_loss"])) and float(info["alpha"]) == 1.0


# ----------------------------------------------------------------------------- DemoDICE

def test_demodice_nu_loss_and_weights_by_hand():
    s_hat, s_next_hat = S * 0.5, S_NEXT * 0.5
    loss, (adv, info) = demodice.nu_loss({"w": jnp.asarray(W)}, linear_v, S, S_NEXT, S0, R,
                                         s_hat, s_next_hat, 0.9, 0.0, 1e-4)
    a_hand = R + 0.9 * (S_NEXT @ W) - S @ W  # no terminal mask in DemoDICE
    np.testing.assert_allclose(adv, a_hand, rtol=1e-6)
    # grad_s nu = W everywhere: the penalty is ||W||^2 = 1.25
    want = np.log(np.sum(np.exp(a_hand))) + 0.1 * (S0 @ W).mean() + 1e-4 * 1.25
    assert float(loss) == pytest.approx(want, rel=1e-6)
    assert float(info["nu_penalty"]) == pytest.approx(1.25, rel=1e-6)
    # alpha = 1: (1 + alpha) logsumexp(A / (1 + alpha)), weights exp((A - max A) / 2)
    loss2, _ = demodice.nu_loss({"w": jnp.asarray(W)}, linear_v, S, S_NEXT, S0, R, s_hat,
                                s_next_hat, 0.9, 1.0, 0.0)
    assert float(loss2) == pytest.approx(2 * np.log(np.sum(np.exp(a_hand / 2)))
                                         + 0.1 * (S0 @ W).mean(), rel=1e-6)
    w = np.exp(a_hand - a_hand.max())
    np.testing.assert_allclose(demodice.policy_weights(adv, 0.0), w / w.mean(), rtol=1e-6)


def test_demodice_cost_loss_and_its_penalty_by_hand():
    wc = jnp.array([1.0, -2.0])
    cost_fn = lambda variables, x: x @ variables["params"]["w"]  # noqa: E731
    xe = np.array([[1.0, 0.0], [0.5, 0.5]], np.float32)
    xu = np.array([[0.0, 1.0], [1.0, 1.0]], np.float32)
    xs = np.array([[1.0, 1.0], [0.0, 1.0]], np.float32)
    u = np.array([[0.5], [0.25]], np.float32)
    loss, info = demodice.cost_loss({"w": wc}, cost_fn, xe, xu, xs, u, 0.1)
    sp = lambda z: np.log1p(np.exp(z))  # noqa: E731
    bce = np.mean(sp(-(xe @ wc))) + np.mean(sp(xu @ wc))
    x_hat = np.concatenate([u * xe + (1 - u) * xu, u * xu + (1 - u) * xs])
    d = x_hat @ np.asarray(wc)
    p = 1 / (1 + np.exp(-d))
    g = 1 / (p + 1e-3) - 1 + 1e-3
    dh = (1 / g) * (-1 / (p + 1e-3) ** 2) * p * (1 - p)  # dh/dD; grad_x h = dh * wc
    grads = dh[:, None] * np.asarray(wc)[None] + np.finfo(np.float32).eps
    penalty = np.mean((np.linalg.norm(grads, axis=1) - 1) ** 2)
    assert float(info["cost_penalty"]) == pytest.approx(penalty, rel=1e-5)
    assert float(loss) == pytest.approx(bce + 0.1 * penalty, rel=1e-5)
    # the reward -h(x) is about the logit
    z = jnp.array([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(-demodice.smoothed_cost(z), z, atol=0.05)


# ----------------------------------------------------------------------------- ValueDICE

def test_valuedice_objective_by_hand():
    ws, wa = np.array([0.3, -0.2], np.float32), np.array([1.0], np.float32)
    params = {"ws": jnp.asarray(ws), "wa": jnp.asarray(wa)}
    s_e, s_next_e = S[:2], S_NEXT[:2]
    a_e, a_next_e, a0 = (np.array([[0.1], [-0.5]], np.float32), np.array([[0.2], [0.3]], np.float32),
                         np.array([[0.0], [0.4]], np.float32))
    s_r, s_next_r = S[1:], S_NEXT[1:]
    a_r, a_next_r = np.array([[0.7], [-0.1]], np.float32), np.array([[-0.3], [0.6]], np.float32)
    j, _ = valuedice.objective(params, linear_q, s_e, a_e, s_next_e, a_next_e, a0, s_r, a_r,
                               s_next_r, a_next_r, 0.9, 0.1)
    nu = lambda s, a: s @ ws + a @ wa  # noqa: E731
    d_e = nu(s_e, a_e) - 0.9 * nu(s_next_e, a_next_e)
    d_r = nu(s_r, a_r) - 0.9 * nu(s_next_r, a_next_r)
    weights = np.array([0.9 / 2, 0.9 / 2, 0.1 / 2, 0.1 / 2])
    log_term = np.log(np.sum(weights * np.exp(np.concatenate([d_e, d_r]))))
    linear = 0.9 * 0.1 * nu(s_e, a0).mean() + 0.1 * d_r.mean()
    assert float(j) == pytest.approx(log_term - linear, rel=1e-5)
    # J's gradient equals the code's sum of sg(weighted softmax(d)) * d
    grad = jax.grad(lambda p: valuedice.objective(p, linear_q, s_e, a_e, s_next_e, a_next_e, a0,
                                                  s_r, a_r, s_next_r, a_next_r, 0.9, 0.1)[0])(params)
    soft = weights * np.exp(np.concatenate([d_e, d_r]))
    soft = soft / soft.sum()
    ds_dws = np.concatenate([s_e - 0.9 * s_next_e, s_r - 0.9 * s_next_r])
    want = soft @ ds_dws - (0.9 * 0.1 * s_e.mean(0) + 0.1 * (s_r - 0.9 * s_next_r).mean(0))
    np.testing.assert_allclose(grad["ws"], want, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- IQ-Learn

@pytest.mark.parametrize("value_loss,chi2_rows", [("v0", "all"), ("value", "all"),
                                                  ("value_expert", "expert"), ("v0", "none")])
def test_iqlearn_critic_loss_by_hand(value_loss, chi2_rows):
    ws, wa = np.array([0.3, -0.2], np.float32), np.array([1.0], np.float32)
    s = np.concatenate([S, S_NEXT[:1]])  # 4 rows: 2 offline then 2 expert
    a = np.array([[0.1], [-0.5], [0.2], [0.3]], np.float32)
    v = np.array([0.5, -0.2, 0.1, 0.4], np.float32)
    y = np.array([0.05, 0.3, -0.1, 0.2], np.float32)
    is_expert = np.array([0, 0, 1, 1], np.float32)
    loss, _ = iqlearn.critic_loss({"ws": jnp.asarray(ws), "wa": jnp.asarray(wa)}, linear_q, s, a,
                                  v, y, is_expert, 0.9, value_loss, chi2_rows, 0.5)
    rho = s @ ws + a @ wa - y
    want = -rho[2:].mean()
    want += {"v0": 0.1 * v[2:].mean(), "value": (v - y).mean(),
             "value_expert": (v - y)[2:].mean()}[value_loss]
    want += {"all": 0.5 * np.mean(rho ** 2), "expert": 0.5 * np.mean(rho[2:] ** 2),
             "none": 0.0}[chi2_rows]
    assert float(loss) == pytest.approx(want, rel=1e-5)


def test_iqlearn_refuses_unknown_recipes():
    cfg = iqlearn_config.get_config().to_dict()
    cfg["value_loss"] = "v1"
    with pytest.raises(ValueError, match="value_loss"):
        iqlearn.create(0, 2, 1, np.zeros(2), np.ones(2), cfg)


# ----------------------------------------------------------------------------- fused, vmap

MODULES = {"smodice": (smodice, smodice_config), "demodice": (demodice, demodice_config),
           "valuedice": (valuedice, valuedice_config), "iqlearn": (iqlearn, iqlearn_config)}
OBS, ACT = 3, 2


def make_agent(name, seed):
    module, config = MODULES[name]
    cfg = config.get_config().to_dict()
    cfg.pop("normalize_eps", None)
    cfg["hidden_dims"] = (16, 16)
    absorbing = int(cfg.get("absorbing", False))
    return module.create(seed, OBS + absorbing, ACT, np.zeros(OBS), np.ones(OBS), cfg)


def demo_batch(absorbing: bool, n=64):
    k = jax.random.split(jax.random.PRNGKey(3), 5)
    d = OBS + int(absorbing)
    union = Batch(jax.random.normal(k[0], (n, d)), jax.random.uniform(k[1], (n, ACT), minval=-0.9,
                                                                       maxval=0.9),
                  jax.random.normal(k[2], (n,)), (jax.random.uniform(k[3], (n,)) > 0.2) * 1.0,
                  jax.random.normal(k[4], (n, d)))
    return DemoData(union, jax.tree.map(lambda x: x[:10], union), union.observations[:5])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODULES))
def test_fused_steps_equal_single_steps(name):
    agent = make_agent(name, 0)
    info = assert_fused_equals_single(MODULES[name][0], agent, demo_batch(agent.absorbing), 4, 8)
    assert all(np.isfinite(float(v)) for v in info.values())


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODULES))
def test_vmap_over_seeds_matches_individual_runs(name):
    assert_vmapped_equals_separate(MODULES[name][0], functools.partial(make_agent, name),
                                   demo_batch(make_agent(name, 0).absorbing), 2, 3, 8)
