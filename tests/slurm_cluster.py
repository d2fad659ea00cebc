"""A real single-node Slurm cluster for the tests, started from Debian's packages (munge, slurmctld, slurmd,
slurm-client, slurmdbd, mariadb-server; `.ci/run` installs them) with no systemd and no cgroups: every daemon is
started directly with its files in one folder, and stopped by its PID.

    cluster = Cluster.start(folder)   # about 10 s
    cluster.env                       # SLURM_CONF for sbatch, squeue, sacct, scancel and submitit
    cluster.stop()

`Cluster.unavailable()` says why one cannot start here (not root, a package missing), or None. The daemons:
munged (as user munge), mariadbd (accounting's database), slurmdbd (accounting: sacct, which submitit reads job
states from), slurmctld and slurmd, configured with proctrack/linuxproc, task/none, select/cons_tres with CR_CPU and
jobacct_gather/none, which need neither systemd nor cgroups.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

DAEMONS = ("munged", "mariadbd", "mariadb-install-db", "slurmdbd", "slurmctld", "slurmd", "sbatch", "sacct")
PACKAGES = "munge slurmctld slurmd slurm-client slurmdbd mariadb-server"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a child that has exited but is not yet reaped is a zombie: gone
        return f.read().split(") ")[-1][:1] != "Z"


def _wait(what: str, ready, timeout_s: float, log: Path | None = None) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if ready():
            return
        time.sleep(0.2)
    tail = log.read_text()[-2000:] if log and log.exists() else ""
    raise RuntimeError(f"{what} did not start in {timeout_s:.0f} s{': ' + tail if tail else ''}")


@dataclass
class Cluster:
    folder: Path
    node: str
    pids: dict[str, int] = field(default_factory=dict)
    procs: list[subprocess.Popen] = field(default_factory=list)

    @staticmethod
    def unavailable() -> str | None:
        if os.name != "posix" or os.geteuid() != 0:
            return "a real Slurm cluster is started as root (CI runs as root)"
        missing = [d for d in DAEMONS if not shutil.which(d)]
        if missing:
            return f"no {', '.join(missing)} here: apt-get install {PACKAGES} (.ci/run does)"
        return None

    @property
    def conf(self) -> Path:
        return self.folder / "etc" / "slurm.conf"

    @property
    def env(self) -> dict[str, str]:
        return {"SLURM_CONF": str(self.conf)}

    def run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        """A Slurm client command (sbatch, squeue, sacct, scancel, scontrol) against this cluster."""
        return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **self.env}, check=check)

    @classmethod
    def start(cls, folder: Path, cpus: int | None = None) -> Cluster:
        folder.mkdir(parents=True, exist_ok=True)
        cluster = cls(folder, socket.gethostname().split(".")[0])
        try:
            cluster._start(cpus or os.cpu_count() or 1)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _spawn(self, name: str, cmd: list[str], pidfile: Path | None = None) -> None:
        log = self.folder / f"{name}.out"
        with log.open("w") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.pids[name] = proc.pid
        self.procs.append(proc)
        if pidfile is not None:  # a daemon that forks: its own pid file names it
            _wait(f"{name}'s pid file", pidfile.exists, 30, log)
            self.pids[name] = int(pidfile.read_text().split()[0])

    def _start(self, cpus: int) -> None:
        f = self.folder
        for d in ("etc", "state", "spool", "mysql"):
            (f / d).mkdir(exist_ok=True)
        # munge: the packaged key, its default socket (the Slurm daemons' persistent connections look there), and
        # its files in its own run folder (munge cannot reach a root-only test folder)
        run = Path("/run/munge")
        run.mkdir(parents=True, exist_ok=True)
        shutil.chown(run, "munge", "munge")
        munged = ["/usr/sbin/munged", "--force", "--pid-file", str(run / "munged.pid")]
        munged += ["--log-file", str(run / "munged.log"), "--seed-file", str(run / "munged.seed")]
        (run / "munged.pid").unlink(missing_ok=True)
        self._spawn("munged", ["runuser", "-u", "munge", "--", *munged], run / "munged.pid")
        # accounting's database
        sock, port = f / "mysql.sock", _free_port()
        install = ["mariadb-install-db", "--user=root", f"--datadir={f / 'mysql'}"]
        subprocess.run([*install, "--auth-root-authentication-method=normal"], capture_output=True, check=True)
        mariadbd = ["mariadbd", "--user=root", f"--datadir={f / 'mysql'}", f"--socket={sock}", f"--port={port}"]
        mariadbd += ["--bind-address=127.0.0.1", f"--pid-file={f / 'mariadbd.pid'}", "--skip-log-bin"]
        self._spawn("mariadbd", mariadbd)
        _wait("mariadbd", sock.exists, 60, f / "mariadbd.out")
        dbd_port, ctld_port, d_port = _free_port(), _free_port(), _free_port()
        common = "AuthType=auth/munge\n"
        (f / "etc" / "slurmdbd.conf").write_text(
            common
            + "DbdHost=localhost\n"
            + f"DbdPort={dbd_port}\nSlurmUser=root\nStorageType=accounting_storage/mysql\n"
            + f"StorageHost=127.0.0.1\nStoragePort={port}\nStorageUser=root\nStorageLoc=slurm_acct_db\n"
            + f"PidFile={f / 'slurmdbd.pid'}\nLogFile={f / 'slurmdbd.log'}\n"
        )
        os.chmod(f / "etc" / "slurmdbd.conf", 0o600)
        memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
        self.conf.write_text(
            common
            + f"ClusterName=dnnbench\nSlurmctldHost={self.node}\nSlurmUser=root\nSlurmdUser=root\n"
            + f"SlurmctldPort={ctld_port}\nSlurmdPort={d_port}\n"
            + f"StateSaveLocation={f / 'state'}\nSlurmdSpoolDir={f / 'spool'}\n"
            + f"SlurmctldPidFile={f / 'slurmctld.pid'}\nSlurmdPidFile={f / 'slurmd.pid'}\n"
            + f"SlurmctldLogFile={f / 'slurmctld.log'}\nSlurmdLogFile={f / 'slurmd.log'}\n"
            + "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\nMpiDefault=none\n"
            + "SelectType=select/cons_tres\nSelectTypeParameters=CR_CPU\nJobAcctGatherType=jobacct_gather/none\n"
            + "AccountingStorageType=accounting_storage/slurmdbd\nAccountingStorageHost=localhost\n"
            + f"AccountingStoragePort={dbd_port}\nReturnToService=2\nKillWait=5\nMinJobAge=300\n"
            + f"NodeName={self.node} CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN\n"
            + "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n"
        )
        env = {**os.environ, **self.env}
        os.environ.update(self.env)  # the daemons read it at their start (slurmdbd.conf: next to slurm.conf)
        self._spawn("slurmdbd", ["slurmdbd", "-D"])
        log = f / "slurmdbd.log"
        _wait("slurmdbd", lambda: log.exists() and "started" in log.read_text(), 60, log)
        subprocess.run(["sacctmgr", "-i", "add", "cluster", "dnnbench"], capture_output=True, env=env)
        self._spawn("slurmctld", ["slurmctld", "-D", "-f", str(self.conf)])
        self._spawn("slurmd", ["slurmd", "-D", "-f", str(self.conf)])
        idle = lambda: "idle" in self.run("sinfo", "-h", "-o", "%T", check=False).stdout
        _wait("slurmd (node idle)", idle, 60, f / "slurmd.log")

    def stop_daemon(self, name: str) -> None:
        """Stop one daemon (slurmdbd: a cluster without accounting from then on)."""
        pid = self.pids.pop(name)
        os.kill(pid, signal.SIGTERM)
        _wait(f"{name} to stop", lambda: not _alive(pid), 30)

    def stop(self) -> None:
        """Every job cancelled (its steps end with it), then every daemon, by PID, in the reverse order of their
        start."""
        if "slurmctld" in self.pids and _alive(self.pids["slurmctld"]):
            self.run("scancel", "--full", f"--user={os.getuid()}", check=False)
            end = time.monotonic() + 15
            while self.run("squeue", "-h", check=False).stdout.strip() and time.monotonic() < end:
                time.sleep(0.3)
        for pid in reversed(list(self.pids.values())):
            if not _alive(pid):
                continue
            os.kill(pid, signal.SIGTERM)
            end = time.monotonic() + 10
            while _alive(pid) and time.monotonic() < end:
                time.sleep(0.1)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        self.pids.clear()
        for proc in self.procs:  # reap the daemons started here
            proc.wait(5)
