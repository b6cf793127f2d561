"""Real telemetry for the real-fault tests: Debian's node_exporter and Prometheus on loopback, two instrumented HTTP
services (a caller and the service it calls) under a steady load, a service catalog for them, and real faults:
CPU saturation (stress-ng, niced, one worker), a leak (a process whose memory grows steadily), a filling disk
(a small tmpfs, never the host's disk), and latency or errors injected into the callee.

Everything listens on free loopback ports and is stopped afterwards; nothing here is tuned to the names the tests
choose (they are parameters).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from tests.adapters.prometheus.servers import Server, _running, free_port, poll, prometheus_server
from tests.conftest import require, require_binary

RED_SERVICE = Path(__file__).with_name("red_service.py")
SCRAPE_SECONDS = 5
# A leak this fast stands out (z over 10) even on a shared machine whose memory moves by gigabytes meanwhile.
LEAK_MB_PER_SECOND = 96
LEAK_CEILING_MB = 7168
DISK_MB = 256
FILL_MB_PER_SECOND = 3


@dataclass
class Process:
    """A process the stack started: stopped (its whole group) when the stack stops."""

    popen: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()


def spawn(command: list[str], log: Path, *, nice: int = 0) -> Process:
    """Start ``command`` in a process group of its own (so a stop reaches its children), output to ``log``."""
    with log.open("ab") as out:
        popen = subprocess.Popen(
            (["nice", "-n", str(nice)] if nice else []) + command,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Process(popen)


@dataclass
class Stack:
    """What runs: Prometheus, the host's node_exporter, the two services, the load, and the small disk."""

    workdir: Path
    prometheus: Server
    host: str
    caller: str
    callee: str
    caller_port: int
    callee_port: int
    disk: Path
    catalog: Path
    processes: list[Process] = field(default_factory=list)

    def inject(self, service_port: int, **fault: float) -> None:
        """Set a fault of one service: ``latency_seconds``, ``error_ratio`` (0 heals it)."""
        httpx.post(f"http://127.0.0.1:{service_port}/fault", json=fault, timeout=5).raise_for_status()

    def query(self, promql: str) -> list[dict[str, object]]:
        return list(self.prometheus.get("/api/v1/query", query=promql)["data"]["result"])


def node_exporter(workdir: Path) -> contextlib.AbstractContextManager[Server]:
    binary = require_binary("prometheus-node-exporter")
    port = free_port()
    return _running(
        [binary, f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        url=f"http://127.0.0.1:{port}",
        ready_path="/metrics",
        log=workdir / "node-exporter.log",
        name="node_exporter",
    )


@contextlib.contextmanager
def small_disk(path: Path) -> Iterator[Path]:
    """A tmpfs of :data:`DISK_MB` mounted at ``path`` (root only): the disk a fault may fill."""
    require(os.geteuid() == 0 and shutil.which("mount") is not None, "mounting a small tmpfs needs root")
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@contextlib.contextmanager
def running_stack(workdir: Path, *, host: str, caller: str, callee: str, environment: str) -> Iterator[Stack]:
    """Everything up, Prometheus scraping it every :data:`SCRAPE_SECONDS`, and the catalog written."""
    require_binary("stress-ng")
    workdir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        disk = stack.enter_context(small_disk(workdir / "disk"))
        node = stack.enter_context(node_exporter(workdir))
        callee_port, caller_port = free_port(), free_port()
        processes = [
            spawn(
                [sys.executable, str(RED_SERVICE), "serve", "--port", str(callee_port)],
                workdir / f"{callee}.log",
            ),
            spawn(
                [
                    sys.executable,
                    str(RED_SERVICE),
                    "serve",
                    "--port",
                    str(caller_port),
                    "--upstream",
                    f"http://127.0.0.1:{callee_port}",
                ],
                workdir / f"{caller}.log",
            ),
        ]
        stack.callback(lambda: [p.stop() for p in reversed(processes)])
        for port in (callee_port, caller_port):
            poll(
                lambda port=port: httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).status_code == 200,
                timeout=20,
                what=f"the service on port {port}",
            )
        processes.append(
            spawn(
                [sys.executable, str(RED_SERVICE), "load", "--target", f"http://127.0.0.1:{caller_port}"],
                workdir / "load.log",
            )
        )
        node_port = int(node.url.rsplit(":", 1)[1])
        labels = {"env": environment}
        prometheus = stack.enter_context(
            prometheus_server(
                workdir / "prometheus",
                {host: (node_port, labels), caller: (caller_port, labels), callee: (callee_port, labels)},
                scrape_seconds=SCRAPE_SECONDS,
            )
        )
        catalog = workdir / "services.yaml"
        catalog.write_text(
            yaml.safe_dump(
                {
                    "services": [
                        {"name": caller, "dependencies": [callee], "tier": 1, "description": "the web shop"},
                        {"name": callee, "tier": 1, "description": "the accounts and balances service"},
                        {
                            "name": host,
                            "tags": {"kind": "host"},
                            "description": "the machine the shop runs on",
                        },
                    ]
                }
            )
        )
        poll(
            lambda: len(prometheus.get("/api/v1/query", query="up == 1")["data"]["result"]) == 3,
            timeout=30,
            what="Prometheus to scrape the host and both services",
        )
        yield Stack(
            workdir=workdir,
            prometheus=prometheus,
            host=host,
            caller=caller,
            callee=callee,
            caller_port=caller_port,
            callee_port=callee_port,
            disk=disk,
            catalog=catalog,
            processes=processes,
        )


@contextlib.contextmanager
def cpu_saturation(workdir: Path) -> Iterator[None]:
    """One stress-ng CPU worker at the lowest priority (the machine has two cores and other work to do)."""
    process = spawn(
        [require_binary("stress-ng"), "--cpu", "1", "--timeout", "600s"], workdir / "stress.log", nice=19
    )
    try:
        yield
    finally:
        process.stop()


LEAKER = f"""
import time
held = []
while len(held) * 8 < {LEAK_CEILING_MB}:
    started = time.monotonic()
    for _ in range({LEAK_MB_PER_SECOND} // 8):
        block = bytearray(8 * 1024 * 1024)
        block[::4096] = b"x" * len(block[::4096])  # touch every page, so the memory is really used
        held.append(block)
    time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
time.sleep(3600)
"""


@contextlib.contextmanager
def memory_leak(workdir: Path) -> Iterator[None]:
    """A process whose memory grows steadily by :data:`LEAK_MB_PER_SECOND` (up to a ceiling), as a leak does."""
    process = spawn([sys.executable, "-c", LEAKER], workdir / "leak.log")
    try:
        yield
    finally:
        process.stop()


@contextlib.contextmanager
def disk_filling(disk: Path) -> Iterator[None]:
    """Write :data:`FILL_MB_PER_SECOND` into the small disk until it is stopped (or the disk is full)."""
    stop = threading.Event()

    def fill() -> None:
        chunk = os.urandom(1024 * 1024)
        with (disk / "spool.bin").open("wb") as out:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    for _ in range(FILL_MB_PER_SECOND):
                        out.write(chunk)
                    out.flush()
                except OSError:
                    return  # full: the fault has done its work
                stop.wait(max(0.0, 1.0 - (time.monotonic() - started)))

    writer = threading.Thread(target=fill, daemon=True)
    writer.start()
    try:
        yield
    finally:
        stop.set()
        writer.join(timeout=10)
        (disk / "spool.bin").unlink(missing_ok=True)


def settings_env(stack: Stack) -> dict[str, str]:
    """The environment an operator sets: metrics from Prometheus, the catalog from a file, the rest the demo."""
    return {
        "OPSORCH_METRIC_PROVIDER": "prometheus",
        # Two cores shared with the faults (and, in CI, other suites): a slow answer is not a dead source.
        "OPSORCH_METRIC_TIMEOUT": "30",
        "OPSORCH_METRIC_CONFIG": json.dumps(
            {
                "url": stack.prometheus.url,
                "scope_labels": {"service": "job", "environment": "env", "team": None},
            }
        ),
        "OPSORCH_SERVICE_PROVIDER": "files",
        "OPSORCH_SERVICE_CONFIG": json.dumps({"catalog": str(stack.catalog)}),
    }


# Another process is said to have disturbed a phase when, meanwhile, it took this much more memory, CPU or disk
# space than before the phase (the test's own processes, the faults included, are not counted), or left less than
# a core idle (the CPU fault is one worker: on a machine already that busy, the host's series cannot show it).
DISTURBING_MIB = 256
DISTURBING_CORES = 0.5
LEAST_IDLE_CORES = 1.0
SAMPLE_SECONDS = 1.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_CORES = os.cpu_count() or 1


@dataclass(frozen=True)
class Sample:
    """The rest of the machine at one moment: what every process but this test's holds and uses."""

    at: float  # time.monotonic()
    memory_mib: float  # anonymous memory of the other processes
    disk_mib: float  # space used on the root filesystem (the test writes its faults to a tmpfs of its own)
    cores: float | None  # CPU the other processes used since the previous sample


@dataclass(frozen=True)
class Disturbance:
    """How much more memory, disk space and CPU the machine's other processes took during a phase than before
    it, and how much CPU they left idle."""

    memory_mib: float
    disk_mib: float
    cores: float
    idle_cores: float

    @property
    def disturbed(self) -> bool:
        return (
            max(self.memory_mib, self.disk_mib) >= DISTURBING_MIB
            or self.cores >= DISTURBING_CORES
            or self.idle_cores < LEAST_IDLE_CORES
        )

    def __str__(self) -> str:
        return (
            f"other processes took {self.memory_mib:+.0f} MiB of memory, {self.disk_mib:+.0f} MiB of disk and "
            f"{self.cores:+.2f} cores meanwhile, leaving {self.idle_cores:.2f} of {_CORES} cores idle"
        )


class Bystanders:
    """What the machine's other processes (everything but this test and what it started) do while it runs,
    sampled from /proc every second: the host's series a fault is read from (node_exporter reads the same /proc)
    move with them too, so a phase they disturbed can be told apart from a wrong answer."""

    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Bystanders:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def during(self, start: float, end: float, *, before_seconds: float = 30.0) -> Disturbance:
        """How much more the others took between ``start`` and ``end`` (monotonic) than in the seconds before."""
        before = [s for s in self.samples if start - before_seconds <= s.at < start]
        meanwhile = [s for s in self.samples if start <= s.at <= end]
        if not before or not meanwhile:
            return Disturbance(0.0, 0.0, 0.0, float(_CORES))
        return Disturbance(
            memory_mib=max(s.memory_mib for s in meanwhile) - statistics.median(s.memory_mib for s in before),
            disk_mib=max(s.disk_mib for s in meanwhile) - statistics.median(s.disk_mib for s in before),
            cores=_mean_cores(meanwhile) - _mean_cores(before),
            idle_cores=max(0.0, _CORES - _mean_cores(meanwhile)),
        )

    def _run(self) -> None:
        previous: tuple[float, float, dict[int, float]] | None = None
        while not self._stop.is_set():
            at, busy, ours = time.monotonic(), _busy_ticks(), _our_processes()
            others_memory = _anonymous_mib() - sum(memory for memory, _ in ours.values())
            root = os.statvfs("/")
            disk = (root.f_blocks - root.f_bavail) * root.f_frsize / 1024**2
            ticks = {pid: used for pid, (_, used) in ours.items()}
            cores = None
            if previous is not None:
                then, busy_then, ticks_then = previous
                ours_used = sum(ticks[pid] - ticks_then[pid] for pid in ticks.keys() & ticks_then.keys())
                cores = max(0.0, busy - busy_then - ours_used) / _CLOCK_TICKS / (at - then)
            self.samples.append(Sample(at, others_memory, disk, cores))
            previous = (at, busy, ticks)
            self._stop.wait(SAMPLE_SECONDS)


def _mean_cores(samples: list[Sample]) -> float:
    found = [s.cores for s in samples if s.cores is not None]
    return statistics.fmean(found) if found else 0.0


def _anonymous_mib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("AnonPages:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _busy_ticks() -> float:
    """CPU ticks the whole machine spent busy (user, nice, system, interrupts, steal) since boot."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    return float(user + nice + system + irq + softirq + steal)


def _our_processes() -> dict[int, tuple[float, float]]:
    """This test's process and every descendant: anonymous memory (MiB) and CPU ticks used, by pid."""
    parents: dict[int, int] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            # The fields after the command name, which may itself hold spaces and parentheses.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            parents[int(entry.name)], stats[int(entry.name)] = int(fields[1]), fields
    ours = {os.getpid()}
    grew = True
    while grew:
        found = {pid for pid, parent in parents.items() if parent in ours} - ours
        ours |= found
        grew = bool(found)
    taken: dict[int, tuple[float, float]] = {}
    for pid in ours & stats.keys():
        with contextlib.suppress(OSError):
            status = Path(f"/proc/{pid}/status").read_text()
            anonymous = next(
                (int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("RssAnon:")),
                0.0,
            )
            taken[pid] = (anonymous, float(int(stats[pid][11]) + int(stats[pid][12])))
    return taken
