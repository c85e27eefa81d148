"""The toy experiment of several configs, as the CLI and the app run it: the GANs of the 'gan' OOD source
first, one per distinct GAN (``gan_key``), then every classifier in one batched loop
(``toyood.batched.train_many``).

``toyood.gan.gan_ood_samples`` trains a joint GAN (Lee et al. 2018, eq. 2) whose classifier kind is
'reject' for the reject method and 'confidence' for every other; the GAN does not depend on the
method otherwise. So the methods of one seed that share the kind (say confidence and ceda) train on
the samples of one GAN, exactly as each would alone.
"""
from __future__ import annotations

import time

from .batched import BatchRuns, check_shared, train_many
from .errors import ConfigError
from .gan import GAN_SHARE, gan_ood_samples
from .progress import Progress, phase
from .toy import ToyConfig


def gan_key(config: ToyConfig) -> tuple:
    """What ``gan_ood_samples(config)`` depends on: the classifier kind, the seed and the data, net and
    pool settings it reads. Configs with equal keys get identical samples."""
    kind = "reject" if config.method == "reject" else "confidence"
    return (kind, config.seed, config.dataset, config.sigma, config.classes, config.n_per_class, config.hidden,
            config.device, config.n_ood)


def train_toy_configs(configs: list[ToyConfig], progress: Progress | None = None) -> tuple[BatchRuns, dict]:
    """Train every config (they must share ``toyood.batched.SHARED_FIELDS``) and return their runs in
    order with {"train_seconds": the training loops' time (``BatchRuns.train_seconds``)[,
    "gan_seconds": the GANs' time, when a config has the 'gan' source]}. Each run's numbers are those
    of ``toyood.gan.train_toy_with_source(config)``; one GAN serves every config with the same
    ``gan_key``. ``progress`` gives the GANs ``GAN_SHARE`` of the bar, when there are any."""
    configs = list(configs)
    wrong = [type(c).__name__ for c in configs if not isinstance(c, ToyConfig)]
    if wrong:
        raise ConfigError(f"configs must be ToyConfig objects (got {', '.join(sorted(set(wrong)))})")
    check_shared(configs)
    start, gans = time.perf_counter(), {}
    needed = {gan_key(c): c for c in configs if c.ood == "gan"}
    share = GAN_SHARE if needed else 0.0
    for i, (key, config) in enumerate(needed.items()):
        part = phase(progress, share * i / len(needed), share * (i + 1) / len(needed),
                     f"GAN {i + 1} of {len(needed)}: ")
        gans[key] = gan_ood_samples(config, part)
    samples = [gans[gan_key(c)] if c.ood == "gan" else None for c in configs]
    gan_seconds = time.perf_counter() - start
    runs = train_many(configs, phase(progress, share, 1.0), samples)
    seconds = {"train_seconds": runs.train_seconds}
    return runs, ({**seconds, "gan_seconds": gan_seconds} if gans else seconds)
