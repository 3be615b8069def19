"""The PySide6 desktop app. It calls ``core`` only and holds no logic of its own.

Nothing here imports Qt at package level: ``desktop.launcher`` must start without it.
"""
