"""The fault kind of a root, from its departures as the metric scan read them (real exporters' series), and which
services may be a root at all: never a mere caller of trouble on record, never one picked from a tie."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from copilot.planners.offline.diagnosis import diagnose, diagnose_candidates
from copilot.planners.offline.graph import ServiceGraph
from copilot.planners.offline.ranking import rank, read_signal
from copilot.planners.offline.readings import Failure, Findings, Signal
from copilot.planners.offline.report import logs_of
from core_client.clock import SourceClock
from core_client.schemas import Deployment, MetricBaseline
from core_client.schemas.analysis import LogPattern, MetricAnomaly, MetricAnomalyReport, PatternComparison

ONSET = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)


def _anomaly(
    name: str,
    signal: str,
    facet: str,
    worse: str,
    direction: str,
    z: float,
    *,
    ongoing: bool = True,
    at: int = 0,
) -> MetricAnomaly:
    onset = ONSET + timedelta(minutes=at)
    return MetricAnomaly(
        signal=signal,
        facet=facet,
        worse=worse,
        name=name,
        service="edge-host",
        direction=direction,
        onset=onset,
        peak_at=onset + timedelta(minutes=1),
        peak_value=2.0,
        expected_at_peak=1.0,
        peak_z=z,
        anomalous_points=10,
        ongoing=ongoing,
        baseline=MetricBaseline(
            median=1.0, scale=0.1, reference_start=onset - timedelta(hours=1), reference_end=onset, points=60
        ),
    )


CPU_BUSY = _anomaly("sum by (mode) (rate(node_cpu_seconds_total))", "cpu", "utilization", "up", "up", 40.0)
# node_exporter's block-device reads and the kernel's committed memory: levels the scan does not call trouble,
# though their names say "disk" and "memory".
DISK_READS = _anomaly("rate(node_disk_reads_merged_total)", "disk_io", "level", "both", "up", 60.0)
COMMITTED = _anomaly("node_memory_Committed_AS_bytes", "memory", "level", "both", "up", 50.0)
MEMORY_LEFT = _anomaly(
    "node_memory_MemAvailable_bytes", "memory", "headroom", "down", "down", -12.0
).model_copy(
    update={"peak_value": 0.3}  # down to a third of its normal: running out
)


def test_a_resource_is_the_mechanism_only_when_the_scan_read_it_going_the_worse_way() -> None:
    assert diagnose(Findings(), "edge-host", ONSET, [DISK_READS, COMMITTED, CPU_BUSY]).fault_kind == (
        "cpu_saturation"
    )
    leak = diagnose(Findings(), "edge-host", ONSET, [DISK_READS, CPU_BUSY, MEMORY_LEFT])
    assert (leak.fault_kind, leak.anomalies) == ("memory_leak", [MEMORY_LEFT])


def test_memory_in_use_is_a_leak_only_when_it_grew_by_a_material_share() -> None:
    # 803 MiB against 795 MiB: a steady series' tight baseline gives it a huge z-score, but it is another process's
    # noise beside a CPU that is busy; twice its normal is a leak.
    mib = 1024 * 1024
    noise = _anomaly("node_memory_Inactive_anon_bytes", "memory", "utilization", "up", "up", 5000.0)
    noise = noise.model_copy(update={"peak_value": 803 * mib, "expected_at_peak": 795 * mib})
    assert diagnose(Findings(), "edge-host", ONSET, [noise, CPU_BUSY]).fault_kind == "cpu_saturation"
    grown = noise.model_copy(update={"peak_value": 1600 * mib})
    assert diagnose(Findings(), "edge-host", ONSET, [grown, CPU_BUSY]).fault_kind == "memory_leak"


def test_what_a_service_still_does_decides_between_slow_and_failing() -> None:
    # Slow earlier in the window (healed), failing now: a failing service, not a slow one.
    slow_before = _anomaly("p99(http_request_duration_seconds)", "latency", "duration", "up", "up", 900.0)
    slow_before = slow_before.model_copy(update={"ongoing": False, "service": "ledger"})
    failing = _anomaly("error_ratio(http_requests_total)", "errors", "errors", "up", "up", 300.0, at=3)
    failing = failing.model_copy(update={"service": "ledger"})
    assert diagnose(Findings(), "ledger", ONSET, [slow_before, failing]).fault_kind == "dependency_outage"
    slow_now = slow_before.model_copy(update={"ongoing": True})
    assert diagnose(Findings(), "ledger", ONSET, [slow_now, failing]).fault_kind == "latency_injection"


def test_a_counter_that_cannot_be_one_is_no_symptom_on_its_level() -> None:
    # OpsOrch's mock "counts" restarts with a compounding series: read as a gauge, it names no mechanism.
    restarts = _anomaly("container_restarts_total", "restarts", "level", "both", "up", 1e40).model_copy(
        update={"semantics": "as reported, a gauge (not a counter: its values reach 1.7e41)"}
    )
    assert diagnose(Findings(), "edge-host", ONSET, [restarts, CPU_BUSY]).fault_kind == "cpu_saturation"
    assert read_signal(restarts) is Signal.OTHER


def test_failing_a_known_share_of_its_work_is_failing_however_slow() -> None:
    # Slowed down by a busy machine while 60% of its requests fail: a failing service, not a slow one.
    slow = _anomaly("p99(http_request_duration_seconds)", "latency", "duration", "up", "up", 900.0)
    failing = _anomaly("error_ratio(http_requests_total)", "errors", "errors", "up", "up", 300.0)
    failing = failing.model_copy(update={"unit": "ratio", "peak_value": 0.6, "expected_at_peak": 0.0})
    assert diagnose(Findings(), "edge-host", ONSET, [slow, failing]).fault_kind == "dependency_outage"


# A small company: the storefront calls checkout and search; checkout calls payments and the ledger.
GRAPH = ServiceGraph.from_rows(
    [
        {"id": "storefront", "name": "Storefront", "dependencies": ["checkout", "search"]},
        {"id": "checkout", "name": "Checkout", "dependencies": ["payments", "ledger"]},
        {"id": "search", "name": "Search"},
        {"id": "payments", "name": "Payments"},
        {"id": "ledger", "name": "Ledger"},
    ]
)


def _failing(service: str, *, at: int = 0, z: float = 80.0, signal: str = "errors") -> MetricAnomaly:
    facet = {"errors": "errors", "traffic": "throughput"}[signal]
    return _anomaly(f"{signal}_ratio", signal, facet, "up", "up", z, at=at).model_copy(
        update={"service": service}
    )


def _findings(*anomalies: MetricAnomaly, deployments: tuple[Deployment, ...] = ()) -> Findings:
    report = MetricAnomalyReport(
        detect_start=ONSET - timedelta(hours=2),
        detect_end=ONSET + timedelta(hours=1),
        threshold=10.0,
        series_checked=20,
        anomalies=list(anomalies),
    )
    return Findings(graph=GRAPH, anomalies=report, deployments=list(deployments))


def test_a_caller_is_never_the_root_of_trouble_on_record_for_what_it_calls() -> None:
    # An incident is open for payments; only checkout, which calls it, departs from its baseline.
    findings = _findings(_failing("checkout"))
    assert rank(findings, ["payments"], [], troubled=["payments"]).root is None
    assert rank(findings, ["payments"], [], troubled=["payments"]).refused == ["checkout"]
    # Nothing on record for payments (the question merely named it): checkout's own trouble is the answer.
    assert rank(findings, ["payments"], []).root == "checkout"
    # A dependency of the service on record, or the service itself, may be the root.
    assert rank(_findings(_failing("ledger")), ["checkout"], [], troubled=["checkout"]).root == "ledger"
    assert rank(_findings(_failing("checkout")), ["checkout"], [], troubled=["checkout"]).root == "checkout"
    # A root that a service on record depends on is no mere caller, even though it calls another one on record
    # (checkout's release fails the storefront, and the payments alert fires later).
    early = [_failing("checkout"), _failing("storefront", at=1), _failing("payments", at=20)]
    assert rank(_findings(*early), ["storefront"], [], troubled=["storefront", "payments"]).root == "checkout"


def test_a_caller_whose_traffic_surged_may_be_the_root_of_what_it_calls() -> None:
    # The storefront's traffic triples a few minutes before checkout begins failing under it.
    surge = _failing("storefront", at=-5, signal="traffic")
    ranking = rank(_findings(surge, _failing("checkout")), ["checkout"], [], troubled=["checkout"])
    assert ranking.root == "storefront"


def test_roots_the_evidence_cannot_separate_are_tied_and_a_named_cause_separates_them() -> None:
    # payments and the ledger both fail within two minutes, as strongly, and checkout calls both.
    both = [_failing("payments"), _failing("ledger", at=2, z=60.0), _failing("checkout", at=2)]
    ranking = rank(_findings(*both), ["checkout"], [])
    assert {ranking.root, *ranking.tied} == {"payments", "ledger"}
    # Far apart in time, or one failing much more strongly, they are not tied: the first or the strongest explains.
    assert rank(_findings(both[0], _failing("ledger", at=9), both[2]), ["checkout"], []).tied == []
    assert rank(_findings(both[0], _failing("ledger", at=2, z=20.0), both[2]), ["checkout"], []).tied == []
    # A release of the ledger just before its errors names a cause; nothing says why payments fails.
    release = Deployment(
        id="dep-1", service="ledger", version="2.0.1", started_at=ONSET - timedelta(minutes=4)
    )
    findings = _findings(*both, deployments=(release,))
    ranking = rank(findings, ["checkout"], [])
    diagnoses = diagnose_candidates(findings, ranking)
    assert (ranking.root, ranking.tied) == ("ledger", [])
    assert diagnoses["ledger"].fault_kind == "bad_deploy"


def test_a_next_check_sends_to_a_services_logs_only_when_its_lines_were_seen() -> None:
    def compared(*services: str) -> PatternComparison:
        pattern = LogPattern(
            id="p1",
            template="upstream <*> timed out",
            count=12,
            first_seen=ONSET,
            last_seen=ONSET,
            example="upstream payments timed out",
            services=list(services),
        )
        return PatternComparison(
            since=ONSET,
            start=ONSET,
            end=ONSET,
            lines_before=40,
            lines_after=12,
            patterns=1,
            frequent=[pattern],
        )

    # Checkout's lines were among those compared: its Logs page shows them.
    assert (
        logs_of(Findings(graph=GRAPH, patterns=compared("Checkout")), "checkout") == "/logs?service=checkout"
    )
    # The ledger logged nothing the comparison saw: the check says so instead of linking a page likely empty.
    unseen = logs_of(Findings(graph=GRAPH, patterns=compared("Checkout")), "ledger")
    assert "/logs" not in unseen and "no log pattern of Ledger's" in unseen
    # Without any log comparison read, nothing is known either way: the page is where to look.
    assert logs_of(Findings(graph=GRAPH), "ledger") == "/logs?service=ledger"
    # A log source on another clock (a frozen demo beside a live Prometheus) keeps none of the recent lines.
    frozen = SourceClock(capability="log", provider="demo", now=ONSET - timedelta(days=400))
    elsewhere = logs_of(Findings(graph=GRAPH, log_clock=frozen), "ledger")
    assert "/logs" not in elsewhere and "keeps another time (log (demo): frozen at" in elsewhere
    # No log source configured at all (an OpsOrch Core without a log plugin): no page of OpsPilot's has the lines.
    unserved = Failure("compare_log_patterns", "Unsupported: the log capability is not configured")
    nowhere = logs_of(Findings(graph=GRAPH, failures=[unserved]), "ledger")
    assert "/logs" not in nowhere and "no log source of OpsPilot's serves them" in nowhere
    # A log source that failed this once still has a Logs page worth opening.
    broken = Failure("compare_log_patterns", "ProviderError: 503 from the log source")
    assert logs_of(Findings(graph=GRAPH, failures=[broken]), "ledger") == "/logs?service=ledger"
