"""Report packages: a zip of rendered files, a manifest with SM3 digests, an SM2 signature.

Layout (``orgcarbon-report-package/1``)::

    files/<name>          the rendered report files
    manifest.json         template, input digest, generation time, figures, files + SM3
    manifest.sig.json     SignedDigest (SM2-SM3) over the exact bytes of manifest.json
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from orgcarbon.security.crypto import (
    SignedDigest,
    sign_content,
    sm3_hex,
    verify_signed_digest,
)

__all__ = ["FORMAT", "PackageCheck", "build_report_package", "figures_of", "verify_report_package"]

FORMAT = "orgcarbon-report-package/1"
PURPOSE = "report-package"
MANIFEST, SIGNATURE = "manifest.json", "manifest.sig.json"
_FIGURES = (
    "total_tco2",
    "total_direct_tco2",
    "indirect_tco2",
    "e_combustion",
    "e_process",
    "e_purchased_electricity",
    "e_purchased_heat",
    "e_exported_electricity",
    "e_exported_heat",
    "r_fixed_carbon",
    "intensity_total",
    "intensity_direct",
)


@dataclass(frozen=True)
class PackageCheck:
    """Outcome of verifying a package; ``problems`` are Chinese, one per finding."""

    ok: bool
    problems: tuple[str, ...]
    manifest: dict[str, Any] | None


def figures_of(context: Mapping[str, Any]) -> dict[str, Any]:
    """The result's headline figures as the manifest records them."""
    figures = {k: context.get(k) for k in _FIGURES}
    figures["by_process"] = {r["process"]: r["tco2"] for r in context.get("by_process", [])}
    return figures


def build_report_package(
    files: Mapping[str, bytes],
    *,
    template: Mapping[str, str],
    input_digest: str,
    context: Mapping[str, Any],
    private_key: str,
    signer_id: str,
    generated_at: datetime | None = None,
) -> bytes:
    """Zip ``files`` with a signed manifest; ``template`` holds at least name and version."""
    when = (generated_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    manifest = {
        "format": FORMAT,
        "template": dict(template),
        "input_digest": input_digest,
        "generated_at": when.isoformat(),
        "organization": context.get("org_name"),
        "report_year": context.get("report_year"),
        "draft": bool(context.get("draft")),
        "figures": figures_of(context),
        "files": [
            {"name": name, "size": len(data), "sm3": sm3_hex(data)}
            for name, data in sorted(files.items())
        ],
    }
    manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode()
    signature = sign_content(
        private_key, manifest_bytes, signer_id=signer_id, purpose=PURPOSE, signed_at=when
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in sorted(files.items()):
            zf.writestr(f"files/{name}", data)
        zf.writestr(MANIFEST, manifest_bytes)
        zf.writestr(SIGNATURE, json.dumps(signature.to_dict(), indent=1))
    return out.getvalue()


def _read(data: bytes) -> tuple[dict[str, bytes], list[str]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return {n: zf.read(n) for n in zf.namelist()}, []
    except (zipfile.BadZipFile, OSError) as exc:
        return {}, [f"不是有效的报告包（zip）：{exc}"]


def verify_report_package(data: bytes, trusted_public_key: str) -> PackageCheck:
    """Check the signature over the manifest and every file's SM3; list every difference."""
    entries, problems = _read(data)
    if problems:
        return PackageCheck(False, tuple(problems), None)
    if MANIFEST not in entries or SIGNATURE not in entries:
        return PackageCheck(False, ("报告包缺少 manifest.json 或 manifest.sig.json",), None)
    try:
        record = SignedDigest.from_dict(json.loads(entries[SIGNATURE]))
        manifest = json.loads(entries[MANIFEST])
    except (ValueError, TypeError) as exc:
        return PackageCheck(False, (f"清单或签名文件无法解析：{exc}",), None)
    if record.purpose != PURPOSE:
        problems.append("签名用途不是报告包")
    if not verify_signed_digest(
        record, trusted_public_key=trusted_public_key, content=entries[MANIFEST]
    ):
        problems.append("清单签名验证失败：清单被修改，或不是用受信任的 SM2 密钥签署")
    listed = {f["name"]: f for f in manifest.get("files", [])}
    for name, entry in listed.items():
        content = entries.get(f"files/{name}")
        if content is None:
            problems.append(f"文件 {name} 缺失")
        elif sm3_hex(content) != entry["sm3"]:
            problems.append(f"文件 {name} 的 SM3 摘要与清单不符：文件已被修改")
    extra = sorted(n for n in entries if n.startswith("files/") and n[6:] not in listed)
    problems += [f"文件 {n[6:]} 不在清单中：报告包被添加了文件" for n in extra]
    return PackageCheck(not problems, tuple(problems), manifest)
