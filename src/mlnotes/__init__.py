"""mlnotes: the helper package of *Runnable ML Notes* (distribution ``runnable-ml-notes``).

Topic modules hold the logic the chapters teach (one family of ideas each); the
chapters import from them and never from each other. Infrastructure modules:

- :mod:`mlnotes.core`     seeding, CPU thread setup, notebook setup, ``count_params``
- :mod:`mlnotes.plotting` the book's figure style and shared figure helpers
  (``plot_decision_boundary``, ``tile_images``, ``log_limits``)
- :mod:`mlnotes.widgets`  explorers (``explorer``, ``Control``): live ipywidgets or pre-rendered frames
- :mod:`mlnotes.data`     offline datasets (generated, or shipped inside packages)
"""

__version__ = "0.1.0"
