from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="start Asterisk (sandbox) and the engine")
    p.set_defaults(func=lambda a: 0)
