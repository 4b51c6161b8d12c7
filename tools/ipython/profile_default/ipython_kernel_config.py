# Kernels started by the book's executor and tests keep no command history: no SQLite file is
# written into this folder, and chapters executing in parallel never wait on its lock.
c = get_config()  # noqa: F821
c.HistoryManager.enabled = False
