"""Where the sweep's points run: a Dask ``LocalCluster``, a running scheduler, or Slurm.

``local`` starts worker processes on this machine; an address (``tcp://host:8786``) uses a
scheduler someone started, whose workers must see the scenario's files at the same path;
``slurm`` starts workers as Slurm jobs through ``dask-jobqueue`` (``pip install
greenslot[slurm]``), which must run where ``sbatch`` works.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distributed import Client

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

# distributed imports pynvml for GPU metrics; the pynvml release our dependency pins warns
# that it is deprecated on import, which says nothing about the sweep.
PYNVML_WARNING = "The pynvml package is deprecated"


class ClusterError(Exception):
    """The cluster could not be started or reached (exit 2: it is the user's address/setup)."""


@dataclass(frozen=True)
class ClusterSpec:
    """``kind`` is ``local``, ``slurm`` or a scheduler address; ``workers`` the worker count."""

    kind: str = "local"
    workers: int = 2
    slurm_partition: str | None = None
    slurm_memory: str = "4GB"
    slurm_walltime: str = "01:00:00"
    # Slurm may queue the worker jobs; past this a sweep stops instead of waiting forever on a
    # partition that rejects them.
    slurm_start_timeout_s: float = 600.0
    # Where worker jobs write their Slurm output (default: a folder in the temp directory,
    # not the working folder, which sbatch would otherwise fill with slurm-<id>.out files).
    slurm_log_dir: str | None = None


def _quiet_import():
    """Import distributed without its import-time pynvml warning.

    Logging is left to distributed: on import it gives its loggers their own stderr handler
    (unless the application configured the root logger first), and :func:`open_client`
    raises that handler to ERROR while the sweep runs, as ``LocalCluster(silence_logs=...)``
    does, so worker starts, stops and a slow worker killed at shutdown say nothing.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=PYNVML_WARNING, category=FutureWarning)
        import distributed
    return distributed


@contextlib.contextmanager
def _worker_environment() -> Iterator[None]:
    """Silence the pynvml warning in worker processes too (they inherit the environment)."""
    old = os.environ.get("PYTHONWARNINGS")
    rule = f"ignore:{PYNVML_WARNING}:FutureWarning"
    os.environ["PYTHONWARNINGS"] = f"{old},{rule}" if old else rule
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PYTHONWARNINGS", None)
        else:
            os.environ["PYTHONWARNINGS"] = old


def _close_slurm_cluster(cluster) -> None:
    """Close a SLURMCluster, even one whose worker jobs Slurm refused.

    distributed (2026.8) asserts on closing worker jobs that never started, which would
    replace the sweep's own one-line error with a traceback; the jobs are cancelled either way.
    """
    try:
        cluster.close()
    except (AssertionError, RuntimeError, OSError, TimeoutError) as exc:
        logger.info("closing the Slurm cluster: %r", exc)


@contextlib.contextmanager
def open_client(spec: ClusterSpec) -> Iterator[Client]:
    """A ``distributed.Client`` on the requested cluster, closed (with its cluster) on exit."""
    distributed = _quiet_import()
    from distributed.utils import silence_logging_cmgr

    with contextlib.ExitStack() as stack:
        stack.enter_context(silence_logging_cmgr(logging.ERROR))
        if spec.kind == "local":
            # no dashboard, and the scheduler's HTTP routes on a free port: a fixed 8787
            # clashes with any other Dask (or sweep) running on this machine
            try:
                with _worker_environment():
                    cluster = stack.enter_context(distributed.LocalCluster(
                        n_workers=spec.workers, threads_per_worker=1, processes=True,
                        dashboard_address=None, silence_logs=logging.ERROR,
                        scheduler_kwargs={"dashboard": False,
                                          "dashboard_address": "127.0.0.1:0"},
                        host="127.0.0.1"))
            except (OSError, RuntimeError) as exc:
                raise ClusterError(f"cannot start a local Dask cluster: {exc}") from None
            logger.info("started a LocalCluster with %d workers", spec.workers)
        elif spec.kind == "slurm":
            if shutil.which("sbatch") is None:
                raise ClusterError("--cluster slurm starts workers with sbatch, which is not "
                                   "on PATH here; run the sweep on a Slurm login node")
            try:
                from dask_jobqueue import SLURMCluster
            except ImportError:
                raise ClusterError("--cluster slurm needs dask-jobqueue: "
                                   "pip install 'greenslot[slurm]'") from None
            try:
                log_dir = spec.slurm_log_dir or os.path.join(tempfile.gettempdir(),
                                                             "greenslot-sweep-slurm")
                cluster = SLURMCluster(
                    cores=1, processes=1, memory=spec.slurm_memory,
                    walltime=spec.slurm_walltime, queue=spec.slurm_partition,
                    log_directory=log_dir,
                    scheduler_options={"dashboard": False, "dashboard_address": ":0"})
            except (OSError, RuntimeError) as exc:
                raise ClusterError(f"cannot start Dask workers on Slurm: {exc}") from None
            stack.callback(_close_slurm_cluster, cluster)
            cluster.scale(jobs=spec.workers)
            logger.info("asked Slurm for %d Dask worker jobs", spec.workers)
        else:
            cluster = spec.kind
        try:
            client = stack.enter_context(distributed.Client(cluster, timeout="20s"))
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {spec.kind}: {exc}") from None
        if spec.kind == "slurm":
            try:
                client.wait_for_workers(1, timeout=spec.slurm_start_timeout_s)
            except TimeoutError:
                raise ClusterError(f"no Dask worker started on Slurm within "
                                   f"{spec.slurm_start_timeout_s:g} s; see squeue and the "
                                   "partition, memory and walltime options") from None
        yield client
