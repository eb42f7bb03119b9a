"""Maze layouts in the observation's xy frame, for figures: walls, start and goal.

    layout = maze_layout("gen-pointmaze-large-diverse-v0")   # None for non-maze envs
    draw_maze(ax, layout)   # walls as grey squares, start and goal marked, equal axes

Frames (the first two observation columns):
- point mazes (maze2d-*, gen-pointmaze-*): D4RL maze2d's qpos (row, col); cell
  (r, c) spans (r - 0.2, c - 0.2) +- 0.5 (clue_jax.envs.pointmaze).
- AntMaze (antmaze-*, gen-antmaze-*): D4RL xy = ((col - 1) * 4, (row - 1) * 4) at a
  cell's centre, cells 4 wide (clue_jax.envs.antmaze).
"""

from typing import NamedTuple, Optional, Tuple

import numpy as np

from clue_jax.envs import antmaze, pointmaze

XY = Tuple[float, float]


class MazeLayout(NamedTuple):
    """walls: (M, 4) rectangles (x0, y0, width, height); start, goal: (x, y) or None."""

    walls: np.ndarray
    start: Optional[XY]
    goal: Optional[XY]


def _maze_of(env_name: str) -> Tuple[Optional[str], Optional[str]]:
    parts = env_name.removeprefix("gen-").split("-")  # the datasets made here: their maze's
    if parts[0] in ("pointmaze", "maze2d", "antmaze") and len(parts) > 1 \
            and parts[1] in antmaze.MAZES:
        return parts[0], parts[1]
    return None, None


def maze_layout(env_name: str) -> Optional[MazeLayout]:
    """The layout of a maze env (point maze or AntMaze), or None for other envs."""
    kind, maze = _maze_of(env_name)
    if maze is None:
        return None
    grid = antmaze.maze_grid(maze)
    rows, cols = np.nonzero(grid)
    if kind == "antmaze":
        size = antmaze.MAZE_SIZE_SCALING
        centres = np.stack([(cols - 1) * size, (rows - 1) * size], 1).astype(float)
        _, start_cell, goal_cell = antmaze.MAZES[maze]
        start, goal = (0.0, 0.0), tuple(antmaze.cell_to_d4rl_xy(*goal_cell))
    else:
        size = 1.0
        centres = np.stack([rows - 0.2, cols - 0.2], 1).astype(float)
        if kind == "pointmaze":  # the generated datasets' evaluation protocol
            protocol = pointmaze.EVAL[maze]
            start, goal = tuple(map(float, protocol.start)), tuple(map(float, protocol.goal))
        else:  # maze2d: random start, fixed target
            start, goal = None, tuple(map(float, pointmaze.MAZE2D_TARGETS[maze]))
    walls = np.concatenate([centres - size / 2, np.full_like(centres, size)], 1)
    return MazeLayout(walls, start, goal)


def draw_maze(ax, layout: MazeLayout, goal_radius: Optional[float] = None) -> None:
    """Walls (grey), start (green triangle), goal (red star and its radius) on `ax`, equal axes."""
    from matplotlib.patches import Circle, Rectangle

    for x0, y0, w, h in layout.walls:
        ax.add_patch(Rectangle((x0, y0), w, h, facecolor="0.75", edgecolor="none", zorder=0))
    if layout.start is not None:
        ax.plot(*layout.start, marker="^", color="green", markersize=9, linestyle="none",
                label="start", zorder=5)
    if layout.goal is not None:
        ax.plot(*layout.goal, marker="*", color="red", markersize=12, linestyle="none",
                label="goal", zorder=5)
        if goal_radius:
            ax.add_patch(Circle(layout.goal, goal_radius, fill=False, edgecolor="red",
                                linestyle="--", zorder=5))
    x0, y0 = layout.walls[:, :2].min(0)
    x1, y1 = (layout.walls[:, :2] + layout.walls[:, 2:]).max(0)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
