"""The checked-in stubs are exactly what the pinned generator makes from proto/."""

import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
PACKAGE = HERE.parent


def test_checked_in_stubs_match_the_proto(tmp_path):
    subprocess.run([sys.executable, str(PACKAGE / "scripts" / "generate_stubs.py"), str(tmp_path)], check=True)
    generated = sorted((tmp_path / "cairn" / "v1").iterdir())
    checked_in = PACKAGE / "src" / "cairn" / "v1"
    assert [p.name for p in generated] == sorted(p.name for p in checked_in.iterdir() if p.name != "__pycache__")
    for path in generated:
        assert path.read_bytes() == (checked_in / path.name).read_bytes(), f"{path.name} is stale: run scripts/generate_stubs.py"
