"""`hotline bench voice` at a tiny size against the sandbox Asterisk: both phases, both engines."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
from pathlib import Path

import pytest

from acd.voice.provision import config_dir
from bench import voice
from bench.voice import plan, sipp, summary, trace
from hotline.errors import CommandError
from tests.integration.asterisk import asterisk_settings, sipp_binary

pytestmark = pytest.mark.integration

TINY = (
    "--rates", "10", "--phase1-seconds", "1", "--seats1", "4",
    "--answer-min", "0.2", "--answer-max", "0.4", "--talk1", "0.5",
    "--phase2-minutes", "0.1", "--seats2", "2", "--talk2-min", "1", "--talk2-max", "2",
    "--patience", "3", "--load", "1.2", "--announce-every", "0",
)  # fmt: skip


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    voice.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_tiny_run_pairs_every_call_and_reports_both_engines_in_the_issue_shape(tmp_path):
    settings = asterisk_settings()
    sipp_binary()
    result = voice.run(_args(*TINY, "--keep", str(tmp_path)))

    assert result["losses"] == [] and result["engine_cpu_ms_per_call"] > 0
    for engine in ("engine", "app_queue"):
        row = result[engine]
        assert set(row) >= {"p50_ms", "p99_ms", "failed", "lost", "doubled", "sl15", "reuse_gap_p50_ms"}
        assert row["failed"] == 0 and row["lost"] == 0 and row["doubled"] == 0
        assert row["asterisk_cpu_ms_per_call"] is not None
        assert 0 < row["p50_ms"] <= row["p99_ms"] < 2000
        phase1 = result["phase1"][f"p1@10/{engine}"]
        assert phase1["calls"] == 10  # every caller's INVITE found in the trace and paired
        phase2 = result["phase2"][f"p2/{engine}"]
        assert phase2["calls"] > 0 and phase2["answered"] > 0
        assert phase2["answered"] + phase2["abandons"] <= phase2["calls"]
        assert row["sl15"] == phase2["sl15"] and 0 < row["sl15"] <= 1
    # Both engines saw the same drawn arrivals.
    assert result["phase2"]["p2/engine"]["calls"] == result["phase2"]["p2/app_queue"]["calls"]
    assert result["p99_ratio"] == round(result["engine"]["p99_ms"] / result["app_queue"]["p99_ms"], 2)
    assert result["machine"]["cores"] and result["params"]["seats2"] == 2
    # Both engines' seats rang each caller as long as the caller number's draw says (paired runs):
    # the ring time from the seat's INVITE to its 200 OK is the grid value of the draw's 3 bits.
    grid = [200 + (i + 0.5) * 200 / 8 for i in range(8)]
    for run in ("p1-10-engine", "p1-10-app_queue", "p2-engine", "p2-app_queue"):
        seat = trace.parse([], trace.read_trace(tmp_path / run / "seat_messages.log")).seat_calls
        rung = [leg for leg in seat if leg.answered is not None]
        assert rung, run
        hits = sum(
            1
            for leg in rung
            if min(range(8), key=lambda i: abs(grid[i] - (leg.answered - leg.invite) * 1000)) == int(leg.number[3:6], 2)
        )
        assert hits >= 0.8 * len(rung), (run, hits, len(rung))
    # The traces the numbers came from are kept, and the sandbox is left without bench peers.
    assert (tmp_path / "p2-engine" / "seat_messages.log").stat().st_size > 0
    etc = config_dir(settings)
    assert etc is not None
    assert "seatbench" not in (etc / "pjsip_bench.conf").read_text()


WAITING = (
    "--phases", "2", "--seats2", "1", "--answer-min", "0.2", "--answer-max", "0.4",
    "--talk2-min", "4", "--talk2-max", "5", "--phase2-minutes", "0.15", "--load", "1.4",
    "--patience", "12", "--announce-every", "2", "--seed", "3",
)  # fmt: skip


def test_waiting_callers_hear_announcements_from_both_engines_and_none_is_lost(tmp_path):
    asterisk_settings()
    sipp_binary()
    result = voice.run(_args(*WAITING, "--keep", str(tmp_path)))

    assert result["losses"] == []
    engine, app_queue = result["phase2"]["p2/engine"], result["phase2"]["p2/app_queue"]
    assert engine["calls"] == app_queue["calls"] > 2
    # The engine's records list each announcement it played; app_queue's come from Asterisk's log.
    assert engine["announcements"]["played"] >= 1 and engine["announcements"]["callers"] >= 1
    assert app_queue["announcements"]["position"] >= 1 and app_queue["announcements"]["callback_offer"] >= 1
    for run in (engine, app_queue):
        assert run["lost"] == 0 and run["doubled"] == 0
        assert run["connect_p50_ms"] is not None and run["connect_p50_ms"] <= run["connect_max_ms"]
    assert result["params"]["announce_every_s"] == 2.0
    # app_queue's options are the bench's only while it runs
    etc = config_dir(asterisk_settings())
    assert etc is not None and "announce-frequency" not in (etc / "queues_bench.conf").read_text()


def test_capacity_phase_ramps_both_engines_and_reports_each_knee(tmp_path):
    asterisk_settings()
    sipp_binary()
    argv = ("--phases", "capacity", "--cap-rates", "5:10:5", "--cap-seconds", "2", "--seats1", "4")
    result = voice.run(_args(*argv, "--answer-min", "0.2", "--answer-max", "0.4", "--talk1", "0.5"))

    cap = result["capacity"]
    assert [s["rate"] for s in cap["steps"]] == [5.0, 10.0]
    for step in cap["steps"]:
        for engine in ("engine", "app_queue"):
            row = step[engine]
            assert row["calls"] == int(step["rate"] * 2) and row["doubled"] == 0
            assert row["ok"] == (row["failed"] == 0 and row["seat_cancels"] == 0 and row["p99_ms"] <= 100)
    for engine in ("engine", "app_queue"):
        carried = [s["rate"] for s in cap["steps"] if s[engine]["ok"]]
        assert cap[f"{engine}_knee_cps"] == (max(carried) if carried else None)
    assert result["engine_cpu_ms_per_call"] is not None and result["losses"] == []


def test_after_restart_runs_phase_one_on_a_freshly_started_asterisk(tmp_path):
    from hotline import sandbox

    settings = asterisk_settings()
    argv = ("--phases", "1", "--engines", "engine", "--rates", "5", "--phase1-seconds", "1", "--after-restart")
    if settings.asterisk.external:
        # Somebody else's Asterisk is never restarted: the bench refuses before touching it.
        with pytest.raises(CommandError, match=r"not with asterisk\.external"):
            voice.run(_args(*argv))
        return
    sipp_binary()
    before = sandbox.pid_alive(sandbox.paths(settings))
    result = voice.run(_args(*argv, "--answer-min", "0.2", "--answer-max", "0.4", "--talk1", "0.5"))

    after = sandbox.pid_alive(sandbox.paths(settings))
    assert after is not None and after != before
    assert result["params"]["after_restart"] is True
    assert result["phase1"]["p1@5/engine"]["calls"] == 5 and result["losses"] == []


def test_seat_scenario_spreads_ring_and_talk_times_evenly_over_the_ranges():
    xml = sipp.fill("seat.xml", {"TREE": sipp.seat_tree((1000, 3000), (20000, 60000))})
    rings = sorted(int(t) for t in re.findall(r'request="CANCEL" timeout="(\d+)"', xml))
    talks = sorted(int(t) for t in re.findall(r'request="BYE" timeout="(\d+)"', xml))
    assert rings == [1125 + 250 * i for i in range(8)]
    assert talks == [round(20625 + 1250 * i) for i in range(32)]
    # Nothing that sipp would take a CANCEL or BYE as unexpected on.
    elements = re.sub(r"<!--.*?-->", "", xml, flags=re.S)
    assert "<nop" not in elements and "<pause" not in elements


def test_caller_numbers_carry_the_same_draws_for_both_engines_and_the_seat_reads_them():
    starts = tuple(range(0, 64_000, 1000))
    plans = [plan.Plan(e, "p2", 5, starts, (1000, 3000), (20000, 60000), 40000) for e in plan.ENGINES]
    engine, app_queue = (plan.caller_numbers(p) for p in plans)
    assert len(set(engine)) == 64 and all(n.startswith("139") for n in engine)
    assert [n[3:] for n in engine] == [n[3:] for n in app_queue]  # same draw, same index
    assert len({n[3:8] for n in engine}) > 16  # the draws vary
    # the scenario's regular expressions (POSIX ERE, as sipp compiles them) read the same bits
    xml = sipp.seat_tree((1000, 3000), (20000, 60000))
    regexes = re.findall(r'<ereg regexp="(sip:13\[89\][^"]*)"[^>]*assign_to="b(\d)"', xml)
    assert [int(k) for _, k in regexes] == list(range(plan.DRAW_BITS))
    for number in engine[:10] + app_queue[:10]:
        read = "".join("1" if re.search(rx, f"<sip:{number}@127.0.0.1>") else "0" for rx, _ in regexes)
        assert read == number[3:8]


def test_repeats_alternate_the_engines_and_the_summary_takes_medians():
    args = _args("--phases", "1", "--rates", "20,50", "--phase1-seconds", "2", "--repeat", "3")
    todo = plan.plans(args, ["1"], list(plan.ENGINES), [20.0, 50.0])
    at20 = [(p.label, p.engine) for p in todo if p.label.startswith("p1@20")]
    assert at20 == [
        ("p1@20#1", "engine"), ("p1@20#1", "app_queue"),
        ("p1@20#2", "app_queue"), ("p1@20#2", "engine"),
        ("p1@20#3", "engine"), ("p1@20#3", "app_queue"),
    ]  # fmt: skip
    p99 = {"engine": [9.0, 30.0, 10.0], "app_queue": [8.0, 9.0, 50.0]}
    results = {
        f"p1@20#{r + 1}/{e}": {"p50_ms": 4.0 + r, "p99_ms": p99[e][r], "failed": r, "calls": 40}
        for r in range(3)
        for e in plan.ENGINES
    }
    results["p1@50#1/engine"] = {"p50_ms": 99.0, "p99_ms": 999.0, "failed": 7, "calls": 100}  # not the first rate
    out = summary.summary(args, results, list(plan.ENGINES), [20.0, 50.0])
    assert out["engine"]["p50_ms"] == 5.0 and out["engine"]["p99_ms"] == 10.0 and out["engine"]["failed"] == 3
    assert out["app_queue"]["p99_ms"] == 9.0
    assert out["p99_ratio"] == round(10.0 / 9.0, 2)
    assert out["p99_ratios"] == [1.12, 3.33, 0.2]
    with pytest.raises(CommandError):
        voice.run(_args("--repeat", "0"))


def test_trace_pairs_seat_invite_to_caller_by_number_and_measures_the_delay():
    caller = [
        trace.Msg(10.000, True, "INVITE sip:12345@a SIP/2.0", "c1", "INVITE", "139001", "12345", ""),
        trace.Msg(10.030, False, "INVITE sip:139001@a SIP/2.0", "c1", "INVITE", "12345", "139001", "139001"),
    ]
    seat = [
        trace.Msg(10.005, False, "INVITE sip:seatbench007@b SIP/2.0", "s1", "INVITE", "139001", "seatbench007", ""),
        trace.Msg(10.025, True, "SIP/2.0 200 OK", "s1", "INVITE", "139001", "seatbench007", "10000"),
    ]
    traces = trace.parse(caller, seat)
    assert traces.seat_calls[0].seat == "bench007"
    metrics = trace.phase1_metrics(traces, failed_sipp=0)
    assert metrics["p50_ms"] == 5.0 and metrics["failed"] == 0


@pytest.mark.parametrize(
    "argv",
    [
        ("--phases", "3"),
        ("--engines", "asterisk"),
        ("--rates", "fast"),
        ("--seats2", "0"),
        ("--answer-min", "5"),
        ("--load-nice", "20"),
        ("--load-nice", "-5"),
    ],
)
def test_bad_options_are_refused_with_a_message(argv):
    with pytest.raises(CommandError):
        voice.run(_args(*argv))


@pytest.mark.parametrize("nice", [0, 7])
async def test_sipp_runs_at_the_asked_niceness(tmp_path, nice):
    sipp_binary()
    proc = await sipp.start(["-sn", "uas", "-i", "127.0.0.1", "-p", "0", "-nostdin"], tmp_path / "out.txt", nice)
    try:
        await asyncio.sleep(0.3)
        assert proc.returncode is None, (tmp_path / "out.txt").read_text()
        stat = Path(f"/proc/{proc.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        assert int(fields[16]) == os.getpriority(os.PRIO_PROCESS, 0) + nice  # field 19 of proc(5): nice
        assert Path(f"/proc/{proc.pid}/comm").read_text().strip() == "sipp"
    finally:
        proc.terminate()
        await proc.wait()


def test_runs_that_would_exhaust_asterisks_rtp_ports_are_refused_before_they_start():
    one_rate = _args("--phases", "1", "--rates", "50")
    assert plan.rtp_sessions_needed(one_rate, ["1"], [50.0]) == 600  # 2 legs x 50/s x (2 s ring + 3 s talk + 1 s)
    # phase 2: 300 seats' calls up, and 40 s of arrivals (0.9 x 300 / 42 s per call) waiting
    big = _args("--rates", "20,50", "--seats2", "300", "--load", "0.9", "--patience", "40")
    assert plan.rtp_sessions_needed(big, ["1", "2"], [20.0, 50.0]) == 2 * 300 + 258
    # one call per second more than the configured range holds (12 sessions per call/s here)
    a = asterisk_settings().asterisk
    ports = (a.rtp_end - a.rtp_start + 1) // 2
    with pytest.raises(CommandError, match=f"RTP ports {a.rtp_start}-{a.rtp_end} give {ports}:"):
        voice.run(_args("--phases", "1", "--rates", str(ports // 12 + 1)))
