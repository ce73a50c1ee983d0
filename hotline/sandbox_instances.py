"""Each Asterisk of the sandbox: where it lives in the shared root, whether it runs, whether it
answers on its ports.

The default instance uses Debian's own folders; a named one (``hotline sandbox up --instance
NAME``, e.g. to try a trunk between two servers) has folders of its own inside the same root: see
``Instance``. Building the root, installing the configuration and starting or stopping an
instance are ``hotline.sandbox``'s.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotline import dialplans
from hotline.errors import CommandError
from hotline.layout import Paths, paths
from hotline.settings import Settings

ASTERISK_DIRS = (
    "/etc/asterisk",
    "/var/lib/asterisk",
    "/var/spool/asterisk",
    "/var/log/asterisk",
    "/var/run/asterisk",
    "/var/cache/asterisk",
    "/var/lib/asterisk/keys",
    "/var/spool/asterisk/recording",
)
INSTANCE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
# Lines Asterisk prints that are noise here: there is no DNS in this sandbox.
_NOISE = re.compile(r"ROOT-SERVERS|dns_|resolv|Unable to lookup|DNS", re.I)


@dataclass(frozen=True)
class Instance:
    """One Asterisk run from the sandbox's root.

    The default one (no name) uses Debian's own folders and keeps its pid file, log and state
    beside the root, as it always has. A named one shares the root, so a second server costs no
    second debootstrap, and has folders of its own inside it: ``/etc/asterisk-b`` holds its
    configuration with an asterisk.conf (passed with ``-C``) that names ``/var/lib/asterisk-b``
    (its astdb and keys), ``/var/spool/asterisk-b``, ``/var/run/asterisk-b`` (its control
    socket), ``/var/log/asterisk-b`` and ``/var/cache/asterisk-b``. Modules, sounds, prompts and
    hold music are the root's, read only. Its pid file, log and state are in ``instances/b/``.
    Its ports are the settings' like the default's (HOTLINE_ASTERISK__HTTP_PORT, ... in the
    environment of ``hotline sandbox up --instance b``); the ones it started with are kept in its
    state, so ``status`` and ``down`` need no environment.
    """

    p: Paths
    name: str = ""

    @property
    def home(self) -> Path:
        return self.p.base / "instances" / self.name if self.name else self.p.base

    @property
    def pid(self) -> Path:
        return self.home / "asterisk.pid"

    @property
    def log(self) -> Path:
        return self.home / "asterisk.log"

    @property
    def state(self) -> Path:
        return self.home / "state.json"

    @property
    def label(self) -> str:
        return f"sandbox Asterisk {self.name}" if self.name else "sandbox Asterisk"

    def directories(self) -> dict[str, str]:
        """asterisk.conf's folders, as seen inside the root."""
        suffix = f"-{self.name}" if self.name else ""
        return {key: path + suffix for key, path in dialplans.SANDBOX_DIRECTORIES.items()}

    def folders(self) -> tuple[str, ...]:
        if not self.name:
            return ASTERISK_DIRS
        dirs = self.directories()
        return (*dict.fromkeys(dirs.values()), dirs["astspooldir"] + "/recording")

    @property
    def etc(self) -> Path:
        return in_root(self.p.root, self.directories()["astetcdir"])


def in_root(root: Path, path: str) -> Path:
    """Where a path of the chroot is on this machine. Debian's root has absolute links (its
    /var/run is /run): followed from here they would lead out of the root, into the host's /run."""
    here = root
    parts = [part for part in path.split("/") if part]
    for _ in range(40):  # links followed at most
        if not parts:
            return here
        part = parts.pop(0)
        if part in (".", ".."):
            here = here.parent if part == ".." and here != root else here
            continue
        nxt = here / part
        if not nxt.is_symlink():
            here = nxt
            continue
        target = os.readlink(nxt)
        parts = [part for part in target.split("/") if part] + parts
        if target.startswith("/"):
            here = root
    raise CommandError(f"{path} in {root}: too many symbolic links")


def instance(settings: Settings, name: str = "") -> Instance:
    if name and not INSTANCE_NAME.fullmatch(name):
        raise CommandError(f"instance name {name!r}: lower-case letters, digits and '-', starting with a letter")
    return Instance(paths(settings), name)


def named_instances(p: Paths) -> list[Instance]:
    folder = p.base / "instances"
    found = sorted(d.name for d in folder.iterdir() if d.is_dir()) if folder.is_dir() else []
    return [Instance(p, name) for name in found if INSTANCE_NAME.fullmatch(name)]


def read_state(p: Paths | Instance) -> dict[str, Any] | None:
    try:
        data = json.loads(p.state.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def pid_alive(p: Paths | Instance) -> int | None:
    try:
        pid = int(p.pid.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0]
    except OSError:
        return None
    # The program itself, not any word of its command line: a stale pid file whose number went to
    # another process (an engine started with --no-asterisk was one) must not be taken, and killed.
    return pid if Path(argv0.decode(errors="replace")).name.startswith("asterisk") else None


def _port_free(host: str, port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def check_ports(settings: Settings, hint: str = "") -> None:
    a = settings.asterisk
    for setting, address, port, kind in (
        ("HOTLINE_ASTERISK__HTTP_PORT", a.manage_bind, a.http_port, socket.SOCK_STREAM),
        ("HOTLINE_ASTERISK__AMI_PORT", a.manage_bind, a.ami_port, socket.SOCK_STREAM),
        ("HOTLINE_ASTERISK__SIP_PORT", a.bind, a.sip_port, socket.SOCK_DGRAM),
    ):
        if not _port_free(address, port, kind):
            raise CommandError(
                f"port {port} on {address} is in use by another program: stop it or choose another port with {setting}{hint}"
            )


def ari_info(settings: Settings, timeout: float = 2.0) -> dict[str, object] | None:
    a = settings.asterisk
    req = urllib.request.Request(f"{a.ari_url}/asterisk/info")
    token = base64.b64encode(f"{a.ari_user}:{a.ari_password}".encode()).decode()
    req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            data = json.loads(resp.read())
            return data if isinstance(data, dict) else None
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            raise CommandError(
                "ARI refused the credentials (401): the running Asterisk has other passwords; run 'hotline sandbox down' then 'up'"
            ) from None
        return None
    except (OSError, ValueError):
        return None


def ami_answers(settings: Settings, timeout: float = 2.0) -> bool | None:
    """True: logged in; False: reachable but refused; None: unreachable."""
    a = settings.asterisk
    try:
        with socket.create_connection((a.host, a.ami_port), timeout=timeout) as s:
            s.settimeout(timeout)
            banner = s.recv(256)
            if not banner.startswith(b"Asterisk Call Manager"):
                return False
            s.sendall(
                f"Action: Login\r\nUsername: {a.ami_user}\r\nSecret: {a.ami_password}\r\nActionID: chk\r\n\r\n".encode()
            )
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(1024)
                if not chunk:
                    break
                data += chunk
            ok = b"Response: Success" in data
            with contextlib.suppress(OSError):
                s.sendall(b"Action: Logoff\r\n\r\n")
            return ok
    except OSError:
        return None


def log_tail(p: Paths | Instance, n: int = 8) -> str:
    try:
        lines = p.log.read_text(errors="replace").splitlines()
    except OSError:
        return f"no log at {p.log}"
    useful = [line for line in lines if ("ERROR" in line or "WARNING" in line) and not _NOISE.search(line)]
    tail = (useful or lines)[-n:]
    return " | ".join(tail) + f" (log: {p.log})"
