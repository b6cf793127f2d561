"""Shopwave, the fictional company of the demo world: services and their graph, teams, people, metrics.

This is static catalog data; everything that varies with a seed (telemetry, history, faults) is generated
elsewhere from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache

WORLD_NOW = datetime(2025, 6, 11, 14, 20, tzinfo=UTC)
"""The frozen instant every demo world lives at (a Wednesday afternoon, near the traffic peak)."""

ENVIRONMENTS = ("prod", "staging")
DOMAIN = "shopwave.example"


@dataclass(frozen=True)
class ServiceSpec:
    """One service of the company."""

    name: str
    kind: str  # web, gateway, api, worker, database, cache, queue, external
    team: str
    tier: int
    language: str
    description: str
    dependencies: tuple[str, ...] = ()
    base_rps: float = 50.0
    base_latency_ms: float = 40.0
    memory_mb: float = 512.0
    memory_limit_mb: float = 1024.0

    @property
    def host(self) -> str:
        """The name callers use to reach it; a third party keeps its own domain."""
        if self.kind == "external":
            return "api.payflow.example"
        return f"{self.name}.prod.svc.cluster.local"

    def pod(self, index: int) -> str:
        return _pod_name(self.name, index)


@cache
def _pod_name(name: str, index: int) -> str:
    return f"{name}-{_pod_hash(name)}-{index}"


def _pod_hash(name: str) -> str:
    total = sum(ord(c) * (i + 7) for i, c in enumerate(name))
    return format(total * 2654435761 % 0xFFFFF, "05x")


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        "storefront-web",
        "web",
        "web",
        1,
        "typescript",
        "The public web shop (server-side rendered).",
        ("api-gateway",),
        320.0,
        120.0,
        768,
        1536,
    ),
    ServiceSpec(
        "api-gateway",
        "gateway",
        "platform",
        1,
        "go",
        "Edge gateway: TLS, auth, routing, rate limits.",
        ("checkout-api", "catalog-api", "search-api", "accounts-api"),
        410.0,
        15.0,
        256,
        512,
    ),
    ServiceSpec(
        "checkout-api",
        "api",
        "commerce",
        1,
        "java",
        "Cart checkout: prices, reserves stock, takes payment.",
        ("orders-api", "payments-api", "inventory-api", "session-cache"),
        85.0,
        95.0,
        1400,
        2048,
    ),
    ServiceSpec(
        "catalog-api",
        "api",
        "discovery",
        2,
        "python",
        "Products, prices and availability.",
        ("postgres-main", "session-cache"),
        180.0,
        35.0,
        600,
        1024,
    ),
    ServiceSpec(
        "search-api",
        "api",
        "discovery",
        2,
        "python",
        "Product search and suggestions.",
        ("catalog-api", "session-cache"),
        140.0,
        60.0,
        900,
        1536,
    ),
    ServiceSpec(
        "accounts-api",
        "api",
        "discovery",
        1,
        "go",
        "Customer accounts, sessions and addresses.",
        ("postgres-main", "session-cache"),
        120.0,
        25.0,
        300,
        512,
    ),
    ServiceSpec(
        "orders-api",
        "api",
        "commerce",
        1,
        "java",
        "Order lifecycle and history.",
        ("postgres-main", "order-events"),
        95.0,
        45.0,
        1200,
        2048,
    ),
    ServiceSpec(
        "payments-api",
        "api",
        "payments",
        1,
        "go",
        "Authorizes and captures card payments via Payflow.",
        ("payflow", "postgres-main"),
        60.0,
        180.0,
        350,
        768,
    ),
    ServiceSpec(
        "inventory-api",
        "api",
        "commerce",
        2,
        "kotlin",
        "Stock levels and reservations.",
        ("postgres-main", "session-cache"),
        110.0,
        30.0,
        800,
        1536,
    ),
    ServiceSpec(
        "fulfillment-worker",
        "worker",
        "commerce",
        2,
        "python",
        "Ships paid orders; consumes order events.",
        ("order-events", "orders-api", "inventory-api"),
        25.0,
        220.0,
        450,
        1024,
    ),
    ServiceSpec(
        "notifications-worker",
        "worker",
        "discovery",
        3,
        "python",
        "Order e-mails and push notifications.",
        ("order-events", "accounts-api"),
        30.0,
        140.0,
        400,
        768,
    ),
    ServiceSpec(
        "postgres-main",
        "database",
        "platform",
        1,
        "postgresql",
        "Primary PostgreSQL cluster.",
        (),
        900.0,
        3.0,
        24000,
        32768,
    ),
    ServiceSpec(
        "session-cache",
        "cache",
        "platform",
        1,
        "redis",
        "Redis cluster for sessions and hot keys.",
        (),
        2400.0,
        0.6,
        6000,
        8192,
    ),
    ServiceSpec(
        "order-events",
        "queue",
        "platform",
        2,
        "rabbitmq",
        "RabbitMQ broker for order events.",
        (),
        70.0,
        2.0,
        2000,
        4096,
    ),
    ServiceSpec(
        "payflow",
        "external",
        "payments",
        1,
        "saas",
        "Payflow, the third-party card payment processor.",
        (),
        60.0,
        160.0,
        0,
        0,
    ),
)

SERVICE_BY_NAME: dict[str, ServiceSpec] = {s.name: s for s in SERVICES}


def dependents_of(name: str) -> list[str]:
    """Services that call ``name`` directly, in catalog order."""
    return [s.name for s in SERVICES if name in s.dependencies]


def callers_by_hop(name: str, depth: int) -> list[tuple[str, int]]:
    """Every service that calls ``name`` within ``depth`` hops, with its hop count (nearest first)."""
    seen: dict[str, int] = {}
    frontier = [name]
    for hop in range(1, depth + 1):
        nxt: list[str] = []
        for current in frontier:
            for caller in dependents_of(current):
                if caller not in seen and caller != name:
                    seen[caller] = hop
                    nxt.append(caller)
        frontier = nxt
    return list(seen.items())


@dataclass(frozen=True)
class Person:
    handle: str
    name: str
    role: str

    @property
    def email(self) -> str:
        return f"{self.handle}@{DOMAIN}"


@dataclass(frozen=True)
class TeamSpec:
    id: str
    name: str
    slack: str
    members: tuple[Person, ...]
    parent: str = "engineering"
    handoff_hour: int = 9  # weekly rotation hands over on Mondays at this hour, UTC
    tags: dict[str, str] = field(default_factory=dict)


TEAMS: tuple[TeamSpec, ...] = (
    TeamSpec(
        "web",
        "Web Experience",
        "#team-web",
        (
            Person("amara.okafor", "Amara Okafor", "engineering manager"),
            Person("liam.chen", "Liam Chen", "senior engineer"),
            Person("sofia.rossi", "Sofia Rossi", "engineer"),
            Person("noah.klein", "Noah Klein", "engineer"),
        ),
    ),
    TeamSpec(
        "platform",
        "Platform & Data",
        "#team-platform",
        (
            Person("priya.raman", "Priya Raman", "staff engineer"),
            Person("jonas.berg", "Jonas Berg", "site reliability engineer"),
            Person("mei.tanaka", "Mei Tanaka", "database engineer"),
            Person("diego.alvarez", "Diego Alvarez", "site reliability engineer"),
            Person("hannah.weiss", "Hannah Weiss", "engineering manager"),
        ),
    ),
    TeamSpec(
        "commerce",
        "Commerce",
        "#team-commerce",
        (
            Person("marcus.johnson", "Marcus Johnson", "tech lead"),
            Person("elena.petrova", "Elena Petrova", "senior engineer"),
            Person("kwame.mensah", "Kwame Mensah", "engineer"),
            Person("isabel.moreau", "Isabel Moreau", "engineer"),
        ),
        handoff_hour=10,
    ),
    TeamSpec(
        "payments",
        "Payments",
        "#team-payments",
        (
            Person("rahul.verma", "Rahul Verma", "tech lead"),
            Person("chloe.dubois", "Chloe Dubois", "senior engineer"),
            Person("tomasz.nowak", "Tomasz Nowak", "engineer"),
            Person("aiko.sato", "Aiko Sato", "engineer"),
        ),
    ),
    TeamSpec(
        "discovery",
        "Discovery & Accounts",
        "#team-discovery",
        (
            Person("fatima.zahra", "Fatima Zahra", "engineering manager"),
            Person("oliver.smith", "Oliver Smith", "senior engineer"),
            Person("yuki.ito", "Yuki Ito", "engineer"),
            Person("lucas.silva", "Lucas Silva", "engineer"),
            Person("grace.kim", "Grace Kim", "engineer"),
        ),
    ),
)

TEAM_BY_ID: dict[str, TeamSpec] = {t.id: t for t in TEAMS}
PEOPLE: tuple[Person, ...] = tuple(p for t in TEAMS for p in t.members)


@dataclass(frozen=True)
class MetricSpec:
    """One metric of the catalog, and which kinds of service report it."""

    name: str
    type: str
    unit: str
    description: str
    kinds: tuple[str, ...]
    extra_labels: tuple[str, ...] = ()


_SERVING = ("web", "gateway", "api", "worker", "database", "cache", "queue", "external")
_RUNNING = ("web", "gateway", "api", "worker", "database", "cache", "queue")

METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "request_rate", "gauge", "req/s", "Requests (or jobs, operations) handled per second.", _SERVING
    ),
    MetricSpec(
        "error_rate",
        "gauge",
        "percent",
        "Share of requests that failed (5xx, timeouts, job failures).",
        _SERVING,
    ),
    MetricSpec(
        "latency_ms", "gauge", "ms", "Request latency quantiles over the step.", _SERVING, ("quantile",)
    ),
    MetricSpec("cpu_usage", "gauge", "percent", "CPU used, as a share of the pods' CPU limit.", _RUNNING),
    MetricSpec("memory_used_mb", "gauge", "MiB", "Resident memory per pod (average across pods).", _RUNNING),
    MetricSpec("memory_limit_mb", "gauge", "MiB", "Memory limit per pod.", _RUNNING),
    MetricSpec("restarts", "counter", "count", "Container restarts in the step.", _RUNNING),
    MetricSpec(
        "db_pool_in_use",
        "gauge",
        "connections",
        "Connections of the service's database pool in use.",
        ("api",),
    ),
    MetricSpec(
        "db_pool_size", "gauge", "connections", "Size of the service's database connection pool.", ("api",)
    ),
    MetricSpec(
        "db_connections",
        "gauge",
        "connections",
        "Client connections open on the database server.",
        ("database",),
    ),
    MetricSpec(
        "disk_used_percent", "gauge", "percent", "Used share of the data volume.", ("database", "queue")
    ),
    MetricSpec("queue_depth", "gauge", "messages", "Messages waiting in the queue.", ("queue",), ("queue",)),
    MetricSpec("cache_hit_ratio", "gauge", "percent", "Share of lookups served from the cache.", ("cache",)),
    MetricSpec(
        "cert_days_to_expiry",
        "gauge",
        "days",
        "Days until the serving TLS certificate expires.",
        ("web", "gateway"),
    ),
)

METRIC_BY_NAME: dict[str, MetricSpec] = {m.name: m for m in METRICS}
DB_CLIENTS = tuple(s.name for s in SERVICES if "postgres-main" in s.dependencies)
QUEUES = ("order.created", "order.paid", "order.shipped")
POOL_SIZES = {
    "checkout-api": 60,
    "orders-api": 40,
    "payments-api": 30,
    "inventory-api": 40,
    "catalog-api": 50,
    "accounts-api": 30,
    "search-api": 30,
    "fulfillment-worker": 20,
    "notifications-worker": 20,
}


def metrics_for(service: ServiceSpec) -> list[MetricSpec]:
    """The metrics ``service`` reports."""
    found = [m for m in METRICS if service.kind in m.kinds]
    if service.name not in DB_CLIENTS:
        found = [m for m in found if not m.name.startswith("db_pool")]
    return found


def runbook_markdown(service: ServiceSpec) -> str:
    """The service's runbook: generic first response, then what is specific to its kind."""
    team = TEAM_BY_ID[service.team]
    deps = ", ".join(f"`{d}`" for d in service.dependencies) or "none"
    callers = ", ".join(f"`{d}`" for d in dependents_of(service.name)) or "external users only"
    specific = _KIND_RUNBOOK.get(service.kind, "")
    return (
        f"# {service.name} runbook\n\n"
        f"{service.description}\n\n"
        f"- Owner: {team.name} ({team.slack}); tier {service.tier}; {service.language}\n"
        f"- Calls: {deps}\n- Called by: {callers}\n- Host: `{service.host}`\n\n"
        "## First five minutes\n"
        "1. Check the dashboards: request rate, error rate, p99 latency, CPU and memory, in prod and staging.\n"
        "2. Look for deploys and configuration changes in the last two hours (Deployments page).\n"
        "3. Check the services this one calls: errors here are often theirs.\n"
        "4. Search the logs for new error messages since the alert fired.\n"
        f"5. Page {team.name} on-call if customer impact lasts more than 10 minutes.\n\n"
        f"## Specific to this service\n{specific}\n"
        "## Rollback\n"
        f"`deployctl rollback {service.name} --env prod` restores the previous version in about four minutes.\n"
    )


_KIND_RUNBOOK = {
    "web": "- TLS certificates renew automatically 30 days before expiry; check `cert_days_to_expiry`.\n"
    "- A blank page with 502s usually means the gateway is unhealthy.\n",
    "gateway": "- Rate limits live in the `edge-limits` config map; a change rolls out as a config deployment.\n"
    "- Certificates: `cert_days_to_expiry` must stay above 14.\n",
    "api": "- Database pool: `db_pool_in_use` pinned at `db_pool_size` means callers queue for connections.\n"
    "- Memory that climbs until pods restart points at the heap; take a heap dump before restarting.\n",
    "worker": "- Workers retry failed jobs three times with backoff; watch the queue depth of order-events.\n",
    "database": "- Disk above 90% stops autovacuum from keeping up; above 97% writes fail.\n"
    "- Connection storms: check which clients hold connections (`pg_stat_activity`).\n",
    "cache": "- A falling hit ratio sends load to the database; check evictions and memory.\n",
    "queue": "- A growing queue depth with normal publish rates means consumers are slow or down.\n"
    "- Disk alarms block publishers when the data volume fills.\n",
    "external": "- Payflow's status page: https://status.payflow.example. Open a case with their support for "
    "sustained 5xx.\n- We cannot fix Payflow; fail over to deferred capture if errors persist.\n",
}
