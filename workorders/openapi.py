"""OpenAPI 3.1 description of /api/workorders, merged into /openapi.json by the app."""

from __future__ import annotations

from typing import Any

from workorders.core.lifecycle import ACTIONS
from workorders.core.model import State

SEC: list[dict[str, list[str]]] = [{"bearer": []}, {"cookie": []}]


def _json(ref: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


ERR = {"description": "error with a message naming the rule", **_json("Error")}
ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}


def _op(summary: str, ok: dict[str, Any], errors: tuple[str, ...] = ("401",), **extra: Any) -> dict[str, Any]:
    return {
        "summary": summary,
        "tags": ["workorders"],
        "security": SEC,
        "responses": {**ok, **dict.fromkeys(errors, ERR)},
        **extra,
    }


OPENAPI: dict[str, Any] = {
    "paths": {
        "/api/workorders": {
            "get": _op(
                "orders visible to the user (a unit sees its own), newest first, with the deadline waited on",
                {"200": {"description": "list", **_json("OrderList")}},
                ("400", "401"),
                parameters=[
                    {"name": "state", "in": "query", "schema": {"type": "string", "enum": [s.value for s in State]}},
                    {"name": "unit", "in": "query", "schema": {"type": "string"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                ],
            ),
            "post": _op(
                "create an order in 受理 (seat, dispatcher); optional type/urgency/category classify it at once",
                {"201": {"description": "created", **_json("OrderDetail")}},
                ("401", "403", "422"),
                requestBody={"required": True, **_json("NewOrder")},
            ),
        },
        "/api/workorders/{id}": {
            "get": _op(
                "one order with its history, attachments and the actions allowed to the user",
                {"200": {"description": "order", **_json("OrderDetail")}},
                ("401", "404"),
                parameters=[ID],
            )
        },
        "/api/workorders/{id}/actions/{action}": {
            "post": _op(
                "take a lifecycle action; give `version` to fail with 409 if the order changed since you read it",
                {"200": {"description": "the order after the action", **_json("OrderDetail")}},
                ("400", "401", "403", "404", "409", "422"),
                parameters=[
                    ID,
                    {
                        "name": "action",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": sorted(ACTIONS)},
                    },
                ],
                requestBody={
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"version": {"type": "integer"}},
                                "additionalProperties": True,
                            }
                        }
                    }
                },
            )
        },
        "/api/workorders/{id}/attachments": {
            "post": _op(
                "upload a file (multipart: kind, file); size and type limits from the settings; only in the"
                " states and by the roles the lifecycle allows (409, 403); every upload is in the history",
                {"201": {"description": "stored", **_json("Attachment")}},
                ("400", "401", "403", "404", "409", "413", "422"),
                parameters=[ID],
                requestBody={
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "kind": {
                                        "type": "string",
                                        "enum": [
                                            "evidence",
                                            "return_approval",
                                            "extension_request",
                                            "photo",
                                            "recording",
                                            "other",
                                        ],
                                    },
                                    "file": {"type": "string", "format": "binary"},
                                },
                            }
                        }
                    }
                },
            )
        },
        "/api/workorders/{id}/attachments/{aid}": {
            "get": _op(
                "download an attachment",
                {"200": {"description": "the file"}},
                ("401", "404"),
                parameters=[ID, {"name": "aid", "in": "path", "required": True, "schema": {"type": "integer"}}],
            )
        },
        "/api/workorders/units": {
            "get": _op("the dispatch directory and the category tree", {"200": {"description": "directory"}}),
            "put": _op(
                "add or update units ({code,name,tier,active}) and categories ({code,name})",
                {"200": {"description": "directory"}},
                ("401", "403", "422"),
            ),
        },
        "/api/workorders/deadlines": {
            "get": _op(
                "deadlines of an order dispatched at a time (same code as the engine); 422 for an uncovered year",
                {"200": {"description": "deadlines", **_json("Deadlines")}},
                ("400", "401", "422"),
                parameters=[
                    {
                        "name": "type",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "enum": ["consult", "help", "suggestion", "complaint", "report"]},
                    },
                    {"name": "urgency", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "dispatched",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "format": "date-time"},
                    },
                ],
            )
        },
        "/api/workorders/kpi": {
            "get": _op(
                "KPIs for a period (dates: whole local days, `to` included) and optional unit; states its options",
                {"200": {"description": "report"}},
                ("400", "401", "403"),
                parameters=[
                    {"name": "from", "in": "query", "required": True, "schema": {"type": "string"}},
                    {"name": "to", "in": "query", "required": True, "schema": {"type": "string"}},
                    {"name": "unit", "in": "query", "schema": {"type": "string"}},
                    {"name": "basic_satisfied", "in": "query", "schema": {"type": "boolean", "default": True}},
                    {"name": "repeat_by_address", "in": "query", "schema": {"type": "boolean", "default": False}},
                ],
            )
        },
        "/api/workorders/notices": {
            "get": _op(
                "deadline warnings (预警) and escalations (超期升级) of the caller's unit, or the supervisors' "
                "(supervisor, manager, dispatcher, admin), newest first, with the unread count and each "
                "outside delivery's state",
                {"200": {"description": "notices", **_json("NoticeList")}},
                ("400", "401", "403"),
                parameters=[
                    {"name": "unread", "in": "query", "schema": {"type": "boolean", "default": False}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                ],
            )
        },
        "/api/workorders/notices/{id}/read": {
            "post": _op(
                "mark a notice read for the whole unit (or for all supervisors); another unit's notice is 403",
                {"200": {"description": "marked"}},
                ("401", "403", "404"),
                parameters=[ID],
            )
        },
    },
    "components": {
        "schemas": {
            "NoticeList": {
                "type": "object",
                "required": ["unread", "notices"],
                "properties": {
                    "unread": {"type": "integer"},
                    "notices": {"type": "array", "items": {"$ref": "#/components/schemas/Notice"}},
                },
            },
            "Notice": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "order_id": {"type": "integer"},
                    "audience": {"type": "string", "enum": ["unit", "supervisors"]},
                    "unit": {"type": ["string", "null"]},
                    "kind": {"type": "string", "enum": ["warn", "escalate"]},
                    "kind_label": {"type": "string"},
                    "deadline": {
                        "type": "string",
                        "enum": ["sign", "respond", "return", "extension", "reply", "feedback", "progress", "onsite"],
                    },
                    "deadline_label": {"type": "string"},
                    "due": {"type": "string", "description": "local time, YYYY-MM-DD HH:MM"},
                    "title": {"type": "string"},
                    "body": {"type": "string"},
                    "created_at": {"type": "string"},
                    "read": {"type": "boolean"},
                    "deliveries": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "channel": {"type": "string"},
                                "target": {"type": "string", "description": "masked phone number"},
                                "state": {"type": "string", "enum": ["waiting", "sent", "failed"]},
                                "tries": {"type": "integer"},
                                "error": {"type": "string"},
                            },
                        },
                    },
                },
            },
            "NewOrder": {
                "type": "object",
                "required": ["content"],
                "properties": {
                    k: {"type": "string"}
                    for k in (
                        "title",
                        "content",
                        "citizen_name",
                        "citizen_phone",
                        "address",
                        "channel",
                        "contact_id",
                        "type",
                        "urgency",
                        "category",
                        "source_level",
                    )
                }
                | {"confidential": {"type": "boolean"}},
            },
            "Due": {
                "type": ["object", "null"],
                "properties": {
                    "deadline": {"type": "string"},
                    "due": {"type": "string", "format": "date-time"},
                    "working_seconds_left": {"type": "integer"},
                    "status": {"enum": ["ok", "warning", "overdue"]},
                    "provisional": {"type": "boolean"},
                },
            },
            "OrderSummary": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "version": {"type": "integer"},
                    "title": {"type": "string"},
                    "state": {"type": "string"},
                    "state_label": {"type": "string"},
                    "due": {"$ref": "#/components/schemas/Due"},
                },
            },
            "OrderList": {
                "type": "object",
                "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/OrderSummary"}}},
            },
            "OrderDetail": {
                "allOf": [
                    {"$ref": "#/components/schemas/OrderSummary"},
                    {
                        "type": "object",
                        "properties": {
                            "allowed_actions": {"type": "array", "items": {"type": "string"}},
                            "history": {"type": "array", "items": {"type": "object"}},
                            "attachments": {"type": "array", "items": {"$ref": "#/components/schemas/Attachment"}},
                            "deadlines": {"$ref": "#/components/schemas/Deadlines"},
                            "reply": {"type": ["object", "null"], "description": "the unit's reply (三要素, by, at)"},
                            "approval": {
                                "type": ["object", "null"],
                                "description": "答复须经分管领导审核: whether the reply needs the unit's leader and why "
                                "(shown to the lead unit while it replies, and to all once submitted), and the "
                                "leader's approval (by, at, opinion) once given",
                                "properties": {
                                    "required": {"type": "boolean"},
                                    "reasons": {
                                        "type": "array",
                                        "items": {"type": "string", "enum": ["supervised", "major", "unit"]},
                                    },
                                    "label": {"type": "string"},
                                    "approval": {"type": ["object", "null"]},
                                },
                            },
                        },
                    },
                ]
            },
            "Attachment": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "kind": {"type": "string"},
                    "filename": {"type": "string"},
                    "size": {"type": "integer"},
                    "sha256": {"type": "string"},
                    "url": {"type": "string"},
                },
            },
            "Deadlines": {
                "type": ["object", "null"],
                "properties": {
                    k: {"type": ["string", "null"], "format": "date-time"}
                    for k in (
                        "dispatched_at",
                        "sign_by",
                        "return_by",
                        "reply_by",
                        "extension_apply_by",
                        "extension_latest_reply_by",
                        "initial_feedback_by",
                        "progress_by",
                        "onsite_by",
                    )
                }
                | {"provisional": {"type": "boolean"}, "extended": {"type": "boolean"}},
            },
            "Error": {
                "type": "object",
                "properties": {"error": {"type": "string"}, "detail": {"type": "string"}, "rule": {"type": "string"}},
            },
        }
    },
}
