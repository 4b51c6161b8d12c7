# Loaded by every kernel the book's executor starts (IPYTHONDIR=tools/ipython).
# It makes stale code fail instead of hiding behind a printed warning, and cuts the network.
# The book tooling lives in tools/bookkit (not installed), so it is loaded from its file.
import importlib.util
from pathlib import Path

_path = Path(__file__).resolve().parents[3] / "bookkit" / "strict.py"
_spec = importlib.util.spec_from_file_location("bookkit_strict", _path)
_strict = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_strict)
_strict.install()
