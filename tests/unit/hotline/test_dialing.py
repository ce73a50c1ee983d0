"""Where seats may dial out: the allowed patterns, the same for the dialplan and for call control."""

from __future__ import annotations

import pytest

from hotline.dialing import DialPolicy, policy, render_dialplan


@pytest.mark.parametrize(
    "number",
    ["110", "119", "120", "122", "13812345678", "14512345678", "15912345678", "16612345678", "17712345678",
     "18612345678", "19912345678", "87654321", "23456789"],
)  # fmt: skip
def test_emergency_local_and_mobile_numbers_are_allowed(number: str) -> None:
    assert policy().allows(number)


@pytest.mark.parametrize(
    "number",
    [
        "00441234567",  # international
        "16800000000",  # 168: an information service, not a mobile prefix
        "1abc",
        "9&Local/110%40from-seats/n&PJSIP/2",  # Dial() injection
        "110&PJSIP/2",
        "1381234567",  # one digit short
        "138123456789",  # one digit long
        "05131234567",  # long distance: only when the deployment adds it
        "12345",  # the hotline itself is reached inside Asterisk, never through the trunk
        "",
        "95588",
        "4001234567",
    ],
)
def test_everything_else_is_refused(number: str) -> None:
    assert not policy().allows(number)


def test_a_deployment_adds_its_own_patterns_once() -> None:
    p = policy(["_0513XXXXXXXX", "110"])
    assert p.allows("051312345678") and not p.allows("051012345678")
    assert p.patterns.count("110") == 1


@pytest.mark.parametrize("bad", ["_X.", "_1X!", "9&PJSIP/2", "_[a-z]XX", "_13XXXXXXXXX,1"])
def test_an_open_ended_or_strange_pattern_is_refused_with_its_name(bad: str) -> None:
    with pytest.raises(ValueError, match="dial pattern"):
        DialPolicy((bad,))


def test_the_rendered_rules_dial_only_the_patterns_and_filter_the_number() -> None:
    text = render_dialplan(policy())
    rules = [line for line in text.splitlines() if line.startswith("exten")]
    assert len(rules) == len(policy().patterns)
    assert all("Dial(PJSIP/${FILTER(0-9,${EXTEN})}@trunk-out,60)" in r for r in rules)
    assert not any(r.startswith("exten => _X.") for r in rules)
