import datetime as dt

import pytest

from knowledge.core import lifecycle as lc
from knowledge.core.model import Actor, Content, State
from knowledge.core.validate import InvalidEntry, content_from
from workorders.core.calendar import WorkCalendar

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # Tuesday 10:00 in China
UNIT = Actor("hr1", "unit", "hrss")
OTHER_UNIT = Actor("water1", "unit", "water")
ADMIN = Actor("admin1", "admin")
REVIEWER = Actor("sup1", "supervisor")
SEAT = Actor("seat1", "seat")
CONTENT = Content(
    question="医保怎么报销", answer="<p>到窗口</p>", category="社会保障/医疗保险", scope="city", unit="hrss"
)


def ctx(now: dt.datetime = NOW) -> lc.Context:
    return lc.Context(now, WorkCalendar())


def entry_in(state: State):
    e = lc.decide(None, lc.Create("kb-1", CONTENT), UNIT, ctx()).entry
    return e if state is State.DRAFT else type(e)(**{**e.__dict__, "state": state})


SAMPLE_EVENTS = {
    lc.Create: lc.Create("kb-1", CONTENT),
    lc.Edit: lc.Edit(CONTENT),
    lc.Submit: lc.Submit(),
    lc.Review: lc.Review(),
    lc.Reject: lc.Reject("缺政策依据"),
    lc.Publish: lc.Publish(),
    lc.Withdraw: lc.Withdraw("政策废止"),
    lc.Expire: lc.Expire(),
    lc.Import: lc.Import("kb-1", CONTENT),
}


def actor_for(kind) -> Actor:
    return UNIT if ADMIN.role in lc.ROLES[kind] and UNIT.role in lc.ROLES[kind] else ADMIN


@pytest.mark.parametrize(
    ("state", "kind", "target"),
    [(s, k, t) for s, row in lc.TRANSITIONS.items() for k, t in row.items()],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_every_entry_of_the_table_moves_the_entry_to_its_target(state, kind, target):
    entry = None if state is None else entry_in(state)
    decision = lc.decide(entry, SAMPLE_EVENTS[kind], actor_for(kind), ctx())
    assert decision.entry.state is target
    assert decision.change.to_state == target.value
    assert decision.change.from_state == (state.value if state else "")
    assert decision.entry.version == (1 if entry is None else entry.version + 1)


@pytest.mark.parametrize(
    ("state", "kind"),
    [(s, k) for s in [None, *State] for k in SAMPLE_EVENTS if k not in lc.TRANSITIONS[s]],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_a_pair_missing_from_the_table_is_refused(state, kind):
    entry = None if state is None else entry_in(state)
    with pytest.raises(lc.IllegalEvent):
        lc.decide(entry, SAMPLE_EVENTS[kind], ADMIN, ctx())


def test_a_unit_cannot_edit_another_units_entry_nor_create_for_it():
    entry = entry_in(State.DRAFT)
    with pytest.raises(lc.Forbidden):
        lc.decide(entry, lc.Edit(CONTENT), OTHER_UNIT, ctx())
    with pytest.raises(lc.Forbidden):
        lc.decide(None, lc.Create("kb-2", CONTENT), OTHER_UNIT, ctx())
    assert lc.allowed(entry, OTHER_UNIT) == []
    assert "edit" in lc.allowed(entry, UNIT)


def test_a_unit_cannot_move_its_entry_to_another_unit():
    moved = Content(**{**CONTENT.__dict__, "unit": "water"})
    with pytest.raises(lc.Forbidden):
        lc.decide(entry_in(State.DRAFT), lc.Edit(moved), UNIT, ctx())


def test_only_reviewers_review_and_publish():
    with pytest.raises(lc.Forbidden):
        lc.decide(entry_in(State.SUBMITTED), lc.Review(), UNIT, ctx())
    with pytest.raises(lc.Forbidden):
        lc.decide(entry_in(State.REVIEWED), lc.Publish(), SEAT, ctx())
    assert lc.decide(entry_in(State.REVIEWED), lc.Publish(), REVIEWER, ctx()).entry.published_at == NOW


def test_an_edit_records_who_changed_which_fields():
    new = Content(**{**CONTENT.__dict__, "answer": "<p>线上办理</p>"})
    d = lc.decide(entry_in(State.DRAFT), lc.Edit(new), UNIT, ctx())
    assert d.change.fields == {"answer": ["<p>到窗口</p>", "<p>线上办理</p>"]}
    assert d.change.actor == "hr1"
    assert lc.Reindex("kb-1") in d.commands


def test_a_transition_without_new_text_asks_for_no_reindex():
    d = lc.decide(entry_in(State.SUBMITTED), lc.Review(), REVIEWER, ctx())
    assert not any(isinstance(c, lc.Reindex) for c in d.commands)


def test_validity_ending_before_it_starts_is_refused():
    with pytest.raises(InvalidEntry) as exc:
        content_from({**CONTENT.as_dict(), "valid_from": "2026-05-01", "valid_to": "2026-04-30"})
    assert exc.value.field == "valid_to"


def test_an_entry_expires_once_its_validity_has_ended():
    c = Content(**{**CONTENT.__dict__, "valid_to": dt.date(2026, 3, 9)})
    published = lc.decide(None, lc.Import("kb-9", c), ADMIN, ctx()).entry
    assert lc.expire_due(published, dt.date(2026, 3, 10))
    assert not lc.expire_due(published, dt.date(2026, 3, 9))
    assert published.expired_on(dt.date(2026, 3, 10)) and not published.expired_on(dt.date(2026, 3, 9))
