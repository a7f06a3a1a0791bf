"""The engine's two conditional WGANs and its training step, written again in PyTorch.

A twin of src/gan/models.ts (layers, PyTorch defaults, state_dict() names) and of src/gan/wgan.ts
(the critic step and the generator step), used by make_fixture.py to make the parity fixtures that
test/parity.test.ts replays. The architectures are those of shared/anchors/torch_cwgan.py. Not a
training program: no data loading, no schedule, no checkpoints.
"""
import torch
import torch.nn as nn

LATENT = 100  # z's dimension
DIGITS = 10   # one-hot label width


class MlpGenerator(nn.Module):
    """[z, y] (110) -> 128 -> 256 -> 512 -> 1024 -> 784, LeakyReLU(0.2), BatchNorm1d after every hidden
    Linear but the first, tanh; output (B, 1, 28, 28)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(LATENT + DIGITS, 128), nn.LeakyReLU(0.2),                     # net.0
            nn.Linear(128, 256), nn.BatchNorm1d(256), nn.LeakyReLU(0.2),            # net.2, net.3
            nn.Linear(256, 512), nn.BatchNorm1d(512), nn.LeakyReLU(0.2),            # net.5, net.6
            nn.Linear(512, 1024), nn.BatchNorm1d(1024), nn.LeakyReLU(0.2),          # net.8, net.9
            nn.Linear(1024, 28 * 28), nn.Tanh(),                                    # net.11
        )

    def forward(self, z, y):
        return self.net(torch.cat([z, y], dim=1)).reshape(-1, 1, 28, 28)


class MlpCritic(nn.Module):
    """[x flattened, y] (794) -> 512 -> 512 -> 512 -> 1, LeakyReLU(0.2) between; output (B, 1)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(28 * 28 + DIGITS, 512), nn.LeakyReLU(0.2),  # net.0
            nn.Linear(512, 512), nn.LeakyReLU(0.2),               # net.2
            nn.Linear(512, 512), nn.LeakyReLU(0.2),               # net.4
            nn.Linear(512, 1),                                    # net.6
        )

    def forward(self, x, y):
        return self.net(torch.cat([x.reshape(-1, 28 * 28), y], dim=1))


class ConvGenerator(nn.Module):
    """[z, y] -> 64*7*7, BatchNorm1d, ReLU -> (64, 7, 7) -> ConvTranspose 64->32 (k4 s2 p1), BatchNorm2d,
    ReLU -> ConvTranspose 32->1 (k4 s2 p1), tanh; output (B, 1, 28, 28)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(LATENT + DIGITS, 64 * 7 * 7), nn.BatchNorm1d(64 * 7 * 7), nn.ReLU())
        self.up = nn.Sequential(
            nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1), nn.Tanh(),
        )

    def forward(self, z, y):
        return self.up(self.fc(torch.cat([z, y], dim=1)).reshape(-1, 64, 7, 7))


class ConvCritic(nn.Module):
    """[x, ten label planes] (11, 28, 28) -> Conv 11->32 (k4 s2 p1), LeakyReLU(0.2) -> Conv 32->64
    (k4 s2 p1), LeakyReLU(0.2) -> 3136 -> 1; output (B, 1). Plane d is all ones for digit d."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1 + DIGITS, 32, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(32, 64, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
        )
        self.fc = nn.Linear(64 * 7 * 7, 1)

    def forward(self, x, y):
        planes = y[:, :, None, None].expand(-1, DIGITS, 28, 28)
        return self.fc(self.conv(torch.cat([x, planes], dim=1)).flatten(1))


def make_models(kind):
    """(generator, critic) of kind "mlp" or "conv", initialised by PyTorch's defaults, in training mode."""
    if kind == "mlp":
        return MlpGenerator(), MlpCritic()
    if kind == "conv":
        return ConvGenerator(), ConvCritic()
    raise ValueError(f"unknown model kind {kind!r}")


def rmsprop(model, lr):
    """torch.optim.RMSprop at its defaults but lr (alpha 0.99, eps 1e-8), as src/nn/optim.ts."""
    return torch.optim.RMSprop(model.parameters(), lr=lr, alpha=0.99, eps=1e-8)


def critic_step(G, D, opt_d, x, y, z, clip):
    """One critic step as Wgan.criticStep: L_D = mean(D(fake, y)) - mean(D(x, y)) with fake drawn by G
    in training mode (batch norm on batch statistics, running statistics updated) without a graph;
    RMSprop step on D, then every parameter of D clamped to [-clip, clip]. Returns L_D.
      x (B, 1, 28, 28) real images in [-1, 1], y (B, 10) one-hot, z (B, 100) noise."""
    opt_d.zero_grad()
    with torch.no_grad():
        fake = G(z, y)
    loss = D(fake, y).mean() - D(x, y).mean()
    loss.backward()
    opt_d.step()
    with torch.no_grad():
        for p in D.parameters():
            p.clamp_(-clip, clip)
    return loss.item()


def generator_step(G, D, opt_g, y, z):
    """One generator step as Wgan.generatorStep: L_G = -mean(D(G(z, y), y)), RMSprop step on G only
    (D's gradients are left to the next critic step's zero_grad). Returns L_G."""
    opt_g.zero_grad()
    loss = -D(G(z, y), y).mean()
    loss.backward()
    opt_g.step()
    return loss.item()
