"""The lectures' SimpLeNet on MNIST: two conv + max-pool stages and two fully connected layers
(a small subset, a few steps). Run by tests/test_lecture_scripts.py as written (PyTorch) and
with only the import lines switched to minitorch."""
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.utils.data import DataLoader, Subset
from torchvision import datasets, transforms

DEVICE = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
ROOT = "./data"
CHECKPOINT = "simplenet_init.pth"

torch.manual_seed(0)
transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
train_data = Subset(datasets.MNIST(root=ROOT, train=True, download=True, transform=transform),
                    range(256))
test_data = Subset(datasets.MNIST(root=ROOT, train=False, download=True, transform=transform),
                   range(128))
train_loader = DataLoader(train_data, batch_size=32, shuffle=False)
test_loader = DataLoader(test_data, batch_size=64, shuffle=False)


class SimpLeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, kernel_size=5)
        self.conv2 = nn.Conv2d(20, 50, kernel_size=5)
        self.fc1 = nn.Linear(4 * 4 * 50, 256)
        self.output = nn.Linear(256, 10)

    def forward(self, x):
        x = x.view(-1, 1, 28, 28)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return self.output(x)


net = SimpLeNet().to(DEVICE)
if os.path.exists(CHECKPOINT):
    net.load_state_dict(torch.load(CHECKPOINT, map_location=DEVICE))
else:
    torch.save(net.state_dict(), CHECKPOINT)
criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(net.parameters(), lr=0.05, momentum=0.9)

losses = []
for epoch in range(2):
    net.train()
    for batch, (x, y) in enumerate(train_loader):
        x, y = x.to(DEVICE, non_blocking=True), y.to(DEVICE, non_blocking=True)
        optimizer.zero_grad()
        loss = criterion(net(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if batch % 4 == 0:
            print(f"epoch {epoch + 1} batch {batch}/{len(train_loader)}: loss {loss:.4f}")


def evaluate(net, loader):
    net.eval()
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(DEVICE), y.to(DEVICE)
            prediction = net(x).argmax(1, keepdim=True)
            correct += prediction.eq(y.view_as(prediction)).sum().item()
    return correct / len(loader.dataset)


train_accuracy = evaluate(net, train_loader)
test_accuracy = evaluate(net, test_loader)
first_filters = np.asarray(net.conv1.weight.detach().cpu())   # what the lecture plots next
print(f"train accuracy {train_accuracy:.3f}, test accuracy {test_accuracy:.3f}")
