"""Where the sandbox Asterisk lives under the engine's data folder: its root file system (whose
sounds folder the voice side writes prompts and voice messages into), its packages and state.

Kernel: the sandbox command (composition root) builds it, the voice side reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hotline.settings import Settings


@dataclass(frozen=True)
class Paths:
    base: Path

    @property
    def root(self) -> Path:
        return self.base / "root"

    @property
    def debs(self) -> Path:
        return self.base / "debs"

    @property
    def state(self) -> Path:
        return self.base / "state.json"

    @property
    def pid(self) -> Path:
        return self.base / "asterisk.pid"

    @property
    def log(self) -> Path:
        return self.base / "asterisk.log"


def paths(settings: Settings) -> Paths:
    return Paths((settings.data_dir / "sandbox").resolve())
