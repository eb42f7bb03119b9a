"""Shortest-path planning on a maze's cell grid and a PD waypoint controller.

Pure numpy and vectorized over a batch of points, for the point maze in D4RL
maze2d units (see `clue_jax.envs.pointmaze`): a position is (row, col) qpos,
cell (r, c) is the qpos (r, c) as D4RL places its resets and targets, and the
geometric centre of that cell lies at (r - 0.2, c - 0.2) (D4RL draws its point
0.2 off the grid).

The controller follows D4RL maze2d's waypoint controller in spirit (gains
p = 10, d = 1; waypoints at the cell centres, where D4RL's lie between the
centre and the cell index) but is memoryless: the waypoint is the centre of the
next cell on a shortest path from the cell the point is in, or the goal itself
once the point is in the goal cell. It needs no per-episode state, so one call
steers a whole batch.
"""

from collections import deque
from typing import Tuple

import numpy as np

D4RL_OFFSET = 0.2  # D4RL's point sits 0.2 (qpos units) past the centre of its cell
KP = 10.0  # D4RL maze2d WaypointController p_gain
KD = 1.0  # D4RL maze2d WaypointController d_gain (-1: action = kp * err - kd * vel)

_MOVES = ((-1, 0), (1, 0), (0, -1), (0, 1))


def free_cells(grid: np.ndarray) -> np.ndarray:
    """(K, 2) int64 (row, col) of the free cells of `grid` (H, W), 1 = wall, row-major order."""
    return np.argwhere(np.asarray(grid) == 0).astype(np.int64)


def next_cell_table(grid: np.ndarray, from_walls: bool = False) -> np.ndarray:
    """First step of a shortest path between every pair of free cells.

    Breadth-first search from each goal over 4-connected free cells; ties go to
    the first move in (up, down, left, right) order.

    Args:
        grid: (H, W) int, 1 = wall.
        from_walls: also answer from a wall cell that borders a reachable free cell
            (the neighbour nearest the goal, ties as above), as D4RL's antmaze BFS does
            for a torso its truncating cell reading puts in a wall cell.

    Returns:
        (H, W, H, W, 2) int64: [goal_r, goal_c, r, c] is the cell to move to
        from (r, c) towards (goal_r, goal_c); the cell itself at the goal, and
        -1 where the goal is a wall or cannot be reached (or (r, c) is a wall, unless
        `from_walls`).
    """
    grid = np.asarray(grid)
    height, width = grid.shape
    table = np.full((height, width, height, width, 2), -1, dtype=np.int64)
    for goal in map(tuple, free_cells(grid)):
        dist = np.full((height, width), -1, dtype=np.int64)
        dist[goal] = 0
        table[goal][goal] = goal
        queue = deque([goal])
        while queue:
            r, c = queue.popleft()
            for dr, dc in _MOVES:
                nr, nc = r + dr, c + dc
                if 0 <= nr < height and 0 <= nc < width and grid[nr, nc] == 0 \
                        and dist[nr, nc] < 0:
                    dist[nr, nc] = dist[r, c] + 1
                    table[goal][nr, nc] = (r, c)  # first move from (nr, nc) is back to (r, c)
                    queue.append((nr, nc))
        if not from_walls:
            continue
        for r, c in np.argwhere(grid != 0):
            near = [(dist[r + dr, c + dc], (r + dr, c + dc)) for dr, dc in _MOVES
                    if 0 <= r + dr < height and 0 <= c + dc < width and dist[r + dr, c + dc] >= 0]
            if near:
                table[goal][r, c] = min(near, key=lambda item: item[0])[1]
    return table


def draw_cells(rng: np.random.Generator, cells: np.ndarray, exclude: np.ndarray) -> np.ndarray:
    """(B, 2) cells drawn uniformly from `cells` (K, 2), each differing from its `exclude` row
    when `cells` holds another (a lone cell is drawn as it is)."""
    idx = rng.integers(len(cells), size=len(exclude))
    if len(cells) > 1:
        same = np.all(cells[idx] == exclude, axis=1)
        while same.any():
            idx[same] = rng.integers(len(cells), size=int(same.sum()))
            same = np.all(cells[idx] == exclude, axis=1)
    return cells[idx]


def path_length(table: np.ndarray, start: Tuple[int, int], goal: Tuple[int, int]) -> int:
    """Number of cell moves on the planned path from `start` to `goal` (-1 if unreachable)."""
    cell, steps = tuple(start), 0
    while cell != tuple(goal):
        cell = tuple(table[tuple(goal)][cell])
        if cell[0] < 0:
            return -1
        steps += 1
    return steps


def cell_of(pos: np.ndarray) -> np.ndarray:
    """(..., 2) D4RL qpos -> (..., 2) int64 cell holding it (cells span centre +- 0.5)."""
    return np.floor(np.asarray(pos) + D4RL_OFFSET + 0.5).astype(np.int64)


def waypoints(table: np.ndarray, pos: np.ndarray, goal_cells: np.ndarray) -> np.ndarray:
    """Where each point should head next: (B, 2) D4RL qpos.

    Args:
        table: `next_cell_table` of the maze.
        pos: (B, 2) D4RL qpos of the points.
        goal_cells: (B, 2) int goal cell of each point.

    Returns:
        (B, 2): the centre of the next cell on the path, or the goal cell's
        qpos (r, c) once the point is in the goal cell.
    """
    height, width = table.shape[:2]
    cells = cell_of(pos)
    cells[:, 0] = np.clip(cells[:, 0], 0, height - 1)
    cells[:, 1] = np.clip(cells[:, 1], 0, width - 1)
    goal_cells = np.asarray(goal_cells, dtype=np.int64)
    nxt = table[goal_cells[:, 0], goal_cells[:, 1], cells[:, 0], cells[:, 1]]
    nxt = np.where(nxt < 0, cells, nxt)  # a point off the free grid heads to its own cell
    at_goal = np.all(cells == goal_cells, axis=1, keepdims=True)
    return np.where(at_goal, goal_cells.astype(np.float64), nxt - D4RL_OFFSET)


def pd_actions(table: np.ndarray, obs: np.ndarray, goal_cells: np.ndarray,
               kp: float = KP, kd: float = KD) -> np.ndarray:
    """Noiseless controller actions: (B, 2) in [-1, 1], D4RL order (a_row, a_col).

    Args:
        table: `next_cell_table` of the maze.
        obs: (B, 4) D4RL maze2d observations (row, col, v_row, v_col).
        goal_cells: (B, 2) int goal cell of each point.
        kp, kd: gains: action = kp * (waypoint - pos) - kd * velocity, clipped.
    """
    obs = np.asarray(obs, dtype=np.float64)
    target = waypoints(table, obs[:, :2], goal_cells)
    return np.clip(kp * (target - obs[:, :2]) - kd * obs[:, 2:4], -1.0, 1.0)
