"""The ``opspilot`` subcommands, one module per group."""
