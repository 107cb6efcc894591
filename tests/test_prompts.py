from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.errors import UsageError
from pipeline.models import Settings
from pipeline.prompts import (
    BUILTIN_CHAT_SYSTEM,
    BUILTIN_MT,
    BUILTIN_MT_AUTO,
    CONTEXT_NOTE,
    Template,
    build_body,
    check_template,
    context_columns,
    context_note,
    load_template,
    parse_template,
)
from pipeline.sim.api import parse


def settings(model: str = "qwen-mt-turbo", **kw: Any) -> Settings:
    values: dict[str, Any] = {"style": "prompt", "template": "", "source_lang": "English"}
    values.update(kw)
    return Settings(model=model, **values)


# --- templates -------------------------------------------------------------------------------


def test_parse_and_render() -> None:
    template = parse_template("Title: {meta.title}\n{text} -> {target_lang}")
    assert template.variables == {"meta.title", "text", "target_lang"}
    assert context_columns(template) == {"meta.title"}
    values = {"meta.title": "Hi", "text": "Hallo", "target_lang": "German"}
    assert template.render(values) == "Title: Hi\nHallo -> German"


def test_literal_braces() -> None:
    template = parse_template("{{json}} {{{text}}} }} {{")
    assert template.variables == {"text"}
    assert template.render({"text": "x"}) == "{json} {x} } {"


def test_values_are_inserted_verbatim() -> None:
    template = parse_template("<{text}>")
    tricky = "Hello {name}, you have %s messages {{ }} {0} %(x)s \\n"
    assert template.render({"text": tricky}) == f"<{tricky}>"


def test_template_built_directly_parses_itself() -> None:
    template = Template("<{text}>", frozenset())
    assert template.variables == {"text"}
    assert template.render({"text": "a"}) == "<a>"
    assert template == parse_template("<{text}>")


def test_template_without_variables() -> None:
    assert parse_template("plain").render({}) == "plain"
    assert parse_template("").render({}) == ""


@pytest.mark.parametrize(
    ("text", "where", "brace"),
    [
        ("a\nb\nxx {text", "line 3, column 4", "{"),
        ("a } b", "line 1, column 3", "}"),
        ("{a{b}", "line 1, column 1", "{"),
    ],
)
def test_unbalanced_brace(text: str, where: str, brace: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_template(text, origin="template.txt")
    assert str(info.value) == (
        f"template.txt: unbalanced '{brace}' at {where}; write '{brace * 2}' for a literal brace"
    )


@pytest.mark.parametrize("text", ["{}", "{ text }", "{a-b}", "{0}", "{a..b}"])
def test_bad_variable_names(text: str) -> None:
    with pytest.raises(UsageError, match=r"template\.txt: .* is not a variable name"):
        parse_template(text, origin="template.txt")


def test_missing_variable_is_named() -> None:
    template = parse_template("{title}: {text} {author}", origin="t.txt")
    with pytest.raises(UsageError) as info:
        template.render({"text": "x"})
    assert str(info.value) == "t.txt: no value for {author}, {title}"


def test_load_template(tmp_path: Path) -> None:
    path = tmp_path / "template.txt"
    path.write_text("Translate into {target_lang}: {text}", encoding="utf-8")
    assert load_template(path).variables == {"target_lang", "text"}


def test_load_template_needs_text(tmp_path: Path) -> None:
    path = tmp_path / "template.txt"
    path.write_text("Translate into {target_lang}", encoding="utf-8")
    with pytest.raises(UsageError, match=r"template\.txt: the template has no \{text\}"):
        load_template(path)


def test_load_template_unreadable(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"missing\.txt: cannot read the template"):
        load_template(tmp_path / "missing.txt")
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9 {text}".encode("latin-1"))
    with pytest.raises(UsageError, match="cannot read the template"):
        load_template(bad)


def test_load_template_reports_position(tmp_path: Path) -> None:
    path = tmp_path / "template.txt"
    path.write_text("line one\nline two\n{text} {oops\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"unbalanced '\{' at line 3, column 8"):
        load_template(path)


def test_check_template() -> None:
    template = parse_template("{title}: {text} into {target_lang} from {source_lang}")
    check_template(template, ["id", "title", "text"], origin="template.txt")
    with pytest.raises(UsageError) as info:
        check_template(template, ["id", "text"], origin="template.txt")
    assert str(info.value).startswith(
        "template.txt: variable {title} is not a column of the input (columns: id, text); "
    )
    two = parse_template("{b} {a} {text}")
    with pytest.raises(UsageError, match=r"variables \{a\}, \{b\} are not columns"):
        check_template(two, iter(["text"]), origin="t")


# --- bodies ----------------------------------------------------------------------------------


def test_mt_prompt_builtin() -> None:
    body = build_body(settings(), "Hello {x} %s", "German")
    expected = (
        BUILTIN_MT.replace("{source_lang}", "English")
        .replace("{target_lang}", "German")
        .replace("{requirements}", "")
    )
    assert body == {
        "model": "qwen-mt-turbo",
        "messages": [{"role": "user", "content": expected.replace("{text}", "Hello {x} %s")}],
    }


def test_mt_prompt_auto_source() -> None:
    body = build_body(settings(source_lang="auto"), "Hi", "Japanese")
    content = (
        BUILTIN_MT_AUTO.replace("{target_lang}", "Japanese")
        .replace("{text}", "Hi")
        .replace("{requirements}", "")
    )
    assert body["messages"] == [{"role": "user", "content": content}]
    assert "from" not in content


def test_mt_prompt_custom_template_with_context() -> None:
    s = settings(template="[{title}] {source_lang}>{target_lang}: {text} {{ok}}")
    body = build_body(s, "Hallo {name}", "French", {"title": "Greeting", "text": "ignored"})
    assert body["messages"] == [
        {"role": "user", "content": "[Greeting] English>French: Hallo {name} {ok}"}
    ]


def test_custom_template_errors() -> None:
    with pytest.raises(UsageError, match=r"no value for \{title\}"):
        build_body(settings(template="{title} {text}"), "x", "German")
    with pytest.raises(UsageError, match=r"no \{text\} variable"):
        build_body(settings(template="Translate please"), "x", "German")


def test_mt_never_gets_a_system_message() -> None:
    for style in ("prompt", "options"):
        for model in ("qwen-mt-flash", "qwen-mt-plus", "qwen-mt-lite", "qwen-mt-future"):
            body = build_body(settings(model, style=style), "Hi", "German")
            assert [m["role"] for m in body["messages"]] == ["user"]


def test_mt_options_style() -> None:
    s = settings("qwen-mt-plus", style="options", source_lang="auto", template="{text}!")
    body = build_body(s, "Hallo {x}", "English")
    assert body == {
        "model": "qwen-mt-plus",
        "messages": [{"role": "user", "content": "Hallo {x}"}],
        "translation_options": {"source_lang": "auto", "target_lang": "English"},
    }


def test_mt_options_extra() -> None:
    terms = [{"source": "Gerät", "target": "device"}]
    extra = {"terms": terms, "domains": "IT manuals"}
    body = build_body(settings(style="options"), "x", "English", options_extra=extra)
    assert body["translation_options"] == {
        "source_lang": "English",
        "target_lang": "English",
        "terms": terms,
        "domains": "IT manuals",
    }


def test_chat_model_thinking_off() -> None:
    body = build_body(settings("qwen3.5-flash"), "Hallo", "German")
    system = (
        BUILTIN_CHAT_SYSTEM.replace("{requirements}", "")
        .replace("{source_lang}", "English")
        .replace("{target_lang}", "German")
    )
    assert body == {
        "model": "qwen3.5-flash",
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": "Hallo"},
        ],
        "enable_thinking": False,
    }


def test_chat_model_without_thinking() -> None:
    body = build_body(settings("qwen2.5-14b-instruct", source_lang="auto"), "Hallo", "German")
    assert "enable_thinking" not in body
    assert body["messages"][0]["role"] == "system"
    assert "from" not in body["messages"][0]["content"]
    assert "German" in body["messages"][0]["content"]


def test_chat_model_custom_template_and_explicit_thinking() -> None:
    s = settings(
        "qwen3.5-plus",
        template="Product {name}: {text}",
        params=(("enable_thinking", True),),
    )
    body = build_body(s, "Stuhl", "English", {"name": "A1"})
    assert body["messages"][1] == {"role": "user", "content": "Product A1: Stuhl"}
    assert body["enable_thinking"] is True


def test_params_and_extra_are_copied() -> None:
    params = (
        ("enable_thinking", False),
        ("response_format", {"type": "text"}),
        ("temperature", 0.2),
        ("top_p", 0.9),
    )
    extra = (("max_tokens", 512), ("stream", False), ("user", "job-7"))
    body = build_body(settings(params=params, extra=extra), "x", "German")
    for name, value in params + extra:
        assert body[name] == value
    assert "stream_options" not in body


def test_stream_adds_include_usage() -> None:
    body = build_body(settings(extra=(("stream", True),)), "x", "German")
    assert body["stream_options"] == {"include_usage": True}
    given = settings(extra=(("stream", True), ("stream_options", {"include_usage": False})))
    assert build_body(given, "x", "German")["stream_options"] == {"include_usage": False}


def test_unknown_style() -> None:
    with pytest.raises(UsageError, match="unknown style 'fancy'"):
        build_body(settings(style="fancy"), "x", "German")


def test_glossary_memory_and_domain_reach_both_styles() -> None:
    base = Settings(
        "qwen-mt-turbo",
        "prompt",
        "",
        "English",
        domain="UI strings, terse",
        memory=(("Save", "Speichern"),),
    )
    terms = (("page", "Seite"),)
    body = build_body(base, "Edit page", "German", terms=terms)
    content = body["messages"][0]["content"]
    instruction, text = content.split("\n\n", 1)
    assert text == "Edit page"
    assert "page -> Seite" in instruction and "UI strings, terse" in instruction
    assert "'Save' -> 'Speichern'" in instruction
    options = build_body(replace(base, style="options"), "Edit page", "German", terms=terms)
    assert options["messages"] == [{"role": "user", "content": "Edit page"}]
    assert options["translation_options"] == {
        "source_lang": "English",
        "target_lang": "German",
        "terms": [{"source": "page", "target": "Seite"}],
        "tm_list": [{"source": "Save", "target": "Speichern"}],
        "domains": "UI strings, terse",
    }


def test_packed_requests_carry_the_numbering_rule() -> None:
    settings = Settings("qwen-mt-turbo", "prompt", "", "auto")
    packed = build_body(settings, "[1] a\n[2] b", "German", packed=True)
    assert "keep every number" in packed["messages"][0]["content"].split("\n\n")[0]


# --- the built-in context note (a catalog run without a template) -------------------------

_NOTE_TEXT = st.text(
    st.characters(whitelist_categories=("L", "N"), whitelist_characters=' ,"…\n'), min_size=1
).filter(lambda v: v.strip())


@pytest.mark.parametrize(
    ("model", "style"),
    [("qwen-mt-turbo", "prompt"), ("qwen-mt-plus", "options"), ("qwen3.5-flash", "prompt")],
)
@given(note=_NOTE_TEXT, text=st.sampled_from(["May", "%d files", "Edit page"]))
def test_a_context_is_read_from_the_instruction_and_never_enters_the_text(
    model: str, style: str, note: str, text: str
) -> None:
    """Without a template, the context values are one line of the instruction (in options
    style, of ``domains``); the simulator reads it as a model would, apart from the text,
    and the glossary after it still parses."""
    base = settings(model, style=style, domain="UI strings")
    terms = (("page", "Seite"),)
    body = build_body(base, text, "Russian", {"context": note}, terms=terms)
    job = parse(body, 0)
    assert job.text == text and job.target == "Russian"
    assert job.context == " ".join(note.split())  # one line: the text after a blank line
    assert job.terms == terms
    if style == "options":  # the domain stays, the note follows it
        assert body["translation_options"]["domains"].startswith("UI strings. Context of")


def test_no_context_note_without_values_or_with_a_template() -> None:
    assert context_note({}) == context_note({"context": " \n"}) == ""
    plain = build_body(settings(), "May", "German")
    assert build_body(settings(), "May", "German", {"context": ""}) == plain
    custom = settings(template="{msgctxt}: {text}")
    body = build_body(custom, "May", "German", {"msgctxt": "month", "context": "msgctxt"})
    assert body["messages"] == [{"role": "user", "content": "month: May"}]
    assert CONTEXT_NOTE.split(":")[0] not in json.dumps(body)
