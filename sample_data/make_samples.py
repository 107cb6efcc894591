"""Regenerate the sample files from tests/data (copies of the shared English corpus).

    .venv/bin/python sample_data/make_samples.py

Attribution and licences of the text: tests/data/SOURCES.md.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl

HERE = Path(__file__).parent
DATA = HERE.parent / "tests" / "data"


def rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def main() -> None:
    ui = rows("ui_strings.jsonl")
    picked = ui[:120] + [r for r in ui if "{" in r["text"] or "%(" in r["text"]][:60]
    with (HERE / "ui_strings.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "text", "source"])
        for r in picked:
            w.writerow([r["id"], r["text"], r["source"]])
    news = rows("news.jsonl")[:80]
    with (HERE / "news.tsv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_MINIMAL)
        w.writerow(["id", "text"])
        for r in news:
            w.writerow([r["id"], r["text"]])
    docs = sorted(rows("long_docs.jsonl"), key=lambda r: len(r["text"]))[:3]
    with (HERE / "docs.jsonl").open("w", encoding="utf-8") as f:
        for i, r in enumerate(docs):
            title = r["text"].split("\n", 1)[0].lstrip("# ")
            obj = {"id": 9007199254740993 + i, "meta": {"title": title, "body": r["text"]},
                   "source": r["source"]}
            f.write(json.dumps(obj, ensure_ascii=False) + "\n")
    catalog = pl.DataFrame(
        {
            "sku": pl.Series([100000 + i for i in range(60)], dtype=pl.Int64),
            "text": [r["text"] for r in ui[200:260]],
            "tags": [["ui", "wagtail"] if i % 2 else ["ui"] for i in range(60)],
            "category": pl.Series(["admin", "forms", "search"] * 20, dtype=pl.Categorical),
        }
    )
    catalog.write_parquet(HERE / "catalog.parquet")


if __name__ == "__main__":
    main()
