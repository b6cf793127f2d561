"""The Logs page on the small demo world (orders-api runs out of database connections about 45 minutes before
the world's now): the backend functions, and the page state driven without a browser."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest

import console.pages.logs  # noqa: F401  (declares /logs and its on_load)
from console.backend.logs import (
    HIGHLIGHT_PAGES,
    PAGE_SIZE,
    LogSearch,
    highlight_page,
    highlight_window,
    line_context,
    lines_page,
    log_expression,
    pattern_report,
    severity_hint,
    volume,
)
from console.state.logs import LogsState, row_element_id
from console.state.scope import ScopeState
from core_client.capabilities import Capability
from core_client.client import CoreClient
from core_client.errors import BadQuery
from core_client.links import format_time, logs_link, parse_link
from core_client.schemas import LogEntry, LogQuery
from tests.console.browserless import Client, Sent
from tests.console.demo_world import built_world, demo_core, people, signed_in

__all__ = ["built_world", "demo_core", "people"]

POOL = "timeout acquiring connection from pool 'orders-main'"


def two_hours(core: CoreClient, **fields: object) -> LogSearch:
    now = core.clock.now()
    return LogSearch(start=now - timedelta(hours=2), end=now, **fields)  # type: ignore[arg-type]


async def every_line(core: CoreClient, query: LogQuery) -> list[LogEntry]:
    """The provider's own pages, 1000 lines at a time: what the console's pages must add up to."""
    lines: list[LogEntry] = []
    cursor = None
    while True:
        page = await core.logs.query(query.model_copy(update={"limit": 1000}), cursor=cursor)
        lines += page.items
        cursor = page.next_cursor
        if cursor is None:
            return lines


async def walk(core: CoreClient, search: LogSearch) -> list[list[str]]:
    """The ids of every page of ``search``, first to last."""
    pages, cursor = [], None
    while True:
        page = await lines_page(core, search, cursor=cursor)
        pages.append([row.id for row in page.rows])
        cursor = page.next_cursor
        if cursor is None:
            return pages


# --- the query and its URL ------------------------------------------------------------------------------------


def test_the_url_holds_the_whole_query_and_restores_it() -> None:
    search = LogSearch.from_params(
        {
            "q": ' timeout "orders-main" ',
            "service": "orders-api",
            "severity": "Error, fatal",
            "env": "prod",
            "from": "2025-06-11T12:20:00Z",
            "to": "2025-06-11T14:20:00Z",
            "highlight": "lg1",
            "tab": "patterns",
            "since": "2025-06-11T13:35:00Z",
        }
    )
    assert (search.q, search.severity, search.environment, search.tab) == (
        'timeout "orders-main"',
        "error,fatal",
        "prod",
        "patterns",
    )
    url = search.url()
    assert url.startswith("/logs?q=timeout%20%22orders-main%22&service=orders-api&severity=error,fatal&from=")
    assert LogSearch.from_params(dict(parse_qsl(urlsplit(url).query))) == search
    # Without the console's own parameters, the URL is exactly the citation link of the links scheme.
    plain = search.model_copy(update={"environment": "", "tab": "lines", "since": None})
    assert parse_link(plain.url()) == logs_link(
        q=plain.q,
        service="orders-api",
        severity="error,fatal",
        start=plain.start,
        end=plain.end,
        highlight="lg1",
    )
    assert plain.page_params() == {
        "q": 'timeout "orders-main"',
        "severity": "error,fatal",
        "highlight": "lg1",
        "tab": None,
        "since": None,
    }
    assert LogSearch.from_params({"tab": "bogus"}).tab == "lines"
    with pytest.raises(BadQuery, match="not an ISO-8601 time"):
        LogSearch.from_params({"from": "yesterday"})


def test_query_text_is_words_phrases_and_regex() -> None:
    expression = log_expression('timeout "pool exhausted" /in use \\d+\\/40/ -debug', ["error"])
    assert expression.search == 'timeout "pool exhausted" -debug'
    assert [(f.field, f.operator, f.value) for f in expression.filters] == [
        ("message", "regex", "in use \\d+\\/40")
    ]
    assert expression.severity_in == ["error"]
    assert log_expression("/only/", []).search is None


# --- lines ----------------------------------------------------------------------------------------------------


async def test_pages_are_newest_first_without_gaps_or_duplicates(demo_core: CoreClient) -> None:
    search = two_hours(demo_core)
    window = search.window()
    pages = await walk(demo_core, search)
    ids = [line for page in pages for line in page]

    assert all(len(page) == PAGE_SIZE for page in pages[:-1]) and 0 < len(pages[-1]) <= PAGE_SIZE
    assert len(ids) == len(set(ids))
    provider = await every_line(demo_core, search.log_query(start=window.start, end=window.end))
    assert ids == [entry.id for entry in provider]
    stamps = [entry.timestamp for entry in provider]
    assert stamps == sorted(stamps, reverse=True)
    assert (await volume(demo_core, search)).total == len(ids)


async def test_words_phrases_regex_and_severity_narrow_the_lines(demo_core: CoreClient) -> None:
    search = two_hours(demo_core, q='"orders-main" /waiting \\d{3}\\)/', severity="error")
    pages = await walk(demo_core, search)
    rows = [row for page in [await lines_page(demo_core, search)] for row in page.rows]

    assert rows and all("orders-main" in row.message and row.severity == "error" for row in rows)
    assert all(re.search(r"waiting \d{3}\)", row.message) for row in rows)
    assert sum(len(page) for page in pages) < sum(
        len(page) for page in await walk(demo_core, two_hours(demo_core))
    )


async def test_a_highlighted_line_opens_on_its_page(demo_core: CoreClient) -> None:
    search = two_hours(demo_core)
    pages = await walk(demo_core, search)
    target = pages[2][7]

    found = await highlight_page(demo_core, search.model_copy(update={"highlight": target}))
    assert found.found and found.note == ""
    assert [row.id for row in found.page.rows] == pages[2]
    assert len(found.cursors) == 3 and found.cursors[0] is None
    # The cursors found on the way lead back: the page before is the second page.
    before = await lines_page(demo_core, search, cursor=found.cursors[1])
    assert [row.id for row in before.rows] == pages[1]


async def test_a_line_far_back_narrows_the_window_to_reach_it(demo_core: CoreClient) -> None:
    search = two_hours(demo_core)
    pages = await walk(demo_core, search)
    assert len(pages) > HIGHLIGHT_PAGES + 5
    target = pages[HIGHLIGHT_PAGES + 5][0]

    found = await highlight_page(demo_core, search.model_copy(update={"highlight": target}))
    assert found.found and target in [row.id for row in found.page.rows]
    assert found.search.start == search.start
    assert found.search.end is not None and search.end is not None and found.search.end < search.end
    assert "the window now ends at line" in found.note


async def test_a_highlight_outside_the_window_or_unknown_says_so(demo_core: CoreClient) -> None:
    now = demo_core.clock.now()
    old = (await demo_core.logs.query(LogQuery(end=now - timedelta(hours=20), limit=1))).items[0]
    last_hour = LogSearch(start=now - timedelta(hours=1), end=now, highlight=old.id)

    outside = await highlight_page(demo_core, last_hour)
    assert not outside.found and "is outside the window" in outside.note and outside.page.rows
    # Opened without times, the page moves its window (same span) to the line instead.
    moved = await highlight_window(demo_core, last_hour)
    assert moved is not None and moved.contains(old.timestamp) and moved.span == timedelta(hours=1)
    assert await highlight_window(demo_core, last_hour.model_copy(update={"highlight": ""})) is None

    unknown = await highlight_page(demo_core, last_hour.model_copy(update={"highlight": "lg-nope"}))
    assert not unknown.found and "no log line has id 'lg-nope'" in unknown.note


async def test_a_lines_context_is_its_stream_around_it(demo_core: CoreClient) -> None:
    line = (await lines_page(demo_core, two_hours(demo_core, q='"orders-main"'))).rows[20]

    context = await line_context(demo_core, line.id, lines=5)
    anchors = [row for row in context if row.anchor]
    assert [row.id for row in anchors] == [line.id] and context.index(anchors[0]) == 5
    assert {(row.service, row.environment) for row in context} == {(line.service, line.environment)}
    stamps = [(row.date, row.time) for row in context]
    assert stamps == sorted(stamps) and len(context) == 11


async def test_volume_counts_errors_and_warnings_apart(demo_core: CoreClient) -> None:
    search = two_hours(demo_core)
    counted = await volume(demo_core, search, buckets=24)
    errors = await volume(demo_core, search.model_copy(update={"severity": "error,fatal"}), buckets=24)

    assert len(counted.bars) == 24 and counted.bucket_seconds == 300
    assert sum(bar.other + bar.warn + bar.error for bar in counted.bars) == counted.total
    assert [bar.error for bar in counted.bars] == [bar.other + bar.warn + bar.error for bar in errors.bars]
    # The pool runs out in the second hour: errors there, not in the first.
    assert sum(bar.error for bar in counted.bars[12:]) > 5 * sum(bar.error for bar in counted.bars[:12])


# --- patterns -------------------------------------------------------------------------------------------------


async def test_patterns_are_marked_new_or_grown_around_the_point(demo_core: CoreClient) -> None:
    search = two_hours(demo_core)
    midpoint = await pattern_report(demo_core, search)
    by_template = {row.template: row for row in midpoint.rows}
    pool = next(row for template, row in by_template.items() if template.startswith(POOL))

    assert midpoint.since == search.window().midpoint
    assert pool.change == "new" and pool.shift == f"0 → {pool.count} lines" and pool.severity == "error"
    assert [row.change for row in midpoint.rows[: midpoint.new]] == ["new"] * midpoint.new
    assert any(row.change == "" for row in midpoint.rows)
    assert midpoint.lines == sum(len(page) for page in await walk(demo_core, search))

    # Compared at a point after the onset, the same pattern was already there: it grew, it is not new.
    later = await pattern_report(
        demo_core, search.model_copy(update={"since": demo_core.clock.now() - timedelta(minutes=20)})
    )
    pool_later = next(row for row in later.rows if row.template.startswith(POOL))
    assert pool_later.change == "grown" and "rate x" in pool_later.shift

    with pytest.raises(BadQuery, match="outside the window"):
        await pattern_report(
            demo_core, search.model_copy(update={"since": demo_core.clock.now() + timedelta(hours=1)})
        )


# --- the page state -------------------------------------------------------------------------------------------


async def open_page(client: Client) -> Sent:
    """Open the tab's URL as the browser does (scope, then the page's load and what it chains), collecting all."""
    everything = Sent()
    sent = await client.fire(ScopeState.open_page)
    while sent.frontend or sent.backend:
        everything.frontend += sent.frontend
        everything.backend += sent.backend
        if not sent.backend:
            break
        sent = await client.follow(sent)
    return everything


async def run(client: Client, sent: Sent) -> Sent:
    """Follow the backend events ``sent`` chains until there are none, collecting what comes back."""
    everything = Sent(frontend=list(sent.frontend))
    while sent.backend:
        sent = await client.follow(sent)
        everything.frontend += sent.frontend
    return everything


def scripts(sent: Sent) -> str:
    return " ".join(str(event.payload) for event in sent.frontend)


def logs_url(core: CoreClient, **params: str) -> str:
    now = core.clock.now()
    window = {"from": format_time(now - timedelta(hours=2)), "to": format_time(now)}
    query = "&".join(f"{name}={value}" for name, value in {**window, **params}.items())
    return f"/logs?{query}"


async def test_the_state_opens_a_url_and_pages_through_it(demo_core: CoreClient, people) -> None:
    client = await signed_in(demo_core, "vera", logs_url(demo_core, q="orders", severity="error"))
    await open_page(client)

    state = await client.state(LogsState)
    assert (state.q, state.severity, state.tab, state.highlight) == ("orders", "error", "lines", "")
    assert (len(state.rows), state.page_number, state.has_next) == (PAGE_SIZE, 1, True)
    assert not (state.loading or state.volume_loading) and state.lines_error == state.volume_error == ""
    assert (
        all(row.severity == "error" for row in state.rows) and sum(bar["error"] for bar in state.volume) > 0
    )
    first = [row.id for row in state.rows]

    await client.fire(LogsState.next_page)
    second = await client.state(LogsState)
    assert second.page_number == 2 and not set(first) & {row.id for row in second.rows}
    await client.fire(LogsState.previous_page)
    back = await client.state(LogsState)
    assert back.page_number == 1 and [row.id for row in back.rows] == first


async def test_every_change_writes_the_url_and_the_url_restores_it(demo_core: CoreClient, people) -> None:
    client = await signed_in(demo_core, "vera", logs_url(demo_core, service="orders-api"))
    await open_page(client)

    sent = await run(
        client, await client.fire(LogsState.submit, form={"q": ' "orders-main" /waiting \\d+/ '})
    )
    sent_severity = await client.fire(LogsState.pick_severity, value="error,fatal")
    (mode, url), (_, severity_url) = sent.urls()[0], sent_severity.urls()[0]
    assert mode == "pushState"
    params = dict(parse_qsl(urlsplit(url).query))
    assert params["q"] == '"orders-main" /waiting \\d+/' and params["service"] == "orders-api"
    assert dict(parse_qsl(urlsplit(severity_url).query))["severity"] == "error,fatal"
    await run(client, sent_severity)
    shown = await client.state(LogsState)

    # The URL written is enough: a new tab on it shows the same query (state -> URL -> state).
    other = await signed_in(demo_core, "vera", severity_url)
    await open_page(other)
    reopened = await other.state(LogsState)
    assert (
        (reopened.q, reopened.severity)
        == (shown.q, shown.severity)
        == ('"orders-main" /waiting \\d+/', "error,fatal")
    )
    assert [row.id for row in reopened.rows] == [row.id for row in shown.rows]
    assert all("orders-main" in row.message and row.service == "orders-api" for row in reopened.rows)


def test_a_level_named_in_the_search_suggests_the_severity_filter() -> None:
    hint = severity_hint("ERROR timeout", "")
    assert hint is not None and (hint.word, hint.severity, hint.rest) == ("ERROR", "error,fatal", "timeout")
    assert severity_hint("warnings", "").severity == "warn,error,fatal"  # type: ignore[union-attr]
    assert severity_hint("error", "error") is None, "a severity is already chosen"
    assert severity_hint("errored connection", "") is None and severity_hint("", "") is None


async def test_searching_a_level_offers_the_filter_and_counts_what_matches(
    demo_core: CoreClient, people
) -> None:
    client = await signed_in(demo_core, "vera", logs_url(demo_core, q="error", service="orders-api"))
    await open_page(client)
    state = await client.state(LogsState)
    assert (state.hint_word, state.hint_severity, state.hint_label) == (
        "error",
        "error,fatal",
        "error and worse",
    )
    by_word = int(state.volume_total.split()[0].replace(",", ""))
    assert "match this search" in state.volume_total

    await run(client, await client.fire(LogsState.use_severity))
    state = await client.state(LogsState)
    assert (state.q, state.severity, state.hint_word) == ("", "error,fatal", "")
    by_level = int(state.volume_total.split()[0].replace(",", ""))
    # orders-api's failures are logged at error level, most without the word in their text.
    assert by_level > by_word and all(row.severity in ("error", "fatal") for row in state.rows)


async def test_a_highlight_link_opens_its_page_marks_and_scrolls_to_it(demo_core: CoreClient, people) -> None:
    pages = await walk(demo_core, two_hours(demo_core))
    target = pages[3][10]
    client = await signed_in(demo_core, "vera", logs_url(demo_core, highlight=target))
    sent = await open_page(client)

    state = await client.state(LogsState)
    assert state.highlight == target and state.page_number == 4 and target in [row.id for row in state.rows]
    assert f'"{row_element_id(target)}"' in scripts(sent) and "scrollIntoView" in scripts(sent)

    await client.fire(LogsState.previous_page)
    assert (await client.state(LogsState)).rows[0].id == pages[2][0]


async def test_patterns_tab_and_context_in_the_state(demo_core: CoreClient, people) -> None:
    client = await signed_in(demo_core, "vera", logs_url(demo_core))
    await open_page(client)

    sent = await run(client, await client.fire(LogsState.pick_tab, tab="patterns"))
    assert dict(parse_qsl(urlsplit(sent.urls()[0][1]).query))["tab"] == "patterns"
    state = await client.state(LogsState)
    assert not state.patterns_loading and state.patterns_error == ""
    assert any(row.change == "new" and row.template.startswith(POOL) for row in state.patterns)
    assert "new" in state.patterns_note
    pool = next(row for row in state.patterns if row.template.startswith(POOL))

    # A pattern's example opens on the Lines tab, marked.
    shown = await client.fire(LogsState.show_line, log_id=pool.example_id)
    params = dict(parse_qsl(urlsplit(shown.urls()[0][1]).query))
    assert params["highlight"] == pool.example_id and "tab" not in params
    state = await client.state(LogsState)
    assert (state.tab, state.highlight) == ("lines", pool.example_id)
    assert pool.example_id in [row.id for row in state.rows]

    line = state.rows[5].id
    await client.fire(LogsState.toggle_context, log_id=line)
    state = await client.state(LogsState)
    assert state.expanded == line and [row.id for row in state.context if row.anchor] == [line]
    await client.fire(LogsState.toggle_context, log_id=line)
    assert (await client.state(LogsState)).context == []


async def test_a_failing_log_provider_shows_on_its_panels(demo_core: CoreClient, people, monkeypatch) -> None:
    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("connection refused")

    provider = demo_core.provider_for(Capability.LOG).instance
    monkeypatch.setattr(provider, "query", broken)
    monkeypatch.setattr(provider, "histogram", broken)
    client = await signed_in(demo_core, "vera", logs_url(demo_core))
    await open_page(client)

    state = await client.state(LogsState)
    assert "connection refused" in state.lines_error and "connection refused" in state.volume_error
    assert state.rows == [] and not state.loading and not state.volume_loading
