"""Bracket- and quote-aware splitting shared by the annotation, target and deadline passes.

Commas inside ``各县(市、区)`` or ``“干净、宜居、特色”`` must not split a unit
list or a clause, so every split here tracks bracket depth and quotes.
"""

from __future__ import annotations

import re
from functools import lru_cache

OPEN, CLOSE = "(〔【[《", ")〕】]》"
YEAR = re.compile(r"(?<![\d\-—~至])((?:19|20)\d{2})\s*年(?![\d\-—~至])")


def split_top_sep(s: str, seps: str) -> list[tuple[str, str]]:
    """Split outside brackets and quotes; returns (piece, separator that ended it)."""
    pieces: list[tuple[str, str]] = []
    depth = 0
    quote = False
    start = 0
    for m in _special(seps).finditer(s):
        ch, i = m.group(), m.start()
        if ch in OPEN:
            depth += 1
        elif ch in CLOSE:
            depth = max(0, depth - 1)
        elif ch == "“":
            quote = True
        elif ch == "”":
            quote = False
        elif depth == 0 and not quote and not (ch == ":" and s[i - 1 : i].isdigit() and s[i + 1 : i + 2].isdigit()):
            pieces.append((s[start:i], ch))
            start = i + 1
    pieces.append((s[start:], ""))
    return pieces


@lru_cache(maxsize=32)
def _special(seps: str) -> re.Pattern[str]:
    return re.compile("[" + re.escape(OPEN + CLOSE + "“”" + seps) + "]")


def split_top(s: str, seps: str) -> list[str]:
    return [piece for piece, _ in split_top_sep(s, seps)]


def sentences(text: str) -> list[str]:
    """Sentences ending in 。!?; or a line break, brackets kept whole."""
    out = []
    for piece in split_top(text, "。!?;\n"):
        piece = piece.strip()
        if piece:
            out.append(piece)
    return out
