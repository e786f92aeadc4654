"""One module per subcommand; each registers itself with harness.cli.command."""
