"""A CIFAR-10-style CNN (conv-BN-ReLU stages, global average pooling) trained on FakeData, the
lectures' way to try a pipeline before downloading CIFAR-10. Run by
tests/test_lecture_scripts.py as written (PyTorch) and with only the imports switched to
minitorch. No random augmentation and shuffle=False: both runs must see the same batches."""
import os

import torch
import torch.nn as nn
import torch.optim as optim
from torch.utils.data import DataLoader
from torchvision import datasets, transforms
from torchvision.utils import make_grid

DEVICE = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
CHECKPOINT = "cifar_cnn_init.pth"
MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)

torch.manual_seed(0)
torch.cuda.manual_seed_all(0)
torch.backends.cudnn.benchmark = True   # let cuDNN pick its fastest convolutions (on a GPU)
transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize(MEAN, STD)])
train_data = datasets.FakeData(size=64, image_size=(3, 32, 32), num_classes=10,
                               transform=transform)
test_data = datasets.FakeData(size=32, image_size=(3, 32, 32), num_classes=10,
                              transform=transform, random_offset=1000)
train_loader = DataLoader(train_data, batch_size=16, shuffle=False)
test_loader = DataLoader(test_data, batch_size=16, shuffle=False)


def conv_block(c_in, c_out):
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class CifarNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            conv_block(3, 16), conv_block(16, 16), nn.MaxPool2d(2),    # 32 -> 16
            conv_block(16, 32), conv_block(32, 32), nn.MaxPool2d(2),   # 16 -> 8
            conv_block(32, 64), nn.AdaptiveAvgPool2d((1, 1)))
        self.classifier = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


net = CifarNet().to(DEVICE)
if os.path.exists(CHECKPOINT):
    net.load_state_dict(torch.load(CHECKPOINT, map_location=DEVICE))
else:
    torch.save(net.state_dict(), CHECKPOINT)
criterion = nn.CrossEntropyLoss().to(DEVICE)
optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)

epoch_losses = []
for epoch in range(3):
    net.train()
    running = 0.0
    for x, y in train_loader:
        x, y = x.to(DEVICE), y.to(DEVICE)
        optimizer.zero_grad()
        loss = criterion(net(x), y)
        loss.backward()
        optimizer.step()
        running += loss.item()
    epoch_losses.append(running / len(train_loader))
    print(f"epoch {epoch + 1}: loss {epoch_losses[-1]:.4f}")

net.eval()
correct = 0
with torch.no_grad():
    for x, y in test_loader:
        x, y = x.to(DEVICE), y.to(DEVICE)
        y_pred = net(x)
        prediction = y_pred.argmax(1, keepdim=True)
        correct += prediction.eq(y.view_as(prediction)).sum().item()
test_accuracy = correct / len(test_data)
test_logits = y_pred.cpu().numpy()
running_mean = net.features[0][1].running_mean.cpu().numpy()
# the first layer's 16 filters as one picture: 4 per row, each scaled to [0, 1]
filter_grid = make_grid(net.features[0][0].weight.detach().cpu(), nrow=4, padding=1,
                        normalize=True, scale_each=True)
