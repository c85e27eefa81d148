"""The image benchmark (Hein et al. 2019, Tables 1-2) for toyood's methods.

- ``datasets``: MNIST, Fashion-MNIST, EMNIST letters, CIFAR-10/100, SVHN (and gray 28×28 CIFAR-10) from
  their official files or torchvision's layouts; optional verified downloads; batch augmentation.
- ``models``: Hein's LeNet (28×28) and small pre-activation ResNet (32×32) with swappable heads.
- ``noise``: Hein's noise images (permuted pixels / uniform, low-pass, contrast rescaling).
- ``benchmark``: presets, training through ``toyood.train.fit``, the evaluation and Table 1/2.
"""
