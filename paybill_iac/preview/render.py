"""The report's four renderings: table (people), json (machines, `policy check`), markdown (a pull
request comment) and sarif (code scanning)."""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from paybill_iac.model.words import plural

FORMATS = ("table", "json", "markdown", "sarif")
COMMENT_MARKER = "<!-- paybill-iac-preview -->"
MARKDOWN_BUDGET = 60_000  # GitHub refuses comments over 65,536 characters
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TABLE_DIFF_LINES = 25  # per stack, in the table
TABLE_WIDTH = 160  # when the report goes to a file (on a terminal: its width)
# Columns that wrap to fit, with the least width each keeps; the others never wrap (ids are never cut).
WRAPPING_COLUMNS = {"Resources by kind": 24, "Violations": 14, "Change": 10}
NARROWEST_WRAPPING = 6  # below their least width only when nothing else fits; past this the line is longer
# When even that does not fit, these columns are left out, in this order (the stack's id always stays).
DISPENSABLE_COLUMNS = ("Isolation", "State", "Plan", "Region", "Cloud", "Cell", "Change")


def render(report: dict[str, Any], fmt: str, width: int | None = None) -> str:
    """The report in `fmt`; `width`: the table's width in columns (TABLE_WIDTH by default)."""
    if fmt == "json":
        return to_json(report)
    if fmt == "markdown":
        return to_markdown(report)
    if fmt == "sarif":
        return to_sarif(report)
    return to_table(report, width)


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=False, default=str) + "\n"


# --- helpers -------------------------------------------------------------------------------------


def kind_of(type_token: str) -> str:
    """A resource's kind for counting: the provider module (s3, rds, storage, sql, ObjectStorage...)."""
    parts = type_token.split(":")
    if type_token.startswith("pulumi:providers:"):
        return "provider"
    if type_token == "pulumi:pulumi:StackReference":
        return "stack-reference"
    if parts[0] == "paybill":
        return "component"
    if len(parts) >= 2:
        return parts[1].split("/")[0] if parts[1].split("/")[0] != "index" else parts[0]
    return type_token


def kinds(stack: dict[str, Any]) -> Counter[str]:
    found: Counter[str] = Counter()
    for type_token, count in stack["counts"].items():
        found[kind_of(type_token)] += count
    return found


def resource_count(stack: dict[str, Any]) -> int:
    """The resources a stack registers. A shard's slim entry (paybill_iac.preview.shard) keeps only the
    resources its violations name, and says how many there were."""
    return int(stack.get("resource_count", len(stack["resources"])))


def kinds_text(stack: dict[str, Any]) -> str:
    found = kinds(stack)
    body = ", ".join(f"{kind} {count}" for kind, count in sorted(found.items()))
    return f"{resource_count(stack)}" + (f" ({body})" if body else "")


def label(stack: dict[str, Any]) -> str:
    return f"tenant {stack['tenant']}" if stack["tenant"] else f"cell {stack['stack']}"


def violation_counts(stack: dict[str, Any]) -> tuple[int, int]:
    levels = Counter(violation["level"] for violation in stack["violations"])
    return levels.get("mandatory", 0), levels.get("advisory", 0)


def resource_name(stack: dict[str, Any], urn: str) -> str:
    if not urn:
        return "the stack"
    for resource in stack["resources"]:
        if resource["urn"] == urn:
            return f"{resource['name']} ({resource['type']})"
    return urn.rsplit("::", 1)[-1]


def summary_line(report: dict[str, Any]) -> str:
    summary = report["summary"]
    violations = summary["violations"]
    text = (f"{plural(summary['tenants'], 'tenant')}, {plural(summary['cells'], 'cell')}, "
            f"{plural(summary['resources'], 'resource')}: {violations['mandatory']} mandatory, "
            f"{plural(violations['advisory'], 'advisory violation')}")
    if summary["failed"]:
        text += f"; {plural(len(summary['failed']), 'stack')} failed to run"
    if summary["skipped"]:
        text += f"; {summary['skipped']} skipped"
    if report.get("warnings"):
        text += f"; {plural(len(report['warnings']), 'warning')}"
    base = report.get("base")
    if base:
        resources = base["changes"]["resources"]
        changing = base["changes"]["stacks"]
        verb = "stack changes" if changing == 1 else "stacks change"
        text += (f"; against {base['ref']}: {changing} {verb} "
                 f"(+{resources['added']} -{resources['removed']} ~{resources['changed']} resources)")
    verdict = "FAIL" if summary["exit_code"] else "ok"
    return f"{verdict}: {text} [{summary['seconds']} s, {plural(summary['jobs'], 'job')}]"


def change_text(stack: dict[str, Any]) -> str:
    diff = stack.get("diff") or {}
    counts = f"+{len(diff.get('added', []))} -{len(diff.get('removed', []))} ~{len(diff.get('changed', []))}"
    return f"{stack.get('change', '')} {counts}"


# --- table -------------------------------------------------------------------------------------


def verdict_text(stack: dict[str, Any]) -> str:
    """A stack's verdict in one cell: a cell run only for its tenants' outputs (`--tenant`) is not judged."""
    if stack["error"]:
        return "FAILED"
    if stack.get("judged") is False:
        return "not judged (run for its tenants' outputs)"
    mandatory, advisory = violation_counts(stack)
    return f"{mandatory} mandatory, {advisory} advisory" if mandatory or advisory else "none"


def to_table(report: dict[str, Any], width: int | None = None) -> str:
    """The report for people, `width` columns wide (default TABLE_WIDTH): the resource counts and the
    verdicts wrap to fit; ids (stack, cell, plan), cloud, region, isolation and state never wrap."""
    from rich.console import Console
    from rich.table import Table

    buffer = io.StringIO()
    console = Console(file=buffer, width=width or TABLE_WIDTH, force_terminal=False, color_system=None,
                      highlight=False, soft_wrap=True)  # prose lines: the terminal wraps them
    summary = report["summary"]
    base = report.get("base")
    title = (f"paybill-iac preview of {summary['catalog']} (offline, Pulumi mock runtime; actor {summary['actor']})")
    if base:
        title += f", against {base['ref']}" + (f" ({base['commit'][:10]})" if base["commit"] else "")
    console.print(title)
    if base:
        console.print(base["note"])
        if base.get("base_error"):
            console.print(f"base: {base['base_error']}")
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    rows = []
    for stack in report["tenants"] + report["cells"]:
        row = [label(stack), stack["cloud"], stack["region"], stack["isolation"],
               (stack["cell"] or "-") if stack["tenant"] else "-", stack.get("plan") or "-",
               stack.get("state") or "-", kinds_text(stack), verdict_text(stack)]
        if base:
            row.append(change_text(stack))
        rows.append(row)
    headers = ["Stack", "Cloud", "Region", "Isolation", "Cell", "Plan", "State", "Resources by kind", "Violations"]
    if base:
        headers.append("Change")
    kept = fitting_columns(headers, rows, console.width)
    widths = column_widths(headers, rows, kept, console.width)
    for position in kept:
        header = headers[position]
        if header in WRAPPING_COLUMNS:
            table.add_column(header, overflow="fold", width=widths[position])
        else:  # never cut: as wide as its widest value
            table.add_column(header, no_wrap=True, width=widths[position])
    for row in rows:
        table.add_row(*(row[position] for position in kept))
    left_out = [header for position, header in enumerate(headers) if position not in kept]
    if report["tenants"] or report["cells"]:  # wider than the terminal only when an id alone is
        console.print(table, width=max(console.width, sum(widths.values()) + 2 * (len(kept) - 1)))
        if left_out:
            console.print(f"(left out to fit {console.width} columns: {', '.join(left_out)}; "
                          "--format json has everything)")
    problems = [(stack, violation) for stack in report["tenants"] + report["cells"]
                for violation in stack["violations"]]
    if problems:
        console.print("\nViolations:")
        for stack, violation in problems:
            mark = "x" if violation["level"] == "mandatory" else "!"
            console.print(f"  {mark} {label(stack)}: {violation['level']} {violation['pack']}/{violation['policy']} "
                          f"on {resource_name(stack, violation['urn'])}: {violation['message']}")
    if report.get("warnings"):
        console.print("\nWarnings (the cloud provisions a size other than the catalog asks):")
        for warning in report["warnings"]:
            console.print(f"  ! {warning_text(warning)}")
    failures = [stack for stack in report["tenants"] + report["cells"] if stack["error"]]
    if failures:
        console.print("\nFailed to run:")
        for stack in failures:
            console.print(f"  {label(stack)}: {stack['error']}")
    if base:
        changed = [stack for stack in report["tenants"] + report["cells"] if stack.get("change") != "unchanged"]
        if changed:
            console.print("\nChanges (offline diff):")
        for stack in changed:
            console.print(f"  {label(stack)}: {stack['change']} ({'; '.join(stack['reasons'])})")
            lines = diff_lines(stack, bool(base.get("properties")))
            for line in lines[:TABLE_DIFF_LINES]:
                console.print(f"    {line}")
            if len(lines) > TABLE_DIFF_LINES:
                console.print(f"    ... and {len(lines) - TABLE_DIFF_LINES} more (see --format json)")
    for item in report["skipped"]:
        console.print(f"skipped tenant {item['tenant']}: {item['reason']}")
    console.print("\n" + summary_line(report))
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())


def warning_text(warning: dict[str, str]) -> str:
    return f"{warning['kind']} {warning['id']}, {warning['field']}: {warning['message']} ({warning['file']})"


def _widest(headers: list[str], rows: list[list[str]], position: int) -> int:
    return max([len(headers[position])] + [len(row[position]) for row in rows])


def fitting_columns(headers: list[str], rows: list[list[str]], width: int) -> list[int]:
    """The positions of the columns that fit `width`: the wrapping columns at their least width, the others
    at their widest value, two spaces between; dispensable columns are left out until they fit."""
    kept = list(range(len(headers)))

    def needed() -> int:
        return sum(WRAPPING_COLUMNS.get(headers[position]) or _widest(headers, rows, position)
                   for position in kept) + 2 * (len(kept) - 1)

    for header in DISPENSABLE_COLUMNS:
        if needed() <= width:
            break
        if header in headers:
            kept.remove(headers.index(header))
    return kept


def column_widths(headers: list[str], rows: list[list[str]], kept: list[int], width: int) -> dict[int, int]:
    """Each kept column's width: the others as wide as their widest value; the wrapping ones share what is left
    (each at least its least width, none wider than its widest value), a character at a time."""
    widths = {position: _widest(headers, rows, position) for position in kept}
    wrapping = [position for position in kept if headers[position] in WRAPPING_COLUMNS]
    for position in wrapping:
        widths[position] = min(widths[position], WRAPPING_COLUMNS[headers[position]])
    left = width - sum(widths.values()) - 2 * (len(kept) - 1)
    for position in wrapping:  # too narrow even so: the wrapping columns give way, down to a few characters
        give = min(max(0, -left), widths[position] - NARROWEST_WRAPPING)
        if give > 0:
            widths[position] -= give
            left += give
    growing = [position for position in wrapping if widths[position] < _widest(headers, rows, position)]
    while left > 0 and growing:
        for position in list(growing):
            if left == 0:
                break
            widths[position] += 1
            left -= 1
            if widths[position] >= _widest(headers, rows, position):
                growing.remove(position)
    return widths


def diff_lines(stack: dict[str, Any], properties: bool = False) -> list[str]:
    """The stack's diff, one line per resource; with `properties` (`--diff`), a line per changed input under each
    changed resource: `key: old -> new`."""
    diff = stack.get("diff") or {}
    lines = [f"+ {item['name']} ({item['type']})" for item in diff.get("added", [])]
    lines += [f"- {item['name']} ({item['type']})" for item in diff.get("removed", [])]
    for item in diff.get("changed", []):
        lines.append(f"~ {item['name']} ({item['type']}): {', '.join(item['keys'])}")
        if properties:
            lines += [f"    {change['key']}: {_value(change, 'old')} -> {_value(change, 'new')}"
                      for change in item.get("changes", [])]
    return lines


DIFF_VALUE_WIDTH = 80  # a value longer than this is cut in the table and markdown (the JSON has it whole)


def _value(change: dict[str, Any], side: str) -> str:
    if side not in change:
        return "(none)"
    text = json.dumps(change[side], sort_keys=True, default=str)
    return text if len(text) <= DIFF_VALUE_WIDTH else text[:DIFF_VALUE_WIDTH - 3] + "..."


# --- markdown ----------------------------------------------------------------------------------


def _md(text: Any) -> str:
    """Text safe inside a markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ").replace("<", "&lt;").replace(">", "&gt;")


def to_markdown(report: dict[str, Any]) -> str:
    summary = report["summary"]
    base = report.get("base")
    stacks = report["tenants"] + report["cells"]
    failed = summary["exit_code"] != 0
    violations = summary["violations"]
    head = [COMMENT_MARKER]
    icon = ":x:" if failed else ":white_check_mark:"
    head.append(f"### {icon} paybill-iac preview: {violations['mandatory']} mandatory, "
                f"{plural(violations['advisory'], 'advisory violation')}")
    scope = (f"{plural(summary['tenants'], 'tenant')} and {plural(summary['cells'], 'cell')}, "
             f"{plural(summary['resources'], 'resource')}")
    if base:
        resources = base["changes"]["resources"]
        commit = f" (`{base['commit'][:10]}`)" if base["commit"] else ""
        head.append(f"Compared with `{_md(base['ref'])}`{commit}: {plural(base['affected']['tenants'], 'tenant')} "
                    f"and {plural(base['affected']['cells'], 'cell')} affected, "
                    f"{plural(base['changes']['stacks'], 'change')} "
                    f"(**+{resources['added']}** added, **-{resources['removed']}** removed, "
                    f"**~{resources['changed']}** with changed inputs); previewed {scope}.")
        head.append("")
        head.append(f"> {base['note']}")
        if base.get("base_error"):
            head.append(f">\n> Base: {_md(base['base_error'])}")
    else:
        head.append(f"Previewed {scope} of `{_md(summary['catalog'])}` offline under the Pulumi mock runtime "
                    f"(no cloud credentials), as actor `{_md(summary['actor'])}`.")
    if report.get("warnings"):
        head.append("")
        head.append("**Warnings** (the cloud provisions a size other than the catalog asks):")
        head.extend(f"- {_md(warning_text(warning))}" for warning in report["warnings"][:20])
    if summary["failed"]:
        head.append("")
        head.append(f"**{plural(len(summary['failed']), 'stack')} failed to run:** "
                    + ", ".join(f"`{_md(name)}`" for name in summary["failed"]))
    # Which stacks get a section: with --base only what changed (or has something to say).
    if base:
        shown = [stack for stack in stacks
                 if stack.get("change") != "unchanged" or stack["violations"] or stack["error"]]
    else:
        shown = list(stacks)
    # The summary table: stacks with something to look at first.
    shown.sort(key=lambda stack: (-violation_counts(stack)[0], not stack["error"], -violation_counts(stack)[1],
                                  stack["tenant"] is None, stack["stack"]))
    if shown:
        head.append("")
        columns = ["Stack", "Cloud", "Isolation", "Cell", "Resources", "Mandatory", "Advisory"]
        if base:
            columns.append("Change")
        head.append("| " + " | ".join(columns) + " |")
        head.append("|" + "---|" * len(columns))
    body: list[str] = []
    details: list[str] = []
    size = sum(len(line) + 1 for line in head)
    omitted = 0
    for stack in shown:
        mandatory, advisory = violation_counts(stack)
        unjudged = stack.get("judged") is False  # a cell run only for its tenants' outputs (--tenant)
        cells = [f"{':x: ' if mandatory or stack['error'] else ''}{_md(label(stack))}", stack["cloud"],
                 stack["isolation"], _md((stack["cell"] or "-") if stack["tenant"] else "-"),
                 str(resource_count(stack)),
                 "failed" if stack["error"] else "not judged" if unjudged else str(mandatory),
                 "-" if unjudged else str(advisory)]
        if base:
            cells.append(_md(change_text(stack)))
        row = "| " + " | ".join(cells) + " |"
        # the row alone past the budget: its section is not built (most of 10,000 stacks' merge went there)
        section = "" if size + len(row) + 400 > MARKDOWN_BUDGET else _details(stack, base is not None,
                                                                             bool(base and base.get("properties")))
        if size + len(row) + len(section) + 400 > MARKDOWN_BUDGET:
            omitted += 1
            continue
        size += len(row) + len(section) + 2
        body.append(row)
        details.append(section)
    lines = head + body
    if omitted:
        lines.append("")
        lines.append(f"_{plural(omitted, 'more stack', 'more stacks')} not shown (comment size limit): "
                     "see the JSON report._")
    if details:
        lines.append("")
        lines.extend(details)
    if report["skipped"]:
        lines.append("")
        lines.append("Skipped: " + ", ".join(f"`{_md(item['tenant'])}` ({_md(item['reason'])})"
                                             for item in report["skipped"][:50]))
    lines.append("")
    lines.append(f"<sub>{_md(summary_line(report))}</sub>")
    return "\n".join(lines) + "\n"


def _details(stack: dict[str, Any], with_diff: bool, properties: bool = False) -> str:
    mandatory, advisory = violation_counts(stack)
    where = f"{stack['cloud']} {stack['region']}, {stack['isolation']}"
    if stack["tenant"] and stack["cell"]:
        where += f" on {stack['cell']}"
    status = "failed to run" if stack["error"] else "not judged: run for its tenants' outputs" if stack.get(
        "judged") is False else (f"{mandatory} mandatory, {advisory} advisory" if mandatory or advisory
                                 else "no violations")
    change = f", {stack['change']}" if with_diff else ""
    out = [f"<details><summary><b>{_md(label(stack))}</b>: {_md(where)}: {resource_count(stack)} resources, "
           f"{status}{change}</summary>", ""]
    if with_diff and stack.get("reasons"):
        out.append("Why: " + _md("; ".join(stack["reasons"])))
        out.append("")
    if stack["error"]:
        out.append(f"**Error:** {_md(stack['error'])}")
        out.append("")
    if stack["violations"]:
        out.append("| Level | Pack | Policy | Resource | Message |")
        out.append("|---|---|---|---|---|")
        for violation in stack["violations"]:
            out.append(f"| {violation['level']} | {violation['pack']} | `{violation['policy']}` | "
                       f"{_md(resource_name(stack, violation['urn']))} | {_md(violation['message'])} |")
        out.append("")
    if with_diff:
        lines = diff_lines(stack, properties)
        if lines:
            out.append("```diff")
            out.extend(lines)
            out.append("```")
            out.append("")
    else:
        found = kinds(stack)
        if found:
            out.append("| Kind | Count |")
            out.append("|---|---|")
            out.extend(f"| {_md(kind)} | {count} |" for kind, count in sorted(found.items()))
            out.append("")
    out.append("</details>")
    out.append("")
    return "\n".join(out)


# --- sarif -------------------------------------------------------------------------------------


def _uri(file: str) -> tuple[str, str | None]:
    """(uri, uriBaseId): relative to the working directory when the file is under it."""
    path = Path(file)
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix(), "%SRCROOT%"
    except ValueError:
        return path.resolve().as_uri(), None


_LINE_CACHE: dict[tuple[str, str], int] = {}


def id_line(file: str, ident: str) -> int:
    """The line of `id: <ident>` in a catalog file (1 when not found)."""
    key = (file, ident)
    if key not in _LINE_CACHE:
        line = 1
        pattern = re.compile(r"(^|[\s{,-])id:\s*[\"']?" + re.escape(ident) + r"[\"']?\s*($|[,}#])")
        try:
            for number, text in enumerate(Path(file).read_text(encoding="utf-8").splitlines(), start=1):
                if pattern.search(text):
                    line = number
                    break
        except OSError:
            pass
        _LINE_CACHE[key] = line
    return _LINE_CACHE[key]


SEVERITY_SCORE = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}


def to_sarif(report: dict[str, Any]) -> str:
    from paybill_iac.preview.policies import RuleInfo, rules

    known = rules()
    used = {violation["policy"]: violation for stack in report["tenants"] + report["cells"]
            for violation in stack["violations"]}
    for policy, violation in used.items():
        if policy not in known:
            known[policy] = RuleInfo(policy, violation["pack"], policy, "", violation["level"])
    rule_ids = sorted(known)
    index = {rule_id: position for position, rule_id in enumerate(rule_ids)}
    driver_rules = []
    for rule_id in rule_ids:
        rule = known[rule_id]
        entry: dict[str, Any] = {
            "id": rule.id,
            "name": "".join(part.capitalize() for part in rule.id.split("-")),
            "shortDescription": {"text": rule.description or rule.id},
            "fullDescription": {"text": rule.description or rule.id},
            "help": {"text": rule.remediation or rule.description or rule.id,
                     "markdown": rule.remediation or rule.description or rule.id},
            "defaultConfiguration": {"level": "error" if rule.level == "mandatory" else "warning"},
            "properties": {"pack": rule.pack, "tags": [tag for tag in (rule.pack, rule.cloud) if tag]},
        }
        if rule.severity in SEVERITY_SCORE:
            entry["properties"]["security-severity"] = SEVERITY_SCORE[rule.severity]
        driver_rules.append(entry)
    results = []
    for stack in report["tenants"] + report["cells"]:
        if not stack["violations"]:
            continue  # no result: its file is not read (10,000 clean tenants' files took most of a merge)
        uri, base_id = _uri(stack["file"])
        line = id_line(stack["file"], stack["stack"])
        for violation in stack["violations"]:
            location: dict[str, Any] = {"physicalLocation": {"artifactLocation": {"uri": uri},
                                                             "region": {"startLine": line}}}
            if base_id:
                location["physicalLocation"]["artifactLocation"]["uriBaseId"] = base_id
            if violation["urn"]:
                location["logicalLocations"] = [{"fullyQualifiedName": violation["urn"], "kind": "resource"}]
            fingerprint = hashlib.sha256("|".join(
                (violation["policy"], stack["project"], stack["stack"], violation["urn"].split("::", 2)[-1],
                 violation["message"])).encode()).hexdigest()
            results.append({
                "ruleId": violation["policy"],
                "ruleIndex": index[violation["policy"]],
                "level": "error" if violation["level"] == "mandatory" else "warning",
                "message": {"text": f"{label(stack)}: {violation['message']} "
                                    f"[{resource_name(stack, violation['urn'])}; pack {violation['pack']}]"},
                "locations": [location],
                "partialFingerprints": {"paybillViolation/v1": fingerprint},
                "properties": {"stack": stack["stack"], "project": stack["project"], "urn": violation["urn"],
                               "pack": violation["pack"]},
            })
    try:
        from importlib.metadata import version

        tool_version = version("paybill-iac")
    except Exception:  # noqa: BLE001 - metadata missing in a source checkout
        tool_version = "0"
    document = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "paybill-iac", "fullName": "paybill-iac preview (CrossGuard policy packs)",
                                "version": tool_version, "semanticVersion": tool_version,
                                "informationUri": "https://www.pulumi.com/docs/using-pulumi/crossguard/",
                                "rules": driver_rules}},
            "automationDetails": {"id": "paybill-iac-preview/"},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().resolve().as_uri() + "/"}},
            "results": results,
            "invocations": [{"executionSuccessful": not report["summary"]["failed"],
                             "exitCode": report["summary"]["exit_code"]}],
        }],
    }
    return json.dumps(document, indent=2) + "\n"
