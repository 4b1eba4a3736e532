"""Framework integrations: `gradwatch.integrations.lightning.GradwatchCallback` (PyTorch
Lightning) and `gradwatch.integrations.transformers.GradwatchCallback` (Hugging Face Trainer).
Each module imports its framework only when imported itself."""
