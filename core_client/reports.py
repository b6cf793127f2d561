"""Investigation reports as markdown: what happened, what the evidence says, what to do next."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ReportFinding(BaseModel):
    text: str = Field(description="One claim, in a sentence.")
    evidence: list[str] = Field(default_factory=list, description="Links or ids of the evidence behind it.")


class InvestigationReport(BaseModel):
    """The content of a report; ``render_report`` turns it into markdown."""

    title: str
    summary: str
    root_cause: str | None = Field(default=None, description="The service and fault, if established.")
    findings: list[ReportFinding] = Field(default_factory=list)
    actions: list[str] = Field(default_factory=list, description="Follow-ups to take.")
    missing: list[str] = Field(default_factory=list, description="What could not be checked, and why.")


def render_report(report: InvestigationReport) -> str:
    """The report as markdown, evidence numbered per finding."""
    lines = [f"# {report.title}", "", report.summary.strip(), ""]
    if report.root_cause:
        lines += ["## Root cause", "", report.root_cause, ""]
    if report.findings:
        lines += ["## Findings", ""]
        for finding in report.findings:
            cited = " ".join(f"[{i}]({ref})" for i, ref in enumerate(finding.evidence, start=1))
            lines.append(f"- {finding.text}" + (f" {cited}" if cited else ""))
        lines.append("")
    for heading, items in (("Actions", report.actions), ("Not checked", report.missing)):
        if items:
            lines += [f"## {heading}", "", *(f"- {item}" for item in items), ""]
    return "\n".join(lines).rstrip() + "\n"
