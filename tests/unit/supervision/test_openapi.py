"""Every /api/supervision route is documented, and the document's references resolve."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aiohttp import web

from hotline.app import build_openapi
from supervision import plugin
from supervision.http import add_routes


def _walk(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)
    else:
        yield node


def test_every_route_is_in_the_openapi_document_and_its_schemas_resolve() -> None:
    app = web.Application()
    add_routes(app)
    doc = build_openapi([plugin])
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        path = path.replace("{action:follow_up|close|cancel}", "{action}").replace(
            "{action:acknowledge|answer}", "{action}"
        )
        if route.method == "HEAD":
            continue
        assert route.method.lower() in doc["paths"].get(path, {}), (route.method, path)
    refs = {v for v in _walk(doc) if isinstance(v, str) and v.startswith("#/components/schemas/")}
    assert {r.rsplit("/", 1)[1] for r in refs} <= set(doc["components"]["schemas"])
