"""Text front end: hanzi → tone-numbered pinyin → Tsinghua-style phonemes → symbol ids.

This re-implements, with ``pypinyin`` + ``jieba`` and our own tables, the ``hanzi`` cleaner the
bundled model was trained with (``phkit.chinese.text_to_sequence``, phkit 0.2.11), so ids match
it symbol for symbol:

* full-width ASCII → half-width; Latin words that are not all capitals are lower-cased
  (capitals are spelled as letters, lower case letters map to the capital letter symbols);
* jieba segmentation, then ``pypinyin`` TONE3 readings (phrase dictionary for polyphones,
  ``5`` for the neutral tone); characters without a reading are kept one by one;
* each syllable becomes initial + final phonemes (zero initials are written ``aa ee ii oo
  uu vv``; ``zhi/chi/shi`` use ``ix``, ``ri`` ``iz``, ``zi/ci/si`` ``iy``), then the tone digit, then
  the chain symbol ``-``; a non-syllable character maps to a letter/punctuation symbol (or to
  nothing) followed by ``-``; the sequence ends with ``~ _``;
* third-tone sandhi: of two adjacent third tones the first becomes second (phkit's rule,
  applied right to left).

Known differences from phkit: no traditional→simplified conversion (pypinyin reads both), and
digits are not expanded here (``common.text.normalize`` does that before the engine sees text;
left-over digits are read digit by digit). Dictionary versions may differ on rare polyphones.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Iterable

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
_NOT_IN_MODEL = frozenset({"m", "hm", "hng", "biang", "bong"})
"""Syllables pypinyin can return that the model's table lacks: phkit spells them as letters."""
_INITIAL_ORDER = sorted((i for i in INITIALS if len(i) <= 2 and i not in ("aa", "ee", "ii", "oo", "uu", "vv")),
                        key=len, reverse=True)
_SYLLABLE_RE = re.compile(r"^([a-z]{1,6})([1-5])$")
_LATIN_RE = re.compile(r"([a-zA-Z]+)")
_DIGIT_READING = dict(zip("0123456789", "零一二三四五六七八九"))


def syllable_phonemes(base: str) -> str | None:
    """Phonemes (space separated, no tone) for a toneless pinyin syllable, or ``None``.

    Example: ``zhong`` → ``zh ong``, ``yu`` → ``vv v``, ``shi`` → ``sh ix``, ``ri`` → ``r iz``.
    """
    if base in _NOT_IN_MODEL:
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


class FrontEnd:
    """Thread-safe text → symbol-id converter; dictionaries load lazily (see :meth:`warmup`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pinyin = None

    def warmup(self) -> None:
        """Load jieba's and pypinyin's dictionaries (about 1–5 s, once per process)."""
        with self._lock:
            if self._pinyin is None:
                import jieba
                from pypinyin.converter import UltimateConverter
                from pypinyin.core import Pinyin

                jieba.setLogLevel(60)
                jieba.initialize()

                class _JiebaPinyin(Pinyin):
                    def pre_seg(self, hans, **kwargs):  # noqa: D401 - pypinyin hook
                        return jieba.lcut(hans)

                self._pinyin = _JiebaPinyin(UltimateConverter(neutral_tone_with_five=True))

    def to_pinyin(self, text: str) -> list[str | tuple[str]]:
        """Tone3 pinyin strings for hanzi, 1-tuples for every other character."""
        from pypinyin import Style

        self.warmup()
        return self._pinyin.lazy_pinyin(text, style=Style.TONE3, errors=lambda chars: [(c,) for c in chars],
                                        strict=True, neutral_tone_with_five=True)

    def __call__(self, text: str) -> FrontEndResult:
        """Convert one text to symbol ids."""
        text = normalize_for_frontend(text)
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


def normalize_for_frontend(text: str) -> str:
    """Full-width ASCII → half-width, Latin case rule, left-over digits read one by one."""
    text = text.translate({cp + 0xFEE0: cp for cp in range(33, 127)} | {0x3000: 32})
    text = "".join(p if p.isupper() else p.lower() for p in _LATIN_RE.split(text))
    return "".join(_DIGIT_READING.get(c, c) for c in text)


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
