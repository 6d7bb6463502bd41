"""A watched folder: CSV, Excel and log files are picked up once, then moved to done/ or failed/.

"Once" is decided by content: the SM3 digest of each imported file is kept in a ledger, so the
same file dropped again (renamed or not) is set aside as a duplicate instead of imported twice.
Files stay in the inbox until the sink accepted their rows (``commit``); a killed run sees them
again with the same record keys (digest + row number).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import time
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from orgcarbon.connectors.base import (
    ConnectionStatus,
    Connector,
    FetchResult,
    Record,
    Watermark,
    new_batch_id,
    utc_now,
)
from orgcarbon.connectors.registry import ConfigError, ConnectorType, register_connector_type
from orgcarbon.security.crypto import sm3_hex

__all__ = ["FolderConfig", "FolderConnector", "parse_file"]

LEDGER = ".imported.json"


@dataclass(frozen=True)
class FolderConfig:
    """Settings of one watched folder."""

    folder: str = field(metadata={"label": "监控目录"})
    patterns: tuple[str, ...] = field(
        default=("*.csv", "*.xlsx", "*.log"), metadata={"label": "文件名模式"}
    )
    log_pattern: str = field(default="", metadata={"label": "日志行正则（命名分组）"})
    encoding: str = field(default="utf-8-sig", metadata={"label": "文本编码"})
    max_files: int = field(default=100, metadata={"label": "每次最多文件数"})

    def check(self) -> None:
        """Cross-field rules; raises ``ConfigError`` naming the field."""
        if self.log_pattern:
            try:
                compiled = re.compile(self.log_pattern)
            except re.error as exc:
                raise ConfigError(
                    "log_pattern（日志行正则（命名分组））", f"正则表达式无效：{exc}"
                ) from None
            if not compiled.groupindex:
                raise ConfigError(
                    "log_pattern（日志行正则（命名分组））",
                    "至少需要一个命名分组，如 (?P<qty>[0-9.]+)",
                )
        if not 1 <= self.max_files <= 10000:
            raise ConfigError("max_files（每次最多文件数）", "应在 1 到 10000 之间")


def parse_file(name: str, content: bytes, config: FolderConfig) -> list[dict[str, Any]]:
    """Rows of one file as dicts (header row → field names); raises ``ValueError`` in Chinese."""
    lower = name.lower()
    if lower.endswith((".xlsx", ".xlsm")):
        from openpyxl import load_workbook  # imported here: only Excel drops pay for it

        try:
            book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001  # openpyxl raises many types for a bad file
            raise ValueError(f"Excel 文件无法读取：{exc}") from None
        try:
            rows = list(book.worksheets[0].iter_rows(values_only=True))
        finally:
            book.close()
        if not rows:
            return []
        header = [str(h).strip() if h is not None else f"列{i + 1}" for i, h in enumerate(rows[0])]
        return [
            dict(zip(header, row, strict=False))
            for row in rows[1:]
            if any(v is not None for v in row)
        ]
    try:
        text = content.decode(config.encoding)
    except UnicodeDecodeError:
        raise ValueError(f"文件不是 {config.encoding} 编码的文本") from None
    if lower.endswith(".csv"):
        return [dict(row) for row in csv.DictReader(io.StringIO(text))]
    pattern = re.compile(config.log_pattern) if config.log_pattern else None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = pattern.search(line) if pattern else None
        rows.append({"line_no": number, "line": line, **(match.groupdict() if match else {})})
    return rows


class FolderConnector(Connector):
    """Reads the files waiting in ``folder``; ``commit`` moves them to ``done/`` with a result file."""

    type_name = "files"

    def __init__(self, connector_id: str, config: FolderConfig) -> None:
        super().__init__(connector_id)
        self.config = config
        self.folder = Path(config.folder)
        self._pending: dict[str, tuple[Path, int]] = {}

    def check(self) -> ConnectionStatus:
        """The folder exists and is writable (files must be moved out of it)."""
        if not self.folder.is_dir():
            return ConnectionStatus(False, f"目录不存在：{self.folder}")
        if not os.access(self.folder, os.W_OK):
            return ConnectionStatus(False, f"目录不可写：{self.folder}")
        return ConnectionStatus(True, "目录可用", details={"waiting": len(self._waiting())})

    def _waiting(self) -> list[Path]:
        files = [
            p
            for p in sorted(self.folder.iterdir())
            if p.is_file()
            and not p.name.startswith(".")
            and any(fnmatch(p.name, pat) for pat in self.config.patterns)
        ]
        return files[: self.config.max_files]

    def _ledger(self) -> dict[str, str]:
        path = self.folder / LEDGER
        return json.loads(path.read_text("utf-8")) if path.exists() else {}

    def fetch(self, since: Watermark | None) -> FetchResult:
        """Records of every new waiting file; duplicates and unreadable files are moved aside now."""
        ledger, batch_id, received_at = self._ledger(), new_batch_id(), utc_now()
        records: list[Record] = []
        self._pending = {}
        waiting = self._waiting()
        for path in waiting:
            content = path.read_bytes()
            digest = sm3_hex(content)
            if digest in ledger or digest in self._pending:
                self._move(
                    path,
                    "done",
                    {
                        "status": "duplicate",
                        "sm3": digest,
                        "first_imported_as": ledger.get(digest, ""),
                    },
                )
                continue
            try:
                rows = parse_file(path.name, content, self.config)
            except ValueError as exc:
                self._move(path, "failed", {"status": "failed", "sm3": digest, "error": str(exc)})
                continue
            self._pending[digest] = (path, len(rows))
            for number, row in enumerate(rows, start=1):
                records.append(
                    Record(
                        key=f"{digest}:{number}",
                        payload=row,
                        provenance=self.provenance(batch_id, f"{path.name}#{number}", received_at),
                        tags=(),
                    )
                )
        complete = len(waiting) < self.config.max_files
        value = f"{len(ledger) + len(self._pending)}"
        return FetchResult(records, Watermark(value, frozenset(self._pending)), batch_id, complete)

    def commit(self, watermark: Watermark | None) -> None:
        """Record the digests in the ledger first, then move the files: a crash between repeats nothing."""
        if not self._pending:
            return
        ledger = self._ledger()
        for digest, (path, _) in self._pending.items():
            ledger[digest] = path.name
        tmp = self.folder / (LEDGER + ".tmp")
        tmp.write_text(json.dumps(ledger, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, self.folder / LEDGER)
        for digest, (path, count) in self._pending.items():
            self._move(path, "done", {"status": "imported", "sm3": digest, "rows": count})
        self._pending = {}

    def _move(self, path: Path, where: str, result: dict[str, Any]) -> None:
        target_dir = self.folder / where
        target_dir.mkdir(exist_ok=True)
        target = target_dir / path.name
        if target.exists():
            # Never overwrite an earlier file of the same name: it is evidence of what was read.
            target = (
                target_dir
                / f"{path.stem}.{time.strftime('%Y%m%d%H%M%S')}.{result['sm3'][:8]}{path.suffix}"
            )
        os.replace(path, target)
        result = {**result, "file": path.name, "at": utc_now().isoformat()}
        target.with_name(target.name + ".result.json").write_text(
            json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8"
        )


register_connector_type(ConnectorType("files", "文件与日志目录", FolderConfig, FolderConnector))
