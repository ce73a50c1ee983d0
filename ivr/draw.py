"""Draw a flow as an SVG diagram (written directly: no graphviz needed).

Nodes are laid out in layers by the longest path from the start node, ignoring the edges
that go back (menus that return to an earlier menu); those are drawn as arcs on the right.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

from ivr.core.flow import TERMINALS, Flow, Kind, Node

W, H = 168, 58  # node box
GX, GY = 36, 74  # gaps between boxes and layers
MARGIN = 40
SIDE = 110  # room for the arcs on either side
FONT = "'Noto Sans CJK SC', 'Noto Sans SC', 'Source Han Sans SC', 'WenQuanYi Micro Hei', 'Microsoft YaHei', sans-serif"

FILL = {
    Kind.PLAY: "#e8f1fb",
    Kind.MENU: "#fff4d6",
    Kind.LOOKUP: "#fff4d6",
    Kind.WORKING_DAY: "#eef6ea",
    Kind.TIME_OF_DAY: "#eef6ea",
    Kind.CALLER_LIST: "#eef6ea",
    Kind.QUEUE_LOAD: "#eef6ea",
    Kind.TAG: "#f3ecfa",
    Kind.QUEUE: "#d7f0dd",
    Kind.TRANSFER: "#fbdcdc",
    Kind.MESSAGE: "#eeeeee",
    Kind.VOICEMAIL: "#e2e8f8",
    Kind.CALLBACK: "#e2e8f8",
    Kind.HANGUP: "#eeeeee",
}
KIND_NAMES = {
    Kind.PLAY: "放音",
    Kind.MENU: "按键菜单",
    Kind.LOOKUP: "工单查询",
    Kind.WORKING_DAY: "工作日判断",
    Kind.TIME_OF_DAY: "时段判断",
    Kind.CALLER_LIST: "号码名单",
    Kind.QUEUE_LOAD: "队列繁忙判断",
    Kind.TAG: "标记",
    Kind.QUEUE: "排队",
    Kind.TRANSFER: "转接",
    Kind.MESSAGE: "提示后挂机",
    Kind.VOICEMAIL: "语音留言",
    Kind.CALLBACK: "预约回电",
    Kind.HANGUP: "挂机",
}


@dataclass
class _Box:
    node: Node
    layer: int
    x: float = 0.0
    y: float = 0.0


def _drawing_graph(flow: Flow) -> tuple[dict[str, Node], dict[tuple[str, str], list[str]]]:
    """The nodes and labelled edges to draw. A terminal reached from three or more nodes is drawn
    once under each of them (ids ``node@source``): long crossing edges to one shared box are the
    main thing that makes flow diagrams hard to read."""
    sources: dict[str, set[str]] = {}
    for n in flow.nodes.values():
        for e in n.edges():
            sources.setdefault(e.target, set()).add(n.id)
    cloned = {t for t, srcs in sources.items() if t in flow.nodes and flow.nodes[t].terminal and len(srcs) >= 3}
    nodes = {nid: n for nid, n in flow.nodes.items() if nid not in cloned}
    edges: dict[tuple[str, str], list[str]] = {}
    for n in flow.nodes.values():
        for e in n.edges():
            if e.target not in flow.nodes:
                continue
            target = f"{e.target}@{n.id}" if e.target in cloned else e.target
            if e.target in cloned:
                nodes[target] = flow.nodes[e.target]
            edges.setdefault((n.id, target), []).append(e.label)
    return nodes, edges


def _layers(nodes: dict[str, Node], edges: dict[tuple[str, str], list[str]], start: str) -> dict[str, int]:
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        succ[a].append(b)
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    roots = [start] + [n for n in nodes if n != start]
    for root in roots:
        if root in state or root not in nodes:
            continue
        state[root] = 1
        stack = [(root, iter(succ[root]))]
        while stack:
            node, it = stack[-1]
            for nxt in it:
                if state.get(nxt) == 1:
                    back.add((node, nxt))
                elif nxt not in state:
                    state[nxt] = 1
                    stack.append((nxt, iter(succ[nxt])))
                    break
            else:
                state[node] = 2
                stack.pop()
    layer = {n: 0 for n in nodes}
    for _ in range(len(nodes)):  # relax along forward edges (a DAG): at most |V| rounds
        changed = False
        for a, targets in succ.items():
            for b in targets:
                if (a, b) not in back and layer[b] < layer[a] + 1:
                    layer[b] = layer[a] + 1
                    changed = True
        if not changed:
            break
    return layer


def _text(x: float, y: float, text: str, size: int, weight: str = "normal", fill: str = "#222") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" font-weight="{weight}" fill="{fill}" '
        f'text-anchor="middle">{escape(text)}</text>'
    )


def _detail(node: Node) -> str:
    if node.kind is Kind.QUEUE:
        return f"队列 {node.queue}" + (f" 优先级{node.priority}" if node.priority else "")
    if node.kind is Kind.TRANSFER:
        return f"转 {node.number}"
    if node.kind is Kind.TIME_OF_DAY:
        return " ".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in node.periods)[:28]
    if node.kind is Kind.QUEUE_LOAD:
        limits = [
            f"≥{node.max_waiting}人" if node.max_waiting else "",
            f"≥{node.max_expected_wait:.0f}秒" if node.max_expected_wait else "",
        ]
        return f"{node.queue} " + " 或 ".join(x for x in limits if x)
    if node.kind is Kind.CALLER_LIST:
        return f"名单 {node.list_name}"
    if node.kind is Kind.TAG and node.priority_boost:
        return f"优先级 +{node.priority_boost}"
    return f"{node.id} · {KIND_NAMES[node.kind]}"


def _blocked(src: _Box, dst: _Box, boxes: dict[str, _Box]) -> bool:
    """Would a straight line from src's bottom to dst's top cross a box of a layer in between?"""
    x1, y1, x2, y2 = src.x + W / 2, src.y + H, dst.x + W / 2, dst.y
    for box in boxes.values():
        if src.layer < box.layer < dst.layer:
            for y in (box.y, box.y + H):
                x = x1 + (x2 - x1) * (y - y1) / (y2 - y1)
                if box.x - 8 <= x <= box.x + W + 8:
                    return True
    return False


def _polyline(points: list[tuple[float, float]], r: float = 8.0) -> str:
    """An orthogonal path through the points, its corners rounded."""
    d = f"M{points[0][0]:.1f},{points[0][1]:.1f}"
    for (px, py), (cx, cy), (nx, ny) in zip(points, points[1:], points[2:], strict=False):
        ix = cx - r * (cx > px) + r * (cx < px)
        iy = cy - r * (cy > py) + r * (cy < py)
        ox = cx + r * (nx > cx) - r * (nx < cx)
        oy = cy + r * (ny > cy) - r * (ny < cy)
        d += f" L{ix:.1f},{iy:.1f} Q{cx:.1f},{cy:.1f} {ox:.1f},{oy:.1f}"
    return d + f" L{points[-1][0]:.1f},{points[-1][1]:.1f}"


def render_svg(flow: Flow) -> str:
    nodes, labels = _drawing_graph(flow)
    layer = _layers(nodes, labels, flow.start)
    rows: dict[int, list[str]] = {}
    for node_id in nodes:
        rows.setdefault(layer[node_id], []).append(node_id)
    boxes: dict[str, _Box] = {}
    widest = max(len(r) for r in rows.values())
    width = MARGIN * 2 + widest * W + (widest - 1) * GX + 2 * SIDE
    parents: dict[str, list[str]] = {}
    for a, b in labels:
        parents.setdefault(b, []).append(a)
    for depth in sorted(rows):
        ids = rows[depth]
        if depth > 0:  # order each row by the mean position of its parents: fewer crossings

            def centre(i: str) -> float:
                xs = [boxes[p].x for p in parents.get(i, []) if p in boxes]
                return sum(xs) / len(xs) if xs else 1e9

            ids.sort(key=centre)
        row_w = len(ids) * W + (len(ids) - 1) * GX
        x0 = (width - row_w) / 2
        for i, node_id in enumerate(ids):
            boxes[node_id] = _Box(nodes[node_id], depth, x0 + i * (W + GX), MARGIN + 40 + depth * (H + GY))
    height = MARGIN * 2 + 40 + (max(rows) + 1) * (H + GY)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="{escape(FONT)}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>',
        _text(width / 2, MARGIN + 4, f"{flow.title or flow.name}  来电流程", 20, "bold"),
    ]
    arcs = 0
    for (a, b), names in labels.items():
        src, dst = boxes[a], boxes[b]
        label = "/".join(x for x in names if x)
        lo, hi = min(src.layer, dst.layer), max(src.layer, dst.layer)
        between = [bx for bx in boxes.values() if lo <= bx.layer <= hi]
        if dst.layer > src.layer + 1 and _blocked(src, dst, boxes):
            # down the left lane: out of the bottom into the gap below, left, down, into the left side
            arcs += 1
            lane = min(bx.x for bx in between) - 24 - 12 * (arcs % 4)
            x1, y1 = src.x + 16, src.y + H
            x2, y2 = dst.x + 16, dst.y
            gap1, gap2 = y1 + GY / 2 - 6, y2 - GY / 2 + 6
            d = _polyline([(x1, y1), (x1, gap1), (lane, gap1), (lane, gap2), (x2, gap2), (x2, y2 - 2)])
            lx, ly = lane, (gap1 + gap2) / 2
        elif dst.layer > src.layer:
            x1, y1 = src.x + W / 2, src.y + H
            x2, y2 = dst.x + W / 2, dst.y
            my = (y1 + y2) / 2
            d = f"M{x1:.1f},{y1:.1f} C{x1:.1f},{my:.1f} {x2:.1f},{my:.1f} {x2:.1f},{y2 - 2:.1f}"
            lx, ly = x1 + (x2 - x1) * 0.25, y1 + (y2 - y1) * 0.28
        elif dst.layer == src.layer and not any(
            bx.layer == src.layer and min(src.x, dst.x) < bx.x < max(src.x, dst.x) for bx in boxes.values()
        ):  # neighbours in one row: straight across
            left_to_right = dst.x > src.x
            x1 = src.x + W if left_to_right else src.x
            x2 = dst.x - 2 if left_to_right else dst.x + W + 2
            y1 = y2 = src.y + H / 2 + (6 if left_to_right else -6)
            d = f"M{x1:.1f},{y1:.1f} L{x2:.1f},{y2:.1f}"
            lx, ly = (x1 + x2) / 2, y1 + (14 if left_to_right else -4)
        else:  # back up: out of the top into the gap above, right, up, into the right side
            arcs += 1
            lane = max(bx.x + W for bx in between) + 24 + 12 * (arcs % 4)
            x1, y1 = src.x + W - 16, src.y
            x2, y2 = dst.x + W - 16, dst.y
            gap1, gap2 = y1 - GY / 2 + 10, y2 - GY / 2 + 2
            d = _polyline([(x1, y1), (x1, gap1), (lane, gap1), (lane, gap2), (x2, gap2), (x2, y2 - 2)])
            lx, ly = lane, (gap1 + gap2) / 2
        out.append(f'<path d="{d}" fill="none" stroke="#777" stroke-width="1.3" marker-end="url(#arrow)"/>')
        if label:
            wl = 12 * len(label) + 6
            out.append(
                f'<rect x="{lx - wl / 2:.1f}" y="{ly - 11:.1f}" width="{wl}" height="15" rx="3" fill="#fff" opacity="0.9"/>'
            )
            out.append(_text(lx, ly, label, 11, fill="#444"))
    for box_id, box in boxes.items():
        n = box.node
        start = box_id == flow.start
        rx = 18 if n.kind in TERMINALS else 4
        stroke = "#2f7d32" if start else "#667"
        out.append(
            f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{W}" height="{H}" rx="{rx}" '
            f'fill="{FILL[n.kind]}" stroke="{stroke}" stroke-width="{2.2 if start else 1.2}"/>'
        )
        out.append(_text(box.x + W / 2, box.y + 24, n.label or n.id, 15, "bold"))
        out.append(_text(box.x + W / 2, box.y + 44, _detail(n), 11, fill="#555"))
    out.append("</svg>")
    return "\n".join(out) + "\n"
