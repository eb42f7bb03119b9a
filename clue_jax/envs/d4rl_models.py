"""D4RL's compiled MuJoCo models, set on the project's envs (dynamics parity).

D4RL's envs ran on MuJoCo 2.1.0 (mujoco-py), which computed capsule masses and
inertias with an approximation; MuJoCo >= 2.1.2 computes them exactly, so the
same XML compiles to bodies 3.6-7% heavier with inertias up to 25% larger
(../shared/reference/d4rl.md, "Dynamics parity"). The tables below are D4RL's
compiled values (body mass, principal inertia, inertial frame position and
orientation), read from the `model/*` arrays of the traces recorded in D4RL's
own envs (../shared/d4rl_traces/, gym 0.23.1 + mujoco-py 2.1.2.14) to 10
significant digits; d4rl.md lists the same to 6. `apply_bodies` writes them
into a compiled model and calls mj_setConst.

The other differences fixed here:
- walker2d: D4RL's right foot has sliding friction 0.9 (gymnasium's Walker2d-v5
  XML: 1.9 on both feet; D4RL's left foot is 1.9).
- hopper, walker2d: D4RL's gym v3 envs pay the healthy bonus (+1) on the step
  that terminates; gymnasium v5 pays 0 there (`TerminalHealthyBonus`).
tests/test_d4rl_parity.py pins every value and replays each trace.
"""

from typing import Dict, NamedTuple, Tuple

import gymnasium
import mujoco
import numpy as np


class BodyTable(NamedTuple):
    """Per body, in MuJoCo's body order: names (to check the order), mass, inertia (3),
    ipos (3) and iquat (4) as MuJoCo's body_mass / body_inertia / body_ipos / body_iquat."""

    names: Tuple[str, ...]
    mass: Tuple[float, ...]
    inertia: Tuple[Tuple[float, ...], ...]
    ipos: Tuple[Tuple[float, ...], ...]
    iquat: Tuple[Tuple[float, ...], ...]


D4RL_BODIES: Dict[str, BodyTable] = {
    "hopper": BodyTable(
        names=('world', 'torso', 'thigh', 'leg', 'foot'),
        mass=(0, 3.534291735, 3.926990817, 2.714336053, 5.089380099),
        inertia=((0, 0, 0), (0.06185010537, 0.06185010537, 0.004417864669), (0.08426667795,
                 0.08426667795, 0.004908738521), (0.0670441005, 0.0670441005, 0.002171468842),
                 (0.09046373126, 0.09046373126, 0.009160884178)),
        ipos=((0, 0, 0), (0, 0, 0), (0, 0, -0.225), (0, 0, 0), (-0.065, 0, 0.1)),
        iquat=((1, 0, 0, 0), (1, 0, 0, 0), (1, 0, 0, 0), (1, 0, 0, 0), (0.7071067812, 0,
               -0.7071067812, 0)),
    ),
    "halfcheetah": BodyTable(
        names=('world', 'torso', 'bthigh', 'bshin', 'bfoot', 'fthigh', 'fshin', 'ffoot'),
        mass=(0, 6.360313316, 1.535248042, 1.580939948, 1.069190601, 1.425587467, 1.178851175,
              0.8498694517),
        inertia=((0, 0, 0), (0.8944536067, 0.883565022, 0.01761779619), (0.01525575979,
                 0.01525575979, 0.001624292428), (0.01660830113, 0.01660830113, 0.001672634465),
                 (0.005444318538, 0.005444318538, 0.001131203655), (0.01231850131, 0.01231850131,
                 0.00150827154), (0.007162699739, 0.007162699739, 0.001247224543), (0.002899754569,
                 0.002899754569, 0.0008991618799)),
        ipos=((0, 0, 0), (0.149137931, 0, 0.02485632184), (0.1, 0, -0.13), (-0.14, 0, -0.07),
              (0.03, 0, -0.097), (-0.07, 0, -0.12), (0.065, 0, -0.09), (0.045, 0, -0.07)),
        iquat=((1, 0, 0, 0), (0.5223010559, 0.4766566972, 0.4766566972, 0.5223010559),
               (-0.3232895669, 0, -0.9463000877, 0), (0.5276199315, 0, -0.8494805518, 0),
               (0.9909013312, 0, -0.134590311, 0), (0.9663899781, 0, 0.2570805519, 0),
               (0.9553364891, 0, -0.2955202067, 0), (0.9553364891, 0, -0.2955202067, 0)),
    ),
    "walker2d": BodyTable(
        names=('world', 'torso', 'thigh', 'leg', 'foot', 'thigh_left', 'leg_left', 'foot_left'),
        mass=(0, 3.534291735, 3.926990817, 2.714336053, 2.940530724, 3.926990817, 2.714336053,
              2.940530724),
        inertia=((0, 0, 0), (0.06185010537, 0.06185010537, 0.004417864669), (0.08426667795,
                 0.08426667795, 0.004908738521), (0.0670441005, 0.0670441005, 0.002171468842),
                 (0.0192114674, 0.0192114674, 0.005292955303), (0.08426667795, 0.08426667795,
                 0.004908738521), (0.0670441005, 0.0670441005, 0.002171468842), (0.0192114674,
                 0.0192114674, 0.005292955303)),
        ipos=((0, 0, 0), (0, 0, 0), (0, 0, -0.225), (0, 0, 0), (-0.1, 0, 0.1), (0, 0, -0.225), (0,
              0, 0), (-0.1, 0, 0.1)),
        iquat=((1, 0, 0, 0), (1, 0, 0, 0), (1, 0, 0, 0), (1, 0, 0, 0), (0.7071067812, 0,
               -0.7071067812, 0), (1, 0, 0, 0), (1, 0, 0, 0), (0.7071067812, 0, -0.7071067812, 0)),
    ),
    "ant": BodyTable(
        names=('world', 'torso', 'front_left_leg', 'aux_1', '', 'front_right_leg', 'aux_2', '',
              'back_leg', 'aux_3', '', 'right_back_leg', 'aux_4', ''),
        mass=(0, 0.3272492347, 0.036476928, 0.036476928, 0.0649113788, 0.036476928, 0.036476928,
              0.0649113788, 0.036476928, 0.036476928, 0.0649113788, 0.036476928, 0.036476928,
              0.0649113788),
        inertia=((0, 0, 0), (0.008181230869, 0.008181230869, 0.008181230869), (0.0004585600765,
                 0.0004585600765, 0.0001167261696), (0.0004585600765, 0.0004585600765,
                 0.0001167261696), (0.002359039988, 0.002359039988, 0.0002077164122),
                 (0.0004585600765, 0.0004585600765, 0.0001167261696), (0.0004585600765,
                 0.0004585600765, 0.0001167261696), (0.002359039988, 0.002359039988,
                 0.0002077164122), (0.0004585600765, 0.0004585600765, 0.0001167261696),
                 (0.0004585600765, 0.0004585600765, 0.0001167261696), (0.002359039988,
                 0.002359039988, 0.0002077164122), (0.0004585600765, 0.0004585600765,
                 0.0001167261696), (0.0004585600765, 0.0004585600765, 0.0001167261696),
                 (0.002359039988, 0.002359039988, 0.0002077164122)),
        ipos=((0, 0, 0), (0, 0, 0), (0.1, 0.1, 0), (0.1, 0.1, 0), (0.2, 0.2, 0), (-0.1, 0.1, 0),
              (-0.1, 0.1, 0), (-0.2, 0.2, 0), (-0.1, -0.1, 0), (-0.1, -0.1, 0), (-0.2, -0.2, 0),
              (0.1, -0.1, 0), (0.1, -0.1, 0), (0.2, -0.2, 0)),
        iquat=((1, 0, 0, 0), (1, 0, 0, 0), (0.7071067812, 0.5, -0.5, 0), (0.7071067812, 0.5, -0.5,
               0), (0.7071067812, 0.5, -0.5, 0), (0.7071067812, 0.5, 0.5, 0), (0.7071067812, 0.5,
               0.5, 0), (0.7071067812, 0.5, 0.5, 0), (0.7071067812, -0.5, 0.5, 0), (0.7071067812,
               -0.5, 0.5, 0), (0.7071067812, -0.5, 0.5, 0), (0.7071067812, -0.5, -0.5, 0),
               (0.7071067812, -0.5, -0.5, 0), (0.7071067812, -0.5, -0.5, 0)),
    ),
}

# env -> {geom name: D4RL's sliding friction} where the project's XML differs.
D4RL_FRICTION: Dict[str, Dict[str, float]] = {"walker2d": {"foot_geom": 0.9}}

# envs whose D4RL (gym v3) version pays the healthy bonus on the terminating step.
TERMINAL_BONUS_ENVS = ("hopper", "walker2d")


def match_d4rl_margins(model: mujoco.MjModel) -> None:
    """Contacts as MuJoCo 2.1 (D4RL) makes them, in place.

    A contact between two geoms is active below a margin (and offset by a gap): MuJoCo
    2.1 took the larger of the two geoms' values, MuJoCo >= 3 (and MJX) adds them, so an
    ant foot (margin 0.01) touches the floor (0.01) 0.02 away here and 0.01 away in
    D4RL. D4RL's models give every geom the same margin (hopper 0.001, ant 0.01, maze2d
    0.002; halfcheetah and walker2d 0), so half of it on each geom gives the same sum.
    Measured against D4RL's traces (reference/d4rl.md): hopper's observations first leave
    D4RL's by 1e-6 at step 134 (step 10 without this), antmaze's step-2 difference drops
    from 0.5 to 2e-4.

    Raises:
        ValueError: the geoms' margins (or gaps) differ, where no per-geom value gives
            the larger of two.
    """
    for field in ("geom_margin", "geom_gap"):
        values = getattr(model, field)
        if values.size and np.ptp(values) > 0:
            raise ValueError(f"{field}: the geoms' values differ ({np.unique(values)}); no "
                             "per-geom value reproduces MuJoCo 2.1's larger-of-two rule.")
        values[:] = values / 2.0


def apply_bodies(model: mujoco.MjModel, env: str) -> None:
    """Set D4RL's compiled body inertials (and frictions) of `env` on `model`, in place,
    and its contact margins (`match_d4rl_margins`).

    Raises:
        ValueError: the model's bodies are not D4RL's (count or names differ).
    """
    table = D4RL_BODIES[env]
    if model.nbody != len(table.names):
        raise ValueError(f"{env}: the model has {model.nbody} bodies, D4RL's has "
                         f"{len(table.names)}; it is not the same robot.")
    for i, name in enumerate(table.names):
        found = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, i) or ""
        if name and found != name:
            raise ValueError(f"{env}: body {i} is {found!r}, D4RL's is {name!r}.")
    model.body_mass[:] = table.mass
    model.body_inertia[:] = table.inertia
    model.body_ipos[:] = table.ipos
    model.body_iquat[:] = table.iquat
    for geom, friction in D4RL_FRICTION.get(env, {}).items():
        model.geom_friction[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, geom), 0] = friction
    match_d4rl_margins(model)
    data = mujoco.MjData(model)
    mujoco.mj_setConst(model, data)


class TerminalHealthyBonus(gymnasium.Wrapper, gymnasium.utils.RecordConstructorArgs):
    """Pay the healthy bonus on the terminating step too, as D4RL's gym v3 hopper/walker2d."""

    def __init__(self, env: gymnasium.Env, healthy_reward: float = 1.0):
        gymnasium.utils.RecordConstructorArgs.__init__(self, healthy_reward=healthy_reward)
        super().__init__(env)
        self.healthy_reward = healthy_reward

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        if terminated:
            reward = reward + self.healthy_reward
        return obs, reward, terminated, truncated, info


def d4rl_locomotion(env: gymnasium.Env, stem: str) -> gymnasium.Env:
    """A gymnasium Hopper/HalfCheetah/Walker2d-v5 env made D4RL's model (in place + wrapper)."""
    apply_bodies(env.unwrapped.model, stem)
    return TerminalHealthyBonus(env) if stem in TERMINAL_BONUS_ENVS else env
