"""The device evaluation backend: whole episodes as one JAX program on the accelerator (MJX).

    runner = DeviceEpisodes(stepper)                    # a BatchStepper of one family
    out = runner.run(policy, reset_seeds)               # policy: evaluation.JaxPolicy

Start states come from the envs' own resets (the host stepper's, so the same seeds give
the same starts as the host backend); then MuJoCo XLA (`mujoco.mjx`) steps all envs and
the policy acts inside one `lax.scan` over the episode length, every env vmapped: no
host round trip per step. Observations, rewards and terminations are the host kernels'
formulas (envs/batched.py) in jax.numpy.

It is not the host's physics: MJX computes in float32 with its own solver, so episodes
leave the host's after some steps (contacts amplify the difference); results/ and the
README give the measured difference. Families: gymnasium's Hopper / Walker2d /
HalfCheetah-v5 (with D4RL's models for the -v2 names). Point mazes and AntMaze stay on
the host (their per-step cost there is small; MJX's collisions of the maze walls are not
checked here).

Needs `mujoco-mjx` (pip install -e ".[mjx]"); MuJoCo 4.0 runs with mujoco-mjx 3.17.0,
the newest on PyPI, as far as these families use it (tests/test_mjx_backend.py).
"""

import functools
from typing import Any, Dict, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from clue_jax.envs import batched


def _mjx():
    """`mujoco.mjx`, imported without its notice about the optional Warp backend (printed
    to stdout when NVIDIA Warp is not installed; this backend does not use it)."""
    import contextlib
    import io
    import sys
    if "mujoco.mjx" in sys.modules:
        return sys.modules["mujoco.mjx"]
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured):
            from mujoco import mjx
    except ImportError as err:
        raise ImportError("the device evaluation backend needs mujoco-mjx: pip install -e "
                          "'.[mjx]' (or pip install mujoco-mjx==3.17.0).") from err
    for line in captured.getvalue().splitlines():
        if not line.startswith(("Failed to import warp", "Failed to import mujoco_warp")):
            print(line)
    return mjx


class _Params(NamedTuple):
    """A locomotion kernel's constants (static: they select code paths)."""

    kind: str
    frame_skip: int
    dt: float
    forward_weight: float
    ctrl_weight: float
    exclude_x: bool
    healthy_reward: float
    terminate: bool
    state_range: Any
    z_range: Any
    angle_range: Any
    terminal_bonus: Any


def supports(stepper: batched.BatchStepper) -> bool:
    """Whether the device backend can run the stepper's family."""
    return isinstance(stepper.kernel, batched._LocomotionKernel)


def _params(kernel: batched._LocomotionKernel) -> _Params:
    tup = lambda v: None if v is None else tuple(float(x) for x in v)  # noqa: E731
    return _Params(kernel.kind, int(kernel.nstep), float(kernel.dt), float(kernel.forward_weight),
                   float(kernel.ctrl_weight), bool(kernel.exclude_x),
                   float(kernel.healthy_reward), bool(kernel.terminate),
                   tup(kernel.state_range), tup(kernel.z_range), tup(kernel.angle_range),
                   None if kernel.terminal_bonus is None else float(kernel.terminal_bonus))


def outcome(p: _Params, qpos_before, qpos, qvel, actions):
    """`batched._LocomotionKernel.outcome` for one env in jax.numpy: (obs, reward, terminated)."""
    x_velocity = (qpos[0] - qpos_before[0]) / p.dt
    velocity = qvel if p.kind == "HalfCheetahEnv" else jnp.clip(qvel, -10, 10)
    position = qpos[1:] if p.exclude_x else qpos
    obs = jnp.concatenate([position, velocity])
    ctrl_cost = p.ctrl_weight * jnp.sum(jnp.square(actions))
    forward = p.forward_weight * x_velocity
    if p.kind == "HalfCheetahEnv":
        return obs, forward - ctrl_cost, jnp.asarray(False)
    z, angle = qpos[1], qpos[2]
    healthy = ((p.z_range[0] < z) & (z < p.z_range[1])
               & (p.angle_range[0] < angle) & (angle < p.angle_range[1]))
    if p.kind == "HopperEnv":
        state = jnp.concatenate([qpos, qvel])[2:]
        healthy &= jnp.all((p.state_range[0] < state) & (state < p.state_range[1]))
    reward = (forward + healthy * p.healthy_reward) - ctrl_cost
    terminated = ~healthy & p.terminate
    if p.terminal_bonus is not None:
        reward = reward + jnp.where(terminated, p.terminal_bonus, 0.0)
    return obs, reward, terminated


@functools.partial(jax.jit, static_argnames=("p", "fn", "max_steps"))
def _episodes(model, data, obs, params, *, p: _Params, fn, max_steps: int) -> Dict[str, jax.Array]:
    """Every env's episode (at most max_steps steps) in one program; finished envs freeze."""
    mjx = _mjx()

    def physics(d, action):
        d = d.replace(ctrl=action)
        return jax.lax.fori_loop(0, p.frame_skip, lambda _, x: mjx.step(model, x), d)

    def body(carry, _):
        d, o, running, returns, lengths, success = carry
        actions = jnp.clip(fn(params, o), -1.0, 1.0)
        new = jax.vmap(physics)(d, actions)
        new_obs, reward, terminated = jax.vmap(functools.partial(outcome, p))(
            d.qpos, new.qpos, new.qvel, actions)
        keep = lambda n, old: jnp.where(  # noqa: E731
            running.reshape((-1,) + (1,) * (n.ndim - 1)), n, old)
        d = jax.tree_util.tree_map(keep, new, d)
        o = keep(new_obs.astype(o.dtype), o)
        returns = returns + jnp.where(running, reward, 0.0)
        lengths = lengths + running
        success = success | (running & terminated)
        running = running & ~terminated & (lengths < max_steps)
        return (d, o, running, returns, lengths, success), None

    n = obs.shape[0]
    carry = (data, obs, jnp.ones(n, bool), jnp.zeros(n), jnp.zeros(n, jnp.int32),
             jnp.zeros(n, bool))
    (d, o, _, returns, lengths, success), _ = jax.lax.scan(body, carry, None, length=max_steps)
    return {"returns": returns, "lengths": lengths, "successes": success,
            "final_observations": o}


class DeviceEpisodes:
    """Episodes of a BatchStepper's envs run on the default JAX device (see the module)."""

    def __init__(self, stepper: batched.BatchStepper):
        if not supports(stepper):
            raise ValueError("the device backend runs gymnasium's Hopper / Walker2d / "
                             "HalfCheetah envs (the locomotion names); use the host backend "
                             "for this env.")
        mjx = _mjx()
        self.stepper = stepper
        self.params = _params(stepper.kernel)
        self.model = mjx.put_model(stepper.kernel.models[0])
        self._data = mjx.make_data(self.model)

    def run(self, policy, seeds: Sequence[int]) -> Dict[str, np.ndarray]:
        """One episode per env, env i reset with seeds[i] (through its own reset), then the
        whole batch on the device. `policy`: an evaluation.JaxPolicy."""
        stepper = self.stepper
        obs = np.stack([stepper.reset(i, int(s)) for i, s in enumerate(seeds)])
        qpos, qvel = stepper.state(np.arange(len(seeds)))
        data = jax.vmap(lambda q, v: self._data.replace(qpos=q, qvel=v))(
            jnp.asarray(qpos, jnp.float32), jnp.asarray(qvel, jnp.float32))
        max_steps = int(min(stepper.max_steps))
        out = _episodes(self.model, data, jnp.asarray(obs), policy.params, p=self.params,
                        fn=policy.fn, max_steps=max_steps)
        out = jax.device_get(out)
        return {"returns": np.asarray(out["returns"], np.float64),
                "lengths": np.asarray(out["lengths"], np.int64),
                "successes": np.asarray(out["successes"], bool),
                "final_observations": np.asarray(out["final_observations"], np.float32)}
