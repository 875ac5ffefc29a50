"""Datasets and batching: ``Dataset``/``TensorDataset``/``Subset``/``random_split``, the
``DataLoader``, and the MNIST / Fashion-MNIST readers (``mnist.py``)."""
from .dataloader import DataLoader, default_collate
from .dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split, randperm
from .mnist import (MNIST, DataError, DataIntegrityError, DataNotFoundError, FashionMNIST,
                    default_root, parse_idx, read_idx)

__all__ = ["DataLoader", "default_collate", "ConcatDataset", "Dataset", "Subset",
           "TensorDataset", "random_split", "randperm", "MNIST", "FashionMNIST", "DataError",
           "DataIntegrityError", "DataNotFoundError", "default_root", "parse_idx", "read_idx"]
