"""OpenAPI 3.1 description of /api/reports and the reports page, merged into /openapi.json by the app."""

from __future__ import annotations

from typing import Any

from reports.core.quality import KINDS as QUALITY_KINDS

SEC: list[dict[str, list[str]]] = [{"bearer": []}, {"cookie": []}]


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


ERR = {"description": "error with a message", "content": {"application/json": {"schema": _ref("RpError")}}}
FORMAT = {
    "name": "format",
    "in": "query",
    "schema": {"type": "string", "enum": ["json", "html", "pdf", "xlsx"], "default": "json"},
    "description": "JSON figures, or the report drawn as an HTML page with SVG charts, a PDF or an XLSX workbook",
}
REPORT_OK = {
    "200": {
        "description": "the report (stored: the same document every time)",
        "content": {
            "application/json": {"schema": _ref("RpReport")},
            "text/html": {"schema": {"type": "string"}},
            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                "schema": {"type": "string", "format": "binary"}
            },
        },
    }
}


def _op(summary: str, ok: dict[str, Any], errors: tuple[str, ...] = ("401", "403"), **extra: Any) -> dict[str, Any]:
    return {
        "summary": summary,
        "tags": ["reports"],
        "security": SEC,
        "responses": {**ok, **dict.fromkeys(errors, ERR)},
        **extra,
    }


def _body(props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": props, "required": required, "additionalProperties": False}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


_REPLACE = {"type": "boolean", "default": True, "description": "make it again from the stored data"}
_JSON_REPORT = {"description": "the report made", "content": {"application/json": {"schema": _ref("RpReport")}}}

OPENAPI: dict[str, Any] = {
    "paths": {
        "/reports": {
            "get": _op(
                "the reports page: spike alerts, the latest data quality findings, stored reports with their downloads, the topic form",
                {"200": {"description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}},
            )
        },
        "/api/reports": {
            "get": _op(
                "stored reports, newest first",
                {"200": {"description": "list", "content": {"application/json": {"schema": _ref("RpList")}}}},
                parameters=[
                    {"name": "kind", "in": "query", "schema": {"type": "string", "enum": ["daily", "monthly", "topic"]}}
                ],
            )
        },
        "/api/reports/daily": {
            "post": _op(
                "make (or make again) the daily report (运行日报) of a date; a day not over gives a preliminary one",
                {"201": _JSON_REPORT},
                ("400", "401", "403"),
                requestBody=_body({"date": {"type": "string", "format": "date"}, "replace": _REPLACE}, ["date"]),
            )
        },
        "/api/reports/daily/{date}": {
            "get": _op(
                "the daily report of a date: stored, or made now once the day is over",
                REPORT_OK,
                ("400", "401", "403", "404"),
                parameters=[
                    {"name": "date", "in": "path", "required": True, "schema": {"type": "string", "format": "date"}},
                    FORMAT,
                ],
            )
        },
        "/api/reports/monthly": {
            "post": _op(
                "make (or make again) the monthly unit report (月度通报) of a month",
                {"201": _JSON_REPORT},
                ("400", "401", "403"),
                requestBody=_body(
                    {"month": {"type": "string", "pattern": "^\\d{4}-\\d{2}$"}, "replace": _REPLACE}, ["month"]
                ),
            )
        },
        "/api/reports/monthly/{month}": {
            "get": _op(
                "the monthly unit report: each unit's KPIs, rankings and hot topics",
                REPORT_OK,
                ("400", "401", "403", "404"),
                parameters=[
                    {
                        "name": "month",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^\\d{4}-\\d{2}$"},
                    },
                    FORMAT,
                ],
            )
        },
        "/api/reports/topic": {
            "get": _op(
                "a topic report (专题) on a category (path prefix) and/or area over a period of at most a year",
                REPORT_OK,
                ("400", "401", "403"),
                parameters=[
                    {
                        "name": "from",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string"},
                        "description": "date or ISO time",
                    },
                    {
                        "name": "to",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string"},
                        "description": "date (included) or ISO time",
                    },
                    {"name": "category", "in": "query", "schema": {"type": "string"}},
                    {"name": "area", "in": "query", "schema": {"type": "string"}},
                    FORMAT,
                ],
            )
        },
        "/api/reports/quality": {
            "get": _op(
                "a day's data quality findings (数据质检) by kind: stored, or checked now once the day is over",
                {"200": {"description": "the run", "content": {"application/json": {"schema": _ref("RpQuality")}}}},
                ("400", "401", "403", "404"),
                parameters=[
                    {
                        "name": "date",
                        "in": "query",
                        "schema": {"type": "string", "format": "date"},
                        "description": "the day checked (local, years 2000-2099); yesterday when absent",
                    }
                ],
            ),
            "post": _op(
                "check a day now (again) and store its findings; a day not over gives a preliminary run",
                {"201": {"description": "the run", "content": {"application/json": {"schema": _ref("RpQuality")}}}},
                ("400", "401", "403"),
                requestBody=_body({"date": {"type": "string", "format": "date"}, "replace": _REPLACE}, []),
            ),
        },
        "/api/reports/alerts": {
            "get": _op(
                "spike alerts (热点突增), newest first, with the orders behind each",
                {"200": {"description": "list", "content": {"application/json": {"schema": _ref("RpAlerts")}}}},
            )
        },
        "/api/reports/alerts/{id}/ack": {
            "post": _op(
                "acknowledge a spike alert (the first supervisor's name is kept)",
                {"200": {"description": "the alert", "content": {"application/json": {"schema": _ref("RpAlert")}}}},
                ("401", "403", "404"),
                parameters=[{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            )
        },
    },
    "components": {
        "schemas": {
            "RpError": {
                "type": "object",
                "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
                "required": ["error"],
            },
            "RpReport": {
                "type": "object",
                "description": "a report's figures; every rate is {numerator, denominator, percent} and options names its formula's options",
                "properties": {
                    "kind": {"type": "string", "enum": ["daily", "monthly", "topic"]},
                    "title": {"type": "string"},
                    "period": {"type": "object"},
                    "options": {"type": "object"},
                    "targets": {"type": "object"},
                    "contacts": {"type": "object"},
                    "orders": {"type": "object"},
                    "top_categories": {"type": "array"},
                    "top_areas": {"type": "array"},
                    "top_phrases": {"type": "array"},
                },
                "required": ["kind", "period", "options"],
            },
            "RpList": {
                "type": "object",
                "properties": {
                    "reports": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "kind": {"type": "string"},
                                "key": {"type": "string"},
                                "generated_at": {"type": "string", "format": "date-time"},
                                "generated_by": {"type": "string"},
                            },
                        },
                    }
                },
            },
            "RpAlert": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "category": {"type": "string"},
                    "area": {"type": "string"},
                    "bucket_start": {"type": "string", "format": "date-time"},
                    "count": {"type": "integer"},
                    "expected": {"type": "number", "description": "baseline orders per 15 minutes"},
                    "p_value": {"type": "number"},
                    "raised_at": {"type": "string", "format": "date-time"},
                    "orders": {"type": "array", "items": {"type": "integer"}},
                    "titles": {"type": "array", "items": {"type": "string"}},
                    "acknowledged_by": {"type": ["string", "null"]},
                },
            },
            "RpQualityFinding": {
                "type": "object",
                "properties": {
                    "order_id": {"type": "integer"},
                    "kind": {"type": "string", "enum": list(QUALITY_KINDS)},
                    "reason": {"type": "string", "description": "a short reason in Chinese"},
                    "evidence": {
                        "type": "object",
                        "description": "what was matched: fields missing, words, the other order and the similarity",
                    },
                },
                "required": ["order_id", "kind", "reason", "evidence"],
            },
            "RpQuality": {
                "type": "object",
                "properties": {
                    "date": {"type": "string", "format": "date"},
                    "generated_at": {"type": ["string", "null"], "format": "date-time"},
                    "generated_by": {"type": ["string", "null"]},
                    "options": {"type": "object", "description": "the thresholds the run used"},
                    "checked": {"type": "integer", "description": "orders created or changed on the day"},
                    "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "findings": {
                        "type": "object",
                        "description": "by kind",
                        "additionalProperties": {"type": "array", "items": _ref("RpQualityFinding")},
                    },
                },
                "required": ["date", "counts", "findings"],
            },
            "RpAlerts": {"type": "object", "properties": {"alerts": {"type": "array", "items": _ref("RpAlert")}}},
        }
    },
}
