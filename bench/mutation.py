"""Mutation testing of the guarantee modules, run as a benchmark (not in every test run).

mutmut (the dev lock) changes one thing at a time in the modules ``[tool.mutmut]`` in
pyproject.toml names (``only_mutate``), runs the tests that guard them
(``pytest_add_cli_args_test_selection``) against each change, in a copy of the project under
``mutants/`` (git-ignored), and counts the changes the tests catch. Prints one JSON object: per
module the mutants killed, survived and not reached by the selected tests, and the score (killed
over all mutants, and over the mutants the tests reach), with the surviving mutants' names
(``.venv/bin/mutmut show NAME`` shows each change).

    .venv/bin/python -m bench.mutation              # run, then report
    .venv/bin/python -m bench.mutation --report     # report the last run only
    .venv/bin/python -m bench.mutation --module services.fortnox_writer.ledger  # one module

About 1800 mutants take 18 minutes on 2 shared cores. Recorded figures: bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MUTMUT = str(Path(sys.executable).parent / "mutmut")
# "    services.ingest.webhook.x_verify_hmac__mutmut_3: survived"
LINE = re.compile(r"^\s*(?P<name>[\w.ǁ]+__mutmut_\d+): (?P<status>[\w ]+)$")
# A timeout is a mutant caught: mutmut's limit counts CPU seconds, which only a mutant that
# loops spends (a test that waits forever fails on pytest's --timeout instead, so is "killed").
KILLED = {"killed", "timeout"}
SPINNER = set("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")
REACHED = {"killed", "survived", "timeout", "suspicious", "segfault"}


def module_of(name: str) -> str:
    """``services.ingest.webhook.x_verify_hmac__mutmut_3`` -> ``services.ingest.webhook``."""
    function = name.split("__mutmut_")[0]
    return re.sub(r"\.xǁ.*$|\.x_.*$", "", function)


def report(results: str) -> dict[str, Any]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    survivors: dict[str, list[str]] = defaultdict(list)
    for line in results.splitlines():
        match = LINE.match(line)
        if match is None:
            continue
        name, status = match["name"], match["status"].strip().replace(" ", "_")
        module = module_of(name)
        counts[module][status] += 1
        if status == "survived":
            survivors[module].append(name)
    modules = {}
    for module, count in sorted(counts.items()):
        total = sum(count.values())
        killed = sum(count[s] for s in KILLED)
        reached = sum(count[s] for s in REACHED)
        modules[module] = {
            **dict(sorted(count.items())),
            "total": total,
            "score": round(killed / total, 3) if total else None,
            "score_of_reached": round(killed / reached, 3) if reached else None,
            "survivors": survivors[module],
        }
    total = sum(m["total"] for m in modules.values())
    killed = sum(sum(counts[m][s] for s in KILLED) for m in modules)
    reached = sum(sum(counts[m][s] for s in REACHED) for m in modules)
    return {
        "mutants": total,
        "killed": killed,
        "score": round(killed / total, 3) if total else None,
        "score_of_reached": round(killed / reached, 3) if reached else None,
        "modules": modules,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", action="store_true", help="report the last run only")
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument(
        "--module",
        action="append",
        default=[],
        help="run (and report) only this module's mutants (a dotted name; may repeat)",
    )
    args = parser.parse_args()
    names = [f"{module}.*" for module in args.module]
    if not args.report:
        # From scratch: mutmut keeps earlier results when only pyproject.toml changed.
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)
        run = subprocess.run(
            [MUTMUT, "run", "--max-children", str(args.max_children), *names],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:  # say why (a clean test failing, say), without the spinner
            lines = (run.stdout + run.stderr).replace("\r", "\n").splitlines()
            kept = [line for line in lines if line.strip() and not SPINNER & set(line)]
            sys.exit("mutmut failed:\n" + "\n".join(kept[-60:]))
    results = subprocess.run(
        [MUTMUT, "results", "--all", "true"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    if args.module:
        wanted = tuple(args.module)
        results = "\n".join(
            line
            for line in results.splitlines()
            if (match := LINE.match(line)) and module_of(match["name"]) in wanted
        )
    print(json.dumps(report(results), indent=2))


if __name__ == "__main__":
    main()
