"""Wires the ACD into the engine: the bus, the core with its queues and timers, and the voice
side on Asterisk (ARI events, AMI, interaction records)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

from aiohttp import web

from acd.ami import Ami, AmiError
from acd.ari.client import AriClient
from acd.core import QueueConfigured
from acd.queues import load_queues
from acd.service import AcdService
from acd.voice import voicemail
from acd.voice.records import RecordStore
from acd.voice.servers import VoiceServers, relative_to
from acd.voice.service import VoiceService
from acd.voice.voicemail import voice_message_to_work_order
from hotline.context import AppContext
from hotline.dialplans import dial_policy
from hotline.lease import fence

logger = logging.getLogger(__name__)

OPENAPI: dict[str, object] = {
    "paths": {
        "/sip/ws": {
            "get": {
                "summary": "SIP over WebSocket for seats' and supervisors' browser phones, relayed to Asterisk",
                "security": [{"bearer": []}, {"cookie": []}],
                "responses": {
                    "101": {"description": "WebSocket (subprotocol sip)"},
                    "400": {"description": "not a WebSocket upgrade"},
                },
            }
        }
    }
}


def install(app: web.Application, ctx: AppContext) -> None:
    bus = ctx.deps.bus
    service = AcdService(bus)
    ctx.deps.acd = service
    a = ctx.settings.asterisk
    ari = AriClient.from_settings(a)
    records = RecordStore(ctx.sessions)
    if ctx.settings.cluster.enabled:  # several engines: only the lease's holder commands and writes
        ari.fence = partial(fence, ctx.lease, "ari")
        records.fence = partial(fence, ctx.lease, "records")
    voicemail.install(ctx)  # voice messages' orders an earlier run left in the outbox

    runners: dict[str, Any] = {}

    def ivr_runner() -> Any:
        # The IVR feature registers itself after this plugin; look it up on first use.
        if "runner" not in runners and ctx.deps.ivr is not None:
            from acd.voice.ivr import IvrRunner

            async def lookup(number: str) -> tuple[bool, str]:
                """Self-service progress: the order by the number keyed in, read back by its state."""
                workorders = ctx.deps.workorders
                if workorders is None or not number.isdigit() or len(number) > 12:
                    return False, ""
                try:
                    order = await workorders.get(int(number))
                except LookupError:
                    return False, ""
                return True, str(order.state)

            async def voice_message(call: Any, name: str) -> None:
                await voice_message_to_work_order(ctx, call, name)

            runners["runner"] = IvrRunner(
                ctx.deps.ivr, sounds_dir=a.sounds_dir, lookup=lookup, on_voice_message=voice_message
            )
        return runners.get("runner")

    async def ivr(voice: VoiceService, call: Any) -> Any:
        runner = ivr_runner()
        if runner is None:
            return {"queue": voice.default_queue}
        return await runner.run(voice, call)

    async def survey(voice: VoiceService, call: Any) -> None:
        runner = ivr_runner()
        if runner is not None:
            await runner.survey(voice, call)

    emergency = ctx.settings.emergency

    def voice_of(client: AriClient) -> VoiceService:
        """One server's voice side, feeding the one ACD."""
        return VoiceService(
            client,
            service,
            records=records,
            ivr=ivr,
            survey=survey,
            sounds_prefix=a.sounds_dir,
            recording_queues=frozenset(a.record_queues),
            trunk_numbers={
                "police": emergency.police,
                "fire": emergency.fire,
                "ambulance": emergency.ambulance,
                "traffic": emergency.traffic,
            },
            dial_policy=dial_policy(ctx.settings),
        )

    voice = voice_of(ari)
    # Peers driven over ARI (docs/voice.md, "Callers on several servers"): callers entering them
    # are the same ACD's, each server's calls handled by a voice side of its own.
    driven: dict[str, VoiceService] = {}
    for peer in a.peers:
        if not peer.driven:
            continue
        peer_ari = AriClient.from_settings(a, url=peer.ari_url, name=peer.name)
        if ctx.settings.cluster.enabled:
            peer_ari.fence = partial(fence, ctx.lease, "ari")
        driven[peer.name] = voice_of(peer_ari)
        driven[peer.name].lost_after_s = peer.grace_s
    servers = VoiceServers(voice, driven)
    ctx.deps.voice_service = voice  # the main server's; its peers' in voice.peers
    ctx.deps.voice = servers.control
    ami = Ami(a.host, a.ami_port, a.ami_user, a.ami_password, timeout=a.request_timeout)
    if ctx.settings.cluster.enabled:
        ami.fence = partial(fence, ctx.lease, "ami")
    ctx.deps.ami = ami
    from acd.voice.presence import PhonePresence

    presence = PhonePresence(service)
    ami.on_event("ContactStatus", presence.on_contact_status)
    ctx.deps.phone_presence = presence

    from acd.voice.phones import SeatPhones
    from acd.voice.provision import ProvisionError, provision, reload_peer

    # Peers whose seats' phones the engine follows (docs/voice.md, "Seats on several servers"):
    # one AMI each, with this server's manager account, reconnecting like this server's.
    peer_amis: dict[str, Ami] = {}
    reloads: set[asyncio.Task[None]] = set()

    def reload_on_login(name: str, peer_ami: Ami, up: bool) -> None:
        """At each login of a peer's AMI, load the seats' endpoints written while it was away."""
        if up:
            task = asyncio.get_running_loop().create_task(reload_peer(name, peer_ami))
            reloads.add(task)
            task.add_done_callback(reloads.discard)

    for peer in a.peers:
        if not peer.watched:
            continue
        peer_ami = Ami(
            peer.host, peer.ami_port, a.ami_user, a.ami_password, timeout=a.request_timeout, name=f"peer-{peer.name}"
        )
        if ctx.settings.cluster.enabled:
            peer_ami.fence = partial(fence, ctx.lease, "ami")
        peer_ami.on_event("ContactStatus", presence.contact_handler(peer.name))
        peer_ami.on_connection(partial(presence.peer_connection, peer.name, peer.grace_s))
        peer_ami.on_connection(partial(reload_on_login, peer.name, peer_ami))
        peer_amis[peer.name] = peer_ami
    voice.seat_server = presence.server_of
    for peer in a.peers:
        if peer.name in driven:
            driven[peer.name].seat_server = relative_to(peer.name, peer.name_here, presence.server_of)

    async def write_endpoints(devices: list[Any], passwords: dict[str, str]) -> None:
        await provision(ctx.settings, devices, ami, passwords=passwords, peers=peer_amis)

    # Seats' endpoints exist only while they are signed in (the console opens and closes them).
    phones = SeatPhones(ctx.settings.secret_key, write_endpoints)
    if a.voice:  # without a voice side there are no phones to open
        ctx.deps.phones = phones

    async def provision_seats() -> int:
        """Tell the voice side how to reach every account's phone, and make Asterisk's seat
        endpoints those of the seats signed in now (none after a start: they sign in again)."""
        from acd.voice.roster import seat_devices

        console = ctx.deps.console  # the console keeps each seat's phone; without it, browser phones
        devices = await seat_devices(ctx.sessions, await console.phone_profiles() if console is not None else {})
        for device in devices:
            voice.set_device(device)
        try:
            await write_endpoints(
                [*phones.static.values(), *(d for d, _ in phones.open.values())],
                {seat: p for seat, (_, p) in phones.open.items()},
            )
        except (ProvisionError, AmiError, OSError) as exc:
            logger.warning("seat endpoints not written", extra={"cause": str(exc)})
        return len(devices)

    ctx.deps.provision_seats = provision_seats

    async def connect_ami() -> None:
        delay = 0.5
        while True:
            try:
                await ami.connect()
                await provision_seats()
                return
            except AmiError as exc:
                logger.warning("AMI not reachable yet", extra={"cause": str(exc), "retry_s": delay})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)

    from acd.figures import FiguresStore

    figures = FiguresStore(ctx.sessions)

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        # The day's figures as kept before the last stop (or crash), before anything is counted.
        kept = await figures.restore(service.core.stats, service.now() - 2 * 86400)
        if kept:
            logger.info("figures of the day restored", extra={"rows": kept})
        figures.start(service.core.stats)
        for queue in load_queues():
            await service.feed(QueueConfigured(now=service.now(), queue=queue))
        sink = ctx.deps.channels_sink
        if sink is not None:  # WeChat and web chat: every new conversation joins the same ACD
            from acd.chat import ChatBridge

            bridge = ChatBridge(service, bus, ctx.deps.channels, deps=ctx.deps)
            sink.subscribe(bridge.on_notification)
            await bridge.restore()  # chats open at the last stop (or crash) wait again at their place
        service.start()
        records.start()
        ami_task = None
        peer_tasks: list[asyncio.Task[None]] = []
        if a.voice:
            if not a.external:  # the manager's surge announcement is made into the sandbox's sounds
                from acd.voice.announcement import Announcement
                from hotline.layout import paths

                Announcement(servers, bus, paths(ctx.settings).root / a.sounds_dir.lstrip("/"), ctx.deps.speak)
            ivr_service = ctx.deps.ivr
            if ivr_service is not None:
                from acd.voice.missed import MissedCalls

                servers.missed = MissedCalls(ivr_service.planner)
            servers.start()
            ami_task = asyncio.create_task(connect_ami(), name="ami-connect")
            peer_tasks = [
                asyncio.create_task(_connect_peer(name, peer_ami), name=f"ami-connect-{name}")
                for name, peer_ami in peer_amis.items()
            ]
        yield
        for task in [*([ami_task] if ami_task is not None else []), *peer_tasks]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for task in list(reloads):
            task.cancel()
        await asyncio.gather(*reloads, return_exceptions=True)
        for peer_ami in peer_amis.values():
            await peer_ami.close()
        await presence.stop()
        await phones.stop()
        await servers.stop()
        await service.stop()
        await figures.stop(service.core.stats)
        await records.stop()
        await ami.close()
        await ari.close()
        for peer_voice in driven.values():
            await peer_voice.ari.close()

    app.cleanup_ctx.append(lifecycle)
    from acd.voice import sipws

    app.router.add_get("/sip/ws", sipws.handler(f"ws://{a.host}:{a.http_port}/ws"))


async def _connect_peer(name: str, ami: Ami) -> None:
    """Log into a peer's AMI, retrying like this server's; panoramisk reconnects after that."""
    delay = 0.5
    while True:
        try:
            await ami.connect()
            return
        except AmiError as exc:
            logger.warning("peer AMI not reachable yet", extra={"peer": name, "cause": str(exc), "retry_s": delay})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)
