"""Print pip pins at the floor of every dependency in pyproject.toml ("name==floor").

`make test-lowest` installs these in .venv-lowest and runs the tests, which is how the
lower bounds in pyproject.toml are known to work rather than hoped to.
"""

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

# Floors of packages we do not depend on directly, but that the floors above need:
# pandas 2.2.0 was built against NumPy 1.x.
TRANSITIVE = ["numpy<2"]

project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
for line in project["dependencies"] + project["optional-dependencies"]["test"]:
    requirement = Requirement(line)
    floors = [s.version for s in requirement.specifier if s.operator == ">="]
    if not floors:
        raise SystemExit(f"{requirement.name}: no lower bound in pyproject.toml")
    extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
    version = floors[0] if re.fullmatch(r"\d+\.\d+\.\d+", floors[0]) else floors[0] + ".0"
    print(f"{requirement.name}{extras}=={version}")
for line in TRANSITIVE:
    print(line)
