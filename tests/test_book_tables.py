"""The chapter pages quote the committed benchmark, not a copy of it: every cell of the chapter 04
benchmark table equals the committed CSV (data/benchmarks/ch04_taggers.csv) at the page's precision,
and every AUC quoted in the page's prose is one of the committed or the published AUCs."""

import csv
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "book" / "ch04_sets_graphs_transformers.md"
CSV = ROOT / "data" / "benchmarks" / "ch04_taggers.csv"
LABELS = {"BDT": "BDT (m, τ21, τ32, n)", "CNN": "CNN", "TopoDNN-like MLP": "TopoDNN-like MLP", "flat MLP": "flat MLP",
          "PFN": "PFN", "EFN": "EFN", "EdgeConv": "EdgeConv", "ParT-lite": "ParT-lite", "Lorentz": "Lorentz"}


def committed() -> dict:
    with open(CSV, newline="") as f:
        return {r["tagger"]: r for r in csv.DictReader(f)}


def page_rows(first_header: str) -> list[list[str]]:
    """The body rows of the markdown table whose header starts with ``first_header``."""
    lines = PAGE.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


def integer(cell: str) -> int:
    return int(re.sub(r"[^\d]", "", cell))


def test_benchmark_table_equals_the_committed_csv():
    table = committed()
    rows = page_rows("tagger")
    seen = set()
    for label, chapter, auc, rej03, rej05, params, train_s, rate in rows:
        name = next(v for k, v in LABELS.items() if label.startswith(k))
        seen.add(name)
        r = table[name]
        assert chapter == r["chapter"], (name, chapter)
        value, err = (float(x) for x in auc.split("±"))
        assert (value, err) == (round(float(r["auc"]), 4), round(float(r["auc_std"]), 4)), (name, auc, r["auc"], r["auc_std"])
        assert integer(rej03) == round(float(r["rejection_03"])) and integer(rej05) == round(float(r["rejection_05"])), name
        assert integer(params) == int(r["parameters"]), (name, params)
        if r["train_s"]:
            digits = 1 if float(r["train_s"]) < 1 else 0
            assert float(train_s.rstrip(" s")) == round(float(r["train_s"]), digits), (name, train_s, r["train_s"])
        else:
            assert train_s == "–", (name, train_s)
        assert integer(rate) == int(r["jets_per_s"]), (name, "jets/s", rate, r["jets_per_s"])
    assert seen == set(table), f"rows on the page {sorted(seen)} vs the CSV {sorted(table)}"


def test_quoted_aucs_are_committed_or_published():
    aucs = [float(r["auc"]) for r in committed().values()]
    published = [float(row[1]) for row in page_rows("network")]
    assert len(published) >= 8
    text = PAGE.read_text()
    body = text[text.index("**Does the ordering carry over?**"):text.index("**Exact properties**")]
    quoted = re.findall(r"0\.9\d{2,4}", body)
    assert len(quoted) >= 6
    for q in quoted:
        digits = len(q) - 2
        assert any(round(a, digits) == float(q) for a in aucs + published), f"AUC {q} on the page is in neither table"
    # the EFN / PFN rejections at eps_S = 0.5 quoted in words
    m = re.search(r"the EFN's (\d+) against the PFN's (\d+)", body)
    assert m and [int(m[1]), int(m[2])] == [round(float(committed()[n]["rejection_05"])) for n in ("EFN", "PFN")]


@pytest.mark.parametrize("bad", ["115 000"])
def test_the_check_can_fail(bad, monkeypatch, tmp_path):
    """A page whose jets/s differs from the CSV (the state this test was written against) fails."""
    page = tmp_path / "page.md"
    page.write_text(PAGE.read_text().replace("108\u202f790", bad))
    monkeypatch.setattr(__import__(__name__), "PAGE", page)
    with pytest.raises(AssertionError):
        test_benchmark_table_equals_the_committed_csv()
