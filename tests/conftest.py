"""Shared test set-up: a non-interactive matplotlib backend and the book's paths."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
