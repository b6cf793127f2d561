"""Warm log search over a million lines of the demo log store, beside ``grep -c`` over the same lines.

Builds (or reuses) a store of synthetic but varied service logs in a cache folder, exports the same lines to a
text file, then times a fixed query mix through ``DemoLogs``: its first page (median and p95 over repeats),
counting every match (a one-bucket histogram over all lines, as complete as ``grep -c``) and the Logs page's
volume chart (60 slots over the last 24 hours), beside ``grep -c`` over the file (median of a few warm runs).

    .venv/bin/python benchmarks/log_search.py [--lines 1000000] [--repeats 30] [--dir DIR] [--rebuild] [--only ...]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.demo.logs import DemoLogs
from adapters.demo.logstore import LogRow, LogStore
from core_client.clock import FixedClock
from core_client.schemas import LogExpression, LogFilter, LogQuery, QueryScope

WORLD_NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
DAYS = 14
SEED = 20250602
# v2: stores carry the trigram index and the per-minute rollup; v3: the trigram vocabulary too; v4: the list of
# severities; v5: the anchor of the full-text index; v6: the lines as columns.
VERSION = "v6"

# service -> (team, kind)
SERVICES = {
    "web-frontend": ("storefront", "http"),
    "api-gateway": ("platform", "http"),
    "checkout-api": ("payments", "http"),
    "payment-service": ("payments", "payment"),
    "orders-api": ("fulfilment", "http"),
    "orders-worker": ("fulfilment", "worker"),
    "inventory-api": ("fulfilment", "http"),
    "search-api": ("storefront", "http"),
    "user-api": ("identity", "http"),
    "auth-service": ("identity", "auth"),
    "notification-worker": ("platform", "worker"),
    "postgres-main": ("platform", "db"),
    "redis-cache": ("platform", "cache"),
    "kafka-broker": ("platform", "queue"),
}
WEIGHTS = [14, 16, 8, 5, 8, 6, 6, 9, 6, 6, 4, 5, 4, 3]

PATHS = [
    "/api/v1/orders",
    "/api/v1/cart",
    "/api/v1/products",
    "/api/v1/users/me",
    "/healthz",
    "/api/v1/search",
]
TEMPLATES: dict[str, list[tuple[int, str, str]]] = {
    "http": [
        (40, "info", "request completed method=GET path={path} status=200 duration={ms}ms request_id={rid}"),
        (12, "info", "request completed method=POST path={path} status=201 duration={ms}ms request_id={rid}"),
        (10, "debug", "handling request {rid} from {ip} user_agent=Mozilla/5.0"),
        (5, "warn", "slow request path={path} took {slow}ms threshold=500ms"),
        (3, "warn", "retrying upstream call to {dep} attempt={a} after {ms}ms"),
        (2, "error", "request failed path={path} status=503 upstream {dep} unavailable"),
        (1, "error", "upstream connect error: dial tcp {ip}:8080: connect: connection refused"),
        (1, "error", "request timeout after {slow}ms calling {dep}"),
        (4, "info", "health check passed in {ms}ms"),
    ],
    "payment": [
        (30, "info", "payment authorized amount={amount} currency=EUR provider=stripe charge_id=ch_{rid}"),
        (6, "warn", "payment provider latency {slow}ms above SLO for charge ch_{rid}"),
        (4, "info", "refund issued amount={amount} charge_id=ch_{rid}"),
        (2, "error", "payment declined: card_declined code=insufficient_funds charge_id=ch_{rid}"),
        (1, "error", "stripe API error: 502 Bad Gateway (request req_{rid})"),
    ],
    "worker": [
        (30, "info", "processed job {job} id={rid} in {ms}ms"),
        (10, "debug", "polling queue {queue} batch_size={a}"),
        (4, "warn", "job {job} id={rid} retry {a}/5 after error: timeout"),
        (2, "error", "job {job} id={rid} failed permanently: {dep} returned 500"),
        (2, "info", "consumer group rebalanced partitions={a} queue={queue}"),
    ],
    "auth": [
        (30, "info", "token issued for user u{n} scopes=read,write ttl=3600"),
        (8, "info", "login succeeded user=u{n} ip={ip} mfa=true"),
        (3, "warn", "login failed user=u{n} ip={ip} reason=bad_password"),
        (1, "error", "JWKS refresh failed: context deadline exceeded"),
    ],
    "db": [
        (30, "info", "checkpoint complete: wrote {a}{n} buffers ({ms}.{a}%)"),
        (10, "debug", "statement: SELECT * FROM orders WHERE id = {n}"),
        (
            5,
            "warn",
            "duration: {slow}.{a} ms statement: UPDATE inventory SET stock = stock - 1 WHERE sku = 'SKU{n}'",
        ),
        (3, "warn", "connection pool pool-{a} exhausted: waiting clients={a}"),
        (1, "error", "could not serialize access due to concurrent update"),
        (1, "error", "remaining connection slots are reserved for non-replication superuser connections"),
    ],
    "cache": [
        (30, "debug", "GET key=session:{rid} hit"),
        (10, "info", "evicted {a}{n} keys policy=allkeys-lru used_memory={amount}mb"),
        (3, "warn", "client output buffer overcome for client {ip}:{port}"),
        (1, "error", "connect ECONNREFUSED {ip}:6379"),
    ],
    "queue": [
        (30, "info", "partition {queue}-{a} leader=broker-{a} isr=3"),
        (6, "warn", "consumer lag {n}{a} on {queue} above threshold"),
        (2, "error", "request to broker-{a} failed: NOT_LEADER_FOR_PARTITION"),
    ],
}
RARE = [
    "TLS certificate for api.example.com expires in 6 days",
    "kernel: Out of memory: OOMKilled process {n} (java)",
    "segfault at 0000000000000010 ip 00007f3a2c1 sp 00007ffd error 4 in libssl.so.3",
]
DEPS = ["postgres-main", "redis-cache", "payment-service", "inventory-api", "kafka-broker"]
QUEUES = ["orders", "emails", "payments", "search-index"]
JOBS = ["send_email", "reindex_product", "settle_payment", "sync_inventory"]


def generate(lines: int) -> Iterator[LogRow]:
    """``lines`` log lines over ``DAYS`` days ending at ``WORLD_NOW``, ascending in time, deterministic."""
    rng = random.Random(SEED)
    services = list(SERVICES)
    end_ms = int(WORLD_NOW.timestamp() * 1000)
    start_ms = end_ms - DAYS * 86_400_000
    step = (end_ms - start_ms) / lines
    tables = {kind: ([w for w, _, _ in t], [(s, m) for _, s, m in t]) for kind, t in TEMPLATES.items()}
    for i in range(lines):
        service = rng.choices(services, WEIGHTS)[0]
        team, kind = SERVICES[service]
        weights, choices = tables[kind]
        if rng.random() < 0.0001:
            severity, template = "error", rng.choice(RARE)
        else:
            severity, template = rng.choices(choices, weights)[0]
        message = template.format(
            path=rng.choice(PATHS),
            ms=rng.randint(1, 400),
            slow=rng.randint(500, 9000),
            rid=f"{rng.getrandbits(48):012x}",
            ip=f"10.0.{rng.randint(0, 7)}.{rng.randint(2, 250)}",
            dep=rng.choice(DEPS),
            a=rng.randint(1, 9),
            n=rng.randint(1, 99_999),
            amount=f"{rng.randint(1, 900)}.{rng.randint(0, 99):02d}",
            job=rng.choice(JOBS),
            queue=rng.choice(QUEUES),
            port=rng.randint(30_000, 60_000),
        )
        yield LogRow(
            id=f"l{i:08d}",
            ts_ms=start_ms + int(i * step),
            service=service,
            environment="staging" if rng.random() < 0.15 else "prod",
            team=team,
            severity=severity,
            message=message,
            labels={
                "pod": f"{service}-{rng.randint(0, 5)}",
                "region": rng.choice(["eu-west-1", "us-east-1"]),
            },
            fields={"line": i},
        )


@dataclass
class Built:
    db: Path
    text: Path
    # Seconds per 100k lines spent inserting and in finish(); None when the store was reused.
    seconds_per_100k: tuple[float, float] | None


def build(folder: Path, lines: int, *, rebuild: bool) -> Built:
    """The store and its text export in ``folder``; reused when a finished one of the same size is there."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / f"logs-{VERSION}-{lines}.db"
    text = folder / f"logs-{VERSION}-{lines}.log"
    if not rebuild and db.exists() and text.exists() and _finished(db, lines):
        return Built(db, text, None)
    for path in (db, text):
        path.unlink(missing_ok=True)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-262144")
    store = LogStore(conn)
    store.create_schema()
    inserting = 0.0
    batch: list[LogRow] = []
    with text.open("w") as out:
        for row in itertools.chain(generate(lines), [None]):
            if row is not None:
                batch.append(row)
            if len(batch) == 50_000 or (row is None and batch):
                started = time.perf_counter()
                store.insert(batch)
                inserting += time.perf_counter() - started
                _export(out, batch)
                batch = []
    started = time.perf_counter()
    store.finish()
    finishing = time.perf_counter() - started
    conn.close()
    return Built(db, text, (inserting / lines * 100_000, finishing / lines * 100_000))


def _export(out: object, rows: list[LogRow]) -> None:
    write = out.write  # type: ignore[attr-defined]
    for r in rows:
        stamp = datetime.fromtimestamp(r.ts_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        write(f"{stamp}Z {r.environment} {r.service} {r.severity.upper()} {r.message}\n")


def _finished(db: Path, lines: int) -> bool:
    try:
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
        meta = dict(conn.execute("SELECT key, value FROM log_meta").fetchall())
        conn.close()
    except sqlite3.Error:
        return False
    return meta.get("finished") == "1" and meta.get("lines") == str(lines)


@dataclass
class Case:
    name: str
    query: LogQuery
    # grep's options, then the pattern last (passed with -e, so a pattern such as "->" is not read as options).
    grep: list[str]


def cases() -> list[Case]:
    hour = (WORLD_NOW - timedelta(hours=1), WORLD_NOW)
    scope = QueryScope(service="checkout-api")
    out: list[Case] = []
    for label, search, grep in [
        ("common word", "request", ["-F", "request"]),
        ("rare word", "OOMKilled", ["-F", "OOMKilled"]),
        ("phrase", '"connection refused"', ["-F", "connection refused"]),
    ]:
        for variant, scoped, window in [
            ("", False, False),
            (" +service", True, False),
            (" +1h", False, True),
            (" +service +1h", True, True),
        ]:
            out.append(
                Case(
                    f"{label}{variant}",
                    LogQuery(
                        expression=LogExpression(search=search),
                        scope=scope if scoped else QueryScope(),
                        start=hour[0] if window else None,
                        end=hour[1] if window else None,
                    ),
                    grep,
                )
            )
    regex = r"took [5-9][0-9]{3}ms"
    out.append(
        Case(
            "regex on message",
            LogQuery(
                expression=LogExpression(filters=[LogFilter(field="message", operator="regex", value=regex)])
            ),
            ["-E", regex],
        )
    )
    out.append(
        Case(
            "regex +service +1h",
            LogQuery(
                expression=LogExpression(filters=[LogFilter(field="message", operator="regex", value=regex)]),
                scope=scope,
                start=hour[0],
                end=hour[1],
            ),
            ["-E", regex],
        )
    )
    # What the index of words cannot serve: punctuation, a substring inside a word, a regex with a literal.
    for label, flt, grep in [
        (
            "contains (substring)",
            LogFilter(field="message", operator="contains", value="oomkilled"),
            ["-i", "-F", "oomkilled"],
        ),
        (
            "regex with a literal",
            LogFilter(field="message", operator="regex", value=r"OOMKilled process [0-9]+"),
            ["-E", r"OOMKilled process [0-9]+"],
        ),
        (
            "contains 'connect: con'",
            LogFilter(field="message", operator="contains", value="connect: con"),
            ["-i", "-F", "connect: con"],
        ),
    ]:
        out.append(Case(label, LogQuery(expression=LogExpression(filters=[flt])), grep))
    out.append(
        Case("punctuation '->' (2 chars)", LogQuery(expression=LogExpression(search="->")), ["-F", "->"])
    )
    # Common matches the trigram index narrows little or not at all: every line of the window is checked.
    out.append(
        Case(
            "contains 'status=50'",
            LogQuery(
                expression=LogExpression(
                    filters=[LogFilter(field="message", operator="contains", value="status=50")]
                )
            ),
            ["-i", "-F", "status=50"],
        )
    )
    # (Not ':', which every exported line's timestamp holds.)
    out.append(Case("punctuation '=' (1 char)", LogQuery(expression=LogExpression(search="=")), ["-F", "="]))
    # A regex no literal narrows: common, then matching nothing (its first page must scan the whole store).
    for label, regex in [
        ("regex without a literal", r"[0-9]{4}ms"),
        ("rare regex without a literal", r"[0-9]{5}ms"),
    ]:
        flt = LogFilter(field="message", operator="regex", value=regex)
        out.append(Case(label, LogQuery(expression=LogExpression(filters=[flt])), ["-E", regex]))
    return out


def grep_seconds(text: Path, args: list[str], runs: int) -> tuple[float, int]:
    """Median wall time of ``grep -c`` over the export (after one warm-up run) and the count it printed."""
    *options, pattern = args
    command = ["grep", "-c", *options, "-e", pattern, str(text)]
    first = subprocess.run(command, capture_output=True, text=True, check=False)
    # grep exits 1 when nothing matched and 2 on an error, which must not pass for a fast empty search.
    if first.returncode > 1:
        raise SystemExit(f"{' '.join(command)} failed: {first.stderr.strip()}")
    count = int(first.stdout.strip())
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
    return statistics.median(times), count


async def search_seconds(logs: DemoLogs, query: LogQuery, repeats: int) -> tuple[float, float, int]:
    """Median and p95 wall time of the first page (after one warm-up query) and its length."""
    page = await logs.query(query)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        await logs.query(query)
        times.append(time.perf_counter() - started)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))], len(page.items)


async def histogram_seconds(logs: DemoLogs, query: LogQuery, buckets: int, repeats: int) -> tuple[float, int]:
    """Median wall time of ``query``'s histogram in ``buckets`` slots, and the lines it counts."""
    total = (await logs.histogram(query, buckets=buckets)).total
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        await logs.histogram(query, buckets=buckets)
        times.append(time.perf_counter() - started)
    return statistics.median(times), total


def whole_store(query: LogQuery) -> LogQuery:
    """``query`` over every line when it has no window: counting it is as complete as ``grep -c``."""
    return query.model_copy(
        update={"start": query.start or WORLD_NOW - timedelta(days=DAYS), "end": query.end or WORLD_NOW}
    )


def last_day(query: LogQuery) -> LogQuery:
    """``query`` over the last 24 hours, whatever window it has: what the Logs page's volume chart counts."""
    return query.model_copy(update={"start": WORLD_NOW - timedelta(hours=24), "end": WORLD_NOW})


async def run(args: argparse.Namespace) -> None:
    built = build(Path(args.dir), args.lines, rebuild=args.rebuild)
    size_mb = built.text.stat().st_size / 1e6
    print(
        f"store {built.db} ({built.db.stat().st_size / 1e6:.0f} MB), export {built.text} ({size_mb:.0f} MB)"
    )
    if built.seconds_per_100k is not None:
        inserting, finishing = built.seconds_per_100k
        print(
            f"store build: {inserting + finishing:.2f} s per 100k lines"
            f" (insert {inserting:.2f} s + finish {finishing:.2f} s; generating and exporting not counted)"
        )
    else:
        print("build: reused a cached store (pass --rebuild to time the build)")
    logs = DemoLogs(built.db, FixedClock(WORLD_NOW))
    print((await logs.health()).message)
    header = (
        f"{'query':<28}{'page':>6}{'median ms':>11}{'p95 ms':>9}{'count ms':>10}{'count':>9}"
        f"{'grep -c ms':>12}{'grep count':>12}{'grep/search':>13}{'grep/count':>12}{'24h chart ms':>14}{'lines':>8}"
    )
    print(header)
    print("-" * len(header))
    for case in cases():
        if args.only and not any(word in case.name for word in args.only):
            continue
        median, p95, found = await search_seconds(logs, case.query, args.repeats)
        counting, total = await histogram_seconds(logs, whole_store(case.query), 1, max(3, args.repeats // 5))
        grep_median, grep_count = grep_seconds(built.text, case.grep, args.grep_runs)
        charting, charted = await histogram_seconds(logs, last_day(case.query), 60, max(3, args.repeats // 5))
        print(
            f"{case.name:<28}{found:>6}{median * 1000:>11.2f}{p95 * 1000:>9.2f}{counting * 1000:>10.1f}{total:>9}"
            f"{grep_median * 1000:>12.1f}{grep_count:>12}{grep_median / median:>12.1f}x{grep_median / counting:>11.1f}x"
            f"{charting * 1000:>14.1f}{charted:>8}"
        )
    await logs.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--grep-runs", type=int, default=5)
    parser.add_argument(
        "--dir",
        default=os.environ.get("OPSPILOT_BENCH_DIR", str(Path.home() / ".cache" / "opspilot" / "bench")),
    )
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument(
        "--only", nargs="*", default=[], help="run only the cases whose name holds one of these"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
