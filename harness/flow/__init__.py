"""The one run through a table of flows (harness.flow.run.FLOWS: pools, folds, steps, search), each taking a
RunConfig (config.py) to its typed report (reports.py), written by one writer (report.py); the lm-eval filter that
brings reward-model selection into lm-eval."""
