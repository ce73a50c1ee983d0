"""OpenAPI 3.1 description of /api/kb, merged into /openapi.json by the app."""

from __future__ import annotations

from typing import Any

from knowledge.core.model import State

SEC: list[dict[str, list[str]]] = [{"bearer": []}, {"cookie": []}]
ACTION_NAMES = ["submit", "review", "reject", "publish", "withdraw", "expire"]


def _json(ref: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


ERR = {"description": "error with a message naming the field or rule", **_json("KbError")}
ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}}
Q = {"name": "q", "in": "query", "required": True, "schema": {"type": "string"}, "description": "cut to 200 chars"}
SCOPE = {"name": "scope", "in": "query", "schema": {"type": "string"}, "description": "the caller's district"}
LIMIT = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}}


def _op(summary: str, ok: dict[str, Any], errors: tuple[str, ...] = ("401",), **extra: Any) -> dict[str, Any]:
    return {
        "summary": summary,
        "tags": ["knowledge"],
        "security": SEC,
        "responses": {**ok, **dict.fromkeys(errors, ERR)},
        **extra,
    }


_STR = {"type": "string"}
PUBLIC_RESPONSES: dict[str, Any] = {
    "200": {"description": "results", **_json("KbResults")},
    "400": ERR,
    "429": {"description": "too many searches from this address", **_json("KbError")},
}
_DATE = {"type": ["string", "null"], "format": "date"}
CONTENT_PROPS: dict[str, Any] = {
    "question": {"type": "string", "maxLength": 500},
    "answer": {"type": "string", "description": "HTML; only p br b strong i em ul ol li a[href http(s)] are kept"},
    "category": {"type": "string", "description": "a path, 社会保障/医疗保险"},
    "scope": {"type": "string", "description": "city, a district's or a street's/town's name"},
    "unit": {"type": "string", "description": "owning member unit's code"},
    "officer": _STR,
    "policy_ref": _STR,
    "valid_from": _DATE,
    "valid_to": _DATE,
    "effective_date": _DATE,
    "keywords": {"type": "array", "items": _STR},
    "attachments": {
        "type": "array",
        "items": {"type": "object", "properties": {"name": _STR, "url": {"type": "string", "format": "uri"}}},
    },
}

OPENAPI: dict[str, Any] = {
    "paths": {
        "/api/kb/search": {
            "get": _op(
                "search for seats: ranked entries, expired ones marked expired",
                {"200": {"description": "results", **_json("KbResults")}},
                ("400", "401"),
                parameters=[Q, SCOPE, LIMIT],
            ),
            "post": _op(
                "the same search with a JSON body (a query too long for a URL; cut to 200 chars)",
                {"200": {"description": "results", **_json("KbResults")}},
                ("400", "401"),
                requestBody={"required": True, **_json("KbQuery")},
            ),
        },
        "/api/kb/public/search": {
            "get": {
                "summary": "citizens' self-service search: no login, rate-limited per address, never expired entries",
                "tags": ["knowledge"],
                "parameters": [Q, SCOPE, LIMIT],
                "responses": PUBLIC_RESPONSES,
            },
            "post": {
                "summary": "the citizens' search with a JSON body (a query too long for a URL)",
                "tags": ["knowledge"],
                "requestBody": {"required": True, **_json("KbQuery")},
                "responses": PUBLIC_RESPONSES,
            },
        },
        "/api/kb/entries": {
            "get": _op(
                "entries, newest change first",
                {"200": {"description": "list", **_json("KbEntryList")}},
                ("400", "401"),
                parameters=[
                    {"name": "state", "in": "query", "schema": {"type": "string", "enum": [s.value for s in State]}},
                    {"name": "unit", "in": "query", "schema": _STR},
                    LIMIT,
                ],
            ),
            "post": _op(
                "create a draft (unit: for its own unit; admin)",
                {"201": {"description": "created", **_json("KbEntry")}},
                ("400", "401", "403", "409", "422"),
                requestBody={"required": True, **_json("KbNewEntry")},
            ),
        },
        "/api/kb/entries/{id}": {
            "get": _op(
                "one entry with its versions (who changed what) and the actions allowed to the user",
                {"200": {"description": "entry", **_json("KbEntry")}},
                ("401", "404"),
                parameters=[ID],
            ),
            "put": _op(
                "change fields (unit: its own entries only, else 403); a new version",
                {"200": {"description": "entry", **_json("KbEntry")}},
                ("400", "401", "403", "404", "409", "422"),
                parameters=[ID],
                requestBody={"required": True, **_json("KbEdit")},
            ),
        },
        "/api/kb/entries/{id}/actions/{action}": {
            "post": _op(
                "move the entry through its lifecycle (docs/knowledge.md has the table); a late submit is flagged",
                {"200": {"description": "entry", **_json("KbEntry")}},
                ("400", "401", "403", "404", "409"),
                parameters=[
                    ID,
                    {
                        "name": "action",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": ACTION_NAMES},
                    },
                ],
                requestBody={"required": False, **_json("KbAction")},
            )
        },
        "/api/kb/import": {
            "post": _op(
                "import JSON Lines (admin), idempotent by id; 422 lists refused lines by number",
                {
                    "200": {"description": "all lines taken", **_json("KbImportReport")},
                    "422": {"description": "some lines refused, the others imported", **_json("KbImportReport")},
                },
                ("400", "401", "403", "413"),
                requestBody={
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"type": "object", "required": ["jsonl"], "properties": {"jsonl": _STR}}
                        },
                        "multipart/form-data": {
                            "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
                        },
                    },
                },
            )
        },
        "/api/kb/export": {
            "get": _op(
                "published and expired entries as JSON Lines, ordered by id",
                {"200": {"description": "JSON Lines", "content": {"application/x-ndjson": {"schema": _STR}}}},
                ("401", "403"),
            )
        },
    },
    "components": {
        "schemas": {
            "KbNewEntry": {
                "type": "object",
                "required": ["question", "answer", "category"],
                "properties": {"id": {"type": "string", "maxLength": 64}, **CONTENT_PROPS},
            },
            "KbEdit": {"type": "object", "properties": {"version": {"type": "integer"}, **CONTENT_PROPS}},
            "KbAction": {"type": "object", "properties": {"version": {"type": "integer"}, "reason": _STR}},
            "KbEntry": {
                "type": "object",
                "properties": {
                    "id": _STR,
                    "version": {"type": "integer"},
                    "state": {"type": "string", "enum": [s.value for s in State]},
                    **CONTENT_PROPS,
                    "late": {"type": "boolean"},
                    "expired": {"type": "boolean"},
                    "allowed_actions": {"type": "array", "items": _STR},
                    "history": {"type": "array", "items": {"type": "object"}},
                },
            },
            "KbEntryList": {
                "type": "object",
                "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/KbEntry"}}},
            },
            "KbResults": {
                "type": "object",
                "properties": {
                    "query": _STR,
                    "cut": {"type": "boolean"},
                    "terms": {"type": "array", "items": _STR},
                    "took_ms": {"type": "number"},
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "id": _STR,
                                "score": {"type": "number"},
                                "question": _STR,
                                "scope": _STR,
                                "expired": {"type": "boolean"},
                            },
                        },
                    },
                },
            },
            "KbQuery": {
                "type": "object",
                "required": ["q"],
                "properties": {"q": _STR, "scope": _STR, "limit": {"type": "integer", "minimum": 1, "maximum": 200}},
            },
            "KbError": {
                "type": "object",
                "properties": {"error": _STR, "detail": _STR, "field": _STR},
            },
            "KbImportReport": {
                "type": "object",
                "properties": {
                    "created": {"type": "integer"},
                    "updated": {"type": "integer"},
                    "unchanged": {"type": "integer"},
                    "refused": {
                        "type": "array",
                        "items": {"type": "object", "properties": {"line": {"type": "integer"}, "reason": _STR}},
                    },
                },
            },
        }
    },
}
