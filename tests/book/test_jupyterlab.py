"""The live path in JupyterLab, as a reader meets it (issue 13): JupyterLab from the project's
environment on localhost, driven in Debian's headless Chromium.

For three chapters (a torch chapter, a classical one, each with a two-control explorer) it runs
all cells, checks that no output is an error, that MyST renders (no raw ``:::{`` or
```` ```{ ```` fences, no ``{cite}``/``{doc}`` roles in the rendered markdown), moves an explorer
control (a mouse click on its track), and checks that the figure changes, is shown at its natural size (not
upscaled) and that no control label is cut off.
The control is moved with the mouse (a click on the slider track); the readout must follow. Screenshots go to _build/screenshots/.
The chapters run from a temporary copy, so JupyterLab never writes into the repository.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.book

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "_build" / "screenshots"
CHAPTERS = [
    "chapters/vision/deformable-convolution.ipynb",  # torch; explorer with two controls
    "chapters/classical/ensembles.ipynb",             # classical (scikit-learn); two controls
    "chapters/sequences/sliding-window-maximum.ipynb",  # numpy; three controls
]
RAW_MYST = (":::{", "```{", "{cite}`", "{doc}`", "{ref}`", "{numref}`")
TOKEN = "mlnotes-test"
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving a copy of the chapters; yields (base URL, copy root)."""
    root = tmp_path_factory.mktemp("lab")
    for chapter in CHAPTERS:
        (root / chapter).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / chapter, root / chapter)
    settings = root / ".settings"
    for name, value in SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(value))
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("MLNOTES_STATIC_EXPLORERS", "MLNOTES_OFFLINE", "IPYTHONDIR", "PYTHONPATH")}
    env["IPYTHONDIR"] = str(root / ".ipython")  # a reader's kernel: not the build's strict one
    jupyter = Path(sys.executable).parent / "jupyter"
    log = open(root / "server.log", "w")
    server = subprocess.Popen(
        [str(jupyter), "lab", "--no-browser", "--allow-root", f"--port={port}", "--ip=127.0.0.1",
         f"--ServerApp.token={TOKEN}", f"--ServerApp.root_dir={root}",
         f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={root / '.workspaces'}"],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2)
            break
        except OSError:
            assert server.poll() is None and time.time() < deadline, (root / "server.log").read_text()[-3000:]
            time.sleep(0.5)
    yield base, root
    server.terminate()
    server.wait(timeout=30)
    log.close()


@pytest.fixture(scope="module")
def browser():
    SHOTS.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


def run_all(page, timeout_s: float) -> float:
    """Run > Run All Cells, then wait until no cell is queued or running (an error stops the
    run: the cells after it keep an empty prompt, which the caller reports)."""
    start = time.perf_counter()
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        _wait_idle(page, timeout_s)
    except PlaywrightTimeout:
        prompts = page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()
        raise AssertionError(f"Run All did not finish in {timeout_s} s; prompts {prompts}") from None
    return time.perf_counter() - start


def _wait_idle(page, timeout_s: float) -> None:
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
            return prompts.some(p => /\\[\\d+\\]/.test(p.textContent))
                && !prompts.some(p => p.textContent.includes('*'));
        }""", timeout=timeout_s * 1000, polling=1000)


def start_kernel(page, timeout_s: float = 120) -> None:
    """Accept the "Select Kernel" dialog (Python 3) if JupyterLab asks (the status bar may
    already say idle behind it), then wait for an idle kernel with no dialog open."""
    deadline, calm = time.time() + timeout_s, 0
    while calm < 4:
        accept = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")
        if accept.count():
            accept.first.click()
            calm = 0
        elif page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").count():
            calm += 1
        assert time.time() < deadline, "the kernel did not start"
        page.wait_for_timeout(500)


def saved_outputs(page, path: Path) -> list[dict]:
    page.keyboard.press("Control+s")
    page.wait_for_function("() => !document.querySelector('.jp-mod-dirty')", timeout=30000)
    nb = json.loads(path.read_text())
    return [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[Path(c).stem for c in CHAPTERS])
def test_chapter_runs_renders_and_explores_in_jupyterlab(lab, browser, chapter):
    base, root = lab
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    problems = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{base}/lab/tree/{chapter}?token={TOKEN}&reset", wait_until="load")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90000)
    start_kernel(page)
    try:
        elapsed = run_all(page, timeout_s=420)
    finally:
        page.screenshot(path=str(SHOTS / f"jupyterlab-{Path(chapter).stem}-run.png"))
    print(f"{chapter}: Run All took {elapsed:.1f} s")

    outputs = saved_outputs(page, root / chapter)
    errors = [o for o in outputs if o["output_type"] == "error"]
    assert not errors, f"{chapter}: {errors[0]['ename']}: {errors[0]['evalue']}"
    tracebacks = [o["text"] for o in outputs if o.get("name") == "stderr" and "Traceback" in o["text"]]
    assert not tracebacks, f"{chapter}: {tracebacks[0][-500:]}"
    cells = [c for c in json.loads((root / chapter).read_text())["cells"] if c["cell_type"] == "code"]
    not_run = [i for i, c in enumerate(cells) if c.get("execution_count") is None]
    assert not not_run, f"{chapter}: code cells {not_run[:5]} did not run"

    markdown = page.locator(".jp-MarkdownCell").all_inner_texts()
    raw = sorted({token for text in markdown for token in RAW_MYST if token in text})
    assert not raw, f"{chapter}: MyST shows as raw text: {raw}"

    explorer = page.locator(".mlnotes-live-explorer").first
    explorer.scroll_into_view_if_needed()
    image = explorer.locator("img").first
    image.wait_for(state="visible")
    before = image.get_attribute("src")
    readouts_before = explorer.locator(".widget-label").all_inner_texts()
    track = explorer.locator(".widget-slider .noUi-target, .widget-hslider .noUi-target").first
    if track.count():
        box = track.bounding_box()  # click three quarters along the first slider's track
        page.mouse.click(box["x"] + 0.75 * box["width"], box["y"] + box["height"] / 2)
    else:
        select = explorer.locator("select").first
        select.select_option(index=(select.evaluate("s => s.selectedIndex") + 1) % select.locator("option").count())
    page.wait_for_function("([img, src]) => img.getAttribute('src') !== src", arg=[image.element_handle(), before],
                           timeout=60000)
    readouts_after = explorer.locator(".widget-label").all_inner_texts()
    assert readouts_after != readouts_before or not track.count(), (
        f"{chapter}: the figure was redrawn but no readout changed: {readouts_after}")
    natural, shown = image.evaluate("img => [img.naturalWidth, img.getBoundingClientRect().width]")
    assert 0 < shown <= natural + 1, f"{chapter}: a {natural}-px figure is shown {shown:.0f} px wide (upscaled)"
    cut = explorer.locator(".widget-label, .widget-label-basic").evaluate_all(
        "els => els.filter(e => e.offsetWidth > 0 && e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)")
    assert not cut, f"{chapter}: control labels cut off: {cut}"
    tracks = explorer.locator(".slider-container").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect().width)")
    assert all(w >= 150 for w in tracks), f"{chapter}: slider tracks {tracks} px wide"
    explorer.screenshot(path=str(SHOTS / f"jupyterlab-{Path(chapter).stem}-explorer.png"))
    page.screenshot(path=str(SHOTS / f"jupyterlab-{Path(chapter).stem}.png"))
    page.close()
    assert not problems, f"{chapter}: page errors {problems[:3]}"
