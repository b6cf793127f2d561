"""The fault kind of a root, from its departures as the metric scan read them (real exporters' series)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from copilot.planners.offline.diagnosis import diagnose
from copilot.planners.offline.ranking import read_signal
from copilot.planners.offline.readings import Findings, Signal
from core_client.schemas import MetricBaseline
from core_client.schemas.analysis import MetricAnomaly

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


def test_what_a_service_still_does_decides_between_slow_and_failing() -> None:
    # Slow earlier in the window (healed), failing now: a failing service, not a slow one.
    slow_before = _anomaly("p99(http_request_duration_seconds)", "latency", "duration", "up", "up", 900.0)
    slow_before = slow_before.model_copy(update={"ongoing": False, "service": "ledger"})
    failing = _anomaly("error_ratio(http_requests_total)", "errors", "errors", "up", "up", 300.0, at=3)
    failing = failing.model_copy(update={"service": "ledger"})
    assert diagnose(Findings(), "ledger", ONSET, [slow_before, failing]).fault_kind == "dependency_outage"
    slow_now = slow_before.model_copy(update={"ongoing": True})
    assert diagnose(Findings(), "ledger", ONSET, [slow_now, failing]).fault_kind == "latency_injection"


def test_the_resource_that_began_first_is_the_fault() -> None:
    # CPU saturated at the onset; memory ran out five minutes later (another process, or a consequence): the CPU.
    later_memory = MEMORY_LEFT.model_copy(update={"onset": ONSET + timedelta(minutes=5)})
    assert diagnose(Findings(), "edge-host", ONSET, [CPU_BUSY, later_memory]).fault_kind == "cpu_saturation"
    # A leak that began first loads the CPU (collection, swapping) later: the leak.
    later_cpu = CPU_BUSY.model_copy(update={"onset": ONSET + timedelta(minutes=5)})
    assert diagnose(Findings(), "edge-host", ONSET, [later_cpu, MEMORY_LEFT]).fault_kind == "memory_leak"
    # Together (within two steps of the scan), the mechanism that explains the other is named: the leak.
    assert diagnose(Findings(), "edge-host", ONSET, [CPU_BUSY, MEMORY_LEFT]).fault_kind == "memory_leak"


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
