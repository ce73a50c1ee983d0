"""Make the seats' PJSIP endpoints exist: write pjsip_seats.conf and reload res_pjsip."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path

from acd.ami import Ami
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
) -> None:
    target = config_dir(settings)
    if target is None:
        raise ProvisionError(
            "the engine may not write an external Asterisk's configuration: set "
            "HOTLINE_ASTERISK__CONFIG_DIR or install pjsip_seats.conf yourself"
        )
    text = render_seats(devices, settings.secret_key, passwords)
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
    await ami.reload("res_pjsip.so")
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
