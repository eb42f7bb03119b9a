"""The device evaluation backend (MuJoCo XLA): the host kernels' formulas in jax.numpy,
D4RL's traces replayed, and the shipped expert's score within 1 point of the host's."""

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # compiles MuJoCo XLA programs

pytest.importorskip("mujoco.mjx")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from clue_jax import evaluation  # noqa: E402
from clue_jax.envs import batched, mjx_backend, registry  # noqa: E402
from tests.test_d4rl_parity import trace  # noqa: E402


@pytest.mark.parametrize("name", ["hopper-medium-v2", "gen-walker2d-medium-v0",
                                  "gen-halfcheetah-medium-v0"])
def test_the_device_outcome_is_the_host_kernels(name):
    """Random states and actions: observation, reward and termination as the host computes
    them (float32 against float64)."""
    envs = [registry.make_env(name, s) for s in range(16)]
    stepper = batched.BatchStepper(envs, threads=1)
    kernel = stepper.kernel
    rng = np.random.default_rng(0)
    nq, nv = kernel.qpos.shape[1], kernel.qvel.shape[1]
    before = rng.normal(size=(16, nq))
    qpos = before + 0.05 * rng.normal(size=(16, nq))
    qpos[:, 1] = rng.uniform(0.5, 1.5, 16)  # healthy and not
    qvel = rng.normal(scale=5, size=(16, nv))
    actions = rng.uniform(-1, 1, (16, kernel.ctrl.shape[1])).astype(np.float32)
    obs, rewards, terminated, _, _ = kernel.outcome(np.arange(16), actions, before, qpos, qvel)
    p = mjx_backend._params(kernel)
    d_obs, d_rewards, d_terminated = jax.vmap(lambda b, q, v, a: mjx_backend.outcome(
        p, b, q, v, a))(*(jnp.asarray(x, jnp.float32) for x in (before, qpos, qvel, actions)))
    np.testing.assert_allclose(d_obs, obs, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(d_rewards, rewards, rtol=1e-4, atol=1e-3)
    np.testing.assert_array_equal(d_terminated, terminated)
    assert terminated.any() == (name != "gen-halfcheetah-medium-v0")
    stepper.close()


@pytest.mark.parametrize("name,steps", [("hopper-medium-v2", 1), ("halfcheetah-medium-v2", 10)])
def test_the_device_physics_replays_d4rls_traces(name, steps):
    """MJX (float32) on D4RL's models: the traces' observations within 1e-3 (the host and
    D4RL agree to 1e-5 over the same steps, tests/test_d4rl_parity.py)."""
    mjx = mjx_backend._mjx()
    t = trace(name)
    env = registry.make_env(name, 0)
    stepper = batched.BatchStepper([env])
    p = mjx_backend._params(stepper.kernel)
    model = mjx.put_model(stepper.kernel.models[0])
    data = mjx.make_data(model).replace(qpos=jnp.asarray(t["qpos0"], jnp.float32),
                                        qvel=jnp.asarray(t["qvel0"], jnp.float32))
    step = jax.jit(lambda d, a: jax.lax.fori_loop(
        0, p.frame_skip, lambda _, x: mjx.step(model, x), d.replace(ctrl=a)))
    for k in range(steps):
        before = data.qpos
        action = jnp.clip(jnp.asarray(t["actions"][k], jnp.float32), -1, 1)
        data = step(data, action)
        obs, reward, _ = mjx_backend.outcome(p, before, data.qpos, data.qvel, action)
        np.testing.assert_allclose(obs, t["obs"][k], atol=1e-3, err_msg=f"step {k + 1}")
        assert float(reward) == pytest.approx(float(t["rewards"][k]), abs=1e-2)


def test_the_shipped_experts_score_on_the_device_within_a_point_of_the_host():
    """12 episodes of 300 steps from the same reset states: the mean normalized scores of the
    device and host backends differ by less than 1 point (the measured difference over
    full episodes is in the README)."""
    from clue_jax.agents import sac_actor
    from clue_jax.generation import locomotion_datasets
    policy = sac_actor.jax_policy(locomotion_datasets.load_policy("hopper", "expert"))
    name, seeds = "gen-hopper-expert-v0", list(range(12))
    scores = {}
    for backend in ("host", "device"):
        with evaluation.Evaluator(name, 12, max_steps=300, backend=backend) as ev:
            out = ev.run(policy, seeds)
        scores[backend] = registry.normalized_score(name, out["returns"].mean())
        assert (out["lengths"] == 300).all()  # the expert runs to the limit on both
    assert abs(scores["device"] - scores["host"]) < 1.0, scores
    with evaluation.Evaluator(name, 2, max_steps=5, backend="device") as ev:
        with pytest.raises(ValueError, match="JaxPolicy"):
            ev.run(lambda obs: np.zeros((len(obs), 3)), [0, 1])
    with pytest.raises(ValueError, match="host backend"):
        evaluation.Evaluator("gen-pointmaze-umaze-diverse-v0", 2, backend="device")
