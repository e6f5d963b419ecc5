"""`mcc serve` starts Streamlit without its forced full garbage collection after every script run (it
held every click's last deltas back by 0.2-0.3 s); Python's own generational collector still runs."""

from __future__ import annotations

from streamlit import config

from mcc.cli.serve import streamlit_args


def test_serve_turns_off_the_forced_collection_after_each_run() -> None:
    options = dict(arg.removeprefix("--").split("=", 1) for arg in streamlit_args(8501, "127.0.0.1")[3:])
    assert "runner.postScriptGC" in config._config_options_template  # a real Streamlit option
    assert options["runner.postScriptGC"] == "false"
    assert config._config_options_template["runner.postScriptGC"].default_val is True
