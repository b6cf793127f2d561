"""Log line templates: what each kind of service says at each level on a normal day, and how placeholders fill.

Placeholders in braces (``{path}``, ``{ms}``, ``{trace}``...) take a fresh plausible value on every line, so a
template shows up as one pattern with varying parameters, like real logs.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from adapters.demo.company import ServiceSpec

_PATHS = {
    "web": ["/", "/products/{sku}", "/cart", "/checkout", "/account/orders", "/search?q={term}"],
    "gateway": ["/api/v1/products/{sku}", "/api/v1/cart", "/api/v1/checkout", "/api/v1/search", "/api/v1/me"],
    "api": ["/v1/{resource}/{id}", "/v1/{resource}", "/v1/{resource}/{id}/items", "/healthz"],
    "worker": ["order.created", "order.paid", "order.shipped"],
}
_RESOURCES = {
    "checkout-api": ["checkouts", "quotes"],
    "catalog-api": ["products", "prices"],
    "search-api": ["search", "suggest"],
    "accounts-api": ["accounts", "sessions", "addresses"],
    "orders-api": ["orders", "returns"],
    "payments-api": ["payments", "refunds"],
    "inventory-api": ["stock", "reservations"],
}
_TERMS = ["boots", "rain+jacket", "usb-c+cable", "espresso", "yoga+mat", "desk+lamp", "kids+shoes"]
_EXCEPTIONS = [
    'NullPointerException: Cannot invoke "Money.currency()" because "price" is null',
    "KeyError: 'currency'",
    "IllegalStateException: cart line without sku",
    "TypeError: cannot read properties of undefined (reading 'amount')",
]
_HANDLERS = [
    "CheckoutController.submit",
    "OrderService.place",
    "PriceFormatter.format",
    "QuoteHandler.create",
]
_METHODS = ["GET", "GET", "GET", "POST", "PUT"]
_TABLES = ["orders", "order_lines", "customers", "stock_levels", "payments", "sessions"]


_MAKERS: dict[str, Callable[[random.Random, ServiceSpec], str]] = {
    "sku": lambda rng, service: f"SKU-{rng.randint(10000, 99999)}",
    "term": lambda rng, service: rng.choice(_TERMS),
    "id": lambda rng, service: str(rng.randint(100000, 999999)),
    "resource": lambda rng, service: rng.choice(_RESOURCES.get(service.name, ["items"])),
    "path": lambda rng, service: _path(service, rng),
    "method": lambda rng, service: rng.choice(_METHODS),
    "ms": lambda rng, service: str(int(rng.lognormvariate(3.4, 0.6))),
    "slow_ms": lambda rng, service: str(rng.randint(1800, 9000)),
    "timeout_ms": lambda rng, service: rng.choice(["2000", "3000", "5000"]),
    "trace": lambda rng, service: f"{rng.getrandbits(48):012x}",
    "n": lambda rng, service: str(rng.randint(3, 180)),
    "attempt": lambda rng, service: str(rng.randint(1, 3)),
    "threads": lambda rng, service: rng.choice(["64", "128", "200"]),
    "pct": lambda rng, service: str(rng.randint(72, 98)),
    "heap_mb": lambda rng, service: str(int(service.memory_limit_mb * rng.uniform(0.86, 0.99))),
    "limit_mb": lambda rng, service: str(int(service.memory_limit_mb)),
    "pod": lambda rng, service: service.pod(rng.randrange(3)),
    "host": lambda rng, service: service.host,
    "ip": lambda rng, service: f"10.{rng.randint(0, 40)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
    "port": lambda rng, service: str(rng.randint(30000, 65000)),
    "user": lambda rng, service: f"u{rng.randint(100000, 999999)}",
    "order": lambda rng, service: f"O-{rng.randint(1000000, 9999999)}",
    "exception": lambda rng, service: rng.choice(_EXCEPTIONS),
    "handler": lambda rng, service: rng.choice(_HANDLERS),
    "field": lambda rng, service: rng.choice(["currency", "tax_lines", "shipping_eta"]),
    "flag": lambda rng, service: rng.choice(
        ["checkout.new_tax_engine", "search.ranker", "edge.rate_limit_profile"]
    ),
    "variant": lambda rng, service: rng.choice(["v3-strict", "treatment-b", "aggressive"]),
    "config_map": lambda rng, service: f"{service.name}-config",
    "revision": lambda rng, service: str(rng.randint(40, 90)),
    "relfile": lambda rng, service: str(rng.randint(16000, 99999)),
    "table": lambda rng, service: str(rng.randint(1, 12)),
    "dep_path": lambda rng, service: rng.choice(["charges", "payment_intents", "refunds"]),
    "key": lambda rng, service: f"sess:{rng.getrandbits(40):010x}",
    "query_table": lambda rng, service: rng.choice(_TABLES),
    "rows": lambda rng, service: str(rng.randint(1, 500)),
    "bytes": lambda rng, service: str(rng.randint(300, 90000)),
    "status": lambda rng, service: rng.choice(["200", "200", "200", "200", "201", "204", "304", "404"]),
    "locale": lambda rng, service: rng.choice(["de-DE", "fr-FR", "pt-BR", "ja-JP"]),
    "client": lambda rng, service: rng.choice(["ios-4.12.0", "android-4.11.2", "partner-feed"]),
    "device": lambda rng, service: f"d-{rng.getrandbits(32):08x}",
    "queue": lambda rng, service: rng.choice(["order.created", "order.paid", "order.shipped"]),
    "conn": lambda rng, service: str(rng.randint(1, 240)),
    "lsn": lambda rng, service: f"{rng.randint(1, 9)}/{rng.getrandbits(28):07X}",
}


def _fill(name: str, rng: random.Random, service: ServiceSpec) -> str:
    maker = _MAKERS.get(name)
    return maker(rng, service) if maker else "-"


def _path(service: ServiceSpec, rng: random.Random) -> str:
    template = rng.choice(_PATHS.get(service.kind, _PATHS["api"]))
    return render(template, {}, rng, service)


class _Values(dict[str, str]):
    def __init__(self, context: dict[str, str], rng: random.Random, service: ServiceSpec) -> None:
        super().__init__(context)
        self._rng = rng
        self._service = service

    def __missing__(self, key: str) -> str:
        return _fill(key, self._rng, self._service)


def render(template: str, context: dict[str, str], rng: random.Random, service: ServiceSpec) -> str:
    """``template`` with every placeholder filled: from ``context`` first, else with a fresh plausible value."""
    return template.format_map(_Values(context, rng, service))


# (severity, weight, template) per kind of service. Weights give roughly 12% debug, 72% info, 11% warn,
# 5% error and a rare fatal.
_COMMON = [
    ("debug", 6, "cache lookup key={key} hit=true ttl=300s"),
    ("debug", 3, "span exported trace={trace} spans={n}"),
    ("info", 2, "config watch: no changes in {config_map}"),
    ("warn", 1, "GC pause {ms}ms (young generation)"),
]
_BY_KIND: dict[str, list[tuple[str, int, str]]] = {
    "web": [
        ("info", 40, "{method} {path} {status} {ms}ms bytes={bytes}"),
        ("info", 6, "rendered page {path} in {ms}ms (ssr)"),
        ("warn", 4, "slow render of {path}: {slow_ms}ms"),
        ("error", 2, "client error reported: ChunkLoadError loading chunk {n}"),
        ("warn", 3, "api-gateway responded 404 for {path}"),
    ],
    "gateway": [
        ("info", 50, "{method} {path} {status} {ms}ms upstream_ms={ms} client={ip}"),
        ("warn", 4, "rate limit soft threshold reached for client {ip} ({n} req/s)"),
        ("info", 3, "jwt validated for {user} (kid=2025-05)"),
        ("error", 2, "upstream reset before headers for {path} (retrying)"),
    ],
    "api": [
        ("info", 40, "{method} {path} {status} {ms}ms"),
        ("debug", 8, "SELECT on {query_table} returned {rows} rows in {ms}ms"),
        ("info", 4, "order {order} updated by {user}"),
        ("warn", 4, "slow query on {query_table}: {slow_ms}ms"),
        ("warn", 2, "retrying idempotent call after connection reset (attempt {attempt}/3)"),
        ("error", 2, "request {trace} failed validation: missing field '{field}'"),
        ("error", 1, "{method} {path} 500 {ms}ms: unexpected EOF from client"),
    ],
    "worker": [
        ("info", 30, "processed {queue} message for {order} in {ms}ms"),
        ("debug", 6, "prefetch window {n} messages on {queue}"),
        ("warn", 3, "message for {order} redelivered (attempt {attempt}/3)"),
        ("error", 2, "job for {order} failed; moved to retry queue: carrier API 429"),
    ],
    "database": [
        ("info", 20, "checkpoint complete: wrote {n} buffers; distance={bytes} kB"),
        ("info", 10, "connection authorized: user=app database=shop application_name={conn}"),
        ("warn", 3, "duration: {slow_ms} ms  statement: SELECT * FROM {query_table} WHERE id = ${n}"),
        ("info", 6, 'automatic vacuum of table "shop.public.{query_table}": index scans: 1'),
        ("error", 1, "canceling statement due to statement timeout"),
    ],
    "cache": [
        ("info", 20, "DB saved on disk; {n} changes in 60 seconds"),
        ("info", 10, "Accepted {ip}:{port}"),
        ("warn", 2, "client {ip}:{port} output buffer near soft limit"),
    ],
    "queue": [
        ("info", 20, "accepting AMQP connection {ip}:{port} -> 10.0.4.12:5672"),
        ("info", 10, "queue '{queue}' in vhost '/': {n} messages ready"),
        ("warn", 2, "closing AMQP connection {ip}:{port}: client unexpectedly closed TCP connection"),
    ],
}
_FATALS = {
    "api": "panic recovered in handler goroutine: runtime error: index out of range [{n}] with length {attempt}",
    "worker": "worker process exited unexpectedly (signal 11); supervisor restarting",
    "web": "uncaughtException: ECONNRESET in keep-alive agent; process exiting",
}
_TABLE_CACHE: dict[str, tuple[list[tuple[str, str]], list[int]]] = {}


def _table(kind: str) -> tuple[list[tuple[str, str]], list[int]]:
    if kind not in _TABLE_CACHE:
        entries = _BY_KIND.get(kind, _BY_KIND["api"]) + _COMMON
        cumulative: list[int] = []
        total = 0
        for _, weight, _ in entries:
            total += weight
            cumulative.append(total)
        _TABLE_CACHE[kind] = ([(sev, text) for sev, _, text in entries], cumulative)
    return _TABLE_CACHE[kind]


def background_line(
    service: ServiceSpec, environment: str, rng: random.Random
) -> tuple[str, str, dict[str, object]]:
    """One ordinary line from ``service``: (severity, message, fields)."""
    if rng.random() < 0.00015:
        template = _FATALS.get(service.kind, "fatal: unrecoverable error in main loop; exiting")
        return "fatal", render(template, {}, rng, service), {"logger": "main"}
    entries, cumulative = _table(service.kind)
    choice = rng.choices(entries, cum_weights=cumulative)[0]
    severity, template = choice
    return severity, render(template, {}, rng, service), {"logger": _logger(service)}


def symptom_line(
    service: ServiceSpec, template: str, context: dict[str, str], rng: random.Random
) -> tuple[str, dict[str, object]]:
    """One line of an injected symptom, in ``service``'s voice."""
    return render(template, context, rng, service), {"logger": _logger(service)}


def _logger(service: ServiceSpec) -> str:
    return {
        "java": "com.shopwave.http",
        "kotlin": "com.shopwave.http",
        "go": "http",
        "python": "app.http",
        "typescript": "server",
        "postgresql": "postgres",
        "redis": "redis",
        "rabbitmq": "rabbit",
    }.get(service.language, "app")
