"""The backup file format: a readable manifest, then the SM4-GCM encrypted payload.

Layout of ``orgcarbon-<id>.ocbak``::

    b"ORGCARBON-BACKUP/1\\n" || uint32 big-endian manifest length || manifest JSON || ciphertext

The manifest stays readable so ``backup list`` and ``verify``'s first check need no key. It is
still protected: everything in it except ``ciphertext_sm3`` is the GCM associated data, so an
edited manifest fails decryption. Like the rest of ``security/``, no Flask here.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orgcarbon.security.crypto import (
    KeyRing,
    Sm4DecryptionError,
    sm3_digest,
    sm3_hex,
    sm4_gcm_decrypt,
    sm4_gcm_encrypt,
)

MAGIC = b"ORGCARBON-BACKUP/1\n"
SUFFIX = ".ocbak"
FORMAT_VERSION = 1
_LENGTH = struct.Struct(">I")


class BackupError(RuntimeError):
    """A backup cannot be made, verified or restored; the message is Chinese, for the operator."""


def backup_key(ring: KeyRing, key_id: str) -> bytes:
    """The SM4 key for backups, derived from a ring key so it is never the field key itself."""
    key = ring.keys.get(key_id)
    if key is None:
        raise BackupError(f"密钥环中没有该备份使用的密钥 {key_id}，无法解密")
    return sm3_digest(b"orgcarbon-backup-key/1\x00" + key)[:16]


def digest_key(ring: KeyRing, key_id: str) -> bytes:
    """The HMAC-SM3 key of the per-range digests in manifests (readable without the key, so keyed)."""
    key = ring.keys.get(key_id)
    if key is None:
        raise BackupError(f"密钥环中没有该备份使用的密钥 {key_id}，无法比对增量")
    return sm3_digest(b"orgcarbon-backup-digest/1\x00" + key)[:16]


def _aad(manifest: dict[str, Any]) -> bytes:
    signed = {k: v for k, v in manifest.items() if k != "ciphertext_sm3"}
    return (
        b"orgcarbon-backup/1\x00" + json.dumps(signed, sort_keys=True, ensure_ascii=False).encode()
    )


@dataclass(frozen=True)
class BackupFile:
    """A backup file's manifest and where it lies."""

    path: Path
    manifest: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.manifest["id"])

    @property
    def kind(self) -> str:
        return str(self.manifest["kind"])


def write_backup(
    path: Path, manifest: dict[str, Any], plaintext: bytes, ring: KeyRing
) -> BackupFile:
    """Encrypt ``plaintext`` under the ring's active key and write it with ``manifest``."""
    manifest = {
        **manifest,
        "format": FORMAT_VERSION,
        "key_id": ring.active_id,
        "cipher": "SM4-GCM",
        "plaintext_size": len(plaintext),
        "plaintext_sm3": sm3_hex(plaintext),
    }
    ciphertext = sm4_gcm_encrypt(backup_key(ring, ring.active_id), plaintext, _aad(manifest))
    manifest["ciphertext_sm3"] = sm3_hex(ciphertext)
    header = json.dumps(manifest, sort_keys=True, ensure_ascii=False).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written under a temporary name and renamed, so a crash never leaves a half file that
    # `list` or `prune` would take for a backup.
    partial = path.with_suffix(path.suffix + ".part")
    with partial.open("wb") as fh:
        fh.write(MAGIC + _LENGTH.pack(len(header)) + header + ciphertext)
    partial.chmod(0o600)
    partial.replace(path)
    return BackupFile(path, manifest)


def _split(path: Path) -> tuple[dict[str, Any], bytes]:
    data = path.read_bytes()
    start = len(MAGIC) + _LENGTH.size
    if not data.startswith(MAGIC) or len(data) < start:
        raise BackupError(f"不是有效的组织碳平台备份文件：{path.name}")
    (length,) = _LENGTH.unpack(data[len(MAGIC) : start])
    try:
        manifest = json.loads(data[start : start + length].decode())
    except (UnicodeDecodeError, ValueError) as exc:
        raise BackupError(f"备份文件清单已损坏：{path.name}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
        raise BackupError(f"备份文件清单已损坏或版本不受支持：{path.name}")
    return manifest, data[start + length :]


def read_manifest(path: Path) -> BackupFile:
    """Read a backup's manifest without its key (for listing)."""
    return BackupFile(path, _split(path)[0])


def open_backup(path: Path, ring: KeyRing) -> tuple[BackupFile, bytes]:
    """Check both SM3 checksums and the GCM tag; return the manifest and the plaintext."""
    manifest, ciphertext = _split(path)
    if sm3_hex(ciphertext) != manifest.get("ciphertext_sm3"):
        raise BackupError(f"备份文件校验失败（密文 SM3 不符），文件已损坏或被篡改：{path.name}")
    key = backup_key(ring, str(manifest.get("key_id")))
    try:
        plaintext = sm4_gcm_decrypt(key, ciphertext, _aad(manifest))
    except Sm4DecryptionError as exc:
        raise BackupError(
            f"备份文件解密失败：密钥不符，或文件及其清单已被篡改：{path.name}"
        ) from exc
    if sm3_hex(plaintext) != manifest.get("plaintext_sm3"):
        raise BackupError(f"备份文件校验失败（明文 SM3 不符）：{path.name}")
    return BackupFile(path, manifest), plaintext


def check_chain(files: list[BackupFile], dialect: str) -> None:
    """Refuse a restore list that is not one full backup followed by its incrementals in order."""
    if not files:
        raise BackupError("请指定要恢复的备份文件")
    if files[0].kind != "full":
        raise BackupError("第一个文件必须是全量备份，其后按顺序列出增量备份")
    for before, after in zip(files, files[1:], strict=False):
        if after.kind != "incremental" or after.manifest.get("previous_id") != before.id:
            raise BackupError(
                f"增量备份 {after.path.name} 不接在 {before.path.name} 之后，顺序或文件有误"
            )
    for f in files:
        if f.manifest["dialect"] != dialect:
            raise BackupError(f"备份来自 {f.manifest['dialect']} 数据库，不能恢复到 {dialect}")
