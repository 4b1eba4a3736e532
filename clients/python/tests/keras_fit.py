"""A real Keras 3 fit with GradwatchCallback, run in its own process (the backend is chosen
by KERAS_BACKEND before keras is imported). Prints, as JSON on the last line, what a second
callback saw so the test can compare it with what the server stored.

    python keras_fit.py URL PROJECT SPOOL JOBS   (JOBS: [{"name", "lr", "every"}, ...])
"""

from __future__ import annotations

import json
import sys

import keras
import numpy as np
from sklearn.datasets import load_digits

from gradwatch.keras import GradwatchCallback


class Recorder(keras.callbacks.Callback):
    """Runs after gradwatch's callback: the running means Keras reports, and the first
    layer's kernel (and, on torch, its gradient) around each reporting batch."""

    def __init__(self, every: int) -> None:
        super().__init__()
        self.every = every
        self.step = -1
        self.running: list = []
        self.kernel: dict = {}
        self.update: dict = {}
        self.grad: dict = {}
        self._before = None

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        if (self.step + 1) % self.every == 0:
            self._before = keras.ops.convert_to_numpy(self.model.layers[0].kernel).copy()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.step += 1
        self.running.append([self.step, batch, float(logs["loss"]), float(logs["accuracy"])])
        if self.step % self.every == 0:
            k = keras.ops.convert_to_numpy(self.model.layers[0].kernel).astype(np.float64)
            self.kernel[self.step] = [k.mean(), k.std(), k.min(), k.max()]
            u = k - self._before
            self.update[self.step] = [u.mean(), np.abs(u).mean()]
            if keras.backend.backend() == "torch":
                g = self.model.layers[0].kernel.value.grad.detach().double().numpy()
                self.grad[self.step] = [g.mean(), float(np.sqrt((g * g).sum()))]


def fit(url: str, project: str, spool: str, name: str, lr: float, every: int) -> dict:
    keras.utils.set_random_seed(0)
    d = load_digits()
    x = (d.data[:512] / 16.0).astype("float32")
    y = d.target[:512].astype("int64")
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dropout(0.2),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(lr, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    cb = GradwatchCallback(url=url, project=project, name=name, spool_dir=spool, every=every,
                           hist_every=2 * every, config={"batchSize": 32})
    rec = Recorder(every)
    hist = model.fit(x[:384], y[:384], validation_data=(x[384:], y[384:]), batch_size=32,
                     epochs=2, shuffle=False, verbose=0, callbacks=[cb, rec])
    return {"run": cb.run.id, "running": rec.running, "kernel": rec.kernel,
            "update": rec.update, "grad": rec.grad, "val_loss": hist.history["val_loss"],
            "val_accuracy": hist.history["val_accuracy"],
            "layers": [layer.name for layer in model.layers]}


def main() -> None:
    url, project, spool, jobs = sys.argv[1:5]
    out = [fit(url, project, spool, j["name"], float(j["lr"]), int(j["every"]))
           for j in json.loads(jobs)]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
