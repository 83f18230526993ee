"""The trusted side's reading of what could change the sandbox's watching (no sandbox):
the machinery is found anywhere, names computed at run time only where a watched call
reaches them, and honest styles are not flagged."""

from __future__ import annotations

import pytest

from grader.codec import Raised
from grader.integrity import UNVERIFIED, Integrity
from grader.testing import student_source
from grader.watched import apply_watching


def integrity(*cells: str) -> Integrity:
    return Integrity(student_source(*cells))


HONEST = {
    "layers by name": """
        import torch.nn as nn
        class MLP(nn.Module):
            def __init__(self, sizes, activation="ReLU"):
                super().__init__()
                for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
                    setattr(self, f"fc{i}", nn.Linear(a, b))
                self.act = getattr(nn, activation)()
                self.n = len(sizes) - 1
            def forward(self, x):
                for i in range(self.n):
                    x = getattr(self, f"fc{i}")(x)
                return x
        def center_rows(x):
            return x - x.mean(dim=1, keepdim=True)
    """,
    "a live check and prints": """
        import sys, os, gc
        import grader
        import numpy as np
        def center_rows(x):
            print("centering", x.shape, file=sys.stderr)
            gc.collect()
            return x - x.mean(dim=1, keepdim=True)
        grader.check("broadcasting")
    """,
    "numpy by name": """
        import numpy as np
        def center_rows(x, how="mean"):
            return x - getattr(np, how)(x.numpy(), axis=1, keepdims=True)
    """,
}


@pytest.mark.parametrize("style", list(HONEST))
def test_honest_styles_are_not_flagged(style):
    assert integrity(HONEST[style]).unverified("center_rows") is None


MACHINERY = {
    "profile hook": "import sys\ndef f(x):\n    sys.setprofile(None)\n    return x\n",
    "imported name": "from sys import settrace as t\ndef f(x):\n    return x\n",
    "frames": "def f(x):\n    try:\n        raise ValueError\n    except ValueError as e:\n"
              "        e.__traceback__.tb_frame.f_back.f_locals.clear()\n    return x\n",
    "gc": "import gc\ndef f(x):\n    gc.get_referrers(x)\n    return x\n",
    "ctypes": "def f(x):\n    import ctypes\n    ctypes.memmove(0, 0, 0)\n    return x\n",
    "from ctypes": "from ctypes import pythonapi\n",
    "the grader's modules": "import grader.sandbox.recorder as r\ndef f(x):\n    return x\n",
    "a module by its name": "import sys\ndef f(x):\n    sys.modules['grader.sandbox.recorder'].FAILED = x\n"
                            "    return x\n",
    "a format string": "def f(x):\n    return '{0.f_back}'.format(x)\n",
    "sys passed around": "import sys\ndef g(m, n):\n    return getattr(m, n)\ndef f(x):\n    g(sys, 'x')\n"
                         "    return x\n",
}


@pytest.mark.parametrize("trick", list(MACHINERY))
def test_the_machinery_counts_anywhere(trick):
    found = integrity(MACHINERY[trick], "def center_rows(x):\n    return x\n").unverified("center_rows")
    assert found is not None and found.where.startswith("cell 1, line"), found


COMPUTED = {
    "getattr": "import torch\ndef f(a, b):\n    g = getattr(torch, 'broadcast_' + 'shapes')\n    return g(a, b)\n",
    "eval": "def f(a, b):\n    return eval('a + b')\n",
    "vars": "import torch\ndef f(a, b):\n    return vars(torch)[a](b)\n",
    "__import__": "def f(a, b):\n    return __import__('to' + 'rch').zeros(a)\n",
    "importlib": "import importlib\ndef f(a, b):\n    return importlib.import_module(a)\n",
}


@pytest.mark.parametrize("construct", list(COMPUTED))
def test_computed_names_count_where_the_watched_call_reaches_them(construct):
    source = COMPUTED[construct]
    assert integrity(source).unverified("f") is not None
    through_a_helper = source + "def center_rows(x):\n    return f(x, x)\n"
    assert integrity(through_a_helper).unverified("center_rows") is not None
    elsewhere = source + "def center_rows(x):\n    return x\n"
    assert integrity(elsewhere).unverified("center_rows") is None, "an unrelated function is not flagged"
    at_top_level = "y = " + {"getattr": "getattr(object, 'x' + 'y', 0)", "eval": "eval('1')",
                             "vars": "vars(torch)", "__import__": "__import__('o' + 's')",
                             "importlib": "__import__('importlib').import_module('os')"}[construct]
    assert integrity(at_top_level, "def center_rows(x):\n    return x\n").unverified("center_rows") is not None


def test_watched_calls_of_an_unverifiable_function_count_as_caught():
    found = integrity("import sys\ndef f(x):\n    sys.settrace(None)\n    return x\n")
    expected = {"a.watched": {"function": "f", "forbid": ["torch.broadcast_shapes"], "inputs": []},
                "b.watched": {"function": "f", "forbid": [], "inputs": ["x"]}}
    got = apply_watching({"a": (2, 3), "b": 1.0}, expected, found)
    assert isinstance(got["a"], Raised) and got["a"].is_a(UNVERIFIED) and got["a"].forbidden == "sys.settrace"
    assert got["b"] == 1.0 and got["b.inputs_changed"]["arguments"] == ["x"]
    assert "sys.settrace (cell 1, line 3)" in got["b.inputs_changed"]["unverified"]
    clean = integrity("def f(x):\n    return x\n")
    assert apply_watching({"a": (2, 3)}, expected, clean) == {"a": (2, 3)}


HONEST_TOP_LEVEL = {  # each beside a correct solution: a look that reaches nothing
    "colab": "import sys\nIN_COLAB = 'google.colab' in sys.modules\n",
    "timeit": "import timeit\nt = timeit.timeit(lambda: center_rows(1), number=3)\n",
    "format": "ROW = '{!s:>12} {:>8.3f}'\nprint(ROW.format('loss', 0.5))\n",
    "globals": "if 'x_demo' not in globals():\n    x_demo = 1\n",
    "getattr called": ("import torch\ndef make(name, *args):\n    return getattr(torch, name)(*args)\n"
                       "z = make('zeros', 3)\n"),
    "config": "class Config:\n    def __init__(self, **kw):\n        self.__dict__.update(kw)\ncfg = Config(lr=0.1)\n",
    "a word that contains one": "NOTE = 'the diag_frame of the plot'\n",
}


@pytest.mark.parametrize("style", list(HONEST_TOP_LEVEL))
def test_honest_top_level_code_is_not_flagged(style):
    assert integrity(HONEST_TOP_LEVEL[style], "def center_rows(x):\n    return x\n").unverified("center_rows") is None


RUNS_AT_DEFINITION = {  # code that runs when a def or class statement runs counts as top-level code
    "a decorator": "HOOKS = {}\ndef register(f):\n    HOOKS['p'] = getattr(__import__('sy' + 's'), 'x')\n    return f\n"
                   "@register\ndef unused():\n    pass\n",
    "a class body": "class K:\n    d = {'f': getattr(__import__('sy' + 's'), 'x')}\n",
    "a default value": "def g(p=getattr(__import__('sy' + 's'), 'x')):\n    return p\n",
}


@pytest.mark.parametrize("where", list(RUNS_AT_DEFINITION))
def test_code_that_runs_when_a_definition_runs_counts(where):
    found = integrity(RUNS_AT_DEFINITION[where], "def center_rows(x):\n    return x\n").unverified("center_rows")
    assert found is not None and not found.machinery, found
