"""pipeline/ray/owners.py: one owner per unit across processes, without Ray installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT

from pipeline.ray.owners import Owners


def test_the_first_claim_owns_and_a_retried_block_reclaims(tmp_path: Path) -> None:
    owners = Owners(tmp_path)
    assert owners.claim("a", ["k1", "k2", "k1"]) == [True, True, True]
    assert owners.claim("b", ["k2", "k3"]) == [False, True]
    assert owners.claim("a", ["k1", "k3"]) == [True, False]  # a retry of a: its own again


def test_processes_claiming_at_once_get_one_owner_per_key(tmp_path: Path) -> None:
    """Four real processes claim overlapping keys at once: each key ends with one owner."""
    script = (
        "import sys; from pathlib import Path; from pipeline.ray.owners import Owners\n"
        "block = sys.argv[1]; keys = [f'k{i}' for i in range(int(block) * 300, 3000)]\n"
        "for n in range(0, len(keys), 100):\n"
        "    got = Owners(Path(sys.argv[2])).claim(block, keys[n:n + 100])\n"
        "    print('\\n'.join(k for k, mine in zip(keys[n:n + 100], got) if mine))\n"
    )
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(b), str(tmp_path)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for b in range(4)
    ]
    owned = [set(filter(None, run.communicate(timeout=120)[0].splitlines())) for run in runs]
    assert all(run.returncode == 0 for run in runs)
    every = [key for keys in owned for key in keys]
    assert len(every) == len(set(every)) == 3000  # each key once, none left unowned
