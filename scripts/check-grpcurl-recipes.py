#!/usr/bin/env python3
"""Runs every grpcurl recipe of docs/api.md against a live `cairn dev`, in order.

A recipe is a ```sh block whose command starts with `grpcurl`, followed by a ```json block:
what comes back. The answer must contain the expected JSON: every key given, with the value
given ("*" matches any value; a list matches the first elements of the answer's list).
Streamed answers are compared message by message, when the expected block is a list. The
server listens on a loopback port chosen at run time and is stopped by its pid.

Usage: check-grpcurl-recipes.py CAIRN_BINARY GRPCURL_BINARY [docs/api.md]
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

BLOCK = re.compile(r"```(sh|json)\n(.*?)```", re.S)


def recipes(markdown):
    """(command, expected) pairs, in document order."""
    section = markdown.split("<!-- grpcurl-recipes:start -->")[1].split("<!-- grpcurl-recipes:end -->")[0]
    blocks = BLOCK.findall(section)
    pairs = []
    for (kind, body), (next_kind, next_body) in zip(blocks, blocks[1:] + [("", "")]):
        if kind == "sh" and body.lstrip().startswith("grpcurl"):
            if next_kind != "json":
                sys.exit(f"recipe without an expected answer:\n{body}")
            pairs.append((body.strip(), json.loads(next_body)))
    return pairs


def messages(text):
    """The JSON values printed one after another by grpcurl."""
    decoder, out, at = json.JSONDecoder(), [], 0
    text = text.strip()
    while at < len(text):
        value, end = decoder.raw_decode(text, at)
        out.append(value)
        at = end
        while at < len(text) and text[at].isspace():
            at += 1
    return out


def contains(actual, expected):
    if expected == "*":
        return True
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and contains(actual[k], v) for k, v in expected.items())
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) >= len(expected)
            and all(contains(a, e) for a, e in zip(actual, expected))
        )
    return actual == expected


def start_dev(cairn, data_dir):
    server = subprocess.Popen(
        [cairn, "dev", "--listen", "127.0.0.1:0", "--data-dir", data_dir],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = server.stdout.readline()
    address = re.search(r"127\.0\.0\.1:\d+", line)
    if not address:
        server.kill()
        sys.exit(f"cairn dev did not start: {line!r}")
    return server, address.group(0)


def main():
    cairn, grpcurl = sys.argv[1], sys.argv[2]
    docs = sys.argv[3] if len(sys.argv) > 3 else os.path.join(os.path.dirname(__file__), "..", "docs", "api.md")
    with open(docs) as f:
        pairs = recipes(f.read())
    work = tempfile.mkdtemp(prefix="cairn-grpcurl-")
    server, address = start_dev(cairn, os.path.join(work, "data"))
    env = dict(os.environ, CAIRN=address, PATH=os.path.dirname(os.path.abspath(grpcurl)) + os.pathsep + os.environ["PATH"])
    failures = 0
    try:
        for command, expected in pairs:
            run = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=60)
            printed = run.stdout if run.stdout.strip() else run.stderr
            try:
                answer = messages(printed)
            except json.JSONDecodeError:
                answer = []
            got = answer if isinstance(expected, list) else (answer[0] if answer else None)
            title = command.splitlines()[0][:110]
            if contains(got, expected):
                print(f"ok    {title}")
            else:
                failures += 1
                print(f"FAIL  {title}\n  expected: {json.dumps(expected)}\n  got: {printed.strip()[:2000]}")
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
        shutil.rmtree(work, ignore_errors=True)
    print(f"{len(pairs) - failures} of {len(pairs)} grpcurl recipes answered as documented")
    sys.exit(1 if failures or not pairs else 0)


if __name__ == "__main__":
    main()
