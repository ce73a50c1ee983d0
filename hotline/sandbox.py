"""The project's own Asterisk 22: a Debian root built with debootstrap, run in a chroot.

Layout under ``<data_dir>/sandbox``: ``root/`` (the Debian root), ``debs/`` (downloaded
packages, so a rebuild does not depend on today's archive), ``state.json`` (what was built),
``asterisk.pid`` and ``asterisk.log``. Everything binds to loopback on the configured ports.

More Asterisk servers (``--instance NAME``, e.g. to try a trunk between two) run from the same
root: where each one lives and how to tell it runs are in ``hotline.sandbox_instances``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from hotline import dialplans
from hotline.errors import CommandError
from hotline.layout import Paths, paths

# Re-exported: the commands, the engine's start and the tests ask these of ``sandbox``.
from hotline.sandbox_instances import (
    Instance,
    ami_answers,
    log_tail,
    named_instances,
    read_state,
)
from hotline.sandbox_instances import ari_info as ari_info
from hotline.sandbox_instances import check_ports as check_ports
from hotline.sandbox_instances import in_root as in_root
from hotline.sandbox_instances import instance as instance
from hotline.sandbox_instances import pid_alive as pid_alive
from hotline.settings import Settings

logger = logging.getLogger(__name__)
console = Console(stderr=True)

PACKAGES = ("asterisk", "asterisk-modules")


def apt_mirror() -> str:
    """The machine's own Debian mirror (first non-security source), or '' for debootstrap's default."""
    candidates: list[str] = []
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for src in sources:
        try:
            text = src.read_text()
        except OSError:
            continue
        if src.suffix == ".sources":
            for block in text.split("\n\n"):
                fields = dict(
                    line.split(":", 1) for line in block.splitlines() if ":" in line and not line.startswith("#")
                )
                uris, suites = fields.get("URIs", "").split(), fields.get("Suites", "")
                if uris and "security" not in suites and fields.get("Types", "deb").strip().startswith("deb"):
                    candidates.extend(uris)
        elif src.suffix == ".list" or src.name == "sources.list":
            for line in text.splitlines():
                parts = line.split()
                if len(parts) >= 3 and parts[0] == "deb" and "security" not in line:
                    uri = next((p for p in parts[1:] if "://" in p), "")
                    if uri:
                        candidates.append(uri)
    for uri in candidates:
        if "security" not in uri and "/debian" in uri:
            return uri
    return candidates[0] if candidates else ""


def _require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise CommandError(
            f"{what} needs root (debootstrap, chroot, mount): run as root, or set HOTLINE_ASTERISK__EXTERNAL=true"
        )


def is_built(p: Paths) -> bool:
    state = read_state(p)
    return bool(state) and (p.root / "usr/sbin/asterisk").exists() and (p.root / "usr/bin/env").exists()


def build(settings: Settings, force: bool = False) -> None:
    """Build the Debian root once; a corrupt or half-built one is rebuilt."""
    p = paths(settings)
    if is_built(p) and not force:
        return
    _require_root("building the sandbox")
    if shutil.which("debootstrap") is None:
        raise CommandError("debootstrap is not installed: apt-get install debootstrap (make run / make test do this)")
    if p.root.exists():
        console.print(f"[yellow]sandbox root at {p.root} is incomplete or corrupt: rebuilding it[/]")
        _unmount_all(p)
        shutil.rmtree(p.root)
    p.debs.mkdir(parents=True, exist_ok=True)
    suite = settings.asterisk.suite
    mirror = settings.asterisk.mirror or apt_mirror()
    cmd = [
        "debootstrap",
        "--variant=minbase",
        "--include=" + ",".join(PACKAGES),
        f"--cache-dir={p.debs}",
        suite,
        str(p.root),
    ]
    if mirror:
        cmd.append(mirror)
    log_path = p.base / "build.log"
    lines: list[str] = []
    with (
        log_path.open("w") as log,
        Progress(
            SpinnerColumn(),
            TextColumn("[bold]Asterisk sandbox[/] {task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} steps"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as progress,
    ):
        # debootstrap prints one line per package and step; about 700 for this root.
        task = progress.add_task(f"debootstrap {suite}", total=700)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            lines.append(line.rstrip())
            if line.startswith("I: "):
                step = line[3:].split(" ", 1)
                progress.update(
                    task, advance=1, description=f"{step[0].lower()} {step[1].strip()[:40] if len(step) > 1 else ''}"
                )
        code = proc.wait()
        progress.update(task, completed=700)
    if code != 0:
        shutil.rmtree(p.root, ignore_errors=True)
        raise CommandError(_explain_build_failure(lines, suite, mirror, log_path))
    p.state.write_text(
        json.dumps({"suite": suite, "mirror": mirror, "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "version": ""})
    )
    version = _chroot_output(p, ["/usr/sbin/asterisk", "-V"]).strip()
    if not version.startswith("Asterisk"):
        raise CommandError(f"the sandbox was built but its asterisk does not run ({version!r}); see {log_path}")
    state = read_state(p) or {}
    state["version"] = version
    p.state.write_text(json.dumps(state))
    console.print(f"[green]sandbox built:[/] {version} from suite {suite}")


def _explain_build_failure(lines: list[str], suite: str, mirror: str, log_path: Path) -> str:
    text = "\n".join(lines[-40:])
    where = mirror or "debootstrap's default mirror"
    m = re.search(r"Couldn't (?:download|find) (?:package )?(\S+)", text)
    if m:
        return f"package {m.group(1)} could not be downloaded from {where} (suite {suite}); check the network or set HOTLINE_ASTERISK__SUITE / HOTLINE_ASTERISK__MIRROR (log: {log_path})"
    if "Failed getting release file" in text or "Release signed by unknown key" in text or "Temporary failure" in text:
        return f"cannot reach {where} for suite {suite} (no network?); connect, or set HOTLINE_ASTERISK__MIRROR to a reachable mirror (log: {log_path})"
    if "is not available" in text or "Unable to locate" in text:
        return f"a package of {', '.join(PACKAGES)} is missing from suite {suite}; set HOTLINE_ASTERISK__SUITE (log: {log_path})"
    if "Invalid Release" in text or "Checksum" in text or "md5" in text.lower() or "sha256" in text.lower():
        return f"the package cache {log_path.parent / 'debs'} is corrupt: delete it and run again (log: {log_path})"
    last = next((line for line in reversed(lines) if line.startswith("E:")), lines[-1] if lines else "no output")
    return f"debootstrap failed: {last} (log: {log_path})"


def _chroot_output(p: Paths, argv: list[str]) -> str:
    try:
        return subprocess.run(
            ["chroot", str(p.root), *argv], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)


def _mounted(target: Path) -> bool:
    try:
        mounts = Path("/proc/mounts").read_text().split("\n")
    except OSError:
        return False
    return any(line.split(" ")[1:2] == [str(target)] for line in mounts if line)


_DEVICES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9), "tty": (5, 0)}


def _mount(p: Paths) -> None:
    """Mount /proc only. The host's /dev is never bound in: a later ``rm -rf`` of the checkout
    would reach through it. debootstrap made the few device nodes Asterisk needs; re-make any
    that are missing."""
    target = p.root / "proc"
    target.mkdir(exist_ok=True)
    if not _mounted(target):
        subprocess.run(["mount", "-t", "proc", "proc", str(target)], check=True, capture_output=True)
    dev = p.root / "dev"
    dev.mkdir(exist_ok=True)
    for name, (major, minor) in _DEVICES.items():
        node = dev / name
        if not node.exists():
            os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
            node.chmod(0o666)


def _unmount_all(p: Paths) -> None:
    for name in ("dev/pts", "dev", "proc"):
        target = p.root / name
        if _mounted(target):
            subprocess.run(["umount", "-l", str(target)], check=False, capture_output=True)


def install_config(settings: Settings, inst: Instance | None = None) -> str:
    """Write the rendered dialplans into the root, make the folders root's, add hold music; return a fingerprint."""
    p = paths(settings)
    inst = inst or Instance(p)
    files = dialplans.render(settings, sandbox=True, directories=inst.directories())
    etc = inst.etc
    dist = p.root / "etc/asterisk.dist"
    if not inst.name and etc.exists() and not dist.exists():
        etc.rename(dist)  # keep Debian's samples aside; the sandbox runs only the project's files
    etc.mkdir(exist_ok=True)
    seats = etc / "pjsip_seats.conf"
    if seats.exists():
        files.pop("pjsip_seats.conf", None)
    dialplans.write(files, etc)
    for d in inst.folders():
        in_root(p.root, d).mkdir(parents=True, exist_ok=True)
    _own_for_asterisk(p, inst)
    if not inst.name:  # a named instance never rewrites the shared sounds another one may be playing
        _install_hold_music(settings, p)
        install_prompts(settings, p.root / settings.asterisk.sounds_dir.lstrip("/"))
    return dialplans.fingerprint(files)


def asterisk_ids(p: Paths) -> tuple[int, int]:
    """The chroot's own ``asterisk`` user and group (Debian's package creates them)."""
    for line in (p.root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == "asterisk" and len(fields) > 3:
            return int(fields[2]), int(fields[3])
    raise CommandError(f"the sandbox root has no asterisk user ({p.root / 'etc/passwd'}): rebuild it")


def _own_for_asterisk(p: Paths, inst: Instance) -> None:
    """Asterisk runs as its own unprivileged user: it owns what it writes (its data, spool, logs,
    run folder); the configuration stays root's, readable by its group only (passwords are in it)."""
    uid, gid = asterisk_ids(p)
    for d in inst.folders():
        top = in_root(p.root, d)
        config = top == inst.etc
        for path in [top, *top.rglob("*")]:
            if path.is_symlink():
                continue
            if config:
                os.chown(path, 0, gid)
                path.chmod(0o750 if path.is_dir() else 0o640)
            else:
                os.chown(path, uid, gid)


def install_prompts(settings: Settings, target: Path) -> int:
    """Generate the IVR's Chinese prompts (cached) and copy them, operators' recordings last, to target."""
    try:
        from ivr.prompts import SOUND_EXTS, PromptError, generate, load_catalog, tools_missing
    except ImportError:
        return 0
    generated = settings.data_dir / "prompts"
    missing = tools_missing()
    if missing:
        console.print(
            f"[yellow]prompts not generated: {' and '.join(missing)} missing (apt-get install espeak-ng sox)[/]"
        )
    else:
        try:
            with console.status("generating Chinese prompts (espeak-ng)"):
                generate(generated, load_catalog())
        except PromptError as exc:
            console.print(f"[yellow]prompts not generated: {exc}[/]")
    target.mkdir(parents=True, exist_ok=True)
    copied = 0
    for folder in (generated, settings.data_dir / "prompts-override"):
        if not folder.is_dir():
            continue
        for f in folder.iterdir():
            if f.suffix in SOUND_EXTS:
                shutil.copyfile(f, target / f.name)
                copied += 1
    return copied


def _install_hold_music(settings: Settings, p: Paths) -> None:
    moh = p.root / settings.asterisk.moh_dir.lstrip("/")
    moh.mkdir(parents=True, exist_ok=True)
    target = moh / "hold.wav"
    if target.exists():
        return
    # A soft two-tone chime made here: no third-party music is shipped.
    if shutil.which("sox"):
        subprocess.run(
            [
                "sox",
                "-n",
                "-r",
                "8000",
                "-c",
                "1",
                "-b",
                "16",
                str(target),
                "synth",
                "0.6",
                "sine",
                "523",
                "synth",
                "0.6",
                "sine",
                "659",
                "fade",
                "0.05",
                "0.6",
                "0.1",
                "repeat",
                "8",
                "vol",
                "0.3",
            ],
            check=False,
            capture_output=True,
        )
    if not target.exists():
        _write_tone_wav(target)


def _write_tone_wav(target: Path) -> None:
    import math
    import struct
    import wave

    with wave.open(str(target), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        frames = bytearray()
        for i in range(8000 * 4):
            freq = 523 if (i // 4800) % 2 == 0 else 659
            frames += struct.pack("<h", int(6000 * math.sin(2 * math.pi * freq * i / 8000)))
        w.writeframes(bytes(frames))


def up(settings: Settings, name: str = "") -> None:
    """Build if needed, install the configuration and start Asterisk (the default instance, or
    the one named); idempotent."""
    if settings.asterisk.external:
        raise CommandError(
            "asterisk.external is true: the sandbox is not used; unset HOTLINE_ASTERISK__EXTERNAL to use it"
        )
    _require_root("the sandbox")
    inst = instance(settings, name)
    p = inst.p
    p.base.mkdir(parents=True, exist_ok=True)
    build(settings)
    inst.home.mkdir(parents=True, exist_ok=True)
    fp = install_config(settings, inst)
    state = read_state(inst) or {}
    running = pid_alive(inst)
    if running and state.get("config") == fp and ari_info(settings):
        console.print(f"{inst.label} already running (pid {running})")
        return
    if running:
        console.print(f"configuration changed: restarting the {inst.label}")
        stop(settings, name=name)
    check_ports(settings, f" (instance {name} needs ports of its own)" if name else "")
    _mount(p)
    run_dir = in_root(p.root, inst.directories()["astrundir"])
    for stale in run_dir.glob("*"):
        with contextlib.suppress(OSError):
            stale.unlink()
    log = inst.log.open("ab")
    uid, gid = asterisk_ids(p)
    config = ["-C", inst.directories()["astetcdir"] + "/asterisk.conf"] if name else []
    proc = subprocess.Popen(
        # Not as root: a hole in Asterisk (it faces the phones' network) must not be root's.
        ["chroot", f"--userspec={uid}:{gid}", str(p.root), "/usr/sbin/asterisk", *config, "-f", "-n", "-vvv"],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    inst.pid.write_text(str(proc.pid))
    state["config"] = fp
    if name:
        a = settings.asterisk
        state["ports"] = {"http": a.http_port, "ami": a.ami_port, "sip_udp": a.sip_port}
    inst.state.write_text(json.dumps(state))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            stop(settings, name=name)
            raise CommandError(f"Asterisk exited at start (code {proc.returncode}): {log_tail(inst)}")
        if ari_info(settings, timeout=1) and ami_answers(settings, timeout=1):
            console.print(
                f"[green]{inst.label} running[/] (pid {proc.pid}) ARI {settings.asterisk.ari_url} AMI {settings.asterisk.host}:{settings.asterisk.ami_port} SIP udp {settings.asterisk.bind}:{settings.asterisk.sip_port}"
            )
            return
        time.sleep(0.25)
    stop(settings, name=name)
    raise CommandError(f"Asterisk did not answer on ARI and AMI within 60 s: {log_tail(inst)}")


def stop(settings: Settings, timeout: float = 15.0, name: str = "") -> bool:
    """Stop Asterisk (the default instance, or the one named) and, once none runs, unmount
    everything; True if something was running."""
    inst = instance(settings, name)
    p = inst.p
    pid = pid_alive(inst)
    if pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and pid_alive(inst):
            time.sleep(0.1)
        if pid_alive(inst):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            time.sleep(0.2)
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
    with contextlib.suppress(OSError):
        inst.pid.unlink()
    others = [other for other in (Instance(p), *named_instances(p)) if other != inst and pid_alive(other)]
    if p.root.exists() and not others:  # the others still need the root's /proc
        _unmount_all(p)
    return pid is not None


def stop_all(settings: Settings) -> list[str]:
    """Stop the default instance and every named one; the names of those that ran ('' the default)."""
    p = paths(settings)
    stopped = [inst.name for inst in named_instances(p) if stop(settings, name=inst.name)]
    return ([""] if stop(settings) else []) + stopped


def status(settings: Settings, name: str = "") -> dict[str, object]:
    inst = instance(settings, name)
    p = inst.p
    state = read_state(inst) or {}
    ports = state.get("ports")
    if name and isinstance(ports, dict) and pid_alive(inst):  # what it runs on, whatever this environment says
        a = settings.asterisk.model_copy(
            update={"http_port": ports["http"], "ami_port": ports["ami"], "sip_port": ports["sip_udp"]}
        )
        settings = settings.model_copy(update={"asterisk": a})
    info = ari_info(settings) if (settings.asterisk.external or pid_alive(inst)) else None
    system = info.get("system", {}) if isinstance(info, dict) else {}
    built_state = read_state(p) or {}
    return {
        "mode": "external" if settings.asterisk.external else "sandbox",
        "instance": name or "default",
        "built": is_built(p),
        "pid": pid_alive(inst),
        "version": (system.get("version") if isinstance(system, dict) else None) or built_state.get("version") or None,
        "ari": bool(info),
        "ami": ami_answers(settings) is True,
        "ports": {
            "http": settings.asterisk.http_port,
            "ami": settings.asterisk.ami_port,
            "sip_udp": settings.asterisk.sip_port,
        },
        "path": str(inst.home),
    }
