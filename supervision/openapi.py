"""OpenAPI 3.1 description of /api/supervision, merged into /openapi.json by the app."""

from __future__ import annotations

from typing import Any

SEC: list[dict[str, list[str]]] = [{"bearer": []}, {"cookie": []}]
_STR = {"type": "string"}
_INT = {"type": "integer"}
_TIME = {"type": ["string", "null"], "format": "date-time"}


def _json(ref: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


ERR = {"description": "refused, with a message naming the field or rule", **_json("SvError")}
ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}}


def _op(summary: str, ok: dict[str, Any], errors: tuple[str, ...] = ("401", "403"), **extra: Any) -> dict[str, Any]:
    return {
        "summary": summary,
        "tags": ["supervision"],
        "security": SEC,
        "responses": {**ok, **dict.fromkeys(errors, ERR)},
        **extra,
    }


def _q(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description}


LEDGER_PARAMS = [
    _q("state", {"enum": ["open", "closed", "cancelled"]}, "default open"),
    _q("unit", _STR, "a unit's code (a unit's account always sees its own)"),
    _q("level", {"enum": ["general", "key", "joint"]}),
    _q("overdue", {"enum": ["true", "false"]}, "open ones past their deadline only"),
    _q("from", {"type": "string", "format": "date"}, "closed ones: closed on or after"),
    _q("to", {"type": "string", "format": "date"}, "closed ones: closed on or before (whole day)"),
]
SUPERVISION_PROPS: dict[str, Any] = {
    "id": _INT,
    "version": _INT,
    "state": {"enum": ["open", "closed", "cancelled"]},
    "state_label": _STR,
    "level": {"enum": ["general", "key", "joint"], "description": "一般, 重点, 双督办 (with the performance office)"},
    "level_label": _STR,
    "unit": _STR,
    "order_ids": {"type": "array", "items": _INT},
    "matter": _STR,
    "instructions": _STR,
    "opened_by": _STR,
    "opened_at": _TIME,
    "deadline": _TIME,
    "provisional": {"type": "boolean", "description": "the deadline rests on a calendar year not loaded"},
    "closed_at": _TIME,
    "closed_by": _STR,
    "result": {"enum": ["resolved", "unresolved", None]},
    "reason": _STR,
    "allowed_actions": {"type": "array", "items": {"enum": ["follow_up", "close", "cancel"]}},
}
LETTER_PROPS: dict[str, Any] = {
    "id": _INT,
    "number": {"type": "string", "description": "如皋12345提〔2026〕第7号: gap-free per year"},
    "rule": {"type": "string", "description": "the rule that drafted it; empty when written by hand"},
    "unit": _STR,
    "unit_name": _STR,
    "facts": _STR,
    "request": _STR,
    "order_ids": {"type": "array", "items": _INT},
    "deadline": _TIME,
    "issued_at": _TIME,
    "state": {"enum": ["sent", "read", "acknowledged", "answered"]},
    "overdue": {"type": "boolean", "description": "past its deadline and not answered"},
    "read_at": _TIME,
    "acknowledged_at": _TIME,
    "answer": _STR,
    "answered_at": _TIME,
    "html": _STR,
    "pdf": _STR,
}

OPENAPI: dict[str, Any] = {
    "paths": {
        "/api/supervision/supervisions": {
            "get": _op(
                "The ledger (台账): open supervisions by deadline with days left or overdue, or closed ones by period",
                {"200": {"description": "rows", **_json("SvLedger")}},
                ("400", "401", "403"),
                parameters=LEDGER_PARAMS,
            ),
            "post": _op(
                "Open a supervision (督办) on an order or a matter of several orders (supervisors)",
                {"201": {"description": "opened", **_json("Supervision")}},
                ("400", "401", "403"),
                requestBody={"required": True, **_json("SvOpen")},
            ),
        },
        "/api/supervision/supervisions/{id}": {
            "get": _op(
                "A supervision with its follow-ups (跟进记录)",
                {"200": {"description": "the supervision", **_json("Supervision")}},
                ("401", "403", "404"),
                parameters=[ID],
            )
        },
        "/api/supervision/supervisions/{id}/{action}": {
            "post": _op(
                "follow_up (the unit or a supervisor: {text}), close (销号: {result, reason}), cancel ({reason})",
                {"200": {"description": "the supervision after the action", **_json("Supervision")}},
                ("400", "401", "403", "404", "409"),
                parameters=[
                    ID,
                    {
                        "name": "action",
                        "in": "path",
                        "required": True,
                        "schema": {"enum": ["follow_up", "close", "cancel"]},
                    },
                ],
                requestBody={"required": True, **_json("SvAction")},
            )
        },
        "/api/supervision/closure": {
            "get": _op(
                "督办 closure: supervisions closed by their deadline ÷ supervisions due in the period (cancelled ones left out)",
                {"200": {"description": "the rate with its options", **_json("SvClosure")}},
                ("400", "401", "403"),
                parameters=[
                    _q("from", {"type": "string", "format": "date"}),
                    _q("to", {"type": "string", "format": "date"}),
                    _q("unit", _STR),
                    _q("resolved_only", {"enum": ["true", "false"]}, "count only closures 办结 (default false)"),
                ],
            ),
        },
        "/api/supervision/letters": {
            "get": _op(
                "Letters: a unit's own (unread first), or any unit's for supervisors",
                {"200": {"description": "letters", **_json("SvLetters")}},
                ("400", "401", "403"),
                parameters=[
                    _q("unit", _STR),
                    _q("state", {"enum": ["sent", "read", "acknowledged", "answered"]}),
                    _q("overdue", {"enum": ["true", "false"]}),
                ],
            ),
            "post": _op(
                "Write a letter (提醒函) by hand to a unit (supervisors)",
                {"201": {"description": "written and delivered", **_json("SvLetter")}},
                ("400", "401", "403"),
                requestBody={"required": True, **_json("SvLetterNew")},
            ),
        },
        "/api/supervision/letters/run": {
            "post": _op(
                "Draft letters with rules; above the cap nothing is written: 409 with count and a confirm token to send back",
                {"201": {"description": "letters written", **_json("SvLetters")}},
                ("400", "401", "403", "409"),
                requestBody={"required": True, **_json("SvRun")},
            )
        },
        "/api/supervision/letters/{id}": {
            "get": _op(
                "A letter (opening it as its unit marks it read)",
                {"200": {"description": "the letter", **_json("SvLetter")}},
                ("401", "403", "404"),
                parameters=[ID],
            )
        },
        "/api/supervision/letters/{id}/html": {
            "get": _op(
                "The letter in the official format, as HTML",
                {"200": {"description": "HTML", "content": {"text/html": {"schema": _STR}}}},
                ("401", "403", "404"),
                parameters=[ID],
            )
        },
        "/api/supervision/letters/{id}/pdf": {
            "get": _op(
                "The letter as PDF (A4, WenQuanYi Micro Hei)",
                {
                    "200": {
                        "description": "PDF",
                        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
                    }
                },
                ("401", "403", "404"),
                parameters=[ID],
            )
        },
        "/api/supervision/letters/{id}/{action}": {
            "post": _op(
                "The addressee unit acknowledges (签收) the letter, then answers it ({answer}); another unit: 403",
                {"200": {"description": "the letter", **_json("SvLetter")}},
                ("400", "401", "403", "404", "409"),
                parameters=[
                    ID,
                    {"name": "action", "in": "path", "required": True, "schema": {"enum": ["acknowledge", "answer"]}},
                ],
            )
        },
    },
    "components": {
        "schemas": {
            "Supervision": {"type": "object", "properties": SUPERVISION_PROPS},
            "SvLedger": {
                "type": "object",
                "properties": {
                    "supervisions": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                **SUPERVISION_PROPS,
                                "orders": {"type": "array", "items": {"type": "object"}},
                                "days_left": {"type": "number", "description": "working days; negative when overdue"},
                                "overdue": {"type": "boolean"},
                                "last_follow_up": {"type": ["object", "null"]},
                            },
                        },
                    }
                },
            },
            "SvOpen": {
                "type": "object",
                "required": ["order_ids", "level", "working_days", "instructions"],
                "properties": {
                    "order_ids": {"type": "array", "items": _INT, "minItems": 1, "maxItems": 50},
                    "matter": {"type": "string", "description": "required for several orders"},
                    "level": {"enum": ["general", "key", "joint"]},
                    "working_days": {"type": "number", "exclusiveMinimum": 0, "maximum": 60},
                    "instructions": _STR,
                    "unit": {"type": "string", "description": "when the orders' lead unit is not one"},
                },
            },
            "SvAction": {
                "type": "object",
                "properties": {
                    "text": _STR,
                    "result": {"enum": ["resolved", "unresolved"]},
                    "reason": _STR,
                    "version": _INT,
                },
            },
            "SvClosure": {
                "type": "object",
                "properties": {
                    "numerator": _INT,
                    "denominator": _INT,
                    "percent": {"type": ["number", "null"]},
                    "options": {"type": "object"},
                    "as_of": _TIME,
                    "late_ids": {"type": "array", "items": _INT},
                    "formula": _STR,
                },
            },
            "SvLetter": {"type": "object", "properties": LETTER_PROPS},
            "SvLetters": {
                "type": "object",
                "properties": {
                    "created": _INT,
                    "letters": {"type": "array", "items": {"$ref": "#/components/schemas/SvLetter"}},
                },
            },
            "SvLetterNew": {
                "type": "object",
                "required": ["unit", "facts", "request"],
                "properties": {
                    "unit": _STR,
                    "facts": _STR,
                    "request": _STR,
                    "order_ids": {"type": "array", "items": _INT},
                    "working_days": {"type": "number", "description": "default: setting letter_working_days"},
                },
            },
            "SvRun": {
                "type": "object",
                "required": ["rules"],
                "properties": {
                    "rules": {
                        "type": "array",
                        "items": _STR,
                        "description": "overdue, returned, low_satisfaction, and rules other features add",
                    },
                    "confirm": {
                        "type": "string",
                        "description": "the token a 409 answered, to write more than the cap",
                    },
                },
            },
            "SvError": {
                "type": "object",
                "properties": {"error": _STR, "detail": _STR, "count": _INT, "cap": _INT, "confirm": _STR},
            },
        }
    },
}
