"""What the gen_*_golden.py scripts share: inputs drawn from one seeded generator and rounded
to 4 decimals (so the C++ tests read exactly the values the references used), and tensors
encoded as {"shape", "data"} JSON. Imported from the scripts' own directory."""
import math

import torch


def rounded(t):
    return torch.round(t * 1e4) / 1e4


class Draws:
    """randn / rand from a generator seeded once; `gen` for the scripts' other draws."""

    def __init__(self, seed):
        self.gen = torch.Generator().manual_seed(seed)

    def randn(self, *shape, scale=1.0):
        return rounded(torch.randn(*shape, generator=self.gen) * scale)

    def rand(self, *shape, lo=0.0, hi=1.0):
        return rounded(torch.rand(*shape, generator=self.gen) * (hi - lo) + lo)


def enc(t):
    data = t.detach().flatten().tolist()
    assert all(math.isfinite(v) for v in data)
    return {"shape": list(t.shape), "data": data}
