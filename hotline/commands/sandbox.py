"""``hotline sandbox up|down|status`` and ``hotline dialplans render DIR``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hotline.errors import CommandError
from hotline.settings import load_settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("sandbox", help="the project's Asterisk 22 sandbox (debootstrap + chroot, loopback only)")
    ssub = p.add_subparsers(dest="sandbox_command", metavar="ACTION")
    ssub.required = True
    instance_help = (
        "another Asterisk from the same root, with folders of its own and the ports of this environment"
        " (HOTLINE_ASTERISK__HTTP_PORT, __AMI_PORT, __SIP_PORT)"
    )
    up = ssub.add_parser("up", help="build once, install dialplans/, start Asterisk")
    up.add_argument("--rebuild", action="store_true", help="build the Debian root again (keeps downloaded packages)")
    up.add_argument("--instance", metavar="NAME", default="", help=instance_help)
    up.set_defaults(func=_up)
    down = ssub.add_parser("down", help="stop Asterisk (without --instance: every instance) and unmount")
    down.add_argument("--instance", metavar="NAME", default="", help="only this instance")
    down.set_defaults(func=_down)
    st = ssub.add_parser("status", help="version, ports, whether ARI and AMI answer")
    st.add_argument("--json", action="store_true")
    st.add_argument("--instance", metavar="NAME", default="", help="a named instance instead of the default one")
    st.set_defaults(func=_status)

    d = sub.add_parser("dialplans", help="Asterisk configuration for a production Asterisk")
    dsub = d.add_subparsers(dest="dialplans_command", metavar="ACTION")
    dsub.required = True
    r = dsub.add_parser("render", help="write the rendered configuration files into DIR")
    r.add_argument("dir", type=Path)
    r.add_argument("--sandbox", action="store_true", help="also the sandbox-only files (asterisk.conf, modules.conf)")
    r.set_defaults(func=_render)


def _up(args: argparse.Namespace) -> int:
    from hotline import sandbox

    settings = load_settings()
    if args.rebuild:
        if args.instance:
            raise CommandError("--rebuild rebuilds the root every instance runs from: run it without --instance")
        for name in sandbox.stop_all(settings):
            print(f"stopped {sandbox.instance(settings, name).label}")
        sandbox.build(settings, force=True)
    sandbox.up(settings, args.instance)
    return 0


def _down(args: argparse.Namespace) -> int:
    from hotline import sandbox

    settings = load_settings()
    if args.instance:
        label = sandbox.instance(settings, args.instance).label
        print(f"{label} stopped" if sandbox.stop(settings, name=args.instance) else f"{label} was not running")
        return 0
    stopped = sandbox.stop_all(settings)
    print("sandbox Asterisk stopped" if "" in stopped else "sandbox Asterisk was not running")
    for name in stopped:
        if name:
            print(f"{sandbox.instance(settings, name).label} stopped")
    return 0


def _status(args: argparse.Namespace) -> int:
    from hotline import sandbox

    st = sandbox.status(load_settings(), args.instance)
    if args.json:
        print(json.dumps(st))
    else:
        yes = {True: "answers", False: "does not answer"}
        print(f"mode:     {st['mode']} ({st['path']})")
        print(f"instance: {st['instance']}")
        print(f"built:    {st['built']}")
        print(f"running:  {'pid ' + str(st['pid']) if st['pid'] else 'no'}")
        print(f"version:  {st['version'] or '-'}")
        ports = st["ports"]
        assert isinstance(ports, dict)
        print(f"ports:    http/ARI {ports['http']}  AMI {ports['ami']}  SIP/UDP {ports['sip_udp']}")
        print(f"ARI:      {yes[bool(st['ari'])]}")
        print(f"AMI:      {yes[bool(st['ami'])]}")
    return 0 if st["ari"] and st["ami"] else 3


def _render(args: argparse.Namespace) -> int:
    from hotline import dialplans

    settings = load_settings()
    try:
        files = dialplans.render(settings, sandbox=args.sandbox)
        dialplans.write(files, args.dir)
    except (dialplans.RenderError, OSError) as exc:
        raise CommandError(str(exc)) from None
    print(f"wrote {len(files)} files to {args.dir}")
    return 0
