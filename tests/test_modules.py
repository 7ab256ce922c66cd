"""common.modules.load_module_file: loads once, cleans up after a failing import."""

import sys

import pytest

from common.modules import load_module_file


def test_loads_once_and_registers(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("VALUE = 41 + 1\n")
    name = "repro_test_module_ok"
    try:
        m = load_module_file(name, f)
        assert m.VALUE == 42 and sys.modules[name] is m
        f.write_text("VALUE = 0\n")
        assert load_module_file(name, f) is m  # not re-executed
    finally:
        sys.modules.pop(name, None)


def test_failing_import_is_not_left_half_initialised(tmp_path):
    f = tmp_path / "bad.py"
    f.write_text("X = 1\nraise RuntimeError('boom')\n")
    with pytest.raises(RuntimeError, match="boom"):
        load_module_file("repro_test_module_bad", f)
    assert "repro_test_module_bad" not in sys.modules
    f.write_text("X = 2\n")
    try:
        assert load_module_file("repro_test_module_bad", f).X == 2
    finally:
        sys.modules.pop("repro_test_module_bad", None)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.py"):
        load_module_file("repro_test_module_missing", tmp_path / "nope.py")
