"""The files log provider over real Loghub files, exercised through CoreClient."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.files import FilesConfig, FilesLogProvider
from core_client.capabilities import Capability
from core_client.client import CoreClient, LoadedProvider
from core_client.clock import SystemClock
from core_client.errors import BadQuery, ConfigurationError, NotFound
from core_client.registry import load_provider
from core_client.schemas import LogExpression, LogFilter, LogQuery, QueryScope
from core_client.settings import load_settings


@pytest.fixture
def log_folder(tmp_path: Path, loghub_dir: Path) -> Path:
    folder = tmp_path / "logs"
    folder.mkdir()
    shutil.copy(loghub_dir / "OpenSSH" / "OpenSSH_2k.log", folder / "sshd.log")
    (folder / "notes.txt").write_text("not a log file\n")
    return folder


def _core(config: dict[str, object]) -> CoreClient:
    provider = FilesLogProvider(FilesConfig.model_validate(config))
    loaded = LoadedProvider(capability=Capability.LOG, name="files", instance=provider, timeout=10)
    return CoreClient({Capability.LOG: loaded}, gate=object(), settings=load_settings())  # type: ignore[arg-type]


def _from_settings() -> CoreClient:
    """The log provider the settings name, found through the registry's entry points."""
    settings = load_settings()
    choice = settings.providers[Capability.LOG]
    instance = load_provider(Capability.LOG, choice, settings=settings, clock=SystemClock(), shared={})
    loaded = LoadedProvider(capability=Capability.LOG, name=choice.name, instance=instance, timeout=10)
    return CoreClient({Capability.LOG: loaded}, gate=object(), settings=settings)  # type: ignore[arg-type]


def _query(search: str | None = None, *filters: LogFilter, **kwargs: object) -> LogQuery:
    return LogQuery(expression=LogExpression(search=search, filters=list(filters)), **kwargs)  # type: ignore[arg-type]


async def test_lines_come_newest_first_with_fields_from_the_format(log_folder: Path) -> None:
    core = _core({"path": str(log_folder), "format": "loghub:OpenSSH", "timezone": "UTC"})
    page = await core.logs.query(_query(limit=5))
    assert len(page.items) == 5 and page.next_cursor
    newest = page.items[0]
    assert newest.service == "sshd" and newest.labels["component"] == "LabSZ" and newest.labels["pid"]
    assert [e.timestamp for e in page.items] == sorted((e.timestamp for e in page.items), reverse=True)
    written = datetime.fromtimestamp((log_folder / "sshd.log").stat().st_mtime, UTC)
    # Syslog lines carry no year: the latest Dec 10 not after the file was written.
    assert (newest.timestamp.month, newest.timestamp.day, newest.timestamp.hour) == (12, 10, 11)
    assert newest.timestamp <= written and newest.timestamp.year >= written.year - 1
    assert newest.message.startswith("Failed password for invalid user user from 103.99.0.122")
    first = await core.logs.query(_query(limit=1000))
    assert (
        first.items[-1].timestamp
        >= (await core.logs.query(_query(limit=1000), cursor=first.next_cursor)).items[0].timestamp
    )


async def test_cursor_pagination_visits_every_line_once(log_folder: Path) -> None:
    core = _core({"path": str(log_folder), "format": "loghub:OpenSSH"})
    seen: list[str] = []
    cursor = None
    while True:
        page = await core.logs.query(_query("Failed password", limit=300), cursor=cursor)
        seen.extend(e.id for e in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    expected = sum("Failed password" in line for line in (log_folder / "sshd.log").read_text().splitlines())
    assert len(seen) == len(set(seen)) == expected > 300


async def test_filters_search_scope_and_time_range(log_folder: Path, loghub_dir: Path) -> None:
    shutil.copy(loghub_dir / "Apache" / "Apache_2k.log", log_folder / "httpd.log")
    # Two formats cannot share one folder: lines of the other format are kept as message-only lines.
    core = _core({"path": str(log_folder), "format": "loghub:Apache"})
    errors = await core.logs.query(
        _query(None, LogFilter(field="severity", operator="=", value="ERROR"), limit=1000)
    )
    assert errors.items and {e.severity for e in errors.items} == {"error"}
    assert {e.service for e in errors.items} == {"httpd"}
    not_notice = await core.logs.query(
        _query(
            None,
            LogFilter(field="severity", operator="!=", value="notice"),
            limit=1000,
            scope=QueryScope(service="httpd"),
        )
    )
    assert "notice" not in {e.severity for e in not_notice.items}
    regex = await core.logs.query(
        _query(None, LogFilter(field="message", operator="regex", value=r"child \d+ in scoreboard"), limit=5)
    )
    assert regex.items and all("in scoreboard" in e.message for e in regex.items)
    contains = await core.logs.query(
        _query(None, LogFilter(field="file", operator="contains", value="SSHD"), limit=3)
    )
    assert contains.items and all(e.service == "sshd" and e.severity == "" for e in contains.items)
    phrase = await core.logs.query(_query('"workerEnv in error state"', limit=1000))
    assert phrase.items and all("workerEnv in error state" in e.message for e in phrase.items)
    window = await core.logs.query(
        _query(
            limit=1000,
            start=datetime(2005, 12, 4, 5, 0, tzinfo=UTC),
            end=datetime(2005, 12, 4, 6, 0, tzinfo=UTC),
            scope=QueryScope(service="httpd"),
        )
    )
    assert window.items and all(
        datetime(2005, 12, 4, 5, tzinfo=UTC) <= e.timestamp <= datetime(2005, 12, 4, 6, tzinfo=UTC)
        for e in window.items
    )
    sev = await core.logs.query(LogQuery(expression=LogExpression(severity_in=["notice"]), limit=1000))
    assert sev.items and {e.severity for e in sev.items} == {"notice"}


async def test_invalid_regex_and_cursor_are_bad_queries(log_folder: Path) -> None:
    core = _core({"path": str(log_folder), "format": "loghub:OpenSSH"})
    with pytest.raises(BadQuery, match="invalid regex"):
        await core.logs.query(_query(None, LogFilter(field="message", operator="regex", value="(unclosed")))
    with pytest.raises(BadQuery):
        await core.logs.query(_query(), cursor="not-a-cursor")


async def test_context_around_a_line_and_stable_ids(log_folder: Path) -> None:
    core = _core({"path": str(log_folder), "format": "loghub:OpenSSH"})
    hit = (await core.logs.query(_query("Received disconnect", limit=1))).items[0]
    context = await core.logs.context(hit.id, before=3, after=2)
    assert context.anchor == hit and len(context.before) == 3 and len(context.after) == 2
    lines = (log_folder / "sshd.log").read_text().splitlines()
    number = int(hit.id.rsplit("_", 1)[1])
    assert context.before[-1].message in lines[number - 2] and context.after[0].message in lines[number]
    again = (
        await _core({"path": str(log_folder), "format": "loghub:OpenSSH"}).logs.query(
            _query("Received disconnect", limit=1)
        )
    ).items[0]
    assert again.id == hit.id
    with pytest.raises(NotFound):
        await core.logs.context("fl_0000000000_1")


async def test_unmatched_lines_are_kept_and_changed_files_are_reindexed(tmp_path: Path) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    log = folder / "payments.log"
    log.write_text(
        "2024-05-01 10:00:00,000 ERROR [main] Charge failed for order 12\n"
        "java.lang.IllegalStateException: card declined\n"
        "\n"
        "2024-05-01 10:00:05,000 WARNING [main] Retrying order 12\n"
    )
    fmt = r"<Date> <Time> <Level> \[<Thread>\] <Content>"
    core = _core({"path": str(folder), "format": fmt, "timezone": "Europe/Paris"})
    items = (await core.logs.query(_query())).items
    assert [e.message for e in items] == [
        "Retrying order 12", "java.lang.IllegalStateException: card declined", "Charge failed for order 12",
    ]  # fmt: skip
    assert items[0].severity == "warn" and items[0].timestamp == datetime(2024, 5, 1, 8, 0, 5, tzinfo=UTC)
    assert (
        items[1].timestamp == items[2].timestamp
        and items[1].severity == ""
        and items[0].labels["thread"] == "main"
    )
    with log.open("a") as handle:
        handle.write("2024-05-01 10:01:00,000 INFO [main] Order 13 paid\n")
    os.utime(log, (log.stat().st_atime, log.stat().st_mtime + 5))
    items = (await core.logs.query(_query())).items
    assert items[0].message == "Order 13 paid" and len(items) == 4


async def test_health_and_loading_from_settings(log_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSORCH_LOG_PROVIDER", "files")
    monkeypatch.setenv(
        "OPSORCH_LOG_CONFIG", json.dumps({"path": str(log_folder), "format": "loghub:OpenSSH"})
    )
    core = _from_settings()
    assert core.provider_for(Capability.LOG).name == "files"
    report = await core.health()
    log_health = next(p for p in report.providers if p.capability == "log")
    assert log_health.status == "ok" and "1 file(s)" in log_health.message
    assert (await core.logs.query(_query("Invalid user", limit=2))).items
    missing = _core({"path": str(log_folder / "gone"), "format": "loghub:OpenSSH"})
    assert (await missing.health()).providers[0].status == "down"


def test_bad_configuration_is_reported(log_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="Content"):
        FilesLogProvider(FilesConfig(path=log_folder, format="<Date> <Time>"))
    with pytest.raises(ConfigurationError, match="Loghub"):
        FilesLogProvider(FilesConfig(path=log_folder, format="loghub:Nope"))
    monkeypatch.setenv("OPSORCH_LOG_PROVIDER", "files")
    monkeypatch.setenv(
        "OPSORCH_LOG_CONFIG",
        json.dumps({"path": str(log_folder), "format": "<Content>", "timezone": "Mars/Olympus"}),
    )
    with pytest.raises(ConfigurationError, match="time zone"):
        _from_settings()
