"""The IVR path as the seat reads it, from what the IVR keeps on the interaction record."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def ivr_steps(data: Mapping[str, Any]) -> list[str]:
    """``data["ivr"]["path"]`` (the IVR's steps: node, kind, digits, note) as short lines;
    a plain ``data["ivr_path"]`` list of text is taken as it is. Anything malformed is skipped."""
    ivr = data.get("ivr")
    path = ivr.get("path") if isinstance(ivr, Mapping) else None
    if isinstance(path, list):
        out = []
        for step in path:
            if not isinstance(step, Mapping) or not step.get("node"):
                continue
            text = str(step["node"])
            if step.get("digits"):
                text += f"（按 {step['digits']}）"
            if step.get("note"):
                text += f"［{step['note']}］"
            out.append(text)
        outcome = ivr.get("outcome") if isinstance(ivr, Mapping) else None
        if outcome:
            out.append(f"→ {outcome}")
        return out
    plain = data.get("ivr_path")
    return [str(x) for x in plain] if isinstance(plain, list) else []
