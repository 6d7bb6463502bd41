"""``calc PACKAGE [--json]``: account an activity package with the same engine as the platform."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import click

from orgcarbon.rules.accounting import AccountingError, compute
from orgcarbon.rules.calc_output import render_issues, render_text, result_document
from orgcarbon.rules.factor_pack import default_library
from orgcarbon.rules.factors import FactorLibrary
from orgcarbon.rules.issues import Issue
from orgcarbon.rules.model import AccountingModel, default_model
from orgcarbon.rules.package import Package, PackageError, read_package
from orgcarbon.rules.results import Result

__all__ = ["CalcOutcome", "calc", "calculate_package", "run_calc"]


@dataclass(frozen=True)
class CalcOutcome:
    """What the command prints and how it exits; the result is None when rejected."""

    exit_code: int
    stdout: str
    stderr: str
    result: Result | None
    issues: tuple[Issue, ...]


def calculate_package(
    path: str | Path,
    library: FactorLibrary | None = None,
    model: AccountingModel | None = None,
) -> tuple[Package, Result]:
    """Read, validate and account a package; raise ``PackageError``/``AccountingError`` if rejected."""
    library = library or default_library()
    package = read_package(path, library)
    result = compute(model or default_model(), package.records(), library, package.context())
    return package, result


def run_calc(
    path: str | Path,
    as_json: bool = False,
    library: FactorLibrary | None = None,
    model: AccountingModel | None = None,
) -> CalcOutcome:
    """Everything ``calc`` does except printing: the text to show and the exit code."""
    try:
        package, result = calculate_package(path, library, model)
    except (PackageError, AccountingError) as exc:
        stdout = ""
        if as_json:
            document = {"rejected": True, "issues": [i.as_dict() for i in exc.issues]}
            stdout = json.dumps(document, ensure_ascii=False, indent=1) + "\n"
        return CalcOutcome(1, stdout, render_issues(exc.issues), None, exc.issues)
    if as_json:
        text = json.dumps(result_document(package, result), ensure_ascii=False, indent=1) + "\n"
    else:
        text = render_text(package, result)
    return CalcOutcome(0, text, "", result, ())


@click.command(name="calc", help="按活动数据包（orgcarbon-activity/1，.json 或 .xlsx）核算排放量。")
@click.argument("package", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="输出 JSON 文档，而不是中文表格。")
def calc(package: Path, as_json: bool) -> None:
    """Account PACKAGE and print a Chinese table, or the JSON document with ``--json``."""
    outcome = run_calc(package, as_json)
    if outcome.stdout:
        click.echo(outcome.stdout, nl=False)
    if outcome.stderr:
        click.echo(outcome.stderr, nl=False, err=True)
    if outcome.exit_code:
        click.get_current_context().exit(outcome.exit_code)


if __name__ == "__main__":
    calc()
