"""The paper's experiments as data (recipes), its claims, its tables, and the real-model track."""
