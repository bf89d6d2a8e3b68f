"""Running a plan on Slurm: submit it, keep it idempotent, re-plan against the live queue.

Every Slurm command is run as an argument list (never through a shell), so job names, paths
and commands reach Slurm exactly as written. Modules:

- :mod:`~greenslot.slurm.commands`: running ``sbatch``/``squeue``/``scontrol`` and time zones;
- :mod:`~greenslot.slurm.ledger`: the crash-safe record of what was submitted;
- :mod:`~greenslot.slurm.queue`: ``squeue --json`` across Slurm versions, and the plan tag;
- :mod:`~greenslot.slurm.submit`: ``greenslot submit DIR``;
- :mod:`~greenslot.slurm.sync`: ``greenslot sync SCENARIO --out DIR [--apply]``;
- :mod:`~greenslot.slurm.reservations`: Slurm reservations for the scenario's ``reservations``.
"""
