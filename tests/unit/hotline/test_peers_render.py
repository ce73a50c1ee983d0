"""Peer Asterisk servers: checked settings, the trunk each one gets, and nothing of it without peers."""

from __future__ import annotations

import pytest

from hotline.dialplans import DIALPLANS, render, render_text, variables
from hotline.settings import SettingsError, load_settings

PEER_B = {"name": "b", "host": "10.0.12.2", "sip_port": 5070}


def _section(conf: str, header: str) -> str:
    return conf.split(header, 1)[1].split("\n\n", 1)[0]


def test_without_peers_the_files_are_the_templates_alone(tmp_path) -> None:
    settings = load_settings(data_dir=tmp_path)
    files = render(settings, sandbox=True)
    values = variables(settings)
    for name in ("pjsip.conf", "extensions.conf"):
        template = (DIALPLANS / name).read_text(encoding="utf-8")
        assert files[name] == render_text(template, values, name)
    assert not any("peer-" in text or "from-peers" in text for text in files.values())


def test_each_peer_is_known_by_address_and_port_without_registration_or_password(tmp_path) -> None:
    settings = load_settings(data_dir=tmp_path, asterisk={"peers": [PEER_B, {"name": "c", "host": "10.0.12.3"}]})
    pjsip = render(settings, sandbox=False)["pjsip.conf"]
    endpoint = _section(pjsip, "[peer-b]\ntype=endpoint")
    assert "identify_by=ip" in endpoint and "context=from-peers" in endpoint
    assert "direct_media=no" in endpoint and "allow=ulaw,alaw,g722,opus" in endpoint
    assert "auth" not in endpoint  # neither auth= nor outbound_auth=
    assert "contact=sip:10.0.12.2:5070" in _section(pjsip, "[peer-b]\ntype=aor")
    assert "match=10.0.12.2:5070" in _section(pjsip, "[peer-b]\ntype=identify")
    assert "match=10.0.12.3:5060" in _section(pjsip, "[peer-c]\ntype=identify")
    assert "type=registration" not in pjsip
    # Tried in name order: the peers' identify sections come before the gateway's.
    assert all(f"peer-{name}" < "pstn" for name in ("a", "zz-9"))


def test_a_call_whose_peer_went_silent_is_hung_up_within_tens_of_seconds(tmp_path) -> None:
    """A dead peer sends no BYE: its leg ends on the RTP timeout, on hold too, and the peer's
    keepalives come often enough that a silent seat is not taken for a dead peer."""
    pjsip = render(load_settings(data_dir=tmp_path, asterisk={"peers": [PEER_B]}), sandbox=False)["pjsip.conf"]
    endpoint = dict(
        line.split("=", 1) for line in _section(pjsip, "[peer-b]\ntype=endpoint").splitlines() if "=" in line
    )
    timeout, hold, keepalive = (int(endpoint[key]) for key in ("rtp_timeout", "rtp_timeout_hold", "rtp_keepalive"))
    assert 0 < timeout <= 30 and 0 < hold <= 30
    assert 0 < keepalive * 3 <= min(timeout, hold)
    assert "qualify_frequency=0" in _section(pjsip, "[peer-b]\ntype=aor")


def test_a_peer_may_ring_this_servers_seats_and_nothing_else(tmp_path) -> None:
    files = render(load_settings(data_dir=tmp_path, asterisk={"peers": [PEER_B]}), sandbox=True)
    context = files["extensions.conf"].split("[from-peers]", 1)[1].split("\n[", 1)[0]
    lines = [line for line in context.splitlines() if line.strip() and not line.startswith(";")]
    assert not any(word in context for word in ("Stasis", "trunk-out", "include", "110", "Goto(from-"))
    assert [line for line in lines if "Dial(" in line] == [" same => n(ring),Dial(PJSIP/${EXTEN})"]
    # Only a seat name of safe characters that is an endpoint in from-seats gets to the Dial.
    assert 'REGEX("^seat[A-Za-z0-9_-]+$" ${EXTEN})' in context
    assert '"${PJSIP_ENDPOINT(${EXTEN},context)}" = "from-seats"' in context
    assert lines[-1] == "exten => i,1,Hangup(21)"
    assert "exten => _X.,1,Log(" in context  # digits (110, 12345, outside numbers): refused and logged


@pytest.mark.parametrize(
    ("peers", "said"),
    [
        ([PEER_B, {**PEER_B, "host": "10.0.12.9"}], "named twice"),
        ([PEER_B, {**PEER_B, "name": "b2"}], "share the address"),
        ([{"name": "self", "host": "127.0.0.1", "sip_port": 15060}], "this Asterisk itself"),
        ([{"name": "B", "host": "10.0.12.2"}], "asterisk.peers.0.name"),
        ([{"name": "b", "host": "asterisk-b.example"}], "must be an IP address"),
        ([{**PEER_B, "password": "x"}], "asterisk.peers.0.password"),
    ],
)
def test_wrong_peers_are_refused_naming_the_setting(tmp_path, peers, said) -> None:
    with pytest.raises(SettingsError, match=said):
        load_settings(data_dir=tmp_path, asterisk={"peers": peers})


def test_a_peer_on_this_servers_port_elsewhere_is_fine_and_ipv6_is_bracketed(tmp_path) -> None:
    peers = [{"name": "b", "host": "10.0.12.2", "sip_port": 15060}, {"name": "c", "host": "fd00::2"}]
    settings = load_settings(data_dir=tmp_path, asterisk={"peers": peers})
    assert [p.address for p in settings.asterisk.peers] == ["10.0.12.2:15060", "[fd00::2]:5060"]
    with pytest.raises(SettingsError, match="itself"):  # listening on every address, loopback is this one
        load_settings(
            data_dir=tmp_path,
            asterisk={"bind": "0.0.0.0", "peers": [{"name": "b", "host": "127.0.0.2", "sip_port": 15060}]},
        )
