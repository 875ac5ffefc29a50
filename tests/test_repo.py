"""Repository contracts: CI runs exactly the README's test command."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    block = re.search(r"```(?:bash|sh)?\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert block, "README.md must open with a fenced quick-start block"
    return [line for line in block.group(1).splitlines() if line and not line.startswith("#")]


def test_readme_quick_start_has_exactly_two_commands():
    commands = _readme_commands()
    assert len(commands) == 2, commands
    assert "minitorch train" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim():
    test_command = _readme_commands()[1]
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines


def _main_environment_installs(ci_text: str) -> list[str]:
    """Every `pip install` that .ci/run runs with the machine's own Python (not a venv's)."""
    commands = []
    for line in ci_text.splitlines():
        line = line.split("#", 1)[0].strip()
        for part in re.split(r"&&|\|\||;", line):
            part = part.strip()
            if re.search(r"\bpip3? install\b", part) and "$venv" not in part:
                commands.append(part)
    return commands


def test_ci_installs_into_the_users_environment_only_what_the_readme_does():
    """A pre-installed package (say a pinned torch) would make CI pass where a user's fresh
    venv, resolving whatever pip picks, fails: the README's install is the only one allowed."""
    readme_install = _readme_commands()[1].split("&&")[0].strip()
    installs = _main_environment_installs((ROOT / ".ci" / "run").read_text())
    assert installs == [readme_install], installs


def test_the_install_check_sees_a_pinned_torch():
    """The check above must be able to fail: a pre-install line is caught, a venv's is not."""
    pinned = 'python -m pip install --quiet torch==2.13.0\npip install -e ".[test]" && python -m pytest'
    assert _main_environment_installs(pinned) == ["python -m pip install --quiet torch==2.13.0",
                                                  'pip install -e ".[test]"']
    assert _main_environment_installs('"$venv/bin/python" -m pip install torch==2.13.0') == []


def test_test_extra_brings_the_reference_packages():
    """The README's test command must install what the PyTorch/torchvision comparisons need, so
    they run (not skip) on a fresh machine."""
    text = (ROOT / "pyproject.toml").read_text()
    test_extra = re.search(r"^test = \[(.*?)\]", text, re.M | re.S).group(1)
    names = {re.split(r"[<>=\[ ]", d.strip().strip('"'))[0] for d in test_extra.split(",") if d.strip()}
    assert {"torch", "torchvision", "pytest", "hypothesis"} <= names, names


def test_every_package_is_listed_in_pyproject():
    """A package missing from the explicit list works in the editable install and is absent
    from a wheel: a fresh `pip install .` would fail to import it."""
    import tomllib
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for p in (ROOT / "minitorch").rglob("__init__.py")}
    assert found <= listed, sorted(found - listed)
