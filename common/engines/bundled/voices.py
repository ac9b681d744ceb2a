"""The voices the bundled model offers, chosen by name.

The model is conditioned on the md5 code of a speaker *name* (see
:func:`.tacotron2.speaker_vector`); ttskit lists 24 names. Edit :data:`VOICES` to add or drop
one: ``speaker`` must be ttskit's exact spelling. Genders are those of the commercial voices
the names match (Alibaba Cloud TTS voice names; ``biaobei`` is the DataBaker/Biaobei female
corpus); they were not measured on this model.

Dropped voices (an ASR listening check on this model): ``Xiaogang``, ``Xiaomei`` and ``Yina``
came out garbled; ``Xiaowei`` never emits the stop token (runaway decoding). See
:data:`DROPPED`.
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
    _v("Aiyue", "Aiyue 艾悦", "female"),
    _v("biaobei", "Biaobei 标贝", "female"),
    _v("Aibao", "Aibao 艾宝", "female"),
    _v("Aicheng", "Aicheng 艾诚", "male"),
    _v("Aida", "Aida 艾达", "male"),
    _v("Aijia", "Aijia 艾佳", "female"),
    _v("Aijing", "Aijing 艾婧", "female"),
    _v("Aimei", "Aimei 艾美", "female"),
    _v("Aina", "Aina 艾娜", "female"),
    _v("Aiqi", "Aiqi 艾琪", "female"),
    _v("Aitong", "Aitong 艾彤", "female"),
    _v("Aiwei", "Aiwei 艾薇", "female"),
    _v("Aixia", "Aixia 艾夏", "female"),
    _v("Aiya", "Aiya 艾雅", "female"),
    _v("Aiyu", "Aiyu 艾雨", "female"),
    _v("Siyue", "Siyue 思悦", "female"),
    _v("Xiaobei", "Xiaobei 小北", "female"),
    _v("Xiaomeng", "Xiaomeng 小萌", "female"),
    _v("Xiaoxue", "Xiaoxue 小雪", "female"),
    _v("Xiaoyun", "Xiaoyun 小云", "female"),
)
"""Shipped voices; the first is the default."""

DROPPED: dict[str, str] = {
    "Xiaogang": "garbled speech in an ASR check",
    "Xiaomei": "garbled speech in an ASR check",
    "Yina": "garbled speech in an ASR check",
    "Xiaowei": "never emits the stop token (runaway decoding)",
}
"""ttskit speaker names deliberately not offered, with the reason."""

GATE_PINYIN_ER = 0.25
"""Quality gate: highest mean pinyin syllable error rate (Whisper base) a shipped voice may have."""

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
