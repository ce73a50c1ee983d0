"""OpenAPI of the knowledge base's requests (questions to units, corrections, emergency lists,
use of entries, units' KPIs), merged into /openapi.json through ``knowledge.plugin``."""

from __future__ import annotations

from typing import Any

SEC: list[dict[str, list[str]]] = [{"bearer": []}, {"cookie": []}]


def _ref(name: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}


ERR = {"description": "error; detail says why, in Chinese", **_ref("KbError")}
ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}}
UNIT = {"name": "unit", "in": "query", "schema": {"type": "string"}, "description": "a unit's user: its own only"}
LIMIT = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}}
_S = {"type": "string"}
_T = {"type": "string", "format": "date-time"}
_TN = {"type": ["string", "null"], "format": "date-time"}


def _op(summary: str, ok: dict[str, Any], errors: tuple[str, ...], **extra: Any) -> dict[str, Any]:
    return {
        "summary": summary,
        "tags": ["knowledge"],
        "security": SEC,
        "responses": {**ok, **dict.fromkeys(("401", *errors), ERR)},
        **extra,
    }


def _body(name: str) -> dict[str, Any]:
    return {"required": True, **_ref(name)}


QUERY_PROPS = {
    "id": _S,
    "question": _S,
    "unit": _S,
    "entry_id": {"type": ["string", "null"]},
    "contact_id": {"type": ["string", "null"]},
    "state": {"enum": ["open", "answered"]},
    "state_label": _S,
    "overdue": {"type": "boolean"},
    "asked_by": _S,
    "asked_at": _T,
    "due_at": _T,
    "provisional": {"type": "boolean", "description": "due_at rests on a year the calendar does not cover yet"},
    "answer": _S,
    "answered_by": _S,
    "answered_at": _TN,
    "late": {"type": "boolean"},
}
FLAG_PROPS = {
    "id": _S,
    "entry_id": _S,
    "unit": _S,
    "reason": _S,
    "state": {"enum": ["open", "corrected", "dismissed"]},
    "state_label": _S,
    "overdue": {"type": "boolean"},
    "raised_by": _S,
    "raised_at": _T,
    "due_at": _T,
    "provisional": {"type": "boolean"},
    "note": _S,
    "resolved_by": _S,
    "resolved_at": _TN,
    "late": {"type": "boolean"},
}
QA = {
    "type": "object",
    "required": ["question", "answer"],
    "properties": {"question": {"type": "string", "maxLength": 500}, "answer": {"type": "string", "maxLength": 5000}},
}
RATE = {
    "type": "object",
    "properties": {
        "numerator": {"type": "integer"},
        "denominator": {"type": "integer"},
        "percent": {"type": ["number", "null"]},
        "pending": {"type": "integer", "description": "open and not yet due: left out of the rate"},
    },
}
UNIT_FIGURES = {
    "type": "object",
    "properties": {
        "unit": _S,
        "uploaded": {
            "type": "object",
            "properties": {
                "created": {"type": "integer"},
                "imported": {"type": "integer"},
                "total": {"type": "integer"},
            },
        },
        "on_time_submission": RATE,
        "response_rate": RATE,
        "correction_rate": RATE,
        "expiring_30d": {"type": "integer"},
    },
}

OPENAPI: dict[str, Any] = {
    "paths": {
        "/api/kb/queries": {
            "post": _op(
                "a seat asks the owning unit (知识求助): due N working days later (setting, 1)",
                {"201": {"description": "the question", **_ref("KbQueryItem")}},
                ("400", "403", "404"),
                requestBody=_body("KbQueryAsk"),
            ),
            "get": _op(
                "questions to units; a unit's user sees its own",
                {"200": {"description": "questions", **_ref("KbQueryList")}},
                ("400", "403"),
                parameters=[
                    UNIT,
                    {"name": "state", "in": "query", "schema": {"enum": ["open", "answered", "overdue"]}},
                    LIMIT,
                ],
            ),
        },
        "/api/kb/queries/{id}": {
            "get": _op("one question", {"200": {"description": "question", **_ref("KbQueryItem")}}, ("403", "404"))
            | {"parameters": [ID]},
        },
        "/api/kb/queries/{id}/answer": {
            "post": _op(
                "the unit answers (late when after due_at); make_entry also creates a draft entry of the unit",
                {"200": {"description": "the answered question, with entry {id, state, version} or null"}},
                ("400", "403", "404", "409"),
                parameters=[ID],
                requestBody=_body("KbQueryAnswer"),
            ),
        },
        "/api/kb/entries/{id}/flags": {
            "post": _op(
                "a seat or supervisor flags an entry for correction (纠错); due N working days later",
                {"201": {"description": "the flag", **_ref("KbFlagItem")}},
                ("400", "403", "404", "409"),
                parameters=[ID],
                requestBody=_body("KbFlagRaise"),
            ),
        },
        "/api/kb/flags": {
            "get": _op(
                "corrections (the console may ask ?entry=ID&state=open); a unit's user sees its own",
                {"200": {"description": "flags", **_ref("KbFlagList")}},
                ("400", "403"),
                parameters=[
                    {"name": "entry", "in": "query", "schema": _S},
                    UNIT,
                    {"name": "state", "in": "query", "schema": {"enum": ["open", "corrected", "dismissed"]}},
                    LIMIT,
                ],
            ),
        },
        "/api/kb/flags/{id}/resolve": {
            "post": _op(
                "the owning unit marks it corrected (the entry must have been edited since: else 409 先修改条目);"
                " a supervisor may dismiss it",
                {"200": {"description": "the flag", **_ref("KbFlagItem")}},
                ("400", "403", "404", "409"),
                parameters=[ID],
                requestBody=_body("KbFlagResolve"),
            ),
        },
        "/api/kb/emergency": {
            "get": _op(
                "active emergency Q&A lists (答疑清单), newest first: a console loads them at start",
                {"200": {"description": "lists", **_ref("KbEmergencyLists")}},
                (),
            ),
            "post": _op(
                "publish a list at once (bus topic kb.emergency, action published)",
                {"201": {"description": "the list", **_ref("KbEmergencyList")}},
                ("400", "403"),
                requestBody=_body("KbEmergencyNew"),
            ),
        },
        "/api/kb/emergency/{id}": {
            "delete": _op(
                "withdraw a list (bus topic kb.emergency, action withdrawn); a unit only its own",
                {"200": {"description": "the withdrawn list", **_ref("KbEmergencyList")}},
                ("403", "404", "409"),
                parameters=[ID],
            ),
        },
        "/api/kb/entries/{id}/used": {
            "post": _op(
                "a seat used this entry's answer (counted per entry per day)",
                {"204": {"description": "counted"}},
                ("400", "403", "404"),
                parameters=[ID],
            ),
        },
        "/api/kb/kpi": {
            "get": _op(
                "units' knowledge KPIs for a period (from/to dates, to included; default this month)",
                {"200": {"description": "report", **_ref("KbKpiReport")}},
                ("400", "403"),
                parameters=[
                    {"name": "from", "in": "query", "schema": {"type": "string"}},
                    {"name": "to", "in": "query", "schema": {"type": "string"}},
                    UNIT,
                ],
            ),
        },
    },
    "components": {
        "schemas": {
            "KbQueryAsk": {
                "type": "object",
                "required": ["question", "unit"],
                "properties": {
                    "question": {"type": "string", "maxLength": 2000},
                    "unit": {"type": "string", "maxLength": 32},
                    "entry_id": _S,
                    "contact_id": _S,
                },
            },
            "KbQueryAnswer": {
                "type": "object",
                "required": ["answer"],
                "properties": {
                    "answer": {"type": "string", "maxLength": 20000},
                    "make_entry": {"type": "boolean", "default": False},
                    "entry": {"type": "object", "description": "entry fields for the draft (category, scope...)"},
                },
            },
            "KbQueryItem": {"type": "object", "properties": QUERY_PROPS},
            "KbQueryList": {
                "type": "object",
                "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/KbQueryItem"}}},
            },
            "KbFlagRaise": {
                "type": "object",
                "required": ["reason"],
                "properties": {"reason": {"type": "string", "maxLength": 2000}},
            },
            "KbFlagResolve": {
                "type": "object",
                "properties": {"note": {"type": "string", "maxLength": 2000}, "dismiss": {"type": "boolean"}},
            },
            "KbFlagItem": {"type": "object", "properties": FLAG_PROPS},
            "KbFlagList": {
                "type": "object",
                "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/KbFlagItem"}}},
            },
            "KbEmergencyNew": {
                "type": "object",
                "required": ["title", "items"],
                "properties": {
                    "title": {"type": "string", "maxLength": 200},
                    "items": {"type": "array", "minItems": 1, "maxItems": 200, "items": QA},
                },
            },
            "KbEmergencyList": {
                "type": "object",
                "properties": {
                    "id": _S,
                    "title": _S,
                    "items": {"type": "array", "items": QA},
                    "unit": _S,
                    "published_at": _T,
                },
            },
            "KbEmergencyLists": {
                "type": "object",
                "properties": {"lists": {"type": "array", "items": {"$ref": "#/components/schemas/KbEmergencyList"}}},
            },
            "KbKpiReport": {
                "type": "object",
                "properties": {
                    "from": _T,
                    "to": _T,
                    "unit": {"type": ["string", "null"]},
                    "as_of": _T,
                    "options": {"type": "object"},
                    "targets": {"type": "object"},
                    "units": {"type": "array", "items": UNIT_FIGURES},
                    "total": UNIT_FIGURES,
                },
            },
        }
    },
}
