"""The pure parts of `hotline bench voice`: reading the traces, telling lost and doubled callers
from abandons, the connect delay, the capacity knee, and what the bench writes for app_queue."""

from __future__ import annotations

import argparse
import os

import pytest

from bench.voice import asterisk, capacity, measure, plan, summary, trace
from bench.voice.trace import Msg
from hotline.errors import CommandError


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    plan.add_arguments(parser)
    return parser.parse_args(list(argv))


def _invite(t: float, number: str, cid: str) -> Msg:
    return Msg(t, True, "INVITE sip:12345@a SIP/2.0", cid, "INVITE", number, "12345", "")


def _got(t: float, first: str, cid: str, number: str, pai: str = "", cseq: str = "INVITE") -> Msg:
    return Msg(t, False, first, cid, cseq, "12345", number, pai)


def _seat(t: float, sent: bool, first: str, cid: str, number: str, cseq: str = "INVITE") -> Msg:
    return Msg(t, sent, first, cid, cseq, number, "seatbench001", "")


def test_a_caller_refused_or_hung_up_by_asterisk_is_lost_but_one_who_gave_up_abandoned():
    caller = [
        _invite(1.0, "A", "a"),  # connected: the re-INVITE with the seat's identity
        _got(1.1, "SIP/2.0 200 OK", "a", "A"),
        _got(3.0, "INVITE sip:A@x SIP/2.0", "a", "A", pai="10000"),
        _invite(1.0, "B", "b"),  # refused while Asterisk was overloaded
        _got(1.2, "SIP/2.0 503 Service Unavailable", "b", "B"),
        _invite(1.0, "C", "c"),  # answered, then Asterisk hung up before any seat
        _got(1.1, "SIP/2.0 200 OK", "c", "C"),
        _got(2.0, "BYE sip:C@x SIP/2.0", "c", "C", cseq="BYE"),
        _invite(1.0, "D", "d"),  # its patience ran out: its own BYE first
        _got(1.1, "SIP/2.0 200 OK", "d", "D"),
        Msg(41.1, True, "BYE sip:12345@a SIP/2.0", "d", "BYE", "D", "12345", ""),
        _invite(1.0, "E", "e"),  # Asterisk never answered and nothing ended it
        _got(1.1, "SIP/2.0 100 Trying", "e", "E"),
    ]
    tr = trace.parse(caller, [])
    assert {n: trace.fate(c) for n, c in tr.callers.items()} == {
        "A": "connected",
        "B": "refused with 503",
        "C": "hung up by Asterisk before a seat was connected",
        "D": "abandoned",
        "E": "never answered by Asterisk",
    }
    numbers = ["A", "B", "C", "D", "E", "F"]
    lost = trace.dropped(tr, numbers)
    assert set(lost) == {"B", "C", "E", "F"} and "never dialled" in lost["F"]
    # With seats always free (phase 1) a caller who waited out its patience was lost too.
    assert set(trace.dropped(tr, numbers, patience_is_choice=False)) == {"B", "C", "D", "E", "F"}


def test_a_call_made_without_the_connected_line_update_is_not_lost():
    caller = [
        _invite(10.0, "A", "a"),
        _got(10.02, "SIP/2.0 200 OK", "a", "A"),
        _got(15.5, "BYE sip:A@x SIP/2.0", "a", "A", cseq="BYE"),  # no re-INVITE ever came
        _invite(10.0, "B", "b"),  # the same, but Asterisk hung up long after its seat left
        _got(10.02, "SIP/2.0 200 OK", "b", "B"),
        _got(19.0, "BYE sip:B@x SIP/2.0", "b", "B", cseq="BYE"),
    ]
    seat = [
        _seat(10.01, False, "INVITE sip:seatbench001@b SIP/2.0", "s1", "A"),
        _seat(12.0, True, "SIP/2.0 200 OK", "s1", "A"),
        _seat(15.2, True, "BYE sip:x SIP/2.0", "s1", "A", cseq="BYE"),  # the seat talked and hung up
        _seat(10.01, False, "INVITE sip:seatbench002@b SIP/2.0", "s2", "B"),
        _seat(12.0, True, "SIP/2.0 200 OK", "s2", "B"),
        _seat(15.2, True, "BYE sip:x SIP/2.0", "s2", "B", cseq="BYE"),
    ]
    tr = trace.parse(caller, seat)
    assert tr.callers["A"].reached and tr.callers["A"].untold == 12.0
    assert trace.fate(tr.callers["A"]) == "connected"
    assert trace.dropped(tr, ["A", "B"]) == {"B": "hung up by Asterisk before a seat was connected"}


def test_a_caller_with_two_seats_up_at_once_is_doubled_but_not_one_whose_first_seat_was_let_go():
    seat = [
        _seat(1.0, False, "INVITE sip:seatbench001@b SIP/2.0", "s1", "A"),
        _seat(2.0, True, "SIP/2.0 200 OK", "s1", "A"),
        _seat(9.0, True, "BYE sip:x SIP/2.0", "s1", "A", cseq="BYE"),
        _seat(3.0, False, "INVITE sip:seatbench002@b SIP/2.0", "s2", "A"),
        _seat(4.0, True, "SIP/2.0 200 OK", "s2", "A"),  # while seat 1 is still up
        # B: the first seat answered, the connection failed and its leg was hung up; then the next
        _seat(1.0, False, "INVITE sip:seatbench003@b SIP/2.0", "s3", "B"),
        _seat(2.0, True, "SIP/2.0 200 OK", "s3", "B"),
        _seat(2.1, False, "BYE sip:x SIP/2.0", "s3", "B", cseq="BYE"),
        _seat(3.0, False, "INVITE sip:seatbench004@b SIP/2.0", "s4", "B"),
        _seat(4.0, True, "SIP/2.0 200 OK", "s4", "B"),
    ]
    assert trace.doubled(trace.parse([], seat)) == ["A"]


def test_connect_delay_runs_from_the_last_seat_answer_before_the_callers_reinvite():
    caller = [_invite(0.0, "A", "a"), _got(5.250, "INVITE sip:A@x SIP/2.0", "a", "A", pai="10000")]
    seat = [
        _seat(1.0, False, "INVITE sip:seatbench001@b SIP/2.0", "s1", "A"),
        _seat(2.0, True, "SIP/2.0 200 OK", "s1", "A"),
        _seat(2.5, False, "BYE sip:x SIP/2.0", "s1", "A", cseq="BYE"),
        _seat(4.0, False, "INVITE sip:seatbench002@b SIP/2.0", "s2", "A"),
        _seat(5.0, True, "SIP/2.0 200 OK", "s2", "A"),
    ]
    tr = trace.parse(caller, seat)
    assert trace.connect_delays(tr) == [pytest.approx(0.25)]
    assert trace.phase2_metrics(tr, 0)["connect_p50_ms"] == 250.0


def test_a_capacity_step_passes_only_with_no_failure_no_seat_cancel_and_p99_within_the_limit():
    good = {"failed": 0, "seat_cancels": 0, "p99_ms": 99.0}
    assert capacity.step_ok(good, 100.0)
    assert not capacity.step_ok({**good, "p99_ms": 100.5}, 100.0)
    assert not capacity.step_ok({**good, "failed": 1}, 100.0)
    assert not capacity.step_ok({**good, "seat_cancels": 2}, 100.0)
    assert not capacity.step_ok({**good, "p99_ms": None}, 100.0)
    steps = [
        {"rate": 20.0, "engine": {"ok": True}, "app_queue": {"ok": True}},
        {"rate": 30.0, "engine": {"ok": True}, "app_queue": {"ok": False}},
        {"rate": 40.0, "engine": {"ok": False}, "app_queue": {"ok": True}},
        {"rate": 50.0, "engine": {"ok": False}},
    ]
    assert capacity.knee(steps, "engine") == 30.0
    assert capacity.knee(steps, "app_queue") == 40.0  # the highest rate it carried
    assert capacity.knee([{"rate": 20.0, "engine": {"ok": False}}], "engine") is None


async def test_the_ramp_alternates_engines_and_stops_each_after_two_failed_steps_in_a_row():
    args = _args("--cap-rates", "10:60:10", "--cap-seconds", "1")
    limit = {"engine": 40.0, "app_queue": 20.0}  # each carries up to its limit
    order = []

    async def run_plan(p: plan.Plan) -> tuple[dict[str, object], list[str]]:
        rate = len(p.starts_ms) / 1.0
        order.append((rate, p.engine))
        ok = rate <= limit[p.engine]
        return {"calls": len(p.starts_ms), "failed": 0 if ok else 3, "seat_cancels": 0, "p99_ms": 5.0}, []

    out, losses = await capacity.ramp(args, ["engine", "app_queue"], run_plan)
    assert out["engine_knee_cps"] == 40.0 and out["app_queue_knee_cps"] == 20.0 and losses == []
    assert order[:4] == [(10.0, "engine"), (10.0, "app_queue"), (20.0, "app_queue"), (20.0, "engine")]
    assert [r for r, e in order if e == "app_queue"] == [10.0, 20.0, 30.0, 40.0]  # two failures, then no more
    assert [r for r, e in order if e == "engine"] == [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]


def test_capacity_rates_take_a_range_or_a_list_and_refuse_nonsense():
    assert plan.cap_rates("20:150:10") == [20.0 + 10 * i for i in range(14)]
    assert plan.cap_rates("50,20,50") == [20.0, 50.0]
    for bad in ("20:10:5", "a:b:c", "20:50:0"):
        with pytest.raises(CommandError):
            plan.cap_rates(bad)


def test_phase2_defaults_give_the_city_interval_and_callers_that_wait_for_it():
    args = _args()
    phases, _engines, _rates = plan.check(args)
    assert phases == ["1", "2"]
    assert args.announce_every == 30.0  # acd/queues/city.toml, general queue
    assert args.load == 1.0 and args.patience == 60.0
    todo = plan.plans(args, ["2"], ["engine", "app_queue"], [20.0])
    assert {p.announce_every_s for p in todo} == {30.0} and {p.phase for p in todo} == {"2"}


def test_app_queue_gets_the_same_interval_and_the_hotline_prompts():
    text = asterisk.render_queue_waiting(30.0, "/usr/share/asterisk/sounds/hotline/")
    options = dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith(";"))
    assert options["announce-frequency"] == options["periodic-announce-frequency"] == "30"
    assert options["min-announce-frequency"] == "30"
    assert options["periodic-announce"] == "/usr/share/asterisk/sounds/hotline/callback_offer"
    assert options["queue-thereare"].endswith("/position_before") and options["musicclass"] == "default"
    assert options["queue-thankyou"] == ""
    # it continues queues.conf's [bench]: a section header would end that queue
    assert not [line for line in text.splitlines() if line.startswith("[")]
    assert asterisk.render_queue_waiting(0, "/x") == asterisk.NO_QUEUE_OPTIONS


def test_app_queue_announcements_are_counted_from_asterisks_verbose_log():
    log = "\n".join(
        [
            "    -- Told PJSIP/bench-caller-app_queue-00000012 in bench their queue position (which was 3)",
            "    -- Hold time for bench is 1 minute(s) 0 seconds",
            "    -- Playing periodic announcement",
            "    -- Told PJSIP/bench-caller-app_queue-00000013 in bench their queue position (which was 1)",
            "    -- Told PJSIP/other-00000001 in sales their queue position (which was 1)",
        ]
    )
    assert asterisk.app_queue_announcements(log) == {"position": 2, "callback_offer": 1}


def test_a_task_queue_above_its_low_water_mark_is_busy():
    header = "Processor       Processed   In Queue  Max Depth  Low water High water Low time(us) High time(us)"
    assert not asterisk.busy(header)
    assert asterisk.busy("stasis/m:devicestate:all-00000008   92557   480   500   450   500   0   28784")
    assert not asterisk.busy("stasis/m:devicestate:all-00000008   92557   12   500   450   500   0   28784")


def test_cpu_time_is_read_from_proc_and_divided_per_call():
    mine = measure.cpu_seconds(os.getpid())
    assert mine is not None and mine > 0
    assert measure.cpu_seconds(None) is None
    assert measure.per_call_ms(1.0, 2.2, 600) == 2.0
    assert measure.per_call_ms(1.0, 2.0, 0) is None


def test_loss_lines_name_the_run_and_the_caller():
    lines = measure.loss_lines("p1@50 engine", {"13900000000002": "refused with 503"}, ["13900000000007"])
    assert lines == [
        "voice p1@50 engine: caller 13900000000002 refused with 503",
        "voice p1@50 engine: caller 13900000000007 answered by two seats at once",
    ]


def test_summary_sums_losses_over_all_runs_and_reports_the_cost_per_call():
    args = _args("--phases", "1", "--rates", "20,50")
    run = {"p50_ms": 4.0, "p99_ms": 9.0, "failed": 0, "lost": 0, "doubled": 0, "calls": 40}
    results = {
        "p1@20/engine": {**run, "engine_cpu_ms_per_call": 1.5, "asterisk_cpu_ms_per_call": 6.0},
        "p1@20/app_queue": {**run, "engine_cpu_ms_per_call": None, "asterisk_cpu_ms_per_call": 7.0},
        "p1@50/engine": {**run, "lost": 2, "engine_cpu_ms_per_call": 3.0},
    }
    out = summary.summary(args, results, ["engine", "app_queue"], [20.0, 50.0], losses=["voice p1@50 engine: x"])
    assert out["engine"]["lost"] == 2 and out["app_queue"]["lost"] == 0
    assert out["engine_cpu_ms_per_call"] == 1.5  # the first rate's runs
    assert out["asterisk_cpu_ms_per_call"] == {"engine": 6.0, "app_queue": 7.0}
    assert out["losses"] == ["voice p1@50 engine: x"]
