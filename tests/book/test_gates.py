"""Quality gates on the built book (run after `make book`): budgets, warnings, page weight,
explorers, numbers in prose computed by the page, and the build report with its gates table and
claims ledger. Each failure names the chapter and the number that broke."""

import gzip
import json
import re

import nbformat
import pytest

from conftest import ROOT
from bookkit.check import BUDGET_MB, BUDGET_SECONDS, budget_problems, stderr_outputs
from bookkit.contract import claims, number_problems, with_outputs
from bookkit.execute import METRICS_FILE, open_cache, toc_notebooks

pytestmark = pytest.mark.book

HTML = ROOT / "_build" / "html"
CHAPTERS = toc_notebooks()
IDS = [p.stem for p in CHAPTERS]
PAGE_BUDGET_BYTES = 3_000_000
WARNING = re.compile(r"\b(DeprecationWarning|FutureWarning|RuntimeWarning|UserWarning)\b")
#: The repr of a matplotlib object (a stray ``ax.set(...)`` as a cell's last line): noise for the
#: reader, and with a memory address it differs between runs.
OBJECT_REPR = re.compile(r"<matplotlib\.|\bText\(|<Axes:| at 0x[0-9a-f]{6,}")


def rel(path):
    return str(path.relative_to(ROOT))


@pytest.fixture(scope="module")
def metrics():
    assert METRICS_FILE.exists(), "no _build/reports/metrics.json: run `make book` first"
    return json.loads(METRICS_FILE.read_text())


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_chapter_within_time_and_memory_budget(path, metrics):
    m = metrics.get(rel(path))
    assert m is not None and m["ok"], f"{rel(path)} has no successful measured execution"
    assert not budget_problems(m["seconds"], m["peak_mb"]), (
        f"{rel(path)}: {m['seconds']} s (budget {BUDGET_SECONDS}), {m['peak_mb']} MB (budget {BUDGET_MB})")


@pytest.fixture(scope="module")
def cache():
    return open_cache()


def executed_notebook(cache, path):
    """The executed notebook the build used for ``path`` (from the execution cache)."""
    try:
        record = cache.match_cache_notebook(nbformat.read(path, as_version=4))
    except KeyError:
        pytest.fail(f"{rel(path)} has no executed copy in the cache: the book was not built from it")
    return cache.get_cache_bundle(record.pk).nb


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_executed_chapter_printed_no_warning_and_nothing_on_stderr(path, cache):
    nb = executed_notebook(cache, path)
    assert not stderr_outputs(nb), f"{rel(path)} wrote to stderr: {stderr_outputs(nb)[:1]}"
    for index, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        for out in cell.get("outputs", []):
            text = out.get("text", "") + str(out.get("data", {}).get("text/plain", ""))
            if "image/png" in out.get("data", {}):
                text = out.get("text", "")  # a figure's text/plain is its repr, '<Figure size ...>'
            assert not WARNING.search(text), f"{rel(path)} code cell {index} printed a warning: {text[:300]}"
            assert not OBJECT_REPR.search(text), f"{rel(path)} code cell {index} shows an object repr: {text[:200]}"
        if "figure" in cell.metadata.get("mystnb", {}):
            shown = [o for o in cell.outputs if "scrapbook" not in o.get("metadata", {})]  # glue is hidden
            images = [o for o in shown if "image/png" in o.get("data", {})]
            assert len(shown) == len(images) == 1, (
                f"{rel(path)} figure cell {index} has {len(shown)} outputs, {len(images)} images; needs one image")


def gzipped_size(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=6))


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_page_weight_under_budget(path):
    """Two measures, both under 3 MB: the chapter's own content (HTML with its embedded explorer
    frames, plus its figures) uncompressed; and everything the page loads (content plus theme,
    MathJax and scripts) as a static host serves it, gzip-compressed."""
    page = HTML / path.relative_to(ROOT).with_suffix(".html")
    html = page.read_bytes()
    content, transferred = len(html), gzipped_size(html)
    for src in set(re.findall(r'(?:src|href)="([^"#?]+\.(?:js|css|png|svg|woff2?))(?:\?[^"]*)?"', html.decode())):
        if not src.startswith(("http:", "https:", "data:")):
            asset = (page.parent / src).resolve()
            assert asset.exists(), f"{rel(path)} links a missing asset {src}"
            data = asset.read_bytes()
            transferred += gzipped_size(data)
            content += len(data) if "_images" in asset.parts else 0
    print(f"{rel(path)}: content {content / 1e6:.2f} MB, transferred {transferred / 1e6:.2f} MB")
    assert content < PAGE_BUDGET_BYTES, f"{rel(path)}: content is {content / 1e6:.2f} MB > 3 MB"
    assert transferred < PAGE_BUDGET_BYTES, f"{rel(path)}: page loads {transferred / 1e6:.2f} MB > 3 MB"


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_every_explorer_prerendered_all_its_positions(path):
    html = (HTML / path.relative_to(ROOT).with_suffix(".html")).read_text()
    explorers = re.findall(r'<div class="mlnotes-explorer" id="[^"]+" data-frames="(\d+)">(.*?)<script>', html, re.S)
    assert explorers, f"{rel(path)} shows no pre-rendered explorer"
    for frames, body in explorers:
        controls = re.findall(r'max="(\d+)"|<select[^>]*>(.*?)</select>', body, re.S)
        positions = 1
        for slider_max, options in controls:
            positions *= int(slider_max) + 1 if slider_max else options.count("<option")
        assert int(frames) == positions >= 1, f"{rel(path)}: {frames} frames for {positions} positions"


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_numbers_in_prose_are_glued_or_listed_constants(path, cache):
    """Every decimal number or percentage in the chapter's prose, captions and alt text occurs in
    a text its executed cells glued (or is a listed constant)."""
    chapter = with_outputs(nbformat.read(path, as_version=4), executed_notebook(cache, path))
    problems = [message for _, message in number_problems(chapter)]
    assert not problems, f"{rel(path)}:\n- " + "\n- ".join(problems)


def _tables(report: str) -> list[list[str]]:
    """Each HTML table of the report as its body rows' text."""
    return [[re.sub(r"<[^>]+>", "", row) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)[1:]]
            for table in re.findall(r"<table[^>]*>(.*?)</table>", report, re.S)]


def test_build_report_lists_every_chapter_with_all_checks_passed():
    report = (HTML / "appendix" / "build-report.html").read_text()
    rows = _tables(report)[0]
    assert len(rows) == len(CHAPTERS)
    for row in rows:
        passed, total = map(int, re.search(r"(\d+) / (\d+)", row).groups())
        assert passed == total >= 3, row


def test_build_report_has_a_gates_table_and_a_claims_ledger_row_per_check_cell():
    report = (HTML / "appendix" / "build-report.html").read_text()
    tables = _tables(report)
    gates = tables[1]
    assert len(gates) == len(CHAPTERS) + 1 and gates[-1].split()[0] == "all"
    ledgers = tables[2:]
    assert len(ledgers) == len(CHAPTERS)
    for path, rows in zip(CHAPTERS, ledgers):
        expected = claims(nbformat.read(path, as_version=4))
        assert len(rows) == len(expected), f"{rel(path)}: {len(rows)} ledger rows for {len(expected)} check cells"
        assert all(row.rstrip().endswith("passed") for row in rows), f"{rel(path)}: {rows}"
