"""Tooling that builds and checks the book (not used by chapters).

- :mod:`mlnotes.book.strict`   kernel start-up: warnings become errors, network guard
- :mod:`mlnotes.book.execute`  parallel execution into the jupyter-cache, with budgets
- :mod:`mlnotes.book.contract` the chapter-contract checker
- :mod:`mlnotes.book.report`   the build-report appendix page

Changes here do not invalidate the execution cache (see ``execute.source_hash``).
"""
