"""The IVR as a service for the voice adapter: the flow in service, prompts, calendar, planners.

The ARI adapter asks ``new_session(caller, now)`` for each call, executes the commands, and
feeds abandons and answers to ``planner``; everything it gets back is a pure core object.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any

from ivr.core.callbacks import MissedCallPlanner
from ivr.core.errors import FlowError
from ivr.core.flow import QueueLoad
from ivr.core.session import IvrSession, WorkingDay
from ivr.core.survey import SurveySession
from ivr.core.waiting import WaitingAnnouncer, WaitPolicy
from ivr.prompts import PromptResolver
from ivr.settings import IvrSettings
from ivr.store import FlowStore, known_prompts

logger = logging.getLogger(__name__)


class IvrService:
    def __init__(self, settings: IvrSettings, calendar: Callable[[], WorkingDay | None] | None = None) -> None:
        assert settings.prompts_dir is not None and settings.override_dir is not None
        self.settings = settings
        self.resolver = PromptResolver(settings.prompts_dir, settings.override_dir)
        self.store = FlowStore(
            settings.flow,
            prompts=known_prompts(PromptResolver(settings.override_dir)),
            queues=set(settings.queues) or None,
        )
        self._calendar = calendar or (lambda: None)
        self.last_error: FlowError | None = None
        self.planner = MissedCallPlanner(
            window=dt.timedelta(hours=settings.missed_call_window_hours),
            grace=dt.timedelta(seconds=settings.missed_call_grace_seconds),
            min_wait=settings.missed_call_min_wait_seconds,
        )

    def new_session(
        self, caller: str, now: dt.datetime, queue_load: Mapping[str, QueueLoad] | None = None
    ) -> IvrSession:
        """A session on the flow in service now; it keeps that flow to its end."""
        return IvrSession(self.store.current, caller, now, self._calendar(), dict(queue_load or {}))

    def new_survey(self) -> SurveySession:
        return SurveySession(self.store.current.survey)

    def new_waiting(
        self, caller: str, queue: str, entered_at: dt.datetime, policy: WaitPolicy | None = None
    ) -> WaitingAnnouncer:
        return WaitingAnnouncer(caller, queue, entered_at, policy or WaitPolicy())

    def reload(self, only_if_changed: bool = False) -> FlowError | None:
        error = self.store.reload_if_changed() if only_if_changed else self.store.reload()
        if error is not None or not only_if_changed:
            self.last_error = error
        return error

    def describe(self) -> dict[str, Any]:
        flow = self.store.current
        return {
            "name": flow.name,
            "title": flow.title,
            "version": flow.version,
            "source": flow.source,
            "nodes": len(flow.nodes),
            "start": flow.start,
            "last_reload_error": [str(i) for i in self.last_error.issues] if self.last_error else [],
        }
