import pytest

from ivr.core.errors import FlowError
from ivr.core.flow import WORK_ORDER_STATUSES, Kind
from ivr.core.flowfile import parse_flow

from .flows import CATALOG, HEAD, QUEUES, city, flow

HEAD_LINES = HEAD.count("\n")  # node text below starts on line HEAD_LINES + 1

OK_END = """
[nodes.end]
type = "hangup"
"""


def issues(text: str, **kw: object) -> list[tuple[int, str]]:
    with pytest.raises(FlowError) as info:
        flow(text, **kw)
    return [(i.line - HEAD_LINES, i.reason) for i in info.value.issues]


def test_the_shipped_city_flow_loads_with_every_node_type_it_needs() -> None:
    f = city()
    kinds = {n.kind for n in f.nodes.values()}
    assert {Kind.MENU, Kind.LOOKUP, Kind.QUEUE, Kind.TRANSFER, Kind.VOICEMAIL, Kind.CALLBACK} <= kinds
    assert {n.number for n in f.nodes.values() if n.kind is Kind.TRANSFER} == {"110", "119", "120", "122"}
    assert dict(f.survey.choices) == {"1": "满意", "2": "基本满意", "3": "不满意"}
    assert f.lists["vip"] == frozenset({"13900000000"})


def test_every_work_order_state_has_a_read_back_prompt_and_matches_the_workorders_states() -> None:
    from workorders.core.model import State

    assert set(WORK_ORDER_STATUSES) == {s.value for s in State}
    assert {f"wo_status_{s}" for s in (*WORK_ORDER_STATUSES, "unknown")} <= CATALOG


def test_an_unknown_target_is_reported_on_the_line_of_its_key() -> None:
    found = issues('[nodes.a]\ntype = "play"\nprompt = "welcome"\nnext = "nowhere"\n')
    assert found == [(4, "node a: next points to unknown node 'nowhere'")]


def test_a_menu_choice_to_an_unknown_node_points_at_the_choice_line() -> None:
    text = (
        '[nodes.a]\ntype = "menu"\nprompt = "p"\non_failure = "end"\n[nodes.a.choices]\n1 = "end"\n2 = "gone"\n'
        + OK_END
    )
    assert issues(text) == [(7, "node a: choices.2 points to unknown node 'gone'")]


def test_a_missing_prompt_is_refused_when_the_prompt_names_are_known() -> None:
    text = '[nodes.a]\ntype = "play"\nprompt = ["welcome", "no_such"]\nnext = "end"\n' + OK_END
    assert issues(text, prompts=CATALOG) == [(3, "node a: missing prompt 'no_such'")]
    assert flow(text).node("a").prompt == ("welcome", "no_such")  # not checked without a prompt list


def test_an_unknown_queue_is_refused_with_the_known_names() -> None:
    text = '[nodes.a]\ntype = "queue"\n\nqueue = "genral"\n'
    assert issues(text, queues=QUEUES) == [(4, "node a: unknown queue 'genral' (known: business, dialect, general)")]


def test_an_unreachable_node_is_reported_at_its_table() -> None:
    text = '[nodes.a]\ntype = "hangup"\n\n[nodes.orphan]\ntype = "hangup"\n'
    assert issues(text) == [(4, "node orphan: unreachable from start node 'a'")]


def test_a_loop_without_exit_is_refused() -> None:
    text = (
        '[nodes.a]\ntype = "play"\nprompt = "x"\nnext = "b"\n'
        '[nodes.b]\ntype = "menu"\nprompt = "m"\nchoices = { 1 = "a" }\non_failure = "a"\nmax_visits = 3\non_max_visits = "a"\n'
    )
    found = issues(text)
    assert found[0][0] == 1
    assert found[0][1].startswith("loop without exit: a → b")


def test_a_loop_a_silent_caller_would_go_round_for_ever_needs_a_counter() -> None:
    menu = '[nodes.a]\ntype = "menu"\nprompt = "m"\nchoices = { 1 = "end" }\non_failure = "b"\n'
    back = '[nodes.b]\ntype = "play"\nprompt = "x"\nnext = "a"\n'
    found = issues(menu + back + OK_END)
    assert found == [(1, "loop without caller input: a → b; bound it with max_visits and on_max_visits")]
    bounded = menu + 'max_visits = 2\non_max_visits = "end"\n' + back + OK_END
    assert flow(bounded).node("a").max_visits == 2


def test_a_retry_loop_driven_by_keys_is_fine() -> None:
    text = '[nodes.a]\ntype = "menu"\nprompt = "m"\nchoices = { 1 = "a", 2 = "end" }\non_failure = "end"\n' + OK_END
    assert flow(text).node("a").choices == (("1", "a"), ("2", "end"))


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        ('type = "menu"\nprompt = "m"\nchoices = { 1 = "end" }\non_failure = "end"\nmax_digits = "two"\n', 5,
         "nodes.a.max_digits must be an integer, got str"),
        ('type = "menu"\nprompt = "m"\nchoices = { 1 = "end" }\non_failure = "end"\ntimeout = 0\n', 5,
         "nodes.a.timeout must be between 0.5 and 60.0, got 0"),
        ('type = "menu"\nprompt = "m"\nchoices = { 1 = "end" }\non_failure = "end"\nbarge_in = "yes"\n', 5,
         "nodes.a.barge_in must be true or false, got str"),
        ('type = "play"\nprompt = 5\nnext = "end"\n', 2, "nodes.a.prompt must be a string or a list of strings"),
        ('type = "transfer"\nnumber = "11O"\n', 2, "node a: transfer number '11O' must be digits"),
        ('type = "dance"\n', 1, "node a: type 'dance' is not one of: " + ", ".join(k.value for k in Kind)),
        ('type = "play"\nprompt = "x"\nnext = "end"\ncolour = "red"\n', 4, "node a: key 'colour' does not belong to a play node"),
        ('type = "play"\nprompt = "x"\n', 0, "node a: a play node needs 'next'"),
        ('type = "time_of_day"\nperiods = ["8:30-25:00"]\ninside = "end"\noutside = "end"\n', 2,
         "node a: period '8:30-25:00' is not HH:MM-HH:MM"),
        ('type = "caller_list"\nlist = "friends"\nmatch = "end"\nother = "end"\n', 2, "node a: no caller list [lists] 'friends'"),
    ],
)  # fmt: skip
def test_bad_values_are_refused_with_the_line_and_reason(body: str, line: int, reason: str) -> None:
    found = issues("[nodes.a]\n" + body + OK_END)
    assert (line + 1, reason) in found


def test_a_toml_syntax_error_gives_its_line() -> None:
    with pytest.raises(FlowError) as info:
        parse_flow('[flow]\nstart = "a"\n\n[nodes.a]\ntype = = "x"\n', "bad.toml")
    (issue,) = info.value.issues
    assert (issue.source, issue.line) == ("bad.toml", 5)
    assert str(issue).startswith("bad.toml:5: not valid TOML")


def test_every_problem_of_a_file_is_listed_in_line_order() -> None:
    text = (
        '[nodes.a]\ntype = "play"\nprompt = "nope"\nnext = "b"\n'
        '[nodes.b]\ntype = "queue"\nqueue = "x"\n'
        '[nodes.c]\ntype = "hangup"\n'
    )
    with pytest.raises(FlowError) as info:
        flow(text, prompts=CATALOG, queues=QUEUES)
    lines = [i.line - HEAD_LINES for i in info.value.issues]
    assert lines == sorted(lines) and lines == [3, 7]
    assert "t.toml:" in str(info.value)


def test_a_menu_choice_holding_the_terminator_is_refused() -> None:
    text = '[nodes.a]\ntype = "menu"\nprompt = "m"\nchoices = { "#" = "end", 1 = "end" }\non_failure = "end"\n' + OK_END
    assert issues(text) == [(4, "node a: choice '#' holds the terminator '#'; set terminator = \"\"")]
    allowed = text.replace('on_failure = "end"', 'on_failure = "end"\nterminator = ""')
    assert flow(allowed).node("a").choices[0] == ("#", "end")


def test_a_choice_that_is_not_keypad_digits_points_at_its_line() -> None:
    text = (
        '[nodes.a]\ntype = "menu"\nprompt = "m"\non_failure = "end"\n[nodes.a.choices]\n1 = "end"\nA = "end"\n' + OK_END
    )
    assert issues(text) == [(7, "node a: choice 'A' is not keypad digits (0-9 * #)")]


def test_a_queue_load_node_needs_a_limit() -> None:
    text = '[nodes.a]\ntype = "queue_load"\nqueue = "general"\nok = "end"\noverloaded = "end"\n' + OK_END
    assert issues(text) == [(1, "node a: a queue_load node needs max_waiting or max_expected_wait")]
