"""Browser tests of the built site in Debian's headless Chromium (Python playwright).

Every chapter page loads with no console error and no request leaving the machine, its
math is typeset by the self-hosted MathJax, its static explorer changes the figure when a
control moves; the search page finds a chapter. A screenshot per page goes to
_build/screenshots/ for review.
"""


import pytest

from conftest import ROOT
from bookkit.execute import toc_notebooks

pytestmark = pytest.mark.book

HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
PAGES = [p.relative_to(ROOT).with_suffix(".html").as_posix() for p in toc_notebooks()]


@pytest.fixture(scope="module")
def browser():
    SHOTS.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


def open_page(browser, url):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems, outside = [], []
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status} {r.url}"))
    page.on("request", lambda r: not r.url.startswith(("http://127.0.0.1", "data:")) and outside.append(r.url))
    page.goto(url, wait_until="load")
    return page, problems, outside


@pytest.mark.parametrize("path", PAGES)
def test_chapter_page_loads_typesets_and_explores(browser, server, path):
    page, problems, outside = open_page(browser, f"{server}/{path}")
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
    page.evaluate("() => MathJax.startup.promise")
    assert page.locator("mjx-container").count() > 0, f"{path}: no typeset math"
    explorer = page.locator(".mlnotes-explorer").first
    image = explorer.locator("img")
    before = image.get_attribute("src")
    control = explorer.locator("[data-control]").first
    if control.evaluate("el => el.tagName") == "SELECT":
        options = control.locator("option").count()
        current = int(control.input_value())
        control.select_option(str((current + 1) % options))
    else:
        maximum, current = int(control.get_attribute("max")), int(control.input_value())
        control.fill(str(maximum if current != maximum else 0))
    after = image.get_attribute("src")
    assert after != before, f"{path}: moving the explorer control did not change the figure"
    page.screenshot(path=str(SHOTS / (path.replace("/", "__") + ".png")), full_page=False)
    notebook = path.removesuffix(".html") + ".ipynb"
    for launcher in ("https://mybinder.org/", "https://colab.research.google.com/"):
        assert page.locator(f'a[href^="{launcher}"][href$="{notebook}"]').count() == 1, (path, launcher)
    assert page.locator(".btn-launch-thebe").count() == 0, f"{path}: a Thebe button (removed: see README)"
    assert page.locator(f'a[href$="_sources/{notebook}"]').count() >= 1, f"{path}: no .ipynb download"
    page.close()
    assert not problems, f"{path}: console errors {problems}"
    assert not outside, f"{path}: requests left the machine: {outside[:5]}"


def test_search_finds_a_chapter(browser, server):
    page, problems, _ = open_page(browser, f"{server}/search.html?q=deque")
    page.wait_for_selector("#search-results li", timeout=15000)
    results = page.locator("#search-results").inner_text()
    assert "Sliding-window maximum" in results
    page.close()
    assert not problems


def test_home_page_and_dark_mode(browser, server):
    page, problems, outside = open_page(browser, f"{server}/intro.html")
    page.evaluate("() => document.documentElement.dataset.theme = 'dark'")
    page.screenshot(path=str(SHOTS / "intro-dark.png"))
    assert page.locator("button.theme-switch-button").count() >= 1
    page.close()
    assert not problems and not outside


def _boxes_overlap(a, b):
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("path", PAGES[:: max(1, len(PAGES) // 6)])
def test_explorer_controls_are_readable_and_keyboard_operable(browser, server, path, theme):
    """Each control row: label, control and readout side by side without overlap; the readout
    shows a value (not an index) and follows the keyboard; focus is visible; in both modes."""
    page, problems, _ = open_page(browser, f"{server}/{path}")
    page.evaluate(f"() => document.documentElement.dataset.theme = '{theme}'")
    explorer = page.locator(".mlnotes-explorer").first
    explorer.scroll_into_view_if_needed()
    rows = explorer.locator(".mlnotes-control")
    assert rows.count() >= 1
    for i in range(rows.count()):
        row = rows.nth(i)
        label, field, readout = (row.locator(sel).first.bounding_box()
                                 for sel in (".mlnotes-label", ".mlnotes-input", ".mlnotes-readout"))
        assert label and field and readout, f"{path}: row {i} lacks a label, control or readout"
        assert not _boxes_overlap(label, field) and not _boxes_overlap(field, readout) \
            and not _boxes_overlap(label, readout), f"{path}: row {i} label/control/readout overlap"
        colors = row.locator(".mlnotes-readout").evaluate(
            "e => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor]")
        assert colors[0] != colors[1], f"{path}: readout text invisible in {theme} mode"
    field = explorer.locator(".mlnotes-input").first
    field.focus()
    page.keyboard.press("ArrowRight" if field.evaluate("e => e.type") == "range" else "ArrowDown")
    outline = field.evaluate("e => getComputedStyle(e).outlineStyle")
    readout = explorer.locator(".mlnotes-readout").first.inner_text()
    if field.evaluate("e => e.type") == "range":
        assert readout == field.get_attribute("aria-valuetext"), f"{path}: readout and aria-valuetext disagree"
    assert outline != "none", f"{path}: keyboard focus is not visible ({theme})"
    page.screenshot(path=str(SHOTS / (path.replace("/", "__") + f"-explorer-{theme}.png")))
    page.close()
    assert not problems, f"{path}: console errors {problems}"
