"""gunicorn settings for the multiprocess test: the master prepares the directory."""

import os

from exporter import multiprocess


def on_starting(server: object) -> None:
    multiprocess.prepare(os.environ["LLM_EXPORTER_MULTIPROC_DIR"])
