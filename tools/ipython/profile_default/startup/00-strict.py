# Loaded by every kernel the book's executor starts (IPYTHONDIR=tools/ipython).
# It makes stale code fail instead of hiding behind a printed warning, and cuts the network.
import mlnotes.book.strict

mlnotes.book.strict.install()
