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
