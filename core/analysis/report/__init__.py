"""Plan reports: figures and a self-contained HTML page (``greenslot report DIR``)."""

from greenslot.analysis.report.build import Report, build_report, write_report

__all__ = ["Report", "build_report", "write_report"]
