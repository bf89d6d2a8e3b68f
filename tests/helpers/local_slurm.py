"""A real single-host Slurm cluster (munged, slurmctld, one slurmd per node) for the tests.

Why a real one: the issue asks to prove that a plan runs on Slurm, and a fake ``sbatch`` cannot
show what the controller does with ``--begin``, ``--nodelist``, dependencies or
``scontrol update``. Debian 12 ships Slurm 22.05 built with ``MULTIPLE_SLURMD``, so several
``slurmd -N <node>`` share this host, each on its own port, with fake GPUs (``/dev/null``
symlinks). Facts this relies on were measured first (``shared/slurm/README.md`` in the
workspace): start takes under a second once installed; finished jobs stay visible for
``MinJobAge``; ``%S`` of a ``--begin`` job is its begin time.

Everything lives in one folder; the daemons run in the foreground as children of this process
(``-D`` / ``-F``), so stopping them needs no PID files and never touches another Slurm or munge
instance. Ports are picked free at start, so two test runs on one machine do not collide.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge")
BINARIES = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol",
            "sinfo", "scancel")
# Slurm's accounting (sacct): slurmdbd on a MariaDB of its own, only for a cluster that asks.
ACCOUNTING_PACKAGES = ("slurmdbd", "mariadb-server")
ACCOUNTING_BINARIES = ("slurmdbd", "mariadbd", "mariadb-install-db", "sacct", "sacctmgr")
SBIN = "/usr/sbin:/sbin"


class SlurmFixtureError(RuntimeError):
    """The local cluster could not be installed or started; the message holds the log tails."""


def _free_ports(count: int) -> list[int]:
    """Ports nothing listens on now (bound once to port 0, then released)."""
    sockets, ports = [], []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in sockets:
            s.close()
    return ports


def ensure_packages(log: Path, packages: tuple[str, ...] = PACKAGES,
                    binaries: tuple[str, ...] = BINARIES) -> None:
    """Install Slurm and munge with apt when a binary is missing (CI machines start bare).

    Services the packages would start are not started (Debian's policy-rc.d in containers;
    the tests start their own daemons in their own folders either way).
    """
    path = f"{os.environ.get('PATH', '')}:{SBIN}"
    if all(shutil.which(b, path=path) for b in binaries):
        return
    if os.geteuid() != 0:
        raise SlurmFixtureError("Slurm is not installed and this is not root: run "
                                f"apt-get install --no-install-recommends {' '.join(packages)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
    with log.open("a") as out:
        if subprocess.run(install, stdout=out, stderr=out, env=env).returncode == 0:
            return
        # A bare image has no package lists yet; update only when needed (it is the slow part).
        subprocess.run(["apt-get", "update", "-q"], stdout=out, stderr=out, env=env)
        if subprocess.run(install, stdout=out, stderr=out, env=env).returncode != 0:
            raise SlurmFixtureError(f"apt-get install failed:\n{_tail(log)}")


def _tail(path: Path, lines: int = 15) -> str:
    """The last ``lines`` lines of a log, without slurmd's harmless pmix noise."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"({path} missing)"
    return "\n".join([line for line in text if "pmix" not in line][-lines:])


@dataclass
class LocalSlurm:
    """One cluster: ``nodes`` maps node name to its GPU count; all in partition ``partition``."""

    root: Path
    nodes: dict[str, int]
    partition: str = "gpu"
    cpus: int = 8
    mem_mb: int = 64000
    prolog: Path | None = None
    epilog: Path | None = None
    extra_conf: tuple[str, ...] = ()  # more slurm.conf lines (power saving, say)
    accounting: bool = False  # start MariaDB and slurmdbd, so sacct answers
    dbd_port: int = 0
    processes: list[subprocess.Popen] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def conf(self) -> Path:
        return self.root / "etc" / "slurm.conf"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """A Slurm client command against this cluster (argument list, text output)."""
        result = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0:
            raise SlurmFixtureError(f"{' '.join(args)}: {result.stderr.strip()}")
        return result

    # ------------------------------------------------------------------ config
    def _write_config(self, ctld_port: int, node_ports: list[int]) -> None:
        etc, dev = self.root / "etc", self.root / "dev"
        for sub in ("etc", "state", "spool", "log", "run", "dev", "munge"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        most = max(self.nodes.values())
        for i in range(most):
            (dev / f"gpu{i}").symlink_to("/dev/null")
        host = socket.gethostname().split(".")[0]
        r = self.root
        lines = [
            "ClusterName=greenslottest",
            f"SlurmctldHost={host}(127.0.0.1)",
            f"SlurmctldPort={ctld_port}",
            f"SlurmdPort={node_ports[0]}",
            "AuthType=auth/munge",
            f"AuthInfo=socket={r}/munge/munge.socket",
            "CredType=cred/munge",
            "SlurmUser=root",
            "SlurmdUser=root",
            f"StateSaveLocation={r}/state",
            f"SlurmdSpoolDir={r}/spool/%n",
            f"SlurmctldPidFile={r}/run/slurmctld.pid",
            f"SlurmdPidFile={r}/run/slurmd-%n.pid",
            f"SlurmctldLogFile={r}/log/slurmctld.log",
            f"SlurmdLogFile={r}/log/slurmd-%n.log",
            "SlurmctldDebug=info",
            "SlurmdDebug=info",
            "MailProg=/bin/true",
            "MpiDefault=none",
            # No cgroups on a test host: plain process tracking, nothing confined.
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            *([] if self.accounting else ["JobAcctGatherType=jobacct_gather/none"]),
            # Without slurmdbd, finished jobs stay visible to squeue -t all for MinJobAge s.
            *(["AccountingStorageType=accounting_storage/slurmdbd",
               "AccountingStorageHost=127.0.0.1", f"AccountingStoragePort={self.dbd_port}",
               # With slurmdbd and munge, this names the munge socket clients use.
               f"AccountingStoragePass={r}/munge/munge.socket",
               "JobAcctGatherType=jobacct_gather/linux", "JobAcctGatherFrequency=5",
               # Keep each job's --comment in the accounting: ran --history reads the
               # estimates a queued job declared there.
               "AccountingStoreFlags=job_comment"]
              if self.accounting else ["AccountingStorageType=accounting_storage/none"]),
            "JobCompType=jobcomp/filetxt",
            f"JobCompLoc={r}/log/jobcomp.txt",
            "MinJobAge=3600",
            "ReturnToService=2",
            "SchedulerType=sched/backfill",
            "SchedulerParameters=bf_interval=2,bf_resolution=60,bf_window=10080,bf_continue,"
            "sched_interval=2",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core_Memory",
            f"DefMemPerCPU={self.mem_mb // self.cpus}",
            # Nodes advertise what is written here, not this host's hardware.
            "SlurmdParameters=config_overrides",
            "GresTypes=gpu",
            "KillWait=5",
            "InactiveLimit=0",
            "SlurmctldTimeout=30",
            "SlurmdTimeout=120",
        ]
        lines += [f"Prolog={self.prolog}"] if self.prolog else []
        lines += [f"Epilog={self.epilog}"] if self.epilog else []
        lines += list(self.extra_conf)
        gres = ["AutoDetect=off"]
        for (name, gpus), port in zip(self.nodes.items(), node_ports, strict=True):
            files = f"{dev}/gpu0" if gpus == 1 else f"{dev}/gpu[0-{gpus - 1}]"
            gres.append(f"NodeName={name} Name=gpu File={files}")
            lines.append(f"NodeName={name} NodeAddr=127.0.0.1 NodeHostname={name} Port={port} "
                         f"CPUs={self.cpus} Boards=1 SocketsPerBoard=1 CoresPerSocket={self.cpus} "
                         f"ThreadsPerCore=1 RealMemory={self.mem_mb} Gres=gpu:{gpus} "
                         "State=UNKNOWN")
        lines.append(f"PartitionName={self.partition} Nodes={','.join(self.nodes)} Default=YES "
                     "MaxTime=INFINITE State=UP")
        self.conf.write_text("\n".join(lines) + "\n")
        (etc / "gres.conf").write_text("\n".join(gres) + "\n")
        # slurmd 22.05 always loads a cgroup plugin; none of ours creates cgroups.
        (etc / "cgroup.conf").write_text("CgroupPlugin=autodetect\n")

    # ------------------------------------------------------------------ start/stop
    def _spawn(self, args: list[str], log_name: str) -> subprocess.Popen:
        out = (self.root / "log" / log_name).open("ab")
        process = subprocess.Popen(args, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        self.processes.append(process)
        return process

    def _wait(self, what: str, ready, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not ready():
            dead = [p for p in self.processes if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                cause = f"{dead[0].args[0]} exited" if dead else f"timed out after {seconds} s"
                raise SlurmFixtureError(f"waiting for {what}: {cause}\n{self.logs()}")
            time.sleep(0.1)

    def logs(self) -> str:
        parts = []
        for path in [*sorted((self.root / "log").glob("*.log")), self.root / "munge/munged.log"]:
            parts.append(f"----- {path}\n{_tail(path)}")
        return "\n".join(parts)

    def start(self, timeout_s: float = 60) -> LocalSlurm:
        """Install if needed, write the config, start the daemons, wait until all nodes are idle.

        On failure everything started is stopped again and :class:`SlurmFixtureError` carries
        the log tails.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        ensure_packages(self.root / "apt.log")
        if self.accounting:
            ensure_packages(self.root / "apt.log", ACCOUNTING_PACKAGES, ACCOUNTING_BINARIES)
        ctld_port, db_port, self.dbd_port, *node_ports = _free_ports(3 + len(self.nodes))
        self._write_config(ctld_port, node_ports)
        self.env = {**os.environ, "SLURM_CONF": str(self.conf),
                    "PATH": f"{os.environ.get('PATH', '')}:{SBIN}"}
        munge = self.root / "munge"
        munge.chmod(0o711)  # munged wants its socket folder searchable
        key = munge / "munge.key"
        subprocess.run(["mungekey", "--create", f"--keyfile={key}", "--force"], env=self.env,
                       check=True, capture_output=True)
        key.chmod(0o600)
        try:
            self._spawn(["munged", "-F", "--force", f"--key-file={key}",
                         f"--socket={munge}/munge.socket", f"--pid-file={self.root}/run/munged.pid",
                         f"--log-file={munge}/munged.log", f"--seed-file={munge}/munged.seed"],
                        "munged.out")
            self._wait("munged", lambda: (munge / "munge.socket").exists(), 10)
            if self.accounting:
                self._start_accounting(db_port)
            self._spawn(["slurmctld", "-D", "-i", "-f", str(self.conf)], "slurmctld.out")
            self._wait("slurmctld", self._ctld_up, 30)
            for name in self.nodes:
                (self.root / "spool" / name).mkdir(exist_ok=True)
                self._spawn(["slurmd", "-D", "-f", str(self.conf), "-N", name],
                            f"slurmd-{name}.out")
            self._wait("nodes to be idle", self._all_idle, timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_accounting(self, db_port: int) -> None:
        """A MariaDB (its own datadir, TCP on loopback, no grant tables: nothing outside the
        test can reach it) and slurmdbd on it; the cluster registered with sacctmgr."""
        r = self.root
        db = r / "mariadb"
        db.mkdir(exist_ok=True)
        done = subprocess.run(["mariadb-install-db", f"--datadir={db}", "--user=root",
                               "--auth-root-authentication-method=normal",
                               "--skip-test-db"], capture_output=True, text=True, env=self.env)
        if done.returncode != 0:
            raise SlurmFixtureError(f"mariadb-install-db failed: {done.stderr[-2000:]}")
        self._spawn(["mariadbd", "--no-defaults", f"--datadir={db}", "--user=root",
                     f"--port={db_port}", "--bind-address=127.0.0.1",
                     f"--socket={r}/run/mariadb.sock", f"--pid-file={r}/run/mariadb.pid",
                     "--skip-grant-tables", "--innodb-buffer-pool-size=32M",
                     f"--log-error={r}/log/mariadb.log"], "mariadb.out")
        self._wait("mariadb", lambda: _port_open(db_port), 60)
        conf = self.conf.parent / "slurmdbd.conf"
        conf.write_text("\n".join([
            "AuthType=auth/munge", f"AuthInfo=socket={r}/munge/munge.socket",
            "DbdHost=localhost", "DbdAddr=127.0.0.1", f"DbdPort={self.dbd_port}",
            "SlurmUser=root", f"PidFile={r}/run/slurmdbd.pid",
            f"LogFile={r}/log/slurmdbd.log", "DebugLevel=info",
            "StorageType=accounting_storage/mysql", "StorageHost=127.0.0.1",
            f"StoragePort={db_port}", "StorageUser=root", "StorageLoc=slurm_acct_db",
        ]) + "\n")
        conf.chmod(0o600)
        self._spawn(["slurmdbd", "-D"], "slurmdbd.out")
        self._wait("slurmdbd", lambda: _port_open(self.dbd_port), 60)
        self._wait("the cluster in slurmdbd", self._cluster_registered, 30)
        # Users with an association, as on a real cluster: sacct names a job's user through it
        # (22.05 gives none without one), and ran --history records who ran what.
        self.run("sacctmgr", "-i", "add", "account", "greenslot", "cluster=greenslottest")
        self.run("sacctmgr", "-i", "add", "user", "root,nobody", "account=greenslot",
                 "cluster=greenslottest")

    def _cluster_registered(self) -> bool:
        self.run("sacctmgr", "-i", "add", "cluster", "greenslottest", check=False)
        listed = self.run("sacctmgr", "-n", "-P", "list", "cluster", "format=cluster",
                          check=False).stdout.split()
        return "greenslottest" in listed

    def _ctld_up(self) -> bool:
        return "is UP" in self.run("scontrol", "ping", check=False).stdout

    def _all_idle(self) -> bool:
        out = self.run("sinfo", "-h", "-N", "-o", "%N %T", check=False).stdout.split("\n")
        idle = {line.split()[0] for line in out if line.strip().endswith(" idle")}
        return idle == set(self.nodes)

    def reset(self) -> None:
        """Cancel every job and delete every reservation, so each test starts from an empty queue.

        Everything in this cluster was made by the tests, so cancelling all of it is safe.
        """
        self.cancel_all()
        shown = self.run("scontrol", "-o", "show", "reservation", check=False).stdout
        for line in shown.splitlines():
            if line.startswith("ReservationName="):
                name = line.split()[0].split("=", 1)[1]
                self.run("scontrol", "delete", f"ReservationName={name}", check=False)

    def cancel_all(self, wait_s: float = 20) -> None:
        ids = self.run("squeue", "-h", "-o", "%A", check=False).stdout.split()
        if ids:
            self.run("scancel", *ids, check=False)
        deadline = time.monotonic() + wait_s
        active = "running,completing,configuring,pending,suspended"
        while time.monotonic() < deadline and self.run(
                "squeue", "-h", "-t", active, "-o", "%A", check=False).stdout.strip():
            time.sleep(0.2)

    def stop(self) -> None:
        """Cancel jobs, stop the daemons started here, kill job steps of this cluster."""
        if self.processes and all(p.poll() is None for p in self.processes[:2]):
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                self.cancel_all()
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        self.processes.clear()
        self._kill_leftover_steps()

    def _kill_leftover_steps(self) -> None:
        """Job steps (slurmstepd) outlive slurmd by design; ours carry our SLURM_CONF."""
        marker = f"SLURM_CONF={self.conf}".encode()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if (proc / "comm").read_text().strip() != "slurmstepd":
                    continue
                if marker not in (proc / "environ").read_bytes().split(b"\0"):
                    continue
                _kill_tree(int(proc.name))
            except OSError:
                continue


def _port_open(port: int) -> bool:
    with contextlib.closing(socket.socket()) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _kill_tree(pid: int) -> None:
    """SIGKILL a process and its descendants (found through /proc/*/stat parent ids)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    for child in children:
        _kill_tree(child)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
