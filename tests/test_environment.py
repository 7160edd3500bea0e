"""environment.yml (for conda users) must pin exactly what requirements.txt pins."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _pins(lines):
    return {m.group(1).lower(): m.group(2) for line in lines
            if (m := re.match(r"^\s*(?:-\s+)?([A-Za-z0-9_.\-]+)==([^\s#]+)", line))}


def test_environment_yml_mirrors_requirements():
    requirements = _pins((ROOT / "requirements.txt").read_text().splitlines())
    environment = _pins((ROOT / "environment.yml").read_text().splitlines())
    assert requirements["torch"] == "2.13.0"
    assert environment == requirements
