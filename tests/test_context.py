"""The shared context: what a page process gets from `open_context` before it does anything else."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LOG_A_SECRET = """
import logging, sys
logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
from mcc.context import open_context
open_context()
logging.getLogger("accounting.outbox").warning(
    "push of invoice 7 failed: %s", "token endpoint said: refresh_token=rt-9f8e7d6c5b4a; Bearer eyJhbGciOi.xyz"
)
"""


def test_a_process_that_opens_the_context_redacts_secrets_in_its_logs(write_config) -> None:
    """The web app never runs `mcc.cli.main`, so the redaction the CLI installs must come with the context:
    an accounting error logged from a page must not carry the token it quotes."""
    write_config()
    result = subprocess.run(
        [sys.executable, "-c", LOG_A_SECRET], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "push of invoice 7 failed" in result.stdout
    assert "rt-9f8e7d6c5b4a" not in result.stdout
    assert "eyJhbGciOi" not in result.stdout
    assert "refresh_token=[redacted]" in result.stdout
