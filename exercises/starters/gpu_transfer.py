"""Write device-agnostic code: the same function runs on a laptop CPU and on a GPU.

| function | what it must do |
| --- | --- |
| `pick_device()` | `torch.device("cuda")` when CUDA is available, else `torch.device("cpu")`. |
| `to_device(obj, device)` | every tensor anywhere inside nested `dict`/`list`/`tuple` moved to `device`; container types (a tuple stays a tuple), keys and non-tensor leaves kept. Bonus: `OrderedDict` and namedtuples keep their type too. |
| `train_step(model, batch, loss_fn, optimizer, device)` | move `model` and the `(x, y)` batch to `device`, clear stale gradients (`optimizer.zero_grad()`), do one optimisation step, return the loss as a Python `float`. |

Never hard-code `"cuda"`: the grader also runs your code on machines without a GPU, and
remember that `tensor.to(device)` returns a new tensor (use its result). `to_device` builds new
containers and leaves the ones it is given as they were; `train_step` changes the `model` and the
`optimizer` (that is its job) but not the tensors of the batch.
"""

import torch


def pick_device():
    """Return torch.device("cuda") when CUDA is available, else torch.device("cpu")."""
    # TODO: your code here
    raise NotImplementedError


def to_device(obj, device):
    """Return obj with every tensor inside nested dicts, lists and tuples moved to `device`;
    containers keep their type, keys and non-tensor values are kept as they are."""
    # TODO: your code here
    raise NotImplementedError


def train_step(model, batch, loss_fn, optimizer, device):
    """Move model and the (x, y) batch to `device`, do one optimisation step and return the loss as a float."""
    # TODO: your code here
    raise NotImplementedError
