"""minitorch's own dataset readers (``mnist.py``: MNIST / Fashion-MNIST on verified IDX files),
and, for older code, the old import path of the datasets and DataLoader, which live in
``minitorch.utils.data`` (PyTorch's ``torch.utils.data`` place): one implementation, two
names."""
from ..utils.data import (ConcatDataset, DataLoader, Dataset, Subset, TensorDataset,
                          default_collate, random_split)
from ..utils.data.dataset import randperm
from .mnist import (MNIST, DataError, DataIntegrityError, DataNotFoundError, FashionMNIST,
                    default_root, parse_idx, read_idx)

__all__ = ["DataLoader", "default_collate", "ConcatDataset", "Dataset", "Subset",
           "TensorDataset", "random_split", "randperm", "MNIST", "FashionMNIST", "DataError",
           "DataIntegrityError", "DataNotFoundError", "default_root", "parse_idx", "read_idx"]
