"""The work orders ask supervision one narrow question, whether a supervision is open on an
order (``supervision.api.Supervisions.open_on``), and nothing when the feature is absent."""

from __future__ import annotations

from hotline.context import Deps
from workorders.approval import open_supervision


class OnlyOpenOn:
    """Supervision as the work orders may see it: the one query and nothing else (no ledger)."""

    def __init__(self, supervised: set[int]) -> None:
        self.supervised = supervised
        self.asked: list[int] = []

    async def open_on(self, order_id: int) -> bool:
        self.asked.append(order_id)
        return order_id in self.supervised


async def test_without_the_supervision_feature_no_order_is_supervised() -> None:
    assert await open_supervision(Deps(), 7, "water") is False


async def test_the_answer_is_supervisions_open_on_for_the_order_whatever_its_unit() -> None:
    supervision, deps = OnlyOpenOn({7}), Deps()
    deps.supervision = supervision  # type: ignore[assignment]
    assert await open_supervision(deps, 7, "water") is True
    assert await open_supervision(deps, 7, "power") is True  # opened on another unit: still supervised
    assert await open_supervision(deps, 8, "water") is False
    assert supervision.asked == [7, 7, 8]
