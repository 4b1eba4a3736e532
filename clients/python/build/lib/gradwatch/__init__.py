"""gradwatch: stream a training run's statistics to a gradwatch server and get
troubleshooting alerts back.

    import gradwatch
    run = gradwatch.init("http://127.0.0.1:8080", project="mnist", name="mlp", config=hparams)
    run.watch(model, optimizer, criterion)          # PyTorch: per-layer stats every 10 steps
    for step, (x, y) in enumerate(loader):
        ...
        run.log(step, loss=loss.item(), lr=lr)
        if run.should_stop:
            break
    run.finish()
"""

from .alerts import Alert
from .run import Run
from .startup import init

__version__ = "0.1.0"

__all__ = ["Alert", "Run", "init", "__version__"]
