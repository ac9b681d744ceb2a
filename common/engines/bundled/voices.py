"""The voices the bundled model offers, chosen by name.

The model is conditioned on the md5 code of a speaker *name* (see
:func:`.tacotron2.speaker_vector`); ttskit lists 24 names. Edit :data:`VOICES` to add or drop
one: ``speaker`` must be ttskit's exact spelling. Genders are those of the commercial voices
the names match (Alibaba Cloud TTS voice names; ``biaobei`` is the DataBaker/Biaobei female
corpus); they were not measured on this model.

Quality gate (``bench/voice_quality.py``, ``tests/quality``): every ttskit name reads five
everyday sentences with three seeds through the full engine pipeline and Whisper base transcribes
them. A voice ships only if its mean toneless-pinyin syllable error is at most
:data:`GATE_PINYIN_ER` and the engine never gives up on an item. Measured 2026-11-24 (CPU,
pinyin error / hanzi CER): the 19 shipped voices 0.000–0.039 / 0.074–0.126; ``Xiaomeng`` 0.185 /
0.255; ``Xiaomei`` 0.53, ``Xiaogang`` 0.60, ``Yina`` 0.73 (garbled); ``Xiaowei`` never emits the
stop token (runaway decoding, nothing synthesized). See :data:`DROPPED`. The default (first)
voice is the best measured one.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.engines.base import Voice


@dataclass(frozen=True)
class VoiceSpec:
    """A voice: public id, ttskit speaker name, display name, gender."""

    id: str
    speaker: str
    name: str
    gender: str | None

    def to_voice(self) -> Voice:
        return Voice(id=self.id, name=self.name, gender=self.gender, language="zh")


def _v(speaker: str, name: str, gender: str | None) -> VoiceSpec:
    return VoiceSpec(speaker.lower(), speaker, name, gender)


VOICES: tuple[VoiceSpec, ...] = (
    _v("Aimei", "Aimei 艾美", "female"),
    _v("Aiyue", "Aiyue 艾悦", "female"),
    _v("biaobei", "Biaobei 标贝", "female"),
    _v("Aibao", "Aibao 艾宝", "female"),
    _v("Aicheng", "Aicheng 艾诚", "male"),
    _v("Aida", "Aida 艾达", "male"),
    _v("Aijia", "Aijia 艾佳", "female"),
    _v("Aijing", "Aijing 艾婧", "female"),
    _v("Aina", "Aina 艾娜", "female"),
    _v("Aiqi", "Aiqi 艾琪", "female"),
    _v("Aitong", "Aitong 艾彤", "female"),
    _v("Aiwei", "Aiwei 艾薇", "female"),
    _v("Aixia", "Aixia 艾夏", "female"),
    _v("Aiya", "Aiya 艾雅", "female"),
    _v("Aiyu", "Aiyu 艾雨", "female"),
    _v("Siyue", "Siyue 思悦", "female"),
    _v("Xiaobei", "Xiaobei 小北", "female"),
    _v("Xiaoxue", "Xiaoxue 小雪", "female"),
    _v("Xiaoyun", "Xiaoyun 小云", "female"),
)
"""Shipped voices (all pass the gate); the first is the default: Aimei had the lowest error of all
(pinyin 0.000, CER 0.074)."""

DROPPED: dict[str, str] = {
    "Xiaomeng": "hard to understand: mean pinyin error 0.185, CER 0.255 in the ASR gate (limit 0.10)",
    "Xiaomei": "garbled: mean pinyin error 0.53, CER 0.62 in the ASR gate",
    "Xiaogang": "garbled: mean pinyin error 0.60, CER 0.65, 3 of 15 items unsynthesizable in the ASR gate",
    "Yina": "garbled: mean pinyin error 0.73, CER 0.78 in the ASR gate",
    "Xiaowei": "never emits the stop token (runaway decoding): 15 of 15 items unsynthesizable in the ASR gate",
}
"""ttskit speaker names deliberately not offered, with the reason."""

GATE_PINYIN_ER = 0.10
"""Quality gate: highest mean toneless-pinyin syllable error rate (Whisper base) a shipped voice may
have. Set from the data: the good voices reach at most 0.039 (about one syllable in 25 misheard,
mostly Whisper's own slips), Xiaomeng 0.185 with wrong words in most sentences, the garbled voices
0.5 or more; 0.10 keeps a 2.5x margin above the good voices for other seeds and CPUs."""

_BY_ID = {v.id: v for v in VOICES}


def voice_list() -> list[Voice]:
    """Public :class:`~common.engines.base.Voice` records, default first."""
    return [v.to_voice() for v in VOICES]


def default_voice_id() -> str:
    """Id of the default voice."""
    return VOICES[0].id


def speaker_name(voice_id: str) -> str:
    """ttskit speaker name for a voice id (raises ``KeyError`` if unknown)."""
    return _BY_ID[voice_id].speaker
