"""Masks: variables found by their shape in any log and named where the shape says what they are."""

from __future__ import annotations

import pytest

from core_client.analysis.accuracy import canonical_template, grouping_accuracy, parsing_score
from core_client.analysis.variables import LineMasker, as_wildcards, is_host_name, is_variable, mask_message


@pytest.mark.parametrize(
    ("message", "tokens"),
    [
        ("session opened for user root by LOGIN(uid=0)",
         ["session", "opened", "for", "user", "root", "by", "LOGIN(uid=<num>)"]),
        ("connect to 10.0.0.1:5432 took 35ms at /var/lib/pg/data",
         ["connect", "to", "<ip>:<port>", "took", "<duration>", "at", "<path>"]),
        ("db-primary.internal:5432 refused; retry in 1m30s (512KiB queued)",
         ["<host>:<port>", "refused;", "retry", "in", "<duration>", "(<size>", "queued)"]),
        ("GET https://api.example.com/v1/orders?id=3, from 2001:db8::8a2e:370:7334 and fe80::1%eth0",
         ["GET", "<url>,", "from", "<ip>", "and", "<ip>"]),
        ("job 123e4567-e89b-12d3-a456-426614174000 on 00:1A:2B:3C:4D:5E ptr 0x7fb4f2e0 sha 9f86d081884c7d65",
         ["job", "<uuid>", "on", "<mac>", "ptr", "<hex>", "sha", "<hex>"]),
        ("at Fri Jun 17 07:07:00 2005 and 2024-05-01T12:00:00.5Z and 2015-10-18 18:01:47,978",
         ["at", "<time>", "and", "<time>", "and", "<time>", "<time>"]),
        ("mail to ops@example.com from C:\\Windows\\Temp\\x.log", ["mail", "to", "<email>", "from", "<path>"]),
        ("generating core.2391 blk_-1608999687919862906 [19939]:", ["generating", "core.<num>", "<*>", "[<num>]:"]),
    ],
)  # fmt: skip
def test_masks_name_the_variables_they_know(message: str, tokens: list[str]) -> None:
    assert mask_message(message) == tokens
    assert LineMasker().mask(message) == tokens


def test_host_names_need_a_top_level_domain_and_files_stay_words() -> None:
    assert is_host_name("db.internal") and is_host_name("proxy.cse.cuhk.edu.hk") and is_host_name("shop.de")
    assert (
        not is_host_name("chrome.exe") and not is_host_name("main.py") and not is_host_name("org.apache.Foo")
    )
    assert is_host_name("build.tools.sh")  # three labels: a host, though .sh is also a script
    assert mask_message("chrome.exe opened workerEnv.init() ok") == [
        "chrome.exe",
        "opened",
        "workerEnv.init()",
        "ok",
    ]


def test_ipv6_is_found_glued_to_words_and_to_another_but_not_in_scope_operators() -> None:
    assert mask_message("addr:fe80::1 PendingReds:aee2:3a78:1106:24c3::9788:a93") == [
        "addr:<ip>",
        "PendingReds:<ip>",
    ]
    assert mask_message(
        "/d9fa:b6cb:d9c2:6cee:3181:707a:ee85:8ff8:e3c8:200f:e6d5:99ce:f062:1e49:9500:7dcd"
    ) == ["/<ip>:<ip>"]
    assert mask_message("AppleDeviceManagementHIDEventService::start at 12:30:45") == [
        "AppleDeviceManagementHIDEventService::start", "at", "<time>",
    ]  # fmt: skip


def test_variable_tokens_are_placeholders_and_punctuation_only() -> None:
    assert is_variable("<ip>:<port>") and is_variable("[<num>]") and is_variable("<<hex>>")
    assert not is_variable("rhost=<ip>") and not is_variable("ssh2") and not is_variable("<NSXPCConnection:")
    assert as_wildcards("from <ip> port <num> in <duration>") == "from <*> port <*> in <*>"


def test_canonical_templates_compare_equivalent_spellings() -> None:
    assert canonical_template("blk_<*>  terminating") == "<*> terminating"
    assert canonical_template("from <*>:<*> at /var/log/x") == "from <*> at <*>"
    assert canonical_template("took <*>.<*> s, <*><*> left") == "took <*> s, <*> left"
    assert canonical_template("state 42 of 7") == "state <*> of <*>"


def test_parsing_score_counts_groups_lines_and_templates() -> None:
    truth = ["a <*>", "a <*>", "b <*>", "c"]
    found = ["a <*>", "a <*>", "b x", "b x"]  # "b x" merges two events and is spelt wrong
    result = parsing_score(found, truth)
    assert result.ga == 0.5 and result.pa == 0.5
    assert result.fga == pytest.approx(2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3))
    assert result.fta == result.fga  # the one right group is also spelt right
    assert grouping_accuracy(["a", "a", "a", "b"], ["x", "x", "y", "z"]) == 0.25
    with pytest.raises(ValueError, match="3 templates for 4 lines"):
        parsing_score(found[:3], truth)
