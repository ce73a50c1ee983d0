"""Make the seats' PJSIP endpoints exist: write pjsip_seats.conf and reload res_pjsip, on this
Asterisk and on every watched peer that has a config_dir."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from acd.ami import Ami, AmiError
from acd.ari.client import AriClient, AriError
from acd.voice.seats import SeatDevice, render_seats
from hotline.settings import Settings

logger = logging.getLogger(__name__)


class ProvisionError(Exception):
    pass


def config_dir(settings: Settings) -> Path | None:
    if settings.asterisk.external:
        return Path(settings.asterisk.config_dir) if settings.asterisk.config_dir else None
    from hotline.layout import paths

    return paths(settings).root / "etc/asterisk"


async def provision(
    settings: Settings,
    devices: list[SeatDevice],
    ami: Ami,
    ari: AriClient | None = None,
    timeout: float = 10.0,
    passwords: dict[str, str] | None = None,
    peers: Mapping[str, Ami] | None = None,
) -> None:
    """Write the seats' endpoints into this Asterisk and reload it (waiting, with ``ari``, until
    they exist), then into every watched peer that has a config_dir (``peers``: name -> its AMI),
    so a seat's phone may register on either. A peer that cannot be written or reloaded now is
    logged, not raised: this server's seats do not wait on it, and its file is read again at its
    start or reloaded at its next AMI login (``reload_peer``)."""
    target = config_dir(settings)
    if target is None:
        raise ProvisionError(
            "the engine may not write an external Asterisk's configuration: set "
            "HOTLINE_ASTERISK__CONFIG_DIR or install pjsip_seats.conf yourself"
        )
    text = render_seats(devices, settings.secret_key, passwords)
    write_seats(target, text)
    await ami.reload("res_pjsip.so")
    for peer in settings.asterisk.peers:
        peer_ami = (peers or {}).get(peer.name)
        if not peer.config_dir or peer_ami is None:
            continue
        try:
            write_seats(Path(peer.config_dir), text)
            if peer_ami.connected:  # a lost peer reads the file at its start or its next login
                await peer_ami.reload("res_pjsip.so")
        except (AmiError, OSError) as exc:
            logger.warning("seat endpoints not written on a peer", extra={"peer": peer.name, "cause": str(exc)})
    if ari is None:
        return
    wanted = {d.endpoint_name for d in devices if not (d.kind == "cloud" and not d.browser)}
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            have = {e.get("resource") for e in await ari.endpoints() if e.get("technology") == "PJSIP"}
        except AriError:
            have = set()
        if wanted <= have:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise ProvisionError(f"seat endpoints missing after reload: {sorted(wanted - have)}")
        await asyncio.sleep(0.1)


async def reload_peer(name: str, ami: Ami) -> None:
    """A peer's AMI logged in (again): load what was written while it was away."""
    try:
        await ami.reload("res_pjsip.so")
    except AmiError as exc:
        logger.warning("peer's seat endpoints not reloaded", extra={"peer": name, "cause": str(exc)})


def write_seats(target: Path, text: str) -> None:
    """pjsip_seats.conf in ``target``, replaced whole."""
    path = target / "pjsip_seats.conf"
    tmp = path.with_suffix(".tmp")
    # The seats' SIP passwords are in it: readable by Asterisk (the owner and group of its own
    # pjsip.conf beside it) and nobody else, from the moment it exists.
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    owner = target / "pjsip.conf"
    with contextlib.suppress(OSError):  # not ours to give away: it stays the engine's
        st = owner.stat()
        os.chown(tmp, st.st_uid, st.st_gid)
        tmp.chmod(0o640)
    tmp.replace(path)
