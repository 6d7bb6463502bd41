"""Word → PDF through LibreOffice (``soffice --headless --convert-to pdf``), when it is installed.

Each conversion runs in its own temporary folder with its own LibreOffice profile
(``-env:UserInstallation``): two workers converting at the same time would otherwise fight over
one profile lock and one of them would produce nothing. Chinese text needs a CJK font on the
server (Debian: ``fonts-wqy-zenhei``); LibreOffice substitutes it for the template's fonts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

DEFAULT_TIMEOUT_S = 180


class PdfError(RuntimeError):
    """The conversion failed; ``str()`` is a Chinese message for the user."""


def pdf_converter() -> str | None:
    """The LibreOffice executable on PATH (``soffice`` or ``libreoffice``), or None."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def docx_to_pdf(content: bytes, *, timeout: float = DEFAULT_TIMEOUT_S, executable: str | None = None) -> bytes:
    """The PDF of a .docx; ``PdfError`` if LibreOffice is missing, fails or takes longer than ``timeout``."""
    exe = executable or pdf_converter()
    if exe is None:
        raise PdfError("未安装 LibreOffice，未生成 PDF")
    with tempfile.TemporaryDirectory(prefix="orgcarbon-pdf-") as tmp:
        folder = Path(tmp)
        source = folder / "report.docx"
        source.write_bytes(content)
        command = [exe, "--headless", "--norestore", "--nolockcheck",
                   f"-env:UserInstallation={(folder / 'profile').as_uri()}",
                   "--convert-to", "pdf", "--outdir", str(folder), str(source)]
        # HOME too: some LibreOffice builds write there even with their own profile folder.
        env = {**os.environ, "HOME": str(folder)}
        try:
            done = subprocess.run(command, capture_output=True, timeout=timeout, check=False, env=env)
        except subprocess.TimeoutExpired as exc:
            raise PdfError(f"LibreOffice 转换 PDF 超时（超过 {timeout:g} 秒），未生成 PDF") from exc
        except OSError as exc:
            raise PdfError(f"无法启动 LibreOffice（{exc}），未生成 PDF") from exc
        target = folder / "report.pdf"
        if done.returncode != 0 or not target.is_file() or target.stat().st_size == 0:
            detail = (done.stderr or done.stdout or b"").decode(errors="replace").strip().splitlines()
            raise PdfError(f"LibreOffice 转换 PDF 失败（退出码 {done.returncode}"
                           f"{'：' + detail[-1] if detail else ''}），未生成 PDF")
        return target.read_bytes()
