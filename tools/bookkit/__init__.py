"""Tooling that builds and checks the book (not used by chapters).

- :mod:`bookkit.strict`   kernel start-up: warnings become errors, network guard
- :mod:`bookkit.execute`  parallel execution into the jupyter-cache, with budgets
- :mod:`bookkit.contract` the chapter-contract checker
- :mod:`bookkit.report`   the build-report appendix page

Changes here do not invalidate the execution cache (see ``execute.source_hash``).
"""
