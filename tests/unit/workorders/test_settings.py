import datetime as dt

import pytest

from hotline.settings import SettingsError
from tests.unit.workorders.conftest import at
from workorders.calendar_source import build_calendar
from workorders.core.deadlines import OrderType, Urgency, compute_deadlines
from workorders.settings import WorkOrderSettings, load_workorder_settings


def test_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("HOTLINE_WORKORDERS__SIGN_WORKING_HOURS", "1.5")
    monkeypatch.setenv("HOTLINE_WORKORDERS__REPLY_WORKING_DAYS", '{"consult": 2}')
    limits = load_workorder_settings().limits()
    assert limits.sign_working_hours == 1.5
    assert limits.reply_working_days[OrderType.CONSULT] == 2 and limits.reply_working_days[OrderType.HELP] == 5


def test_a_wrong_setting_is_one_line_naming_it(monkeypatch):
    monkeypatch.setenv("HOTLINE_WORKORDERS__WORKING_HOURS", "8-12")
    with pytest.raises(SettingsError, match=r"workorders.working_hours.*HOTLINE_WORKORDERS__WORKING_HOURS"):
        load_workorder_settings()


def test_the_override_table_wins_over_the_package():
    # 2026-03-11 (Wed) declared a holiday, Sat 2026-03-14 a workday.
    wo = WorkOrderSettings(extra_holidays=[dt.date(2026, 3, 11)], extra_workdays=[dt.date(2026, 3, 14)])
    cal = build_calendar(wo)
    d = compute_deadlines(cal, wo.limits(), OrderType.CONSULT, Urgency.GENERAL, at("2026-03-10 17:00"))
    assert d.sign_by == at("2026-03-12 10:00")
    d = compute_deadlines(cal, wo.limits(), OrderType.CONSULT, Urgency.GENERAL, at("2026-03-13 17:00"))
    assert d.sign_by == at("2026-03-14 10:00")


def test_consult_orders_become_extendable_only_by_setting():
    assert OrderType.CONSULT not in WorkOrderSettings().limits().extendable_types
    assert OrderType.CONSULT in WorkOrderSettings(consult_extendable=True).limits().extendable_types


def test_which_replies_need_the_leader_comes_from_the_settings(monkeypatch):
    assert WorkOrderSettings().approval_urgencies == [Urgency.SPECIAL, Urgency.SPECIAL_URGENT]
    monkeypatch.setenv("HOTLINE_WORKORDERS__APPROVAL_UNITS", '["housing", "water"]')
    monkeypatch.setenv("HOTLINE_WORKORDERS__APPROVAL_URGENCIES", '["special_urgent"]')
    wo = load_workorder_settings()
    assert wo.approval_units == ["housing", "water"] and wo.approval_urgencies == [Urgency.SPECIAL_URGENT]
    monkeypatch.setenv("HOTLINE_WORKORDERS__APPROVAL_UNITS", '["water%"]')
    with pytest.raises(SettingsError, match="approval_units"):
        load_workorder_settings()
