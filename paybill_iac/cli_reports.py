"""The reports of `paybill-iac preview` and `preview merge`: which format goes to which file (`--format` and
`--output`, in pairs), and writing them. Only click here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

FORMATS = ("table", "json", "markdown", "sarif")
EXTENSIONS = {".json": "json", ".md": "markdown", ".markdown": "markdown", ".sarif": "sarif", ".txt": "table"}


def report_targets(formats: tuple[str, ...], outputs: tuple[str, ...]) -> list[tuple[str, str | None]]:
    """(format, file or None for stdout) of each report to write; a file without --format gets the format of
    its extension."""
    from paybill_iac.errors import UsageError

    if not outputs:
        if len(formats) > 1:
            raise UsageError("several --format values need as many --output files (in the same order)")
        return [(formats[0] if formats else "table", None)]
    if not formats:
        return [(EXTENSIONS.get(Path(output).suffix.lower(), "table"), output) for output in outputs]
    if len(formats) != len(outputs):
        raise UsageError(f"{len(formats)} --format values but {len(outputs)} --output files: give them in pairs")
    return list(zip(formats, outputs, strict=True))


def write_reports(report: dict[str, Any], targets: list[tuple[str, str | None]],
                  text: Callable[[str, bool], str]) -> None:
    """Each target's `text(format, on_stdout)`, to stdout or its file; when none went to stdout, the report's
    one-line summary goes there."""
    to_stdout = False
    for fmt, output in targets:
        on_stdout = output is None or output == "-"
        written = text(fmt, on_stdout)
        if on_stdout:
            click.echo(written, nl=False)
            to_stdout = True
        else:
            target = Path(str(output))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(written, encoding="utf-8")
    if not to_stdout:
        from paybill_iac.preview.render import summary_line

        click.echo(summary_line(report))
