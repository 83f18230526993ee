"""Stand-ins for display and exploration libraries that are not installed here.

A notebook that plots, shows a progress bar or explores its data with pandas must not
lose points where those libraries are missing: the student's own ``import seaborn``
gets a harmless stand-in module whose every attribute, call and item is another
stand-in. Only imports written in the student's code get one: the student's namespace
has its own ``__import__`` (in its own builtins), and stand-ins never enter
``sys.modules``, so a library that probes for an optional dependency (matplotlib asking
for IPython, say) still finds it missing, as it would anywhere else. The worker reports
the stand-ins it handed out, so the report can say so.
"""

from __future__ import annotations

import types
from typing import Any, Literal

STAND_INS = {"matplotlib", "seaborn", "plotly", "IPython", "ipywidgets", "tqdm", "bokeh", "altair", "graphviz",
             "torchviz", "torchsummary", "torchinfo", "wandb", "tensorboard", "livelossplot", "pandas", "polars",
             "google.colab", "ipympl", "hiddenlayer", "mlxtend", "yellowbrick",
             "scikitplot", "pydot", "netron", "rich", "termcolor", "colorama"}


def _stand_in(fullname: str) -> bool:
    """A stand-in module, one inside it, or a parent package one needs (``google``)."""
    parts = fullname.split(".")
    if any(".".join(parts[:i]) in STAND_INS for i in range(1, len(parts) + 1)):
        return True
    return any(name.startswith(fullname + ".") for name in STAND_INS)


class Stub:
    """Stands in for any object of a library that is not installed."""

    def __init__(self, name: str = "stub") -> None:
        self._name = name

    def __getattr__(self, item: str) -> Stub:
        if item.startswith("__"):
            raise AttributeError(item)
        return Stub(f"{self._name}.{item}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._name.endswith("subplots"):
            return Stub("figure"), Stub("axes")
        return Stub(f"{self._name}()")

    def __getitem__(self, item: Any) -> Stub:
        return Stub(f"{self._name}[]")

    def __iter__(self):
        return iter(())

    def __enter__(self) -> Stub:
        return self

    def __exit__(self, *exc: Any) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return f"<stand-in for {self._name}: not installed here>"


def _tqdm(iterable: Any = None, *args: Any, **kwargs: Any) -> Any:
    return iterable if iterable is not None else Stub("tqdm")


class _StubModule(types.ModuleType):
    def __getattr__(self, item: str) -> Any:
        if item.startswith("__"):
            raise AttributeError(item)
        if item in ("tqdm", "tqdm_notebook"):
            return _tqdm
        if item == "trange":
            return lambda *a, **k: range(*a)
        return Stub(f"{self.__name__}.{item}")


class StudentImport:
    """``__import__`` for the student's namespace: the real import, or a stand-in module
    for a missing display or exploration library (see the module's documentation)."""

    def __init__(self, real_import: Any) -> None:
        self.real_import = real_import
        self.handed_out: list[str] = []

    def __call__(self, name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0):
        try:
            return self.real_import(name, globals, locals, fromlist, level)
        except ModuleNotFoundError as exc:
            missing = exc.name or name
            if level or not (_stand_in(name) and _stand_in(missing)):
                raise
            top = name.split(".")[0]
            if top not in self.handed_out:
                self.handed_out.append(top)
            return _StubModule(name if fromlist else top)


def noop(*args: Any, **kwargs: Any) -> None:
    return None
