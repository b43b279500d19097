"""The worker's two shortcuts (coursekit.grader.speedups) change what nbgrader costs, not
what it reads, writes or raises."""

from __future__ import annotations

import jsonschema
import pytest
from nbgrader.api import Gradebook
from nbgrader.nbgraderformat import MetadataValidator

from coursekit.grader import speedups


def test_one_engine_per_url_and_options_and_still_usable_after_a_gradebook_closes(tmp_path, monkeypatch):
    monkeypatch.setattr(speedups, "_ENGINES", {})
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    assert speedups.shared_engine(url) is speedups.shared_engine(url)
    assert speedups.shared_engine(url) is not speedups.shared_engine(url, echo=True)
    assert speedups.shared_engine(url) is not speedups.shared_engine(f"sqlite:///{tmp_path / 'other.db'}")

    monkeypatch.setattr("nbgrader.api.create_engine", speedups.shared_engine)
    with Gradebook(url) as gb:
        gb.add_student("ada")
        first = gb.engine
    # close() disposed of the engine's connections; the next gradebook reuses the engine
    with Gradebook(url) as gb:
        assert gb.engine is first
        assert [s.id for s in gb.students] == ["ada"]
        gb.add_student("ben")
    with Gradebook(url) as gb:
        assert sorted(s.id for s in gb.students) == ["ada", "ben"]


def _cell(**nbgrader):
    from nbformat.v4 import new_code_cell

    cell = new_code_cell("x = 1")
    cell.metadata["nbgrader"] = {"schema_version": 3, "grade": False, "solution": True, "locked": False,
                                 "task": False, "grade_id": "answer", **nbgrader}
    return cell


def test_validate_accepts_and_rejects_what_jsonschema_does_checking_the_schema_once(monkeypatch):
    schema = MetadataValidator().schema
    checks = []
    original = jsonschema.Draft7Validator.check_schema
    monkeypatch.setattr(speedups, "_VALIDATORS", {})
    good, bad = dict(_cell().metadata["nbgrader"]), dict(_cell(points="three").metadata["nbgrader"])

    with pytest.raises(jsonschema.ValidationError) as stock:
        jsonschema.validate(bad, schema)

    def counted(cls, value, *args, **kwargs):
        checks.append(value)
        return original.__func__(cls, value, *args, **kwargs)

    for cls in {jsonschema.validators.validator_for(schema)}:
        monkeypatch.setattr(cls, "check_schema", classmethod(counted))
    for _ in range(3):
        assert speedups.validate(good, schema) is None
    with pytest.raises(jsonschema.ValidationError) as ours:
        speedups.validate(bad, schema)
    assert str(ours.value) == str(stock.value)
    assert len(checks) == 1  # once for this schema, not once per cell


def test_installed_nbgrader_validator_still_rejects_bad_metadata(monkeypatch):
    import nbgrader.nbgraderformat.common as common

    monkeypatch.setattr(speedups, "_INSTALLED", False)
    monkeypatch.setattr(common, "jsonschema", common.jsonschema)
    monkeypatch.setattr("nbgrader.api.create_engine", __import__("nbgrader.api").api.create_engine)
    speedups.install()
    validator = MetadataValidator()
    validator.validate_cell(_cell())
    with pytest.raises(jsonschema.ValidationError):
        validator.validate_cell(_cell(points="three"))
    assert common.jsonschema.ValidationError is jsonschema.ValidationError  # other names pass through
