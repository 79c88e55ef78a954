"""Normalise punctuation and strip web-page junk before any parsing.

Full-width ASCII punctuation is folded to half-width so ``（牵头单位：…）`` and
``(牵头单位:…)`` give identical output; Chinese-only marks (、。“”《》〔〕【】)
are kept. Site chrome (login prompts, share buttons, "试读结束" paywalls,
metadata tables) is removed line by line, and its metadata kept for the header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .structure import is_title_line, match_marker

_FOLD = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FOLD.update({0x3000: 0x20, 0xA0: 0x20, 0x09: 0x20, 0xFE59: 0x28, 0xFE5A: 0x29, 0x2236: 0x3A})
_FOLD.update({cp: None for cp in (0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD)})


def fold(text: str) -> str:
    """Fold full-width ASCII forms (（）：，；％ and digits) to half-width."""
    return text.translate(_FOLD)


_JUNK = re.compile(
    r"扫一扫|版权所有|copyright|打印本页|关闭窗口|【打印】|【关闭】|\[打印\]|\[关闭\]|账号\+密码|手机\+密码|微信扫码|扫码登录"
    r"|立即注册|还没有账号|忘记密码|当前位置|您.{0,4}位置|所在位置|字体|无障碍|长辈版|网站首页|信息公开首页|浏览次数|访问次数|阅读次数|点击次数|访问量"
    r"|分享到|字号[:\s]*[大中小]|icp备|网站标识码|公网安备|技术支持|网站地图|返回顶部|上一篇|下一篇|收藏本页|加入收藏"
    r"|本站仅提供|如若转载|免责声明|用户自发贡献|请发送邮件|^登录$|^注册$|^首页$|^打印$|^关闭$|^返回$|^分享$",
    re.I,
)
_TRUNCATION = re.compile(r"试读结束|试看结束|剩余内容|查看完整内容|阅读全文请|查阅全文加|下载全文")
_META_KEYS = (
    "索引号|发布机构|发文机关|发文单位|生效日期|废止日期|成文日期|发布日期|发布时间|文\\s*号|所属主题|主题分类|"
    "信息来源|来源|公开方式|公开范围|有效性|责任编辑|访问次数|浏览次数|阅读次数|点击数|组配分类|生成日期|名称|"
    "体裁分类|服务对象|发文字号|公开日期|所属机构|发布单位"
)
_META_LINE = re.compile(rf"^(?:\|\s*)?(?:{_META_KEYS})\s*:")
_META_PAIR = re.compile(rf"({_META_KEYS})\s*:\s*\|?\s*((?:(?!(?:{_META_KEYS})\s*:)[^|])*?)\s*(?=\||$|\s(?:{_META_KEYS})\s*:)")
_URL = re.compile(r"https?://|www\.|[A-Za-z0-9-]+\.(?:com|cn|net|org)\b")
_PUNCT_ONLY = re.compile(r"^[\s\-—–_=*·.。…,、|/\\~#<>\[\]()第页共\d]*$")
_LABEL_START = re.compile(r"^[(〔【\[]?\s*(?:主要)?(?:牵头|责任|主责|配合|协办|协助|参与)(?:单位|部门)")
_TERMINAL = "。!?;:”」』)"
_DATE = re.compile(r"^(?:\d{4}|[〇零一二三四五六七八九]{4})\s*年.{1,3}月.{1,3}日$")
_CONTINUES = re.compile(r"^(?:元|亩|%|吨|千克|公斤|万元|万人|万亩|万户|万吨|亿元|人以上|户以上|个以上|头以上|以上|以下|[、,。;:)])")


@dataclass
class CleanText:
    lines: list[str]
    meta: dict[str, str] = field(default_factory=dict)


def clean(text: str) -> CleanText:
    raw = [re.sub(r" {2,}", " ", line).strip() for line in re.split(r"\r\n|\r|\n|\u2028|\u2029|\x0b|\x0c", fold(text))]
    meta: dict[str, str] = {}
    kept: list[str] = []
    for line in raw:
        if not line:
            kept.append("")
            continue
        if _TRUNCATION.search(line):
            break
        if len(line) < 160 and (_META_LINE.search(line) or ("|" in line and _META_PAIR.search(line))):
            for key, value in _META_PAIR.findall(line):
                if value:
                    meta.setdefault(re.sub(r"\s", "", key), value)
            continue
        if len(line) < 80 and _JUNK.search(line) and not _LABEL_START.search(line):
            continue
        if _PUNCT_ONLY.match(line) and not re.fullmatch(r"(?:19|20)\d{6}", line):
            if re.fullmatch(r"[。,;、:!?)]+", line) and kept and kept[-1]:
                kept[-1] += line
            continue
        if len(line) < 100 and _URL.search(line) and "。" not in line:
            continue
        kept.append(line)
    lines = _join_broken(_drop_repeats(kept))
    return CleanText(_unwrap(lines) if _hard_wrapped(lines) else lines, meta)


def _drop_repeats(lines: list[str]) -> list[str]:
    """Drop a line repeating the previous non-empty line (page headers, doubled titles)."""
    out: list[str] = []
    last = None
    for line in lines:
        if line and line == last:
            continue
        out.append(line)
        if line:
            last = line
    return out


def _join_broken(lines: list[str]) -> list[str]:
    """Re-join prose broken mid-sentence, e.g. ``分别达`` / ``元、元以上`` in blank templates."""
    out: list[str] = []
    for line in lines:
        if not line:
            continue
        prev = out[-1] if out else ""
        if (
            prev
            and prev[-1] not in _TERMINAL
            and _CONTINUES.match(line)
            and ("," in prev or "、" in prev or len(prev) > 30)
            and not _LABEL_START.search(line)
        ):
            out[-1] = prev + line
        else:
            out.append(line)
    return out


def _hard_wrapped(lines: list[str]) -> bool:
    """Text copied from a PDF breaks every line at a fixed width, mid-sentence."""
    long_lines = [line for line in lines if len(line) >= 15]
    open_ended = [line for line in long_lines if line[-1] not in _TERMINAL]
    return len(long_lines) >= 5 and len(open_ended) > 0.5 * len(long_lines)


def _unwrap(lines: list[str]) -> list[str]:
    widths = sorted(len(line) for line in lines if len(line) >= 15)
    full = 0.8 * widths[len(widths) // 2]
    out: list[str] = []
    for line in lines:
        prev = out[-1] if out else ""
        if prev and (prev.count("(") > prev.count(")") or _wrapped_pair(prev, line, full)):
            out[-1] = prev + line
        else:
            out.append(line)
    return out


def _wrapped_pair(prev: str, line: str, full: float) -> bool:
    return (
        prev[-1] not in _TERMINAL
        and len(prev) >= full
        and not is_title_line(prev)
        and match_marker(line) is None
        and _LABEL_START.search(line) is None
        and not _DATE.match(prev)
        and not _DATE.match(line)
    )
