"""The import rules of docs/architecture.md, read from the source (no module is imported).

- the kernel (``hotline`` minus the composition root) imports no feature and nothing of the root;
- a feature reaches another only through its public face: its pure ``core`` packages and its
  ``api`` modules (``acd.core``, ``acd.api``, ``acd.voice.api``, ``ivr.api``...), never its
  adapters (services, plugins, models, Socket.IO namespaces);
- cores and ``api`` modules import no I/O library and no adapter, of their own feature or another;
- nothing outside ``acd/core`` reaches the ACD core's insides (its ``index`` or ``contacts``):
  the core's query face (``seat``, ``contact``, ``queue_names``...) is what the others read.

Type-only imports (under ``TYPE_CHECKING``) count as imports: a type names what it couples to.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hotline.features import FEATURES

ROOT = Path(__file__).resolve().parents[2]
# The composition root: it names and wires the features, so the kernel may not import it.
COMPOSITION_ROOT = ("hotline.app", "hotline.cli", "hotline.context", "hotline.features", "hotline.sandbox")
COMPOSITION_ROOT_PACKAGES = ("hotline.commands", "hotline.migrations")
IO_LIBRARIES = frozenset(
    {
        "aiohttp",
        "aiosqlite",
        "asyncio",
        "asyncpg",
        "engineio",
        "httpx",
        "panoramisk",
        "prometheus_client",
        "psycopg",
        "redis",
        "requests",
        "socket",
        "socketio",
        "sqlalchemy",
        "subprocess",
        "threading",
        "urllib",
        "websockets",
    }
)
INSIDES = re.compile(r"\.index\.(seats|queues|by_queue|buckets)\b|\b(core|acd)\.(contacts|index)\b")


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # what it imports (a module, or a module's attribute)
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources(*packages: str) -> Iterator[Path]:
    for pkg in packages:
        yield from sorted((ROOT / pkg).rglob("*.py"))


def imports(path: Path) -> Iterator[Import]:
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(name, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the package
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield Import(name, f"{base}.{alias.name}" if base else alias.name, node.lineno)


def feature_of(module: str) -> str | None:
    top = module.split(".")[0]
    return top if top in FEATURES else None


def is_root(module: str) -> bool:
    return module in COMPOSITION_ROOT or module.startswith(tuple(p + "." for p in COMPOSITION_ROOT_PACKAGES))


def is_public(target: str) -> bool:
    """Part of a feature's public face: a ``core`` package or an ``api`` module, at any depth."""
    parts = target.split(".")
    return "core" in parts[1:] or "api" in parts[1:]


def is_core(module: str) -> bool:
    return "core" in module.split(".")[1:]


def is_api(module: str) -> bool:
    return module.split(".")[-1] == "api"


def test_the_feature_list_names_packages_that_exist() -> None:
    assert FEATURES and all((ROOT / f / "__init__.py").exists() for f in FEATURES)


def test_the_rules_catch_what_they_forbid() -> None:
    """The checks themselves, on made-up modules: a rule that cannot fail protects nothing."""
    assert not is_public("agent_console.models") and not is_public("acd.service")
    assert is_public("acd.core.events") and is_public("acd.voice.api") and is_public("ivr.api")
    assert is_root("hotline.commands.run") and not is_root("hotline.settings")
    assert INSIDES.search("x = self.acd.core.index.seats.get(s)") and INSIDES.search("acd.contacts[c]")
    assert not INSIDES.search("self.index.line(1)") and not INSIDES.search("acd.core.contact(c)")


def kernel_modules() -> list[Path]:
    return [p for p in sources("hotline") if not is_root(module_name(p))]


@pytest.mark.parametrize("path", kernel_modules(), ids=lambda p: module_name(p))
def test_the_kernel_imports_no_feature_and_not_the_composition_root(path: Path) -> None:
    bad = [
        f"{i.module}:{i.line} imports {i.target}"
        for i in imports(path)
        if feature_of(i.target) or is_root(i.target) or is_root(i.target.rpartition(".")[0])
    ]
    assert not bad, "the kernel must not know the features nor the root:\n" + "\n".join(bad)


@pytest.mark.parametrize("feature", FEATURES)
def test_a_feature_reaches_another_only_through_its_core_and_api(feature: str) -> None:
    bad = []
    for path in sources(feature):
        for i in imports(path):
            other = feature_of(i.target)
            if other is not None and other != feature and not is_public(i.target):
                bad.append(f"{i.module}:{i.line} imports {i.target}")
            owner = i.target if is_root(i.target) else i.target.rpartition(".")[0]
            if is_root(owner) and owner != "hotline.context":  # the bundle a plugin receives
                bad.append(f"{i.module}:{i.line} imports the composition root's {i.target}")
    assert not bad, "features reach each other through core and api only (docs/architecture.md):\n" + "\n".join(bad)


def pure_modules() -> list[Path]:
    return [p for p in sources(*FEATURES) if is_core(module_name(p)) or is_api(module_name(p))]


@pytest.mark.parametrize("path", pure_modules(), ids=lambda p: module_name(p))
def test_cores_and_public_faces_import_no_io_and_no_adapter(path: Path) -> None:
    bad = []
    for i in imports(path):
        top = i.target.split(".")[0]
        if top in IO_LIBRARIES:
            bad.append(f"{i.module}:{i.line} imports the I/O library {i.target}")
        elif feature_of(i.target) and not is_public(i.target):
            bad.append(f"{i.module}:{i.line} imports the adapter {i.target}")
        elif top == "hotline":
            bad.append(f"{i.module}:{i.line} imports the engine's {i.target}")
    assert not bad, "\n".join(bad)


def test_nothing_outside_the_acd_core_reaches_its_insides() -> None:
    bad = []
    for path in sources(*FEATURES, "hotline", "bench"):
        if path.is_relative_to(ROOT / "acd" / "core"):
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if INSIDES.search(line):
                bad.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not bad, "read the ACD core through its query face (acd/core/views.py):\n" + "\n".join(bad)


def top_level_imports(path: Path) -> Iterator[str]:
    """The modules a module imports when it is loaded (not in functions, not for type checking)."""
    for node in ast.parse(path.read_text(encoding="utf-8"), str(path)).body:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def test_no_module_imports_itself_round_a_circle() -> None:
    paths = {module_name(p): p for p in sources(*FEATURES, "hotline")}
    graph = {m: {t for t in top_level_imports(p) if t in paths and t != m} for m, p in paths.items()}
    circles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def walk(module: str, path: list[str]) -> None:
        state[module] = 1
        for nxt in sorted(graph[module]):
            if state.get(nxt) == 1:
                circles.append(" -> ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in state:
                walk(nxt, [*path, nxt])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            walk(module, [module])
    assert not circles, "import circles (a package importing its own modules is fine):\n" + "\n".join(circles)


CALL_WRITE = re.compile(r"\b(call|leg)\.[a-z_.]+\s*(=(?!=)|\+=|-=)|\b(call|leg)\.[a-z_]+\.(append|pop|clear|update)\(")


def test_the_voice_adapters_change_a_call_only_through_the_cores_step() -> None:
    """The voice side's adapters give the core events (``acd.voice.core.machine.step``) and carry
    out its commands; they neither call its transitions one by one nor write on a call."""
    bad = []
    for path in sources(*FEATURES, "hotline", "bench"):
        if path.is_relative_to(ROOT / "acd" / "voice" / "core"):
            continue
        bad += [
            f"{i.module}:{i.line} imports {i.target}"
            for i in imports(path)
            if i.target.startswith("acd.voice.core.flow")
        ]
        if path.is_relative_to(ROOT / "acd" / "voice"):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if CALL_WRITE.search(line):
                    bad.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not bad, "feed the voice core an event instead:\n" + "\n".join(bad)


def test_the_call_writing_rule_sees_what_it_forbids() -> None:
    for line in ("call.state = 'x'", "self.call.hangup_side = 'ivr'", "call.offers.append({})", "leg.answered = 1"):
        assert CALL_WRITE.search(line), line
    for line in ("if call.state == ENDED:", "call = self.calls.get(cid)", "calls.pop(x)"):
        assert not CALL_WRITE.search(line), line
