"""One typed settings object, read from the environment and an optional TOML file.

Environment variables use the prefix ``HOTLINE_`` and ``__`` for nesting
(``HOTLINE_ASTERISK__ARI_PORT=8088``); ``DATABASE_URL`` and ``REDIS_URL`` are also read
as they are, because every hosting platform sets them. A TOML file is named by
``HOTLINE_CONFIG`` (default ``./hotline.toml`` when it exists). Secrets that are not
given are generated on first run and kept in ``<data_dir>/secrets.json`` (mode 0600).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import secrets
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class SettingsError(Exception):
    """A wrong setting: the message is one line naming the setting and the fix."""


class PeerAsterisk(BaseModel):
    """Another Asterisk of the same deployment, joined to this one by a SIP trunk (docs/voice.md,
    "Several Asterisk servers"). Known by address and port only: no registration, no password."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,30}$", description="the trunk's name: endpoint peer-<name>")
    host: str = Field(description="its IP address (calls from it are identified by address, so no host name)")
    sip_port: int = Field(default=5060, ge=1, le=65535, description="its PJSIP UDP port")
    ami_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="its AMI port on host, logged into with this server's asterisk.ami_user and ami_password"
        " (one deployment, one manager account); the engine then follows where seats' phones register"
        " there and notices the peer lost. 0: not watched (no seat phone registers there)",
    )
    config_dir: str = Field(
        default="",
        description="its /etc/asterisk as a folder on the engine's machine (a mount, or for a sandbox instance"
        " <data_dir>/sandbox/root/etc/asterisk-<instance>): the engine writes the seats' endpoints there too and"
        " reloads res_pjsip over AMI, so a seat's phone may register on either server. Needs ami_port",
    )
    grace_s: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="how long its AMI connection may be lost before its seats are set not ready (unreachable);"
        " when driven over ARI, also how long its events websocket may be lost before its calls are ended",
    )
    ari_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="its HTTP port for ARI on host: the engine then drives callers entering it too (its own events"
        " websocket, the same Stasis application app_name, reconciliation at start), with this server's"
        " asterisk.ari_user and ari_password (one deployment, one ARI account); all its calls join the one ACD."
        " 0: not driven (callers enter this server only)",
    )
    name_here: str = Field(
        default="a",
        pattern=r"^[a-z][a-z0-9-]{0,30}$",
        description="this server's name among the peer's own asterisk.peers: a caller on the peer is rung to a"
        " seat registered here as PJSIP/seat<id>@peer-<name_here>. Used when ari_port is set",
    )

    @field_validator("host")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise ValueError("must be an IP address (a name would be resolved once, at load)") from None

    @field_validator("config_dir")
    @classmethod
    def _folder(cls, value: str) -> str:
        if value and (not value.startswith("/") or "\n" in value or "\x00" in value):
            raise ValueError("must be an absolute folder on the engine's machine")
        return value

    @model_validator(mode="after")
    def _watched(self) -> PeerAsterisk:
        if self.config_dir and not self.ami_port:
            raise ValueError("config_dir needs ami_port: the endpoints written there are loaded by an AMI reload")
        if self.ari_port and self.name == "default":
            raise ValueError("a peer driven over ARI may not be named 'default': it is the main server's name")
        return self

    @property
    def watched(self) -> bool:
        return self.ami_port > 0

    @property
    def driven(self) -> bool:
        return self.ari_port > 0

    @property
    def ari_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.ari_port}/ari"

    @property
    def address(self) -> str:
        """host:port as SIP and PJSIP's identify write it (an IPv6 address in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.sip_port}"


class AsteriskSettings(BaseModel):
    external: bool = Field(default=False, description="true: use an Asterisk you run; false: the project's sandbox")
    voice: bool = Field(default=True, description="connect the engine's voice side to Asterisk's ARI and AMI")
    host: str = "127.0.0.1"
    bind: str = Field(default="127.0.0.1", description="address Asterisk's SIP listens on (the phones' network)")
    manage_bind: str = Field(
        default="127.0.0.1",
        description="address Asterisk's HTTP (ARI) and AMI listen on: loopback or a management network, never"
        " the phones' (browsers reach SIP over WebSocket through the engine's /sip/ws)",
    )
    moh_dir: str = Field(default="/var/lib/asterisk/moh-hotline", description="music-on-hold folder inside Asterisk")
    sounds_dir: str = Field(
        default="/usr/share/asterisk/sounds/hotline", description="the engine's prompts inside Asterisk"
    )
    config_dir: str = Field(
        default="", description="an external Asterisk's /etc/asterisk, if the engine may write seats there"
    )
    http_port: int = Field(
        default=18088, ge=1, le=65535, description="Asterisk HTTP server: ARI and SIP over WebSocket"
    )
    ami_port: int = Field(default=15038, ge=1, le=65535)
    sip_port: int = Field(default=15060, ge=1, le=65535, description="PJSIP UDP transport")
    rtp_start: int = Field(default=20000, ge=1024, le=65000)
    rtp_end: int = Field(
        default=29999, ge=1024, le=65535, description="two ports per RTP session: 5,000 sessions, 2,500 two-leg calls"
    )
    ari_user: str = "hotline"
    ari_password: str = ""
    ami_user: str = "hotline"
    ami_password: str = ""
    app_name: str = Field(default="hotline", pattern=r"^[A-Za-z0-9_-]+$")
    suite: str = Field(default="unstable", description="Debian suite the sandbox takes the asterisk package from")
    mirror: str = Field(default="", description="Debian mirror for the sandbox; empty: the machine's apt sources")
    pstn_peer: str = Field(default="127.0.0.1", description="address of the PSTN gateway (test callers) matched by IP")
    trunk_host: str = Field(default="127.0.0.1:15070", description="outbound trunk for cloud seats and 110/119/120/122")
    request_timeout: float = Field(default=5.0, gt=0)
    ari_rest_over_websocket: bool = Field(
        default=True,
        description="send ARI requests over the events websocket where Asterisk takes them (20.14, 21.9, 22.4+)",
    )
    ari_request_lanes: int = Field(
        default=2,
        ge=0,
        le=16,
        description="extra websockets for ARI requests beside the events one: Asterisk runs one websocket's "
        "requests one after the other, so an originate need not wait behind another call's answer",
    )
    record_queues: list[str] = Field(default_factory=list, description="queues whose calls are recorded")
    dial_allow: list[str] = Field(
        default_factory=list,
        description="more Asterisk patterns seats may dial out to (e.g. the units' numbers elsewhere: _0513XXXXXXXX);"
        " the emergency numbers, local 8-digit and mobile numbers are always allowed",
    )

    peers: list[PeerAsterisk] = Field(
        default_factory=list,
        description="other Asterisk servers of this deployment, each joined by a SIP trunk whose calls may ring"
        " this server's seats and nothing else",
    )

    @field_validator("dial_allow")
    @classmethod
    def _dial_patterns(cls, value: list[str]) -> list[str]:
        from hotline.dialing import DialPolicy

        DialPolicy(tuple(value))  # a bad pattern is named at start, not at the first call
        return value

    @model_validator(mode="after")
    def _ports(self) -> AsteriskSettings:
        if self.rtp_end <= self.rtp_start:
            raise ValueError("rtp_end must be greater than rtp_start")
        return self

    @model_validator(mode="after")
    def _distinct_peers(self) -> AsteriskSettings:
        names: set[str] = set()
        addresses: set[str] = set()
        own = {self.bind, self.host}
        for peer in self.peers:
            if peer.name in names:
                raise ValueError(f"peer {peer.name!r} is named twice")
            if peer.address in addresses:
                raise ValueError(f"peers share the address {peer.address}: a call from it could not be told apart")
            names.add(peer.name)
            addresses.add(peer.address)
            wildcard = self.bind in ("0.0.0.0", "::") and ipaddress.ip_address(peer.host).is_loopback
            if peer.sip_port == self.sip_port and (peer.host in own or wildcard):
                raise ValueError(f"peer {peer.name!r} is this Asterisk itself ({peer.address})")
            if peer.ami_port == self.ami_port and peer.host in (self.host, self.manage_bind):
                raise ValueError(f"peer {peer.name!r}: its AMI is this Asterisk's ({peer.host}:{peer.ami_port})")
            if peer.ari_port == self.http_port and peer.host == self.host:
                raise ValueError(f"peer {peer.name!r}: its ARI is this Asterisk's ({peer.host}:{peer.ari_port})")
            if peer.config_dir and self.config_dir and Path(peer.config_dir) == Path(self.config_dir):
                raise ValueError(f"peer {peer.name!r}: its config_dir is this Asterisk's")
        return self

    @property
    def ari_url(self) -> str:
        return f"http://{self.host}:{self.http_port}/ari"


class EmergencyNumbers(BaseModel):
    police: str = "110"
    fire: str = "119"
    ambulance: str = "120"
    traffic: str = "122"


class HttpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8345, ge=1, le=65535)


class ClusterSettings(BaseModel):
    """Several engine processes on one PostgreSQL: one active, the others hot standbys
    (hotline/lease.py, docs/deployment.md). Off: one process with every role (the default)."""

    enabled: bool = False
    node: str = Field(default="", max_length=128, description="this process's name; empty: host:port")
    lease: str = Field(default="router", pattern=r"^[a-z0-9_-]{1,64}$", description="the lease's name")
    ttl_s: float = Field(default=1.5, ge=0.5, le=30, description="a silent active is replaced after this")
    renew_s: float = Field(default=0.25, gt=0, le=10)
    poll_s: float = Field(default=0.1, gt=0, le=5, description="how often a standby asks for the lease")
    stall_s: float = Field(
        default=10.0,
        ge=1,
        le=600,
        description="the active's event loop may stall this long (busy, not hung) before it gives the lease"
        " up; the renewals run on a thread of their own, so a shorter stall costs nothing",
    )

    role: Literal["engine", "gateway"] = Field(
        default="engine",
        description="engine: routing, voice and web (one active, the rest standbys); gateway: only the"
        " Socket.IO edge, relaying to the active engine (hotline/relay.py)",
    )
    engines: list[str] = Field(
        default_factory=list,
        max_length=16,
        description="a gateway's engines (http://host:port), tried in turn until the active one answers",
    )
    relay_secret: str = Field(
        default="",
        max_length=256,
        description="shared by the engines and their gateways; empty: the engines take no gateway",
    )
    gateway_beat_s: float = Field(default=0.5, gt=0, le=10, description="how often a gateway tells the engine it lives")
    gateway_silent_s: float = Field(
        default=5.0, gt=0, le=300, description="a gateway not heard this long has its sockets disconnected"
    )
    relay_wait_s: float = Field(
        default=5.0, gt=0, le=60, description="how long a gateway looks for an active engine before saying busy"
    )

    @model_validator(mode="after")
    def _renew_within_ttl(self) -> ClusterSettings:
        if self.renew_s * 3 > self.ttl_s + 1e-9:
            raise ValueError("renew_s must be at most a third of ttl_s (a renewal may be lost)")
        if self.relay_secret and len(self.relay_secret) < 16:
            raise ValueError("relay_secret must be at least 16 characters")
        if self.gateway_silent_s < 3 * self.gateway_beat_s:
            raise ValueError("gateway_silent_s must be at least three heartbeats (gateway_beat_s)")
        for url in self.engines:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"an engine is an http(s) URL: {url[:60]}")
        return self


class SecuritySettings(BaseModel):
    """Limits at the engine's edges (docs/security.md explains each)."""

    trusted_proxies: list[str] = Field(
        default_factory=list, description="addresses or networks of reverse proxies that may set X-Forwarded-For"
    )
    ops_networks: list[str] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1"],
        description="who may read /metrics and /openapi.json (addresses or networks; empty: nobody)",
    )
    secure_cookies: bool = Field(default=False, description="mark login cookies Secure (behind HTTPS)")
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="other origins (scheme://host:port) whose pages may send state-changing API requests",
    )
    login_window_s: float = Field(default=900.0, gt=0, description="window of the failed-login limits")
    login_failures_per_account: int = Field(default=10, ge=1, description="failed logins of one username per window")
    login_failures_per_address: int = Field(
        default=100, ge=1, description="failed logins from one address per window (a call centre's seats may share one)"
    )
    password_checks_at_once: int = Field(default=2, ge=1, le=64, description="password hashes computed at once")
    password_checks_waiting: int = Field(default=16, ge=0, description="more may wait; beyond that: 429 at once")
    computations_at_once: int = Field(default=1, ge=1, le=16, description="staffing/Erlang computations at once")
    computation_timeout_s: float = Field(default=5.0, gt=0, le=120, description="a computation is stopped after")
    socket_max_message_bytes: int = Field(
        default=3 * 1024 * 1024, ge=64 * 1024, description="largest Socket.IO frame (a picture and its frame)"
    )
    socket_max_text_bytes: int = Field(default=64 * 1024, ge=1024, description="largest Socket.IO text packet")
    socket_bytes_per_minute: int = Field(
        default=20 * 1024 * 1024, ge=1024 * 1024, description="what one Socket.IO connection may send per minute"
    )
    socket_connections_per_address: int = Field(
        default=300, ge=1, description="Socket.IO connections at once from one address (seats behind one NAT)"
    )
    # Anonymous web chat, per remote address (mobile networks put many citizens behind one
    # address: generous for reading, strict for what costs: pictures on disk, work orders).
    visitor_new_ids_per_hour: int = Field(default=60, ge=1, description="new visitor ids per address per hour")
    visitor_conversations_per_hour: int = Field(default=30, ge=1, description="conversations per address per hour")
    visitor_messages_per_minute: int = Field(default=120, ge=1, description="chat messages per address per minute")
    visitor_pictures_per_hour: int = Field(default=60, ge=1, description="pictures per address per hour")
    visitor_left_messages_per_hour: int = Field(
        default=5, ge=1, description="left messages (each a work order) per address per hour"
    )
    left_messages_per_phone_per_day: int = Field(default=3, ge=1, description="left messages per phone number per day")
    visitor_events_per_minute: int = Field(
        default=300, ge=1, description="hello/typing/read/identify events per address per minute"
    )

    @field_validator("trusted_proxies", "ops_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        from hotline.guard import networks

        networks(value)
        return value


def _env_alias_sources() -> dict[str, Any]:
    out: dict[str, Any] = {}
    if os.environ.get("DATABASE_URL"):
        out["database_url"] = os.environ["DATABASE_URL"]
    if os.environ.get("REDIS_URL"):
        out["redis_url"] = os.environ["REDIS_URL"]
    return out


class _TomlSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self.path = path

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            with self.path.open("rb") as fh:
                return tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"settings file {self.path}: {exc}") from exc


class _AliasSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return _env_alias_sources()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HOTLINE_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    data_dir: Path = Path("var")
    database_url: str = ""
    redis_url: str = ""
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    log_json: bool = True
    secret_key: str = ""
    gc_freeze_every_s: float = Field(
        default=1.0, ge=0, description="move long-lived objects out of the collector's passes every N s; 0: off"
    )
    gc_sweep_every_s: float = Field(default=3600.0, gt=0, description="collect everything (one longer pause) every N s")
    event_loop: Literal["uvloop", "asyncio"] = Field(
        default="uvloop", description="the engine's event loop: uvloop (faster socket I/O) or asyncio's own"
    )
    http: HttpSettings = HttpSettings()
    security: SecuritySettings = SecuritySettings()
    asterisk: AsteriskSettings = AsteriskSettings()
    emergency: EmergencyNumbers = EmergencyNumbers()
    cluster: ClusterSettings = ClusterSettings()
    # Feature sections of the settings file, each checked by its feature's own model.
    workorders: dict[str, Any] = Field(default_factory=dict)
    ivr: dict[str, Any] = Field(default_factory=dict)
    wechat: dict[str, Any] = Field(default_factory=dict)
    chat: dict[str, Any] = Field(default_factory=dict)
    console: dict[str, Any] = Field(default_factory=dict)
    scheduling: dict[str, Any] = Field(default_factory=dict)
    knowledge: dict[str, Any] = Field(default_factory=dict)
    supervision: dict[str, Any] = Field(default_factory=dict)
    reports: dict[str, Any] = Field(default_factory=dict)

    _toml_path: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = os.environ.get("HOTLINE_CONFIG")
        path = Path(toml_path) if toml_path else Path("hotline.toml")
        if toml_path and not path.exists():
            raise SettingsError(f"HOTLINE_CONFIG: file {path} does not exist")
        return (init_settings, _AliasSource(settings_cls), env_settings, _TomlSource(settings_cls, path))

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        if not value:
            return value
        if value.startswith(("postgres://", "postgresql://")):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if value.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + value[len("sqlite:///") :]
        if value.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            return value
        raise ValueError("must be a postgresql:// or sqlite:/// URL")

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis:// URL")
        return value

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'hotline.db').resolve()}"


def _format_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "settings"
    env = "HOTLINE_" + "__".join(str(p).upper() for p in err["loc"])
    value = err.get("input")
    shown = "" if isinstance(value, dict) else f" (got {value!r})"
    return f"setting {loc} [{env}]: {err['msg']}{shown}"


def _fill_secrets(settings: Settings) -> None:
    """Generate missing secrets once and keep them beside the data, never in the repository."""
    path = settings.data_dir / "secrets.json"
    stored: dict[str, str] = {}
    if path.exists():
        try:
            stored = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise SettingsError(f"{path} is unreadable ({exc}); delete it to generate new secrets") from exc
    wanted = {
        "ari_password": settings.asterisk.ari_password,
        "ami_password": settings.asterisk.ami_password,
        "secret_key": settings.secret_key,
    }
    changed = False
    for key, given in wanted.items():
        if not given and not stored.get(key):
            stored[key] = secrets.token_urlsafe(24)
            changed = True
    if changed:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        # Created 0600: never readable by others, not even between writing and renaming.
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(stored, indent=2))
        tmp.replace(path)
    if not settings.asterisk.ari_password:
        settings.asterisk.ari_password = stored["ari_password"]
    if not settings.asterisk.ami_password:
        settings.asterisk.ami_password = stored["ami_password"]
    if not settings.secret_key:
        settings.secret_key = stored["secret_key"]


def load_settings(**overrides: Any) -> Settings:
    """Load and check the settings; raise SettingsError with one clear line on a wrong value."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_format_error(exc)) from None
    _fill_secrets(settings)
    return settings
