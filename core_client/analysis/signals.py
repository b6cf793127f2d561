"""What a metric measures: the signal vocabulary every investigation reads, and how a metric is recognized.

A series is read as one *signal* (what it is about: traffic, errors, latency, CPU, memory, disk...), seen from
one *facet* (the RED and USE dimensions: rate, errors, duration for request-serving services; utilization,
saturation, errors for resources; headroom for what is left, capacity for a limit), with the direction that is
*worse* (free bytes falling, errors rising) and a unit. Planners map these to fault kinds; they never read metric
names.

Recognition goes from the most specific to the most general: the families of well-known exporters
(node_exporter, cAdvisor, kube-state-metrics, blackbox, postgres and redis exporters, the client libraries'
``process_*`` and ``go_*``, the ``http_server_*``/``http_requests_*`` families and OpenTelemetry semantic
conventions as Prometheus exports them), then words a name is made of (``disk_used_percent``, ``db_pool_in_use``),
and every other metric is still a signal: ``other``, compared as it is (or as a rate, for a counter).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Literal, cast

Worse = Literal["up", "down", "both"]


class Signal(StrEnum):
    """What a series is about."""

    TRAFFIC = "traffic"  # work arriving: requests, jobs, commands per second
    ERRORS = "errors"  # work failing: failures per second, or the failed share of all work
    LATENCY = "latency"  # how long work takes: a quantile or a mean, in seconds
    CPU = "cpu"  # processors: busy time, run queue and pressure, throttling
    MEMORY = "memory"  # memory: in use, available, pressure, OOM kills
    DISK = "disk"  # filesystem space and inodes
    DISK_IO = "disk_io"  # block devices: busy time, queued I/O, I/O pressure
    NETWORK = "network"  # interfaces and sockets: throughput, drops, errors
    FILE_DESCRIPTORS = "file_descriptors"  # open files against their limit
    POOL = "pool"  # connection pools and client connections
    QUEUE = "queue"  # backlogs: queue depth, consumer or replication lag
    RESTARTS = "restarts"  # processes and containers restarting
    CERTIFICATE = "certificate"  # time left before a certificate expires
    AVAILABILITY = "availability"  # up, probe success, ready replicas
    OTHER = "other"  # anything else: still compared against its baseline


class Facet(StrEnum):
    """Which side of a signal a series shows: the RED and USE dimensions, plus what is left and the limit."""

    RATE = "rate"  # RED: how much work
    ERRORS = "errors"  # RED and USE: failures
    DURATION = "duration"  # RED: how long it takes
    UTILIZATION = "utilization"  # USE: how busy, how full
    SATURATION = "saturation"  # USE: work waiting (load, pressure, queued I/O, throttling)
    HEADROOM = "headroom"  # what is left (free bytes, idle CPU, days to expiry): worse when it falls
    CAPACITY = "capacity"  # a size or a limit: context for the others, rarely a symptom itself
    LEVEL = "level"  # an amount whose meaning is not known


# The facets whose departure in the worse direction is trouble (a level or a capacity may move for any reason).
ADVERSE_FACETS = frozenset(
    facet.value
    for facet in (
        Facet.RATE,
        Facet.ERRORS,
        Facet.DURATION,
        Facet.UTILIZATION,
        Facet.SATURATION,
        Facet.HEADROOM,
    )
)


class Kind(StrEnum):
    """How a metric's values behave, which decides how they are compared."""

    COUNTER = "counter"  # only grows (resets on restart): compared as a per-second rate
    GAUGE = "gauge"  # goes up and down: compared as it is
    HISTOGRAM = "histogram"  # buckets of observations: compared as quantiles, its count as a rate
    SUMMARY = "summary"  # precomputed quantiles plus sum and count
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class SignalSpec:
    """How to read one metric (or one of its series): signal, facet, the worse direction and the unit."""

    signal: Signal
    facet: Facet
    worse: Worse
    unit: str = ""

    def refined(self, **changes: object) -> SignalSpec:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Family:
    """A metric family: the name its series share, its kind, and the names it is exported under."""

    name: str
    kind: Kind
    names: tuple[str, ...]

    def member(self, suffix: str) -> str | None:
        """The exported name with ``suffix`` (``_bucket``, ``_count``...), when the family has it."""
        wanted = self.name + suffix
        return wanted if wanted in self.names else None


# Suffixes under which one family's series are exported, and what each says about the family's kind.
HISTOGRAM_SUFFIXES = ("_bucket",)
AGGREGATE_SUFFIXES = ("_count", "_sum")
COUNTER_SUFFIXES = ("_total",)
IGNORED_SUFFIXES = ("_created", "_info", "_gcount", "_gsum")
UNIT_SUFFIXES = {
    "seconds": "seconds",
    "milliseconds": "ms",
    "ms": "ms",
    "bytes": "bytes",
    "ratio": "ratio",
    "percent": "percent",
    "celsius": "celsius",
    "mb": "MiB",
}
# A status label and the values that mean the work failed.
STATUS_LABELS = (
    "code",
    "status",
    "status_code",
    "http_status",
    "http_status_code",
    "http_response_status_code",
    "response_code",
    "grpc_code",
    "rpc_grpc_status_code",
    "outcome",
    "result",
)
_FAILED_STATUS = re.compile(
    r"^(5\d\d|5xx|server_error|error|errors|failed|failure|fail|exception|"
    r"unknown|internal|unavailable|deadline_exceeded|dataloss|unimplemented|2|4|12|13|14|15)$",
    re.I,
)
# Quantiles read from histograms: the median and the tail.
QUANTILES = (0.5, 0.99)


def kind_of(name: str, declared: str = "") -> Kind:
    """A metric's kind: what its source declares (Prometheus metadata, a descriptor), else what its name says."""
    text = declared.lower()
    if text in ("counter", "gauge", "histogram", "summary"):
        return Kind(text)
    if text == "gaugehistogram":
        return Kind.HISTOGRAM
    if name.endswith(HISTOGRAM_SUFFIXES):
        return Kind.HISTOGRAM
    if name.endswith(COUNTER_SUFFIXES):
        return Kind.COUNTER
    if name.endswith(AGGREGATE_SUFFIXES):
        return Kind.COUNTER
    return Kind.GAUGE


def family_name(name: str) -> str:
    """The family a series name belongs to: ``x_bucket``, ``x_sum``, ``x_count``, ``x_total`` all give ``x``."""
    for suffix in (*HISTOGRAM_SUFFIXES, *AGGREGATE_SUFFIXES, *COUNTER_SUFFIXES, *IGNORED_SUFFIXES):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def unit_of(name: str, declared: str = "") -> str:
    """The unit a source declares, else the one a name ends with (``_seconds``, ``_bytes``, ``_ms``...)."""
    if declared:
        return declared
    base = family_name(name).lower()
    return next((unit for suffix, unit in UNIT_SUFFIXES.items() if base.endswith(f"_{suffix}")), "")


def failed_status(value: str) -> bool:
    """Whether a status label's value means the work failed (5xx, ``error``, gRPC's server-side codes)."""
    return bool(_FAILED_STATUS.match(value.strip()))


def status_label(labels: set[str] | list[str] | tuple[str, ...]) -> str | None:
    """The label of ``labels`` that carries a request's outcome, if any."""
    return next((label for label in STATUS_LABELS if label in labels), None)


# --- recognition -----------------------------------------------------------------------------------------------

_S = SignalSpec


def _rules(table: str, *, anchored: bool) -> tuple[tuple[re.Pattern[str], SignalSpec], ...]:
    """Recognition rules from a table, one a line: signal, facet, worse direction, unit (``-`` for none) and the
    regex (a whole family name when ``anchored``, else words found in it); ``#`` lines are comments."""
    rules = []
    for line in table.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        signal, facet, worse, unit, pattern = line.split()
        spec = SignalSpec(Signal(signal), Facet(facet), cast(Worse, worse), "" if unit == "-" else unit)
        rules.append((re.compile(f"^(?:{pattern})$" if anchored else pattern), spec))
    return tuple(rules)


# Families of well-known exporters, by exact family name (after the suffix is stripped) or by regex.
_KNOWN = _rules(
    """
# node_exporter: USE for the host.
cpu              utilization up   cores          node_cpu_seconds
cpu              level       both cores          node_cpu_guest_seconds
cpu              saturation  up   tasks          node_load1
# The 5 and 15 minute load averages lag the 1 minute one by design: still "up" long after a fault has gone.
cpu              level       both tasks          node_load(5|15)
cpu              saturation  up   tasks          node_procs_running
disk_io          saturation  up   tasks          node_procs_blocked
cpu              saturation  up   ratio          node_pressure_cpu_waiting_seconds
memory           saturation  up   ratio          node_pressure_memory_(waiting|stalled)_seconds
disk_io          saturation  up   ratio          node_pressure_io_(waiting|stalled)_seconds
memory           headroom    down bytes          node_memory_MemAvailable_bytes
# MemFree falls whenever the page cache grows (MemAvailable is what is left), and shared memory and kernel
# slabs grow with tmpfs files and caches: levels, not symptoms.
memory           headroom    down bytes          node_memory_SwapFree_bytes
memory           capacity    both bytes          node_memory_(MemTotal|SwapTotal|CommitLimit)_bytes
memory           utilization up   bytes          node_memory_(Active_anon|AnonPages|Inactive_anon)_bytes
memory           level       both bytes          node_memory_.*_bytes
memory           errors      up   kills          node_vmstat_oom_kill
memory           saturation  up   faults         node_vmstat_pgmajfault
disk             headroom    down bytes          node_filesystem_(avail|free)_bytes
disk             headroom    down inodes         node_filesystem_files_free
disk             capacity    both -              node_filesystem_(size_bytes|files)
disk             errors      up   -              node_filesystem_(readonly|device_error)
disk_io          utilization up   ratio          node_disk_io_time_seconds
disk_io          saturation  up   -              node_disk_io_time_weighted_seconds
disk_io          saturation  up   requests       node_disk_io_now
disk_io          level       both -              node_disk_.*
network          errors      up   -              node_network_(receive|transmit)_(errs|drop|fifo|frame|carrier|colls)
network          utilization both bytes/s        node_network_(receive|transmit)_bytes
availability     utilization down -              node_network_up
network          level       both -              node_network_.*
network          errors      up   -              node_netstat_Tcp_(RetransSegs|InErrs)
network          saturation  up   -              node_netstat_TcpExt_(ListenDrops|ListenOverflows)
network          level       both -              node_(sockstat|netstat)_.*
file_descriptors utilization up   files          node_filefd_allocated
file_descriptors capacity    both files          node_filefd_maximum
cpu              level       both -              node_(context_switches|intr|forks)
other            capacity    both -              node_timex_.*|node_time_.*|node_boot_time_seconds
# The standard process and runtime metrics of the client libraries: USE for the instrumented process.
cpu              utilization up   cores          process_cpu_seconds|process_cpu_time_seconds
memory           utilization up   bytes          process_resident_memory_bytes
memory           level       both bytes          process_virtual_memory_(max_)?bytes
file_descriptors utilization up   files          process_open_fds
file_descriptors capacity    both files          process_max_fds
restarts         errors      up   seconds        process_start_time_seconds
memory           utilization up   bytes          go_memstats_(heap_inuse|heap_alloc|alloc)_bytes
# The Go runtime's garbage collector pauses: the instrumented process's internals, not requests served.
memory           level       both seconds        go_gc_duration_seconds
cpu              saturation  up   -              go_goroutines
# The OS threads a Go runtime keeps: one more when a blocking call parks a thread, not a sign of a busy CPU.
cpu              level       both -              go_threads
memory           utilization up   bytes          jvm_memory_(used|bytes_used)(_bytes)?
memory           saturation  up   seconds        jvm_gc_(pause|collection)_seconds
# cAdvisor and kube-state-metrics: USE for containers, restarts and availability for workloads.
cpu              utilization up   cores          container_cpu_usage_seconds
cpu              saturation  up   -              container_cpu_cfs_throttled_(periods|seconds)
memory           utilization up   bytes          container_memory_(working_set|rss|usage)_bytes
memory           errors      up   -              container_memory_failures|container_oom_events
memory           capacity    both bytes          container_spec_memory_limit_bytes
disk             utilization up   bytes          container_fs_usage_bytes
network          errors      up   -              container_network_.*_errors|container_network_.*_dropped
network          utilization both bytes/s        container_network_.*_bytes
restarts         errors      up   -              kube_pod_container_status_restarts
restarts         errors      up   -              kube_pod_container_status_(last_)?terminated_reason
restarts         errors      up   -              kube_pod_container_status_waiting_reason
availability     errors      up   -              kube_deployment_status_replicas_unavailable
availability     utilization down -              kube_(deployment|statefulset)_status_replicas_(available|ready)
availability     utilization down -              kube_pod_status_ready
availability     errors      both -              kube_node_status_condition
other            capacity    both -              kube_.*_(limits|requests|capacity|allocatable).*
# blackbox_exporter: availability and latency seen from outside.
availability     utilization down -              probe_success
latency          duration    up   seconds        probe_(http_)?duration_seconds
errors           level       both -              probe_http_status_code
certificate      headroom    down seconds        probe_ssl_earliest_cert_expiry
certificate      headroom    down seconds        probe_ssl_last_chain_expiry_timestamp_seconds
# postgres_exporter and redis_exporter.
availability     utilization down -              pg_up|redis_up|mysql_up|mongodb_up
pool             utilization up   connections    pg_stat_database_numbackends|pg_stat_activity_count
pool             capacity    both connections    pg_settings_max_connections
errors           errors      up   -              pg_stat_database_(deadlocks|conflicts|xact_rollback)
traffic          rate        both transactions/s pg_stat_database_xact_commit
pool             saturation  up   locks          pg_locks_count
disk             utilization up   bytes          pg_database_size_bytes
queue            saturation  up   seconds        pg_replication_lag(_seconds)?|pg_stat_replication_.*lag.*
pool             utilization up   connections    redis_connected_clients
pool             saturation  up   connections    redis_blocked_clients
pool             errors      up   -              redis_rejected_connections
memory           utilization up   bytes          redis_memory_used_bytes
memory           capacity    both bytes          redis_memory_max_bytes
memory           saturation  up   -              redis_evicted_keys
traffic          rate        both commands/s     redis_commands_processed
# OpenTelemetry semantic conventions, as Prometheus exports them.
cpu              utilization up   ratio          system_cpu_utilization(_ratio)?
cpu              saturation  up   -              system_cpu_load_average_1m(_ratio)?
memory           utilization up   -              system_memory_(usage|utilization)(_bytes|_ratio)?
disk             utilization up   -              system_filesystem_(usage|utilization)(_bytes|_ratio)?
network          errors      up   -              system_network_errors|system_network_dropped
traffic          saturation  up   requests       (http|rpc)_server_active_requests
pool             utilization up   connections    db_client_connections?_(usage|count)
pool             capacity    both connections    db_client_connections?_(max|idle_max)
pool             saturation  up   -              db_client_connections?_(pending_requests|wait_time.*|timeouts)
""",
    anchored=True,
)

# Words a metric name is made of, most specific first (``db_pool_in_use`` is a pool, not a "use").
_CAPACITY_WORDS = re.compile(r"(^|_)(limit|max|maximum|size|capacity|total_bytes|quota)(_|$)")
_HEADROOM_WORDS = re.compile(r"(^|_)(free|avail|available|remaining|left|idle|to_expiry|until_expiry)(_|$)")
_WORDS = _rules(
    """
certificate      headroom    down -              cert|tls|ssl|x509
availability     utilization down -              (^|_)(up|alive|healthy|health|ready|probe_success)(_|$)
pool             utilization up   -              pool|connections?(_|$)|conns(_|$)|(^|_)clients?(_|$)
disk             utilization up   -              disk|volume|filesystem|inode|(^|_)fs_|storage
restarts         errors      up   -              restart|oom|crash
memory           utilization up   -              memory|heap|(^|_)rss(_|$)|(^|_)mem(_|$)
cpu              utilization up   -              cpu|(^|_)load(_|$)|throttl
file_descriptors utilization up   -              (^|_)fds?(_|$)|file_descriptors|open_files
queue            saturation  up   -              queue|backlog|(^|_)lag(_|$)|pending|waiting|inflight
queue            saturation  up   -              in_flight
errors           errors      up   -              error|errors|5xx|fail|exception|panic|rejected|timeouts?(_|$)
latency          duration    up   -              latency|duration|response_time|elapsed|(^|_)rtt(_|$)
network          utilization both -              network|(^|_)net_|(^|_)(rx|tx)(_|$)|receive|transmit
traffic          rate        both -              request|requests|(^|_)rps(_|$)|throughput|traffic
traffic          rate        both -              (^|_)calls(_|$)|(^|_)ops(_|$)|handled|served
other            utilization down -              hit_ratio|hit_rate|hits_ratio
""",
    anchored=False,
)
_OTHER = _S(Signal.OTHER, Facet.LEVEL, "both")
# Families that describe the monitoring itself or never change: not signals of any service.
_NOT_SIGNALS = re.compile(
    r"^(scrape_|promhttp_|prometheus_|net_conntrack_|node_scrape_collector_|node_textfile_|"
    r"node_exporter_|go_info|python_info|.*_build_info$|.*_info$|.*_created$)"
)


def is_signal(name: str) -> bool:
    """Whether a metric can say anything about a service (the monitoring's own metrics and info series cannot)."""
    return _NOT_SIGNALS.match(name) is None


def recognize(name: str, kind: Kind = Kind.GAUGE, unit: str = "") -> SignalSpec:
    """The signal a metric (or a family, by its name) stands for, with its facet, worse direction and unit."""
    family = family_name(name)
    for pattern, spec in _KNOWN:
        if pattern.match(family) or pattern.match(name):
            return spec if spec.unit else spec.refined(unit=unit_of(name, unit))
    lowered = family.lower()
    for pattern, spec in _WORDS:
        if pattern.search(lowered):
            return _worded(spec, lowered, kind, unit_of(name, unit))
    if kind is Kind.HISTOGRAM and unit_of(name, unit) in ("seconds", "ms"):
        return _S(Signal.LATENCY, Facet.DURATION, "up", unit_of(name, unit))
    return _OTHER.refined(unit=unit_of(name, unit))


def _worded(spec: SignalSpec, name: str, kind: Kind, unit: str) -> SignalSpec:
    """A spec found by a word of the name, refined by the rest of it: a limit, what is left, a rate of errors."""
    if spec.signal in (Signal.CERTIFICATE, Signal.AVAILABILITY, Signal.TRAFFIC, Signal.ERRORS):
        return spec.refined(unit=unit)
    if _CAPACITY_WORDS.search(name):
        return spec.refined(facet=Facet.CAPACITY, worse="both", unit=unit)
    if _HEADROOM_WORDS.search(name):
        return spec.refined(facet=Facet.HEADROOM, worse="down", unit=unit)
    if re.search(r"error|fail|reject|timeouts?(_|$)", name):
        return spec.refined(facet=Facet.ERRORS, worse="up", unit=unit)
    return spec.refined(unit=unit)


def for_series(spec: SignalSpec, labels: dict[str, str]) -> SignalSpec:
    """``spec`` refined by a series' labels: idle CPU is headroom, iowait is the disks' saturation, steal is the
    CPU's; a ``state`` of free or idle is headroom."""
    mode = labels.get("mode", "")
    if spec.signal is Signal.CPU and mode:
        if mode == "idle":
            return spec.refined(facet=Facet.HEADROOM, worse="down")
        if mode == "iowait":
            return spec.refined(signal=Signal.DISK_IO, facet=Facet.SATURATION, worse="up")
        if mode == "steal":
            return spec.refined(facet=Facet.SATURATION, worse="up")
    state = labels.get("state", "").lower()
    if state in ("free", "idle", "available", "inactive") and spec.facet is Facet.UTILIZATION:
        return spec.refined(facet=Facet.HEADROOM, worse="down")
    return spec


def signal_of_name(name: str) -> Signal:
    """The signal a bare metric name stands for (no descriptor at hand): ``error_rate`` -> errors."""
    return recognize(name, kind_of(name)).signal
