"""Real Prometheus and Alertmanager servers (Debian's packages) on free loopback ports, for the adapter tests.

Each server gets a temporary data folder and configuration, is awaited with a bounded poll, and is stopped after.
The packaged services that may listen on 9090/9093 are never used.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml
from prometheus_client import CollectorRegistry, start_http_server

from core_client.capabilities import Capability
from core_client.client import CoreClient
from core_client.settings import load_settings
from tests.conftest import require_binary

T = TypeVar("T")
STARTUP_TIMEOUT_S = 20.0


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def poll(check: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.1) -> T:
    """``check()``'s first truthy result, polled until ``timeout`` seconds; then fail saying what never came."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except httpx.HTTPError:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def alertmanager_binary() -> str:
    """Debian names the binary ``prometheus-alertmanager``; upstream names it ``alertmanager``."""
    return require_binary(
        "prometheus-alertmanager" if shutil.which("prometheus-alertmanager") else "alertmanager"
    )


@dataclass
class Server:
    """A running server: its base URL and its process."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(f"{self.url}{path}", params=params, timeout=5)
        response.raise_for_status()
        return response.json()


@contextmanager
def _running(command: list[str], *, url: str, ready_path: str, log: Path, name: str) -> Iterator[Server]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    server = Server(url=url, process=process, log=log)
    try:

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"{name} exited with {process.returncode}: {log.read_text()[-2000:]}")
            return httpx.get(f"{url}{ready_path}", timeout=1).status_code == 200

        poll(ready, timeout=STARTUP_TIMEOUT_S, what=f"{name} to be ready at {url}")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def prometheus_server(
    workdir: Path, jobs: dict[str, tuple[int, dict[str, str]]], *, scrape_seconds: int = 1
) -> Iterator[Server]:
    """Prometheus scraping each job's exporter port every ``scrape_seconds``, with its static target labels."""
    binary = require_binary("prometheus")
    interval = f"{scrape_seconds}s"
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": [
            {
                "job_name": job,
                "scrape_interval": interval,
                "static_configs": [{"targets": [f"127.0.0.1:{port}"], "labels": labels}],
            }
            for job, (port, labels) in jobs.items()
        ],
    }
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    command = [
        binary,
        f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    with _running(
        command, url=f"http://127.0.0.1:{port}", ready_path="/-/ready", log=workdir / "log", name="prometheus"
    ) as server:
        yield server


@contextmanager
def alertmanager_server(workdir: Path) -> Iterator[Server]:
    """Alertmanager with a single receiver that sends nothing, and clustering off."""
    binary = alertmanager_binary()
    config = {
        "route": {"receiver": "blackhole", "group_wait": "1s", "group_interval": "1s"},
        "receivers": [{"name": "blackhole"}],
    }
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "alertmanager.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    command = [
        binary,
        f"--config.file={workdir / 'alertmanager.yml'}",
        f"--storage.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        "--log.level=warn",
    ]
    with _running(
        command,
        url=f"http://127.0.0.1:{port}",
        ready_path="/-/ready",
        log=workdir / "log",
        name="alertmanager",
    ) as server:
        yield server


@dataclass
class Exporter:
    """A prometheus_client registry served over HTTP in a thread; the test sets its metrics' values."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    port: int = 0
    _stop: Callable[[], None] | None = None

    def start(self) -> Exporter:
        httpd, thread = start_http_server(0, addr="127.0.0.1", registry=self.registry)
        self.port = int(httpd.server_port)

        def stop() -> None:
            httpd.shutdown()
            httpd.server_close()
            thread.join(timeout=5)

        self._stop = stop
        return self

    def stop(self) -> None:
        if self._stop:
            self._stop()


class ReadOnlyGate:
    """A mutation gate for read-only tests: any mutation is a test failure."""

    async def run(self, tool: str, arguments: Any, **_: Any) -> Any:
        raise AssertionError(f"unexpected mutation {tool}")


def core_client(capability: Capability) -> CoreClient:
    """A CoreClient from the environment's settings, loading only the provider under test.

    The other capabilities would default to the demo world, which these tests neither need nor should wait for.
    """
    settings = load_settings()
    settings.providers = {capability: settings.providers[capability]}
    return CoreClient.from_settings(settings, gate=ReadOnlyGate())  # type: ignore[arg-type]
