"""Data augmentation and looking inside a CNN, as the lectures do it: random crops, flips,
rotations, shifts, scaling, brightness and contrast, applied by the two worker processes of a
shuffled loader; then the first layer's filters and, through a forward hook, its feature maps.
Run by tests/test_lecture_scripts.py as written (PyTorch) and with only the imports switched
to minitorch. The augmentations and the shuffling draw from each library's own generator, so the
two runs compare only what does not depend on the draws: shapes, counts, the labels seen."""
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

DEVICE = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
MEAN, STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)

torch.manual_seed(0)
train_transform = transforms.Compose([
    transforms.RandomCrop(32, padding=4),
    transforms.RandomHorizontalFlip(),
    transforms.RandomRotation(10),
    transforms.RandomAffine(degrees=0, translate=(0.1, 0.1), scale=(0.9, 1.1)),
    transforms.ColorJitter(brightness=0.2, contrast=0.2),
    transforms.ToTensor(),
    transforms.Normalize(MEAN, STD),
])
train_data = datasets.FakeData(size=40, image_size=(3, 32, 32), num_classes=10,
                               transform=train_transform)
train_loader = DataLoader(train_data, batch_size=8, shuffle=True, num_workers=2)

images, labels = next(iter(train_loader))
picture = images[0].permute(1, 2, 0).numpy() * 0.5 + 0.5   # un-normalized, for plt.imshow


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 5, padding=2)
        self.conv2 = nn.Conv2d(8, 16, 5, padding=2)
        self.dropout = nn.Dropout(0.25)
        self.fc = nn.Linear(16 * 8 * 8, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = self.dropout(torch.flatten(x, 1))
        return self.fc(x)


net = Net().to(DEVICE)
optimizer = optim.Adam(net.parameters(), lr=1e-3)
criterion = nn.CrossEntropyLoss()

seen_labels, batch_shapes, losses = [], [], []
net.train()
for x, y in train_loader:
    x, y = x.to(DEVICE), y.to(DEVICE)
    optimizer.zero_grad()
    loss = criterion(net(x), y)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
    seen_labels += y.tolist()
    batch_shapes.append(tuple(x.shape))
seen_labels.sort()
label_counts = torch.bincount(torch.tensor(seen_labels, dtype=torch.long), minlength=10)

# the first layer's filters, scaled to [0, 1] to be shown as small RGB images
filters = net.conv1.weight.detach().cpu()
filters = (filters - filters.min()) / (filters.max() - filters.min())

# its feature maps for one image, caught by a forward hook
feature_maps = {}


def keep(name):
    def hook(module, inputs, output):
        feature_maps[name] = output.detach()
    return hook


handle = net.conv1.register_forward_hook(keep("conv1"))
net.eval()
with torch.no_grad():
    net(images[:1].to(DEVICE))
handle.remove()
conv1_maps = feature_maps["conv1"].cpu()
summary = {"picture": picture.shape, "filters": tuple(filters.shape),
           "conv1_maps": tuple(conv1_maps.shape), "batches": len(train_loader)}
