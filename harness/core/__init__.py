"""The floor every other one builds on: errors, registries, the content-addressed cache, the pool and score-set
files, steps, prompts, options, progress, distributed ranks. It imports nothing else of the project."""
