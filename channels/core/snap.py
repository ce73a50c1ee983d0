"""随手拍: a photo plus a location from the same citizen close in time is one reported problem.

The caller passes the citizen's recent photos and locations (from storage, so the rule holds
across processes and restarts); the function says whether they make a case and what the
pre-filled work order should hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class SnapItem:
    kind: Literal["photo", "location"]
    at: float
    message_id: int
    data: dict[str, Any]


@dataclass(frozen=True)
class SnapBundle:
    photos: tuple[SnapItem, ...]
    location: SnapItem

    def draft(self, description: str = "") -> dict[str, Any]:
        """Fields a seat finds pre-filled in the work order (工单预填)."""
        loc = self.location.data
        return {
            "source": "wechat_snap",
            "title": "随手拍：" + (loc.get("label") or "市民上报问题"),
            "description": description,
            "address": loc.get("label", ""),
            "latitude": loc.get("latitude"),
            "longitude": loc.get("longitude"),
            "photo_message_ids": [p.message_id for p in self.photos],
            "location_message_id": self.location.message_id,
        }


def find_bundle(items: Sequence[SnapItem], window: float) -> SnapBundle | None:
    """The newest location with every photo taken within ``window`` s of it, or None.

    Order of arrival does not matter: citizens send the photo first as often as the location.
    """
    if window <= 0:
        raise ValueError("window must be positive")
    locations = sorted((i for i in items if i.kind == "location"), key=lambda i: i.at, reverse=True)
    for loc in locations:
        photos = tuple(
            sorted((i for i in items if i.kind == "photo" and abs(i.at - loc.at) <= window), key=lambda i: i.at)
        )
        if photos:
            return SnapBundle(photos=photos, location=loc)
    return None
