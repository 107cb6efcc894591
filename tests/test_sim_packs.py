"""The simulator's pack faults, through loopback: each deviation as a model makes it."""

from __future__ import annotations

import pytest

from pipeline.sim import SimConfig, pseudo_translate
from tests.test_sim import PROMPT, chat, client, content, pack_of, post, stats

TEXTS = ["Open the file", "Save changes", "Close window", "Delete all"]
RIGHT = [pseudo_translate(text, "German") for text in TEXTS]
CLEAN = pack_of(RIGHT)


async def answer(kind: str, *, seed: int = 0, texts: list[str] = TEXTS) -> tuple[str, dict]:
    async with client(SimConfig(seed=seed, faults=((kind, 1.0),))) as http:
        text = content(await post(http, chat(PROMPT.format(lang="German", text=pack_of(texts)))))
        return text, await stats(http)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("prefix", "[ge] " + CLEAN),
        ("preamble", "Here is the translation into German:\n\n" + CLEAN),
        ("blank", "\n\n".join(CLEAN.split("\n"))),
        ("drop", "\n".join(CLEAN.split("\n")[:3])),
        ("note", CLEAN + "\n\nNote: the numbering of the source is kept."),
        ("never", " ".join(RIGHT)),
    ],
)
async def test_pack_fault_changes_the_format_only(kind: str, expected: str) -> None:
    text, counted = await answer(kind)
    assert text == expected
    assert counted["packs"] == {kind: 1} and counted["ok"] == 1


@pytest.mark.anyio
async def test_renumber_uses_every_marker_variant_across_seeds() -> None:
    seen = set()
    for seed in range(40):
        text, _ = await answer("renumber", seed=seed)
        lines = text.split("\n")
        first = lines[0].removesuffix(" " + RIGHT[0])
        seen.add(first)
        assert all(line.endswith(right) for line, right in zip(lines, RIGHT, strict=True))
    assert seen == {"\uff3b1\uff3d", "1.", "(1)", "[ 1 ]", "[\uff11]"}


@pytest.mark.anyio
async def test_merge_puts_two_neighbours_on_one_line() -> None:
    text, counted = await answer("merge", seed=3)
    lines = text.split("\n")
    assert len(lines) == 3 and counted["packs"] == {"merge": 1}
    k = next(i for i, line in enumerate(lines) if line.endswith(RIGHT[i] + " " + RIGHT[i + 1]))
    assert lines[:k] == CLEAN.split("\n")[:k]
    assert lines[k + 1 :] == CLEAN.split("\n")[k + 2 :]


@pytest.mark.anyio
async def test_pack_faults_leave_single_texts_alone_and_follow_the_rate() -> None:
    async with client(SimConfig(seed=1, faults=(("prefix", 0.5),))) as http:
        single = content(await post(http, chat(PROMPT.format(lang="German", text=TEXTS[0]))))
        for i in range(40):
            texts = [f"{text} {i}" for text in TEXTS]
            await post(http, chat(PROMPT.format(lang="German", text=pack_of(texts))))
        counted = await stats(http)
    assert single == RIGHT[0]
    assert 10 <= counted["packs"]["prefix"] <= 30  # seeded: fixed, not flaky


def test_pack_fault_probabilities_are_checked() -> None:
    with pytest.raises(ValueError, match="add up to more than 1"):
        SimConfig(faults=(("merge", 0.6), ("never", 0.6)))
    SimConfig(faults=(("merge", 0.6), ("429", 0.6)))  # different groups
