"""Old import path of the datasets: they live in ``minitorch.utils.data.dataset`` (torch's
``torch.utils.data`` place). Kept so ``from minitorch.data.dataset import ...`` still works."""
from ..utils.data.dataset import (ConcatDataset, Dataset, Subset, TensorDataset,  # noqa: F401
                                  _check_index, numpy_generator, random_split, randperm)
