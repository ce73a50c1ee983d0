"""Mandarin prompts: the list as data, generation with espeak-ng + sox, and the file resolver.

Generated files go to ``<out>/<name>.wav`` (8 kHz mono 16-bit PCM, what Asterisk plays without
resampling), plus ``.ulaw`` and ``.sln16`` on request. An operator replaces any prompt with a
recording by dropping ``<name>.<ext>`` into the override directory: the resolver prefers it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ivr.core.speech import PIECE_TEXTS

logger = logging.getLogger(__name__)

CATALOG_FILE = Path(__file__).with_name("prompts.toml")
SOUND_EXTS = (".wav", ".sln16", ".ulaw", ".alaw", ".gsm", ".g722", ".sln")
FORMATS = {
    "wav": ["-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", "-t", "wav"],
    "ulaw": ["-r", "8000", "-c", "1", "-e", "u-law", "-t", "ul"],
    "sln16": ["-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer", "-t", "raw"],
}
GENERATOR_VERSION = "1"  # part of each prompt's digest: a change regenerates every file


class PromptError(Exception):
    """A prompt could not be made or found; the message names the cause and the fix."""


def load_catalog(path: Path = CATALOG_FILE) -> dict[str, str]:
    """Prompt name -> Chinese text, including the number pieces."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PromptError(f"prompt list {path}: {exc}") from None
    prompts = data.get("prompts")
    if not isinstance(prompts, dict) or not all(isinstance(v, str) and v for v in prompts.values()):
        raise PromptError(f'prompt list {path}: needs a [prompts] table of name = "text"')
    return {**prompts, **PIECE_TEXTS}


@dataclass(frozen=True)
class Voice:
    name: str = "cmn"
    speed: int = 150  # words per minute; espeak's default 175 is fast for a phone line
    pitch: int = 50
    gain_db: float = -3.0  # headroom, so sox's resampling does not clip


def tools_missing() -> list[str]:
    return [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]


def _digest(text: str, voice: Voice, formats: tuple[str, ...]) -> str:
    key = json.dumps([GENERATOR_VERSION, text, voice.__dict__, formats], ensure_ascii=False)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise PromptError(f"{cmd[0]} failed ({done.returncode}): {done.stderr.strip()[:200]}")


def synthesize(name: str, text: str, out: Path, voice: Voice, formats: tuple[str, ...]) -> list[Path]:
    with tempfile.TemporaryDirectory(prefix="ivr-tts-") as tmp:
        raw = Path(tmp) / "raw.wav"
        _run(["espeak-ng", "-v", voice.name, "-s", str(voice.speed), "-p", str(voice.pitch), "-w", str(raw), text])
        written = []
        for fmt in formats:
            target = out / f"{name}.{fmt}"
            part = out / f".{name}.{fmt}.part"
            _run(["sox", str(raw), *FORMATS[fmt], str(part), "gain", str(voice.gain_db)])
            part.replace(target)  # a half-written prompt is never played
            written.append(target)
        return written


def generate(
    out: Path,
    catalog: dict[str, str],
    *,
    voice: Voice = Voice(),
    formats: tuple[str, ...] = ("wav",),
    force: bool = False,
    jobs: int = 4,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Make every prompt of the catalog in ``out``; unchanged prompts are kept (see manifest.json)."""
    missing = tools_missing()
    if missing:
        raise PromptError(f"{' and '.join(missing)} not installed: apt-get install espeak-ng sox")
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise PromptError(f"unknown format {unknown[0]!r}; choose from {', '.join(FORMATS)}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PromptError(f"cannot create {out}: {exc.strerror}") from None
    manifest_path = out / "manifest.json"
    try:
        manifest: dict[str, str] = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    except (OSError, json.JSONDecodeError):
        manifest = {}
    todo = []
    for name, text in sorted(catalog.items()):
        digest = _digest(text, voice, formats)
        present = all((out / f"{name}.{f}").exists() for f in formats)
        if force or manifest.get(name) != digest or not present:
            todo.append((name, text, digest))

    def one(item: tuple[str, str, str]) -> str:
        name, text, _ = item
        synthesize(name, text, out, voice, formats)
        return name

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for name in pool.map(one, todo):
            if progress:
                progress(name)
    for name, _, digest in todo:
        manifest[name] = digest
    tmp = manifest_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True))
    tmp.replace(manifest_path)
    logger.info("prompts: %d generated, %d unchanged in %s", len(todo), len(catalog) - len(todo), out)
    return {"generated": len(todo), "unchanged": len(catalog) - len(todo), "total": len(catalog)}


@dataclass(frozen=True)
class PromptResolver:
    """Finds a prompt's file: the override directory first, then the generated one."""

    generated: Path
    override: Path | None = None

    def _dirs(self) -> list[Path]:
        return [d for d in (self.override, self.generated) if d is not None]

    def find(self, name: str) -> Path:
        """The file to play (with extension); PromptError when no directory has it."""
        for directory in self._dirs():
            for ext in SOUND_EXTS:
                candidate = directory / f"{name}{ext}"
                if candidate.is_file():
                    return candidate
        raise PromptError(
            f"prompt {name!r} not found in {', '.join(map(str, self._dirs()))}; run hotline ivr prompts --out DIR"
        )

    def media_uri(self, name: str) -> str:
        """An ARI ``sound:`` URI without extension: Asterisk picks the best format present."""
        return "sound:" + str(self.find(name).with_suffix("").resolve())

    def available(self) -> set[str]:
        names: set[str] = set()
        for directory in self._dirs():
            if directory.is_dir():
                names.update(
                    p.stem for p in directory.iterdir() if p.suffix in SOUND_EXTS and not p.name.startswith(".")
                )
        return names

    def files(self, names: Iterable[str]) -> list[Path]:
        return [self.find(n) for n in names]
