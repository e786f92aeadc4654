"""The one run (prepare the reward model, train, score, select, report), its fold loop, the step-level benchmark
flow, guided search, and the lm-eval filter that brings reward-model selection into lm-eval."""
