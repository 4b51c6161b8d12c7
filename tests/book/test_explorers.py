"""Gates on every pre-rendered explorer of the built book (issue 13), read from the
``.mlnotes-explorer-meta`` data attributes that ``mlnotes.widgets`` writes at build time:

- no two frames of one explorer are identical (frame hashes differ);
- every control changes some frame;
- axis limits are the same in every frame unless the explorer declares ``autoscale=True``;
- the build recorded no rule violation (``data-problems`` is empty);
- an explorer with live ranges rendered its seeded random live positions (the sweep).

The rules themselves are unit-tested in tests/unit/test_widgets.py; these gates prove that
the built pages keep them, whatever the strictness setting of the kernels was.
"""

import html
import json
import re

import pytest

from conftest import ROOT
from bookkit.execute import toc_notebooks

pytestmark = pytest.mark.book

HTML = ROOT / "_build" / "html"
CHAPTERS = toc_notebooks()
IDS = [p.relative_to(ROOT).with_suffix("").as_posix() for p in CHAPTERS]
META = re.compile(r'<div class="mlnotes-explorer-meta" hidden ([^>]*)>')
ROOT_TAG = re.compile(r'<div class="mlnotes-explorer" id="([^"]+)" data-frames="(\d+)">')


def explorers(path):
    page = (HTML / path.relative_to(ROOT).with_suffix(".html")).read_text()
    roots = ROOT_TAG.findall(page)
    metas = [{k: json.loads(html.unescape(v)) for k, v in re.findall(r'data-(\w+)="([^"]*)"', tag)}
             for tag in META.findall(page)]
    assert len(roots) == len(metas), f"{path.name}: {len(roots)} explorers but {len(metas)} metadata blocks"
    return [(uid, int(frames), meta) for (uid, frames), meta in zip(roots, metas)]


def dead_controls(meta):
    """Controls such that every group of frames differing only in that control looks the same."""
    dead = []
    for c, name in enumerate(meta["controls"]):
        groups = {}
        for key, digest in meta["hashes"].items():
            rest = tuple(p for j, p in enumerate(key.split("-")) if j != c)
            groups.setdefault(rest, set()).add(digest)
        if all(len(g) == 1 for g in groups.values()):
            dead.append(name)
    return dead


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_explorer_frames_are_distinct_and_every_control_matters(path):
    for uid, frames, meta in explorers(path):
        hashes = meta["hashes"]
        assert len(hashes) == frames
        first, duplicates = {}, []
        for key, digest in hashes.items():
            if digest in first:
                duplicates.append((first[digest], key))
            first.setdefault(digest, key)
        assert not duplicates, f"{path.name} {uid}: identical frames {duplicates[:5]}"
        assert not dead_controls(meta), f"{path.name} {uid}: controls {dead_controls(meta)} change no frame"


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_explorer_axis_limits_are_shared_unless_declared(path):
    for uid, _, meta in explorers(path):
        if meta["autoscale"]:
            continue
        per_axes = {}
        for key, limits in meta["limits"].items():
            for i, lim in enumerate(limits):
                if lim is not None:
                    per_axes.setdefault(i, set()).add(tuple(lim))
        differ = {i: sorted(v)[:2] for i, v in per_axes.items() if len(v) > 1}
        assert not differ, f"{path.name} {uid}: axes limits differ across frames {differ}"


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_explorer_build_recorded_no_problems_and_swept_live_ranges(path):
    for uid, _, meta in explorers(path):
        assert meta["problems"] == [], f"{path.name} {uid}: " + "; ".join(meta["problems"])
        if meta["live"]:
            assert meta["sweep"] > 0, f"{path.name} {uid}: live controls {meta['live']} were not swept"
