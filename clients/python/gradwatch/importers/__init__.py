"""Importers of logs written by other tools: `gradwatch import tensorboard LOGDIR`
(importers.tensorboard). Each imports its tool's package only when used."""
