"""``validate PACKAGE [--json] [--rules FILE]``: run the active rule pack over an activity package."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import click

from orgcarbon.rules.calc_output import render_issues
from orgcarbon.rules.package import PackageError, read_package
from orgcarbon.rules.quality.definition_check import RuleDefinitionError
from orgcarbon.rules.quality.findings import Finding
from orgcarbon.rules.quality.pack import RulePack, default_pack, load_pack
from orgcarbon.rules.quality.pipeline import validate_package

__all__ = ["ValidateOutcome", "render_findings", "run_validate", "validate"]


@dataclass(frozen=True)
class ValidateOutcome:
    """What the command prints and how it exits."""

    exit_code: int
    stdout: str
    stderr: str
    findings: tuple[Finding, ...]


def _rows(finding: Finding) -> str:
    ids = finding.row_ids
    shown = "、".join(str(i) for i in ids[:8])
    return shown + (f" 等 {len(ids)} 行" if len(ids) > 8 else "")


def render_findings(findings: tuple[Finding, ...], pack: RulePack) -> str:
    """A readable Chinese table: rule, severity, rows, message; then a count per severity."""
    if not findings:
        return f"规则包“{pack.name}”（{len(pack.rules)} 条规则）：未发现问题。\n"
    header = ("规则", "级别", "行", "说明")
    lines = [(f.rule_id, f.severity_zh, _rows(f), f.message) for f in findings]
    width = [max(_width(x[i]) for x in [header, *lines]) for i in range(3)]
    out = []
    for line in [header, *lines]:
        cells = [_pad(line[i], width[i]) for i in range(3)]
        out.append("  ".join([*cells, line[3]]).rstrip())
    errors = sum(f.severity == "error" for f in findings)
    warnings = sum(f.severity == "warning" for f in findings)
    infos = len(findings) - errors - warnings
    out.append(f"共 {len(findings)} 条：错误 {errors}，警告 {warnings}，提示 {infos}")
    return "\n".join(out) + "\n"


def _width(text: str) -> int:
    # CJK characters take two columns in a terminal.
    return sum(2 if ord(c) > 0x2E80 else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def run_validate(
    path: str | Path, as_json: bool = False, rules: str | Path | None = None
) -> ValidateOutcome:
    """Everything ``validate`` does except printing."""
    try:
        pack = load_pack(rules) if rules is not None else default_pack()
    except RuleDefinitionError as exc:
        text = "规则定义无效：\n" + "\n".join(str(p) for p in exc.problems) + "\n"
        return ValidateOutcome(2, "", text, ())
    try:
        package = read_package(path)
    except PackageError as exc:
        stdout = ""
        if as_json:
            document = {"rejected": True, "issues": [i.as_dict() for i in exc.issues]}
            stdout = json.dumps(document, ensure_ascii=False, indent=1) + "\n"
        return ValidateOutcome(1, stdout, render_issues(exc.issues), ())
    report = validate_package(package, pack.rules)
    findings = tuple(report.findings)
    if as_json:
        document = {"pack": pack.name, "pack_version": pack.version, **report.as_dict()}
        text = json.dumps(document, ensure_ascii=False, indent=1) + "\n"
    else:
        text = render_findings(findings, pack)
    return ValidateOutcome(1 if report.has_errors else 0, text, "", findings)


@click.command(
    name="validate", help="用数据质量规则包检查活动数据包；有“错误”级别的问题时退出码为 1。"
)
@click.argument("package", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="输出 JSON 文档，而不是中文表格。")
@click.option(
    "--rules",
    "rules",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="规则包 JSON 文件（默认：钢铁行业默认规则包）。",
)
def validate(package: Path, as_json: bool, rules: Path | None) -> None:
    """Validate PACKAGE and print the findings."""
    outcome = run_validate(package, as_json, rules)
    if outcome.stdout:
        click.echo(outcome.stdout, nl=False)
    if outcome.stderr:
        click.echo(outcome.stderr, nl=False, err=True)
    if outcome.exit_code:
        click.get_current_context().exit(outcome.exit_code)


if __name__ == "__main__":
    validate()
