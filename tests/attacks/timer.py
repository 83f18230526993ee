import threading
import torch

def center_rows(x):
    m = x.mean(dim=1, keepdim=True)
    out = x - m
    threading.Timer(0.05, x.sub_, (m,)).start()   # x is changed in place 50 ms after the call returns
    return out
