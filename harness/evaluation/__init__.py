"""What a scored pool is worth: the leaderboard, ROC AUC, step-level evaluation, plots, the HTML site, the run
index and the search report."""
