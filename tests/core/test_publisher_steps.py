"""The publishers' own cuts of a response (harness.core.publisher_steps), on hand-made texts with known pieces."""

from __future__ import annotations

import pytest

from harness.core.errors import InputError
from harness.core.publisher_steps import (
    StepsOption,
    is_default,
    lines,
    name_variant,
    paragraphs,
    rlhflow_steps,
    rlhflow_variant,
    shepherd_tags,
)

TEXT = "Intro.\n\nStep 1: a = 1  \n\n\nStep 2: b = 2\nso b = 2\n\nThe answer is 2\n"


def test_qwen_and_skywork_keep_every_piece_as_it_is():
    assert paragraphs(TEXT) == ["Intro.", "Step 1: a = 1  ", "\nStep 2: b = 2\nso b = 2", "The answer is 2\n"]
    assert lines(TEXT) == ["Intro.", "", "Step 1: a = 1  ", "", "", "Step 2: b = 2", "so b = 2", "", "The answer is 2",
                           ""]
    assert lines("a\n\nb", "\n\n") == ["a", "b"]  # Skywork's step_token, if another is given


def test_rlhflow_cuts_by_its_two_data_conventions_stripped():
    assert rlhflow_steps(TEXT, "deepseek") == ["Intro.", "Step 1: a = 1", "Step 2: b = 2\nso b = 2", "The answer is 2"]
    tagged = "Step 1: a = 1 ки\nStep 2: b = 2 ки\nThe answer is: 2 ки"
    assert rlhflow_steps(tagged, "mistral") == ["Step 1: a = 1", "Step 2: b = 2", "The answer is: 2 ки"]
    assert rlhflow_steps(tagged, "deepseek") == [tagged]
    assert name_variant("RLHFlow/Llama3.1-8B-PRM-Mistral-Data") == "mistral"
    assert name_variant("/models/Llama3.1-8B-PRM-Deepseek-Data/") == "deepseek"
    assert name_variant("/mistral/prm") is None  # only the model's own name counts, not the folders above it
    assert rlhflow_variant(None, "/mistral/prm", tagged) == "mistral"  # the data's tags
    assert rlhflow_variant(None, "/mistral/prm", TEXT) == "deepseek"
    assert rlhflow_variant(None, "x/Llama3.1-8B-PRM-Deepseek-Data", tagged) == "deepseek"  # the name wins
    assert rlhflow_variant("mistral", "x/Llama3.1-8B-PRM-Deepseek-Data", TEXT) == "mistral"  # the option wins


def test_math_shepherd_tags_every_non_blank_line():
    tagged, ends = shepherd_tags(TEXT, "ки")
    assert tagged == ("Intro. ки\n\nStep 1: a = 1 ки\n\n\nStep 2: b = 2 ки\n"
                      "so b = 2 ки\n\nThe answer is 2 ки\n")
    assert [tagged[e - 1:e + 1] for e in ends] == ["ки"] * 5 and len(ends) == 5
    assert shepherd_tags("", "ки") == (" ки", [2])  # still one score for an empty response
    assert shepherd_tags("a", "@") == ("a @", [2])


def test_the_option_takes_two_modes_and_refuses_others_by_name():
    assert StepsOption().steps == "harness" and StepsOption("publisher").steps == "publisher"
    with pytest.raises(InputError, match=r"field 'steps'.*'paper'.*harness.*publisher"):
        StepsOption("paper")
    assert is_default(None) and is_default("harness") and not is_default("publisher")
