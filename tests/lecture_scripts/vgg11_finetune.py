"""Fine-tuning VGG-11 (transfer learning): load the weights, replace the last layer
``classifier[6]`` by a 10-class one, and train the whole network with Adam at lr=1e-4. Run by
tests/test_lecture_scripts.py as written (PyTorch) and with only the imports switched to
minitorch. The "pretrained" weights are a random-init torchvision model that the test saved
under torchvision's file name in $TORCH_HOME/hub/checkpoints, where both libraries look.
32x32 inputs: after the five pools the adaptive average pool repeats the 1x1 map to 7x7, as
torchvision does."""
import os

import torch
import torch.nn as nn
from torch.optim import Adam
from torch.utils.data import DataLoader
from torchvision import datasets, transforms, models

DEVICE = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
HEAD = "vgg11_head_init.pth"      # the new layer's starting weights, so every run starts alike

torch.manual_seed(0)
transform = transforms.Compose([transforms.ToTensor(),
                                transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
train_data = datasets.FakeData(size=4, image_size=(3, 32, 32), num_classes=10, transform=transform)
train_loader = DataLoader(train_data, batch_size=4, shuffle=False)

# dropout=0.0: dropout masks come from each library's own generator, and the two runs of this
# script are compared number for number
net = models.vgg11(pretrained=True, dropout=0.0)
net.classifier[6] = nn.Linear(net.classifier[6].in_features, 10)
if os.path.exists(HEAD):
    net.classifier[6].load_state_dict(torch.load(HEAD))
else:
    torch.save(net.classifier[6].state_dict(), HEAD)
net.to(DEVICE)

criterion = nn.CrossEntropyLoss().to(DEVICE)
optimizer = Adam(net.parameters(), lr=0.0001)

losses = []
net.train()
for epoch in range(1):
    for x, y in train_loader:
        x, y = x.to(DEVICE), y.to(DEVICE)
        optimizer.zero_grad()
        y_pred = net(x)
        loss = criterion(y_pred, y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

net.eval()
with torch.no_grad():
    y_pred = net(x)
    loss_after = criterion(y_pred, y).item()
logits = y_pred.cpu().numpy()
head_weight = net.classifier[6].weight.detach().cpu().numpy()
first_conv = net.features[0].weight.detach().cpu().numpy()
