"""Shared test set-up: a non-interactive matplotlib backend and the book's paths."""

import os
from pathlib import Path

# One torch/OpenMP thread per test process (pytest -n 2 runs two): see mlnotes.core.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
