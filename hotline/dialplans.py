"""Render the Asterisk configuration in ``dialplans/`` with values from the settings.

The files hold ``{{name}}`` placeholders (Asterisk itself uses ``${...}``, so the two never
clash). The same files serve the sandbox and a production Asterisk 20+; the sandbox adds
the files in ``dialplans/sandbox/`` (asterisk.conf, modules.conf, logger.conf). With peer
Asterisk servers in the settings, ``dialplans/peers/`` adds one trunk per peer to pjsip.conf and
the context for their calls to extensions.conf; without peers nothing of it is written.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path

from hotline.dialing import DialPolicy, policy, render_dialplan
from hotline.settings import Settings

DIALPLANS = Path(__file__).resolve().parent.parent / "dialplans"
_PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")
# The folders of the sandbox's asterisk.conf (Debian's) that another instance has of its own.
SANDBOX_DIRECTORIES = {
    "astetcdir": "/etc/asterisk",
    "astdbdir": "/var/lib/asterisk",
    "astkeydir": "/var/lib/asterisk",
    "astspooldir": "/var/spool/asterisk",
    "astrundir": "/var/run/asterisk",
    "astlogdir": "/var/log/asterisk",
    "astcachedir": "/var/cache/asterisk",
}


class RenderError(Exception):
    pass


def variables(settings: Settings) -> dict[str, str]:
    a = settings.asterisk
    return {
        "app_name": a.app_name,
        "sip_bind": a.bind,
        "sip_port": str(a.sip_port),
        "http_bind": a.manage_bind,
        "http_port": str(a.http_port),
        "ami_bind": a.manage_bind,
        "ami_port": str(a.ami_port),
        # Only the engine's own address may log in to AMI.
        "ami_permit": f"{a.host}/255.255.255.255",
        "ami_user": a.ami_user,
        "ami_password": a.ami_password,
        "ari_user": a.ari_user,
        "ari_password": a.ari_password,
        "ari_allowed_origins": f"http://{settings.http.host}:{settings.http.port}",
        "pstn_peer": a.pstn_peer,
        "trunk_host": a.trunk_host,
        "moh_dir": a.moh_dir,
        "rtp_start": str(a.rtp_start),
        "rtp_end": str(a.rtp_end),
    }


def render_text(text: str, values: dict[str, str], name: str) -> str:
    def sub(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise RenderError(f"{name}: unknown placeholder {{{{{key}}}}}")
        value = values[key]
        if "\n" in value:
            raise RenderError(f"{name}: value of {key} has a line break")
        return value

    return _PLACEHOLDER.sub(sub, text)


def render(settings: Settings, sandbox: bool, directories: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every configuration file name -> rendered text (``directories``: another sandbox
    instance's folders for asterisk.conf, keys as in SANDBOX_DIRECTORIES)."""
    values = variables(settings)
    out: dict[str, str] = {}
    folders = [DIALPLANS] + ([DIALPLANS / "sandbox"] if sandbox else [])
    for folder in folders:
        for path in sorted(folder.glob("*.conf")):
            out[path.name] = render_text(path.read_text(encoding="utf-8"), values, path.name)
    if sandbox and directories:
        out["asterisk.conf"] = _with_directories(out["asterisk.conf"], directories)
    for peer in settings.asterisk.peers:
        trunk = values | {"peer_name": peer.name, "peer_address": peer.address}
        out["pjsip.conf"] += render_text(_peer_template("pjsip.conf"), trunk, "peers/pjsip.conf")
    if settings.asterisk.peers:
        out["extensions.conf"] += render_text(_peer_template("extensions.conf"), values, "peers/extensions.conf")
    out.setdefault("pjsip_seats.conf", "; seats are written here by the engine from its roster\n")
    out["extensions_dial.conf"] = render_dialplan(dial_policy(settings))
    return out


def _with_directories(text: str, directories: Mapping[str, str]) -> str:
    for key, path in directories.items():
        if key not in SANDBOX_DIRECTORIES or "\n" in path:
            raise RenderError(f"asterisk.conf: no folder {key!r} to move, or a line break in {path!r}")
        text, found = re.subn(rf"^{key} => .*$", f"{key} => {path}", text, count=1, flags=re.M)
        if not found:
            raise RenderError(f"asterisk.conf: no line for {key}")
    return text


def _peer_template(name: str) -> str:
    return (DIALPLANS / "peers" / name).read_text(encoding="utf-8")


def dial_policy(settings: Settings) -> DialPolicy:
    """Where seats may dial out: the defaults, the emergency numbers in force, the deployment's own."""
    e = settings.emergency
    return policy((*settings.asterisk.dial_allow, *(n for n in (e.police, e.fire, e.ambulance, e.traffic))))


def fingerprint(files: dict[str, str]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return h.hexdigest()[:16]


def write(files: dict[str, str], target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        tmp = target / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.chmod(0o640)
        tmp.replace(target / name)
