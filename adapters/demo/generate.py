"""Random but valid scenarios over the demo company, for evals the investigator was never tuned on.

A generated scenario is drawn from its seed alone: a fault kind (each kind of the vocabulary equally likely), a
root service able to show that kind, an onset, a propagation depth of 1-3, and decoys drawn independently, each
with a fixed probability (:data:`DECOY_RATES`). The distribution is fixed here, before anyone tunes on it; the
expected answer is the generator's own ground truth, never the output of an investigator.

Seeds come in three ranges (:data:`SEED_RANGES`): ``development`` for tuning, ``held-out`` for the figures that are
reported (never looked at case by case while tuning) and ``ci`` for the test suite.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from adapters.demo.company import SERVICE_BY_NAME, SERVICES, TEAM_BY_ID, callers_by_hop, metrics_for
from adapters.demo.faults import DEFAULTS
from adapters.demo.scenario import FAULT_KINDS, Scenario, load_scenario_file

# First seed and size of each range. A seed a failing CI run prints is no longer held out: CI has its own.
SEED_RANGES: dict[str, range] = {
    "development": range(1_000, 5_000),
    "held-out": range(5_000, 9_000),
    "ci": range(9_000, 13_000),
}
# The chance of each decoy in a scenario, drawn independently (each >= 10% by design).
DECOY_RATES: dict[str, float] = {
    "deploy_after_onset": 0.30,
    "config_change_noop": 0.25,
    "feature_flag_noop": 0.20,
    "preexisting_errors": 0.30,
    "concurrent_fault": 0.20,
    "asks_another_service": 0.15,
    "flapping_alert": 0.20,
}
# What a correct answer cites for each kind: a release or config change is seen as a deployment record.
EVIDENCE: dict[str, list[str]] = {
    "bad_deploy": ["deployment", "log_pattern", "metric"],
    "config_change": ["deployment", "log_pattern"],
    "cpu_saturation": ["metric"],
    "latency_injection": ["metric"],
}
DEFAULT_EVIDENCE = ["metric", "log_pattern"]
_SYMPTOM_QUESTIONS = (
    "Why is {service} failing?",
    "Why is {service} returning errors?",
    "What is wrong with {service}?",
    "Why is {service} slow?",
    "{service} is throwing errors, why?",
)


@dataclass(frozen=True)
class Generated:
    """One generated scenario and the facts the coverage table counts."""

    scenario: Scenario
    seed: int
    depth: int
    decoys: tuple[str, ...]
    path: Path


@dataclass(frozen=True)
class KindQuestion:
    """A question of one kind about a generated world, and what its verdict (first sentence) must say.

    ``kind`` is a question kind as the Copilot names them (``health``, ``change-verdict``...); the verdict must
    name every one of ``mentions``, hold a word of ``any_of`` (when given) and none of ``none_of``.
    """

    question: str
    kind: str
    mentions: tuple[str, ...]
    any_of: tuple[str, ...] = ()
    none_of: tuple[str, ...] = ()


_BAD = ("degraded", "down", "failing", "unhealthy", "not healthy", "errors", "erroring")


def kind_questions(item: Generated) -> list[KindQuestion]:
    """One question of each kind about ``item``'s world, answered from the generator's ground truth."""
    scenario = item.scenario
    root = scenario.expected.service
    involved = {root, *(name for name, _ in callers_by_hop(root, item.depth))}
    involved |= {fault.service for fault in scenario.faults}
    quiet = sorted(s.name for s in SERVICES if s.name not in involved and s.kind != "external")
    rng = random.Random(f"opspilot-generate-kinds:{item.seed}")
    fine = rng.choice(quiet)
    owner = TEAM_BY_ID[SERVICE_BY_NAME[rng.choice(sorted(involved - {"payflow"}) or [fine])].team]
    owned = next(s.name for s in SERVICES if s.team == owner.id and s.name in involved | {fine})
    questions = [
        KindQuestion(f"Is {root} healthy?", "health", (root,), any_of=_BAD),
        KindQuestion(f"Is {fine} healthy right now?", "health", (fine,), any_of=("healthy",), none_of=_BAD),
        KindQuestion("What's going on?", "situation", (root,)),
        KindQuestion(f"Who owns {owned}?", "ownership", (owned,), any_of=(owner.name, owner.id)),
        KindQuestion(f"What did {root} log in the last hour?", "log-summary", (root,)),
        KindQuestion(f"Has this happened before on {root}?", "history", (root,)),
    ]
    changes = [d for d in scenario.decoys if d.kind in ("harmless_deploy", "config_change", "feature_flag")]
    if scenario.expected.fault_kind in ("bad_deploy", "config_change"):
        questions.append(
            KindQuestion(f"Was the {root} change the cause?", "change-verdict", (root,), none_of=("not",))
        )
    elif changes and changes[0].service:
        service = changes[0].service
        questions.append(
            KindQuestion(
                f"Was the {service} change the cause?",
                "change-verdict",
                (service,),
                any_of=("not", "no", "unlikely"),
            )
        )
    return questions


@dataclass
class Coverage:
    """How often each fault kind, depth and decoy came up in a generated set."""

    cases: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    depths: Counter[int] = field(default_factory=Counter)
    decoys: Counter[str] = field(default_factory=Counter)

    def add(self, item: Generated) -> None:
        self.cases += 1
        self.kinds[item.scenario.expected.fault_kind] += 1
        self.depths[item.depth] += 1
        self.decoys.update(item.decoys)

    def rows(self) -> list[tuple[str, str, int, float]]:
        """(dimension, value, cases, percent), every kind and decoy listed even when it never came up."""
        total = max(1, self.cases)
        rows = [
            ("fault kind", kind, self.kinds[kind], 100 * self.kinds[kind] / total) for kind in FAULT_KINDS
        ]
        rows += [("depth", str(d), self.depths[d], 100 * self.depths[d] / total) for d in (1, 2, 3)]
        rows += [("decoy", name, self.decoys[name], 100 * self.decoys[name] / total) for name in DECOY_RATES]
        return rows


def split_of(seed: int) -> str | None:
    """The named range ``seed`` falls in, if any."""
    return next((name for name, seeds in SEED_RANGES.items() if seed in seeds), None)


def able_services(kind: str) -> list[str]:
    """Services that report every metric the kind's defaults move (so no effect is lost) and have a caller."""
    able = []
    for spec in SERVICES:
        known = {m.name for m in metrics_for(spec)}
        if not all(effect.metric in known for effect in DEFAULTS[kind].metrics):
            continue
        if spec.kind == "external" and kind != "dependency_outage":
            continue  # nobody deploys or profiles a third party: it can only be down
        if not callers_by_hop(spec.name, 1):
            continue
        able.append(spec.name)
    return able


def _minutes(value: int) -> str:
    return f"{value}m"


def generate(seed: int, folder: Path) -> Generated:
    """Draw scenario ``gen-<seed>``, write it to ``folder`` and load it back through the validating loader."""
    rng = random.Random(f"opspilot-generate:{seed}")
    kind = rng.choice(FAULT_KINDS)
    root = rng.choice(able_services(kind))
    onset = rng.randint(20, 180)
    reach = max(hop for _, hop in callers_by_hop(root, 3))
    depth = rng.randint(1, min(3, reach))
    callers = callers_by_hop(root, depth)
    symptom = rng.choice([name for name, hop in callers if hop == depth])
    involved = {root, *(name for name, _ in callers)}
    quiet = [s.name for s in SERVICES if s.name not in involved and s.kind != "external"]
    drawn = [name for name, rate in DECOY_RATES.items() if rng.random() < rate]
    faults: list[dict[str, Any]] = [
        {"kind": kind, "service": root, "onset": _minutes(-onset), "propagation": {"depth": depth}}
    ]
    decoys: list[dict[str, Any]] = []
    asked = symptom
    for decoy in list(drawn):
        if decoy == "deploy_after_onset":
            # A routine release on the service the operator is looking at, after the trouble began.
            at = min(-3, -onset + rng.randint(4, 15))
            decoys.append({"kind": "harmless_deploy", "service": symptom, "at": _minutes(at), "jitter": "1m"})
        elif decoy == "config_change_noop":
            target = rng.choice([symptom, *quiet])
            at = -onset + rng.randint(-40, 10)
            decoys.append({"kind": "config_change", "service": target, "at": _minutes(min(-3, at))})
        elif decoy == "feature_flag_noop":
            target = rng.choice([symptom, *quiet])
            at = -onset + rng.randint(-40, 10)
            decoys.append({"kind": "feature_flag", "service": target, "at": _minutes(min(-3, at))})
        elif decoy == "preexisting_errors":
            decoys.append({"kind": "noisy_error", "at": _minutes(-onset - rng.randint(30, 180))})
        elif decoy == "flapping_alert":
            decoys.append({"kind": "flapping_alert", "at": _minutes(-rng.randint(60, 300))})
        elif decoy == "concurrent_fault":
            other = _concurrent_fault(rng, involved, onset)
            if other is None:
                drawn.remove(decoy)  # the fault reaches every service that could fail apart
            else:
                faults.append(other)
        elif decoy == "asks_another_service":
            asked = rng.choice([s for s in quiet if s != symptom] or [symptom])
    question = rng.choice(_SYMPTOM_QUESTIONS).format(service=asked)
    document: dict[str, Any] = {
        "name": f"gen-{seed}",
        "title": f"Generated scenario {seed}",
        "question": question,
        "faults": faults,
        "alerts": [
            {
                "service": symptom,
                "title": f"{symptom} error rate above 5%",
                "severity": "sev2",
                "after": _minutes(rng.randint(3, 6)),
                "metric": "error_rate",
            }
        ],
        "incident": {
            "title": f"{symptom} errors",
            "service": symptom,
            "severity": "sev2",
            "after": _minutes(rng.randint(7, 10)),
        },
        "decoys": decoys,
        "expected": {"service": root, "fault_kind": kind, "evidence": EVIDENCE.get(kind, DEFAULT_EVIDENCE)},
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"gen-{seed}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return Generated(load_scenario_file(path), seed, depth, tuple(drawn), path)


def _concurrent_fault(rng: random.Random, involved: set[str], onset: int) -> dict[str, Any] | None:
    """An independent fault on a service the main fault does not reach, kept to that service (depth 0)."""
    kinds = list(FAULT_KINDS)
    rng.shuffle(kinds)
    for kind in kinds:
        apart = [s for s in able_services(kind) if s not in involved and s != "payflow"]
        if apart:
            service = rng.choice(apart)
            at = max(25, onset + rng.randint(-60, 60))
            return {"kind": kind, "service": service, "onset": _minutes(-at), "propagation": {"depth": 0}}
    return None


def generate_set(seeds: range, folder: Path) -> tuple[list[Generated], Coverage]:
    """Scenarios for every seed of ``seeds`` in ``folder``, and their coverage."""
    coverage = Coverage()
    items = []
    for seed in seeds:
        item = generate(seed, folder)
        coverage.add(item)
        items.append(item)
    return items, coverage
