"""Graph checks of a parsed flow: targets, prompts, queues, reachability and loops."""

from __future__ import annotations

from collections.abc import Iterable

from ivr.core.errors import Issue
from ivr.core.flow import BRANCH_KEYS, Flow, Kind, Node
from ivr.core.locate import LineIndex


def _target_keys(node: Node) -> list[tuple[tuple[str, ...], str]]:
    """(key path inside the node, target) for every edge, to point errors at the right line."""
    out: list[tuple[tuple[str, ...], str]] = [(("choices", d), t) for d, t in node.choices]
    for key in ("next", "on_failure", "on_max_visits", "no_number"):
        value = getattr(node, key)
        if value:
            out.append(((key,), value))
    if node.on_timeout and node.on_timeout != node.on_failure:
        out.append((("on_timeout",), node.on_timeout))
    if node.kind in BRANCH_KEYS:
        yes_key, no_key = BRANCH_KEYS[node.kind]
        if node.yes:
            out.append(((yes_key,), node.yes))
        if node.no:
            out.append(((no_key,), node.no))
    return out


def strongly_connected(nodes: Iterable[str], succ: dict[str, list[str]]) -> list[list[str]]:
    """Kosaraju's algorithm, iterative so a long flow cannot exhaust the recursion limit."""
    order: list[str] = []
    seen: set[str] = set()
    for root in nodes:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(succ.get(root, [])))]
        while stack:
            node, it = stack[-1]
            for nxt in it:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, iter(succ.get(nxt, []))))
                    break
            else:
                stack.pop()
                order.append(node)
    pred: dict[str, list[str]] = {}
    for a, targets in succ.items():
        for b in targets:
            pred.setdefault(b, []).append(a)
    comps: list[list[str]] = []
    assigned: set[str] = set()
    for root in reversed(order):
        if root in assigned:
            continue
        comp, todo = [], [root]
        assigned.add(root)
        while todo:
            node = todo.pop()
            comp.append(node)
            for p in pred.get(node, []):
                if p not in assigned and p in seen:
                    assigned.add(p)
                    todo.append(p)
        comps.append(comp)
    return comps


def _is_cycle(comp: list[str], succ: dict[str, list[str]]) -> bool:
    return len(comp) > 1 or comp[0] in succ.get(comp[0], [])


def check_graph(flow: Flow, index: LineIndex, *, prompts: set[str] | None, queues: set[str] | None) -> list[Issue]:
    issues: list[Issue] = []
    src = flow.source

    def at(node: Node, *key: str) -> int:
        return index.line("nodes", node.id, *key)

    for node in flow.nodes.values():
        for key, target in _target_keys(node):
            if target not in flow.nodes:
                issues.append(
                    Issue(src, at(node, *key), f"node {node.id}: {'.'.join(key)} points to unknown node {target!r}")
                )
        if node.kind is Kind.CALLER_LIST and node.list_name and node.list_name not in flow.lists:
            issues.append(Issue(src, at(node, "list"), f"node {node.id}: no caller list [lists] {node.list_name!r}"))
        if queues is not None and node.queue and node.queue not in queues:
            known = ", ".join(sorted(queues)) or "none"
            issues.append(
                Issue(src, at(node, "queue"), f"node {node.id}: unknown queue {node.queue!r} (known: {known})")
            )
        if prompts is not None:
            named: list[tuple[str, tuple[str, ...]]] = [("prompt", node.prompt), ("thanks_prompt", node.thanks_prompt)]
            if node.collect is not None:
                named += [
                    ("invalid_prompt", node.collect.invalid_prompt),
                    ("timeout_prompt", node.collect.timeout_prompt),
                ]
            for pkey, names in named:
                for name in names:
                    if name not in prompts:
                        issues.append(Issue(src, at(node, pkey), f"node {node.id}: missing prompt {name!r}"))
    if prompts is not None:
        s = flow.survey
        for skey, names in (
            ("prompt", s.prompt),
            ("invalid_prompt", s.invalid_prompt),
            ("thanks_prompt", s.thanks_prompt),
        ):
            for name in names:
                if name not in prompts:
                    issues.append(Issue(src, index.line("survey", skey), f"survey: missing prompt {name!r}"))
    if issues or flow.start not in flow.nodes:
        return issues  # the graph checks below need every target to exist

    succ = {n.id: [e.target for e in n.edges()] for n in flow.nodes.values()}
    reachable: set[str] = set()
    todo = [flow.start]
    while todo:
        cur = todo.pop()
        if cur not in reachable:
            reachable.add(cur)
            todo.extend(succ[cur])
    for node in flow.nodes.values():
        if node.id not in reachable:
            issues.append(Issue(src, node.line, f"node {node.id}: unreachable from start node {flow.start!r}"))

    # loops without exit: nodes from which no terminal node can be reached
    pred: dict[str, list[str]] = {}
    for a, targets in succ.items():
        for b in targets:
            pred.setdefault(b, []).append(a)
    can_end = {n.id for n in flow.nodes.values() if n.terminal}
    todo = list(can_end)
    while todo:
        for p in pred.get(todo.pop(), []):
            if p not in can_end:
                can_end.add(p)
                todo.append(p)
    stuck = [n for n in flow.nodes if n in reachable and n not in can_end]
    stuck_succ = {n: [t for t in succ[n] if t in stuck] for n in stuck}
    for comp in strongly_connected(stuck, stuck_succ):
        members = set(comp)
        if _is_cycle(comp, stuck_succ) and all(t in members for n in comp for t in stuck_succ[n]):
            first = min((flow.nodes[n] for n in comp), key=lambda n: n.line)
            cycle = " → ".join(sorted(comp, key=lambda n: flow.nodes[n].line))
            issues.append(
                Issue(
                    src,
                    first.line,
                    f"loop without exit: {cycle}: no queue, transfer, message or hang-up can be reached",
                )
            )

    # a caller who presses nothing must not go round for ever: such a loop needs a counter
    quiet_succ = {
        n.id: [e.target for e in n.edges() if not e.needs_input] for n in flow.nodes.values() if n.id in reachable
    }
    for comp in strongly_connected(list(quiet_succ), quiet_succ):
        if _is_cycle(comp, quiet_succ) and not any(flow.nodes[n].max_visits for n in comp):
            first = min((flow.nodes[n] for n in comp), key=lambda n: n.line)
            cycle = " → ".join(sorted(comp, key=lambda n: flow.nodes[n].line))
            issues.append(
                Issue(
                    src, first.line, f"loop without caller input: {cycle}; bound it with max_visits and on_max_visits"
                )
            )
    return issues
