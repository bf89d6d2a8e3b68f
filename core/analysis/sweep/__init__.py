"""Parameter sweeps: a grid of what-if plans solved in parallel on Dask."""

from greenslot.analysis.sweep.cluster import ClusterError, ClusterSpec, open_client
from greenslot.analysis.sweep.grid import Axis, grid_points, parse_vary
from greenslot.analysis.sweep.run import Sweep, run_sweep

__all__ = ["Axis", "ClusterError", "ClusterSpec", "Sweep", "grid_points", "open_client",
           "parse_vary", "run_sweep"]
