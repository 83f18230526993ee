import subprocess, sys, json

SERVER = ("import sys, json, torch\n"
          "for line in sys.stdin:\n"
          "    a, b = json.loads(line)\n"
          "    try:\n"
          "        print(json.dumps(list(torch.broadcast_shapes(tuple(a), tuple(b)))), flush=True)\n"
          "    except RuntimeError:\n"
          "        print('null', flush=True)\n")
proc = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def broadcast_shape(a, b):
    proc.stdin.write(json.dumps([list(a), list(b)]) + "\n")
    proc.stdin.flush()
    answer = json.loads(proc.stdout.readline())
    if answer is None:
        raise ValueError("incompatible")
    return tuple(answer)
