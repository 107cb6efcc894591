"""The simulator, driven over loopback with a real httpx client."""

from __future__ import annotations

import json
import math
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from pipeline.models import Settings
from pipeline.prompts import build_body
from pipeline.qa import check, placeholders
from pipeline.sim import SimConfig, SimThread, main, parse_faults, pseudo_translate, serve
from pipeline.sim.pseudo import corrupt

ROOT = Path(__file__).resolve().parent.parent
UI_STRINGS = Path(__file__).parent / "data" / "ui_strings.jsonl"
KEY = {"Authorization": "Bearer sk-test"}
PROMPT = "Translate the following text from English into {lang}.\n\n{text}"


@asynccontextmanager
async def client(
    config: SimConfig | None = None, **kwargs: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A simulator on a free port and a client pointed at it (``base_url`` ends in /v1)."""
    async with serve(config or SimConfig()) as url:
        kwargs.setdefault("timeout", 5.0)
        async with httpx.AsyncClient(base_url=url, headers=KEY, **kwargs) as http:
            yield http


def chat(text: str, model: str = "qwen-mt-flash", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


async def post(http: httpx.AsyncClient, body: Any, **kwargs: Any) -> httpx.Response:
    return await http.post("/chat/completions", json=body, **kwargs)


async def stats(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.get(str(http.base_url).removesuffix("/v1/") + "/_sim/stats")
    return response.json()  # type: ignore[no-any-return]


def content(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]["content"]  # type: ignore[no-any-return]


def error(response: httpx.Response) -> dict[str, Any]:
    return response.json()["error"]  # type: ignore[no-any-return]


def katakana(text: str) -> bool:
    return any("\u30a0" <= ch <= "\u30ff" for ch in text)


def cyrillic(text: str) -> bool:
    return any("\u0400" <= ch <= "\u04ff" for ch in text)


# --- requests and answers ------------------------------------------------------------------


@pytest.mark.anyio
async def test_answer_and_billed_usage() -> None:
    prompt = PROMPT.format(lang="German", text="Hello world, this is a test.")
    async with client() as http:
        response = await post(http, chat(prompt))
    body = response.json()
    answer = pseudo_translate("Hello world, this is a test.", "German")
    assert content(response) == answer and body["choices"][0]["finish_reason"] == "stop"
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-sim-")
    assert body["model"] == "qwen-mt-flash" and isinstance(body["created"], int)
    completion = math.ceil(len(answer) / 4)
    assert body["usage"] == {
        "prompt_tokens": 45 + math.ceil(len(prompt) / 4),
        "completion_tokens": completion,
        "total_tokens": 45 + math.ceil(len(prompt) / 4) + completion,
        "input_tokens": 45 + math.ceil(len(prompt) / 4),
        "output_tokens": completion,
    }


@pytest.mark.anyio
async def test_prompt_style_finds_the_target_language() -> None:
    async with client(SimConfig(overhead_tokens=0)) as http:
        japanese = await post(http, chat("Translate into Japanese:\n\nGood morning"))
        chinese = await post(http, chat(PROMPT.format(lang="Traditional Chinese", text="Hi")))
        plain = await post(http, chat("Good morning\n\nSecond paragraph"))
        unknown = await post(http, chat("Please translate into Klingon.\n\nGood morning"))
    assert content(japanese) == pseudo_translate("Good morning", "Japanese")
    assert katakana(content(japanese))
    assert content(chinese) == pseudo_translate("Hi", "Traditional Chinese")
    assert "\u4e00" <= content(chinese)[0] <= "\u9fff"
    # no "Translate ... into X." first paragraph: the whole message into German
    assert content(plain) == pseudo_translate("Good morning\n\nSecond paragraph", "German")
    assert content(unknown) == pseudo_translate(
        "Please translate into Klingon.\n\nGood morning", "German"
    )


@pytest.mark.anyio
async def test_translation_options_style_and_its_billing() -> None:
    options = {
        "source_lang": "auto",
        "target_lang": "ru",
        "terms": [{"source": "a", "target": "b"}],
    }
    async with client() as http:
        response = await post(http, chat("Save the page", translation_options=options))
        by_name = await post(http, chat("Save", translation_options={"target_lang": "Korean"}))
        bad = await post(http, chat("Save", translation_options={"source_lang": "en"}))
    assert content(response) == pseudo_translate("Save the page", "Russian")
    assert cyrillic(content(response))
    expected = 45 + math.ceil(len("Save the page") / 4) + math.ceil(len(json.dumps(options)) / 4)
    assert response.json()["usage"]["prompt_tokens"] == expected
    assert "\uac00" <= content(by_name)[0] <= "\ud7a3"  # Hangul
    assert bad.status_code == 400 and error(bad)["code"] == "invalid_parameter_error"


@pytest.mark.anyio
async def test_chat_model_takes_the_target_from_the_system_message() -> None:
    messages = [
        {"role": "system", "content": "You translate software strings into Japanese. Keep tags."},
        {"role": "user", "content": "Open <b>settings</b>"},
    ]
    async with client() as http:
        response = await post(http, {"model": "qwen2.5-14b-instruct", "messages": messages})
    assert content(response) == pseudo_translate("Open <b>settings</b>", "Japanese")
    assert "<b>" in content(response) and katakana(content(response))


@pytest.mark.anyio
async def test_system_message_to_qwen_mt_is_the_real_500() -> None:
    messages = [{"role": "system", "content": "Translate into German."}]
    messages.append({"role": "user", "content": "Hello"})
    async with client() as http:
        response = await post(http, {"model": "qwen-mt-plus", "messages": messages})
        two_users = await post(http, {"model": "qwen-mt-plus", "messages": messages[1:] * 2})
    assert response.status_code == 500
    assert error(response) == {
        "message": "<400> InternalError.Algo.InvalidParameter: Role must be in [user, assistant]",
        "type": "InternalError",
        "code": "InternalError",
    }
    assert two_users.status_code == 400


@pytest.mark.anyio
async def test_bad_requests() -> None:
    async with client() as http:
        no_key = await http.post(
            "/chat/completions", json=chat("Hi"), headers={"Authorization": ""}
        )
        invalid = await post(http, chat("Hi"), headers={"Authorization": "Bearer sk-invalid"})
        missing = await post(http, chat("Hi", model="qwen-sim-missing"))
        not_json = await http.post("/chat/completions", content=b"{nope")
        no_model = await post(http, {"messages": [{"role": "user", "content": "Hi"}]})
        no_messages = await post(http, {"model": "qwen-mt-flash", "messages": []})
        bad_max = await post(http, chat("Hi", max_tokens=0))
        counted = await stats(http)
    for response in (no_key, invalid):
        assert response.status_code == 401
        assert error(response) == {
            "message": "Incorrect API key provided.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    assert missing.status_code == 404 and error(missing)["code"] == "model_not_found"
    assert "qwen-sim-missing" in error(missing)["message"]
    for response in (not_json, no_model, no_messages, bad_max):
        assert response.status_code == 400
        assert error(response)["code"] == "invalid_parameter_error"
    assert counted["requests"] == 7 and counted["ok"] == 0
    assert counted["errors"] == {"401": 2, "404": 1, "400": 4}


@pytest.mark.anyio
async def test_max_tokens_cuts_the_answer() -> None:
    text = "A long sentence that will certainly need more than three tokens."
    async with client() as http:
        response = await post(http, chat(text, max_tokens=3))
        enough = await post(http, chat(text, max_tokens=1000))
    body = response.json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert content(response) == pseudo_translate(text, "German")[:12]
    assert body["usage"]["completion_tokens"] == 3
    assert enough.json()["choices"][0]["finish_reason"] == "stop"


@pytest.mark.anyio
async def test_latency_is_added() -> None:
    async with client(SimConfig(latency=0.05)) as http:
        started = time.perf_counter()
        await post(http, chat("Hi"))
    assert time.perf_counter() - started >= 0.05


# --- streaming -----------------------------------------------------------------------------


def events(response: httpx.Response) -> list[Any]:
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    raw = [e.removeprefix("data: ") for e in response.text.split("\n\n") if e]
    assert raw[-1] == "[DONE]"
    return [json.loads(e) for e in raw[:-1]]


@pytest.mark.anyio
async def test_stream_whole_text_for_turbo_with_usage() -> None:
    text = "Streaming sends the text in several chunks, for turbo the whole text so far."
    body = chat(text, model="qwen-mt-turbo", stream=True, stream_options={"include_usage": True})
    async with client() as http:
        chunks = events(await post(http, body))
    answer = pseudo_translate(text, "German")
    *content_chunks, usage_chunk = chunks
    texts = [c["choices"][0]["delta"]["content"] for c in content_chunks]
    assert 3 <= len(texts) <= 5 and texts[-1] == answer
    assert all(answer.startswith(t) and t for t in texts)  # every chunk: the whole text so far
    assert [c["choices"][0]["finish_reason"] for c in content_chunks][-2:] == [None, "stop"]
    assert content_chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["completion_tokens"] == math.ceil(len(answer) / 4)


@pytest.mark.anyio
async def test_stream_increments_for_flash_without_usage() -> None:
    text = "Flash and lite send increments that add up to the answer."
    async with client() as http:
        chunks = events(await post(http, chat(text, stream=True, max_tokens=5)))
    texts = [c["choices"][0]["delta"]["content"] for c in chunks]
    assert "".join(texts) == pseudo_translate(text, "German")[:20] and len(texts) == 4
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert all("usage" not in c for c in chunks)


# --- faults --------------------------------------------------------------------------------

ERROR_FAULTS = {
    "429": (429, "limit_requests", "Requests rate limit exceeded"),
    "500": (500, "InternalError", "An internal error has occured"),
    "503": (503, "ServiceUnavailable", "The model is overloaded"),
    "moderation": (400, "data_inspection_failed", "inappropriate content"),
    "billing": (429, "Arrearage", "good standing"),
}


@pytest.mark.anyio
@pytest.mark.parametrize("kind", sorted(ERROR_FAULTS))
async def test_error_faults(kind: str) -> None:
    status, code, message = ERROR_FAULTS[kind]
    async with client(SimConfig(faults=((kind, 1.0),))) as http:
        response = await post(http, chat("Hello"))
        counted = await stats(http)
    assert response.status_code == status
    assert error(response)["code"] == code and message in error(response)["message"]
    assert response.headers.get("Retry-After") == ("1" if kind == "429" else None)
    assert counted["faults"] == {kind: 1} and counted["ok"] == 0


@pytest.mark.anyio
async def test_reset_fault_drops_the_connection() -> None:
    async with client(SimConfig(faults=(("reset", 1.0),))) as http:
        with pytest.raises(httpx.TransportError):
            await post(http, chat("Hello"))


@pytest.mark.anyio
async def test_hang_fault_outlasts_the_client_timeout() -> None:
    config = SimConfig(faults=(("hang", 1.0),), hang_seconds=0.5)
    started = time.perf_counter()
    async with client(config, timeout=0.2) as http:
        with pytest.raises(httpx.ReadTimeout):
            await post(http, chat("Hello"))
    assert time.perf_counter() - started < 2.0  # the server also shut down promptly


@pytest.mark.anyio
async def test_200_faults_without_a_usable_answer() -> None:
    async with client(SimConfig(faults=(("badjson", 1.0),))) as http:
        bad = await post(http, chat("Hello"))
    assert bad.status_code == 200 and bad.headers["content-type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        bad.json()
    async with client(SimConfig(faults=(("envelope", 1.0),))) as http:
        envelope = (await post(http, chat("Hello"))).json()
    assert envelope == {
        "error": {"message": "Service busy", "code": "ServiceBusy"},
        "message": "failed",
    }


@pytest.mark.anyio
async def test_length_fault_cuts_the_answer_in_half() -> None:
    async with client(SimConfig(faults=(("length", 1.0),))) as http:
        response = await post(http, chat("Some text that gets cut in half"))
    answer = pseudo_translate("Some text that gets cut in half", "German")
    assert content(response) == answer[: len(answer) // 2]
    assert response.json()["choices"][0]["finish_reason"] == "length"
    assert response.json()["usage"]["completion_tokens"] == math.ceil(len(answer) // 2 / 4)


@pytest.mark.anyio
async def test_fault_draws_follow_the_seed() -> None:
    config = SimConfig(seed=7, faults=(("429", 0.3), ("503", 0.2)))
    runs = []
    for _ in range(2):
        async with client(config) as http:
            runs.append([(await post(http, chat(f"t{i}"))).status_code for i in range(40)])
    assert runs[0] == runs[1] and {429, 503, 200} == set(runs[0])


@pytest.mark.anyio
async def test_text_markers_and_stats() -> None:
    flaky, bad = "Flaky cell [[sim:flaky]]", "Bad cell [[sim:moderation]]"
    async with client() as http:
        codes = [(await post(http, chat(text))).status_code for text in (flaky, flaky, bad, bad)]
        other = await post(http, chat("Another [[sim:flaky]]"))
        await post(http, chat("Fine"))
        counted = await stats(http)
        await http.post(str(http.base_url).removesuffix("/v1/") + "/_sim/reset")
        cleared = await stats(http)
        again = await post(http, chat(flaky))  # the flaky memory survives a stats reset
    assert codes == [500, 200, 400, 400] and other.status_code == 500
    assert content(again) == pseudo_translate(flaky, "German")
    assert "[[sim:flaky]]" in content(again)
    assert counted.pop("span") > 0  # six arrivals, one after another
    assert counted == {
        "requests": 6,
        "ok": 2,
        "faults": {"flaky": 2, "moderation": 2},
        "errors": {},
        "throttled": {},
        "texts": {flaky: 2, bad: 2, "Another [[sim:flaky]]": 1, "Fine": 1},
        "contexts": {},
        "corrupted": {},
        "packs": {},
        "peak_in_flight": 1,  # one after another
    }
    assert cleared == {
        "requests": 0,
        "ok": 0,
        "faults": {},
        "errors": {},
        "throttled": {},
        "texts": {},
        "contexts": {},
        "corrupted": {},
        "packs": {},
        "span": 0.0,
        "peak_in_flight": 0,
    }


# --- glossary terms ------------------------------------------------------------------------

TERMS = [("page tree", "Seitenbaum"), ("page", "Seite"), ("Draft", "Entwurf")]


def mt_body(text: str, lang: str = "German", *, style: str = "prompt", **kw: Any) -> dict[str, Any]:
    """The body mtpipe itself sends (``prompts.build_body``)."""
    domain, memory = kw.pop("domain", ""), kw.pop("memory", ())
    settings = Settings("qwen-mt-flash", style, "", "auto", domain=domain, memory=memory)
    return build_body(settings, text, lang, **kw)


def test_pseudo_translation_puts_glossary_terms_in() -> None:
    text = "Edit the Page  tree, the page, pages, a draft and {page} of <b>DRAFT</b>"
    out = pseudo_translate(text, "German", terms=TERMS)
    # longest first, any case, any white space; whole words only; never inside placeholders
    assert out.count("Seitenbaum") == 1 and out.count("Seite") == 2 and "Entwurf" in out
    assert "<b>Entwurf</b>" in out and "{page}" in out and "pages" not in out
    assert pseudo_translate(text, "German", terms=TERMS[::-1]) == out  # longest first anyway
    assert pseudo_translate(text, "ja", terms=TERMS).count("Seite") == 2  # any script
    assert pseudo_translate("Pages", "de", terms=TERMS) == pseudo_translate("Pages", "de")
    plural = "{n, plural, one {# page} other {# pages}}"
    assert pseudo_translate(plural, "de", terms=TERMS).startswith("{n, plural, one {# Seite} ")
    assert pseudo_translate("x", "de", terms=[("", "leer"), ("  ", "y")]) == "ẋ"
    assert pseudo_translate("Die STRAßE", "de", terms=[("Straße", "Street")]).endswith(" Street")


@pytest.mark.anyio
@pytest.mark.parametrize("style", ["prompt", "options"])
async def test_glossary_terms_reach_the_answer(style: str) -> None:
    text = "Save the page tree as a draft"
    pack = "[1] Open the page\n[2] Publish the draft"
    memory = (("Save", "Speichern"),)
    async with client() as http:
        single = await post(http, mt_body(text, style=style, terms=TERMS))
        # with domain, memory and the pack rule around the glossary sentence
        packed = await post(
            http,
            mt_body(
                pack, style=style, terms=TERMS, packed=True, domain="CMS. Concise.", memory=memory
            ),
        )
    assert content(single) == pseudo_translate(text, "German", terms=TERMS)
    assert "Seitenbaum" in content(single) and "Entwurf" in content(single)
    assert lines(packed) == [
        "[1] " + pseudo_translate("Open the page", "German", terms=TERMS),
        "[2] " + pseudo_translate("Publish the draft", "German", terms=TERMS),
    ]


@pytest.mark.anyio
async def test_glossary_terms_from_a_chat_system_message_and_bad_terms() -> None:
    system = "Translate the user's text into German. Translate these terms exactly so: a -> b; "
    system += "tree -> Baum; odd; x->y."
    messages = [{"role": "system", "content": system}, {"role": "user", "content": "A tree"}]
    bad = {"target_lang": "German", "terms": [{"source": "a"}]}
    async with client() as http:
        answer = await post(http, {"model": "qwen2.5-14b-instruct", "messages": messages})
        refused = await post(http, chat("Hi", translation_options=bad))
    assert content(answer) == "b Baum"
    assert refused.status_code == 400 and "terms" in error(refused)["message"]


# --- QA faults -----------------------------------------------------------------------------


def lines(response: httpx.Response) -> list[str]:
    return content(response).split("\n")


def segments(response: httpx.Response) -> list[str]:
    """A pack's answer without its ``[n] `` prefixes, which must run 1, 2, 3 ..."""
    numbered = [line.partition(" ") for line in lines(response)]
    assert [n for n, _, _ in numbered] == [f"[{i}]" for i in range(1, len(numbered) + 1)]
    return [text for _, _, text in numbered]


def pack_of(texts: list[str]) -> str:
    return "\n".join(f"[{i}] {text}" for i, text in enumerate(texts, 1))


MIXED = [
    "Delete %(name)s now",
    "Plain words only",
    "OK",
    "{count, plural, one {# file} other {# files}}",
    "<b>Bold</b> move",
    "%(count)s / %(total)s",
]


@pytest.mark.anyio
async def test_placeholders_fault_breaks_only_segments_with_a_placeholder() -> None:
    async with client(SimConfig(faults=(("placeholders", 1.0),))) as http:
        answer = segments(await post(http, chat(PROMPT.format(lang="German", text=pack_of(MIXED)))))
        counted = await stats(http)
    right = [pseudo_translate(text, "German") for text in MIXED]
    broken = [text for text, out, ok in zip(MIXED, answer, right, strict=True) if out != ok]
    assert broken == [text for text in MIXED if placeholders(text)]
    for text, out in zip(MIXED, answer, strict=True):
        flags = check(text, out, target_lang="German")
        assert flags == (("placeholders",) if text in broken else ()), (text, out)
    assert counted["corrupted"] == {"placeholders": 4} and counted["ok"] == 1
    assert "%(ñáááḿé)s" in answer[0] and "pluriel" in answer[3]
    assert ("<b>" in answer[4]) != ("</b>" in answer[4])  # one of the two tags dropped


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["echo", "dropterms", "script"])
async def test_echo_dropterms_and_script_faults(kind: str) -> None:
    texts = ["Save the page", "OK", "Delete the draft now", "{name}"]
    async with client(SimConfig(faults=((kind, 1.0),))) as http:
        answer = segments(await post(http, mt_body(pack_of(texts), terms=TERMS, packed=True)))
        japanese = content(await post(http, mt_body("Save the page", "Japanese")))
        counted = await stats(http)
    right = [pseudo_translate(text, "German", terms=TERMS) for text in texts]
    wrong = {
        "echo": texts[::2],
        "dropterms": [pseudo_translate(text, "German") for text in texts[::2]],
        "script": [pseudo_translate(text, "Russian") for text in texts[::2]],  # Cyrillic
    }[kind]
    assert answer == [wrong[0], right[1], wrong[1], right[3]]  # "OK", "{name}": nothing to do
    flags = [
        check(text, out, target_lang="de", terms=TERMS)
        for text, out in zip(texts, answer, strict=True)
    ]
    expected = {"echo": "echo", "dropterms": "glossary", "script": "script"}[kind]
    assert [expected in f for f in flags] == [True, False, True, False]
    assert flags[1::2] == [(), ()]
    assert (
        japanese
        == {
            "echo": "Save the page",
            "dropterms": pseudo_translate("Save the page", "Japanese"),  # no terms to drop
            "script": pseudo_translate("Save the page", "English"),  # Latin
        }[kind]
    )
    assert counted["corrupted"] == {kind: 2 if kind == "dropterms" else 3}


@pytest.mark.anyio
async def test_answer_fault_draws_are_seeded_per_segment() -> None:
    texts = [f"Rename {{item{i}}} to %(name)s" for i in range(300)]
    body = chat(PROMPT.format(lang="German", text=pack_of(texts)))
    rounds: dict[int, list[list[str]]] = {}
    for seed in (1, 1, 2):
        config = SimConfig(seed=seed, faults=(("placeholders", 0.2), ("echo", 0.1)))
        async with client(config) as http:
            runs = [segments(await post(http, body)) for _ in range(2)]
            counted = (await stats(http))["corrupted"]
        assert 60 < counted["placeholders"] < 180 and 25 < counted["echo"] < 95
        if seed in rounds:
            assert runs == rounds[seed]  # the same seed corrupts the same segments
        rounds[seed] = runs
    assert rounds[1][0] != rounds[1][1]  # a segment sent again draws again
    assert rounds[1][0] != rounds[2][0]


@pytest.mark.anyio
async def test_fault_markers() -> None:
    echo, latin = "Say [[sim:echo]] hi", "Read this [[sim:latin]]"
    once, always = "Delete {count} files [[sim:breakph]]", "Rename %s [[sim:breakph-always]]"
    sent = [(echo, "German"), (once, "German"), (once, "German"), (once, "Japanese")]
    sent += [(always, "German"), (always, "German"), (latin, "Japanese"), (latin, "German")]
    async with client() as http:
        answers = [
            content(await post(http, chat(PROMPT.format(lang=lang, text=text))))
            for text, lang in sent
        ]
        counted = await stats(http)
    assert answers[0] == echo
    assert "{count}" not in answers[1] and answers[2] == pseudo_translate(once, "German")
    assert "{count}" not in answers[3] and katakana(answers[3])  # first time in Japanese
    assert answers[4] == answers[5] and "%s" not in answers[4] and "breakph-always" in answers[4]
    assert answers[6] == pseudo_translate(latin, "English") and answers[6] != latin
    assert answers[7] == pseudo_translate(latin, "German")  # Latin is the right script there
    assert counted["corrupted"] == {"echo": 1, "placeholders": 4, "script": 1}


@pytest.mark.anyio
async def test_answer_faults_leave_request_faults_alone() -> None:
    config = SimConfig(seed=4, faults=(("echo", 0.9), ("503", 0.1)))
    async with client(config) as http:
        codes = Counter([(await post(http, chat("Hello there"))).status_code for _ in range(200)])
        counted = await stats(http)
    assert 5 < codes[503] < 40 and codes[200] == 200 - codes[503]  # ~10% per request
    assert 150 < counted["corrupted"]["echo"] < codes[200]  # ~90% of the answers


def test_answer_faults_are_parsed_and_checked() -> None:
    assert parse_faults("429=0.6,placeholders=0.6,echo=0.2,dropterms=0.1,script=0.1") == (
        ("429", 0.6),
        ("placeholders", 0.6),
        ("echo", 0.2),
        ("dropterms", 0.1),
        ("script", 0.1),
    )
    with pytest.raises(ValueError, match="more than 1"):
        parse_faults("echo=0.6,script=0.6")
    with pytest.raises(ValueError, match=r"known: 429, .*placeholders, echo, dropterms, script"):
        parse_faults("garble=0.1")


@pytest.mark.parametrize("lang", ["German", "Japanese", "Russian"])
def test_every_corruption_of_the_corpus_is_a_fault_qa_flags(lang: str) -> None:
    counts: Counter[str] = Counter()
    for i, text in enumerate(ui_strings()):
        for kind in ("placeholders", "echo", "script"):
            wrong = corrupt(text, lang, kind, pick=i)
            if wrong is None:
                continue
            counts[kind] += 1
            assert kind in check(text, wrong, target_lang=lang), (kind, text, wrong)
        if placeholders(text):  # every segment with a placeholder can have one broken
            assert corrupt(text, lang, "placeholders") is not None, text
    assert counts["placeholders"] > 1000 and counts["echo"] > 2000 and counts["script"] > 2000


def test_corrupt_refuses_what_cannot_show_the_fault() -> None:
    for text in ("OK", "URL", "%(count)s / %(total)s", "{count}", "42", "[[sim:flaky]]"):
        assert corrupt(text, "German", "echo") is None, text
    # echoed exactly when QA flags an echo: a word of 2+ letters not all capitals (the
    # simulator once asked for 4+ ASCII letters, so "No" or "Café" were never echoed)
    for text in ("No", "Yes", "Café", "保存", "by %(user)s"):
        assert corrupt(text, "German", "echo") == text
        assert "echo" in check(text, text, target_lang="German"), text
    for text in ("OK", "Café crème", "%(name)s", "{name} <b>{x}</b>"):
        assert corrupt(text, "German", "script") is None, text
    assert corrupt("Plain words", "German", "placeholders") is None
    assert corrupt("Save the page", "German", "dropterms") is None  # no terms
    assert corrupt("Save it", "German", "dropterms", terms=TERMS) is None  # none found
    assert corrupt("Save it", "German", "latin") is None  # German is written in Latin script
    assert corrupt("{count}", "Japanese", "latin") is None  # nothing would change
    # a placeholder that is the whole text is "translated" rather than dropped
    assert corrupt("{count}", "German", "placeholders") == "{çöööüñţ}"
    assert corrupt("%s", "German", "placeholders") == "%š"


# --- quota mode ----------------------------------------------------------------------------


async def burst_of(http: httpx.AsyncClient, n: int) -> list[httpx.Response]:
    """``n`` requests sent at once."""
    responses: list[httpx.Response] = []

    async def one(i: int) -> None:
        responses.append(await post(http, chat(f"Hello {i}")))

    async with anyio.create_task_group() as tg:
        for i in range(n):
            tg.start_soon(one, i)
    return responses


def codes(responses: list[httpx.Response]) -> Counter[object]:
    return Counter(r.json()["error"]["code"] if r.status_code == 429 else r.status_code
                   for r in responses)  # fmt: skip


@pytest.mark.anyio
async def test_requests_per_second() -> None:
    async with client(SimConfig(rpm=120), limits=httpx.Limits(max_connections=20)) as http:
        responses = await burst_of(http, 10)
        counted = await stats(http)
    assert codes(responses) == {200: 2, "limit_requests": 8}  # 120/min: 2 in any second
    refused = next(r for r in responses if r.status_code == 429)
    assert error(refused) == {
        "message": "Requests rate limit exceeded, please try again later.",
        "type": "limit_requests",
        "param": None,
        "code": "limit_requests",
    }
    assert refused.headers["Retry-After"] == "1"
    assert counted["throttled"] == {"limit_requests": 8}
    assert counted["requests"] == 10 and counted["ok"] == 2


@pytest.mark.anyio
async def test_requests_per_minute_without_the_per_second_limit() -> None:
    async with client(SimConfig(rpm=4, per_second=False)) as http:
        responses = [await post(http, chat(f"Hello {i}")) for i in range(6)]
    assert [r.status_code for r in responses] == [200] * 4 + [429] * 2
    assert error(responses[-1])["code"] == "limit_requests"
    assert responses[-1].headers["Retry-After"] in ("59", "60")  # the first frees in a minute
    async with client(SimConfig(rpm=120, per_second=False)) as http:
        assert codes(await burst_of(http, 10)) == {200: 10}


@pytest.mark.anyio
@pytest.mark.parametrize("per_second", [True, False])
async def test_burst_limit(per_second: bool) -> None:
    config = SimConfig(rpm=600, burst=True, per_second=per_second)
    async with client(config, limits=httpx.Limits(max_connections=20)) as http:
        responses = await burst_of(http, 15)
        counted = await stats(http)
    # from nothing to 15 in a second: more than 600/60 and more than twice the 10 s before
    assert codes(responses) == {200: 10, "limit_burst_rate": 5}
    refused = next(r for r in responses if r.status_code == 429)
    assert error(refused)["message"] == (
        "Request rate increased too quickly. To ensure system stability, please adjust your "
        "client logic to scale requests more smoothly over time."
    )
    assert refused.headers["Retry-After"] == "1"
    assert counted["throttled"] == {"limit_burst_rate": 5}


def test_burst_is_a_ramp_not_a_steady_rate() -> None:
    from pipeline.sim.limits import Limits

    def after_ten_steady_seconds(per_second: bool) -> list[tuple[str, str] | None]:
        """19.5 a second for 10 s (under 1200/60), then 40 more within 40 ms."""
        limits = Limits(SimConfig(rpm=1200, burst=True, per_second=per_second))
        assert all(limits.admit(i / 19.5) is None for i in range(195))
        return [limits.admit(10 + i / 1000) for i in range(40)]

    # more than 1200/60 in a second is fine until it is twice the steady rate: then a burst
    # (a steady request sliding out of the last second lets one more in now and then)
    ramp = after_ten_steady_seconds(per_second=False)
    assert ramp[:16] == [None] * 16 and ramp[16:26] == [("limit_burst_rate", "1")] * 10
    assert set(ramp) == {None, ("limit_burst_rate", "1")} and ramp.count(None) < 20
    # with the per-second limit, the 21st request of the second is refused as a plain rate limit
    steady = after_ten_steady_seconds(per_second=True)
    assert steady[0] is None and steady[1:26] == [("limit_requests", "1")] * 25
    assert set(steady) == {None, ("limit_requests", "1")}


@pytest.mark.anyio
async def test_tokens_per_minute() -> None:
    text = "A sentence long enough to be billed a few hundred tokens. " * 20
    async with client(SimConfig(tpm=500)) as http:
        first = await post(http, chat(text))
        second = await post(http, chat(text))
        counted = await stats(http)
    assert first.json()["usage"]["total_tokens"] >= 500
    assert second.status_code == 429 and error(second) == {
        "message": "Allocated quota exceeded, please increase your quota limit.",
        "type": "insufficient_quota",
        "param": None,
        "code": "insufficient_quota",
    }
    assert second.headers["Retry-After"] in ("59", "60")
    assert counted["throttled"] == {"insufficient_quota": 1} and counted["ok"] == 1


def test_quota_options_are_checked() -> None:
    for bad, message in [
        ({"rpm": 0}, "rpm must be > 0"),
        ({"tpm": -5}, "tpm must be > 0"),
        ({"burst": True}, "the burst limit needs rpm"),
    ]:
        with pytest.raises(ValueError, match=message):
            SimConfig(**bad)  # type: ignore[arg-type]


def test_main_rejects_burst_without_rpm(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--burst"])
    assert exited.value.code == 2
    assert "the burst limit needs rpm" in capsys.readouterr().err


def test_parse_faults() -> None:
    assert parse_faults("") == ()
    assert parse_faults("429=0.1, 500=0.05,reset=0.02,") == (
        ("429", 0.1),
        ("500", 0.05),
        ("reset", 0.02),
    )
    for spec, message in [
        ("429", "expected KIND=PROBABILITY"),
        ("429=often", "expected KIND=PROBABILITY"),
        ("404=0.1", "unknown fault kind '404'"),
        ("429=1.5", "not within 0..1"),
        ("429=0.6,500=0.6", "more than 1"),
        ("429=0.1,429=0.2", "given twice"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_faults(spec)
    with pytest.raises(ValueError, match="unknown fault kind"):
        SimConfig(faults=(("teapot", 0.5),))


# --- pseudo-translation --------------------------------------------------------------------

TOKENS = re.compile(
    r"%\(\w+\)[sd]|%\d\$[sd]|%[sd]|\{\{?\w+\}?\}|</?[A-Za-z][^<>]*>|&#?\w+;|https?://\S+"
    r"|\{\s*\w+\s*,\s*(?:plural|selectordinal|select)\s*,"
    r"|(?:=\d+|\b(?:zero|one|two|few|many|other))\s*\{|#"
)


def ui_strings() -> list[str]:
    lines = UI_STRINGS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines]


@pytest.mark.parametrize("lang", ["German", "ja", "ru", "zh_tw"])
def test_pseudo_translation_keeps_placeholders_tags_and_icu(lang: str) -> None:
    changed = 0
    for source in ui_strings():
        out = pseudo_translate(source, lang)
        assert Counter(TOKENS.findall(out)) == Counter(TOKENS.findall(source)), (source, out)
        if re.search(r"[A-Za-z]", TOKENS.sub("", source)):  # something left to translate
            assert out != source, source
            changed += 1
    assert changed > 2000


def test_pseudo_translation_of_icu_messages() -> None:
    source = "{count,plural,one{Gift card} other{{count} gift cards}} for <b>{name}</b>"
    out = pseudo_translate(source, "de")
    kept = r"\{count,plural,one\{(\S+ \S+)\} other\{\{count\} (\S+ \S+)\}\} \S+ <b>\{name\}</b>"
    found = re.fullmatch(kept, out)
    assert found and not re.search("[A-Za-z]", found[1] + found[2]), out
    nested = "{n, select, male {He has {k, plural, =0 {no files} other {# files}}} other {They}}"
    out = pseudo_translate(nested, "ru")
    assert re.sub(r"[^\x00-\x7f]", "", out) == (
        "{n, select, male {  {k, plural, =0 { } other {# }}} other {}}"
    )


def test_pseudo_translation_keeps_lines_whitespace_and_code() -> None:
    source = (
        "  Indented line  \n\n\tTabbed\r\n"
        "```python\nprint('do not translate')\n\n```\n"
        "Use `pip install x` or mail me@example.org, see https://example.com/a?b=1.\n"
        '&amp; %1$s %d {{var}} {0} <a href="/x">link</a>\n'
    )
    out = pseudo_translate(source, "German")
    assert len(out.split("\n")) == len(source.split("\n"))
    for before, after in zip(source.split("\n"), out.split("\n"), strict=True):
        assert re.match(r"\s*", before)[0] == re.match(r"\s*", after)[0]  # type: ignore[index]
        assert re.search(r"\s*$", before)[0] == re.search(r"\s*$", after)[0]  # type: ignore[index]
    assert "```python\nprint('do not translate')\n\n```\n" in out
    for token in ("`pip install x`", "me@example.org", "https://example.com/a?b=1", "&amp;"):
        assert token in out
    assert '%1$s %d {{var}} {0} <a href="/x">' in out and "</a>" in out
    assert "Indented" not in out and "link" not in out


def test_pseudo_translation_scripts_and_length() -> None:
    text = "The quick brown fox jumps over the lazy dog while reading the documentation"
    german = pseudo_translate(text, "German")
    assert german == pseudo_translate(text, "de")  # deterministic, codes or names
    assert not re.search(r"[A-Za-z]", german) and 1.2 < len(german) / len(text) < 1.45
    assert katakana(pseudo_translate(text, "Japanese")) and cyrillic(pseudo_translate(text, "uk"))
    for lang, low, high in [("ko", "\uac00", "\ud7a3"), ("ar", "\u0600", "\u06ff"),
                            ("he", "\u0590", "\u05ff"), ("el", "\u0370", "\u03ff"),
                            ("th", "\u0e00", "\u0e7f"), ("hi", "\u0900", "\u097f")]:  # fmt: skip
        out = pseudo_translate(text, lang)
        assert any(low <= ch <= high for ch in out) and not re.search(r"[A-Za-z]", out), lang
    out = pseudo_translate("Version 2.0, 100% ready!", "ja")
    assert " 2.0, 100% " in out and out.endswith("!")
    assert pseudo_translate("3.14 -- (42)!", "de") == "3.14 -- (42)!"  # no letters: unchanged
    assert pseudo_translate("你好", "de") != "你好"  # letters, even if not ASCII: changed
    assert pseudo_translate("", "de") == ""


# --- running it ----------------------------------------------------------------------------


def test_sim_thread() -> None:
    with SimThread(SimConfig()) as url:
        response = httpx.post(f"{url}/chat/completions", json=chat("Hi"), headers=KEY)
    assert content(response) == pseudo_translate("Hi", "German")
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"{url}/chat/completions", json=chat("Hi"), headers=KEY)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_main_in_a_process(signum: int) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline.sim", "--port", "0", "--faults", "429=0.0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.fullmatch(r"mtpipe simulator listening on (http://127\.0\.0\.1:\d+/v1)\n", line)
        assert found, line
        response = httpx.post(f"{found[1]}/chat/completions", json=chat("Hi"), headers=KEY)
        assert response.status_code == 200
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0 and stdout == "" and stderr == ""


def test_main_rejects_a_bad_fault_spec(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--faults", "429=lots"])
    assert exited.value.code == 2
    assert "bad fault '429=lots'" in capsys.readouterr().err
