"""PLACEHOLDER until the store lands: the mutation gate. Replaced by the approvals work."""
