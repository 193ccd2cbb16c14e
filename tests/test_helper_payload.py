"""The helper's modules are real modules locally and one stdlib-only script on the far side."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

from wacket import paths
from wacket.remote import helper, payload


def _all_ops_locally() -> set[str]:
    import wacket.remote.ops as ops

    for info in pkgutil.iter_modules(ops.__path__):
        importlib.import_module(f"wacket.remote.ops.{info.name}")
    return set(helper.OPS)


def test_the_payload_defines_the_ops_the_modules_define():
    text = payload.build().decode("utf-8")
    assert text.endswith("\nmain()\n")
    assert "from wacket" not in text and "import wacket" not in text
    ns: dict = {"__name__": "payload_test"}
    exec(compile(text[: text.rindex("\nmain()")], "helper", "exec"), ns)
    assert set(ns["OPS"]) == _all_ops_locally()
    assert len(ns["OPS"]) > 40


def test_each_module_comes_after_what_it_imports():
    text = payload.build().decode("utf-8")
    order = [line[6:] for line in text.splitlines() if line.startswith("# --- wacket.")]
    assert order.index("wacket.remote.helper") < order.index("wacket.remote.ops.tree")
    assert order.index("wacket.remote.ops.tree") < order.index("wacket.remote.ops.sync")
    assert order.index("wacket.remote.ops.gpio") < order.index("wacket.remote.ops.gpio_devices")
    assert order.index("wacket.remote.ops.gpio_holder") < order.index("wacket.remote.ops.gpio_ops")


def test_the_payload_is_stable():
    assert payload.build() == payload.build()


def test_the_helpers_modules_can_share_one_namespace():
    assert payload.problems(payload.sources()) == []


BASE = "import os\n\ndef helper_fn():\n    return os.sep\n"


def test_a_name_defined_twice_is_a_problem():
    found = payload.problems({"wacket.remote.a": BASE, "wacket.remote.b": BASE})
    assert found == ["helper_fn is defined by both wacket.remote.a and wacket.remote.b"]


def test_an_import_inside_a_function_is_a_problem():
    inner = "def f():\n    from wacket.remote.a import helper_fn\n    return helper_fn()\n"
    found = payload.problems({"wacket.remote.a": BASE, "wacket.remote.b": inner})
    assert len(found) == 1 and "wacket.remote.b:2: only top-level" in found[0]
    assert payload.problems({"wacket.remote.c": "import wacket.remote.a\n"})


def test_a_string_line_that_looks_like_an_import_is_a_problem():
    text = 'DOC = """\nfrom wacket.remote.a import x\n"""\n'
    assert payload.problems({"wacket.remote.d": text}) == [
        "wacket.remote.d:2: a line joining would cut as an import"
    ]


def test_an_import_of_the_rest_of_wacket_is_refused():
    outside = "from wacket.paths import data_root\n"
    with pytest.raises(ValueError, match="does not ship"):
        payload.join({"wacket.remote.a": outside})


def test_a_cycle_is_refused():
    a = "from wacket.remote.b import g\n\ndef f():\n    return g()\n"
    b = "from wacket.remote.a import f\n\ndef g():\n    return f()\n"
    with pytest.raises(ValueError, match="cycle"):
        payload.join({"wacket.remote.a": a, "wacket.remote.b": b})


def test_imports_between_modules_are_cut_and_the_rest_kept():
    user = "import sys\nfrom wacket.remote.a import (\n    helper_fn,\n)\n\nX = helper_fn()\n"
    text = payload.join({"wacket.remote.b": user, "wacket.remote.a": BASE}).decode()
    assert text.index("def helper_fn") < text.index("X = helper_fn()")
    assert "import sys" in text and "from wacket" not in text
    ns: dict = {}
    exec(text[: text.rindex("\nmain()")], ns)
    assert ns["X"]


@pytest.mark.parametrize(
    "env",
    [
        {"WACKET_DATA": "~/elsewhere"},
        {"XDG_DATA_HOME": "/tmp/xdg-data"},
        {},
    ],
)
def test_the_helper_finds_the_data_dir_the_client_does(monkeypatch, env):
    for name in ("WACKET_DATA", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert helper.data_dir() == paths.data_root()
