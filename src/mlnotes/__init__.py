"""mlnotes: the helper package of *Runnable ML Notes*.

Topic modules hold the logic the chapters teach (one family of ideas each); the
chapters import from them and never from each other. Infrastructure modules:

- :mod:`mlnotes.core`     seeding, CPU thread setup, notebook setup
- :mod:`mlnotes.plotting` the book's figure style and small figure helpers
- :mod:`mlnotes.widgets`  explorers: live ipywidgets or pre-rendered static sliders
- :mod:`mlnotes.data`     offline datasets (generated, or shipped inside packages)
"""

__version__ = "0.1.0"
