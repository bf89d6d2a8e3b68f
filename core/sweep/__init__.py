"""Parameter sweeps: a grid of what-if plans solved in parallel on Dask."""

from greenslot.sweep.cluster import ClusterError, ClusterSpec, open_client
from greenslot.sweep.grid import Axis, grid_points, parse_vary
from greenslot.sweep.run import Sweep, run_sweep

__all__ = ["Axis", "ClusterError", "ClusterSpec", "Sweep", "grid_points", "open_client",
           "parse_vary", "run_sweep"]
