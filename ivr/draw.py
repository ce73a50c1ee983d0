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


def _layers(flow: Flow) -> dict[str, int]:
    succ = {
        n.id: list(dict.fromkeys(e.target for e in n.edges() if e.target in flow.nodes)) for n in flow.nodes.values()
    }
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    roots = [flow.start] + [n for n in flow.nodes if n != flow.start]
    for root in roots:
        if root in state or root not in flow.nodes:
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
    layer = {n: 0 for n in flow.nodes}
    for _ in range(len(flow.nodes)):  # relax along forward edges (a DAG): at most |V| rounds
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


def render_svg(flow: Flow) -> str:
    layer = _layers(flow)
    rows: dict[int, list[str]] = {}
    for node_id in flow.nodes:
        rows.setdefault(layer[node_id], []).append(node_id)
    boxes: dict[str, _Box] = {}
    widest = max(len(r) for r in rows.values())
    width = MARGIN * 2 + widest * W + (widest - 1) * GX + 2 * SIDE
    parents: dict[str, list[str]] = {}
    for n in flow.nodes.values():
        for e in n.edges():
            parents.setdefault(e.target, []).append(n.id)
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
            boxes[node_id] = _Box(flow.nodes[node_id], depth, x0 + i * (W + GX), MARGIN + 40 + depth * (H + GY))
    height = MARGIN * 2 + 40 + (max(rows) + 1) * (H + GY)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="{escape(FONT)}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>',
        _text(width / 2, MARGIN + 4, f"{flow.title or flow.name}  来电流程", 20, "bold"),
    ]
    labels: dict[tuple[str, str], list[str]] = {}
    for n in flow.nodes.values():
        for e in n.edges():
            labels.setdefault((n.id, e.target), []).append(e.label)
    arcs = 0
    for (a, b), names in labels.items():
        src, dst = boxes[a], boxes[b]
        label = "/".join(x for x in names if x)
        if dst.layer > src.layer + 1 and _blocked(src, dst, boxes):  # an arc on the left, clear of the boxes
            arcs += 1
            x1, y1 = src.x, src.y + H / 2
            x2, y2 = dst.x, dst.y + H / 2
            bend = min(x1, x2) - 40 - 14 * (arcs % 4)
            d = f"M{x1:.1f},{y1:.1f} C{bend:.1f},{y1:.1f} {bend:.1f},{y2:.1f} {x2 - 2:.1f},{y2:.1f}"
            lx, ly = bend + 10, (y1 + y2) / 2
        elif dst.layer > src.layer:
            x1, y1 = src.x + W / 2, src.y + H
            x2, y2 = dst.x + W / 2, dst.y
            my = (y1 + y2) / 2
            d = f"M{x1:.1f},{y1:.1f} C{x1:.1f},{my:.1f} {x2:.1f},{my:.1f} {x2:.1f},{y2 - 2:.1f}"
            lx, ly = x1 + (x2 - x1) * 0.25, y1 + (y2 - y1) * 0.28
        else:  # an edge back up (or across): an arc on the right-hand side
            arcs += 1
            x1, y1 = src.x + W, src.y + H / 2
            x2, y2 = dst.x + W, dst.y + H / 2
            bend = max(x1, x2) + 40 + 14 * (arcs % 4)
            d = f"M{x1:.1f},{y1:.1f} C{bend:.1f},{y1:.1f} {bend:.1f},{y2:.1f} {x2 + 2:.1f},{y2:.1f}"
            lx, ly = bend - 10, (y1 + y2) / 2
        out.append(f'<path d="{d}" fill="none" stroke="#777" stroke-width="1.3" marker-end="url(#arrow)"/>')
        if label:
            wl = 12 * len(label) + 6
            out.append(
                f'<rect x="{lx - wl / 2:.1f}" y="{ly - 11:.1f}" width="{wl}" height="15" rx="3" fill="#fff" opacity="0.9"/>'
            )
            out.append(_text(lx, ly, label, 11, fill="#444"))
    for box in boxes.values():
        n = box.node
        rx = 18 if n.kind in TERMINALS else 4
        stroke = "#2f7d32" if n.id == flow.start else "#667"
        out.append(
            f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{W}" height="{H}" rx="{rx}" '
            f'fill="{FILL[n.kind]}" stroke="{stroke}" stroke-width="{2.2 if n.id == flow.start else 1.2}"/>'
        )
        out.append(_text(box.x + W / 2, box.y + 24, n.label or n.id, 15, "bold"))
        out.append(_text(box.x + W / 2, box.y + 44, _detail(n), 11, fill="#555"))
    out.append("</svg>")
    return "\n".join(out) + "\n"
