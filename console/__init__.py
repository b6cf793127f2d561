"""The operator's entry points: the Reflex console and the ``opspilot`` command line. The composition root."""
