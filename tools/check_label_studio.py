"""Check ``select --model``'s Label Studio pre-annotations with Label Studio itself.

Starts ``label-studio`` (from its own virtualenv: ``python -m venv LSVENV && LSVENV/bin/pip install label-studio``) on
127.0.0.1 at a port the OS picks, with a fresh data directory and local file serving rooted at the select output;
creates a project with the labelling config select wrote; imports ``label_studio_tasks.json`` through the API; reads
the tasks back and compares their predictions with the file. Prints a JSON summary (and writes it with ``--out``);
exits 1 when Label Studio rejects or loses anything.

    python tools/check_label_studio.py SELECT_OUT --label-studio LSVENV/bin/label-studio --out RESULT.json
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

TOKEN = "edgeprune-check-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(base: str, path: str, payload=None, method: str | None = None):
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(base + path, data=data, method=method or ("POST" if data else "GET"))
    request.add_header("Authorization", f"Token {TOKEN}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=120) as response:
        body = response.read()
    return json.loads(body) if body else None


def wait_healthy(base: str, server: subprocess.Popen, seconds: float = 240.0) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"label-studio exited with {server.returncode} before it was healthy")
        try:
            with urllib.request.urlopen(base + "/health", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(2)
    raise SystemExit(f"label-studio was not healthy at {base} after {seconds:.0f} s")


def check(base: str, select_out: Path) -> dict:
    pre = select_out / "pre_annotations"
    tasks = json.loads((pre / "label_studio_tasks.json").read_text())
    config = (pre / "label_studio_config.xml").read_text()
    project = call(base, "/api/projects/", {"title": "edgeprune select check", "label_config": config})
    imported = call(base, f"/api/projects/{project['id']}/import", tasks)
    back = call(base, f"/api/tasks/?project={project['id']}&page_size=1000&fields=all")
    back = back["tasks"] if isinstance(back, dict) else back
    sent_boxes = sorted(len(p["result"]) for t in tasks for p in t["predictions"])
    stored = []
    for task in back:
        predictions = call(base, f"/api/predictions/?task={task['id']}")
        stored.append(sum(len(p["result"]) for p in predictions))
    labels = {r["value"]["rectanglelabels"][0] for t in tasks for p in t["predictions"] for r in p["result"]}
    return {
        "label_studio_version": call(base, "/api/version").get("release"),
        "tasks_sent": len(tasks),
        "tasks_imported": imported.get("task_count"),
        "predictions_imported": imported.get("prediction_count"),
        "tasks_read_back": len(back),
        "boxes_sent": sum(sent_boxes),
        "boxes_read_back": sum(stored),
        "labels_in_predictions": sorted(labels),
        "ok": len(back) == len(tasks) and sorted(stored) == sent_boxes,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("select_out", type=Path, help="an edgeprune select --model output directory")
    parser.add_argument("--label-studio", default="label-studio", help="the label-studio executable")
    parser.add_argument("--out", type=Path, help="write the summary JSON here")
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            **os.environ,
            "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
            "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(args.select_out.resolve()),
            "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
            "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",  # the --user-token below (1.23 turns legacy tokens off)
        }
        command = [args.label_studio, "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port)]
        command += ["--data-dir", data_dir, "--username", "check@edgeprune.local", "--password", "edgeprune-check"]
        command += ["--user-token", TOKEN]
        log = open(Path(data_dir) / "server.log", "w")
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_healthy(base, server)
            result = check(base, args.select_out)
        except (urllib.error.HTTPError, SystemExit) as exc:
            detail = exc.read().decode()[:500] if isinstance(exc, urllib.error.HTTPError) else str(exc)
            print(f"label studio check failed: {detail}", file=sys.stderr)
            print((Path(data_dir) / "server.log").read_text()[-3000:], file=sys.stderr)
            return 1
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
