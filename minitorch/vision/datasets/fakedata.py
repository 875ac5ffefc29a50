"""FakeData: random images with random labels, for trying a pipeline without a download
(torchvision's ``FakeData``). Sample i is the same every time: it is drawn from its own
generator seeded with ``i + random_offset``, so reading it never moves the global
generator."""
from __future__ import annotations

import numpy as np

from ...random import Generator
from ._common import VisionDataset, to_image


class FakeData(VisionDataset):
    """``size`` samples of (C, H, W) = ``image_size`` noise images (PIL, or HWC uint8 arrays
    without Pillow) and labels in [0, num_classes)."""

    def __init__(self, size: int = 1000, image_size=(3, 224, 224), num_classes: int = 10,
                 transform=None, target_transform=None, random_offset: int = 0):
        super().__init__(None, transform, target_transform)
        self.root = None  # nothing on disk
        image_size = tuple(int(s) for s in image_size)
        if len(image_size) != 3 or image_size[0] not in (1, 3) or min(image_size) < 1:
            raise ValueError(f"FakeData: image_size should be (C, H, W) with C 1 or 3, got "
                             f"{image_size}")
        if int(size) < 0 or int(num_classes) < 1:
            raise ValueError(f"FakeData: size must be >= 0 and num_classes >= 1, got size={size},"
                             f" num_classes={num_classes}")
        self.size, self.image_size = int(size), image_size
        self.num_classes, self.random_offset = int(num_classes), int(random_offset)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index):
        index = int(index)
        if not -self.size <= index < self.size:
            raise IndexError(f"FakeData: index {index} is out of range for a dataset of "
                             f"{self.size} samples")
        index %= self.size
        rng = Generator().manual_seed(index + self.random_offset).rng
        noise = rng.standard_normal(self.image_size, dtype=np.float32)
        target = int(rng.integers(0, self.num_classes))
        # As ToPILImage does to torchvision's randn image: x * 255 cast to uint8 (wrapping)
        pixels = (noise * 255).astype(np.int64).astype(np.uint8).transpose(1, 2, 0)
        image = to_image(pixels[:, :, 0] if self.image_size[0] == 1 else
                         np.ascontiguousarray(pixels))
        return self._sample(image, target)

    def extra_repr(self) -> str:
        return f"Image size: {self.image_size}, classes: {self.num_classes}"
