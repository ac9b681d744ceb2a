"""Unit tests for common.text.normalize: clean_text, normalize_text and preview."""

import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.text.normalize import LETTER_NAMES, clean_text, normalize_text, preview

CASES = [
    # integers as quantities, 零 rules, no 两
    ("1234", "一千二百三十四"),
    ("10", "十"),
    ("15", "十五"),
    ("110", "一百一十"),
    ("1001", "一千零一"),
    ("100010", "十万零一十"),
    ("10000", "一万"),
    ("2", "二"),
    ("1,234,567", "一百二十三万四千五百六十七"),
    ("100000000", "一亿"),
    ("我有3个苹果", "我有三个苹果"),
    # decimals, negatives, percentages
    ("3.14", "三点一四"),
    ("0.5", "零点五"),
    ("-5", "负五"),
    ("温度-5℃", "温度负五摄氏度"),
    ("50%", "百分之五十"),
    ("50％", "百分之五十"),
    ("-5%", "负百分之五"),
    ("降低 40%+", "降低 百分之四十多"),
    ("3%-5%", "百分之三到百分之五"),
    ("3~5%", "百分之三到百分之五"),
    # dates, years, times
    ("2024年3月5日", "二零二四年三月五日"),
    ("2024-03-05", "二零二四年三月五日"),
    ("2024/3/5", "二零二四年三月五日"),
    ("2024.3.5", "二零二四年三月五日"),
    ("1998年", "一九九八年"),
    ("2023-2024年", "二零二三到二零二四年"),
    ("2020-12", "二零二零年十二月"),
    ("3年", "三年"),
    ("15:30", "十五点三十分"),
    ("15:30:20", "十五点三十分二十秒"),
    ("08:05", "八点零五分"),
    ("15:00", "十五点整"),
    ("24:00", "二十四点整"),
    ("比分3:2", "比分三比二"),
    # digit-by-digit readings
    ("13800138000", "一三八零零一三八零零零"),
    ("138-0013-8000", "一三八零零一三八零零零"),
    ("010-12345678", "零一零一二三四五六七八"),
    ("+86 13800138000", "八六一三八零零一三八零零零"),
    ("400-123-4567", "四零零一二三四五六七"),
    ("007", "零零七"),
    ("123456789", "一二三四五六七八九"),
    ("192.168.1.1", "一九二点一六八点一点一"),
    ("numpy==1.23.5", "numpy 一点二三点五"),
    # ordinals, ranges, fractions
    ("第3章", "第三章"),
    ("第10名", "第十名"),
    ("3-5", "三到五"),
    ("3～5", "三到五"),
    ("3-5km", "三到五公里"),
    ("3/4", "四分之三"),
    ("３/４", "四分之三"),
    ("½杯", "二分之一杯"),
    # units and currency
    ("5km", "五公里"),
    ("5 km", "五公里"),
    ("60kg", "六十公斤"),
    ("5m长", "五米长"),
    ("3cm", "三厘米"),
    ("2mm", "二毫米"),
    ("5g", "五克"),
    ("500ml", "五百毫升"),
    ("3L", "三升"),
    ("24h", "二十四小时"),
    ("10min", "十分钟"),
    ("30s", "三十秒"),
    ("120km/h", "一百二十公里每小时"),
    ("100m²", "一百平方米"),
    ("100㎡", "一百平方米"),
    ("37℃", "三十七摄氏度"),
    ("30°C", "三十摄氏度"),
    ("16GB显存", "十六吉字节显存"),
    ("60pp", "六十个百分点"),
    ("¥100", "一百元"),
    ("￥5万", "五万元"),
    ("$5.99", "五点九九美元"),
    ("€20", "二十欧元"),
    # operators
    ("<3s", "小于三秒"),
    ("≥18岁", "大于等于十八岁"),
    ("1+1=2", "一加一等于二"),
    ("1920x1080", "一千九百二十乘一千零八十"),
    # full-width, Latin letters, acronyms
    ("ＡＢＣ１２３", "诶比西一百二十三"),
    ("AI和GDP", "诶艾和吉迪批"),
    ("T4显卡", "提四显卡"),
    ("Flask框架", "Flask框架"),
    ("Python 3.9", "Python 三点九"),
    ("R&D", "阿尔和迪"),
    # footnotes, superscripts, emoji, symbols
    ("注释①和⑵还有[1]", "注释和还有"),
    ("见文献[1,2]。", "见文献。"),
    ("文本¹结束", "文本结束"),
    ("好😀的✅", "好的"),
    ("✅ 长文本", "长文本"),
    ("第Ⅲ卷", "第三卷"),
    # punctuation kept, whitespace cleaned
    ("“你好”，他说：（《书》……）！", "“你好”，他说：（《书》……）！"),
    ("一\u3000二\r\n\r\n\r\n三", "一 二\n\n三"),
    ("", ""),
]


@pytest.mark.parametrize(("text", "spoken"), CASES)
def test_normalize_table(text, spoken):
    assert normalize_text(text) == spoken


@pytest.mark.parametrize(("text", "spoken"), CASES)
def test_normalize_table_is_idempotent(text, spoken):
    assert normalize_text(spoken) == spoken


CLEAN_CASES = [
    ("a\r\nb\rc", "a\nb\nc"),
    ("a\u3000\u3000b", "a b"),
    ("a \t\u00a0 b", "a b"),
    ("a\n\n\n\nb", "a\n\nb"),
    ("  a \n b  ", "a\nb"),
    ("a\u200bb\ufeff", "ab"),
    ("a\x00b\x07c", "abc"),
    ("a\u2028b", "a\nb"),
    ("3.14 AI ①", "3.14 AI ①"),
]


@pytest.mark.parametrize(("text", "cleaned"), CLEAN_CASES)
def test_clean_text_table(text, cleaned):
    assert clean_text(text) == cleaned


def test_clean_text_handles_every_invisible_and_space_character():
    for code in range(0x110000):
        ch = chr(code)
        category = unicodedata.category(ch)
        if category in ("Cc", "Cf", "Cs", "Zs", "Zl", "Zp") and ch != "\n":
            assert clean_text(f"a{ch}b") in ("ab", "a b", "a\nb"), hex(code)


def test_letter_names_cover_the_alphabet():
    assert sorted(LETTER_NAMES) == [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    assert all(re.fullmatch(r"[\u4e00-\u9fff]+", name) for name in LETTER_NAMES.values())


def test_long_acronyms_and_words_are_kept():
    assert normalize_text("WARNING and Sambert") == "WARNING and Sambert"


def test_preview_lists_changed_spans():
    assert preview("我有3个苹果，AI很强😀") == [("3", "三"), ("AI", "诶艾"), ("😀", "")]
    assert preview("没有变化。") == []


_CJK = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可也你"
_ALPHABET = (
    _CJK + "0123456789０１２３４５６７８９" + "ABCDEGIKLMPSTVWXZabcdeghklmstxＡｂ"
    + ".,:;!?-/~～%％+=<>×÷$¥￥€£℃°²³¹‰½Ⅲ#&*@_|^`"
    + "。！？；，、：“”‘’（）《》…—·「」[]【】①⑴⒈❶" + " \u3000\t\r\n\u200b😀✅🎯\ufe0f"
    + "年月日号第点万亿"
)
_texts = st.text(alphabet=st.sampled_from(_ALPHABET), max_size=60)
_any_texts = st.one_of(_texts, st.text(max_size=40))


@settings(max_examples=1500, deadline=None)
@given(_any_texts)
def test_normalize_is_idempotent_and_total(text):
    once = normalize_text(text)
    assert normalize_text(once) == once


@settings(max_examples=500, deadline=None)
@given(_texts)
def test_normalize_reads_every_ascii_digit(text):
    spoken = normalize_text(text)
    assert not re.search("[0-9０-９]", spoken)
    assert clean_text(spoken) == spoken


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=60))
def test_clean_text_is_idempotent(text):
    cleaned = clean_text(text)
    assert clean_text(cleaned) == cleaned
    assert "\r" not in cleaned and "  " not in cleaned and "\n\n\n" not in cleaned
    assert cleaned == cleaned.strip()


@settings(max_examples=200, deadline=None)
@given(_any_texts)
def test_preview_never_raises(text):
    for before, after in preview(text):
        assert before or after
