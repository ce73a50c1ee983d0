"""Render the Asterisk configuration in ``dialplans/`` with values from the settings.

The files hold ``{{name}}`` placeholders (Asterisk itself uses ``${...}``, so the two never
clash). The same files serve the sandbox and a production Asterisk 20+; the sandbox adds
the files in ``dialplans/sandbox/`` (asterisk.conf, modules.conf, logger.conf).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from hotline.dialing import DialPolicy, policy, render_dialplan
from hotline.settings import Settings

DIALPLANS = Path(__file__).resolve().parent.parent / "dialplans"
_PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")


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


def render(settings: Settings, sandbox: bool) -> dict[str, str]:
    """Every configuration file name -> rendered text."""
    values = variables(settings)
    out: dict[str, str] = {}
    folders = [DIALPLANS] + ([DIALPLANS / "sandbox"] if sandbox else [])
    for folder in folders:
        for path in sorted(folder.glob("*.conf")):
            out[path.name] = render_text(path.read_text(encoding="utf-8"), values, path.name)
    out.setdefault("pjsip_seats.conf", "; seats are written here by the engine from its roster\n")
    out["extensions_dial.conf"] = render_dialplan(dial_policy(settings))
    return out


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
