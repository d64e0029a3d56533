"""The README's test command is what CI runs, and its command-line snippet needs no files."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _readme() -> str:
    path = ROOT / "README.md"
    if not path.is_file():
        pytest.skip("no README.md next to the tests (an installed copy)")
    return path.read_text()


def _bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, re.S)


def test_ci_runs_exactly_the_readme_test_command():
    tests_part = _readme().split("**Tests**", 1)[1]
    command = _bash_blocks(tests_part)[0].strip()
    ci = ROOT / ".ci" / "run"
    if not ci.is_file():
        pytest.skip("no .ci/run")
    lines = [line for line in ci.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert lines[-1] == command


def test_command_line_snippet_makes_the_stack_it_converts():
    section = _readme().split("## Command line", 1)[1].split("\n## ", 1)[0]
    (block,) = _bash_blocks(section)
    lines = [line for line in block.splitlines() if line.strip()]
    made = lines[0].split("#")[0]
    assert "tifffile.imwrite('stack.tif'" in made
    assert lines[1].startswith("wkpy convert stack.tif ")
