"""The global scope: read from and written to the URL, resolved against the world's clock, offered from the catalog."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from console.backend.scope import Scope, scope_changes, scope_options, url_with
from console.state.scope import ScopeState
from core_client.client import CoreClient
from core_client.schemas import QueryScope
from tests.console.demo_world import built_world, demo_core, people, signed_in

__all__ = ["built_world", "demo_core", "people"]

NOW = datetime(2025, 6, 11, 14, 20, tzinfo=UTC)


def test_a_url_without_scope_means_everything_over_the_last_24_hours() -> None:
    scope = Scope.from_params({})
    assert scope.query_scope() == QueryScope()
    assert scope.window(NOW) == (NOW - timedelta(hours=24), NOW)
    assert scope.label() == "Last 24h"
    assert scope.to_params() == {} and not scope.chosen


def test_service_team_environment_and_a_preset() -> None:
    scope = Scope.from_params({"service": "orders-api", "team": "commerce", "env": "prod", "range": "1h"})
    assert scope.query_scope() == QueryScope(service="orders-api", team="commerce", environment="prod")
    assert scope.window(NOW) == (NOW - timedelta(hours=1), NOW) and scope.chosen
    assert scope.to_params() == {"service": "orders-api", "team": "commerce", "env": "prod", "range": "1h"}


def test_an_absolute_window_wins_over_a_preset_and_round_trips() -> None:
    params = {"from": "2025-06-11T10:00:00Z", "to": "2025-06-11T12:30:00Z", "range": "7d"}
    scope = Scope.from_params(params)
    start, end = datetime(2025, 6, 11, 10, tzinfo=UTC), datetime(2025, 6, 11, 12, 30, tzinfo=UTC)
    assert (scope.range, scope.window(NOW), scope.chosen) == ("", (start, end), True)
    assert scope.label() == "2025-06-11 10:00 → 2025-06-11 12:30 UTC"
    assert scope.to_params() == {"from": "2025-06-11T10:00:00Z", "to": "2025-06-11T12:30:00Z"}


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ({"range": "3 weeks"}, "The link's time range '3 weeks' is not one of 1h, 6h, 24h, 7d"),
        (
            {"from": "yesterday", "to": "2025-06-11T12:00:00Z"},
            "The link's “from” is not a time ('yesterday'; times are ISO-8601 UTC",
        ),
        (
            {"from": "2025-06-11T12:00:00Z", "to": "2025-06-11T10:00:00Z"},
            "The link's time range ends before it starts (2025-06-11 12:00 → 2025-06-11 10:00 UTC)",
        ),
        ({"from": "2025-06-11T12:00:00Z"}, "The link gives only “from” of its time range"),
        (
            {"from": "2025-06-11T12:00:00Z", "to": "2025-06-11T12:00:00Z"},
            "The link's time range is empty",
        ),
    ],
)
def test_a_mangled_time_range_falls_back_to_the_default_and_says_why(
    params: dict[str, str], why: str
) -> None:
    scope = Scope.from_params(params)
    assert (scope.range, scope.start, scope.end, scope.chosen) == ("24h", None, None, False)
    assert scope.problem.startswith(why) and scope.problem.endswith(": showing the last 24h instead.")


def test_a_usable_range_has_no_problem_and_a_preset_beside_a_bad_window_is_used() -> None:
    assert Scope.from_params({"range": "6h"}).problem == Scope.from_params({}).problem == ""
    scope = Scope.from_params({"from": "2025-06-11T12:00:00Z", "to": "2025-06-11T10:00:00Z", "range": "6h"})
    assert scope.range == "6h" and scope.problem.endswith("showing the last 6h instead.")


def test_urls_keep_the_other_parameters_and_drop_cleared_ones() -> None:
    current = {"status": "open", "service": "orders-api", "range": "1h"}
    assert url_with("/incidents", current, {"service": None, "team": "commerce"}) == (
        "/incidents?range=1h&status=open&team=commerce"
    )
    assert url_with("/incidents", {"q": "db pool"}, {"q": ""}) == "/incidents"
    cleared = scope_changes(Scope())
    assert url_with("/alerts", {**current, "from": "x"}, cleared) == "/alerts?status=open"


async def test_the_pickers_offer_the_catalog(demo_core: CoreClient) -> None:
    options = await scope_options(demo_core)
    assert len(options.services) == 15 and "orders-api" in {option.value for option in options.services}
    assert [team.value for team in options.teams] == ["commerce", "discovery", "payments", "platform", "web"]
    assert options.environments == ["prod", "staging"]
    assert options.error == ""


async def test_opening_a_page_reads_the_scope_against_the_world_clock(demo_core: CoreClient, people) -> None:
    client = await signed_in(demo_core, "rick", "/incidents?service=orders-api&env=prod&range=6h")

    await client.fire(ScopeState.open_page)

    scope = await client.state(ScopeState)
    assert (scope.scope_service, scope.scope_team, scope.scope_environment) == ("orders-api", "", "prod")
    assert scope.query_scope() == QueryScope(service="orders-api", environment="prod")
    assert (scope.window_start, scope.window_end) == ("2025-06-11T08:20:00Z", "2025-06-11T14:20:00Z")
    assert scope.window() == (NOW - timedelta(hours=6), NOW)
    assert (scope.time_range, scope.window_label) == ("6h", "Last 6h")
    assert scope.range_chosen and scope.chosen_window() == scope.window()
    assert "orders-api" in {option.value for option in scope.service_options}
    assert scope.environment_options == ["prod", "staging"]

    client.goto("/incidents?service=orders-api")
    await client.fire(ScopeState.open_page)
    default = await client.state(ScopeState)
    assert (default.time_range, default.range_chosen, default.chosen_window()) == ("24h", False, None)
    assert default.range_problem == ""

    client.goto("/incidents?from=2025-06-11T12:00:00Z&to=2025-06-11T10:00:00Z")
    await client.fire(ScopeState.open_page)
    backwards = await client.state(ScopeState)
    assert backwards.range_problem.startswith("The link's time range ends before it starts")


async def test_the_scope_bar_navigates_to_the_same_page_with_new_parameters(
    demo_core: CoreClient, people
) -> None:
    client = await signed_in(demo_core, "rick", "/incidents?severity=sev1&service=orders-api")
    await client.fire(ScopeState.open_page)

    picked = await client.fire(ScopeState.pick_team, value="commerce")
    assert picked.redirects() == ["/incidents?service=orders-api&severity=sev1&team=commerce"]
    anyone = await client.fire(ScopeState.pick_service, value="any")
    assert anyone.redirects() == ["/incidents?severity=sev1"]
    preset = await client.fire(ScopeState.pick_range, value="7d")
    assert preset.redirects() == ["/incidents?range=7d&service=orders-api&severity=sev1"]
    # Choosing the default range is still a choice: it stays in the URL and narrows the lists.
    default = await client.fire(ScopeState.pick_range, value="24h")
    assert default.redirects() == ["/incidents?range=24h&service=orders-api&severity=sev1"]
    cleared = await client.fire(ScopeState.clear_scope)
    assert cleared.redirects() == ["/incidents?severity=sev1"]


async def test_a_custom_window_is_read_as_utc(demo_core: CoreClient, people) -> None:
    client = await signed_in(demo_core, "rick", "/deployments")
    await client.fire(ScopeState.open_page)

    await client.fire(ScopeState.set_custom_from, value="2025-06-10T08:00")
    await client.fire(ScopeState.set_custom_to, value="2025-06-10T09:30")
    applied = await client.fire(ScopeState.apply_custom_range)
    assert applied.redirects() == ["/deployments?from=2025-06-10T08:00:00Z&to=2025-06-10T09:30:00Z"]

    await client.fire(ScopeState.set_custom_to, value="2025-06-10T07:00")
    backwards = await client.fire(ScopeState.apply_custom_range)
    assert backwards.redirects() == [] and "the start first" in backwards.toasts()[0]
