"""Text normalisation: whitespace clean-up and the speakable Chinese form of a text.

Two levels:

* :func:`clean_text` only fixes whitespace and invisible characters. It never
  changes what is said, so chunk boundaries and offsets can be computed on it.
* :func:`normalize_text` produces what the engine should read: Arabic numbers,
  units, symbols and acronyms become Chinese, footnote marks and emoji vanish.

Both are idempotent and never raise on any ``str``.

Reading decisions (documented, tested):

* Integers are read as quantities (1234 → 一千二百三十四, 10 → 十, never 两).
  Digit by digit instead: runs of 9 or more digits, runs with a leading zero
  (007, 010), phone numbers, years before 年 and the year of a date,
  version numbers / IP addresses (1.13.1 → 一点一三点一). The digit 1 is
  always 一, also in phone numbers (幺 is colloquial and G2P handles 一).
* Latin letters: a single letter, or an all-caps token of at most five
  letters (AI, GDP, CPU), is spelled with the Chinese letter names of
  :data:`LETTER_NAMES` (GDP → 吉迪批). Longer or mixed-case words (Flask,
  HifiGan, WARNING) are kept as they are; the engine may drop them.
* Chinese punctuation is kept; ASCII punctuation other than the symbols
  listed in ``_SYMBOL_OVERRIDES`` is kept too. Emoji and other symbols that
  have no reading are deleted; math and currency signs not attached to a
  number become a space.
"""

from __future__ import annotations

import difflib
import re
import unicodedata

# --------------------------------------------------------------------------
# clean_text
# --------------------------------------------------------------------------

_CRLF_RE = re.compile(r"\r\n?")
_LINEBREAK_RE = re.compile("[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
"""Characters Python's ``str.splitlines`` treats as line breaks, besides CR/LF."""

_INVISIBLE_RE = re.compile(
    "[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f"  # Cc except \t \n \v \f \r, separators
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"  # Cf ...
    "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
    "\ud800-\udfff]"  # Cs: lone surrogates
)
"""Control (Cc), format (Cf) and surrogate (Cs) characters, deleted by clean_text."""

_SPACES_RE = re.compile("[\t \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
"""Runs of tabs and Unicode space separators (Zs), collapsed to one ASCII space."""

_SPACED_NEWLINE_RE = re.compile(" *\n *")
_MANY_NEWLINES_RE = re.compile("\n{3,}")


def clean_text(text: str) -> str:
    """Normalise whitespace and drop invisible characters; nothing else changes.

    CRLF/CR and other line separators become ``\\n``; control, format
    (zero-width, BOM, bidi) and lone surrogate characters are deleted; tabs
    and every Unicode space (U+3000 included) become ``' '``, runs collapse
    to one space, spaces around newlines go, 3+ newlines become two, and the
    result is stripped. Idempotent.

    Args:
        text: any string.

    Returns:
        The cleaned text; it contains no whitespace but ``' '`` and ``'\\n'``.
    """
    text = _CRLF_RE.sub("\n", text)
    text = _LINEBREAK_RE.sub("\n", text)
    text = _INVISIBLE_RE.sub("", text)
    text = _SPACES_RE.sub(" ", text)
    text = _SPACED_NEWLINE_RE.sub("\n", text)
    text = _MANY_NEWLINES_RE.sub("\n\n", text)
    return text.strip(" \n")


# --------------------------------------------------------------------------
# Number readings
# --------------------------------------------------------------------------

_DIGIT_NAMES = "零一二三四五六七八九"
_DIGIT_TABLE = str.maketrans("0123456789", _DIGIT_NAMES)
_SECTION_UNITS = ("", "十", "百", "千")
_MAX_CARDINAL_DIGITS = 16
"""Integers longer than this (beyond 万亿) are read digit by digit."""

_DIGIT_RUN_LENGTH = 9
"""Bare digit runs at least this long (ids, phone numbers) are read digit by digit,
unless at most four significant digits precede trailing zeros (100000000 -> 一亿)."""


def _say_digits(digits: str) -> str:
    """Read ASCII digits one by one: '2024' -> '二零二四'."""
    return digits.translate(_DIGIT_TABLE)


def _say_section(group: str) -> str:
    """Read up to four digits with 千百十 and inner 零; leading zeros say nothing."""
    out: list[str] = []
    zero = False
    for i, ch in enumerate(group):
        if ch == "0":
            zero = bool(out)
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(_DIGIT_NAMES[ord(ch) - 48] + _SECTION_UNITS[len(group) - 1 - i])
    return "".join(out)


def _say_int(digits: str) -> str:
    """Read a non-negative integer as a quantity: '100010' -> '十万零一十'."""
    digits = digits.lstrip("0")
    if not digits:
        return "零"
    if len(digits) > _MAX_CARDINAL_DIGITS:
        return _say_digits(digits)
    head = len(digits) % 4 or 4
    groups = [digits[:head]] + [digits[i : i + 4] for i in range(head, len(digits), 4)]
    parts: list[str] = []
    pending_zero = False
    for idx, group in enumerate(groups):
        level = len(groups) - 1 - idx
        if int(group) == 0:
            pending_zero = bool(parts)
            continue
        if parts and (pending_zero or group[0] == "0"):
            parts.append("零")
        unit = ("", "万", "亿", "万")[level]
        if level == 3 and int(groups[idx + 1]) == 0:
            unit = "万亿"
        parts.append(_say_section(group) + unit)
        pending_zero = False
    said = "".join(parts)
    return said[1:] if said.startswith("一十") else said


def _say_number(num: str) -> str:
    """Read an unsigned number token (1234, 1,234, 3.14, 007, 13800138000)."""
    if "," in num:
        num = num.replace(",", "")
    whole, dot, frac = num.partition(".")
    if dot:
        return _say_int(whole) + "点" + _say_digits(frac)
    if len(whole) > 1 and whole[0] == "0":
        return _say_digits(whole)
    if len(whole) >= _DIGIT_RUN_LENGTH and len(whole.rstrip("0")) > 4:
        return _say_digits(whole)  # an id, not a round quantity like 100000000
    return _say_int(whole)


# --------------------------------------------------------------------------
# Units, signs and the master number pattern
# --------------------------------------------------------------------------

UNIT_NAMES: dict[str, str] = {
    "km/h": "公里每小时", "m/s": "米每秒", "km²": "平方公里", "m²": "平方米",
    "cm²": "平方厘米", "m³": "立方米", "cm³": "立方厘米",
    "km": "公里", "m": "米", "cm": "厘米", "mm": "毫米", "nm": "纳米",
    "kg": "公斤", "g": "克", "mg": "毫克", "ml": "毫升", "mL": "毫升", "L": "升",
    "h": "小时", "min": "分钟", "s": "秒", "ms": "毫秒",
    "KB": "千字节", "MB": "兆字节", "GB": "吉字节", "TB": "太字节",
    "Hz": "赫兹", "kHz": "千赫兹", "MHz": "兆赫兹", "GHz": "吉赫兹",
    "W": "瓦", "kW": "千瓦", "V": "伏", "mAh": "毫安时", "pp": "个百分点",
    "℃": "摄氏度", "°C": "摄氏度", "℉": "华氏度", "°F": "华氏度", "°": "度",
}
"""Units read after a number ('5km' -> 五公里). Multi-letter units may follow one space."""

CURRENCY_NAMES: dict[str, str] = {"¥": "元", "￥": "元", "$": "美元", "€": "欧元", "£": "英镑"}
"""Currency signs before a number; the name is said after it ('$5' -> 五美元)."""

_OPERATOR_NAMES = {
    "<=": "小于等于", ">=": "大于等于", "≤": "小于等于", "≥": "大于等于", "<": "小于", ">": "大于",
    "+": "加", "×": "乘", "*": "乘", "x": "乘", "X": "乘", "÷": "除以", "=": "等于", ":": "比",
}


def _unit_pattern() -> str:
    """Build the unit alternation: composites (km², °C) first, then longest first."""

    def alt(units: list[str]) -> str:
        return "|".join(re.escape(u) for u in sorted(units, key=len, reverse=True))

    composite = [u for u in UNIT_NAMES if len(u) > 1 and not u.isascii()]
    single = [u for u in UNIT_NAMES if len(u) == 1]
    multi = [u for u in UNIT_NAMES if len(u) > 1 and u.isascii()]
    return rf"(?:{alt(composite)}|\s?(?:{alt(multi)})|{alt(single)})(?![A-Za-z])"


_NUM = r"(?:[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?)"
_UNIT = _unit_pattern()
_CUR = "[¥￥$€£]"
_SIGN = r"(?:(?<![0-9A-Za-z.,])[-+±])?"
_QTY = rf"(?:{_CUR}\s?{_NUM}[万亿]?|{_NUM}(?:\s?[%‰]|{_UNIT})?)"
_QTY_PARTS_RE = re.compile(
    rf"(?P<sign>[-+±])?(?:(?P<cur>{_CUR})\s?(?P<cnum>{_NUM})(?P<mult>[万亿])?"
    rf"|(?P<num>{_NUM})\s?(?P<suf>[%‰]|{_UNIT})?)(?P<plus>\+)?"
)
_RANGE_PARTS_RE = re.compile(rf"(?P<a>[-+±]?{_QTY})\s?[-~～–—]\s?(?P<b>-?{_QTY})")

_NUMBER_RE = re.compile(
    rf"(?P<date>(?<![0-9])(?P<dy>[0-9]{{4}})(?P<dsep>[-/.])(?P<dm>0?[1-9]|1[0-2])(?P=dsep)"
    rf"(?P<dd>0?[1-9]|[12][0-9]|3[01])(?![0-9]))"
    rf"|(?P<ym>(?<![0-9])(?P<ymy>[12][0-9]{{3}})[-/](?P<ymm>0?[1-9]|1[0-2])(?![0-9]))"
    rf"|(?P<time>(?<![0-9])(?P<th>[01]?[0-9]|2[0-4]):(?P<tm>[0-5][0-9])"
    rf"(?::(?P<ts>[0-5][0-9]))?(?![0-9]))"
    rf"|(?P<phone>(?<![0-9])(?:(?:\+86[- ]?)?1[3-9][0-9](?:[- ]?[0-9]{{4}}){{2}}"
    rf"|0[0-9]{{2,3}}-[0-9]{{7,8}}|[48]00-[0-9]{{3}}-[0-9]{{4}})(?![0-9]))"
    rf"|(?P<version>(?<![0-9.])[0-9]+(?:\.[0-9]+){{2,}}(?![0-9]))"
    rf"|(?P<range>{_SIGN}{_QTY}\s?[-~～–—]\s?-?{_QTY})"
    rf"|(?P<frac>{_SIGN}(?P<fa>[0-9]+)/(?P<fb>[0-9]+)(?![0-9]|/[0-9]|\.[0-9]))"
    rf"|(?P<cmp>(?:<=|>=|[≤≥<>])\s?(?=[-+]?{_CUR}?[0-9]))"
    rf"|(?P<op>(?<=[0-9%])\s?[+×*÷=]\s?(?=-?[0-9])|(?<=[0-9])[xX:](?=[0-9]))"
    rf"|(?P<qty>{_SIGN}{_QTY}(?:\+(?![0-9]))?)"
)
"""Every pattern that reads Arabic digits, tried in this order at each position."""


def _say_sign(sign: str | None) -> str:
    return {"-": "负", "±": "正负"}.get(sign or "", "")


def _say_qty(token: str, *, percent: bool = False, year: bool = False) -> str:
    """Read one quantity token: sign, currency, number, %, unit and trailing '+'."""
    m = _QTY_PARTS_RE.fullmatch(token)
    if m is None:  # pragma: no cover - the master pattern guarantees the shape
        return _say_digits(token)
    sign = _say_sign(m["sign"])
    more = "多" if m["plus"] else ""
    if m["cur"]:
        said = _say_number(m["cnum"]) + (m["mult"] or "") + CURRENCY_NAMES[m["cur"]]
        return sign + said + more
    num, suf = m["num"], m["suf"]
    if year and not suf and len(num) == 4 and num.isdigit():
        return sign + _say_digits(num) + more
    said = _say_number(num)
    if suf == "%" or (percent and not suf):
        return sign + "百分之" + said + more
    if suf == "‰":
        return sign + "千分之" + said + more
    return sign + said + (UNIT_NAMES[suf.lstrip()] if suf else "") + more


def _followed_by_year(m: re.Match[str]) -> bool:
    return m.string.startswith(("年", " 年"), m.end())


def _say_range(m: re.Match[str]) -> str:
    parts = _RANGE_PARTS_RE.fullmatch(m.group())
    if parts is None:  # pragma: no cover - same pattern pieces as the master one
        return _say_digits(m.group())
    a, b = parts["a"], parts["b"]
    year = _followed_by_year(m) and len(a.strip("-+±")) == 4
    percent = b.rstrip().endswith("%")
    return _say_qty(a, percent=percent, year=year) + "到" + _say_qty(b, year=year)


def _say_time(m: re.Match[str]) -> str:
    hour, minute, second = m["th"], m["tm"], m["ts"]
    said = _say_int(hour) + "点"
    if second is None:
        return said + ("整" if minute == "00" else _say_minute(minute) + "分")
    return said + _say_minute(minute) + "分" + _say_minute(second) + "秒"


def _say_minute(two: str) -> str:
    return "零" + _DIGIT_NAMES[int(two[1])] if two[0] == "0" and two != "00" else _say_int(two)


def _read_number(m: re.Match[str]) -> str:
    """Dispatch one match of :data:`_NUMBER_RE` to its reading."""
    kind = m.lastgroup
    if kind == "date":
        return f"{_say_digits(m['dy'])}年{_say_int(m['dm'])}月{_say_int(m['dd'])}日"
    if kind == "ym":
        return f"{_say_digits(m['ymy'])}年{_say_int(m['ymm'])}月"
    if kind == "time":
        return _say_time(m)
    if kind == "phone":
        return _say_digits(re.sub("[^0-9]", "", m.group()))
    if kind == "version":
        return "点".join(_say_digits(part) for part in m.group().split("."))
    if kind == "range":
        return _say_range(m)
    if kind == "frac":
        sign = _say_sign(m.group()[0] if m.group()[0] in "-+±" else None)
        return f"{sign}{_say_number(m['fb'])}分之{_say_number(m['fa'])}"
    if kind in ("cmp", "op"):
        return _OPERATOR_NAMES[m.group().strip()]
    return _say_qty(m.group(), year=_followed_by_year(m))


# --------------------------------------------------------------------------
# Characters: width folding, footnotes, symbols, Latin letters
# --------------------------------------------------------------------------

_FOLD_TABLE: dict[int, str] = {
    **{c: chr(c - 0xFEE0) for c in range(0xFF10, 0xFF1A)},  # ０-９
    **{c: chr(c - 0xFEE0) for c in range(0xFF21, 0xFF3B)},  # Ａ-Ｚ
    **{c: chr(c - 0xFEE0) for c in range(0xFF41, 0xFF5B)},  # ａ-ｚ
    **{ord(c): chr(ord(c) - 0xFEE0) for c in "％＋－．／＝＜＞＃＆＠＄＊＾＿｀｜＼［］｛｝～"},
    **{ord(k): v for k, v in {"㎡": "m²", "㎞": "km", "㎏": "kg", "㎝": "cm", "㎜": "mm",
                              "㎖": "ml", "㎎": "mg", "\u2212": "-"}.items()},
}
"""Full-width ASCII letters, digits and symbols to half-width (Chinese punctuation stays)."""

_FOOTNOTE_RE = re.compile(
    "[\u2460-\u24ff\u2776-\u2793\u3251-\u325f\u32b1-\u32bf]"
    r"|\[[0-9]{1,3}(?:[,，\-–][0-9]{1,3})*\]|【[0-9]{1,3}】"
)
"""Footnote marks: circled/parenthesised numbers (①⑴⒈❶) and [1], [1-3], 【2】."""

LETTER_NAMES: dict[str, str] = {
    "A": "诶", "B": "比", "C": "西", "D": "迪", "E": "伊", "F": "艾弗", "G": "吉",
    "H": "艾尺", "I": "艾", "J": "杰", "K": "开", "L": "艾勒", "M": "艾姆", "N": "艾恩",
    "O": "欧", "P": "批", "Q": "丘", "R": "阿尔", "S": "艾斯", "T": "提", "U": "优",
    "V": "维", "W": "达不溜", "X": "艾克斯", "Y": "歪", "Z": "贼德",
}
"""Chinese renderings of the Latin letter names, used to spell letters and acronyms."""

_MAX_SPELLED_ACRONYM = 5
_LATIN_RE = re.compile("[A-Za-z]+")

_SYMBOL_OVERRIDES: dict[str, str] = {
    **dict.fromkeys("#*@\\_%", " "),
    "&": "和", "‰": "", "℃": "摄氏度", "℉": "华氏度",
    "½": "二分之一", "⅓": "三分之一", "⅔": "三分之二", "¼": "四分之一", "¾": "四分之三",
    "⅕": "五分之一", "⅖": "五分之二", "⅗": "五分之三", "⅘": "五分之四", "⅙": "六分之一",
    "⅚": "六分之五", "⅛": "八分之一", "⅜": "八分之三", "⅝": "八分之五", "⅞": "八分之七",
    **{chr(0x2160 + i): _say_int(str(i + 1)) for i in range(12)},  # Ⅰ-Ⅻ
    **{chr(0x2170 + i): _say_int(str(i + 1)) for i in range(12)},  # ⅰ-ⅻ
}
"""Symbols with a fixed replacement, applied after numbers have been read."""


class _SymbolTable(dict):
    """``str.translate`` table filled lazily by Unicode category (then cached)."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        if ch in _SYMBOL_OVERRIDES:
            value = _SYMBOL_OVERRIDES[ch]
        elif 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF or code == 0x20E3:
            value = ""  # variation selectors and the keycap mark of emoji
        else:
            category = unicodedata.category(ch)
            if category in ("So", "Co", "Cn", "No"):
                value = ""  # emoji, pictographs, private use, superscripts: no reading
            elif category in ("Sm", "Sk", "Sc"):
                value = " "  # a stray operator or sign separates words
            else:
                value = ch  # unchanged (None would delete it)
        self[code] = value
        return value


_SYMBOLS = _SymbolTable()


def _read_latin(m: re.Match[str]) -> str:
    word = m.group()
    if len(word) == 1 or (word.isupper() and len(word) <= _MAX_SPELLED_ACRONYM):
        return "".join(LETTER_NAMES[ch.upper()] for ch in word)
    return word


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def normalize_text(text: str) -> str:
    """Return the speakable form of ``text`` for a Chinese TTS engine.

    Steps: :func:`clean_text`; fold full-width ASCII; delete footnote marks;
    read every Arabic number (dates, times, phone numbers, versions, ranges,
    fractions, percentages, currencies, units, comparisons, plain numbers);
    replace or delete symbols; spell single letters and short acronyms;
    :func:`clean_text` again. The result contains no ASCII digit.
    Idempotent, and never raises on a ``str``.

    Args:
        text: any string.

    Returns:
        The normalised text.
    """
    text = clean_text(text).translate(_FOLD_TABLE)
    text = _FOOTNOTE_RE.sub("", text)
    text = _NUMBER_RE.sub(_read_number, text)
    text = text.translate(_SYMBOLS)
    text = _LATIN_RE.sub(_read_latin, text)
    return clean_text(text)


def preview(text: str) -> list[tuple[str, str]]:
    """List the spans that normalisation changes, as ``(original, spoken)`` pairs.

    Meant for short texts (an API preview): it diffs :func:`clean_text` against
    :func:`normalize_text` character by character, which is quadratic at worst.

    Args:
        text: any string.

    Returns:
        One pair per changed span, in text order; ``[]`` when nothing changes.
        Whitespace-only changes are left out.
    """
    before, after = clean_text(text), normalize_text(text)
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    return [
        (before[i1:i2].strip(), after[j1:j2].strip())
        for op, i1, i2, j1, j2 in matcher.get_opcodes()
        if op != "equal" and (before[i1:i2].strip() or after[j1:j2].strip())
    ]
