"""Power curves (contract section 1.4): import published measurements, fit, prune, write.

A curve is a list of :class:`~greenslot.power.curves.table.CurveRow`; every writer re-reads
its output with the planner's own loader before the file appears, so a curve greenslot writes
is always one greenslot can plan with.
"""

from greenslot.power.curves.fit import fit_between_measured
from greenslot.power.curves.pareto import drop_dominated
from greenslot.power.curves.table import CurveError, CurveRow, curve_csv, write_curve
from greenslot.power.curves.zeus import ZeusImport, import_zeus

__all__ = [
    "CurveError",
    "CurveRow",
    "ZeusImport",
    "curve_csv",
    "drop_dominated",
    "fit_between_measured",
    "import_zeus",
    "write_curve",
]
