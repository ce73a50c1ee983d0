"""Check that a downloaded file is what its content type says, from its first bytes."""

from __future__ import annotations

from typing import Final

_MAGIC: Final[tuple[tuple[str, bytes, int], ...]] = (
    ("image/jpeg", b"\xff\xd8\xff", 0),
    ("image/png", b"\x89PNG\r\n\x1a\n", 0),
    ("image/gif", b"GIF8", 0),
    ("audio/amr", b"#!AMR", 0),
    ("audio/speex", b"OggS", 0),
    ("audio/mpeg", b"ID3", 0),
    ("video/mp4", b"ftyp", 4),
)
EXTENSIONS: Final[dict[str, str]] = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "audio/amr": ".amr",
    "audio/speex": ".spx",
    "audio/mpeg": ".mp3",
    "video/mp4": ".mp4",
}


def sniff(content: bytes) -> str | None:
    for ctype, magic, offset in _MAGIC:
        if content[offset : offset + len(magic)] == magic:
            return ctype
    if content[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"  # MP3 frame without an ID3 tag
    return None


def check_media(declared: str, content: bytes, allowed: tuple[str, ...], max_bytes: int) -> str:
    """Return the file extension to store under; raise ValueError naming what is wrong."""
    if not content:
        raise ValueError("empty file")
    if len(content) > max_bytes:
        raise ValueError(f"{len(content)} bytes > {max_bytes}")
    if declared not in allowed:
        raise ValueError(f"content type {declared} not accepted")
    actual = sniff(content)
    if actual != declared:
        raise ValueError(f"declared {declared} but the bytes look like {actual or 'unknown data'}")
    return EXTENSIONS.get(declared, ".bin")
