"""The rendered Asterisk configuration keeps its management interfaces private."""

from __future__ import annotations

from hotline.dialplans import render
from hotline.settings import load_settings


def test_ari_and_ami_stay_on_the_management_address_when_sip_faces_the_network(tmp_path) -> None:
    settings = load_settings(data_dir=tmp_path, asterisk={"bind": "0.0.0.0"})
    files = render(settings, sandbox=True)
    assert "bind=0.0.0.0:15060" in files["pjsip.conf"]  # the phones' network
    assert "bindaddr=127.0.0.1" in files["http.conf"]  # ARI (and Asterisk's own /ws) private
    assert "bindaddr=127.0.0.1" in files["manager.conf"]
    assert "permit=127.0.0.1/255.255.255.255" in files["manager.conf"]


def test_the_ami_user_may_not_run_commands_or_system_actions(tmp_path) -> None:
    manager = render(load_settings(data_dir=tmp_path), sandbox=True)["manager.conf"]
    classes = {
        key: set(value.split(","))
        for key, value in (line.split("=", 1) for line in manager.splitlines() if line.startswith(("read=", "write=")))
    }
    assert classes["write"] == {"call", "agent", "reporting", "config"}
    assert not {"system", "command", "all"} & classes["write"] and "all" not in classes["read"]


def test_the_gateway_and_the_trunk_are_known_by_address_only(tmp_path) -> None:
    pjsip = render(load_settings(data_dir=tmp_path), sandbox=True)["pjsip.conf"]
    for section in ("[pstn]\ntype=endpoint", "[trunk-out]\ntype=endpoint"):
        block = pjsip.split(section, 1)[1].split("\n\n", 1)[0]
        assert "identify_by=ip" in block, section


def test_seats_dial_out_only_through_the_allowed_rules(tmp_path) -> None:
    files = render(load_settings(data_dir=tmp_path, asterisk={"dial_allow": ["_0513XXXXXXXX"]}), sandbox=True)
    seats = files["extensions.conf"].split("[from-seats]", 1)[1].split("\n[", 1)[0]
    assert "#include extensions_dial.conf" in seats
    dial_lines = [line for line in seats.splitlines() if "Dial(" in line]
    assert dial_lines == []  # the only Dial()s are the generated, filtered ones
    assert "exten => _0513XXXXXXXX,1,Dial(PJSIP/${FILTER(0-9,${EXTEN})}@trunk-out,60)" in files["extensions_dial.conf"]
