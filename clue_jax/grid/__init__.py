"""Grids of runs: tasks x methods x K x seeds, run and tabled (reproduce.py is its CLI).

methods.py  method name -> (learner, labeller, setting, calibrated); variants; flag routing
presets.py  the paper's tables as grids, at the paper's or the CPU budget
estimate.py the plan's time estimate, from finished runs' costs and bench_e2e
cells.py    cells (one run each) and units (what one process runs: a cell or a group)
build.py    a command line -> the grid, its plan and its check
execute.py  units run as processes (pool, pinned), Ray tasks, or in this process
tables.py   results.csv, results.md (mean +- std, totals, rliable aggregates), results.png
"""
