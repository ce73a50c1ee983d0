"""The knowledge base's Prometheus metrics (served on /metrics with the engine's others)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

SEARCHES = Counter("hotline_kb_searches_total", "knowledge-base searches", ["audience", "outcome"])
SEARCH_SECONDS = Histogram(
    "hotline_kb_search_seconds",
    "knowledge-base search time, segmentation to ranked results",
    ["audience"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.25, 1.0),
)
LATE = Counter(
    "hotline_kb_late_submissions_total", "entries submitted less than one working day before they take effect", ["unit"]
)
IMPORTED = Counter("hotline_kb_import_lines_total", "exchange-file lines by outcome", ["outcome"])
