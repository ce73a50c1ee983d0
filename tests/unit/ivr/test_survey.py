import pytest

from ivr.core.errors import IllegalEvent
from ivr.core.flow import Survey
from ivr.core.messages import CollectDigits, DigitsReceived, DigitTimeout, Hangup, Play, PromptFinished, PromptRef
from ivr.core.survey import SurveySession, SurveyState

from .flows import city


def started(survey: Survey | None = None) -> SurveySession:
    s = SurveySession(survey or city().survey)
    play, collect = s.start()
    assert play == Play((PromptRef("survey_ask"),), barge_in=True)
    assert collect == CollectDigits(1, 6.0, "")
    return s


@pytest.mark.parametrize(
    ("key", "rating", "code"),
    [("1", "满意", "satisfied"), ("2", "基本满意", "basically_satisfied"), ("3", "不满意", "unsatisfied")],
)
def test_a_keypad_rating_is_stored_and_thanked(key: str, rating: str, code: str) -> None:
    s = started()
    assert s.on_event(DigitsReceived(key)) == [Play((PromptRef("survey_thanks"),))]
    assert s.on_event(PromptFinished()) == [Hangup()]
    assert s.result is not None
    assert s.result.as_dict() == {"rating": rating, "code": code, "digit": key, "attempts": 1, "note": ""}
    assert s.state is SurveyState.ENDED


def test_a_wrong_key_is_asked_again_and_the_later_answer_counts() -> None:
    s = started()
    play, _ = s.on_event(DigitsReceived("7"))
    assert play == Play((PromptRef("survey_invalid"), PromptRef("survey_ask")), barge_in=True)
    s.on_event(DigitsReceived("2"))
    assert s.result is not None and (s.result.rating, s.result.attempts) == ("基本满意", 2)


def test_no_answer_after_the_retries_is_stored_as_such() -> None:
    s = started(Survey(retries=1))
    s.on_event(DigitTimeout())
    assert s.on_event(DigitTimeout()) == [Play((PromptRef("survey_thanks"),))]
    assert s.result is not None and (s.result.rating, s.result.note, s.result.attempts) == (None, "no_answer", 2)


def test_a_caller_hanging_up_before_rating_leaves_no_rating() -> None:
    s = started()
    assert s.on_event(Hangup()) == []
    assert s.result is not None and (s.result.rating, s.result.note) == (None, "hangup")
    with pytest.raises(IllegalEvent):
        s.on_event(DigitsReceived("1"))


def test_a_hangup_after_rating_keeps_the_rating() -> None:
    s = started()
    s.on_event(DigitsReceived("1"))
    s.on_event(Hangup())
    assert s.result is not None and s.result.rating == "满意"


def test_the_kpi_codes_are_the_work_order_satisfaction_values() -> None:
    from ivr.core.survey import SATISFACTION_CODES
    from workorders.core.model import Satisfaction

    assert set(SATISFACTION_CODES.values()) == {s.value for s in Satisfaction}
