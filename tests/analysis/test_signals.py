"""The signal vocabulary: what a metric measures, recognized from well-known exporters and from the words of a name."""

from __future__ import annotations

import pytest

from core_client.analysis.selection import families, plan
from core_client.analysis.signals import (
    Facet,
    Kind,
    Signal,
    family_name,
    for_series,
    is_signal,
    kind_of,
    recognize,
    unit_of,
)
from core_client.schemas import MetricDescriptor


@pytest.mark.parametrize(
    ("name", "declared", "kind"),
    [
        ("node_cpu_seconds_total", "", Kind.COUNTER),
        ("node_cpu_seconds_total", "counter", Kind.COUNTER),
        ("http_request_duration_seconds_bucket", "", Kind.HISTOGRAM),
        ("http_request_duration_seconds_count", "", Kind.COUNTER),
        ("rpc_latency", "summary", Kind.SUMMARY),
        ("node_load1", "gauge", Kind.GAUGE),
        ("node_load1", "untyped", Kind.GAUGE),
        ("jobs_processed_total", "unknown", Kind.COUNTER),
    ],
)
def test_the_kind_comes_from_the_source_else_from_the_name(name: str, declared: str, kind: Kind) -> None:
    assert kind_of(name, declared) is kind


def test_families_and_units_come_from_the_suffixes() -> None:
    assert family_name("http_request_duration_seconds_bucket") == "http_request_duration_seconds"
    assert family_name("node_network_receive_bytes_total") == "node_network_receive_bytes"
    assert unit_of("http_request_duration_seconds_sum") == "seconds"
    assert unit_of("latency_ms") == "ms"
    assert unit_of("queue_depth", "messages") == "messages"


@pytest.mark.parametrize(
    ("name", "kind", "signal", "facet", "worse"),
    [
        # node_exporter: USE of a host.
        ("node_cpu_seconds_total", Kind.COUNTER, Signal.CPU, Facet.UTILIZATION, "up"),
        ("node_load1", Kind.GAUGE, Signal.CPU, Facet.SATURATION, "up"),
        # The longer load averages lag the 1 minute one: still up long after a fault is gone.
        ("node_load15", Kind.GAUGE, Signal.CPU, Facet.LEVEL, "both"),
        ("node_pressure_cpu_waiting_seconds_total", Kind.COUNTER, Signal.CPU, Facet.SATURATION, "up"),
        # A Go runtime's OS threads: one more when a call blocks, not a busy CPU.
        ("go_threads", Kind.GAUGE, Signal.CPU, Facet.LEVEL, "both"),
        ("node_memory_MemAvailable_bytes", Kind.GAUGE, Signal.MEMORY, Facet.HEADROOM, "down"),
        ("node_memory_Active_anon_bytes", Kind.GAUGE, Signal.MEMORY, Facet.UTILIZATION, "up"),
        ("node_filesystem_avail_bytes", Kind.GAUGE, Signal.DISK, Facet.HEADROOM, "down"),
        ("node_filesystem_size_bytes", Kind.GAUGE, Signal.DISK, Facet.CAPACITY, "both"),
        ("node_network_receive_errs_total", Kind.COUNTER, Signal.NETWORK, Facet.ERRORS, "up"),
        ("node_filefd_allocated", Kind.GAUGE, Signal.FILE_DESCRIPTORS, Facet.UTILIZATION, "up"),
        # Free memory falls as the page cache grows, tmpfs files are shared memory: levels, not symptoms.
        ("node_memory_MemFree_bytes", Kind.GAUGE, Signal.MEMORY, Facet.LEVEL, "both"),
        ("node_memory_Shmem_bytes", Kind.GAUGE, Signal.MEMORY, Facet.LEVEL, "both"),
        # The Go runtime's GC pauses are the exporter's internals, not requests' latency.
        ("go_gc_duration_seconds", Kind.SUMMARY, Signal.MEMORY, Facet.LEVEL, "both"),
        # Client libraries, cAdvisor, kube-state-metrics, blackbox, database exporters.
        ("process_resident_memory_bytes", Kind.GAUGE, Signal.MEMORY, Facet.UTILIZATION, "up"),
        ("container_cpu_cfs_throttled_periods_total", Kind.COUNTER, Signal.CPU, Facet.SATURATION, "up"),
        ("kube_pod_container_status_restarts_total", Kind.COUNTER, Signal.RESTARTS, Facet.ERRORS, "up"),
        ("probe_success", Kind.GAUGE, Signal.AVAILABILITY, Facet.UTILIZATION, "down"),
        ("pg_stat_database_numbackends", Kind.GAUGE, Signal.POOL, Facet.UTILIZATION, "up"),
        ("redis_memory_used_bytes", Kind.GAUGE, Signal.MEMORY, Facet.UTILIZATION, "up"),
        # OpenTelemetry semantic conventions as Prometheus exports them.
        ("http_server_request_duration_seconds", Kind.HISTOGRAM, Signal.LATENCY, Facet.DURATION, "up"),
        ("db_client_connections_usage", Kind.GAUGE, Signal.POOL, Facet.UTILIZATION, "up"),
        # Words of names nobody listed.
        ("disk_used_percent", Kind.GAUGE, Signal.DISK, Facet.UTILIZATION, "up"),
        ("db_pool_in_use", Kind.GAUGE, Signal.POOL, Facet.UTILIZATION, "up"),
        ("db_pool_size", Kind.GAUGE, Signal.POOL, Facet.CAPACITY, "both"),
        ("memory_limit_mb", Kind.GAUGE, Signal.MEMORY, Facet.CAPACITY, "both"),
        ("cert_days_to_expiry", Kind.GAUGE, Signal.CERTIFICATE, Facet.HEADROOM, "down"),
        ("error_rate", Kind.GAUGE, Signal.ERRORS, Facet.ERRORS, "up"),
        ("latency_ms", Kind.GAUGE, Signal.LATENCY, Facet.DURATION, "up"),
        ("queue_depth", Kind.GAUGE, Signal.QUEUE, Facet.SATURATION, "up"),
        ("payments_settled_widgets", Kind.GAUGE, Signal.OTHER, Facet.LEVEL, "both"),
    ],
)
def test_recognized_signals(name: str, kind: Kind, signal: Signal, facet: Facet, worse: str) -> None:
    spec = recognize(name, kind)
    assert (spec.signal, spec.facet, spec.worse) == (signal, facet, worse)


def test_labels_refine_a_series_reading() -> None:
    cpu = recognize("node_cpu_seconds_total", Kind.COUNTER)
    assert for_series(cpu, {"mode": "idle"}).facet is Facet.HEADROOM
    assert for_series(cpu, {"mode": "iowait"}).signal is Signal.DISK_IO
    assert for_series(cpu, {"mode": "nice"}) == cpu


def test_the_monitoring_itself_is_not_a_signal() -> None:
    assert not is_signal("scrape_duration_seconds")
    assert not is_signal("node_exporter_build_info")
    assert not is_signal("prometheus_tsdb_head_series")
    assert is_signal("up") and is_signal("node_load1")


def _descriptor(name: str, kind: str = "", labels: tuple[str, ...] = ()) -> MetricDescriptor:
    return MetricDescriptor(name=name, type=kind, labels=list(labels))


def test_a_histogram_family_is_one_family() -> None:
    found = families(
        [
            _descriptor("http_request_duration_seconds_bucket", "histogram", ("le", "code")),
            _descriptor("http_request_duration_seconds_count", "histogram", ("code",)),
            _descriptor("http_request_duration_seconds_sum", "histogram", ("code",)),
        ]
    )
    assert [(f.name, f.kind) for f, _ in found] == [("http_request_duration_seconds", Kind.HISTOGRAM)]


def test_the_plan_reads_red_for_requests_and_use_for_resources() -> None:
    plans = {
        p.expression: p
        for p in plan(
            [
                _descriptor("http_request_duration_seconds_bucket", "histogram", ("le", "code", "job")),
                _descriptor("http_request_duration_seconds_count", "histogram", ("code", "job")),
                _descriptor("http_request_duration_seconds_sum", "histogram", ("code", "job")),
                _descriptor("http_requests_total", "counter", ("code", "job")),
                _descriptor("node_cpu_seconds_total", "counter", ("cpu", "mode", "job")),
                _descriptor("node_memory_MemAvailable_bytes", "gauge", ("job",)),
                _descriptor("widgets_made_total", "counter", ("job",)),
                _descriptor("scrape_samples_scraped", "gauge", ("job",)),
            ]
        )
    }
    assert set(plans) == {
        "p50(http_request_duration_seconds)",
        "p99(http_request_duration_seconds)",
        "sum(rate(http_request_duration_seconds_count))",
        "error_ratio(http_request_duration_seconds_count)",
        "sum(rate(http_requests_total))",
        "error_ratio(http_requests_total)",
        "sum by (job, mode) (rate(node_cpu_seconds_total))",
        "node_memory_MemAvailable_bytes",
        "rate(widgets_made_total)",
    }
    assert plans["p99(http_request_duration_seconds)"].spec.signal is Signal.LATENCY
    assert plans["error_ratio(http_requests_total)"].spec.signal is Signal.ERRORS
    assert plans["sum(rate(http_requests_total))"].spec.signal is Signal.TRAFFIC
    assert plans["rate(widgets_made_total)"].spec.signal is Signal.OTHER
    # What a service's callers feel is read first, unknown metrics last.
    ordered = [p.spec.signal for p in plan([_descriptor("widgets"), _descriptor("http_requests_total")])]
    assert set(ordered[:2]) == {Signal.TRAFFIC, Signal.ERRORS} and ordered[2:] == [Signal.OTHER]


def test_a_counter_without_a_status_label_has_no_error_ratio() -> None:
    expressions = {p.expression for p in plan([_descriptor("http_requests_total", "counter", ("path",))])}
    assert expressions == {"sum(rate(http_requests_total))"}


def test_a_known_summary_of_durations_keeps_its_own_signal() -> None:
    # The Go runtime's GC pauses, as node_exporter exports them: a summary in seconds, but no requests served.
    plans = {
        p.expression: p
        for p in plan(
            [
                _descriptor("go_gc_duration_seconds", "summary", ("quantile", "job")),
                _descriptor("go_gc_duration_seconds_count", "summary", ("job",)),
                _descriptor("go_gc_duration_seconds_sum", "summary", ("job",)),
                _descriptor("rpc_duration_seconds", "summary", ("quantile", "job")),
                _descriptor("rpc_duration_seconds_count", "summary", ("job",)),
            ]
        )
    }
    assert set(plans) == {
        "go_gc_duration_seconds",
        "rpc_duration_seconds",
        "sum(rate(rpc_duration_seconds_count))",
    }
    assert (plans["go_gc_duration_seconds"].spec.signal, plans["go_gc_duration_seconds"].spec.facet) == (
        Signal.MEMORY,
        Facet.LEVEL,
    )
    assert plans["rpc_duration_seconds"].spec.signal is Signal.LATENCY


def test_a_family_is_read_by_what_its_members_are() -> None:
    found = families(
        [
            # prometheus_client: a counter and its creation time (a gauge of timestamps).
            _descriptor("http_requests_created", "gauge", ("code",)),
            _descriptor("http_requests_total", "counter", ("code",)),
            # The Go runtime: a gauge and a counter that share a family name.
            _descriptor("go_memstats_alloc_bytes", "gauge"),
            _descriptor("go_memstats_alloc_bytes_total", "counter"),
        ]
    )
    assert sorted((f.name, f.kind, f.names) for f, _ in found) == [
        ("go_memstats_alloc_bytes", Kind.COUNTER, ("go_memstats_alloc_bytes_total",)),
        ("go_memstats_alloc_bytes", Kind.GAUGE, ("go_memstats_alloc_bytes",)),
        ("http_requests", Kind.COUNTER, ("http_requests_total",)),
    ]
