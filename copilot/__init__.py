"""The investigator: state machine, runner, planners, MCP client, conversations, runs, evidence, evals.

Not built yet (issue 5). It will import core_client only, and reach tools only through MCP.
"""
