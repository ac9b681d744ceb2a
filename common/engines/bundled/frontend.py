"""Text front end: hanzi → tone-numbered pinyin → Tsinghua-style phonemes → symbol ids.

This re-implements the ``hanzi`` cleaner the bundled model was trained with
(``phkit.chinese.text_to_sequence``, phkit 0.2.11) with our own code, ``pypinyin`` + ``jieba``,
and phkit's *data* (fetched by :mod:`.convert` into the bundle, read here as plain text), so ids
match it symbol for symbol:

* full-width ASCII → half-width; traditional → simplified with hanziconv's character table
  (as phkit does; the table also folds a few simplified characters, e.g. 著→着, 呼→唿);
  Arabic digits read with phkit's number rules (dates, money, phone numbers, fractions,
  percentages, cardinals with 两, long digit strings one by one; :func:`read_numbers`); Latin
  words that are not all capitals are lower-cased (capitals are spelled as letters, lower case
  letters map to the capital letter symbols);
* jieba segmentation, then TONE3 readings (``5`` for the neutral tone): a word in phkit's phrase
  dictionary takes its reading (this gives 事情 qing5, 喜欢 huan5, 画儿 er5, …), then pypinyin's
  phrase dictionary; otherwise each character's first reading from phkit's character dictionary,
  then pypinyin's. Characters without a reading are kept one by one;
* each syllable becomes initial + final phonemes (zero initials are written ``aa ee ii oo
  uu vv``; ``zhi/chi/shi`` use ``ix``, ``ri`` ``iz``, ``zi/ci/si`` ``iy``), then the tone digit, then
  the chain symbol ``-``; a non-syllable character maps to a letter/punctuation symbol (or to
  nothing) followed by ``-``; the sequence ends with ``~ _``;
* erhua: no rule of its own — 儿 is a separate syllable (``er2``, or ``er5`` where phkit's phrase
  dictionary says so), exactly like phkit;
* third-tone sandhi: of two adjacent third tones the first becomes second (phkit's rule,
  applied right to left on the phoneme list); no 一/不 sandhi (phkit has none).

Without the bundle's data (a format-1 bundle, or ``FrontEnd()`` with no ``data_dir``)
readings come from pypinyin alone and traditional characters are not folded: neutral tones and
some polyphones then differ from phkit (a warning is logged).

Known remaining differences: phkit overlays its dictionaries onto whatever pypinyin version is
installed, so readings outside phkit's dictionaries follow the installed pypinyin in both.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

log = logging.getLogger(__name__)

PAD, EOS, CHAIN = "_", "~", "-"
INITIALS = ("aa b c ch d ee f g h ii j k l m n oo p q r s sh t uu vv x z zh").split()
FINALS = ("a ai an ang ao e ei en eng er i ia ian iang iao ie in ing iong iu ix iy iz o ong ou u ua uai "
          "uan uang ueng ui un uo v van ve vn ng uong").split()
TONES = list("12345")
LETTER_NAMES = "Aa Bb Cc Dd Ee Ff Gg Hh Ii Jj Kk Ll Mm Nn Oo Pp Qq Rr Ss Tt Uu Vv Ww Xx Yy Zz".split()
ENGLISH = list("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
PUNCT = '! ? . , ; : " # ( )'.split()
OTHER = "w y 0 6 7 8 9".split()
SYMBOLS: list[str] = [PAD, EOS, CHAIN] + INITIALS + FINALS + TONES + LETTER_NAMES + ENGLISH + PUNCT + OTHER
"""The model's 145 input symbols, in id order."""
SYMBOL_ID = {s: i for i, s in enumerate(SYMBOLS)}

_PUNCT_CHARS = {
    "!": "!！", "?": "?？", ".": ".。", ",": ",，、", ";": ";；", ":": ":：",
    '"': "\"＂“”'＇‘’", "#": "#＃ \u3000\t", "(": "(（[［{｛【<《", ")": ")）]］}｝】>》",
}
CHAR_SYMBOL: dict[str, str] = {
    **{u: n for u, n in zip(ENGLISH, LETTER_NAMES)},
    **{lo: up for lo, up in zip("abcdefghijklmnopqrstuvwxyz", ENGLISH)},
    **{c: sym for sym, chars in _PUNCT_CHARS.items() for c in chars},
    "%": "w", "$": "y", **{d: d for d in "06789"},
}
"""Single non-hanzi characters the model knows (others are dropped, keeping their ``-``)."""

_ZERO_INITIAL_Y = {"yi": "i", "ya": "ia", "yan": "ian", "yang": "iang", "yao": "iao", "ye": "ie", "yin": "in",
                   "ying": "ing", "yong": "iong", "you": "iu", "yo": "o"}
_ZERO_INITIAL_YU = {"yu": "v", "yue": "ve", "yuan": "van", "yun": "vn"}
_ZERO_INITIAL_W = {"wu": "u", "wa": "ua", "wo": "uo", "wai": "uai", "wan": "uan", "wang": "uang", "wei": "ui",
                   "wen": "un", "weng": "ueng", "wong": "uong"}
_SPECIAL = {"n": "n ng", "ng": "ee ng", "yo": "ii o", "lo": "l o"}
_SYLLABLE_TABLE = {
    "": "a ai an ang ao e ei en eng er n o ou",
    "b": "a ai an ang ao ei en eng i ian iao ie in ing o u",
    "p": "a ai an ang ao ei en eng i ian iao ie in ing o ou u",
    "m": "a ai an ang ao e ei en eng i ian iao ie in ing iu o ou u",
    "f": "a an ang ei en eng iao o ou u",
    "d": "a ai an ang ao e ei en eng i ia ian iao ie in ing iu ong ou u uan ui un uo",
    "t": "a ai an ang ao e ei eng i ian iao ie ing ong ou u uan ui un uo",
    "n": "a ai an ang ao e ei en eng g i ia ian iang iao ie in ing iu ong ou u uan un uo v ve",
    "l": "a ai an ang ao e ei en eng i ia ian iang iao ie in ing iu o ong ou u uan un uo v ve",
    "g": "a ai an ang ao e ei en eng ong ou u ua uai uan uang ui un uo",
    "k": "a ai an ang ao e ei en eng ong ou u ua uai uan uang ui un uo",
    "h": "a ai an ang ao e ei en eng ong ou u ua uai uan uang ui un uo",
    "j": "i ia ian iang iao ie in ing iong iu u uan ue un",
    "q": "i ia ian iang iao ie in ing iong iu u uan ue un",
    "x": "i ia ian iang iao ie in ing iong iu u uan ue un",
    "zh": "a ai an ang ao e ei en eng i ong ou u ua uai uan uang ui un uo",
    "ch": "a ai an ang ao e en eng i ong ou u ua uai uan uang ui un uo",
    "sh": "a ai an ang ao e ei en eng i ou u ua uai uan uang ui un uo",
    "r": "an ang ao e en eng i ong ou u ua uan ui un uo",
    "z": "a ai an ang ao e ei en eng i ong ou u uan ui un uo",
    "c": "a ai an ang ao e ei en eng i ong ou u uan ui un uo",
    "s": "a ai an ang ao e en eng i ong ou u uan ui un uo",
    "y": "a an ang ao e i in ing o ong ou u uan ue un",
    "w": "a ai an ang ei en eng o ong u",
}
VALID_SYLLABLES = frozenset(i + f for i, finals in _SYLLABLE_TABLE.items() for f in finals.split())
"""The 420 toneless syllables the model's pinyin table has (others, e.g. ``jv`` or ``m``, are spelled)."""
_INITIAL_ORDER = sorted((i for i in INITIALS if len(i) <= 2 and i not in ("aa", "ee", "ii", "oo", "uu", "vv")),
                        key=len, reverse=True)
_SYLLABLE_RE = re.compile(r"^([a-z]{1,6})([1-5])$")
_LATIN_RE = re.compile(r"([a-zA-Z]+)")
_DIGITS_CN = "零一二三四五六七八九"


def syllable_phonemes(base: str) -> str | None:
    """Phonemes (space separated, no tone) for a toneless pinyin syllable, or ``None``.

    Example: ``zhong`` → ``zh ong``, ``yu`` → ``vv v``, ``shi`` → ``sh ix``, ``ri`` → ``r iz``.
    """
    if base not in VALID_SYLLABLES:  # e.g. m, hm, biang, jv: phkit spells these as letters
        return None
    if base in _SPECIAL:
        return _SPECIAL[base]
    if base in _ZERO_INITIAL_Y:
        return "ii " + _ZERO_INITIAL_Y[base]
    if base in _ZERO_INITIAL_YU:
        return "vv " + _ZERO_INITIAL_YU[base]
    if base in _ZERO_INITIAL_W:
        return "uu " + _ZERO_INITIAL_W[base]
    if base[:1] in ("a", "o", "e"):
        zero = {"a": "aa", "o": "oo", "e": "ee"}[base[0]]
        return f"{zero} {base}" if base in FINALS else None
    for initial in _INITIAL_ORDER:
        if base.startswith(initial):
            final = base[len(initial):]
            break
    else:
        return None
    if final == "i" and initial in ("zh", "ch", "sh"):
        final = "ix"
    elif final == "i" and initial == "r":
        final = "iz"
    elif final == "i" and initial in ("z", "c", "s"):
        final = "iy"
    elif initial in ("j", "q", "x") and final.startswith("u"):
        final = "v" + final[1:]
    elif final == "ue" and initial in ("l", "n"):
        final = "ve"
    if final == "ue":
        final = "ve"
    return f"{initial} {final}" if final in FINALS else None


@dataclass(frozen=True)
class FrontEndResult:
    """Front-end output for one text."""

    ids: list[int]
    phonemes: list[str]
    syllables: int
    """Spoken units (syllables and spelled letters): the basis of frames-per-char checks."""
    last_spoken: int = -1
    """Index in ``ids`` of the first symbol of the last spoken unit (attention must reach it)."""


@dataclass(frozen=True)
class FrontEndData:
    """phkit's dictionaries and hanziconv's t2s table, parsed from the bundle's text files."""

    phrases: dict[str, list[list[str]]]
    """Phrase → per-character tone-marked readings (pypinyin's ``PHRASES_DICT`` shape)."""
    singles: dict[int, str]
    """Code point → comma-separated tone-marked readings (pypinyin's ``PINYIN_DICT`` shape)."""
    t2s: dict[str, str]
    """Character → replacement (hanziconv ``toSimplified``: first occurrence in its table wins)."""
    source: str = ""


_PHRASE_LINE_RE = re.compile(r"^(.+?):(.+)$")
_SINGLE_LINE_RE = re.compile(r"^U\+(\w+?):(.+?)#(.+)$")


def parse_phrase_dict(text: str) -> dict[str, list[list[str]]]:
    """Parse phkit's ``phrase_pinyin_txt`` (``一个: yí gè`` lines) as phkit does."""
    out: dict[str, list[list[str]]] = {}
    for line in text.splitlines():
        if line.startswith(("#", '"""')):
            continue
        parts = line.split(":")
        if len(parts) != 2:
            continue
        word, readings = parts[0].strip(), parts[1].strip().split()
        if len(word) == len(readings) and len(word) >= 2:
            out[word] = [[p] for p in readings]
    return out


def parse_single_dict(text: str) -> dict[int, str]:
    """Parse phkit's ``single_pinyin_txt`` (``U+4E2D: zhōng,zhòng  # 中`` lines) as phkit does."""
    out: dict[int, str] = {}
    for line in text.splitlines():
        if line.startswith(("#", '"""')):
            continue
        m = _SINGLE_LINE_RE.search(line)
        if m and len(char := m[3].strip()) == 1:
            out[ord(char)] = ",".join(m[2].strip().split(","))
    return out


def parse_t2s(text: str) -> dict[str, str]:
    """hanziconv's table (``{"traditional": …, "simplified": …}``) → replacement map."""
    table = json.loads(text)
    trad, simp = table["traditional"], table["simplified"]
    if not (isinstance(trad, str) and isinstance(simp, str) and len(trad) == len(simp)):
        raise ValueError("t2s table: two strings of equal length expected")
    out: dict[str, str] = {}
    for t, s in zip(trad, simp):
        out.setdefault(t, s)
    return {t: s for t, s in out.items() if t != s}


def load_frontend_data(directory: str | Path, manifest: dict[str, Any] | None = None) -> FrontEndData:
    """Read and parse the front-end data files of a bundle, checking each against the manifest.

    Raises:
        EngineUnavailable: the bundle has no front-end data; ManifestError: a checksum differs.
    """
    from common.engines.bundled.weights import (
        FETCH_HINT, PHKIT_PHRASES_FILE, PHKIT_SINGLE_FILE, T2S_FILE, ManifestError, has_frontend_data, read_manifest,
    )
    from common.errors import EngineUnavailable

    directory = Path(directory)
    manifest = manifest if manifest is not None else read_manifest(directory)
    if not has_frontend_data(manifest):
        raise EngineUnavailable(f"bundle in {directory} has no front-end data: {FETCH_HINT}")
    texts = {}
    for name in (PHKIT_PHRASES_FILE, PHKIT_SINGLE_FILE, T2S_FILE):
        path = directory / name
        try:
            raw = path.read_bytes()
        except OSError:
            raise EngineUnavailable(f"front-end data file {path} is missing: {FETCH_HINT}") from None
        if hashlib.sha256(raw).hexdigest() != manifest["files"][name].get("sha256"):
            raise ManifestError(f"{path} fails its checksum; delete {directory} and {FETCH_HINT}")
        texts[name] = raw.decode("utf-8")
    return FrontEndData(parse_phrase_dict(texts[PHKIT_PHRASES_FILE]), parse_single_dict(texts[PHKIT_SINGLE_FILE]),
                        parse_t2s(texts[T2S_FILE]), source=str(directory))


_data_cache: dict[str, FrontEndData] = {}
_cache_lock = threading.Lock()


def _cached_data(directory: Path, manifest: dict[str, Any] | None) -> FrontEndData:
    key = str(directory.resolve())
    with _cache_lock:
        if key not in _data_cache:
            _data_cache[key] = load_frontend_data(directory, manifest)
        return _data_cache[key]


def _make_converter(data: FrontEndData | None):
    from pypinyin.constants import PHRASES_DICT, PINYIN_DICT
    from pypinyin.converter import UltimateConverter

    phrases = data.phrases if data else {}
    singles = data.singles if data else {}

    class _PhkitConverter(UltimateConverter):
        """pypinyin's converter with phkit's dictionaries taking priority (no global state changed)."""

        def _phrase_pinyin(self, phrase, style, heteronym, errors, strict):
            found = phrases.get(phrase) or PHRASES_DICT.get(phrase)
            if found is not None:
                return deepcopy(found)
            pinyin_list = []
            for han in phrase:
                pinyin_list.extend(self._single_pinyin(han, style, heteronym, errors, strict))
            return pinyin_list

        def _single_pinyin(self, han, style, heteronym, errors, strict):
            readings = singles.get(ord(han)) or PINYIN_DICT.get(ord(han))
            if readings is None:
                return self.handle_nopinyin(han, style=style, errors=errors, heteronym=heteronym, strict=strict)
            return [readings.split(",")]

    return _PhkitConverter(neutral_tone_with_five=True)


class FrontEnd:
    """Thread-safe text → symbol-id converter; dictionaries load lazily (see :meth:`warmup`).

    Args:
        data_dir: a bundle directory with front-end data (verified against its manifest).
            ``None``: pypinyin's dictionaries alone (with a warning).
    """

    def __init__(self, data_dir: str | Path | None = None) -> None:
        self._lock = threading.Lock()
        self._pinyin = None
        self._data_dir = Path(data_dir) if data_dir is not None else None
        self.data: FrontEndData | None = None

    def warmup(self) -> None:
        """Load jieba's, pypinyin's and phkit's dictionaries (about 1–5 s, once per process)."""
        with self._lock:
            if self._pinyin is None:
                import jieba
                from pypinyin.core import Pinyin

                if self._data_dir is not None:
                    self.data = _cached_data(self._data_dir, None)
                else:
                    log.warning("front end without phkit's dictionaries: readings come from pypinyin alone and "
                                "may differ from the model's training (neutral tones, polyphones)")
                jieba.setLogLevel(60)
                jieba.initialize()

                class _JiebaPinyin(Pinyin):
                    def pre_seg(self, hans, **kwargs):  # noqa: D401 - pypinyin hook
                        return jieba.lcut(hans)

                self._pinyin = _JiebaPinyin(_make_converter(self.data))

    def to_pinyin(self, text: str) -> list[str | tuple[str]]:
        """Tone3 pinyin strings for hanzi, 1-tuples for every other character."""
        from pypinyin import Style

        self.warmup()
        return self._pinyin.lazy_pinyin(text, style=Style.TONE3, errors=lambda chars: [(c,) for c in chars],
                                        strict=True, neutral_tone_with_five=True)

    def normalize(self, text: str) -> str:
        """phkit's text normalisation (see :func:`normalize_for_frontend`) with this front end's t2s table."""
        self.warmup()
        return normalize_for_frontend(text, self.data.t2s if self.data else None)

    def __call__(self, text: str) -> FrontEndResult:
        """Convert one text to symbol ids."""
        text = self.normalize(text)
        phonemes: list[str] = []
        syllables = 0
        last_spoken = -1
        for item in self.to_pinyin(text):
            if isinstance(item, str) and (m := _SYLLABLE_RE.match(item)) and (ph := syllable_phonemes(m[1])):
                last_spoken = len(phonemes)
                phonemes.extend(ph.split())
                phonemes.append(m[2])
                syllables += 1
            else:
                for ch in item:
                    sym = CHAR_SYMBOL.get(ch)
                    if sym is not None:
                        if sym in LETTER_NAMES or sym in ENGLISH:
                            syllables += 1
                            last_spoken = len(phonemes)
                        phonemes.append(sym)
            phonemes.append(CHAIN)
        phonemes += [EOS, PAD]
        phonemes = third_tone_sandhi(phonemes)
        return FrontEndResult([SYMBOL_ID[p] for p in phonemes], phonemes, syllables, last_spoken)


def normalize_for_frontend(text: str, t2s: dict[str, str] | None = None) -> str:
    """phkit's order: full-width → half-width, traditional → simplified, numbers, Latin case rule."""
    text = text.translate({cp + 0xFEE0: cp for cp in range(33, 127)} | {0x3000: 32})
    if t2s:
        text = "".join(t2s.get(c, c) for c in text)
    text = read_numbers(text)
    return "".join(p if p.isupper() else p.lower() for p in _LATIN_RE.split(text))


# -- numbers: phkit's rules (dates, money, phones, fractions, percentages, cardinals, digit strings) --
_UNITS = [(1, "十"), (2, "百"), (3, "千"), (4, "万")] + [((i + 2) * 4, u) for i, u in enumerate("亿兆京垓秭穰沟涧正载")]
_CURRENCY = r"((亿|千万|百万|万|千|百)|(亿|千万|百万|万|千|百|)元|(亿|千万|百万|万|千|百|)块|角|毛|分)"
_MEASURES = ("(匹|张|座|回|场|尾|条|个|首|阙|阵|网|炮|顶|丘|棵|只|支|袭|辆|挑|担|颗|壳|窠|曲|墙|群|腔|砣|座|客|贯|扎|捆|"
             "刀|令|打|手|罗|坡|山|岭|江|溪|钟|队|单|双|对|出|口|头|脚|板|跳|枝|件|贴|针|线|管|名|位|身|堂|课|本|页|家|"
             "户|层|丝|毫|厘|分|钱|两|斤|担|铢|石|钧|锱|忽|(千|毫|微)克|毫|厘|分|寸|尺|丈|里|寻|常|铺|程|(千|分|厘|毫|微)米|"
             "撮|勺|合|升|斗|石|盘|碗|碟|叠|桶|笼|盆|盒|杯|钟|斛|锅|簋|篮|盘|桶|罐|瓶|壶|卮|盏|箩|箱|煲|啖|袋|钵|年|月|日|"
             "季|刻|时|周|天|秒|分|旬|纪|岁|世|更|夜|春|夏|秋|冬|代|伏|辈|丸|泡|粒|颗|幢|堆|条|根|支|道|面|片|张|颗|块)")
_DATE_RE = re.compile(r"((([089]\d|(19|20)\d{2})年)?(\d{1,2}月(\d{1,2}[日号])?)?)")
_MONEY_RE = re.compile(r"((\d+(\.\d+)?)[多余几]?" + _CURRENCY + r"(\d" + _CURRENCY + r"?)?)")
_PHONE_RES = [
    re.compile(r"((\+?86[ \-]?)?((13[0-9])|(14[0-9])|(15[0-9])|(17[0-9])|(18[0-9])|(19[0-9]))\d{8})"),
    re.compile(r"([1-9]\d{5}[12]\d{3}(0[1-9]|1[012])(0[1-9]|[12][0-9]|3[01])\d{3}[0-9xX])"),
    re.compile(r"((25[0-5]|2[0-4]\d|[0-1]\d{2}|[1-9]?\d)\.(25[0-5]|2[0-4]\d|[0-1]\d{2}|[1-9]?\d)\."
               r"(25[0-5]|2[0-4]\d|[0-1]\d{2}|[1-9]?\d)\.(25[0-5]|2[0-4]\d|[0-1]\d{2}|[1-9]?\d))"),
    re.compile(r"((0(10|2[1-3]|[3-9]\d{2})-?)?[1-9]\d{6,7})"),
]
_FRACTION_RE = re.compile(r"(\d+/\d+)")
_PERCENT_RE = re.compile(r"(\d+(\.\d+)?%)")
_CARDINAL_MEASURE_RE = re.compile(r"\D(\d{1,8}0*(\.\d+)?)[多余几]?" + _MEASURES)
_CARDINAL_RE = re.compile(r"(\d{1,8}0*(\.\d+)?)[多余几]?")
_DIGITS_RE = re.compile(r"(\d{4,32})")
_LETTER_2_RE = re.compile(r"(([a-zA-Z]+)二([a-zA-Z]+))")


def _number_symbols(value: str) -> list[tuple[str, int]]:
    """Digits (``("d", n)``) and units (``("u", power)``) for an integer string, zeros as phkit reads them."""
    stripped = value.lstrip("0")
    if not stripped:
        return []
    if len(stripped) == 1:
        return ([("d", 0)] if len(value) != len(stripped) else []) + [("d", int(stripped))]
    power, _ = next(u for u in reversed(_UNITS) if u[0] < len(stripped))
    return _number_symbols(value[:-power]) + [("u", power)] + _number_symbols(stripped[-power:])


def say_number(number: str, liang: bool = True, units: bool = True) -> str:
    """A number string (``123``, ``3.14``) in Chinese characters, by phkit's rules.

    ``liang``: 2 before 百/千/万/亿… (not after 十 and not before 十) is read 两; ``units``: read
    with place units (else digit by digit). A leading ``一十`` becomes ``十``.
    """
    parts = number.split(".")
    if len(parts) > 2:
        return "".join(_DIGITS_CN[int(c)] if c.isdigit() else c for c in number)
    whole, frac = parts[0], parts[1] if len(parts) == 2 else ""
    syms: list[tuple[str, Any]] = (_number_symbols(whole) if units and len(whole) > 1
                                   else [("d", int(c)) for c in whole])
    if frac:
        syms += [("p", None)] + [("d", int(c)) for c in frac]
    unit_names = dict(_UNITS)
    out = []
    for i, (kind, val) in enumerate(syms):
        if kind == "d":
            char = _DIGITS_CN[val]
            if liang and val == 2:
                nxt = syms[i + 1] if i + 1 < len(syms) else None
                prev = syms[i - 1] if i > 0 else None
                if nxt and nxt[0] == "u" and (prev is None or prev[0] == "u") and nxt[1] != 1 \
                        and (prev is None or prev[1] != 1):
                    char = "两"
            out.append(char)
        elif kind == "u":
            out.append(unit_names[val])
        else:
            out.append("点")
    result = "".join(out)
    if result.startswith("点"):
        return "零" + result
    if len(result) >= 2 and result[0] == "一" and result[1] == "十":
        result = result[1:]
    return result


def _say_date(date: str) -> str:
    year, sep, other = date.partition("年")
    if not sep:
        year, other = "", date
    else:
        year = say_number(year, liang=False, units=False) + "年"
    if not other:
        return year
    month, sep, day = other.partition("月")
    month = say_number(month) + "月" if sep else ""
    if not sep:
        day = date
    if day:
        day = say_number(day[:-1]) + day[-1]
    return year + month + day


def _sub_each(text: str, matches: Iterable[str], say) -> str:
    for m in matches:
        text = text.replace(m, say(m), 1)
    return text


def read_numbers(text: str) -> str:
    """Arabic numbers → Chinese characters with phkit's rules (its ``convert_number``), in its order.

    The engine normally gets text already normalised by :mod:`common.text.normalize`; this only
    decides how digits that are still there are read, so ids match what the model was trained on.
    """
    if not any(c.isdigit() for c in text):
        return text
    text = f"^{text}$"
    text = _sub_each(text, (m[0] for m in _DATE_RE.findall(text)), _say_date)
    text = _sub_each(text, (m[0] for m in _MONEY_RE.findall(text)), _say_money)
    for pattern in _PHONE_RES:
        found = [m[0] for m in pattern.findall(text)]
        if found:
            text = _sub_each(text, found, lambda s: "-".join(say_number(p, liang=False, units=False)
                                                             for p in re.split(r"\D", s.strip("+")) if p))
            break
    text = _sub_each(text, _FRACTION_RE.findall(text),
                     lambda s: say_number(s.split("/")[1]) + "分之" + say_number(s.split("/")[0]))
    text = text.replace("％", "%")
    text = _sub_each(text, (m[0] for m in _PERCENT_RE.findall(text)),
                     lambda s: "百分之" + say_number(s.strip().strip("%")))
    text = _sub_each(text, (m[0] for m in _CARDINAL_MEASURE_RE.findall(text)), say_number)
    text = _sub_each(text, (m[0] for m in _CARDINAL_RE.findall(text)), say_number)
    text = _sub_each(text, _DIGITS_RE.findall(text), lambda s: say_number(s, liang=False, units=False))
    for whole, left, right in _LETTER_2_RE.findall(text):
        text = text.replace(whole, left + "2" + right, 1)
    return text.lstrip("^").rstrip("$")


def _say_money(money: str) -> str:
    for m in re.findall(r"(\d+(\.\d+)?)", money):
        money = money.replace(m[0], say_number(m[0]))
    return money


def third_tone_sandhi(phonemes: Iterable[str]) -> list[str]:
    """phkit's rule: scanning right to left, a ``3`` four symbols before a kept ``3`` becomes ``2``."""
    out: list[str] = []
    last_kept = -5
    for i, ph in enumerate(reversed(list(phonemes))):
        if ph == "3":
            if i - last_kept == 4:
                out.append("2")
                continue
            last_kept = i
        out.append(ph)
    return list(reversed(out))
