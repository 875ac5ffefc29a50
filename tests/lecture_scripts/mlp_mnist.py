"""A multilayer perceptron on MNIST, as the lectures write it (a small subset, two epochs).

tests/test_lecture_scripts.py runs this file twice: as written, on PyTorch + torchvision, and
with only the import lines switched to minitorch; both runs must give the same numbers.
"""
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim import Adam
from torch.utils.data import DataLoader, Subset
from torchvision import datasets, transforms

DEVICE = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
ROOT = "./data"
CHECKPOINT = "mlp_init.pth"  # the starting weights, saved by the first run: every run starts alike

torch.manual_seed(0)
transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
train_data = datasets.MNIST(root=ROOT, train=True, download=True, transform=transform)
test_data = datasets.MNIST(root=ROOT, train=False, download=True, transform=transform)
train_data = Subset(train_data, range(512))
test_data = Subset(test_data, range(256))
train_loader = DataLoader(train_data, batch_size=64, shuffle=False)
test_loader = DataLoader(test_data, batch_size=128)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(28 * 28, 128)
        self.fc2 = nn.Linear(128, 64)
        self.output = nn.Linear(64, 10)

    def forward(self, x):
        x = x.view(-1, 28 * 28)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.output(x)


net = MLP().to(DEVICE)
if os.path.exists(CHECKPOINT):
    net.load_state_dict(torch.load(CHECKPOINT, map_location=DEVICE))
else:
    torch.save(net.state_dict(), CHECKPOINT)
criterion = nn.CrossEntropyLoss().to(DEVICE)
optimizer = Adam(net.parameters(), lr=0.001)

losses, accuracies = [], []
for epoch in range(2):
    net.train()
    epoch_loss = 0.0
    for x, y in train_loader:
        x, y = x.to(DEVICE), y.to(DEVICE)
        optimizer.zero_grad()
        y_pred = net(x)
        loss = criterion(y_pred, y)
        loss.backward()
        optimizer.step()

        prediction = y_pred.argmax(1, keepdim=True)
        correct = prediction.eq(y.view_as(prediction)).sum()
        accuracies.append((correct.float() / y.shape[0]).item())
        losses.append(loss.item())
        epoch_loss += loss.item()
    print(f"epoch {epoch + 1}: loss {epoch_loss / len(train_loader):.4f}")

net.eval()
correct, total = 0, 0
with torch.no_grad():
    for x, y in test_loader:
        x, y = x.to(DEVICE), y.to(DEVICE)
        y_pred = net(x)
        prediction = y_pred.argmax(1, keepdim=True)
        correct += prediction.eq(y.view_as(prediction)).sum().item()
        total += y.shape[0]
test_accuracy = correct / total
test_logits = y_pred.cpu().numpy()
print(f"test accuracy {test_accuracy:.3f}")
