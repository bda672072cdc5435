"""The message catalogue (config/messages.yaml) and ``api.messages.localize``: every message marshmallow and
webargs can write is translated, parameters included; nested errors are walked; an unknown message is shown as
written; a malformed catalogue is refused at start-up."""
from __future__ import annotations

import copy
import inspect
import pickle
import re

import marshmallow as ma
import pytest
import webargs.fields
from marshmallow import validate

from api import messages
from api.messages import CatalogueError, load, localize, translate
from service.i18n import Text

CJK = re.compile(r"[\u3400-\u9fff]")
# Sample values for the parameters of marshmallow's default messages.
SAMPLES = {"input": "abc", "obj_type": "datetime", "awareness": "naive", "choices": "a, b"}


def _default_messages() -> dict[str, str]:
    """Every default error message of every marshmallow and webargs field, and of schemas, by where it is."""
    found = {f"Schema.{key}": text for key, text in ma.Schema.error_messages.items()}
    for module in (ma.fields, webargs.fields):
        for name, cls in inspect.getmembers(module, inspect.isclass):
            for klass in cls.__mro__:
                for key, text in getattr(klass, "default_error_messages", {}).items():
                    found[f"{name}.{key}"] = text
    return found


@pytest.mark.parametrize("where, text", sorted(_default_messages().items()))
def test_every_default_message_has_chinese(where, text):
    filled = text.format(**SAMPLES) if "{" in text else text
    zh = translate(filled, "zh")
    assert CJK.search(zh), f"{where}: {filled!r} has no Chinese in config/messages.yaml"
    assert translate(filled, "en") == filled


def _failure(validator, value) -> str:
    with pytest.raises(ma.ValidationError) as exc:
        validator(value)
    return exc.value.messages[0]


@pytest.mark.parametrize("validator, value, zh", [
    (validate.Range(min=-90, max=90), 91, "须在 -90 到 90 之间（含两端）"),
    (validate.Range(min=0, max=1.5, min_inclusive=False), 0, "须大于 0 且不超过 1.5"),
    (validate.Range(min=1, max=10, max_inclusive=False), 10, "须不小于 1 且小于 10"),
    (validate.Range(min=1, max=10, min_inclusive=False, max_inclusive=False), 10, "须大于 1 且小于 10"),
    (validate.Range(min=1), 0, "须不小于 1"),
    (validate.Range(min=1, min_inclusive=False), 1, "须大于 1"),
    (validate.Range(max=5), 6, "须不超过 5"),
    (validate.Range(max=5, max_inclusive=False), 5, "须小于 5"),
    (validate.Length(min=4), "abc", "长度不能少于 4"),
    (validate.Length(max=2), [1, 2, 3], "长度不能超过 2"),
    (validate.Length(min=1, max=64), "", "长度须在 1 到 64 之间"),
    (validate.Length(equal=18), "123", "长度须为 18"),
    (validate.OneOf(("dine_in", "pickup", "delivery")), "boat", "须为以下之一：dine_in、pickup、delivery"),
    (validate.OneOf(("yes",)), "no", "须为以下之一：yes"),
    (validate.Equal(3), 4, "须等于 3"),
    (validate.Regexp(r"^1\d{10}$"), "123", "格式不正确"),
    (validate.ContainsOnly(("a", "b")), ["c"], "所选的值须在以下范围内：a、b"),
    (validate.ContainsNoneOf(("a", "b")), ["a"], "所选的值不能包括：a、b"),
    (validate.NoneOf(("a",)), "a", "输入无效"),
    (validate.Email(), "nobody", "须为有效的电子邮件地址"),
    (validate.URL(), "nowhere", "须为有效的网址"),
])
def test_every_validator_template_is_translated_with_its_parameters(validator, value, zh):
    english = _failure(validator, value)
    assert translate(english, "zh") == zh
    assert translate(english, "en") == english


def test_a_text_is_in_the_readers_language_and_survives_copies():
    text = Text("须为整数", "must be a whole number")
    assert translate(text, "zh") == "须为整数" and translate(text, "en") == "must be a whole number"
    assert str(text) == "须为整数"  # as a string (e.g. in a log or written without a reader): the default language
    for copied in (copy.copy(text), copy.deepcopy(text), pickle.loads(pickle.dumps(text))):
        assert (copied.zh, copied.en) == (text.zh, text.en)


def test_localize_walks_nested_errors_and_keeps_keys_and_data():
    errors = {"json": {"candidates": {0: {"name": ["Missing data for required field."]}},
                       "_schema": [Text("请至少提供以下一项：name", "Give at least one of: name")],
                       "photos": {"1": ["Not a valid integer."]}},
              "report": {"rows": 3, "dry_run": False, "errors": [{"row": 1, "field": "lat",
                                                                  "message": Text("须为数字", "must be a number")}]},
              "status": ["closed"]}
    zh = localize(errors, "zh")
    assert zh == {"json": {"candidates": {0: {"name": ["此项必填"]}}, "_schema": ["请至少提供以下一项：name"],
                           "photos": {"1": ["须为整数"]}},
                  "report": {"rows": 3, "dry_run": False, "errors": [{"row": 1, "field": "lat", "message": "须为数字"}]},
                  "status": ["closed"]}
    en = localize(errors, "en")
    assert en["json"]["candidates"][0]["name"] == ["Missing data for required field."]
    assert en["json"]["_schema"] == ["Give at least one of: name"]
    assert en["report"]["errors"][0]["message"] == "must be a number" and en["status"] == ["closed"]


@pytest.mark.parametrize("text", ["something nobody wrote down", "Must be one of", "", "Length must be .",
                                  "已是中文的消息"])
def test_an_unknown_message_is_shown_as_written(text):
    assert translate(text, "zh") == text and translate(text, "en") == text


def test_outside_a_request_the_language_is_chinese():
    assert messages.language() == "zh"


@pytest.mark.parametrize("content, problem", [
    ("messages: {}\n", "needs a list"),
    ("- en: a\n  zh: 甲\n", "needs a list"),
    ("messages:\n- en: Must be {min}.\n", "exactly the texts en and zh"),
    ("messages:\n- en: Must be {min}.\n  zh: 须为 {max}\n", "a parameter the English does not have"),
    ("messages:\n- en: Not a file.\n  zh: 甲\n- en: Not a file.\n  zh: 乙\n", "listed twice"),
    ("messages:\n- en: Must be {min}.\n  zh: 甲\n- en: Must be {min}.\n  zh: 乙\n", "listed twice"),
    ("messages: [\n", "while parsing"),
])
def test_a_malformed_catalogue_is_refused(tmp_path, content, problem):
    path = tmp_path / "messages.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CatalogueError, match=re.escape(problem)):
        load(path)


def test_the_catalogue_as_shipped_loads():
    exact, templates = load()
    assert exact["Missing data for required field."] == "此项必填"
    assert len(templates) >= 14
