"""A small HTTP service instrumented as request-serving services are (prometheus_client, RED metrics), for the
real-telemetry tests. Run as a process of its own:

    python red_service.py serve --port P [--upstream http://127.0.0.1:Q]   # a service, calling another
    python red_service.py load --target http://127.0.0.1:P --rps 15       # a steady stream of customers

A service answers ``GET /work`` (calling its upstream's ``/work`` first when it has one; an upstream failure
becomes a 502) and exposes ``/metrics``: ``http_requests_total{handler, method, code}`` and the histogram
``http_request_duration_seconds{handler, method}``. ``POST /fault`` with ``{"latency_seconds": 0.4}`` or
``{"error_ratio": 0.5}`` (both 0 to heal) injects a fault into its own handling.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Service:
    def __init__(self, upstream: str | None) -> None:
        self.upstream = upstream
        self.latency = 0.0
        self.errors = 0.0
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests", "Requests served.", ["handler", "method", "code"], registry=self.registry
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time to serve a request.",
            ["handler", "method"],
            buckets=BUCKETS,
            registry=self.registry,
        )

    def work(self) -> int:
        """Serve one request: the upstream's answer first (if any), then our own work."""
        if self.upstream:
            try:
                with urllib.request.urlopen(f"{self.upstream}/work", timeout=5) as answer:
                    answer.read()
            except (urllib.error.URLError, TimeoutError):
                return 502
        time.sleep(0.002 + random.random() * 0.004 + self.latency)
        return 503 if random.random() < self.errors else 200


def handler_for(service: Service) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def _send(self, code: int, body: bytes, content_type: str = "text/plain") -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._send(200, generate_latest(service.registry), CONTENT_TYPE_LATEST)
                return
            if self.path != "/work":
                self._send(404, b"not found")
                return
            started = time.perf_counter()
            code = service.work()
            service.duration.labels("/work", "GET").observe(time.perf_counter() - started)
            service.requests.labels("/work", "GET", str(code)).inc()
            self._send(code, b"ok" if code == 200 else b"failed")

        def do_POST(self) -> None:
            if self.path != "/fault":
                self._send(404, b"not found")
                return
            fault = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            service.latency = float(fault.get("latency_seconds", service.latency))
            service.errors = float(fault.get("error_ratio", service.errors))
            self._send(200, b"ok")

    return Handler


def serve(port: int, upstream: str | None) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), handler_for(Service(upstream)))
    server.daemon_threads = True
    server.serve_forever()


def load(target: str, rps: float) -> None:
    """Customers arriving at ``rps`` per second, each on a thread of its own (a slow answer never slows them)."""

    def customer() -> None:
        try:
            with urllib.request.urlopen(f"{target}/work", timeout=10) as answer:
                answer.read()
        except (urllib.error.URLError, TimeoutError):
            pass

    while True:
        threading.Thread(target=customer, daemon=True).start()
        time.sleep(random.expovariate(rps))


def main() -> None:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    serving = commands.add_parser("serve")
    serving.add_argument("--port", type=int, required=True)
    serving.add_argument("--upstream")
    loading = commands.add_parser("load")
    loading.add_argument("--target", required=True)
    loading.add_argument("--rps", type=float, default=15.0)
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.port, args.upstream)
    else:
        load(args.target, args.rps)


if __name__ == "__main__":
    main()
