"""The emissions-by-process bar chart as PNG bytes, labelled in Chinese when a CJK font exists."""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import matplotlib

matplotlib.use("Agg")  # no display on servers and workers

from matplotlib import font_manager  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

__all__ = ["Chart", "cjk_font", "process_chart"]

log = logging.getLogger(__name__)
# WenQuanYi declares weight 500; matplotlib logs a warning per label for "normal" otherwise.
logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)

# Preferred first; WenQuanYi is what the Debian images install (fonts-wqy-zenhei).
CJK_FONTS = (
    "WenQuanYi Zen Hei",
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "AR PL UMing CN",
)
NO_FONT_MESSAGE = (
    "未找到中文字体，图表中的中文标签可能显示为方框；"
    "请在服务器上安装中文字体（如 apt-get install fonts-wqy-zenhei）后重新生成。"
)


@dataclass(frozen=True)
class Chart:
    """PNG bytes and, when something degraded, a message for the user."""

    png: bytes
    warning: str | None


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The family name of an installed font that has Chinese glyphs, or None."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    found = next((name for name in CJK_FONTS if name in installed), None)
    if found is None and not _rescanned:
        # matplotlib caches the font list: a font installed after the cache was built is only seen
        # after a rescan (done once per process).
        _rescanned.append(True)
        font_manager.fontManager = font_manager._load_fontmanager(try_read_cache=False)
        installed = {f.name for f in font_manager.fontManager.ttflist}
        found = next((name for name in CJK_FONTS if name in installed), None)
    return found


_rescanned: list[bool] = []


def process_chart(
    by_process: Sequence[Mapping[str, object]], title: str = "分工序二氧化碳排放量"
) -> Chart:
    """Horizontal bars of each process's net tCO2 (deductions to the left of zero)."""
    font = cjk_font()
    warning = None if font else NO_FONT_MESSAGE
    if font is None:
        log.warning("no CJK font found for report charts; labels may not render")
    rc = {"font.family": [font, "DejaVu Sans"] if font else ["DejaVu Sans"]}
    labels = [str(row["process"]) for row in by_process]
    values = [float(row["tco2"]) / 10_000 for row in by_process]  # type: ignore[arg-type]
    with matplotlib.rc_context({**rc, "axes.unicode_minus": False}):
        fig = Figure(figsize=(6.3, 0.45 * max(len(labels), 3) + 1.2), dpi=150)
        ax = fig.subplots()
        colors = ["#2f6f9f" if v >= 0 else "#c0504d" for v in values]
        bars = ax.barh(labels[::-1], values[::-1], color=colors[::-1])
        ax.bar_label(bars, labels=[f"{v:,.2f}" for v in values[::-1]], padding=3, fontsize=8)
        ax.axvline(0, color="#555555", linewidth=0.8)
        ax.set_xlabel("排放量（万吨 CO2）")
        ax.set_title(title)
        ax.margins(x=0.18)
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png")
    return Chart(out.getvalue(), warning)
