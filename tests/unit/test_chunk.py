"""Unit tests for common.text.chunk: the reconstruction contract and the cut rules."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.text.chunk import iter_chunks, split_spans, split_text
from common.text.normalize import clean_text

ATOM_RE = re.compile(r"[0-9０-９]+(?:[.,:．][0-9０-９]+)*|[A-Za-zＡ-Ｚａ-ｚ]+(?:['’][A-Za-zＡ-Ｚａ-ｚ]+)*")
"""Numbers (3.14, 1,234, 15:30) and Latin words: never cut when they fit."""

SEED_EXCERPT = (
    "在智能客服、有声阅读、虚拟主播等应用场景中，高质量的中文多情感语音合成已成为提升用户体验的关键能力。"
    "然而，尽管当前主流模型如Sambert-HifiGan在音质和表现力上已达到商用标准，但在实际部署过程中，"
    "开发者常面临两大痛点！显存溢出问题怎么办？我们将长文本按语义句切分为多个子片段（每段 ≤80 字），"
    "逐段合成后拼接音频。"
)

_CJK = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可也你"
_PUNCT = "。！？；…，、：“”‘’（）《》—」』.!?;,:'\"()-/%"
_texts = st.text(
    alphabet=st.sampled_from(
        _CJK * 3 + "0123456789" * 2 + "abcXYZ" * 2 + _PUNCT + " " * 6 + "\u3000\t\n\r\u00a0"
    ),
    max_size=400,
)
_max_chars = st.integers(min_value=10, max_value=120)
_min_chars = st.integers(min_value=0, max_value=20)


def _assert_contract(text, max_chars, min_chars):
    cleaned, spans = split_spans(text, max_chars, min_chars)
    assert cleaned == clean_text(text)
    chunks = [cleaned[s:e] for s, e in spans]
    assert chunks == split_text(text, max_chars, min_chars)
    assert chunks == list(iter_chunks(text, max_chars, min_chars))
    pos = 0
    for (s, e), chunk in zip(spans, chunks):
        assert pos <= s < e
        assert not any(ch.isalnum() for ch in cleaned[pos:s]), "speakable text dropped"
        assert len(chunk) <= max_chars
        assert chunk == chunk.strip() and "\n" not in chunk
        assert any(ch.isalnum() for ch in chunk), "punctuation-only chunk"
        pos = e
    assert not any(ch.isalnum() for ch in cleaned[pos:])
    return cleaned, spans


def _cuts_inside_atoms(cleaned, spans, max_chars):
    bounds = {b for span in spans for b in span}
    return [
        m.group()
        for m in ATOM_RE.finditer(cleaned)
        if len(m.group()) <= max_chars and any(m.start() < b < m.end() for b in bounds)
    ]


@settings(max_examples=1000, deadline=None)
@given(_texts, _max_chars, _min_chars)
def test_contract_holds(text, max_chars, min_chars):
    cleaned, spans = _assert_contract(text, max_chars, min_chars)
    assert _cuts_inside_atoms(cleaned, spans, max_chars) == []


@settings(max_examples=200, deadline=None)
@given(_texts, st.integers(min_value=1, max_value=9))
def test_contract_holds_for_tiny_caps(text, max_chars):
    _assert_contract(text, max_chars, 8)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(_CJK + "0123456789abcXYZ \n\u3000"), max_size=400), _max_chars)
def test_only_boundary_whitespace_is_dropped_without_silent_runs(text, max_chars):
    cleaned, spans = _assert_contract(text, max_chars, 8)
    gaps = [cleaned[e:s] for (_, e), (s, _) in zip(spans, spans[1:])]
    assert all(gap.strip() == "" for gap in gaps)
    assert re.sub(r"\s", "", "".join(cleaned[s:e] for s, e in spans)) == re.sub(r"\s", "", cleaned)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), _max_chars)
def test_contract_holds_for_any_unicode(text, max_chars):
    _assert_contract(text, max_chars, 8)


def test_seed_example_splits_at_sentence_ends():
    chunks = split_text(SEED_EXCERPT, 80)
    assert all(len(c) <= 80 for c in chunks)
    assert chunks[0].endswith("关键能力。")
    assert chunks[-1].endswith("拼接音频。")
    assert "".join(chunks) == SEED_EXCERPT
    assert chunks[1].endswith("开发者常面临两大痛点！")
    assert chunks[2] == "显存溢出问题怎么办？"
    assert len(chunks) == 4


def test_long_sentence_splits_at_clause_marks_with_a_40_char_cap():
    chunks = split_text(SEED_EXCERPT, 40)
    assert all(len(c) <= 40 for c in chunks)
    assert "".join(chunks) == SEED_EXCERPT
    assert chunks[0] == "在智能客服、有声阅读、虚拟主播等应用场景中，"
    assert all(c[-1] in "，、。！？）" for c in chunks)


def test_crlf_and_fullwidth_spaces_are_cleaned():
    text = "第一段。\r\n\r\n\r\n第二段\u3000很长。\r第三段！"
    assert split_text(text, 80, 0) == ["第一段。", "第二段 很长。", "第三段！"]


def test_newlines_are_boundaries_and_short_chunks_merge_within_a_line():
    assert split_text("好。\n是的。对！", 80, 8) == ["好。", "是的。对！"]


def test_closing_quotes_stay_with_their_sentence():
    assert split_text("他说：“走吧。”她说：“好！”", 80, 0) == ["他说：“走吧。”", "她说：“好！”"]


def test_ascii_dot_ends_a_sentence_only_when_it_should():
    text = "圆周率是3.14. 美国U.S.A. 的网址是 www.example.com. 邮件 a.b@c.org. 完"
    assert split_text(text, 80, 0) == [
        "圆周率是3.14.",
        "美国U.S.A. 的网址是 www.example.com.",
        "邮件 a.b@c.org.",
        "完",
    ]


def test_numbers_and_words_are_not_cut():
    text = "一二三四五六七八1,234,567.89九十Supercalifragilistic甲乙丙"
    assert split_text(text, 12, 0) == [
        "一二三四五六七八", "1,234,567.89", "九十", "Supercalifra", "gilistic甲乙丙",
    ]
    assert split_text("甲乙丙丁戊己庚3.1415926和15:30", 10, 0) == ["甲乙丙丁戊己庚", "3.1415926和", "15:30"]


def test_a_word_longer_than_the_cap_is_cut_at_the_cap():
    assert split_text("x" * 25, 10, 0) == ["x" * 10, "x" * 10, "x" * 5]


def test_punctuation_only_pieces_attach_or_vanish():
    assert split_text("。。好的", 80, 0) == ["。。好的"]
    assert split_text("好的\n——————\n是", 80, 0) == ["好的", "是"]
    assert split_text("……", 80) == []
    assert split_text("", 80) == []


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        split_text("好", 0)
    with pytest.raises(ValueError):
        split_text("好", 10, -1)
    with pytest.raises(TypeError):
        split_text(b"abc")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        iter_chunks("好", 0)


def test_half_a_million_characters_complete():
    unit = SEED_EXCERPT + "\n" + "很长的句子没有标点" * 30 + "。\n"
    text = unit * (500_000 // len(unit) + 1)
    chunks = split_text(text, 80)
    assert len(text) >= 500_000
    assert all(len(c) <= 80 for c in chunks)
    assert "".join(chunks).replace(" ", "") == re.sub(r"\s", "", text)
