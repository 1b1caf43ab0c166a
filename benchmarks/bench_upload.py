"""Memory of a refused upload: the process RSS after ``Workspace.add`` rejects 200 MB of junk.

A visitor uploads a file of random text; the Data page hands it to
``Workspace.add`` as a file object (Streamlit's ``UploadedFile`` is a ``BytesIO``),
the add refuses it, and the server should be back at about its size before.
Generates (seeded, once, into ``benchmarks/out/``) ``--mb`` megabytes of random
text, then each measurement runs in a fresh subprocess, one at a time:

1. import ``mlqa_debug`` (``Workspace``, pandas, pyarrow): the RSS after import;
2. read the file into a ``BytesIO`` named ``junk.csv``: the upload the server holds;
3. ``Workspace(tmp).add(upload, name="junk")``, which refuses it: the RSS with the
   upload still held (as Streamlit holds it until the form lets it go);
4. close and drop the upload (what the Data page now does with a refused file):
   the RSS left, and the peak (``VmHWM``).

Two kinds of junk: ``words`` (letters, digits, spaces, line breaks: it parses as a
one-column table and is refused for having no label column, the costly path) and
``commas`` (commas too: the CSV readers refuse it while parsing).

    python benchmarks/bench_upload.py                    # 200 MB, both kinds
    python benchmarks/bench_upload.py --mb 50 --kind words
    python benchmarks/bench_upload.py --baseline /tmp/old  # also a copy of the package
                                                           # from before (PYTHONPATH=DIR)

The table is also written to ``benchmarks/out/bench_upload.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

OUT_DIR = Path(__file__).resolve().parent / "out"
ALPHABETS = {
    "words": b"abcdefghijklmnopqrstuvwxyz0123456789      \n",
    "commas": b"abcdefghijklmnopqrstuvwxyz0123456789   ,,\n",
}


def junk_file(mb: int, kind: str) -> Path:
    """``benchmarks/out/junk-<kind>-<mb>mb.csv``, generated once (seeded)."""
    path = OUT_DIR / f"junk-{kind}-{mb}mb.csv"
    if not path.is_file():
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(0)
        alphabet = np.frombuffer(ALPHABETS[kind], dtype=np.uint8)
        with path.open("wb") as out:
            for _ in range(mb):
                out.write(alphabet[rng.integers(0, len(alphabet), 2**20)].tobytes())
    return path


def rss_mb(field: str = "VmRSS") -> float:
    """This process's resident size (``VmRSS``) or its peak (``VmHWM``) in MB, from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def worker(path: str) -> None:
    """One measurement (in a fresh process); prints a JSON line."""
    import io

    from mlqa_debug.data.workspace import Workspace
    from mlqa_debug.errors import MlqaError

    result: dict[str, Any] = {"import": rss_mb()}
    upload = io.BytesIO(Path(path).read_bytes())
    upload.name = "junk.csv"
    result["upload held"] = rss_mb()
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        try:
            Workspace(root).add(upload, name="junk", filename=upload.name)
            result["message"] = "registered (not refused!)"
        except MlqaError as e:
            result["message"] = str(e)[:100]
        result["seconds"] = time.perf_counter() - start
        result["after refusal"] = rss_mb()
        upload.close()
        del upload
        result["upload dropped"] = rss_mb()
        result["left"] = result["upload dropped"] - result["import"]
        result["peak"] = rss_mb("VmHWM")
        result["files left"] = sum(len(files) for _, _, files in os.walk(root))
    print(json.dumps(result))


def run_worker(path: Path, pythonpath: str | None) -> dict[str, Any]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    done = subprocess.run(
        [sys.executable, __file__, "--worker", str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


COLUMNS = ("import", "upload held", "after refusal", "upload dropped", "left", "peak")


def table(rows: list[tuple[str, dict[str, Any]]]) -> str:
    head = "| run | " + " | ".join(f"{c} (MB)" for c in COLUMNS) + " | seconds | files left |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 3)]
    for label, r in rows:
        cells = " | ".join(f"{r[c]:,.0f}" for c in COLUMNS)
        lines.append(f"| {label} | {cells} | {r['seconds']:.1f} | {r['files left']} |")
    lines += ["", *(f"- {label}: {r['message']}" for label, r in rows)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="size of the junk upload (MB)")
    parser.add_argument("--kind", choices=[*ALPHABETS, "both"], default="both")
    parser.add_argument("--baseline", help="also run a copy of the package (PYTHONPATH=DIR)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return
    kinds = list(ALPHABETS) if args.kind == "both" else [args.kind]
    rows = []
    for kind in kinds:
        path = junk_file(args.mb, kind)
        if args.baseline:
            rows.append((f"{kind}, baseline", run_worker(path, args.baseline)))
        rows.append((f"{kind}, this checkout", run_worker(path, None)))
    text = f"Refusing a {args.mb} MB upload of random text through Workspace.add\n\n" + table(rows)
    print(text)
    (OUT_DIR / "bench_upload.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
