"""``pairsim serve MODEL [--gallery G] [--host 127.0.0.1 --port 8000]`` (placeholder until the service lands)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    del sub  # registered once pairsim.serve exists
