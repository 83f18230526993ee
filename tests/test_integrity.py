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


# -- what a module-level name stands for: every value stored into it, wherever (grader/static.py)
BROADCAST = ("torch.broadcast_shapes", "numpy.broadcast", "torch._C._VariableFunctions.broadcast_tensors",
             "torch.*broadcast*", "numpy.*broadcast*")
HIDDEN_BINDINGS = {
    "an import in an if block": "import numpy as np\nif True:\n    from numpy import broadcast as shape_of\n",
    "an import in a try block": "try:\n    from numpy import broadcast as shape_of\nexcept ImportError:\n"
                                "    shape_of = None\n",
    "an assignment in a with block": "import torch, contextlib\nwith contextlib.suppress(Exception):\n"
                                     "    shape_of = torch.broadcast_shapes\n",
    "a for target": "import torch\nfor shape_of in (torch.broadcast_shapes,):\n    pass\n",
    "a with target": "import torch, contextlib\nwith contextlib.nullcontext(torch.broadcast_shapes) as shape_of:\n"
                     "    pass\n",
    "a walrus": "import torch\nif (shape_of := torch.broadcast_shapes):\n    pass\n",
    "a container": "import numpy as np\nTOOLS = {}\nTOOLS['b'] = np.broadcast\nshape_of = TOOLS\n",
    "an attribute": "import torch, types\nns = types.SimpleNamespace()\n"
                    "ns.f = torch._C._VariableFunctions.broadcast_tensors\nshape_of = ns\n",
    "an update": "import torch\nTOOLS = {}\nTOOLS.update(f=torch.broadcast_shapes)\nshape_of = TOOLS\n",
    "setattr": "import torch, types\nns = types.SimpleNamespace()\nsetattr(ns, 'f', torch.broadcast_shapes)\n"
               "shape_of = ns\n",
    "globals()": "import torch\nglobals()['shape_of'] = torch.broadcast_shapes\n",
    "a global in a helper": "import torch\ndef setup():\n    global shape_of\n    shape_of = torch.broadcast_shapes\n"
                            "setup()\n",
    "a global import in a helper": "def setup():\n    global shape_of\n"
                                   "    from torch import broadcast_shapes as shape_of\nsetup()\n",
    "a store from a helper": "import torch\nTOOLS = {}\ndef setup():\n    TOOLS['f'] = torch.broadcast_shapes\n"
                             "setup()\nshape_of = TOOLS\n",
    "a store of a parameter": "import torch\nTOOLS = {}\ndef put(k, v):\n    TOOLS[k] = v\n"
                              "put('f', torch.broadcast_shapes)\nshape_of = TOOLS\n",
    "a store into a parameter": "import torch\nTOOLS = {}\ndef fill(d):\n    d['f'] = torch.broadcast_shapes\n"
                                "fill(TOOLS)\nshape_of = TOOLS\n",
    "a store through a local": "import torch\nTOOLS = {}\ndef setup():\n    t = TOOLS or {}\n"
                               "    t['f'] = torch.broadcast_shapes\nsetup()\nshape_of = TOOLS\n",
    "a decorator that registers": "import torch\nTOOLS = {}\ndef register(f):\n    TOOLS['f'] = f\n    return f\n"
                                  "@register\ndef helper(a, b):\n    return torch.broadcast_shapes(a, b)\n"
                                  "shape_of = TOOLS\n",
    "a def in an if block": "import torch\nif True:\n    def shape_of(a, b):\n"
                            "        return torch.broadcast_shapes(a, b)\n",
}
USES_IT = "def broadcast_shape(a, b):\n    return tuple(shape_of(a, b))\n"


@pytest.mark.parametrize("how", list(HIDDEN_BINDINGS))
def test_a_name_bound_anywhere_reaches_what_was_stored_in_it(how):
    source = student_source(HIDDEN_BINDINGS[how], USES_IT)
    assert source.find_forbidden("broadcast_shape", set(BROADCAST)), sorted(source.names_used("broadcast_shape"))


def test_a_local_name_is_not_the_module_level_one():
    source = student_source("import torch\na = torch.randn(3, 1)\nb = a.shape\nout = torch.zeros(2)\n"
                            "TOOLS = {}\nTOOLS['f'] = torch.broadcast_shapes\n",
                            "def broadcast_shape(shape_a, shape_b):\n    a, b = tuple(shape_a), tuple(shape_b)\n"
                            "    out = []\n    for x, y in zip(a, b):\n        out.append(max(x, y))\n"
                            "    TOOLS = {}\n    return tuple(out)\n")
    assert source.find_forbidden("broadcast_shape", {"torch.randn", "torch.zeros", "torch.broadcast_shapes"}) == []


def test_a_container_the_watched_function_does_not_use_is_not_reached():
    source = student_source("import torch\nTOOLS = {}\nTOOLS['f'] = torch.broadcast_shapes\n",
                            "def broadcast_shape(a, b):\n    return tuple(max(x, y) for x, y in zip(a, b))\n")
    assert source.find_forbidden("broadcast_shape", set(BROADCAST)) == []


def test_a_lazy_container_returned_is_read_with_its_methods():
    lazy = ("import torch\nTOOLS = {}\nTOOLS['f'] = torch.broadcast_shapes\nclass Shape(tuple):\n"
            "    def __getitem__(self, i):\n        return tuple(TOOLS['f'](self.a, self.b))[i]\n"
            "def broadcast_shape(a, b):\n    return Shape(a, b)\n")
    assert "torch.broadcast_shapes" in student_source(lazy).find_forbidden("broadcast_shape", set(BROADCAST))


# -- code in a string: only a string a torch function is handed (TorchScript), not a docstring or a message
def test_a_docstring_or_a_message_naming_a_helper_is_not_code():
    source = student_source('import torch\ndef broadcast_shape(a, b):\n'
                            '    """The same as torch.broadcast_shapes(a, b), by hand."""\n'
                            '    print("compare with torch.broadcast_shapes")\n'
                            '    raise ValueError(f"torch.broadcast_shapes would fail for {a}")\n')
    assert source.find_forbidden("broadcast_shape", set(BROADCAST)) == []


@pytest.mark.parametrize("how", ["directly", "a module-level name", "a local name"])
def test_a_string_handed_to_a_torch_function_is_code(how):
    code = "'def f(a, b):\\n    return torch.broadcast_shapes(a, b)\\n'"
    cell = {"directly": f"import torch\n_cu = torch.jit.CompilationUnit({code})\n",
            "a module-level name": f"import torch\nSRC = {code}\n_cu = torch.jit.CompilationUnit(SRC)\n",
            "a local name": f"import torch\ndef make():\n    src = {code}\n    return torch.jit.CompilationUnit(src)\n"
                            "_cu = make()\n"}[how]
    source = student_source(cell, "def broadcast_shape(a, b):\n    return tuple(_cu.f(a, b))\n")
    assert "torch.broadcast_shapes" in source.find_forbidden("broadcast_shape", {"torch.broadcast_shapes"})


# -- the machinery: raw threads, torch-function modes and overrides, a changed __class__
MORE_MACHINERY = {
    "a raw thread": "import _thread\ndef f(x):\n    _thread.start_new_thread(print, ())\n    return x\n",
    "from _thread": "from _thread import allocate_lock\n",
    "threading's private start": "import threading\nthreading._start_new_thread(print, ())\n",
    "_thread passed around": "import _thread as t\ndef g(m):\n    return m\ng(t)\n",
    "a torch function mode": "from torch.overrides import TorchFunctionMode\n",
    "a torch function mode by attribute": "import torch\nclass Q(torch.overrides.TorchFunctionMode):\n    pass\n",
    "reentrant dispatch": "import torch\nwith torch.overrides.enable_reentrant_dispatch():\n    pass\n",
    "a __torch_function__": "import torch\nclass T(torch.Tensor):\n    @classmethod\n"
                            "    def __torch_function__(cls, func, types, args=(), kwargs=None):\n"
                            "        return func(*args, **(kwargs or {}))\n",
    "a disabled torch function": "import torch\nclass T(torch.Tensor):\n"
                                 "    __torch_function__ = torch._C._disabled_torch_function_impl\n",
    "DisableTorchFunctionSubclass": "import torch\ndef f(x):\n    with torch._C.DisableTorchFunctionSubclass():\n"
                                    "        return x\n",
    "a __class__ swap": "def f(x):\n    x.__class__ = int\n    return x\n",
    "a __class__ swap by setattr": "def f(x):\n    object.__setattr__(x, '__class__', int)\n    return x\n",
}


@pytest.mark.parametrize("trick", list(MORE_MACHINERY))
def test_more_machinery_counts_anywhere(trick):
    found = integrity(MORE_MACHINERY[trick], "def center_rows(x):\n    return x\n").unverified("center_rows")
    assert found is not None and found.machinery, found


def test_honest_classes_and_threads_are_not_machinery():
    honest = ("import threading\nimport torch.nn as nn\nclass M(nn.Module):\n    def __init__(self):\n"
              "        super().__init__()\n        self.l = nn.Linear(2, 2)\n    def forward(self, x):\n"
              "        return self.l(x)\nclass Scale:\n    def __init__(self, k):\n        self.k = k\n"
              "    def __call__(self, x):\n        return x * self.k\n    def __repr__(self):\n"
              "        return f'{self.__class__.__name__}({self.k})'\n"
              "threading.Thread(target=print, daemon=True).start()\n")
    assert integrity(honest, "def center_rows(x):\n    return x\n").unverified("center_rows") is None


# -- the exercises' rules on top of the reading (exercises/manual_backprop.py, exercises/broadcasting.py)
class _Ctx:
    def __init__(self, *cells: str) -> None:
        self.source = student_source(*cells)


TWO_LAYER_TRICKS = {
    "dual numbers": "import torch\ndef two_layer_backward(x, W1, b1, W2, b2, y):\n"
                    "    level = torch._C._enter_dual_level()\n    d = torch._make_dual(W1, W1, level=level)\n"
                    "    return torch._unpack_dual(d, level=level)\n",
    "forward_ad": "import torch.autograd.forward_ad as fwad\ndef two_layer_backward(x, W1, b1, W2, b2, y):\n"
                  "    with fwad.dual_level():\n        return fwad.make_dual(W1, W1)\n",
    "the graph's nodes": "def two_layer_backward(x, W1, b1, W2, b2, y):\n    loss = (x @ W1.T).sum()\n"
                         "    node = loss.grad_fn\n    return [n(node) for n, _ in node.next_functions]\n",
    "a node of an expression": "def two_layer_backward(x, W1, b1, W2, b2, y):\n"
                               "    return (x @ W1.T).sum().grad_fn.next_functions\n",
    "enable_grad": "import torch\nTOOLS = {}\nTOOLS['g'] = torch.autograd.grad\n"
                   "def two_layer_backward(x, W1, b1, W2, b2, y):\n    with torch.enable_grad():\n"
                   "        return TOOLS['g'](x.sum(), [W1])\n",
}


@pytest.mark.parametrize("trick", list(TWO_LAYER_TRICKS))
def test_autograd_by_other_routes_is_forbidden(trick):
    from exercises.manual_backprop import FORBID, _autograd_uses

    ctx = _Ctx(TWO_LAYER_TRICKS[trick])
    assert ctx.source.find_forbidden("two_layer_backward", set(FORBID)), sorted(ctx.source.names_used(
        "two_layer_backward"))
    assert _autograd_uses(ctx, "two_layer_backward")


@pytest.mark.parametrize("spelling", ["W1.detach().requires_grad_()", "torch.zeros(3, requires_grad=True)",
                                      "(x + 1).backward()"])
def test_asking_autograd_for_a_graph_is_an_autograd_use(spelling):
    from exercises.manual_backprop import _autograd_uses

    ctx = _Ctx(f"import torch\ndef two_layer_backward(x, W1, b1, W2, b2, y):\n    t = {spelling}\n    return t\n")
    assert _autograd_uses(ctx, "two_layer_backward")


def test_the_students_own_backward_methods_are_not_autograd():
    from exercises.manual_backprop import FORBID, _autograd_uses

    layers = ("import torch\nclass Linear:\n    def __init__(self, W, b):\n        self.W, self.b = W, b\n"
              "    def forward(self, x):\n        self.x = x\n        return x @ self.W.T + self.b\n"
              "    def backward(self, d):\n        self.grad = d.T @ self.x\n        return d @ self.W\n"
              "def two_layer_backward(x, W1, b1, W2, b2, y):\n    l1 = Linear(W1, b1)\n    h = l1.forward(x)\n"
              "    l1.backward(h)\n    return {'W1': l1.grad}\n")
    ctx = _Ctx(layers)
    assert _autograd_uses(ctx, "two_layer_backward") == []
    assert ctx.source.find_forbidden("two_layer_backward", set(FORBID)) == []


@pytest.mark.parametrize("made", ["(torch.empty(a) + torch.empty(b)).shape",
                                  "(torch.zeros(a, device='meta') + torch.zeros(b, device='meta')).shape",
                                  "np.add(np.empty(a), np.empty(b)).shape", "(np.ones(a) * np.ones(b)).shape",
                                  "np.broadcast_to(np.zeros(a), b).shape", "torch.tensor(0.).expand(a).shape",
                                  "(np.resize(0, a) + np.tile(0, b)).shape"])
def test_tensors_made_to_broadcast_are_forbidden_in_broadcast_shape(made):
    from exercises.broadcasting import FORBIDDEN

    source = student_source(f"import numpy as np\nimport torch\ndef broadcast_shape(a, b):\n"
                            f"    return tuple({made})\n")
    assert source.find_forbidden("broadcast_shape", set(FORBIDDEN))


def test_a_torch_size_result_is_fine_in_broadcast_shape():
    from exercises.broadcasting import FORBIDDEN

    source = student_source("import torch\ndef broadcast_shape(a, b):\n    n = max(len(a), len(b))\n"
                            "    a, b = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)\n"
                            "    if any(x != y and 1 not in (x, y) for x, y in zip(a, b)):\n"
                            "        raise ValueError('shapes do not broadcast')\n"
                            "    return tuple(torch.Size(max(x, y) if 0 not in (x, y) else 0 for x, y in zip(a, b)))\n")
    assert source.find_forbidden("broadcast_shape", set(FORBIDDEN)) == []


# ------------------------------------------------------------------ round 4
def _forbidden(code: str, function: str, names) -> list[str]:
    return student_source(code).find_forbidden(function, set(names))


ALLOW_LIST = ("torch.broadcast_shapes", "torch.*broadcast*", "torch.*", "numpy.*", "!torch.Size")


@pytest.mark.parametrize("code, expected", [
    ("import torch\ndef bs(a, b):\n    return tuple(torch._C._infer_size(torch.Size(a), torch.Size(b)))\n",
     "torch._C._infer_size"),
    ("import torch\ndef bs(a, b):\n    one = torch.hann_window(1)[0]\n"
     "    return (one.expand(a) + one.expand(b)).shape\n",
     "torch.hann_window"),
    ("import numpy as np\ndef _h(a):\n    return np.atleast_1d(a)\ndef bs(a, b):\n    return _h(a)\n",
     "numpy.atleast_1d"),
    ("from torch import range as r\ndef bs(a, b):\n    return r(1)\n", "torch.range"),
    ("import torch\ndef bs(a, b):\n    return getattr(torch, 'x' + 'y')(a)\n", "torch (the module used as a value)"),
    ("import torch\ndef bs(a, b):\n    return torch.nn.Linear(1, 1).weight\n", "torch.nn.Linear"),
])
def test_broadcast_allow_list_refuses_any_library_name(code, expected):
    assert expected in _forbidden(code, "bs", ALLOW_LIST)


def test_broadcast_allow_list_keeps_torch_size_and_the_top_level():
    code = ("import itertools, math, torch\n"
            "def bs(a, b):\n"
            "    out = [max(x, y) for x, y in itertools.zip_longest(a[::-1], b[::-1], fillvalue=1)]\n"
            "    assert isinstance(torch.Size(out), torch.Size) and math.prod(out) >= 0\n"
            "    return torch.Size(out[::-1])\n"
            "assert bs((2, 1), (3,)) == torch.broadcast_shapes((2, 1), (3,))\n")
    assert _forbidden(code, "bs", ALLOW_LIST) == []
    assert _forbidden(code, "bs", ("torch.broadcast_shapes",)) == []  # no allow-list: other names are free


def test_broadcasting_forbids_the_allow_list_only_in_the_source():
    from exercises.broadcasting import FORBIDDEN
    from grader.engine import exercise_registry

    assert {"torch.*", "numpy.*", "!torch.Size"} <= set(FORBIDDEN)
    assert "torch.broadcast_shapes" in FORBIDDEN  # the runtime watch still gets the exact names
    assert "torch.empty" in [n for n in exercise_registry()["broadcasting"].forbidden if "*" not in n]


@pytest.mark.parametrize("code", [
    "import functools\ndef f(x, names):\n    return functools.reduce(getattr, names, x)\n",
    "def f(x, names):\n    return list(map(getattr, [x] * len(names), names))\n",
    "import operator\ndef f(x):\n    return operator.attrgetter(bytes([97]).decode())(x)\n",
    "def f(x):\n    return getattr(x, bytes([97, 98]).decode())\n",
])
def test_lookup_functions_as_values_are_computed_names(code):
    finding = integrity(code).unverified("f")
    assert finding is not None and not finding.machinery


def test_lookup_through_reduce_at_the_top_level_counts_for_every_function():
    code = ("import functools, torch\n_sys = functools.reduce(getattr, [bytes([115, 121, 115]).decode()], torch)\n"
            "def f(x):\n    return x\n")
    assert integrity(code).unverified("f") is not None


def test_bytes_literals_are_read_as_text():
    finding = integrity("NAME = b'grader.sandbox.watching'\ndef f(x):\n    return x\n").unverified("f")
    assert finding is not None and finding.machinery and "grader.sandbox.watching" in finding.construct


@pytest.mark.parametrize("code", [
    "import grader\ndef _inner(pkg):\n    return pkg.sandbox.watching\nW = _inner(grader)\ndef f(x):\n    return x\n",
    "import grader as g\nmods = [g]\ndef f(x):\n    return x\n",
    "from grader import sandbox\ndef f(x):\n    return x\n",
    "import grader.live\ndef f(x):\n    return grader.live.sys\n",
])
def test_the_grader_itself_is_machinery(code):
    finding = integrity(code).unverified("f")
    assert finding is not None and finding.machinery


def test_a_live_check_is_not_machinery():
    assert integrity("import grader\ndef f(x):\n    return x\ngrader.check('broadcasting')\n"
                     "grader.init()\n").unverified("f") is None
    assert integrity("from grader import check\ndef f(x):\n    return x\n").unverified("f") is None


@pytest.mark.parametrize("code", [
    "import os\nif os.fork() == 0:\n    os._exit(0)\ndef f(x):\n    return x\n",
    "from os import forkpty\ndef f(x):\n    return x\n",
    "import os\nos.register_at_fork(after_in_child=print)\ndef f(x):\n    return x\n",
    "import multiprocessing as mp\ndef f(x):\n    return x\n",
    "from concurrent.futures import ProcessPoolExecutor\ndef f(x):\n    return x\n",
    "import pty\ndef f(x):\n    return x\n",
])
def test_a_forked_copy_of_the_process_is_machinery_anywhere(code):
    """A copy of the worker (forked at the top level, say) outlives every watch and can
    serve the watched calls: wherever it is made, the calls are unverifiable."""
    finding = integrity(code).unverified("f")
    assert finding is not None and finding.machinery


@pytest.mark.parametrize("code", [
    "import os\ndef f(x):\n    os.posix_spawnp\n    return x\n",
    "import os\ndef f(x):\n    os.system('true')\n    return x\n",
    "import subprocess\ndef f(x):\n    return subprocess.run(['python', '-c', 'print(1)'])\n",
    "import os\ndef f(x):\n    return os.spawnv\n",
    "import os\ndef helper():\n    os.execv('/bin/true', ['true'])\ndef f(x):\n    return helper()\n",
])
def test_another_program_run_by_a_watched_function_counts(code):
    finding = integrity(code).unverified("f")
    assert finding is not None and not finding.machinery


def test_another_program_run_at_the_top_level_does_not():
    """A cell that runs `nvidia-smi` or a script is not a watched call's work."""
    code = ("import subprocess, sys\nsubprocess.run(['nvidia-smi'])\n"
            "child = subprocess.run([sys.executable, '-c', 'print(42)'], capture_output=True)\n"
            "def f(x):\n    return x\n")
    assert integrity(code).unverified("f") is None


def test_loader_workers_are_not_process_creation():
    code = ("import torch\nfrom torch.utils.data import DataLoader, TensorDataset\n"
            "demo = DataLoader(TensorDataset(torch.randn(8, 2)), batch_size=4, num_workers=2)\n"
            "def f(x):\n    return x\n")
    assert integrity(code).unverified("f") is None


def test_a_word_counts_only_when_a_name_is_looked_up():
    from exercises.manual_backprop import FORBID

    modes = ("import torch\ndef sigmoid(z, mode='forward', out=None):\n"
             "    if mode == 'forward':\n        return torch.sigmoid(z)\n    return z * out * (1 - out)\n"
             "def g(x):\n    d = {'backward': 1}\n    h = sigmoid(x)\n    return sigmoid(h, 'backward', out=h), d\n")
    assert _forbidden(modes, "g", FORBID) == []
    looked_up = "def g(x):\n    return getattr(x, 'backward')()\n"
    assert "torch.autograd.backward" in _forbidden(looked_up, "g", FORBID)
    stored = "NAME = 'backward'\ndef g(x):\n    return getattr(x, NAME)()\n"
    assert "torch.autograd.backward" in _forbidden(stored, "g", FORBID)
    table = "import torch\ndef g(x):\n    return vars(torch)['broadcast_shapes'](x)\n"
    assert _forbidden(table, "g", ("torch.broadcast_shapes",)) == ["torch.broadcast_shapes"]


def test_a_parameter_counts_as_autograd():
    from exercises.manual_backprop import FORBID

    code = "import torch\ndef g(x, W):\n    p = torch.nn.Parameter(W.clone())\n    return x @ p\n"
    assert "torch.nn.Parameter" in _forbidden(code, "g", FORBID)
    alias = "from torch import nn\nP = nn.Parameter\ndef g(x, W):\n    return x @ P(W)\n"
    assert "torch.nn.Parameter" in _forbidden(alias, "g", FORBID)
