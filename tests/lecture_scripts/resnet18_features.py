"""ResNet-18 as a fixed feature extractor (transfer learning): load the weights, freeze every
parameter, replace ``fc`` by a new 10-class layer and train only that. Run by
tests/test_lecture_scripts.py as written (PyTorch) and with only the imports switched to
minitorch. The "pretrained" weights are a random-init torchvision model that the test saved
under torchvision's file name in $TORCH_HOME/hub/checkpoints, where both libraries look."""
import os

import torch
import torch.nn as nn
import torch.optim as optim
from torch.utils.data import DataLoader
from torchvision import datasets, transforms, models

DEVICE = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
HEAD = "resnet18_fc_init.pth"      # the new layer's starting weights, so every run starts alike

torch.manual_seed(0)
transform = transforms.Compose([
    transforms.Resize(72),
    transforms.CenterCrop(64),
    transforms.ToTensor(),
    transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
])
train_data = datasets.FakeData(size=8, image_size=(3, 80, 80), num_classes=10, transform=transform)
test_data = datasets.FakeData(size=4, image_size=(3, 80, 80), num_classes=10,
                              transform=transform, random_offset=500)
train_loader = DataLoader(train_data, batch_size=4, shuffle=False)
test_loader = DataLoader(test_data, batch_size=4)

net = models.resnet18(pretrained=True)
for param in net.parameters():
    param.requires_grad = False
net.fc = nn.Linear(net.fc.in_features, 10)
if os.path.exists(HEAD):
    net.fc.load_state_dict(torch.load(HEAD))
else:
    torch.save(net.fc.state_dict(), HEAD)
net = net.to(DEVICE)

criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(net.fc.parameters(), lr=0.01, momentum=0.9)
trainable = [name for name, p in net.named_parameters() if p.requires_grad]

losses = []
for epoch in range(2):
    net.train()
    for x, y in train_loader:
        x, y = x.to(DEVICE), y.to(DEVICE)
        optimizer.zero_grad()
        loss = criterion(net(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

net.eval()
with torch.no_grad():
    x, y = next(iter(test_loader))
    test_logits = net(x.to(DEVICE))
    prediction = test_logits.argmax(1, keepdim=True)
    test_correct = prediction.eq(y.to(DEVICE).view_as(prediction)).sum().item()
test_logits = test_logits.cpu().numpy()
fc_weight = net.fc.weight.detach().cpu().numpy()
conv1_weight = net.conv1.weight.detach().cpu().numpy()
bn1_running_mean = net.bn1.running_mean.cpu().numpy()
