from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("sandbox", help="the project's Asterisk 22 sandbox")
    p.set_defaults(func=lambda a: 0)
