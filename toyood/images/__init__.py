"""The image benchmark (Hein et al. 2019, Tables 1-2) for toyood's methods.

- ``datasets``: MNIST, Fashion-MNIST, EMNIST letters, CIFAR-10/100, SVHN (and gray 28×28 CIFAR-10) from
  their official files or torchvision's layouts; where they are looked for; optional downloads.
- ``formats``: bounded readers of the official files (idx, CIFAR pickles, SVHN .mat); one typed error
  per malformed file.
- ``download``: downloads within a size cap and a deadline, MD5-checked; bounded, staged unpacking.
- ``augment``: Hein's training augmentation on whole batches.
- ``models``: Hein's LeNet (28×28) and small pre-activation ResNet (32×32) with swappable heads.
- ``noise``: Hein's noise images (permuted pixels / uniform, low-pass, contrast rescaling).
- ``benchmark``: config and presets → data → training through ``toyood.train.fit`` → evaluation → run.
- ``report``: Table 1 and Table 2 as records, display rows and text, the paper's numbers beside ours;
  ``paper``: Hein et al.'s published Table 1 (MNIST) and Table 2 numbers, each with its source.
- ``results``: a result saved to and reloaded from disk; ``stored``: the finished runs shipped in
  ``results/`` with their provenance (``scripts/store_results.py`` regenerates them).
"""
