"""Old import path of the DataLoader: it lives in ``minitorch.utils.data.dataloader`` (torch's
``torch.utils.data`` place). Kept so ``from minitorch.data.dataloader import ...`` still works."""
from ..utils.data.collate import default_collate  # noqa: F401
from ..utils.data.dataloader import DataLoader  # noqa: F401
