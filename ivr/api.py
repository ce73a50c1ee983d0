"""The IVR's public face for the voice side: sessions on the flow in service, the survey, the
missed-call planner. Everything it hands out is a pure core object (:mod:`ivr.core`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Protocol

from ivr.core.callbacks import MissedCallPlanner
from ivr.core.flow import QueueLoad
from ivr.core.session import IvrSession
from ivr.core.survey import SurveySession


class IvrApi(Protocol):
    @property
    def planner(self) -> MissedCallPlanner: ...

    def new_session(
        self, caller: str, now: dt.datetime, queue_load: Mapping[str, QueueLoad] | None = None
    ) -> IvrSession: ...

    def new_survey(self) -> SurveySession: ...
