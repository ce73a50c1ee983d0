"""``hotline cluster``: who holds the routing lease and what each engine process said last
(``status``), and the HAProxy configuration that sends the traffic to the active one (``haproxy``).

The protocol is in hotline/lease.py, the deployment in docs/deployment.md. ``status`` only reads
(it never migrates nor takes the lease) and measures every age with the database's clock, the one
the standbys judge a silent holder by.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import ipaddress
import json
import re
from typing import Any, NamedTuple

from hotline import __version__
from hotline.errors import CommandError
from hotline.settings import load_settings

# A member writes its row about once a second (hotline/lease.py ``_beat``): five missed, it is gone.
SILENT_AFTER_S = 5.0
NO_ACTIVE_EXIT = 3  # ``status``: read fine, but no engine is active (for a monitoring check)
STATUS_LABEL = {
    "active": "active 主用",
    "standby": "standby 备用",
    "fenced": "fenced 已隔离",
    "silent": "silent 失联",
    "stopped": "stopped 已停止",
}
_RANK = {"active": 0, "standby": 1, "fenced": 2, "silent": 3, "stopped": 4}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("cluster", help="hot standby: which engine is active, the load balancer's configuration")
    csub = p.add_subparsers(dest="cluster_command", metavar="ACTION")
    csub.required = True
    st = csub.add_parser(
        "status",
        help="the routing lease, every engine process and which one is active (exit 0: one is active, 3: none)",
    )
    st.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    st.add_argument("--lease", help="the lease's name (default: the setting cluster.lease, router)")
    st.set_defaults(func=_status)
    hp = csub.add_parser("haproxy", help="print an HAProxy 2.6 configuration that follows the active engine")
    hp.add_argument(
        "--engine",
        action="append",
        required=True,
        type=_engine_arg,
        metavar="[NAME=]HOST:PORT",
        help="an engine's HTTP address as HAProxy reaches it; once per engine",
    )
    hp.add_argument(
        "--gateway",
        action="append",
        default=[],
        type=_engine_arg,
        metavar="[NAME=]HOST:PORT",
        help="a web gateway (cluster.role = gateway) for the sockets (/socket.io/); once per gateway",
    )
    hp.add_argument("--listen", default="*:80", type=_address_arg, metavar="ADDR:PORT", help="default *:80")
    hp.add_argument("--stats", type=_address_arg, metavar="ADDR:PORT", help="HAProxy's own stats page (no login)")
    hp.add_argument(
        "--maxconn",
        type=_maxconn_arg,
        default=8000,
        metavar="N",
        help="connections at once (default 8000; HAProxy needs about 2 N open files)",
    )
    hp.add_argument(
        "--front",
        action="append",
        default=[],
        type=_network_arg,
        metavar="ADDR[/BITS]",
        help="a proxy in front of HAProxy (the city's gateway, a CDN) whose X-Forwarded-For is kept;"
        " from any other client the header is dropped. Once per address or network",
    )
    hp.set_defaults(func=_haproxy)


# -- status -----------------------------------------------------------------------------------------


def _status(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    settings = load_settings()
    url = settings.effective_database_url
    shown_url = make_url(url).render_as_string(hide_password=True)
    if not url.startswith("postgresql"):
        raise CommandError(
            f"the cluster lives in PostgreSQL; DATABASE_URL is {shown_url}: set DATABASE_URL=postgresql://..."
        )
    name = args.lease or settings.cluster.lease
    try:
        found = asyncio.run(asyncio.wait_for(_read(url, name), 10))
    except (OSError, TimeoutError) as exc:
        raise CommandError(
            f"database {shown_url} unreachable ({exc or type(exc).__name__}); check DATABASE_URL"
        ) from None
    except Exception as exc:  # asyncpg's errors: a wrong password, no such database, no tables yet
        hint = "run hotline db upgrade first" if type(exc).__name__ == "UndefinedTableError" else "check DATABASE_URL"
        raise CommandError(f"cannot read the cluster from {shown_url} ({type(exc).__name__}: {exc}); {hint}") from None
    summary = summarize(found, settings.cluster.ttl_s)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print("\n".join(render(summary)))
    return 0 if summary["active"] else NO_ACTIVE_EXIT


async def _read(url: str, name: str) -> dict[str, Any]:
    import asyncpg

    from hotline.lease import lock_keys, plain_dsn

    conn = await asyncpg.connect(
        plain_dsn(url), timeout=5, command_timeout=5, server_settings={"application_name": "hotline cluster status"}
    )
    try:
        now = await conn.fetchval("SELECT now()")
        lease = await conn.fetchrow(
            """SELECT name, epoch, holder, holder_pid, acquired_at, renewed_at,
                      extract(epoch FROM now() - renewed_at)::float8 AS age
               FROM cluster_lease WHERE name = $1""",
            name,
        )
        lockers = await conn.fetch(
            """SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid::bigint = $1
                 AND objid::bigint = $2 AND objsubid = 2 AND granted
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())""",
            *lock_keys(name),
        )
        members = await conn.fetch(
            """SELECT node, state, epoch, pid, http, started_at, seen_at, info::text AS info,
                      extract(epoch FROM now() - seen_at)::float8 AS age
               FROM cluster_member ORDER BY node"""
        )
    finally:
        await conn.close(timeout=2)
    return {
        "now": now,
        "name": name,
        "lease": dict(lease) if lease is not None else None,
        "lock_pids": [int(r["pid"]) for r in lockers],
        "members": [dict(m) for m in members],
    }


def summarize(found: dict[str, Any], ttl_s: float) -> dict[str, Any]:
    """What the rows say: the active engine (the lease's holder, still holding PostgreSQL's lock and
    renewed within ``ttl_s``), and each member's status as an operator reads it."""
    lease, lock_pids = found["lease"], found["lock_pids"]
    active = None
    if lease is None:
        verdict = "no lease yet: no engine has been active on this database"
    else:
        locked = lease["holder_pid"] in lock_pids
        if locked and lease["age"] <= ttl_s:
            active = {"node": lease["holder"], "epoch": lease["epoch"]}
            verdict = f"active 主用: {lease['holder']} (epoch {lease['epoch']})"
        elif locked:
            verdict = (
                f"no active engine: holder {lease['holder']} silent for {_ago(lease['age'])}, past ttl_s {ttl_s:g} s;"
                " a standby ends its session and takes over"
            )
        elif lock_pids:
            verdict = "no active engine this instant: the lease is changing hands"
        else:
            verdict = f"no active engine: the lease is free (last holder {lease['holder']}); is any standby running?"
    members = []
    for m in found["members"]:
        info = _info(m["info"])
        if m["state"] == "stopped":
            status = "stopped"
        elif m["age"] > SILENT_AFTER_S:
            status = "silent"
        elif m["state"] == "active" and not _is(m, active):
            # Its row says active but it is not: the lease's holder gone quiet, or an older holder
            # that has lost the lease and is being fenced.
            status = (
                "silent"
                if lease is not None and _is(m, {"node": lease["holder"], "epoch": lease["epoch"]})
                else "fenced"
            )
        else:
            status = m["state"]
        members.append(
            {
                "node": m["node"],
                "status": status,
                "state": m["state"],
                "active": _is(m, active),
                "epoch": m["epoch"],
                "pid": m["pid"],
                "http": m["http"],
                "started_at": _iso(m["started_at"]),
                "seen_at": _iso(m["seen_at"]),
                "seen_s_ago": round(m["age"], 1),
                "asterisk": info,
                "gateways": _gateways(m["info"]),
            }
        )
    members.sort(key=lambda m: (_RANK.get(m["status"], 9), m["node"]))
    shown_lease = None
    if lease is not None:
        shown_lease = {
            "name": lease["name"],
            "epoch": lease["epoch"],
            "holder": lease["holder"],
            "holder_pid": lease["holder_pid"],
            "locked": lease["holder_pid"] in lock_pids,
            "acquired_at": _iso(lease["acquired_at"]),
            "renewed_at": _iso(lease["renewed_at"]),
            "renewed_s_ago": round(lease["age"], 2),
        }
    return {
        "now": _iso(found["now"]),
        "lease_name": found["name"],
        "ttl_s": ttl_s,
        "lease": shown_lease,
        "active": active,
        "verdict": verdict,
        "members": members,
    }


def render(summary: dict[str, Any]) -> list[str]:
    lease = summary["lease"]
    if lease is None:
        lines = [f"lease 租约 {summary['lease_name']}: none yet"]
    else:
        lock = "lock held" if lease["locked"] else "lock free"
        lines = [
            f"lease 租约 {lease['name']}: epoch {lease['epoch']}, holder {lease['holder']}"
            f" (backend pid {lease['holder_pid']}, {lock}), renewed {_ago(lease['renewed_s_ago'])} ago"
            f" by the database's clock (ttl_s {summary['ttl_s']:g} s)"
        ]
    lines.append(summary["verdict"])
    if not summary["members"]:
        lines.append("members 节点: none has written its row yet")
        return lines
    lines.append("")
    head = ("node 节点", "status 状态", "epoch", "pid", "http", "seen 心跳", "Asterisk: calls 通话")
    rows = [head]
    for m in summary["members"]:
        status = STATUS_LABEL.get(m["status"], m["status"])
        if m["status"] in ("silent", "fenced") and m["state"] != m["status"]:
            status += f" (row: {m['state']})"
        if m["active"]:
            status += " *"
        asterisk = ", ".join(f"{a['ari']}: {a['calls']}" for a in m["asterisk"]) or "-"
        rows.append(
            (
                m["node"],
                status,
                str(m["epoch"]),
                str(m["pid"]),
                m["http"] or "-",
                _ago(m["seen_s_ago"]) + " ago",
                asterisk,
            )
        )
    widths = [max(_width(r[i]) for r in rows) for i in range(len(head) - 1)]
    for r in rows:
        lines.append("  ".join(_pad(c, w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])
    lines.append(f"* holds the lease; silent 失联: no row written for more than {SILENT_AFTER_S:g} s")
    for m in summary["members"]:
        if m["active"] and m["gateways"]:
            lines.append("")
            lines.append(f"web gateways 网关 relaying to {m['node']}:")
            lines.extend(
                f"  {g['gateway']}: {g['sockets']} sockets, heard {_ago(g['heard_s_ago'])} ago" for g in m["gateways"]
            )
    return lines


def _is(member: dict[str, Any], who: dict[str, Any] | None) -> bool:
    return who is not None and (member["node"], member["epoch"]) == (who["node"], who["epoch"])


def _info(raw: Any) -> list[dict[str, Any]]:
    """The member's Asterisk servers and calls, from whatever JSON it wrote."""
    try:
        info = json.loads(raw) if isinstance(raw, str) else raw
        return [
            {"ari": str(a.get("ari", "?")), "calls": int(a.get("calls", 0))}
            for a in (info or {}).get("asterisk", [])
            if isinstance(a, dict)
        ]
    except (ValueError, TypeError, AttributeError):
        return []


def _gateways(raw: Any) -> list[dict[str, Any]]:
    """The web gateways the member said relay to it, from whatever JSON it wrote."""
    try:
        info = json.loads(raw) if isinstance(raw, str) else raw
        return [
            {
                "gateway": str(g.get("gateway", "?")),
                "sockets": int(g.get("sockets", 0)),
                "heard_s_ago": float(g.get("heard_s_ago", 0.0)),
            }
            for g in (info or {}).get("gateways", [])
            if isinstance(g, dict)
        ]
    except (ValueError, TypeError, AttributeError):
        return []


def _ago(seconds: float) -> str:
    if seconds < 60:
        return f"{max(seconds, 0.0):.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} d"


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _width(text: str) -> int:
    """Columns on a terminal: a CJK character takes two."""
    return sum(2 if "\u2e80" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


# -- haproxy ----------------------------------------------------------------------------------------

_HOST = r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)"
_ENGINE = re.compile(rf"^(?:(?P<name>[A-Za-z0-9_.:-]{{1,64}})=)?(?P<host>{_HOST}):(?P<port>\d{{1,5}})$")
_LISTEN = re.compile(rf"^(?P<host>\*|{_HOST})?:(?P<port>\d{{1,5}})$")


class Engine(NamedTuple):
    name: str  # HAProxy's server name (its stats page, its logs)
    address: str
    given: str  # as written on the command line


def _engine_arg(text: str) -> Engine:
    m = _ENGINE.match(text)
    if m is None or not 0 < int(m["port"]) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not [NAME=]HOST:PORT (an IPv6 address in brackets)")
    address = f"{m['host']}:{int(m['port'])}"
    return Engine(m["name"] or address.replace("[", "").replace("]", ""), address, text)


def _address_arg(text: str) -> str:
    m = _LISTEN.match(text)
    if m is None or not 0 < int(m["port"]) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not ADDR:PORT (*:80, 10.0.0.5:80, [::]:80)")
    return f"{m['host'] or '*'}:{int(m['port'])}"


def _network_arg(text: str) -> str:
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an address or network (10.0.0.5, 10.8.0.0/16, fd00::/8)"
        ) from None


def _maxconn_arg(text: str) -> int:
    if not text.isdigit() or not 100 <= int(text) <= 1_000_000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from 100 to 1000000")
    return int(text)


def _haproxy(args: argparse.Namespace) -> int:
    engines: list[Engine] = args.engine
    everyone = [*engines, *args.gateway]
    for kind, values in (("name", [e.name for e in everyone]), ("address", [e.address for e in everyone])):
        twice = sorted({v for v in values if values.count(v) > 1})
        if twice:
            raise CommandError(f"--engine/--gateway: the {kind} {', '.join(twice)} is given twice", exit_code=2)
    print(haproxy_config(engines, args.listen, args.stats, args.maxconn, args.front, args.gateway), end="")
    return 0


def haproxy_config(
    engines: list[Engine],
    listen: str,
    stats: str | None,
    maxconn: int = 8000,
    front: list[str] | None = None,
    gateways: list[Engine] | None = None,
) -> str:
    """A complete /etc/haproxy/haproxy.cfg for Debian 12's HAProxy 2.6. ``front``: the
    networks of proxies in front of HAProxy whose X-Forwarded-For is kept; ``gateways``: web
    gateways that take every socket (/socket.io/), the engines keeping the pages and the API."""
    front = front or []
    gateways = gateways or []
    given = " ".join(f"--engine {e.given}" for e in engines) + "".join(f" --gateway {g.given}" for g in gateways)
    given += f" --listen {listen}"
    if stats:
        given += f" --stats {stats}"
    if maxconn != 8000:
        given += f" --maxconn {maxconn}"
    given += "".join(f" --front {f}" for f in front)
    if front:
        forwarded = f"""\
    # The engines hold a client to the right-most untrusted address of X-Forwarded-For. The
    # proxies in front ({", ".join(front)}) say who their clients are: their header is kept and
    # HAProxy adds theirs after it (option forwardfor), so on every engine
    # HOTLINE_SECURITY__TRUSTED_PROXIES must list those networks too. From anyone else the
    # header is a claim anybody can make: dropped.
    acl from_front src {" ".join(front)}
    http-request del-header X-Forwarded-For unless from_front"""
    else:
        forwarded = """\
    # The engines hold a client to the right-most untrusted address of X-Forwarded-For: drop
    # what the client sent, so the header HAProxy adds (option forwardfor) is the only one.
    http-request del-header X-Forwarded-For"""
    servers = "\n".join(f"    server {e.name} {e.address}" for e in engines)
    to_gateways = "    use_backend gateways if { path_beg /socket.io/ }\n" if gateways else ""
    out = f"""\
# /etc/haproxy/haproxy.cfg: HAProxy 2.6 (Debian 12) in front of the 12345 hotline's engines
# (and its web gateways, when given).
# Made by `hotline cluster haproxy {given}` (hotline {__version__}).
#
# Only the engine whose GET /cluster/active answers 200, the one holding the routing lease,
# receives traffic; a standby and a fenced engine answer 503 and are passed by. A killed active
# is marked down within 0.6 s (two refused checks 300 ms apart) and its successor up within
# 300 ms of serving. Check with `haproxy -c -f /etc/haproxy/haproxy.cfg`, then
# `systemctl reload haproxy`. On every engine, HOTLINE_SECURITY__TRUSTED_PROXIES must list this
# machine's address(es): the engines believe X-Forwarded-For only from a trusted proxy.

global
    log /dev/log local0
    log /dev/log local1 notice
    chroot /var/lib/haproxy
    stats socket /run/haproxy/admin.sock mode 660 level admin
    stats timeout 30s
    user haproxy
    group haproxy
    daemon
    # Seats' consoles and soft-phones (two websockets each) and the citizens' web chats: about
    # two open files per connection (a systemd override's LimitNOFILE= for much more).
    maxconn {maxconn}

defaults
    mode http
    log global
    option httplog
    option dontlognull
    # A request that could not connect (the engine just died) is tried again, each time on
    # another server if one is up; only connection failures are retried, so a POST is never
    # sent twice.
    retries 3
    option redispatch 1
    timeout connect 1s
    timeout queue 5s
    timeout http-request 10s
    timeout http-keep-alive 10s
    # Longer than Socket.IO's long-polling hold (its 25 s ping interval).
    timeout client 60s
    timeout server 60s
    timeout client-fin 5s
    timeout server-fin 5s
    # Websockets (Socket.IO): how long one may stay idle; a console's connection lasts the shift
    # (Socket.IO's pings every 25 s keep it from ever idling that long).
    timeout tunnel 1h
    # A check may take up to 1 s: an event loop that stalls for less than that does not cut every
    # seat's websocket; a frozen active (SIGSTOP) is marked down about 2.5 s after it froze, when
    # its successor (ttl_s 1.5 s + its start) is about to serve.
    timeout check 1s
    # No engine up (the moment of a takeover, or every engine down): a JSON answer the pages
    # understand, like a standby's own 503, instead of HAProxy's HTML page.
    http-error status 503 content-type "application/json; charset=utf-8" string '{{"error": "no_active_engine", "detail": "正在切换服务节点，请稍后重试"}}' hdr Retry-After 1

frontend hotline
    bind {listen}
{forwarded}
    option forwardfor
{to_gateways}    default_backend engines

backend engines
    balance roundrobin
    option httpchk GET /cluster/active
    http-check expect status 200
    # Fast checks, so a takeover is seen within about a second; a server marked down has its
    # connections cut (websockets included): the consoles reconnect to the new active engine.
    default-server check inter 300ms fastinter 300ms downinter 300ms fall 2 rise 1 on-marked-down shutdown-sessions
{servers}
"""
    if gateways:
        lines = "\n".join(f"    server {g.name} {g.address} cookie {g.name}" for g in gateways)
        out += f"""
# The web gateways (cluster.role = gateway): they hold the sockets of seats, supervisors and
# citizens and relay them to the active engine (docs/deployment.md). Any of them will do: each
# new socket goes to the one with the fewest; a long-polling client keeps to its gateway by a
# cookie (a WebSocket needs no stickiness). A gateway marked down has its sockets cut: the
# pages reconnect to another.
backend gateways
    balance leastconn
    cookie HLGW insert indirect nocache httponly
    option httpchk GET /healthz
    http-check expect status 200
    default-server check inter 1s fastinter 300ms downinter 1s fall 2 rise 2 on-marked-down shutdown-sessions
{lines}
"""
    if stats:
        out += f"""
# HAProxy's own page: which engine is up (green) now. No login: bind it to the operators' network.
listen stats
    bind {stats}
    stats enable
    stats uri /
    stats refresh 2s
    stats show-legends
"""
    return out
