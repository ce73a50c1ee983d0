"""Just enough PDF reading to check a WeasyPrint letter without pdftotext (not installed here):
inflate the streams, read the fonts' ToUnicode maps and the text operators' glyph strings."""

from __future__ import annotations

import contextlib
import re
import zlib

STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)
BFCHAR = re.compile(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>")
SHOWN = re.compile(rb"\[(.*?)\]\s*TJ|<([0-9a-fA-F]+)>\s*Tj", re.S)


def inflate(pdf: bytes) -> list[bytes]:
    out = [pdf]
    for m in STREAM.finditer(pdf):
        with contextlib.suppress(zlib.error):  # an image or font stream with another filter
            out.append(zlib.decompress(m.group(1)))
    return out


def pdf_facts(pdf: bytes) -> dict[str, object]:
    """Page count, embedded font names and the text (glyphs mapped through ToUnicode)."""
    parts = inflate(pdf)
    whole = b"\n".join(parts)
    cmap: dict[int, str] = {}
    for p in parts:
        if b"beginbfchar" in p or b"beginbfrange" in p:
            for block in re.findall(rb"beginbfchar(.*?)endbfchar", p, re.S):
                for gid, uni in BFCHAR.findall(block):
                    cmap[int(gid, 16)] = bytes.fromhex(uni.decode()).decode("utf-16-be")
            for block in re.findall(rb"beginbfrange(.*?)endbfrange", p, re.S):
                for lo, hi, start in re.findall(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
                    base = int(start, 16)
                    for k, gid in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                        cmap[gid] = chr(base + k)
    text = []
    for p in parts:
        if b" TJ" not in p and b" Tj" not in p:
            continue
        for arr, single in SHOWN.findall(p):
            for hexs in re.findall(rb"<([0-9a-fA-F]+)>", arr) if arr else [single]:
                h = hexs.decode()
                text.extend(cmap.get(int(h[i : i + 4], 16), "?") for i in range(0, len(h), 4))
    return {
        "pages": len(re.findall(rb"/Type\s*/Page\b", whole)),
        "fonts": sorted({f.decode() for f in re.findall(rb"/BaseFont\s*/([^\s/>]+)", whole)}),
        "text": "".join(text),
    }
