"""Front end: symbol table, pinyin → phonemes rules and ids matching phkit's ``hanzi`` cleaner."""

from __future__ import annotations

import pytest

from common.engines.bundled.batching import split_text, token_batches
from common.engines.bundled.frontend import SYMBOLS, FrontEnd, syllable_phonemes, third_tone_sandhi

# Produced by phkit 0.2.11 ``phkit.chinese.text_to_sequence(text, "hanzi")`` (one-off comparison).
PHKIT_IDS = {
    "你好。": [17, 40, 72, 2, 11, 34, 73, 2, 130, 2, 1, 0],
    "卡尔普陪外孙玩滑梯。": [14, 30, 73, 2, 8, 39, 72, 2, 19, 56, 73, 2, 19, 36, 72, 2, 25, 58, 74, 2, 22, 63, 71,
                          2, 25, 59, 72, 2, 11, 57, 72, 2, 24, 40, 71, 2, 130, 2, 1, 0],
    "我们一起去银行取钱吧！": [25, 64, 73, 2, 16, 37, 75, 2, 12, 40, 74, 2, 20, 40, 73, 2, 20, 65, 74, 2, 12, 46, 72,
                            2, 11, 33, 72, 2, 20, 65, 73, 2, 20, 42, 72, 2, 4, 30, 75, 2, 128, 2, 1, 0],
    "CPU和GPU的区别在哪里": [78, 2, 91, 2, 96, 2, 11, 35, 72, 2, 82, 2, 91, 2, 96, 2, 7, 35, 75, 2, 20, 65, 71, 2, 4,
                          45, 72, 2, 28, 31, 74, 2, 17, 30, 72, 2, 15, 40, 73, 2, 1, 0],
    "今天天气很好，我们去公园散步吧": [13, 46, 71, 2, 24, 42, 71, 2, 24, 42, 71, 2, 20, 40, 74, 2, 11, 37, 72, 2, 11, 34,
                                73, 2, 131, 2, 25, 64, 73, 2, 16, 37, 75, 2, 20, 65, 74, 2, 10, 54, 71, 2, 26, 66,
                                72, 2, 22, 32, 74, 2, 4, 56, 74, 2, 4, 30, 75, 2, 1, 0],
    "他把iPhone放在桌上，说OK。": [24, 30, 71, 2, 4, 30, 73, 2, 110, 2, 117, 2, 109, 2, 116, 2, 115, 2, 106, 2, 9, 33,
                               74, 2, 28, 31, 74, 2, 29, 64, 71, 2, 23, 33, 74, 2, 131, 2, 23, 64, 71, 2, 90, 2, 86,
                               2, 130, 2, 1, 0],
}


@pytest.fixture(scope="module")
def frontend() -> FrontEnd:
    fe = FrontEnd()
    fe.warmup()
    return fe


def test_symbol_table_has_the_model_size():
    assert len(SYMBOLS) == 145 and SYMBOLS[:3] == ["_", "~", "-"]


@pytest.mark.parametrize("base, phones", [
    ("zhong", "zh ong"), ("shi", "sh ix"), ("ri", "r iz"), ("si", "s iy"), ("yu", "vv v"), ("yuan", "vv van"),
    ("ju", "j v"), ("lve", "l ve"), ("wei", "uu ui"), ("er", "ee er"), ("ou", "oo ou"), ("n", "n ng"),
    ("you", "ii iu"), ("hm", None), ("xyz", None),
])
def test_syllable_rules(base, phones):
    assert syllable_phonemes(base) == phones


def test_third_tone_sandhi_changes_the_first_of_two():
    assert third_tone_sandhi("n i 3 - h ao 3 - ~ _".split()) == "n i 2 - h ao 3 - ~ _".split()


@pytest.mark.parametrize("text", sorted(PHKIT_IDS))
def test_ids_match_phkit(frontend, text):
    assert frontend(text).ids == PHKIT_IDS[text]


def test_syllable_count_and_last_spoken(frontend):
    res = frontend("你好。")
    assert res.syllables == 2 and res.phonemes[res.last_spoken] == "h"


def test_split_text_prefers_punctuation_and_keeps_latin_words():
    assert split_text("今天天气很好，我们去公园散步吧") == ["今天天气很好，", "我们去公园散步吧"]
    for left, right in [split_text("我们用ABCDEFG来测试这个系统好吗")]:
        assert not (left[-1].isascii() and right[0].isascii())


def test_token_batches_respect_budget():
    lengths = [50, 10, 40, 30, 20]
    batches = token_batches(list(range(5)), lengths, budget=80, max_items=8)
    assert sorted(i for b in batches for i in b) == [0, 1, 2, 3, 4]
    for b in batches:
        assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 80
