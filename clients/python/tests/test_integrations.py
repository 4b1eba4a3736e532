"""The Lightning and Hugging Face Trainer callbacks, each with a tiny real training against
the real server."""

from __future__ import annotations

import urllib.parse
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from conftest import Server, digits


def q(run_id: str) -> str:
    return urllib.parse.quote(run_id, safe="")


def series(server: Server, run_id: str) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in server.get(f"/runs/{q(run_id)}/series")["series"]}


def _data(n: int = 512):
    d = digits()
    x = torch.from_numpy(d["x"][:n]) / 16.0
    y = torch.from_numpy(d["y"][:n])
    return x, y


def test_lightning_callback(server: Server, spool: str) -> None:
    import lightning.pytorch as pl

    from gradwatch.integrations.lightning import GradwatchCallback

    class Lit(pl.LightningModule):
        def __init__(self, lr: float = 0.05) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
            self.criterion = nn.CrossEntropyLoss()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x)

        def training_step(self, batch: Any, idx: int) -> torch.Tensor:
            x, y = batch
            loss = self.criterion(self(x), y)
            self.log("train_acc", (self(x).argmax(1) == y).float().mean())
            return loss

        def validation_step(self, batch: Any, idx: int) -> None:
            x, y = batch
            out = self(x)
            self.log("val_loss", self.criterion(out, y))
            self.log("val_acc", (out.argmax(1) == y).float().mean())

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=0.9)

    torch.manual_seed(0)
    x, y = _data()
    train = DataLoader(TensorDataset(x[:384], y[:384]), batch_size=32, shuffle=True)
    val = DataLoader(TensorDataset(x[384:], y[384:]), batch_size=64)
    cb = GradwatchCallback(url=server.url, project="integrations", name="lightning",
                           spool_dir=spool, every=4)
    trainer = pl.Trainer(max_epochs=2, callbacks=[cb], accelerator="cpu", devices=1,
                         logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, gradient_clip_val=1.0)
    trainer.fit(Lit(), train, val)
    run = cb.run
    assert run is not None and run.finished
    detail = server.get(f"/runs/{q(run.id)}")
    assert detail["status"] == "completed"
    assert detail["config"]["lr"] == 0.05 and detail["framework"] == "pytorch-lightning"
    assert detail["config"]["gradClip"] == 1.0
    assert [ly["name"] for ly in detail["model"]["layers"]] == ["net.0", "net.2"]
    assert detail["model"]["loss"] == "CrossEntropyLoss"
    assert detail["model"]["optimizer"]["type"] == "SGD"
    s = series(server, run.id)
    assert s["loss"]["count"] == 24 and s["loss"]["firstStep"] == 1 and s["loss"]["lastStep"] == 24
    assert s["train_acc"]["count"] == 24 and s["lr"]["count"] == 24
    assert s["eval/val/loss"]["count"] == 2 and s["eval/val/acc"]["count"] == 2
    assert s["eval/val/inputs/mean"]["count"] == 2
    assert s["layer/net.0/update/meanAbs"]["count"] >= 5
    assert s["grad_norm"]["count"] == s["layer/net.0/update/meanAbs"]["count"]


def test_transformers_trainer_callback(server: Server, spool: str, tmp_path) -> None:
    from transformers import Trainer, TrainingArguments

    from gradwatch.integrations.transformers import GradwatchCallback

    class Tiny(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = nn.Linear(64, 32)
            self.act = nn.ReLU()
            self.fc2 = nn.Linear(32, 10)

        def forward(self, x: torch.Tensor, labels: Any = None) -> dict[str, torch.Tensor]:
            logits = self.fc2(self.act(self.fc1(x)))
            out = {"logits": logits}
            if labels is not None:
                out["loss"] = nn.functional.cross_entropy(logits, labels)
            return out

    class DS(torch.utils.data.Dataset):
        def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
            self.x, self.y = x, y

        def __len__(self) -> int:
            return len(self.x)

        def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
            return {"x": self.x[i], "labels": self.y[i]}

    torch.manual_seed(0)
    x, y = _data()
    args = TrainingArguments(
        output_dir=str(tmp_path / "out"), per_device_train_batch_size=32,
        per_device_eval_batch_size=64, num_train_epochs=2, learning_rate=5e-3,
        logging_steps=4, eval_strategy="steps", eval_steps=12, save_strategy="no",
        report_to=[], use_cpu=True, disable_tqdm=True, warmup_steps=2,
        dataloader_num_workers=0)
    cb = GradwatchCallback(url=server.url, project="integrations", name="hf", spool_dir=spool,
                           every=4)
    trainer = Trainer(model=Tiny(), args=args, train_dataset=DS(x[:384], y[:384]),
                      eval_dataset=DS(x[384:], y[384:]), callbacks=[cb])
    trainer.train()
    run = cb.run
    assert run is not None and run.finished
    detail = server.get(f"/runs/{q(run.id)}")
    assert detail["status"] == "completed" and detail["lastStep"] == 24
    assert detail["config"]["lr"] == 5e-3 and detail["config"]["batchSize"] == 32
    assert [ly["name"] for ly in detail["model"]["layers"]] == ["fc1", "fc2"]
    assert detail["model"]["optimizer"]["type"] == "AdamW"
    s = series(server, run.id)
    assert s["lr"]["count"] == 24
    assert s["loss"]["count"] == 6  # logging_steps=4 over 24 steps
    assert s["eval/val/loss"]["count"] == 2
    assert s["layer/fc1/grad/norm"]["count"] >= 5
    assert s["layer/fc1/update/meanAbs"]["count"] >= 5
