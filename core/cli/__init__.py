"""The ``scriptorium`` command line (the launcher in ``desktop`` dispatches here)."""
