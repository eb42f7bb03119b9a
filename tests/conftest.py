"""Test-wide settings."""

import warnings

import pytest


@pytest.fixture(autouse=True, scope="session")
def mujoco_warnings_as_python_warnings():
    """MuJoCo writes warnings to MUJOCO_LOG.TXT in the working directory unless a handler is
    installed (e.g. gymnasium's check_env recompiles a model outside the adapters' handler):
    route them to Python warnings so no test leaves a file in the checkout."""
    import mujoco
    previous = mujoco.get_mju_user_warning()
    mujoco.set_mju_user_warning(lambda message: warnings.warn(f"MuJoCo: {message}",
                                                              RuntimeWarning))
    yield
    mujoco.set_mju_user_warning(previous)
