"""The project's envs carry D4RL's compiled models (../shared/reference/d4rl.md, "Dynamics
parity"), and replaying the traces recorded in D4RL's own envs reproduces them."""

from pathlib import Path

import mujoco
import numpy as np
import pytest

from clue_jax.envs import d4rl_models, registry
from clue_jax.envs.antmaze import D4RLAntMazeEnv

TRACES = Path(__file__).resolve().parents[2] / "shared" / "d4rl_traces"
# The first 10 steps and model arrays of every trace, for where ../shared is absent
# (tests/data/make_d4rl_trace_heads.py wrote it from the traces).
HEADS = Path(__file__).resolve().parent / "data" / "d4rl_trace_heads.npz"
LOCOMOTION = {"hopper": "hopper-medium-v2", "halfcheetah": "halfcheetah-medium-v2",
              "walker2d": "walker2d-medium-v2"}


def trace(name):
    """The trace of `name` recorded in D4RL's env (or its first 200 steps), as a dict."""
    path = TRACES / f"d4rl_{name}.npz"
    if path.exists():
        with np.load(path, allow_pickle=True) as f:
            return {k: f[k] for k in f.files}
    with np.load(HEADS) as f:
        return {k[len(name) + 1:]: f[k] for k in f.files if k.startswith(name + "/")}


def bodies(model, body):
    i = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, body)
    return model.body_mass[i], model.body_inertia[i], model.body_ipos[i]


@pytest.mark.parametrize("body,mass,inertia,ipos", [  # d4rl.md's values (6 digits)
    ("torso", 3.534292, (0.06185, 0.06185, 0.004418), (0, 0, 0)),
    ("thigh", 3.926991, (0.084267, 0.084267, 0.004909), (0, 0, -0.225)),
    ("leg", 2.714336, (0.067044, 0.067044, 0.002171), (0, 0, 0)),
    ("foot", 5.08938, (0.090464, 0.090464, 0.009161), (-0.065, 0, 0.1))])
def test_hopper_bodies_are_d4rls(body, mass, inertia, ipos):
    model = registry.make_env("hopper-medium-v2", seed=0).unwrapped.model
    m, i, p = bodies(model, body)
    assert m == pytest.approx(mass, abs=2e-6)
    np.testing.assert_allclose(i, inertia, atol=2e-6)
    np.testing.assert_allclose(p, ipos, atol=1e-9)


def test_halfcheetah_walker2d_and_ant_bodies_are_d4rls():
    cheetah = registry.make_env("halfcheetah-medium-v2", seed=0).unwrapped.model
    m, i, p = bodies(cheetah, "torso")
    assert m == pytest.approx(6.360313, abs=2e-6)
    np.testing.assert_allclose(i, (0.894454, 0.883565, 0.017618), atol=2e-6)
    np.testing.assert_allclose(p, (0.149138, 0, 0.024856), atol=2e-6)
    for body, mass in (("bthigh", 1.535248), ("bshin", 1.58094), ("bfoot", 1.069191),
                       ("fthigh", 1.425587), ("fshin", 1.178851), ("ffoot", 0.849869)):
        assert bodies(cheetah, body)[0] == pytest.approx(mass, abs=2e-6)
    walker = registry.make_env("walker2d-medium-v2", seed=0).unwrapped.model
    for foot in ("foot", "foot_left"):
        m, i, p = bodies(walker, foot)
        assert m == pytest.approx(2.940531, abs=2e-6)
        np.testing.assert_allclose(i, (0.019211, 0.019211, 0.005293), atol=2e-6)
        np.testing.assert_allclose(p, (-0.1, 0, 0.1), atol=1e-9)
    friction = {name: walker.geom_friction[mujoco.mj_name2id(walker, mujoco.mjtObj.mjOBJ_GEOM,
                                                             name), 0]
                for name in ("foot_geom", "foot_left_geom")}
    assert friction == {"foot_geom": pytest.approx(0.9), "foot_left_geom": pytest.approx(1.9)}
    ant = D4RLAntMazeEnv("umaze").model
    assert ant.body_mass[1] == pytest.approx(0.327249, abs=2e-6)
    np.testing.assert_allclose(ant.body_inertia[1], [0.008181] * 3, atol=2e-6)
    np.testing.assert_allclose(ant.body_mass[2:5], [0.036477, 0.036477, 0.064911], atol=2e-6)
    np.testing.assert_allclose(ant.body_inertia[4], (0.002359, 0.002359, 0.000208), atol=2e-6)


@pytest.mark.parametrize("name", ["hopper-medium-v2", "walker2d-medium-v2"])
def test_terminal_step_pays_the_healthy_bonus(name):
    env = registry.make_env(name, seed=0)
    inner = env.unwrapped
    qpos = inner.init_qpos.copy()
    qpos[1] = 0.3  # torso far too low: unhealthy, so the next step terminates
    inner.set_state(qpos, inner.init_qvel)
    x_before = inner.data.qpos[0]
    _, reward, terminated, _, info = env.step(np.zeros(env.action_space.shape))
    assert terminated
    forward = (inner.data.qpos[0] - x_before) / inner.dt
    assert reward == pytest.approx(forward + 1.0, abs=1e-6)  # v5 alone would pay forward + 0


def test_antmaze_reset_has_a_unit_quaternion():
    env = D4RLAntMazeEnv("umaze")
    for seed in range(5):
        obs, _ = env.reset(seed=seed)
        assert np.linalg.norm(obs[3:7]) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("stem", sorted(LOCOMOTION))
def test_locomotion_replays_d4rls_trace(stem):
    t = trace(LOCOMOTION[stem])
    for key in ("body_mass", "body_inertia", "body_ipos", "body_iquat"):
        np.testing.assert_allclose(getattr(d4rl_models.D4RL_BODIES[stem], key[5:]),
                                   t[f"model/{key}"], rtol=1e-9, atol=1e-10)
    env = registry.make_env(LOCOMOTION[stem], seed=0)
    inner = env.unwrapped
    np.testing.assert_allclose(inner.model.geom_friction, t["model/geom_friction"], atol=1e-12)
    inner.set_state(t["qpos0"], t["qvel0"])
    for k in range(10):
        obs, reward, *_ = env.step(t["actions"][k])
        np.testing.assert_allclose(obs, t["obs"][k], atol=1e-5, err_msg=f"step {k + 1}")
        assert reward == pytest.approx(float(t["rewards"][k]), abs=1e-4)


def replay_errors(env, t, steps):
    """max |obs - D4RL's obs| of each of the first `steps` steps (physics goes on after a
    done, as in the recording)."""
    return np.array([np.abs(env.step(t["actions"][k])[0] - t["obs"][k]).max()
                     for k in range(steps)])


def test_match_d4rl_margins_halves_one_margin_and_refuses_mixed_ones():
    model = registry.make_env("gen-hopper-medium-v0", seed=0).unwrapped.model  # gymnasium's
    assert np.all(model.geom_margin == 0.001)
    d4rl_models.match_d4rl_margins(model)
    assert np.all(model.geom_margin == 0.0005)  # a contact's summed margin: 0.001, D4RL's max
    model.geom_margin[0] = 0.01
    with pytest.raises(ValueError, match="differ"):
        d4rl_models.match_d4rl_margins(model)


@pytest.mark.parametrize("name", ["hopper-medium-v2", "antmaze-umaze-v2", "maze2d-umaze-v1"])
def test_contact_margins_sum_to_d4rls(name):
    """MuJoCo >= 3 adds the two geoms' margins, MuJoCo 2.1 took the larger: each geom carries
    half of D4RL's (all equal) margin."""
    t = trace(name)
    if name.startswith("antmaze"):
        model = D4RLAntMazeEnv("umaze").model
    else:
        inner = registry.make_env(name, seed=0).unwrapped
        model = inner._point.model if name.startswith("maze2d") else inner.model
    d4rl = np.unique(t["model/geom_margin"])
    assert d4rl.size == 1 and d4rl[0] > 0
    np.testing.assert_allclose(2 * model.geom_margin, d4rl[0], rtol=1e-12)


def test_hopper_stays_on_d4rls_trajectory_through_its_contacts():
    """With D4RL's contact margins hopper stays within 1e-5 of D4RL's observations for 200
    steps (contacts from step ~10 on); with MuJoCo 4's summed margins it left them by 1e-3
    at step 11."""
    t = trace("hopper-medium-v2")
    env = registry.make_env("hopper-medium-v2", seed=0)
    env.unwrapped.set_state(t["qpos0"], t["qvel0"])
    errors = replay_errors(env, t, 200)
    assert errors.max() < 1e-5, (errors.argmax() + 1, errors.max())
    summed = registry.make_env("hopper-medium-v2", seed=0)
    summed.unwrapped.model.geom_margin[:] *= 2.0  # MuJoCo 4's sum of D4RL's margins
    summed.unwrapped.set_state(t["qpos0"], t["qvel0"])
    assert replay_errors(summed, t, 20).max() > 1e-4


def antmaze_replay(t, steps, margin_scale=1.0):
    env = D4RLAntMazeEnv("umaze")
    env.model.geom_margin[:] *= margin_scale
    env.reset(seed=0)
    env.data.qpos[:] = t["qpos0"]
    env.data.qvel[:] = t["qvel0"]
    mujoco.mj_forward(env.model, env.data)
    return replay_errors(env, t, steps)


def test_antmaze_replays_d4rls_trace_through_the_first_floor_contact():
    """Step 1 (no contact) within 1e-6; from step 2 (the first floor contact) within 1e-3 for
    5 steps and 0.05 at step 10. What remains is not a solver setting (solver, tolerances,
    line search, warm start, cone, noslip, islands: no change; measured in
    results/d4rl_parity). With MuJoCo 4's summed margins step 2 was 0.5 off."""
    t = trace("antmaze-umaze-v2")
    np.testing.assert_allclose(d4rl_models.D4RL_BODIES["ant"].mass, t["model/body_mass"],
                               rtol=1e-9)
    errors = antmaze_replay(t, 10)
    assert errors[0] < 1e-6
    assert errors[:5].max() < 1e-3, errors[:5]
    assert errors[9] < 0.05, errors[9]
    assert antmaze_replay(t, 2, margin_scale=2.0)[1] > 0.1


def test_maze2d_walls_sit_at_d4rls_height_and_replay_the_trace():
    from clue_jax.envs.pointmaze import make_maze2d_env
    env = make_maze2d_env("umaze")
    model = env._point.model
    walls = [i for i in range(model.ngeom)
             if (mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, i) or "").startswith("block_")]
    assert walls and np.all(model.geom_pos[walls, 2] == 0.0)
    np.testing.assert_allclose(model.geom_size[walls, 2], 0.2)
    t = trace("maze2d-umaze-v1")
    np.testing.assert_allclose(t["model/geom_pos"][1:, 2], 0.0)  # D4RL's walls: z = 0
    env.reset(seed=0)
    env.set_state(t["qpos0"], t["qvel0"])
    obs, *_ = env.step(t["actions"][0])
    np.testing.assert_allclose(obs, t["obs"][0], atol=1e-5)


@pytest.mark.parametrize("name", ["hopper-medium-v2", "halfcheetah-medium-v2",
                                  "walker2d-medium-v2", "antmaze-umaze-v2", "maze2d-umaze-v1",
                                  "gen-pointmaze-umaze-diverse-v0", "gen-hopper-medium-v0",
                                  "pen-human-v1", "door-human-v1"])
def test_every_adapter_passes_check_env_and_gymnasium_make(name):
    import gymnasium
    from gymnasium.utils.env_checker import check_env
    check_env(registry.make_env(name, seed=0), skip_render_check=True)
    env = gymnasium.make(f"clue_jax/{name}")
    obs, _ = env.reset(seed=1)
    assert obs.shape == (registry.get_spec(name).obs_dim,) and obs.dtype == np.float32
    assert env.spec.max_episode_steps == registry.get_spec(name).max_episode_steps
    same, _ = registry.make_env(name, seed=1).reset(seed=1)
    np.testing.assert_array_equal(obs, same)


def test_files_without_timeouts_are_cut_at_the_envs_episode_length(tmp_path):
    import h5py
    from clue_jax.data import factory
    path = tmp_path / "legacy.hdf5"
    with h5py.File(path, "w") as f:  # 7 rows, no terminals, no timeouts (a v0-style file)
        f["observations"] = np.arange(14, dtype=np.float32).reshape(7, 2)
        f["actions"] = np.zeros((7, 1), np.float32)
        f["rewards"] = np.zeros(7, np.float32)
        f["terminals"] = np.zeros(7, bool)
    plain = factory.load_dataset("x", dataset_path=str(path))
    cut = factory.load_dataset("x", dataset_path=str(path), max_episode_steps=3)
    # d4rl: the row at step max_episode_steps - 1 of each episode is a final step (dropped)
    assert plain.size == 6 and cut.size == 4
    from clue_jax.experiments import domains
    assert domains.domain_of(registry.get_spec("ant-medium-v2")).reward_scaling == "none"
    assert domains.domain_of(registry.get_spec("hopper-medium-v2")).reward_scaling == \
        "return_range"
