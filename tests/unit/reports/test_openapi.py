"""Every /api/reports route (and the page) is documented, and the document's references resolve."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aiohttp import web

from hotline.app import build_openapi
from reports import plugin
from reports.http import add_routes


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
    routes = [r for r in app.router.routes() if r.method != "HEAD"]
    assert len(routes) == 11  # with GET and POST /api/reports/quality
    for route in routes:
        path = route.resource.canonical if route.resource else ""
        assert route.method.lower() in doc["paths"].get(path, {}), (route.method, path)
        op = doc["paths"][path][route.method.lower()]
        assert op["security"] and "403" in op["responses"]
    refs = {v for v in _walk(doc) if isinstance(v, str) and v.startswith("#/components/schemas/")}
    assert {r.rsplit("/", 1)[1] for r in refs} <= set(doc["components"]["schemas"])
