"""pipeline/ray/owners.py: one owner per unit across processes, without Ray installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT

from pipeline.ray.owners import Claims, Owners


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


def test_a_claimed_unit_is_waited_for_until_its_block_releases_it(tmp_path: Path) -> None:
    first, second = Claims(tmp_path, "first"), Claims(tmp_path, "second")
    assert first.take("A", ["k1", "k2"]) == []
    assert second.take("B", ["k2", "k3"]) == ["k2"]  # k3 is B's now
    assert first.take("A2", ["k3"]) == ["k3"]  # and waited for by a later block
    assert second.waiting(["k2"]) == ["k2"]
    first.release("A")
    assert second.waiting(["k2"]) == []
    assert second.take("B", ["k3"]) == []  # a block's own claim, again
    first.close()
    second.close()


def test_a_dead_claimants_units_are_taken_over(tmp_path: Path) -> None:
    """A process claims and dies (its lock dropped by the kernel): nobody waits for it."""
    script = (
        "import sys; from pathlib import Path; from pipeline.ray.owners import Claims\n"
        "assert Claims(Path(sys.argv[1]), 'gone').take('A', ['k1', 'k2']) == []\n"
        "import os; os._exit(0)  # no release, no close: as a killed worker leaves it\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, timeout=120)
    assert done.returncode == 0
    claims = Claims(tmp_path, "alive")
    assert claims.waiting(["k1", "k2"]) == []
    assert claims.take("B", ["k1", "k2"]) == []
    other = Claims(tmp_path, "other")
    assert other.take("C", ["k1"]) == ["k1"]  # taken over: B's now
    claims.close()
    other.close()
