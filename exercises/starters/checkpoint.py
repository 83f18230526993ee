"""Save training state and resume it exactly.

| function | what it must do |
| --- | --- |
| `save_checkpoint(path, model, optimizer, epoch)` | write **one** file at `path` that `torch.load(path, weights_only=True)` can read, holding the model's `state_dict`, the optimizer's `state_dict` and `epoch` (choose the key names yourself). |
| `load_checkpoint(path, model, optimizer)` | restore both state dicts in place and return `epoch` as an `int`. |

Graded: the file loads with `weights_only=True` (so save state dicts, not the model
object); parameters and optimizer state (e.g. Adam's moments) round-trip exactly; training
5 steps, saving, loading into a fresh model and optimizer and training 5 more gives the
same parameters, bit for bit, as 10 uninterrupted steps; nothing is written outside `path` (not
next to it, not in `/tmp` or `/dev/shm`). The file is opened by the grader in a fresh process, with
`torch.load(path, weights_only=True)` and nothing else allowed. `load_checkpoint` changes the `model` and
the `optimizer` it is given (that is its job); `save_checkpoint` leaves them as they are.
"""

import torch


def save_checkpoint(path, model, optimizer, epoch):
    """Write model.state_dict(), optimizer.state_dict() and epoch to the single file `path`
    (readable with torch.load(path, weights_only=True))."""
    # TODO: your code here
    raise NotImplementedError


def load_checkpoint(path, model, optimizer):
    """Restore the model's and the optimizer's state dicts from `path`, in place; return the epoch as an int."""
    # TODO: your code here
    raise NotImplementedError
