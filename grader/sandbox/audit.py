"""Inside the sandbox: an audit hook (PEP 578) that tells the runner, at once, when
running code reaches the interpreter's machinery the recorder's watching relies on.

The trusted side reads the source for such code (:mod:`grader.integrity`); this hook is
the second line, for code the source does not show by name (text turned into a name by
a library, say). An audit hook cannot be removed, and the hook keeps what it needs in
its closure, so a notice is written to the result channel (a ``notice`` frame) before
the audited operation returns: the submission can neither take it back nor read it.

What it reports (each at most once): a profile or trace hook set by anyone but the
recorder; the garbage collector's object lists; a thread's frames; a frame of the
grader's own code handed out (``sys._getframe``, a traceback's or generator's frame); a
class of the grader's changed; ``ctypes`` used by the student's code; an unpickled
reference to the machinery; a process forked by the student's code itself (a server
forked at the top level would outlive every watch). A thread started during a watched
call is told about that call (``_thread.start_new_thread`` is replaced: Python 3.11 has no
audit event for it).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import FrameType

_ALWAYS = frozenset({"gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys._current_frames"})
_FRAME_ATTRIBUTES = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})
_PICKLED = frozenset({"sys", "gc", "ctypes", "_ctypes", "inspect", "importlib", "signal", "threading", "_thread"})
_PICKLED_BUILTINS = frozenset({"getattr", "setattr", "eval", "exec", "compile", "__import__", "vars", "globals"})
MAX_NOTICES = 16


_EVENTS = _ALWAYS | {"sys.setprofile", "sys.settrace", "sys._getframe", "object.__getattr__", "object.__setattr__",
                     "object.__delattr__", "pickle.find_class", "os.fork", "os.forkpty"}
_DIRECT = ("ctypes.", "os.fork")  # libraries use these for themselves (a DataLoader's workers): only a direct call


def install(send: Callable[[dict[str, Any]], None], student_files: frozenset) -> None:
    """Add the hook. ``send`` writes one frame; ``student_files`` are the file names of
    the student's code (``<cell 3>``...). Only what the student's code does counts: the
    nearest frame above the event that is not a library's must be the student's."""
    grader_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    getframe = sys._getframe
    sent: set[str] = set()
    busy = [False]

    def owner(frame: Any) -> str | None:
        name = str(frame.f_code.co_filename)
        if name.startswith(grader_dir):
            return "grader"
        if name in student_files or (name.startswith("<") and not name.startswith("<frozen")):
            return "student"
        return None  # a library

    def nearest_is_student(depth: int) -> bool:
        frame: FrameType | None = getframe(depth)
        while frame is not None:
            found = owner(frame)
            if found is not None:
                return found == "student"
            frame = frame.f_back
        return False

    def is_grader(frame: Any) -> bool:
        return frame is not None and owner(frame) == "grader"

    def what(event: str, args: tuple) -> str | None:
        if event.startswith(_DIRECT):  # libraries use these for themselves: only a direct call counts
            frame = getframe(2)
            found = "ctypes" if event.startswith("ctypes.") else "a process forked by the submission"
            return found if frame is not None and owner(frame) == "student" else None
        if event == "sys._getframe" and not is_grader(args[0]):
            return None
        if event == "object.__getattr__" and not (args[1] in _FRAME_ATTRIBUTES and
                                                  is_grader(getattr(args[0], args[1], None))):
            return None
        if event in ("object.__setattr__", "object.__delattr__") and not (
                isinstance(args[0], type) and str(args[0].__module__).startswith("grader.")):
            return None
        if event == "pickle.find_class":
            module, name = str(args[0]), str(args[1])
            if not (module.split(".")[0] in _PICKLED or module.startswith("grader.") or (
                    module == "builtins" and name in _PICKLED_BUILTINS)):
                return None
            event = f"an unpickled {module}.{name}"
        elif event.startswith("object."):
            event = f"{event} ({getattr(args[0], '__qualname__', type(args[0]).__name__)}.{args[1]})"
        return event if nearest_is_student(3) else None

    def hook(event: str, args: tuple) -> None:
        if busy[0] or (event not in _EVENTS and not event.startswith(_DIRECT)) or len(sent) >= MAX_NOTICES:
            return
        busy[0] = True
        try:
            found = what(event, args)
            if found is not None and found not in sent:
                sent.add(found)
                send({"type": "notice", "event": found[:200]})
        except Exception:  # noqa: BLE001 - the hook must never break the audited operation
            pass
        finally:
            busy[0] = False

    sys.addaudithook(hook)
    _watch_threads(send, nearest_is_student)


def _watch_threads(send: Callable[[dict[str, Any]], None], nearest_is_student: Callable[[int], bool]) -> None:
    """Python 3.11 audits no thread's start: every one starts in ``_thread.start_new_thread``
    (``threading``'s too), which is replaced by a function that sends a notice for the
    watched call in progress when the student's code starts a thread during it (the
    recorder's profile hook does not follow a thread). A thread started outside the calls
    (a cell's progress monitor) counts only if it is still alive when a call starts
    (:func:`grader.sandbox.watching.others_running`)."""
    import _thread
    import threading

    from grader.sandbox import watching

    original = _thread.start_new_thread
    current_call = watching._found.get("current_call") or (lambda: None)
    noticed: set[str] = set()  # the calls already told about

    def start_new_thread(function: Any, args: tuple, kwargs: Any = None) -> int:
        call = current_call()
        if call is not None and call not in noticed and nearest_is_student(2):
            noticed.add(call)
            send({"type": "notice", "event": "a thread started by the submission during the call", "call": call})
        return original(function, args) if kwargs is None else original(function, args, kwargs)

    _thread.start_new_thread = _thread.start_new = threading._start_new_thread = start_new_thread  # type: ignore
