"""``hotline wechat-standin``: run the local stand-in of WeChat's API for manual trials."""

from __future__ import annotations

import argparse
import logging

from hotline.errors import CommandError

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("wechat-standin", help="run a local stand-in of WeChat's API server (for trials and tests)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=18345)
    p.add_argument("--app-id", required=True, help="AppID the stand-in accepts")
    p.add_argument("--app-secret", required=True, help="AppSecret the stand-in accepts")
    p.add_argument("--follower", action="append", default=[], help="openid that may receive messages (repeatable)")
    p.set_defaults(func=_standin)


def _standin(args: argparse.Namespace) -> int:
    from aiohttp import web

    from channels.wechat_standin import StandInState, build_standin

    if not 1 <= args.port <= 65535:
        raise CommandError(f"--port {args.port} is not a TCP port; use 1-65535")
    state = StandInState(args.app_id, args.app_secret)
    for openid in args.follower:
        state.user_wrote(openid)
    try:
        web.run_app(build_standin(state), host=args.host, port=args.port, print=None)
    except OSError as exc:
        raise CommandError(f"cannot listen on {args.host}:{args.port} ({exc.strerror}); pick another --port") from None
    return 0
