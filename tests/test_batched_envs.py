"""The batched host stepper reproduces each env's own `step`, episode for episode.

The reference is the evaluator as it was: fresh envs from `registry.make_env`, each
stepped through its own wrapper chain. The host backend reuses one set of envs for
every evaluation and steps them through clue_jax.envs.batched; the episodes (returns,
lengths, successes, every observation) must be equal, not close.
"""

import numpy as np
import pytest

from clue_jax import evaluation
from clue_jax.envs import batched, registry


def wobble(obs):
    """A deterministic, state-dependent policy (elementwise, so any batch gives the same
    actions row for row) that keeps the bodies moving and sometimes falling."""
    act_dim = wobble.act_dim
    x = np.tanh(1.7 * obs[:, :act_dim] - 0.9 * obs[:, -act_dim:] + 0.3)
    return np.sin(3.0 * x + np.arange(act_dim))


def expert(env):
    """The shipped deterministic expert of a locomotion env (runs to the time limit)."""
    from clue_jax.agents import sac_actor
    from clue_jax.generation import locomotion_datasets
    return sac_actor.deterministic_policy(locomotion_datasets.load_policy(env, "expert"))


def fresh_reference(policy, name, seeds, max_steps):
    """Today's evaluator: new envs for every evaluation, each env's own `step`."""
    envs = [registry.make_env(name, s, max_episode_steps=max_steps) for s in seeds]
    stepper = batched.BatchStepper(envs, reference=True)
    try:
        return evaluation.stepper_episodes(policy, stepper, seeds,
                                           registry.get_spec(name).act_dim, record=True)
    finally:
        stepper.close()


CASES = [("hopper-medium-v2", 200, "_LocomotionKernel", "wobble"),  # D4RL model, terminal bonus
         ("hopper-medium-v2", 120, "_LocomotionKernel", "hopper"),
         ("gen-walker2d-medium-v0", 150, "_LocomotionKernel", "wobble"),
         ("gen-walker2d-medium-v0", 60, "_LocomotionKernel", "walker2d"),
         ("gen-halfcheetah-medium-v0", 60, "_LocomotionKernel", "halfcheetah"),
         ("gen-pointmaze-umaze-diverse-v0", 300, "_PointMazeKernel", "wobble"),
         ("maze2d-umaze-v1", 80, "_PointMazeKernel", "wobble"),
         ("antmaze-umaze-v2", 40, "_AntMazeKernel", "wobble")]


@pytest.mark.parametrize("name,max_steps,kernel,policy", CASES)
def test_host_backend_equals_the_reference_episode_for_episode(name, max_steps, kernel, policy):
    wobble.act_dim = registry.get_spec(name).act_dim
    policy = wobble if policy == "wobble" else expert(policy)
    lengths = []
    with evaluation.Evaluator(name, 6, max_steps=max_steps, threads=3) as ev:
        assert type(ev.stepper.kernel).__name__ == kernel and ev.stepper.batched
        assert ev.stepper.kernel.batch.nthread == 3
        for seeds in ([11, 12, 13, 14, 15, 16], [3, 99, 4, 1000, 5, 6]):  # envs reused
            got = ev.run(policy, seeds, record=True)
            want = fresh_reference(policy, name, seeds, max_steps)
            for key in ("returns", "lengths", "successes", "final_observations"):
                np.testing.assert_array_equal(got[key], want[key], err_msg=key)
            for a, b in zip(got["observations"], want["observations"]):
                np.testing.assert_array_equal(a, b)
            lengths.append(got["lengths"])
    lengths = np.concatenate(lengths)
    if name.startswith(("hopper", "gen-walker2d")):  # falls (wobble) or runs to the limit
        assert (lengths < max_steps).all() if policy is wobble else (lengths == max_steps).all()


def test_unknown_wrappers_and_envs_take_the_reference_path():
    import gymnasium
    env = registry.make_env("pen-human-v1", 0)  # Adroit: no batched kernel
    stepper = batched.BatchStepper([env])
    assert not stepper.batched
    stepper.close()
    envs = [gymnasium.wrappers.TimeLimit(gymnasium.wrappers.ClipReward(
        registry.make_env("hopper-medium-v2", s).env, 0.0, 0.5), 50) for s in range(2)]
    stepper = batched.BatchStepper(envs)  # a wrapper the kernel does not know
    assert not stepper.batched
    stepper.close()


def test_one_env_batches_with_threads_capped():
    stepper = batched.BatchStepper([registry.make_env("hopper-medium-v2", 0)], threads=8)
    assert stepper.threads == 1 and stepper.kernel.batch.nthread == 1
    stepper.close()


@pytest.mark.parametrize("name,steps", [("hopper-medium-v2", 1), ("halfcheetah-medium-v2", 10),
                                        ("walker2d-medium-v2", 10), ("antmaze-umaze-v2", 1),
                                        ("maze2d-umaze-v1", 1)])
def test_host_backend_replays_d4rls_traces(name, steps):
    """As tests/test_d4rl_parity.py replays them through each env's own step (the same
    step counts: hopper's contacts and the ant's differ with the solver after that)."""
    import mujoco
    from tests.test_d4rl_parity import trace
    t = trace(name)
    envs = [registry.make_env(name, s) for s in (0, 1)]
    stepper = batched.BatchStepper(envs, threads=2)
    assert stepper.batched
    for i in (0, 1):
        stepper.reset(i, i)
    inner = envs[0].unwrapped
    if name.startswith("antmaze"):
        inner.data.qpos[:], inner.data.qvel[:] = t["qpos0"], t["qvel0"]
        mujoco.mj_forward(inner.model, inner.data)
    else:
        inner.set_state(t["qpos0"], t["qvel0"])
    stepper.refresh(0)
    act_dim = registry.get_spec(name).act_dim
    for k in range(steps):
        actions = np.stack([t["actions"][k], np.zeros(act_dim)]).astype(np.float32)
        out = stepper.step(np.clip(actions, -1, 1), np.array([0, 1]))
        np.testing.assert_allclose(out.observations[0], t["obs"][k], atol=1e-5,
                                   err_msg=f"step {k + 1}")
        if not name.startswith(("antmaze", "maze2d")):
            assert out.rewards[0] == pytest.approx(float(t["rewards"][k]), abs=1e-4)
