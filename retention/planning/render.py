"""Plans for people: a terminal diff and a pull-request comment. Pure: Plan in, text out.

Both put what can stop an apply (blocked policies) and what a reviewer must notice (overlaps,
namespaces no policy covers) before the details, and state the same totals (the text diff on its
last line, the comment in its heading).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from itertools import groupby
from typing import Any

from retention.planning.operations import window_words
from retention.planning.plan import Action, Guard, Plan, format_time, to_document

RED, GREEN, YELLOW, DIM, BOLD, RESET = (
    "\033[31m",
    "\033[32m",
    "\033[33m",
    "\033[2m",
    "\033[1m",
    "\033[0m",
)


def render_json(plan: Plan) -> str:
    """The plan file: `plan_json` of the plan's document."""
    return plan_json(to_document(plan))


def plan_json(document: Mapping[str, Any]) -> str:
    """A plan document as JSON text: its top level indented, each element of a list there
    (an action, a policy, an overlap) on one line of its own.

    A line per action keeps a plan of 20,000 actions greppable and its diffs to one line an
    action, and it is what the standard library's C encoder writes: `indent` would send the
    whole document through the pure-Python encoder, most of a second per 10,000 actions.
    """
    lines = ["{"]
    last = len(document) - 1
    for n, (key, value) in enumerate(document.items()):
        comma = "," if n < last else ""
        head = f"  {json.dumps(key)}: "
        if isinstance(value, list) and value:
            items = ",\n".join("    " + json.dumps(item, separators=_SEPARATORS) for item in value)
            lines.append(f"{head}[\n{items}\n  ]{comma}")
        else:
            text = json.dumps(value, indent=2).replace("\n", "\n  ")
            lines.append(f"{head}{text}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


_SEPARATORS = (", ", ": ")


def totals_line(plan: Plan) -> str:
    t = plan.totals
    if not t.records:
        return "Plan: nothing to delete."
    return (
        f"Plan: {t.records:,} records to delete in {t.namespaces:,} "
        f"namespace{_s(t.namespaces)} of {t.indexes:,} index{'es' if t.indexes != 1 else ''} "
        f"({t.requests:,} request{_s(t.requests)}, about {_duration(t.seconds)} at "
        f"Pinecone's rate limits)."
    )


def render_text(plan: Plan, *, color: bool = False) -> str:
    """The plan as a diff: one `-` line per action that deletes, grouped by index and namespace."""

    def paint(code: str, text: str) -> str:
        return f"{code}{text}{RESET}" if color else text

    status = {p.name: p.status for p in plan.policies}
    out = [
        paint(BOLD, f"retention plan as of {format_time(plan.as_of)}")
        + paint(
            DIM,
            f"  (policies {_short(plan.sources.digest)}"
            + (f", git {plan.sources.git_revision[:12]}" if plan.sources.git_revision else "")
            + ")",
        ),
        "",
    ]
    out.extend(paint(YELLOW, f"! {w}") for w in _notices(plan))
    if out[-1] != "":
        out.append("")
    for index, actions in _by_index(plan.actions):
        out.append(
            paint(BOLD, f"index {index}") + paint(DIM, f"  {plan.index_hosts.get(index, '')}")
        )
        for namespace, group in groupby(actions, key=lambda a: a.namespace):
            items = list(group)
            out.append(
                f"  namespace {namespace}"
                + paint(DIM, f"  ({items[0].namespace_records:,} records)")
            )
            for a in items:
                state = status.get(a.policy, "ready")
                label = f"{a.policy}/{a.rule}"
                if not a.records:
                    out.append(paint(DIM, f"    {label}: nothing to delete"))
                    continue
                head = f"{label}  {a.kind}  {a.records:,} record{_s(a.records)}"
                if state == "ready":
                    out.append(paint(RED, f"-   {head}"))
                else:
                    out.append(paint(YELLOW, f"#   {head}  (not applied: policy {state})"))
                out.append(f"      {a.condition}")
                for note in a.notes:
                    out.append(paint(DIM, f"      note: {note}"))
                if a.samples:
                    out.append(paint(DIM, f"      e.g. {', '.join(a.samples)}"))
        out.append("")
    overdue = overdue_line(plan)
    if overdue:
        out.append(overdue)
    out.append(paint(BOLD, totals_line(plan)))
    return "\n".join(out) + "\n"


def overdue_line(plan: Plan) -> str | None:
    """`Overdue: 1,234 records past their TTL (tickets 1,200, scratch 34).`, when any are."""
    late = [p for p in plan.policies if p.overdue]
    if not late:
        return None
    total = sum(p.overdue for p in late)
    each = ", ".join(f"{p.name} {p.overdue:,}" for p in late)
    return f"Overdue: {total:,} record{_s(total)} past their TTL ({each})."


def render_markdown(plan: Plan) -> str:
    """The plan as a pull-request comment: warnings, a summary table, details per namespace."""
    t = plan.totals
    out = [f"### retention plan: {totals_line(plan).removeprefix('Plan: ')}", ""]
    notices = list(_notices(plan))
    if notices:
        out += ["> [!WARNING]"] + [f"> - {_md(n)}" for n in notices] + [""]
    out += [
        "| policy | status | records | overdue | guards |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    for p in plan.policies:
        guards = ", ".join(_guard(g) for g in p.guards)
        state: str = "**BLOCKED**" if p.status == "blocked" else p.status
        if p.window is not None and not p.window.open:
            state += ", outside window"
        out.append(f"| `{p.name}` | {state} | {p.records:,} | {p.overdue:,} | {guards or '-'} |")
    out.append("")
    for index, actions in _by_index(plan.actions):
        for namespace, group in groupby(actions, key=lambda a: a.namespace):
            items = list(group)
            deleting = sum(1 for a in items if a.records)
            out += [
                "<details>",
                f"<summary><code>{index}</code> / <code>{namespace}</code> "
                f"({items[0].namespace_records:,} records): {deleting} of {len(items)} "
                f"action{_s(len(items))} deleting</summary>",
                "",
                "| action | kind | records | condition |",
                "| --- | --- | ---: | --- |",
            ]
            for a in items:
                out.append(
                    f"| `{a.policy}/{a.rule}` | {a.kind} | {a.records:,} | {_md(a.condition)} |"
                )
            samples = [
                f"`{a.rule}`: " + ", ".join(f"`{s}`" for s in a.samples) for a in items if a.samples
            ]
            if samples:
                out += ["", "Samples: " + "; ".join(samples)]
            out += ["", "</details>", ""]
    out.append(
        f"<sub>as of {format_time(plan.as_of)} · {t.actions:,} action{_s(t.actions)} · "
        f"policies {_short(plan.sources.digest)} · plan {_short(plan.fingerprint)}</sub>"
    )
    return "\n".join(out) + "\n"


def _guard(g: Guard) -> str:
    unit = "%" if g.name == "maxPercent" else ""
    scope = [n for n in (g.namespace, "default" if g.default else None) if n]
    where = f" ({', '.join(scope)})" if scope else ""
    return f"{'✅' if g.ok else '❌'} {g.name} {_num(g.value)}{unit} ≤ {_num(g.limit)}{unit}{where}"


def _notices(plan: Plan) -> Iterable[str]:
    for p in plan.policies:
        if p.status == "blocked":
            yield f"policy '{p.name}' is BLOCKED and will not be applied: {p.reason}"
        elif p.status == "suspended":
            yield f"policy '{p.name}' is suspended (spec.suspend): planned, nothing deleted"
        if p.window is not None and not p.window.open and p.status == "ready":
            yield (
                f"policy '{p.name}' is {window_words(p.window)} ({p.window.text}): apply "
                "refuses it until then unless --ignore-windows"
            )
    yield from plan.warnings
    for o in plan.overlaps:
        yield (
            f"{o.records:,} record{_s(o.records)} in {o.index}/{o.namespace} selected by both "
            f"{_rule_of(o.actions[0])} and {_rule_of(o.actions[1])} (counted once)"
        )
    for index, namespace in plan.unmatched_namespaces:
        yield f"namespace '{namespace}' of index '{index}' matches no policy and is left alone"


def _by_index(actions: Sequence[Action]) -> Iterable[tuple[str, list[Action]]]:
    ordered = sorted(actions, key=lambda a: (a.index, a.namespace, a.policy, a.rule))
    for index, group in groupby(ordered, key=lambda a: a.index):
        yield index, list(group)


def _rule_of(action_id: str) -> str:
    """`policy/rule` of an action id `policy/rule/index/namespace`."""
    return "/".join(action_id.split("/", 2)[:2])


def _duration(seconds: float) -> str:
    if seconds < 1:
        return "1s" if seconds > 0 else "0s"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def _short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]


def _num(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:g}"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _s(n: int) -> str:
    return "" if n == 1 else "s"
