"""Named sandbox instances: folders of their own inside the shared root, the default one as it was,
and ``hotline sandbox down`` stopping every instance."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hotline import sandbox, sandbox_instances
from hotline.dialplans import SANDBOX_DIRECTORIES, render
from hotline.errors import CommandError
from hotline.settings import load_settings


def test_the_default_instance_keeps_debians_folders_and_its_files(tmp_path) -> None:
    settings = load_settings(data_dir=tmp_path)
    default = sandbox_instances.instance(settings)
    assert default.directories() == SANDBOX_DIRECTORIES
    assert default.folders() == sandbox_instances.ASTERISK_DIRS
    assert (default.pid, default.log, default.state) == (
        tmp_path.resolve() / "sandbox/asterisk.pid",
        tmp_path.resolve() / "sandbox/asterisk.log",
        tmp_path.resolve() / "sandbox/state.json",
    )
    assert render(settings, sandbox=True, directories=default.directories()) == render(settings, sandbox=True)


def test_a_named_instance_moves_only_what_it_writes(tmp_path) -> None:
    settings = load_settings(data_dir=tmp_path)
    b = sandbox_instances.instance(settings, "b")
    conf = render(settings, sandbox=True, directories=b.directories())["asterisk.conf"]
    lines = dict(line.split(" => ") for line in conf.splitlines() if " => " in line)
    for key in ("astetcdir", "astdbdir", "astkeydir", "astspooldir", "astrundir", "astlogdir", "astcachedir"):
        assert lines[key] == SANDBOX_DIRECTORIES[key] + "-b", key
    for key in ("astmoddir", "astvarlibdir", "astdatadir"):  # modules, hold music, sounds: the root's
        assert not lines[key].endswith("-b"), key
    assert b.etc == tmp_path.resolve() / "sandbox/root/etc/asterisk-b"
    assert b.pid == tmp_path.resolve() / "sandbox/instances/b/asterisk.pid"
    assert "/var/spool/asterisk-b/recording" in b.folders()


@pytest.mark.parametrize("name", ["B", "../b", "1b", "b_c", "x" * 32])
def test_an_instance_name_is_checked(tmp_path, name) -> None:
    with pytest.raises(CommandError, match="instance name"):
        sandbox_instances.instance(load_settings(data_dir=tmp_path), name)


def test_down_without_an_instance_stops_every_instance(tmp_path) -> None:
    """Stand-ins named like Asterisk (pid_alive checks the command line) behind each pid file."""
    settings = load_settings(data_dir=tmp_path)
    procs = {name: subprocess.Popen(["bash", "-c", "exec -a asterisk-stand-in sleep 30"]) for name in ("", "b", "c")}
    try:
        for name, proc in procs.items():
            inst = sandbox_instances.instance(settings, name)
            inst.home.mkdir(parents=True, exist_ok=True)
            inst.pid.write_text(str(proc.pid))
            if name:
                inst.state.write_text(json.dumps({"ports": {"http": 1, "ami": 2, "sip_udp": 3}}))
        for name, proc in procs.items():  # exec'd: a child is python until then
            deadline = time.monotonic() + 5
            while (
                sandbox_instances.pid_alive(sandbox_instances.instance(settings, name)) != proc.pid
                and time.monotonic() < deadline
            ):
                time.sleep(0.01)
        assert sorted(sandbox.stop_all(settings)) == ["", "b", "c"]
        for proc in procs.values():
            assert proc.wait(5) is not None
        assert sandbox.stop_all(settings) == []
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()


def test_a_stale_pid_file_naming_a_process_that_only_mentions_asterisk_is_not_taken(tmp_path) -> None:
    """The pid of a stopped Asterisk went to another process whose command line says "asterisk"
    (an engine run with --no-asterisk, killed by a test that thought it was instance b's)."""
    settings = load_settings(data_dir=tmp_path)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "run", "--no-asterisk"])
    try:
        inst = sandbox_instances.instance(settings, "b")
        inst.home.mkdir(parents=True, exist_ok=True)
        inst.pid.write_text(str(other.pid))
        deadline = time.monotonic() + 5
        while b"--no-asterisk" not in Path(f"/proc/{other.pid}/cmdline").read_bytes():  # until exec'd
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert sandbox_instances.pid_alive(inst) is None
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_paths_inside_the_root_follow_its_links_without_leaving_it(tmp_path) -> None:
    root = tmp_path / "root"
    (root / "run").mkdir(parents=True)
    (root / "var").mkdir()
    (root / "var/run").symlink_to("/run")  # as in Debian: absolute, meant for inside the chroot
    (root / "var/spool").symlink_to("../run")
    assert sandbox_instances.in_root(root, "/var/run/asterisk-b") == root / "run/asterisk-b"
    assert sandbox_instances.in_root(root, "/var/spool/x") == root / "run/x"
    assert sandbox_instances.in_root(root, "/../../etc/asterisk") == root / "etc/asterisk"
