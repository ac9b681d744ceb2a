"""Front end: symbol table, pinyin → phonemes rules and ids matching phkit's ``hanzi`` cleaner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.engines.bundled.batching import split_text, token_batches
from common.engines.bundled.frontend import (
    SYMBOLS, VALID_SYLLABLES, FrontEnd, normalize_for_frontend, parse_phrase_dict, parse_single_dict, parse_t2s,
    read_numbers, say_number, syllable_phonemes, third_tone_sandhi,
)
from common.engines.bundled.weights import bundle_dir

# Expected ids produced once by phkit 0.2.11 ``phkit.chinese.text_to_sequence(text, "hanzi")``
# (one-off comparison script, not part of the repository): everyday sentences (news, dialogue,
# polyphones, neutral tones, erhua, traditional characters) and sentences with Arabic digits.
PHKIT = json.loads((Path(__file__).parent / "data" / "phkit_ids.json").read_text(encoding="utf-8"))
PHKIT_IDS = PHKIT["sentences"]
PHKIT_DIGIT_IDS = PHKIT["digits"]


@pytest.fixture(scope="module")
def frontend(bundled_settings) -> FrontEnd:
    fe = FrontEnd(bundle_dir(bundled_settings.model_dir))
    fe.warmup()
    assert fe.data is not None
    return fe


def test_symbol_table_has_the_model_size():
    assert len(SYMBOLS) == 145 and SYMBOLS[:3] == ["_", "~", "-"]


@pytest.mark.parametrize("base, phones", [
    ("zhong", "zh ong"), ("shi", "sh ix"), ("ri", "r iz"), ("si", "s iy"), ("yu", "vv v"), ("yuan", "vv van"),
    ("ju", "j v"), ("lve", "l ve"), ("wei", "uu ui"), ("er", "ee er"), ("ou", "oo ou"), ("n", "n ng"),
    ("you", "ii iu"), ("hm", None), ("xyz", None), ("jv", None), ("lue", None), ("ng", "ee ng"), ("wong", "uu uong"),
])
def test_syllable_rules(base, phones):
    assert syllable_phonemes(base) == phones


def test_third_tone_sandhi_changes_the_first_of_two():
    assert third_tone_sandhi("n i 3 - h ao 3 - ~ _".split()) == "n i 2 - h ao 3 - ~ _".split()


def test_syllable_inventory_is_the_models():
    assert len(VALID_SYLLABLES) == 420
    assert all(syllable_phonemes(s) is not None for s in VALID_SYLLABLES)


@pytest.mark.parametrize("text", sorted(PHKIT_IDS))
def test_ids_match_phkit(frontend, text):
    assert frontend(text).ids == PHKIT_IDS[text]


@pytest.mark.parametrize("text", sorted(PHKIT_DIGIT_IDS))
def test_ids_match_phkit_with_digits(frontend, text):
    assert frontend(text).ids == PHKIT_DIGIT_IDS[text]


def test_phkit_readings_take_priority(frontend):
    def pinyin(text):
        return [p for p in frontend.to_pinyin(text) if isinstance(p, str)]

    assert pinyin("事情") == ["shi4", "qing5"]
    assert pinyin("画儿") == ["hua4", "er5"]
    assert pinyin("明白") == ["ming2", "bai5"]


def test_traditional_characters_are_folded(frontend):
    assert frontend("我們一起去圖書館看書吧。").ids == frontend("我们一起去图书馆看书吧。").ids
    assert frontend.normalize("著名") == "着名"  # hanziconv's table folds 著 as phkit does


@pytest.mark.parametrize("number, said", [
    ("3", "三"), ("10", "十"), ("12", "十二"), ("20", "二十"), ("200", "两百"), ("2000", "两千"),
    ("2023", "两千零二十三"), ("22", "二十二"), ("1005", "一千零五"), ("120000", "十二万"), ("3.14", "三点一四"),
    ("0.5", "零点五"), ("100000000", "一亿"),
])
def test_say_number(number, said):
    assert say_number(number) == said


def test_read_numbers_follows_phkit_rules():
    assert read_numbers("今天是2021年5月20日。") == "今天是二零二一年五月二十日。"
    assert read_numbers("比例达到了35%。") == "比例达到了百分之三十五。"
    assert read_numbers("他的电话是13812345678。") == "他的电话是一三八一二三四五六七八。"
    assert read_numbers("3/4") == "四分之三"
    assert read_numbers("O2O") == "O2O"
    assert read_numbers("没有数字") == "没有数字"
    assert normalize_for_frontend("ＡＢＣ１２") == "ABC十二"


def test_data_parsers():
    phrases = parse_phrase_dict('"""\n一个: yí gè\n坏行: x\n画儿: huà er\n"""')
    assert phrases == {"一个": [["yí"], ["gè"]], "画儿": [["huà"], ["er"]]}
    assert parse_single_dict('"""\nU+4E2D: zhōng,zhòng  # 中\n') == {0x4E2D: "zhōng,zhòng"}
    assert parse_t2s(json.dumps({"traditional": "們門著", "simplified": "们门着"})) == {"們": "们", "門": "门", "著": "着"}
    with pytest.raises(ValueError):
        parse_t2s(json.dumps({"traditional": "們", "simplified": ""}))


def test_without_data_falls_back_to_pypinyin():
    fe = FrontEnd()
    res = fe("你好。")
    assert fe.data is None and res.ids == PHKIT_IDS["你好。"]


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
